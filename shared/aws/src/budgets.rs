//! Profiles' monthly spending in the sparkhub bucket
//! (`budgets/<profile>/<yyyy-mm>.json`, conditional writes) and the history
//! record of a budget overridden.

use sparkhub_core::ProfileName;
use sparkhub_core::budget::month_key;
use sparkhub_core::history::BudgetOverrideRecord;
use sparkhub_core::ports::{AwsError, BudgetLedger, LeaseStore};

use crate::{S3Bucket, conditional_put};

impl BudgetLedger for S3Bucket {
    /// One GetObject, as a lease is read; a month without an object is
    /// `None`.
    async fn read_month(
        &self,
        profile: &ProfileName,
        month: &str,
    ) -> Result<Option<(String, String)>, AwsError> {
        LeaseStore::read(self, &month_key(profile, month)).await
    }

    /// One conditional PutObject, as a lease is written (`If-None-Match: *`
    /// to create, `If-Match` to replace).
    async fn write_month(
        &self,
        profile: &ProfileName,
        month: &str,
        version: Option<&str>,
        body: &str,
    ) -> Result<Option<String>, AwsError> {
        let key = month_key(profile, month);
        match version {
            None => LeaseStore::create(self, &key, body).await,
            Some(v) => LeaseStore::replace(self, &key, v, body).await,
        }
    }

    /// One PutObject under `history/…` (`If-None-Match: *`).
    async fn record_override(&self, record: &BudgetOverrideRecord) -> Result<(), AwsError> {
        let result = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(record.key())
            .if_none_match("*")
            .content_type("application/json")
            .body(record.to_json().into_bytes().into())
            .send()
            .await;
        conditional_put(result).map(|_| ())
    }
}
