//! S3: profiles, scripts, leases and history records in the sparkhub bucket.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use sparkhub_core::history::Record;
use sparkhub_core::ports::{
    AwsError, HistoryReader, HistoryStore, LeaseStore, ProfilePublisher, ProfileStore, ScriptStore,
    StoredProfile,
};
use sparkhub_core::profile::MAX_PROFILE_BYTES;

use crate::aws_error;

const PROFILE_PREFIX: &str = "profiles/";

/// Profiles and scripts in the sparkhub bucket.
#[derive(Debug, Clone)]
pub struct S3Bucket {
    pub(crate) client: aws_sdk_s3::Client,
    pub(crate) bucket: String,
}

impl S3Bucket {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    pub fn profile_key(name: &str) -> String {
        format!("{PROFILE_PREFIX}{name}.toml")
    }
}

impl ProfileStore for S3Bucket {
    /// One ranged GET of the first [`MAX_PROFILE_BYTES`] + 1 bytes: a larger
    /// object is known by its `Content-Range` (or `Content-Length`, should
    /// the range be ignored) and refused before its body is read, and the
    /// body is read chunk by chunk only up to that limit, whatever the
    /// headers say.
    async fn read_profile(&self, name: &str) -> Result<Option<StoredProfile>, AwsError> {
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(Self::profile_key(name))
            .range(format!("bytes=0-{MAX_PROFILE_BYTES}"))
            .send()
            .await;
        let object = match result {
            Ok(object) => object,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            // An empty object has no byte 0: S3 answers a range on it with
            // 416 InvalidRange.
            Err(e)
                if e.code() == Some("InvalidRange")
                    || e.raw_response().is_some_and(|r| r.status().as_u16() == 416) =>
            {
                return Ok(Some(StoredProfile::Text(String::new())));
            }
            Err(e) => return Err(aws_error("S3 GetObject", e)),
        };
        let declared = object
            .content_range()
            .and_then(|range| range.rsplit_once('/'))
            .and_then(|(_, total)| total.parse::<u64>().ok())
            .or_else(|| object.content_length().and_then(|n| u64::try_from(n).ok()));
        if let Some(size) = declared.filter(|&size| size > MAX_PROFILE_BYTES as u64) {
            return Ok(Some(StoredProfile::TooLarge { size }));
        }
        let mut body = object.body;
        let mut bytes = Vec::new();
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| AwsError::new("S3 GetObject (reading the body)", true, None, e))?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_PROFILE_BYTES {
                return Ok(Some(StoredProfile::TooLarge {
                    size: bytes.len() as u64,
                }));
            }
        }
        String::from_utf8(bytes)
            .map(|text| Some(StoredProfile::Text(text)))
            .map_err(|e| AwsError::new("S3 GetObject", false, Some("ProfileNotUtf8".into()), e))
    }

    async fn list_profiles(&self) -> Result<Vec<String>, AwsError> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(PROFILE_PREFIX)
            .into_paginator()
            .send();
        let mut names = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("S3 ListObjectsV2", e))?;
            names.extend(page.contents().iter().filter_map(|o| {
                let name = o
                    .key()?
                    .strip_prefix(PROFILE_PREFIX)?
                    .strip_suffix(".toml")?;
                (!name.contains('/')).then(|| name.to_owned())
            }));
        }
        Ok(names)
    }

    fn location(&self, name: &str) -> String {
        format!("s3://{}/{}", self.bucket, Self::profile_key(name))
    }
}

impl ScriptStore for S3Bucket {
    /// One conditional PUT (`If-None-Match: *`): 412 means the script is
    /// there already (keys are content-addressed, so it is the same script).
    /// No HEAD first: a HEAD of a missing key answers 404 only to a caller
    /// whose `s3:ListBucket` covers it, otherwise 403, and the first run of
    /// every new script would fail on that.
    async fn put_if_absent(&self, key: &str, body: &str) -> Result<bool, AwsError> {
        let result = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .if_none_match("*")
            .content_type("text/x-shellscript")
            .body(body.as_bytes().to_vec().into())
            .send()
            .await;
        Ok(conditional_put(result)?.is_some())
    }
}

