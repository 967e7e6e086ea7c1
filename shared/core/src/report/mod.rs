//! `sparkhub report`: what the clusters of a period cost, how each ended,
//! and the hours sparkhub's idle termination saved. Pure: the CLI reads EMR's
//! cluster list and the history objects, this module computes the figures,
//! the terminal table ([`text`]) and the HTML page ([`html`]).
//!
//! Costs are on-demand EC2 + the EMR charge per instance-hour, from AWS's
//! Price List, a cache of its answers or the table shipped with the code
//! ([`prices`]); the report lists each price it used with its origin. An
//! instance type or region none of them knows makes the cost unknown, never
//! zero. Spot capacity is priced at the on-demand price, an upper bound
//! marked `≤` (sparkhub reads no spot prices), and a fleet that may choose
//! among types of different prices at the dearest, an estimate marked `~`.

pub mod chart;
pub mod html;
pub mod prices;

pub use prices::{Price, PriceOrigin, PriceTable, Prices, Quote};

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::emr::ClusterState;
use crate::history::{Cause, Record, RecordKind, StartupRecord};
use crate::text::printable;

/// One instance fleet (or group) of a cluster: the types EMR may choose from
/// and the instances on each market.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetUse {
    pub instance_types: Vec<String>,
    pub on_demand: u32,
    pub spot: u32,
}

/// A profile's fleets as the report prices them.
pub fn profile_fleets(profile: &crate::Profile) -> Vec<FleetUse> {
    [&profile.fleets.master, &profile.fleets.core]
        .into_iter()
        .chain(profile.fleets.task.as_ref())
        .map(|f| FleetUse {
            instance_types: f.instance_types.clone(),
            on_demand: f.on_demand,
            spot: f.spot,
        })
        .collect()
}

/// What the profile of a cluster says, as far as the report needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileFacts {
    pub max_lifetime_hours: u32,
    /// A pipeline profile: sparkhub's workflow terminates its cluster when the
    /// steps are done.
    pub pipeline: bool,
    pub fleets: Vec<FleetUse>,
}

/// One cluster as EMR lists and describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterFacts {
    pub id: String,
    pub name: String,
    /// The `sparkhub:profile` tag; `None` for a cluster that is not sparkhub's.
    pub profile: Option<String>,
    pub state: ClusterState,
    pub created_at: Option<Timestamp>,
    pub ready_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    /// EMR's `NormalizedInstanceHours`.
    pub normalized_instance_hours: Option<i64>,
    /// EMR's state-change reason: code and message.
    pub reason_code: Option<String>,
    pub reason_message: Option<String>,
    /// From EMR (ListInstanceFleets); empty when EMR gives none, then the
    /// profile's fleets are used.
    pub fleets: Vec<FleetUse>,
}

/// Everything the report is computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    pub since: Timestamp,
    pub now: Timestamp,
    pub region: String,
    pub clusters: Vec<ClusterFacts>,
    pub history: Vec<Record>,
    /// The startups the history recorded (setup-jupyter-users).
    pub startups: Vec<StartupRecord>,
    /// The monthly budgets of the profiles reported, with this month's
    /// spending as the sweep keeps it.
    pub budgets: Vec<BudgetFacts>,
    pub profiles: BTreeMap<String, ProfileFacts>,
}

/// How a cluster ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ending {
    /// Still there.
    Running,
    /// sparkhub's sweep: nobody used it.
    SparkhubIdle,
    /// sparkhub's sweep: its profile's maximum lifetime.
    SparkhubMaxLifetime,
    /// EMR's own auto-termination policy (the backstop sparkhub sets).
    AutoTermination,
    /// A person stopped it with `sparkhub stop` (the history says who).
    SparkhubStop,
    /// A person (or a program with their credentials) terminated it.
    Person,
    /// EMR ended it with an error.
    Failure,
    /// Its steps were done.
    PipelineDone,
    /// EMR gave no reason sparkhub knows.
    Unknown,
}

