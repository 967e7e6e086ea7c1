//! One sweep over every active cluster.
//!
//! API economy: one `ListClusters` listing; `GetMetricData` in batches of 250
//! clusters for the waiting clusters past the shortest grace period; then
//! `DescribeCluster` + `ListSteps` only for clusters that every sign so far
//! calls idle (or that are past the shortest maximum lifetime); then one
//! `TerminateJobFlows` per ten clusters (the API's limit). A failure on one
//! cluster keeps that cluster and never stops the sweep.
//!
//! A kept cluster the sweep will terminate within its profile's
//! `warn_minutes` gets one warning per idle period (see [`crate::sweep::warning`]):
//! an SNS message, remembered in the `sparkhub:warned-at` tag (`AddTags`). A
//! failed warning is logged and counted; it never holds up a termination.
//! Warnings and termination notices name the users of the cluster's profile
//! that have an e-mail address as their recipients ([`crate::recipients`]);
//! the operator gets them all.
//!
//! Last, each termination made and each warning sent is recorded in the
//! history (`history/`, see [`crate::history`]), one PutObject each. A failed
//! write is logged and counted (`history_write_failures`, the
//! `HistoryWriteFailures` metric); it never undoes or holds up anything.
//!
//! The per-cluster calls (and the termination batches and messages) go out
//! `SPARKHUB_MAX_CONCURRENCY` at a time; their answers are taken in the order
//! asked, so verdicts, report and calls are those of a one-by-one sweep.

use std::collections::BTreeMap;

use crate::ProfileName;
use crate::errors::message_with_causes;
use crate::idle::{
    Bounds, FALLBACK_POLICY, KeepAlive, KeepReason, Listed, ProfileTrouble, Snapshot,
    TerminateReason, Verdict, activity_namespace, judge, next_look, screen_listing, screen_metrics,
};
use crate::loading::{ProfileError, load_profile};
use crate::ports::{
    AwsError, BudgetLedger, CheckScheduler, ClusterFleet, ClusterTagger, HistoryStore,
    ListedCluster, MetricsQuery, MetricsSource, Notifier, PriceSource, ProfileStore, StepActivity,
};
use crate::profile::IdlePolicy;
use crate::recipients::recipients;
use crate::render::{TAG_KEEP_ALIVE_UNTIL, TAG_WARNED_AT};
use crate::settings::Settings;
use futures::{StreamExt, stream};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::history::{Cause, Record, RecordKind};
use crate::sweep::budget::{self as budgets, BudgetPlan, Pricing};
use crate::sweep::history::record_all;
use crate::sweep::warning::{self, Warning};

/// The `Profile` of active clusters not named `sparkhub-<profile>` in the
/// `ActiveClusters` metric.
pub const OTHER_CLUSTERS: &str = "(other)";

/// TerminateJobFlows takes at most ten clusters.
pub const CLUSTERS_PER_TERMINATE_CALL: usize = 10;

/// How often the sweep runs (the template's `rate(5 minutes)`). A sweep that
/// takes more than half of it says so in its log.
pub const SWEEP_INTERVAL: SignedDuration = SignedDuration::from_mins(5);

/// Whether a sweep that took `duration` took more than half of
/// [`SWEEP_INTERVAL`].
pub fn too_slow(duration: SignedDuration) -> bool {
    duration > SWEEP_INTERVAL / 2
}

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("listing the clusters failed, nothing was terminated: {0}")]
    Listing(#[source] AwsError),
}

impl crate::errors::Failure for SweepError {
    fn error_type(&self) -> &'static str {
        match self {
            SweepError::Config(_) => "sparkhub.Config",
            SweepError::Listing(e) if e.retryable => "sparkhub.Retryable",
            SweepError::Listing(_) => "sparkhub.AwsError",
        }
    }
}

/// Read once from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `SPARKHUB_BUCKET`: where the profiles (and so the idle policies) are.
    pub bucket: String,
    /// `SPARKHUB_DRY_RUN=true`: decide, log and report, terminate nothing.
    pub dry_run: bool,
    /// `SPARKHUB_TOPIC_ARN` (optional): one message per termination.
    pub topic_arn: Option<String>,
    /// `SPARKHUB_MAX_CONCURRENCY` (optional, default
    /// [`crate::settings::DEFAULT_MAX_CONCURRENCY`]): per-cluster
    /// calls in flight at once.
    pub max_concurrency: usize,
    /// `SPARKHUB_CHECK_GROUP` and `SPARKHUB_CHECK_ROLE_ARN` (optional, both
    /// or neither): the EventBridge Scheduler group the sweep's one-time
    /// checks go into, and the role the scheduler invokes this function
    /// with. Without them every decision waits for the next sweep.
    pub checks: Option<ChecksConfig>,
}

