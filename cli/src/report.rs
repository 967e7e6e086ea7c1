//! `sparkhub report`: reads what EMR and the history know about the
//! clusters of a period (with the operator's credentials) and hands it to the
//! pure computation in `sparkhub_core::report`.
//!
//! AWS calls, read-only: EMR ListClusters (every state, `CreatedAfter`; EMR
//! lists clusters of the last two months), DescribeCluster (tags) and
//! ListInstanceFleets (instance types and counts) of each sparkhub cluster,
//! S3 GetObject of each profile, ListObjectsV2 + GetObject of `history/`;
//! and Pricing GetProducts (AWS's Price List, us-east-1 endpoint) for the
//! prices of the instance types not in the local cache. Every call goes
//! through a port (`ClusterArchive`, `ClusterSteps`, `ProfileStore`,
//! `HistoryReader`, `PriceSource`), so the IAM inventory's table of the
//! operator's permissions lists them.
//!
//! The price cache is a file on the operator's machine
//! (`$XDG_CACHE_HOME/sparkhub/prices.json`, else `~/.cache/sparkhub/`), not
//! an object in the sparkhub bucket: list prices are public and the same
//! for every account, the report stays a read-only command (no
//! `s3:PutObject` for people who only read reports), and it works for an
//! operator who may read the bucket but not write it.

use std::collections::BTreeMap;

use futures::{StreamExt, stream};
use jiff::{SignedDuration, Timestamp};
use sparkhub_aws::operator::AwsChoice;
use sparkhub_aws::pricing::PriceList;
use sparkhub_aws::{Emr, S3Bucket};
use sparkhub_core::history::{HISTORY_PREFIX, Record, StartupRecord};
use sparkhub_core::ports::{
    BudgetLedger, ClusterArchive, ClusterSteps, HistoryReader, ProfileStore, StoredProfile,
};
use sparkhub_core::profile::ProfileKind;
use sparkhub_core::report::prices::{PriceCache, look_up};
use sparkhub_core::report::{self, BudgetFacts, FleetUse, Inputs, PriceTable, ProfileFacts};
use sparkhub_core::{Profile, ProfileName};

use crate::failure::{Aws, Failure};

/// How far back EMR lists terminated clusters: about two months, as EMR's
/// console says. The ListClusters reference
/// (https://docs.aws.amazon.com/emr/latest/APIReference/API_ListClusters.html)
/// states no period; not checked against a real account. A longer `--since`
/// is refused rather than reported short.
const EMR_LISTS_DAYS: i64 = 60;

/// Calls in flight at once (EMR's API burst, as the functions use).
const IN_FLIGHT: usize = sparkhub_core::settings::DEFAULT_MAX_CONCURRENCY;

/// `--since 30d` (or 12h, 2w, 1d 6h): the start of the period.
pub fn since(text: &str, now: Timestamp) -> Result<Timestamp, String> {
    let duration = text
        .trim()
        .parse::<jiff::Span>()
        .and_then(|span| span.to_duration(jiff::SpanRelativeTo::days_are_24_hours()))
        .map_err(|_| format!("--since {text:?} is not a duration; write it like 30d, 12h or 2w"))?;
    if duration <= SignedDuration::ZERO {
        return Err(format!("--since {text:?} is not a positive duration"));
    }
    if duration > SignedDuration::from_hours(24 * EMR_LISTS_DAYS) {
        return Err(format!(
            "--since {text:?} reaches further back than EMR lists clusters ({EMR_LISTS_DAYS} days)"
        ));
    }
    Ok(now - duration)
}

