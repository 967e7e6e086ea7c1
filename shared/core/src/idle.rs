//! The idle verdict: a pure function of a cluster snapshot, the profile's
//! idle policy and `now`. Terminate only when every sign says nobody uses
//! the cluster; missing information always keeps it.

use std::fmt;

use jiff::{SignedDuration, Timestamp};

use crate::emr::ClusterState;
use crate::profile::IdlePolicy;

/// Period of the CloudWatch datapoints the verdict reads (EMR publishes
/// `IsIdle` every five minutes).
pub const METRIC_PERIOD_SECONDS: i64 = 300;

/// An idle warning goes out this much before `warn_minutes` ahead of the
/// termination: a check runs up to a minute after the minute it was asked
/// for (EventBridge Scheduler's 60-second precision), and a warning that
/// came late would hold the termination back as long (it goes no sooner
/// than `warn_minutes` after the warning).
pub const WARNING_LEAD_MINUTES: u32 = 1;
pub const WARNING_LEAD: SignedDuration = SignedDuration::from_mins(WARNING_LEAD_MINUTES as i64);

/// A `sparkhub:keep-alive-until` counts only this far ahead of `now`; a later
/// instant (say the year 9999) does not keep a cluster past its maximum
/// lifetime.
pub const KEEP_ALIVE_LIMIT: SignedDuration = SignedDuration::from_hours(7 * 24);

/// When datapoints arrive, and so what the verdict may expect of them.
///
/// Both metrics are read with `GetMetricData` in 5-minute buckets
/// ([`METRIC_PERIOD_SECONDS`]). CloudWatch stamps each returned value with the
/// start of its bucket and aggregates into it every raw datapoint whose
/// timestamp falls inside; the buckets start at the query's `StartTime`
/// (rounded down to the minute), not at the instants EMR or the reporter
/// publish, so a raw datapoint can come back stamped up to one period
/// earlier than its own timestamp
/// (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html>,
/// <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#CloudWatchPeriods>).
///
/// - **EMR `IsIdle`**: EMR pushes its metrics every five minutes, an interval
///   that cannot be changed
///   (<https://docs.aws.amazon.com/emr/latest/ManagementGuide/UsingEMR_ViewingMetrics.html>).
///   A datapoint is stamped with the start of its five minutes and published
///   after they end, up to five minutes later: when a sweep looks, the newest
///   is 5 to 15 minutes old, and the sweep (every five minutes) keeps a fixed
///   phase to EMR's publication. One returned bucket holds one EMR datapoint,
///   which speaks for up to 10 minutes after the bucket's start; the newest
///   bucket may start up to 20 minutes ago (15 + the bucket shift).
/// - **`Sparkhub/ActiveNotebookUsers`**: the on-cluster reporter publishes
///   every minute without a timestamp, so CloudWatch stamps it when it
///   receives it
///   (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#about_timestamp>);
///   each value counts the users active in the 15 minutes before it. The
///   newest bucket holds the last minute or two: it may start up to 8
///   minutes ago (3 minutes of publication lag + the bucket shift). Older
///   means the reporter stopped — a 10-minute silence never passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricTiming {
    /// How far past its bucket's start a returned datapoint may speak: a
    /// bucket that far before the window's start says nothing about the
    /// window (neither activity nor coverage).
    pub reach: SignedDuration,
    /// How long before the window's start the first bucket must begin, so
    /// that the window's start is covered whatever the phase.
    pub lead: SignedDuration,
    /// The oldest the newest bucket may be while its source still publishes.
    pub max_age: SignedDuration,
    /// A shorter idle window cannot be seen in this metric (its newest
    /// datapoint may be this old); it is read as this long.
    pub min_window: SignedDuration,
}

/// EMR `IsIdle` (see [`MetricTiming`]).
pub const IS_IDLE_TIMING: MetricTiming = MetricTiming {
    reach: SignedDuration::from_mins(10),
    lead: SignedDuration::from_mins(5),
    max_age: SignedDuration::from_mins(20),
    min_window: SignedDuration::from_mins(15),
};

/// The activity agent's signal read the way the notebook reporter's was
/// read before the agent (see [`MetricTiming`]), in five-minute buckets
/// ([`in_periods`]): the rules that decide when the agent's own word does
/// not ([`AgentWord::Silent`]).
pub const NOTEBOOK_TIMING: MetricTiming = MetricTiming {
    reach: SignedDuration::from_mins(5),
    lead: SignedDuration::ZERO,
    max_age: SignedDuration::from_mins(8),
    min_window: SignedDuration::from_mins(8),
};

/// How long before the longest idle window (and never less than
/// [`IS_IDLE_TIMING`]'s `min_window`) the metrics query must begin so that
/// every bucket the verdict may need is returned.
pub const QUERY_LOOKBACK: SignedDuration = IS_IDLE_TIMING.reach;

