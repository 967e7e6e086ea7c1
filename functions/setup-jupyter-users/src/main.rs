//! setup-jupyter-users: when a sparkhub cluster reaches WAITING, every
//! JupyterHub user of its profile gets a generated password (kept in Secrets
//! Manager, never overwritten) and one EMR step creates the users on the hub.
//! The use case is `sparkhub_core::setup`.

use sparkhub_core::setup::Config;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    sparkhub_aws::lambda::run(
        Config::from_lookup,
        sparkhub_aws::setup_users,
        |handler, event, _function| async move {
            let outcome = handler.handle(event).await?;
            Ok(serde_json::to_value(outcome).expect("an outcome serializes"))
        },
    )
    .await
}
