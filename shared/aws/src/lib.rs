//! The ports of `sparkhub_core::ports`, implemented with the AWS SDK. Thin on
//! purpose: one SDK call (or one paginated listing) per method, errors kept as
//! the source of an [`AwsError`] and classified retryable or not. Retries of
//! throttling and transient errors happen inside the SDK (standard retry mode);
//! the classification tells the caller what is left after those.

pub mod budgets;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod operator;
pub mod pricing;
pub mod scheduler;
pub mod startups;
mod wiring;

pub use wiring::{
    AwsCreateCluster, AwsSetupUsers, AwsTerminator, create_cluster, setup_users, terminator,
};

use std::collections::BTreeMap;
use std::error::Error;

use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use futures::{StreamExt, stream};

use sparkhub_core::emr::{ClusterState, StepState};
use sparkhub_core::history::Record;
use sparkhub_core::ports::{
    AwsError, Cluster, ClusterDirectory, ClusterFleet, ClusterInstances, ClusterMetrics,
    ClusterSteps, ClusterTagger, ClusterUntagger, HistoryStore, LeaseStore, ListedCluster,
    MetricsQuery, MetricsSource, Notifier, ProfileStore, ScriptStore, SecretStore, Started,
    StepActivity, StepSummary, StoredProfile, Workflow,
};
use sparkhub_core::profile::{ActionOnFailure, MAX_PROFILE_BYTES};
use sparkhub_core::recipients::RECIPIENTS_ATTRIBUTE;
use sparkhub_core::render::StepConfig;
use sparkhub_core::settings::DEFAULT_MAX_CONCURRENCY;

/// Classifies an SDK error: timeouts, connection failures, 5xx, 429 and the
/// SDK's own throttling and transient codes are retryable; the rest is not.
/// A dispatch failure that is neither IO nor a timeout (no credentials, a
/// missing region: the request was never sent) is not retryable either.
pub fn aws_error<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
{
    let code = err.code().map(str::to_owned);
    let retryable = match &err {
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::DispatchFailure(failure) => failure.is_io() || failure.is_timeout(),
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            status >= 500
                || status == 429
                || code.as_deref().is_some_and(|c| {
                    THROTTLING_ERRORS.contains(&c) || TRANSIENT_ERRORS.contains(&c)
                })
        }
        _ => false,
    };
    AwsError::new(operation, retryable, code, err)
}

const PROFILE_PREFIX: &str = "profiles/";

/// Profiles and scripts in the sparkhub bucket.
#[derive(Debug, Clone)]
pub struct S3Bucket {
    client: aws_sdk_s3::Client,
    bucket: String,
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
fn conditional_put(
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

/// The cluster state machine.
#[derive(Debug, Clone)]
pub struct StepFunctions {
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
}

impl StepFunctions {
    pub fn new(client: aws_sdk_sfn::Client, state_machine_arn: impl Into<String>) -> Self {
        Self {
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }

    /// `arn:…:stateMachine:<machine>` → `arn:…:execution:<machine>:<name>`.
    pub fn execution_arn(&self, name: &str) -> String {
        format!(
            "{}:{name}",
            self.state_machine_arn
                .replacen(":stateMachine:", ":execution:", 1)
        )
    }
}

impl Workflow for StepFunctions {
    async fn find_execution(&self, name: &str) -> Result<Option<String>, AwsError> {
        let arn = self.execution_arn(name);
        match self
            .client
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await
        {
            Ok(found) => Ok(Some(found.execution_arn)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_execution_does_not_exist()) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws_error("Step Functions DescribeExecution", e)),
        }
    }

    async fn start_execution(&self, name: &str, input: &str) -> Result<Started, AwsError> {
        let result = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Started::New(out.execution_arn)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_execution_already_exists()) =>
            {
                Ok(Started::AlreadyExisted(self.execution_arn(name)))
            }
            Err(e) => Err(aws_error("Step Functions StartExecution", e)),
        }
    }

    async fn running_executions(&self) -> Result<Vec<String>, AwsError> {
        let mut pages = self
            .client
            .list_executions()
            .state_machine_arn(&self.state_machine_arn)
            .status_filter(aws_sdk_sfn::types::ExecutionStatus::Running)
            .into_paginator()
            .send();
        let mut names = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("Step Functions ListExecutions", e))?;
            names.extend(page.executions().iter().map(|e| e.name().to_owned()));
        }
        Ok(names)
    }
}

/// EMR clusters.
#[derive(Debug, Clone)]
pub struct Emr {
    client: aws_sdk_emr::Client,
    max_in_flight: usize,
}

