//! Monthly budgets per profile: what a profile's clusters cost this month
//! (an estimate: on-demand list prices × the profile's fleets × the hours of
//! the month each cluster ran), the alerts sent, and the refusal of a new
//! cluster once the budget is spent.
//!
//! One small object per profile and month, `budgets/<profile>/<yyyy-mm>.json`
//! in the sparkhub bucket. The idle sweep keeps it current (every five
//! minutes, for every active cluster of a profile with a `[budget]`; a
//! cluster that ended keeps the figure of the last sweep that saw it, or of
//! the sweep that terminated it), sends one SNS message per threshold per
//! month, and create-cluster reads it before it starts a run. Writes are
//! conditional (`If-Match`, as the leases): the sweep and an override never
//! lose each other's update.
//!
//! Months are UTC months.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::ProfileName;

/// Where the objects live in the sparkhub bucket.
pub const BUDGETS_PREFIX: &str = "budgets/";
/// The format of [`MonthSpend`]; a reader treats a newer one as unknown.
pub const BUDGET_VERSION: u32 = 1;

/// `2026-12` for an instant in December 2026 (UTC).
pub fn month_of(t: Timestamp) -> String {
    let d = t.to_zoned(jiff::tz::TimeZone::UTC).date();
    format!("{:04}-{:02}", d.year(), d.month())
}

/// The object of `profile`'s spending in `month` (`yyyy-mm`).
pub fn month_key(profile: &ProfileName, month: &str) -> String {
    format!("{BUDGETS_PREFIX}{profile}/{month}.json")
}

/// The first instant of the UTC month of `t` and of the month after.
pub fn month_bounds(t: Timestamp) -> (Timestamp, Timestamp) {
    let utc = jiff::tz::TimeZone::UTC;
    let d = t.to_zoned(utc.clone()).date();
    let first = Date::new(d.year(), d.month(), 1).expect("the first of a month");
    let next = first
        .checked_add(jiff::Span::new().months(1))
        .expect("a month later");
    let at = |d: Date| {
        d.to_zoned(utc.clone())
            .expect("midnight UTC exists")
            .timestamp()
    };
    (at(first), at(next))
}

/// One cluster's cost this month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterSpend {
    /// USD per hour of the whole cluster (its fleets at list prices).
    pub hourly_usd: f64,
    /// The hours of this month counted: from `from` to `to`.
    pub from: Timestamp,
    pub to: Timestamp,
    /// `hourly_usd` × the hours.
    pub usd: f64,
    /// Where the prices came from, for people.
    pub prices: String,
}

/// A run started although the budget was spent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    pub execution: String,
    pub at: Timestamp,
}

/// A profile's spending in one month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonthSpend {
    pub version: u32,
    pub profile: String,
    pub month: String,
    /// By cluster id.
    #[serde(default)]
    pub clusters: BTreeMap<String, ClusterSpend>,
    /// Thresholds (percent of the budget) already announced this month.
    #[serde(default)]
    pub alerts_sent: Vec<u32>,
    #[serde(default)]
    pub overrides: Vec<Override>,
    pub updated_at: Timestamp,
}

impl MonthSpend {
    pub fn new(profile: &ProfileName, month: &str, now: Timestamp) -> Self {
        Self {
            version: BUDGET_VERSION,
            profile: profile.to_string(),
            month: month.to_owned(),
            clusters: BTreeMap::new(),
            alerts_sent: Vec::new(),
            overrides: Vec::new(),
            updated_at: now,
        }
    }

    /// The object read back; `None` for a newer format or not ours.
    pub fn parse(body: &str) -> Option<Self> {
        let s: Self = serde_json::from_str(body).ok()?;
        (s.version <= BUDGET_VERSION).then_some(s)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a month's spending serializes")
    }

    /// USD spent this month, rounded to the cent.
    pub fn spent(&self) -> f64 {
        cents(self.clusters.values().map(|c| c.usd).sum())
    }
}

/// `usd` rounded to the cent.
pub fn cents(usd: f64) -> f64 {
    (usd * 100.0).round() / 100.0
}

/// One cluster's cost this month, given its hourly price and when it ran.
pub fn cluster_spend(
    hourly_usd: f64,
    created: Timestamp,
    until: Timestamp,
    prices: &str,
) -> ClusterSpend {
    let (month_start, month_end) = month_bounds(until);
    let from = created.max(month_start);
    let to = until.min(month_end).max(from);
    let hours = to.duration_since(from).as_secs_f64() / 3600.0;
    ClusterSpend {
        hourly_usd,
        from,
        to,
        usd: hourly_usd * hours,
        prices: prices.to_owned(),
    }
}

