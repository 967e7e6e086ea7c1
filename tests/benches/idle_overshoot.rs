//! How long past its idle timeout a cluster runs: a pure simulation over
//! `sparkhub_core::idle::judge`, no emulator.
//!
//! Run: `cargo bench -p sparkhub-tests --bench idle_overshoot`
//!
//! The cluster is busy until `t0`, then idle. EMR publishes `IsIdle` once per
//! five-minute period (stamped with the period's start; 0 if any of it was
//! busy), `lag` after the period ends (0 to 5 minutes); the notebook reporter
//! publishes every minute (0 from `t0`), received 30 to 150 s later; sweeps
//! run every five minutes. GetMetricData's five-minute buckets start at the
//! sweep's query start, as the terminator asks. Every phase between sweep,
//! EMR and reporter, every lag and every moment within a period that the
//! cluster falls idle is tried; overshoot = first terminating sweep −
//! (`t0` + timeout).

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use sparkhub_core::emr::ClusterState;
use sparkhub_core::idle::{
    FALLBACK_POLICY, IS_IDLE_TIMING, KeepAlive, QUERY_LOOKBACK, Snapshot, TerminateReason, Verdict,
    judge,
};
use sparkhub_core::profile::IdlePolicy;

const MIN: i64 = 60;
const PERIOD: i64 = 5 * MIN;

struct Case {
    timeout: i64,
    t0: i64,
    emr_phase: i64,
    emr_lag: i64,
    reporter_phase: i64,
    reporter_lag: i64,
}

/// What a sweep at `s` (seconds after `base`) reads.
fn snapshot(base: Timestamp, s: i64, c: &Case) -> Snapshot {
    let at = |secs: i64| base + SignedDuration::from_secs(secs);
    // As the sweep asks: its longest window (the fallback's 120 minutes at
    // least) plus the lookback, from a start CloudWatch rounds to the minute.
    let longest = c
        .timeout
        .max(i64::from(FALLBACK_POLICY.timeout_minutes) * MIN)
        .max(IS_IDLE_TIMING.min_window.as_secs());
    let query_start = (s - longest - QUERY_LOOKBACK.as_secs()).div_euclid(MIN) * MIN;
    let bucket = |raw: Vec<(i64, f64)>, combine: fn(f64, f64) -> f64| -> Vec<(Timestamp, f64)> {
        let mut buckets: BTreeMap<i64, f64> = BTreeMap::new();
        for (t, v) in raw.into_iter().filter(|(t, _)| *t >= query_start && *t < s) {
            let b = query_start + (t - query_start).div_euclid(PERIOD) * PERIOD;
            buckets
                .entry(b)
                .and_modify(|old| *old = combine(*old, v))
                .or_insert(v);
        }
        buckets.into_iter().map(|(b, v)| (at(b), v)).collect()
    };
    let first_emr = c.emr_phase + ((query_start - c.emr_phase).div_euclid(PERIOD) - 1) * PERIOD;
    let emr = (0..)
        .map(|k| first_emr + PERIOD * k)
        .take_while(|p| p + PERIOD + c.emr_lag <= s)
        .map(|p| (p, if p >= c.t0 { 1.0 } else { 0.0 }))
        .collect();
    let first_report =
        c.reporter_phase + ((query_start - c.reporter_phase).div_euclid(MIN) - 1) * MIN;
    let reporter = (0..)
        .map(|k| first_report + MIN * k)
        .take_while(|r| r + c.reporter_lag <= s)
        .map(|r| (r, if r >= c.t0 { 0.0 } else { 1.0 }))
        .collect();
    Snapshot {
        cluster_id: "j-SIM".into(),
        managed: true,
        termination_protected: false,
        state: ClusterState::Waiting,
        created_at: base,
        ready_at: Some(base),
        keep_alive: KeepAlive::None,
        busy_steps: 0,
        is_idle: bucket(emr, f64::min),
        notebook_reporter: true,
        notebook_users: bucket(reporter, f64::max),
    }
}

/// Seconds past the timeout at which the first sweep terminates the cluster.
fn overshoot(base: Timestamp, sweep_phase: i64, c: &Case) -> i64 {
    let policy = IdlePolicy {
        timeout_minutes: u32::try_from(c.timeout / MIN).expect("minutes"),
        grace_minutes: 0,
        max_lifetime_hours: 720,
        warn_minutes: 0,
    };
    let first = (0..)
        .map(|k| sweep_phase + PERIOD * k)
        .skip_while(|s| *s < c.t0)
        .take_while(|s| *s < c.t0 + c.timeout + 2 * 60 * MIN)
        .find(|&s| {
            matches!(
                judge(
                    &snapshot(base, s, c),
                    &policy,
                    base + SignedDuration::from_secs(s)
                ),
                Verdict::Terminate(TerminateReason::Idle { .. })
            )
        })
        .expect("terminated within two hours of its timeout");
    first - (c.t0 + c.timeout)
}

fn main() {
    let base: Timestamp = "2026-11-25T00:00:00Z".parse().expect("an instant");
    println!("| idle timeout | runs | early | overshoot min | median | p90 | max |");
    println!("|---|---|---|---|---|---|---|");
    for timeout_minutes in [5, 15, 60, 120] {
        let mut all = Vec::new();
        for emr_phase in (0..PERIOD).step_by(30) {
            for emr_lag in (0..=PERIOD).step_by(60) {
                for sweep_phase in (0..PERIOD).step_by(30) {
                    for idle_from in (0..PERIOD).step_by(60) {
                        for (reporter_phase, reporter_lag) in [(0, 30), (20, 90), (40, 150)] {
                            let case = Case {
                                timeout: timeout_minutes * MIN,
                                // Busy for a day before: every window starts after the data does.
                                t0: 24 * 60 * MIN + idle_from,
                                emr_phase,
                                emr_lag,
                                reporter_phase,
                                reporter_lag,
                            };
                            all.push(overshoot(base, sweep_phase, &case));
                        }
                    }
                }
            }
        }
        all.sort_unstable();
        let early = all.iter().filter(|o| **o < 0).count();
        let pick = |q: f64| all[((all.len() - 1) as f64 * q).round() as usize] as f64 / 60.0;
        println!(
            "| {timeout_minutes} min | {} | {early} | {:.1} min | {:.1} min | {:.1} min | {:.1} min |",
            all.len(),
            pick(0.0),
            pick(0.5),
            pick(0.9),
            pick(1.0)
        );
    }
}
