//! The setup-jupyter-users handler.

use crate::emr::ClusterState;
use crate::errors::message_with_causes;
use crate::history::StartupRecord;
use crate::loading::{ProfileError, load_profile};
use crate::ports::{
    Cluster, ClusterSteps, Notifier, ProfileStore, ScriptStore, SecretStore, StartupLog,
};
use crate::scripts::{self, USERS_SCRIPT};
use crate::settings::Settings;
use crate::setup::secrets::{write_hashes, write_planned};
use crate::setup::steps::{UsersStep, users_step};
use crate::startup::{StartupSample, Startups, TAG_READY_BY};
use crate::users::{
    hashes_secret_name, plan_passwords, secret_name, step_name, users_step as users_step_config,
};
use crate::{ProfileName, UserName};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use tracing::{info, warn};

use crate::setup::error::SetupError;
use crate::setup::event;

pub use crate::setup::steps::MAX_FAILED_USERS_STEPS;

/// Read once from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `SPARKHUB_BUCKET`: profiles and scripts.
    pub bucket: String,
    /// `AWS_REGION`: the region of the clusters, when the event does not say.
    pub region: String,
    /// `SPARKHUB_TOPIC_ARN` (optional): told once when the users step gives up.
    pub topic_arn: Option<String>,
}

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SetupError> {
        let env = Settings(lookup);
        Ok(Self {
            bucket: env
                .required("SPARKHUB_BUCKET")
                .map_err(SetupError::Config)?,
            region: env.required("AWS_REGION").map_err(SetupError::Config)?,
            topic_arn: env.optional("SPARKHUB_TOPIC_ARN"),
        })
    }
}

/// What one invocation did. Names users and the secret, never a password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Ignored {
        cluster_id: String,
        reason: String,
    },
    AlreadySetUp {
        cluster_id: String,
        profile: String,
        step_id: String,
        secret: String,
        users: Vec<String>,
        removed_users: Vec<String>,
    },
    StepAdded {
        cluster_id: String,
        profile: String,
        step_id: String,
        secret: String,
        users: Vec<String>,
        new_passwords_for: Vec<String>,
        removed_users: Vec<String>,
    },
    /// The users step failed [`MAX_FAILED_USERS_STEPS`] times for these users:
    /// no new step. People are told once (SNS), on the event that follows
    /// the last failure.
    GaveUp {
        cluster_id: String,
        profile: String,
        failed_steps: Vec<String>,
        reason: String,
        log: String,
        notified: bool,
    },
}

pub struct SetupUsers<P, S, K, C, N, T> {
    pub config: Config,
    /// Where each cluster's startup is recorded (see [`crate::startup`]).
    pub startups: T,
    pub profiles: P,
    pub scripts: S,
    pub secrets: K,
    pub clusters: C,
    /// Where to say that the users step gave up; nowhere when `None`.
    pub notifier: Option<N>,
    /// Password generator, injected so tests are deterministic.
    pub password: fn() -> String,
}

