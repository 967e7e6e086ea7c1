//! Sweep tests with in-memory fakes.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::emr::ClusterState;
use crate::ports::{Cluster, ClusterMetrics};

use super::*;
use crate::errors::Reported;
use crate::fakes::{Checks, History, Outbox, Profiles, Sent};
use crate::history::{Cause, RecordKind};

const NOW: &str = "2026-11-25T12:00:00Z";
const TUTORIAL: &str = include_str!("../../../../profiles/tutorial.toml");

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

fn ago(mins: i64) -> Timestamp {
    now() - SignedDuration::from_mins(mins)
}

fn series(minutes: i64, value: f64) -> Vec<(Timestamp, f64)> {
    (0..=minutes / 5).map(|i| (ago(i * 5), value)).collect()
}

#[derive(Clone)]
struct Fake {
    listed: ListedCluster,
    details: Cluster,
    busy: usize,
    last_step_end: Option<Timestamp>,
    metrics: ClusterMetrics,
    fail_details: bool,
    /// Where its notebook activity was published; `None`: its tagged
    /// profile's namespace, as its own nodes publish.
    activity_namespace: Option<String>,
}

/// An idle, managed tutorial cluster, two hours old.
fn idle(id: &str) -> Fake {
    Fake {
        listed: ListedCluster {
            id: id.into(),
            name: "sparkhub-tutorial".into(),
            state: ClusterState::Waiting,
            created_at: Some(ago(120)),
            ready_at: Some(ago(110)),
        },
        details: Cluster {
            id: id.into(),
            name: "sparkhub-tutorial".into(),
            state: ClusterState::Waiting,
            tags: BTreeMap::from([
                ("sparkhub:managed".into(), "true".into()),
                ("sparkhub:profile".into(), "tutorial".into()),
            ]),
            termination_protected: false,
            applications: vec!["Spark".into(), "JupyterHub".into()],
            master_dns: None,
            key_name: None,
            created_at: None,
            ready_at: None,
        },
        busy: 0,
        last_step_end: None,
        metrics: ClusterMetrics {
            is_idle: series(70, 1.0),
            busy: series(70, 0.0),
        },
        fail_details: false,
        activity_namespace: None,
    }
}

/// One AddTags call: the cluster and its tags.
type Tagged = (String, Vec<(String, String)>);

#[derive(Default)]
struct Fleet {
    clusters: Vec<Fake>,
    described: Mutex<Vec<String>>,
    terminate_calls: Mutex<Vec<Vec<String>>>,
    fail_terminate: bool,
    fail_listing: bool,
    /// AddTags calls: cluster, tags.
    tagged: Mutex<Vec<Tagged>>,
    fail_tagging: bool,
}

impl ClusterTagger for Fleet {
    async fn add_tags(&self, id: &str, tags: &[(&str, &str)]) -> Result<(), AwsError> {
        if self.fail_tagging {
            return Err(AwsError::new("EMR AddTags", true, None, "injected"));
        }
        self.tagged.lock().unwrap().push((
            id.into(),
            tags.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ));
        Ok(())
    }
}

impl ClusterFleet for Fleet {
    async fn list_active(&self) -> Result<Vec<ListedCluster>, AwsError> {
        if self.fail_listing {
            return Err(AwsError::new(
                "EMR ListClusters",
                true,
                Some("ThrottlingException".into()),
                "injected",
            ));
        }
        Ok(self.clusters.iter().map(|c| c.listed.clone()).collect())
    }
    async fn details(&self, id: &str) -> Result<Option<Cluster>, AwsError> {
        self.described.lock().unwrap().push(id.into());
        let c = self.clusters.iter().find(|c| c.listed.id == id);
        if c.is_some_and(|c| c.fail_details) {
            return Err(AwsError::new(
                "EMR DescribeCluster",
                true,
                Some("ThrottlingException".into()),
                "injected",
            ));
        }
        Ok(c.map(|c| c.details.clone()))
    }
    async fn steps(&self, id: &str) -> Result<StepActivity, AwsError> {
        Ok(self
            .clusters
            .iter()
            .find(|c| c.listed.id == id)
            .map_or(StepActivity::default(), |c| StepActivity {
                busy: c.busy,
                last_ended: c.last_step_end,
            }))
    }
    async fn terminate(&self, ids: &[String]) -> Result<(), AwsError> {
        assert!(
            ids.len() <= CLUSTERS_PER_TERMINATE_CALL,
            "TerminateJobFlows takes at most ten clusters"
        );
        if self.fail_terminate {
            return Err(AwsError::new(
                "EMR TerminateJobFlows",
                true,
                None,
                "injected",
            ));
        }
        self.terminate_calls.lock().unwrap().push(ids.to_vec());
        Ok(())
    }
}

struct Metrics {
    /// Each cluster's datapoints; its notebook activity as published by its
    /// nodes, in the namespace of its tagged profile.
    by_cluster: BTreeMap<String, (ClusterMetrics, Option<String>)>,
    fail: bool,
    calls: Mutex<usize>,
    queries: Mutex<Vec<MetricsQuery>>,
}

impl MetricsSource for Metrics {
    async fn idle_metrics(
        &self,
        queries: &[MetricsQuery],
        _: Timestamp,
        _: Timestamp,
    ) -> Result<BTreeMap<String, ClusterMetrics>, AwsError> {
        *self.calls.lock().unwrap() += 1;
        self.queries.lock().unwrap().extend_from_slice(queries);
        if self.fail {
            return Err(AwsError::new(
                "CloudWatch GetMetricData",
                true,
                None,
                "injected",
            ));
        }
        // What CloudWatch holds: notebook datapoints only in the namespace
        // of the profile that published them (the cluster's, in these tests).
        Ok(queries
            .iter()
            .filter_map(|q| {
                let (mut m, published_in) = self.by_cluster.get(&q.cluster_id)?.clone();
                if q.activity_namespace.is_none() || q.activity_namespace != published_in {
                    m.busy.clear();
                }
                Some((q.cluster_id.clone(), m))
            })
            .collect())
    }
}

type Sweep = Terminator<
    Profiles,
    Fleet,
    Metrics,
    Outbox,
    History,
    Checks,
    crate::fakes::Budgets,
    crate::fakes::PriceList,
>;

