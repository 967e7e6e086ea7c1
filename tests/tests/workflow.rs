//! The generated cluster workflow, run by the emulator's ASL interpreter with
//! the tutorial and pipeline profiles' rendered input.

use std::time::Duration;

use serde_json::{Value, json};
use sparkhub_core::profile::RawProfile;
use sparkhub_core::render::{self, Deployment, RunOptions, TAG_MANAGED, TAG_PROFILE};
use sparkhub_core::workflow::CLUSTER_WORKFLOW_FILE;
use sparkhub_core::{ClusterPlan, S3Uri};
use sparkhub_tests::{LocalAws, unique, wait_for};

const TUTORIAL: &str = include_str!("../../profiles/tutorial.toml");
const RETRAIN: &str = include_str!("../../profiles/retrain.toml");
const BUCKET: &str = "sparkhub-it";

/// Renders a profile with a tag unique to the test, so the test can find its
/// own requests among everything the shared emulator recorded.
fn plan(profile_toml: &str, test_tag: &str, run: RunOptions) -> ClusterPlan {
    let mut profile = RawProfile::from_toml(profile_toml).unwrap();
    profile.tags.insert("test".into(), test_tag.into());
    let profile = profile.validate().unwrap();
    let run = RunOptions {
        run_id: test_tag.into(),
        poll_seconds: Some(1),
        ..run
    };
    render::plan(&profile, &Deployment::with_default_roles(BUCKET), &run)
}

/// The cluster's steps once the workflow has added `n` of them.
async fn steps_added(aws: &LocalAws, cluster: &str, n: usize) -> Vec<sparkhub_tests::Step> {
    wait_for(&format!("step {n} of the run"), || async {
        let steps = aws.steps(cluster).await;
        (steps.len() >= n).then_some(steps)
    })
    .await
}

async fn start(aws: &LocalAws, plan: &ClusterPlan, name: &str) -> String {
    let machine = aws.create_state_machine(CLUSTER_WORKFLOW_FILE, name).await;
    aws.start(&machine, name, &serde_json::to_value(&plan.input).unwrap())
        .await
}

#[tokio::test]
async fn interactive_run_creates_the_tutorial_cluster_and_leaves_it_up() {
    let aws = LocalAws::connect().await;
    let name = unique("tutorial");
    let plan = plan(TUTORIAL, &name, RunOptions::default());
    let execution = start(&aws, &plan, &name).await;

    let done = aws.finished(&execution).await;
    assert_eq!(done.status, "SUCCEEDED", "{done:?}");
    let output = done.output.expect("an output");
    let cluster_id = output["cluster"]["ClusterId"]
        .as_str()
        .expect("the cluster id survives every state");
    assert_eq!(
        output["profile"], "tutorial",
        "the execution input survives every state"
    );
    assert_eq!(output["request"]["Name"], "sparkhub-tutorial");

    let cluster = aws.describe_cluster(cluster_id).await;
    assert_eq!(
        aws.cluster_state(cluster_id).await,
        "WAITING",
        "an interactive cluster stays up"
    );
    let apps: Vec<&str> = cluster
        .applications()
        .iter()
        .filter_map(|a| a.name())
        .collect();
    assert_eq!(apps, ["Spark", "Hadoop", "Livy", "Hive", "JupyterHub"]);
    let tags: Vec<(&str, &str)> = cluster
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
        .collect();
    assert!(tags.contains(&(TAG_MANAGED, "true")), "{tags:?}");
    assert!(tags.contains(&(TAG_PROFILE, "tutorial")), "{tags:?}");
    let s3 = cluster
        .configurations()
        .iter()
        .find(|c| c.classification() == Some("jupyter-s3-conf"))
        .expect("jupyter-s3-conf configuration");
    let props = s3.properties().expect("properties");
    assert_eq!(
        props.get("s3.persistence.enabled").map(String::as_str),
        Some("true")
    );
    assert_eq!(
        props.get("s3.persistence.bucket").map(String::as_str),
        Some(BUCKET)
    );

    let bootstrap = aws
        .emr
        .list_bootstrap_actions()
        .cluster_id(cluster_id)
        .send()
        .await
        .unwrap();
    let paths: Vec<&str> = bootstrap
        .bootstrap_actions()
        .iter()
        .filter_map(|b| b.script_path())
        .collect();
    let uploaded: Vec<String> = plan
        .scripts
        .iter()
        .filter(|s| s.bootstrap)
        .map(|s| format!("s3://{BUCKET}/{}", s.key))
        .collect();
    assert_eq!(paths, uploaded);

    // The emulator does not echo fleets and the auto-termination policy: read
    // them from the RunJobFlow request the interpreter sent.
    let sent: Value = aws
        .recorded_requests()
        .into_iter()
        .filter(|(target, _)| target == "ElasticMapReduce.RunJobFlow")
        .filter_map(|(_, body)| serde_json::from_str::<Value>(&body).ok())
        .find(|body| {
            body["Tags"]
                .as_array()
                .is_some_and(|t| t.contains(&json!({"Key": "test", "Value": name})))
        })
        .expect("the recorded RunJobFlow request of this test");
    let fleets = &sent["Instances"]["InstanceFleets"];
    assert_eq!(
        fleets,
        &serde_json::to_value(&plan.input.request.instances.instance_fleets).unwrap()
    );
    assert_eq!(fleets[0]["InstanceFleetType"], "MASTER");
    assert_eq!(fleets[1]["TargetOnDemandCapacity"], 2);
    assert_eq!(sent["AutoTerminationPolicy"]["IdleTimeout"], 5400);
    assert_eq!(sent["Instances"]["KeepJobFlowAliveWhenNoSteps"], true);
}

