//! Profile → RunJobFlow request (the JSON shape of the EMR API) and the
//! execution input of the cluster workflow.
//!
//! The state machine passes every top-level field of [`RunJobFlowRequest`] to
//! `runJobFlow` by path, so each of them is always rendered (a missing path
//! would fail the execution); optional values live one level down.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::names::S3Uri;
use crate::profile::{ActionOnFailure, Fleet, Profile, ProfileKind, StepSpec};
use crate::scripts::{self, RenderedScript};

/// Tag on every cluster sparkhub creates; the terminator only touches clusters carrying it.
pub const TAG_MANAGED: &str = "sparkhub:managed";
/// Tag naming the profile a cluster was created from.
pub const TAG_PROFILE: &str = "sparkhub:profile";
/// Tag a person sets (RFC 3339 instant) to keep a cluster alive.
pub const TAG_KEEP_ALIVE_UNTIL: &str = "sparkhub:keep-alive-until";
/// Tag the idle sweep sets (RFC 3339 instant) when it warns that it will
/// terminate the cluster soon; `sparkhub keep-alive` removes it.
pub const TAG_WARNED_AT: &str = "sparkhub:warned-at";

/// Tag that EMR's managed policy v2 (`AmazonEMRServicePolicy_v2`) requires on
/// the cluster request (EMR passes it on to the instances, volumes and launch
/// templates it creates) and on the subnets and security groups the cluster
/// uses: <https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-iam-policies.html>
pub const TAG_EMR_MANAGED_POLICY: &str = "for-use-with-amazon-emr-managed-policies";

/// The EMR service role the stack creates (parameter `EmrServiceRoleName`).
pub const DEFAULT_SERVICE_ROLE: &str = "sparkhub-emr-service";
/// The prefix of the per-profile instance roles and instance profiles the
/// stack creates (parameter `EmrInstanceRolePrefix`): `<prefix>-<profile>`.
pub const DEFAULT_INSTANCE_ROLE_PREFIX: &str = "sparkhub-node";

/// The instance role and instance profile of a profile's nodes: one per
/// profile, so that what one profile's nodes may read (its secret, its
/// notebooks, its `[access]` locations) no other profile's nodes can.
pub fn instance_role_name(prefix: &str, profile: &str) -> String {
    format!("{prefix}-{profile}")
}

/// Placeholder in step arguments replaced by the triggering object's `s3://` URI.
pub const OBJECT_PLACEHOLDER: &str = "{object}";

/// Where sparkhub keeps its files, from the function's environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// `SPARKHUB_BUCKET`: scripts, logs and (by default) notebooks.
    pub bucket: String,
    /// `SPARKHUB_MASTER_SECURITY_GROUP`: the stack's security group that opens
    /// port 22 of the master to `SshIngressCidr`; added to every cluster.
    pub master_security_group: Option<String>,
    /// `SPARKHUB_EMR_SERVICE_ROLE`: the EMR service role of every cluster.
    pub service_role: String,
    /// `SPARKHUB_EMR_INSTANCE_ROLE_PREFIX`: a profile's nodes run with the
    /// instance profile `<prefix>-<profile>` ([`instance_role_name`]).
    pub instance_role_prefix: String,
}

impl Deployment {
    /// The stack's default role names, for a bucket.
    pub fn with_default_roles(bucket: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            master_security_group: None,
            service_role: DEFAULT_SERVICE_ROLE.into(),
            instance_role_prefix: DEFAULT_INSTANCE_ROLE_PREFIX.into(),
        }
    }
}

/// `RunJobFlow` request, serialized exactly as the EMR API (and the Step
/// Functions SDK integration) spells it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunJobFlowRequest {
    pub name: String,
    pub release_label: String,
    pub applications: Vec<Application>,
    pub bootstrap_actions: Vec<BootstrapAction>,
    pub configurations: Vec<Configuration>,
    pub service_role: String,
    pub job_flow_role: String,
    pub log_uri: String,
    pub visible_to_all_users: bool,
    pub instances: Instances,
    pub auto_termination_policy: AutoTerminationPolicy,
    pub tags: Vec<Tag>,
}

