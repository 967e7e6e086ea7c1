//! Shell scripts rendered from a profile and uploaded to S3 under
//! content-addressed keys (`scripts/<sha256 prefix>/<file>`): a changed script
//! gets a new key, an unchanged one is not uploaded again, and a running
//! cluster never sees its bootstrap script change under it.
//!
//! Templates are plain shell files (checked by shellcheck) with `@@NAME@@`
//! tokens. Every value put into a script is validated before (user names,
//! Python requirements, profile names) and single-quoted on top.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::profile::Profile;

const BOOTSTRAP_PYTHON: &str = include_str!("scripts/bootstrap-python.sh");
const JUPYTERHUB_USERS: &str = include_str!("scripts/jupyterhub-users.sh");
const NOTEBOOK_REPORTER: &str = include_str!("scripts/notebook-activity-reporter.sh");
const INSTALL_NOTEBOOK_REPORTER: &str = include_str!("scripts/install-notebook-reporter.sh");
const HUB_SETUP: &str = include_str!("scripts/hub-setup.sh");
const REPORTER_SERVICE: &str = include_str!("scripts/units/sparkhub-notebook-activity.service");
const REPORTER_TIMER: &str = include_str!("scripts/units/sparkhub-notebook-activity.timer");

/// How long after a user's last JupyterHub activity (or their server's) they
/// still count as active. JupyterHub writes `last_activity` coarsely (a
/// server's when it polls the proxy, every 5 minutes by default): windows
/// under 15 minutes flicker between active and idle.
pub const NOTEBOOK_ACTIVE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// The systemd units the reporter's installer writes to `/etc/systemd/system`
/// (file name, content): the reporter's service and its timer. The one-time
/// hub setup is no unit: the users step runs it once the cluster is WAITING.
pub const NOTEBOOK_REPORTER_UNITS: [(&str, &str); 2] = [
    ("sparkhub-notebook-activity.service", REPORTER_SERVICE),
    ("sparkhub-notebook-activity.timer", REPORTER_TIMER),
];

/// File name of the JupyterHub users script (run as an EMR step).
pub const USERS_SCRIPT: &str = "jupyterhub-users.sh";
/// File name of the bootstrap script that installs the notebook activity reporter.
pub const NOTEBOOK_REPORTER_SCRIPT: &str = "install-notebook-reporter.sh";
/// File name of the Python packages bootstrap script.
pub const BOOTSTRAP_PYTHON_SCRIPT: &str = "bootstrap-python.sh";

/// A script ready for upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedScript {
    /// File name, e.g. `bootstrap-python.sh`.
    pub file_name: &'static str,
    /// What it is for; the bootstrap action's name.
    pub purpose: &'static str,
    /// S3 key, derived from the content.
    pub key: String,
    /// Runs as a bootstrap action on every node (otherwise it is run by a step).
    pub bootstrap: bool,
    pub body: String,
}

/// Renders every script the profile needs, bootstrap actions first.
pub fn render_all(profile: &Profile) -> Vec<RenderedScript> {
    let mut scripts = Vec::new();
    if !profile.python_packages.is_empty() {
        let body = fill(
            BOOTSTRAP_PYTHON,
            &[
                ("PROFILE", profile.name.to_string()),
                ("PACKAGES", quoted_words(&profile.python_packages)),
            ],
        );
        scripts.push(script(
            BOOTSTRAP_PYTHON_SCRIPT,
            "PythonPackages",
            true,
            body,
        ));
    }
    if profile.has_application("JupyterHub") {
        let body = fill(
            INSTALL_NOTEBOOK_REPORTER,
            &[
                ("PROFILE", profile.name.to_string()),
                (
                    "REPORTER",
                    notebook_reporter(profile, NOTEBOOK_ACTIVE_WINDOW)
                        .trim_end()
                        .to_owned(),
                ),
                ("SETUP", hub_setup(profile).trim_end().to_owned()),
                ("REPORTER_SERVICE", REPORTER_SERVICE.trim_end().to_owned()),
                ("REPORTER_TIMER", REPORTER_TIMER.trim_end().to_owned()),
            ],
        );
        scripts.push(script(
            NOTEBOOK_REPORTER_SCRIPT,
            "ActivityReporter",
            true,
            body,
        ));
    }
    if !profile.users.is_empty() {
        let body = fill(
            JUPYTERHUB_USERS,
            &[
                ("PROFILE", profile.name.to_string()),
                ("USERS", quoted_words(&profile.users)),
            ],
        );
        scripts.push(script(USERS_SCRIPT, "JupyterHubUsers", false, body));
    }
    scripts
}

/// The activity agent itself, as the install script writes it to the master
/// node (with [`NOTEBOOK_ACTIVE_WINDOW`]); a notebook user counts as active
/// for `window` after their last activity. Tests render a short window.
pub fn notebook_reporter(profile: &Profile, window: Duration) -> String {
    let yes = |asks: bool| if asks { "true" } else { "false" }.to_owned();
    fill(
        NOTEBOOK_REPORTER,
        &[
            ("PROFILE", profile.name.to_string()),
            ("ACTIVE_SECONDS", window.as_secs().max(1).to_string()),
            // YARN is always asked (every EMR cluster runs it); Livy where
            // the profile installs it.
            ("ASK_LIVY", yes(profile.has_application("Livy"))),
        ],
    )
}

