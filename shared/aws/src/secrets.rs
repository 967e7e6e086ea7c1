//! Secrets Manager: the profiles' password secrets.

use std::collections::BTreeMap;

use sparkhub_core::ports::{AwsError, SecretStore};

use crate::aws_error;

/// Secrets Manager secrets holding a JSON object of strings.
#[derive(Debug, Clone)]
pub struct SecretsManager {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManager {
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }
}

fn to_json(value: &BTreeMap<String, String>) -> String {
    serde_json::to_string(value).expect("a map of strings serializes")
}

impl SecretStore for SecretsManager {
    async fn read(&self, name: &str) -> Result<Option<BTreeMap<String, String>>, AwsError> {
        let out = match self.client.get_secret_value().secret_id(name).send().await {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(aws_error("Secrets Manager GetSecretValue", e)),
        };
        let text = out.secret_string().unwrap_or("{}");
        // The parse error names a position and a kind, never the content.
        sparkhub_core::users::parse_passwords(text)
            .map(Some)
            .map_err(|e| {
                AwsError::new(
                    "Secrets Manager GetSecretValue",
                    false,
                    Some("SecretIsNotAJsonObjectOfStrings".into()),
                    e,
                )
            })
    }

    async fn create(
        &self,
        name: &str,
        description: &str,
        value: &BTreeMap<String, String>,
    ) -> Result<bool, AwsError> {
        match self
            .client
            .create_secret()
            .name(name)
            .description(description)
            .secret_string(to_json(value))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_exists_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(aws_error("Secrets Manager CreateSecret", e)),
        }
    }

    async fn update(&self, name: &str, value: &BTreeMap<String, String>) -> Result<(), AwsError> {
        self.client
            .put_secret_value()
            .secret_id(name)
            .secret_string(to_json(value))
            .send()
            .await
            .map_err(|e| aws_error("Secrets Manager PutSecretValue", e))?;
        Ok(())
    }
}
