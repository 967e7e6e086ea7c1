//! The history of what the idle sweep did: one small JSON object per
//! termination and per warning, under `s3://$SPARKHUB_BUCKET/history/`; and
//! of the clusters a person stopped with `sparkhub stop` (a termination with
//! the cause [`Cause::Stopped`] and who stopped it).
//! `sparkhub report` reads them back to tell a cluster sparkhub terminated
//! for idleness from one it terminated at its maximum lifetime (EMR's own
//! state-change reason says only `USER_REQUEST` for both).
//!
//! Key layout, stable (the report lists by day):
//! `history/<yyyy-mm-dd>/<cluster id>-<kind>-<unix seconds>.json`, the day and
//! the seconds of `recorded_at` in UTC. A record is written once and never
//! changed.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::idle::TerminateReason;
use crate::ports::ListedCluster;
use crate::sweep::warning::Warning;

/// Where the records live in the sparkhub bucket.
pub const HISTORY_PREFIX: &str = "history/";

/// The format of [`Record`]; a reader skips records of a newer one it does
/// not know.
pub const RECORD_VERSION: u32 = 1;

/// What the sweep did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordKind {
    Termination,
    Warning,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Termination => "termination",
            Self::Warning => "warning",
        }
    }
}

/// Why the sweep terminated (or will terminate) the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// Nobody used it for the profile's idle timeout.
    Idle,
    /// It reached the profile's maximum lifetime.
    MaxLifetime,
    /// A person stopped it with `sparkhub stop` (not the sweep).
    Stopped,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::MaxLifetime => "max-lifetime",
            Self::Stopped => "stopped",
        }
    }

    pub fn of(reason: &TerminateReason) -> Self {
        match reason {
            TerminateReason::Idle { .. } => Self::Idle,
            TerminateReason::MaxLifetime { .. } => Self::MaxLifetime,
        }
    }
}

/// One termination or warning of the sweep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// [`RECORD_VERSION`] when written.
    pub version: u32,
    pub kind: RecordKind,
    pub cluster_id: String,
    pub cluster_name: String,
    pub profile: String,
    pub cause: Cause,
    /// The sweep's reason, for people.
    pub reason: String,
    /// For an idle cause: the minutes without use that decided it.
    #[serde(default)]
    pub idle_minutes: Option<i64>,
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    #[serde(default)]
    pub ready_at: Option<Timestamp>,
    /// A termination: when the sweep terminated it.
    #[serde(default)]
    pub ended_at: Option<Timestamp>,
    /// A warning: the latest instant the sweep terminates it if nothing changes.
    #[serde(default)]
    pub terminate_by: Option<Timestamp>,
    pub recorded_at: Timestamp,
    /// A [`Cause::Stopped`] termination: who stopped it (the caller's ARN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<String>,
}

impl Record {
    /// The sweep terminated `cluster` at `now` for `reason`.
    pub fn termination(
        cluster: &ListedCluster,
        profile: &str,
        reason: &TerminateReason,
        now: Timestamp,
    ) -> Self {
        Self {
            version: RECORD_VERSION,
            kind: RecordKind::Termination,
            cluster_id: cluster.id.clone(),
            cluster_name: cluster.name.clone(),
            profile: profile.to_owned(),
            cause: Cause::of(reason),
            reason: reason.to_string(),
            idle_minutes: match reason {
                TerminateReason::Idle { minutes } => Some(*minutes),
                TerminateReason::MaxLifetime { .. } => None,
            },
            created_at: cluster.created_at,
            ready_at: cluster.ready_at,
            ended_at: Some(now),
            terminate_by: None,
            recorded_at: now,
            stopped_by: None,
        }
    }

    /// A person (`by`, the caller's ARN) stopped `cluster` with `sparkhub
    /// stop` at `now`.
    pub fn stopped(cluster: &crate::ports::Cluster, by: &str, now: Timestamp) -> Self {
        Self {
            version: RECORD_VERSION,
            kind: RecordKind::Termination,
            cluster_id: cluster.id.clone(),
            cluster_name: cluster.name.clone(),
            profile: cluster.profile().unwrap_or_default().to_owned(),
            cause: Cause::Stopped,
            reason: format!("stopped by {by} with sparkhub stop"),
            idle_minutes: None,
            created_at: cluster.created_at,
            ready_at: cluster.ready_at,
            ended_at: Some(now),
            terminate_by: None,
            recorded_at: now,
            stopped_by: Some(by.to_owned()),
        }
    }