/// EMR's namespace and its idleness metric (dimension `JobFlowId`).
pub const EMR_NAMESPACE: &str = "AWS/ElasticMapReduce";
pub const IS_IDLE_METRIC: &str = "IsIdle";
/// The activity agent's metric (dimension `JobFlowId`), in its profile's own
/// namespace ([`activity_namespace`]): one sample a minute, 1 when anything
/// was active since the agent's previous sample, 0 when nothing was.
pub const AGENT_METRIC: &str = "Busy";
/// The period of the agent's samples, and of the buckets they are read in.
pub const AGENT_PERIOD_SECONDS: i64 = 60;

/// How the activity agent's samples are read, and why it is precise.
///
/// The agent (`sparkhub-activity`, a systemd timer on the master node,
/// every minute at second 0) stamps each sample with its minute (`m`,
/// PutMetricData's `Timestamp`) and says whether anything was active since
/// its previous *published* sample `p`: JupyterHub users (last activity
/// within 15 minutes of the interval), YARN applications pending or running
/// or finished after `p`, Livy sessions starting or running a statement or
/// with a statement completed after `p`. So a 0 at `m` means "nothing ran
/// in `(p, m]`", and a missed minute (a failed publish, a stopped agent) is
/// covered by the next sample, which reaches back to the last one published.
/// The sweep reads one-minute buckets (`Maximum`): buckets start at the
/// query's start rounded down to the minute, so each holds one sample, and a
/// false 0 that anyone with the node's credentials can publish never hides
/// the agent's 1 in the same minute.
///
/// When the agent's samples after the window's start are all 0 and one
/// sample lies at or before the start (the one the first of them reaches
/// back to), nothing ran from the start to the newest sample. What happened
/// after the newest is not yet published; the newest may be
/// [`AGENT_MAX_AGE`] old (a minute between samples, up to 150 s for
/// CloudWatch to return a datapoint — sparkhub's assumption, AWS publishes
/// no figure for it — and the timer's few seconds), far less than the 8 to
/// 20 minutes the five-minute rules leave unseen. Older, and the agent is
/// silent: the five-minute rules decide as before it.
pub const AGENT_MAX_AGE: SignedDuration = SignedDuration::from_mins(4);

/// Where the nodes of `profile` publish their activity:
/// `Sparkhub/Activity/<profile>`. CloudWatch lets IAM condition
/// PutMetricData on the namespace only (`cloudwatch:namespace`), not on a
/// dimension, so each profile's node role may publish in its own namespace,
/// and the sweep reads a cluster's activity from its profile's namespace
/// only: a notebook user of one profile cannot keep another profile's
/// clusters alive.
pub fn activity_namespace(profile: &str) -> String {
    format!("Sparkhub/Activity/{profile}")
}

/// The policy for a cluster whose profile cannot be read any more: slower to
/// call it idle than any profile default, still bounded.
pub const FALLBACK_POLICY: IdlePolicy = IdlePolicy {
    timeout_minutes: 120,
    grace_minutes: 60,
    max_lifetime_hours: 24,
    warn_minutes: 15,
};

/// What a keep-alive until an instant means to the sweep at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepAliveCount {
    /// Not after `now`: it keeps nothing any more.
    Past,
    /// Keeps the cluster (never past its maximum lifetime).
    Counts,
    /// More than [`KEEP_ALIVE_LIMIT`] ahead: it does not count.
    TooFar,
}

/// Whether a keep-alive until `until` counts at `now`: the one rule the sweep
/// and `sparkhub keep-alive` share.
pub fn keep_alive_counts(until: Timestamp, now: Timestamp) -> KeepAliveCount {
    if until.duration_since(now) > KEEP_ALIVE_LIMIT {
        KeepAliveCount::TooFar
    } else if until > now {
        KeepAliveCount::Counts
    } else {
        KeepAliveCount::Past
    }
}

/// The `sparkhub:keep-alive-until` tag as found on the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeepAlive {
    None,
    Until(Timestamp),
    /// Not an RFC 3339 instant: a person meant to keep the cluster, so it is
    /// not called idle, but its maximum lifetime applies.
    Unreadable(String),
}

/// A keep-alive tag that does not count: the cluster is not called idle, but
/// its maximum lifetime applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnoredKeepAlive {
    /// More than [`KEEP_ALIVE_LIMIT`] ahead of `now`.
    TooFar(Timestamp),
    /// Not an RFC 3339 instant.
    Unreadable(String),
}

impl fmt::Display for IgnoredKeepAlive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooFar(t) => write!(
                f,
                "sparkhub:keep-alive-until {t} is more than {} days ahead, so it does not count",
                KEEP_ALIVE_LIMIT.as_hours() / 24
            ),
            Self::Unreadable(v) => write!(
                f,
                "sparkhub:keep-alive-until is {v:?}, not an RFC 3339 instant, so it does not count"
            ),
        }
    }
}