impl Ending {
    pub const ALL: [Ending; 9] = [
        Ending::Running,
        Ending::SparkhubIdle,
        Ending::SparkhubMaxLifetime,
        Ending::AutoTermination,
        Ending::SparkhubStop,
        Ending::Person,
        Ending::Failure,
        Ending::PipelineDone,
        Ending::Unknown,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Ending::Running => "running",
            Ending::SparkhubIdle => "sparkhub: idle",
            Ending::SparkhubMaxLifetime => "sparkhub: max lifetime",
            Ending::AutoTermination => "EMR auto-termination",
            Ending::SparkhubStop => "a person, sparkhub stop",
            Ending::Person => "a person",
            Ending::Failure => "failure",
            Ending::PipelineDone => "pipeline done",
            Ending::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// How `cluster` ended: sparkhub's history first (EMR says `USER_REQUEST`
/// for a sweep's termination as for anybody's), then EMR's state-change
/// reason code. The codes are those of the EMR API reference,
/// ClusterStateChangeReason:
/// <https://docs.aws.amazon.com/emr/latest/APIReference/API_ClusterStateChangeReason.html>
/// (`INTERNAL_ERROR | VALIDATION_ERROR | INSTANCE_FAILURE |
/// INSTANCE_FLEET_TIMEOUT | BOOTSTRAP_FAILURE | USER_REQUEST | STEP_FAILURE |
/// ALL_STEPS_COMPLETED`). The reference does not say which code EMR's
/// auto-termination policy reports; its message speaks of the idle time, so
/// a message naming "idle" is taken for it — an assumption no real account
/// has checked yet. sparkhub's workflow ends a pipeline's cluster with
/// TerminateJobFlows, which EMR reports as `USER_REQUEST` too: for a pipeline
/// profile that is "pipeline done".
pub fn ending(
    cluster: &ClusterFacts,
    terminated_by_sweep: Option<Cause>,
    pipeline: bool,
) -> Ending {
    if cluster.state.is_active() {
        return Ending::Running;
    }
    match terminated_by_sweep {
        Some(Cause::Idle) => return Ending::SparkhubIdle,
        Some(Cause::MaxLifetime) => return Ending::SparkhubMaxLifetime,
        Some(Cause::Stopped) => return Ending::SparkhubStop,
        None => {}
    }
    let code = cluster.reason_code.as_deref().unwrap_or("");
    let message = cluster
        .reason_message
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    match code {
        "INTERNAL_ERROR"
        | "VALIDATION_ERROR"
        | "INSTANCE_FAILURE"
        | "INSTANCE_FLEET_TIMEOUT"
        | "BOOTSTRAP_FAILURE"
        | "STEP_FAILURE" => Ending::Failure,
        _ if message.contains("idle") => Ending::AutoTermination,
        "ALL_STEPS_COMPLETED" => Ending::PipelineDone,
        "USER_REQUEST" if pipeline => Ending::PipelineDone,
        "USER_REQUEST" => Ending::Person,
        _ if cluster.state == ClusterState::TerminatedWithErrors => Ending::Failure,
        _ => Ending::Unknown,
    }
}

/// A cost in USD, or why it is not known.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Cost {
    Known {
        usd: f64,
        /// An upper bound: spot capacity or a choice of types.
        estimate: bool,
        /// Spot capacity priced at the on-demand price: the cost is at most
        /// this (sparkhub reads no spot prices).
        spot: bool,
    },
    /// No price for these types (in the report's region), or the cluster's
    /// instances are not known.
    Unknown { missing: Vec<String> },
}

impl Cost {
    pub fn zero() -> Self {
        Cost::Known {
            usd: 0.0,
            estimate: false,
            spot: false,
        }
    }

    /// The sum; unknown if either is.
    fn add(self, other: &Cost) -> Cost {
        match (self, other) {
            (
                Cost::Known {
                    usd: a,
                    estimate: x,
                    spot: s,
                },
                Cost::Known {
                    usd: b,
                    estimate: y,
                    spot: t,
                },
            ) => Cost::Known {
                usd: a + b,
                estimate: x || *y,
                spot: s || *t,
            },
            (Cost::Unknown { mut missing }, Cost::Unknown { missing: more }) => {
                for m in more {
                    if !missing.contains(m) {
                        missing.push(m.clone());
                    }
                }
                Cost::Unknown { missing }
            }
            (Cost::Unknown { missing }, _) => Cost::Unknown { missing },
            (_, Cost::Unknown { missing }) => Cost::Unknown {
                missing: missing.clone(),
            },
        }
    }

