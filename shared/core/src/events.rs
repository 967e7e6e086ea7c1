//! The EventBridge envelope both event-driven functions read. Written here
//! rather than taken from `aws_lambda_events` so that the core depends on no
//! AWS crate; the fields and their optionality follow that crate's
//! `EventBridgeEvent` and AWS's event structure reference
//! (<https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html>).

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct EventBridgeEvent {
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    pub detail_type: String,
    pub source: String,
    #[serde(default)]
    pub account: Option<String>,
    /// As sent; sparkhub does not read it.
    #[serde(default)]
    pub time: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub resources: Option<Vec<String>>,
    pub detail: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every EventBridge sample in `events/` reads as an envelope, and so
    /// does one with nothing but the required fields.
    #[test]
    fn the_samples_and_a_minimal_event_read_as_envelopes() {
        let dir = crate::testing::workspace_root().join("events");
        let mut read = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let value: Value = serde_json::from_str(&text).unwrap();
            if value.get("detail-type").is_none() {
                continue;
            }
            let event: EventBridgeEvent = serde_json::from_value(value.clone())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(
                Some(event.detail_type.as_str()),
                value["detail-type"].as_str()
            );
            assert_eq!(event.id.as_deref(), value["id"].as_str());
            read += 1;
        }
        assert!(read >= 3, "read {read} EventBridge samples");
        let minimal: EventBridgeEvent = serde_json::from_value(serde_json::json!({
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "detail": {}
        }))
        .unwrap();
        assert_eq!((minimal.id, minimal.resources), (None, None));
        for missing in ["detail-type", "source", "detail"] {
            let mut event = serde_json::json!({
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "detail": {}
            });
            event.as_object_mut().unwrap().remove(missing);
            assert!(
                serde_json::from_value::<EventBridgeEvent>(event).is_err(),
                "without {missing}"
            );
        }
    }
}
