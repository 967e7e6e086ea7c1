use std::collections::BTreeMap;

use super::*;
use proptest::prelude::*;

const NOW: &str = "2026-11-25T12:00:00Z";

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

fn policy() -> IdlePolicy {
    IdlePolicy {
        timeout_minutes: 60,
        grace_minutes: 30,
        max_lifetime_hours: 12,
        warn_minutes: 15,
    }
}

/// Datapoints every 5 minutes over the last `minutes`, all with `value`.
fn series(minutes: i64, value: f64) -> Vec<Datapoint> {
    (0..=minutes / 5)
        .map(|i| (now() - SignedDuration::from_mins(i * 5), value))
        .collect()
}

/// [`idle`], where a closure of that name hides it.
fn super_idle() -> Snapshot {
    idle()
}

/// A cluster every sign says is idle.
fn idle() -> Snapshot {
    Snapshot {
        cluster_id: "j-IDLE".into(),
        managed: true,
        termination_protected: false,
        state: ClusterState::Waiting,
        created_at: now() - SignedDuration::from_hours(3),
        ready_at: Some(now() - SignedDuration::from_hours(2)),
        keep_alive: KeepAlive::None,
        busy_steps: 0,
        last_step_end: None,
        is_idle: series(70, 1.0),
        agent: true,
        busy: series(70, 0.0),
        warned_at: None,
    }
}

#[test]
fn an_idle_cluster_is_terminated() {
    assert_eq!(
        judge(&idle(), &policy(), now()),
        Verdict::Terminate(TerminateReason::Idle { minutes: 60 })
    );
}

/// Each criterion alone keeps the cluster.
#[test]
fn each_criterion_alone_keeps_the_cluster() {
    type Change = fn(&mut Snapshot);
    let cases: &[(&str, Change, &str)] = &[
        ("unmanaged", |s| s.managed = false, "not_managed"),
        (
            "protected",
            |s| s.termination_protected = true,
            "termination_protected",
        ),
        (
            "kept alive",
            |s| s.keep_alive = KeepAlive::Until(now() + SignedDuration::from_mins(1)),
            "kept_alive",
        ),
        (
            "unreadable keep-alive",
            |s| s.keep_alive = KeepAlive::from_tag(Some("tomorrow")),
            "keep_alive_ignored",
        ),
        (
            "keep-alive in the year 9999",
            |s| s.keep_alive = KeepAlive::from_tag(Some("9999-12-31T23:59:59Z")),
            "keep_alive_ignored",
        ),
        (
            "running",
            |s| s.state = ClusterState::Running,
            "not_waiting",
        ),
        (
            "starting",
            |s| s.state = ClusterState::Starting,
            "not_waiting",
        ),
        (
            "unknown state",
            |s| s.state = ClusterState::Unknown("HIBERNATING".into()),
            "not_waiting",
        ),
        ("step pending", |s| s.busy_steps = 1, "steps_busy"),
        (
            "too young",
            |s| s.ready_at = Some(now() - SignedDuration::from_mins(29)),
            "grace_period",
        ),
        ("never ready", |s| s.ready_at = None, "grace_period"),
        ("spark busy once", |s| s.is_idle[3].1 = 0.0, "spark_busy"),
        (
            "a step ended in the window",
            |s| s.last_step_end = Some(now() - SignedDuration::from_mins(59)),
            "step_ended",
        ),
        (
            "warned less than warn_minutes ago",
            |s| s.warned_at = Some(now() - SignedDuration::from_mins(14)),
            "warned",
        ),
        // Without an activity agent (no JupyterHub), EMR's IsIdle must
        // cover the window.
        (
            "no idle data",
            |s| {
                s.agent = false;
                s.is_idle.clear()
            },
            "idle_metric_gap",
        ),
        (
            "idle data with a hole",
            |s| {
                s.agent = false;
                s.is_idle.remove(4);
            },
            "idle_metric_gap",
        ),
        (
            "idle data too short",
            |s| {
                s.agent = false;
                s.is_idle.truncate(6)
            },
            "idle_metric_gap",
        ),
        ("notebook user", |s| s.busy[2].1 = 1.0, "activity"),
        ("no agent data", |s| s.busy.clear(), "activity_metric_gap"),
        (
            "an agent silent for five minutes, and a hole in IsIdle",
            |s| {
                s.busy.remove(0);
                s.is_idle.remove(4);
            },
            "idle_metric_gap",
        ),
    ];
    for (what, change, key) in cases {
        let mut s = idle();
        change(&mut s);
        match judge(&s, &policy(), now()) {
            Verdict::Keep(reason) => assert_eq!(reason.key(), *key, "{what}: {reason}"),
            other => panic!("{what}: expected Keep({key}), got {other:?}"),
        }
    }
}

#[test]
fn past_keep_alive_and_no_reporter_do_not_keep() {
    let mut s = idle();
    s.keep_alive = KeepAlive::Until(now() - SignedDuration::from_mins(1));
    assert!(matches!(judge(&s, &policy(), now()), Verdict::Terminate(_)));
    let mut s = idle();
    s.agent = false;
    s.busy.clear();
    assert!(
        matches!(judge(&s, &policy(), now()), Verdict::Terminate(_)),
        "no reporter, no notebook data needed"
    );
    let mut s = idle();
    s.is_idle.remove(0);
    assert!(
        matches!(judge(&s, &policy(), now()), Verdict::Terminate(_)),
        "the latest period may not be published yet"
    );
}