impl KeepAlive {
    pub fn from_tag(value: Option<&str>) -> Self {
        match value {
            None => Self::None,
            Some(v) => v
                .parse::<Timestamp>()
                .map(Self::Until)
                .unwrap_or_else(|_| Self::Unreadable(v.to_owned())),
        }
    }
}

/// One datapoint: the start of its period and its value.
pub type Datapoint = (Timestamp, f64);

/// Everything the verdict looks at for one cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub cluster_id: String,
    pub managed: bool,
    pub termination_protected: bool,
    pub state: ClusterState,
    pub created_at: Timestamp,
    pub ready_at: Option<Timestamp>,
    pub keep_alive: KeepAlive,
    /// Steps PENDING or RUNNING.
    pub busy_steps: usize,
    /// When the last step that ended ended (`ListSteps`), if any did.
    pub last_step_end: Option<Timestamp>,
    /// EMR `IsIdle` (Minimum per period: 1 only if idle the whole period).
    pub is_idle: Vec<Datapoint>,
    /// Whether the activity agent runs on this cluster (profiles with
    /// JupyterHub).
    pub agent: bool,
    /// The agent's samples, one-minute buckets, Maximum ([`AGENT_METRIC`]).
    pub busy: Vec<Datapoint>,
    /// The `sparkhub:warned-at` tag, if it is an instant: an idle
    /// termination comes no sooner than `warn_minutes` after a warning of
    /// the present idle period, as the warning said.
    pub warned_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeepReason {
    NotManaged,
    TerminationProtected,
    KeptAliveUntil(Timestamp),
    /// A keep-alive tag that does not count still keeps the cluster from
    /// being called idle, never past its maximum lifetime.
    KeepAliveIgnored(IgnoredKeepAlive),
    NotWaiting(ClusterState),
    StepsBusy(usize),
    /// A step ended within the idle window.
    StepEnded(Timestamp),
    InGracePeriod {
        minutes_left: i64,
    },
    NotReadyYet,
    SparkBusy,
    IdleMetricGap,
    /// The activity agent (or, when it is silent, its five-minute view) saw
    /// activity in the idle window.
    Activity,
    ActivityMetricGap,
    /// Idle long enough, but warned less than `warn_minutes` ago: kept
    /// until the instant the warning named.
    Warned {
        until: Timestamp,
    },
    /// The cluster's profile exists but cannot be used, so its policy is
    /// unknown: kept until the profile is fixed (the sweep reports why).
    ProfileUnusable {
        profile: String,
        trouble: ProfileTrouble,
    },
    /// A run of its warm pool claimed it less than
    /// [`crate::create::pool::CLAIM_HOLD`] ago.
    Claimed {
        until: Timestamp,
    },
    /// Listed, but EMR no longer knows it when asked for its details.
    Gone,
    /// Its details or steps could not be read in this sweep.
    NotInspected,
    /// Waiting, but ready for less than the shortest grace period of any
    /// profile in play (or not ready at all): the sweep's listing screen
    /// keeps it without asking for its details.
    InShortestGrace,
}

/// Why a profile that exists cannot give its idle policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileTrouble {
    /// Not TOML, or not named like its file.
    Unreadable,
    /// Parsed, but not valid.
    Invalid,
    /// The profile store failed (listing or reading).
    StoreFailed,
}

impl fmt::Display for ProfileTrouble {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unreadable => "cannot be parsed",
            Self::Invalid => "is invalid",
            Self::StoreFailed => "could not be read from the profile store",
        })
    }
}

impl KeepReason {
    /// A short stable key, for summaries and metrics.
    pub fn key(&self) -> &'static str {
        match self {
            Self::NotManaged => "not_managed",
            Self::TerminationProtected => "termination_protected",
            Self::KeptAliveUntil(_) => "kept_alive",
            Self::KeepAliveIgnored(_) => "keep_alive_ignored",
            Self::NotWaiting(_) => "not_waiting",
            Self::StepsBusy(_) => "steps_busy",
            Self::StepEnded(_) => "step_ended",
            Self::InGracePeriod { .. } | Self::NotReadyYet | Self::InShortestGrace => {
                "grace_period"
            }
            Self::SparkBusy => "spark_busy",
            Self::IdleMetricGap => "idle_metric_gap",
            Self::Activity => "activity",
            Self::ActivityMetricGap => "activity_metric_gap",
            Self::Warned { .. } => "warned",
            Self::ProfileUnusable { .. } => "profile_unusable",
            Self::Claimed { .. } => "claimed",
            Self::Gone => "gone",
            Self::NotInspected => "error",
        }
    }
}

