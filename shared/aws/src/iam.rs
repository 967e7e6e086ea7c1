//! IAM: does a profile's instance profile exist yet (`sparkhub push` warns
//! before the first cluster of a profile the stack does not know fails).

use sparkhub_core::ports::{AwsError, InstanceProfiles};

use crate::aws_error;

#[derive(Debug, Clone)]
pub struct Iam {
    client: aws_sdk_iam::Client,
}

impl Iam {
    pub fn new(client: aws_sdk_iam::Client) -> Self {
        Self { client }
    }

    /// A client of its own from the operator's configuration.
    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        Self::new(aws_sdk_iam::Client::new(config))
    }
}

impl InstanceProfiles for Iam {
    async fn instance_profile_exists(&self, name: &str) -> Result<bool, AwsError> {
        match self
            .client
            .get_instance_profile()
            .instance_profile_name(name)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_entity_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(aws_error("IAM GetInstanceProfile", e)),
        }
    }
}
