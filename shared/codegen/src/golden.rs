//! Generated files: text the code derives (state machines, golden renderings,
//! the IAM inventory, the template's generated sections, the README's
//! diagram), checked into the repository. `make generate` writes them
//! (`cargo run -p sparkhub-codegen`); the tests only compare.

use std::path::{Path, PathBuf};

/// The workspace root (two levels above `shared/codegen/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("shared/codegen/ lives two levels below the workspace root")
        .to_path_buf()
}

/// One generated file: its path from the workspace root and the content the
/// code gives it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    pub path: String,
    pub content: String,
}

/// Compares `generated` with the checked-in file. Returns a message naming
/// the file and the first differing line when they differ.
pub fn check(generated: &Generated) -> Result<(), String> {
    let Generated {
        path,
        content: actual,
    } = generated;
    let expected = std::fs::read_to_string(workspace_root().join(path))
        .map_err(|e| format!("{path}: {e}; run `make generate` to create it"))?;
    if &expected == actual {
        return Ok(());
    }
    let line = expected
        .lines()
        .zip(actual.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
    Err(format!(
        "{path} differs from the generator at line {}:\n  checked in: {:?}\n  generated:  {:?}\nrun `make generate` and review the diff",
        line + 1,
        expected.lines().nth(line).unwrap_or("<end of file>"),
        actual.lines().nth(line).unwrap_or("<end of file>"),
    ))
}

/// Writes `generated` when its content differs from the file's; returns
/// whether it wrote.
pub fn write(generated: &Generated) -> std::io::Result<bool> {
    let file = workspace_root().join(&generated.path);
    if std::fs::read_to_string(&file).ok().as_deref() == Some(generated.content.as_str()) {
        return Ok(false);
    }
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&file, &generated.content)?;
    Ok(true)
}
