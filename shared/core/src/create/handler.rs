//! The create-cluster handler: event → profile → plan → scripts → execution.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use crate::budget::{self, MonthSpend, Override};
use crate::history::BudgetOverrideRecord;
use crate::loading::load_profile;
use crate::ports::{
    BudgetLedger, ClusterDirectory, LeaseStore, ProfileStore, ScriptStore, Started, StartupHistory,
    Workflow,
};
use crate::profile::RawProfile;
use crate::render::{self, ClaimedCluster, Deployment, RunOptions, Tag, WorkflowInput};
use crate::settings::Settings;
use crate::startup::{self, Lead, Startups, TAG_READY_BY};
use crate::{Profile, ProfileName, S3Uri};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;
use tracing::{info, warn};

use crate::create::error::CreateError;
use crate::create::event_args;
use crate::create::limit::{
    self, Attempt, LEASE_MARGIN, Lease, TAG_EXECUTION, active_runs, lease_key,
};
use crate::create::matching;
use crate::create::pool::{self, PoolWait};
use crate::create::trigger::{self, Trigger, When, execution_name};

pub use crate::profile::DEFAULT_PIPELINE_LIMIT;

/// How far ahead a person may ask for a cluster to be ready.
const MAX_READY_BY_AHEAD: jiff::SignedDuration = jiff::SignedDuration::from_hours(7 * 24);

/// A claim recorded under the lease holds its cluster for this long even
/// before ListExecutions shows its run RUNNING.
const CLAIM_FRESH: jiff::SignedDuration = jiff::SignedDuration::from_mins(2);

/// How long an invocation waits for its profile's lease (held by another
/// invocation for the few calls of a count and a start) before it gives up
/// with a retryable error: `attempts` pauses of about `pause` (randomised
/// between half and one and a half times, so waiters do not move in step).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseWait {
    pub attempts: u32,
    pub pause: Duration,
}

impl Default for LeaseWait {
    /// About 30 s in all: well within the function's timeout, and far more
    /// than a count and a start take.
    fn default() -> Self {
        Self {
            attempts: 100,
            pause: Duration::from_millis(300),
        }
    }
}

impl LeaseWait {
    fn pause(&self, holder: &str, attempt: u32) -> Duration {
        let mut h = DefaultHasher::new();
        (holder, attempt).hash(&mut h);
        let base = self.pause.as_millis() as u64;
        Duration::from_millis(base / 2 + h.finish() % (base + 1))
    }
}

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
    /// `SPARKHUB_MAX_CONCURRENCY` (optional, default
    /// [`crate::settings::DEFAULT_MAX_CONCURRENCY`]): clusters
    /// described at once when the active clusters are counted.
    pub max_concurrency: usize,
}

