//! create-cluster's errors, and how they reach Lambda (and so EventBridge and
//! Scheduler retry policies) as a `Diagnostic`.

use lambda_runtime::Diagnostic;
use sparkhub_shared::ValidationErrors;
use sparkhub_shared::ports::AwsError;

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("bad event: {0}")]
    BadEvent(String),
    #[error(
        "profile {name:?} not found at {location}; upload it there (see profiles/ for examples)"
    )]
    ProfileNotFound { name: String, location: String },
    #[error("profile at {location} cannot be read: {message}")]
    ProfileUnreadable { location: String, message: String },
    #[error("profile at {location} is invalid:\n{errors}")]
    ProfileInvalid {
        location: String,
        errors: ValidationErrors,
    },
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
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl CreateError {
    /// Whether the same event may succeed later. Only AWS failures that the
    /// SDK classified transient (throttling, 5xx, timeouts) are.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Aws(e) if e.retryable)
    }

    /// The `errorType` Lambda reports.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Config(_) => "sparkhub.Config",
            Self::BadEvent(_) => "sparkhub.BadEvent",
            Self::ProfileNotFound { .. } => "sparkhub.ProfileNotFound",
            Self::ProfileUnreadable { .. } | Self::ProfileInvalid { .. } => {
                "sparkhub.InvalidProfile"
            }
            Self::NoMatchingTrigger { .. } => "sparkhub.NoMatchingTrigger",
            Self::AmbiguousTrigger { .. } => "sparkhub.AmbiguousTrigger",
            Self::Aws(e) if e.retryable => "sparkhub.Retryable",
            Self::Aws(_) => "sparkhub.AwsError",
        }
    }
}

/// The message with every cause in the chain, e.g. the SDK's service error.
pub fn message_with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

impl From<CreateError> for Diagnostic {
    fn from(error: CreateError) -> Self {
        Diagnostic {
            error_type: error.error_type().to_owned(),
            error_message: message_with_causes(&error),
        }
    }
}
