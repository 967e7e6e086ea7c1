//! The parts of the SAM template that come from profiles:
//!
//! - one EventBridge Scheduler schedule per profile with a `[schedule]`,
//!   targeting create-cluster with `{"profile": ..., "run_id": "schedule-<scheduled time>"}`.
//!   The scheduled time is the same for every retry of one occurrence, so a
//!   retried delivery starts no second cluster; a delivery that fails after
//!   its retries is kept in the UndeliveredTriggers queue;
//! - one instance role, instance profile and node policy per profile. Every
//!   notebook user on a cluster can read the node's credentials from instance
//!   metadata, so a profile's nodes get only what that profile needs: its
//!   scripts, its own secret, its users' notebooks, its logs, its `[access]`
//!   locations, the activity metric. EC2 instance-profile sessions carry no
//!   per-cluster principal tags, so attribute-based access cannot tell two
//!   clusters of one role apart: one role per profile is what IAM supports.
//!
//! `infra/template.yaml` carries the generated resources between marker lines;
//! a test fails when they differ from what the profiles in `profiles/` say
//! (`make generate` rewrites them).

use sparkhub_core::Profile;
use sparkhub_core::names::S3Uri;
use sparkhub_core::render::TAG_PROFILE;

pub const BEGIN_MARKER: &str =
    "  # BEGIN generated schedules (make generate; from profiles/*.toml)";
pub const END_MARKER: &str = "  # END generated schedules";

pub const NODE_ROLES_BEGIN: &str =
    "  # BEGIN generated node roles (make generate; from profiles/*.toml)";
pub const NODE_ROLES_END: &str = "  # END generated node roles";

/// Where EMR's JupyterHub keeps a user's notebooks in the notebook bucket
/// (`jupyter-s3-conf`): `jupyter/<user>/`.
pub const NOTEBOOK_PREFIX: &str = "jupyter/";

/// CloudFormation logical id for a profile's schedule: `Schedule` + the name in CamelCase.
pub fn schedule_logical_id(profile: &str) -> String {
    format!("Schedule{}", camel(profile))
}

fn camel(profile: &str) -> String {
    profile
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The YAML of the schedule resources, profiles in the order given.
pub fn schedule_resources(profiles: &[Profile]) -> String {
    let mut out = String::new();
    for profile in profiles {
        let Some(schedule) = &profile.schedule else {
            continue;
        };
        let name = profile.name.as_str();
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
        DeadLetterConfig:
          Arn: !GetAtt UndeliveredTriggers.Arn
"#,
            id = schedule_logical_id(name),
            cron = schedule.cron,
            tz = schedule.timezone,
        ));
    }
    out
}