impl fmt::Display for KeepReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotManaged => write!(f, "not managed by sparkhub (no sparkhub:managed=true tag)"),
            Self::TerminationProtected => write!(f, "termination protected"),
            Self::KeptAliveUntil(t) => write!(f, "kept alive until {t}"),
            Self::KeepAliveIgnored(ignored) => write!(
                f,
                "{ignored}; not called idle, but its maximum lifetime applies"
            ),
            Self::NotWaiting(s) => write!(f, "state {s}"),
            Self::StepsBusy(n) => write!(f, "{n} step(s) pending or running"),
            Self::StepEnded(t) => write!(f, "a step ended at {t}, within the idle window"),
            Self::InGracePeriod { minutes_left } => write!(
                f,
                "in the grace period after ready ({minutes_left} min left)"
            ),
            Self::NotReadyYet => write!(f, "not ready yet"),
            Self::SparkBusy => write!(f, "EMR IsIdle was 0 in the idle window"),
            Self::IdleMetricGap => write!(f, "IsIdle datapoints do not cover the idle window"),
            Self::Activity => write!(
                f,
                "activity in the idle window (notebooks, YARN applications, Livy statements)"
            ),
            Self::ActivityMetricGap => write!(
                f,
                "the activity agent's datapoints do not cover the idle window"
            ),
            Self::Warned { until } => write!(
                f,
                "idle long enough; its warning said it goes at {until}, not sooner"
            ),
            Self::ProfileUnusable { profile, trouble } => write!(
                f,
                "its profile {profile:?} {trouble}; kept until the profile is fixed"
            ),
            Self::Claimed { until } => write!(
                f,
                "a run of its pool claimed it (held until {until} for its first step)"
            ),
            Self::Gone => write!(f, "EMR no longer knows the cluster"),
            Self::NotInspected => write!(f, "could not inspect the cluster"),
            Self::InShortestGrace => write!(f, "in the shortest grace period of any profile"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminateReason {
    Idle {
        minutes: i64,
    },
    MaxLifetime {
        hours: i64,
        /// A keep-alive tag the cluster carries that did not count.
        ignored_keep_alive: Option<IgnoredKeepAlive>,
    },
}

impl fmt::Display for TerminateReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Idle { minutes } => write!(
                f,
                "idle for {minutes} min (no steps, no Spark or YARN work, no notebook or Livy activity)"
            ),
            Self::MaxLifetime {
                hours,
                ignored_keep_alive,
            } => {
                write!(f, "older than its maximum lifetime of {hours} h")?;
                if let Some(ignored) = ignored_keep_alive {
                    write!(f, "; {ignored}")?;
                }
                Ok(())
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Keep(KeepReason),
    Terminate(TerminateReason),
}

/// The verdict for one cluster.
pub fn judge(s: &Snapshot, policy: &IdlePolicy, now: Timestamp) -> Verdict {
    verdict(s, &Limits::of(policy), &s.keep_alive, now)
}

/// The limits [`verdict`] applies: a policy's, or the shorter ones a
/// forecast or a warning's idle period asks about.
struct Limits {
    /// `None`: no lifetime applies.
    max_lifetime_hours: Option<u32>,
    grace_minutes: u32,
    idle_minutes: u32,
    /// An idle termination waits this long after a warning of the present
    /// idle period (0: it does not wait; the forecasts ask without it).
    warn_minutes: u32,
}

impl Limits {
    fn of(policy: &IdlePolicy) -> Self {
        Self {
            max_lifetime_hours: Some(policy.max_lifetime_hours),
            grace_minutes: policy.grace_minutes,
            idle_minutes: policy.timeout_minutes,
            warn_minutes: policy.warn_minutes,
        }
    }
}

/// The rules of [`judge`], with the keep-alive and the limits given
/// separately from the snapshot: what [`forecast`] and [`idle_since`] ask
/// ("idle for this long?", "with this keep-alive over?") without making up
/// a snapshot or a policy.
fn verdict(s: &Snapshot, limits: &Limits, keep_alive: &KeepAlive, now: Timestamp) -> Verdict {
    use KeepReason::*;
    if !s.managed {
        return Verdict::Keep(NotManaged);
    }
    if s.termination_protected {
        return Verdict::Keep(TerminationProtected);
    }
    let ignored_keep_alive = match keep_alive {
        KeepAlive::Until(t) => match keep_alive_counts(*t, now) {
            KeepAliveCount::TooFar => Some(IgnoredKeepAlive::TooFar(*t)),
            KeepAliveCount::Counts => return Verdict::Keep(KeptAliveUntil(*t)),
            KeepAliveCount::Past => None,
        },
        KeepAlive::None => None,
        KeepAlive::Unreadable(v) => Some(IgnoredKeepAlive::Unreadable(v.clone())),
    };
    if !s.state.is_active() {
        return Verdict::Keep(NotWaiting(s.state.clone()));
    }
    if let Some(hours) = limits.max_lifetime_hours
        && now.duration_since(s.created_at) > SignedDuration::from_hours(i64::from(hours))
    {
        return Verdict::Terminate(TerminateReason::MaxLifetime {
            hours: i64::from(hours),
            ignored_keep_alive,
        });
    }
    if let Some(ignored) = ignored_keep_alive {
        return Verdict::Keep(KeepAliveIgnored(ignored));
    }
    if s.state != ClusterState::Waiting {
        return Verdict::Keep(NotWaiting(s.state.clone()));
    }
    if s.busy_steps > 0 {
        return Verdict::Keep(StepsBusy(s.busy_steps));
    }
    let Some(ready_at) = s.ready_at else {
        return Verdict::Keep(NotReadyYet);
    };
    let grace = SignedDuration::from_mins(i64::from(limits.grace_minutes));
    let since_ready = now.duration_since(ready_at);
    if since_ready < grace {
        let left = ((grace - since_ready).as_secs() + 59) / 60;
        return Verdict::Keep(InGracePeriod { minutes_left: left });
    }
    let window_start = now - SignedDuration::from_mins(i64::from(limits.idle_minutes));
    let agent = if s.agent {
        agent_word(&s.busy, window_start, now)
    } else {
        AgentWord::Silent
    };
    match agent {
        AgentWord::Busy => return Verdict::Keep(Activity),
        AgentWord::Idle => {
            // The agent's word stands for the node; the live checks and
            // EMR's certain word stand beside it.
            if let Some(end) = s.last_step_end.filter(|end| *end > window_start) {
                return Verdict::Keep(StepEnded(end));
            }
            if certainly_busy(&s.is_idle, window_start) {
                return Verdict::Keep(SparkBusy);
            }
        }
        AgentWord::Silent => {
            let activity = s.agent.then(|| in_periods(&s.busy, now));
            if let Err(reason) = idle_evidence(&s.is_idle, activity.as_deref(), window_start, now) {
                return Verdict::Keep(reason);
            }
        }
    }
    // Whichever rules decided: never sooner than a warning of this idle
    // period said.
    if let Some(until) = warned_until(s, limits.warn_minutes, now).filter(|t| *t > now) {
        return Verdict::Keep(Warned { until });
    }
    Verdict::Terminate(TerminateReason::Idle {
        minutes: i64::from(limits.idle_minutes),
    })
}

/// The instant before which a warning of the present idle period said the
/// cluster would not go: `warn_minutes` after it (an idle warning names
/// `warn_minutes` and its lead ahead).
fn warned_until(s: &Snapshot, warn_minutes: u32, now: Timestamp) -> Option<Timestamp> {
    if warn_minutes == 0 {
        return None;
    }
    let at = s
        .warned_at
        .filter(|at| *at <= now && idle_since(s, *at, now))?;
    Some(at + SignedDuration::from_mins(i64::from(warn_minutes)))
}

/// What the activity agent's samples say about `[start, now]` (see
/// [`AGENT_MAX_AGE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentWord {
    /// Nothing ran from `start` to its newest sample, which is fresh.
    Idle,
    /// Something ran after `start`, by a fresh agent's word.
    Busy,
    /// No fresh sample, or none at or before `start` that the samples after
    /// it reach back to: the agent's word does not decide.
    Silent,
}

