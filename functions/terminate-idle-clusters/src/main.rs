//! terminate-idle-clusters: every five minutes, terminates the managed EMR
//! clusters nobody uses. The use case is `sparkhub_core::sweep`.

use sparkhub_core::sweep::Config;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    sparkhub_aws::lambda::run(
        Config::from_lookup,
        sparkhub_aws::terminator,
        |terminator, _event| async move {
            let summary = terminator.sweep().await?;
            // CloudWatch embedded metric format: Lambda turns these lines into metrics.
            for line in summary.metric_lines((terminator.now)()) {
                println!("{line}");
            }
            Ok(serde_json::to_value(summary).expect("a summary serializes"))
        },
    )
    .await
}
