//! The sweep's part in the budgets (see `crate::budget`): after each full
//! sweep, every profile with a `[budget]` gets this month's estimate of its
//! active clusters (the hours up to now, or up to their termination by this
//! sweep), and one message per threshold reached.
//!
//! A cluster is priced once, the first time the sweep sees it in a month:
//! its profile's fleets at the Price List's on-demand prices (or the
//! offline table when the Price List cannot be asked), the dearest type of a
//! fleet with a choice, spot at the on-demand price — the report's rules
//! (`crate::report::hourly_cost`), so both say the same. Later sweeps only
//! move its end.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use tracing::{info, warn};

use crate::ProfileName;
use crate::budget::{self, MonthSpend};
use crate::errors::message_with_causes;
use crate::ports::{BudgetLedger, ListedCluster, Notifier, PriceSource};
use crate::profile::Budget;
use crate::report::prices::{PriceCache, PriceTable, look_up};
use crate::report::{FleetUse, hourly_cost};

/// A profile's budget and the fleets its clusters are priced by.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetPlan {
    pub budget: Budget,
    pub fleets: Vec<FleetUse>,
}

/// Where the sweep's prices come from.
pub struct Pricing<R> {
    pub source: R,
    /// The region of the clusters (the function's).
    pub region: String,
}

/// One threshold announced.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub profile: String,
    pub percent: u32,
    pub spent_usd: f64,
    pub budget_usd: u32,
}

/// Updates the month objects of `plans`' profiles with `listed` (their
/// clusters by name), as of `now`; returns the alerts sent and the errors.
pub async fn keep_current<B, R, N>(
    ledger: &B,
    pricing: Option<&Pricing<R>>,
    notifier: Option<&N>,
    plans: &BTreeMap<ProfileName, BudgetPlan>,
    listed: &[ListedCluster],
    now: Timestamp,
) -> (Vec<Alert>, Vec<String>)
where
    B: BudgetLedger + Sync,
    R: PriceSource + Sync,
    N: Notifier + Sync,
{
    let month = budget::month_of(now);
    let mut alerts = Vec::new();
    let mut errors = Vec::new();
    for (profile, plan) in plans {
        let name = format!("sparkhub-{profile}");
        let clusters: Vec<&ListedCluster> = listed.iter().filter(|c| c.name == name).collect();
        match update_one(ledger, pricing, profile, plan, &clusters, &month, now).await {
            Ok(due) => {
                for alert in due {
                    tell(notifier, &alert, &month).await;
                    alerts.push(alert);
                }
            }
            Err(e) => {
                warn!(%profile, error = %e, "the budget estimate was not updated; the next sweep tries again");
                errors.push(format!("budget of {profile}: {e}"));
            }
        }
    }
    (alerts, errors)
}

async fn update_one<B, R>(
    ledger: &B,
    pricing: Option<&Pricing<R>>,
    profile: &ProfileName,
    plan: &BudgetPlan,
    clusters: &[&ListedCluster],
    month: &str,
    now: Timestamp,
) -> Result<Vec<Alert>, String>
where
    B: BudgetLedger + Sync,
    R: PriceSource + Sync,
{
    // Read, merge, write if unchanged (an override may land in between).
    let mut priced: Option<(f64, String)> = None;
    for _ in 0..5 {
        let read = ledger
            .read_month(profile, month)
            .await
            .map_err(|e| message_with_causes(&e))?;
        let (version, mut spend) = match &read {
            Some((v, body)) => (
                Some(v.as_str()),
                MonthSpend::parse(body).unwrap_or_else(|| MonthSpend::new(profile, month, now)),
            ),
            None => (None, MonthSpend::new(profile, month, now)),
        };
        for c in clusters {
            let Some(created) = c.created_at else {
                continue;
            };
            let (hourly, prices) = match spend.clusters.get(&c.id) {
                Some(known) => (known.hourly_usd, known.prices.clone()),
                None => {
                    if priced.is_none() {
                        priced = Some(price(pricing, &plan.fleets, now).await?);
                    }
                    priced.clone().expect("priced above")
                }
            };
            let entry = budget::cluster_spend(hourly, created, now, &prices);
            // Never shorten what an earlier sweep counted.
            if spend
                .clusters
                .get(&c.id)
                .is_none_or(|old| old.to <= entry.to)
            {
                spend.clusters.insert(c.id.clone(), entry);
            }
        }
        let spent = spend.spent();
        let due = budget::new_alerts(
            &plan.budget.alert_percent,
            &spend.alerts_sent,
            spent,
            plan.budget.monthly_usd,
        );
        spend.alerts_sent.extend(&due);
        spend.updated_at = now;
        // Announced once: the threshold is written down before the message
        // goes out (a lost message is logged, never a second one sent).
        match ledger
            .write_month(profile, month, version, &spend.to_json())
            .await
            .map_err(|e| message_with_causes(&e))?
        {
            Some(_) => {
                info!(%profile, month, spent_usd = spent, budget_usd = plan.budget.monthly_usd, "budget estimate updated");
                return Ok(due
                    .into_iter()
                    .map(|percent| Alert {
                        profile: profile.to_string(),
                        percent,
                        spent_usd: spent,
                        budget_usd: plan.budget.monthly_usd,
                    })
                    .collect());
            }
            None => continue,
        }
    }
    Err("another writer kept changing the month's object".into())
}

/// The hourly price of the fleets and where it came from.
async fn price<R: PriceSource + Sync>(
    pricing: Option<&Pricing<R>>,
    fleets: &[FleetUse],
    now: Timestamp,
) -> Result<(f64, String), String> {
    let Some(pricing) = pricing else {
        return Err("no region to price the clusters in".into());
    };
    let wanted: BTreeSet<(String, String)> = fleets
        .iter()
        .flat_map(|f| f.instance_types.iter())
        .map(|t| (pricing.region.clone(), t.clone()))
        .collect();
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let lookup = look_up(
        Some(&pricing.source),
        &mut PriceCache::default(),
        &PriceTable::shipped(),
        &wanted,
        today,
    )
    .await;
    let (cost, used) = hourly_cost(fleets, &lookup.book, &pricing.region);
    let usd = cost
        .usd()
        .ok_or_else(|| format!("no price for {cost} in {}", pricing.region))?;
    let sources: BTreeSet<String> = used.into_iter().map(|u| u.source).collect();
    Ok((usd, sources.into_iter().collect::<Vec<_>>().join("; ")))
}

async fn tell<N: Notifier + Sync>(notifier: Option<&N>, alert: &Alert, month: &str) {
    let Some(notifier) = notifier else {
        return;
    };
    let subject = format!(
        "sparkhub: profile {} has used {} % of its budget for {month}",
        alert.profile, alert.percent
    );
    let message = format!(
        "Profile {} has an estimated ${:.2} of its ${} budget for {month} (UTC) spent: the {} % threshold.\n\
         The estimate is on-demand list prices x the profile's fleets x the hours its clusters ran this month.\n\
         Once the budget is spent, create-cluster starts no new cluster of the profile; a manual run may override it with \"override_budget\": true.\n",
        alert.profile, alert.spent_usd, alert.budget_usd, alert.percent
    );
    if let Err(e) = notifier.notify(&subject, &message, &[]).await {
        warn!(profile = %alert.profile, percent = alert.percent, error = %message_with_causes(&e), "budget alert not sent");
    }
}
