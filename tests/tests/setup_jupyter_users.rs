//! setup-jupyter-users against the emulator: a cluster created by the real
//! workflow, Secrets Manager, EMR steps, the sample WAITING event.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sparkhub_core::create::Outcome as CreateOutcome;
use sparkhub_core::ports::SecretStore;
use sparkhub_core::setup::{Config, Outcome, SetupError};
use sparkhub_core::testing::workspace_root;
use sparkhub_core::workflow::CLUSTER_WORKFLOW_FILE;
use sparkhub_tests::{LocalAws, unique};

const TUTORIAL: &str = include_str!("../../profiles/tutorial.toml");

type Handler = sparkhub_aws::AwsSetupUsers;

struct Setup {
    aws: LocalAws,
    bucket: String,
    profile: String,
    handler: Handler,
}

async fn setup() -> Setup {
    let aws = LocalAws::connect().await;
    let bucket = unique("sparkhub-users");
    let profile = unique("hub");
    let text = TUTORIAL.replacen("name = \"tutorial\"", &format!("name = \"{profile}\""), 1);
    aws.bucket_with(&bucket, &[(&format!("profiles/{profile}.toml"), &text)])
        .await;
    let handler = sparkhub_aws::setup_users(
        Config {
            bucket: bucket.clone(),
            region: aws.region.clone(),
            topic_arn: None,
        },
        &aws.config,
    );
    Setup {
        aws,
        bucket,
        profile,
        handler,
    }
}

/// A managed cluster of the profile, created by create-cluster and the workflow.
async fn managed_cluster(s: &Setup) -> String {
    let machine = s
        .aws
        .create_state_machine(CLUSTER_WORKFLOW_FILE, &unique("sparkhub-cluster"))
        .await;
    let create = sparkhub_aws::create_cluster(
        sparkhub_core::create::Config {
            bucket: s.bucket.clone(),
            state_machine_arn: machine.clone(),
            topic_arn: None,
            poll_seconds: 1,
            master_security_group: None,
            service_role: "sparkhub-emr-service".into(),
            instance_role_prefix: "sparkhub-node".into(),
            max_concurrency: sparkhub_core::settings::DEFAULT_MAX_CONCURRENCY,
        },
        &s.aws.config,
    );
    let outcome = create.handle(json!({"profile": s.profile})).await.unwrap();
    let CreateOutcome::Started { execution_arn, .. } = outcome else {
        panic!("{outcome:?}")
    };
    s.aws.cluster_of(&execution_arn).await
}

fn waiting(cluster_id: &str) -> Value {
    let mut e: Value = serde_json::from_str(
        &std::fs::read_to_string(
            workspace_root().join("events/emr-cluster-state-change-waiting.json"),
        )
        .unwrap(),
    )
    .unwrap();
    e["detail"]["clusterId"] = json!(cluster_id);
    e
}

async fn secret(s: &Setup, name: &str) -> BTreeMap<String, String> {
    s.handler
        .secrets
        .read(name)
        .await
        .unwrap()
        .expect("the secret exists")
}

async fn passwords(s: &Setup) -> BTreeMap<String, String> {
    s.handler
        .secrets
        .read(&format!("sparkhub/{}/jupyterhub-users", s.profile))
        .await
        .unwrap()
        .expect("the secret exists")
}