/// The agent's word on `[start, now]` from its one-minute samples.
pub fn agent_word(busy: &[Datapoint], start: Timestamp, now: Timestamp) -> AgentWord {
    let Some(seen) = fresh_samples(busy, now) else {
        return AgentWord::Silent;
    };
    if seen.clone().any(|(t, v)| *t > start && *v > 0.0) {
        return AgentWord::Busy;
    }
    if seen.clone().any(|(t, _)| *t <= start) {
        AgentWord::Idle
    } else {
        AgentWord::Silent
    }
}

/// The agent's samples up to `now`, when the newest of them is at most
/// [`AGENT_MAX_AGE`] old; `None`: the agent is silent.
fn fresh_samples(
    busy: &[Datapoint],
    now: Timestamp,
) -> Option<impl Iterator<Item = &Datapoint> + Clone> {
    let seen = busy.iter().filter(move |(t, _)| *t <= now);
    let newest = seen.clone().map(|(t, _)| *t).max()?;
    (now.duration_since(newest) <= AGENT_MAX_AGE).then_some(seen)
}

/// The newest of these samples that says busy.
fn newest_busy<'a>(samples: impl Iterator<Item = &'a Datapoint>) -> Option<Timestamp> {
    samples.filter(|(_, v)| *v > 0.0).map(|(t, _)| *t).max()
}

/// EMR says for certain that the cluster worked after `start`: an `IsIdle`
/// bucket that begins at or after `start` holds a 0 (a bucket's datapoints
/// speak for at most the ten minutes after its start, never before it).
fn certainly_busy(is_idle: &[Datapoint], start: Timestamp) -> bool {
    is_idle.iter().any(|(t, v)| *t >= start && *v < 1.0)
}

