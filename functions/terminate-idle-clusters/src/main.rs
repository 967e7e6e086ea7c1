use aws_config::BehaviorVersion;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;
use sparkhub_shared::aws::{CloudWatch, Emr, S3Bucket, Sns};
use terminate_idle_clusters::{Config, Terminator};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let terminator = Terminator {
        profiles: S3Bucket::new(aws_sdk_s3::Client::new(&aws), &config.bucket),
        fleet: Emr::new(aws_sdk_emr::Client::new(&aws)),
        metrics: CloudWatch::new(aws_sdk_cloudwatch::Client::new(&aws)),
        notifier: config
            .topic_arn
            .as_ref()
            .map(|arn| Sns::new(aws_sdk_sns::Client::new(&aws), arn)),
        now: jiff::Timestamp::now,
        config,
    };
    let terminator = &terminator;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        let summary = terminator.sweep().await.map_err(Diagnostic::from)?;
        // CloudWatch embedded metric format: Lambda turns this line into metrics.
        println!("{}", summary.embedded_metrics((terminator.now)()));
        Ok::<_, Diagnostic>(serde_json::to_value(summary).expect("a summary serializes"))
    }))
    .await
}
