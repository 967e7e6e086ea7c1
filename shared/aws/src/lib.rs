//! The ports of `sparkhub_core::ports`, implemented with the AWS SDK. Thin on
//! purpose: one SDK call (or one paginated listing) per method, errors kept as
//! the source of an [`AwsError`] and classified retryable or not. Retries of
//! throttling and transient errors happen inside the SDK (standard retry mode);
//! the classification tells the caller what is left after those.

//!
//! One module per AWS service (as the SDK splits its crates): [`s3`], [`emr`],
//! [`sfn`], [`cloudwatch`], [`sns`], [`secrets`], [`scheduler`], [`pricing`];
//! [`startups`] combines S3 and CloudWatch. With the feature `operator`
//! (the CLI's): `cloudformation`, `iam`, `invoke` (Lambda) and `sts`. Their adapters are re-exported
//! here (`sparkhub_aws::Emr`, `sparkhub_aws::S3Bucket`, ...).

pub mod budgets;
#[cfg(feature = "operator")]
pub mod cloudformation;
pub mod cloudwatch;
pub mod emr;
#[cfg(feature = "operator")]
pub mod iam;
#[cfg(feature = "operator")]
pub mod invoke;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod operator;
pub mod pricing;
pub mod s3;
pub mod scheduler;
pub mod secrets;
pub mod sfn;
pub mod sns;
pub mod startups;
#[cfg(feature = "operator")]
pub mod sts;
mod wiring;

#[cfg(feature = "operator")]
pub use cloudformation::CloudFormation;
pub use cloudwatch::{CLUSTERS_PER_METRICS_CALL, CloudWatch};
pub use emr::Emr;
#[cfg(feature = "operator")]
pub use iam::Iam;
#[cfg(feature = "operator")]
pub use invoke::LambdaFunctions;
pub use s3::S3Bucket;
pub use secrets::SecretsManager;
pub use sfn::StepFunctions;
pub use sns::Sns;
#[cfg(feature = "operator")]
pub use sts::Sts;
pub use wiring::{
    AwsCreateCluster, AwsSetupUsers, AwsTerminator, create_cluster, setup_users, terminator,
};

pub(crate) use s3::conditional_put;

use std::error::Error;

use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use sparkhub_core::ports::AwsError;

/// Classifies an SDK error: timeouts, connection failures, 5xx, 429 and the
/// SDK's own throttling and transient codes are retryable; the rest is not.
/// A dispatch failure that is neither IO nor a timeout (no credentials, a
/// missing region: the request was never sent) is not retryable either.
pub fn aws_error<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
{
    let code = err.code().map(str::to_owned);
    let retryable = match &err {
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::DispatchFailure(failure) => failure.is_io() || failure.is_timeout(),
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

/// An SDK timestamp as jiff's (`None` when out of jiff's range).
pub fn to_jiff(t: &aws_smithy_types::DateTime) -> Option<jiff::Timestamp> {
    jiff::Timestamp::new(t.secs(), t.subsec_nanos() as i32).ok()
}

pub(crate) fn to_smithy(t: jiff::Timestamp) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs(t.as_second())
}

#[cfg(test)]
#[path = "aws_tests.rs"]
mod tests;
