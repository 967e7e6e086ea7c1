use aws_config::BehaviorVersion;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;
use setup_jupyter_users::{Config, SetupUsers};
use sparkhub_shared::aws::{Emr, S3Bucket, SecretsManager};
use sparkhub_shared::users::random_password;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let bucket = S3Bucket::new(aws_sdk_s3::Client::new(&aws), &config.bucket);
    let handler = SetupUsers {
        profiles: bucket.clone(),
        scripts: bucket,
        secrets: SecretsManager::new(aws_sdk_secretsmanager::Client::new(&aws)),
        clusters: Emr::new(aws_sdk_emr::Client::new(&aws)),
        password: random_password,
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
