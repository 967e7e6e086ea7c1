//! The report's figures on a fleet with known hours and prices.

use super::*;
use crate::ports::ListedCluster;

fn at(hhmm: &str) -> Timestamp {
    format!("2026-11-25T{hhmm}:00Z").parse().unwrap()
}

/// $0.20 EC2 + $0.05 EMR for m5.xlarge; $0.10 + $0.02 for m5a.xlarge.
fn prices() -> PriceTable {
    PriceTable {
        taken: "2026-11-28".into(),
        ec2_source: "ec2".into(),
        emr_source: "emr".into(),
        prices: vec![
            Price {
                region: "eu-central-1".into(),
                instance_type: "m5.xlarge".into(),
                ec2: 0.20,
                emr: 0.05,
            },
            Price {
                region: "eu-central-1".into(),
                instance_type: "m5a.xlarge".into(),
                ec2: 0.10,
                emr: 0.02,
            },
        ],
    }
}

fn fleet(types: &[&str], on_demand: u32, spot: u32) -> FleetUse {
    FleetUse {
        instance_types: types.iter().map(|t| (*t).to_owned()).collect(),
        on_demand,
        spot,
    }
}

/// The tutorial's fleets: one master and two core m5.xlarge, on demand.
fn three_m5() -> Vec<FleetUse> {
    vec![fleet(&["m5.xlarge"], 1, 0), fleet(&["m5.xlarge"], 2, 0)]
}

fn cluster(id: &str, profile: Option<&str>, created: &str, ended: Option<&str>) -> ClusterFacts {
    ClusterFacts {
        id: id.into(),
        name: format!("sparkhub-{}", profile.unwrap_or("x")),
        profile: profile.map(str::to_owned),
        state: if ended.is_some() {
            ClusterState::Terminated
        } else {
            ClusterState::Waiting
        },
        created_at: Some(at(created)),
        ready_at: Some(at(created) + jiff::SignedDuration::from_mins(10)),
        ended_at: ended.map(at),
        normalized_instance_hours: Some(24),
        reason_code: Some("USER_REQUEST".into()),
        reason_message: Some("Terminated by user request".into()),
        fleets: Vec::new(),
    }
}

fn termination(c: &ClusterFacts, reason: &crate::idle::TerminateReason) -> Record {
    let listed = ListedCluster {
        id: c.id.clone(),
        name: c.name.clone(),
        state: ClusterState::Waiting,
        created_at: c.created_at,
        ready_at: c.ready_at,
    };
    Record::termination(
        &listed,
        c.profile.as_deref().unwrap(),
        reason,
        c.ended_at.unwrap(),
    )
}

fn inputs(clusters: Vec<ClusterFacts>, history: Vec<Record>) -> Inputs {
    Inputs {
        since: at("00:00") - jiff::SignedDuration::from_hours(24 * 30),
        now: at("20:00"),
        region: "eu-central-1".into(),
        clusters,
        history,
        startups: vec![],
        budgets: vec![],
        profiles: BTreeMap::from([
            (
                "tutorial".to_owned(),
                ProfileFacts {
                    max_lifetime_hours: 12,
                    pipeline: false,
                    fleets: three_m5(),
                },
            ),
            (
                "retrain".to_owned(),
                ProfileFacts {
                    max_lifetime_hours: 6,
                    pipeline: true,
                    fleets: vec![
                        fleet(&["m5.xlarge"], 1, 0),
                        fleet(&["m5.xlarge", "m5a.xlarge"], 1, 2),
                    ],
                },
            ),
        ]),
    }
}

fn line<'a>(r: &'a Report, id: &str) -> &'a ClusterLine {
    r.clusters.iter().find(|c| c.cluster_id == id).unwrap()
}

fn usd(c: &Cost) -> f64 {
    (c.usd().unwrap() * 1000.0).round() / 1000.0
}

