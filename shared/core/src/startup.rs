//! How long a profile's clusters take from created to ready (EMR's
//! `CreationDateTime` → `ReadyDateTime`, the first WAITING), and what a
//! `ready_by` schedule makes of it.
//!
//! setup-jupyter-users sees every sparkhub cluster reach WAITING (EMR's
//! "Cluster State Change" event) and records its startup three ways: a
//! history record beside the sweep's terminations and warnings (what
//! `sparkhub report` reads for its p50/p95), the CloudWatch metric
//! [`STARTUP_METRIC`] (the dashboard's widget), and the profile's
//! [`Startups`] object `startups/<profile>.json` with its newest
//! [`KEPT`] startups (what create-cluster reads for a `ready_by` run: one
//! GetObject instead of listing the history day by day). The object is
//! rewritten with a conditional write (`If-Match`), so two clusters of one
//! profile ready at once both land.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::ProfileName;

/// Where the per-profile objects live in the sparkhub bucket.
pub const STARTUPS_PREFIX: &str = "startups/";
/// The format of [`Startups`]; a reader treats a newer one as no history.
pub const STARTUPS_VERSION: u32 = 1;
/// Startups kept per profile (the newest).
pub const KEPT: usize = 30;
/// The p95 is taken over at most this many of the newest startups: old
/// enough ones say little about today's bootstrap scripts.
pub const WINDOW: usize = 20;
/// With fewer startups than this the lead is [`DEFAULT_STARTUP`].
pub const MIN_HISTORY: usize = 5;
/// The startup assumed while a profile has fewer than [`MIN_HISTORY`]:
/// users report 7–8 minutes for a cluster with JupyterHub and 20 or more
/// with heavy bootstrap actions; the upper end, so the first runs are in
/// time and only wait a little longer.
pub const DEFAULT_STARTUP: SignedDuration = SignedDuration::from_mins(20);
/// Added to the p95: what the estimate from 20 startups does not know.
/// `cargo bench -p sparkhub-core --bench ready_by` chose it (BENCHMARKS.md).
pub const READY_MARGIN: SignedDuration = SignedDuration::from_mins(2);

/// CloudWatch namespace and metric of the startup times (seconds, dimension
/// `Profile`).
pub const STARTUP_NAMESPACE: &str = "Sparkhub";
pub const STARTUP_METRIC: &str = "StartupSeconds";

/// Cluster tag of a `ready_by` run: the instant (RFC 3339) its people
/// arrive. The idle grace period counts from it, not from ready.
pub const TAG_READY_BY: &str = "sparkhub:ready-by";

/// The key of a profile's [`Startups`].
pub fn startups_key(profile: &ProfileName) -> String {
    format!("{STARTUPS_PREFIX}{profile}.json")
}

/// One cluster's way to ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartupSample {
    pub cluster_id: String,
    pub created_at: Timestamp,
    pub ready_at: Timestamp,
}

impl StartupSample {
    pub fn duration(&self) -> SignedDuration {
        self.ready_at.duration_since(self.created_at)
    }
}

/// A profile's newest startups, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Startups {
    pub version: u32,
    pub samples: Vec<StartupSample>,
}

impl Startups {
    /// The object read back; `None` for a newer format or not ours.
    pub fn parse(body: &str) -> Option<Self> {
        let s: Self = serde_json::from_str(body).ok()?;
        (s.version <= STARTUPS_VERSION).then_some(s)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("startups serialize")
    }

    /// With `sample` added (in order of ready time, the newest [`KEPT`]
    /// kept); `None` when the cluster is in it already.
    pub fn with(&self, sample: StartupSample) -> Option<Self> {
        if self
            .samples
            .iter()
            .any(|s| s.cluster_id == sample.cluster_id)
        {
            return None;
        }
        let mut samples = self.samples.clone();
        samples.push(sample);
        samples.sort_by_key(|s| s.ready_at);
        let skip = samples.len().saturating_sub(KEPT);
        Some(Self {
            version: STARTUPS_VERSION,
            samples: samples.split_off(skip),
        })
    }
}

