//! The ports of `crate::ports`, implemented with the AWS SDK. Thin on
//! purpose: one SDK call (or one paginated listing) per method, errors kept as
//! the source of an [`AwsError`] and classified retryable or not. Retries of
//! throttling and transient errors happen inside the SDK (standard retry mode);
//! the classification tells the caller what is left after those.

use std::collections::BTreeMap;
use std::error::Error;

use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::emr::{ClusterState, StepState};
use crate::ports::{
    AwsError, ClusterDirectory, ClusterSteps, ClusterSummary, ProfileStore, ScriptStore,
    SecretStore, Started, StepSummary, Workflow,
};
use crate::render::StepConfig;

/// Classifies an SDK error: timeouts, dispatch failures, 5xx, 429 and the
/// SDK's own throttling and transient codes are retryable; the rest is not.
pub fn aws_error<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
{
    let code = err.code().map(str::to_owned);
    let retryable = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
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
    async fn read_profile(&self, name: &str) -> Result<Option<String>, AwsError> {
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(Self::profile_key(name))
            .send()
            .await;
        let object = match result {
            Ok(object) => object,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(aws_error("S3 GetObject", e)),
        };
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| AwsError::new("S3 GetObject (reading the body)", true, None, e))?
            .into_bytes();
        String::from_utf8(bytes.to_vec())
            .map(Some)
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
    async fn put_if_absent(&self, key: &str, body: &str) -> Result<bool, AwsError> {
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        match head {
            Ok(_) => return Ok(false),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {}
            Err(e) => return Err(aws_error("S3 HeadObject", e)),
        }
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("text/x-shellscript")
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .map_err(|e| aws_error("S3 PutObject", e))?;
        Ok(true)
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
}

/// EMR clusters.
#[derive(Debug, Clone)]
pub struct Emr {
    client: aws_sdk_emr::Client,
}

impl Emr {
    pub fn new(client: aws_sdk_emr::Client) -> Self {
        Self { client }
    }
}

impl ClusterDirectory for Emr {
    async fn active_clusters(&self) -> Result<Vec<ClusterSummary>, AwsError> {
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
        let mut ids = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("EMR ListClusters", e))?;
            ids.extend(
                page.clusters()
                    .iter()
                    .filter_map(|c| c.id().map(str::to_owned)),
            );
        }
        // ListClusters carries no tags; DescribeCluster does.
        let mut clusters = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(cluster) = self.cluster(&id).await? {
                clusters.push(cluster);
            }
        }
        Ok(clusters)
    }
}

fn summary(id: &str, cluster: &aws_sdk_emr::types::Cluster) -> ClusterSummary {
    ClusterSummary {
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
    }
}

impl ClusterSteps for Emr {
    async fn cluster(&self, cluster_id: &str) -> Result<Option<ClusterSummary>, AwsError> {
        match self
            .client
            .describe_cluster()
            .cluster_id(cluster_id)
            .send()
            .await
        {
            Ok(out) => Ok(out.cluster().map(|c| summary(cluster_id, c))),
            // EMR answers an unknown cluster id with InvalidRequestException.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_invalid_request_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws_error("EMR DescribeCluster", e)),
        }
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
                StepSummary {
                    id: s.id().unwrap_or_default().to_owned(),
                    name: s.name().unwrap_or_default().to_owned(),
                    state: StepState::parse(
                        s.status()
                            .and_then(|st| st.state())
                            .map(|st| st.as_str())
                            .unwrap_or_default(),
                    ),
                }
            }));
        }
        Ok(steps)
    }

    async fn add_step(&self, cluster_id: &str, step: &StepConfig) -> Result<String, AwsError> {
        use aws_sdk_emr::types::{ActionOnFailure, HadoopJarStepConfig, StepConfig as Sdk};
        let sdk = Sdk::builder()
            .name(&step.name)
            .action_on_failure(ActionOnFailure::from(step.action_on_failure.as_str()))
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
        // The parse error names a position, never the content.
        serde_json::from_str(text).map(Some).map_err(|e| {
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

#[cfg(test)]
#[path = "aws_tests.rs"]
mod tests;