/// The thresholds of `alerts` (percent) that `spent` has reached against
/// `budget_usd` and were not announced yet, in order.
pub fn new_alerts(alerts: &[u32], sent: &[u32], spent: f64, budget_usd: u32) -> Vec<u32> {
    let mut due: Vec<u32> = alerts
        .iter()
        .copied()
        .filter(|p| !sent.contains(p))
        .filter(|p| spent * 100.0 >= f64::from(*p) * f64::from(budget_usd))
        .collect();
    due.sort_unstable();
    due.dedup();
    due
}

/// The month's spending at its end if it goes on as it went: `spent` over
/// the part of the month gone by, scaled to the whole month.
pub fn forecast(spent: f64, now: Timestamp) -> f64 {
    let (start, end) = month_bounds(now);
    let gone = now.duration_since(start);
    let whole = end.duration_since(start);
    if gone <= SignedDuration::from_mins(1) {
        return spent;
    }
    cents(spent * whole.as_secs_f64() / gone.as_secs_f64())
}

/// Whether a new run of a profile with `budget_usd` may start: `None` when
/// it may; why not, for a person, when this month's spending has reached it.
pub fn refusal(spend: Option<&MonthSpend>, budget_usd: u32) -> Option<String> {
    let spent = spend.map_or(0.0, MonthSpend::spent);
    (spent >= f64::from(budget_usd)).then(|| {
        format!(
            "its budget of ${budget_usd} for {} is spent (${spent:.2} estimated so far)",
            spend.map_or("this month", |s| s.month.as_str())
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_month_is_a_utc_month() {
        assert_eq!(month_of(at("2026-12-31T23:59:59Z")), "2026-12");
        assert_eq!(month_of(at("2027-01-01T00:00:00Z")), "2027-01");
        assert_eq!(
            month_bounds(at("2026-12-06T10:00:00Z")),
            (at("2026-12-01T00:00:00Z"), at("2027-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn a_cluster_counts_only_its_hours_of_this_month() {
        // Created on the 30th of November at 22:00, seen on 1 December 02:00:
        // two hours of December.
        let s = cluster_spend(
            0.75,
            at("2026-11-30T22:00:00Z"),
            at("2026-12-01T02:00:00Z"),
            "x",
        );
        assert_eq!(s.from, at("2026-12-01T00:00:00Z"));
        assert!((s.usd - 1.5).abs() < 1e-9);
        let s = cluster_spend(
            0.75,
            at("2026-12-05T08:00:00Z"),
            at("2026-12-05T08:30:00Z"),
            "x",
        );
        assert!((s.usd - 0.375).abs() < 1e-9);
    }

    #[test]
    fn each_threshold_is_announced_once() {
        assert_eq!(
            new_alerts(&[50, 80, 100], &[], 40.0, 100),
            Vec::<u32>::new()
        );
        assert_eq!(new_alerts(&[50, 80, 100], &[], 85.0, 100), [50, 80]);
        assert_eq!(
            new_alerts(&[50, 80, 100], &[50, 80], 85.0, 100),
            Vec::<u32>::new()
        );
        assert_eq!(new_alerts(&[100, 50, 80], &[50, 80], 100.0, 100), [100]);
    }

    #[test]
    fn a_spent_budget_refuses_and_says_how_much() {
        let profile = ProfileName::parse("drift").unwrap();
        let mut m = MonthSpend::new(&profile, "2026-12", at("2026-12-06T10:00:00Z"));
        assert_eq!(refusal(Some(&m), 10), None);
        m.clusters.insert(
            "j-1".into(),
            cluster_spend(
                1.0,
                at("2026-12-06T00:00:00Z"),
                at("2026-12-06T10:00:00Z"),
                "x",
            ),
        );
        assert_eq!(m.spent(), 10.0);
        let why = refusal(Some(&m), 10).unwrap();
        assert!(why.contains("$10") && why.contains("2026-12"), "{why}");
        assert_eq!(MonthSpend::parse(&m.to_json()), Some(m));
    }

    #[test]
    fn the_forecast_scales_the_month_so_far() {
        // A quarter of December (31 days) gone: 7.75 days.
        let now = at("2026-12-01T00:00:00Z") + SignedDuration::from_hours(186);
        assert_eq!(forecast(25.0, now), 100.0);
    }
}