fn terminator(clusters: Vec<Fake>) -> Sweep {
    let by_cluster = clusters
        .iter()
        .map(|c| {
            let namespace = c
                .activity_namespace
                .clone()
                .or_else(|| c.details.profile().map(crate::idle::activity_namespace));
            (c.listed.id.clone(), (c.metrics.clone(), namespace))
        })
        .collect();
    Terminator {
        config: Config {
            bucket: "b".into(),
            dry_run: false,
            topic_arn: Some("arn:aws:sns:us-east-1:1:t".into()),
            max_concurrency: 4,
            checks: None,
        },
        profiles: Profiles::with(&[("tutorial", TUTORIAL)]),
        fleet: Fleet {
            clusters,
            ..Fleet::default()
        },
        metrics: Metrics {
            by_cluster,
            fail: false,
            calls: Mutex::new(0),
            queries: Mutex::new(Vec::new()),
        },
        notifier: Some(Outbox::default()),
        history: History::default(),
        checks: Some(Checks::default()),
        budgets: crate::fakes::Budgets::default(),
        pricing: None,
        now,
    }
}

/// A mixed fleet: each cluster differs from an idle one in one way.
fn mixed() -> Vec<Fake> {
    let mut fleet = vec![idle("j-IDLE")];
    let mut add = |id: &str, change: fn(&mut Fake)| {
        let mut c = idle(id);
        change(&mut c);
        fleet.push(c);
    };
    add("j-PROTECTED", |c| c.details.termination_protected = true);
    add("j-UNMANAGED", |c| {
        c.details.tags.remove("sparkhub:managed");
    });
    add("j-KEPT", |c| {
        c.details.tags.insert(
            "sparkhub:keep-alive-until".into(),
            "2026-11-25T18:00:00Z".into(),
        );
    });
    add("j-STEP", |c| c.busy = 1);
    add("j-YOUNG", |c| c.listed.ready_at = Some(ago(10)));
    // Without JupyterHub (no activity agent), EMR's IsIdle must cover the
    // window; here it does not.
    add("j-GAP", |c| {
        c.details.applications = vec!["Spark".into()];
        c.metrics.busy.clear();
        c.metrics.is_idle.truncate(3);
    });
    add("j-SPARK", |c| c.metrics.is_idle[2].1 = 0.0);
    add("j-NOTEBOOK", |c| c.metrics.busy[1].1 = 2.0);
    add("j-RUNNING", |c| c.listed.state = ClusterState::Running);
    add("j-OLD", |c| {
        c.listed.created_at = Some(ago(13 * 60));
        c.busy = 2;
        c.listed.state = ClusterState::Running;
    });
    fleet
}

#[tokio::test]
async fn exactly_the_idle_and_the_too_old_are_terminated() {
    let t = terminator(mixed());
    let summary = t.sweep().await.unwrap();
    assert_eq!(summary.checked, 11);
    let mut terminated = summary.terminated.clone();
    terminated.sort();
    assert_eq!(terminated, ["j-IDLE", "j-OLD"]);
    let kept: BTreeMap<&str, usize> = summary.kept.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        kept,
        BTreeMap::from([
            ("grace_period", 1),
            ("idle_metric_gap", 1),
            ("kept_alive", 1),
            ("not_managed", 1),
            ("not_waiting", 1),
            ("activity", 1),
            ("spark_busy", 1),
            ("steps_busy", 1),
            ("termination_protected", 1),
        ])
    );
    assert!(summary.errors.is_empty(), "{:?}", summary.errors);
    assert_eq!(summary.clusters.len(), 11, "every cluster is reported");
    let report = |id: &str| {
        summary
            .clusters
            .iter()
            .find(|c| c.cluster_id == id)
            .unwrap()
    };
    assert!(!report("j-SPARK").terminate && report("j-SPARK").reason.contains("IsIdle was 0"));
    assert!(!report("j-YOUNG").terminate && report("j-YOUNG").reason.contains("grace period"));
    assert!(report("j-IDLE").terminate && report("j-IDLE").reason.contains("idle for 60 min"));
    let old = summary
        .to_terminate
        .iter()
        .find(|d| d.cluster_id == "j-OLD")
        .unwrap();
    assert!(
        old.reason.contains("maximum lifetime of 12 h"),
        "{}",
        old.reason
    );
}

