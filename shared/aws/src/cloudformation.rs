//! CloudFormation: the outputs of sparkhub's stack, which the CLI reads once
//! instead of asking for the bucket, the function and the state machine.

use std::collections::BTreeMap;

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use sparkhub_core::ports::{AwsError, StackOutputs};

use crate::aws_error;

/// Stacks in the configured region.
#[derive(Debug, Clone)]
pub struct CloudFormation {
    client: aws_sdk_cloudformation::Client,
}

impl CloudFormation {
    pub fn new(client: aws_sdk_cloudformation::Client) -> Self {
        Self { client }
    }

    /// A client of its own from the operator's configuration.
    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        Self::new(aws_sdk_cloudformation::Client::new(config))
    }
}

/// DescribeStacks names no "not found" error: a stack that does not exist
/// answers `ValidationError` "Stack with id <name> does not exist" (API
/// reference, DescribeStacks).
fn no_such_stack(code: Option<&str>, message: Option<&str>) -> bool {
    code == Some("ValidationError") && message.is_some_and(|m| m.contains("does not exist"))
}

impl StackOutputs for CloudFormation {
    async fn stack_outputs(
        &self,
        stack: &str,
    ) -> Result<Option<BTreeMap<String, String>>, AwsError> {
        let out = match self.client.describe_stacks().stack_name(stack).send().await {
            Ok(out) => out,
            Err(e) if no_such_stack(e.code(), e.message()) => return Ok(None),
            Err(e) => return Err(aws_error("CloudFormation DescribeStacks", e)),
        };
        Ok(out.stacks().first().map(|s| {
            s.outputs()
                .iter()
                .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
                .collect()
        }))
    }
}
