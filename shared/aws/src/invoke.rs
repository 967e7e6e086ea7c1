//! Lambda Invoke: `sparkhub start` runs the stack's create-cluster function
//! as a manual run and waits for its answer.

use sparkhub_core::ports::{AwsError, FunctionInvoker, Invoked};

use crate::aws_error;

#[derive(Debug, Clone)]
pub struct LambdaFunctions {
    client: aws_sdk_lambda::Client,
}

impl LambdaFunctions {
    pub fn new(client: aws_sdk_lambda::Client) -> Self {
        Self { client }
    }

    /// A client of its own from the operator's configuration.
    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        Self::new(aws_sdk_lambda::Client::new(config))
    }
}

impl FunctionInvoker for LambdaFunctions {
    /// A synchronous invocation (`RequestResponse`, the default): the
    /// function's answer, or its error document with `FunctionError` set.
    async fn invoke(&self, function: &str, payload: &str) -> Result<Invoked, AwsError> {
        let out = self
            .client
            .invoke()
            .function_name(function)
            .payload(aws_smithy_types::Blob::new(payload.as_bytes().to_vec()))
            .send()
            .await
            .map_err(|e| aws_error("Lambda Invoke", e))?;
        Ok(Invoked {
            payload: out
                .payload()
                .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned())
                .unwrap_or_default(),
            function_error: out.function_error().map(str::to_owned),
        })
    }
}
