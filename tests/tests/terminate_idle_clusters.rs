//! terminate-idle-clusters against the emulator: a mixed fleet of 42
//! clusters, each kind three times; the warnings before termination, and
//! whom they and the termination notices reach (SNS subscriptions filtered
//! as the template's, SQS queues in place of addresses); the real EMR,
//! CloudWatch (through the emulator's CBOR bridge), S3 and SNS adapters.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use sparkhub_core::idle::{AGENT_METRIC, EMR_NAMESPACE, IS_IDLE_METRIC, activity_namespace};
use sparkhub_core::sweep::Config;
use sparkhub_tests::{LocalAws, unique};

const TUTORIAL: &str = include_str!("../../profiles/tutorial.toml");

/// Every five minutes over the last 80 minutes.
/// A sweep of these clusters only: the tests run side by side in one
/// emulator, and a sweep over every cluster would judge the others' clusters
/// by the fallback policy of a profile its bucket does not have.
fn own(ids: &[&String]) -> sparkhub_core::sweep::SweepEvent {
    sparkhub_core::sweep::SweepEvent {
        check: ids.iter().map(|id| (*id).clone()).collect(),
    }
}

/// The sweep's settings for a test: profiles in `bucket`, terminating, no
/// topic, no checks, the default calls in flight.
fn config(bucket: &str) -> Config {
    Config {
        bucket: bucket.to_owned(),
        dry_run: false,
        topic_arn: None,
        max_concurrency: sparkhub_core::settings::DEFAULT_MAX_CONCURRENCY,
        checks: None,
    }
}

/// A new SNS topic named after `prefix`: its ARN.
async fn topic(aws: &LocalAws, prefix: &str) -> String {
    aws_sdk_sns::Client::new(&aws.config)
        .create_topic()
        .name(unique(prefix))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap()
}

fn every_5_min(value: f64) -> Vec<(i64, f64)> {
    (0..=16).map(|i| (i * 5, value)).collect()
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Idle,
    BusyStep,
    Protected,
    Unmanaged,
    KeptAlive,
    TooYoung,
    MetricGap,
    PastLifetime,
    Activity,
    SparkBusy,
    Running,
    /// Idle for hours; EMR's newest IsIdle datapoint is 15 minutes old, as it
    /// can be when a sweep looks.
    IdleLateMetric,
    /// 30 hours old, of a profile (allowing 72 h) that an edit broke.
    BrokenProfile,
    /// 13 hours old (12 allowed), kept alive until the year 9999.
    KeptAliveForever,
}

const KINDS: [Kind; 14] = [
    Kind::Idle,
    Kind::BusyStep,
    Kind::Protected,
    Kind::Unmanaged,
    Kind::KeptAlive,
    Kind::TooYoung,
    Kind::MetricGap,
    Kind::PastLifetime,
    Kind::Activity,
    Kind::SparkBusy,
    Kind::Running,
    Kind::IdleLateMetric,
    Kind::BrokenProfile,
    Kind::KeptAliveForever,
];

/// The kinds a sweep terminates.
fn swept(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Idle | Kind::PastLifetime | Kind::IdleLateMetric | Kind::KeptAliveForever
    )
}

const BROKEN: &str = "broken";

