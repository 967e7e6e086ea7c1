use aws_config::BehaviorVersion;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;
use setup_jupyter_users::{Config, SetupUsers, topic_arn_from_env};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let topic_arn = topic_arn_from_env();
    let handler = SetupUsers::with_aws(config, &aws).notifying(topic_arn.as_deref(), &aws);
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let outcome = handler
            .handle(event.payload)
            .await
            .map_err(Diagnostic::from)?;
        Ok::<_, Diagnostic>(serde_json::to_value(outcome).expect("an outcome serializes"))
    }))
    .await
}
