//! Where the report's prices come from, and which one each figure used.
//!
//! In this order, for each instance type the report's clusters used:
//! 1. a price from the local cache fetched from AWS's Price List less than
//!    [`CACHE_DAYS`] days ago ([`PriceOrigin::Cached`], no call);
//! 2. AWS's Price List, through the [`PriceSource`] port
//!    ([`PriceOrigin::PriceList`], then cached);
//! 3. an older cached Price List price, when the Price List cannot be asked
//!    or has no answer ([`PriceOrigin::Cached`] with its date);
//! 4. the table shipped with sparkhub, `prices.toml`
//!    ([`PriceOrigin::Offline`]), written down by hand, the offline fallback.
//!
//! A type none of them knows has no price: its cost is unknown, never zero.
//! After the first failed call (no network, no permission) the Price List is
//! not asked again in the same report: one timeout, not one per type.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::errors::message_with_causes;
use crate::ports::{ListPrice, PriceSource};

/// The price table in `prices.toml`: the offline fallback.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct PriceTable {
    /// When the prices were taken (a date).
    pub taken: String,
    pub ec2_source: String,
    pub emr_source: String,
    #[serde(rename = "price")]
    pub prices: Vec<Price>,
}

/// On-demand USD per instance-hour of one type in one region.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Price {
    pub region: String,
    pub instance_type: String,
    pub ec2: f64,
    pub emr: f64,
}

impl PriceTable {
    /// The table shipped with sparkhub.
    pub fn shipped() -> Self {
        toml::from_str(include_str!("prices.toml")).expect("prices.toml parses")
    }

    /// EC2 + EMR per hour of one instance, if the table knows it.
    pub fn hourly(&self, region: &str, instance_type: &str) -> Option<f64> {
        self.quote(region, instance_type).map(|q| q.hourly())
    }
}

/// Where one price came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum PriceOrigin {
    /// Asked of AWS's Price List for this report.
    PriceList { fetched: Date },
    /// From the local cache of earlier Price List answers.
    Cached { fetched: Date },
    /// sparkhub's own table (`prices.toml`), written down by hand.
    Offline { taken: String },
}

impl fmt::Display for PriceOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PriceOrigin::PriceList { fetched } => {
                write!(f, "AWS Price List API, fetched {fetched}")
            }
            PriceOrigin::Cached { fetched } => {
                write!(f, "cached AWS Price List answer, fetched {fetched}")
            }
            PriceOrigin::Offline { taken } => write!(
                f,
                "offline table shipped with sparkhub, written down {taken}, not checked against AWS"
            ),
        }
    }
}

/// A price and its origin.
#[derive(Debug, Clone, PartialEq)]
pub struct Quote {
    pub ec2: f64,
    pub emr: f64,
    pub origin: PriceOrigin,
}

impl Quote {
    /// EC2 + EMR per instance-hour.
    pub fn hourly(&self) -> f64 {
        self.ec2 + self.emr
    }
}

/// Prices by region and instance type, each with its origin.
pub trait Prices {
    fn quote(&self, region: &str, instance_type: &str) -> Option<Quote>;
}

impl Prices for PriceTable {
    fn quote(&self, region: &str, instance_type: &str) -> Option<Quote> {
        self.prices
            .iter()
            .find(|p| p.region == region && p.instance_type == instance_type)
            .map(|p| Quote {
                ec2: p.ec2,
                emr: p.emr,
                origin: PriceOrigin::Offline {
                    taken: self.taken.clone(),
                },
            })
    }
}

/// The prices one report uses, looked up once ([`look_up`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceBook {
    quotes: BTreeMap<(String, String), Quote>,
}

impl PriceBook {
    pub fn insert(&mut self, region: &str, instance_type: &str, quote: Quote) {
        self.quotes
            .insert((region.to_owned(), instance_type.to_owned()), quote);
    }
}

impl Prices for PriceBook {
    fn quote(&self, region: &str, instance_type: &str) -> Option<Quote> {
        self.quotes
            .get(&(region.to_owned(), instance_type.to_owned()))
            .cloned()
    }
}

/// A Price List answer is taken from the cache for this many days without
/// asking again. AWS changes on-demand prices rarely (and mostly down); a
/// week keeps a daily report to one round of calls a week, and a price
/// older than that is still used, with its date, when the Price List
/// cannot be asked.
pub const CACHE_DAYS: i32 = 7;

/// One cached Price List answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedPrice {
    pub region: String,
    pub instance_type: String,
    pub ec2: f64,
    pub emr: f64,
    pub fetched: Date,
}

/// The local cache of Price List answers (a JSON file on the operator's
/// machine; the CLI reads and writes it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PriceCache {
    pub prices: Vec<CachedPrice>,
}

impl PriceCache {
    /// The cache in `text`; a damaged or foreign file is an empty cache
    /// (its prices are asked again, and the file rewritten).
    pub fn parse(text: &str) -> Self {
        serde_json::from_str(text).unwrap_or_default()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a price cache serializes")
    }

