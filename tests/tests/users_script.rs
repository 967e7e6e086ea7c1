//! The rendered JupyterHub users script, run by bash with stand-ins for
//! `sudo`, `docker`, `aws`, `curl` and `hostname` that record their argv and
//! stdin. Checks what it does to the hub, and that no password ever appears
//! in a command line or in its output.

use std::path::{Path, PathBuf};
use std::process::Command;

use sparkhub_shared::Profile;
use sparkhub_shared::scripts::{USERS_SCRIPT, render_all};

const TUTORIAL: &str = include_str!("../../profiles/tutorial.toml");
const PHILIPP: &str = "PhilippsPasswordIsLong42x";
const ADMIN: &str = "AdminsPasswordIsLonger77y";

const STANDINS: &[(&str, &str)] = &[
    ("sudo", r#"exec "$@""#),
    (
        "docker",
        r#"printf 'docker %s\n' "$*" >> "$LOG/argv"
case "$*" in
  "exec jupyterhub id -u "*)
    user=${*: -1}
    case " $EXISTING_USERS " in *" $user "*) echo 1001 ;; *) exit 1 ;; esac ;;
  "exec jupyterhub /opt/conda/bin/jupyterhub token jovyan") echo "warning: something"; echo "$HUB_TOKEN" ;;
  "exec -i jupyterhub chpasswd") cat >> "$LOG/chpasswd.stdin" ;;
  "exec jupyterhub useradd "*) ;;
  *) echo "unexpected docker call: $*" >&2; exit 2 ;;
esac"#,
    ),
    (
        "aws",
        r#"printf 'aws %s\n' "$*" >> "$LOG/argv"
printf '%s\n' "$SECRET_JSON""#,
    ),
    (
        "curl",
        r#"printf 'curl %s\n' "$*" >> "$LOG/argv"
cat >> "$LOG/curl.stdin"
printf '%s' "$HUB_STATUS""#,
    ),
    ("hostname", r#"echo ip-10-0-0-12.ec2.internal"#),
];

struct Run {
    status: i32,
    output: String,
    argv: String,
    chpasswd: String,
    curl_config: String,
}

fn run_script(existing_users: &str, hub_status: &str) -> Run {
    let dir = std::env::temp_dir().join(format!(
        "sparkhub-users-script-{}-{}",
        std::process::id(),
        unique()
    ));
    let bin = dir.join("bin");
    let log = dir.join("log");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&log).unwrap();
    for (name, body) in STANDINS {
        write_executable(&bin.join(name), &format!("#!/bin/bash\n{body}\n"));
    }
    let profile = Profile::from_toml(TUTORIAL).unwrap();
    let script = render_all(&profile)
        .into_iter()
        .find(|s| s.file_name == USERS_SCRIPT)
        .unwrap();
    let script_path = dir.join(USERS_SCRIPT);
    write_executable(&script_path, &script.body);

    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .arg(&script_path)
        .args(["sparkhub/tutorial/jupyterhub-users", "eu-central-1"])
        .env("PATH", path)
        .env("LOG", &log)
        .env("EXISTING_USERS", existing_users)
        .env("HUB_TOKEN", "hub-token-0123456789")
        .env("HUB_STATUS", hub_status)
        .env(
            "SECRET_JSON",
            format!(r#"{{"philipp": "{PHILIPP}", "admin": "{ADMIN}"}}"#),
        )
        .output()
        .expect("bash runs the script");
    let read = |name: &str| std::fs::read_to_string(log.join(name)).unwrap_or_default();
    let run = Run {
        status: out.status.code().unwrap_or(-1),
        output: String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr),
        argv: read("argv"),
        chpasswd: read("chpasswd.stdin"),
        curl_config: read("curl.stdin"),
    };
    std::fs::remove_dir_all(&dir).ok();
    run
}

fn write_executable(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn assert_no_password(run: &Run) {
    for password in [PHILIPP, ADMIN] {
        assert!(
            !run.argv.contains(password),
            "a password appeared in a command line:\n{}",
            run.argv
        );
        assert!(
            !run.output.contains(password),
            "a password appeared in the output:\n{}",
            run.output
        );
    }
    assert!(
        !run.argv.contains("hub-token-0123456789"),
        "the hub token appeared in a command line"
    );
}

#[test]
fn new_users_are_created_existing_ones_skipped_and_everyone_registered() {
    let run = run_script("philipp", "201");
    assert_eq!(run.status, 0, "{}", run.output);
    assert!(run.argv.contains("aws secretsmanager get-secret-value --region eu-central-1 --secret-id sparkhub/tutorial/jupyterhub-users"), "{}", run.argv);
    assert!(
        run.argv
            .contains("docker exec jupyterhub useradd -m -s /bin/bash -N admin"),
        "{}",
        run.argv
    );
    assert!(
        !run.argv.contains("useradd -m -s /bin/bash -N philipp"),
        "an existing user is not created again"
    );
    assert_eq!(
        run.chpasswd,
        format!("admin:{ADMIN}\n"),
        "only the new user's password is set, through stdin"
    );
    assert!(
        run.argv
            .contains("https://ip-10-0-0-12.ec2.internal:9443/hub/api/users/philipp")
    );
    assert!(
        run.argv
            .contains("https://ip-10-0-0-12.ec2.internal:9443/hub/api/users/admin")
    );
    assert!(
        run.curl_config
            .contains("Authorization: token hub-token-0123456789"),
        "the token reaches curl through stdin"
    );
    assert!(
        run.output.contains("1 user(s) created, 1 already present"),
        "{}",
        run.output
    );
    assert_no_password(&run);
}

#[test]
fn a_rerun_changes_nothing_but_registration() {
    let run = run_script("philipp admin", "409");
    assert_eq!(run.status, 0, "{}", run.output);
    assert!(!run.argv.contains("useradd"));
    assert!(run.chpasswd.is_empty());
    assert!(
        run.output.contains("0 user(s) created, 2 already present"),
        "{}",
        run.output
    );
    assert_no_password(&run);
}

#[test]
fn a_hub_that_refuses_registration_fails_the_step() {
    let run = run_script("", "500");
    assert_ne!(run.status, 0);
    assert!(
        run.output
            .contains("registering philipp with the hub failed (HTTP 500)"),
        "{}",
        run.output
    );
    assert_no_password(&run);
}

#[test]
fn it_needs_the_secret_and_the_region() {
    let dir: PathBuf = std::env::temp_dir().join(format!("sparkhub-users-usage-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let profile = Profile::from_toml(TUTORIAL).unwrap();
    let script = render_all(&profile)
        .into_iter()
        .find(|s| s.file_name == USERS_SCRIPT)
        .unwrap();
    let path = dir.join(USERS_SCRIPT);
    write_executable(&path, &script.body);
    let out = Command::new("bash").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage:"));
    std::fs::remove_dir_all(&dir).ok();
}