    fn scale(&self, factor: f64) -> Cost {
        match self {
            Cost::Known {
                usd,
                estimate,
                spot,
            } => Cost::Known {
                usd: usd * factor,
                estimate: *estimate,
                spot: *spot,
            },
            unknown => unknown.clone(),
        }
    }

    pub fn usd(&self) -> Option<f64> {
        match self {
            Cost::Known { usd, .. } => Some(*usd),
            Cost::Unknown { .. } => None,
        }
    }
}

impl fmt::Display for Cost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cost::Known {
                usd, spot: true, ..
            } => write!(f, "≤${usd:.2}"),
            Cost::Known {
                usd,
                estimate: true,
                ..
            } => write!(f, "~${usd:.2}"),
            Cost::Known { usd, .. } => write!(f, "${usd:.2}"),
            Cost::Unknown { missing } if missing.is_empty() => f.write_str("unknown"),
            Cost::Unknown { missing } => write!(f, "unknown ({})", missing.join(", ")),
        }
    }
}

/// One price the report used, and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriceUsed {
    pub region: String,
    pub instance_type: String,
    /// USD per instance-hour.
    pub ec2: f64,
    pub emr: f64,
    pub origin: PriceOrigin,
    /// The origin in words: "AWS Price List API, fetched 2026-12-06".
    pub source: String,
}

/// What the fleets cost per hour in `region`, and the prices that says it.
pub fn hourly_cost(
    fleets: &[FleetUse],
    prices: &impl Prices,
    region: &str,
) -> (Cost, Vec<PriceUsed>) {
    if fleets.is_empty() {
        return (
            Cost::Unknown {
                missing: vec!["instances".into()],
            },
            Vec::new(),
        );
    }
    let mut used: Vec<PriceUsed> = Vec::new();
    let mut total = Cost::zero();
    for fleet in fleets {
        let known: Vec<Option<Quote>> = fleet
            .instance_types
            .iter()
            .map(|t| prices.quote(region, t))
            .collect();
        for (t, q) in fleet.instance_types.iter().zip(&known) {
            if let Some(q) = q
                && !used
                    .iter()
                    .any(|u| u.region == region && &u.instance_type == t)
            {
                used.push(PriceUsed {
                    region: region.to_owned(),
                    instance_type: t.clone(),
                    ec2: q.ec2,
                    emr: q.emr,
                    source: q.origin.to_string(),
                    origin: q.origin.clone(),
                });
            }
        }
        let missing: Vec<String> = fleet
            .instance_types
            .iter()
            .zip(&known)
            .filter(|(_, p)| p.is_none())
            .map(|(t, _)| format!("{t} in {region}"))
            .collect();
        let cost = if fleet.instance_types.is_empty() {
            Cost::Unknown {
                missing: vec!["instance types".into()],
            }
        } else if !missing.is_empty() {
            Cost::Unknown { missing }
        } else {
            let known: Vec<f64> = known.into_iter().flatten().map(|q| q.hourly()).collect();
            let dearest = known.iter().copied().fold(0.0, f64::max);
            let cheapest = known.iter().copied().fold(f64::INFINITY, f64::min);
            Cost::Known {
                usd: dearest * f64::from(fleet.on_demand + fleet.spot),
                estimate: fleet.spot > 0 || dearest > cheapest,
                spot: fleet.spot > 0,
            }
        };
        total = total.add(&cost);
    }
    (total, used)
}

/// The fleets a cluster is priced by: EMR's, else its profile's.
fn fleets_of(c: &ClusterFacts, inputs: &Inputs) -> Vec<FleetUse> {
    if c.fleets.is_empty() {
        c.profile
            .as_ref()
            .and_then(|p| inputs.profiles.get(p))
            .map(|f| f.fleets.clone())
            .unwrap_or_default()
    } else {
        c.fleets.clone()
    }
}