impl Config {
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
            max_concurrency: env.max_concurrency().map_err(CreateError::Config)?,
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
        /// A `ready_by` run: when its workflow creates the cluster.
        #[serde(skip_serializing_if = "Option::is_none")]
        creates_cluster_at: Option<Timestamp>,
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

pub struct CreateCluster<P, S, W, C, L, H, G> {
    pub config: Config,
    /// Profiles' monthly spending, read before a run starts.
    pub budgets: G,
    /// The profiles' startup times, for `ready_by` runs.
    pub startups: H,
    pub profiles: P,
    pub scripts: S,
    pub workflow: W,
    pub clusters: C,
    /// The per-profile leases that serialise starts (see `crate::create::limit`).
    pub leases: L,
    pub lease_wait: LeaseWait,
    /// How long a pooled run waits for a cluster of its pool to be free.
    pub pool_wait: PoolWait,
    /// The clock, injected so tests are deterministic.
    pub now: fn() -> Timestamp,
    /// Waiting for a lease: the runtime's timer, injected so the core needs
    /// no async runtime.
    pub sleep: fn(Duration) -> futures::future::BoxFuture<'static, ()>,
}

/// A profile chosen for a run, with what the trigger adds to it.
struct Run {
    profile: Profile,
    run_id: String,
    object: Option<S3Uri>,
    /// The cluster must be ready by then.
    ready_by: Option<Timestamp>,
    /// The EventBridge event of an event-pattern trigger.
    event: Option<Value>,
    /// Start past a spent budget.
    override_budget: bool,
}

impl<P, S, W, C, L, H, G> CreateCluster<P, S, W, C, L, H, G>
where
    G: BudgetLedger + Sync,
    P: ProfileStore + Sync,
    S: ScriptStore + Sync,
    W: Workflow + Sync,
    C: ClusterDirectory + Sync,
    L: LeaseStore + Sync,
    H: StartupHistory + Sync,
{
    pub async fn handle(&self, event: Value) -> Result<Outcome, CreateError> {
        let run = self.resolve(trigger::parse(&event)?).await?;
        let profile = &run.profile;
        let execution_name = execution_name(&profile.name, &run.run_id);

        let in_bucket = profile.locations_in_sparkhub_bucket(&self.config.bucket);
        if !in_bucket.is_empty() {
            return Err(CreateError::LocationInSparkhubBucket {
                profile: profile.name.to_string(),
                bucket: self.config.bucket.clone(),
                locations: in_bucket,
            });
        }

        if let Some(execution_arn) = self.workflow.find_execution(&execution_name).await? {
            info!(profile = %profile.name, %execution_name, %execution_arn, "this trigger already started a run");
            return Ok(Outcome::AlreadyStarted {
                profile: profile.name.to_string(),
                execution_name,
                execution_arn,
            });
        }
        if let Some(b) = &profile.budget {
            self.check_budget(profile, b, &execution_name, run.override_budget)
                .await?;
        }

        // The invocation's steps, when it gave some, are the profile's now.
        let event_values = event_args::event_values(&profile.steps, run.event.as_ref())?;
        let mut plan = render::plan(
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
                event_values,
            },
        );
        // A pooled run's cluster says which configuration it has and that
        // this run holds it (see crate::create::pool).
        let pool_hash = profile
            .pool
            .as_ref()
            .map(|_| pool::config_hash(&plan.input.request));
        if let Some(hash) = &pool_hash {
            for (key, value) in [
                (pool::TAG_CONFIG_HASH, hash.clone()),
                (pool::TAG_CLAIMED_BY, execution_name.clone()),
                (pool::TAG_CLAIMED_AT, (self.now)().to_string()),
            ] {
                plan.input.request.tags.push(Tag {
                    key: key.into(),
                    value,
                });
            }
        }
        // The cluster names its run, so the count sees a run once.
        plan.input.request.tags.push(Tag {
            key: TAG_EXECUTION.into(),
            value: execution_name.clone(),
        });
        if let Some(ready_by) = run.ready_by {
            let lead = self.lead(&profile.name).await;
            // Whole seconds in UTC ("…Z"): what a Wait state's
            // TimestampPath takes.
            let start_at = Timestamp::from_second(lead.start_at(ready_by).as_second())
                .expect("an instant near now");
            info!(profile = %profile.name, %ready_by, %start_at, startup_p95_s = lead.startup.as_secs(), samples = lead.samples, "a ready_by run: the cluster is created at ready_by minus the startup p95 and the margin");
            // Already past: create it now, it is late by itself.
            if start_at > (self.now)() {
                plan.input.start_at = Some(start_at);
            }
            plan.input.request.tags.push(Tag {
                key: TAG_READY_BY.into(),
                value: ready_by.to_string(),
            });
        }
        for script in &plan.scripts {
            let uploaded = self
                .scripts
                .put_if_absent(&script.key, &script.body)
                .await?;
            info!(key = %script.key, uploaded, "script {}", if uploaded { "uploaded" } else { "unchanged" });
        }
        // Count and start under the profile's lease (see crate::create::limit);
        // a pooled run whose pool is busy waits for a cluster to be
        // released, the lease free meanwhile (see crate::create::pool).
        let mut attempt = 0;
        let outcome = loop {
            let mut lease = self.acquire(&profile.name, &execution_name).await?;
            let outcome = self
                .count_and_start(
                    &mut lease,
                    profile,
                    &plan.input.request.name,
                    &execution_name,
                    &plan.input,
                    pool_hash.as_deref(),
                )
                .await;
            if let Err(e) = limit::release(&self.leases, lease, (self.now)()).await {
                // The run's fate does not depend on it: the lease expires.
                warn!(profile = %profile.name, error = %e, "could not release the lease; it expires by itself");
            }
            attempt += 1;
            match &outcome {
                Ok(Outcome::Skipped { reason, .. })
                    if pool_hash.is_some() && attempt < self.pool_wait.attempts =>
                {
                    info!(profile = %profile.name, %execution_name, %reason, attempt, "every cluster of the pool is busy; waiting for one");
                    (self.sleep)(self.pool_wait.pause).await;
                }
                _ => break outcome,
            }
        };
        // A schedule or a manual start beyond the limit has nothing to do:
        // the clusters it would start are up. An object or an event that
        // arrives then still needs its run; it must not vanish with a log
        // line.
        let trigger = match (&run.object, &run.event) {
            (Some(object), _) => Some(object.to_string()),
            (None, Some(event)) => Some(format!(
                "event {}",
                event
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or("(without an id)")
            )),
            (None, None) => None,
        };
        match (outcome, trigger) {
            (Ok(Outcome::Skipped { reason, .. }), Some(run)) => {
                Err(CreateError::LimitReached { run, reason })
            }
            (
                Ok(Outcome::Started {
                    profile,
                    execution_name,
                    execution_arn,
                    ..
                }),
                _,
            ) => Ok(Outcome::Started {
                profile,
                execution_name,
                execution_arn,
                creates_cluster_at: plan.input.start_at,
            }),
            (outcome, _) => outcome,
        }
    }