    /// The sweep warned about `cluster` at `now`.
    pub fn warning(cluster: &ListedCluster, warning: &Warning, now: Timestamp) -> Self {
        Self {
            version: RECORD_VERSION,
            kind: RecordKind::Warning,
            cluster_id: cluster.id.clone(),
            cluster_name: cluster.name.clone(),
            profile: warning.profile.clone(),
            cause: if warning.because_idle {
                Cause::Idle
            } else {
                Cause::MaxLifetime
            },
            reason: warning.reason.clone(),
            idle_minutes: None,
            created_at: cluster.created_at,
            ready_at: cluster.ready_at,
            ended_at: None,
            terminate_by: Some(warning.terminate_by),
            recorded_at: now,
            stopped_by: None,
        }
    }

    /// `history/<yyyy-mm-dd>/<cluster>-<kind>-<unix seconds>.json`.
    pub fn key(&self) -> String {
        let day = self.recorded_at.to_zoned(jiff::tz::TimeZone::UTC).date();
        format!(
            "{HISTORY_PREFIX}{day}/{}-{}-{}.json",
            self.cluster_id,
            self.kind.as_str(),
            self.recorded_at.as_second()
        )
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a history record serializes")
    }

    /// A record read back; `None` for one of a newer format or not a record.
    pub fn parse(body: &str) -> Option<Self> {
        let record: Self = serde_json::from_str(body).ok()?;
        (record.version <= RECORD_VERSION).then_some(record)
    }
}

/// A cluster's startup, recorded once by setup-jupyter-users when the
/// cluster first reached WAITING: `history/<ready day>/<cluster
/// id>-startup-<ready unix seconds>.json`. A reader of an older version
/// skips it (no `cause`: not a [`Record`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartupRecord {
    /// [`RECORD_VERSION`] when written.
    pub version: u32,
    /// Always `startup`.
    pub kind: String,
    pub cluster_id: String,
    pub cluster_name: String,
    pub profile: String,
    pub created_at: Timestamp,
    pub ready_at: Timestamp,
    /// From created to ready.
    pub seconds: i64,
    /// The instant a `ready_by` run wanted it ready (the cluster's
    /// `sparkhub:ready-by` tag), if it had one.
    #[serde(default)]
    pub ready_by: Option<Timestamp>,
}

/// The `kind` of a [`StartupRecord`].
pub const STARTUP_KIND: &str = "startup";

impl StartupRecord {
    pub fn new(
        cluster_id: &str,
        cluster_name: &str,
        profile: &str,
        created_at: Timestamp,
        ready_at: Timestamp,
        ready_by: Option<Timestamp>,
    ) -> Self {
        Self {
            version: RECORD_VERSION,
            kind: STARTUP_KIND.into(),
            cluster_id: cluster_id.into(),
            cluster_name: cluster_name.into(),
            profile: profile.into(),
            created_at,
            ready_at,
            seconds: ready_at.duration_since(created_at).as_secs(),
            ready_by,
        }
    }

    pub fn key(&self) -> String {
        let day = self.ready_at.to_zoned(jiff::tz::TimeZone::UTC).date();
        format!(
            "{HISTORY_PREFIX}{day}/{}-{STARTUP_KIND}-{}.json",
            self.cluster_id,
            self.ready_at.as_second()
        )
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a startup record serializes")
    }

    /// A startup record read back; `None` for anything else.
    pub fn parse(body: &str) -> Option<Self> {
        let record: Self = serde_json::from_str(body).ok()?;
        (record.version <= RECORD_VERSION && record.kind == STARTUP_KIND).then_some(record)
    }
}

/// A run started although its profile's monthly budget was spent, because
/// its invocation said `"override_budget": true`:
/// `history/<day>/<execution>-budget-override-<unix seconds>.json` (the
/// execution name starts with the profile's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetOverrideRecord {
    pub version: u32,
    /// Always `budget-override`.
    pub kind: String,
    pub profile: String,
    pub execution: String,
    pub budget_usd: u32,
    pub spent_usd: f64,
    pub recorded_at: Timestamp,
}

/// The `kind` of a [`BudgetOverrideRecord`].
pub const BUDGET_OVERRIDE_KIND: &str = "budget-override";

impl BudgetOverrideRecord {
    pub fn key(&self) -> String {
        let day = self.recorded_at.to_zoned(jiff::tz::TimeZone::UTC).date();
        format!(
            "{HISTORY_PREFIX}{day}/{}-{BUDGET_OVERRIDE_KIND}-{}.json",
            self.execution,
            self.recorded_at.as_second()
        )
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an override record serializes")
    }
}

