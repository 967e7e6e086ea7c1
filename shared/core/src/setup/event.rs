//! The EventBridge "EMR Cluster State Change" event, typed.

use crate::emr::ClusterState;
use crate::events::EventBridgeEvent;
use serde::Deserialize;
use serde_json::Value;

use crate::setup::error::SetupError;

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
    let envelope: EventBridgeEvent = serde_json::from_value(event.clone()).map_err(|e| {
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
        let path =
            crate::testing::workspace_root().join("events/emr-cluster-state-change-waiting.json");
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

    mod fuzz {
        use proptest::prelude::*;

        use super::*;

        fn config() -> ProptestConfig {
            ProptestConfig {
                cases: 3000,
                rng_seed: proptest::test_runner::RngSeed::Fixed(14),
                failure_persistence: None,
                ..ProptestConfig::default()
            }
        }

        fn json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(Value::from),
                ".{0,16}".prop_map(Value::from),
                prop::sample::select(vec![
                    "WAITING",
                    "aws.emr",
                    "EMR Cluster State Change",
                    "j-1"
                ])
                .prop_map(Value::from),
            ];
            leaf.prop_recursive(3, 32, 6, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                    proptest::collection::btree_map(
                        prop::sample::select(vec![
                            "detail",
                            "detail-type",
                            "source",
                            "state",
                            "clusterId",
                            "region",
                            "name",
                            "x"
                        ])
                        .prop_map(String::from),
                        inner,
                        0..5,
                    )
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #![proptest_config(config())]

            /// Arbitrary JSON: a parsed event or a BadEvent, never a panic.
            #[test]
            fn any_json_is_an_event_or_a_bad_event(value in json()) {
                match parse(&value) {
                    Ok(_) | Err(SetupError::BadEvent(_)) => {}
                    Err(other) => prop_assert!(false, "unexpected error kind: {other}"),
                }
            }

            /// The sample event with one field replaced by anything.
            #[test]
            fn the_sample_event_with_one_field_changed_never_panics(
                field in prop::sample::select(vec!["detail", "detail-type", "source", "region", "time", "id"]),
                inner in prop::sample::select(vec!["state", "clusterId", "name", "message"]),
                replacement in json(),
            ) {
                let mut event = fixture();
                if field == "detail" {
                    event["detail"][inner] = replacement;
                } else {
                    event[field] = replacement;
                }
                let _ = parse(&event);
            }

            /// Arbitrary bytes, as the runtime would hand them over when they are JSON.
            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
                if let Ok(value) = serde_json::from_slice::<Value>(&bytes) {
                    let _ = parse(&value);
                }
            }
        }
    }
}