/// The cluster's `sparkhub:profile` if it carries `sparkhub:managed = true`
/// (DescribeCluster, through the adapter every function uses), and its
/// fleets (ListInstanceFleets; none for a cluster of instance groups or when
/// EMR gives none).
async fn describe(
    aws: &Aws,
    emr: &Emr,
    id: &str,
) -> Result<(Option<String>, Vec<FleetUse>), Failure> {
    let cluster = ClusterSteps::cluster(emr, id)
        .await
        .map_err(|e| aws.failure(&format!("describing {id}"), &e))?;
    // Listed a moment ago, gone now: not sparkhub's business any more.
    let Some(cluster) = cluster else {
        return Ok((None, Vec::new()));
    };
    if !cluster.is_managed() {
        return Ok((None, Vec::new()));
    }
    let profile = cluster.profile().map(str::to_owned);
    let fleets = emr
        .fleets(id)
        .await
        .map_err(|e| aws.failure(&format!("listing the fleets of {id}"), &e))?;
    Ok((profile, fleets))
}

fn facts(profile: &Profile) -> ProfileFacts {
    ProfileFacts {
        max_lifetime_hours: profile.idle.max_lifetime_hours,
        pipeline: profile.kind == ProfileKind::Pipeline,
        fleets: sparkhub_core::report::profile_fleets(profile),
    }
}

/// The history records of the period: the sweep's records (and `sparkhub
/// stop`'s) and the startups.
async fn history(
    aws: &Aws,
    store: &S3Bucket,
    bucket: &str,
    since: Timestamp,
) -> Result<(Vec<Record>, Vec<StartupRecord>), Failure> {
    let bodies = store
        .history_since(since)
        .await
        .map_err(|e| aws.failure(&format!("reading s3://{bucket}/{HISTORY_PREFIX}"), &e))?;
    let mut records = Vec::new();
    let mut startups = Vec::new();
    for body in bodies {
        // A record of a newer format, or not a record: skipped.
        if let Some(record) = Record::parse(&body) {
            records.push(record);
        } else if let Some(startup) = StartupRecord::parse(&body) {
            startups.push(startup);
        }
    }
    Ok((records, startups))
}

/// Reads everything the report needs.
pub async fn inputs(
    aws: &Aws,
    bucket: &str,
    since: Timestamp,
    now: Timestamp,
) -> Result<Inputs, Failure> {
    let config = aws.sdk();
    let region = config.region().map(|r| r.to_string()).unwrap_or_default();
    let emr = Emr::new(aws_sdk_emr::Client::new(config));
    let store = S3Bucket::new(aws_sdk_s3::Client::new(config), bucket);
    let listed = emr
        .clusters_since(since)
        .await
        .map_err(|e| aws.failure("listing the clusters", &e))?;
    let described: Vec<_> = stream::iter(listed)
        .map(|c| {
            let emr = &emr;
            async move {
                let found = describe(aws, emr, &c.id).await;
                (c, found)
            }
        })
        .buffered(IN_FLIGHT)
        .collect()
        .await;
    let mut clusters = Vec::new();
    for (mut c, found) in described {
        let (profile, fleets) = found?;
        // Only sparkhub's clusters: the others are not its business.
        let Some(profile) = profile else { continue };
        c.profile = Some(profile);
        c.fleets = fleets;
        clusters.push(c);
    }
    let mut profiles = BTreeMap::new();
    let mut budgets = Vec::new();
    let month = sparkhub_core::budget::month_of(now);
    let names: std::collections::BTreeSet<String> =
        clusters.iter().filter_map(|c| c.profile.clone()).collect();
    for name in names {
        if ProfileName::parse(&name).is_err() {
            continue;
        }
        let text = store
            .read_profile(&name)
            .await
            .map_err(|e| aws.failure(&format!("reading profile {name}"), &e))?;
        // A profile deleted or broken since: its clusters are still reported,
        // with their costs from EMR's fleets and no hours saved.
        if let Some(StoredProfile::Text(text)) = text
            && let Ok(profile) = Profile::parse(&text)
        {
            if let Some(budget) = &profile.budget {
                let spend = BudgetLedger::read_month(&store, &profile.name, &month)
                    .await
                    .map_err(|e| aws.failure(&format!("reading the budget of {name}"), &e))?
                    .and_then(|(_, body)| sparkhub_core::budget::MonthSpend::parse(&body));
                budgets.push(BudgetFacts {
                    profile: name.clone(),
                    monthly_usd: budget.monthly_usd,
                    spend,
                });
            }
            profiles.insert(name, facts(&profile));
        }
    }
    let (history, startups) = history(aws, &store, bucket, since).await?;
    Ok(Inputs {
        since,
        now,
        region,
        clusters,
        history,
        startups,
        budgets,
        profiles,
    })
}