/// The agent's one-minute samples in five-minute buckets (`Maximum`), as a
/// five-minute query ending at `now` would return them: what the rules of
/// [`NOTEBOOK_TIMING`] read when the agent's own word does not decide.
pub fn in_periods(points: &[Datapoint], now: Timestamp) -> Vec<Datapoint> {
    let period = METRIC_PERIOD_SECONDS;
    let edge = now.as_second().div_euclid(60) * 60;
    let mut buckets: std::collections::BTreeMap<i64, f64> = std::collections::BTreeMap::new();
    for (t, v) in points.iter().filter(|(t, _)| *t <= now) {
        let back = (edge - t.as_second() + period - 1).div_euclid(period);
        let start = edge - back * period;
        buckets
            .entry(start)
            .and_modify(|old| *old = old.max(*v))
            .or_insert(*v);
    }
    buckets
        .into_iter()
        .filter_map(|(t, v)| Some((Timestamp::from_second(t).ok()?, v)))
        .collect()
}

/// What the metrics alone say about `[start, now]`: `Ok` when EMR's
/// `IsIdle` covers the window and is 1 throughout and, for a cluster with a
/// notebook reporter (`notebook` is its datapoints), nobody was active in a
/// notebook; otherwise why the cluster is kept. Coverage as [`window`] reads
/// it.
pub fn idle_evidence(
    is_idle: &[Datapoint],
    notebook: Option<&[Datapoint]>,
    start: Timestamp,
    now: Timestamp,
) -> Result<(), KeepReason> {
    match window(is_idle, start, now, IS_IDLE_TIMING) {
        None => return Err(KeepReason::IdleMetricGap),
        Some(points) if points.iter().any(|(_, v)| *v < 1.0) => {
            return Err(KeepReason::SparkBusy);
        }
        Some(_) => {}
    }
    if let Some(points) = notebook {
        match window(points, start, now, NOTEBOOK_TIMING) {
            None => return Err(KeepReason::ActivityMetricGap),
            Some(points) if points.iter().any(|(_, v)| *v > 0.0) => {
                return Err(KeepReason::Activity);
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// A termination the sweep will make soon if nothing changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forecast {
    /// The latest instant the sweep terminates the cluster, if nothing changes.
    pub by: Timestamp,
    pub reason: TerminateReason,
}

/// Whether the sweep will terminate the cluster within the policy's
/// `warn_minutes` if nothing changes, while [`judge`] keeps it now: idle for
/// `timeout - warn` minutes already, less [`WARNING_LEAD`] (by the same
/// evidence `judge` reads; it then terminates within `warn` and the lead),
/// or its maximum lifetime ends within the warning. A keep-alive that still
/// counts at the end of the warning keeps the cluster; busy, protected and
/// unmanaged clusters get none.
pub fn forecast(s: &Snapshot, policy: &IdlePolicy, now: Timestamp) -> Option<Forecast> {
    if policy.warn_minutes == 0 || matches!(judge(s, policy, now), Verdict::Terminate(_)) {
        return None;
    }
    let horizon = now + SignedDuration::from_mins(i64::from(policy.warn_minutes));
    // The cluster's own snapshot, policy and keep-alive, asked at the end of
    // the warning: does its lifetime end by then?
    if let Verdict::Terminate(reason @ TerminateReason::MaxLifetime { .. }) =
        judge(s, policy, horizon)
    {
        let end = s.created_at + SignedDuration::from_hours(i64::from(policy.max_lifetime_hours));
        let by = match &s.keep_alive {
            KeepAlive::Until(t) if *t > end && *t <= horizon => *t,
            _ => end,
        };
        return Some(Forecast { by, reason });
    }
    // Idle for the timeout less the warning (and its lead) already; a
    // keep-alive ending within the warning no longer stands in the way.
    let horizon = horizon + WARNING_LEAD;
    let keep_alive = match &s.keep_alive {
        KeepAlive::Until(t) if *t <= horizon => &KeepAlive::None,
        other => other,
    };
    let sooner = Limits {
        idle_minutes: policy
            .timeout_minutes
            .saturating_sub(policy.warn_minutes + WARNING_LEAD_MINUTES),
        warn_minutes: 0,
        ..Limits::of(policy)
    };
    match verdict(s, &sooner, keep_alive, now) {
        Verdict::Terminate(TerminateReason::Idle { .. }) => Some(Forecast {
            by: horizon,
            reason: TerminateReason::Idle {
                minutes: i64::from(policy.timeout_minutes),
            },
        }),
        _ => None,
    }
}

/// When to look at a cluster kept now, so that its idle warning and
/// termination come on time: the instant its agent's word can first call it
/// idle for the timeout less the warning (to warn; pass a policy without
/// warning when no warning can be sent), then for the timeout (to
/// terminate), if nothing changes. Idle since its newest busy sample (or its
/// oldest sample), and no sooner than its grace period's end, a keep-alive's
/// end, the last step's end plus the timeout, or the instant a warning of
/// the present idle period named. `None` when the agent's word cannot
/// decide (no agent, no fresh sample, not waiting, kept whatever its
/// activity): the sweep every five minutes looks as before.
pub fn next_look(s: &Snapshot, policy: &IdlePolicy, now: Timestamp) -> Option<Timestamp> {
    if !s.managed || s.termination_protected || !s.agent || s.state != ClusterState::Waiting {
        return None;
    }
    let seen = fresh_samples(&s.busy, now)?;
    let idle_from = newest_busy(seen.clone()).or_else(|| seen.map(|(t, _)| *t).min())?;
    let timeout = SignedDuration::from_mins(i64::from(policy.timeout_minutes));
    let mut due = (idle_from + timeout)
        .max(s.ready_at? + SignedDuration::from_mins(i64::from(policy.grace_minutes)));
    if let Some(end) = s.last_step_end {
        due = due.max(end + timeout);
    }
    match &s.keep_alive {
        KeepAlive::Until(t) => match keep_alive_counts(*t, now) {
            KeepAliveCount::Counts => due = due.max(*t),
            KeepAliveCount::TooFar => return None,
            KeepAliveCount::Past => {}
        },
        KeepAlive::Unreadable(_) => return None,
        KeepAlive::None => {}
    }
    let warn = SignedDuration::from_mins(i64::from(policy.warn_minutes));
    let look = match warned_until(s, policy.warn_minutes, now) {
        Some(until) => due.max(until),
        None if policy.warn_minutes > 0 && due - warn - WARNING_LEAD > now => {
            due - warn - WARNING_LEAD
        }
        None => due,
    };
    (look > now).then_some(look)
}

/// The instant to schedule a look at `at` for: `at`, or the next whole
/// minute after it. EventBridge Scheduler invokes a one-time schedule
/// within the minute it names ("60-second precision",
/// <https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html>),
/// so a look asked for within a minute could come before the instant due.
pub fn check_instant(at: Timestamp) -> Timestamp {
    let seconds = at.as_second() + i64::from(at.subsec_nanosecond() > 0);
    let up = seconds + (60 - seconds.rem_euclid(60)).rem_euclid(60);
    Timestamp::from_second(up).unwrap_or(at)
}

/// Whether a warning given at `warned_at` still speaks for the cluster's
/// present idle period: nothing kept it busy since (by the evidence
/// [`judge`] reads). A cluster busy again since, or whose evidence no longer
/// reaches back that far, is in a new idle period and gets a new warning.
pub fn idle_since(s: &Snapshot, warned_at: Timestamp, now: Timestamp) -> bool {
    let since = now.duration_since(warned_at);
    if since < SignedDuration::ZERO {
        return false;
    }
    let minutes = u32::try_from((since.as_secs() + 59) / 60)
        .unwrap_or(u32::MAX)
        .max(1);
    // Idle all the time since the warning; lifetime, grace and keep-alive
    // are not the question here.
    let since_warning = Limits {
        max_lifetime_hours: None,
        grace_minutes: 0,
        idle_minutes: minutes,
        warn_minutes: 0,
    };
    matches!(
        verdict(s, &since_warning, &KeepAlive::None, now),
        Verdict::Terminate(TerminateReason::Idle { .. })
    )
}

/// The loosest of the idle policies in play (every listed profile's and
/// the fallback): what the sweep decides from its listing and metrics
/// before it asks EMR about single clusters. A cluster these bounds keep,
/// its own policy keeps too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounds {
    pub min_grace_minutes: u32,
    /// The shortest timeout less its warning: from then on a cluster may be
    /// terminated or warned about.
    pub min_idle_minutes: u32,
    pub max_timeout_minutes: u32,
    pub min_lifetime_hours: u32,
    pub max_warn_minutes: u32,
}

impl Bounds {
    pub fn of<'a>(policies: impl IntoIterator<Item = &'a IdlePolicy>) -> Self {
        let mut b = Bounds {
            min_grace_minutes: u32::MAX,
            min_idle_minutes: u32::MAX,
            max_timeout_minutes: 0,
            min_lifetime_hours: u32::MAX,
            max_warn_minutes: 0,
        };
        for p in policies {
            b.min_grace_minutes = b.min_grace_minutes.min(p.grace_minutes);
            let lead = if p.warn_minutes > 0 {
                WARNING_LEAD_MINUTES
            } else {
                0
            };
            b.min_idle_minutes = b
                .min_idle_minutes
                .min(p.timeout_minutes.saturating_sub(p.warn_minutes + lead));
            b.max_warn_minutes = b.max_warn_minutes.max(p.warn_minutes);
            b.max_timeout_minutes = b.max_timeout_minutes.max(p.timeout_minutes);
            b.min_lifetime_hours = b.min_lifetime_hours.min(p.max_lifetime_hours);
        }
        b
    }

    /// From when on the metrics are needed: the longest idle window (at
    /// least `IsIdle`'s shortest readable one) and the lookback of the
    /// oldest datapoint that still speaks for it.
    pub fn metrics_start(&self, now: Timestamp) -> Timestamp {
        let longest = SignedDuration::from_mins(i64::from(self.max_timeout_minutes))
            .max(IS_IDLE_TIMING.min_window);
        // On a whole minute, as CloudWatch rounds it for one-minute periods
        // (and an emulator may not): the agent's one-minute buckets then
        // start on its samples' minutes.
        let start = now - longest - QUERY_LOOKBACK;
        Timestamp::from_second(start.as_second().div_euclid(60) * 60).unwrap_or(start)
    }
}

/// What the cluster listing alone says about one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed {
    /// Kept whatever its details and metrics say.
    Keep(KeepReason),
    /// At or near the shortest maximum lifetime: its details decide.
    NearLifetime,
    /// Waiting past the shortest grace period: its metrics decide whether
    /// its details are needed.
    MaybeIdle,
}