#[tokio::test]
async fn waiting_cluster_gets_passwords_and_one_step_and_a_new_user_gets_another() {
    let s = setup().await;
    let cluster = managed_cluster(&s).await;

    let outcome = s.handler.handle(waiting(&cluster)).await.unwrap();
    assert!(matches!(outcome, Outcome::StepAdded { .. }), "{outcome:?}");
    let first = passwords(&s).await;
    assert_eq!(first.keys().collect::<Vec<_>>(), ["admin", "philipp"]);
    assert!(
        first
            .values()
            .all(|p| p.len() >= 20 && p.bytes().all(|b| b.is_ascii_alphanumeric()))
    );

    let steps = s.aws.steps(&cluster).await;
    assert_eq!(steps.len(), 1);
    let described = s
        .aws
        .emr
        .describe_step()
        .cluster_id(&cluster)
        .step_id(&steps[0].id)
        .send()
        .await
        .unwrap();
    let config = described.step().and_then(|st| st.config()).unwrap();
    assert_eq!(
        config.jar(),
        Some("s3://us-east-1.elasticmapreduce/libs/script-runner/script-runner.jar")
    );
    let args = config.args();
    assert_eq!(
        args[1..],
        [
            format!("sparkhub/{}/jupyterhub-password-hashes", s.profile),
            "us-east-1".into()
        ],
        "the step names the hashes, which is all a node may read"
    );
    let hashes = secret(
        &s,
        &format!("sparkhub/{}/jupyterhub-password-hashes", s.profile),
    )
    .await;
    assert_eq!(hashes.keys().collect::<Vec<_>>(), ["admin", "philipp"]);
    for (user, hash) in &hashes {
        assert!(
            sparkhub_core::users::hash_matches(&first[user], hash),
            "{user}"
        );
    }
    let script_key = args[0]
        .strip_prefix(&format!("s3://{}/", s.bucket))
        .expect("the script is in the sparkhub bucket");
    assert!(
        s.aws
            .keys(&s.bucket, script_key)
            .await
            .contains(&script_key.to_owned()),
        "the script the step runs was uploaded"
    );
    for password in first.values() {
        assert!(
            !args.iter().any(|a| a.contains(password.as_str())),
            "no password in the step's arguments"
        );
    }

    // The same event again: nothing new.
    assert!(matches!(
        s.handler.handle(waiting(&cluster)).await.unwrap(),
        Outcome::AlreadySetUp { .. }
    ));
    assert_eq!(s.aws.steps(&cluster).await.len(), 1);
    assert_eq!(passwords(&s).await, first);

    // The profile gains a user: one new step, the earlier passwords stay.
    let text = TUTORIAL
        .replacen(
            "name = \"tutorial\"",
            &format!("name = \"{}\"", s.profile),
            1,
        )
        .replace(
            "users = [\"philipp\", \"admin\"]",
            "users = [\"philipp\", \"admin\", \"grace\"]",
        );
    s.aws
        .bucket_put(&s.bucket, &format!("profiles/{}.toml", s.profile), &text)
        .await;
    let outcome = s.handler.handle(waiting(&cluster)).await.unwrap();
    assert!(
        matches!(&outcome, Outcome::StepAdded { new_passwords_for, .. } if new_passwords_for == &["grace"]),
        "{outcome:?}"
    );
    assert_eq!(s.aws.steps(&cluster).await.len(), 2);
    let after = passwords(&s).await;
    assert_eq!(
        (&after["philipp"], &after["admin"]),
        (&first["philipp"], &first["admin"])
    );
    assert!(after.contains_key("grace"));
}

#[tokio::test]
async fn unmanaged_clusters_other_states_and_bad_events_change_nothing() {
    let s = setup().await;
    let theirs = s
        .aws
        .run_cluster("someone-elses-cluster", &[], &["Spark"])
        .await;
    let outcome = s.handler.handle(waiting(&theirs)).await.unwrap();
    assert!(
        matches!(&outcome, Outcome::Ignored { reason, .. } if reason.contains("sparkhub:managed")),
        "{outcome:?}"
    );
    assert!(s.aws.steps(&theirs).await.is_empty());

    let ours = managed_cluster(&s).await;
    let mut starting = waiting(&ours);
    starting["detail"]["state"] = json!("STARTING");
    assert!(matches!(
        s.handler.handle(starting).await.unwrap(),
        Outcome::Ignored { .. }
    ));
    assert!(s.aws.steps(&ours).await.is_empty());
    assert!(
        s.handler
            .secrets
            .read(&format!("sparkhub/{}/jupyterhub-users", s.profile))
            .await
            .unwrap()
            .is_none(),
        "no secret was created"
    );

    let err = s
        .handler
        .handle(
            json!({"detail-type": "EMR Cluster State Change", "source": "aws.emr", "detail": {}}),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, SetupError::BadEvent(_)), "{err}");
}

/// The startup of a cluster as EMR's timeline has it: the profile's
/// startups object and one history record, however often EMR says WAITING.
#[tokio::test]
async fn a_ready_clusters_startup_lands_in_its_profiles_startups_and_the_history() {
    let s = setup().await;
    let cluster = managed_cluster(&s).await;
    s.handler.handle(waiting(&cluster)).await.unwrap();
    s.handler.handle(waiting(&cluster)).await.unwrap();

    let profile = sparkhub_core::ProfileName::parse(&s.profile).unwrap();
    use sparkhub_core::ports::StartupHistory;
    let (_, body) = s
        .handler
        .startups
        .read_startups(&profile)
        .await
        .unwrap()
        .expect("the profile's startups object");
    let startups = sparkhub_core::startup::Startups::parse(&body).unwrap();
    assert_eq!(startups.samples.len(), 1, "{body}");
    assert_eq!(startups.samples[0].cluster_id, cluster);
    assert!(startups.samples[0].ready_at >= startups.samples[0].created_at);

    let keys = s.aws.keys(&s.bucket, "history/").await;
    let startup_keys: Vec<_> = keys.iter().filter(|k| k.contains("-startup-")).collect();
    assert_eq!(startup_keys.len(), 1, "{keys:?}");
    assert!(startup_keys[0].contains(&cluster));
}
