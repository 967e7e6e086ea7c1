//! Step Functions: the cluster state machine.

use sparkhub_core::ports::{AwsError, Started, Workflow};

use crate::aws_error;

/// The cluster state machine.
#[derive(Debug, Clone)]
pub struct StepFunctions {
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
}

impl StepFunctions {
    pub fn new(client: aws_sdk_sfn::Client, state_machine_arn: impl Into<String>) -> Self {
        Self {
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }

    /// `arn:…:stateMachine:<machine>` → `arn:…:execution:<machine>:<name>`.
    pub fn execution_arn(&self, name: &str) -> String {
        format!(
            "{}:{name}",
            self.state_machine_arn
                .replacen(":stateMachine:", ":execution:", 1)
        )
    }
}

impl Workflow for StepFunctions {
    async fn find_execution(&self, name: &str) -> Result<Option<String>, AwsError> {
        let arn = self.execution_arn(name);
        match self
            .client
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await
        {
            Ok(found) => Ok(Some(found.execution_arn)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_execution_does_not_exist()) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws_error("Step Functions DescribeExecution", e)),
        }
    }

    async fn start_execution(&self, name: &str, input: &str) -> Result<Started, AwsError> {
        let result = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Started::New(out.execution_arn)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_execution_already_exists()) =>
            {
                Ok(Started::AlreadyExisted(self.execution_arn(name)))
            }
            Err(e) => Err(aws_error("Step Functions StartExecution", e)),
        }
    }

    async fn running_executions(&self) -> Result<Vec<String>, AwsError> {
        let mut pages = self
            .client
            .list_executions()
            .state_machine_arn(&self.state_machine_arn)
            .status_filter(aws_sdk_sfn::types::ExecutionStatus::Running)
            .into_paginator()
            .send();
        let mut names = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("Step Functions ListExecutions", e))?;
            names.extend(page.executions().iter().map(|e| e.name().to_owned()));
        }
        Ok(names)
    }
}
