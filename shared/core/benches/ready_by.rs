//! `ready_by`: how often the cluster is ready when people arrive, and how
//! long it waits for them, when a run creates it at ready_by minus the
//! profile's startup p95 (of its newest 20 recorded startups, the default
//! until it has 5) minus a margin — the rule of `sparkhub_core::startup`,
//! called here as create-cluster calls it.
//!
//! The startup times are drawn, not measured (no EMR here). The
//! distribution, per profile: log-normal around a median, with a spread
//! that puts its p95 at the given multiple of the median, and a rare slow
//! start (capacity, a slow mirror) at twice the drawn time. Users report
//! 7–8 minutes for a cluster with JupyterHub and 20 or more with heavy
//! bootstrap actions; the profiles below bracket that. A profile's history
//! starts empty and grows by one startup a day.
//!
//! Run: `cargo bench -p sparkhub-core --bench ready_by`

use jiff::{SignedDuration, Timestamp};
use sparkhub_core::startup::{self, StartupSample, Startups};

/// A small deterministic generator (SplitMix64): the figures are the same
/// on every run, and the core needs no random-number crate for a bench.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u = self.next().max(1e-12);
        let v = self.next();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

struct Distribution {
    name: &'static str,
    median_minutes: f64,
    /// p95 / median of the log-normal part.
    p95_over_median: f64,
    /// Share of slow starts (twice the drawn time).
    slow: f64,
}

impl Distribution {
    fn draw(&self, rng: &mut Rng) -> SignedDuration {
        let sigma = self.p95_over_median.ln() / 1.645;
        let mut minutes = self.median_minutes * (sigma * rng.normal()).exp();
        if rng.next() < self.slow {
            minutes *= 2.0;
        }
        SignedDuration::from_secs_f64(minutes * 60.0)
    }
}

const DISTRIBUTIONS: &[Distribution] = &[
    Distribution {
        name: "JupyterHub, 8 min median, p95 1.3x, 2 % slow",
        median_minutes: 8.0,
        p95_over_median: 1.3,
        slow: 0.02,
    },
    Distribution {
        name: "heavy bootstrap, 20 min median, p95 1.25x, 2 % slow",
        median_minutes: 20.0,
        p95_over_median: 1.25,
        slow: 0.02,
    },
    Distribution {
        name: "erratic, 10 min median, p95 2x, 5 % slow",
        median_minutes: 10.0,
        p95_over_median: 2.0,
        slow: 0.05,
    },
];

struct Outcome {
    in_time: f64,
    median_idle: f64,
    p95_late: f64,
}

/// `days` ready_by days of one profile (runs × days each, histories fresh
/// per run), planned with `margin`.
fn simulate(d: &Distribution, margin: SignedDuration, runs: usize, days: usize) -> Outcome {
    let mut rng = Rng(0x5EED ^ (d.median_minutes as u64) << 8);
    let mut idle = Vec::new();
    let mut late = Vec::new();
    let mut in_time = 0usize;
    let mut total = 0usize;
    let epoch: Timestamp = "2026-01-01T08:00:00Z".parse().unwrap();
    for _ in 0..runs {
        let mut history = Startups::default();
        for day in 0..days {
            let ready_by = epoch + SignedDuration::from_hours(24 * day as i64);
            let mut lead = startup::lead(&history);
            lead.margin = margin;
            let created = lead.start_at(ready_by);
            let ready = created + d.draw(&mut rng);
            total += 1;
            if ready <= ready_by {
                in_time += 1;
                idle.push(ready_by.duration_since(ready).as_secs_f64() / 60.0);
            } else {
                late.push(ready.duration_since(ready_by).as_secs_f64() / 60.0);
                idle.push(0.0);
            }
            history = history
                .with(StartupSample {
                    cluster_id: format!("j-{day}"),
                    created_at: created,
                    ready_at: ready,
                })
                .expect("a new cluster");
        }
    }
    idle.sort_by(f64::total_cmp);
    late.sort_by(f64::total_cmp);
    let pct = |v: &[f64], p: f64| {
        if v.is_empty() {
            0.0
        } else {
            v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
        }
    };
    Outcome {
        in_time: 100.0 * in_time as f64 / total as f64,
        median_idle: pct(&idle, 0.5),
        p95_late: pct(&late, 0.95),
    }
}

fn main() {
    // A year of work days per run; the first five plan with the default.
    let (runs, days) = (200, 250);
    println!(
        "ready_by: created at ready_by - (startup p95 of the newest {} + margin); default {} min below {} startups; {runs} profiles x {days} days each\n",
        startup::WINDOW,
        startup::DEFAULT_STARTUP.as_mins(),
        startup::MIN_HISTORY
    );
    println!(
        "| startup distribution | margin (min) | ready by ready_by | median idle before ready_by (min) | p95 lateness when late (min) |"
    );
    println!("|---|---:|---:|---:|---:|");
    for d in DISTRIBUTIONS {
        for margin in [0, 1, 2, 3, 5] {
            let o = simulate(d, SignedDuration::from_mins(margin), runs, days);
            let chosen = if SignedDuration::from_mins(margin) == startup::READY_MARGIN {
                " (sparkhub's)"
            } else {
                ""
            };
            println!(
                "| {} | {margin}{chosen} | {:.1} % | {:.1} | {:.1} |",
                d.name, o.in_time, o.median_idle, o.p95_late
            );
        }
    }
}