#[test]
fn maximum_lifetime_terminates_whatever_the_activity() {
    let mut s = idle();
    s.created_at = now() - SignedDuration::from_hours(13);
    s.state = ClusterState::Running;
    s.busy_steps = 2;
    s.busy = series(70, 3.0);
    assert_eq!(
        judge(&s, &policy(), now()),
        Verdict::Terminate(TerminateReason::MaxLifetime {
            hours: 12,
            ignored_keep_alive: None
        })
    );
    // ...but never a protected, kept-alive or unmanaged one.
    for change in [
        (|s: &mut Snapshot| s.termination_protected = true) as fn(&mut Snapshot),
        |s| s.keep_alive = KeepAlive::Until(now() + SignedDuration::from_hours(1)),
        |s| s.managed = false,
    ] {
        let mut kept = s.clone();
        change(&mut kept);
        assert!(matches!(judge(&kept, &policy(), now()), Verdict::Keep(_)));
    }
}

fn arb_snapshot() -> impl Strategy<Value = Snapshot> {
    let state = prop_oneof![
        Just(ClusterState::Waiting),
        Just(ClusterState::Running),
        Just(ClusterState::Starting),
        Just(ClusterState::Bootstrapping),
        Just(ClusterState::Terminating),
        Just(ClusterState::Unknown("X".into())),
    ];
    let points = || {
        prop::collection::vec(
            (0i64..200, prop_oneof![Just(0.0), Just(1.0), Just(2.0)]),
            0..40,
        )
    };
    (
        any::<bool>(),
        any::<bool>(),
        state,
        0i64..48 * 60,
        prop::option::of(0i64..48 * 60),
        prop_oneof![
            Just(None),
            (-600i64..600).prop_map(Some),
            Just(Some(i64::MAX)),
            Just(Some(20_000)),
        ],
        0usize..3,
        points(),
        any::<bool>(),
        points(),
    )
        .prop_map(
            |(managed, protected, state, age, ready, keep, busy, idle, reporter, users)| {
                let at = |mins_ago: i64| now() - SignedDuration::from_mins(mins_ago);
                Snapshot {
                    cluster_id: "j-P".into(),
                    managed,
                    termination_protected: protected,
                    state,
                    created_at: at(age),
                    ready_at: ready.map(at),
                    keep_alive: match keep {
                        None => KeepAlive::None,
                        Some(i64::MAX) => KeepAlive::Unreadable("soon".into()),
                        Some(m) => KeepAlive::Until(now() + SignedDuration::from_mins(m)),
                    },
                    busy_steps: busy,
                    last_step_end: None,
                    is_idle: idle.into_iter().map(|(m, v)| (at(m), v)).collect(),
                    agent: reporter,
                    busy: users.into_iter().map(|(m, v)| (at(m), v)).collect(),
                    warned_at: None,
                }
            },
        )
}

proptest! {
    #[test]
    fn never_terminates_a_protected_unmanaged_busy_or_kept_alive_cluster(s in arb_snapshot()) {
        let verdict = judge(&s, &policy(), now());
        if let Verdict::Terminate(reason) = &verdict {
            prop_assert!(s.managed, "unmanaged");
            prop_assert!(!s.termination_protected, "protected");
            let kept_alive_within_limit = match &s.keep_alive {
                KeepAlive::Until(t) => *t > now() && *t <= now() + KEEP_ALIVE_LIMIT,
                KeepAlive::Unreadable(_) | KeepAlive::None => false,
            };
            prop_assert!(!kept_alive_within_limit, "kept alive");
            prop_assert!(s.state.is_active(), "not active");
            if matches!(reason, TerminateReason::Idle { .. }) {
                let any_keep_alive = match &s.keep_alive {
                    KeepAlive::Until(t) => *t > now(),
                    KeepAlive::Unreadable(_) => true,
                    KeepAlive::None => false,
                };
                prop_assert!(!any_keep_alive, "a keep-alive tag, even one that does not count, is never idle");
                prop_assert_eq!(s.busy_steps, 0, "busy steps");
                prop_assert_eq!(&s.state, &ClusterState::Waiting);
                // The 60-minute window, and what may speak for it.
                let idle_from = now() - SignedDuration::from_mins(70);
                let notebook_from = now() - SignedDuration::from_mins(65);
                prop_assert!(!s.is_idle.iter().any(|(t, v)| *t > idle_from && *v < 1.0), "spark busy");
                if s.agent {
                    prop_assert!(!s.busy.iter().any(|(t, v)| *t > notebook_from && *v > 0.0), "notebook activity");
                }
            }
        }
    }
}

/// An idle cluster whose datapoints, one every five minutes, are stamped
/// `newest` ago and earlier, back to well before the window.
fn with_newest(idle_newest: SignedDuration, notebook_newest: SignedDuration) -> Snapshot {
    let points = |newest: SignedDuration, value: f64| -> Vec<Datapoint> {
        (0..20)
            .map(|i| (now() - newest - SignedDuration::from_mins(5 * i), value))
            .collect()
    };
    Snapshot {
        is_idle: points(idle_newest, 1.0),
        busy: points(notebook_newest, 0.0),
        ..idle()
    }
}

fn key(v: &Verdict) -> &'static str {
    match v {
        Verdict::Keep(reason) => reason.key(),
        Verdict::Terminate(_) => "terminate",
    }
}

