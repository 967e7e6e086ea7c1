//! terminate-idle-clusters against the emulator: a mixed fleet of 42
//! clusters, each kind three times; the real EMR, CloudWatch (through the
//! emulator's CBOR bridge) and S3 adapters.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use sparkhub_core::idle::{EMR_NAMESPACE, IS_IDLE_METRIC, NOTEBOOK_METRIC, NOTEBOOK_NAMESPACE};
use sparkhub_core::sweep::Config;
use sparkhub_tests::{LocalAws, unique};

const TUTORIAL: &str = include_str!("../../profiles/tutorial.toml");

/// Every five minutes over the last 80 minutes.
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
    NotebookActivity,
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
    Kind::NotebookActivity,
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
        Kind::NotebookActivity => (
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
    aws.put_cluster_metric(&id, NOTEBOOK_NAMESPACE, NOTEBOOK_METRIC, &notebook)
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
                bucket: bucket.clone(),
                dry_run,
                topic_arn: None,
                max_concurrency: sparkhub_core::settings::DEFAULT_MAX_CONCURRENCY,
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
