//! Profiles' monthly spending in the sparkhub bucket
//! (`budgets/<profile>/<yyyy-mm>.json`, conditional writes) and the history
//! record of a budget overridden.

use sparkhub_core::ProfileName;
use sparkhub_core::budget::month_key;
use sparkhub_core::history::BudgetOverrideRecord;
use sparkhub_core::ports::{AwsError, BudgetLedger};

use crate::{S3Bucket, aws_error, conditional_put};

impl BudgetLedger for S3Bucket {
    /// One GetObject; a month without an object is `None`.
    async fn read_month(
        &self,
        profile: &ProfileName,
        month: &str,
    ) -> Result<Option<(String, String)>, AwsError> {
        let key = month_key(profile, month);
        let object = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
        {
            Ok(object) => object,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(aws_error("S3 GetObject", e)),
        };
        let version = object.e_tag().unwrap_or_default().to_owned();
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| AwsError::new("S3 GetObject (reading the body)", true, None, e))?
            .into_bytes();
        Ok(Some((
            version,
            String::from_utf8_lossy(&bytes).into_owned(),
        )))
    }

    /// One conditional PutObject (`If-None-Match: *` to create, `If-Match`
    /// to replace).
    async fn write_month(
        &self,
        profile: &ProfileName,
        month: &str,
        version: Option<&str>,
        body: &str,
    ) -> Result<Option<String>, AwsError> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(month_key(profile, month))
            .content_type("application/json")
            .body(body.as_bytes().to_vec().into());
        let request = match version {
            None => request.if_none_match("*"),
            Some(v) => request.if_match(v),
        };
        conditional_put(request.send().await)
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