#[tokio::test]
async fn pipeline_run_adds_steps_in_order_waits_and_terminates_at_the_end() {
    let aws = LocalAws::connect().await;
    let name = unique("pipeline");
    let object = "s3://training-data/incoming/2026-11-25.csv";
    let plan = plan(
        RETRAIN,
        &name,
        RunOptions {
            object: Some(S3Uri::parse(object).unwrap()),
            ..Default::default()
        },
    );
    let execution = start(&aws, &plan, &name).await;
    let cluster = aws.cluster_of(&execution).await;

    let first = steps_added(&aws, &cluster, 1).await;
    assert_eq!(first.len(), 1, "one step at a time: {first:?}");
    assert_eq!(first[0].name, "clean");
    assert_eq!(
        first[0].args.last().map(String::as_str),
        Some(object),
        "the object URI reaches the step"
    );

    // The step keeps running: the workflow keeps waiting and adds nothing.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(aws.execution(&execution).await.status, "RUNNING");
    assert_eq!(
        aws.steps(&cluster).await.len(),
        1,
        "the second step waits for the first"
    );

    aws.set_step_state(&cluster, &first[0].id, "COMPLETED", None);
    let second = steps_added(&aws, &cluster, 2).await;
    let names: Vec<&str> = second.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["clean", "train"]);
    assert_eq!(aws.cluster_state(&cluster).await, "RUNNING");

    aws.set_step_state(&cluster, &second[1].id, "COMPLETED", None);
    let done = aws.finished(&execution).await;
    assert_eq!(done.status, "SUCCEEDED", "{done:?}");
    assert_eq!(
        aws.cluster_state(&cluster).await,
        "TERMINATED",
        "a pipeline run terminates its cluster"
    );
}

#[tokio::test]
async fn failing_step_terminates_the_cluster_and_fails_with_the_steps_reason() {
    let aws = LocalAws::connect().await;
    let name = unique("failing");
    let plan = plan(RETRAIN, &name, RunOptions::default());
    let execution = start(&aws, &plan, &name).await;
    let cluster = aws.cluster_of(&execution).await;

    let step = wait_for("the first step", || async {
        aws.steps(&cluster).await.into_iter().next()
    })
    .await;
    let reason = "Exception in thread \"main\": training data has no label column";
    aws.set_step_state(&cluster, &step.id, "FAILED", Some(reason));

    let done = aws.finished(&execution).await;
    assert_eq!(done.status, "FAILED");
    assert_eq!(done.error.as_deref(), Some("StepFailed"));
    let cause = done.cause.unwrap_or_default();
    assert!(cause.contains("step clean"), "{cause}");
    assert!(
        cause.contains("no label column"),
        "the step's reason is the cause: {cause}"
    );
    assert_eq!(
        aws.cluster_state(&cluster).await,
        "TERMINATED",
        "no orphaned cluster"
    );
    assert_eq!(
        aws.steps(&cluster).await.len(),
        1,
        "later steps are not added"
    );
}

#[tokio::test]
async fn cluster_that_ends_while_starting_fails_the_run_with_emrs_reason() {
    let aws = LocalAws::connect().await;
    let name = unique("nostart");
    let mut plan = plan(TUTORIAL, &name, RunOptions::default());
    // Time to move the cluster before the workflow first looks at it.
    plan.input.poll_seconds = 4;
    let execution = start(&aws, &plan, &name).await;
    let cluster = aws.cluster_of(&execution).await;
    aws.set_cluster_state(&cluster, "TERMINATED_WITH_ERRORS", Some("The requested instance type m5.xlarge is not supported in the requested availability zone."));

    let done = aws.finished(&execution).await;
    assert_eq!(done.status, "FAILED");
    assert_eq!(done.error.as_deref(), Some("ClusterDidNotStart"));
    let cause = done.cause.unwrap_or_default();
    assert!(
        cause.contains(&cluster) && cause.contains("TERMINATED_WITH_ERRORS"),
        "{cause}"
    );
    assert!(
        cause.contains("not supported in the requested availability zone"),
        "{cause}"
    );
}

