//! The sweep over the real EMR and CloudWatch adapters with `aws-smithy-mocks`
//! clients: throttling and 5xx on each call. The sweep always finishes, and
//! nothing is terminated that was not judged with complete information.

use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
use aws_sdk_cloudwatch::types::MetricDataResult;
use aws_sdk_emr::operation::describe_cluster::DescribeClusterOutput;
use aws_sdk_emr::operation::list_clusters::ListClustersOutput;
use aws_sdk_emr::operation::list_steps::ListStepsOutput;
use aws_sdk_emr::operation::terminate_job_flows::TerminateJobFlowsOutput;
use aws_sdk_emr::types::{
    Application, Cluster, ClusterState, ClusterStatus, ClusterSummary, ClusterTimeline, Tag,
};
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::DateTime;
use sparkhub_aws::{CloudWatch, Emr, S3Bucket, Sns};
use sparkhub_core::fakes::History;
use sparkhub_core::sweep::{Config, Summary, SweepError, Terminator};

fn ago(minutes: i64) -> DateTime {
    DateTime::from_secs(jiff::Timestamp::now().as_second() - minutes * 60)
}

/// Three idle WAITING clusters, j-A to j-C.
fn listing() -> Rule {
    idle_listing(&["j-A".to_owned(), "j-B".to_owned(), "j-C".to_owned()])
}

fn idle_metrics() -> Rule {
    mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_compute_output(|req| {
        let mut out = GetMetricDataOutput::builder();
        for q in req.metric_data_queries() {
            let id = q.id().unwrap_or_default();
            let value = if id.starts_with("idle") { 1.0 } else { 0.0 };
            let mut result = MetricDataResult::builder().id(id);
            // 150 minutes: covers the fallback policy's 120-minute window (no profiles here).
            for i in 0..=30 {
                result = result.timestamps(ago(i * 5)).values(value);
            }
            out = out.metric_data_results(result.build());
        }
        out.build()
    })
}

fn described(id: &'static str) -> Rule {
    mock!(aws_sdk_emr::Client::describe_cluster)
        .match_requests(move |r| r.cluster_id() == Some(id))
        .then_output(move || description(id))
}

fn no_steps() -> Rule {
    mock!(aws_sdk_emr::Client::list_steps).then_output(|| ListStepsOutput::builder().build())
}

fn terminate() -> Rule {
    mock!(aws_sdk_emr::Client::terminate_job_flows)
        .then_output(|| TerminateJobFlowsOutput::builder().build())
}

fn failing(
    status: u16,
    body: &'static str,
) -> impl Fn(
    aws_smithy_mocks::RuleBuilder<
        aws_sdk_emr::operation::describe_cluster::DescribeClusterInput,
        aws_sdk_emr::operation::describe_cluster::DescribeClusterOutput,
        aws_sdk_emr::operation::describe_cluster::DescribeClusterError,
    >,
) -> Rule {
    move |builder| {
        builder
            .sequence()
            .http_status(status, Some(body.into()))
            .repeatedly()
            .build()
    }
}

async fn sweep(emr_rules: &[&Rule], cloudwatch_rules: &[&Rule]) -> Summary {
    try_sweep(emr_rules, cloudwatch_rules)
        .await
        .expect("the sweep finishes")
}

async fn try_sweep(emr_rules: &[&Rule], cloudwatch_rules: &[&Rule]) -> Result<Summary, SweepError> {
    let profiles = mock!(aws_sdk_s3::Client::list_objects_v2)
        .then_output(|| ListObjectsV2Output::builder().build());
    let terminator = Terminator::<
        _,
        _,
        _,
        Sns,
        _,
        sparkhub_aws::scheduler::Checks,
        _,
        sparkhub_core::fakes::PriceList,
    > {
        config: Config {
            bucket: "b".into(),
            dry_run: false,
            topic_arn: None,
            max_concurrency: sparkhub_core::settings::DEFAULT_MAX_CONCURRENCY,
            checks: None,
        },
        profiles: S3Bucket::new(mock_client!(aws_sdk_s3, [&profiles]), "b"),
        fleet: Emr::new(mock_client!(aws_sdk_emr, RuleMode::MatchAny, emr_rules)),
        metrics: CloudWatch::new(mock_client!(
            aws_sdk_cloudwatch,
            RuleMode::MatchAny,
            cloudwatch_rules
        )),
        notifier: None,
        history: History::default(),
        checks: None,
        budgets: sparkhub_core::fakes::Budgets::default(),
        pricing: None,
        now: jiff::Timestamp::now,
    };
    terminator.sweep().await
}