impl HistoryStore for S3Bucket {
    /// One PutObject under `history/…`, written once (`If-None-Match: *`; a
    /// record already under the key is the same termination or warning).
    async fn record(&self, record: &Record) -> Result<(), AwsError> {
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

/// A conditional write that lost: 412 Precondition Failed (the key exists, or
/// no longer has the version named), 409 ConditionalRequestConflict (a
/// concurrent conditional write), 404 (the object named by version is gone).
fn lost_race<E>(err: &SdkError<E, HttpResponse>) -> bool {
    matches!(err, SdkError::ServiceError(ctx) if matches!(ctx.raw().status().as_u16(), 404 | 409 | 412))
}

/// The answer to a conditional PutObject: the new version (ETag), or `None`
/// when the condition lost ([`lost_race`]).
pub(crate) fn conditional_put(
    result: Result<
        aws_sdk_s3::operation::put_object::PutObjectOutput,
        SdkError<aws_sdk_s3::operation::put_object::PutObjectError, HttpResponse>,
    >,
) -> Result<Option<String>, AwsError> {
    match result {
        Ok(out) => Ok(Some(out.e_tag().unwrap_or_default().to_owned())),
        Err(e) if lost_race(&e) => Ok(None),
        Err(e) => Err(aws_error("S3 PutObject", e)),
    }
}

impl LeaseStore for S3Bucket {
    async fn read(&self, key: &str) -> Result<Option<(String, String)>, AwsError> {
        let object = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
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

    async fn create(&self, key: &str, body: &str) -> Result<Option<String>, AwsError> {
        let result = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .if_none_match("*")
            .content_type("application/json")
            .body(body.as_bytes().to_vec().into())
            .send()
            .await;
        conditional_put(result)
    }

    async fn replace(
        &self,
        key: &str,
        version: &str,
        body: &str,
    ) -> Result<Option<String>, AwsError> {
        let result = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .if_match(version)
            .content_type("application/json")
            .body(body.as_bytes().to_vec().into())
            .send()
            .await;
        conditional_put(result)
    }
}

impl ProfilePublisher for S3Bucket {
    /// One PutObject of `profiles/<name>.toml` (replacing what is there: the
    /// operator's file is the profile).
    async fn put_profile(
        &self,
        name: &sparkhub_core::ProfileName,
        text: &str,
    ) -> Result<(), AwsError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(Self::profile_key(name.as_str()))
            .content_type("application/toml")
            .body(text.as_bytes().to_vec().into())
            .send()
            .await
            .map_err(|e| aws_error("S3 PutObject", e))?;
        Ok(())
    }
}

/// History objects read at once (the report's reads).
const HISTORY_IN_FLIGHT: usize = sparkhub_core::settings::DEFAULT_MAX_CONCURRENCY;

impl HistoryReader for S3Bucket {
    /// One listing of `history/` from the first day on (keys start with
    /// the day), then each object, a bounded number at once.
    async fn history_since(&self, since: jiff::Timestamp) -> Result<Vec<String>, AwsError> {
        use futures::{StreamExt, stream};
        use sparkhub_core::history::HISTORY_PREFIX;
        let first_day = since.to_zoned(jiff::tz::TimeZone::UTC).date();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(HISTORY_PREFIX)
            .start_after(format!("{HISTORY_PREFIX}{first_day}/"))
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("S3 ListObjectsV2", e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        stream::iter(keys)
            .map(|key| async move {
                let out = self
                    .client
                    .get_object()
                    .bucket(&self.bucket)
                    .key(&key)
                    .send()
                    .await
                    .map_err(|e| aws_error("S3 GetObject", e))?;
                let bytes =
                    out.body.collect().await.map_err(|e| {
                        AwsError::new("S3 GetObject (reading the body)", true, None, e)
                    })?;
                Ok(String::from_utf8_lossy(&bytes.into_bytes()).into_owned())
            })
            .buffered(HISTORY_IN_FLIGHT)
            .collect::<Vec<Result<String, AwsError>>>()
            .await
            .into_iter()
            .collect()
    }
}
