//! How long past its idle timeout a cluster runs, and whether its users were
//! warned in time: a pure simulation over `sparkhub_core::idle` (the
//! verdict, the warning and the one-time checks the sweep schedules), no
//! emulator.
//!
//! Run: `cargo bench -p sparkhub-core --bench idle_overshoot`
//!
//! The cluster is busy until `t0`, then idle. Its timing, as the sweep sees
//! it:
//!
//! - the activity agent samples at every whole minute `m` (its timer) and
//!   says 1 when anything ran in `(m − 60 s, m]`; CloudWatch returns the
//!   sample `agent_lag` after `m` (30, 90 or 150 s: sparkhub's assumption,
//!   AWS publishes no figure);
//! - EMR publishes `IsIdle` once per five-minute period (stamped with the
//!   period's start, 0 if any of it was busy) 0 to 5 minutes after the
//!   period ends;
//! - sweeps run every five minutes and read GetMetricData's buckets (five
//!   minutes for `IsIdle`, one for the agent) from the sweep's query start;
//! - a check a sweep schedules for the whole minute `c` runs between `c` and
//!   `c + 59 s` (EventBridge Scheduler's 60-second precision); it may
//!   schedule the next.
//!
//! Every combination of `t0` within five minutes (10 s steps), sweep phase
//! (30 s steps), EMR phase and lag, agent lag and scheduler delay is tried.
//! Overshoot = first terminating look − (`t0` + timeout); "early" counts
//! terminations before it. The rows without an agent are a cluster without
//! JupyterHub (only EMR's `IsIdle` and the steps decide, as before the
//! agent).

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use sparkhub_core::emr::ClusterState;
use sparkhub_core::idle::{
    Bounds, FALLBACK_POLICY, IS_IDLE_TIMING, KeepAlive, Listed, QUERY_LOOKBACK, Snapshot,
    TerminateReason, Verdict, check_instant, judge, next_look, screen_listing, screen_metrics,
};
use sparkhub_core::profile::IdlePolicy;
use sparkhub_core::render::TAG_WARNED_AT;
use sparkhub_core::sweep::warning;

const MIN: i64 = 60;
const PERIOD: i64 = 5 * MIN;

#[derive(Clone, Copy)]
struct Case {
    timeout: i64,
    warn: i64,
    t0: i64,
    agent: bool,
    emr_phase: i64,
    emr_lag: i64,
    agent_lag: i64,
    sweep_phase: i64,
    check_delay: i64,
}

