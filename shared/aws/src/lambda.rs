//! The one way every sparkhub function runs in Lambda: its settings read
//! from the environment, the SDK's configuration loaded once, each event
//! handed to the use case, and an error answered as a `Diagnostic` with the
//! `errorType` of [`Failure`] and its message with causes.

use std::future::Future;
use std::pin::Pin;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;
use sparkhub_core::errors::{Failure, Reported};

/// The function's environment, as the core's `Settings` read it.
pub fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// Lambda's answer for a failure.
pub fn diagnostic(error: impl Failure) -> Diagnostic {
    let Reported {
        error_type,
        error_message,
    } = Reported::from(error);
    Diagnostic {
        error_type,
        error_message,
    }
}

/// Reads the configuration with `config` (an error here fails the init
/// phase, and Lambda reports it), builds the use case with `build`, and
/// serves every event with `handle` (the event, and the ARN the function
/// was invoked by).
pub async fn run<C, E, H, F, Fut>(
    config: impl FnOnce(fn(&str) -> Option<String>) -> Result<C, E>,
    build: impl FnOnce(C, &aws_config::SdkConfig) -> H,
    handle: F,
) -> Result<(), lambda_runtime::Error>
where
    E: Failure + Send + Sync,
    H: Sync + 'static,
    F: Fn(&'static H, Value, String) -> Fut,
    Fut: Future<Output = Result<Value, E>> + 'static,
{
    lambda_runtime::tracing::init_default_subscriber();
    let config = config(env).map_err(|e| Box::new(e) as lambda_runtime::Error)?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    // Lives as long as the process: every event borrows it.
    let handler: &'static H = Box::leak(Box::new(build(config, &aws)));
    let handle = &handle;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Boxed: the use case's future nested in the runtime's is deeper
        // than rustc's default layout query limit.
        let answer: Pin<Box<dyn Future<Output = Result<Value, E>>>> = Box::pin(handle(
            handler,
            event.payload,
            event.context.invoked_function_arn,
        ));
        answer.await.map_err(diagnostic)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use sparkhub_core::ports::AwsError;
    use sparkhub_core::sweep::SweepError;

    /// What Lambda, and so the retry policies and alarms, see of a failure:
    /// its errorType and its message with the causes the message lacks.
    #[test]
    fn a_failure_becomes_a_diagnostic_with_its_type_and_causes() {
        let listing = AwsError::new(
            "EMR ListClusters",
            true,
            Some("ThrottlingException".into()),
            std::io::Error::other("Rate exceeded"),
        );
        let d = diagnostic(SweepError::Listing(listing));
        assert_eq!(d.error_type, "sparkhub.Retryable");
        assert!(
            d.error_message
                .starts_with("listing the clusters failed, nothing was terminated")
                && d.error_message.contains("ThrottlingException")
                && d.error_message.ends_with("Rate exceeded"),
            "{}",
            d.error_message
        );
        let d = diagnostic(SweepError::Config("SPARKHUB_BUCKET is not set".into()));
        assert_eq!(d.error_type, "sparkhub.Config");
        assert_eq!(d.error_message, "configuration: SPARKHUB_BUCKET is not set");
    }
}
