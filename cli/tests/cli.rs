//! The sparkhub CLI as a person runs it, against the local emulator.

use std::process::{Command, Output};

use jiff::{SignedDuration, Timestamp};
use sparkhub_aws::SecretsManager;
use sparkhub_core::idle::{AGENT_METRIC, EMR_NAMESPACE, IS_IDLE_METRIC, activity_namespace};
use sparkhub_core::ports::SecretStore;
use sparkhub_core::testing::workspace_root;
use sparkhub_tests::{LocalAws, unique};

fn sparkhub(args: &[&str]) -> Output {
    sparkhub_caching_in(args, &std::env::temp_dir().join("sparkhub-cli-tests-cache"))
}

/// With the report's price cache in `cache` (`$XDG_CACHE_HOME`), never the
/// cache of the person running the tests.
fn sparkhub_caching_in(args: &[&str], cache: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sparkhub"))
        .args(args)
        .env("XDG_CACHE_HOME", cache)
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

/// `validate` reads at most a profile's limit and one byte more: a file that
/// never ends is "too large" (exit 2, as an unreadable file), under a memory
/// limit that reading it whole would break.
#[test]
fn validate_refuses_an_oversized_file_without_reading_it_whole() {
    let out = Command::new("bash")
        .args([
            "-c",
            "ulimit -v 2000000 && exec \"$0\" validate /dev/zero",
            env!("CARGO_BIN_EXE_sparkhub"),
        ])
        .output()
        .expect("bash runs");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("/dev/zero: 262145 bytes; a profile has at most 262144 bytes"),
        "{text}"
    );
}