/// Screens one listed cluster with the `bounds` of every policy in play.
pub fn screen_listing(
    state: &ClusterState,
    created_at: Option<Timestamp>,
    ready_at: Option<Timestamp>,
    bounds: &Bounds,
    now: Timestamp,
) -> Listed {
    let near_lifetime = created_at.is_some_and(|t| {
        now.duration_since(t)
            > SignedDuration::from_hours(i64::from(bounds.min_lifetime_hours))
                - SignedDuration::from_mins(i64::from(bounds.max_warn_minutes))
    });
    if near_lifetime {
        return Listed::NearLifetime;
    }
    if *state != ClusterState::Waiting {
        return Listed::Keep(KeepReason::NotWaiting(state.clone()));
    }
    let grace = SignedDuration::from_mins(i64::from(bounds.min_grace_minutes));
    match ready_at {
        Some(t) if now.duration_since(t) >= grace => {}
        _ => return Listed::Keep(KeepReason::InShortestGrace),
    }
    Listed::MaybeIdle
}

/// Whether the metrics of a [`Listed::MaybeIdle`] cluster keep it under the
/// loosest policy, so that its details need not be asked for: the idle
/// evidence over the shortest idle window: a fresh agent's busy word keeps
/// it, its idle word leaves it to [`judge`]; when the agent's word does not
/// decide, the five-minute rules screen as before it. A cluster whose agent
/// has sent nothing is screened as one without an agent (only `IsIdle`
/// counts); its details then show whether it has one, and [`judge`]
/// decides.
pub fn screen_metrics(
    is_idle: &[Datapoint],
    busy: &[Datapoint],
    bounds: &Bounds,
    now: Timestamp,
) -> Option<KeepReason> {
    let start = now - SignedDuration::from_mins(i64::from(bounds.min_idle_minutes));
    match agent_word(busy, start, now) {
        // Busy by a fresh agent: kept, unless its warning or termination
        // may fall due before the next sweep (then its details decide, and
        // the sweep schedules a check for it).
        AgentWord::Busy => {
            let soonest = newest_busy(fresh_samples(busy, now)?)?
                + SignedDuration::from_mins(i64::from(bounds.min_idle_minutes));
            (soonest > now + crate::sweep::terminator::SWEEP_INTERVAL)
                .then_some(KeepReason::Activity)
        }
        AgentWord::Idle => certainly_busy(is_idle, start).then_some(KeepReason::SparkBusy),
        AgentWord::Silent => {
            let activity = (!busy.is_empty()).then(|| in_periods(busy, now));
            idle_evidence(is_idle, activity.as_deref(), start, now).err()
        }
    }
}