/// EMR's newest IsIdle datapoint is 5 to 15 minutes old when a sweep looks
/// (up to 20 once CloudWatch's buckets, not aligned to EMR's, stamp it
/// earlier). The activity agent's word counts while its newest sample is at
/// most 4 minutes old; an older one is read in five-minute buckets as the
/// notebook reporter's were, whose newest may be 8 minutes old — the agent's
/// own stamps (not CloudWatch's receipt) make that bucket start up to 5
/// minutes before the sample, so a sample more than 5 minutes old is already
/// too old there. Older means the source stopped: the cluster is kept.
#[test]
fn how_old_the_newest_datapoint_may_be_for_each_metric() {
    let fresh = SignedDuration::from_mins(1);
    // (newest point's age in seconds, IsIdle alone, the agent alone)
    let table: &[(i64, &str, &str)] = &[
        // Aligned to the window (the query's buckets start on the same minute as EMR's).
        (0, "terminate", "terminate"),
        (5 * 60, "terminate", "terminate"),
        (10 * 60, "terminate", "activity_metric_gap"),
        (15 * 60, "terminate", "activity_metric_gap"),
        (25 * 60, "idle_metric_gap", "activity_metric_gap"),
        // Not aligned: stamps 30 s to 4 min off the window's minute.
        (30, "terminate", "terminate"),
        (7 * 60 + 30, "terminate", "activity_metric_gap"),
        (8 * 60 + 30, "terminate", "activity_metric_gap"),
        (12 * 60 + 30, "terminate", "activity_metric_gap"),
        (17 * 60 + 30, "terminate", "activity_metric_gap"),
        (19 * 60 + 59, "terminate", "activity_metric_gap"),
        (20 * 60 + 1, "idle_metric_gap", "activity_metric_gap"),
        (24 * 60, "idle_metric_gap", "activity_metric_gap"),
    ];
    for &(secs, idle_expected, notebook_expected) in table {
        let age = SignedDuration::from_secs(secs);
        // A cluster without an agent: IsIdle decides.
        let idle_only = Snapshot {
            agent: false,
            ..with_newest(age, fresh)
        };
        assert_eq!(
            key(&judge(&idle_only, &policy(), now())),
            idle_expected,
            "IsIdle newest {secs} s old"
        );
        let notebook_only = with_newest(fresh, age);
        assert_eq!(
            key(&judge(&notebook_only, &policy(), now())),
            notebook_expected,
            "notebook newest {secs} s old"
        );
    }
}

/// The same rule for every timeout a profile may have (5 minutes to 7 days).
#[test]
fn a_cluster_idle_for_hours_with_late_datapoints_is_terminated_whatever_its_timeout() {
    for timeout in [5, 10, 15, 20, 45, 60, 120, 10_080] {
        let p = IdlePolicy {
            timeout_minutes: timeout,
            grace_minutes: 30,
            max_lifetime_hours: 720,
            warn_minutes: 0,
        };
        let mut s = idle();
        s.created_at = now() - SignedDuration::from_hours(24 * 8);
        s.ready_at = Some(s.created_at);
        let span = i64::from(timeout.max(15)) / 5 + 4;
        for (newest_idle, newest_notebook) in [(15 * 60, 60), (17 * 60 + 30, 3 * 60 + 59)] {
            s.is_idle = (0..span)
                .map(|i| {
                    (
                        now() - SignedDuration::from_secs(newest_idle + 300 * i),
                        1.0,
                    )
                })
                .collect();
            s.busy = (0..span)
                .map(|i| {
                    (
                        now() - SignedDuration::from_secs(newest_notebook + 300 * i),
                        0.0,
                    )
                })
                .collect();
            assert_eq!(
                key(&judge(&s, &p, now())),
                "terminate",
                "timeout {timeout} min, IsIdle {newest_idle} s old"
            );
            // A 10-minute silence of the reporter is never idleness.
            let mut silent = s.clone();
            silent
                .busy
                .retain(|(t, _)| now().duration_since(*t).as_secs() >= 600);
            assert_eq!(
                key(&judge(&silent, &p, now())),
                "activity_metric_gap",
                "timeout {timeout} min"
            );
        }
    }
}

/// A bucket counts for the window only if its evidence can reach into it:
/// EMR's datapoint may sit up to five minutes after its bucket's start and
/// speaks for the five minutes after that; the reporter's speak for their
/// instant. And the window's start must be covered whatever the phase.
#[test]
fn points_before_the_window_neither_cover_it_nor_keep_it() {
    let start = now() - SignedDuration::from_mins(60);
    let at =
        |mins_before_start: f64| start - SignedDuration::from_secs_f64(mins_before_start * 60.0);
    // (IsIdle deciding: a cluster without an agent.)
    let idle = || Snapshot {
        agent: false,
        ..idle()
    };
    // A Spark job in a bucket that ended ten minutes before the window: terminated.
    let mut s = idle();
    s.is_idle.push((at(10.0), 0.0));
    s.is_idle.retain(|(t, v)| *t > at(10.0) || *v == 0.0);
    assert_eq!(key(&judge(&s, &policy(), now())), "terminate");
    // ...one whose EMR datapoint may reach into the window: kept.
    let mut s = idle();
    s.is_idle.retain(|(t, _)| *t > at(10.0));
    s.is_idle.push((at(7.5), 0.0));
    assert_eq!(key(&judge(&s, &policy(), now())), "spark_busy");
    // A notebook user in the agent's sample just before the window: terminated.
    let mut s = super_idle();
    s.busy.push((at(5.0), 1.0));
    assert_eq!(key(&judge(&s, &policy(), now())), "terminate");
    // IsIdle buckets that start 2.5 minutes before the window: EMR's datapoint
    // may be as late as 2.5 minutes into it, so the window's start is not covered.
    let mut s = idle();
    s.is_idle = (0..=12)
        .map(|i| (at(2.5) + SignedDuration::from_mins(5 * i), 1.0))
        .collect();
    assert_eq!(key(&judge(&s, &policy(), now())), "idle_metric_gap");
    s.is_idle.insert(0, (at(7.5), 1.0));
    assert_eq!(key(&judge(&s, &policy(), now())), "terminate");
    // Agent samples from 7.5 minutes into the window (none before it to
    // reach back to): its five-minute view does not cover the window either.
    let mut s = super_idle();
    s.busy = (0..=10)
        .map(|i| (start + SignedDuration::from_secs(450 + 300 * i), 0.0))
        .collect();
    assert_eq!(key(&judge(&s, &policy(), now())), "activity_metric_gap");
}