/// Where the sweep's one-time checks are scheduled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksConfig {
    pub group: String,
    pub role_arn: String,
}

/// What starts a sweep: the schedule every five minutes (every active
/// cluster), or a check a sweep scheduled (`{"check": ["j-…"]}`: those
/// clusters only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SweepEvent {
    #[serde(default)]
    pub check: Vec<String>,
}

/// A one-time check the sweep asked for (in a dry run: would have).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub cluster_id: String,
    pub at: Timestamp,
}

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SweepError> {
        let env = Settings(lookup);
        let bucket = env
            .required("SPARKHUB_BUCKET")
            .map_err(SweepError::Config)?;
        let dry_run = match env.optional("SPARKHUB_DRY_RUN").as_deref().map(str::trim) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(SweepError::Config(format!(
                    "SPARKHUB_DRY_RUN={other:?}; use true or false"
                )));
            }
        };
        let checks = match (
            env.optional("SPARKHUB_CHECK_GROUP"),
            env.optional("SPARKHUB_CHECK_ROLE_ARN"),
        ) {
            (Some(group), Some(role_arn)) => Some(ChecksConfig { group, role_arn }),
            (None, None) => None,
            _ => {
                return Err(SweepError::Config(
                    "SPARKHUB_CHECK_GROUP and SPARKHUB_CHECK_ROLE_ARN go together; set both or neither".into(),
                ));
            }
        };
        Ok(Self {
            bucket,
            dry_run,
            topic_arn: env.optional("SPARKHUB_TOPIC_ARN"),
            max_concurrency: env.max_concurrency().map_err(SweepError::Config)?,
            checks,
        })
    }
}

/// One cluster the sweep decided to terminate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub cluster_id: String,
    pub profile: String,
    pub reason: String,
    /// Minutes without use (the profile's idle timeout), or the hours of a
    /// maximum lifetime.
    pub idle_minutes: Option<i64>,
    /// Who the notice is for besides the operator: `<profile>/<user>` of
    /// each user of its profile with an address (none when the profile is
    /// gone).
    pub recipients: Vec<String>,
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub checked: usize,
    pub dry_run: bool,
    /// Decided to terminate (in a dry run: would have).
    pub to_terminate: Vec<Decision>,
    /// Actually terminated (empty in a dry run).
    pub terminated: Vec<String>,
    /// Kept clusters, counted by reason.
    pub kept: BTreeMap<String, usize>,
    /// Kept clusters due a warning before their termination (in a dry run:
    /// would have been warned).
    pub warnings: Vec<Warning>,
    /// Warnings actually sent (0 in a dry run).
    pub warnings_sent: usize,
    /// One-time checks asked for: a kept cluster whose warning or idle
    /// termination falls due before the next sweep is looked at then (in a
    /// dry run: would have been).
    pub checks: Vec<Check>,
    /// Whether this run was such a check (only the clusters it names).
    pub check_run: bool,
    /// History records written (`history/`): one per termination and per
    /// warning sent; none in a dry run.
    pub history_written: usize,
    /// History records that could not be written (logged; the termination or
    /// warning itself stands).
    pub history_write_failures: usize,
    /// Budget thresholds announced in this sweep.
    pub budget_alerts: usize,
    /// Active clusters by profile, from the listing: a cluster named
    /// `sparkhub-<profile>` (the name sparkhub gives its clusters) counts for
    /// that profile, any other for [`OTHER_CLUSTERS`].
    pub active_by_profile: BTreeMap<String, usize>,
    /// Clusters terminated, by cause (`idle`, `max-lifetime`).
    pub terminated_by_cause: BTreeMap<String, usize>,
    /// Failures; each kept its cluster (or left a warning unsent).
    pub errors: Vec<String>,
    /// Every cluster checked, with the decision and its reason.
    pub clusters: Vec<ClusterReport>,
    /// From the listing to the last call, in milliseconds.
    pub duration_ms: u64,
}

/// One cluster's decision, for people (`sparkhub status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterReport {
    pub cluster_id: String,
    pub name: String,
    pub state: String,
    pub created_at: Option<Timestamp>,
    pub terminate: bool,
    pub reason: String,
}

impl ClusterReport {
    fn of(cluster: &ListedCluster, terminate: bool, reason: &str) -> Self {
        Self {
            cluster_id: cluster.id.clone(),
            name: cluster.name.clone(),
            state: cluster.state.to_string(),
            created_at: cluster.created_at,
            terminate,
            reason: reason.to_owned(),
        }
    }
}

