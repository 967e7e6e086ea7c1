//! Golden files: generated text checked into the repository, compared by
//! tests. `UPDATE_GOLDEN=1` rewrites them; the change is then reviewed in the diff.

use std::path::{Path, PathBuf};

/// The workspace root (the parent of the `shared/` package).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("shared/ lives in the workspace root")
        .to_path_buf()
}

/// Compares `actual` with the file at `path` (relative to the workspace root),
/// or writes it when `UPDATE_GOLDEN=1`. Returns a message naming the file and
/// the first differing line when they differ.
pub fn check(path: &str, actual: &str) -> Result<(), String> {
    let file = workspace_root().join(path);
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(&file, actual).map_err(|e| format!("{}: {e}", file.display()))?;
        return Ok(());
    }
    let expected = std::fs::read_to_string(&file)
        .map_err(|e| format!("{path}: {e}; run `UPDATE_GOLDEN=1 cargo test` to create it"))?;
    if expected == actual {
        return Ok(());
    }
    let line = expected
        .lines()
        .zip(actual.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
    Err(format!(
        "{path} differs from the generator at line {}:\n  checked in: {:?}\n  generated:  {:?}\nrun `UPDATE_GOLDEN=1 cargo test` and review the diff",
        line + 1,
        expected.lines().nth(line).unwrap_or("<end of file>"),
        actual.lines().nth(line).unwrap_or("<end of file>"),
    ))
}

/// Pretty JSON with every object's keys sorted, and a final newline. Stable
/// whether or not another crate in the build switches on serde_json's
/// `preserve_order` (which keeps insertion order instead).
pub fn canonical_json(value: &impl serde::Serialize) -> String {
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