/// The sweep, EMR and the reporter keep a fixed phase to one another; for
/// every phase, every publication lag and every moment the cluster falls
/// idle, the cluster is terminated after its idle timeout, never before,
/// and at most 15 minutes after (one sweep interval plus what EMR's
/// five-minute buckets hide). `shared/core/benches/idle_overshoot.rs` measures the
/// distribution.
#[test]
fn overshoot_past_the_idle_timeout_is_never_negative_and_bounded_at_every_phase() {
    const MIN: i64 = 60;
    let timeout = 60 * MIN;
    let p = policy();
    let base = now() - SignedDuration::from_hours(30);
    let mut worst = (i64::MAX, i64::MIN);
    for emr_phase in (0..5 * MIN).step_by(50) {
        for emr_lag in [0, 150, 5 * MIN] {
            for sweep_phase in (0..5 * MIN).step_by(70) {
                for idle_from in (0..10 * MIN).step_by(110) {
                    let t0 = 10 * 60 * MIN + idle_from;
                    let sweeps = (0..).map(|k| sweep_phase + 5 * MIN * k);
                    let first = sweeps
                        .filter(|&s| s >= t0)
                        .take_while(|&s| s < t0 + timeout + 60 * MIN)
                        .find(|&s| {
                            let snap = simulated(base, s, t0, emr_phase, emr_lag, timeout);
                            matches!(
                                judge(&snap, &p, base + SignedDuration::from_secs(s)),
                                Verdict::Terminate(TerminateReason::Idle { .. })
                            )
                        })
                        .expect("terminated within an hour of its timeout");
                    let overshoot = first - (t0 + timeout);
                    worst = (worst.0.min(overshoot), worst.1.max(overshoot));
                }
            }
        }
    }
    assert!(worst.0 >= 0, "terminated {} s early", -worst.0);
    assert!(worst.1 <= 15 * MIN, "{} s past the timeout", worst.1);
}

/// A cluster busy until `t0` (seconds after `base`), seen by a sweep at `s`:
/// EMR's IsIdle every five minutes from `emr_phase`, published `emr_lag`
/// after its period ends, in GetMetricData's five-minute buckets from the
/// sweep's query start; the activity agent every whole minute, received 100
/// seconds later, in one-minute buckets.
fn simulated(
    base: Timestamp,
    s: i64,
    t0: i64,
    emr_phase: i64,
    emr_lag: i64,
    timeout: i64,
) -> Snapshot {
    let at = |secs: i64| base + SignedDuration::from_secs(secs);
    let query_start = (s - timeout - QUERY_LOOKBACK.as_secs()).div_euclid(60) * 60;
    let bucket = |raw: Vec<(i64, f64)>, period: i64, combine: fn(f64, f64) -> f64| {
        let mut buckets: BTreeMap<i64, f64> = BTreeMap::new();
        for (t, v) in raw.into_iter().filter(|(t, _)| *t >= query_start && *t < s) {
            let b = query_start + (t - query_start).div_euclid(period) * period;
            buckets
                .entry(b)
                .and_modify(|old| *old = combine(*old, v))
                .or_insert(v);
        }
        buckets.into_iter().map(|(b, v)| (at(b), v)).collect()
    };
    let emr = (0..)
        .map(|k| emr_phase + 300 * k)
        .take_while(|p| p + 300 + emr_lag <= s)
        .map(|p| (p, if p >= t0 { 1.0 } else { 0.0 }))
        .collect();
    let reporter = (0..)
        .map(|k| 60 * k)
        .take_while(|r| r + 100 <= s)
        // The agent's sample at `r` speaks for the minute before it.
        .map(|r| (r, if r - 60 >= t0 { 0.0 } else { 1.0 }))
        .collect();
    Snapshot {
        created_at: base,
        ready_at: Some(base),
        is_idle: bucket(emr, 300, f64::min),
        busy: bucket(reporter, 60, f64::max),
        ..idle()
    }
}

#[test]
fn a_keep_alive_tag_counts_for_seven_days_at_most() {
    let mut old = idle();
    old.created_at = now() - SignedDuration::from_hours(13);
    let tag =
        |days: i64, hours: i64| (now() + SignedDuration::from_hours(24 * days + hours)).to_string();
    // Within seven days: kept past its maximum lifetime.
    old.keep_alive = KeepAlive::from_tag(Some(&tag(6, 23)));
    assert_eq!(key(&judge(&old, &policy(), now())), "kept_alive");
    // Beyond, far beyond, or unreadable: its maximum lifetime applies, and the reason says why.
    for value in [
        tag(7, 1),
        "9999-01-01T00:00:00Z".to_string(),
        "9999-12-31T23:59:59Z".to_string(),
        "tomorrow".into(),
        String::new(),
    ] {
        old.keep_alive = KeepAlive::from_tag(Some(&value));
        let verdict = judge(&old, &policy(), now());
        let Verdict::Terminate(
            reason @ TerminateReason::MaxLifetime {
                ignored_keep_alive: Some(_),
                ..
            },
        ) = &verdict
        else {
            panic!("{value:?}: {verdict:?}");
        };
        let text = reason.to_string();
        assert!(
            text.contains("maximum lifetime of 12 h")
                && text.contains("sparkhub:keep-alive-until")
                && text.contains("does not count"),
            "{text}"
        );
        // A younger cluster with the same tag is not called idle, and says why.
        let mut young = old.clone();
        young.created_at = now() - SignedDuration::from_hours(3);
        let Verdict::Keep(reason) = judge(&young, &policy(), now()) else {
            panic!("{value:?}: a tag, even one that does not count, keeps it from idleness");
        };
        assert_eq!(reason.key(), "keep_alive_ignored");
        assert!(
            reason.to_string().contains("maximum lifetime applies"),
            "{reason}"
        );
    }
}