/// The top-level fields of a `RunJobFlow` request that the workflow passes on.
pub const RUN_JOB_FLOW_FIELDS: &[&str] = &[
    "Name",
    "ReleaseLabel",
    "Applications",
    "BootstrapActions",
    "Configurations",
    "ServiceRole",
    "JobFlowRole",
    "LogUri",
    "VisibleToAllUsers",
    "Instances",
    "AutoTerminationPolicy",
    "Tags",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Application {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BootstrapAction {
    pub name: String,
    pub script_bootstrap_action: ScriptBootstrapAction,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScriptBootstrapAction {
    pub path: String,
    pub args: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Configuration {
    pub classification: String,
    pub properties: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Instances {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ec2_key_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub ec2_subnet_ids: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub additional_master_security_groups: Vec<String>,
    pub keep_job_flow_alive_when_no_steps: bool,
    pub termination_protected: bool,
    pub instance_fleets: Vec<InstanceFleet>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceFleet {
    pub name: String,
    pub instance_fleet_type: String,
    pub target_on_demand_capacity: u32,
    pub target_spot_capacity: u32,
    pub instance_type_configs: Vec<InstanceTypeConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceTypeConfig {
    pub instance_type: String,
    pub weighted_capacity: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AutoTerminationPolicy {
    /// Seconds of idleness after which EMR itself terminates the cluster.
    pub idle_timeout: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// An EMR `StepConfig`, as `addJobFlowSteps` takes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StepConfig {
    pub name: String,
    pub action_on_failure: ActionOnFailure,
    pub hadoop_jar_step: HadoopJarStep,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HadoopJarStep {
    pub jar: String,
    pub args: Vec<String>,
}

/// The input of one execution of the cluster workflow (see `workflow.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowInput {
    pub profile: String,
    pub run_id: String,
    /// Passed field by field to `runJobFlow`.
    pub request: RunJobFlowRequest,
    /// Pipeline steps, run one after the other once the cluster is ready.
    pub steps: Vec<StepConfig>,
    /// Terminate the cluster after the last step (pipeline runs).
    pub terminate_when_done: bool,
    /// Seconds between two polls of the cluster or step state.
    pub poll_seconds: u32,
    /// SNS topic told when the cluster is ready.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub topic_arn: Option<String>,
    /// A `ready_by` run: the workflow waits until then to create the
    /// cluster (see [`crate::startup`]).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub start_at: Option<jiff::Timestamp>,
    /// A run of a pooled profile: it leaves its cluster up and releases it
    /// at the end instead of terminating it (see `crate::create::pool`).
    /// Written only when true: the workflow's choices ask whether it is
    /// there.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pooled: bool,
    /// The run claimed the waiting cluster in `cluster` instead of creating
    /// one; written only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub claimed: bool,
    /// The claimed cluster (`{"ClusterId": ...}`, where the workflow keeps
    /// a cluster it created).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cluster: Option<ClaimedCluster>,
}

/// A cluster a run claimed, as the workflow's `$.cluster`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimedCluster {
    #[serde(rename = "ClusterId")]
    pub cluster_id: String,
}

/// Everything one run of a profile needs: the scripts to upload and the
/// execution input that points at them.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterPlan {
    pub scripts: Vec<RenderedScript>,
    pub input: WorkflowInput,
}

/// Seconds EMR's own auto-termination waits on top of sparkhub's idle timeout.
/// sparkhub decides first (it also sees notebook activity); EMR's policy is
/// the backstop for when sparkhub itself is not running.
const BACKSTOP_EXTRA_SECONDS: u64 = 30 * 60;

/// Options of one run that do not come from the profile.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunOptions {
    pub run_id: String,
    /// Steps for this run instead of the profile's.
    pub steps: Option<Vec<StepSpec>>,
    /// The object that triggered the run, for `{object}`.
    pub object: Option<S3Uri>,
    pub topic_arn: Option<String>,
    /// Seconds between polls; 30 when absent.
    pub poll_seconds: Option<u32>,
    /// The values of the `{event:<path>}` arguments, by path, from the
    /// event that started the run (checked by create-cluster).
    pub event_values: BTreeMap<String, String>,
}

/// Renders the scripts and the RunJobFlow request for a validated profile.
pub fn plan(profile: &Profile, deployment: &Deployment, run: &RunOptions) -> ClusterPlan {
    let scripts = scripts::render_all(profile);
    let request = run_job_flow_request(profile, deployment, &scripts);
    let steps = run
        .steps
        .as_deref()
        .unwrap_or(&profile.steps)
        .iter()
        .map(|step| step_config(step, run.object.as_ref(), &run.event_values))
        .collect::<Vec<_>>();
    let pooled = profile.pool.is_some();
    let terminate_when_done = profile.kind == ProfileKind::Pipeline && !pooled;
    ClusterPlan {
        scripts,
        input: WorkflowInput {
            profile: profile.name.to_string(),
            run_id: run.run_id.clone(),
            request,
            steps,
            terminate_when_done,
            poll_seconds: run.poll_seconds.unwrap_or(30),
            topic_arn: run.topic_arn.clone(),
            start_at: None,
            pooled,
            claimed: false,
            cluster: None,
        },
    }
}

/// The RunJobFlow request for a validated profile whose scripts are rendered.
pub fn run_job_flow_request(
    profile: &Profile,
    deployment: &Deployment,
    scripts: &[RenderedScript],
) -> RunJobFlowRequest {
    let bootstrap_actions = scripts
        .iter()
        .filter(|s| s.bootstrap)
        .map(|s| BootstrapAction {
            name: s.purpose.to_owned(),
            script_bootstrap_action: ScriptBootstrapAction {
                path: S3Uri::new(&deployment.bucket, &s.key).to_string(),
                args: Vec::new(),
            },
        })
        .collect();

    let mut configurations = Vec::new();
    if profile.has_application("JupyterHub") {
        let bucket = profile
            .notebook_bucket
            .clone()
            .unwrap_or_else(|| deployment.bucket.clone());
        configurations.push(Configuration {
            classification: "jupyter-s3-conf".into(),
            properties: BTreeMap::from([
                ("s3.persistence.enabled".into(), "true".into()),
                ("s3.persistence.bucket".into(), bucket),
            ]),
        });
    }

    let mut instance_fleets = vec![
        fleet("Master", "MASTER", &profile.fleets.master),
        fleet("Core", "CORE", &profile.fleets.core),
    ];
    if let Some(task) = &profile.fleets.task {
        instance_fleets.push(fleet("Task", "TASK", task));
    }

    let mut tags = vec![
        Tag {
            key: TAG_MANAGED.into(),
            value: "true".into(),
        },
        Tag {
            key: TAG_PROFILE.into(),
            value: profile.name.to_string(),
        },
        Tag {
            key: TAG_EMR_MANAGED_POLICY.into(),
            value: "true".into(),
        },
    ];
    tags.extend(profile.tags.iter().map(|(k, v)| Tag {
        key: k.clone(),
        value: v.clone(),
    }));

    // A pooled cluster's idle time is its pool's.
    let idle_seconds = u64::from(profile.idle_policy().timeout_minutes) * 60;
    RunJobFlowRequest {
        name: format!("sparkhub-{}", profile.name),
        release_label: profile.release_label.clone(),
        applications: profile
            .applications
            .iter()
            .map(|name| Application { name: name.clone() })
            .collect(),
        bootstrap_actions,
        configurations,
        service_role: deployment.service_role.clone(),
        job_flow_role: instance_role_name(&deployment.instance_role_prefix, profile.name.as_str()),
        log_uri: profile.log_location(&deployment.bucket).to_string(),
        visible_to_all_users: true,
        instances: Instances {
            ec2_key_name: profile.key_name.clone(),
            ec2_subnet_ids: profile.subnet_ids.clone(),
            additional_master_security_groups: deployment
                .master_security_group
                .iter()
                .cloned()
                .collect(),
            // Steps are added by the workflow once the cluster is ready, so the
            // cluster must outlive its (empty) initial step list for every
            // kind of profile; pipeline runs are terminated by the workflow.
            keep_job_flow_alive_when_no_steps: true,
            termination_protected: false,
            instance_fleets,
        },
        auto_termination_policy: AutoTerminationPolicy {
            // EMR accepts 60 s to 7 days.
            idle_timeout: (idle_seconds + BACKSTOP_EXTRA_SECONDS).clamp(60, 7 * 24 * 3600),
        },
        tags,
    }
}

fn fleet(name: &str, kind: &str, fleet: &Fleet) -> InstanceFleet {
    InstanceFleet {
        name: name.into(),
        instance_fleet_type: kind.into(),
        target_on_demand_capacity: fleet.on_demand,
        target_spot_capacity: fleet.spot,
        instance_type_configs: fleet
            .instance_types
            .iter()
            .map(|t| InstanceTypeConfig {
                instance_type: t.clone(),
                weighted_capacity: 1,
            })
            .collect(),
    }
}

/// An EMR step from a profile step; `{object}` in the arguments becomes the
/// triggering object's URI when there is one.
pub fn step_config(
    step: &StepSpec,
    object: Option<&S3Uri>,
    event_values: &BTreeMap<String, String>,
) -> StepConfig {
    let object = object.map(S3Uri::to_string);
    StepConfig {
        name: step.name.clone(),
        action_on_failure: step.action_on_failure,
        hadoop_jar_step: HadoopJarStep {
            jar: step.jar.clone(),
            args: step
                .args
                .iter()
                .map(|arg| {
                    if let Some(value) =
                        crate::profile::event_path(arg).and_then(|p| event_values.get(p))
                    {
                        return value.clone();
                    }
                    match &object {
                        Some(uri) => arg.replace(OBJECT_PLACEHOLDER, uri),
                        None => arg.clone(),
                    }
                })
                .collect(),
        },
    }
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