impl<P, S, K, C, N, T> SetupUsers<P, S, K, C, N, T>
where
    P: ProfileStore + Sync,
    S: ScriptStore + Sync,
    K: SecretStore + Sync,
    C: ClusterSteps + Sync,
    N: Notifier + Sync,
    T: StartupLog + Sync,
{
    pub async fn handle(&self, raw: Value) -> Result<Outcome, SetupError> {
        let event = event::parse(&raw)?;
        let cluster_id = event.change.cluster_id.clone();
        let ignored = |reason: String| {
            info!(%cluster_id, %reason, "ignored");
            Ok(Outcome::Ignored {
                cluster_id: cluster_id.clone(),
                reason,
            })
        };
        if event.change.state != ClusterState::Waiting {
            return ignored(format!(
                "the cluster is {}; users are set up once it is WAITING",
                event.change.state
            ));
        }
        let Some(cluster) = self.clusters.cluster(&cluster_id).await? else {
            return ignored("EMR does not know this cluster (any more)".into());
        };
        if !cluster.is_managed() {
            return ignored("not a sparkhub cluster (no sparkhub:managed=true tag)".into());
        }
        let Some(profile_name) = cluster.profile().and_then(|p| ProfileName::parse(p).ok()) else {
            return ignored("the cluster has no valid sparkhub:profile tag".into());
        };
        // Every sparkhub cluster's way to ready, whether or not it has users.
        self.note_startup(&cluster, &profile_name).await;
        let profile = load_profile(&self.profiles, &profile_name, |_| {})
            .await
            .map_err(|e| match e {
                ProfileError::Aws(e) => SetupError::Aws(e),
                other => SetupError::Profile {
                    cluster_id: cluster_id.clone(),
                    source: other,
                },
            })?;
        if profile.users.is_empty() {
            return ignored(format!("profile {} has no JupyterHub users", profile.name));
        }
        let users = &profile.users;

        // Passwords first, then their crypt hashes: the step's script reads
        // the hashes (nodes may read no plaintext password).
        let plaintext = secret_name(&profile.name);
        let (new_passwords_for, removed_users, passwords) = self
            .ensure_passwords(&plaintext, profile.name.as_str(), users)
            .await?;
        if !removed_users.is_empty() {
            warn!(%cluster_id, profile = %profile.name, ?removed_users, "users no longer in the profile lost their password (both secrets); the users step locks them and removes them from the hub");
        }
        let secret = hashes_secret_name(&profile.name);
        let hashes = write_hashes(&self.secrets, &profile.name, &passwords).await?;
        let user_names: Vec<String> = users.iter().map(UserName::to_string).collect();

        let name = step_name(users, &hashes);
        let steps = self.clusters.steps(&cluster_id).await?;
        match users_step(&steps, &name) {
            UsersStep::Add => {}
            UsersStep::AlreadyThere(step) => {
                info!(%cluster_id, step_id = %step.id, state = %step.state, "a users step for these users is already on the cluster");
                return Ok(Outcome::AlreadySetUp {
                    cluster_id,
                    profile: profile.name.to_string(),
                    step_id: step.id.clone(),
                    secret,
                    users: user_names,
                    removed_users,
                });
            }
            UsersStep::GaveUp { failed, tell } => {
                let last = failed[0];
                let log = last.log_file.clone().unwrap_or_else(|| {
                    let base = profile.log_location(&self.config.bucket).to_string();
                    let sep = if base.ends_with('/') { "" } else { "/" };
                    format!("{base}{sep}{cluster_id}/steps/{}/", last.id)
                });
                let reason = last
                    .failure_reason
                    .clone()
                    .unwrap_or_else(|| "EMR gives no reason".into());
                let failed_steps: Vec<String> = failed.iter().map(|s| s.id.clone()).collect();
                warn!(%cluster_id, profile = %profile.name, ?failed_steps, %reason, %log, "the users step failed {} times; no new one", failed.len());
                let notified = tell
                    && self
                        .tell_gave_up(
                            &cluster_id,
                            profile.name.as_str(),
                            &failed_steps,
                            &reason,
                            &log,
                        )
                        .await;
                return Ok(Outcome::GaveUp {
                    cluster_id,
                    profile: profile.name.to_string(),
                    failed_steps,
                    reason,
                    log,
                    notified,
                });
            }
        }

        let script = scripts::render_all(&profile)
            .into_iter()
            .find(|s| s.file_name == USERS_SCRIPT)
            .ok_or_else(|| SetupError::NoUsersScript(profile.name.to_string()))?;
        self.scripts
            .put_if_absent(&script.key, &script.body)
            .await?;
        let region = event.region.unwrap_or_else(|| self.config.region.clone());
        let script_uri = format!("s3://{}/{}", self.config.bucket, script.key);
        let step = users_step_config(users, &hashes, &script_uri, &secret, &region);
        let step_id = self.clusters.add_step(&cluster_id, &step).await?;
        info!(%cluster_id, profile = %profile.name, %step_id, users = ?user_names, ?new_passwords_for, "added the JupyterHub users step");
        Ok(Outcome::StepAdded {
            cluster_id,
            profile: profile.name.to_string(),
            step_id,
            secret,
            users: user_names,
            new_passwords_for,
            removed_users,
        })
    }

    /// Records the cluster's startup once (history record, the profile's
    /// startups, the metric; see [`crate::startup`]). Telemetry: a failure
    /// is logged and never keeps users from being set up.
    async fn note_startup(&self, cluster: &Cluster, profile: &ProfileName) {
        let (Some(created_at), Some(ready_at)) = (cluster.created_at, cluster.ready_at) else {
            warn!(cluster_id = %cluster.id, "EMR gives no creation or ready time; the startup is not recorded");
            return;
        };
        let ready_by = cluster.tags.get(TAG_READY_BY).and_then(|v| v.parse().ok());
        let record = StartupRecord::new(
            &cluster.id,
            &cluster.name,
            profile.as_str(),
            created_at,
            ready_at,
            ready_by,
        );
        if let Err(e) = self.startups.record_startup(&record).await {
            warn!(cluster_id = %cluster.id, error = %message_with_causes(&e), "startup history record not written");
        }
        let sample = StartupSample {
            cluster_id: cluster.id.clone(),
            created_at,
            ready_at,
        };
        // Read, add, write if unchanged; another cluster's write in between
        // makes it read again.
        let mut added = false;
        for _ in 0..5 {
            let read = match self.startups.read_startups(profile).await {
                Ok(read) => read,
                Err(e) => {
                    warn!(cluster_id = %cluster.id, error = %message_with_causes(&e), "the profile's startups could not be read");
                    return;
                }
            };
            let (version, current) = match &read {
                Some((v, body)) => (Some(v.as_str()), Startups::parse(body).unwrap_or_default()),
                None => (None, Startups::default()),
            };
            let Some(next) = current.with(sample.clone()) else {
                break; // counted on an earlier WAITING event
            };
            match self
                .startups
                .write_startups(profile, version, &next.to_json())
                .await
            {
                Ok(Some(_)) => {
                    added = true;
                    break;
                }
                Ok(None) => continue,
                Err(e) => {
                    warn!(cluster_id = %cluster.id, error = %message_with_causes(&e), "the profile's startups could not be written");
                    return;
                }
            }
        }
        if !added {
            return;
        }
        info!(cluster_id = %cluster.id, profile = %profile, seconds = record.seconds, "startup recorded");
        if let Err(e) = self
            .startups
            .publish_startup(profile, record.seconds, ready_at)
            .await
        {
            warn!(cluster_id = %cluster.id, error = %message_with_causes(&e), "startup metric not published");
        }
    }

    /// One message: which cluster, which users step, why it failed, where its
    /// log is. A failed notification is logged, not an error: the outcome
    /// says so.
    async fn tell_gave_up(
        &self,
        cluster_id: &str,
        profile: &str,
        failed_steps: &[String],
        reason: &str,
        log: &str,
    ) -> bool {
        let Some(notifier) = &self.notifier else {
            return false;
        };
        let subject = format!("sparkhub: JupyterHub users of {cluster_id} not set up");
        let message = format!(
            "sparkhub gave up setting up the JupyterHub users of EMR cluster {cluster_id} (profile {profile}).\n\
             The users step failed {} times ({}); no new one is added.\n\
             Last failure: {reason}\n\
             Its log: {log}\n\
             Fix the cause, then add the step again by hand or start a new cluster.\n",
            failed_steps.len(),
            failed_steps.join(", "),
        );
        // The operator's to fix: no user is named.
        match notifier.notify(&subject, &message, &[]).await {
            Ok(()) => true,
            Err(e) => {
                warn!(%cluster_id, error = %message_with_causes(&e), "notification failed");
                false
            }
        }
    }

    /// Makes sure every user has a password in the secret and no one else
    /// has; returns the users that got a new one, the users the profile no
    /// longer lists, and the passwords.
    #[allow(clippy::type_complexity)]
    async fn ensure_passwords(
        &self,
        secret: &str,
        profile: &str,
        users: &[UserName],
    ) -> Result<(Vec<String>, Vec<String>, BTreeMap<String, String>), SetupError> {
        let description =
            format!("sparkhub: JupyterHub passwords of profile {profile} (user -> password)");
        let (passwords, (added, removed)) =
            write_planned(&self.secrets, secret, &description, |existing| {
                let plan = plan_passwords(users, existing, self.password);
                let changed = plan.changes();
                (plan.passwords, changed, (plan.added, plan.removed))
            })
            .await?;
        Ok((added, removed, passwords))
    }
}

#[cfg(test)]
#[path = "handler_tests.rs"]
mod tests;
