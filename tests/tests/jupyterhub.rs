//! sparkhub's on-cluster scripts against a real JupyterHub (see
//! `sparkhub_tests::hub`): the one-time hub setup, the users script and the
//! notebook activity reporter, with real curl. Only what needs an EMR master
//! node is a stand-in: `docker` (its `exec` plays the `jupyterhub`
//! container's `id`/`useradd`/`chpasswd`/`passwd` over a small state
//! directory; `restart` restarts the local hub), `sudo`, `systemctl`, `aws`
//! and the node's info files.
//!
//! Both the hub EMR 7 ships (1.x) and the current 5.x run the same story.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use sparkhub_core::Profile;
use sparkhub_core::scripts::{USERS_SCRIPT, hub_setup, notebook_reporter, render_all};
use sparkhub_core::users::{crypt_sha512, random_salt};
use sparkhub_tests::fake_http::FakeHttp;
use sparkhub_tests::hub::LocalHub;
use sparkhub_tests::unique;

const TUTORIAL: &str = include_str!("../../profiles/tutorial.toml");
const PHILIPP: &str = "PhilippsPasswordIsLong42x";
const ADMIN: &str = "AdminsPasswordIsLonger77y";
/// The reporter's window in these tests; the product's is 15 minutes.
const WINDOW: Duration = Duration::from_secs(15);

const STANDINS: &[(&str, &str)] = &[
    (
        "sudo",
        r#"while [ "${1#-}" != "$1" ]; do shift; done; exec "$@""#,
    ),
    (
        "docker",
        r#"printf 'docker %s\n' "$*" >> "$LOG/argv"
if [ "$1" = stop ]; then kill "$(cat "$HUB_PID_FILE")"; echo "$2"; exit 0; fi
if [ "$1" = start ]; then echo "$2"; exit 0; fi # the supervisor has started it again
[ "$1" = exec ] || { echo "unexpected docker call: $*" >&2; exit 2; }
shift
[ "$1" = -i ] && shift
shift # the container
users="$STATE/users"
# The container's /etc/shadow: the hub's authenticator checks logins there.
shadow="$SHADOW_DIR"
case "$1" in
  id) [ -e "$users/$3" ] && echo 1001 ;;
  useradd) [ ! -e "$users/${*: -1}" ] && echo L > "$users/${*: -1}" && echo '!' > "$shadow/${*: -1}" ;;
  chpasswd)
    [ "$2" = -e ] || { echo "sparkhub sets hashes only (chpasswd -e)" >&2; exit 2; }
    while IFS=: read -r user hash; do
      printf '%s:%s\n' "$user" "$hash" >> "$LOG/chpasswd.stdin"
      [ -e "$users/$user" ] && echo P > "$users/$user" && printf '%s\n' "$hash" > "$shadow/$user"
    done ;;
  getent) [ "$2" = shadow ] && [ -e "$users/$3" ] && printf '%s:%s:19000:0:99999:7:::\n' "$3" "$(cat "$shadow/$3" 2>/dev/null)" ;;
  passwd)
    case "$2" in
      -S) printf '%s %s 11/28/2026 0 99999 7 -1\n' "$3" "$(cat "$users/$3")" ;;
      -l) echo L > "$users/$3"; sed -i 's/^/!/' "$shadow/$3" 2>/dev/null || true; echo "passwd: password expiry information changed." ;;
      *) exit 2 ;;
    esac ;;
  *) echo "unexpected docker exec: $*" >&2; exit 2 ;;
esac"#,
    ),
    (
        "aws",
        r#"printf 'aws %s\n' "$*" >> "$LOG/argv"
case "$1" in secretsmanager) printf '%s\n' "$SECRET_JSON" ;; esac"#,
    ),
    (
        "systemctl",
        r#"printf 'systemctl %s\n' "$*" >> "$LOG/argv""#,
    ),
];

/// The master node around the hub: stand-ins, their logs, the container's users.
struct Node {
    dir: PathBuf,
    shadow_dir: PathBuf,
    /// The hashes secret the stand-in `aws secretsmanager` answers with.
    hashes: std::cell::RefCell<String>,
    hub_api: String,
    conf_dir: PathBuf,
    pid_file: PathBuf,
    /// The ResourceManager and Livy, with nothing running.
    others: FakeHttp,
}