/// RFC 3339-like strings, valid or nearly so, and any string at all.
fn arb_keep_alive_tag() -> impl Strategy<Value = String> {
    let near = (
        -1i64..12_000,
        0u32..15,
        0u32..35,
        0u32..26,
        0u32..62,
        0u32..62,
        prop_oneof![
            Just(String::new()),
            (0u32..1_000_000_000).prop_map(|n| format!(".{n}"))
        ],
        prop_oneof![
            Just("Z".to_string()),
            Just("z".to_string()),
            Just(String::new()),
            (-25i32..25, 0u32..61).prop_map(|(h, m)| format!("{h:+03}:{m:02}"))
        ],
    )
        .prop_map(|(y, mo, d, h, mi, s, frac, zone)| {
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{zone}")
        });
    let valid = (-2_000_000_000i64..253_402_300_000).prop_map(|secs| {
        Timestamp::from_second(secs)
            .map(|t| t.to_string())
            .unwrap_or_default()
    });
    let minutes_from_now =
        (-20_000i64..20_000).prop_map(|m| (now() + SignedDuration::from_mins(m)).to_string());
    prop_oneof![near, valid, minutes_from_now, any::<String>()]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 4000,
        rng_seed: proptest::test_runner::RngSeed::Fixed(14),
        ..ProptestConfig::default()
    })]

    /// Any tag value gives a typed keep-alive and a typed verdict, never a
    /// panic; none keeps a cluster past its maximum lifetime unless it is an
    /// instant at most seven days ahead.
    #[test]
    fn any_keep_alive_tag_gives_a_typed_verdict(value in arb_keep_alive_tag(), hours_old in 0i64..48) {
        let keep_alive = KeepAlive::from_tag(Some(&value));
        let mut s = idle();
        s.created_at = now() - SignedDuration::from_hours(hours_old);
        s.keep_alive = keep_alive.clone();
        let verdict = judge(&s, &policy(), now());
        let counts = matches!(keep_alive, KeepAlive::Until(t) if t > now() && t.duration_since(now()) <= KEEP_ALIVE_LIMIT);
        match &verdict {
            Verdict::Keep(KeepReason::KeptAliveUntil(t)) => {
                prop_assert!(counts, "kept alive by {:?}", value);
                prop_assert_eq!(&KeepAlive::Until(*t), &keep_alive);
            }
            Verdict::Terminate(TerminateReason::MaxLifetime { ignored_keep_alive, .. }) => {
                prop_assert!(!counts);
                prop_assert!(hours_old > 12);
                let ignored_expected = matches!(keep_alive, KeepAlive::Unreadable(_))
                    || matches!(keep_alive, KeepAlive::Until(t) if t.duration_since(now()) > KEEP_ALIVE_LIMIT);
                prop_assert_eq!(ignored_keep_alive.is_some(), ignored_expected);
            }
            Verdict::Keep(KeepReason::KeepAliveIgnored(_)) => prop_assert!(!counts && hours_old <= 12),
            Verdict::Terminate(TerminateReason::Idle { .. }) => prop_assert!(!counts && !matches!(keep_alive, KeepAlive::Unreadable(_))),
            other => prop_assert!(false, "{:?} for {:?}", other, value),
        }
        // Every reason has words.
        let words = match &verdict {
            Verdict::Keep(r) => r.to_string(),
            Verdict::Terminate(r) => r.to_string(),
        };
        prop_assert!(!words.is_empty());
    }
}

/// The newest datapoint a metric tolerates always counts, however short the
/// window: a 5-minute timeout is not "never covered".
#[test]
fn the_oldest_tolerated_newest_point_always_reaches_the_window() {
    for timing in [IS_IDLE_TIMING, NOTEBOOK_TIMING] {
        let start = now() - timing.min_window;
        let newest = now() - timing.max_age;
        assert!(start.duration_since(newest) < timing.reach, "{timing:?}");
        assert!(timing.reach - timing.lead >= SignedDuration::from_secs(METRIC_PERIOD_SECONDS));
        assert!(QUERY_LOOKBACK >= timing.lead, "{timing:?}");
    }
}

/// Idle for `minutes` by every sign: busy before that.
fn idle_for(minutes: i64) -> Snapshot {
    let mut s = idle();
    s.is_idle = series(70, 0.0);
    s.busy = series(70, 0.0);
    for (t, v) in s.is_idle.iter_mut() {
        if now().duration_since(*t) < SignedDuration::from_mins(minutes) {
            *v = 1.0;
        }
    }
    s
}

#[test]
fn a_warning_comes_within_warn_minutes_of_the_termination_and_not_before() {
    let p = policy(); // 60 min timeout, 15 min warning
    let warned = |s: &Snapshot| forecast(s, &p, now());
    // Idle 55 minutes (a bucket speaks 10 minutes ahead): within 15 of 60.
    let f = warned(&idle_for(55)).expect("warned");
    assert_eq!(f.reason, TerminateReason::Idle { minutes: 60 });
    // Within the 15 minutes and the lead a late check may need.
    assert_eq!(f.by, now() + SignedDuration::from_mins(15) + WARNING_LEAD);
    // Idle 35 minutes: too early; idle 70: terminated now, no warning.
    assert_eq!(warned(&idle_for(35)), None);
    assert_eq!(warned(&idle()), None);
    // Busy, protected, unmanaged or kept alive past the warning: none.
    let mut busy = idle_for(55);
    busy.busy_steps = 1;
    let mut protected = idle_for(55);
    protected.termination_protected = true;
    let mut theirs = idle_for(55);
    theirs.managed = false;
    let mut kept = idle_for(55);
    kept.keep_alive = KeepAlive::Until(now() + SignedDuration::from_hours(2));
    let mut notebook = idle_for(55);
    notebook.busy = series(70, 1.0);
    for s in [busy, protected, theirs, kept, notebook] {
        assert_eq!(warned(&s), None, "{s:?}");
    }
    // A keep-alive ending within the warning does not stand in the way.
    let mut ending = idle_for(55);
    ending.keep_alive = KeepAlive::Until(now() + SignedDuration::from_mins(10));
    assert!(warned(&ending).is_some());
    // warn_minutes = 0 turns it off.
    let off = IdlePolicy {
        warn_minutes: 0,
        ..policy()
    };
    assert_eq!(forecast(&idle_for(55), &off, now()), None);
}