#[test]
fn an_idle_termination_costs_its_instance_hours_and_saves_the_rest_of_its_lifetime() {
    // 08:00 → 10:00, three m5.xlarge at $0.25: 2 h × 3 × 0.25 = $1.50.
    // Its lifetime would have ended at 20:00: 10 h saved, 10 × 3 × 0.25 = $7.50.
    let c = cluster("j-IDLE", Some("tutorial"), "08:00", Some("10:00"));
    let record = termination(&c, &crate::idle::TerminateReason::Idle { minutes: 60 });
    let r = compute(&inputs(vec![c], vec![record]), &prices());
    let l = line(&r, "j-IDLE");
    assert_eq!(l.ended, Ending::SparkhubIdle);
    assert_eq!(l.running_hours, 2.0);
    assert_eq!(
        l.cost,
        Cost::Known {
            usd: 1.5,
            estimate: false,
            spot: false
        }
    );
    assert_eq!(l.hours_saved, 10.0);
    assert_eq!(usd(&l.cost_saved), 7.5);
    assert_eq!(l.last_active_at, Some(at("09:00")));
    assert_eq!(l.normalized_instance_hours, Some(24));
    assert_eq!(r.total_hours_saved, 10.0);
    assert_eq!(usd(&r.total_cost_saved), 7.5);
}

#[test]
fn how_each_cluster_ended() {
    let idle = cluster("j-IDLE", Some("tutorial"), "08:00", Some("10:00"));
    let old = cluster("j-OLD", Some("tutorial"), "06:00", Some("18:00"));
    let person = cluster("j-PERSON", Some("tutorial"), "08:00", Some("09:00"));
    let mut failed = cluster("j-FAILED", Some("tutorial"), "08:00", Some("08:20"));
    failed.state = ClusterState::TerminatedWithErrors;
    failed.reason_code = Some("BOOTSTRAP_FAILURE".into());
    let mut backstop = cluster("j-BACKSTOP", Some("tutorial"), "08:00", Some("11:00"));
    backstop.reason_code = Some("ALL_STEPS_COMPLETED".into());
    backstop.reason_message = Some("Cluster was terminated after being idle for 2 hours".into());
    let pipeline = cluster("j-PIPE", Some("retrain"), "08:00", Some("09:00"));
    let mut steps_done = cluster("j-STEPS", Some("retrain"), "08:00", Some("09:30"));
    steps_done.reason_code = Some("ALL_STEPS_COMPLETED".into());
    steps_done.reason_message = Some("Steps completed".into());
    let running = cluster("j-RUNNING", Some("tutorial"), "18:00", None);
    let history = vec![
        termination(&idle, &crate::idle::TerminateReason::Idle { minutes: 60 }),
        termination(
            &old,
            &crate::idle::TerminateReason::MaxLifetime {
                hours: 12,
                ignored_keep_alive: None,
            },
        ),
    ];
    let r = compute(
        &inputs(
            vec![
                idle, old, person, failed, backstop, pipeline, steps_done, running,
            ],
            history,
        ),
        &prices(),
    );
    let ended: Vec<(&str, Ending)> = r
        .clusters
        .iter()
        .map(|c| (c.cluster_id.as_str(), c.ended))
        .collect();
    for (id, want) in [
        ("j-IDLE", Ending::SparkhubIdle),
        ("j-OLD", Ending::SparkhubMaxLifetime),
        ("j-PERSON", Ending::Person),
        ("j-FAILED", Ending::Failure),
        ("j-BACKSTOP", Ending::AutoTermination),
        ("j-PIPE", Ending::PipelineDone),
        ("j-STEPS", Ending::PipelineDone),
        ("j-RUNNING", Ending::Running),
    ] {
        assert!(ended.contains(&(id, want)), "{id}: {ended:?}");
    }
    // Only an idle termination by sparkhub saves hours.
    for c in &r.clusters {
        assert_eq!(
            c.hours_saved > 0.0,
            c.cluster_id == "j-IDLE",
            "{}",
            c.cluster_id
        );
    }
    // A running cluster runs until now (20:00).
    assert_eq!(line(&r, "j-RUNNING").running_hours, 2.0);
    assert_eq!(line(&r, "j-RUNNING").ended_at, None);
}

#[test]
fn per_profile_totals_add_up_and_count_the_endings() {
    let a = cluster("j-A", Some("tutorial"), "08:00", Some("10:00"));
    let b = cluster("j-B", Some("tutorial"), "12:00", Some("13:00"));
    let record = termination(&a, &crate::idle::TerminateReason::Idle { minutes: 60 });
    let r = compute(&inputs(vec![a, b], vec![record]), &prices());
    assert_eq!(r.profiles.len(), 1);
    let p = &r.profiles[0];
    assert_eq!(p.profile, "tutorial");
    assert_eq!(p.clusters, 2);
    assert_eq!(p.running_hours, 3.0);
    assert_eq!(p.normalized_instance_hours, 48);
    // 3 h × 3 × $0.25
    assert_eq!(usd(&p.cost), 2.25);
    assert_eq!(
        p.endings,
        BTreeMap::from([(Ending::SparkhubIdle, 1), (Ending::Person, 1)])
    );
    assert_eq!(usd(&r.total_cost), 2.25);
}