async fn cluster_of_kind(aws: &LocalAws, profile: &str, kind: Kind) -> String {
    let now = Timestamp::now();
    let broken = format!("{profile}-{BROKEN}");
    let profile = if kind == Kind::BrokenProfile {
        broken.as_str()
    } else {
        profile
    };
    let managed = [("sparkhub:managed", "true"), ("sparkhub:profile", profile)];
    let keep_until = (now + SignedDuration::from_hours(1)).to_string();
    let mut tags: Vec<(&str, &str)> = match kind {
        Kind::Unmanaged => vec![("sparkhub:profile", profile)],
        _ => managed.to_vec(),
    };
    if kind == Kind::KeptAlive {
        tags.push(("sparkhub:keep-alive-until", &keep_until));
    }
    if kind == Kind::KeptAliveForever {
        tags.push(("sparkhub:keep-alive-until", "9999-01-01T00:00:00Z"));
    }
    let id = aws
        .run_cluster(
            &format!("sparkhub-{profile}"),
            &tags,
            &["Spark", "JupyterHub"],
        )
        .await;
    let (created, ready) = match kind {
        Kind::TooYoung => (
            now - SignedDuration::from_mins(15),
            now - SignedDuration::from_mins(10),
        ),
        Kind::PastLifetime | Kind::KeptAliveForever => (
            now - SignedDuration::from_hours(13),
            now - SignedDuration::from_hours(12),
        ),
        Kind::BrokenProfile => (
            now - SignedDuration::from_hours(30),
            now - SignedDuration::from_hours(29),
        ),
        _ => (
            now - SignedDuration::from_hours(3),
            now - SignedDuration::from_hours(2),
        ),
    };
    aws.set_cluster_times(&id, created, Some(ready));

    let (idle, notebook) = match kind {
        Kind::MetricGap => (vec![(0, 1.0), (5, 1.0), (10, 1.0)], vec![(0, 0.0)]),
        Kind::SparkBusy => (
            every_5_min(1.0)
                .into_iter()
                .map(|(m, v)| (m, if m == 20 { 0.0 } else { v }))
                .collect(),
            every_5_min(0.0),
        ),
        Kind::Activity => (
            every_5_min(1.0),
            every_5_min(0.0)
                .into_iter()
                .map(|(m, v)| (m, if m == 10 { 2.0 } else { v }))
                .collect(),
        ),
        // Idle for hours, EMR's newest IsIdle point 12 minutes old (EMR is
        // 5 to 15 minutes late). Not 15: the sweep runs a second after the
        // points are written, and a point a few seconds past the tolerated
        // lag (15 minutes plus a query bucket) waits for the next sweep.
        Kind::IdleLateMetric => (
            every_5_min(1.0)
                .into_iter()
                .map(|(m, v)| (m + 12, v))
                .collect(),
            every_5_min(0.0),
        ),
        _ => (every_5_min(1.0), every_5_min(0.0)),
    };
    aws.put_cluster_metric(&id, EMR_NAMESPACE, IS_IDLE_METRIC, &idle)
        .await;
    aws.put_cluster_metric(&id, &activity_namespace(profile), AGENT_METRIC, &notebook)
        .await;

    match kind {
        Kind::Protected => {
            aws.emr
                .set_termination_protection()
                .job_flow_ids(&id)
                .termination_protected(true)
                .send()
                .await
                .unwrap();
        }
        Kind::BusyStep | Kind::PastLifetime | Kind::Running => {
            use aws_sdk_emr::types::{ActionOnFailure, HadoopJarStepConfig, StepConfig};
            let step = StepConfig::builder()
                .name("long job")
                .action_on_failure(ActionOnFailure::Continue)
                .hadoop_jar_step(
                    HadoopJarStepConfig::builder()
                        .jar("command-runner.jar")
                        .args("true")
                        .build(),
                )
                .build();
            aws.emr
                .add_job_flow_steps()
                .job_flow_id(&id)
                .steps(step)
                .send()
                .await
                .unwrap();
            if kind == Kind::BusyStep {
                // The step still runs, but EMR reports the cluster WAITING (between
                // polls): only the step list shows it is busy.
                aws.set_cluster_state(&id, "WAITING", None);
            }
        }
        _ => {}
    }
    id
}

