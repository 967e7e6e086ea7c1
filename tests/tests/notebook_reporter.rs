//! The activity agent's installer, what the agent publishes for each kind of
//! activity (answers of the ResourceManager, Livy and the hub served from
//! `tests/fixtures/agent/`) and its ways of publishing nothing, run by bash
//! with stand-ins for `sudo`, `systemctl` and `aws` that record their argv.
//! What it publishes for a real hub is in `jupyterhub.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use sparkhub_core::Profile;
use sparkhub_core::scripts::{
    NOTEBOOK_ACTIVE_WINDOW, NOTEBOOK_REPORTER_SCRIPT, NOTEBOOK_REPORTER_UNITS, hub_setup,
    notebook_reporter, render_all,
};
use sparkhub_tests::fake_http::FakeHttp;
use sparkhub_tests::unique;

const TUTORIAL: &str = include_str!("../../profiles/tutorial.toml");

fn write_executable(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn dir_with(subdirs: &[&str]) -> PathBuf {
    let dir = std::env::temp_dir().join(unique("sparkhub-reporter"));
    for d in subdirs {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    dir
}

fn path_with(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn output(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs the agent with a recording `aws`; the hub, the ResourceManager and
/// Livy under `base` (`/hub/api`, `/ws/v1`, `/livy`).
fn run_reporter(dir: &Path, base: &str) -> Output {
    let (bin, log, info, conf) = (
        dir.join("bin"),
        dir.join("log"),
        dir.join("info"),
        dir.join("conf"),
    );
    for d in [&bin, &log, &info, &conf] {
        std::fs::create_dir_all(d).unwrap();
    }
    write_executable(
        &bin.join("aws"),
        "#!/bin/bash\nprintf 'aws %s\\n' \"$*\" >> \"$LOG/argv\"\n",
    );
    std::fs::write(
        info.join("job-flow.json"),
        r#"{"jobFlowId": "j-REPORTER1"}"#,
    )
    .unwrap();
    std::fs::write(
        info.join("extraInstanceData.json"),
        r#"{"region": "eu-central-1"}"#,
    )
    .unwrap();
    let reporter = dir.join("reporter.sh");
    write_executable(
        &reporter,
        &notebook_reporter(&Profile::parse(TUTORIAL).unwrap(), NOTEBOOK_ACTIVE_WINDOW),
    );
    Command::new("bash")
        .arg(&reporter)
        .env("PATH", path_with(&bin))
        .env("LOG", &log)
        .env("SPARKHUB_INFO_DIR", &info)
        .env("SPARKHUB_HUB_CONF_DIR", &conf)
        .env("SPARKHUB_HUB_API", format!("{base}/hub/api"))
        .env("SPARKHUB_YARN_API", format!("{base}/ws/v1"))
        .env("SPARKHUB_LIVY_API", format!("{base}/livy"))
        .env("SPARKHUB_AGENT_STATE", dir.join("state/last-published"))
        .env("SPARKHUB_ISBUSY_FILE", dir.join("isbusy"))
        .env("SPARKHUB_LOCK_FILE", dir.join("reporter.lock"))
        .output()
        .unwrap()
}

fn published(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("log/argv"))
        .unwrap_or_default()
        .contains("put-metric-data")
}

/// A loopback address nothing listens on.
fn closed_port_api() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

#[test]
fn an_unreachable_hub_publishes_nothing_and_leaves_busy_as_it_was() {
    let dir = dir_with(&["conf"]);
    std::fs::write(dir.join("conf/sparkhub-notebook-activity.token"), "t0k3n\n").unwrap();
    std::fs::write(dir.join("isbusy"), "").unwrap();
    let out = run_reporter(&dir, &closed_port_api());
    assert!(!out.status.success());
    assert!(
        !published(&dir),
        "no datapoint, so the sweep sees a gap and keeps the cluster"
    );
    assert!(
        dir.join("isbusy").exists(),
        "the busy marker is left as it was"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn without_its_service_token_it_publishes_nothing() {
    let dir = dir_with(&[]);
    let out = run_reporter(&dir, &closed_port_api());
    assert!(!out.status.success());
    assert!(
        output(&out).contains("no service token"),
        "{}",
        output(&out)
    );
    assert!(!published(&dir));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn runs_never_overlap() {
    let dir = dir_with(&["conf"]);
    std::fs::write(dir.join("conf/sparkhub-notebook-activity.token"), "t0k3n\n").unwrap();
    // Another run holds the lock.
    let mut holder = Command::new("flock")
        .arg(dir.join("reporter.lock"))
        .args(["sleep", "30"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let out = run_reporter(&dir, &closed_port_api());
    holder.kill().ok();
    holder.wait().ok();
    assert!(out.status.success(), "{}", output(&out));
    assert!(
        output(&out).contains("previous run is still going"),
        "{}",
        output(&out)
    );
    assert!(!published(&dir));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_installer_sets_up_systemd_units_only_on_the_master() {
    let profile = Profile::parse(TUTORIAL).unwrap();
    let install = render_all(&profile)
        .into_iter()
        .find(|s| s.file_name == NOTEBOOK_REPORTER_SCRIPT)
        .unwrap();
    let root = dir_with(&["bin", "info", "log", "usr-local-bin", "systemd"]);
    // sudo runs its command with /usr/local/bin and /etc/systemd/system moved
    // under the test directory; systemctl records what it was asked.
    write_executable(
        &root.join("bin/sudo"),
        "#!/bin/bash\nargs=()\nfor a in \"$@\"; do\n  a=${a//\\/usr\\/local\\/bin/$ROOT\\/usr-local-bin}\n  a=${a//\\/etc\\/systemd\\/system/$ROOT\\/systemd}\n  args+=(\"$a\")\ndone\nexec \"${args[@]}\"\n",
    );
    write_executable(
        &root.join("bin/systemctl"),
        "#!/bin/bash\nprintf 'systemctl %s\\n' \"$*\" >> \"$ROOT/log/argv\"\n",
    );
    let script = root.join("install.sh");
    write_executable(&script, &install.body);
    let run = |is_master: bool| {
        std::fs::write(
            root.join("info/instance.json"),
            format!(r#"{{"isMaster": {is_master}, "isRunningNameNode": true}}"#),
        )
        .unwrap();
        Command::new("bash")
            .arg(&script)
            .env("PATH", path_with(&root.join("bin")))
            .env("SPARKHUB_INFO_DIR", root.join("info"))
            .env("ROOT", &root)
            .output()
            .unwrap()
    };
    let reporter = root.join("usr-local-bin/sparkhub-notebook-activity");
    let setup = root.join("usr-local-bin/sparkhub-hub-setup");

    let out = run(false);
    assert!(out.status.success(), "{}", output(&out));
    assert!(
        !reporter.exists() && !setup.exists(),
        "nothing on a core node"
    );
    assert!(
        !root.join("log/argv").exists(),
        "no systemctl on a core node"
    );

    let out = run(true);
    assert!(out.status.success(), "{}", output(&out));
    use std::os::unix::fs::PermissionsExt;
    for (file, expected) in [
        (
            &reporter,
            notebook_reporter(&profile, NOTEBOOK_ACTIVE_WINDOW),
        ),
        (&setup, hub_setup(&profile)),
    ] {
        let installed = std::fs::read_to_string(file).unwrap();
        assert_eq!(
            installed.trim_end(),
            expected.trim_end(),
            "written verbatim"
        );
        assert_eq!(
            std::fs::metadata(file).unwrap().permissions().mode() & 0o777,
            0o755
        );
    }
    for (unit, content) in NOTEBOOK_REPORTER_UNITS {
        let installed = std::fs::read_to_string(root.join("systemd").join(unit))
            .unwrap_or_else(|e| panic!("{unit}: {e}"));
        assert_eq!(installed.trim_end(), content.trim_end(), "{unit}");
    }
    let timer =
        std::fs::read_to_string(root.join("systemd/sparkhub-notebook-activity.timer")).unwrap();
    assert!(
        timer.contains("OnCalendar=*-*-* *:*:00"),
        "every minute: {timer}"
    );
    let calls = std::fs::read_to_string(root.join("log/argv")).unwrap();
    assert_eq!(
        calls, "systemctl daemon-reload\n",
        "nothing is started before EMR has installed and configured JupyterHub: the users step runs the setup"
    );

    // systemd itself accepts the units (where this machine has systemd-analyze).
    let verify_dir = root.join("verify");
    std::fs::create_dir_all(&verify_dir).unwrap();
    let mut files = Vec::new();
    for (unit, _) in NOTEBOOK_REPORTER_UNITS {
        let text = std::fs::read_to_string(root.join("systemd").join(unit))
            .unwrap()
            .replace(
                "/usr/local/bin/",
                &format!("{}/", root.join("usr-local-bin").display()),
            );
        std::fs::write(verify_dir.join(unit), text).unwrap();
        files.push(verify_dir.join(unit));
    }
    match Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&files)
        .output()
    {
        Ok(out) => assert!(
            out.status.success() && out.stderr.is_empty(),
            "systemd-analyze verify: {}",
            output(&out)
        ),
        Err(e) => eprintln!("systemd-analyze not available ({e}); units checked by content only"),
    }
    std::fs::remove_dir_all(&root).ok();
}

const YARN_APPS: &str = include_str!("../fixtures/agent/yarn-apps.json");
const LIVY_SESSIONS: &str = include_str!("../fixtures/agent/livy-sessions.json");
const LIVY_STATEMENTS: &str = include_str!("../fixtures/agent/livy-statements.json");

/// The documented YARN answer with its applications changed by `edit`.
fn yarn_apps(edit: impl Fn(&mut serde_json::Value)) -> String {
    let mut answer: serde_json::Value = serde_json::from_str(YARN_APPS).unwrap();
    for app in answer["apps"]["app"].as_array_mut().unwrap() {
        edit(app);
    }
    answer.to_string()
}

/// Livy's answer with every session's state, or every statement, changed.
fn livy(edit: impl Fn(&mut serde_json::Value), key: &str, fixture: &str) -> String {
    let mut answer: serde_json::Value = serde_json::from_str(fixture).unwrap();
    for item in answer[key].as_array_mut().unwrap() {
        edit(item);
    }
    answer.to_string()
}

/// When the agent published last, in the test (epoch seconds): the fixtures'
/// instants are from 2016 and 2023.
const SINCE: i64 = 1_700_000_001;

/// One kind of activity per row, each in the answers the agent reads: the
/// value it publishes (1 busy, 0 idle), and that it asked for applications
/// finished since its previous sample.
#[test]
fn the_agent_publishes_busy_for_each_kind_of_activity_and_idle_for_none() {
    let none_running = r#"{"apps":null}"#.to_owned();
    let no_users = "[]".to_owned();
    let idle_session = || livy(|s| s["state"] = "idle".into(), "sessions", LIVY_SESSIONS);
    let done_statements = || {
        livy(
            |st| {
                st["state"] = "available".into();
                st["completed"] = (SINCE * 1000 - 5_000).into();
            },
            "statements",
            LIVY_STATEMENTS,
        )
    };
    let running = |edit: &dyn Fn(&mut serde_json::Value)| {
        yarn_apps(|app| {
            app["state"] = "RUNNING".into();
            app["finishedTime"] = 0.into();
            edit(app);
        })
    };
    let active_user = format!(
        r#"[{{"name": "philipp", "last_activity": "{}", "servers": {{}}}}]"#,
        jiff::Timestamp::now()
    );
    // (what, hub users, YARN running, YARN finished since, Livy sessions, Livy statements, busy)
    type Row = (&'static str, String, String, String, String, String, u8);
    let rows: Vec<Row> = vec![
        (
            "nothing at all",
            no_users.clone(),
            none_running.clone(),
            none_running.clone(),
            idle_session(),
            done_statements(),
            0,
        ),
        (
            "a notebook user active within the window",
            active_user.clone(),
            none_running.clone(),
            none_running.clone(),
            idle_session(),
            done_statements(),
            1,
        ),
        (
            "a YARN application running",
            no_users.clone(),
            running(&|_| {}),
            none_running.clone(),
            idle_session(),
            done_statements(),
            1,
        ),
        (
            "a YARN application that finished since the previous sample",
            no_users.clone(),
            none_running.clone(),
            YARN_APPS.to_owned(),
            idle_session(),
            done_statements(),
            1,
        ),
        (
            "only an idle Livy session's application running",
            no_users.clone(),
            running(&|app| app["applicationTags"] = "livy-session-0-abcdefgh".into()),
            none_running.clone(),
            idle_session(),
            done_statements(),
            0,
        ),
        (
            "a Livy session running a statement",
            no_users.clone(),
            running(&|app| app["applicationTags"] = "livy-session-0-abcdefgh".into()),
            none_running.clone(),
            livy(|s| s["state"] = "busy".into(), "sessions", LIVY_SESSIONS),
            done_statements(),
            1,
        ),
        (
            "a Livy statement waiting to run",
            no_users.clone(),
            none_running.clone(),
            none_running.clone(),
            idle_session(),
            livy(
                |st| st["state"] = "waiting".into(),
                "statements",
                LIVY_STATEMENTS,
            ),
            1,
        ),
        (
            "a Livy statement completed since the previous sample",
            no_users.clone(),
            none_running.clone(),
            none_running.clone(),
            idle_session(),
            livy(
                |st| {
                    st["state"] = "available".into();
                    st["completed"] = (SINCE * 1000 + 5_000).into();
                },
                "statements",
                LIVY_STATEMENTS,
            ),
            1,
        ),
    ];
    for (what, users, yarn_running, yarn_finished, sessions, statements, expected) in rows {
        let server = FakeHttp::start(vec![
            ("/hub/api/users".into(), users),
            ("/ws/v1/cluster/apps?states=".into(), yarn_running),
            (
                "/ws/v1/cluster/apps?finishedTimeBegin=".into(),
                yarn_finished,
            ),
            ("/livy/sessions?".into(), sessions),
            ("/livy/sessions/0/statements".into(), statements),
        ]);
        let dir = dir_with(&["conf", "state"]);
        std::fs::write(dir.join("conf/sparkhub-notebook-activity.token"), "t0k3n\n").unwrap();
        std::fs::write(dir.join("state/last-published"), format!("{SINCE}\n")).unwrap();
        let out = run_reporter(&dir, &server.base);
        assert!(out.status.success(), "{what}: {}", output(&out));
        let argv = std::fs::read_to_string(dir.join("log/argv")).unwrap();
        let line = argv
            .lines()
            .find(|l| l.contains("put-metric-data"))
            .unwrap_or_else(|| panic!("{what}: nothing published: {}", output(&out)));
        assert!(
            line.contains("--namespace Sparkhub/Activity/tutorial --metric-name Busy --dimensions JobFlowId=j-REPORTER1"),
            "{what}: {line}"
        );
        assert!(
            line.contains(&format!("--value {expected} ")),
            "{what}: {line}\n{}",
            output(&out)
        );
        // Stamped with its minute, and remembered as the next sample's start.
        let minute: i64 = std::fs::read_to_string(dir.join("state/last-published"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(minute % 60, 0, "{what}");
        let stamp = jiff::Timestamp::from_second(minute).unwrap();
        assert!(
            line.contains(&format!(
                "--timestamp {}",
                stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
            )),
            "{what}: {line}"
        );
        assert_eq!(dir.join("isbusy").exists(), expected == 1, "{what}: isbusy");
        assert!(
            server.asked().contains(&format!(
                "/ws/v1/cluster/apps?finishedTimeBegin={}",
                SINCE * 1000
            )),
            "{what}: asks for the applications finished since its previous sample: {:?}",
            server.asked()
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}

/// A source that cannot be asked (here the ResourceManager) is no idleness:
/// nothing is published, so the sweep judges as it did before the agent.
#[test]
fn without_an_answer_from_yarn_the_agent_publishes_nothing() {
    let server = FakeHttp::start(vec![("/hub/api/users".into(), "[]".into())]);
    let dir = dir_with(&["conf"]);
    std::fs::write(dir.join("conf/sparkhub-notebook-activity.token"), "t0k3n\n").unwrap();
    let out = run_reporter(&dir, &server.base);
    assert!(!out.status.success());
    assert!(!published(&dir), "{}", output(&out));
    assert!(
        !dir.join("state/last-published").exists(),
        "the next sample still reaches back to the last one published"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A damaged memory of the last published minute makes the agent reach back
/// a day (every sample speaks for all since the previous one), not stop.
#[test]
fn a_damaged_state_reaches_back_a_day() {
    let server = FakeHttp::start(vec![
        ("/hub/api/users".into(), "[]".into()),
        ("/ws/v1/cluster/apps".into(), r#"{"apps":null}"#.into()),
        (
            "/livy/sessions".into(),
            r#"{"from":0,"total":0,"sessions":[]}"#.into(),
        ),
    ]);
    let dir = dir_with(&["conf", "state"]);
    std::fs::write(dir.join("conf/sparkhub-notebook-activity.token"), "t0k3n\n").unwrap();
    std::fs::write(dir.join("state/last-published"), "not a minute\n").unwrap();
    let out = run_reporter(&dir, &server.base);
    assert!(out.status.success(), "{}", output(&out));
    assert!(published(&dir));
    let since: i64 = server
        .asked()
        .iter()
        .find_map(|t| t.strip_prefix("/ws/v1/cluster/apps?finishedTimeBegin="))
        .expect("asked for the finished applications")
        .parse()
        .unwrap();
    let day_ago = (jiff::Timestamp::now().as_second() - 86_400) * 1000;
    assert!((since - day_ago).abs() <= 120_000, "{since} vs {day_ago}");
    std::fs::remove_dir_all(&dir).ok();
}