/// `plan` prints one JSON document a script can read: the request, the
/// scripts with their locations in the bucket, and what a person checks in a
/// profile (users, schedule, packages, idle policy).
#[test]
fn plan_prints_json_with_the_request_scripts_users_schedule_and_idle_policy() {
    let tutorial = workspace_root().join("profiles/tutorial.toml");
    let out = sparkhub(&[
        "plan",
        tutorial.to_str().unwrap(),
        "--bucket",
        "my-sparkhub",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "--json: JSON and nothing else");
    let plan: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(plan["profile"], "tutorial");
    assert_eq!(plan["request"]["ReleaseLabel"], "emr-7.10.0", "{plan:#}");
    assert_eq!(plan["users"], serde_json::json!(["philipp", "admin"]));
    assert_eq!(plan["schedule"]["cron"], "cron(0 8 ? * MON-FRI *)");
    assert_eq!(plan["schedule"]["timezone"], "Europe/Berlin");
    assert_eq!(plan["idle"]["timeout_minutes"], 60);
    assert_eq!(plan["idle"]["max_lifetime_hours"], 12);
    assert!(
        plan["python_packages"]
            .as_array()
            .unwrap()
            .contains(&"pandas".into()),
        "{plan:#}"
    );
    let scripts = plan["scripts"].as_array().unwrap();
    let python = scripts
        .iter()
        .find(|s| s["name"] == "bootstrap-python.sh")
        .unwrap_or_else(|| panic!("{plan:#}"));
    assert_eq!(python["kind"], "bootstrap");
    assert!(python["bytes"].as_u64().unwrap() > 0);
    let uri = python["uri"].as_str().unwrap();
    assert_eq!(
        uri,
        format!("s3://my-sparkhub/{}", python["key"].as_str().unwrap())
    );
    // The request points at the same object.
    assert!(plan["request"].to_string().contains(uri), "{plan:#}");

    // Without --json the same JSON, and a note for people on stderr.
    let out = sparkhub(&[
        "plan",
        tutorial.to_str().unwrap(),
        "--bucket",
        "my-sparkhub",
    ]);
    let again: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(again, plan);
    assert!(
        stderr(&out).contains("nothing was called"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn plan_refuses_an_s3_uri_a_missing_bucket_and_an_unreadable_file_with_exit_2() {
    let tutorial = workspace_root().join("profiles/tutorial.toml");
    let tutorial = tutorial.to_str().unwrap();
    let out = sparkhub(&["plan", tutorial, "--bucket", "s3://my-bkt"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("without s3://: --bucket my-bkt"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), "", "no plan with a wrong bucket");

    let out = Command::new(env!("CARGO_BIN_EXE_sparkhub"))
        .args(["plan", tutorial])
        .env_remove("SPARKHUB_BUCKET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("pass --bucket <name> or set SPARKHUB_BUCKET"),
        "{}",
        stderr(&out)
    );
    assert!(!stdout(&out).contains("your-sparkhub-bucket"));

    let out = sparkhub(&["plan", "/nonexistent/profile.toml", "--bucket", "b-1"]);
    assert_eq!(out.status.code(), Some(2), "as validate: unreadable is 2");
    assert!(stderr(&out).contains("cannot be read"), "{}", stderr(&out));
}

#[test]
fn validate_json_names_each_files_status_and_problems() {
    let dir = std::env::temp_dir().join(unique("sparkhub-cli"));
    std::fs::create_dir_all(&dir).unwrap();
    let tutorial = workspace_root().join("profiles/tutorial.toml");
    let invalid = dir.join("invalid.toml");
    let text = std::fs::read_to_string(&tutorial)
        .unwrap()
        .replace("users = [\"philipp\", \"admin\"]", "users = [\"bob;rm\"]");
    std::fs::write(&invalid, text).unwrap();
    let out = sparkhub(&[
        "validate",
        "--json",
        tutorial.to_str().unwrap(),
        invalid.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["exit_code"], 1);
    assert_eq!(report["files"][0]["status"], "ok");
    assert_eq!(report["files"][0]["profile"], "tutorial");
    assert_eq!(report["files"][1]["status"], "invalid");
    let problems = report["files"][1]["problems"].as_array().unwrap();
    assert!(
        problems.iter().any(|p| p["field"] == "users[0]"),
        "{report:#}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Files that are valid alone but not together: a copy under another file
/// name (its name is not the file's, and two files share it), and a second
/// profile with a user of the first in the same notebook bucket.
#[test]
fn validate_checks_the_files_together() {
    let dir = std::env::temp_dir().join(unique("sparkhub-cli"));
    std::fs::create_dir_all(&dir).unwrap();
    let tutorial_text =
        std::fs::read_to_string(workspace_root().join("profiles/tutorial.toml")).unwrap();
    let tutorial = dir.join("tutorial.toml");
    std::fs::write(&tutorial, &tutorial_text).unwrap();
    let copy = dir.join("tutorial-copy.toml");
    std::fs::write(&copy, &tutorial_text).unwrap();
    let team = dir.join("team-b.toml");
    std::fs::write(
        &team,
        tutorial_text.replace("name = \"tutorial\"", "name = \"team-b\""),
    )
    .unwrap();

    let alone = sparkhub(&["validate", tutorial.to_str().unwrap()]);
    assert_eq!(alone.status.code(), Some(0), "{}", stdout(&alone));
    // One file given twice is one profile, not two of one name.
    let twice = sparkhub(&[
        "validate",
        tutorial.to_str().unwrap(),
        tutorial.to_str().unwrap(),
    ]);
    assert_eq!(twice.status.code(), Some(0), "{}", stdout(&twice));
    let out = sparkhub(&[
        "validate",
        tutorial.to_str().unwrap(),
        copy.to_str().unwrap(),
        team.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    for words in [
        "tutorial-copy.toml: the file must be named tutorial.toml",
        "tutorial-copy.toml: name = \"tutorial\" is also the name of",
        "share the user philipp in the sparkhub bucket",
    ] {
        assert!(text.contains(words), "{words:?} in {text}");
    }
    let json = sparkhub(&[
        "validate",
        "--json",
        tutorial.to_str().unwrap(),
        team.to_str().unwrap(),
    ]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(report["exit_code"], 1, "{report:#}");
    assert_eq!(
        report["together"].as_array().map(Vec::len),
        Some(2),
        "{report:#}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// The file: a wrong type, a typo and a reserved user, all three
/// named in plain words by `sparkhub validate`, exit 1.
#[test]
fn validate_names_a_wrong_type_a_typo_and_a_reserved_user_at_once() {
    let dir = std::env::temp_dir().join(unique("sparkhub-cli"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tutorial.toml");
    let text = std::fs::read_to_string(workspace_root().join("profiles/tutorial.toml"))
        .unwrap()
        .replace("timeout_minutes = 60", "timeout_minutes = \"60\"")
        .replace("python_packages", "python_package")
        .replace("\"admin\"]", "\"root\"]");
    std::fs::write(&file, text).unwrap();
    let out = sparkhub(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("3 problem(s)"), "{text}");
    assert!(
        text.contains("idle.timeout_minutes: must be a whole number of minutes, like 60"),
        "{text}"
    );
    assert!(
        text.contains(
            "python_package: is not a key sparkhub knows; did you mean `python_packages`?"
        ),
        "{text}"
    );
    assert!(text.contains("users[1]: \"root\""), "{text}");
    std::fs::remove_dir_all(&dir).ok();
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
    assert_eq!(
        out.status.code(),
        Some(1),
        "no such user: the thing asked about"
    );
    let all = stdout(&out) + &String::from_utf8_lossy(&out.stderr);
    assert!(
        all.contains("no password for carol") && !all.contains("Password"),
        "{all}"
    );
}

#[tokio::test]
async fn password_rotate_gives_a_new_password_and_hash_and_keeps_the_others() {
    let aws = LocalAws::connect().await;
    let profile = unique("rot");
    let secrets = SecretsManager::new(aws_sdk_secretsmanager::Client::new(&aws.config));
    let plaintext = format!("sparkhub/{profile}/jupyterhub-users");
    let hashes = format!("sparkhub/{profile}/jupyterhub-password-hashes");
    let old = "AlicePassword1234567890";
    let value = [
        ("alice".to_string(), old.to_string()),
        ("bob".to_string(), "BobPassword0987654321xx".to_string()),
    ]
    .into();
    secrets.create(&plaintext, "test", &value).await.unwrap();

    let out = sparkhub(&["password", &profile, "alice", "--rotate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new = stdout(&out).trim().to_owned();
    assert_ne!(new, old);
    assert_eq!(new.len(), sparkhub_core::users::PASSWORD_LENGTH);
    let stored = secrets.read(&plaintext).await.unwrap().unwrap();
    assert_eq!(stored["alice"], new);
    assert_eq!(stored["bob"], "BobPassword0987654321xx", "bob keeps his");
    let hashed = secrets.read(&hashes).await.unwrap().unwrap();
    assert!(sparkhub_core::users::hash_matches(&new, &hashed["alice"]));
    assert!(!sparkhub_core::users::hash_matches(old, &hashed["alice"]));
    assert!(sparkhub_core::users::hash_matches(
        "BobPassword0987654321xx",
        &hashed["bob"]
    ));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains(&new),
        "the password goes to stdout only"
    );
    // The next plain `password` prints the new one.
    assert_eq!(
        stdout(&sparkhub(&["password", &profile, "alice"])).trim(),
        new
    );

    let out = sparkhub(&["password", &profile, "carol", "--rotate"]);
    assert!(
        !out.status.success(),
        "no password is made up for a stranger"
    );
    assert!(
        !secrets
            .read(&plaintext)
            .await
            .unwrap()
            .unwrap()
            .contains_key("carol")
    );
}

/// A cluster of instance groups, a master and a core node, without a key pair.
async fn cluster_with_groups(aws: &LocalAws, name: &str) -> String {
    use aws_sdk_emr::types::{InstanceGroupConfig, InstanceRoleType, JobFlowInstancesConfig};
    let group = |role: InstanceRoleType| {
        InstanceGroupConfig::builder()
            .instance_role(role)
            .instance_type("m5.xlarge")
            .instance_count(1)
            .build()
    };
    aws.emr
        .run_job_flow()
        .name(name)
        .release_label("emr-7.10.0")
        .service_role("EMR_DefaultRole")
        .job_flow_role("EMR_EC2_DefaultRole")
        .instances(
            JobFlowInstancesConfig::builder()
                .instance_groups(group(InstanceRoleType::Core))
                .instance_groups(group(InstanceRoleType::Master))
                .keep_job_flow_alive_when_no_steps(true)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .job_flow_id
        .unwrap()
}

/// Without a key pair the way in is Session Manager: `connect` prints the
/// command with the master's own instance id, and the printed line, run by
/// bash with `aws` a function that prints its arguments, gives the
/// document its parameters as one JSON argument.
#[tokio::test]
async fn connect_prints_the_ssm_command_with_the_masters_instance_id() {
    use aws_sdk_emr::types::InstanceGroupType;
    let aws = LocalAws::connect().await;
    let id = cluster_with_groups(&aws, "sparkhub-connect").await;
    let instances = |kind: InstanceGroupType| {
        let emr = aws.emr.clone();
        let id = id.clone();
        async move {
            emr.list_instances()
                .cluster_id(id)
                .instance_group_types(kind)
                .send()
                .await
                .unwrap()
                .instances()
                .iter()
                .filter_map(|i| i.ec2_instance_id().map(str::to_owned))
                .collect::<Vec<_>>()
        }
    };
    let master = instances(InstanceGroupType::Master).await;
    let core = instances(InstanceGroupType::Core).await;
    assert!(master.len() == 1 && core.len() == 1 && master != core);

    let out = sparkhub(&["connect", &id, "--local-port", "10777"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains("ssh "), "no key pair, no ssh: {text}");
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("aws ssm start-session"))
        .unwrap_or_else(|| panic!("no ssm command: {text}"));
    let ran = Command::new("bash")
        .arg("-c")
        .arg(format!("aws() {{ printf '%s\\n' \"$@\"; }}\n{line}"))
        .output()
        .expect("bash runs");
    let args: Vec<String> = stdout(&ran).lines().map(str::to_owned).collect();
    let after = |flag: &str| {
        let at = args
            .iter()
            .position(|a| a == flag)
            .unwrap_or_else(|| panic!("{flag} in {args:?}"));
        args[at + 1].clone()
    };
    assert_eq!(after("--target"), master[0], "{line}");
    assert_eq!(after("--document-name"), "AWS-StartPortForwardingSession");
    let parameters: serde_json::Value = serde_json::from_str(&after("--parameters")).unwrap();
    assert_eq!(
        parameters,
        serde_json::json!({"portNumber": ["9443"], "localPortNumber": ["10777"]})
    );
    assert_eq!(after("--region"), aws.config.region().unwrap().as_ref());
}

/// A key pair named like a command (EC2 allows `;` and `#` in key names; a
/// cluster sparkhub did not start can have one) is one argument of the
/// printed ssh command: the line, run by bash with `ssh` a function that
/// prints its arguments, gives the key file whole and runs nothing else.
#[tokio::test]
async fn connect_prints_a_key_named_like_a_command_as_one_argument() {
    let aws = LocalAws::connect().await;
    let key = "team key; touch pwned #";
    let id = aws
        .run_cluster_with_key("sparkhub-connect-key", &[], &[], Some(key))
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
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("ssh "))
        .unwrap_or_else(|| panic!("no ssh command: {text}"));

    let dir = std::env::temp_dir().join(unique("sparkhub-connect"));
    std::fs::create_dir_all(&dir).unwrap();
    let ran = Command::new("bash")
        .arg("-c")
        .arg(format!("ssh() {{ printf '%s\\n' \"$@\"; }}\n{line}"))
        .env("HOME", "/home/someone")
        .current_dir(&dir)
        .output()
        .expect("bash runs");
    let args: Vec<String> = stdout(&ran).lines().map(str::to_owned).collect();
    assert_eq!(
        args,
        [
            "-i",
            "/home/someone/.ssh/team key; touch pwned #.pem",
            "-N",
            "-L",
            "10501:localhost:9443",
            &format!("hadoop@{dns}"),
        ],
        "{line}"
    );
    assert!(!dir.join("pwned").exists(), "the key name ran: {line}");
    std::fs::remove_dir_all(&dir).ok();
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
        .run_cluster(
            &format!("sparkhub-{profile}"),
            &tags,
            &["Spark", "JupyterHub"],
        )
        .await;
    let young = aws
        .run_cluster(
            &format!("sparkhub-{profile}"),
            &tags,
            &["Spark", "JupyterHub"],
        )
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
    aws.put_cluster_metric(&idle, &activity_namespace(&profile), AGENT_METRIC, &zeros)
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

    let out = sparkhub(&["status", "--bucket", &bucket, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let status: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let cluster = |id: &str| {
        status["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["cluster_id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} not in {status:#}"))
    };
    assert_eq!(cluster(&idle)["verdict"], "terminate", "{status:#}");
    assert!(
        cluster(&idle)["reason"]
            .as_str()
            .unwrap()
            .contains("idle for 60 min")
    );
    let age = cluster(&idle)["age_minutes"].as_i64().unwrap();
    assert!((179..=181).contains(&age), "{status:#}");
    assert_eq!(cluster(&young)["verdict"], "keep");
    assert!(
        status["would_terminate"]
            .as_array()
            .unwrap()
            .contains(&idle.as_str().into())
    );
    assert_eq!(
        aws.cluster_state(&idle).await,
        "WAITING",
        "status only looks, it terminates nothing"
    );
}

/// A cluster named (and tagged) with a carriage return and a right-to-left
/// override: `status` shows both escaped, so the name can neither overwrite
/// its line nor reverse the text after it.
#[tokio::test]
async fn status_shows_terminal_controls_in_names_and_tags_escaped() {
    let aws = LocalAws::connect().await;
    let bucket = unique("sparkhub-status");
    aws.bucket_with(&bucket, &[]).await;
    let id = aws
        .run_cluster(
            "sparkhub-evil\rTERMINATE\u{202e}peek",
            &[
                ("sparkhub:managed", "true"),
                ("sparkhub:profile", "gone\r\u{202e}x"),
            ],
            &["Spark"],
        )
        .await;
    let out = sparkhub(&["status", "--bucket", &bucket]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(
        !text.contains('\r') && !text.contains('\u{202e}'),
        "{text:?}"
    );
    let line = text
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("no line for {id}: {text}"));
    assert!(
        line.contains("sparkhub-evil\\rTERMINATE\\u{202e}peek"),
        "{line}"
    );
}

async fn tags_of(aws: &LocalAws, id: &str) -> std::collections::BTreeMap<String, String> {
    aws.describe_cluster(id)
        .await
        .tags
        .unwrap_or_default()
        .into_iter()
        .filter_map(|t| Some((t.key?, t.value.unwrap_or_default())))
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn keep_alive_tags_a_managed_cluster_until_a_time_the_sweep_honours() {
    use sparkhub_core::render::{TAG_KEEP_ALIVE_UNTIL, TAG_WARNED_AT};
    let aws = LocalAws::connect().await;
    let id = aws
        .run_cluster(
            "sparkhub-keep-alive",
            &[
                ("sparkhub:managed", "true"),
                (TAG_WARNED_AT, "2026-01-01T00:00:00Z"),
            ],
            &["Spark"],
        )
        .await;

    let before = Timestamp::now();
    let out = sparkhub(&["keep-alive", &id, "--for", "2h"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let tags = tags_of(&aws, &id).await;
    let until: Timestamp = tags[TAG_KEEP_ALIVE_UNTIL].parse().unwrap();
    let ahead = until.duration_since(before);
    assert!(
        ahead >= SignedDuration::from_hours(2)
            && ahead < SignedDuration::from_hours(2) + SignedDuration::from_mins(1),
        "{until}"
    );
    assert!(
        stdout(&out).contains(&format!("kept alive until {until}")),
        "{}",
        stdout(&out)
    );
    // As the sweep judges it: a keep-alive that counts holds past the
    // maximum lifetime too.
    assert!(
        stdout(&out).contains("neither for being idle nor at its maximum lifetime"),
        "{}",
        stdout(&out)
    );
    assert!(
        !tags.contains_key(TAG_WARNED_AT),
        "a keep-alive answers the warning, the next idle period gets its own: {tags:?}"
    );

    let out = sparkhub(&["keep-alive", &id, "--until", "2030-01-01T10:00:00+02:00"]);
    assert!(!out.status.success(), "years ahead is refused");
    assert!(
        stderr(&out).contains("more than 7 days ahead"),
        "{}",
        stderr(&out)
    );
    let soon = (Timestamp::now() + SignedDuration::from_hours(30)).to_string();
    let out = sparkhub(&["keep-alive", &id, "--until", &soon]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(tags_of(&aws, &id).await[TAG_KEEP_ALIVE_UNTIL], soon);

    for (args, why) in [
        (vec!["--until", "2020-01-01T00:00:00Z"], "not in the future"),
        (vec!["--until", "friday"], "not an RFC 3339 instant"),
        (vec!["--for", "8d"], "more than 7 days ahead"),
        (vec!["--for=-1h"], "not ahead"),
        (vec!["--for", "0m"], "not ahead"),
    ] {
        let mut all = vec!["keep-alive", id.as_str()];
        all.extend(args.iter().copied());
        let out = sparkhub(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?} is refused as usage");
        assert!(stderr(&out).contains(why), "{args:?}: {}", stderr(&out));
        assert_eq!(
            tags_of(&aws, &id).await[TAG_KEEP_ALIVE_UNTIL],
            soon,
            "a refused keep-alive changes nothing"
        );
    }

    let out = sparkhub(&["keep-alive", &id, "--clear"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("no longer kept alive"),
        "{}",
        stdout(&out)
    );
    assert!(!tags_of(&aws, &id).await.contains_key(TAG_KEEP_ALIVE_UNTIL));
}

#[tokio::test]
async fn keep_alive_never_touches_a_cluster_sparkhub_does_not_own() {
    let aws = LocalAws::connect().await;
    let theirs = aws
        .run_cluster("someone-elses", &[("team", "data")], &["Spark"])
        .await;
    let disowned = aws
        .run_cluster("disowned", &[("sparkhub:managed", "false")], &["Spark"])
        .await;
    for id in [&theirs, &disowned] {
        for how in [&["--for", "2h"][..], &["--clear"][..]] {
            let mut args = vec!["keep-alive", id.as_str()];
            args.extend(how);
            let out = sparkhub(&args);
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            assert!(
                stderr(&out).contains("is not sparkhub's"),
                "{}",
                stderr(&out)
            );
        }
        assert!(
            !tags_of(&aws, id)
                .await
                .contains_key("sparkhub:keep-alive-until")
        );
    }
    let out = sparkhub(&["keep-alive", "j-NOSUCHCLUSTER", "--for", "1h"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("does not know cluster j-NOSUCHCLUSTER"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn report_shows_a_swept_cluster_with_its_cost_hours_saved_and_its_bar() {
    let aws = LocalAws::connect().await;
    let bucket = unique("sparkhub-report");
    let profile = unique("report");
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
        .run_cluster(
            &format!("sparkhub-{profile}"),
            &tags,
            &["Spark", "JupyterHub"],
        )
        .await;
    let stopped = aws
        .run_cluster(
            &format!("sparkhub-{profile}"),
            &tags,
            &["Spark", "JupyterHub"],
        )
        .await;
    let now = Timestamp::now();
    aws.set_cluster_times(
        &idle,
        now - SignedDuration::from_hours(3),
        Some(now - SignedDuration::from_hours(2)),
    );
    let points: Vec<(i64, f64)> = (0..=14).map(|i| (i * 5, 1.0)).collect();
    let zeros: Vec<(i64, f64)> = (0..=14).map(|i| (i * 5, 0.0)).collect();
    aws.put_cluster_metric(&idle, EMR_NAMESPACE, IS_IDLE_METRIC, &points)
        .await;
    aws.put_cluster_metric(&idle, &activity_namespace(&profile), AGENT_METRIC, &zeros)
        .await;
    // A person terminates the other one.
    aws.emr
        .terminate_job_flows()
        .job_flow_ids(&stopped)
        .send()
        .await
        .unwrap();
    let summary = sparkhub_aws::terminator(
        sparkhub_core::sweep::Config {
            bucket: bucket.clone(),
            dry_run: false,
            topic_arn: None,
            max_concurrency: 4,
            checks: None,
        },
        &aws.config,
    )
    .sweep()
    .await
    .unwrap();
    assert!(summary.terminated.contains(&idle), "{summary:?}");

    let html = std::env::temp_dir().join(format!("{}.html", unique("report")));
    let cache = std::env::temp_dir().join(unique("sparkhub-price-cache"));
    let out = sparkhub_caching_in(
        &[
            "report",
            "--since",
            "1d",
            "--bucket",
            &bucket,
            "--json",
            "--html",
            html.to_str().unwrap(),
        ],
        &cache,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let line = |id: &str| {
        report["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["cluster_id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} not in {report:#}"))
    };
    let swept = line(&idle);
    assert_eq!(swept["ended"], "sparkhub-idle", "{swept:#}");
    assert_eq!(swept["profile"], profile.as_str());
    // Priced from the Price List's answer (the emulator's, from
    // tests/fixtures/pricing/), and the source named with today's date.
    let today = Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    let price = &report["prices"][0];
    assert_eq!(price["instance_type"], "m5.xlarge", "{report:#}");
    assert_eq!(price["origin"]["kind"], "price-list", "{report:#}");
    assert_eq!(price["origin"]["fetched"], today.as_str(), "{report:#}");
    // Three m5.xlarge (the profile's fleets) for about three hours in us-east-1.
    let cost = swept["cost"]["usd"].as_f64().unwrap();
    let hourly = 3.0 * (0.192 + 0.048);
    let hours = swept["running_hours"].as_f64().unwrap();
    assert!((hours - 3.0).abs() < 0.1, "{swept:#}");
    assert!((cost - hourly * hours).abs() < 0.01, "{swept:#}");
    // Its 12-hour lifetime would have run nine more hours.
    let saved = swept["hours_saved"].as_f64().unwrap();
    assert!((saved - 9.0).abs() < 0.1, "{swept:#}");
    assert_eq!(line(&stopped)["ended"], "person");

    // The table, for people: the second report takes the price from the
    // cache the first one wrote, and says so.
    let out = sparkhub_caching_in(&["report", "--since", "1d", "--bucket", &bucket], &cache);
    let table = stdout(&out);
    assert!(
        table.contains(&format!(
            "m5.xlarge in us-east-1: EC2 $0.1920 + EMR $0.0480, from the cached AWS Price List answer, fetched {today}"
        )),
        "{table}"
    );
    let row = table
        .lines()
        .find(|l| l.starts_with(&idle))
        .unwrap_or_default();
    assert!(
        row.contains("sparkhub: idle") && row.contains('$'),
        "{table}"
    );

    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains(&format!("data-cluster=\"{idle}\"")), "{page}");
    assert!(
        page.contains(&format!("AWS Price List API, fetched {today}")),
        "{page}"
    );

    // Without the Price List and without a cache: the offline table, named.
    let empty = std::env::temp_dir().join(unique("sparkhub-no-cache"));
    let out = sparkhub_caching_in(
        &[
            "report",
            "--since",
            "1d",
            "--bucket",
            &bucket,
            "--offline-prices",
        ],
        &empty,
    );
    let table = stdout(&out);
    assert!(
        table.contains("m5.xlarge in us-east-1: EC2 $0.1920 + EMR $0.0480, from the offline table shipped with sparkhub"),
        "{table}"
    );
    assert!(!empty.exists(), "--offline-prices writes no cache");
    std::fs::remove_dir_all(&cache).ok();
}

/// A profile file of the tutorial's under another name, in `dir`.
fn profile_file(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(workspace_root().join("profiles/tutorial.toml"))
        .unwrap()
        .replacen("name = \"tutorial\"", &format!("name = \"{name}\""), 1);
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn push_uploads_nothing_unless_every_file_is_valid_and_warns_of_a_missing_instance_profile() {
    let aws = LocalAws::connect().await;
    let bucket = unique("sparkhub-push");
    aws.bucket_with(&bucket, &[]).await;
    let stack = unique("sparkhub-push-stack");
    aws.create_stack(&stack, &[("BucketName", &bucket)]).await;
    let dir = std::env::temp_dir().join(unique("sparkhub-push"));
    std::fs::create_dir_all(&dir).unwrap();
    let name = unique("push");
    let good = profile_file(&dir, &name);
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&good)
            .unwrap()
            .replace(&format!("name = \"{name}\""), "name = \"bad\"")
            .replace("timeout_minutes = 60", "timeout_minutes = 1"),
    )
    .unwrap();

    let out = sparkhub(&[
        "push",
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
        "--stack",
        &stack,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("idle.timeout_minutes"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("nothing was uploaded"),
        "{}",
        stderr(&out)
    );
    assert!(aws.keys(&bucket, "profiles/").await.is_empty());

    // All valid: uploaded; the stack has not made the profile's instance
    // profile yet.
    let out = sparkhub(&["push", good.to_str().unwrap(), "--stack", &stack]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        aws.keys(&bucket, "profiles/").await,
        vec![format!("profiles/{name}.toml")]
    );
    assert!(
        stdout(&out).contains(&format!("uploaded s3://{bucket}/profiles/{name}.toml")),
        "{}",
        stdout(&out)
    );
    let warning = format!("the instance profile sparkhub-node-{name} does not exist");
    assert!(stderr(&out).contains(&warning), "{}", stderr(&out));
    assert!(stderr(&out).contains("make generate"), "{}", stderr(&out));
    aws.create_instance_profile(&format!("sparkhub-node-{name}"))
        .await;
    let out = sparkhub(&["push", good.to_str().unwrap(), "--bucket", &bucket]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));

    // A stack that is not there, or none given: what to do.
    let out = sparkhub(&["push", good.to_str().unwrap(), "--stack", "no-such-stack"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("there is no CloudFormation stack no-such-stack in us-east-1")
            && stderr(&out).contains("--region"),
        "{}",
        stderr(&out)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_sparkhub"))
        .args(["push", good.to_str().unwrap()])
        .env_remove("SPARKHUB_STACK")
        .env_remove("SPARKHUB_BUCKET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("pass --stack <name> or set SPARKHUB_STACK"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn stop_refuses_a_cluster_sparkhub_does_not_own_and_records_who_stopped_its_own() {
    let aws = LocalAws::connect().await;
    let bucket = unique("sparkhub-stop");
    aws.bucket_with(&bucket, &[]).await;
    let theirs = aws
        .run_cluster("someone-elses", &[("team", "data")], &["Spark"])
        .await;
    let out = sparkhub(&["stop", &theirs, "--bucket", &bucket]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not sparkhub's"),
        "{}",
        stderr(&out)
    );
    assert_eq!(aws.cluster_state(&theirs).await, "WAITING");

    let profile = unique("stop");
    let ours = aws
        .run_cluster(
            &format!("sparkhub-{profile}"),
            &[("sparkhub:managed", "true"), ("sparkhub:profile", &profile)],
            &["Spark", "JupyterHub"],
        )
        .await;
    let out = sparkhub(&["stop", &ours, "--bucket", &bucket]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("is terminating: stopped by arn:aws"),
        "{}",
        stdout(&out)
    );
    assert!(
        aws.cluster_state(&ours).await.starts_with("TERMINAT"),
        "terminated"
    );
    let keys = aws.keys(&bucket, "history/").await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let record: serde_json::Value = serde_json::from_str(
        &aws.s3
            .get_object()
            .bucket(&bucket)
            .key(&keys[0])
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes()
            .iter()
            .map(|b| *b as char)
            .collect::<String>(),
    )
    .unwrap();
    assert_eq!(record["cause"], "stopped");
    assert_eq!(record["cluster_id"], ours.as_str());
    assert!(
        record["stopped_by"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws"),
        "{record}"
    );
    // Once more: it is not running any more.
    let out = sparkhub(&["stop", &ours, "--bucket", &bucket]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    let out = sparkhub(&[
        "report",
        "--bucket",
        &bucket,
        "--since",
        "1d",
        "--offline-prices",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let row = stdout(&out)
        .lines()
        .find(|l| l.contains(&ours))
        .map(str::to_owned)
        .unwrap_or_default();
    assert!(row.contains("a person, sparkhub stop"), "{}", stdout(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_follows_a_run_until_the_cluster_is_waiting_with_its_users_set() {
    use sparkhub_core::create::Config;
    use sparkhub_core::workflow::CLUSTER_WORKFLOW_FILE;
    let aws = LocalAws::connect().await;
    let bucket = unique("sparkhub-start");
    let profile = unique("start");
    let text = std::fs::read_to_string(workspace_root().join("profiles/tutorial.toml"))
        .unwrap()
        .replacen("name = \"tutorial\"", &format!("name = \"{profile}\""), 1);
    aws.bucket_with(&bucket, &[(&format!("profiles/{profile}.toml"), &text)])
        .await;
    let machine = aws
        .create_state_machine(CLUSTER_WORKFLOW_FILE, &unique("sparkhub-cluster"))
        .await;
    let stack = unique("sparkhub-start-stack");
    aws.create_stack(
        &stack,
        &[
            ("BucketName", &bucket),
            ("StateMachineArn", &machine),
            ("CreateClusterFunctionName", "sparkhub-create-cluster"),
        ],
    )
    .await;
    // create-cluster itself, behind Lambda's Invoke API.
    let handler = std::sync::Arc::new(sparkhub_aws::create_cluster(
        Config {
            bucket: bucket.clone(),
            state_machine_arn: machine.clone(),
            topic_arn: None,
            poll_seconds: 1,
            master_security_group: None,
            service_role: "sparkhub-emr-service".into(),
            instance_role_prefix: "sparkhub-node".into(),
            max_concurrency: sparkhub_core::settings::DEFAULT_MAX_CONCURRENCY,
        },
        &aws.config,
    ));
    let lambda = sparkhub_tests::fake_lambda::FakeLambda::start(
        tokio::runtime::Handle::current(),
        move |_, event| {
            let handler = std::sync::Arc::clone(&handler);
            Box::pin(async move {
                handler
                    .handle(event)
                    .await
                    .map(|o| serde_json::to_value(o).unwrap())
                    .map_err(|e| {
                        let r = sparkhub_core::errors::Reported::from(e);
                        (r.error_type.to_string(), r.error_message)
                    })
            })
        },
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_sparkhub"))
        .args(["start", &profile, "--stack", &stack, "--poll", "1"])
        .env("AWS_ENDPOINT_URL_LAMBDA", &lambda.endpoint)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The run creates the cluster; the emulator has it WAITING at once.
    // setup-jupyter-users would add the users step on EMR's WAITING event:
    // the test adds it, and EMR runs it.
    let cluster = sparkhub_tests::wait_for("the run's cluster", || async {
        aws.clusters_of_profile(&profile).await.into_iter().next()
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "start waits for the users step"
    );
    let step = aws
        .emr
        .add_job_flow_steps()
        .job_flow_id(&cluster)
        .steps(
            aws_sdk_emr::types::StepConfig::builder()
                .name(format!("{}abc", sparkhub_core::users::USERS_STEP_PREFIX))
                .hadoop_jar_step(
                    aws_sdk_emr::types::HadoopJarStepConfig::builder()
                        .jar("command-runner.jar")
                        .args("true")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .step_ids()[0]
        .clone();
    aws.set_step_state(&cluster, &step, "RUNNING", None);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    aws.set_step_state(&cluster, &step, "COMPLETED", None);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let out = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "start did not end");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let mut text = String::new();
    let mut errors = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut errors)
        .unwrap();
    assert_eq!(out.code(), Some(0), "{text}\n{errors}");
    assert_eq!(
        lambda.invoked.lock().unwrap()[0],
        (
            "sparkhub-create-cluster".to_owned(),
            serde_json::json!({"profile": profile})
        )
    );
    // Not a terminal: a plain line per change, the last one ready.
    let lines: Vec<&str> = errors.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("setting up the JupyterHub users")
                && l.contains(&format!("cluster {cluster} WAITING"))),
        "{errors}"
    );
    assert!(
        lines.iter().any(|l| l.contains("users step RUNNING")),
        "{errors}"
    );
    assert!(
        lines.last().unwrap().contains("ready")
            && lines.last().unwrap().contains("users step COMPLETED"),
        "{errors}"
    );
    assert!(
        !errors.contains('\r'),
        "no updating line when not on a terminal"
    );
    assert!(
        text.contains(&format!("{cluster} is ready"))
            && text.contains(&format!("sparkhub connect {cluster}")),
        "{text}"
    );
}