/// The `p`-th percentile (0–100) of `values` by nearest rank: the smallest
/// value with at least p % of the values at or below it. `None` when empty.
pub fn percentile(values: &[SignedDuration], p: u32) -> Option<SignedDuration> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort();
    let rank = (u64::from(p.min(100)) * sorted.len() as u64)
        .div_ceil(100)
        .max(1) as usize;
    Some(sorted[rank - 1])
}

/// How early a `ready_by` run creates its cluster, and from what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lead {
    /// The startup the run plans for: the p95 of the newest [`WINDOW`]
    /// startups, or [`DEFAULT_STARTUP`] with fewer than [`MIN_HISTORY`].
    pub startup: SignedDuration,
    /// How many startups it is from; 0: the default.
    pub samples: usize,
    /// Added to it ([`READY_MARGIN`]).
    pub margin: SignedDuration,
}

impl Lead {
    pub fn total(&self) -> SignedDuration {
        self.startup + self.margin
    }

    /// When a run that must be ready by `ready_by` creates its cluster.
    pub fn start_at(&self, ready_by: Timestamp) -> Timestamp {
        ready_by - self.total()
    }
}

/// The lead for a profile with these startups.
pub fn lead(startups: &Startups) -> Lead {
    let newest: Vec<SignedDuration> = startups
        .samples
        .iter()
        .rev()
        .take(WINDOW)
        .map(StartupSample::duration)
        .collect();
    match percentile(&newest, 95) {
        Some(p95) if newest.len() >= MIN_HISTORY => Lead {
            startup: p95,
            samples: newest.len(),
            margin: READY_MARGIN,
        },
        _ => Lead {
            startup: DEFAULT_STARTUP,
            samples: 0,
            margin: READY_MARGIN,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn sample(id: &str, ready: &str, minutes: i64) -> StartupSample {
        let ready_at = at(ready);
        StartupSample {
            cluster_id: id.into(),
            created_at: ready_at - SignedDuration::from_mins(minutes),
            ready_at,
        }
    }

    fn mins(m: i64) -> SignedDuration {
        SignedDuration::from_mins(m)
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<_> = (1..=20).map(mins).collect();
        assert_eq!(percentile(&v, 50), Some(mins(10)));
        assert_eq!(percentile(&v, 95), Some(mins(19)));
        assert_eq!(percentile(&v, 100), Some(mins(20)));
        assert_eq!(percentile(&[mins(7)], 95), Some(mins(7)));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn a_profile_without_five_startups_plans_for_the_default() {
        let mut s = Startups::default();
        for i in 0..4 {
            s = s
                .with(sample(&format!("j-{i}"), "2026-12-01T08:00:00Z", 8))
                .unwrap();
        }
        let l = lead(&s);
        assert_eq!((l.startup, l.samples), (DEFAULT_STARTUP, 0));
        let s = s.with(sample("j-4", "2026-12-02T08:00:00Z", 9)).unwrap();
        let l = lead(&s);
        assert_eq!((l.startup, l.samples), (mins(9), 5));
        assert_eq!(
            l.start_at(at("2026-12-03T08:00:00Z")),
            at("2026-12-03T07:49:00Z")
        );
    }

    #[test]
    fn the_p95_is_of_the_newest_twenty_startups() {
        let mut s = Startups::default();
        // Thirty slow startups long ago, then twenty of 8 minutes.
        for i in 0..30 {
            s = s
                .with(sample(
                    &format!("j-old{i}"),
                    &format!("2026-10-{:02}T08:00:00Z", i % 28 + 1),
                    25,
                ))
                .unwrap();
        }
        for i in 0..20 {
            s = s
                .with(sample(
                    &format!("j-new{i}"),
                    &format!("2026-11-{:02}T08:00:00Z", i + 1),
                    8,
                ))
                .unwrap();
        }
        assert_eq!(s.samples.len(), KEPT);
        assert_eq!(lead(&s).startup, mins(8));
    }

    #[test]
    fn a_cluster_is_counted_once() {
        let s = Startups::default()
            .with(sample("j-1", "2026-12-01T08:00:00Z", 8))
            .unwrap();
        assert_eq!(s.with(sample("j-1", "2026-12-01T08:00:00Z", 8)), None);
        assert_eq!(Startups::parse(&s.to_json()), Some(s));
        assert_eq!(Startups::parse("{\"version\": 99, \"samples\": []}"), None);
    }
}
