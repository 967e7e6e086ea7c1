//! The create-cluster handler: event → profile → plan → scripts → execution.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;
use sparkhub_shared::aws::{Emr, S3Bucket, StepFunctions};
use sparkhub_shared::loading::load_profile;
use sparkhub_shared::ports::{ClusterDirectory, ProfileStore, ScriptStore, Started, Workflow};
use sparkhub_shared::render::{self, Deployment, RunOptions};
use sparkhub_shared::settings::Settings;
use sparkhub_shared::{Profile, ProfileName};
use tracing::{info, warn};

use crate::error::CreateError;
use crate::trigger::{self, Trigger, execution_name};

/// The function's configuration, read once from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `SPARKHUB_BUCKET`
    pub bucket: String,
    /// `SPARKHUB_STATE_MACHINE_ARN`
    pub state_machine_arn: String,
    /// `SPARKHUB_TOPIC_ARN` (optional): told when a cluster is ready.
    pub topic_arn: Option<String>,
    /// `SPARKHUB_POLL_SECONDS` (optional, 1 to 3600, default 30): how often
    /// the workflow looks at a starting cluster or a running step.
    pub poll_seconds: u32,
    /// `SPARKHUB_MASTER_SECURITY_GROUP` (optional): added to every master node.
    pub master_security_group: Option<String>,
    /// `SPARKHUB_EMR_SERVICE_ROLE` (default `sparkhub-emr-service`).
    pub service_role: String,
    /// `SPARKHUB_EMR_INSTANCE_ROLE_PREFIX` (default `sparkhub-node`): a
    /// profile's nodes run with the instance profile `<prefix>-<profile>`.
    pub instance_role_prefix: String,
}

impl Config {
    pub fn from_env() -> Result<Self, CreateError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, CreateError> {
        let env = Settings(lookup);
        Ok(Self {
            bucket: env
                .required("SPARKHUB_BUCKET")
                .map_err(CreateError::Config)?,
            state_machine_arn: env
                .required("SPARKHUB_STATE_MACHINE_ARN")
                .map_err(CreateError::Config)?,
            topic_arn: env.optional("SPARKHUB_TOPIC_ARN"),
            master_security_group: env.optional("SPARKHUB_MASTER_SECURITY_GROUP"),
            service_role: env
                .optional("SPARKHUB_EMR_SERVICE_ROLE")
                .unwrap_or_else(|| render::DEFAULT_SERVICE_ROLE.into()),
            instance_role_prefix: env
                .optional("SPARKHUB_EMR_INSTANCE_ROLE_PREFIX")
                .unwrap_or_else(|| render::DEFAULT_INSTANCE_ROLE_PREFIX.into()),
            poll_seconds: match env.optional("SPARKHUB_POLL_SECONDS") {
                None => 30,
                Some(v) => v
                    .parse()
                    .ok()
                    .filter(|s| (1..=3600).contains(s))
                    .ok_or_else(|| {
                        CreateError::Config(format!(
                            "SPARKHUB_POLL_SECONDS={v:?} is not a number of seconds from 1 to 3600"
                        ))
                    })?,
            },
        })
    }
}

/// What one invocation did; the function's JSON answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Started {
        profile: String,
        execution_name: String,
        execution_arn: String,
    },
    AlreadyStarted {
        profile: String,
        execution_name: String,
        execution_arn: String,
    },
    Skipped {
        profile: String,
        reason: String,
    },
}

pub struct CreateCluster<P, S, W, C> {
    pub config: Config,
    pub profiles: P,
    pub scripts: S,
    pub workflow: W,
    pub clusters: C,
    /// The clock, injected so tests are deterministic.
    pub now: fn() -> Timestamp,
}

/// A profile chosen for a run, with what the trigger adds to it.
struct Run {
    profile: Profile,
    run_id: String,
    object: Option<String>,
}

impl CreateCluster<S3Bucket, S3Bucket, StepFunctions, Emr> {
    /// The handler over the real AWS adapters: profiles and scripts in the
    /// bucket, the state machine, EMR; the system clock.
    pub fn with_aws(config: Config, aws: &aws_config::SdkConfig) -> Self {
        let bucket = S3Bucket::new(aws_sdk_s3::Client::new(aws), &config.bucket);
        Self {
            profiles: bucket.clone(),
            scripts: bucket,
            workflow: StepFunctions::new(aws_sdk_sfn::Client::new(aws), &config.state_machine_arn),
            clusters: Emr::new(aws_sdk_emr::Client::new(aws)),
            now: Timestamp::now,
            config,
        }
    }
}

