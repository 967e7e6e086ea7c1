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

/// EMR's namespace and its idleness metric (dimension `JobFlowId`).
pub const EMR_NAMESPACE: &str = "AWS/ElasticMapReduce";
pub const IS_IDLE_METRIC: &str = "IsIdle";
/// The notebook activity reporter's namespace and metric (dimension `JobFlowId`).
pub const NOTEBOOK_NAMESPACE: &str = "Sparkhub";
pub const NOTEBOOK_METRIC: &str = "ActiveNotebookUsers";

/// The policy for a cluster whose profile cannot be read any more: slower to
/// call it idle than any profile default, still bounded.
pub const FALLBACK_POLICY: IdlePolicy = IdlePolicy {
    timeout_minutes: 120,
    grace_minutes: 60,
    max_lifetime_hours: 24,
};

/// The `sparkhub:keep-alive-until` tag as found on the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeepAlive {
    None,
    Until(Timestamp),
    /// Not an RFC 3339 instant: a person meant to keep the cluster, so it is kept.
    Unreadable(String),
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
    /// EMR `IsIdle` (Minimum per period: 1 only if idle the whole period).
    pub is_idle: Vec<Datapoint>,
    /// Whether a notebook activity reporter runs on this cluster (JupyterHub).
    pub notebook_reporter: bool,
    /// Active notebook users (Maximum per period), from the reporter.
    pub notebook_users: Vec<Datapoint>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeepReason {
    NotManaged,
    TerminationProtected,
    KeptAliveUntil(Timestamp),
    KeepAliveTagUnreadable(String),
    NotWaiting(ClusterState),
    StepsBusy(usize),
    InGracePeriod { minutes_left: i64 },
    NotReadyYet,
    SparkBusy,
    IdleMetricGap,
    NotebookActivity,
    NotebookMetricGap,
}

impl KeepReason {
    /// A short stable key, for summaries and metrics.
    pub fn key(&self) -> &'static str {
        match self {
            Self::NotManaged => "not_managed",
            Self::TerminationProtected => "termination_protected",
            Self::KeptAliveUntil(_) | Self::KeepAliveTagUnreadable(_) => "kept_alive",
            Self::NotWaiting(_) => "not_waiting",
            Self::StepsBusy(_) => "steps_busy",
            Self::InGracePeriod { .. } | Self::NotReadyYet => "grace_period",
            Self::SparkBusy => "spark_busy",
            Self::IdleMetricGap => "idle_metric_gap",
            Self::NotebookActivity => "notebook_activity",
            Self::NotebookMetricGap => "notebook_metric_gap",
        }
    }
}

impl fmt::Display for KeepReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotManaged => write!(f, "not managed by sparkhub (no sparkhub:managed=true tag)"),
            Self::TerminationProtected => write!(f, "termination protected"),
            Self::KeptAliveUntil(t) => write!(f, "kept alive until {t}"),
            Self::KeepAliveTagUnreadable(v) => write!(
                f,
                "sparkhub:keep-alive-until is {v:?}, not an RFC 3339 instant; kept to be safe"
            ),
            Self::NotWaiting(s) => write!(f, "state {s}"),
            Self::StepsBusy(n) => write!(f, "{n} step(s) pending or running"),
            Self::InGracePeriod { minutes_left } => write!(
                f,
                "in the grace period after ready ({minutes_left} min left)"
            ),
            Self::NotReadyYet => write!(f, "not ready yet"),
            Self::SparkBusy => write!(f, "EMR IsIdle was 0 in the idle window"),
            Self::IdleMetricGap => write!(f, "IsIdle datapoints do not cover the idle window"),
            Self::NotebookActivity => write!(f, "notebook activity in the idle window"),
            Self::NotebookMetricGap => write!(
                f,
                "notebook activity datapoints do not cover the idle window"
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminateReason {
    Idle { minutes: i64 },
    MaxLifetime { hours: i64 },
}

impl fmt::Display for TerminateReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Idle { minutes } => write!(
                f,
                "idle for {minutes} min (no steps, EMR IsIdle, no notebook activity)"
            ),
            Self::MaxLifetime { hours } => {
                write!(f, "older than its maximum lifetime of {hours} h")
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
    use KeepReason::*;
    if !s.managed {
        return Verdict::Keep(NotManaged);
    }
    if s.termination_protected {
        return Verdict::Keep(TerminationProtected);
    }
    match &s.keep_alive {
        KeepAlive::Until(t) if *t > now => return Verdict::Keep(KeptAliveUntil(*t)),
        KeepAlive::Unreadable(v) => return Verdict::Keep(KeepAliveTagUnreadable(v.clone())),
        _ => {}
    }
    if !s.state.is_active() {
        return Verdict::Keep(NotWaiting(s.state.clone()));
    }
    let max_lifetime = SignedDuration::from_hours(i64::from(policy.max_lifetime_hours));
    if now.duration_since(s.created_at) > max_lifetime {
        return Verdict::Terminate(TerminateReason::MaxLifetime {
            hours: i64::from(policy.max_lifetime_hours),
        });
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
    let grace = SignedDuration::from_mins(i64::from(policy.grace_minutes));
    let since_ready = now.duration_since(ready_at);
    if since_ready < grace {
        let left = ((grace - since_ready).as_secs() + 59) / 60;
        return Verdict::Keep(InGracePeriod { minutes_left: left });
    }
    let window_start = now - SignedDuration::from_mins(i64::from(policy.timeout_minutes));
    match window(&s.is_idle, window_start, now, policy) {
        None => return Verdict::Keep(IdleMetricGap),
        Some(points) if points.iter().any(|(_, v)| *v < 1.0) => return Verdict::Keep(SparkBusy),
        Some(_) => {}
    }
    if s.notebook_reporter {
        match window(&s.notebook_users, window_start, now, policy) {
            None => return Verdict::Keep(NotebookMetricGap),
            Some(points) if points.iter().any(|(_, v)| *v > 0.0) => {
                return Verdict::Keep(NotebookActivity);
            }
            Some(_) => {}
        }
    }
    Verdict::Terminate(TerminateReason::Idle {
        minutes: i64::from(policy.timeout_minutes),
    })
}

/// The datapoints inside `[start, now]`, if they cover it: one per period
/// except the most recent (CloudWatch publishes a period after it ends), and
/// the first no later than one period after `start`. `None` when they do not.
fn window(
    points: &[Datapoint],
    start: Timestamp,
    now: Timestamp,
    policy: &IdlePolicy,
) -> Option<Vec<Datapoint>> {
    let period = SignedDuration::from_secs(METRIC_PERIOD_SECONDS);
    let mut inside: Vec<Datapoint> = points
        .iter()
        .copied()
        .filter(|(t, _)| *t >= start - period && *t <= now)
        .collect();
    inside.sort_by_key(|(t, _)| *t);
    let periods = i64::from(policy.timeout_minutes) * 60 / METRIC_PERIOD_SECONDS;
    let needed = usize::try_from((periods - 1).max(1)).unwrap_or(1);
    let first = inside.first()?.0;
    let covered = inside.len() >= needed
        && first <= start + period
        && inside
            .windows(2)
            .all(|w| w[1].0.duration_since(w[0].0) <= period);
    covered.then_some(inside)
}

#[cfg(test)]
#[path = "idle_tests.rs"]
mod tests;
