//! setup-jupyter-users' errors and their `errorType`s.

use crate::errors::Failure;
use crate::loading::ProfileError;
use crate::ports::AwsError;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("bad event: {0}")]
    BadEvent(String),
    #[error("cluster {cluster_id}: {source}")]
    Profile {
        cluster_id: String,
        #[source]
        source: ProfileError,
    },
    #[error("the users script is missing from the rendered scripts of profile {0}")]
    NoUsersScript(String),
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl Failure for SetupError {
    fn error_type(&self) -> &'static str {
        match self {
            Self::Config(_) => "sparkhub.Config",
            Self::BadEvent(_) => "sparkhub.BadEvent",
            Self::Profile {
                source: ProfileError::NotFound { .. },
                ..
            } => "sparkhub.ProfileNotFound",
            Self::Profile { .. } => "sparkhub.InvalidProfile",
            Self::NoUsersScript(_) => "sparkhub.Internal",
            Self::Aws(e) if e.retryable => "sparkhub.Retryable",
            Self::Aws(_) => "sparkhub.AwsError",
        }
    }
}