#[test]
fn the_maximum_lifetime_is_announced_whatever_the_activity() {
    let p = policy(); // 12 h
    let mut s = idle_for(0);
    s.busy_steps = 2;
    s.created_at = now() - SignedDuration::from_hours(12) + SignedDuration::from_mins(10);
    let f = forecast(&s, &p, now()).expect("warned");
    assert!(matches!(f.reason, TerminateReason::MaxLifetime { .. }));
    assert_eq!(f.by, s.created_at + SignedDuration::from_hours(12));
    s.created_at = now() - SignedDuration::from_hours(11);
    assert_eq!(forecast(&s, &p, now()), None, "an hour left");
}

#[test]
fn a_warning_speaks_for_its_idle_period_only() {
    let s = idle_for(60);
    // Warned 10 minutes ago, idle since before: the same idle period.
    assert!(idle_since(&s, now() - SignedDuration::from_mins(10), now()));
    // Busy 25 minutes ago, warned 40 minutes ago: a new idle period.
    let again = idle_for(20);
    assert!(!idle_since(
        &again,
        now() - SignedDuration::from_mins(40),
        now()
    ));
    // Notebook activity since the warning: a new idle period too.
    let mut typing = idle_for(60);
    typing.busy = series(70, 1.0);
    assert!(!idle_since(
        &typing,
        now() - SignedDuration::from_mins(10),
        now()
    ));
}

/// Policies in play: the tutorial-like `policy()`, a short one and the
/// fallback of clusters whose profile is gone.
fn bounds() -> Bounds {
    let short = IdlePolicy {
        timeout_minutes: 30,
        grace_minutes: 10,
        max_lifetime_hours: 4,
        warn_minutes: 5,
    };
    Bounds::of([&policy(), &short, &FALLBACK_POLICY])
}

#[test]
fn bounds_are_the_loosest_of_the_policies_in_play() {
    assert_eq!(
        bounds(),
        Bounds {
            min_grace_minutes: 10,
            // 30 less the 5-minute warning and its minute of lead.
            min_idle_minutes: 24,
            max_timeout_minutes: 120,
            min_lifetime_hours: 4,
            max_warn_minutes: 15,
        }
    );
    // The metrics reach back over the longest timeout (the fallback's) and
    // IsIdle's lookback.
    assert_eq!(
        now().duration_since(bounds().metrics_start(now())),
        SignedDuration::from_mins(120) + QUERY_LOOKBACK
    );
}

/// The listing screen: what is kept without another call, what needs its
/// details whatever its metrics, and what its metrics decide.
#[test]
fn the_listing_screen_keeps_only_what_every_policy_keeps() {
    let ago = |m: i64| Some(now() - SignedDuration::from_mins(m));
    let w = ClusterState::Waiting;
    type Case = (
        &'static str,
        ClusterState,
        Option<Timestamp>,
        Option<Timestamp>,
        Listed,
    );
    let cases: &[Case] = &[
        (
            "running, young",
            ClusterState::Running,
            ago(60),
            ago(50),
            Listed::Keep(KeepReason::NotWaiting(ClusterState::Running)),
        ),
        (
            "starting",
            ClusterState::Starting,
            ago(5),
            None,
            Listed::Keep(KeepReason::NotWaiting(ClusterState::Starting)),
        ),
        (
            "waiting, never ready",
            w.clone(),
            ago(60),
            None,
            Listed::Keep(KeepReason::InShortestGrace),
        ),
        (
            "waiting, in the shortest grace",
            w.clone(),
            ago(60),
            ago(4),
            Listed::Keep(KeepReason::InShortestGrace),
        ),
        (
            "waiting, past the shortest grace",
            w.clone(),
            ago(60),
            ago(10),
            Listed::MaybeIdle,
        ),
        // 4 h lifetime less the longest warning (15 min): from 3 h 45 min on.
        (
            "waiting, 3h45 old",
            w.clone(),
            ago(225),
            ago(200),
            Listed::MaybeIdle,
        ),
        (
            "waiting, 3h46 old",
            w.clone(),
            ago(226),
            ago(200),
            Listed::NearLifetime,
        ),
        (
            "running, past the lifetime",
            ClusterState::Running,
            ago(300),
            ago(290),
            Listed::NearLifetime,
        ),
        (
            "unknown creation time",
            w.clone(),
            None,
            ago(30),
            Listed::MaybeIdle,
        ),
    ];
    for (name, state, created, ready, want) in cases {
        assert_eq!(
            &screen_listing(state, *created, *ready, &bounds(), now()),
            want,
            "{name}"
        );
    }
}