#[tokio::test]
async fn only_clusters_still_in_question_are_described() {
    let t = terminator(mixed());
    t.sweep().await.unwrap();
    let mut described = t.fleet.described.lock().unwrap().clone();
    described.sort();
    // The young, gap, spark-busy, notebook and running clusters are decided without DescribeCluster.
    assert_eq!(
        described,
        [
            "j-IDLE",
            "j-KEPT",
            "j-OLD",
            "j-PROTECTED",
            "j-STEP",
            "j-UNMANAGED"
        ]
    );
    assert_eq!(
        *t.metrics.calls.lock().unwrap(),
        1,
        "one batched metrics call"
    );
    assert_eq!(t.fleet.terminate_calls.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn dry_run_decides_the_same_and_terminates_nothing() {
    let mut t = terminator(mixed());
    t.config.dry_run = true;
    let summary = t.sweep().await.unwrap();
    assert!(summary.dry_run);
    assert_eq!(summary.to_terminate.len(), 2);
    assert!(summary.terminated.is_empty());
    assert!(t.fleet.terminate_calls.lock().unwrap().is_empty());
    assert!(sent(&t).is_empty(), "nothing terminated, nothing announced");
}

#[tokio::test]
async fn every_termination_is_announced_with_cluster_profile_idle_minutes_and_reason() {
    let t = terminator(vec![idle("j-IDLE")]);
    t.sweep().await.unwrap();
    let sent = sent(&t);
    assert_eq!(sent.len(), 1);
    let Sent {
        subject, message, ..
    } = &sent[0];
    assert_eq!(subject, "sparkhub terminated j-IDLE (tutorial)");
    assert!(
        message.contains("Profile: tutorial")
            && message.contains("Idle: 60 minutes")
            && message.contains("Reason: idle for 60 min"),
        "{message}"
    );
}

#[tokio::test]
async fn a_failure_on_one_cluster_keeps_it_and_the_sweep_goes_on() {
    let mut broken = idle("j-BROKEN");
    broken.fail_details = true;
    let t = terminator(vec![broken, idle("j-IDLE")]);
    let summary = t.sweep().await.unwrap();
    assert_eq!(summary.terminated, ["j-IDLE"]);
    assert_eq!(summary.kept.get("error"), Some(&1));
    assert!(
        summary.errors[0].contains("j-BROKEN"),
        "{:?}",
        summary.errors
    );
}

#[tokio::test]
async fn without_metrics_nothing_is_idle_but_lifetimes_still_end() {
    let mut old = idle("j-OLD");
    old.listed.created_at = Some(ago(13 * 60));
    let mut t = terminator(vec![idle("j-IDLE"), old]);
    t.metrics.fail = true;
    let summary = t.sweep().await.unwrap();
    assert_eq!(summary.terminated, ["j-OLD"]);
    assert_eq!(summary.kept.get("idle_metric_gap"), Some(&1));
    assert_eq!(summary.errors.len(), 1);
}

#[tokio::test]
async fn failed_terminations_are_reported_not_counted() {
    let mut t = terminator(vec![idle("j-IDLE")]);
    t.fleet.fail_terminate = true;
    let summary = t.sweep().await.unwrap();
    assert_eq!(summary.to_terminate.len(), 1);
    assert!(summary.terminated.is_empty());
    assert!(
        summary.errors[0].contains("terminating j-IDLE"),
        "{:?}",
        summary.errors
    );
}

#[tokio::test]
async fn a_failed_listing_is_a_retryable_error() {
    let mut t = terminator(vec![idle("j-IDLE")]);
    t.fleet.fail_listing = true;
    let d = Reported::from(t.sweep().await.unwrap_err());
    assert_eq!(d.error_type, "sparkhub.Retryable");
}

#[tokio::test]
async fn terminations_go_out_ten_at_a_time() {
    let clusters: Vec<Fake> = (0..23).map(|i| idle(&format!("j-{i:02}"))).collect();
    let t = terminator(clusters);
    let summary = t.sweep().await.unwrap();
    assert_eq!(summary.terminated.len(), 23);
    let sizes: Vec<usize> = t
        .fleet
        .terminate_calls
        .lock()
        .unwrap()
        .iter()
        .map(Vec::len)
        .collect();
    assert_eq!(sizes, [10, 10, 3]);
}

#[tokio::test]
async fn a_cluster_whose_profile_is_gone_gets_the_slower_fallback_policy() {
    let mut orphan = idle("j-ORPHAN");
    orphan
        .details
        .tags
        .insert("sparkhub:profile".into(), "deleted".into());
    orphan.listed.name = "sparkhub-deleted".into();
    orphan.details.name = "sparkhub-deleted".into();
    let t = terminator(vec![orphan.clone()]);
    // 110 minutes since ready: past the tutorial's grace, inside the fallback's 60 + 120 idle window.
    let summary = t.sweep().await.unwrap();
    assert!(
        summary.terminated.is_empty(),
        "the fallback window (120 min) is not covered by 70 min of data"
    );
    orphan.metrics.is_idle = series(130, 1.0);
    orphan.metrics.busy = series(130, 0.0);
    let t = terminator(vec![orphan]);
    assert_eq!(t.sweep().await.unwrap().terminated, ["j-ORPHAN"]);
}

#[test]
fn dry_run_setting_is_strict() {
    let env = |v: &'static str| {
        move |k: &str| match k {
            "SPARKHUB_BUCKET" => Some("b".to_string()),
            "SPARKHUB_DRY_RUN" => Some(v.to_string()),
            _ => None,
        }
    };
    assert!(Config::from_lookup(env("true")).unwrap().dry_run);
    assert!(!Config::from_lookup(env("false")).unwrap().dry_run);
    assert!(
        Config::from_lookup(env("yes"))
            .unwrap_err()
            .to_string()
            .contains("SPARKHUB_DRY_RUN=\"yes\"")
    );
}

#[test]
fn max_concurrency_setting_defaults_to_emrs_burst() {
    let env = |v: Option<&'static str>| {
        move |k: &str| match k {
            "SPARKHUB_BUCKET" => Some("b".to_string()),
            "SPARKHUB_MAX_CONCURRENCY" => v.map(str::to_string),
            _ => None,
        }
    };
    assert_eq!(Config::from_lookup(env(None)).unwrap().max_concurrency, 10);
    assert_eq!(
        Config::from_lookup(env(Some("3"))).unwrap().max_concurrency,
        3
    );
    let err = Config::from_lookup(env(Some("0"))).unwrap_err().to_string();
    assert!(err.contains("SPARKHUB_MAX_CONCURRENCY=\"0\""), "{err}");
}

#[tokio::test]
async fn the_verdicts_the_report_and_the_calls_do_not_depend_on_the_concurrency() {
    let fleet = || {
        let mut fleet = Vec::new();
        for round in 0..7 {
            for mut c in mixed() {
                let id = format!("{}-{round}", c.listed.id);
                c.listed.id.clone_from(&id);
                c.details.id = id;
                fleet.push(c);
            }
        }
        fleet
    };
    let run = |limit: usize| async move {
        let mut t = terminator(fleet());
        t.config.max_concurrency = limit;
        let summary = t.sweep().await.unwrap();
        let described = t.fleet.described.lock().unwrap().clone();
        let batches = t.fleet.terminate_calls.lock().unwrap().clone();
        let notices = sent(&t);
        (summary, described, batches, notices)
    };
    let (sequential, described_1, batches_1, notices_1) = run(1).await;
    assert!(
        sequential.terminated.len() > CLUSTERS_PER_TERMINATE_CALL,
        "more than one termination batch: {:?}",
        sequential.terminated
    );
    for limit in [2, 10, 100] {
        let (concurrent, described, batches, notices) = run(limit).await;
        assert_eq!(concurrent, sequential, "max_concurrency {limit}");
        assert_eq!(described, described_1, "the same DescribeCalls, in order");
        assert_eq!(batches, batches_1, "the same TerminateJobFlows batches");
        assert_eq!(notices, notices_1, "the same messages, in order");
    }
}

#[test]
fn a_sweep_is_too_slow_past_half_its_interval() {
    assert_eq!(SWEEP_INTERVAL, SignedDuration::from_mins(5));
    for (seconds, slow) in [
        (0, false),
        (60, false),
        (150, false),
        (151, true),
        (299, true),
    ] {
        assert_eq!(
            too_slow(SignedDuration::from_secs(seconds)),
            slow,
            "{seconds} s"
        );
    }
    let template = include_str!("../../../../infra/template.yaml");
    assert!(
        template.contains(&format!(
            "Schedule: rate({} minutes)",
            SWEEP_INTERVAL.as_mins()
        )),
        "the template schedules the sweep every SWEEP_INTERVAL"
    );
}

