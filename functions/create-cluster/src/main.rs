//! create-cluster: starts the cluster workflow for a profile — from an
//! EventBridge Scheduler target or manual invoke (`{"profile": ...}`), an
//! EventBridge rule's "Scheduled Event", or an S3 "Object Created" event —
//! exactly once per trigger. The use case is `sparkhub_core::create`.

use sparkhub_core::create::Config;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    sparkhub_aws::lambda::run(
        Config::from_lookup,
        sparkhub_aws::create_cluster,
        |handler, event, _function| async move {
            let outcome = handler.handle(event).await?;
            Ok(serde_json::to_value(outcome).expect("an outcome serializes"))
        },
    )
    .await
}
