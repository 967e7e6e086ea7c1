//! `sparkhub report`: reads what EMR and the history know about the
//! clusters of a period (with the operator's credentials) and hands it to the
//! pure computation in `sparkhub_core::report`.
//!
//! AWS calls, read-only: EMR ListClusters (every state, `CreatedAfter`; EMR
//! lists clusters of the last two months), DescribeCluster (tags) and
//! ListInstanceFleets (instance types and counts) of each sparkhub cluster,
//! S3 GetObject of each profile, ListObjectsV2 + GetObject of `history/`;
//! and Pricing GetProducts (AWS's Price List, us-east-1 endpoint) for the
//! prices of the instance types not in the local cache.
//!
//! The price cache is a file on the operator's machine
//! (`$XDG_CACHE_HOME/sparkhub/prices.json`, else `~/.cache/sparkhub/`), not
//! an object in the sparkhub bucket: list prices are public and the same
//! for every account, the report stays a read-only command (no
//! `s3:PutObject` for people who only read reports), and it works for an
//! operator who may read the bucket but not write it.

use std::collections::BTreeMap;

use aws_sdk_emr::primitives::DateTime;
use futures::{StreamExt, stream};
use jiff::{SignedDuration, Timestamp};
use sparkhub_aws::operator::AwsChoice;
use sparkhub_aws::pricing::PriceList;
use sparkhub_aws::{Emr, S3Bucket, aws_error, to_jiff};
use sparkhub_core::emr::ClusterState;
use sparkhub_core::history::{HISTORY_PREFIX, Record, StartupRecord};
use sparkhub_core::ports::{BudgetLedger, ClusterSteps, ProfileStore, StoredProfile};
use sparkhub_core::profile::ProfileKind;
use sparkhub_core::report::prices::{PriceCache, look_up};
use sparkhub_core::report::{
    self, BudgetFacts, ClusterFacts, FleetUse, Inputs, PriceTable, ProfileFacts,
};
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

/// Every cluster created since `since`, in any state, as ListClusters gives it.
async fn list_clusters(
    aws: &Aws,
    emr: &aws_sdk_emr::Client,
    since: Timestamp,
) -> Result<Vec<ClusterFacts>, Failure> {
    let mut pages = emr
        .list_clusters()
        .created_after(DateTime::from_secs(since.as_second()))
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page
            .map_err(|e| aws.failure("listing the clusters", &aws_error("EMR ListClusters", e)))?;
        for c in page.clusters() {
            let Some(id) = c.id() else { continue };
            let status = c.status();
            let timeline = status.and_then(|s| s.timeline());
            let reason = status.and_then(|s| s.state_change_reason());
            out.push(ClusterFacts {
                id: id.to_owned(),
                name: c.name().unwrap_or_default().to_owned(),
                profile: None,
                state: ClusterState::parse(
                    status
                        .and_then(|s| s.state())
                        .map(|s| s.as_str())
                        .unwrap_or_default(),
                ),
                created_at: timeline
                    .and_then(|t| t.creation_date_time())
                    .and_then(to_jiff),
                ready_at: timeline.and_then(|t| t.ready_date_time()).and_then(to_jiff),
                ended_at: timeline.and_then(|t| t.end_date_time()).and_then(to_jiff),
                normalized_instance_hours: c.normalized_instance_hours().map(i64::from),
                reason_code: reason.and_then(|r| r.code()).map(|c| c.as_str().to_owned()),
                reason_message: reason.and_then(|r| r.message()).map(str::to_owned),
                fleets: Vec::new(),
            });
        }
    }
    Ok(out)
}

/// The cluster's `sparkhub:profile` if it carries `sparkhub:managed = true`
/// (DescribeCluster, through the adapter every function uses), and its
/// fleets (ListInstanceFleets; none for a cluster of instance groups or when
/// EMR gives none).
async fn describe(
    aws: &Aws,
    emr: &aws_sdk_emr::Client,
    id: &str,
) -> Result<(Option<String>, Vec<FleetUse>), Failure> {
    let cluster = Emr::new(emr.clone())
        .cluster(id)
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
    // A cluster of instance groups answers ListInstanceFleets with an error:
    // its fleets come from its profile then.
    let fleets = match emr.list_instance_fleets().cluster_id(id).send().await {
        Ok(out) => out
            .instance_fleets()
            .iter()
            .map(|f| FleetUse {
                instance_types: f
                    .instance_type_specifications()
                    .iter()
                    .filter_map(|s| s.instance_type().map(str::to_owned))
                    .collect(),
                on_demand: f.target_on_demand_capacity().unwrap_or(0).max(0) as u32,
                spot: f.target_spot_capacity().unwrap_or(0).max(0) as u32,
            })
            .filter(|f| !f.instance_types.is_empty())
            .collect(),
        Err(_) => Vec::new(),
    };
    Ok((profile, fleets))
}

fn facts(profile: &Profile) -> ProfileFacts {
    ProfileFacts {
        max_lifetime_hours: profile.idle.max_lifetime_hours,
        pipeline: profile.kind == ProfileKind::Pipeline,
        fleets: sparkhub_core::report::profile_fleets(profile),
    }
}

/// The history records of the period: one listing of `history/` from the
/// first day on, then each object; the sweep's records and the startups.
async fn history(
    aws: &Aws,
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    since: Timestamp,
) -> Result<(Vec<Record>, Vec<StartupRecord>), Failure> {
    let first_day = since.to_zoned(jiff::tz::TimeZone::UTC).date();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(HISTORY_PREFIX)
        .start_after(format!("{HISTORY_PREFIX}{first_day}/"))
        .into_paginator()
        .send();
    let mut keys = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            aws.failure(
                &format!("listing s3://{bucket}/{HISTORY_PREFIX}"),
                &aws_error("S3 ListObjectsV2", e),
            )
        })?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    let bodies: Vec<Result<String, Failure>> = stream::iter(keys)
        .map(|key| async move {
            let out = s3
                .get_object()
                .bucket(bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| {
                    aws.failure(
                        &format!("reading s3://{bucket}/{key}"),
                        &aws_error("S3 GetObject", e),
                    )
                })?;
            let bytes = out
                .body
                .collect()
                .await
                .map_err(|e| Failure::usage(format!("reading s3://{bucket}/{key}: {e}")))?;
            Ok(String::from_utf8_lossy(&bytes.into_bytes()).into_owned())
        })
        .buffered(IN_FLIGHT)
        .collect()
        .await;
    let mut records = Vec::new();
    let mut startups = Vec::new();
    for body in bodies {
        // A record of a newer format, or not a record: skipped.
        let body = body?;
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
    let emr = aws_sdk_emr::Client::new(config);
    let s3 = aws_sdk_s3::Client::new(config);
    let listed = list_clusters(aws, &emr, since).await?;
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
    let store = S3Bucket::new(s3.clone(), bucket);
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
    let (history, startups) = history(aws, &s3, bucket, since).await?;
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
    bucket: &str,
    since_text: &str,
    output: &Output,
) -> Result<(), Failure> {
    let bucket = &crate::commands::bucket_name("report", Some(bucket))?;
    let now = Timestamp::now();
    let since = since(since_text, now).map_err(Failure::usage)?;
    let aws = Aws::load(choice).await?;
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