#[test]
fn spot_capacity_is_an_upper_bound_at_on_demand_and_a_choice_of_types_at_the_dearest() {
    // retrain: master m5.xlarge on demand ($0.25) + core of m5/m5a, 1 on
    // demand + 2 spot, priced at the dearest ($0.25): 4 × 0.25 = $1 an hour.
    let c = cluster("j-PIPE", Some("retrain"), "08:00", Some("09:30"));
    let r = compute(&inputs(vec![c], vec![]), &prices());
    let l = line(&r, "j-PIPE");
    assert_eq!(
        l.cost,
        Cost::Known {
            usd: 1.5,
            estimate: true,
            spot: true
        }
    );
    assert_eq!(l.cost.to_string(), "≤$1.50");
    assert!(
        text(&r).contains("≤ marks an upper bound: spot capacity priced at the on-demand price")
    );

    // The same choice of types, all on demand: an estimate, not spot.
    let mut c = cluster("j-CHOICE", Some("retrain"), "08:00", Some("09:30"));
    c.fleets = vec![fleet(&["m5.xlarge", "m5a.xlarge"], 2, 0)];
    let r = compute(&inputs(vec![c], vec![]), &prices());
    assert_eq!(line(&r, "j-CHOICE").cost.to_string(), "~$0.75");
}

#[test]
fn the_report_lists_each_price_it_used_with_its_origin() {
    let c = cluster("j-PIPE", Some("retrain"), "08:00", Some("09:30"));
    let r = compute(&inputs(vec![c], vec![]), &prices());
    let types: Vec<(&str, &str)> = r
        .prices
        .iter()
        .map(|p| (p.instance_type.as_str(), p.region.as_str()))
        .collect();
    assert_eq!(
        types,
        [
            ("m5.xlarge", "eu-central-1"),
            ("m5a.xlarge", "eu-central-1")
        ]
    );
    assert_eq!(
        r.prices[0].origin,
        PriceOrigin::Offline {
            taken: "2026-11-28".into()
        }
    );
    let out = text(&r);
    assert!(
        out.contains(
            "m5.xlarge in eu-central-1: EC2 $0.2000 + EMR $0.0500, from the offline table shipped with sparkhub, written down 2026-11-28"
        ),
        "{out}"
    );

    // From the Price List, the report names it and its date.
    let mut book = prices::PriceBook::default();
    book.insert(
        "eu-central-1",
        "m5.xlarge",
        Quote {
            ec2: 0.23,
            emr: 0.048,
            origin: PriceOrigin::PriceList {
                fetched: "2026-12-06".parse().unwrap(),
            },
        },
    );
    let c = cluster("j-IDLE", Some("tutorial"), "08:00", Some("10:00"));
    let out = text(&compute(&inputs(vec![c], vec![]), &book));
    assert!(
        out.contains("m5.xlarge in eu-central-1: EC2 $0.2300 + EMR $0.0480, from the AWS Price List API, fetched 2026-12-06"),
        "{out}"
    );
}

#[test]
fn an_unknown_instance_type_or_region_is_unknown_never_zero() {
    let mut c = cluster("j-BIG", Some("tutorial"), "08:00", Some("10:00"));
    c.fleets = vec![
        fleet(&["m5.xlarge"], 1, 0),
        fleet(&["x2iedn.32xlarge"], 2, 0),
    ];
    let known = cluster("j-KNOWN", Some("tutorial"), "08:00", Some("10:00"));
    let r = compute(&inputs(vec![c, known], vec![]), &prices());
    let l = line(&r, "j-BIG");
    assert_eq!(
        l.cost,
        Cost::Unknown {
            missing: vec!["x2iedn.32xlarge in eu-central-1".into()]
        }
    );
    assert_eq!(
        l.cost.to_string(),
        "unknown (x2iedn.32xlarge in eu-central-1)"
    );
    assert_eq!(
        r.profiles[0].cost.usd(),
        None,
        "a profile total with an unknown part is unknown"
    );
    assert_eq!(r.total_cost.usd(), None);

    let mut elsewhere = inputs(
        vec![cluster("j-X", Some("tutorial"), "08:00", Some("10:00"))],
        vec![],
    );
    elsewhere.region = "ap-south-2".into();
    let r = compute(&elsewhere, &prices());
    assert!(matches!(r.clusters[0].cost, Cost::Unknown { .. }));
}