/// The node role, instance profile and node policy of every profile.
///
/// The role and instance profile exist only with `CreateEmrRoles=true`; the
/// policy is attached in both set-ups, to the stack's role or to an existing
/// role of the same name, so the nodes can always read their secret.
pub fn node_role_resources(profiles: &[Profile]) -> String {
    let mut out = String::new();
    for profile in profiles {
        let name = profile.name.as_str();
        let id = camel(name);
        let role_name = format!(r#"!Sub "${{EmrInstanceRolePrefix}}-{name}""#);
        out.push_str(&format!(
            r#"  NodeRole{id}:
    Type: AWS::IAM::Role
    Condition: CreateRoles
    Properties:
      RoleName: {role_name}
      Description: "sparkhub: nodes of profile {name}"
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal:
              Service: ec2.amazonaws.com
            Action: sts:AssumeRole
      Tags:
        - Key: {TAG_PROFILE}
          Value: {name}

  NodeInstanceProfile{id}:
    Type: AWS::IAM::InstanceProfile
    Condition: CreateRoles
    Properties:
      InstanceProfileName: {role_name}
      Roles: [!Ref NodeRole{id}]

  NodePolicy{id}:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: sparkhub-node-{name}
      Roles:
        - !If [CreateRoles, !Ref NodeRole{id}, {role_name}]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
{statements}

"#,
            statements = node_statements(profile),
        ));
    }
    out
}

/// Users that two profiles share in one notebook bucket: `(user, bucket or
/// None for the sparkhub bucket, the profiles)`. Notebooks live under
/// `jupyter/<user>/`, and each profile's node role may read its users'
/// folders, so such a user's notebooks would be open to both profiles'
/// clusters; the generated template refuses it.
pub fn shared_notebook_folders(profiles: &[Profile]) -> Vec<(String, Option<String>, Vec<String>)> {
    let mut owners: std::collections::BTreeMap<(String, Option<String>), Vec<String>> =
        std::collections::BTreeMap::new();
    for profile in profiles.iter().filter(|p| p.has_application("JupyterHub")) {
        for user in &profile.users {
            owners
                .entry((user.to_string(), profile.notebook_bucket.clone()))
                .or_default()
                .push(profile.name.to_string());
        }
    }
    owners
        .into_iter()
        .filter(|(_, names)| names.len() > 1)
        .map(|((user, bucket), names)| (user, bucket, names))
        .collect()
}

#[derive(Clone)]
enum BucketRef {
    Sparkhub,
    Named(String),
}

impl BucketRef {
    /// The bucket's ARN, as a `!Sub` string.
    fn arn(&self) -> String {
        match self {
            Self::Sparkhub => "${SparkhubBucket.Arn}".to_owned(),
            Self::Named(b) => format!("arn:${{AWS::Partition}}:s3:::{b}"),
        }
    }
}

/// A bucket and a key prefix (empty, or ending in `/`).
struct Location {
    bucket: BucketRef,
    prefix: String,
}

impl Location {
    fn of(uri: &S3Uri) -> Self {
        Self {
            bucket: BucketRef::Named(uri.bucket().to_owned()),
            prefix: uri.key().to_owned(),
        }
    }

    /// The ARN pattern of every object below the location.
    fn objects(&self) -> String {
        format!("{}/{}*", self.bucket.arn(), self.prefix)
    }
}

fn statement(
    sid: &str,
    actions: &[&str],
    resources: &[String],
    condition: Option<String>,
) -> String {
    let mut out =
        format!("          - Sid: {sid}\n            Effect: Allow\n            Action:\n");
    for a in actions {
        out.push_str(&format!("              - {a}\n"));
    }
    out.push_str("            Resource:\n");
    for r in resources {
        if r.contains("${") {
            out.push_str(&format!("              - !Sub \"{r}\"\n"));
        } else {
            out.push_str(&format!("              - \"{r}\"\n"));
        }
    }
    if let Some(c) = condition {
        out.push_str(&c);
    }
    out
}

/// ListBucket limited to the given prefixes (an empty one: the whole
/// bucket). Every prefix ends in `/`, so `p*` cannot reach a sibling folder.
fn list(sid: &str, bucket: &BucketRef, prefixes: &[String]) -> String {
    let condition = (!prefixes.iter().any(|p| p.is_empty())).then(|| {
        let mut c =
            "            Condition:\n              StringLike:\n                s3:prefix:\n"
                .to_owned();
        for p in prefixes {
            c.push_str(&format!("                  - \"{p}*\"\n"));
        }
        c
    });
    statement(sid, &["s3:ListBucket"], &[bucket.arn()], condition)
}

fn node_statements(profile: &Profile) -> String {
    let name = &profile.name;
    let mut out = Vec::new();
    // Bootstrap and step scripts: content-addressed keys, no secrets in them.
    out.push(statement(
        "Scripts",
        &["s3:GetObject"],
        &[
            "${SparkhubBucket.Arn}/scripts/*".into(),
            "arn:${AWS::Partition}:s3:::${AWS::Region}.elasticmapreduce/libs/script-runner/*"
                .into(),
        ],
        None,
    ));
    // The users step reads this profile's passwords, no other profile's.
    if !profile.users.is_empty() {
        let secret = format!(
            "arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:sparkhub/{name}/*"
        );
        out.push(statement(
            "OwnSecret",
            &["secretsmanager:GetSecretValue"],
            &[secret],
            None,
        ));
    }
    // EMR writes the cluster's logs with the node's credentials.
    let logs = match &profile.log_uri {
        Some(uri) => Location::of(uri),
        None => Location {
            bucket: BucketRef::Sparkhub,
            prefix: "logs/".into(),
        },
    };
    out.push(statement(
        "Logs",
        &["s3:PutObject"],
        &[logs.objects()],
        None,
    ));
    // Notebooks: only this profile's users' folders.
    if profile.has_application("JupyterHub") && !profile.users.is_empty() {
        let bucket = match &profile.notebook_bucket {
            Some(b) => BucketRef::Named(b.clone()),
            None => BucketRef::Sparkhub,
        };
        let folders: Vec<Location> = profile
            .users
            .iter()
            .map(|u| Location {
                bucket: bucket.clone(),
                prefix: format!("{NOTEBOOK_PREFIX}{u}/"),
            })
            .collect();
        out.push(list(
            "ListNotebooks",
            &bucket,
            &folders.iter().map(|f| f.prefix.clone()).collect::<Vec<_>>(),
        ));
        out.push(statement(
            "Notebooks",
            &["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            &folders.iter().map(Location::objects).collect::<Vec<_>>(),
            None,
        ));
    }
    // The profile's [access] locations.
    for (kind, locations, actions) in [
        ("Read", &profile.access.read, &["s3:GetObject"][..]),
        (
            "Write",
            &profile.access.write,
            &["s3:GetObject", "s3:PutObject", "s3:DeleteObject"][..],
        ),
    ] {
        for (i, location) in locations.iter().enumerate() {
            let location = Location::of(location.as_uri());
            out.push(list(
                &format!("List{kind}{i}"),
                &location.bucket,
                std::slice::from_ref(&location.prefix),
            ));
            out.push(statement(
                &format!("{kind}{i}"),
                actions,
                &[location.objects()],
                None,
            ));
        }
    }
    // The notebook activity reporter (clusters with JupyterHub);
    // PutMetricData has no resource-level permissions, the namespace
    // condition narrows it.
    if profile.has_application("JupyterHub") {
        out.push(statement(
        "ActivityMetric",
        &["cloudwatch:PutMetricData"],
        &["*".into()],
        Some(
            "            Condition:\n              StringEquals:\n                cloudwatch:namespace: Sparkhub\n"
                .into(),
        ),
        ));
    }
    out.concat().trim_end().to_owned()
}

/// Replaces the generated section of a template; `None` when a marker is missing.
pub fn with_schedules(template: &str, resources: &str) -> Option<String> {
    with_section(template, BEGIN_MARKER, END_MARKER, resources)
}

/// Replaces the section between `begin_marker` and `end_marker`.
pub fn with_section(
    template: &str,
    begin_marker: &str,
    end_marker: &str,
    resources: &str,
) -> Option<String> {
    let begin = template.find(begin_marker)?;
    let after_begin = begin + begin_marker.len() + 1;
    let end = template[after_begin..].find(end_marker)? + after_begin;
    Some(format!(
        "{}{}{}",
        &template[..after_begin],
        resources,
        &template[end..]
    ))
}

/// `template` with its generated sections (the schedules and the node roles
/// of `profiles`), or an error when a marker is missing or two profiles would
/// share a user's notebook folder.
pub fn generated_template(template: &str, profiles: &[Profile]) -> Result<String, String> {
    let shared = shared_notebook_folders(profiles);
    if !shared.is_empty() {
        return Err(format!(
            "profiles/: these users' notebooks would be readable by the clusters of several profiles; rename them or give the profiles different notebook_bucket values: {shared:?}"
        ));
    }
    with_schedules(template, &schedule_resources(profiles))
        .and_then(|t| {
            with_section(
                &t,
                NODE_ROLES_BEGIN,
                NODE_ROLES_END,
                &node_role_resources(profiles),
            )
        })
        .ok_or_else(|| "infra/template.yaml lacks the generated-section markers".to_string())
}

/// The example profiles in `profiles/`, by file name; what the template's
/// generated sections and the IAM inventory come from.
pub fn repo_profiles() -> Vec<Profile> {
    let mut paths: Vec<_> = std::fs::read_dir(crate::golden::workspace_root().join("profiles"))
        .expect("profiles/ is readable")
        .map(|e| e.expect("profiles/ is readable").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).expect("a profile is readable");
            Profile::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sparkhub_core::{ProfileName, UserName};

    #[test]
    fn two_profiles_may_not_share_a_users_notebook_folder() {
        let profiles = repo_profiles();
        assert!(shared_notebook_folders(&profiles).is_empty());
        let tutorial = profiles
            .iter()
            .find(|p| p.name.as_str() == "tutorial")
            .unwrap();
        let mut other = tutorial.clone();
        other.name = ProfileName::parse("team-b").unwrap();
        other.users = ["philipp", "zoe"]
            .map(|u| UserName::parse(u).unwrap())
            .to_vec();
        let both = [tutorial.clone(), other.clone()];
        assert_eq!(
            shared_notebook_folders(&both),
            [(
                "philipp".to_string(),
                None,
                vec!["tutorial".to_string(), "team-b".to_string()]
            )]
        );
        other.notebook_bucket = Some("team-b-notebooks".into());
        assert!(shared_notebook_folders(&[tutorial.clone(), other]).is_empty());
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
}
