//! What started this invocation, parsed from the raw event. Pure.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sparkhub_shared::ProfileName;
use sparkhub_shared::profile::StepSpec;

use crate::error::CreateError;

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
    },
    /// An EventBridge rule's "Scheduled Event"; the rule is named `sparkhub-<profile>`.
    Scheduled {
        event_id: String,
        profile: ProfileName,
    },
    /// An EventBridge "Object Created" event from S3.
    ObjectCreated {
        event_id: String,
        bucket: String,
        key: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DirectInput {
    profile: String,
    #[serde(default)]
    steps: Option<Vec<StepSpec>>,
    #[serde(default)]
    run_id: Option<String>,
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

const EXPECTED: &str = "expected {\"profile\": \"<name>\"} (optionally with \"steps\" and \"run_id\"), \
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
        if let Some(run_id) = &input.run_id
            && run_id.trim().is_empty()
        {
            return Err(bad(
                "\"run_id\" is empty; leave it out or give the run an id".into(),
            ));
        }
        return Ok(Trigger::Direct {
            profile,
            steps: input.steps,
            run_id: input.run_id,
        });
    }
    Err(bad(format!("unrecognised event; {EXPECTED}")))
}

fn parse_eventbridge(event: &Value) -> Result<Trigger, CreateError> {
    let envelope: EventBridgeEvent<Value> = serde_json::from_value(event.clone())
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
            Ok(Trigger::ObjectCreated {
                event_id,
                bucket: detail.bucket.name,
                key: detail.object.key,
            })
        }
        (source, detail_type) => Err(bad(format!(
            "EventBridge event {detail_type:?} from {source:?} is not one create-cluster handles; {EXPECTED}"
        ))),
    }
}

/// The execution name for a run: `<profile>-<run id>` with characters Step
/// Functions does not allow replaced by `-`; when that is longer than the 80
/// characters allowed, `<profile>-<hash of the run id>`. The same trigger
/// always gives the same name, which is what makes a duplicate delivery start
/// nothing new.
pub fn execution_name(profile: &ProfileName, run_id: &str) -> String {
    let clean: String = run_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = format!("{profile}-{clean}");
    if name.len() <= 80 {
        return name;
    }
    let digest = Sha256::digest(run_id.as_bytes());
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("{profile}-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> Value {
        let path = sparkhub_shared::golden::workspace_root()
            .join("events")
            .join(name);
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
                run_id: None
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
                key: "incoming/2026-11-25/batch-0001.csv".into(),
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
    fn execution_names_are_stable_valid_and_short() {
        let p = profile("tutorial");
        assert_eq!(
            execution_name(&p, "53dc4d37-cffa-4f76"),
            "tutorial-53dc4d37-cffa-4f76"
        );
        assert_eq!(
            execution_name(&p, "schedule-2026-11-25T07:00:00Z"),
            "tutorial-schedule-2026-11-25T07-00-00Z"
        );
        let long = "x".repeat(200);
        let name = execution_name(&p, &long);
        assert!(name.len() <= 80 && name.starts_with("tutorial-"), "{name}");
        assert_eq!(
            name,
            execution_name(&p, &long),
            "the same run id gives the same name"
        );
        assert_ne!(name, execution_name(&p, &"y".repeat(200)));
    }
}
