//! Handler tests with in-memory fakes.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::emr::StepState;
use crate::errors::{Failure, Reported};
use crate::ports::{AwsError, Cluster, StepSummary};
use crate::render::StepConfig;
use serde_json::{Value, json};

use super::*;
use crate::fakes::{Outbox, Profiles, Scripts, Startups as StartupLogFake};

const TUTORIAL: &str = include_str!("../../../../profiles/tutorial.toml");
const CLUSTER: &str = "j-1YONHTCP3YZKC";

#[derive(Default)]
struct Secrets(Mutex<BTreeMap<String, BTreeMap<String, String>>>);

impl SecretStore for Secrets {
    async fn read(&self, name: &str) -> Result<Option<BTreeMap<String, String>>, AwsError> {
        Ok(self.0.lock().unwrap().get(name).cloned())
    }
    async fn create(
        &self,
        name: &str,
        _: &str,
        value: &BTreeMap<String, String>,
    ) -> Result<bool, AwsError> {
        let mut all = self.0.lock().unwrap();
        if all.contains_key(name) {
            return Ok(false);
        }
        all.insert(name.into(), value.clone());
        Ok(true)
    }
    async fn update(&self, name: &str, value: &BTreeMap<String, String>) -> Result<(), AwsError> {
        self.0.lock().unwrap().insert(name.into(), value.clone());
        Ok(())
    }
}

#[derive(Default)]
struct Clusters {
    clusters: BTreeMap<String, Cluster>,
    steps: Mutex<Vec<(StepSummary, StepConfig)>>,
}

impl ClusterSteps for Clusters {
    async fn cluster(&self, id: &str) -> Result<Option<Cluster>, AwsError> {
        Ok(self.clusters.get(id).cloned())
    }
    async fn steps(&self, _: &str) -> Result<Vec<StepSummary>, AwsError> {
        // Newest first, as EMR lists them.
        Ok(self
            .steps
            .lock()
            .unwrap()
            .iter()
            .rev()
            .map(|(s, _)| s.clone())
            .collect())
    }
    async fn add_step(&self, _: &str, step: &StepConfig) -> Result<String, AwsError> {
        let mut steps = self.steps.lock().unwrap();
        let id = format!("s-{}", steps.len() + 1);
        steps.push((
            StepSummary {
                id: id.clone(),
                name: step.name.clone(),
                state: StepState::Pending,
                failure_reason: None,
                log_file: None,
            },
            step.clone(),
        ));
        Ok(id)
    }
}

type Handler = SetupUsers<Profiles, Scripts, Secrets, Clusters, Outbox, StartupLogFake>;

fn managed(profile: &str) -> Cluster {
    Cluster {
        id: CLUSTER.into(),
        name: format!("sparkhub-{profile}"),
        state: ClusterState::Waiting,
        tags: BTreeMap::from([
            ("sparkhub:managed".into(), "true".into()),
            ("sparkhub:profile".into(), profile.into()),
        ]),
        termination_protected: false,
        applications: vec![],
        master_dns: None,
        key_name: None,
        created_at: Some("2026-11-28T07:52:00Z".parse().unwrap()),
        ready_at: Some("2026-11-28T08:00:30Z".parse().unwrap()),
    }
}

fn handler(profile_text: &str, cluster: Cluster) -> Handler {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    SetupUsers {
        config: Config {
            bucket: "sparkhub-test".into(),
            region: "eu-west-1".into(),
            topic_arn: None,
        },
        profiles: Profiles::with(&[("tutorial", profile_text)]),
        scripts: Scripts::default(),
        secrets: Secrets::default(),
        clusters: Clusters {
            clusters: BTreeMap::from([(cluster.id.clone(), cluster)]),
            steps: Mutex::default(),
        },
        notifier: Some(Outbox::default()),
        startups: StartupLogFake::default(),
        password: || {
            format!(
                "Generated{:015}",
                COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            )
        },
    }
}