impl Node {
    fn new(hub: &LocalHub) -> Self {
        let dir = std::env::temp_dir().join(unique("sparkhub-node"));
        for sub in ["bin", "log", "state/users", "info"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        for (name, body) in STANDINS {
            write_executable(
                &dir.join("bin").join(name),
                &format!("#!/bin/bash\n{body}\n"),
            );
        }
        // What the bootstrap action installs as /usr/local/bin/sparkhub-hub-setup.
        write_executable(
            &dir.join("hub-setup.sh"),
            &hub_setup(&Profile::parse(TUTORIAL).unwrap()),
        );
        // EMR's image: jovyan with the well-known password.
        std::fs::write(dir.join("state/users/jovyan"), "P\n").unwrap();
        std::fs::write(
            dir.join("info/job-flow.json"),
            r#"{"jobFlowId": "j-HUBTEST1", "jobFlowCreationInstant": 1}"#,
        )
        .unwrap();
        std::fs::write(
            dir.join("info/extraInstanceData.json"),
            r#"{"region": "eu-central-1", "instanceRole": "Master"}"#,
        )
        .unwrap();
        Self {
            dir,
            shadow_dir: hub.shadow_dir(),
            hashes: std::cell::RefCell::new(hashes_json(&[("philipp", PHILIPP), ("admin", ADMIN)])),
            hub_api: hub.api.clone(),
            conf_dir: hub.conf_dir.clone(),
            pid_file: hub.pid_file(),
            others: FakeHttp::start(vec![
                ("/ws/v1/cluster/apps".into(), r#"{"apps":null}"#.into()),
                (
                    "/livy/sessions".into(),
                    r#"{"from":0,"total":0,"sessions":[]}"#.into(),
                ),
            ]),
        }
    }

    /// Tells the activity agent its previous sample was published just now
    /// (on a node: a minute ago), so the next one reaches back no further.
    fn published_just_now(&self) {
        let state = self.dir.join("agent/last-published");
        std::fs::create_dir_all(state.parent().unwrap()).unwrap();
        std::fs::write(state, format!("{}\n", jiff::Timestamp::now().as_second())).unwrap();
    }

    fn run(&self, script_body: &str, name: &str, args: &[&str]) -> Output {
        let script = self.dir.join(name);
        write_executable(&script, script_body);
        Command::new("bash")
            .arg(&script)
            .args(args)
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    self.dir.join("bin").display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env("LOG", self.dir.join("log"))
            .env("STATE", self.dir.join("state"))
            .env("HUB_PID_FILE", &self.pid_file)
            .env("SPARKHUB_HUB_API", &self.hub_api)
            .env("SPARKHUB_YARN_API", format!("{}/ws/v1", self.others.base))
            .env("SPARKHUB_LIVY_API", format!("{}/livy", self.others.base))
            .env(
                "SPARKHUB_AGENT_STATE",
                self.dir.join("agent/last-published"),
            )
            .env("SPARKHUB_HUB_CONF_DIR", &self.conf_dir)
            .env("SPARKHUB_HUB_SETUP", self.dir.join("hub-setup.sh"))
            .env("SPARKHUB_HUB_WAIT_SECONDS", "60")
            .env("SPARKHUB_INFO_DIR", self.dir.join("info"))
            .env("SPARKHUB_ISBUSY_FILE", self.dir.join("emr/isbusy"))
            .env("SPARKHUB_LOCK_FILE", self.dir.join("reporter.lock"))
            .env("SECRET_JSON", self.hashes.borrow().as_str())
            .env("SHADOW_DIR", &self.shadow_dir)
            .env("SPARKHUB_STATE_DIR", self.dir.join("var-lib-sparkhub"))
            .output()
            .expect("bash runs the script")
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join("log").join(name)).unwrap_or_default()
    }

    fn user_state(&self, user: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.join("state/users").join(user))
            .ok()
            .map(|s| s.trim().to_owned())
    }

