//! Cluster startups: the history record and the profile's startups object
//! in the sparkhub bucket, the metric in CloudWatch.

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use sparkhub_core::ProfileName;
use sparkhub_core::history::StartupRecord;
use sparkhub_core::ports::{AwsError, LeaseStore, StartupHistory, StartupLog};
use sparkhub_core::startup::{STARTUP_METRIC, STARTUP_NAMESPACE, startups_key};

use crate::{CloudWatch, S3Bucket, aws_error, conditional_put};

/// `startups/<profile>.json` and `history/…-startup-….json` in the bucket,
/// the metric [`STARTUP_METRIC`] in CloudWatch.
#[derive(Debug, Clone)]
pub struct StartupStore {
    bucket: S3Bucket,
    cloudwatch: CloudWatch,
}

impl StartupStore {
    pub fn new(bucket: S3Bucket, cloudwatch: CloudWatch) -> Self {
        Self { bucket, cloudwatch }
    }
}

impl StartupHistory for StartupStore {
    /// One GetObject (a missing object is no history yet).
    async fn read_startups(
        &self,
        profile: &ProfileName,
    ) -> Result<Option<(String, String)>, AwsError> {
        self.bucket.read_startups(profile).await
    }
}

impl StartupHistory for S3Bucket {
    /// create-cluster reads through the bucket alone (it publishes nothing):
    /// one GetObject, as a lease is read (its ETag is the version).
    async fn read_startups(
        &self,
        profile: &ProfileName,
    ) -> Result<Option<(String, String)>, AwsError> {
        LeaseStore::read(self, &startups_key(profile)).await
    }
}

impl StartupLog for StartupStore {
    /// One PutObject with `If-None-Match: *`: a record already there is the
    /// same startup (the key names the cluster and its ready time).
    async fn record_startup(&self, record: &StartupRecord) -> Result<bool, AwsError> {
        let result = self
            .bucket
            .client
            .put_object()
            .bucket(&self.bucket.bucket)
            .key(record.key())
            .if_none_match("*")
            .content_type("application/json")
            .body(record.to_json().into_bytes().into())
            .send()
            .await;
        Ok(conditional_put(result)?.is_some())
    }

    /// One conditional PutObject (`If-None-Match: *` to create, `If-Match`
    /// to replace).
    async fn write_startups(
        &self,
        profile: &ProfileName,
        version: Option<&str>,
        body: &str,
    ) -> Result<Option<String>, AwsError> {
        let key = startups_key(profile);
        match version {
            None => LeaseStore::create(&self.bucket, &key, body).await,
            Some(v) => LeaseStore::replace(&self.bucket, &key, v, body).await,
        }
    }

    /// One PutMetricData in [`STARTUP_NAMESPACE`].
    async fn publish_startup(
        &self,
        profile: &ProfileName,
        seconds: i64,
        at: jiff::Timestamp,
    ) -> Result<(), AwsError> {
        let datum = MetricDatum::builder()
            .metric_name(STARTUP_METRIC)
            .dimensions(
                Dimension::builder()
                    .name("Profile")
                    .value(profile.as_str())
                    .build(),
            )
            .value(seconds as f64)
            .unit(StandardUnit::Seconds)
            .timestamp(aws_smithy_types::DateTime::from_secs(at.as_second()))
            .build();
        self.cloudwatch
            .client
            .put_metric_data()
            .namespace(STARTUP_NAMESPACE)
            .metric_data(datum)
            .send()
            .await
            .map_err(|e| aws_error("CloudWatch PutMetricData", e))?;
        Ok(())
    }
}