/// The datapoints that speak for the window `[start, now]`, if they cover it
/// as the metric's `timing` allows (see [`MetricTiming`]); `None` when they
/// do not. A window shorter than the metric's `min_window` is read as that
/// long. Then:
///
/// - a bucket counts when its evidence can reach past `start`
///   (`t + reach > start`); earlier ones are ignored, whatever their value;
/// - the first counting bucket begins at least `lead` before `start`;
/// - no bucket is missing between it and the newest (one every period);
/// - the newest is at most `max_age` old: older means the source stopped.
///
/// What happened after the newest datapoint (EMR's last 5–15 minutes, the
/// reporter's last minute or two) is not yet published; the sweep's live
/// checks (cluster state, pending or running steps) stand for it.
fn window(
    points: &[Datapoint],
    start: Timestamp,
    now: Timestamp,
    timing: MetricTiming,
) -> Option<Vec<Datapoint>> {
    let period = SignedDuration::from_secs(METRIC_PERIOD_SECONDS);
    let start = start.min(now - timing.min_window);
    let mut inside: Vec<Datapoint> = points
        .iter()
        .copied()
        .filter(|(t, _)| *t <= now && start.duration_since(*t) < timing.reach)
        .collect();
    inside.sort_by_key(|(t, _)| *t);
    let first = inside.first()?.0;
    let newest = inside.last()?.0;
    let covered = start.duration_since(first) >= timing.lead
        && now.duration_since(newest) <= timing.max_age
        && inside
            .windows(2)
            .all(|w| w[1].0.duration_since(w[0].0) <= period);
    covered.then_some(inside)
}

#[cfg(test)]
#[path = "idle_tests.rs"]
mod tests;