#[test]
fn a_cluster_of_no_known_profile_and_no_fleets_has_an_unknown_cost() {
    let mut c = cluster("j-OTHER", None, "08:00", Some("09:00"));
    c.name = "somebody-elses".into();
    let r = compute(&inputs(vec![c], vec![]), &prices());
    assert_eq!(r.clusters[0].profile, NO_PROFILE);
    assert_eq!(r.clusters[0].cost.usd(), None);
    assert_eq!(r.clusters[0].ended, Ending::Person);
}

#[test]
fn a_warning_before_the_termination_is_shown() {
    let c = cluster("j-IDLE", Some("tutorial"), "08:00", Some("10:00"));
    let listed = ListedCluster {
        id: c.id.clone(),
        name: c.name.clone(),
        state: ClusterState::Waiting,
        created_at: c.created_at,
        ready_at: c.ready_at,
    };
    let warning = Record::warning(
        &listed,
        &crate::sweep::warning::Warning {
            cluster_id: "j-IDLE".into(),
            profile: "tutorial".into(),
            terminate_by: at("10:00"),
            reason: "idle".into(),
            because_idle: true,
            notebooks: true,
            recipients: vec![],
        },
        at("09:45"),
    );
    let record = termination(&c, &crate::idle::TerminateReason::Idle { minutes: 60 });
    let r = compute(&inputs(vec![c], vec![warning, record]), &prices());
    assert!(r.clusters[0].warned);
    assert!(text(&r).contains("(warned first)"));
}

#[test]
fn the_table_shows_each_profile_and_cluster_with_its_figures() {
    let c = cluster("j-IDLE", Some("tutorial"), "08:00", Some("10:00"));
    let record = termination(&c, &crate::idle::TerminateReason::Idle { minutes: 60 });
    let out = text(&compute(&inputs(vec![c], vec![record]), &prices()));
    let profile_row = out.lines().find(|l| l.starts_with("tutorial")).unwrap();
    for figure in ["1", "2.0", "24", "$1.50", "10.0", "$7.50"] {
        assert!(
            profile_row.split_whitespace().any(|w| w == figure),
            "{figure}: {profile_row}"
        );
    }
    let cluster_row = out.lines().find(|l| l.starts_with("j-IDLE")).unwrap();
    assert!(cluster_row.contains("sparkhub: idle"), "{cluster_row}");
    assert!(cluster_row.contains("2026-11-25 08:00"), "{cluster_row}");
    assert!(out.contains("written down 2026-11-28"), "{out}");
}

#[test]
fn the_shipped_price_table_knows_the_example_profiles_types() {
    let table = PriceTable::shipped();
    assert!(!table.taken.is_empty());
    for text in [
        include_str!("../../../../profiles/tutorial.toml"),
        include_str!("../../../../profiles/retrain.toml"),
    ] {
        let profile = crate::Profile::parse(text).unwrap();
        let fleets = [&profile.fleets.master, &profile.fleets.core]
            .into_iter()
            .chain(profile.fleets.task.as_ref());
        for fleet in fleets {
            for t in &fleet.instance_types {
                for region in ["us-east-1", "eu-central-1"] {
                    let price = table.hourly(region, t);
                    assert!(price.is_some_and(|p| p > 0.0), "{t} in {region}");
                }
            }
        }
    }
}

/// A profile tag with a carriage return and a right-to-left override is
/// shown escaped: the table's rows cannot be overwritten or reordered.
#[test]
fn the_table_shows_terminal_controls_from_tags_escaped() {
    let c = cluster("j-EVIL", Some("evil\r\u{202e}lave"), "08:00", Some("10:00"));
    let out = text(&compute(&inputs(vec![c], vec![]), &prices()));
    assert!(!out.contains('\r') && !out.contains('\u{202e}'), "{out:?}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("j-EVIL") && l.contains("evil\\r\\u{202e}lave")),
        "{out}"
    );
}