/// Every (region, instance type) the report needs a price for.
pub fn wanted_prices(inputs: &Inputs) -> std::collections::BTreeSet<(String, String)> {
    inputs
        .clusters
        .iter()
        .flat_map(|c| fleets_of(c, inputs))
        .flat_map(|f| f.instance_types)
        .map(|t| (inputs.region.clone(), t))
        .collect()
}

/// One cluster's line of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterLine {
    pub cluster_id: String,
    pub name: String,
    pub profile: String,
    pub state: String,
    pub created_at: Option<Timestamp>,
    pub ready_at: Option<Timestamp>,
    /// The start of the idle period that ended it, for a cluster the sweep
    /// terminated for idleness.
    pub last_active_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub ended: Ending,
    /// From creation to its end (or now).
    pub running_hours: f64,
    pub normalized_instance_hours: Option<i64>,
    /// What its instances cost an hour.
    pub hourly_cost: Cost,
    pub cost: Cost,
    /// Hours between its end and the end of its maximum lifetime, when
    /// sparkhub ended it for being idle.
    pub hours_saved: f64,
    pub cost_saved: Cost,
    /// The sweep warned about it (for this idle period or lifetime) first.
    pub warned: bool,
}

/// One profile's totals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileLine {
    pub profile: String,
    pub clusters: usize,
    pub running_hours: f64,
    pub normalized_instance_hours: i64,
    pub cost: Cost,
    pub hours_saved: f64,
    pub cost_saved: Cost,
    /// Clusters by how they ended.
    pub endings: BTreeMap<Ending, usize>,
}

/// A profile's budget and this month's object (see `crate::budget`).
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetFacts {
    pub profile: String,
    pub monthly_usd: u32,
    pub spend: Option<crate::budget::MonthSpend>,
}

/// One profile's budget line: this month's estimate as the sweep keeps it,
/// and where the month ends if it goes on so.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetLine {
    pub profile: String,
    pub month: String,
    pub budget_usd: u32,
    pub spent_usd: f64,
    pub forecast_usd: f64,
    pub alerts_sent: Vec<u32>,
    /// Runs started past the spent budget.
    pub overrides: usize,
}

/// The budget lines as of `now`.
pub fn budget_lines(budgets: &[BudgetFacts], now: Timestamp) -> Vec<BudgetLine> {
    budgets
        .iter()
        .map(|b| {
            let spent = b
                .spend
                .as_ref()
                .map_or(0.0, crate::budget::MonthSpend::spent);
            BudgetLine {
                profile: b.profile.clone(),
                month: crate::budget::month_of(now),
                budget_usd: b.monthly_usd,
                spent_usd: spent,
                forecast_usd: crate::budget::forecast(spent, now),
                alerts_sent: b
                    .spend
                    .as_ref()
                    .map(|s| s.alerts_sent.clone())
                    .unwrap_or_default(),
                overrides: b.spend.as_ref().map_or(0, |s| s.overrides.len()),
            }
        })
        .collect()
}

/// How long one profile's clusters took from created to ready (EMR's
/// timeline, as setup-jupyter-users recorded it), over the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StartupLine {
    pub profile: String,
    pub startups: usize,
    pub p50_minutes: f64,
    pub p95_minutes: f64,
    /// Of the `ready_by` runs among them: how many were ready in time.
    pub ready_by_runs: usize,
    pub ready_in_time: usize,
}