    /// Refuses a run of a profile whose budget for this month is spent,
    /// unless the invocation overrides it: then the override is logged,
    /// kept in the month's object and recorded in the history.
    async fn check_budget(
        &self,
        profile: &Profile,
        b: &crate::profile::Budget,
        execution_name: &str,
        override_budget: bool,
    ) -> Result<(), CreateError> {
        let now = (self.now)();
        let month = budget::month_of(now);
        for _ in 0..5 {
            let read = self.budgets.read_month(&profile.name, &month).await?;
            let (version, spend) = match &read {
                Some((v, body)) => (Some(v.as_str()), MonthSpend::parse(body)),
                None => (None, None),
            };
            let Some(reason) = budget::refusal(spend.as_ref(), b.monthly_usd) else {
                return Ok(());
            };
            if !override_budget {
                warn!(profile = %profile.name, %reason, "refused: the budget is spent");
                return Err(CreateError::BudgetSpent {
                    profile: profile.name.to_string(),
                    reason,
                });
            }
            let mut spend = spend.unwrap_or_else(|| MonthSpend::new(&profile.name, &month, now));
            let spent = spend.spent();
            // A retried delivery of the same run overrides once.
            if spend
                .overrides
                .iter()
                .any(|o| o.execution == execution_name)
            {
                return Ok(());
            }
            spend.overrides.push(Override {
                execution: execution_name.to_owned(),
                at: now,
            });
            if self
                .budgets
                .write_month(&profile.name, &month, version, &spend.to_json())
                .await?
                .is_none()
            {
                continue;
            }
            warn!(profile = %profile.name, %execution_name, %reason, "the budget is spent; starting anyway, as the invocation asked (override_budget)");
            let record = BudgetOverrideRecord {
                version: crate::history::RECORD_VERSION,
                kind: crate::history::BUDGET_OVERRIDE_KIND.into(),
                profile: profile.name.to_string(),
                execution: execution_name.to_owned(),
                budget_usd: b.monthly_usd,
                spent_usd: spent,
                recorded_at: now,
            };
            if let Err(e) = self.budgets.record_override(&record).await {
                warn!(profile = %profile.name, error = %e, "the override's history record was not written; the month's object keeps it");
            }
            return Ok(());
        }
        Err(CreateError::Busy {
            profile: profile.name.to_string(),
            holder: "the idle sweep, updating the budget estimate".into(),
            key: budget::month_key(&profile.name, &month),
        })
    }

    /// The profile's lead from its startups; the default when they cannot
    /// be read (logged: a run is not refused for its telemetry).
    async fn lead(&self, profile: &ProfileName) -> Lead {
        let startups = match self.startups.read_startups(profile).await {
            Ok(Some((_, body))) => Startups::parse(&body).unwrap_or_default(),
            Ok(None) => Startups::default(),
            Err(e) => {
                warn!(profile = %profile, error = %e, "the profile's startup times could not be read; planning with the default");
                Startups::default()
            }
        };
        startup::lead(&startups)
    }

    /// Takes the profile's lease, waiting while another invocation holds it.
    async fn acquire(&self, profile: &ProfileName, holder: &str) -> Result<Lease, CreateError> {
        let key = lease_key(profile);
        let mut other = None;
        for attempt in 0..self.lease_wait.attempts.max(1) {
            match limit::try_acquire(&self.leases, &key, holder, (self.now)()).await? {
                Attempt::Acquired(lease) => return Ok(lease),
                Attempt::Busy { holder: h, .. } => {
                    other = h.or(other);
                    (self.sleep)(self.lease_wait.pause(holder, attempt)).await;
                }
            }
        }
        Err(CreateError::Busy {
            profile: profile.to_string(),
            holder: other.unwrap_or_else(|| "unknown".into()),
            key,
        })
    }