/// What a look at `s` (seconds after `base`) reads.
fn snapshot(base: Timestamp, s: i64, c: &Case, warned_at: Option<i64>) -> Snapshot {
    let at = |secs: i64| base + SignedDuration::from_secs(secs);
    // As the sweep asks: its longest window (the fallback's 120 minutes at
    // least) plus the lookback, from a start CloudWatch rounds to the minute.
    let longest = c
        .timeout
        .max(i64::from(FALLBACK_POLICY.timeout_minutes) * MIN)
        .max(IS_IDLE_TIMING.min_window.as_secs());
    let query_start = (s - longest - QUERY_LOOKBACK.as_secs()).div_euclid(MIN) * MIN;
    // What lies more than the window and a quarter of an hour back decides
    // nothing: skip it in whole periods, so the buckets keep their phase.
    let reach = c.timeout.max(IS_IDLE_TIMING.min_window.as_secs()) + 20 * MIN;
    let skip = ((s - reach - query_start) / PERIOD).max(0) * PERIOD;
    let query_start = query_start + skip;
    let bucket = |raw: Vec<(i64, f64)>, period: i64, combine: fn(f64, f64) -> f64| {
        let mut buckets: BTreeMap<i64, f64> = BTreeMap::new();
        for (t, v) in raw.into_iter().filter(|(t, _)| *t >= query_start && *t < s) {
            let b = query_start + (t - query_start).div_euclid(period) * period;
            buckets
                .entry(b)
                .and_modify(|old| *old = combine(*old, v))
                .or_insert(v);
        }
        buckets
            .into_iter()
            .map(|(b, v)| (at(b), v))
            .collect::<Vec<_>>()
    };
    let first_emr = c.emr_phase + ((query_start - c.emr_phase).div_euclid(PERIOD) - 1) * PERIOD;
    let emr = (0..)
        .map(|k| first_emr + PERIOD * k)
        .take_while(|p| p + PERIOD + c.emr_lag <= s)
        .map(|p| (p, if p >= c.t0 { 1.0 } else { 0.0 }))
        .collect();
    let busy = if c.agent {
        let first = query_start.div_euclid(MIN) * MIN;
        let samples = (0..)
            .map(|k| first + MIN * k)
            .take_while(|m| m + c.agent_lag <= s)
            .map(|m| (m, if m - MIN < c.t0 { 1.0 } else { 0.0 }))
            .collect();
        bucket(samples, MIN, f64::max)
    } else {
        Vec::new()
    };
    Snapshot {
        cluster_id: "j-SIM".into(),
        managed: true,
        termination_protected: false,
        state: ClusterState::Waiting,
        created_at: base,
        ready_at: Some(base),
        keep_alive: KeepAlive::None,
        busy_steps: 0,
        last_step_end: None,
        is_idle: bucket(emr, PERIOD, f64::min),
        agent: c.agent,
        busy,
        warned_at: warned_at.map(at),
    }
}

/// One idle period, looked at by sweeps and checks until the cluster is
/// terminated: (seconds past the timeout, whether a warning came at least
/// `warn` minutes before the termination, the checks scheduled).
fn run(base: Timestamp, c: &Case) -> (i64, bool, usize) {
    let policy = IdlePolicy {
        timeout_minutes: u32::try_from(c.timeout / MIN).expect("minutes"),
        grace_minutes: 0,
        max_lifetime_hours: 720,
        warn_minutes: u32::try_from(c.warn / MIN).expect("minutes"),
    };
    let secs = |t: Timestamp| t.duration_since(base).as_secs();
    // Sweeps from a while before anything can be due.
    let from = c.t0 + c.timeout - c.warn - 15 * MIN;
    let mut looks: BTreeSet<i64> = (0..)
        .map(|k| c.sweep_phase + PERIOD * k)
        .skip_while(|s| *s < from)
        .take_while(|s| *s < c.t0 + c.timeout + 3 * 60 * MIN)
        .collect();
    let mut asked = BTreeSet::new();
    let mut warned_at = None;
    // As the sweep does: the listing's and the metrics' screens under the
    // loosest policies in play (the profile's and the fallback), then the
    // verdict, the warning and the next look for what they leave.
    let bounds = Bounds::of([&policy, &FALLBACK_POLICY]);
    while let Some(s) = looks.pop_first() {
        let now = base + SignedDuration::from_secs(s);
        let snap = snapshot(base, s, c, warned_at);
        let screened = match screen_listing(
            &snap.state,
            Some(snap.created_at),
            snap.ready_at,
            &bounds,
            now,
        ) {
            Listed::Keep(_) => true,
            Listed::NearLifetime => false,
            Listed::MaybeIdle => screen_metrics(&snap.is_idle, &snap.busy, &bounds, now).is_some(),
        };
        if screened {
            continue;
        }
        match judge(&snap, &policy, now) {
            Verdict::Terminate(TerminateReason::Idle { .. }) => {
                let in_time = warned_at.is_some_and(|w| w + c.warn <= s);
                return (s - (c.t0 + c.timeout), in_time, asked.len());
            }
            Verdict::Terminate(other) => panic!("unexpected {other}"),
            Verdict::Keep(_) => {}
        }
        let tags: BTreeMap<String, String> = warned_at
            .map(|w| {
                let stamp = (base + SignedDuration::from_secs(w)).to_string();
                BTreeMap::from([(TAG_WARNED_AT.to_owned(), stamp)])
            })
            .unwrap_or_default();
        if c.warn > 0 && warning::due(&snap, &policy, &tags, now).is_some() {
            warned_at = Some(s);
        }
        // The check the sweep schedules (the tag it just wrote included).
        let snap = snapshot(base, s, c, warned_at);
        if let Some(at) = next_look(&snap, &policy, now).filter(|at| secs(*at) <= s + PERIOD) {
            let check = secs(check_instant(at));
            if asked.insert(check) {
                looks.insert(check + c.check_delay);
            }
        }
    }
    panic!("not terminated within three hours of its timeout");
}

