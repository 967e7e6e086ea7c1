//! The notebook activity reporter and its installer, run by bash with
//! stand-ins for `sudo`, `docker`, `curl` and `aws` that record their argv.

use std::path::Path;
use std::process::Command;

use sparkhub_shared::Profile;
use sparkhub_shared::scripts::{NOTEBOOK_REPORTER_SCRIPT, notebook_reporter, render_all};

const TUTORIAL: &str = include_str!("../../profiles/tutorial.toml");

const STANDINS: &[(&str, &str)] = &[
    ("sudo", r#"exec "$@""#),
    (
        "docker",
        r#"printf 'docker %s\n' "$*" >> "$LOG/argv"
echo "$HUB_TOKEN""#,
    ),
    (
        "curl",
        r#"printf 'curl %s\n' "$*" >> "$LOG/argv"
cat > "$LOG/curl.stdin"
if [ -n "$HUB_DOWN" ]; then echo "curl: (7) Failed to connect" >&2; exit 7; fi
printf '%s' "$HUB_USERS""#,
    ),
    ("aws", r#"printf 'aws %s\n' "$*" >> "$LOG/argv""#),
];

struct Run {
    status: i32,
    argv: String,
    curl_config: String,
    busy: bool,
    output: String,
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn write_executable(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `last_activity` values relative to now, as JupyterHub writes them.
fn minutes_ago(m: i64) -> String {
    let t = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(m);
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn run(users: &str, hub_down: bool, busy_before: bool) -> Run {
    let dir = std::env::temp_dir().join(format!("sparkhub-reporter-{}", unique()));
    let (bin, log, info) = (dir.join("bin"), dir.join("log"), dir.join("info"));
    for d in [&bin, &log, &info] {
        std::fs::create_dir_all(d).unwrap();
    }
    for (name, body) in STANDINS {
        write_executable(&bin.join(name), &format!("#!/bin/bash\n{body}\n"));
    }
    std::fs::write(
        info.join("job-flow.json"),
        r#"{"jobFlowId": "j-REPORTER1", "jobFlowCreationInstant": 1}"#,
    )
    .unwrap();
    std::fs::write(
        info.join("extraInstanceData.json"),
        r#"{"region": "eu-central-1", "instanceRole": "Master"}"#,
    )
    .unwrap();
    let isbusy = dir.join("emr/metricscollector/isbusy");
    if busy_before {
        std::fs::create_dir_all(isbusy.parent().unwrap()).unwrap();
        std::fs::write(&isbusy, "").unwrap();
    }
    let reporter = dir.join("reporter.sh");
    write_executable(
        &reporter,
        &notebook_reporter(&Profile::from_toml(TUTORIAL).unwrap()),
    );

    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.arg(&reporter)
        .env("PATH", path)
        .env("LOG", &log)
        .env("HUB_TOKEN", "hub-token-abcdef")
        .env("HUB_USERS", users)
        .env("SPARKHUB_INFO_DIR", &info)
        .env("SPARKHUB_ISBUSY_FILE", &isbusy);
    if hub_down {
        cmd.env("HUB_DOWN", "1");
    }
    let out = cmd.output().unwrap();
    let read = |name: &str| std::fs::read_to_string(log.join(name)).unwrap_or_default();
    let result = Run {
        status: out.status.code().unwrap_or(-1),
        argv: read("argv"),
        curl_config: read("curl.stdin"),
        busy: isbusy.exists(),
        output: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    std::fs::remove_dir_all(&dir).ok();
    result
}

fn users(activity: &[(&str, Option<i64>, Option<i64>)]) -> String {
    let list: Vec<serde_json::Value> = activity
        .iter()
        .map(|(name, user_min, server_min)| {
            serde_json::json!({
                "name": name,
                "last_activity": user_min.map(minutes_ago),
                "servers": server_min.map(|m| serde_json::json!({"": {"last_activity": minutes_ago(m)}})).unwrap_or(serde_json::json!({})),
            })
        })
        .collect();
    serde_json::Value::Array(list).to_string()
}

#[test]
fn active_users_are_published_and_mark_the_cluster_busy() {
    let r = run(
        &users(&[
            ("philipp", Some(2), None),
            ("admin", Some(300), Some(1)),
            ("idle", Some(90), None),
        ]),
        false,
        false,
    );
    assert_eq!(r.status, 0, "{}", r.output);
    assert!(
        r.argv.contains("aws cloudwatch put-metric-data --region eu-central-1 --namespace Sparkhub --metric-name ActiveNotebookUsers --dimensions JobFlowId=j-REPORTER1 --value 2 --unit Count"),
        "{}",
        r.argv
    );
    assert!(r.busy, "EMR's isbusy marker is set while people are active");
    assert!(
        r.curl_config
            .contains("Authorization: token hub-token-abcdef")
    );
    assert!(
        !r.argv.contains("hub-token-abcdef"),
        "the token never appears in a command line"
    );
    assert!(
        r.output.contains("2 active notebook user(s)"),
        "{}",
        r.output
    );
}

#[test]
fn nobody_active_publishes_zero_and_clears_busy() {
    let r = run(
        &users(&[("philipp", Some(30), None), ("admin", None, None)]),
        false,
        true,
    );
    assert_eq!(r.status, 0, "{}", r.output);
    assert!(r.argv.contains("--value 0 --unit Count"), "{}", r.argv);
    assert!(!r.busy, "the isbusy marker is removed");
}

#[test]
fn an_unreachable_hub_publishes_nothing() {
    let r = run("[]", true, true);
    assert_ne!(r.status, 0);
    assert!(
        !r.argv.contains("put-metric-data"),
        "no datapoint, so the sweep sees a gap and keeps the cluster"
    );
    assert!(r.busy, "the busy marker is left as it was");
}

#[test]
fn the_installer_puts_the_reporter_in_place_only_on_the_master() {
    let profile = Profile::from_toml(TUTORIAL).unwrap();
    let install = render_all(&profile)
        .into_iter()
        .find(|s| s.file_name == NOTEBOOK_REPORTER_SCRIPT)
        .unwrap();
    let root = std::env::temp_dir().join(format!("sparkhub-installer-{}", unique()));
    let (bin, info) = (root.join("bin"), root.join("info"));
    for d in [
        &bin,
        &info,
        &root.join("usr-local-bin"),
        &root.join("cron.d"),
    ] {
        std::fs::create_dir_all(d).unwrap();
    }
    // sudo runs its command with /usr/local/bin and /etc/cron.d moved under the test directory.
    write_executable(
        &bin.join("sudo"),
        "#!/bin/bash\nargs=()\nfor a in \"$@\"; do\n  a=${a//\\/usr\\/local\\/bin/$ROOT\\/usr-local-bin}\n  a=${a//\\/etc\\/cron.d/$ROOT\\/cron.d}\n  args+=(\"$a\")\ndone\nexec \"${args[@]}\"\n",
    );
    let script = root.join("install.sh");
    write_executable(&script, &install.body);
    let run = |is_master: bool| {
        std::fs::write(
            info.join("instance.json"),
            format!(r#"{{"isMaster": {is_master}, "isRunningNameNode": true}}"#),
        )
        .unwrap();
        Command::new("bash")
            .arg(&script)
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    bin.display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env("SPARKHUB_INFO_DIR", &info)
            .env("ROOT", &root)
            .output()
            .unwrap()
    };
    let reporter = root.join("usr-local-bin/sparkhub-notebook-activity");
    let cron = root.join("cron.d/sparkhub-notebook-activity");

    let out = run(false);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !reporter.exists() && !cron.exists(),
        "nothing on a core node"
    );

    let out = run(true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let installed = std::fs::read_to_string(&reporter).unwrap();
    assert_eq!(
        installed.trim_end(),
        notebook_reporter(&profile).trim_end(),
        "the reporter is written verbatim"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&reporter).unwrap().permissions().mode() & 0o777,
        0o755
    );
    let entry = std::fs::read_to_string(&cron).unwrap();
    assert!(
        entry.starts_with("* * * * * root /usr/local/bin/sparkhub-notebook-activity"),
        "{entry}"
    );
    std::fs::remove_dir_all(&root).ok();
}