impl Emr {
    /// At most [`DEFAULT_MAX_CONCURRENCY`] DescribeCluster calls in flight
    /// when many clusters are described.
    pub fn new(client: aws_sdk_emr::Client) -> Self {
        Self {
            client,
            max_in_flight: DEFAULT_MAX_CONCURRENCY,
        }
    }

    /// At most `calls` (at least one) DescribeCluster calls in flight.
    pub fn with_max_in_flight(mut self, calls: usize) -> Self {
        self.max_in_flight = calls.max(1);
        self
    }
}

impl ClusterDirectory for Emr {
    /// One AddTags of the claim's two tags.
    async fn claim(
        &self,
        cluster_id: &str,
        execution: &str,
        at: jiff::Timestamp,
    ) -> Result<(), AwsError> {
        use sparkhub_core::create::pool::{TAG_CLAIMED_AT, TAG_CLAIMED_BY};
        let tag = |k: &str, v: String| aws_sdk_emr::types::Tag::builder().key(k).value(v).build();
        self.client
            .add_tags()
            .resource_id(cluster_id)
            .tags(tag(TAG_CLAIMED_BY, execution.to_owned()))
            .tags(tag(TAG_CLAIMED_AT, at.to_string()))
            .send()
            .await
            .map_err(|e| aws_error("EMR AddTags", e))?;
        Ok(())
    }

    async fn active_clusters(&self, name: &str) -> Result<Vec<Cluster>, AwsError> {
        // ListClusters carries names but no tags; DescribeCluster has the
        // tags, so only the clusters with the name are described (the tags
        // still decide: a name is not ownership). A bounded number of them
        // at once, answers in listing order; the first failure ends it.
        let named: Vec<String> = self
            .list_active()
            .await?
            .into_iter()
            .filter(|c| c.name == name)
            .map(|c| c.id)
            .collect();
        let mut described = stream::iter(named)
            .map(|id| async move { self.details(&id).await })
            .buffered(self.max_in_flight);
        let mut clusters = Vec::new();
        while let Some(details) = described.next().await {
            if let Some(details) = details? {
                clusters.push(details);
            }
        }
        Ok(clusters)
    }
}

/// The port's shape of what DescribeCluster returned for `id`.
fn described(id: &str, cluster: &aws_sdk_emr::types::Cluster) -> Cluster {
    let timeline = cluster.status().and_then(|s| s.timeline());
    Cluster {
        id: id.to_owned(),
        name: cluster.name().unwrap_or_default().to_owned(),
        state: ClusterState::parse(
            cluster
                .status()
                .and_then(|s| s.state())
                .map(|s| s.as_str())
                .unwrap_or_default(),
        ),
        tags: cluster
            .tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                ))
            })
            .collect::<BTreeMap<_, _>>(),
        termination_protected: cluster.termination_protected().unwrap_or(false),
        applications: cluster
            .applications()
            .iter()
            .filter_map(|a| a.name().map(str::to_owned))
            .collect(),
        master_dns: cluster.master_public_dns_name().map(str::to_owned),
        key_name: cluster
            .ec2_instance_attributes()
            .and_then(|a| a.ec2_key_name())
            .map(str::to_owned),
        created_at: timeline
            .and_then(|t| t.creation_date_time())
            .and_then(to_jiff),
        ready_at: timeline.and_then(|t| t.ready_date_time()).and_then(to_jiff),
    }
}

impl ClusterSteps for Emr {
    async fn cluster(&self, cluster_id: &str) -> Result<Option<Cluster>, AwsError> {
        self.details(cluster_id).await
    }

