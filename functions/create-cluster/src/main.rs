use aws_config::BehaviorVersion;
use create_cluster::{Config, CreateCluster};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;
use sparkhub_shared::aws::{Emr, S3Bucket, StepFunctions};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let bucket = S3Bucket::new(aws_sdk_s3::Client::new(&aws), &config.bucket);
    let handler = CreateCluster {
        profiles: bucket.clone(),
        scripts: bucket,
        workflow: StepFunctions::new(aws_sdk_sfn::Client::new(&aws), &config.state_machine_arn),
        clusters: Emr::new(aws_sdk_emr::Client::new(&aws)),
        now: jiff::Timestamp::now,
        config,
    };
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
