//! The EventBridge "EMR Cluster State Change" event, typed.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Deserialize;
use serde_json::Value;
use sparkhub_shared::emr::ClusterState;

use crate::error::SetupError;

/// The `detail` of an "EMR Cluster State Change" event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStateChange {
    pub cluster_id: String,
    pub state: ClusterState,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// A parsed event: the change and the region it happened in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChangeEvent {
    pub region: Option<String>,
    pub change: ClusterStateChange,
}

pub fn parse(event: &Value) -> Result<StateChangeEvent, SetupError> {
    let envelope: EventBridgeEvent<Value> = serde_json::from_value(event.clone()).map_err(|e| {
        SetupError::BadEvent(format!(
            "expected an EventBridge \"EMR Cluster State Change\" event: {e}"
        ))
    })?;
    if envelope.source != "aws.emr" || envelope.detail_type != "EMR Cluster State Change" {
        return Err(SetupError::BadEvent(format!(
            "expected an \"EMR Cluster State Change\" event from aws.emr, got {:?} from {:?}",
            envelope.detail_type, envelope.source
        )));
    }
    let change: ClusterStateChange = serde_json::from_value(envelope.detail).map_err(|e| {
        SetupError::BadEvent(format!(
            "\"EMR Cluster State Change\" event with a malformed detail: {e}"
        ))
    })?;
    Ok(StateChangeEvent {
        region: envelope.region.filter(|r| !r.is_empty()),
        change,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture() -> Value {
        let path = sparkhub_shared::golden::workspace_root()
            .join("events/emr-cluster-state-change-waiting.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn the_sample_event_parses() {
        let e = parse(&fixture()).unwrap();
        assert_eq!(e.change.cluster_id, "j-1YONHTCP3YZKC");
        assert_eq!(e.change.state, ClusterState::Waiting);
        assert_eq!(e.region.as_deref(), Some("us-east-1"));
    }

    #[test]
    fn unknown_states_are_kept_not_rejected() {
        let mut e = fixture();
        e["detail"]["state"] = json!("HIBERNATING");
        assert_eq!(
            parse(&e).unwrap().change.state,
            ClusterState::Unknown("HIBERNATING".into())
        );
    }

    #[test]
    fn other_events_are_bad_events() {
        let mut other = fixture();
        other["detail-type"] = json!("EMR Step Status Change");
        for bad in [
            json!({}),
            json!({"profile": "tutorial"}),
            other,
            json!({"detail-type": "EMR Cluster State Change", "source": "aws.emr", "detail": {"state": "WAITING"}}),
        ] {
            assert!(matches!(parse(&bad), Err(SetupError::BadEvent(_))), "{bad}");
        }
    }
}