impl Summary {
    fn keep(&mut self, cluster: &ListedCluster, reason: &str, detail: &str) {
        info!(cluster_id = %cluster.id, verdict = "keep", reason, detail, "kept");
        *self.kept.entry(reason.to_owned()).or_default() += 1;
        self.clusters
            .push(ClusterReport::of(cluster, false, detail));
    }

    /// The lines the function prints for CloudWatch (embedded metric
    /// format): [`Self::embedded_metrics`], then (not for a check) one line
    /// per profile with its active clusters (`ActiveClusters` by `Profile`)
    /// and one per cause of
    /// termination (`Terminations` by `Reason`, zeros included, so that the
    /// dashboard's graphs show the sweeps that terminated nothing).
    pub fn metric_lines(&self, now: Timestamp) -> Vec<String> {
        let document = |dimension: &str, value: &str, metric: &str, count: usize| {
            serde_json::json!({
                "_aws": {
                    "Timestamp": now.as_millisecond(),
                    "CloudWatchMetrics": [{
                        "Namespace": "Sparkhub",
                        "Dimensions": [["Function", dimension]],
                        "Metrics": [{"Name": metric, "Unit": "Count"}]
                    }]
                },
                "Function": "terminate-idle-clusters",
                dimension: value,
                metric: count,
            })
            .to_string()
        };
        let mut lines = vec![self.embedded_metrics(now)];
        // A check sees the clusters it names, not how many are active.
        for (profile, n) in self.active_by_profile.iter().filter(|_| !self.check_run) {
            lines.push(document("Profile", profile, "ActiveClusters", *n));
        }
        for cause in [Cause::Idle, Cause::MaxLifetime] {
            let key = cause.as_str();
            let n = self.terminated_by_cause.get(key).copied().unwrap_or(0);
            lines.push(document("Reason", key, "Terminations", n));
        }
        lines
    }

    /// A CloudWatch embedded-metric-format line with the sweep's figures.
    pub fn embedded_metrics(&self, now: Timestamp) -> String {
        serde_json::json!({
            "_aws": {
                "Timestamp": now.as_millisecond(),
                "CloudWatchMetrics": [{
                    "Namespace": "Sparkhub",
                    "Dimensions": [["Function"]],
                    "Metrics": [
                        {"Name": "ClustersChecked", "Unit": "Count"},
                        {"Name": "ClustersTerminated", "Unit": "Count"},
                        {"Name": "SweepErrors", "Unit": "Count"},
                        {"Name": "SweepDuration", "Unit": "Milliseconds"},
                        {"Name": "WarningsSent", "Unit": "Count"},
                        {"Name": "HistoryWriteFailures", "Unit": "Count"}
                    ]
                }]
            },
            "Function": "terminate-idle-clusters",
            "ClustersChecked": self.checked,
            "ClustersTerminated": self.terminated.len(),
            "SweepErrors": self.errors.len(),
            "WarningsSent": self.warnings_sent,
            "HistoryWriteFailures": self.history_write_failures,
            "SweepDuration": self.duration_ms,
            "DryRun": self.dry_run,
        })
        .to_string()
    }
}

pub struct Terminator<P, F, M, N, H, S, B, R> {
    pub config: Config,
    /// Profiles' monthly spending (see `crate::budget`).
    pub budgets: B,
    /// Where the budgets' prices come from (`None`: budgets are not kept).
    pub pricing: Option<Pricing<R>>,
    pub profiles: P,
    pub fleet: F,
    pub metrics: M,
    pub notifier: Option<N>,
    /// Where each termination and warning is recorded (`history/`).
    pub history: H,
    /// Where one-time checks are scheduled (`None`: none are).
    pub checks: Option<S>,
    pub now: fn() -> Timestamp,
}