/// The one-time hub setup (sparkhub's JupyterHub services, then the
/// reporter's timer), as the install script writes it to the master node;
/// the users step runs it.
pub fn hub_setup(profile: &Profile) -> String {
    fill(HUB_SETUP, &[("PROFILE", profile.name.to_string())])
}

fn script(
    file_name: &'static str,
    purpose: &'static str,
    bootstrap: bool,
    body: String,
) -> RenderedScript {
    RenderedScript {
        file_name,
        purpose,
        key: content_key(file_name, &body),
        bootstrap,
        body,
    }
}

/// `scripts/<first 16 hex digits of the SHA-256 of the body>/<file name>`.
pub fn content_key(file_name: &str, body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("scripts/{hex}/{file_name}")
}

fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("@@{name}@@"), value);
    }
    debug_assert!(!out.contains("@@"), "unfilled token in a script template");
    out
}

/// Words for a bash array, each single-quoted. The values are validated to
/// contain no quote characters; quoting is a second line of defence.
fn quoted_words(words: &[impl AsRef<str>]) -> String {
    words
        .iter()
        .map(|w| format!("'{}'", w.as_ref().replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::RawProfile;

    fn profile(packages: &[&str], users: &[&str]) -> Profile {
        let mut p = RawProfile::from_toml(
            r#"
name = "t"
applications = ["Spark", "JupyterHub"]
[fleets.master]
instance_types = ["m5.xlarge"]
on_demand = 1
[fleets.core]
instance_types = ["m5.xlarge"]
on_demand = 2
"#,
        )
        .unwrap();
        p.python_packages = packages.iter().map(|s| s.to_string()).collect();
        p.users = users.iter().map(|s| s.to_string()).collect();
        p.validate().unwrap()
    }

    #[test]
    fn bootstrap_script_installs_exactly_the_profile_packages() {
        let scripts = render_all(&profile(&["pandas==2.2.3", "boto3"], &["x"]));
        assert_eq!(
            scripts.len(),
            3,
            "packages, the notebook reporter, the users step"
        );
        let s = &scripts[0];
        assert!(s.bootstrap);
        assert!(
            s.body.contains("PACKAGES=('pandas==2.2.3' 'boto3')"),
            "{}",
            s.body
        );
        assert!(s.body.contains("set -euo pipefail"));
        assert!(!s.body.contains("@@"));
    }

    #[test]
    fn users_script_names_the_users_and_never_traces() {
        let scripts = render_all(&profile(&[], &["philipp", "admin"]));
        assert_eq!(
            scripts.len(),
            2,
            "the notebook reporter and the users script"
        );
        let s = &scripts[1];
        assert!(!s.bootstrap);
        assert!(s.body.contains("USERS=('philipp' 'admin')"));
        assert!(s.body.contains("set -euo pipefail"));
        let traces = s.body.lines().any(|l| {
            let l = l.trim_start();
            l.starts_with("set ") && (l.contains('x') || l.contains("xtrace"))
        });
        assert!(!traces, "the users script must never trace");
        assert!(s.body.contains("chpasswd"));
    }

    #[test]
    fn keys_change_with_content_only() {
        let a = render_all(&profile(&["numpy"], &["x"]));
        let again = render_all(&profile(&["numpy"], &["x"]));
        let b = render_all(&profile(&["numpy", "pandas"], &["x"]));
        assert_eq!(a, again);
        assert_ne!(
            a[0].key, b[0].key,
            "a changed bootstrap script needs a new key"
        );
        assert_eq!(
            a[1].key, b[1].key,
            "an unchanged users script keeps its key"
        );
        assert!(a[0].key.starts_with("scripts/") && a[0].key.ends_with("/bootstrap-python.sh"));
    }

    #[test]
    fn no_scripts_when_nothing_to_do() {
        let mut p = profile(&[], &["x"]);
        p.applications = vec!["Spark".into()];
        p.users.clear();
        assert!(render_all(&p).is_empty());
    }

    #[test]
    fn the_reporter_is_installed_on_hub_clusters_with_its_body_inside() {
        let scripts = render_all(&profile(&[], &["x"]));
        assert_eq!(scripts.len(), 2);
        let install = &scripts[0];
        assert!(install.bootstrap && install.file_name == NOTEBOOK_REPORTER_SCRIPT);
        assert!(install.body.contains("--metric-name Busy"));
        assert!(
            install.body.contains("ASK_LIVY=false") && install.body.contains("/cluster/apps"),
            "asks YARN always, Livy only where it is installed"
        );
        assert!(
            install.body.contains("ACTIVE_SECONDS=900"),
            "the product window is 15 minutes"
        );
        assert!(install.body.contains("/usr/local/bin/sparkhub-hub-setup"));
        assert!(
            !install.body.contains("systemctl start"),
            "nothing starts before EMR has configured JupyterHub"
        );
        assert!(
            !install.body.contains("/etc/cron.d"),
            "no cron on Amazon Linux 2023"
        );
        assert!(!install.body.contains("@@"));
    }

    #[test]
    fn the_window_is_never_under_fifteen_minutes() {
        assert!(NOTEBOOK_ACTIVE_WINDOW >= Duration::from_secs(15 * 60));
    }
}