/// The keys of the days from `since` to `until` (inclusive), to list
/// `history/<day>/` one day at a time.
pub fn day_prefixes(since: Timestamp, until: Timestamp) -> Vec<String> {
    let utc = jiff::tz::TimeZone::UTC;
    let mut day = since.to_zoned(utc.clone()).date();
    let last = until.to_zoned(utc).date();
    let mut out = Vec::new();
    while day <= last {
        out.push(format!("{HISTORY_PREFIX}{day}/"));
        match day.tomorrow() {
            Ok(next) => day = next,
            Err(_) => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emr::ClusterState;

    fn listed() -> ListedCluster {
        ListedCluster {
            id: "j-2AXXXXXXGAPLF".into(),
            name: "sparkhub-tutorial".into(),
            state: ClusterState::Waiting,
            created_at: Some("2026-11-25T08:00:00Z".parse().unwrap()),
            ready_at: Some("2026-11-25T08:09:00Z".parse().unwrap()),
        }
    }

    #[test]
    fn a_termination_is_keyed_by_day_cluster_kind_and_second() {
        let now: Timestamp = "2026-11-25T23:59:30Z".parse().unwrap();
        let r = Record::termination(
            &listed(),
            "tutorial",
            &TerminateReason::Idle { minutes: 60 },
            now,
        );
        assert_eq!(
            r.key(),
            format!(
                "history/2026-11-25/j-2AXXXXXXGAPLF-termination-{}.json",
                now.as_second()
            )
        );
        assert_eq!(r.cause, Cause::Idle);
        assert_eq!(r.idle_minutes, Some(60));
        assert_eq!(r.ended_at, Some(now));
        assert_eq!(Record::parse(&r.to_json()), Some(r));
    }

    #[test]
    fn the_json_names_every_field_a_reader_relies_on() {
        let now: Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
        let r = Record::termination(
            &listed(),
            "tutorial",
            &TerminateReason::MaxLifetime {
                hours: 12,
                ignored_keep_alive: None,
            },
            now,
        );
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["kind"], "termination");
        assert_eq!(v["cause"], "max-lifetime");
        assert_eq!(v["cluster_id"], "j-2AXXXXXXGAPLF");
        assert_eq!(v["cluster_name"], "sparkhub-tutorial");
        assert_eq!(v["profile"], "tutorial");
        assert_eq!(v["created_at"], "2026-11-25T08:00:00Z");
        assert_eq!(v["ready_at"], "2026-11-25T08:09:00Z");
        assert_eq!(v["ended_at"], "2026-11-25T12:00:00Z");
        assert_eq!(v["recorded_at"], "2026-11-25T12:00:00Z");
        assert_eq!(v["version"], 1);
    }

    #[test]
    fn a_warning_carries_when_the_termination_is_due() {
        let now: Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
        let by: Timestamp = "2026-11-25T12:15:00Z".parse().unwrap();
        let w = Warning {
            cluster_id: "j-2AXXXXXXGAPLF".into(),
            profile: "tutorial".into(),
            terminate_by: by,
            reason: "idle".into(),
            because_idle: true,
            notebooks: true,
            recipients: vec![],
        };
        let r = Record::warning(&listed(), &w, now);
        assert_eq!(r.kind, RecordKind::Warning);
        assert_eq!(r.terminate_by, Some(by));
        assert_eq!(r.ended_at, None);
        assert!(r.key().contains("-warning-"));
    }

    #[test]
    fn a_record_of_a_newer_format_or_not_a_record_is_skipped() {
        let now: Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
        let mut r = Record::termination(
            &listed(),
            "tutorial",
            &TerminateReason::Idle { minutes: 60 },
            now,
        );
        r.version = RECORD_VERSION + 1;
        assert_eq!(Record::parse(&r.to_json()), None);
        assert_eq!(Record::parse("{\"cluster_id\": 3}"), None);
    }

    #[test]
    fn a_startup_is_keyed_by_its_ready_day_and_is_no_termination() {
        let r = StartupRecord::new(
            "j-2AXXXXXXGAPLF",
            "sparkhub-tutorial",
            "tutorial",
            "2026-11-25T07:52:00Z".parse().unwrap(),
            "2026-11-25T08:00:30Z".parse().unwrap(),
            None,
        );
        assert_eq!(r.seconds, 510);
        assert_eq!(
            r.key(),
            format!(
                "history/2026-11-25/j-2AXXXXXXGAPLF-startup-{}.json",
                r.ready_at.as_second()
            )
        );
        assert_eq!(StartupRecord::parse(&r.to_json()), Some(r.clone()));
        assert_eq!(Record::parse(&r.to_json()), None);
        let termination = Record::termination(
            &listed(),
            "tutorial",
            &TerminateReason::Idle { minutes: 60 },
            "2026-11-25T12:00:00Z".parse().unwrap(),
        );
        assert_eq!(StartupRecord::parse(&termination.to_json()), None);
    }

    #[test]
    fn day_prefixes_cover_both_ends() {
        let since: Timestamp = "2026-11-29T23:00:00Z".parse().unwrap();
        let until: Timestamp = "2026-12-01T00:30:00Z".parse().unwrap();
        assert_eq!(
            day_prefixes(since, until),
            [
                "history/2026-11-29/",
                "history/2026-11-30/",
                "history/2026-12-01/"
            ]
        );
    }
}