    async fn steps(&self, cluster_id: &str) -> Result<Vec<StepSummary>, AwsError> {
        let mut pages = self
            .client
            .list_steps()
            .cluster_id(cluster_id)
            .into_paginator()
            .send();
        let mut steps = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("EMR ListSteps", e))?;
            steps.extend(page.steps().iter().map(|s| {
                let status = s.status();
                let details = status.and_then(|st| st.failure_details());
                let failure_reason = details
                    .and_then(|d| match (d.reason(), d.message()) {
                        (Some(r), Some(m)) => Some(format!("{r}: {m}")),
                        (r, m) => r.or(m).map(str::to_owned),
                    })
                    .or_else(|| {
                        status
                            .and_then(|st| st.state_change_reason())
                            .and_then(|r| r.message())
                            .map(str::to_owned)
                    })
                    .filter(|r| !r.is_empty());
                StepSummary {
                    id: s.id().unwrap_or_default().to_owned(),
                    name: s.name().unwrap_or_default().to_owned(),
                    state: StepState::parse(
                        status
                            .and_then(|st| st.state())
                            .map(|st| st.as_str())
                            .unwrap_or_default(),
                    ),
                    failure_reason,
                    log_file: details.and_then(|d| d.log_file()).map(str::to_owned),
                }
            }));
        }
        Ok(steps)
    }

    async fn add_step(&self, cluster_id: &str, step: &StepConfig) -> Result<String, AwsError> {
        use aws_sdk_emr::types::{
            ActionOnFailure as SdkAction, HadoopJarStepConfig, StepConfig as Sdk,
        };
        let action = match step.action_on_failure {
            ActionOnFailure::Continue => SdkAction::Continue,
            ActionOnFailure::CancelAndWait => SdkAction::CancelAndWait,
            ActionOnFailure::TerminateCluster => SdkAction::TerminateCluster,
        };
        let sdk = Sdk::builder()
            .name(&step.name)
            .action_on_failure(action)
            .hadoop_jar_step(
                HadoopJarStepConfig::builder()
                    .jar(&step.hadoop_jar_step.jar)
                    .set_args(Some(step.hadoop_jar_step.args.clone()))
                    .build(),
            )
            .build();
        let out = self
            .client
            .add_job_flow_steps()
            .job_flow_id(cluster_id)
            .steps(sdk)
            .send()
            .await
            .map_err(|e| aws_error("EMR AddJobFlowSteps", e))?;
        Ok(out.step_ids().first().cloned().unwrap_or_default())
    }
}

/// Secrets Manager secrets holding a JSON object of strings.
#[derive(Debug, Clone)]
pub struct SecretsManager {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManager {
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }
}

fn to_json(value: &BTreeMap<String, String>) -> String {
    serde_json::to_string(value).expect("a map of strings serializes")
}

impl SecretStore for SecretsManager {
    async fn read(&self, name: &str) -> Result<Option<BTreeMap<String, String>>, AwsError> {
        let out = match self.client.get_secret_value().secret_id(name).send().await {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(aws_error("Secrets Manager GetSecretValue", e)),
        };
        let text = out.secret_string().unwrap_or("{}");
        // The parse error names a position and a kind, never the content.
        sparkhub_core::users::parse_passwords(text)
            .map(Some)
            .map_err(|e| {
                AwsError::new(
                    "Secrets Manager GetSecretValue",
                    false,
                    Some("SecretIsNotAJsonObjectOfStrings".into()),
                    e,
                )
            })
    }

    async fn create(
        &self,
        name: &str,
        description: &str,
        value: &BTreeMap<String, String>,
    ) -> Result<bool, AwsError> {
        match self
            .client
            .create_secret()
            .name(name)
            .description(description)
            .secret_string(to_json(value))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_exists_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(aws_error("Secrets Manager CreateSecret", e)),
        }
    }

    async fn update(&self, name: &str, value: &BTreeMap<String, String>) -> Result<(), AwsError> {
        self.client
            .put_secret_value()
            .secret_id(name)
            .secret_string(to_json(value))
            .send()
            .await
            .map_err(|e| aws_error("Secrets Manager PutSecretValue", e))?;
        Ok(())
    }
}

/// An SDK timestamp as jiff's (`None` when out of jiff's range).
pub fn to_jiff(t: &aws_smithy_types::DateTime) -> Option<jiff::Timestamp> {
    jiff::Timestamp::new(t.secs(), t.subsec_nanos() as i32).ok()
}

fn to_smithy(t: jiff::Timestamp) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs(t.as_second())
}