#[tokio::test]
async fn a_mixed_fleet_loses_exactly_its_idle_and_too_old_clusters() {
    let aws = LocalAws::connect().await;
    let bucket = unique("sparkhub-sweep");
    let profile = unique("sweep");
    let text = TUTORIAL.replacen("name = \"tutorial\"", &format!("name = \"{profile}\""), 1);
    // A second profile, allowing 72 hours, that an edit broke (an unclosed table).
    let broken_name = format!("{profile}-{BROKEN}");
    let broken = TUTORIAL
        .replacen(
            "name = \"tutorial\"",
            &format!("name = \"{broken_name}\""),
            1,
        )
        .replacen("max_lifetime_hours = 12", "max_lifetime_hours = 72", 1)
        .replacen("[idle]", "[idle", 1);
    aws.bucket_with(
        &bucket,
        &[
            (&format!("profiles/{profile}.toml"), &text),
            (&format!("profiles/{broken_name}.toml"), &broken),
        ],
    )
    .await;

    let mut fleet: BTreeMap<String, Kind> = BTreeMap::new();
    for kind in KINDS {
        for _ in 0..3 {
            fleet.insert(cluster_of_kind(&aws, &profile, kind).await, kind);
        }
    }
    assert!(fleet.len() >= 42);

    let terminator = |dry_run: bool| {
        sparkhub_aws::terminator(
            Config {
                dry_run,
                ..config(&bucket)
            },
            &aws.config,
        )
    };
    let expected: Vec<String> = fleet
        .iter()
        .filter(|(_, k)| swept(**k))
        .map(|(id, _)| id.clone())
        .collect();

    // A dry run makes the same decisions, terminates nothing, records nothing.
    let dry = terminator(true).sweep().await.unwrap();
    assert!(aws.keys(&bucket, "history/").await.is_empty());
    let mut decided: Vec<String> = dry
        .to_terminate
        .iter()
        .map(|d| d.cluster_id.clone())
        .filter(|id| fleet.contains_key(id))
        .collect();
    decided.sort();
    assert_eq!(decided, expected, "dry-run decisions");
    assert!(dry.terminated.is_empty());
    for id in fleet.keys() {
        assert_ne!(
            aws.cluster_state(id).await,
            "TERMINATED",
            "a dry run terminated {id}"
        );
    }

    let summary = terminator(false).sweep().await.unwrap();
    assert!(
        !summary.errors.is_empty()
            && summary
                .errors
                .iter()
                .all(|e| e.contains(&format!("profile {broken_name}"))),
        "only the broken profile is an error: {:?}",
        summary.errors
    );
    for (id, kind) in &fleet {
        if *kind == Kind::BrokenProfile {
            let report = summary
                .clusters
                .iter()
                .find(|c| &c.cluster_id == id)
                .unwrap();
            assert!(
                report.reason.contains("cannot be parsed"),
                "{}",
                report.reason
            );
        }
    }
    let mut terminated = summary.terminated.clone();
    terminated.sort();
    let kinds = |ids: &[String]| -> Vec<String> {
        ids.iter()
            .map(|id| format!("{id} {:?}", fleet.get(id)))
            .collect()
    };
    assert_eq!(
        kinds(&terminated),
        kinds(&expected),
        "only this test's idle and too-old clusters, nobody else's"
    );
    for (id, kind) in &fleet {
        let state = aws.cluster_state(id).await;
        let gone = swept(*kind);
        assert_eq!(
            state == "TERMINATED",
            gone,
            "{kind:?} cluster {id} is {state}"
        );
    }
    // One history record per termination, under history/<day>/.
    let mut recorded: Vec<String> = aws
        .keys(&bucket, "history/")
        .await
        .iter()
        .map(|key| {
            let (_, file) = key.rsplit_once('/').unwrap();
            let (id, _) = file.split_once("-termination-").expect("a termination");
            id.to_owned()
        })
        .collect();
    recorded.sort();
    assert_eq!(kinds(&recorded), kinds(&expected), "the history");
    assert_eq!(summary.history_write_failures, 0);
    let old = summary
        .to_terminate
        .iter()
        .find(|d| fleet.get(&d.cluster_id) == Some(&Kind::PastLifetime))
        .unwrap();
    assert!(old.reason.contains("maximum lifetime"), "{}", old.reason);
    let forever = summary
        .to_terminate
        .iter()
        .find(|d| fleet.get(&d.cluster_id) == Some(&Kind::KeptAliveForever))
        .unwrap();
    assert!(
        forever.reason.contains("maximum lifetime of 12 h")
            && forever.reason.contains("does not count"),
        "{}",
        forever.reason
    );
}