impl<P, S, W, C> CreateCluster<P, S, W, C>
where
    P: ProfileStore + Sync,
    S: ScriptStore + Sync,
    W: Workflow + Sync,
    C: ClusterDirectory + Sync,
{
    pub async fn handle(&self, event: Value) -> Result<Outcome, CreateError> {
        let run = self.resolve(trigger::parse(&event)?).await?;
        let profile = &run.profile;
        let name_of_profile = ProfileName::parse(&profile.name).map_err(CreateError::BadEvent)?;
        let execution_name = execution_name(&name_of_profile, &run.run_id);

        if let Some(execution_arn) = self.workflow.find_execution(&execution_name).await? {
            info!(profile = %profile.name, %execution_name, %execution_arn, "this trigger already started a run");
            return Ok(Outcome::AlreadyStarted {
                profile: profile.name.clone(),
                execution_name,
                execution_arn,
            });
        }

        if let Some(limit) = profile.active_cluster_limit() {
            let active: Vec<String> = self
                .clusters
                .active_clusters()
                .await?
                .into_iter()
                .filter(|c| c.is_managed() && c.profile() == Some(profile.name.as_str()))
                .map(|c| format!("{} ({})", c.id, c.state))
                .collect();
            if active.len() >= limit as usize {
                let reason = format!(
                    "{} active cluster(s) of profile {} already, the limit is {limit} (max_active_clusters): {}",
                    active.len(),
                    profile.name,
                    active.join(", ")
                );
                info!(profile = %profile.name, %reason, "skipped");
                return Ok(Outcome::Skipped {
                    profile: profile.name.clone(),
                    reason,
                });
            }
        }

        let plan = render::plan(
            profile,
            &Deployment {
                bucket: self.config.bucket.clone(),
                master_security_group: self.config.master_security_group.clone(),
                service_role: self.config.service_role.clone(),
                instance_role_prefix: self.config.instance_role_prefix.clone(),
            },
            &RunOptions {
                run_id: run.run_id.clone(),
                steps: None,
                object: run.object.clone(),
                topic_arn: self.config.topic_arn.clone(),
                poll_seconds: Some(self.config.poll_seconds),
            },
        );
        for script in &plan.scripts {
            let uploaded = self
                .scripts
                .put_if_absent(&script.key, &script.body)
                .await?;
            info!(key = %script.key, uploaded, "script {}", if uploaded { "uploaded" } else { "unchanged" });
        }
        let input = serde_json::to_string(&plan.input).expect("the workflow input serializes");
        let outcome = match self
            .workflow
            .start_execution(&execution_name, &input)
            .await?
        {
            Started::New(execution_arn) => {
                info!(profile = %profile.name, %execution_name, %execution_arn, steps = plan.input.steps.len(), "started a cluster run");
                Outcome::Started {
                    profile: profile.name.clone(),
                    execution_name,
                    execution_arn,
                }
            }
            Started::AlreadyExisted(execution_arn) => {
                info!(profile = %profile.name, %execution_name, "a concurrent delivery of this trigger started the run");
                Outcome::AlreadyStarted {
                    profile: profile.name.clone(),
                    execution_name,
                    execution_arn,
                }
            }
        };
        Ok(outcome)
    }

    async fn resolve(&self, trigger: Trigger) -> Result<Run, CreateError> {
        match trigger {
            Trigger::Direct {
                profile,
                steps,
                run_id,
            } => {
                let loaded = self
                    .load(&profile, |p| {
                        if let Some(steps) = steps {
                            p.steps = steps;
                        }
                    })
                    .await?;
                let run_id = match run_id {
                    Some(id) => id,
                    None => format!("manual-{}", (self.now)().strftime("%Y%m%dT%H%M%SZ")),
                };
                Ok(Run {
                    profile: loaded,
                    run_id,
                    object: None,
                })
            }
            Trigger::Scheduled { event_id, profile } => Ok(Run {
                profile: self.load(&profile, |_| {}).await?,
                run_id: event_id,
                object: None,
            }),
            Trigger::ObjectCreated {
                event_id,
                bucket,
                key,
            } => {
                let profile = self.profile_for_object(&bucket, &key).await?;
                Ok(Run {
                    profile,
                    run_id: event_id,
                    object: Some(format!("s3://{bucket}/{key}")),
                })
            }
        }
    }

    async fn load(
        &self,
        name: &ProfileName,
        adjust: impl FnOnce(&mut Profile),
    ) -> Result<Profile, CreateError> {
        Ok(load_profile(&self.profiles, name, adjust).await?)
    }

    /// The one valid profile whose triggers match the object. Profiles that
    /// cannot be read are logged and passed over: one broken profile must not
    /// stop every other pipeline.
    async fn profile_for_object(&self, bucket: &str, key: &str) -> Result<Profile, CreateError> {
        let mut matching = Vec::new();
        for name in self.profiles.list_profiles().await? {
            let Ok(parsed) = ProfileName::parse(&name) else {
                warn!(profile = %name, "ignoring a profile file whose name is not a valid profile name");
                continue;
            };
            match self.load(&parsed, |_| {}).await {
                Ok(profile) if profile.triggers.iter().any(|t| t.matches(bucket, key)) => {
                    matching.push(profile)
                }
                Ok(_) => {}
                Err(CreateError::Aws(e)) => return Err(CreateError::Aws(e)),
                Err(e) => {
                    warn!(profile = %name, error = %e, "ignoring a profile that cannot be used")
                }
            }
        }
        match matching.len() {
            0 => Err(CreateError::NoMatchingTrigger {
                bucket: bucket.into(),
                key: key.into(),
            }),
            1 => Ok(matching.remove(0)),
            _ => Err(CreateError::AmbiguousTrigger {
                bucket: bucket.into(),
                key: key.into(),
                profiles: matching
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}

#[cfg(test)]
#[path = "handler_tests.rs"]
mod tests;