impl ClusterFleet for Emr {
    async fn list_active(&self) -> Result<Vec<ListedCluster>, AwsError> {
        use aws_sdk_emr::types::ClusterState as Sdk;
        let mut pages = self
            .client
            .list_clusters()
            .set_cluster_states(Some(vec![
                Sdk::Starting,
                Sdk::Bootstrapping,
                Sdk::Running,
                Sdk::Waiting,
            ]))
            .into_paginator()
            .send();
        let mut clusters = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("EMR ListClusters", e))?;
            clusters.extend(page.clusters().iter().filter_map(|c| {
                let status = c.status();
                let timeline = status.and_then(|s| s.timeline());
                Some(ListedCluster {
                    id: c.id()?.to_owned(),
                    name: c.name().unwrap_or_default().to_owned(),
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
                })
            }));
        }
        Ok(clusters)
    }

    async fn details(&self, cluster_id: &str) -> Result<Option<Cluster>, AwsError> {
        match self
            .client
            .describe_cluster()
            .cluster_id(cluster_id)
            .send()
            .await
        {
            Ok(out) => Ok(out.cluster().map(|c| described(cluster_id, c))),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_invalid_request_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws_error("EMR DescribeCluster", e)),
        }
    }

    async fn steps(&self, cluster_id: &str) -> Result<StepActivity, AwsError> {
        use aws_sdk_emr::types::StepState as Sdk;
        // Every pending or running step, all pages: with a step concurrency
        // above one, a running step may sit below many newer ones that ended.
        let mut pages = self
            .client
            .list_steps()
            .cluster_id(cluster_id)
            .set_step_states(Some(vec![Sdk::Pending, Sdk::Running]))
            .into_paginator()
            .send();
        let mut activity = StepActivity::default();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("EMR ListSteps", e))?;
            activity.busy += page.steps().len();
        }
        if activity.busy > 0 {
            return Ok(activity);
        }
        // Nothing running: when the last one ended, from the newest steps
        // (EMR's ListSteps answers newest first, 50 a page).
        let page = self
            .client
            .list_steps()
            .cluster_id(cluster_id)
            .send()
            .await
            .map_err(|e| aws_error("EMR ListSteps", e))?;
        // sparkhub's own users step is nobody's work.
        activity.last_ended = page
            .steps()
            .iter()
            .filter(|step| {
                !step
                    .name()
                    .is_some_and(|n| n.starts_with(sparkhub_core::users::USERS_STEP_PREFIX))
            })
            .filter_map(|step| step.status()?.timeline()?.end_date_time())
            .filter_map(to_jiff)
            .max();
        Ok(activity)
    }

    async fn terminate(&self, cluster_ids: &[String]) -> Result<(), AwsError> {
        self.client
            .terminate_job_flows()
            .set_job_flow_ids(Some(cluster_ids.to_vec()))
            .send()
            .await
            .map_err(|e| aws_error("EMR TerminateJobFlows", e))?;
        Ok(())
    }
}

/// CloudWatch metrics.
#[derive(Debug, Clone)]
pub struct CloudWatch {
    client: aws_sdk_cloudwatch::Client,
}

impl CloudWatch {
    pub fn new(client: aws_sdk_cloudwatch::Client) -> Self {
        Self { client }
    }
}

/// GetMetricData takes at most 500 queries; two per cluster.
pub const CLUSTERS_PER_METRICS_CALL: usize = 250;

impl MetricsSource for CloudWatch {
    async fn idle_metrics(
        &self,
        clusters: &[MetricsQuery],
        start: jiff::Timestamp,
        end: jiff::Timestamp,
    ) -> Result<BTreeMap<String, ClusterMetrics>, AwsError> {
        use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
        let query = |id: String,
                     namespace: &str,
                     name: &str,
                     (stat, period): (&str, i64),
                     cluster: &str| {
            MetricDataQuery::builder()
                .id(id)
                .metric_stat(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace(namespace)
                                .metric_name(name)
                                .dimensions(
                                    Dimension::builder()
                                        .name("JobFlowId")
                                        .value(cluster)
                                        .build(),
                                )
                                .build(),
                        )
                        .period(period as i32)
                        .stat(stat)
                        .build(),
                )
                .return_data(true)
                .build()
        };
        let mut out: BTreeMap<String, ClusterMetrics> = BTreeMap::new();
        for chunk in clusters.chunks(CLUSTERS_PER_METRICS_CALL) {
            let mut queries = Vec::with_capacity(chunk.len() * 2);
            for (i, cluster) in chunk.iter().enumerate() {
                queries.push(query(
                    format!("idle{i}"),
                    sparkhub_core::idle::EMR_NAMESPACE,
                    sparkhub_core::idle::IS_IDLE_METRIC,
                    ("Minimum", sparkhub_core::idle::METRIC_PERIOD_SECONDS),
                    &cluster.cluster_id,
                ));
                if let Some(namespace) = &cluster.activity_namespace {
                    queries.push(query(
                        format!("nb{i}"),
                        namespace,
                        sparkhub_core::idle::AGENT_METRIC,
                        ("Maximum", sparkhub_core::idle::AGENT_PERIOD_SECONDS),
                        &cluster.cluster_id,
                    ));
                }
                out.entry(cluster.cluster_id.clone()).or_default();
            }
            let mut pages = self
                .client
                .get_metric_data()
                .set_metric_data_queries(Some(queries))
                .start_time(to_smithy(start))
                .end_time(to_smithy(end))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| aws_error("CloudWatch GetMetricData", e))?;
                for result in page.metric_data_results() {
                    let id = result.id().unwrap_or_default();
                    let (index, notebook) = match (id.strip_prefix("idle"), id.strip_prefix("nb")) {
                        (Some(i), _) => (i, false),
                        (_, Some(i)) => (i, true),
                        _ => continue,
                    };
                    let Some(cluster) = index
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| chunk.get(i))
                        .map(|q| &q.cluster_id)
                    else {
                        continue;
                    };
                    let points = result
                        .timestamps()
                        .iter()
                        .zip(result.values())
                        .filter_map(|(t, v)| Some((to_jiff(t)?, *v)));
                    let entry = out.entry(cluster.clone()).or_default();
                    if notebook {
                        entry.busy.extend(points);
                    } else {
                        entry.is_idle.extend(points);
                    }
                }
            }
        }
        Ok(out)
    }
}