#[tokio::test]
async fn the_sweep_reports_its_duration() {
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    fn slow_clock() -> Timestamp {
        // Every reading of the clock is 40 s after the one before.
        let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        now() + SignedDuration::from_secs(40 * i64::from(n))
    }
    let mut t = terminator(mixed());
    t.now = slow_clock;
    let summary = t.sweep().await.unwrap();
    assert!(summary.duration_ms >= 40_000, "{}", summary.duration_ms);
    let line: serde_json::Value = serde_json::from_str(&summary.embedded_metrics(now())).unwrap();
    assert_eq!(line["SweepDuration"], summary.duration_ms);
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Metrics"][3]["Name"],
        "SweepDuration"
    );
}

#[test]
fn embedded_metrics_carry_the_counts() {
    let summary = Summary {
        checked: 7,
        terminated: vec!["j-1".into()],
        ..Summary::default()
    };
    let line: serde_json::Value = serde_json::from_str(&summary.embedded_metrics(now())).unwrap();
    assert_eq!(line["ClustersChecked"], 7);
    assert_eq!(line["ClustersTerminated"], 1);
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "Sparkhub"
    );
}

/// The tutorial profile, renamed `long`, that lets a cluster live 72 hours.
fn long_profile() -> String {
    TUTORIAL
        .replacen("name = \"tutorial\"", "name = \"long\"", 1)
        .replacen("max_lifetime_hours = 12", "max_lifetime_hours = 72", 1)
}

/// A 30-hour-old cluster of `profile` that someone uses in a notebook.
fn thirty_hours_old(id: &str, profile: &str) -> Fake {
    let mut c = idle(id);
    c.listed.created_at = Some(ago(30 * 60));
    c.details
        .tags
        .insert("sparkhub:profile".into(), profile.into());
    c.metrics.busy = series(70, 1.0);
    c
}

/// A profile that exists but cannot be read, parsed or validated keeps its
/// clusters (reported, with the reason); only a profile that is gone gets
/// the fallback policy's 24 hours.
#[tokio::test]
async fn a_profile_that_exists_but_cannot_be_used_keeps_its_clusters() {
    let broken_toml = long_profile().replacen("[idle]", "[idle", 1);
    let invalid = long_profile().replacen("timeout_minutes = 60", "timeout_minutes = 1", 1);
    let oversized = format!(
        "{}\n# {}\n",
        long_profile(),
        "x".repeat(crate::profile::MAX_PROFILE_BYTES)
    );
    let cases: &[(&str, Profiles, &str)] = &[
        (
            "someone stored a huge object under its name",
            Profiles::with(&[("long", &oversized)]),
            "cannot be parsed",
        ),
        (
            "an edit broke its TOML",
            Profiles::with(&[("long", &broken_toml)]),
            "cannot be parsed",
        ),
        (
            "an edit made it invalid",
            Profiles::with(&[("long", &invalid)]),
            "is invalid",
        ),
        (
            "S3 fails to read it",
            Profiles {
                fail_reading: vec!["long".into()],
                ..Profiles::with(&[("long", &long_profile())])
            },
            "could not be read",
        ),
    ];
    for (what, profiles, says) in cases {
        let mut t = terminator(vec![thirty_hours_old("j-LONG", "long")]);
        t.profiles = Profiles {
            texts: Mutex::new(profiles.texts.lock().unwrap().clone()),
            fail_listing: profiles.fail_listing,
            fail_reading: profiles.fail_reading.clone(),
            fail_every_read: profiles.fail_every_read,
        };
        let summary = t.sweep().await.unwrap();
        assert!(summary.terminated.is_empty(), "{what}: {summary:?}");
        assert_eq!(summary.kept.get("profile_unusable"), Some(&1), "{what}");
        let report = &summary.clusters[0];
        assert!(
            !report.terminate && report.reason.contains("\"long\"") && report.reason.contains(says),
            "{what}: {}",
            report.reason
        );
        assert_eq!(summary.errors.len(), 1, "{what}: {:?}", summary.errors);
        assert!(
            summary.errors[0].contains("profile long") && summary.errors[0].contains("kept"),
            "{what}: {:?}",
            summary.errors
        );
        if what.contains("huge") {
            assert!(
                summary.errors[0].contains("a profile has at most 262144 bytes"),
                "{what}: {:?}",
                summary.errors
            );
        }
    }
}

/// When the profiles cannot be listed, each cluster's profile is read on its
/// own: a readable one gives its own policy, a missing one the fallback.
#[tokio::test]
async fn a_failed_profile_listing_does_not_put_every_cluster_on_the_fallback_policy() {
    let mut t = terminator(vec![
        thirty_hours_old("j-LONG", "long"),
        thirty_hours_old("j-ORPHAN", "deleted"),
    ]);
    t.profiles = Profiles {
        fail_listing: true,
        ..Profiles::with(&[("long", &long_profile())])
    };
    let summary = t.sweep().await.unwrap();
    assert_eq!(
        summary.terminated,
        ["j-ORPHAN"],
        "the orphan is past the fallback's 24 h; the other lives by its profile's 72 h"
    );
    let orphan = summary
        .to_terminate
        .iter()
        .find(|d| d.cluster_id == "j-ORPHAN")
        .unwrap();
    assert!(
        orphan.reason.contains("maximum lifetime of 24 h"),
        "{}",
        orphan.reason
    );
    let long = summary
        .clusters
        .iter()
        .find(|c| c.cluster_id == "j-LONG")
        .unwrap();
    assert!(!long.terminate, "{}", long.reason);
    assert!(
        summary
            .errors
            .iter()
            .any(|e| e.contains("listing profiles")),
        "{:?}",
        summary.errors
    );
}

