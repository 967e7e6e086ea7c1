//! STS: who the operator's credentials are, for the history of a stopped
//! cluster. GetCallerIdentity needs no permission (STS API reference).

use sparkhub_core::ports::{AwsError, CallerIdentity};

use crate::aws_error;

#[derive(Debug, Clone)]
pub struct Sts {
    client: aws_sdk_sts::Client,
}

impl Sts {
    pub fn new(client: aws_sdk_sts::Client) -> Self {
        Self { client }
    }

    /// A client of its own from the operator's configuration.
    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        Self::new(aws_sdk_sts::Client::new(config))
    }
}

impl CallerIdentity for Sts {
    async fn caller_arn(&self) -> Result<String, AwsError> {
        let out = self
            .client
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| aws_error("STS GetCallerIdentity", e))?;
        Ok(out.arn().unwrap_or("an unknown caller").to_owned())
    }
}