/// The metrics screen over the shortest idle window (25 min here): kept
/// only when even that window shows use or a gap.
#[test]
fn the_metrics_screen_keeps_what_the_shortest_window_keeps() {
    let busy_long_ago = {
        let mut s = series(70, 1.0);
        s.push((now() - SignedDuration::from_mins(50), 0.0));
        s
    };
    type Case = (
        &'static str,
        Vec<Datapoint>,
        Vec<Datapoint>,
        Option<KeepReason>,
    );
    let cases: Vec<Case> = vec![
        ("idle, no reporter", series(70, 1.0), vec![], None),
        (
            "idle, reporter idle",
            series(70, 1.0),
            series(70, 0.0),
            None,
        ),
        (
            "spark busy now",
            series(70, 0.0),
            vec![],
            Some(KeepReason::SparkBusy),
        ),
        // Busy 50 minutes ago: outside the shortest window, so the cluster's
        // own (longer) window must decide with its details.
        (
            "busy before the shortest window",
            busy_long_ago,
            vec![],
            None,
        ),
        ("no IsIdle", vec![], vec![], Some(KeepReason::IdleMetricGap)),
        (
            "IsIdle too short",
            series(10, 1.0),
            vec![],
            Some(KeepReason::IdleMetricGap),
        ),
        (
            "notebook in use",
            series(70, 1.0),
            series(70, 1.0),
            Some(KeepReason::Activity),
        ),
    ];
    for (name, is_idle, notebook, want) in cases {
        assert_eq!(
            screen_metrics(&is_idle, &notebook, &bounds(), now()),
            want,
            "{name}"
        );
    }
}

/// Whatever the screens let through, `judge` decides; whatever they keep,
/// `judge` keeps too under each policy in play.
#[test]
fn what_the_screens_keep_every_policy_keeps() {
    let short = IdlePolicy {
        timeout_minutes: 30,
        grace_minutes: 10,
        max_lifetime_hours: 4,
        warn_minutes: 5,
    };
    let mut kept_by_screen = 0;
    for ready_minutes in [2, 5, 9, 12, 40, 90] {
        for spark in [0.0, 1.0] {
            for notebook in [0.0, 1.0] {
                let mut s = idle();
                s.ready_at = Some(now() - SignedDuration::from_mins(ready_minutes));
                s.created_at = now() - SignedDuration::from_mins(ready_minutes + 10);
                s.is_idle = series(70, spark);
                s.busy = series(70, notebook);
                let listed =
                    screen_listing(&s.state, Some(s.created_at), s.ready_at, &bounds(), now());
                let screened = match listed {
                    Listed::Keep(_) => true,
                    Listed::NearLifetime => false,
                    Listed::MaybeIdle => {
                        screen_metrics(&s.is_idle, &s.busy, &bounds(), now()).is_some()
                    }
                };
                if screened {
                    kept_by_screen += 1;
                    for p in [&policy(), &short, &FALLBACK_POLICY] {
                        assert!(
                            matches!(judge(&s, p, now()), Verdict::Keep(_))
                                && forecast(&s, p, now()).is_none(),
                            "screened out but {:?} under {p:?}",
                            judge(&s, p, now())
                        );
                    }
                }
            }
        }
    }
    assert!(kept_by_screen > 0, "the screens kept some cases");
}

/// The activity agent's samples, one a minute over the last 130 minutes:
/// busy (1) from `busy_until_mins_ago` back, 0 after.
fn agent_minutes(busy_until_mins_ago: i64) -> Vec<Datapoint> {
    (0..=130)
        .map(|m| {
            let value = if m >= busy_until_mins_ago { 1.0 } else { 0.0 };
            (now() - SignedDuration::from_mins(m), value)
        })
        .collect()
}

/// A fresh agent decides to the minute, whatever EMR's five-minute `IsIdle`
/// has published yet; steps that ended, EMR's certain word and a recent
/// warning still keep the cluster; a silent agent leaves it to the rules
/// before it.
#[test]
fn a_fresh_agent_decides_to_the_minute() {
    type Change = fn(&mut Snapshot);
    let cases: &[(&str, Change, &str)] = &[
        (
            "busy until 61 min ago",
            |s| s.busy = agent_minutes(61),
            "terminate",
        ),
        (
            "busy until 60 min ago",
            |s| s.busy = agent_minutes(60),
            "terminate",
        ),
        (
            "busy until 59 min ago",
            |s| s.busy = agent_minutes(59),
            "activity",
        ),
        (
            "idle by the agent, IsIdle not published for 40 minutes",
            |s| {
                s.busy = agent_minutes(61);
                s.is_idle
                    .retain(|(t, _)| now().duration_since(*t).as_mins() >= 40);
            },
            "terminate",
        ),
        (
            "samples every five minutes (the minutes between are covered by the next)",
            |s| s.busy = agent_minutes(65).into_iter().step_by(5).collect(),
            "terminate",
        ),
        (
            "IsIdle 0 in a bucket inside the window",
            |s| {
                s.busy = agent_minutes(61);
                s.is_idle[2].1 = 0.0;
            },
            "spark_busy",
        ),
        (
            "a step ended 30 minutes ago",
            |s| {
                s.busy = agent_minutes(61);
                s.last_step_end = Some(now() - SignedDuration::from_mins(30));
            },
            "step_ended",
        ),
        (
            "warned 10 minutes ago",
            |s| {
                s.busy = agent_minutes(61);
                s.warned_at = Some(now() - SignedDuration::from_mins(10));
            },
            "warned",
        ),
        (
            "warned 10 minutes ago, a keep-alive ended a minute ago: the warning's minutes still hold",
            |s| {
                s.busy = agent_minutes(61);
                s.warned_at = Some(now() - SignedDuration::from_mins(10));
                s.keep_alive = KeepAlive::Until(now() - SignedDuration::from_mins(1));
            },
            "warned",
        ),
        (
            "warned 15 minutes ago",
            |s| {
                s.busy = agent_minutes(61);
                s.warned_at = Some(now() - SignedDuration::from_mins(15));
            },
            "terminate",
        ),
        (
            "warned 10 minutes ago, the agent silent: the five-minute rules wait too",
            |s| {
                s.busy = agent_minutes(61);
                s.busy
                    .retain(|(t, _)| now().duration_since(*t).as_mins() >= 5);
                s.warned_at = Some(now() - SignedDuration::from_mins(10));
            },
            "warned",
        ),
        (
            "warned before it was last busy: another idle period",
            |s| {
                s.busy = agent_minutes(61);
                s.warned_at = Some(now() - SignedDuration::from_mins(70));
            },
            "terminate",
        ),
        (
            "the agent silent for five minutes, IsIdle 0 twenty minutes ago",
            |s| {
                s.busy = agent_minutes(61);
                s.busy
                    .retain(|(t, _)| now().duration_since(*t).as_mins() >= 5);
                s.is_idle[4].1 = 0.0;
            },
            "spark_busy",
        ),
        (
            "the agent started 30 minutes ago (no sample before the window)",
            |s| {
                s.busy = agent_minutes(200);
                s.busy
                    .retain(|(t, _)| now().duration_since(*t).as_mins() <= 30);
            },
            "activity_metric_gap",
        ),
    ];
    for (what, change, expected) in cases {
        let mut s = idle();
        change(&mut s);
        assert_eq!(key(&judge(&s, &policy(), now())), *expected, "{what}");
    }
}

