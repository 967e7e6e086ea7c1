//! terminate-idle-clusters: every five minutes, and at the one-time checks
//! a sweep schedules, terminates the managed EMR clusters nobody uses. The
//! use case is `sparkhub_core::sweep`.

use sparkhub_core::sweep::SweepEvent;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    sparkhub_aws::lambda::run(
        sparkhub_core::sweep::Config::from_lookup,
        sparkhub_aws::terminator,
        |terminator, event, function_arn| async move {
            // The schedule's event has no `check`: a sweep over every cluster.
            let event: SweepEvent = serde_json::from_value(event).unwrap_or_default();
            let summary = terminator.run(&event, Some(&function_arn)).await?;
            // CloudWatch embedded metric format: Lambda turns these lines into metrics.
            for line in summary.metric_lines((terminator.now)()) {
                println!("{line}");
            }
            Ok(serde_json::to_value(summary).expect("a summary serializes"))
        },
    )
    .await
}