/// A cluster of `profile`, ready two hours ago, busy until `idle_minutes`
/// ago and idle since (IsIdle 0 before, 1 since; no notebook user).
async fn idle_since(
    aws: &LocalAws,
    profile: &str,
    idle_minutes: i64,
    tags: &[(&str, &str)],
) -> String {
    let now = Timestamp::now();
    let mut all = vec![("sparkhub:managed", "true"), ("sparkhub:profile", profile)];
    all.extend_from_slice(tags);
    let id = aws
        .run_cluster(
            &format!("sparkhub-{profile}"),
            &all,
            &["Spark", "JupyterHub"],
        )
        .await;
    aws.set_cluster_times(
        &id,
        now - SignedDuration::from_hours(3),
        Some(now - SignedDuration::from_hours(2)),
    );
    let idle: Vec<(i64, f64)> = every_5_min(1.0)
        .into_iter()
        .map(|(m, _)| (m, if m < idle_minutes { 1.0 } else { 0.0 }))
        .collect();
    aws.put_cluster_metric(&id, EMR_NAMESPACE, IS_IDLE_METRIC, &idle)
        .await;
    // The activity agent agrees: its sample at `m` minutes ago speaks for
    // the five minutes before it (its previous sample).
    let agent: Vec<(i64, f64)> = every_5_min(0.0)
        .into_iter()
        .map(|(m, _)| (m, if m + 5 <= idle_minutes { 0.0 } else { 1.0 }))
        .collect();
    aws.put_cluster_metric(&id, &activity_namespace(profile), AGENT_METRIC, &agent)
        .await;
    id
}