#[test]
fn startups_are_summarised_per_profile_with_p50_and_p95() {
    let record = |profile: &str, id: &str, minutes: i64, ready_by: Option<&str>| {
        let ready = at("08:00");
        crate::history::StartupRecord::new(
            id,
            "sparkhub-x",
            profile,
            ready - jiff::SignedDuration::from_mins(minutes),
            ready,
            ready_by.map(at),
        )
    };
    let mut startups: Vec<_> = (1..=20)
        .map(|m| record("tutorial", &format!("j-{m}"), m, None))
        .collect();
    startups.push(record("retrain", "j-r1", 9, Some("08:05")));
    startups.push(record("retrain", "j-r2", 12, Some("07:58")));
    let mut i = inputs(vec![], vec![]);
    i.startups = startups;
    let r = compute(&i, &PriceTable::shipped());
    let tutorial = r.startups.iter().find(|s| s.profile == "tutorial").unwrap();
    assert_eq!(
        (
            tutorial.startups,
            tutorial.p50_minutes,
            tutorial.p95_minutes
        ),
        (20, 10.0, 19.0)
    );
    let retrain = r.startups.iter().find(|s| s.profile == "retrain").unwrap();
    assert_eq!((retrain.ready_by_runs, retrain.ready_in_time), (2, 1));
    let shown = text(&r);
    assert!(shown.contains("p95 min"), "{shown}");
    assert!(shown.contains("1 of 2"), "{shown}");
}

#[test]
fn a_budget_line_shows_budget_spent_and_forecast() {
    let name = crate::ProfileName::parse("tutorial").unwrap();
    let mut month = crate::budget::MonthSpend::new(&name, "2026-11", at("20:00"));
    month.clusters.insert(
        "j-1".into(),
        crate::budget::cluster_spend(2.0, at("08:00"), at("20:00"), "x"),
    );
    month.alerts_sent = vec![50];
    let mut i = inputs(vec![], vec![]);
    i.budgets = vec![crate::report::BudgetFacts {
        profile: "tutorial".into(),
        monthly_usd: 40,
        spend: Some(month),
    }];
    let r = compute(&i, &PriceTable::shipped());
    let b = &r.budgets[0];
    assert_eq!((b.budget_usd, b.spent_usd), (40, 24.0));
    // 24 days and 20 hours of 30 gone on 25 November at 20:00: 24 × 30 / 24.83.
    assert_eq!(b.forecast_usd, 28.99);
    let shown = text(&r);
    assert!(
        shown.contains("$24.00") && shown.contains("$40") && shown.contains("50 %"),
        "{shown}"
    );
}

/// A cluster stopped with `sparkhub stop` ends "a person, sparkhub stop"
/// (EMR says USER_REQUEST, as for anybody), and the text report says so.
#[test]
fn a_cluster_stopped_with_sparkhub_stop_is_shown_as_stopped_by_a_person() {
    let c = cluster("j-STOPPED", Some("tutorial"), "08:00", Some("12:00"));
    let described = crate::ports::Cluster {
        id: c.id.clone(),
        name: c.name.clone(),
        state: ClusterState::Waiting,
        tags: BTreeMap::from([
            ("sparkhub:managed".to_owned(), "true".to_owned()),
            ("sparkhub:profile".to_owned(), "tutorial".to_owned()),
        ]),
        termination_protected: false,
        applications: Vec::new(),
        master_dns: None,
        key_name: None,
        created_at: c.created_at,
        ready_at: c.ready_at,
    };
    let record = Record::stopped(
        &described,
        "arn:aws:iam::123456789012:user/philipp",
        at("12:00"),
    );
    assert_eq!(record.profile, "tutorial");
    let back = Record::parse(&record.to_json()).unwrap();
    assert_eq!(back, record);
    let r = compute(&inputs(vec![c], vec![record]), &prices());
    assert_eq!(r.clusters[0].ended, Ending::SparkhubStop);
    assert_eq!(r.clusters[0].hours_saved, 0.0);
    assert!(
        crate::report::text(&r).contains("a person, sparkhub stop"),
        "{}",
        crate::report::text(&r)
    );
}
