//! In-memory fakes of the ports, for the use cases' tests here and in other
//! crates (feature `test-util`). One of each: a test that needs a failure
//! switches it on with the fake's fields. They never sleep and need no
//! async runtime; the lease store yields once per call so that concurrent
//! invocations interleave as they would against S3.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::task::Poll;

use crate::ports::{
    AwsError, CheckScheduler, HistoryStore, LeaseStore, Notifier, ProfileStore, ScriptStore,
    StartupHistory, StartupLog, StoredProfile,
};
use crate::ports::{BudgetLedger, ListPrice, PriceSource};
use crate::profile::MAX_PROFILE_BYTES;

/// The bucket the fakes pretend to be.
pub const BUCKET: &str = "sparkhub-test";

/// Lets other tasks run once (what an await on the network does).
async fn yield_now() {
    let mut yielded = false;
    futures::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

fn injected(operation: &'static str, retryable: bool) -> AwsError {
    AwsError::new(operation, retryable, Some("SlowDown".into()), "injected")
}

/// Profiles by name, as `s3://sparkhub-test/profiles/<name>.toml`.
#[derive(Default)]
pub struct Profiles {
    pub texts: Mutex<BTreeMap<String, String>>,
    /// ListObjectsV2 fails (retryable).
    pub fail_listing: bool,
    /// GetObject fails (retryable) for these names, which exist.
    pub fail_reading: Vec<String>,
    /// Every GetObject fails; `Some(retryable)`.
    pub fail_every_read: Option<bool>,
}

impl Profiles {
    pub fn with(texts: &[(&str, &str)]) -> Self {
        Self {
            texts: Mutex::new(
                texts
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Self::default()
        }
    }

    /// Stores (or replaces) one profile.
    pub fn insert(&self, name: &str, text: &str) {
        self.texts.lock().unwrap().insert(name.into(), text.into());
    }
}

impl ProfileStore for Profiles {
    /// Like the S3 adapter: a text over the limit is only its size.
    async fn read_profile(&self, name: &str) -> Result<Option<StoredProfile>, AwsError> {
        if let Some(retryable) = self.fail_every_read {
            return Err(injected("S3 GetObject", retryable));
        }
        if self.fail_reading.iter().any(|n| n == name) {
            return Err(injected("S3 GetObject", true));
        }
        Ok(self.texts.lock().unwrap().get(name).map(|text| {
            if text.len() > MAX_PROFILE_BYTES {
                StoredProfile::TooLarge {
                    size: text.len() as u64,
                }
            } else {
                StoredProfile::Text(text.clone())
            }
        }))
    }
    async fn list_profiles(&self) -> Result<Vec<String>, AwsError> {
        if self.fail_listing {
            return Err(injected("S3 ListObjectsV2", true));
        }
        Ok(self.texts.lock().unwrap().keys().cloned().collect())
    }
    fn location(&self, name: &str) -> String {
        format!("s3://{BUCKET}/profiles/{name}.toml")
    }
}

/// Uploaded scripts by key.
#[derive(Default)]
pub struct Scripts(pub Mutex<BTreeMap<String, String>>);

impl ScriptStore for Scripts {
    async fn put_if_absent(&self, key: &str, body: &str) -> Result<bool, AwsError> {
        let mut stored = self.0.lock().unwrap();
        if stored.contains_key(key) {
            return Ok(false);
        }
        stored.insert(key.into(), body.into());
        Ok(true)
    }
}

/// A compare-and-swap store per key (S3 conditional writes); versions
/// count from 1.
#[derive(Default)]
pub struct Leases(pub Mutex<BTreeMap<String, (u32, String)>>);

impl LeaseStore for Leases {
    async fn read(&self, key: &str) -> Result<Option<(String, String)>, AwsError> {
        yield_now().await;
        Ok(self
            .0
            .lock()
            .unwrap()
            .get(key)
            .map(|(v, b)| (v.to_string(), b.clone())))
    }
    async fn create(&self, key: &str, body: &str) -> Result<Option<String>, AwsError> {
        yield_now().await;
        let mut all = self.0.lock().unwrap();
        if all.contains_key(key) {
            return Ok(None);
        }
        all.insert(key.into(), (1, body.into()));
        Ok(Some("1".into()))
    }
    async fn replace(
        &self,
        key: &str,
        version: &str,
        body: &str,
    ) -> Result<Option<String>, AwsError> {
        yield_now().await;
        let mut all = self.0.lock().unwrap();
        match all.get_mut(key) {
            Some((v, b)) if v.to_string() == version => {
                *v += 1;
                *b = body.into();
                Ok(Some(v.to_string()))
            }
            _ => Ok(None),
        }
    }
}

/// One message sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub subject: String,
    pub message: String,
    /// Who it is for besides the operator (`<profile>/<user>`).
    pub recipients: Vec<String>,
}

/// Messages sent, in order.
#[derive(Default)]
pub struct Outbox(pub Mutex<Vec<Sent>>);

impl Outbox {
    pub fn sent(&self) -> Vec<Sent> {
        self.0.lock().unwrap().clone()
    }
}

impl Notifier for Outbox {
    async fn notify(
        &self,
        subject: &str,
        message: &str,
        recipients: &[String],
    ) -> Result<(), AwsError> {
        self.0.lock().unwrap().push(Sent {
            subject: subject.into(),
            message: message.into(),
            recipients: recipients.to_vec(),
        });
        Ok(())
    }
}

/// One-time checks, as scheduled: cluster, instant, target (a second
/// request for the same cluster and instant is the same check).
#[derive(Default)]
pub struct Checks {
    pub scheduled: Mutex<Vec<(String, jiff::Timestamp, String)>>,
    /// Every CreateSchedule fails (retryable).
    pub fail: bool,
}

impl Checks {
    pub fn scheduled(&self) -> Vec<(String, jiff::Timestamp, String)> {
        self.scheduled.lock().unwrap().clone()
    }
}

impl CheckScheduler for Checks {
    async fn schedule_check(
        &self,
        cluster_id: &str,
        at: jiff::Timestamp,
        target_arn: &str,
    ) -> Result<(), AwsError> {
        if self.fail {
            return Err(AwsError::new(
                "Scheduler CreateSchedule",
                true,
                None,
                "injected",
            ));
        }
        let check = (cluster_id.to_owned(), at, target_arn.to_owned());
        let mut scheduled = self.scheduled.lock().unwrap();
        if !scheduled.contains(&check) {
            scheduled.push(check);
        }
        Ok(())
    }
}

/// The history's records, as written (`history/…`).
#[derive(Default)]
pub struct History {
    pub records: Mutex<Vec<crate::history::Record>>,
    /// Every PutObject fails (retryable).
    pub fail: bool,
}

impl History {
    pub fn written(&self) -> Vec<crate::history::Record> {
        self.records.lock().unwrap().clone()
    }
}

impl HistoryStore for History {
    async fn record(&self, record: &crate::history::Record) -> Result<(), AwsError> {
        if self.fail {
            return Err(injected("S3 PutObject", true));
        }
        self.records.lock().unwrap().push(record.clone());
        Ok(())
    }
}

/// The startups: history records, the per-profile objects (a
/// [`Leases`] store under `startups/<profile>.json`) and the metric's
/// datapoints.
#[derive(Default)]
pub struct Startups {
    pub objects: Leases,
    pub records: Mutex<Vec<crate::history::StartupRecord>>,
    pub metric: Mutex<Vec<(String, i64, jiff::Timestamp)>>,
    /// Every write fails (retryable).
    pub fail: bool,
}

impl Startups {
    /// A profile's startups as stored.
    pub fn of(&self, profile: &str) -> crate::startup::Startups {
        let key = format!("{}{profile}.json", crate::startup::STARTUPS_PREFIX);
        self.objects
            .0
            .lock()
            .unwrap()
            .get(&key)
            .and_then(|(_, body)| crate::startup::Startups::parse(body))
            .unwrap_or_default()
    }

    /// Stores `samples` as the profile's startups.
    pub fn seed(&self, profile: &str, samples: Vec<crate::startup::StartupSample>) {
        let key = format!("{}{profile}.json", crate::startup::STARTUPS_PREFIX);
        let body = crate::startup::Startups {
            version: crate::startup::STARTUPS_VERSION,
            samples,
        }
        .to_json();
        self.objects.0.lock().unwrap().insert(key, (1, body));
    }
}

impl StartupHistory for Startups {
    async fn read_startups(
        &self,
        profile: &crate::ProfileName,
    ) -> Result<Option<(String, String)>, AwsError> {
        self.objects
            .read(&crate::startup::startups_key(profile))
            .await
    }
}

impl StartupLog for Startups {
    async fn record_startup(
        &self,
        record: &crate::history::StartupRecord,
    ) -> Result<bool, AwsError> {
        if self.fail {
            return Err(injected("S3 PutObject", true));
        }
        let mut records = self.records.lock().unwrap();
        if records.iter().any(|r| r.key() == record.key()) {
            return Ok(false);
        }
        records.push(record.clone());
        Ok(true)
    }

    async fn write_startups(
        &self,
        profile: &crate::ProfileName,
        version: Option<&str>,
        body: &str,
    ) -> Result<Option<String>, AwsError> {
        if self.fail {
            return Err(injected("S3 PutObject", true));
        }
        let key = crate::startup::startups_key(profile);
        match version {
            None => self.objects.create(&key, body).await,
            Some(v) => self.objects.replace(&key, v, body).await,
        }
    }

    async fn publish_startup(
        &self,
        profile: &crate::ProfileName,
        seconds: i64,
        at: jiff::Timestamp,
    ) -> Result<(), AwsError> {
        if self.fail {
            return Err(injected("CloudWatch PutMetricData", true));
        }
        self.metric
            .lock()
            .unwrap()
            .push((profile.to_string(), seconds, at));
        Ok(())
    }
}

/// The budgets' month objects (a [`Leases`] store) and the override records.
#[derive(Default)]
pub struct Budgets {
    pub objects: Leases,
    pub overrides: Mutex<Vec<crate::history::BudgetOverrideRecord>>,
}

impl Budgets {
    /// A profile's month as stored.
    pub fn month(&self, profile: &str, month: &str) -> Option<crate::budget::MonthSpend> {
        let key = format!("{}{profile}/{month}.json", crate::budget::BUDGETS_PREFIX);
        self.objects
            .0
            .lock()
            .unwrap()
            .get(&key)
            .and_then(|(_, body)| crate::budget::MonthSpend::parse(body))
    }

    /// Stores `spend` as its profile's month.
    pub fn seed(&self, spend: &crate::budget::MonthSpend) {
        let key = format!(
            "{}{}/{}.json",
            crate::budget::BUDGETS_PREFIX,
            spend.profile,
            spend.month
        );
        self.objects
            .0
            .lock()
            .unwrap()
            .insert(key, (1, spend.to_json()));
    }
}

impl BudgetLedger for Budgets {
    async fn read_month(
        &self,
        profile: &crate::ProfileName,
        month: &str,
    ) -> Result<Option<(String, String)>, AwsError> {
        self.objects
            .read(&crate::budget::month_key(profile, month))
            .await
    }
    async fn write_month(
        &self,
        profile: &crate::ProfileName,
        month: &str,
        version: Option<&str>,
        body: &str,
    ) -> Result<Option<String>, AwsError> {
        let key = crate::budget::month_key(profile, month);
        match version {
            None => self.objects.create(&key, body).await,
            Some(v) => self.objects.replace(&key, v, body).await,
        }
    }
    async fn record_override(
        &self,
        record: &crate::history::BudgetOverrideRecord,
    ) -> Result<(), AwsError> {
        self.overrides.lock().unwrap().push(record.clone());
        Ok(())
    }
}

/// List prices by instance type (any region); a type not listed has none.
#[derive(Default)]
pub struct PriceList(pub BTreeMap<String, ListPrice>);

impl PriceSource for PriceList {
    async fn list_price(
        &self,
        _region: &str,
        instance_type: &str,
    ) -> Result<Option<ListPrice>, AwsError> {
        Ok(self.0.get(instance_type).copied())
    }
}