impl<P, F, M, N, H, S, B, R> Terminator<P, F, M, N, H, S, B, R>
where
    P: ProfileStore + Sync,
    F: ClusterFleet + ClusterTagger + Sync,
    M: MetricsSource + Sync,
    N: Notifier + Sync,
    H: HistoryStore + Sync,
    S: CheckScheduler + Sync,
    B: BudgetLedger + Sync,
    R: PriceSource + Sync,
{
    /// A sweep over every active cluster that schedules no checks.
    pub async fn sweep(&self) -> Result<Summary, SweepError> {
        self.run(&SweepEvent::default(), None).await
    }

    /// A sweep as `event` asks (every active cluster, or the clusters a
    /// check names); `function_arn`, the sweep function's own ARN, is where
    /// the checks it schedules go (`None`: it schedules none).
    pub async fn run(
        &self,
        event: &SweepEvent,
        function_arn: Option<&str>,
    ) -> Result<Summary, SweepError> {
        let now = (self.now)();
        let mut listed = self
            .fleet
            .list_active()
            .await
            .map_err(SweepError::Listing)?;
        let check_run = !event.check.is_empty();
        if check_run {
            listed.retain(|c| event.check.contains(&c.id));
        }
        let mut summary = Summary {
            checked: listed.len(),
            dry_run: self.config.dry_run,
            check_run,
            ..Summary::default()
        };
        for cluster in &listed {
            let profile = profile_of_name(&cluster.name).unwrap_or(OTHER_CLUSTERS);
            *summary
                .active_by_profile
                .entry(profile.to_owned())
                .or_default() += 1;
        }
        let mut book = self.policies(&mut summary).await;
        let bounds = Bounds::of(book.known().chain([&FALLBACK_POLICY]));

        // 1. What the listing alone decides.
        let mut lifetime = Vec::new();
        let mut idle = Vec::new();
        for cluster in listed.iter().cloned() {
            match screen_listing(
                &cluster.state,
                cluster.created_at,
                cluster.ready_at,
                &bounds,
                now,
            ) {
                Listed::NearLifetime => lifetime.push(cluster),
                Listed::MaybeIdle => idle.push(cluster),
                Listed::Keep(reason) => summary.keep(&cluster, reason.key(), &reason.to_string()),
            }
        }

        // 2. Metrics, batched, for every cluster that may be idle.
        // A cluster's notebook activity comes from its profile's namespace
        // (the profile its name says; checked against its tag below), where
        // only that profile's nodes may publish.
        let wanted: Vec<MetricsQuery> = idle
            .iter()
            .chain(&lifetime)
            .map(|c| MetricsQuery {
                cluster_id: c.id.clone(),
                activity_namespace: profile_of_name(&c.name).map(activity_namespace),
            })
            .collect();
        let metrics = if wanted.is_empty() {
            BTreeMap::new()
        } else {
            match self
                .metrics
                .idle_metrics(&wanted, bounds.metrics_start(now), now)
                .await
            {
                Ok(m) => m,
                Err(e) => {
                    warn!(error = %message_with_causes(&e), "metrics unavailable: no cluster is terminated for being idle in this sweep");
                    summary.errors.push(message_with_causes(&e));
                    BTreeMap::new()
                }
            }
        };

        // 3. Keep what the metrics already keep under the loosest policy.
        let mut in_question = lifetime;
        for cluster in idle {
            let m = metrics.get(&cluster.id).cloned().unwrap_or_default();
            match screen_metrics(&m.is_idle, &m.busy, &bounds, now) {
                Some(reason) => summary.keep(&cluster, reason.key(), &reason.to_string()),
                None => in_question.push(cluster),
            }
        }

        // 4. Details and steps for the rest, a bounded number of clusters at
        // once (answers in the order asked), then the real verdict.
        let inspected: Vec<_> = stream::iter(in_question)
            .map(|cluster| async move {
                let found = self.inspect(&cluster.id).await;
                (cluster, found)
            })
            .buffered(self.limit())
            .collect()
            .await;
        let mut decisions = Vec::new();
        // What the history will say, by cluster id, once it has happened.
        let mut records: BTreeMap<String, Record> = BTreeMap::new();
        for (cluster, found) in inspected {
            let (details, steps) = match found {
                Ok(Some(found)) => found,
                Ok(None) => {
                    let reason = KeepReason::Gone;
                    summary.keep(&cluster, reason.key(), &reason.to_string());
                    continue;
                }
                Err(e) => {
                    let message = format!("cluster {}: {}", cluster.id, message_with_causes(&e));
                    warn!(cluster_id = %cluster.id, error = %message, "kept: could not inspect the cluster");
                    summary.errors.push(message);
                    let reason = KeepReason::NotInspected;
                    summary.keep(&cluster, reason.key(), &reason.to_string());
                    continue;
                }
            };
            let profile = details.profile().unwrap_or_default().to_owned();
            let policy = match self.policy_for(&mut book, &profile, &mut summary).await {
                Ok(policy) => policy,
                Err(trouble) if details.is_managed() => {
                    let reason = KeepReason::ProfileUnusable {
                        profile: profile.clone(),
                        trouble,
                    };
                    warn!(cluster_id = %cluster.id, %profile, "kept: its profile cannot be used");
                    summary.keep(&cluster, reason.key(), &reason.to_string());
                    continue;
                }
                // Unmanaged clusters are kept whatever their policy.
                Err(_) => FALLBACK_POLICY,
            };
            let policy = &policy;
            let mut m = metrics.get(&cluster.id).cloned().unwrap_or_default();
            if profile_of_name(&cluster.name) != Some(profile.as_str()) {
                // Read from the namespace of another profile than its tag's:
                // nobody's word for this cluster.
                m.busy.clear();
            }
            let keep_alive =
                KeepAlive::from_tag(details.tags.get(TAG_KEEP_ALIVE_UNTIL).map(String::as_str));
            // A pooled cluster a run claimed moments ago: its first step
            // may not be there yet (see crate::create::pool).
            if let Some(until) = crate::create::pool::claim_holds(
                details
                    .tags
                    .get(crate::create::pool::TAG_CLAIMED_AT)
                    .map(String::as_str),
                now,
            ) {
                let reason = KeepReason::Claimed { until };
                summary.keep(&cluster, reason.key(), &reason.to_string());
                continue;
            }
            let ready_by = details
                .tags
                .get(crate::startup::TAG_READY_BY)
                .and_then(|v| v.trim().parse::<Timestamp>().ok());
            let warned_at = details
                .tags
                .get(TAG_WARNED_AT)
                .and_then(|v| v.trim().parse::<Timestamp>().ok());
            let real = Snapshot {
                cluster_id: cluster.id.clone(),
                managed: details.is_managed(),
                termination_protected: details.termination_protected,
                state: cluster.state.clone(),
                // Unknown creation time: treat as just created (never past a lifetime).
                created_at: cluster.created_at.unwrap_or(now),
                // A ready_by run's grace period counts from ready_by: its
                // cluster is ready early on purpose.
                ready_at: match (cluster.ready_at, ready_by) {
                    (Some(ready), Some(by)) => Some(ready.max(by)),
                    (ready, _) => ready,
                },
                keep_alive,
                busy_steps: steps.busy,
                last_step_end: steps.last_ended,
                is_idle: m.is_idle,
                agent: details.applications.iter().any(|a| a == "JupyterHub"),
                busy: m.busy,
                warned_at,
            };
            match judge(&real, policy, now) {
                Verdict::Keep(reason) => {
                    summary.keep(&cluster, reason.key(), &reason.to_string());
                    // Without a topic no warning goes out: no look for one.
                    let looks = IdlePolicy {
                        warn_minutes: if self.notifier.is_some() {
                            policy.warn_minutes
                        } else {
                            0
                        },
                        ..policy.clone()
                    };
                    if let Some(at) =
                        next_look(&real, &looks, now).filter(|at| *at <= now + SWEEP_INTERVAL)
                    {
                        summary.checks.push(Check {
                            cluster_id: cluster.id.clone(),
                            at: crate::idle::check_instant(at),
                        });
                    }
                    if let Some(soon) = warning::due(&real, policy, &details.tags, now) {
                        info!(cluster_id = %cluster.id, %profile, verdict = "warn", reason = %soon.reason, by = %soon.by, dry_run = self.config.dry_run, "warn before termination");
                        let w = Warning {
                            cluster_id: cluster.id.clone(),
                            recipients: book.recipients(&profile),
                            profile,
                            terminate_by: soon.by,
                            because_idle: matches!(soon.reason, TerminateReason::Idle { .. }),
                            reason: soon.reason.to_string(),
                            notebooks: real.agent,
                        };
                        records.insert(cluster.id.clone(), Record::warning(&cluster, &w, now));
                        summary.warnings.push(w);
                    }
                }
                Verdict::Terminate(reason) => {
                    let idle_minutes = match reason {
                        TerminateReason::Idle { minutes } => Some(minutes),
                        TerminateReason::MaxLifetime { .. } => None,
                    };
                    info!(cluster_id = %cluster.id, %profile, verdict = "terminate", reason = %reason, dry_run = self.config.dry_run, "terminate");
                    summary
                        .clusters
                        .push(ClusterReport::of(&cluster, true, &reason.to_string()));
                    records.insert(
                        cluster.id.clone(),
                        Record::termination(&cluster, &profile, &reason, now),
                    );
                    decisions.push(Decision {
                        cluster_id: cluster.id.clone(),
                        recipients: book.recipients(&profile),
                        profile,
                        reason: reason.to_string(),
                        idle_minutes,
                    });
                }
            }
        }

        // 5. Terminate (unless dry run) and tell people.
        if !self.config.dry_run {
            // The batches a bounded number at once, their outcomes in order.
            let outcomes: Vec<_> = stream::iter(decisions.chunks(CLUSTERS_PER_TERMINATE_CALL))
                .map(|batch| async move {
                    let ids: Vec<String> = batch.iter().map(|d| d.cluster_id.clone()).collect();
                    let outcome = self.fleet.terminate(&ids).await;
                    (batch, ids, outcome)
                })
                .buffered(self.limit())
                .collect()
                .await;
            let mut notices = Vec::new();
            let mut happened = Vec::new();
            for (batch, ids, outcome) in outcomes {
                match outcome {
                    Ok(()) => {
                        for decision in batch {
                            summary.terminated.push(decision.cluster_id.clone());
                            happened.extend(records.remove(&decision.cluster_id));
                            notices.push(decision);
                        }
                    }
                    Err(e) => {
                        let message = format!(
                            "terminating {}: {}",
                            ids.join(", "),
                            message_with_causes(&e)
                        );
                        warn!(error = %message, "termination failed; the next sweep tries again");
                        summary.errors.push(message);
                    }
                }
            }
            self.notify_all(&notices, &mut summary).await;
            let warned = self.warn_all(now, &mut summary).await;
            happened.extend(warned.iter().filter_map(|id| records.remove(id)));
            // Last: the history never holds up a termination or a warning.
            for r in happened
                .iter()
                .filter(|r| r.kind == RecordKind::Termination)
            {
                *summary
                    .terminated_by_cause
                    .entry(r.cause.as_str().to_owned())
                    .or_default() += 1;
            }
            let failures = record_all(&self.history, &happened, self.limit()).await;
            summary.history_written = happened.len() - failures.len();
            summary.history_write_failures = failures.len();
            self.schedule_all(function_arn, &mut summary).await;
        }
        summary.to_terminate = decisions;
        // A full sweep sees every active cluster: it keeps the budgets
        // current (a check sees only the clusters it names).
        if !check_run && self.pricing.is_some() {
            let plans = book.budget_plans();
            if !plans.is_empty() {
                let (alerts, errors) = budgets::keep_current(
                    &self.budgets,
                    self.pricing.as_ref(),
                    self.notifier.as_ref(),
                    &plans,
                    &listed,
                    now,
                )
                .await;
                summary.budget_alerts = alerts.len();
                summary.errors.extend(errors);
            }
        }
        let duration = (self.now)().duration_since(now);
        summary.duration_ms = u64::try_from(duration.as_millis()).unwrap_or(0);
        if too_slow(duration) {
            warn!(
                duration_ms = summary.duration_ms,
                interval_minutes = SWEEP_INTERVAL.as_mins(),
                checked = summary.checked,
                max_concurrency = self.limit(),
                "the sweep took more than half of the interval between sweeps; raise SPARKHUB_MAX_CONCURRENCY (and EMR's API quotas) or the schedule's interval"
            );
        }
        info!(
            checked = summary.checked,
            to_terminate = summary.to_terminate.len(),
            terminated = summary.terminated.len(),
            warnings = summary.warnings.len(),
            warnings_sent = summary.warnings_sent,
            history_written = summary.history_written,
            history_write_failures = summary.history_write_failures,
            errors = summary.errors.len(),
            dry_run = summary.dry_run,
            kept = ?summary.kept,
            duration_ms = summary.duration_ms,
            "sweep done"
        );
        Ok(summary)
    }

    async fn inspect(
        &self,
        cluster_id: &str,
    ) -> Result<Option<(crate::ports::Cluster, StepActivity)>, AwsError> {
        let Some(details) = self.fleet.details(cluster_id).await? else {
            return Ok(None);
        };
        let steps = self.fleet.steps(cluster_id).await?;
        Ok(Some((details, steps)))
    }

    /// Schedules the checks of `summary.checks` (a bounded number at once);
    /// a failure is logged and counted, and the next sweep decides instead.
    async fn schedule_all(&self, function_arn: Option<&str>, summary: &mut Summary) {
        let (Some(scheduler), Some(target)) = (&self.checks, function_arn) else {
            return;
        };
        // A check asked for an instant this sweep has already passed (it
        // terminated, warned and recorded first) goes to the next whole
        // minute at least ten seconds ahead: the scheduler would not run it.
        let soonest = crate::idle::check_instant((self.now)() + SignedDuration::from_secs(10));
        for check in &mut summary.checks {
            check.at = check.at.max(soonest);
        }
        let failures: Vec<Option<String>> = stream::iter(&summary.checks)
            .map(|check| async move {
                let outcome = scheduler
                    .schedule_check(&check.cluster_id, check.at, target)
                    .await;
                outcome.err().map(|e| {
                    let message = format!(
                        "scheduling a check of {} at {}: {}",
                        check.cluster_id,
                        check.at,
                        message_with_causes(&e)
                    );
                    warn!(cluster_id = %check.cluster_id, error = %message, "check not scheduled; the next sweep decides");
                    message
                })
            })
            .buffered(self.limit())
            .collect()
            .await;
        summary.errors.extend(failures.into_iter().flatten());
    }

    /// Per-cluster calls in flight at once (at least one).
    fn limit(&self) -> usize {
        self.config.max_concurrency.max(1)
    }

    /// One message per decision, a bounded number at once; failures are
    /// reported in the order of `decisions`.
    async fn notify_all(&self, decisions: &[&Decision], summary: &mut Summary) {
        if self.notifier.is_none() {
            return;
        }
        let failures: Vec<Option<String>> = stream::iter(decisions)
            .map(|decision| self.send_notice(decision))
            .buffered(self.limit())
            .collect()
            .await;
        summary.errors.extend(failures.into_iter().flatten());
    }

    /// Tells people about one termination; the error message if it failed.
    async fn send_notice(&self, decision: &Decision) -> Option<String> {
        let Some(notifier) = &self.notifier else {
            return None;
        };
        let subject = format!(
            "sparkhub terminated {} ({})",
            decision.cluster_id, decision.profile
        );
        let idle = decision
            .idle_minutes
            .map(|m| format!("{m} minutes"))
            .unwrap_or_else(|| "not idle".into());
        let message = format!(
            "sparkhub terminated EMR cluster {}.\nProfile: {}\nIdle: {}\nReason: {}\n",
            decision.cluster_id, decision.profile, idle, decision.reason
        );
        if let Err(e) = notifier
            .notify(&subject, &message, &decision.recipients)
            .await
        {
            let message = format!(
                "notifying about {}: {}",
                decision.cluster_id,
                message_with_causes(&e)
            );
            warn!(error = %message, "notification failed");
            return Some(message);
        }
        None
    }

    /// Sends the warnings of `summary.warnings` (a bounded number at once)
    /// and tags each warned cluster; failures are reported in order. Without
    /// a topic nobody can be warned: nothing is sent or tagged. The clusters
    /// whose warning went out.
    async fn warn_all(&self, now: Timestamp, summary: &mut Summary) -> Vec<String> {
        let Some(notifier) = &self.notifier else {
            return Vec::new();
        };
        let outcomes: Vec<(bool, Option<String>)> = stream::iter(&summary.warnings)
            .map(|w| self.send_warning(notifier, w, now))
            .buffered(self.limit())
            .collect()
            .await;
        let mut warned = Vec::new();
        for (w, (sent, failure)) in summary.warnings.iter().zip(outcomes) {
            if sent {
                warned.push(w.cluster_id.clone());
            }
            summary.warnings_sent += usize::from(sent);
            summary.errors.extend(failure);
        }
        warned
    }

    /// One warning: the message, then the tag that remembers it (a message
    /// sent twice is better than none). Whether it was sent, and what failed.
    async fn send_warning(
        &self,
        notifier: &N,
        w: &Warning,
        now: Timestamp,
    ) -> (bool, Option<String>) {
        let (subject, message) = warning::message(w, now);
        if let Err(e) = notifier.notify(&subject, &message, &w.recipients).await {
            let message = format!(
                "warning about {}: {}",
                w.cluster_id,
                message_with_causes(&e)
            );
            warn!(cluster_id = %w.cluster_id, error = %message, "warning failed; the next sweep tries again");
            return (false, Some(message));
        }
        // When it went out (after the terminations and notices of this
        // sweep): the termination waits `warn_minutes` from here.
        let stamp = (self.now)().max(now).to_string();
        if let Err(e) = self
            .fleet
            .add_tags(&w.cluster_id, &[(TAG_WARNED_AT, &stamp)])
            .await
        {
            let message = format!(
                "tagging {} {TAG_WARNED_AT}: {}",
                w.cluster_id,
                message_with_causes(&e)
            );
            warn!(cluster_id = %w.cluster_id, error = %message, "warning sent but not remembered; the next sweep may warn again");
            return (true, Some(message));
        }
        (true, None)
    }

    /// The idle policy of every listed profile, or why it cannot be used.
    async fn policies(&self, summary: &mut Summary) -> PolicyBook {
        let mut book = PolicyBook::default();
        let names = match self.profiles.list_profiles().await {
            Ok(names) => names,
            Err(e) => {
                warn!(error = %message_with_causes(&e), "profiles cannot be listed: each cluster's profile is read on its own");
                summary
                    .errors
                    .push(format!("listing profiles: {}", message_with_causes(&e)));
                book.listing_failed = true;
                return book;
            }
        };
        for name in names {
            let Ok(parsed) = ProfileName::parse(&name) else {
                continue;
            };
            let loaded = self.load(&parsed).await;
            book.insert(name, loaded);
        }
        book
    }

    async fn load(&self, name: &ProfileName) -> Loaded {
        match load_profile(&self.profiles, name, |_| {}).await {
            Ok(profile) => Loaded::Policy(
                profile.idle_policy(),
                recipients(&profile),
                profile.budget.clone().map(|budget| BudgetPlan {
                    budget,
                    fleets: crate::report::profile_fleets(&profile),
                }),
            ),
            Err(ProfileError::NotFound { .. }) => Loaded::Gone,
            Err(e) => {
                let trouble = match &e {
                    ProfileError::Unreadable { .. } => ProfileTrouble::Unreadable,
                    ProfileError::Invalid { .. } => ProfileTrouble::Invalid,
                    ProfileError::NotFound { .. } | ProfileError::Aws(_) => {
                        ProfileTrouble::StoreFailed
                    }
                };
                Loaded::Unusable(trouble, message_with_causes(&e))
            }
        }
    }

    /// The policy for a cluster of `profile`: its own; the fallback when the
    /// profile is really gone; an error (reported once per sweep) when it
    /// exists but cannot be used, or cannot be known.
    async fn policy_for(
        &self,
        book: &mut PolicyBook,
        profile: &str,
        summary: &mut Summary,
    ) -> Result<IdlePolicy, ProfileTrouble> {
        if !book.profiles.contains_key(profile) {
            let loaded = match ProfileName::parse(profile) {
                // No profile file can have this name.
                Err(_) => Loaded::Gone,
                // Listed without it: it is gone.
                Ok(_) if !book.listing_failed => Loaded::Gone,
                Ok(name) => self.load(&name).await,
            };
            book.insert(profile.to_owned(), loaded);
        }
        match book.profiles.get_mut(profile) {
            Some(Loaded::Policy(policy, _, _)) => Ok(policy.clone()),
            Some(Loaded::Unusable(trouble, message)) => {
                let trouble = *trouble;
                if !message.is_empty() {
                    let message = std::mem::take(message);
                    warn!(%profile, error = %message, "profile unusable: its clusters are kept");
                    summary.errors.push(format!(
                        "profile {profile}: {message}; its clusters are kept until it is fixed"
                    ));
                }
                Err(trouble)
            }
            Some(Loaded::Gone) | None => {
                info!(%profile, "profile gone: its clusters get the fallback idle policy");
                Ok(FALLBACK_POLICY)
            }
        }
    }
}

