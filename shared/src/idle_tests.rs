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
    }
}

/// Datapoints every 5 minutes over the last `minutes`, all with `value`.
fn series(minutes: i64, value: f64) -> Vec<Datapoint> {
    (0..=minutes / 5)
        .map(|i| (now() - SignedDuration::from_mins(i * 5), value))
        .collect()
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
        is_idle: series(70, 1.0),
        notebook_reporter: true,
        notebook_users: series(70, 0.0),
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
            "kept_alive",
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
        ("no idle data", |s| s.is_idle.clear(), "idle_metric_gap"),
        (
            "idle data with a hole",
            |s| {
                s.is_idle.remove(4);
            },
            "idle_metric_gap",
        ),
        (
            "idle data too short",
            |s| s.is_idle.truncate(6),
            "idle_metric_gap",
        ),
        (
            "notebook user",
            |s| s.notebook_users[2].1 = 1.0,
            "notebook_activity",
        ),
        (
            "no notebook data",
            |s| s.notebook_users.clear(),
            "notebook_metric_gap",
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
    s.notebook_reporter = false;
    s.notebook_users.clear();
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
    s.notebook_users = series(70, 3.0);
    assert_eq!(
        judge(&s, &policy(), now()),
        Verdict::Terminate(TerminateReason::MaxLifetime { hours: 12 })
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
            Just(Some(i64::MAX))
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
                    is_idle: idle.into_iter().map(|(m, v)| (at(m), v)).collect(),
                    notebook_reporter: reporter,
                    notebook_users: users.into_iter().map(|(m, v)| (at(m), v)).collect(),
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
            let kept_alive = match &s.keep_alive {
                KeepAlive::Until(t) => *t > now(),
                KeepAlive::Unreadable(_) => true,
                KeepAlive::None => false,
            };
            prop_assert!(!kept_alive, "kept alive");
            prop_assert!(s.state.is_active(), "not active");
            if matches!(reason, TerminateReason::Idle { .. }) {
                prop_assert_eq!(s.busy_steps, 0, "busy steps");
                prop_assert_eq!(&s.state, &ClusterState::Waiting);
                let window_start = now() - SignedDuration::from_mins(65);
                prop_assert!(!s.is_idle.iter().any(|(t, v)| *t >= window_start && *v < 1.0), "spark busy");
                if s.notebook_reporter {
                    prop_assert!(!s.notebook_users.iter().any(|(t, v)| *t >= window_start && *v > 0.0), "notebook activity");
                }
            }
        }
    }
}
