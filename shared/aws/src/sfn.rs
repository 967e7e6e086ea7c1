//! Step Functions: the cluster state machine.

use sparkhub_core::ports::{AwsError, RunProgress, RunWatcher, Started, Workflow};

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

    /// A client of its own from the operator's configuration.
    pub fn from_config(
        config: &aws_config::SdkConfig,
        state_machine_arn: impl Into<String>,
    ) -> Self {
        Self::new(aws_sdk_sfn::Client::new(config), state_machine_arn)
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

impl RunWatcher for StepFunctions {
    /// DescribeExecution, then the execution's history: the state the run
    /// is in and the last `cluster.ClusterId` a state saw
    /// ([`sparkhub_core::workflow::cluster_id_in`]).
    async fn run_progress(&self, execution_arn: &str) -> Result<Option<RunProgress>, AwsError> {
        let described = match self
            .client
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_execution_does_not_exist()) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(aws_error("Step Functions DescribeExecution", e)),
        };
        let mut progress = RunProgress {
            status: described.status().as_str().to_owned(),
            error: described.error().map(|error| match described.cause() {
                Some(cause) if !cause.is_empty() => format!("{error}: {cause}"),
                _ => error.to_owned(),
            }),
            ..RunProgress::default()
        };
        // The whole history, ordered by the events' ids (not by the
        // listing's order: the emulator ignores reverseOrder): the state
        // entered last, and the last `cluster.ClusterId` a state saw.
        let mut pages = self
            .client
            .get_execution_history()
            .execution_arn(execution_arn)
            .into_paginator()
            .send();
        let mut entered: Option<(i64, String)> = None;
        let mut cluster: Option<(i64, String)> = None;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("Step Functions GetExecutionHistory", e))?;
            for event in page.events() {
                let id = event.id();
                let data = if let Some(state) = event.state_entered_event_details() {
                    if entered.as_ref().is_none_or(|(at, _)| id > *at) {
                        entered = Some((id, state.name().to_owned()));
                    }
                    state.input()
                } else if let Some(state) = event.state_exited_event_details() {
                    state.output()
                } else {
                    None
                };
                if let Some(found) = data.and_then(sparkhub_core::workflow::cluster_id_in)
                    && cluster.as_ref().is_none_or(|(at, _)| id > *at)
                {
                    cluster = Some((id, found));
                }
            }
        }
        progress.current_state = entered.map(|(_, name)| name);
        progress.cluster_id = cluster.map(|(_, id)| id);
        Ok(Some(progress))
    }
}