/// What reading one profile gave.
enum Loaded {
    /// Its idle policy, the recipients of messages about its clusters, and
    /// its budget.
    Policy(IdlePolicy, Vec<String>, Option<BudgetPlan>),
    /// Not found: its clusters get [`FALLBACK_POLICY`].
    Gone,
    /// Exists but cannot be used; the message until it has been reported.
    Unusable(ProfileTrouble, String),
}

/// The profiles one sweep has read.
#[derive(Default)]
struct PolicyBook {
    profiles: BTreeMap<String, Loaded>,
    /// The listing failed: a profile not read yet may exist.
    listing_failed: bool,
}

impl PolicyBook {
    fn insert(&mut self, name: String, loaded: Loaded) {
        self.profiles.insert(name, loaded);
    }

    fn known(&self) -> impl Iterator<Item = &IdlePolicy> {
        self.profiles.values().filter_map(|l| match l {
            Loaded::Policy(p, _, _) => Some(p),
            _ => None,
        })
    }

    /// The budgets of the profiles read, by profile.
    fn budget_plans(&self) -> BTreeMap<ProfileName, BudgetPlan> {
        self.profiles
            .iter()
            .filter_map(|(name, l)| match l {
                Loaded::Policy(_, _, Some(plan)) => {
                    Some((ProfileName::parse(name).ok()?, plan.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// The recipients of messages about a cluster of `profile`: none when
    /// the profile is gone or unusable (the operator alone is told).
    fn recipients(&self, profile: &str) -> Vec<String> {
        match self.profiles.get(profile) {
            Some(Loaded::Policy(_, recipients, _)) => recipients.clone(),
            _ => Vec::new(),
        }
    }
}

/// The profile a cluster's name says (`sparkhub-<profile>`, the name
/// sparkhub gives its clusters).
fn profile_of_name(name: &str) -> Option<&str> {
    name.strip_prefix("sparkhub-")
        .filter(|p| ProfileName::parse(p).is_ok())
}

#[cfg(test)]
#[path = "terminator_tests.rs"]
mod tests;