#[tokio::test]
async fn a_warning_once_per_idle_period_and_none_for_busy_protected_kept_or_quiet_clusters() {
    let aws = LocalAws::connect().await;
    let bucket = unique("sparkhub-warn");
    let profile = unique("warn");
    let quiet = format!("{profile}-quiet");
    let text = TUTORIAL.replacen("name = \"tutorial\"", &format!("name = \"{profile}\""), 1);
    let quiet_text = TUTORIAL
        .replacen("name = \"tutorial\"", &format!("name = \"{quiet}\""), 1)
        .replacen("[idle]", "[idle]\nwarn_minutes = 0", 1);
    aws.bucket_with(
        &bucket,
        &[
            (&format!("profiles/{profile}.toml"), &text),
            (&format!("profiles/{quiet}.toml"), &quiet_text),
        ],
    )
    .await;
    let topic = topic(&aws, "sparkhub-warn").await;

    // Idle for 55 minutes: the tutorial's 60-minute timeout less its
    // 15-minute warning has passed, the timeout has not.
    let keep_until = (Timestamp::now() + SignedDuration::from_hours(2)).to_string();
    let soon = idle_since(&aws, &profile, 55, &[]).await;
    let protected = idle_since(&aws, &profile, 55, &[]).await;
    aws.emr
        .set_termination_protection()
        .job_flow_ids(&protected)
        .termination_protected(true)
        .send()
        .await
        .unwrap();
    let kept = idle_since(
        &aws,
        &profile,
        55,
        &[("sparkhub:keep-alive-until", &keep_until)],
    )
    .await;
    let busy = idle_since(&aws, &profile, 55, &[]).await;
    {
        use aws_sdk_emr::types::{ActionOnFailure, HadoopJarStepConfig, StepConfig};
        let step = StepConfig::builder()
            .name("long job")
            .action_on_failure(ActionOnFailure::Continue)
            .hadoop_jar_step(
                HadoopJarStepConfig::builder()
                    .jar("command-runner.jar")
                    .args("true")
                    .build(),
            )
            .build();
        aws.emr
            .add_job_flow_steps()
            .job_flow_id(&busy)
            .steps(step)
            .send()
            .await
            .unwrap();
        aws.set_cluster_state(&busy, "WAITING", None);
    }
    let silent = idle_since(&aws, &quiet, 55, &[]).await;
    let ours = [&soon, &protected, &kept, &busy, &silent];

    let sweep = || async {
        sparkhub_aws::terminator(
            Config {
                topic_arn: Some(topic.clone()),
                ..config(&bucket)
            },
            &aws.config,
        )
        .run(&own(&ours), None)
        .await
        .unwrap()
    };
    let warned = |summary: &sparkhub_core::sweep::Summary| -> Vec<String> {
        summary
            .warnings
            .iter()
            .map(|w| w.cluster_id.clone())
            .filter(|id| ours.contains(&id))
            .collect()
    };

    let first = sweep().await;
    assert_eq!(
        warned(&first),
        std::slice::from_ref(&soon),
        "{:?}",
        first.warnings
    );
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    for id in ours {
        assert_ne!(aws.cluster_state(id).await, "TERMINATED", "{id}");
    }
    let aws = &aws;
    let tags = |id: String| async move {
        aws.describe_cluster(&id)
            .await
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
            .collect::<BTreeMap<String, String>>()
    };
    let warned_at = tags(soon.clone()).await.get("sparkhub:warned-at").cloned();
    assert!(
        warned_at.is_some(),
        "the warning is remembered on the cluster"
    );
    for id in [&protected, &kept, &busy, &silent] {
        assert!(
            !tags(id.clone()).await.contains_key("sparkhub:warned-at"),
            "{id}"
        );
    }
    let history = aws.keys(&bucket, "history/").await;
    assert_eq!(history.len(), 1, "{history:?}");
    assert!(
        history[0].contains(&format!("{soon}-warning-")),
        "{history:?}"
    );

    // The next sweep: the same idle period, no second warning.
    let second = sweep().await;
    assert!(warned(&second).is_empty(), "{:?}", second.warnings);

    // A warning from before the cluster was last busy (55 to 80 minutes
    // ago) speaks for an earlier idle period: this one gets its own.
    let earlier = (Timestamp::now() - SignedDuration::from_mins(70)).to_string();
    aws.emr
        .add_tags()
        .resource_id(&soon)
        .tags(
            aws_sdk_emr::types::Tag::builder()
                .key("sparkhub:warned-at")
                .value(earlier)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let third = sweep().await;
    assert_eq!(
        warned(&third),
        std::slice::from_ref(&soon),
        "{:?}",
        third.warnings
    );
}

/// A queue subscribed to `topic` in place of an address: with
/// `filter_policy` (a generated subscription's), or none (the operator's).
async fn subscribed_queue(
    aws: &LocalAws,
    sqs: &aws_sdk_sqs::Client,
    topic: &str,
    filter_policy: Option<&serde_json::Value>,
) -> String {
    let url = sqs
        .create_queue()
        .queue_name(unique("sparkhub-inbox"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    let mut subscribe = aws_sdk_sns::Client::new(&aws.config)
        .subscribe()
        .topic_arn(topic)
        .protocol("sqs")
        .endpoint(arn);
    if let Some(policy) = filter_policy {
        subscribe = subscribe
            .attributes("FilterPolicyScope", "MessageAttributes")
            .attributes("FilterPolicy", policy.to_string());
    }
    subscribe.send().await.unwrap();
    url
}

/// What reached a queue: each SNS envelope's subject and its `recipients`
/// attribute as delivered (type and value), if any.
async fn inbox(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<(String, Option<(String, String)>)> {
    let mut out = Vec::new();
    loop {
        let messages = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if messages.is_empty() {
            return out;
        }
        for m in messages {
            let envelope: serde_json::Value =
                serde_json::from_str(m.body().unwrap_or_default()).unwrap();
            let attribute = envelope["MessageAttributes"]["recipients"]
                .as_object()
                .map(|a| {
                    (
                        a["Type"].as_str().unwrap_or_default().to_owned(),
                        a["Value"].as_str().unwrap_or_default().to_owned(),
                    )
                });
            out.push((
                envelope["Subject"].as_str().unwrap_or_default().to_owned(),
                attribute,
            ));
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

/// The messages reach the people of the cluster's profile. One topic, three
/// queues in place of e-mail addresses: the operator's, unfiltered, and one
/// per user address of two profiles, subscribed with the filter policies
/// the template has (`sparkhub_codegen::infra::subscriptions`). A warning
/// about a cluster of profile A reaches A's user and the operator, not B's
/// user; a termination notice about B's cluster reaches B's user and the
/// operator; a warning about a profile without addresses, the operator alone.
#[tokio::test]
async fn warnings_and_notices_reach_their_profiles_users_and_the_operator_only() {
    let aws = LocalAws::connect().await;
    let sqs = aws_sdk_sqs::Client::new(&aws.config);
    let bucket = unique("sparkhub-mail");
    let a = unique("mail");
    let b = format!("{a}-b");
    let quiet = format!("{a}-quiet");
    let named =
        |name: &str| TUTORIAL.replacen("name = \"tutorial\"", &format!("name = \"{name}\""), 1);
    // A: the tutorial's users, philipp with an address; B: zoe with one.
    let a_text = named(&a);
    let b_text = named(&b)
        .replacen("users = [\"philipp\", \"admin\"]", "users = [\"zoe\"]", 1)
        .replacen(
            "philipp = \"philipp@example.com\"",
            "zoe = \"zoe@example.com\"",
            1,
        );
    let quiet_text = named(&quiet).replacen("[emails]\nphilipp = \"philipp@example.com\"\n", "", 1);
    aws.bucket_with(
        &bucket,
        &[
            (&format!("profiles/{a}.toml"), &a_text),
            (&format!("profiles/{b}.toml"), &b_text),
            (&format!("profiles/{quiet}.toml"), &quiet_text),
        ],
    )
    .await;
    let topic = topic(&aws, "sparkhub-mail").await;

    let profiles = [&a_text, &b_text].map(|t| sparkhub_core::Profile::parse(t).unwrap());
    let subscriptions = sparkhub_codegen::infra::subscriptions(&profiles).unwrap();
    assert_eq!(subscriptions.len(), 2, "philipp's and zoe's");
    let operator = subscribed_queue(&aws, &sqs, &topic, None).await;
    let mut users = Vec::new();
    for (_, resource) in &subscriptions {
        let properties = &resource["Properties"];
        assert_eq!(properties["FilterPolicyScope"], "MessageAttributes");
        users.push(subscribed_queue(&aws, &sqs, &topic, Some(&properties["FilterPolicy"])).await);
    }
    let (philipp, zoe) = (&users[0], &users[1]);

    // A's cluster idle for 55 minutes (warned), B's for longer than its
    // 60-minute timeout (terminated), the quiet profile's warned.
    let warned_a = idle_since(&aws, &a, 55, &[]).await;
    let terminated_b = idle_since(&aws, &b, 85, &[]).await;
    let warned_quiet = idle_since(&aws, &quiet, 55, &[]).await;
    let summary = sparkhub_aws::terminator(
        Config {
            topic_arn: Some(topic.clone()),
            ..config(&bucket)
        },
        &aws.config,
    )
    .run(&own(&[&warned_a, &terminated_b, &warned_quiet]), None)
    .await
    .unwrap();
    assert!(summary.terminated.contains(&terminated_b), "{summary:?}");
    for id in [&warned_a, &warned_quiet] {
        assert!(
            summary.warnings.iter().any(|w| &w.cluster_id == id),
            "{id}: {:?}",
            summary.warnings
        );
    }

    let about = |inbox: &[(String, Option<(String, String)>)], id: &str| {
        inbox
            .iter()
            .filter(|(subject, _)| subject.contains(&format!("{id} ")))
            .map(|(_, attribute)| attribute.clone())
            .collect::<Vec<_>>()
    };
    let array = |value: &str| Some(("String.Array".to_owned(), value.to_owned()));
    let a_recipients = format!(r#"["{a}/philipp"]"#);
    let b_recipients = format!(r#"["{b}/zoe"]"#);

    // The operator: all three (the sweep may also have told it about
    // clusters other tests left in the emulator).
    let all = inbox(&sqs, &operator).await;
    assert_eq!(about(&all, &warned_a), [array(&a_recipients)], "{all:#?}");
    assert_eq!(
        about(&all, &terminated_b),
        [array(&b_recipients)],
        "{all:#?}"
    );
    assert_eq!(about(&all, &warned_quiet), [None], "no attribute: {all:#?}");

    // philipp: the warning about A's cluster, nothing else.
    let got = inbox(&sqs, philipp).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(about(&got, &warned_a), [array(&a_recipients)]);
    // zoe: the notice about B's cluster, nothing else.
    let got = inbox(&sqs, zoe).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(about(&got, &terminated_b), [array(&b_recipients)]);
    assert!(got[0].0.starts_with("sparkhub terminated "), "{got:?}");
}

/// A JupyterHub cluster of a profile with a five-minute timeout, created
/// three hours ago, with EMR's IsIdle showing Spark work ten minutes ago
/// and the activity agent's one-minute samples `agent` (minutes ago, value).
async fn with_agent(aws: &LocalAws, profile: &str, agent: &[(i64, f64)]) -> String {
    let now = Timestamp::now();
    let id = aws
        .run_cluster(
            &format!("sparkhub-{profile}"),
            &[("sparkhub:managed", "true"), ("sparkhub:profile", profile)],
            &["Spark", "JupyterHub"],
        )
        .await;
    aws.set_cluster_times(
        &id,
        now - SignedDuration::from_hours(3),
        Some(now - SignedDuration::from_hours(2)),
    );
    let idle: Vec<(i64, f64)> = every_5_min(1.0)
        .into_iter()
        .map(|(m, v)| (m, if m == 10 { 0.0 } else { v }))
        .collect();
    aws.put_cluster_metric(&id, EMR_NAMESPACE, IS_IDLE_METRIC, &idle)
        .await;
    aws.put_cluster_metric(&id, &activity_namespace(profile), AGENT_METRIC, agent)
        .await;
    id
}

/// The activity agent decides to the minute; a silent one leaves it to EMR's
/// IsIdle as before; a termination due before the next sweep gets a
/// one-time check of that cluster, and the check looks at nothing else.
#[tokio::test]
async fn the_agents_minutes_decide_and_a_silent_agent_leaves_it_to_isidle() {
    let aws = LocalAws::connect().await;
    let bucket = unique("sparkhub-agent");
    let profile = unique("agent");
    let text = TUTORIAL
        .replacen("name = \"tutorial\"", &format!("name = \"{profile}\""), 1)
        .replacen("timeout_minutes = 60", "timeout_minutes = 5", 1);
    assert!(text.contains("timeout_minutes = 5"));
    aws.bucket_with(&bucket, &[(&format!("profiles/{profile}.toml"), &text)])
        .await;
    // Busy until six minutes ago, idle since: the timeout and a minute.
    let minutes = |busy_from: i64, to: i64| -> Vec<(i64, f64)> {
        (0..=to)
            .map(|m| (m, if m >= busy_from { 1.0 } else { 0.0 }))
            .collect()
    };
    let idle_six = with_agent(&aws, &profile, &minutes(6, 40)).await;
    // The same, but the agent fell silent ten minutes ago: EMR's IsIdle
    // showed Spark work ten minutes ago, which keeps it as it always did.
    let silent = with_agent(
        &aws,
        &profile,
        &minutes(6, 40)
            .into_iter()
            .filter(|(m, _)| *m >= 10)
            .collect::<Vec<_>>(),
    )
    .await;
    // Idle for three minutes: due in two, before the next sweep.
    let idle_three = with_agent(&aws, &profile, &minutes(3, 40)).await;

    let scheduler = aws_sdk_scheduler::Client::new(&aws.config);
    let group = unique("sparkhub-checks");
    scheduler
        .create_schedule_group()
        .name(&group)
        .send()
        .await
        .unwrap();
    let sweep = sparkhub_aws::terminator(
        Config {
            checks: Some(sparkhub_core::sweep::ChecksConfig {
                group: group.clone(),
                role_arn: "arn:aws:iam::123456789012:role/sparkhub-checks".into(),
            }),
            ..config(&bucket)
        },
        &aws.config,
    );
    let function = "arn:aws:lambda:us-east-1:123456789012:function:sparkhub-sweep";
    let summary = sweep
        .run(&own(&[&idle_six, &silent, &idle_three]), Some(function))
        .await
        .unwrap();
    let reason = |id: &str| {
        summary
            .clusters
            .iter()
            .find(|c| c.cluster_id == id)
            .map(|c| (c.terminate, c.reason.clone()))
            .unwrap()
    };
    assert!(reason(&idle_six).0, "{:?}", reason(&idle_six));
    assert_eq!(aws.cluster_state(&idle_six).await, "TERMINATED");
    assert_eq!(
        reason(&silent),
        (false, "EMR IsIdle was 0 in the idle window".to_owned())
    );
    assert_ne!(aws.cluster_state(&silent).await, "TERMINATED");
    assert!(!reason(&idle_three).0);
    assert_ne!(aws.cluster_state(&idle_three).await, "TERMINATED");

    // One check, for the cluster due before the next sweep, in two minutes.
    assert_eq!(
        summary
            .checks
            .iter()
            .map(|c| c.cluster_id.as_str())
            .collect::<Vec<_>>(),
        [idle_three.as_str()]
    );
    let due = summary.checks[0].at;
    let ahead = due.duration_since(Timestamp::now());
    assert!(
        ahead > SignedDuration::from_secs(30) && ahead <= SignedDuration::from_mins(3),
        "{due}"
    );
    assert_eq!(due.as_second() % 60, 0, "a whole minute: {due}");
    let listed = scheduler
        .list_schedules()
        .group_name(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.schedules().len(), 1);
    let name = listed.schedules()[0].name().unwrap().to_owned();
    let schedule = scheduler
        .get_schedule()
        .group_name(&group)
        .name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        schedule.schedule_expression(),
        Some(format!("at({})", due.strftime("%Y-%m-%dT%H:%M:%S")).as_str())
    );
    let target = schedule.target().unwrap();
    assert_eq!(target.arn(), function);
    let input: serde_json::Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(input, serde_json::json!({ "check": [idle_three] }));

    // The check, run now (before it is due), looks at that cluster only and
    // keeps it; asking for the same check again is the same schedule.
    let check = sweep
        .run(
            &sparkhub_core::sweep::SweepEvent {
                check: vec![idle_three.clone()],
            },
            Some(function),
        )
        .await
        .unwrap();
    assert!(check.check_run);
    assert_eq!(check.checked, 1);
    assert_eq!(check.clusters[0].cluster_id, idle_three);
    assert!(!check.clusters[0].terminate);
    let listed = scheduler
        .list_schedules()
        .group_name(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed.schedules().len(),
        1,
        "one check, not two: {:?} then {:?}; {:?}",
        summary.checks,
        check.checks,
        check.errors
    );
}
