//! The rendered JupyterHub users script where no hub is needed: its usage, and
//! a hub that never answers. What it does to a real hub is
//! in `jupyterhub.rs`.

use std::path::Path;
use std::process::Command;

use sparkhub_core::Profile;
use sparkhub_core::scripts::{USERS_SCRIPT, hub_setup, render_all};
use sparkhub_tests::unique;

const TUTORIAL: &str = include_str!("../../profiles/tutorial.toml");

fn write_executable(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn users_script(dir: &Path) -> std::path::PathBuf {
    let profile = Profile::parse(TUTORIAL).unwrap();
    let script = render_all(&profile)
        .into_iter()
        .find(|s| s.file_name == USERS_SCRIPT)
        .unwrap();
    let path = dir.join(USERS_SCRIPT);
    write_executable(&path, &script.body);
    path
}

#[test]
fn it_needs_the_secret_and_the_region() {
    let dir = std::env::temp_dir().join(unique("sparkhub-users-usage"));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new("bash")
        .arg(users_script(&dir))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage:"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_hub_that_never_answers_fails_the_step_saying_why() {
    let dir = std::env::temp_dir().join(unique("sparkhub-users-nohub"));
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    write_executable(
        &bin.join("sudo"),
        "#!/bin/bash\nwhile [ \"${1#-}\" != \"$1\" ]; do shift; done\nexec \"$@\"\n",
    );
    // The hub setup the bootstrap action installed, as the step runs it.
    let setup = dir.join("hub-setup.sh");
    write_executable(&setup, &hub_setup(&Profile::parse(TUTORIAL).unwrap()));
    std::fs::write(dir.join("jupyterhub_config.py"), "c = get_config()\n").unwrap();
    // Every user exists with a password; the hub is not there.
    write_executable(
        &bin.join("docker"),
        "#!/bin/bash\ncase \"$*\" in *\"passwd -S \"*) echo \"${*: -1} P\" ;; esac\n",
    );
    write_executable(&bin.join("aws"), "#!/bin/bash\necho '{}'\n");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new("bash")
        .arg(users_script(&dir))
        .args(["sparkhub/tutorial/jupyterhub-users", "eu-central-1"])
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env(
            "SPARKHUB_HUB_API",
            format!("http://127.0.0.1:{port}/hub/api"),
        )
        .env("SPARKHUB_HUB_CONF_DIR", &dir)
        .env("SPARKHUB_HUB_SETUP", &setup)
        .env("SPARKHUB_HUB_WAIT_SECONDS", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr.contains("JupyterHub did not answer at") && stderr.contains("hub setup"),
        "the hub setup, first in the step, says what it waited for: {stderr}"
    );
    assert!(
        !stderr.contains("user(s) created"),
        "no user is made in a hub that is not there: {stderr}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
