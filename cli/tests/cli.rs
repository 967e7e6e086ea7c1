//! The sparkhub CLI as a person runs it, against the local emulator.

use std::process::{Command, Output};

use jiff::{SignedDuration, Timestamp};
use sparkhub_shared::aws::SecretsManager;
use sparkhub_shared::golden::workspace_root;
use sparkhub_shared::idle::{EMR_NAMESPACE, IS_IDLE_METRIC, NOTEBOOK_METRIC, NOTEBOOK_NAMESPACE};
use sparkhub_shared::ports::SecretStore;
use sparkhub_tests::{LocalAws, unique};

fn sparkhub(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sparkhub"))
        .args(args)
        .output()
        .expect("the sparkhub binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn validate_exit_codes_say_valid_invalid_or_unreadable() {
    let tutorial = workspace_root().join("profiles/tutorial.toml");
    let out = sparkhub(&["validate", tutorial.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    let dir = std::env::temp_dir().join(unique("sparkhub-cli"));
    std::fs::create_dir_all(&dir).unwrap();
    let invalid = dir.join("invalid.toml");
    let text = std::fs::read_to_string(&tutorial)
        .unwrap()
        .replace("users = [\"philipp\", \"admin\"]", "users = [\"bob;rm\"]")
        .replace("timeout_minutes = 60", "timeout_minutes = 1");
    std::fs::write(&invalid, text).unwrap();
    let out = sparkhub(&["validate", invalid.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("users[0]: \"bob;rm\" is not a valid Linux user name")
            && text.contains("idle.timeout_minutes"),
        "{text}"
    );

    // An unknown key is one problem among the others, not an unreadable file.
    let typo = dir.join("typo.toml");
    let text = std::fs::read_to_string(&tutorial)
        .unwrap()
        .replace(
            "kind = \"interactive\"",
            "kind = \"interactive\"\ncolour = \"blue\"\nrelease_label = \"emr-7\"",
        )
        .replace("users = [\"philipp\", \"admin\"]", "users = [\"hadoop\"]");
    std::fs::write(&typo, text).unwrap();
    let out = sparkhub(&["validate", typo.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains("colour: is not a key sparkhub knows")
            && text.contains("release_label")
            && text.contains("users[0]"),
        "every problem at once: {text}"
    );

    let broken = dir.join("broken.toml");
    std::fs::write(&broken, "name = ").unwrap();
    assert_eq!(
        sparkhub(&["validate", broken.to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        sparkhub(&["validate", dir.join("missing.toml").to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn plan_shows_the_request_and_the_scripts() {
    let tutorial = workspace_root().join("profiles/tutorial.toml");
    let out = sparkhub(&[
        "plan",
        tutorial.to_str().unwrap(),
        "--bucket",
        "my-sparkhub",
    ]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("\"ReleaseLabel\": \"emr-7.10.0\""), "{text}");
    assert!(
        text.contains("s3://my-sparkhub/scripts/")
            && text.contains("bootstrap-python.sh (bootstrap action"),
        "{text}"
    );
}

#[tokio::test]
async fn password_prints_only_the_asked_users_password() {
    let aws = LocalAws::connect().await;
    let profile = unique("pw");
    let secrets = SecretsManager::new(aws_sdk_secretsmanager::Client::new(&aws.config));
    let value = [
        ("alice".to_string(), "AlicePassword1234567890".to_string()),
        ("bob".to_string(), "BobPassword0987654321xx".to_string()),
    ]
    .into();
    secrets
        .create(
            &format!("sparkhub/{profile}/jupyterhub-users"),
            "test",
            &value,
        )
        .await
        .unwrap();

    let out = sparkhub(&["password", &profile, "alice"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout(&out), "AlicePassword1234567890\n");

    let out = sparkhub(&["password", &profile, "carol"]);
    assert!(!out.status.success());
    let all = stdout(&out) + &String::from_utf8_lossy(&out.stderr);
    assert!(
        all.contains("no password for carol") && !all.contains("Password"),
        "{all}"
    );
}

#[tokio::test]
async fn connect_prints_the_masters_dns_name_and_the_ssm_alternative() {
    let aws = LocalAws::connect().await;
    let id = aws
        .run_cluster(
            "sparkhub-connect",
            &[("sparkhub:managed", "true")],
            &["Spark"],
        )
        .await;
    let dns = aws
        .describe_cluster(&id)
        .await
        .master_public_dns_name
        .expect("the emulator reports a master DNS name");
    let out = sparkhub(&["connect", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(
        text.contains(&format!("-L 10501:localhost:9443 hadoop@{dns}")),
        "{text}"
    );
    assert!(text.contains("AWS-StartPortForwardingSession"), "{text}");
}

#[tokio::test]
async fn status_shows_what_the_sweep_would_decide() {
    let aws = LocalAws::connect().await;
    let bucket = unique("sparkhub-status");
    let profile = unique("status");
    let text = std::fs::read_to_string(workspace_root().join("profiles/tutorial.toml"))
        .unwrap()
        .replacen("name = \"tutorial\"", &format!("name = \"{profile}\""), 1);
    aws.bucket_with(&bucket, &[(&format!("profiles/{profile}.toml"), &text)])
        .await;
    let tags = [
        ("sparkhub:managed", "true"),
        ("sparkhub:profile", profile.as_str()),
    ];
    let idle = aws
        .run_cluster("sparkhub-status-idle", &tags, &["Spark", "JupyterHub"])
        .await;
    let young = aws
        .run_cluster("sparkhub-status-young", &tags, &["Spark", "JupyterHub"])
        .await;
    let now = Timestamp::now();
    aws.set_cluster_times(
        &idle,
        now - SignedDuration::from_hours(3),
        Some(now - SignedDuration::from_hours(2)),
    );
    aws.set_cluster_times(
        &young,
        now - SignedDuration::from_mins(12),
        Some(now - SignedDuration::from_mins(10)),
    );
    let points: Vec<(i64, f64)> = (0..=14).map(|i| (i * 5, 1.0)).collect();
    let zeros: Vec<(i64, f64)> = (0..=14).map(|i| (i * 5, 0.0)).collect();
    aws.put_cluster_metric(&idle, EMR_NAMESPACE, IS_IDLE_METRIC, &points)
        .await;
    aws.put_cluster_metric(&idle, NOTEBOOK_NAMESPACE, NOTEBOOK_METRIC, &zeros)
        .await;

    let out = sparkhub(&["status", "--bucket", &bucket]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    let line = |id: &str| {
        text.lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        line(&idle).contains("TERMINATE") && line(&idle).contains("idle for 60 min"),
        "{text}"
    );
    assert!(line(&young).contains("keep"), "{text}");
    assert_eq!(
        aws.cluster_state(&idle).await,
        "WAITING",
        "status only looks, it terminates nothing"
    );
}