/// An SNS topic.
#[derive(Debug, Clone)]
pub struct Sns {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl Sns {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

impl Notifier for Sns {
    async fn notify(
        &self,
        subject: &str,
        message: &str,
        recipients: &[String],
    ) -> Result<(), AwsError> {
        // SNS subjects: at most 100 printable ASCII characters.
        let subject: String = subject
            .chars()
            .filter(|c| c.is_ascii() && !c.is_ascii_control())
            .take(100)
            .collect();
        let mut publish = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(message);
        // The users' e-mail subscriptions let through the messages whose
        // String.Array names their `<profile>/<user>`; a message for the
        // operator alone carries no attribute (the operator's subscription
        // has no filter).
        if !recipients.is_empty() {
            let names = serde_json::to_string(recipients).expect("a list of strings is JSON");
            let attribute = aws_sdk_sns::types::MessageAttributeValue::builder()
                .data_type("String.Array")
                .string_value(names)
                .build()
                .map_err(|e| AwsError::new("SNS Publish", false, None, e))?;
            publish = publish.message_attributes(RECIPIENTS_ATTRIBUTE, attribute);
        }
        publish
            .send()
            .await
            .map_err(|e| aws_error("SNS Publish", e))?;
        Ok(())
    }
}

impl ClusterTagger for Emr {
    async fn add_tags(&self, cluster_id: &str, tags: &[(&str, &str)]) -> Result<(), AwsError> {
        let tags = tags
            .iter()
            .map(|(k, v)| aws_sdk_emr::types::Tag::builder().key(*k).value(*v).build())
            .collect();
        self.client
            .add_tags()
            .resource_id(cluster_id)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws_error("EMR AddTags", e))?;
        Ok(())
    }
}

impl ClusterUntagger for Emr {
    async fn remove_tags(&self, cluster_id: &str, keys: &[&str]) -> Result<(), AwsError> {
        self.client
            .remove_tags()
            .resource_id(cluster_id)
            .set_tag_keys(Some(keys.iter().map(|k| (*k).to_owned()).collect()))
            .send()
            .await
            .map_err(|e| aws_error("EMR RemoveTags", e))?;
        Ok(())
    }
}

impl ClusterInstances for Emr {
    async fn master_instance(&self, cluster_id: &str) -> Result<Option<String>, AwsError> {
        use aws_sdk_emr::operation::list_instances::{ListInstancesError, ListInstancesOutput};
        use aws_sdk_emr::types::{Instance, InstanceFleetType, InstanceGroupType, InstanceState};
        // A cluster has instance fleets (every cluster sparkhub renders) or
        // instance groups. What EMR answers a fleet query on a group cluster
        // (and the other way round) is not documented, so each query keeps
        // only the instances of its kind, and a refused query counts as
        // finding none. Fleets first: a sparkhub cluster takes one call.
        type Kind = fn(&Instance) -> Option<&str>;
        let master =
            |answer: Result<ListInstancesOutput, SdkError<ListInstancesError, HttpResponse>>,
             kind: Kind| match answer {
                Ok(out) => Ok(out
                    .instances()
                    .iter()
                    .filter(|i| kind(i).is_some_and(|id| !id.is_empty()))
                    .find_map(|i| i.ec2_instance_id().map(str::to_owned))),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_invalid_request_exception()) =>
                {
                    Ok(None)
                }
                Err(e) => Err(aws_error("EMR ListInstances", e)),
            };
        let list = || {
            self.client
                .list_instances()
                .cluster_id(cluster_id)
                .instance_states(InstanceState::Running)
        };
        let fleets = list()
            .instance_fleet_type(InstanceFleetType::Master)
            .send()
            .await;
        if let Some(id) = master(fleets, |i| i.instance_fleet_id())? {
            return Ok(Some(id));
        }
        let groups = list()
            .instance_group_types(InstanceGroupType::Master)
            .send()
            .await;
        master(groups, |i| i.instance_group_id())
    }
}

#[cfg(test)]
#[path = "aws_tests.rs"]
mod tests;
