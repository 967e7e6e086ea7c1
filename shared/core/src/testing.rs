//! For tests (this crate's, and other crates' with the `test-util` feature):
//! the workspace's paths.

use std::path::{Path, PathBuf};

/// The workspace root (two levels above `shared/core/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("shared/core/ lives two levels below the workspace root")
        .to_path_buf()
}
