//! EMR: clusters, their steps, tags and instances.

use std::collections::BTreeMap;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use futures::{StreamExt, stream};

use sparkhub_core::emr::{ClusterState, StepState};
use sparkhub_core::ports::{
    AwsError, Cluster, ClusterArchive, ClusterDirectory, ClusterFleet, ClusterInstances,
    ClusterSteps, ClusterTagger, ClusterUntagger, ListedCluster, StepActivity, StepSummary,
};
use sparkhub_core::profile::ActionOnFailure;
use sparkhub_core::render::StepConfig;
use sparkhub_core::report::{ClusterFacts, FleetUse};
use sparkhub_core::settings::DEFAULT_MAX_CONCURRENCY;

use crate::{aws_error, to_jiff};

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

/// What EMR's status of a cluster says (DescribeCluster and ListClusters
/// alike): its state, and when it was created, ready and ended.
struct Status {
    state: ClusterState,
    created_at: Option<jiff::Timestamp>,
    ready_at: Option<jiff::Timestamp>,
    ended_at: Option<jiff::Timestamp>,
}

fn status_of(status: Option<&aws_sdk_emr::types::ClusterStatus>) -> Status {
    let timeline = status.and_then(|s| s.timeline());
    Status {
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
        ended_at: timeline.and_then(|t| t.end_date_time()).and_then(to_jiff),
    }
}

/// The port's shape of what DescribeCluster returned for `id`.
fn described(id: &str, cluster: &aws_sdk_emr::types::Cluster) -> Cluster {
    let status = status_of(cluster.status());
    Cluster {
        id: id.to_owned(),
        name: cluster.name().unwrap_or_default().to_owned(),
        state: status.state,
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
        created_at: status.created_at,
        ready_at: status.ready_at,
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
                let status = status_of(c.status());
                Some(ListedCluster {
                    id: c.id()?.to_owned(),
                    name: c.name().unwrap_or_default().to_owned(),
                    state: status.state,
                    created_at: status.created_at,
                    ready_at: status.ready_at,
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

impl ClusterArchive for Emr {
    async fn clusters_since(&self, since: jiff::Timestamp) -> Result<Vec<ClusterFacts>, AwsError> {
        let mut pages = self
            .client
            .list_clusters()
            .created_after(crate::to_smithy(since))
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("EMR ListClusters", e))?;
            for c in page.clusters() {
                let Some(id) = c.id() else { continue };
                let reason = c.status().and_then(|s| s.state_change_reason());
                let status = status_of(c.status());
                out.push(ClusterFacts {
                    id: id.to_owned(),
                    name: c.name().unwrap_or_default().to_owned(),
                    profile: None,
                    state: status.state,
                    created_at: status.created_at,
                    ready_at: status.ready_at,
                    ended_at: status.ended_at,
                    normalized_instance_hours: c.normalized_instance_hours().map(i64::from),
                    reason_code: reason.and_then(|r| r.code()).map(|c| c.as_str().to_owned()),
                    reason_message: reason.and_then(|r| r.message()).map(str::to_owned),
                    fleets: Vec::new(),
                });
            }
        }
        Ok(out)
    }

    /// A cluster of instance groups answers ListInstanceFleets with an
    /// error: no fleets then (the report uses its profile's).
    async fn fleets(&self, cluster_id: &str) -> Result<Vec<FleetUse>, AwsError> {
        match self
            .client
            .list_instance_fleets()
            .cluster_id(cluster_id)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .instance_fleets()
                .iter()
                .map(|f| FleetUse {
                    instance_types: f
                        .instance_type_specifications()
                        .iter()
                        .filter_map(|s| s.instance_type().map(str::to_owned))
                        .collect(),
                    on_demand: f.target_on_demand_capacity().unwrap_or(0).max(0) as u32,
                    spot: f.target_spot_capacity().unwrap_or(0).max(0) as u32,
                })
                .filter(|f| !f.instance_types.is_empty())
                .collect()),
            Err(_) => Ok(Vec::new()),
        }
    }
}
