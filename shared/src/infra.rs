//! The parts of the SAM template that come from profiles: one EventBridge
//! Scheduler schedule per profile with a `[schedule]`, targeting
//! create-cluster with `{"profile": ..., "run_id": "schedule-<scheduled time>"}`.
//! The scheduled time is the same for every retry of one occurrence, so a
//! retried delivery starts no second cluster.
//!
//! `infra/template.yaml` carries the generated resources between two marker
//! lines; a test fails when they differ from what the profiles in `profiles/`
//! say (`make generate` rewrites them).

use crate::Profile;

pub const BEGIN_MARKER: &str =
    "  # BEGIN generated schedules (make generate; from profiles/*.toml)";
pub const END_MARKER: &str = "  # END generated schedules";

/// CloudFormation logical id for a profile's schedule: `Schedule` + the name in CamelCase.
pub fn schedule_logical_id(profile: &str) -> String {
    let camel: String = profile
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    format!("Schedule{camel}")
}

/// The YAML of the schedule resources, profiles in the order given.
pub fn schedule_resources(profiles: &[Profile]) -> String {
    let mut out = String::new();
    for profile in profiles {
        let Some(schedule) = &profile.schedule else {
            continue;
        };
        let name = &profile.name;
        let input = serde_json::json!({"profile": name, "run_id": "schedule-<aws.scheduler.scheduled-time>"}).to_string();
        out.push_str(&format!(
            r#"  {id}:
    Type: AWS::Scheduler::Schedule
    Properties:
      Name: !Sub "sparkhub-${{AWS::StackName}}-{name}"
      Description: "sparkhub: start profile {name} at {cron} ({tz})"
      ScheduleExpression: "{cron}"
      ScheduleExpressionTimezone: {tz}
      FlexibleTimeWindow:
        Mode: "OFF"
      State: ENABLED
      Target:
        Arn: !GetAtt CreateClusterFunction.Arn
        RoleArn: !GetAtt SchedulerRole.Arn
        Input: '{input}'
        RetryPolicy:
          MaximumRetryAttempts: 3
          MaximumEventAgeInSeconds: 3600
"#,
            id = schedule_logical_id(name),
            cron = schedule.cron,
            tz = schedule.timezone,
        ));
    }
    out
}

/// Replaces the generated section of a template; `None` when a marker is missing.
pub fn with_schedules(template: &str, resources: &str) -> Option<String> {
    let begin = template.find(BEGIN_MARKER)?;
    let after_begin = begin + BEGIN_MARKER.len() + 1;
    let end = template[after_begin..].find(END_MARKER)? + after_begin;
    Some(format!(
        "{}{}{}",
        &template[..after_begin],
        resources,
        &template[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::golden::workspace_root;

    fn repo_profiles() -> Vec<Profile> {
        let mut paths: Vec<_> = std::fs::read_dir(workspace_root().join("profiles"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|p| Profile::from_toml(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }

    #[test]
    fn a_profile_schedule_becomes_a_scheduler_schedule_in_its_time_zone() {
        let profiles = repo_profiles();
        let yaml = schedule_resources(&profiles);
        assert!(
            yaml.contains("  ScheduleTutorial:\n    Type: AWS::Scheduler::Schedule"),
            "{yaml}"
        );
        assert!(yaml.contains(r#"ScheduleExpression: "cron(0 8 ? * MON-FRI *)""#));
        assert!(yaml.contains("ScheduleExpressionTimezone: Europe/Berlin"));
        assert!(yaml.contains(r#"Input: '{"profile":"tutorial","run_id":"schedule-<aws.scheduler.scheduled-time>"}'"#), "{yaml}");
        assert!(
            !yaml.contains("Retrain"),
            "profiles without a schedule get none"
        );
        assert_eq!(schedule_logical_id("ml-retrain-2"), "ScheduleMlRetrain2");
    }

    #[test]
    fn the_template_carries_the_schedules_of_the_profiles() {
        let path = workspace_root().join("infra/template.yaml");
        let template = std::fs::read_to_string(&path).unwrap();
        let expected = with_schedules(&template, &schedule_resources(&repo_profiles()))
            .expect("infra/template.yaml has the generated-schedules markers");
        if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
            std::fs::write(&path, &expected).unwrap();
            return;
        }
        assert!(
            template == expected,
            "infra/template.yaml: the generated schedules differ from profiles/; run `make generate`"
        );
    }
}
