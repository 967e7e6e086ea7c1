//! Debian's `chromium`, headless, as the report test and the demo run it
//! (`make test` and `make demo` install it).

use std::path::Path;
use std::process::{Command, Output};

/// Opens `page` (a file) in a headless Chromium with its own profile in
/// `user_data_dir`, with `extra` flags (`--dump-dom`, `--screenshot=…`,
/// `--log-net-log=…`). The browser's own background traffic is switched
/// off and every host name resolves to nothing, so a page that fetches
/// cannot reach the network.
pub fn chromium(page: &Path, user_data_dir: &Path, extra: &[String]) -> Result<Output, String> {
    Command::new("chromium")
        .args([
            "--headless",
            // Root in CI and in containers: Chromium's sandbox needs user namespaces.
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--window-size=1000,1200",
            &format!("--user-data-dir={}", user_data_dir.display()),
        ])
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .map_err(|e| {
            format!(
                "chromium cannot be started ({e}); `make test` and `make demo` install Debian's \
                 chromium (or: sudo apt-get install chromium)"
            )
        })
}