/// The startup lines of `records` ready in `[since, until]`, by profile.
pub fn startup_lines(
    records: &[StartupRecord],
    since: Timestamp,
    until: Timestamp,
) -> Vec<StartupLine> {
    let mut by_profile: BTreeMap<&str, Vec<&StartupRecord>> = BTreeMap::new();
    for r in records {
        if r.ready_at >= since && r.ready_at <= until {
            by_profile.entry(&r.profile).or_default().push(r);
        }
    }
    by_profile
        .into_iter()
        .map(|(profile, rs)| {
            let durations: Vec<jiff::SignedDuration> = rs
                .iter()
                .map(|r| jiff::SignedDuration::from_secs(r.seconds))
                .collect();
            let minutes = |p| {
                crate::startup::percentile(&durations, p).map_or(0.0, |d| d.as_secs_f64() / 60.0)
            };
            let with_ready_by: Vec<_> = rs
                .iter()
                .filter_map(|r| Some((r.ready_at, r.ready_by?)))
                .collect();
            StartupLine {
                profile: profile.to_owned(),
                startups: rs.len(),
                p50_minutes: minutes(50),
                p95_minutes: minutes(95),
                ready_by_runs: with_ready_by.len(),
                ready_in_time: with_ready_by
                    .iter()
                    .filter(|(ready, by)| ready <= by)
                    .count(),
            }
        })
        .collect()
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub since: Timestamp,
    pub until: Timestamp,
    pub region: String,
    /// Every price the costs use, with its origin.
    pub prices: Vec<PriceUsed>,
    /// Why AWS's Price List was not (fully) used, when it was not.
    pub price_note: Option<String>,
    pub profiles: Vec<ProfileLine>,
    pub clusters: Vec<ClusterLine>,
    pub total_cost: Cost,
    pub total_cost_saved: Cost,
    pub total_hours_saved: f64,
    /// Startup times by profile.
    pub startups: Vec<StartupLine>,
    /// Budgets by profile.
    pub budgets: Vec<BudgetLine>,
}

/// What the cost marks and the hours saved mean (text and HTML).
pub const COST_NOTES: &str = "Costs: on-demand EC2 + EMR per instance-hour, times the cluster's instances and hours. \
     ≤ marks an upper bound: spot capacity priced at the on-demand price (sparkhub reads no spot prices; spot usually costs less). \
     ~ marks an estimate: a fleet with a choice of instance types priced at the dearest. \
     A type no price source knows is unknown, never zero. \
     Hours saved: from a sparkhub idle termination to the end of the profile's maximum lifetime.";

/// The name the report gives a cluster without a `sparkhub:profile` tag.
pub const NO_PROFILE: &str = "(not sparkhub's)";

fn hours(from: Timestamp, to: Timestamp) -> f64 {
    (to.duration_since(from).as_secs_f64() / 3600.0).max(0.0)
}