    /// Under the lease: a pooled run first claims a free cluster of its
    /// pool; otherwise the profile's active runs against its limit, then
    /// the start.
    async fn count_and_start(
        &self,
        lease: &mut Lease,
        profile: &Profile,
        cluster_name: &str,
        execution_name: &str,
        input: &WorkflowInput,
        pool_hash: Option<&str>,
    ) -> Result<Outcome, CreateError> {
        let clusters = self.clusters.active_clusters(cluster_name).await?;
        let running = self.workflow.running_executions().await?;
        let already = running.iter().any(|n| n == execution_name)
            || lease
                .body
                .started
                .iter()
                .any(|s| s.execution == execution_name);
        if already && let Some(execution_arn) = self.workflow.find_execution(execution_name).await?
        {
            info!(profile = %profile.name, %execution_name, "a concurrent delivery of this trigger started the run");
            return Ok(Outcome::AlreadyStarted {
                profile: profile.name.to_string(),
                execution_name: execution_name.to_owned(),
                execution_arn,
            });
        }
        // A start of this very execution recorded earlier (a delivery that
        // died in StartExecution) is not another run: the name makes a
        // second start of it the same execution.
        let others: Vec<_> = lease
            .body
            .started
            .iter()
            .filter(|s| s.execution != execution_name)
            .cloned()
            .collect();
        if let Some(hash) = pool_hash {
            let now = (self.now)();
            let holders = pool::Holders {
                live: running
                    .iter()
                    .cloned()
                    .chain(others.iter().map(|s| s.execution.clone()))
                    .collect(),
                // A claim recorded under the lease holds while its run is
                // RUNNING, or for its first minutes (ListExecutions lags).
                clusters: others
                    .iter()
                    .filter(|s| {
                        running.contains(&s.execution) || now.duration_since(s.at) < CLAIM_FRESH
                    })
                    .filter_map(|s| s.cluster.clone())
                    .collect(),
            };
            let max_lifetime =
                jiff::SignedDuration::from_hours(i64::from(profile.idle.max_lifetime_hours));
            if let Some(cluster) = pool::claimable(
                &clusters,
                profile.name.as_str(),
                hash,
                &holders,
                max_lifetime,
                now,
            ) {
                match self.clusters.claim(&cluster.id, execution_name, now).await {
                    Ok(()) => {
                        info!(profile = %profile.name, %execution_name, cluster_id = %cluster.id, "claimed a waiting cluster of the pool");
                        let claimed = WorkflowInput {
                            claimed: true,
                            cluster: Some(ClaimedCluster {
                                cluster_id: cluster.id.clone(),
                            }),
                            ..input.clone()
                        };
                        let json =
                            serde_json::to_string(&claimed).expect("the workflow input serializes");
                        return self
                            .start_recorded(
                                lease,
                                profile,
                                execution_name,
                                &json,
                                Some(&cluster.id),
                            )
                            .await;
                    }
                    // Gone or refused since it was listed: the pool's
                    // count decides as if it had not been there.
                    Err(e) => {
                        warn!(profile = %profile.name, cluster_id = %cluster.id, error = %e, "could not claim a waiting cluster; counting the pool without it")
                    }
                }
            }
        }
        let active = active_runs(&profile.name, &clusters, &running, &others);
        if let Some(reason) = limit::at_limit(profile, &active) {
            info!(profile = %profile.name, %reason, "skipped");
            return Ok(Outcome::Skipped {
                profile: profile.name.to_string(),
                reason,
            });
        }
        let json = serde_json::to_string(input).expect("the workflow input serializes");
        self.start_recorded(lease, profile, execution_name, &json, None)
            .await
    }

