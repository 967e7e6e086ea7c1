//! create-cluster's errors, and how they reach Lambda (and so EventBridge and
//! Scheduler retry policies) as a [`crate::errors::Reported`].

use crate::errors::Failure;
use crate::loading::ProfileError;
use crate::ports::AwsError;

use crate::create::object_key::KeyError;

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("bad event: {0}")]
    BadEvent(String),
    #[error(transparent)]
    Profile(ProfileError),
    #[error(
        "no profile has a trigger for s3://{bucket}/{key}; add a [[triggers]] entry to the profile that should run"
    )]
    NoMatchingTrigger { bucket: String, key: String },
    #[error(
        "s3://{bucket}/{key} matches the triggers of several profiles ({profiles}); make their prefixes disjoint"
    )]
    AmbiguousTrigger {
        bucket: String,
        key: String,
        profiles: String,
    },
    #[error("refusing s3://{bucket}/{key}: {reason}; rename the object (the run was not started)")]
    UnsafeObjectKey {
        bucket: String,
        key: String,
        #[source]
        reason: KeyError,
    },
    #[error(
        "another invocation ({holder}) is starting a run of profile {profile} and held its lease ({key}) for longer than this one waited; this is transient, the event can be retried"
    )]
    Busy {
        profile: String,
        holder: String,
        key: String,
    },
    /// StartExecution did not answer while the lease still held; the start
    /// is recorded in the lease, so it counts whether or not it happened.
    #[error(
        "Step Functions did not answer StartExecution of {execution_name} within {} s, before this invocation's lease on profile {profile} would end; the start is recorded in the lease and counts as active; this is transient, the event can be retried (a retry finds the execution if it was started)",
        waited.as_secs()
    )]
    StartTimedOut {
        profile: String,
        execution_name: String,
        waited: std::time::Duration,
    },
    /// An object arrived while the profile ran as many clusters as it may:
    /// an error, not a quiet skip, so that Lambda retries the event and then
    /// keeps it in the failed-invocations queue, where it can be sent again.
    #[error(
        "{run} was not processed: {reason}; Lambda retries this event and then keeps it in the stack's failed-invocations queue (FailedInvocationsQueueUrl), from where it can be sent again once a run has finished"
    )]
    LimitReached { run: String, reason: String },
    /// The profile's monthly budget is spent.
    #[error(
        "profile {profile}: no new cluster, {reason}. Raise [budget] monthly_usd, wait for the next month, or start a run by hand with \"override_budget\": true (logged and recorded in the history)"
    )]
    BudgetSpent { profile: String, reason: String },
    /// A `{event:<path>}` step argument the event cannot fill safely.
    #[error("step {step:?}: {{event:{path}}}: {reason}; the run was not started")]
    UnsafeEventValue {
        step: String,
        path: String,
        reason: String,
    },
    #[error(
        "profile {profile}: {} lie(s) in the sparkhub bucket {bucket}, which holds every profile's scripts, leases, history, logs and notebooks; its nodes (and every notebook user on them) would reach them. Leave log_uri unset (logs go to s3://{bucket}/logs/{profile}/) and keep [access] and [[triggers]] in other buckets. The run was not started",
        .locations.iter().map(|(field, uri)| format!("{field} = {uri}")).collect::<Vec<_>>().join(", ")
    )]
    LocationInSparkhubBucket {
        profile: String,
        bucket: String,
        locations: Vec<(String, String)>,
    },
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl From<ProfileError> for CreateError {
    fn from(error: ProfileError) -> Self {
        match error {
            ProfileError::Aws(e) => Self::Aws(e),
            other => Self::Profile(other),
        }
    }
}

impl CreateError {
    /// Whether the same event may succeed later: AWS failures that the SDK
    /// classified transient (throttling, 5xx, timeouts), a profile whose
    /// lease another invocation held for longer than this one waited, a
    /// StartExecution that did not answer before the lease would end, and an
    /// object that arrived while its profile was at its cluster limit.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Aws(e) if e.retryable)
            || matches!(
                self,
                Self::Busy { .. } | Self::StartTimedOut { .. } | Self::LimitReached { .. }
            )
    }
}

impl Failure for CreateError {
    /// The `errorType` Lambda reports.
    fn error_type(&self) -> &'static str {
        match self {
            Self::Config(_) => "sparkhub.Config",
            Self::BadEvent(_) => "sparkhub.BadEvent",
            Self::Profile(ProfileError::NotFound { .. }) => "sparkhub.ProfileNotFound",
            Self::Profile(_) | Self::LocationInSparkhubBucket { .. } => "sparkhub.InvalidProfile",
            Self::NoMatchingTrigger { .. } => "sparkhub.NoMatchingTrigger",
            Self::AmbiguousTrigger { .. } => "sparkhub.AmbiguousTrigger",
            Self::UnsafeObjectKey { .. } => "sparkhub.UnsafeObjectKey",
            Self::UnsafeEventValue { .. } => "sparkhub.UnsafeEventValue",
            Self::BudgetSpent { .. } => "sparkhub.BudgetSpent",
            Self::Busy { .. } | Self::StartTimedOut { .. } => "sparkhub.Retryable",
            Self::LimitReached { .. } => "sparkhub.LimitReached",
            Self::Aws(e) if e.retryable => "sparkhub.Retryable",
            Self::Aws(_) => "sparkhub.AwsError",
        }
    }
}