/// What `sparkhub report` prints or writes.
pub struct Output {
    pub json: bool,
    pub html: Option<std::path::PathBuf>,
    /// Ask AWS's Price List nothing: cached prices and the shipped table.
    pub offline_prices: bool,
}

/// Where the price cache lives: `$XDG_CACHE_HOME/sparkhub/prices.json`, else
/// `$HOME/.cache/sparkhub/prices.json`; none without either.
pub fn price_cache_path() -> Option<std::path::PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
    };
    var("XDG_CACHE_HOME")
        .or_else(|| var("HOME").map(|home| home.join(".cache")))
        .map(|dir| dir.join("sparkhub").join("prices.json"))
}

/// Writes the cache next to its place and renames it there: a report
/// interrupted mid-write leaves the old file, never half a new one. A cache
/// that cannot be written costs the next report its calls, nothing else.
fn write_cache(path: &std::path::Path, cache: &PriceCache) {
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| {
            let part = path.with_extension("json.part");
            std::fs::write(&part, cache.to_json())?;
            std::fs::rename(&part, path)
        });
    if let Err(e) = written {
        eprintln!(
            "sparkhub: the price cache {} cannot be written ({e}); the next report asks AWS's Price List again",
            path.display()
        );
    }
}

pub async fn run(
    choice: &AwsChoice,
    stack: &crate::stack::StackArgs,
    since_text: &str,
    output: &Output,
) -> Result<(), Failure> {
    stack.bucket_given("report")?;
    let now = Timestamp::now();
    let since = since(since_text, now).map_err(Failure::usage)?;
    let aws = Aws::load(choice).await?;
    let bucket = &stack.bucket(&aws, "report").await?;
    let inputs = inputs(&aws, bucket, since, now).await?;
    let cache_path = price_cache_path();
    let mut cache = cache_path
        .as_deref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|text| PriceCache::parse(&text))
        .unwrap_or_default();
    let source = (!output.offline_prices).then(|| PriceList::from_config(aws.sdk()));
    let prices = look_up(
        source.as_ref(),
        &mut cache,
        &PriceTable::shipped(),
        &report::wanted_prices(&inputs),
        now.to_zoned(jiff::tz::TimeZone::UTC).date(),
    )
    .await;
    if prices.cache_changed
        && let Some(path) = &cache_path
    {
        write_cache(path, &cache);
    }
    let mut report = report::compute(&inputs, &prices.book);
    report.price_note = prices.trouble;
    if let Some(path) = &output.html {
        std::fs::write(path, report::html::render(&report))
            .map_err(|e| Failure::usage(format!("{}: cannot be written: {e}", path.display())))?;
        eprintln!("wrote {}", path.display());
    }
    if output.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("a report serializes")
        );
    } else {
        print!("{}", report::text(&report));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_days_hours_and_weeks_and_refuses_what_emr_does_not_list() {
        let now: Timestamp = "2026-11-28T12:00:00Z".parse().unwrap();
        assert_eq!(
            since("30d", now).unwrap(),
            "2026-10-29T12:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(
            since("12h", now).unwrap(),
            "2026-11-28T00:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert!(since("2w", now).is_ok());
        assert!(since("90d", now).unwrap_err().contains("60 days"));
        assert!(since("soon", now).unwrap_err().contains("30d"));
        assert!(since("0d", now).is_err());
    }
}