/// Computes the report.
pub fn compute(inputs: &Inputs, prices: &impl Prices) -> Report {
    let mut lines = Vec::new();
    let mut used: Vec<PriceUsed> = Vec::new();
    for c in &inputs.clusters {
        let termination = inputs
            .history
            .iter()
            .filter(|r| r.cluster_id == c.id && r.kind == RecordKind::Termination)
            .max_by_key(|r| r.recorded_at);
        let warned = inputs
            .history
            .iter()
            .any(|r| r.cluster_id == c.id && r.kind == RecordKind::Warning);
        let profile = c.profile.clone().unwrap_or_else(|| NO_PROFILE.into());
        let facts = c.profile.as_ref().and_then(|p| inputs.profiles.get(p));
        let ended = ending(
            c,
            termination.map(|r| r.cause),
            facts.is_some_and(|f| f.pipeline),
        );
        let ended_at = c.ended_at.or(termination.and_then(|r| r.ended_at));
        let end = if ended == Ending::Running {
            inputs.now
        } else {
            ended_at.unwrap_or(inputs.now)
        };
        let running_hours = c.created_at.map_or(0.0, |t| hours(t, end));
        let (hourly, quoted) = hourly_cost(&fleets_of(c, inputs), prices, &inputs.region);
        for q in quoted {
            if !used
                .iter()
                .any(|u| u.region == q.region && u.instance_type == q.instance_type)
            {
                used.push(q);
            }
        }
        let hours_saved = match (ended, c.created_at, facts) {
            (Ending::SparkhubIdle, Some(created), Some(f)) => {
                let lifetime_end =
                    created + jiff::SignedDuration::from_hours(i64::from(f.max_lifetime_hours));
                hours(end, lifetime_end)
            }
            _ => 0.0,
        };
        let last_active_at = termination.and_then(|r| {
            let minutes = r.idle_minutes?;
            Some(r.ended_at? - jiff::SignedDuration::from_mins(minutes))
        });
        lines.push(ClusterLine {
            cluster_id: c.id.clone(),
            name: c.name.clone(),
            profile,
            state: c.state.to_string(),
            created_at: c.created_at,
            ready_at: c.ready_at,
            last_active_at,
            ended_at: if ended == Ending::Running {
                None
            } else {
                ended_at
            },
            ended,
            running_hours,
            normalized_instance_hours: c.normalized_instance_hours,
            cost: hourly.scale(running_hours),
            cost_saved: if hours_saved > 0.0 {
                hourly.scale(hours_saved)
            } else {
                Cost::zero()
            },
            hours_saved,
            warned,
            hourly_cost: hourly,
        });
    }
    used.sort_by(|a, b| (&a.region, &a.instance_type).cmp(&(&b.region, &b.instance_type)));
    lines.sort_by(|a, b| {
        (a.profile.as_str(), a.created_at, a.cluster_id.as_str()).cmp(&(
            b.profile.as_str(),
            b.created_at,
            b.cluster_id.as_str(),
        ))
    });

    let mut profiles: BTreeMap<String, ProfileLine> = BTreeMap::new();
    for l in &lines {
        let p = profiles
            .entry(l.profile.clone())
            .or_insert_with(|| ProfileLine {
                profile: l.profile.clone(),
                clusters: 0,
                running_hours: 0.0,
                normalized_instance_hours: 0,
                cost: Cost::zero(),
                hours_saved: 0.0,
                cost_saved: Cost::zero(),
                endings: BTreeMap::new(),
            });
        p.clusters += 1;
        p.running_hours += l.running_hours;
        p.normalized_instance_hours += l.normalized_instance_hours.unwrap_or(0);
        p.cost = p.cost.clone().add(&l.cost);
        p.hours_saved += l.hours_saved;
        p.cost_saved = p.cost_saved.clone().add(&l.cost_saved);
        *p.endings.entry(l.ended).or_default() += 1;
    }
    let profiles: Vec<ProfileLine> = profiles.into_values().collect();
    let total_cost = profiles
        .iter()
        .fold(Cost::zero(), |acc, p| acc.add(&p.cost));
    let total_cost_saved = profiles
        .iter()
        .fold(Cost::zero(), |acc, p| acc.add(&p.cost_saved));
    Report {
        since: inputs.since,
        until: inputs.now,
        region: inputs.region.clone(),
        prices: used,
        price_note: None,
        total_hours_saved: profiles.iter().map(|p| p.hours_saved).sum(),
        profiles,
        clusters: lines,
        total_cost,
        total_cost_saved,
        startups: startup_lines(&inputs.startups, inputs.since, inputs.now),
        budgets: budget_lines(&inputs.budgets, inputs.now),
    }
}

fn short(t: Option<Timestamp>) -> String {
    t.map(|t| {
        t.to_zoned(jiff::tz::TimeZone::UTC)
            .strftime("%Y-%m-%d %H:%M")
            .to_string()
    })
    .unwrap_or_else(|| "-".into())
}

fn nih(n: Option<i64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_else(|| "?".into())
}