const THROTTLED: &str = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;

#[tokio::test]
async fn all_answers_terminate_the_idle_clusters() {
    let (list, metrics, steps, term) = (listing(), idle_metrics(), no_steps(), terminate());
    let (a, b, c) = (described("j-A"), described("j-B"), described("j-C"));
    let summary = sweep(&[&list, &a, &b, &c, &steps, &term], &[&metrics]).await;
    assert_eq!(
        summary.terminated,
        ["j-A", "j-B", "j-C"],
        "the control case: with every answer, all three go"
    );
    assert_eq!(term.num_calls(), 1);
}

#[tokio::test]
async fn failed_describe_or_step_listing_keeps_that_cluster_only() {
    let (list, metrics, term, c) = (listing(), idle_metrics(), terminate(), described("j-C"));
    let a_fails = failing(500, r#"{"__type":"InternalServerError"}"#)(
        mock!(aws_sdk_emr::Client::describe_cluster)
            .match_requests(|r| r.cluster_id() == Some("j-A")),
    );
    let b = described("j-B");
    let steps_throttled_for_b = mock!(aws_sdk_emr::Client::list_steps)
        .match_requests(|r| r.cluster_id() == Some("j-B"))
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .repeatedly()
        .build();
    let steps = no_steps();
    let summary = sweep(
        &[
            &list,
            &a_fails,
            &b,
            &c,
            &steps_throttled_for_b,
            &steps,
            &term,
        ],
        &[&metrics],
    )
    .await;
    assert_eq!(summary.terminated, ["j-C"]);
    assert_eq!(summary.kept.get("error"), Some(&2));
    assert_eq!(summary.errors.len(), 2, "{:?}", summary.errors);
}

#[tokio::test]
async fn throttled_or_failing_metrics_terminate_nothing() {
    for (status, body) in [(400, THROTTLED), (503, "")] {
        let (list, term, steps) = (listing(), terminate(), no_steps());
        let (a, b, c) = (described("j-A"), described("j-B"), described("j-C"));
        let metrics = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
            .sequence()
            .http_status(status, Some(body.into()))
            .repeatedly()
            .build();
        let summary = sweep(&[&list, &a, &b, &c, &steps, &term], &[&metrics]).await;
        assert!(summary.terminated.is_empty(), "status {status}");
        assert_eq!(term.num_calls(), 0);
        assert_eq!(summary.kept.get("idle_metric_gap"), Some(&3));
    }
}

#[tokio::test]
async fn a_failing_termination_is_reported_and_the_sweep_ends() {
    let (list, metrics, steps) = (listing(), idle_metrics(), no_steps());
    let (a, b, c) = (described("j-A"), described("j-B"), described("j-C"));
    let term = mock!(aws_sdk_emr::Client::terminate_job_flows)
        .sequence()
        .http_status(503, None)
        .repeatedly()
        .build();
    let summary = sweep(&[&list, &a, &b, &c, &steps, &term], &[&metrics]).await;
    assert_eq!(summary.to_terminate.len(), 3);
    assert!(summary.terminated.is_empty());
    assert!(
        summary.errors[0].contains("TerminateJobFlows"),
        "{:?}",
        summary.errors
    );
}

#[tokio::test]
async fn a_failing_listing_ends_the_sweep_before_anything_is_terminated() {
    let list = mock!(aws_sdk_emr::Client::list_clusters)
        .sequence()
        .http_status(500, None)
        .repeatedly()
        .build();
    let (term, metrics) = (terminate(), idle_metrics());
    let err = try_sweep(&[&list, &term], &[&metrics]).await.unwrap_err();
    assert!(err.to_string().contains("nothing was terminated"), "{err}");
    assert_eq!(term.num_calls(), 0);
}