    /// Records the start in the lease, then starts the execution, waiting
    /// for it no longer than the lease holds.
    async fn start_recorded(
        &self,
        lease: &mut Lease,
        profile: &Profile,
        execution_name: &str,
        input: &str,
        claimed: Option<&str>,
    ) -> Result<Outcome, CreateError> {
        let lost = CreateError::Busy {
            profile: profile.name.to_string(),
            holder: format!("{execution_name}, whose own lease ran out while it counted"),
            key: lease.key.clone(),
        };
        let now = (self.now)();
        // Written down before it is made (see crate::create::limit): if this
        // invocation dies in StartExecution, or the call outlives the lease,
        // whoever takes the lease over counts this start.
        if !lease.still_held(now)
            || !limit::record_claim(&self.leases, lease, execution_name, claimed, now).await?
        {
            return Err(lost);
        }
        // And not waited for beyond the lease: past it, another invocation
        // may be counting (and would count this start).
        let deadline = lease.body.expires_at.unwrap_or(now) - LEASE_MARGIN;
        let wait = Duration::try_from(deadline.duration_since((self.now)())).unwrap_or_default();
        let start = std::pin::pin!(self.workflow.start_execution(execution_name, input));
        let started = match futures::future::select(start, (self.sleep)(wait)).await {
            futures::future::Either::Left((Ok(started), _)) => started,
            // Refused outright, it will never run; any other failure may
            // have started it, and its record stays.
            futures::future::Either::Left((Err(e), _)) => {
                if !e.retryable {
                    lease.forget_start(execution_name);
                }
                return Err(e.into());
            }
            futures::future::Either::Right(_) => {
                warn!(profile = %profile.name, %execution_name, waited_ms = wait.as_millis() as u64, "StartExecution did not answer before the lease would end; its start stays recorded");
                return Err(CreateError::StartTimedOut {
                    profile: profile.name.to_string(),
                    execution_name: execution_name.to_owned(),
                    waited: wait,
                });
            }
        };
        let outcome = match started {
            Started::New(execution_arn) => {
                info!(profile = %profile.name, %execution_name, %execution_arn, "started a cluster run");
                Outcome::Started {
                    profile: profile.name.to_string(),
                    execution_name: execution_name.to_owned(),
                    execution_arn,
                    creates_cluster_at: None,
                }
            }
            Started::AlreadyExisted(execution_arn) => {
                info!(profile = %profile.name, %execution_name, "a concurrent delivery of this trigger started the run");
                Outcome::AlreadyStarted {
                    profile: profile.name.to_string(),
                    execution_name: execution_name.to_owned(),
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
                when,
                event,
                override_budget,
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
                let ready_by = match when {
                    When::Now => None,
                    // A run waiting in the workflow counts against the
                    // profile's limit: no more than a week ahead.
                    When::ReadyBy(t) if t > (self.now)() + MAX_READY_BY_AHEAD => {
                        return Err(CreateError::BadEvent(format!(
                            "\"ready_by\": {t} is more than {} days ahead; a waiting run counts as one of the profile's active clusters, so start it closer to the day",
                            MAX_READY_BY_AHEAD.as_hours() / 24
                        )));
                    }
                    When::ReadyBy(t) => Some(t),
                    // Only a ready_by schedule fires early; a plain cron's
                    // run starts when it fires.
                    When::Scheduled(t) => loaded
                        .schedule
                        .as_ref()
                        .filter(|s| s.is_ready_by())
                        .map(|_| t + crate::profile::READY_BY_SCHEDULE_LEAD),
                };
                Ok(Run {
                    profile: loaded,
                    run_id,
                    object: None,
                    ready_by,
                    event,
                    override_budget,
                })
            }
            Trigger::Scheduled { event_id, profile } => Ok(Run {
                profile: self.load(&profile, |_| {}).await?,
                run_id: event_id,
                object: None,
                ready_by: None,
                event: None,
                override_budget: false,
            }),
            Trigger::ObjectCreated {
                event_id,
                bucket,
                key,
            } => {
                let profile = self.profile_for_object(&bucket, key.as_str()).await?;
                // The bucket is a trigger's, validated with its profile.
                Ok(Run {
                    profile,
                    run_id: event_id,
                    object: Some(S3Uri::new(&bucket, key.as_str())),
                    ready_by: None,
                    event: None,
                    override_budget: false,
                })
            }
        }
    }

    async fn load(
        &self,
        name: &ProfileName,
        adjust: impl FnOnce(&mut RawProfile),
    ) -> Result<Profile, CreateError> {
        Ok(load_profile(&self.profiles, name, adjust).await?)
    }

    /// The one valid profile whose triggers match the object. Profiles that
    /// cannot be read are logged and passed over: one broken profile must not
    /// stop every other pipeline.
    async fn profile_for_object(&self, bucket: &str, key: &str) -> Result<Profile, CreateError> {
        let mut usable = Vec::new();
        for name in self.profiles.list_profiles().await? {
            let Ok(parsed) = ProfileName::parse(&name) else {
                warn!(profile = %name, "ignoring a profile file whose name is not a valid profile name");
                continue;
            };
            match self.load(&parsed, |_| {}).await {
                Ok(profile) => usable.push(profile),
                Err(CreateError::Aws(e)) => return Err(CreateError::Aws(e)),
                Err(e) => {
                    warn!(profile = %name, error = %e, "ignoring a profile that cannot be used")
                }
            }
        }
        matching::profile_for_object(usable, bucket, key)
    }
}

#[cfg(test)]
#[path = "handler_tests.rs"]
mod tests;