    fn get(&self, region: &str, instance_type: &str) -> Option<&CachedPrice> {
        self.prices
            .iter()
            .find(|p| p.region == region && p.instance_type == instance_type)
    }

    /// Remembers a Price List answer, replacing an older one.
    pub fn put(&mut self, region: &str, instance_type: &str, price: ListPrice, fetched: Date) {
        self.prices
            .retain(|p| !(p.region == region && p.instance_type == instance_type));
        self.prices.push(CachedPrice {
            region: region.to_owned(),
            instance_type: instance_type.to_owned(),
            ec2: price.ec2,
            emr: price.emr,
            fetched,
        });
        self.prices
            .sort_by(|a, b| (&a.region, &a.instance_type).cmp(&(&b.region, &b.instance_type)));
    }
}

/// Whether a price fetched on `fetched` is still taken without asking on
/// `today` (a date ahead of today, from a wrong clock, is not).
pub fn fresh(fetched: Date, today: Date) -> bool {
    fetched <= today && today <= fetched.saturating_add(jiff::Span::new().days(CACHE_DAYS - 1))
}

/// What looking the prices up did.
#[derive(Debug, Default)]
pub struct Lookup {
    pub book: PriceBook,
    /// The cache gained or renewed an answer: write it back.
    pub cache_changed: bool,
    /// Why the Price List was not (fully) used, for the report's notes.
    pub trouble: Option<String>,
}