/// A keep-alive tag in the year 9999 does not keep a cluster past its
/// maximum lifetime; the announcement says the tag did not count.
#[tokio::test]
async fn a_keep_alive_tag_far_in_the_future_does_not_outlive_the_maximum_lifetime() {
    let mut forever = idle("j-FOREVER");
    forever.listed.created_at = Some(ago(13 * 60));
    forever.details.tags.insert(
        "sparkhub:keep-alive-until".into(),
        "9999-12-31T23:59:59Z".into(),
    );
    let mut tomorrow = forever.clone();
    tomorrow.listed.id = "j-TOMORROW".into();
    tomorrow.details.id = "j-TOMORROW".into();
    tomorrow.details.tags.insert(
        "sparkhub:keep-alive-until".into(),
        (now() + SignedDuration::from_hours(20)).to_string(),
    );
    let t = terminator(vec![forever, tomorrow]);
    let summary = t.sweep().await.unwrap();
    assert_eq!(summary.terminated, ["j-FOREVER"]);
    let notice = &sent(&t)[0].message;
    assert!(
        notice.contains("maximum lifetime of 12 h")
            && notice.contains("9999-12-31T23:59:59Z")
            && notice.contains("does not count"),
        "{notice}"
    );
    assert_eq!(summary.kept.get("kept_alive"), Some(&1));
}

/// A tutorial cluster (timeout 60, warning 15) idle for `minutes` by every
/// sign (an IsIdle bucket speaks up to 10 minutes ahead: idle 55 minutes is
/// idle 45 minutes for certain, within the warning).
fn idle_for(id: &str, minutes: i64) -> Fake {
    let mut c = idle(id);
    // Busy before: the idle period began `minutes` ago.
    for (t, v) in &mut c.metrics.is_idle {
        *v = if now().duration_since(*t) < SignedDuration::from_mins(minutes) {
            1.0
        } else {
            0.0
        };
    }
    c
}

fn sent(t: &Sweep) -> Vec<Sent> {
    t.notifier.as_ref().unwrap().sent()
}

#[tokio::test]
async fn a_cluster_idle_for_timeout_less_warn_gets_one_warning_and_the_tag() {
    let t = terminator(vec![idle_for("j-SOON", 55)]);
    let summary = t.sweep().await.unwrap();
    assert!(summary.terminated.is_empty(), "{summary:?}");
    assert_eq!(summary.warnings_sent, 1);
    assert_eq!(summary.warnings.len(), 1);
    let messages = sent(&t);
    assert_eq!(messages.len(), 1);
    let Sent {
        subject, message, ..
    } = &messages[0];
    assert_eq!(
        subject,
        "sparkhub will terminate j-SOON (tutorial) in 16 min"
    );
    assert!(
        message.contains("Profile: tutorial")
            && message.contains("Terminated by: 2026-11-25T12:16:00Z")
            && message.contains("Why: idle for 60 min")
            && message.contains("sparkhub keep-alive j-SOON --for 2h"),
        "{message}"
    );
    let tagged = t.fleet.tagged.lock().unwrap().clone();
    assert_eq!(
        tagged,
        [(
            "j-SOON".to_string(),
            vec![("sparkhub:warned-at".to_string(), NOW.to_string())]
        )]
    );
    let line: serde_json::Value = serde_json::from_str(&summary.embedded_metrics(now())).unwrap();
    assert_eq!(line["WarningsSent"], 1);
    assert!(
        line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["Name"] == "WarningsSent")
    );
}