    /// Runs the reporter once; the value it published.
    fn report(&self, reporter: &str) -> u32 {
        let before = self.log("argv").matches("put-metric-data").count();
        let out = self.run(reporter, "reporter.sh", &[]);
        assert!(out.status.success(), "reporter failed: {}", stderr(&out));
        let argv = self.log("argv");
        let published: Vec<&str> = argv
            .lines()
            .filter(|l| l.contains("put-metric-data"))
            .collect();
        assert_eq!(published.len(), before + 1, "one datapoint per run");
        let line = published.last().unwrap();
        assert!(
            line.contains("--namespace Sparkhub/Activity/tutorial --metric-name Busy --dimensions JobFlowId=j-HUBTEST1"),
            "{line}"
        );
        line.split("--value ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    fn busy(&self) -> bool {
        self.dir.join("emr/isbusy").exists()
    }

    fn busy_touched_at(&self) -> Option<std::time::SystemTime> {
        std::fs::metadata(self.dir.join("emr/isbusy"))
            .and_then(|m| m.modified())
            .ok()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The hashes secret the setup function writes for these passwords.
fn hashes_json(users: &[(&str, &str)]) -> String {
    let hashes: std::collections::BTreeMap<&str, String> = users
        .iter()
        .map(|(user, password)| (*user, crypt_sha512(password, &random_salt())))
        .collect();
    serde_json::to_string(&hashes).unwrap()
}

fn write_executable(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn token(hub: &LocalHub, service: &str) -> String {
    std::fs::read_to_string(hub.conf_dir.join(format!("{service}.token")))
        .unwrap()
        .trim()
        .to_owned()
}

fn sleep_until(instant: Instant) {
    if let Some(left) = instant.checked_duration_since(Instant::now()) {
        std::thread::sleep(left);
    }
}

/// The life of a hub cluster: setup, users, idle, someone working, idle again.
fn the_hub_story(venv: &str, expected_major: &str) {
    let hub = LocalHub::start(venv);
    assert!(
        hub.version().starts_with(expected_major),
        "{venv} runs JupyterHub {}",
        hub.version()
    );
    let node = Node::new(&hub);
    let profile = Profile::parse(TUTORIAL).unwrap();

    // 1. The users step, once the cluster is WAITING: it first runs the hub
    // setup, which registers sparkhub's services and restarts the hub once
    // (EMR is done configuring the container by then), then creates the
    // users in the container with their passwords, registers them with the
    // hub and locks the default admin.
    let users_script = render_all(&profile)
        .into_iter()
        .find(|s| s.file_name == USERS_SCRIPT)
        .unwrap();
    let args = ["sparkhub/tutorial/jupyterhub-users", "eu-central-1"];
    let out = node.run(&users_script.body, USERS_SCRIPT, &args);
    assert!(
        out.status.success(),
        "users step failed: {}\n{}",
        stderr(&out),
        hub.log()
    );
    let argv = node.log("argv");
    assert_eq!(argv.matches("docker stop jupyterhub").count(), 1, "{argv}");
    assert_eq!(argv.matches("docker start jupyterhub").count(), 1, "{argv}");
    assert!(
        argv.find("docker stop jupyterhub") < argv.find("docker exec"),
        "the hub is restarted before the users are made: {argv}"
    );
    assert!(
        argv.contains("systemctl enable --now sparkhub-notebook-activity.timer"),
        "{argv}"
    );
    for service in ["sparkhub-notebook-activity", "sparkhub-users"] {
        use std::os::unix::fs::PermissionsExt;
        let file = hub.conf_dir.join(format!("{service}.token"));
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode, 0o600,
            "{service}'s token is readable by its owner only"
        );
        assert!(
            !std::fs::read_to_string(hub.conf_dir.join("jupyterhub_config.py"))
                .unwrap()
                .contains(&token(&hub, service)),
            "the hub's configuration holds no token"
        );
        assert!(!stderr(&out).contains(&token(&hub, service)));
    }
    let activity = token(&hub, "sparkhub-notebook-activity");
    let me = hub.get("/user", &activity);
    assert_eq!(me["kind"], "service", "{me}");
    assert_eq!(me["name"], "sparkhub-notebook-activity");

    let output = stderr(&out);
    assert!(output.contains("2 user(s) created"), "{output}");
    assert_eq!(
        hub.user_names(&activity),
        ["admin", "jovyan", "philipp"],
        "the hub's own user list has the profile's users"
    );
    assert_eq!(node.user_state("philipp").as_deref(), Some("P"));
    assert_eq!(node.user_state("admin").as_deref(), Some("P"));
    assert_eq!(
        node.user_state("jovyan").as_deref(),
        Some("L"),
        "EMR's default admin can no longer log in with 'jupyter'"
    );
    let set = node.log("chpasswd.stdin");
    assert!(
        set.starts_with("philipp:$6$") && set.contains("\nadmin:$6$"),
        "crypt hashes reach chpasswd -e on stdin: {set}"
    );
    assert!(
        !set.contains(PHILIPP) && !set.contains(ADMIN),
        "no plaintext password ever reaches the node"
    );
    // People log in with their passwords through the hub's form; EMR's
    // default admin no longer with its public one.
    assert!(hub.login("philipp", PHILIPP), "philipp logs in");
    assert!(hub.login("admin", ADMIN), "admin logs in");
    assert!(!hub.login("philipp", ADMIN), "not with another's password");
    assert!(
        !hub.login("jovyan", "jupyter"),
        "nor as EMR's default admin"
    );
    for secret in [PHILIPP, ADMIN, &activity, &token(&hub, "sparkhub-users")] {
        assert!(
            !node.log("argv").contains(secret),
            "a secret in a command line"
        );
        assert!(!output.contains(secret), "a secret in the output");
    }

    // A user left without a password (chpasswd failed last time) gets one on the next run.
    std::fs::write(node.dir.join("state/users/admin"), "L\n").unwrap();
    std::fs::write(node.shadow_dir.join("admin"), "!\n").unwrap();
    let out = node.run(&users_script.body, USERS_SCRIPT, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let output = stderr(&out);
    assert!(
        output.contains("0 user(s) created, 1 given their password, 1 already present"),
        "{output}"
    );
    assert!(
        output.contains("user admin already registered with the hub"),
        "{output}"
    );
    assert_eq!(node.user_state("admin").as_deref(), Some("P"));
    assert!(node.log("chpasswd.stdin").contains("\nadmin:$6$"));
    assert!(hub.login("admin", ADMIN), "admin's password works again");
    assert_eq!(
        node.log("argv").matches("docker stop jupyterhub").count(),
        1,
        "the setup restarts the hub once, not at every users step"
    );
    assert_eq!(token(&hub, "sparkhub-notebook-activity"), activity);

    // The hub restarting (a person, or an interrupted earlier run) while the
    // users step runs: the step waits for it and succeeds.
    hub.restart();
    let out = node.run(&users_script.body, USERS_SCRIPT, &args);
    assert!(out.status.success(), "{}\n{}", stderr(&out), hub.log());
    assert!(
        stderr(&out).contains("user admin already registered with the hub"),
        "{}",
        stderr(&out)
    );

    // `sparkhub password --rotate tutorial philipp`: a new password in the
    // secrets; the users step, run again, makes it the one that works.
    const ROTATED: &str = "PhilippsNewPasswordIs77z";
    node.hashes
        .replace(hashes_json(&[("philipp", ROTATED), ("admin", ADMIN)]));
    let out = node.run(&users_script.body, USERS_SCRIPT, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(hub.login("philipp", ROTATED), "the new password logs in");
    assert!(!hub.login("philipp", PHILIPP), "the old one no longer does");

    // admin leaves the profile: the next users step locks the password.
    let mut without_admin = profile.clone();
    without_admin.users.retain(|u| u.as_str() != "admin");
    let step = render_all(&without_admin)
        .into_iter()
        .find(|s| s.file_name == USERS_SCRIPT)
        .unwrap();
    node.hashes.replace(hashes_json(&[("philipp", ROTATED)]));
    let out = node.run(&step.body, USERS_SCRIPT, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("user admin is no longer in the profile: password locked"),
        "{}",
        stderr(&out)
    );
    assert!(!hub.login("admin", ADMIN), "a removed user cannot log in");
    assert_eq!(
        hub.user_names(&activity),
        ["jovyan", "philipp"],
        "and is gone from the hub (server stopped, sessions and tokens ended)"
    );
    use std::os::unix::fs::PermissionsExt;
    let state = node.dir.join("var-lib-sparkhub");
    assert_eq!(
        std::fs::metadata(&state).unwrap().permissions().mode() & 0o777,
        0o700,
        "the list of users sparkhub made is root's alone"
    );
    assert!(hub.login("philipp", ROTATED));

    // 3. Nobody works: the reporter publishes 0, run after run (it never
    // counts itself, and the users step's requests were nobody's activity).
    let reporter = notebook_reporter(&profile, WINDOW);
    for _ in 0..3 {
        node.published_just_now();
        assert_eq!(node.report(&reporter), 0, "an idle hub has no active user");
    }
    assert!(!node.busy());

    // 4. philipp uses the hub with his own token: active for the whole window.
    // The hub stamps his activity between `start` and `answered`: the
    // checks inside the window count from `start` and leave the reporter 5
    // seconds to run, the check after it counts from `answered`, so neither
    // depends on how fast this machine is.
    let philipp = hub.user_token("philipp");
    let start = Instant::now();
    let me = hub.get("/user", &philipp);
    let answered = Instant::now();
    assert_eq!(me["name"], "philipp");
    for at in [
        Duration::from_secs(1),
        WINDOW / 2,
        WINDOW - Duration::from_secs(5),
    ] {
        sleep_until(start + at);
        assert_eq!(
            node.report(&reporter),
            1,
            "philipp counts {at:?} after his request"
        );
        assert!(
            node.busy(),
            "EMR's isbusy marker is held while someone works"
        );
    }
    // ... and not after it: the marker is left as it is (EMR owns it and
    // reads its time), neither touched nor removed.
    let touched = node.busy_touched_at().expect("isbusy exists");
    sleep_until(answered + WINDOW + Duration::from_secs(2));
    node.published_just_now();
    assert_eq!(node.report(&reporter), 0, "idle again after the window");
    assert_eq!(
        node.busy_touched_at(),
        Some(touched),
        "an idle run never removes or touches EMR's isbusy"
    );
}

#[test]
fn the_hub_emr_7_ships() {
    the_hub_story(".venv-jupyterhub", "1.");
}

#[test]
fn the_current_hub() {
    the_hub_story(".venv-jupyterhub5", "5.");
}