/// Looks up every (region, instance type) of `wanted` in the order the
/// module describes. `source` is `None` when the Price List is not to be
/// asked (`--offline-prices`). `cache` gains the Price List's answers.
pub async fn look_up<S: PriceSource>(
    source: Option<&S>,
    cache: &mut PriceCache,
    offline: &PriceTable,
    wanted: &BTreeSet<(String, String)>,
    today: Date,
) -> Lookup {
    let mut out = Lookup::default();
    let mut source = source;
    for (region, instance_type) in wanted {
        let cached = cache.get(region, instance_type).cloned();
        let cached_quote = cached.as_ref().map(|c| Quote {
            ec2: c.ec2,
            emr: c.emr,
            origin: PriceOrigin::Cached { fetched: c.fetched },
        });
        if let (Some(c), Some(quote)) = (&cached, &cached_quote)
            && fresh(c.fetched, today)
        {
            out.book.insert(region, instance_type, quote.clone());
            continue;
        }
        let asked = match source {
            Some(s) => match s.list_price(region, instance_type).await {
                Ok(answer) => answer,
                Err(e) => {
                    out.trouble = Some(format!(
                        "the AWS Price List could not be asked ({}); prices come from the cache or sparkhub's offline table",
                        message_with_causes(&e)
                    ));
                    source = None;
                    None
                }
            },
            None => None,
        };
        let quote = match asked {
            Some(price) => {
                cache.put(region, instance_type, price, today);
                out.cache_changed = true;
                Some(Quote {
                    ec2: price.ec2,
                    emr: price.emr,
                    origin: PriceOrigin::PriceList { fetched: today },
                })
            }
            None => cached_quote.or_else(|| offline.quote(region, instance_type)),
        };
        if let Some(quote) = quote {
            out.book.insert(region, instance_type, quote);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::AwsError;
    use std::sync::Mutex;

    /// A Price List that knows m5.xlarge in eu-central-1, or fails every call.
    #[derive(Default)]
    struct FakePriceList {
        calls: Mutex<Vec<String>>,
        fail: bool,
    }

    impl PriceSource for FakePriceList {
        async fn list_price(
            &self,
            region: &str,
            instance_type: &str,
        ) -> Result<Option<ListPrice>, AwsError> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("{instance_type} in {region}"));
            if self.fail {
                return Err(AwsError::new(
                    "Pricing GetProducts",
                    true,
                    None,
                    "dispatch failure: connection refused",
                ));
            }
            Ok((region, instance_type)
                .eq(&("eu-central-1", "m5.xlarge"))
                .then_some(ListPrice {
                    ec2: 0.23,
                    emr: 0.048,
                }))
        }
    }

    fn day(text: &str) -> Date {
        text.parse().unwrap()
    }

    fn wanted(types: &[&str]) -> BTreeSet<(String, String)> {
        types
            .iter()
            .map(|t| ("eu-central-1".to_owned(), (*t).to_owned()))
            .collect()
    }

    #[tokio::test]
    async fn a_price_list_answer_is_used_labelled_with_its_date_and_cached() {
        let source = FakePriceList::default();
        let mut cache = PriceCache::default();
        let out = look_up(
            Some(&source),
            &mut cache,
            &PriceTable::shipped(),
            &wanted(&["m5.xlarge"]),
            day("2026-12-06"),
        )
        .await;
        let quote = out.book.quote("eu-central-1", "m5.xlarge").unwrap();
        assert_eq!((quote.ec2, quote.emr), (0.23, 0.048));
        assert_eq!(
            quote.origin.to_string(),
            "AWS Price List API, fetched 2026-12-06"
        );
        assert!(out.cache_changed && out.trouble.is_none());
        assert_eq!(cache.prices.len(), 1);
        assert_eq!(cache.prices[0].fetched, day("2026-12-06"));
        // The cache survives its file.
        assert_eq!(PriceCache::parse(&cache.to_json()), cache);
    }

    #[tokio::test]
    async fn a_fresh_cached_price_is_used_without_a_call() {
        let source = FakePriceList::default();
        let mut cache = PriceCache::default();
        cache.put(
            "eu-central-1",
            "m5.xlarge",
            ListPrice { ec2: 0.5, emr: 0.1 },
            day("2026-12-01"),
        );
        let out = look_up(
            Some(&source),
            &mut cache,
            &PriceTable::shipped(),
            &wanted(&["m5.xlarge"]),
            day("2026-12-06"),
        )
        .await;
        assert!(source.calls.lock().unwrap().is_empty(), "no call");
        let quote = out.book.quote("eu-central-1", "m5.xlarge").unwrap();
        assert_eq!(quote.hourly(), 0.6);
        assert_eq!(
            quote.origin.to_string(),
            "cached AWS Price List answer, fetched 2026-12-01"
        );
        assert!(!out.cache_changed);

        // A week later it is asked again, and renewed.
        let out = look_up(
            Some(&source),
            &mut cache,
            &PriceTable::shipped(),
            &wanted(&["m5.xlarge"]),
            day("2026-12-08"),
        )
        .await;
        assert_eq!(source.calls.lock().unwrap().len(), 1);
        assert_eq!(
            out.book.quote("eu-central-1", "m5.xlarge").unwrap().origin,
            PriceOrigin::PriceList {
                fetched: day("2026-12-08")
            }
        );
        assert_eq!(cache.prices[0].ec2, 0.23);
    }

    #[tokio::test]
    async fn a_type_the_price_list_lacks_falls_back_to_the_offline_table_labelled() {
        let source = FakePriceList::default();
        let mut cache = PriceCache::default();
        let out = look_up(
            Some(&source),
            &mut cache,
            &PriceTable::shipped(),
            &wanted(&["m5a.xlarge", "x9.nothing"]),
            day("2026-12-06"),
        )
        .await;
        let quote = out.book.quote("eu-central-1", "m5a.xlarge").unwrap();
        assert!(
            matches!(quote.origin, PriceOrigin::Offline { .. }),
            "{quote:?}"
        );
        assert!(
            quote
                .origin
                .to_string()
                .starts_with("offline table shipped with sparkhub"),
            "{}",
            quote.origin
        );
        // Neither the Price List nor the table: no price, no cache entry.
        assert_eq!(out.book.quote("eu-central-1", "x9.nothing"), None);
        assert!(cache.prices.is_empty());
    }

    #[tokio::test]
    async fn an_unreachable_price_list_is_asked_once_then_stale_cache_and_table_serve() {
        let source = FakePriceList {
            fail: true,
            ..FakePriceList::default()
        };
        let mut cache = PriceCache::default();
        cache.put(
            "eu-central-1",
            "m5.xlarge",
            ListPrice {
                ec2: 0.22,
                emr: 0.048,
            },
            day("2026-10-01"),
        );
        let out = look_up(
            Some(&source),
            &mut cache,
            &PriceTable::shipped(),
            &wanted(&["m5.xlarge", "m5a.xlarge"]),
            day("2026-12-06"),
        )
        .await;
        assert_eq!(source.calls.lock().unwrap().len(), 1, "asked once");
        assert_eq!(
            out.book.quote("eu-central-1", "m5.xlarge").unwrap().origin,
            PriceOrigin::Cached {
                fetched: day("2026-10-01")
            }
        );
        assert!(matches!(
            out.book.quote("eu-central-1", "m5a.xlarge").unwrap().origin,
            PriceOrigin::Offline { .. }
        ));
        let trouble = out.trouble.unwrap();
        assert!(trouble.contains("connection refused"), "{trouble}");
        assert!(!out.cache_changed);
    }

    #[tokio::test]
    async fn offline_prices_ask_nothing() {
        let mut cache = PriceCache::default();
        let out = look_up::<FakePriceList>(
            None,
            &mut cache,
            &PriceTable::shipped(),
            &wanted(&["m5.xlarge"]),
            day("2026-12-06"),
        )
        .await;
        assert!(matches!(
            out.book.quote("eu-central-1", "m5.xlarge").unwrap().origin,
            PriceOrigin::Offline { .. }
        ));
    }

    #[test]
    fn a_damaged_cache_is_empty_and_a_date_ahead_is_not_fresh() {
        assert_eq!(PriceCache::parse("{not json"), PriceCache::default());
        assert!(fresh(day("2026-12-01"), day("2026-12-07")));
        assert!(!fresh(day("2026-12-01"), day("2026-12-08")));
        assert!(!fresh(day("2026-12-09"), day("2026-12-08")));
    }
}