/// The report as a terminal table.
///
/// Profile names (from tags) and cluster ids come from AWS: they are shown
/// [`printable`], so nothing in them acts on the terminal.
pub fn text(r: &Report) -> String {
    use std::fmt::Write;
    let width = |s: &str| printable(s).chars().count();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "sparkhub report, {} to {} UTC, region {}",
        short(Some(r.since)),
        short(Some(r.until)),
        printable(&r.region)
    );
    // Columns as wide as the longest profile name and cluster id.
    let pw = r
        .profiles
        .iter()
        .map(|p| width(&p.profile))
        .max()
        .unwrap_or(0)
        .max("profile".len());
    let cw = r
        .clusters
        .iter()
        .map(|c| width(&c.cluster_id))
        .max()
        .unwrap_or(0)
        .max("cluster".len());
    let _ = writeln!(
        out,
        "\n{:<pw$} {:>8} {:>9} {:>9} {:>14} {:>9} {:>14}",
        "profile", "clusters", "hours", "norm. h", "cost", "h saved", "cost saved"
    );
    for p in &r.profiles {
        let _ = writeln!(
            out,
            "{:<pw$} {:>8} {:>9.1} {:>9} {:>14} {:>9.1} {:>14}",
            printable(&p.profile),
            p.clusters,
            p.running_hours,
            p.normalized_instance_hours,
            p.cost.to_string(),
            p.hours_saved,
            p.cost_saved.to_string()
        );
    }
    let _ = writeln!(
        out,
        "{:<pw$} {:>8} {:>9} {:>9} {:>14} {:>9.1} {:>14}",
        "total",
        r.clusters.len(),
        "",
        "",
        r.total_cost.to_string(),
        r.total_hours_saved,
        r.total_cost_saved.to_string()
    );
    let _ = writeln!(
        out,
        "\n{:<cw$} {:<pw$} {:<16} {:<16} {:>7} {:>7} {:>12} {:>7}  ended",
        "cluster", "profile", "created", "ended", "hours", "norm. h", "cost", "saved h"
    );
    for c in &r.clusters {
        let _ = writeln!(
            out,
            "{:<cw$} {:<pw$} {:<16} {:<16} {:>7.1} {:>7} {:>12} {:>7.1}  {}{}",
            printable(&c.cluster_id),
            printable(&c.profile),
            short(c.created_at),
            short(c.ended_at),
            c.running_hours,
            nih(c.normalized_instance_hours),
            c.cost.to_string(),
            c.hours_saved,
            c.ended,
            if c.warned { " (warned first)" } else { "" }
        );
    }
    if !r.budgets.is_empty() {
        let _ = writeln!(
            out,
            "\n{:<pw$} {:>8} {:>10} {:>10} {:>12}  thresholds told",
            "budget", "month", "budget", "spent", "forecast"
        );
        for b in &r.budgets {
            let told = if b.alerts_sent.is_empty() {
                "-".to_owned()
            } else {
                b.alerts_sent
                    .iter()
                    .map(|p| format!("{p} %"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let overrides = if b.overrides == 0 {
                String::new()
            } else {
                format!(", {} run(s) past the budget by override", b.overrides)
            };
            let _ = writeln!(
                out,
                "{:<pw$} {:>8} {:>10} {:>10} {:>12}  {told}{overrides}",
                printable(&b.profile),
                b.month,
                format!("${}", b.budget_usd),
                format!("${:.2}", b.spent_usd),
                format!("${:.2}", b.forecast_usd)
            );
        }
    }
    if !r.startups.is_empty() {
        let _ = writeln!(
            out,
            "\n{:<pw$} {:>8} {:>9} {:>9}  ready_by runs in time",
            "startup", "clusters", "p50 min", "p95 min"
        );
        for s in &r.startups {
            let in_time = if s.ready_by_runs == 0 {
                "-".to_owned()
            } else {
                format!("{} of {}", s.ready_in_time, s.ready_by_runs)
            };
            let _ = writeln!(
                out,
                "{:<pw$} {:>8} {:>9.1} {:>9.1}  {in_time}",
                printable(&s.profile),
                s.startups,
                s.p50_minutes,
                s.p95_minutes
            );
        }
    }
    let _ = writeln!(out, "\nPrices (USD per instance-hour, on-demand, Linux):");
    if r.prices.is_empty() {
        let _ = writeln!(out, "  none known");
    }
    for p in &r.prices {
        let _ = writeln!(
            out,
            "  {} in {}: EC2 ${:.4} + EMR ${:.4}, from the {}",
            printable(&p.instance_type),
            printable(&p.region),
            p.ec2,
            p.emr,
            p.source
        );
    }
    if let Some(note) = &r.price_note {
        let _ = writeln!(out, "  Note: {}", printable(note));
    }
    let _ = writeln!(out, "\n{COST_NOTES}");
    out
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