fn waiting() -> Value {
    let path =
        crate::testing::workspace_root().join("events/emr-cluster-state-change-waiting.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn secret(h: &Handler) -> BTreeMap<String, String> {
    h.secrets.0.lock().unwrap()["sparkhub/tutorial/jupyterhub-users"].clone()
}

fn hashes(h: &Handler) -> BTreeMap<String, String> {
    h.secrets.0.lock().unwrap()["sparkhub/tutorial/jupyterhub-password-hashes"].clone()
}

fn steps(h: &Handler) -> Vec<(StepSummary, StepConfig)> {
    h.clusters.steps.lock().unwrap().clone()
}

#[tokio::test]
async fn a_waiting_cluster_gets_passwords_and_one_users_step() {
    let h = handler(TUTORIAL, managed("tutorial"));
    let outcome = h.handle(waiting()).await.unwrap();
    let passwords = secret(&h);
    assert_eq!(passwords.keys().collect::<Vec<_>>(), ["admin", "philipp"]);
    assert!(passwords.values().all(|p| p.len() >= 20));

    let all = steps(&h);
    assert_eq!(all.len(), 1);
    let step = &all[0].1;
    assert_eq!(
        step.hadoop_jar_step.jar,
        "s3://us-east-1.elasticmapreduce/libs/script-runner/script-runner.jar",
        "the event's region"
    );
    let args = &step.hadoop_jar_step.args;
    assert!(
        args[0].starts_with("s3://sparkhub-test/scripts/")
            && args[0].ends_with("/jupyterhub-users.sh"),
        "{args:?}"
    );
    assert_eq!(
        args[1..],
        ["sparkhub/tutorial/jupyterhub-password-hashes", "us-east-1"],
        "the step reads the hashes, never the plaintext"
    );
    let hashed = hashes(&h);
    assert_eq!(hashed.keys().collect::<Vec<_>>(), ["admin", "philipp"]);
    for (user, hash) in &hashed {
        assert!(hash.starts_with("$6$"), "{hash}");
        assert!(crate::users::hash_matches(&passwords[user], hash));
        assert!(!hash.contains(passwords[user].as_str()));
    }
    let script_key = args[0].strip_prefix("s3://sparkhub-test/").unwrap();
    assert!(h.scripts.0.lock().unwrap()[script_key].contains("USERS=('philipp' 'admin')"));

    let shown = serde_json::to_string(&outcome).unwrap() + &format!("{args:?}");
    for password in passwords.values() {
        assert!(
            !shown.contains(password.as_str()),
            "a password leaked into the outcome or the step"
        );
    }
    let Outcome::StepAdded {
        new_passwords_for,
        step_id,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(new_passwords_for, ["philipp", "admin"]);
    assert_eq!(step_id, "s-1");
}

#[tokio::test]
async fn the_same_event_again_adds_nothing_and_keeps_the_passwords() {
    let h = handler(TUTORIAL, managed("tutorial"));
    h.handle(waiting()).await.unwrap();
    let before = secret(&h);
    let again = h.handle(waiting()).await.unwrap();
    assert!(
        matches!(again, Outcome::AlreadySetUp { ref step_id, .. } if step_id == "s-1"),
        "{again:?}"
    );
    assert_eq!(secret(&h), before);
    assert_eq!(steps(&h).len(), 1);

    // Still true once the step has run.
    h.clusters.steps.lock().unwrap()[0].0.state = StepState::Completed;
    assert!(matches!(
        h.handle(waiting()).await.unwrap(),
        Outcome::AlreadySetUp { .. }
    ));
}

#[tokio::test]
async fn a_failed_users_step_is_tried_again() {
    let h = handler(TUTORIAL, managed("tutorial"));
    h.handle(waiting()).await.unwrap();
    h.clusters.steps.lock().unwrap()[0].0.state = StepState::Failed;
    assert!(
        matches!(h.handle(waiting()).await.unwrap(), Outcome::StepAdded { ref new_passwords_for, .. } if new_passwords_for.is_empty())
    );
    assert_eq!(steps(&h).len(), 2);
}

/// Marks the newest step FAILED with a reason.
fn fail_last_step(h: &Handler, reason: &str) {
    let mut steps = h.clusters.steps.lock().unwrap();
    let last = steps.last_mut().unwrap();
    last.0.state = StepState::Failed;
    last.0.failure_reason = Some(reason.into());
}

fn sent(h: &Handler) -> Vec<crate::fakes::Sent> {
    h.notifier.as_ref().unwrap().sent()
}

#[tokio::test]
async fn after_three_failed_users_steps_no_fourth_and_one_message() {
    let h = handler(TUTORIAL, managed("tutorial"));
    h.handle(waiting()).await.unwrap();
    for attempt in 1..MAX_FAILED_USERS_STEPS {
        fail_last_step(&h, &format!("attempt {attempt}: exit 1"));
        assert!(matches!(
            h.handle(waiting()).await.unwrap(),
            Outcome::StepAdded { .. }
        ));
    }
    fail_last_step(&h, "Unknown Error: the users script exited with 1");
    assert_eq!(steps(&h).len(), 3);
    assert!(sent(&h).is_empty(), "nothing said before giving up");

    let outcome = h.handle(waiting()).await.unwrap();
    let Outcome::GaveUp {
        failed_steps,
        reason,
        log,
        notified,
        ..
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(steps(&h).len(), 3, "no fourth users step");
    assert_eq!(failed_steps, &["s-3", "s-2", "s-1"]);
    assert_eq!(reason, "Unknown Error: the users script exited with 1");
    assert_eq!(
        log, "s3://sparkhub-test/logs/tutorial/j-1YONHTCP3YZKC/steps/s-3/",
        "EMR's step log under the profile's log location"
    );
    assert!(notified);
    let messages = sent(&h);
    assert_eq!(messages.len(), 1);
    let crate::fakes::Sent {
        subject,
        message,
        recipients,
    } = &messages[0];
    assert!(subject.contains(CLUSTER), "{subject}");
    assert!(
        recipients.is_empty(),
        "the operator's to fix, though philipp has an address"
    );
    assert!(
        message.contains("failed 3 times")
            && message.contains("Unknown Error: the users script exited with 1")
            && message.contains("s3://sparkhub-test/logs/tutorial/j-1YONHTCP3YZKC/steps/s-3/"),
        "{message}"
    );

    // WAITING again (another step ended, or the event came twice): still no
    // new step, and no second message once another step is the newest.
    let config = steps(&h)[0].1.clone();
    h.clusters.steps.lock().unwrap().push((
        StepSummary {
            id: "s-4".into(),
            name: "pipeline: clean".into(),
            state: StepState::Completed,
            failure_reason: None,
            log_file: None,
        },
        config,
    ));
    assert!(matches!(
        h.handle(waiting()).await.unwrap(),
        Outcome::GaveUp {
            notified: false,
            ..
        }
    ));
    assert_eq!(sent(&h).len(), 1, "people are told once");
}

#[tokio::test]
async fn the_log_emr_names_is_the_one_reported() {
    let h = handler(TUTORIAL, managed("tutorial"));
    h.handle(waiting()).await.unwrap();
    for _ in 1..MAX_FAILED_USERS_STEPS {
        fail_last_step(&h, "exit 1");
        h.handle(waiting()).await.unwrap();
    }
    fail_last_step(&h, "exit 1");
    h.clusters.steps.lock().unwrap()[2].0.log_file =
        Some("s3://logs/j-1YONHTCP3YZKC/steps/s-3/stderr.gz".into());
    let outcome = h.handle(waiting()).await.unwrap();
    assert!(
        matches!(&outcome, Outcome::GaveUp { log, .. } if log == "s3://logs/j-1YONHTCP3YZKC/steps/s-3/stderr.gz"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_new_user_gets_a_new_step_and_old_passwords_stay() {
    let h = handler(TUTORIAL, managed("tutorial"));
    h.handle(waiting()).await.unwrap();
    let before = secret(&h);
    h.profiles.texts.lock().unwrap().insert(
        "tutorial".into(),
        TUTORIAL.replace(
            "users = [\"philipp\", \"admin\"]",
            "users = [\"philipp\", \"admin\", \"grace\"]",
        ),
    );

    let outcome = h.handle(waiting()).await.unwrap();
    let Outcome::StepAdded {
        new_passwords_for, ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(new_passwords_for, ["grace"]);
    let after = secret(&h);
    assert_eq!(after["philipp"], before["philipp"]);
    assert_eq!(after["admin"], before["admin"]);
    assert_eq!(steps(&h).len(), 2);
    assert_ne!(
        steps(&h)[0].1.hadoop_jar_step.args[0],
        steps(&h)[1].1.hadoop_jar_step.args[0],
        "a new script for the new user list"
    );
}

#[tokio::test]
async fn removed_users_lose_their_password_and_hash() {
    let h = handler(TUTORIAL, managed("tutorial"));
    h.handle(waiting()).await.unwrap();
    h.profiles.texts.lock().unwrap().insert(
        "tutorial".into(),
        TUTORIAL.replace("users = [\"philipp\", \"admin\"]", "users = [\"philipp\"]"),
    );
    let outcome = h.handle(waiting()).await.unwrap();
    let Outcome::StepAdded { removed_users, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(removed_users, ["admin"]);
    assert!(!secret(&h).contains_key("admin"), "the password is gone");
    assert!(!hashes(&h).contains_key("admin"), "its hash is gone");
    assert!(hashes(&h).contains_key("philipp"));
}

#[tokio::test]
async fn other_states_unmanaged_clusters_and_profiles_without_users_are_ignored() {
    let mut starting = waiting();
    starting["detail"]["state"] = json!("STARTING");
    let mut unmanaged = managed("tutorial");
    unmanaged.tags.remove("sparkhub:managed");
    // Without JupyterHub (a JupyterHub profile needs a user).
    let no_users = TUTORIAL
        .replace("users = [\"philipp\", \"admin\"]", "users = []")
        .replace("[emails]\nphilipp = \"philipp@example.com\"\n", "")
        .replace(", \"JupyterHub\"", "");
    let mut unknown = waiting();
    unknown["detail"]["clusterId"] = json!("j-GONE");

    let cases = [
        (handler(TUTORIAL, managed("tutorial")), starting, "STARTING"),
        (handler(TUTORIAL, unmanaged), waiting(), "sparkhub:managed"),
        (
            handler(&no_users, managed("tutorial")),
            waiting(),
            "no JupyterHub users",
        ),
        (
            handler(TUTORIAL, managed("tutorial")),
            unknown,
            "does not know",
        ),
    ];
    for (h, event, why) in cases {
        let outcome = h.handle(event).await.unwrap();
        assert!(
            matches!(&outcome, Outcome::Ignored { reason, .. } if reason.contains(why)),
            "{why}: {outcome:?}"
        );
        assert!(h.secrets.0.lock().unwrap().is_empty(), "{why}: no secret");
        assert!(steps(&h).is_empty(), "{why}: no step");
    }
}

#[tokio::test]
async fn bad_events_and_missing_profiles_are_errors() {
    let h = handler(TUTORIAL, managed("tutorial"));
    let d = Reported::from(
        h.handle(json!({"detail-type": "EMR Cluster State Change"}))
            .await
            .unwrap_err(),
    );
    assert_eq!(d.error_type, "sparkhub.BadEvent");

    let h = handler(TUTORIAL, managed("retired"));
    let err = h.handle(waiting()).await.unwrap_err();
    assert_eq!(err.error_type(), "sparkhub.ProfileNotFound");
    assert!(
        err.to_string().contains("j-1YONHTCP3YZKC")
            && err.to_string().contains("profiles/retired.toml"),
        "{err}"
    );
}

#[tokio::test]
async fn without_a_region_in_the_event_the_functions_region_is_used() {
    let h = handler(TUTORIAL, managed("tutorial"));
    let mut event = waiting();
    event.as_object_mut().unwrap().remove("region");
    h.handle(event).await.unwrap();
    assert_eq!(
        steps(&h)[0].1.hadoop_jar_step.jar,
        "s3://eu-west-1.elasticmapreduce/libs/script-runner/script-runner.jar"
    );
}

#[test]
fn the_configuration_needs_bucket_and_region_and_may_name_a_topic() {
    let with = |pairs: &'static [(&'static str, &'static str)]| {
        Config::from_lookup(move |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        })
    };
    let full = with(&[
        ("SPARKHUB_BUCKET", "b"),
        ("AWS_REGION", "eu-west-1"),
        ("SPARKHUB_TOPIC_ARN", "arn:aws:sns:eu-west-1:1:t"),
    ])
    .unwrap();
    assert_eq!(full.topic_arn.as_deref(), Some("arn:aws:sns:eu-west-1:1:t"));
    let blank_topic = with(&[
        ("SPARKHUB_BUCKET", "b"),
        ("AWS_REGION", "eu-west-1"),
        ("SPARKHUB_TOPIC_ARN", " "),
    ])
    .unwrap();
    assert_eq!(blank_topic.topic_arn, None);
    for (pairs, missing) in [
        (&[("AWS_REGION", "eu-west-1")][..], "SPARKHUB_BUCKET"),
        (&[("SPARKHUB_BUCKET", "b")][..], "AWS_REGION"),
    ] {
        let err = with(pairs).unwrap_err();
        assert_eq!(err.error_type(), "sparkhub.Config");
        assert!(err.to_string().contains(missing), "{err}");
    }
}

/// `sparkhub password --rotate` changes the secrets; the cluster's next
/// WAITING gets a users step for the new hashes (the step's name encodes
/// them), which sets the new password on the running cluster.
#[tokio::test]
async fn a_rotated_password_gets_a_new_users_step() {
    let h = handler(TUTORIAL, managed("tutorial"));
    h.handle(waiting()).await.unwrap();
    let again = h.handle(waiting()).await.unwrap();
    assert!(
        matches!(again, Outcome::AlreadySetUp { .. }),
        "nothing changed: {again:?}"
    );
    let mut rotated = secret(&h);
    rotated.insert("philipp".into(), "RotatedPassword000000000".into());
    h.secrets
        .0
        .lock()
        .unwrap()
        .insert("sparkhub/tutorial/jupyterhub-users".into(), rotated);
    let outcome = h.handle(waiting()).await.unwrap();
    assert!(matches!(outcome, Outcome::StepAdded { .. }), "{outcome:?}");
    assert_eq!(steps(&h).len(), 2);
    assert!(crate::users::hash_matches(
        "RotatedPassword000000000",
        &hashes(&h)["philipp"]
    ));
}

#[tokio::test]
async fn a_clusters_startup_is_recorded_once_however_often_it_is_waiting() {
    let h = handler(TUTORIAL, managed("tutorial"));
    h.handle(waiting()).await.unwrap();
    // EMR says WAITING again after every step.
    h.handle(waiting()).await.unwrap();
    let records = h.startups.records.lock().unwrap().clone();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].seconds, 510);
    assert_eq!(records[0].profile, "tutorial");
    let kept = h.startups.of("tutorial");
    assert_eq!(kept.samples.len(), 1);
    assert_eq!(kept.samples[0].cluster_id, CLUSTER);
    let metric = h.startups.metric.lock().unwrap().clone();
    assert_eq!(
        metric,
        [(
            "tutorial".to_owned(),
            510,
            "2026-11-28T08:00:30Z".parse().unwrap()
        )]
    );
}

#[tokio::test]
async fn a_failed_startup_record_does_not_keep_the_users_from_being_set_up() {
    let mut h = handler(TUTORIAL, managed("tutorial"));
    h.startups.fail = true;
    let outcome = h.handle(waiting()).await.unwrap();
    assert!(matches!(outcome, Outcome::StepAdded { .. }), "{outcome:?}");
    assert!(h.startups.metric.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_cluster_without_users_still_has_its_startup_recorded() {
    let pipeline = include_str!("../../../../profiles/retrain.toml")
        .replace("name = \"retrain\"", "name = \"tutorial\"");
    let h = handler(&pipeline, managed("tutorial"));
    let outcome = h.handle(waiting()).await.unwrap();
    assert!(matches!(outcome, Outcome::Ignored { .. }), "{outcome:?}");
    assert_eq!(h.startups.records.lock().unwrap().len(), 1);
}