fn main() {
    let base: Timestamp = "2026-11-25T00:00:00Z".parse().expect("an instant");
    // AWS publishes no figure for how late CloudWatch returns a datapoint:
    // the last table asks what happens past sparkhub's assumption (150 s).
    let assumed: &[i64] = &[30, 90, 150];
    let later: &[i64] = &[210, 270];
    for (title, warn_of, lags) in [
        ("without warnings", None, assumed),
        (
            "warned 15 minutes before (the default), at most timeout − 2",
            Some(15),
            assumed,
        ),
        ("warned at timeout − 2 min", Some(0), assumed),
        (
            "without warnings, CloudWatch 210 or 270 s late (past the assumption)",
            None,
            later,
        ),
    ] {
        println!("\n{title}:\n");
        println!(
            "| idle timeout | warn | agent | runs | early | overshoot median | p95 | max | warned in time | checks per idle period |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        for timeout_minutes in [5, 15, 60, 120] {
            for agent in [true, false] {
                // Some(0): timeout − 2; Some(w): w, at most timeout − 2.
                let warn = warn_of.map_or(0, |w: i64| {
                    if w == 0 {
                        timeout_minutes - 2
                    } else {
                        w.min(timeout_minutes - 2)
                    }
                });
                let mut all = Vec::new();
                let mut in_time = 0;
                let mut checks = 0;
                for idle_from in (0..PERIOD).step_by(10) {
                    for sweep_phase in (0..PERIOD).step_by(30) {
                        for emr_phase in (0..PERIOD).step_by(60) {
                            for emr_lag in [0, 150, 300] {
                                // Without an agent, neither its lag nor checks matter.
                                let agent_lags: &[i64] = if agent { lags } else { &[30] };
                                let check_delays: &[i64] = if agent { &[0, 30, 59] } else { &[0] };
                                for &agent_lag in agent_lags {
                                    for &check_delay in check_delays {
                                        let case = Case {
                                            timeout: timeout_minutes * MIN,
                                            warn: warn * MIN,
                                            // Busy for a day before: every window starts after the data does.
                                            t0: 24 * 60 * MIN + idle_from,
                                            agent,
                                            emr_phase,
                                            emr_lag,
                                            agent_lag,
                                            sweep_phase,
                                            check_delay,
                                        };
                                        let (over, warned, asked) = run(base, &case);
                                        all.push(over);
                                        in_time += usize::from(warned);
                                        checks += asked;
                                    }
                                }
                            }
                        }
                    }
                }
                all.sort_unstable();
                let early = all.iter().filter(|o| **o < 0).count();
                let pick =
                    |q: f64| all[((all.len() - 1) as f64 * q).round() as usize] as f64 / 60.0;
                let warned = if warn > 0 {
                    format!("{:.1} %", 100.0 * in_time as f64 / all.len() as f64)
                } else {
                    "–".into()
                };
                println!(
                    "| {timeout_minutes} min | {warn} min | {} | {} | {early} | {:.1} min | {:.1} min | {:.1} min | {warned} | {:.2} |",
                    if agent { "yes" } else { "no (IsIdle)" },
                    all.len(),
                    pick(0.5),
                    pick(0.95),
                    pick(1.0),
                    checks as f64 / all.len() as f64,
                );
            }
        }
    }
}
