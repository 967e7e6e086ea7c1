//! Where sparkhub is deployed: the stack's name (`--stack`, `SPARKHUB_STACK`),
//! its outputs read once (CloudFormation DescribeStacks), or the bucket
//! given directly (`--bucket`, `SPARKHUB_BUCKET`, which wins).

use std::collections::BTreeMap;

use sparkhub_aws::CloudFormation;
use sparkhub_core::ports::StackOutputs;
use sparkhub_core::text::printable;

use crate::commands::bucket_name;
use crate::failure::{Aws, Failure};

/// The stack's outputs sparkhub reads (infra/template.yaml, Outputs).
pub const BUCKET_OUTPUT: &str = "BucketName";
pub const FUNCTION_OUTPUT: &str = "CreateClusterFunctionName";
pub const STATE_MACHINE_OUTPUT: &str = "StateMachineArn";

/// `--stack` and `--bucket` of a command.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct StackArgs {
    /// The sparkhub stack's CloudFormation name (default: $SPARKHUB_STACK):
    /// the bucket, the create-cluster function and the state machine are read
    /// once from its outputs.
    #[arg(long, env = "SPARKHUB_STACK", value_name = "NAME")]
    pub stack: Option<String>,
    /// The sparkhub bucket's name, without s3:// (default: $SPARKHUB_BUCKET;
    /// the stack's BucketName output). Given, it is used instead of the
    /// stack's.
    #[arg(long, env = "SPARKHUB_BUCKET", value_name = "NAME")]
    pub bucket: Option<String>,
}

impl StackArgs {
    fn stack(&self) -> Option<&str> {
        self.stack
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    fn has_bucket(&self) -> bool {
        self.bucket.as_deref().is_some_and(|b| !b.trim().is_empty())
    }

    /// The bucket without any call when `--bucket` is given; a usage error
    /// naming both ways when neither is.
    pub fn bucket_given(&self, command: &str) -> Result<Option<String>, Failure> {
        if self.has_bucket() {
            return bucket_name(command, self.bucket.as_deref()).map(Some);
        }
        if self.stack().is_none() {
            return Err(needs_stack(command, "bucket"));
        }
        Ok(None)
    }

    /// The sparkhub bucket: `--bucket`, else the stack's BucketName output.
    pub async fn bucket(&self, aws: &Aws, command: &str) -> Result<String, Failure> {
        if let Some(bucket) = self.bucket_given(command)? {
            return Ok(bucket);
        }
        self.output(aws, command, BUCKET_OUTPUT).await
    }

    /// One output of the stack (`--stack` required).
    pub async fn output(&self, aws: &Aws, command: &str, key: &str) -> Result<String, Failure> {
        let stack = self.stack().ok_or_else(|| needs_stack(command, key))?;
        let outputs = outputs(aws, stack).await?;
        outputs.get(key).cloned().ok_or_else(|| {
            Failure::usage(format!(
                "stack {} has no output {key} (it has {}): is it sparkhub's stack? Deploy infra/template.yaml (README, \"Deploy to an AWS account\") or pass the stack's name with --stack",
                printable(stack),
                if outputs.is_empty() {
                    "none".to_owned()
                } else {
                    outputs.keys().cloned().collect::<Vec<_>>().join(", ")
                }
            ))
        })
    }
}

fn needs_stack(command: &str, what: &str) -> Failure {
    let bucket = if what == "bucket" || what == BUCKET_OUTPUT {
        " (or the bucket's name: --bucket <name> or SPARKHUB_BUCKET)"
    } else {
        ""
    };
    Failure::usage(format!(
        "{command} needs the sparkhub stack: pass --stack <name> or set SPARKHUB_STACK{bucket}; \
         `aws cloudformation describe-stacks --query 'Stacks[].StackName'` lists the stacks"
    ))
}

/// The stack's outputs, or why not: no such stack in the region (exit 2,
/// with where to look), or the call's failure in words.
pub async fn outputs(aws: &Aws, stack: &str) -> Result<BTreeMap<String, String>, Failure> {
    let region = aws
        .sdk()
        .region()
        .map(|r| r.to_string())
        .unwrap_or_default();
    CloudFormation::from_config(aws.sdk())
        .stack_outputs(stack)
        .await
        .map_err(|e| aws.failure(&format!("reading the outputs of stack {}", printable(stack)), &e))?
        .ok_or_else(|| {
            Failure::usage(format!(
                "there is no CloudFormation stack {} in {region}: check --stack (or SPARKHUB_STACK) and --region; `aws cloudformation describe-stacks --query 'Stacks[].StackName' --region {region}` lists the stacks there",
                printable(stack)
            ))
        })
}
