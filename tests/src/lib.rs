//! Harness for sparkhub's integration tests against the local AWS emulator
//! (`tests/emulator/sparkhub_emulator.py`).
//!
//! The emulator is started once per test run by `tests/emulator/with-emulator`
//! (which `make test` uses); the tests find it through `AWS_ENDPOINT_URL`, the
//! same switch the product code honours, and nothing else.

pub mod browser;
pub mod fake_http;
pub mod fake_lambda;
pub mod hub;
pub mod latency;

use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use sparkhub_core::testing::workspace_root;

/// Clients and control calls for one local AWS.
pub struct LocalAws {
    pub endpoint: String,
    pub region: String,
    pub emr: aws_sdk_emr::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub s3: aws_sdk_s3::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// The SDK configuration the clients were built from, for adapters.
    pub config: aws_config::SdkConfig,
}

impl LocalAws {
    /// Connects to the emulator named by `AWS_ENDPOINT_URL`.
    pub async fn connect() -> Self {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
            panic!(
                "AWS_ENDPOINT_URL is not set: the integration tests need the local AWS emulator. \
                 Run them with `make test`, or `tests/emulator/with-emulator cargo test -p sparkhub-tests`."
            )
        });
        let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
        let region = config
            .region()
            .map(|r| r.to_string())
            .expect("with-emulator sets AWS_REGION");
        Self {
            endpoint,
            region,
            emr: aws_sdk_emr::Client::new(&config),
            sfn: aws_sdk_sfn::Client::new(&config),
            s3: aws_sdk_s3::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            config,
        }
    }

    /// Creates a bucket and puts the given objects into it.
    pub async fn bucket_with(&self, bucket: &str, objects: &[(&str, &str)]) {
        self.s3
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .expect("create_bucket");
        for (key, body) in objects {
            self.bucket_put(bucket, key, body).await;
        }
    }

    /// Writes one object.
    pub async fn bucket_put(&self, bucket: &str, key: &str, body: &str) {
        self.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .expect("put_object");
    }

    /// Keys in a bucket under a prefix.
    pub async fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let out = self
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .send()
            .await
            .expect("list_objects_v2");
        out.contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect()
    }

    /// Names of the executions of a state machine.
    pub async fn executions(&self, state_machine_arn: &str) -> Vec<String> {
        let out = self
            .sfn
            .list_executions()
            .state_machine_arn(state_machine_arn)
            .send()
            .await
            .expect("list_executions");
        out.executions()
            .iter()
            .map(|e| e.name().to_owned())
            .collect()
    }

    /// Ids of every active cluster tagged with the profile.
    pub async fn clusters_of_profile(&self, profile: &str) -> Vec<String> {
        use sparkhub_core::ports::ClusterDirectory;
        sparkhub_aws::Emr::new(self.emr.clone())
            .active_clusters(&format!("sparkhub-{profile}"))
            .await
            .expect("active clusters")
            .into_iter()
            .filter(|c| c.profile() == Some(profile))
            .map(|c| c.id)
            .collect()
    }

    /// A CloudFormation stack with these outputs (and one SNS topic, since a
    /// stack needs a resource), as a deploy of infra/template.yaml leaves
    /// sparkhub's outputs.
    pub async fn create_stack(&self, name: &str, outputs: &[(&str, &str)]) {
        let outputs: serde_json::Map<String, Value> = outputs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!({"Value": v})))
            .collect();
        let template = json!({
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": outputs,
        });
        aws_sdk_cloudformation::Client::new(&self.config)
            .create_stack()
            .stack_name(name)
            .template_body(template.to_string())
            .send()
            .await
            .expect("create_stack");
    }

    /// An IAM instance profile of this name, as the stack creates one per
    /// profile.
    pub async fn create_instance_profile(&self, name: &str) {
        aws_sdk_iam::Client::new(&self.config)
            .create_instance_profile()
            .instance_profile_name(name)
            .send()
            .await
            .expect("create_instance_profile");
    }

    /// Moves an EMR cluster to `state` (the emulator never does by itself).
    pub fn set_cluster_state(&self, cluster_id: &str, state: &str, reason: Option<&str>) {
        self.control(
            "emr/cluster-state",
            json!({"region": self.region, "cluster_id": cluster_id, "state": state, "reason": reason}),
        );
    }

    /// Moves an EMR cluster to `state` and makes DescribeCluster answer
    /// without a `StateChangeReason`, as EMR may.
    pub fn set_cluster_state_without_reason(&self, cluster_id: &str, state: &str) {
        self.control(
            "emr/cluster-state",
            json!({"region": self.region, "cluster_id": cluster_id, "state": state, "omit_reason": true}),
        );
    }

    /// Moves an EMR step to `state`.
    pub fn set_step_state(
        &self,
        cluster_id: &str,
        step_id: &str,
        state: &str,
        reason: Option<&str>,
    ) {
        self.control(
            "emr/step-state",
            json!({"region": self.region, "cluster_id": cluster_id, "step_id": step_id, "state": state, "reason": reason}),
        );
    }

    /// Sets when EMR says a cluster was created and became ready.
    pub fn set_cluster_times(
        &self,
        cluster_id: &str,
        created_at: jiff::Timestamp,
        ready_at: Option<jiff::Timestamp>,
    ) {
        self.control(
            "emr/cluster-times",
            json!({"region": self.region, "cluster_id": cluster_id, "created_at": created_at.to_string(), "ready_at": ready_at.map(|t| t.to_string())}),
        );
    }

    /// Sets the `NormalizedInstanceHours` EMR reports for a cluster (EMR
    /// counts them up while it runs; the emulator leaves them at 0).
    pub fn set_normalized_instance_hours(&self, cluster_id: &str, hours: u32) {
        self.control(
            "emr/cluster-times",
            json!({"region": self.region, "cluster_id": cluster_id, "normalized_instance_hours": hours}),
        );
    }

    /// Creates a small cluster directly (not through sparkhub) with the given
    /// tags and applications; it starts WAITING, as in the emulator.
    pub async fn run_cluster(
        &self,
        name: &str,
        tags: &[(&str, &str)],
        applications: &[&str],
    ) -> String {
        self.run_cluster_with_key(name, tags, applications, None)
            .await
    }

    /// [`Self::run_cluster`] with an EC2 key pair name on the instances.
    pub async fn run_cluster_with_key(
        &self,
        name: &str,
        tags: &[(&str, &str)],
        applications: &[&str],
        key_name: Option<&str>,
    ) -> String {
        use aws_sdk_emr::types::{Application, JobFlowInstancesConfig, Tag};
        let mut request = self
            .emr
            .run_job_flow()
            .name(name)
            .release_label("emr-7.10.0")
            .service_role("EMR_DefaultRole")
            .job_flow_role("EMR_EC2_DefaultRole")
            .instances(
                JobFlowInstancesConfig::builder()
                    .instance_count(1)
                    .master_instance_type("m5.xlarge")
                    .keep_job_flow_alive_when_no_steps(true)
                    .set_ec2_key_name(key_name.map(str::to_owned))
                    .build(),
            );
        for (key, value) in tags {
            request = request.tags(Tag::builder().key(*key).value(*value).build());
        }
        for app in applications {
            request = request.applications(Application::builder().name(*app).build());
        }
        request
            .send()
            .await
            .expect("run_job_flow")
            .job_flow_id
            .expect("a cluster id")
    }

    /// Publishes one datapoint per `(minutes ago, value)` for a cluster.
    pub async fn put_cluster_metric(
        &self,
        cluster_id: &str,
        namespace: &str,
        metric: &str,
        points: &[(i64, f64)],
    ) {
        self.put_metrics(
            namespace,
            metric,
            &[(cluster_id.to_owned(), points.to_vec())],
        )
        .await;
    }

    /// Publishes datapoints for many clusters, a thousand per call.
    pub async fn put_metrics(
        &self,
        namespace: &str,
        metric: &str,
        series: &[(String, Vec<(i64, f64)>)],
    ) {
        use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
        let now = jiff::Timestamp::now();
        let datums: Vec<MetricDatum> = series
            .iter()
            .flat_map(|(cluster, points)| {
                points.iter().map(move |(mins_ago, value)| {
                    let at = now - jiff::SignedDuration::from_mins(*mins_ago);
                    MetricDatum::builder()
                        .metric_name(metric)
                        .dimensions(
                            Dimension::builder()
                                .name("JobFlowId")
                                .value(cluster)
                                .build(),
                        )
                        .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                            at.as_second(),
                        ))
                        .value(*value)
                        .build()
                })
            })
            .collect();
        for chunk in datums.chunks(1000) {
            self.cloudwatch
                .put_metric_data()
                .namespace(namespace)
                .set_metric_data(Some(chunk.to_vec()))
                .send()
                .await
                .expect("put_metric_data through the emulator's CBOR bridge");
        }
    }

    /// Forgets every request recorded so far.
    pub fn reset_recording(&self) {
        let url = format!("{}/moto-api/recorder/reset-recording", self.endpoint);
        ureq::post(&url).send_empty().expect("reset-recording");
    }

    /// The next `times` EMR requests of `operation` (e.g. `RunJobFlow`) whose
    /// body contains `matching` are answered with `code` and HTTP `status`.
    pub fn fail_next_emr(
        &self,
        operation: &str,
        matching: &str,
        code: &str,
        status: u16,
        times: u32,
    ) {
        self.control(
            "emr/fail-next",
            serde_json::json!({"operation": operation, "match": matching, "code": code, "status": status, "times": times}),
        );
    }

    fn control(&self, route: &str, body: Value) {
        let url = format!("{}/sparkhub-control/{route}", self.endpoint);
        if let Err(e) = ureq::post(&url).send_json(&body) {
            panic!("emulator control call {route} with {body} failed: {e}");
        }
    }

    /// Every request the emulator has recorded: `(X-Amz-Target or URL, body)`.
    pub fn recorded_requests(&self) -> Vec<(String, String)> {
        let url = format!("{}/moto-api/recorder/download-recording", self.endpoint);
        let text = ureq::get(&url)
            .call()
            // The whole run's recording: past ureq's default 10 MiB once
            // many tests have run against one emulator.
            .and_then(|mut r| r.body_mut().with_config().limit(1 << 30).read_to_string())
            .unwrap_or_else(|e| panic!("downloading the emulator's recording failed: {e}"));
        text.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .map(|entry| {
                let target = entry["headers"]
                    .as_object()
                    .and_then(|h| {
                        h.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-target"))
                            .and_then(|(_, v)| v.as_str())
                    })
                    .or(entry["url"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                let body = entry["body"].as_str().unwrap_or_default();
                let body = if entry["body_encoded"] == Value::Bool(true) {
                    BASE64
                        .decode(body)
                        .ok()
                        .and_then(|bytes| String::from_utf8(bytes).ok())
                        .unwrap_or_default()
                } else {
                    body.to_owned()
                };
                (target, body)
            })
            .collect()
    }

    /// The recorded requests counted by operation: the JSON protocols' target
    /// (`ListClusters`, `GetMetricData`, ...), and for S3's REST calls
    /// `ListObjectsV2` and `GetObject` of a profile; any other URL as it is.
    pub fn calls_by_operation(&self) -> std::collections::BTreeMap<String, usize> {
        let mut calls = std::collections::BTreeMap::new();
        for (target, _) in self.recorded_requests() {
            let op = if let Some((_, op)) = target
                .rsplit_once('.')
                .filter(|_| !target.starts_with("http"))
            {
                op.to_owned()
            } else if target.contains("list-type=2") {
                "ListObjectsV2".to_owned()
            } else if target.contains("/profiles/") {
                "GetObject".to_owned()
            } else {
                target
            };
            *calls.entry(op).or_default() += 1;
        }
        calls
    }

    /// Creates a state machine from a checked-in definition under `infra/statemachines/`.
    pub async fn create_state_machine(&self, file: &str, name: &str) -> String {
        let path = workspace_root().join("infra/statemachines").join(file);
        let definition =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // What the template's DefinitionSubstitutions do on deploy.
        let definition = sparkhub_core::workflow::for_partition(&definition, "aws");
        self.sfn
            .create_state_machine()
            .name(name)
            .definition(definition)
            .role_arn("arn:aws:iam::123456789012:role/sparkhub-state-machine")
            .send()
            .await
            .expect("the emulator accepts the generated state machine")
            .state_machine_arn
    }

    /// Starts an execution (always named: the emulator names unnamed ones "None").
    pub async fn start(&self, state_machine_arn: &str, name: &str, input: &Value) -> String {
        self.sfn
            .start_execution()
            .state_machine_arn(state_machine_arn)
            .name(name)
            .input(input.to_string())
            .send()
            .await
            .expect("start_execution")
            .execution_arn
    }

    /// Status, error, cause and output of an execution.
    pub async fn execution(&self, arn: &str) -> Execution {
        let d = self
            .sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .expect("describe_execution");
        Execution {
            status: d.status.as_str().to_owned(),
            error: d.error,
            cause: d.cause,
            output: d.output.and_then(|o| serde_json::from_str(&o).ok()),
        }
    }

    /// Waits until the execution has left RUNNING.
    pub async fn finished(&self, arn: &str) -> Execution {
        wait_for(&format!("execution {arn} to finish"), || async {
            let e = self.execution(arn).await;
            (e.status != "RUNNING").then_some(e)
        })
        .await
    }

    /// The execution's history events (the first page: enough for the
    /// tests' short runs).
    async fn history(&self, execution_arn: &str) -> Vec<aws_sdk_sfn::types::HistoryEvent> {
        self.sfn
            .get_execution_history()
            .execution_arn(execution_arn)
            .send()
            .await
            .expect("get_execution_history")
            .events
    }

    /// The names of the states the execution entered, in order.
    pub async fn entered_states(&self, execution_arn: &str) -> Vec<String> {
        self.history(execution_arn)
            .await
            .iter()
            .filter_map(|e| e.state_entered_event_details.as_ref())
            .map(|d| d.name.clone())
            .collect()
    }

    /// The error names of the execution's failed task attempts, in order.
    pub async fn task_failures(&self, execution_arn: &str) -> Vec<String> {
        self.history(execution_arn)
            .await
            .iter()
            .filter_map(|e| e.task_failed_event_details.as_ref())
            .map(|d| d.error.clone().unwrap_or_default())
            .collect()
    }

    /// The cluster id the execution's "Create cluster" state produced.
    pub async fn cluster_of(&self, execution_arn: &str) -> String {
        wait_for("the execution to create its cluster", || async {
            let events = self.history(execution_arn).await;
            events.iter().find_map(|e| {
                let exited = e.state_exited_event_details.as_ref()?;
                if exited.name != sparkhub_core::workflow::CREATE_CLUSTER {
                    return None;
                }
                let output: Value = serde_json::from_str(exited.output.as_deref()?).ok()?;
                output["cluster"]["ClusterId"].as_str().map(str::to_owned)
            })
        })
        .await
    }

    /// The cluster's current state.
    pub async fn cluster_state(&self, cluster_id: &str) -> String {
        let cluster = self.describe_cluster(cluster_id).await;
        cluster
            .status
            .and_then(|s| s.state)
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default()
    }

    pub async fn describe_cluster(&self, cluster_id: &str) -> aws_sdk_emr::types::Cluster {
        self.emr
            .describe_cluster()
            .cluster_id(cluster_id)
            .send()
            .await
            .expect("describe_cluster")
            .cluster
            .expect("a described cluster")
    }

    /// The cluster's steps, oldest first: (id, name, state, args).
    pub async fn steps(&self, cluster_id: &str) -> Vec<Step> {
        let out = self
            .emr
            .list_steps()
            .cluster_id(cluster_id)
            .send()
            .await
            .expect("list_steps");
        let mut steps: Vec<Step> = out
            .steps()
            .iter()
            .map(|s| Step {
                id: s.id().unwrap_or_default().to_owned(),
                name: s.name().unwrap_or_default().to_owned(),
                state: s
                    .status()
                    .and_then(|st| st.state())
                    .map(|st| st.as_str().to_owned())
                    .unwrap_or_default(),
                args: s.config().map(|c| c.args().to_vec()).unwrap_or_default(),
            })
            .collect();
        // ListSteps answers newest first.
        steps.reverse();
        steps
    }
}

#[derive(Debug, Clone)]
pub struct Execution {
    pub status: String,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub output: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: String,
    pub name: String,
    pub state: String,
    pub args: Vec<String>,
}

/// Polls `check` every 200 ms until it returns `Some`, for at most 60 s.
pub async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A name no other test of this run uses.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos();
    format!("{prefix}-{nanos}")
}
