//! EventBridge Scheduler: the sweep's one-time checks.

use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, Target,
};
use sparkhub_core::ports::{AwsError, CheckScheduler};

use crate::aws_error;

/// One-time schedules in one schedule group, each invoking the sweep
/// function once with `{"check": ["<cluster id>"]}`, then deleted by the
/// scheduler (`ActionAfterCompletion: DELETE`,
/// <https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-delete.html>).
#[derive(Debug, Clone)]
pub struct Checks {
    client: aws_sdk_scheduler::Client,
    group: String,
    role_arn: String,
}

impl Checks {
    pub fn new(
        client: aws_sdk_scheduler::Client,
        group: impl Into<String>,
        role_arn: impl Into<String>,
    ) -> Self {
        Self {
            client,
            group: group.into(),
            role_arn: role_arn.into(),
        }
    }
}

/// The schedule's name: the cluster and the instant, so that asking twice
/// for one check names one schedule (1–64 of `[0-9a-zA-Z-_.]`).
pub fn check_name(cluster_id: &str, at: jiff::Timestamp) -> String {
    let cluster: String = cluster_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(40)
        .collect();
    format!("{cluster}-{}", at.strftime("%Y%m%dT%H%M%S"))
}

/// A check older than this is not worth running: the sweep every five
/// minutes has looked by then.
const MAX_EVENT_AGE_SECONDS: i32 = 300;

impl CheckScheduler for Checks {
    async fn schedule_check(
        &self,
        cluster_id: &str,
        at: jiff::Timestamp,
        target_arn: &str,
    ) -> Result<(), AwsError> {
        let input = serde_json::json!({ "check": [cluster_id] }).to_string();
        let target = Target::builder()
            .arn(target_arn)
            .role_arn(&self.role_arn)
            .input(input)
            .retry_policy(
                RetryPolicy::builder()
                    .maximum_event_age_in_seconds(MAX_EVENT_AGE_SECONDS)
                    .maximum_retry_attempts(2)
                    .build(),
            )
            .build()
            .map_err(|e| AwsError::new("Scheduler CreateSchedule", false, None, e))?;
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|e| AwsError::new("Scheduler CreateSchedule", false, None, e))?;
        let created = self
            .client
            .create_schedule()
            .name(check_name(cluster_id, at))
            .group_name(&self.group)
            .schedule_expression(format!("at({})", at.strftime("%Y-%m-%dT%H:%M:%S")))
            .schedule_expression_timezone("UTC")
            .flexible_time_window(window)
            .action_after_completion(ActionAfterCompletion::Delete)
            .target(target)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            // The same cluster and instant: that check is scheduled already.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conflict_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(aws_error("Scheduler CreateSchedule", e)),
        }
    }
}