fn idle_listing(ids: &[String]) -> Rule {
    let ids = ids.to_vec();
    mock!(aws_sdk_emr::Client::list_clusters).then_output(move || {
        let mut out = ListClustersOutput::builder();
        for id in &ids {
            out = out.clusters(
                ClusterSummary::builder()
                    .id(id)
                    .name("sparkhub-tutorial")
                    .status(
                        ClusterStatus::builder()
                            .state(ClusterState::Waiting)
                            .timeline(
                                ClusterTimeline::builder()
                                    .creation_date_time(ago(180))
                                    .ready_date_time(ago(120))
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            );
        }
        out.build()
    })
}

fn description(id: &str) -> DescribeClusterOutput {
    DescribeClusterOutput::builder()
        .cluster(
            Cluster::builder()
                .id(id)
                .name("sparkhub-tutorial")
                .status(
                    ClusterStatus::builder()
                        .state(ClusterState::Waiting)
                        .build(),
                )
                .termination_protected(false)
                .applications(Application::builder().name("Spark").build())
                .tags(Tag::builder().key("sparkhub:managed").value("true").build())
                .tags(
                    Tag::builder()
                        .key("sparkhub:profile")
                        .value("tutorial")
                        .build(),
                )
                .build(),
        )
        .build()
}

/// Thirty idle clusters swept eight at a time while EMR throttles: a third
/// of the DescribeCluster and ListSteps calls are throttled once (the SDK's
/// standard retry gets the answer), four clusters are throttled on every
/// attempt. Exactly the clusters judged with complete answers are
/// terminated, in listing order, in the fewest TerminateJobFlows calls.
#[tokio::test]
async fn throttling_under_concurrency_terminates_only_what_was_fully_judged() {
    let ids: Vec<String> = (0..30).map(|i| format!("j-{i:02}")).collect();
    let always_throttled = |i: usize| matches!(i, 4 | 11 | 17 | 25);
    let once_throttled = |i: usize| i.is_multiple_of(3);
    let list = idle_listing(&ids);
    let mut rules = vec![list];
    for (i, id) in ids.iter().enumerate() {
        let (wanted, answer) = (id.clone(), id.clone());
        let describe = mock!(aws_sdk_emr::Client::describe_cluster)
            .match_requests(move |r| r.cluster_id() == Some(wanted.as_str()));
        rules.push(if always_throttled(i) {
            describe
                .sequence()
                .http_status(400, Some(THROTTLED.into()))
                .repeatedly()
                .build()
        } else if once_throttled(i) {
            describe
                .sequence()
                .http_status(400, Some(THROTTLED.into()))
                .output(move || description(&answer))
                .build()
        } else {
            describe.then_output(move || description(&answer))
        });
        if i % 3 == 1 {
            let wanted = id.clone();
            rules.push(
                mock!(aws_sdk_emr::Client::list_steps)
                    .match_requests(move |r| r.cluster_id() == Some(wanted.as_str()))
                    .sequence()
                    .http_status(400, Some(THROTTLED.into()))
                    .output(|| ListStepsOutput::builder().build())
                    .build(),
            );
        }
    }
    let steps = no_steps();
    let term = terminate();
    rules.push(steps);
    rules.push(term);
    let metrics = idle_metrics();
    let profiles = mock!(aws_sdk_s3::Client::list_objects_v2)
        .then_output(|| ListObjectsV2Output::builder().build());
    let rule_refs: Vec<&Rule> = rules.iter().collect();
    // The SDK's standard retry mode, as `aws_config::load_defaults` gives
    // the functions (three attempts), with a short first backoff.
    let retry = |c: aws_sdk_emr::config::Builder| {
        c.retry_config(
            aws_smithy_types::retry::RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(std::time::Duration::from_millis(20)),
        )
    };
    let terminator = Terminator::<
        _,
        _,
        _,
        Sns,
        _,
        sparkhub_aws::scheduler::Checks,
        _,
        sparkhub_core::fakes::PriceList,
    > {
        config: Config {
            bucket: "b".into(),
            dry_run: false,
            topic_arn: None,
            max_concurrency: 8,
            checks: None,
        },
        profiles: S3Bucket::new(mock_client!(aws_sdk_s3, [&profiles]), "b"),
        fleet: Emr::new(mock_client!(
            aws_sdk_emr,
            RuleMode::MatchAny,
            &rule_refs,
            retry
        )),
        metrics: CloudWatch::new(mock_client!(
            aws_sdk_cloudwatch,
            RuleMode::MatchAny,
            [&metrics]
        )),
        notifier: None,
        history: History::default(),
        checks: None,
        budgets: sparkhub_core::fakes::Budgets::default(),
        pricing: None,
        now: jiff::Timestamp::now,
    };
    let summary = terminator.sweep().await.expect("the sweep finishes");

    let expected: Vec<String> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| !always_throttled(*i))
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(
        summary.terminated, expected,
        "listing order, none throttled"
    );
    assert_eq!(summary.kept.get("error"), Some(&4), "{:?}", summary.kept);
    assert_eq!(summary.errors.len(), 4, "{:?}", summary.errors);
    assert!(
        summary
            .errors
            .iter()
            .all(|e| e.contains("DescribeCluster") && e.contains("ThrottlingException")),
        "{:?}",
        summary.errors
    );
    let reported: Vec<&str> = summary
        .clusters
        .iter()
        .map(|c| c.cluster_id.as_str())
        .collect();
    assert_eq!(reported, ids, "the report keeps the listing order");
    let term = rules.last().unwrap();
    assert_eq!(term.num_calls(), 26usize.div_ceil(10), "ten per call");
}

/// Busy steps are counted with EMR's state filter, every page (a running
/// step may sit below many newer ones that ended); with none, one more page
/// gives the last end, sparkhub's own users step left out.
#[tokio::test]
async fn steps_are_counted_by_state_and_the_last_end_is_nobodys_setup() {
    use aws_sdk_emr::types::{StepState, StepStatus, StepSummary, StepTimeline};
    use sparkhub_core::ports::ClusterFleet;
    let step = |name: &str, state: StepState, ended: Option<i64>| {
        let mut timeline = StepTimeline::builder();
        if let Some(secs) = ended {
            timeline = timeline.end_date_time(DateTime::from_secs(secs));
        }
        StepSummary::builder()
            .name(name)
            .status(
                StepStatus::builder()
                    .state(state)
                    .timeline(timeline.build())
                    .build(),
            )
            .build()
    };
    let ended = move || {
        ListStepsOutput::builder()
            .steps(step(
                "sparkhub: JupyterHub users 0123456789ab",
                StepState::Completed,
                Some(1_800_000_300),
            ))
            .steps(step("train", StepState::Completed, Some(1_800_000_000)))
            .steps(step("clean", StepState::Failed, Some(1_799_999_000)))
            .build()
    };
    // Nothing pending or running: the last end is the training step's.
    let none_busy = mock!(aws_sdk_emr::Client::list_steps)
        .match_requests(|r| !r.step_states().is_empty())
        .then_output(|| ListStepsOutput::builder().build());
    let all = mock!(aws_sdk_emr::Client::list_steps)
        .match_requests(|r| r.step_states().is_empty())
        .then_output(ended);
    let emr = Emr::new(mock_client!(
        aws_sdk_emr,
        RuleMode::MatchAny,
        [&none_busy, &all]
    ));
    let activity = emr.steps("j-1").await.unwrap();
    assert_eq!(activity.busy, 0);
    assert_eq!(
        activity.last_ended,
        Some(jiff::Timestamp::from_second(1_800_000_000).unwrap())
    );
    assert_eq!(all.num_calls(), 1);

    // A running step, on the second page of the filtered answer: counted.
    let pages = mock!(aws_sdk_emr::Client::list_steps)
        .match_requests(|r| !r.step_states().is_empty())
        .sequence()
        .output(move || {
            ListStepsOutput::builder()
                .steps(step("a", StepState::Pending, None))
                .marker("page-2")
                .build()
        })
        .output(move || {
            ListStepsOutput::builder()
                .steps(step("long", StepState::Running, None))
                .build()
        })
        .build();
    let all = mock!(aws_sdk_emr::Client::list_steps)
        .match_requests(|r| r.step_states().is_empty())
        .then_output(ended);
    let emr = Emr::new(mock_client!(
        aws_sdk_emr,
        RuleMode::MatchAny,
        [&pages, &all]
    ));
    let activity = emr.steps("j-1").await.unwrap();
    assert_eq!(activity.busy, 2);
    assert_eq!(all.num_calls(), 0, "busy: its last end is not needed");
}