/// EMR may answer DescribeCluster without a StateChangeReason. A path the
/// workflow selects that is missing would be States.Runtime, which no Catch
/// catches: the run would fail, or leave its cluster running.
#[tokio::test]
async fn a_cluster_without_a_state_change_reason_becomes_ready() {
    let aws = LocalAws::connect().await;
    let name = unique("noreason");
    let mut plan = plan(TUTORIAL, &name, RunOptions::default());
    plan.input.poll_seconds = 4;
    let execution = start(&aws, &plan, &name).await;
    let cluster = aws.cluster_of(&execution).await;
    aws.set_cluster_state_without_reason(&cluster, "WAITING");
    let described = aws.describe_cluster(&cluster).await;
    assert!(
        described.status().unwrap().state_change_reason().is_none(),
        "the emulator answers without a reason"
    );

    let done = aws.finished(&execution).await;
    assert_eq!(done.status, "SUCCEEDED", "{done:?}");
    assert_eq!(aws.cluster_state(&cluster).await, "WAITING");
}

#[tokio::test]
async fn a_cluster_that_ends_without_a_reason_fails_the_run_cleanly() {
    let aws = LocalAws::connect().await;
    let name = unique("noreason-end");
    let mut plan = plan(TUTORIAL, &name, RunOptions::default());
    plan.input.poll_seconds = 4;
    let execution = start(&aws, &plan, &name).await;
    let cluster = aws.cluster_of(&execution).await;
    aws.set_cluster_state_without_reason(&cluster, "TERMINATED_WITH_ERRORS");

    let done = aws.finished(&execution).await;
    assert_eq!(done.status, "FAILED");
    assert_eq!(
        done.error.as_deref(),
        Some("ClusterDidNotStart"),
        "{done:?}"
    );
    let cause = done.cause.unwrap_or_default();
    assert!(
        cause.contains(&cluster) && cause.contains("TERMINATED_WITH_ERRORS"),
        "{cause}"
    );
}

/// A throttled RunJobFlow or AddJobFlowSteps is retried with backoff: the run
/// neither fails nor terminates its healthy cluster.
#[tokio::test]
async fn throttled_create_and_add_step_are_retried_and_the_cluster_lives() {
    let aws = LocalAws::connect().await;
    let name = unique("throttled");
    let mut plan = plan(
        RETRAIN,
        &name,
        RunOptions {
            object: Some(S3Uri::parse("s3://training-data/incoming/throttled.csv").unwrap()),
            ..Default::default()
        },
    );
    plan.input.steps[0].name = format!("clean-{name}");
    aws.fail_next_emr("RunJobFlow", &name, "ThrottlingException", 400, 1);
    aws.fail_next_emr(
        "AddJobFlowSteps",
        &format!("clean-{name}"),
        "ThrottlingException",
        400,
        1,
    );
    let execution = start(&aws, &plan, &name).await;
    let cluster = aws.cluster_of(&execution).await;

    let first = steps_added(&aws, &cluster, 1).await;
    assert_eq!(first.len(), 1, "one step, added once: {first:?}");
    assert_eq!(
        aws.cluster_state(&cluster).await,
        "RUNNING",
        "not terminated"
    );
    aws.set_step_state(&cluster, &first[0].id, "COMPLETED", None);
    let second = steps_added(&aws, &cluster, 2).await;
    aws.set_step_state(&cluster, &second[1].id, "COMPLETED", None);
    let done = aws.finished(&execution).await;
    assert_eq!(done.status, "SUCCEEDED", "{done:?}");
    let created = aws
        .recorded_requests()
        .into_iter()
        .filter(|(target, body)| target == "ElasticMapReduce.RunJobFlow" && body.contains(&name))
        .count();
    assert_eq!(created, 1, "one cluster: the refused request created none");

    // Both throttles happened and were retried, as the history shows.
    let failures = aws.task_failures(&execution).await;
    assert_eq!(
        failures,
        ["Emr.EmrException", "Emr.EmrException"],
        "the first RunJobFlow and the first AddJobFlowSteps were refused"
    );
}

/// A request EMR refuses (not throttling, not a server error) is not retried:
/// the run fails at once with EMR's reason.
#[tokio::test]
async fn a_refused_create_is_not_retried() {
    let aws = LocalAws::connect().await;
    let name = unique("refused");
    let plan = plan(TUTORIAL, &name, RunOptions::default());
    aws.fail_next_emr("RunJobFlow", &name, "InvalidRequestException", 400, 1);
    let execution = start(&aws, &plan, &name).await;
    let done = aws.finished(&execution).await;
    assert_eq!(done.status, "FAILED", "{done:?}");
    assert_eq!(
        done.error.as_deref(),
        Some("Emr.InvalidRequestException"),
        "{done:?}"
    );
    assert_eq!(aws.task_failures(&execution).await.len(), 1, "tried once");
}
