use aws_config::BehaviorVersion;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;
use terminate_idle_clusters::{Config, Terminator};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let terminator = Terminator::with_aws(config, &aws);
    let terminator = &terminator;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        let summary = terminator.sweep().await.map_err(Diagnostic::from)?;
        // CloudWatch embedded metric format: Lambda turns this line into metrics.
        println!("{}", summary.embedded_metrics((terminator.now)()));
        Ok::<_, Diagnostic>(serde_json::to_value(summary).expect("a summary serializes"))
    }))
    .await
}