#[tokio::test]
async fn the_next_sweep_sends_no_second_warning_in_the_same_idle_period() {
    let mut warned = idle_for("j-SOON", 55);
    warned.details.tags.insert(
        "sparkhub:warned-at".into(),
        (now() - SignedDuration::from_mins(5)).to_string(),
    );
    let t = terminator(vec![warned]);
    let summary = t.sweep().await.unwrap();
    assert_eq!(summary.warnings_sent, 0, "{summary:?}");
    assert!(sent(&t).is_empty());
    assert!(t.fleet.tagged.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_cluster_busy_since_its_last_warning_gets_a_new_one() {
    // Warned two hours ago; busy since, idle again for 55 minutes.
    let mut again = idle_for("j-AGAIN", 55);
    again.details.tags.insert(
        "sparkhub:warned-at".into(),
        (now() - SignedDuration::from_hours(2)).to_string(),
    );
    let t = terminator(vec![again]);
    assert_eq!(t.sweep().await.unwrap().warnings_sent, 1);
}

#[tokio::test]
async fn busy_protected_kept_alive_and_young_clusters_are_not_warned() {
    let mut step = idle_for("j-STEP", 55);
    step.busy = 1;
    let mut protected = idle_for("j-PROTECTED", 55);
    protected.details.termination_protected = true;
    let mut kept = idle_for("j-KEPT", 55);
    kept.details.tags.insert(
        "sparkhub:keep-alive-until".into(),
        (now() + SignedDuration::from_hours(2)).to_string(),
    );
    let mut unmanaged = idle_for("j-UNMANAGED", 55);
    unmanaged.details.tags.remove("sparkhub:managed");
    let t = terminator(vec![
        step,
        protected,
        kept,
        unmanaged,
        idle_for("j-RECENT", 30),
    ]);
    let summary = t.sweep().await.unwrap();
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
    assert!(sent(&t).is_empty());
    assert!(t.fleet.tagged.lock().unwrap().is_empty());
}

#[tokio::test]
async fn no_warning_when_warn_minutes_is_zero() {
    let mut t = terminator(vec![idle_for("j-SOON", 55)]);
    t.profiles = Profiles::with(&[(
        "tutorial",
        &TUTORIAL.replacen("[idle]", "[idle]\nwarn_minutes = 0", 1),
    )]);
    let summary = t.sweep().await.unwrap();
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
    assert!(sent(&t).is_empty());
}

#[tokio::test]
async fn a_dry_run_reports_who_would_be_warned_and_warns_nobody() {
    let mut t = terminator(vec![idle_for("j-SOON", 55)]);
    t.config.dry_run = true;
    let summary = t.sweep().await.unwrap();
    assert_eq!(summary.warnings.len(), 1, "would warn");
    assert_eq!(summary.warnings[0].cluster_id, "j-SOON");
    assert_eq!(summary.warnings_sent, 0);
    assert!(sent(&t).is_empty());
    assert!(t.fleet.tagged.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_end_of_a_maximum_lifetime_is_warned_about_once() {
    let mut old = thirty_hours_old("j-OLD", "tutorial");
    old.listed.created_at = Some(ago(12 * 60 - 10));
    let t = terminator(vec![old.clone()]);
    let summary = t.sweep().await.unwrap();
    assert_eq!(summary.warnings_sent, 1, "{summary:?}");
    let message = &sent(&t)[0].message;
    assert!(
        message.contains("maximum lifetime of 12 h")
            && message.contains("Terminated by: 2026-11-25T12:10:00Z"),
        "{message}"
    );
    old.details
        .tags
        .insert("sparkhub:warned-at".into(), ago(5).to_string());
    let t = terminator(vec![old]);
    assert_eq!(t.sweep().await.unwrap().warnings_sent, 0);
}

#[tokio::test]
async fn a_failed_warning_is_counted_and_blocks_no_termination() {
    let mut t = terminator(vec![idle_for("j-SOON", 55), idle("j-IDLE")]);
    t.fleet.fail_tagging = true;
    let summary = t.sweep().await.unwrap();
    assert_eq!(summary.terminated, ["j-IDLE"]);
    assert_eq!(summary.warnings_sent, 1, "the message went out");
    assert!(
        summary.errors.iter().any(|e| e.contains("j-SOON")),
        "{:?}",
        summary.errors
    );
}

/// What `sparkhub status` and the sweep's answer say of clusters the
/// listing alone keeps: a running one by its state, a young one as in the
/// shortest grace period (not with a count of minutes that is only the
/// shortest profile's).
#[tokio::test]
async fn clusters_the_listing_keeps_are_reported_with_their_reason() {
    let mut running = idle("j-RUNNING");
    running.listed.state = ClusterState::Running;
    let mut young = idle("j-YOUNG");
    young.listed.ready_at = Some(ago(5));
    let t = terminator(vec![running, young]);
    let summary = t.sweep().await.unwrap();
    let reason = |id: &str| {
        summary
            .clusters
            .iter()
            .find(|c| c.cluster_id == id)
            .map(|c| (c.terminate, c.reason.clone()))
    };
    assert_eq!(reason("j-RUNNING"), Some((false, "state RUNNING".into())));
    assert_eq!(
        reason("j-YOUNG"),
        Some((false, "in the shortest grace period of any profile".into()))
    );
    assert_eq!(summary.kept.get("grace_period"), Some(&1));
    assert_eq!(summary.kept.get("not_waiting"), Some(&1));
}

#[tokio::test]
async fn each_termination_and_each_warning_sent_is_recorded_once() {
    let mut clusters = mixed();
    clusters.push(idle_for("j-SOON", 55));
    let t = terminator(clusters);
    let summary = t.sweep().await.unwrap();
    let mut written = t.history.written();
    written.sort_by(|a, b| a.cluster_id.cmp(&b.cluster_id));
    let seen: Vec<(&str, RecordKind, Cause)> = written
        .iter()
        .map(|r| (r.cluster_id.as_str(), r.kind, r.cause))
        .collect();
    assert_eq!(
        seen,
        [
            ("j-IDLE", RecordKind::Termination, Cause::Idle),
            ("j-OLD", RecordKind::Termination, Cause::MaxLifetime),
            ("j-SOON", RecordKind::Warning, Cause::Idle),
        ],
        "kept clusters leave no record"
    );
    let idle = &written[0];
    assert_eq!(idle.profile, "tutorial");
    assert_eq!(idle.cluster_name, "sparkhub-tutorial");
    assert_eq!(idle.idle_minutes, Some(60));
    assert_eq!(idle.created_at, Some(ago(120)));
    assert_eq!(idle.ready_at, Some(ago(110)));
    assert_eq!(idle.ended_at, Some(now()));
    assert_eq!(
        idle.key(),
        format!(
            "history/2026-11-25/j-IDLE-termination-{}.json",
            now().as_second()
        )
    );
    assert_eq!(written[2].terminate_by, Some(ago(-16)));
    assert_eq!(summary.history_written, 3);
    assert_eq!(summary.history_write_failures, 0);
}

#[tokio::test]
async fn a_dry_run_records_nothing() {
    let mut clusters = mixed();
    clusters.push(idle_for("j-SOON", 55));
    let mut t = terminator(clusters);
    t.config.dry_run = true;
    let summary = t.sweep().await.unwrap();
    assert_eq!(summary.to_terminate.len(), 2);
    assert!(t.history.written().is_empty());
    assert_eq!(summary.history_written, 0);
}

#[tokio::test]
async fn a_termination_that_failed_is_not_recorded() {
    let mut t = terminator(vec![idle("j-IDLE")]);
    t.fleet.fail_terminate = true;
    t.sweep().await.unwrap();
    assert!(t.history.written().is_empty());
}

#[tokio::test]
async fn a_failed_history_write_is_counted_and_undoes_nothing() {
    let mut t = terminator(vec![idle("j-IDLE"), idle_for("j-SOON", 55)]);
    t.history.fail = true;
    let summary = t.sweep().await.unwrap();
    assert_eq!(summary.terminated, ["j-IDLE"]);
    assert_eq!(summary.warnings_sent, 1);
    assert_eq!(sent(&t).len(), 2, "the termination notice and the warning");
    assert_eq!(summary.history_written, 0);
    assert_eq!(summary.history_write_failures, 2);
    let line: serde_json::Value = serde_json::from_str(&summary.embedded_metrics(now())).unwrap();
    assert_eq!(line["HistoryWriteFailures"], 2);
    assert!(
        line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["Name"] == "HistoryWriteFailures")
    );
}

#[tokio::test]
async fn the_metric_lines_count_active_clusters_by_profile_and_terminations_by_reason() {
    let mut clusters = mixed();
    let mut other = idle("j-ELSEWHERE");
    other.listed.name = "nightly-etl".into();
    other.details.tags.clear();
    clusters.push(other);
    let t = terminator(clusters);
    let summary = t.sweep().await.unwrap();
    let lines: Vec<serde_json::Value> = summary
        .metric_lines(now())
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines[0]["ClustersChecked"], 12,
        "the sweep's own line first"
    );
    let by = |dimension: &str, metric: &str| -> BTreeMap<String, i64> {
        lines
            .iter()
            .filter(|l| {
                l["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
                    == serde_json::json!(["Function", dimension])
            })
            .map(|l| {
                (
                    l[dimension].as_str().unwrap().to_owned(),
                    l[metric].as_i64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(
        by("Profile", "ActiveClusters"),
        BTreeMap::from([("(other)".into(), 1), ("tutorial".into(), 11)])
    );
    assert_eq!(
        by("Reason", "Terminations"),
        BTreeMap::from([("idle".into(), 1), ("max-lifetime".into(), 1)])
    );

    // A sweep that terminates nothing still says so, with zeros.
    let quiet = terminator(vec![idle_for("j-SOON", 20)])
        .sweep()
        .await
        .unwrap();
    let zeros: Vec<serde_json::Value> = quiet
        .metric_lines(now())
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|l: &serde_json::Value| l.get("Terminations").is_some())
        .collect();
    assert_eq!(zeros.len(), 2);
    assert!(zeros.iter().all(|l| l["Terminations"] == 0));
}

/// Threat model, notebook users: a node publishes activity in its own
/// profile's namespace only, and the sweep reads a cluster's activity from
/// the namespace of the profile its name and tag agree on. A cluster whose
/// name says another profile than its tag has no notebook signal at all, as
/// with a silent reporter.
#[tokio::test]
async fn activity_is_read_from_the_clusters_own_profiles_namespace_only() {
    let mut busy = idle("j-BUSY");
    busy.metrics.busy = series(70, 1.0);
    let t = terminator(vec![busy.clone()]);
    let summary = t.sweep().await.unwrap();
    assert!(summary.terminated.is_empty(), "someone works: kept");
    assert!(
        !summary.kept.contains_key("activity_metric_gap"),
        "kept for the activity: {:?}",
        summary.kept
    );
    let asked = t.metrics.queries.lock().unwrap().clone();
    assert_eq!(
        asked,
        [MetricsQuery {
            cluster_id: "j-BUSY".into(),
            activity_namespace: Some("Sparkhub/Activity/tutorial".into()),
        }]
    );

    // Named for another profile than its tag (sparkhub names a cluster after
    // its profile, so only a cluster made by other hands): the idle signal
    // retrain's nodes publish for it there counts for nothing, so it cannot
    // end the tutorial cluster early either; no signal, kept as for a
    // silent reporter.
    busy.listed.name = "sparkhub-retrain".into();
    busy.details.name = "sparkhub-retrain".into();
    busy.metrics.busy = series(70, 0.0);
    busy.activity_namespace = Some(crate::idle::activity_namespace("retrain"));
    let t = terminator(vec![busy]);
    let summary = t.sweep().await.unwrap();
    assert_eq!(
        t.metrics.queries.lock().unwrap()[0]
            .activity_namespace
            .as_deref(),
        Some("Sparkhub/Activity/retrain")
    );
    assert!(summary.terminated.is_empty(), "{summary:?}");
    assert_eq!(
        summary.kept.get("activity_metric_gap"),
        Some(&1),
        "{:?}",
        summary.kept
    );
}

/// `fake` as a cluster of `profile` (its name and its tag).
fn of_profile(mut fake: Fake, profile: &str) -> Fake {
    fake.listed.name = format!("sparkhub-{profile}");
    fake.details.name = fake.listed.name.clone();
    fake.details
        .tags
        .insert("sparkhub:profile".into(), profile.into());
    fake
}

/// Each warning and each termination notice names the users of its own
/// cluster's profile that have an address (`<profile>/<user>`, in the order
/// of `users`); a profile without addresses, or one that is gone, names
/// nobody, and its messages still go out (the operator's subscription takes
/// every message).
#[tokio::test]
async fn warnings_and_notices_name_the_users_of_their_clusters_profile() {
    let team = TUTORIAL
        .replacen("name = \"tutorial\"", "name = \"team-b\"", 1)
        .replacen(
            "users = [\"philipp\", \"admin\"]",
            "users = [\"zoe\", \"max\", \"ada\"]",
            1,
        )
        .replacen(
            "philipp = \"philipp@example.com\"",
            "max = \"max@example.com\"\nzoe = \"zoe@example.com\"",
            1,
        );
    let quiet = TUTORIAL
        .replacen("name = \"tutorial\"", "name = \"quiet\"", 1)
        .replacen("[emails]\nphilipp = \"philipp@example.com\"\n", "", 1);
    assert!(!quiet.contains("[emails]"));
    let cases: &[(&str, &[&str])] = &[
        ("tutorial", &["tutorial/philipp"]),
        ("team-b", &["team-b/zoe", "team-b/max"]),
        ("quiet", &[]),
    ];
    let mut clusters = Vec::new();
    for (profile, _) in cases {
        clusters.push(of_profile(idle(&format!("j-IDLE-{profile}")), profile));
        clusters.push(of_profile(
            idle_for(&format!("j-SOON-{profile}"), 55),
            profile,
        ));
    }
    // Its profile deleted: the fallback policy's 24 hours are over.
    clusters.push(thirty_hours_old("j-GONE", "gone"));
    let mut t = terminator(clusters);
    t.profiles = Profiles::with(&[("tutorial", TUTORIAL), ("team-b", &team), ("quiet", &quiet)]);
    let summary = t.sweep().await.unwrap();
    assert!(summary.errors.is_empty(), "{:?}", summary.errors);
    let messages = sent(&t);
    let to = |id: &str| -> Vec<String> {
        let about: Vec<&Sent> = messages
            .iter()
            .filter(|m| m.subject.contains(&format!("{id} ")))
            .collect();
        assert_eq!(about.len(), 1, "one message about {id}: {messages:#?}");
        about[0].recipients.clone()
    };
    for (profile, expected) in cases {
        let notice = format!("j-IDLE-{profile}");
        let warning = format!("j-SOON-{profile}");
        assert_eq!(to(&notice), *expected, "the notice about {notice}");
        assert_eq!(to(&warning), *expected, "the warning about {warning}");
        let decided = summary
            .to_terminate
            .iter()
            .find(|d| d.cluster_id == notice)
            .unwrap();
        assert_eq!(decided.recipients, *expected, "{notice} in the summary");
        let warned = summary
            .warnings
            .iter()
            .find(|w| w.cluster_id == warning)
            .unwrap();
        assert_eq!(warned.recipients, *expected, "{warning} in the summary");
    }
    assert_eq!(
        to("j-GONE"),
        Vec::<String>::new(),
        "a gone profile names nobody"
    );
    assert_eq!(summary.warnings_sent, 3);
    assert_eq!(summary.terminated.len(), 4);
}

/// A kept cluster whose idle termination falls due before the next sweep
/// gets one check at that minute, for the sweep function that asked; a
/// dry run lists it and schedules nothing; without the function's ARN
/// nothing is scheduled either.
#[tokio::test]
async fn a_termination_due_before_the_next_sweep_gets_a_check_at_its_minute() {
    let mut soon = idle("j-SOON3");
    // The agent's minutes: busy until 57 minutes ago (the tutorial's
    // timeout is 60), and EMR's IsIdle says nothing against it.
    soon.metrics.busy = (0..=130)
        .map(|m| (ago(m), if m >= 57 { 1.0 } else { 0.0 }))
        .collect();
    // Warned 14 minutes ago in this idle period: its warning named 60.
    soon.details
        .tags
        .insert("sparkhub:warned-at".into(), ago(14).to_string());
    let t = terminator(vec![soon.clone(), idle("j-IDLE")]);
    let function = "arn:aws:lambda:us-east-1:1:function:sweep";
    let summary = t.run(&SweepEvent::default(), Some(function)).await.unwrap();
    assert_eq!(summary.terminated, ["j-IDLE"]);
    let due = ago(57) + SignedDuration::from_mins(60);
    assert_eq!(
        summary.checks,
        [Check {
            cluster_id: "j-SOON3".into(),
            at: due
        }]
    );
    assert_eq!(
        t.checks.as_ref().unwrap().scheduled(),
        [("j-SOON3".to_owned(), due, function.to_owned())]
    );

    let mut dry = terminator(vec![soon.clone()]);
    dry.config.dry_run = true;
    let summary = dry
        .run(&SweepEvent::default(), Some(function))
        .await
        .unwrap();
    assert_eq!(summary.checks.len(), 1);
    assert!(dry.checks.as_ref().unwrap().scheduled().is_empty());

    let plain = terminator(vec![soon]);
    plain.sweep().await.unwrap();
    assert!(plain.checks.as_ref().unwrap().scheduled().is_empty());
}

/// A cluster of a warm pool: the pool's idle minutes decide, nobody is
/// warned, and a cluster a run claimed moments ago is left alone.
fn pooled(id: &str, idle_minutes: i64) -> Fake {
    let mut c = idle_for(id, idle_minutes);
    c.listed.name = "sparkhub-pooltest".into();
    c.details.name = "sparkhub-pooltest".into();
    c.details
        .tags
        .insert("sparkhub:profile".into(), "pooltest".into());
    c.details.applications = vec!["Spark".into(), "Hadoop".into()];
    c
}

#[tokio::test]
async fn a_pooled_cluster_ends_after_the_pools_idle_minutes_unless_just_claimed() {
    let mut claimed = pooled("j-CLAIMED", 25);
    claimed
        .details
        .tags
        .insert("sparkhub:claimed-at".into(), ago(3).to_string());
    // Idle 25 minutes: under retrain's own 30, past the pool's 15.
    let t = terminator(vec![pooled("j-SPARE", 25), claimed, pooled("j-RECENT", 10)]);
    let pool = format!(
        "{}\n[pool]\nmax_clusters = 2\nidle_minutes = 15\n",
        include_str!("../../../../profiles/retrain.toml").replacen(
            "name = \"retrain\"",
            "name = \"pooltest\"",
            1
        )
    );
    t.profiles.insert("pooltest", &pool);
    let summary = t.sweep().await.unwrap();
    assert_eq!(summary.terminated, ["j-SPARE"], "{summary:?}");
    assert_eq!(summary.kept.get("claimed"), Some(&1), "{summary:?}");
    assert!(
        sent(&t).iter().all(|m| !m.subject.contains("warning")),
        "no warning for a pool"
    );
    assert!(summary.warnings.is_empty());
}

/// A ready_by run's cluster is ready early on purpose: its grace period
/// counts from ready_by, when its people arrive.
#[tokio::test]
async fn a_ready_by_clusters_grace_period_counts_from_ready_by() {
    let mut early = idle("j-EARLY");
    early
        .details
        .tags
        .insert("sparkhub:ready-by".into(), ago(10).to_string());
    let t = terminator(vec![early, idle("j-PLAIN")]);
    let summary = t.sweep().await.unwrap();
    assert_eq!(summary.terminated, ["j-PLAIN"], "{summary:?}");
    assert_eq!(summary.kept.get("grace_period"), Some(&1), "{summary:?}");
}

/// A profile with a budget: the sweep writes this month's estimate of its
/// clusters (list prices × fleets × hours) and announces each threshold
/// once.
#[tokio::test]
async fn a_budgeted_profiles_month_is_kept_current_and_each_threshold_told_once() {
    let mut t = terminator(vec![idle("j-A")]);
    t.profiles.insert(
        "tutorial",
        &TUTORIAL.replace(
            "monthly_usd = 200",
            "monthly_usd = 1\nalert_percent = [50, 100, 200]",
        ),
    );
    t.pricing = Some(crate::sweep::budget::Pricing {
        source: crate::fakes::PriceList(BTreeMap::from([(
            "m5.xlarge".to_owned(),
            crate::ports::ListPrice {
                ec2: 0.2,
                emr: 0.05,
            },
        )])),
        region: "us-east-1".into(),
    });
    let summary = t.sweep().await.unwrap();
    let month = t
        .budgets
        .month("tutorial", "2026-11")
        .expect("the month's object");
    // Three m5.xlarge at $0.25 for the two hours since 10:00.
    let a = &month.clusters["j-A"];
    assert_eq!((a.hourly_usd, a.from, a.to), (0.75, ago(120), now()));
    assert_eq!(month.spent(), 1.5);
    assert!(a.prices.contains("Price List"), "{}", a.prices);
    assert_eq!(month.alerts_sent, [50, 100]);
    assert_eq!(summary.budget_alerts, 2);
    let told: Vec<String> = sent(&t)
        .into_iter()
        .map(|m| m.subject)
        .filter(|s| s.contains("budget"))
        .collect();
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(
        told[0].contains("50 %") && told[1].contains("100 %"),
        "{told:?}"
    );

    // The next sweep: nothing new to tell.
    let again = t.sweep().await.unwrap();
    assert_eq!(again.budget_alerts, 0);
    assert_eq!(
        sent(&t)
            .iter()
            .filter(|m| m.subject.contains("budget"))
            .count(),
        2
    );
}