/// Where the sweep schedules its next look at a kept cluster: the warning's
/// minute, then the termination's, never before a warning's named instant;
/// none when the agent cannot decide.
#[test]
fn the_next_look_is_the_warning_then_the_termination() {
    let p = policy(); // 60 minutes, warned 15 before
    let at = |mins: i64| Some(now() + SignedDuration::from_mins(mins));
    let mut s = idle();
    s.busy = agent_minutes(40);
    assert_eq!(
        next_look(&s, &p, now()),
        at(4),
        "idle 40 min: warn at 44 (45 less the lead)"
    );
    s.busy = agent_minutes(50);
    assert_eq!(
        next_look(&s, &p, now()),
        at(10),
        "past the warning's minute: terminate at 60"
    );
    s.warned_at = Some(now() - SignedDuration::from_mins(2));
    assert_eq!(
        next_look(&s, &p, now()),
        at(13),
        "warned 2 min ago: 15 min after it"
    );
    let no_warning = IdlePolicy {
        warn_minutes: 0,
        ..p.clone()
    };
    s.warned_at = None;
    s.busy = agent_minutes(40);
    assert_eq!(next_look(&s, &no_warning, now()), at(20));
    s.last_step_end = Some(now() - SignedDuration::from_mins(10));
    assert_eq!(
        next_look(&s, &no_warning, now()),
        at(50),
        "a step ended 10 min ago"
    );
    s.last_step_end = None;
    s.ready_at = Some(now() - SignedDuration::from_mins(5));
    assert_eq!(
        next_look(&s, &no_warning, now()),
        at(25),
        "the grace period's end"
    );
    let mut stale = idle();
    stale.busy = agent_minutes(40);
    stale
        .busy
        .retain(|(t, _)| now().duration_since(*t).as_mins() >= 5);
    assert_eq!(
        next_look(&stale, &p, now()),
        None,
        "a silent agent: the sweep looks"
    );
    let mut no_agent = idle();
    no_agent.agent = false;
    assert_eq!(next_look(&no_agent, &p, now()), None);
    let mut kept = idle();
    kept.busy = agent_minutes(58);
    kept.keep_alive = KeepAlive::Until(now() + SignedDuration::from_mins(30));
    assert_eq!(
        next_look(&kept, &no_warning, now()),
        at(30),
        "the keep-alive's end"
    );
}

/// Minute marks for the scheduler: a look within a minute goes to its end.
#[test]
fn checks_are_asked_for_whole_minutes_never_sooner() {
    for (at, expected) in [
        ("2026-11-25T12:05:00Z", "2026-11-25T12:05:00Z"),
        ("2026-11-25T12:05:00.001Z", "2026-11-25T12:06:00Z"),
        ("2026-11-25T12:05:59Z", "2026-11-25T12:06:00Z"),
    ] {
        assert_eq!(
            check_instant(at.parse().unwrap()),
            expected.parse::<Timestamp>().unwrap()
        );
    }
}

proptest! {
    /// Whatever minutes the agent missed and however late CloudWatch returns
    /// its samples, its word never ends a cluster before it was idle for its
    /// timeout: each sample speaks for the time since the previous one it
    /// published.
    #[test]
    fn the_agents_word_never_terminates_early(
        idle_mins in 0i64..180,
        timeout in 5u32..130,
        lag_secs in 0i64..300,
        published in proptest::collection::vec(proptest::bool::weighted(0.8), 200),
    ) {
        // Minutes ago at which the agent published, oldest first.
        let ages: Vec<i64> = (0..200i64).rev().filter(|m| published[*m as usize]).collect();
        let mut busy = Vec::new();
        let mut previous: Option<i64> = None;
        for &age in &ages {
            // It covers from its previous published sample (or one minute
            // back, the first time): busy if the cluster still worked then.
            let from = previous.unwrap_or(age + 1);
            let value = if from > idle_mins { 1.0 } else { 0.0 };
            previous = Some(age);
            if age * 60 >= lag_secs {
                busy.push((now() - SignedDuration::from_mins(age), value));
            }
        }
        let s = Snapshot {
            busy,
            is_idle: Vec::new(),
            ..idle()
        };
        let p = IdlePolicy {
            timeout_minutes: timeout,
            grace_minutes: 0,
            max_lifetime_hours: 720,
            warn_minutes: 0,
        };
        if let Verdict::Terminate(TerminateReason::Idle { .. }) = judge(&s, &p, now()) {
            prop_assert!(idle_mins >= i64::from(timeout), "idle {idle_mins} min, timeout {timeout}");
        }
    }
}
