//! JSON that is written to files: stable key order.

/// Pretty JSON with every object's keys sorted, and a final newline. Stable
/// whether or not another crate in the build switches on serde_json's
/// `preserve_order` (which keeps insertion order instead).
pub fn canonical(value: &impl serde::Serialize) -> String {
    fn sorted(value: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::Object(map) => {
                let ordered: std::collections::BTreeMap<String, Value> = map.into_iter().collect();
                Value::Object(ordered.into_iter().map(|(k, v)| (k, sorted(v))).collect())
            }
            Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
            other => other,
        }
    }
    let value = serde_json::to_value(value).expect("generated values serialize");
    serde_json::to_string_pretty(&sorted(value)).expect("a JSON value prints") + "\n"
}
