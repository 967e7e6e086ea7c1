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
//!   clusters of one role apart: one role per profile is what IAM supports;
//! - one SNS e-mail subscription to the stack's topic per user address a
//!   profile gives (`[emails]`), filtered to the messages whose `recipients`
//!   attribute names that user (`<profile>/<user>`, what the sweep's
//!   warnings and termination notices carry): each user hears about the
//!   clusters of their own profiles only.
//!
//! `infra/template.yaml` carries the generated resources between marker lines;
//! a test fails when they differ from what the profiles in `profiles/` say
//! (`make generate` rewrites them).

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sparkhub_core::Profile;
use sparkhub_core::idle::activity_namespace;
use sparkhub_core::names::S3Uri;
use sparkhub_core::names::{ProfileName, UserName};
use sparkhub_core::profile::{default_log_prefix, shared_notebook_folders};
use sparkhub_core::recipients::{RECIPIENTS_ATTRIBUTE, recipient};
use sparkhub_core::render::TAG_PROFILE;
use sparkhub_core::users::hashes_secret_name;

pub const BEGIN_MARKER: &str =
    "  # BEGIN generated schedules (make generate; from profiles/*.toml)";
pub const END_MARKER: &str = "  # END generated schedules";

pub const NODE_ROLES_BEGIN: &str =
    "  # BEGIN generated node roles (make generate; from profiles/*.toml)";
pub const NODE_ROLES_END: &str = "  # END generated node roles";

pub const EVENT_RULES_BEGIN: &str =
    "  # BEGIN generated event rules (make generate; from profiles/*.toml)";
pub const EVENT_RULES_END: &str = "  # END generated event rules";

pub const SUBSCRIPTIONS_BEGIN: &str =
    "  # BEGIN generated e-mail subscriptions (make generate; from profiles/*.toml)";
pub const SUBSCRIPTIONS_END: &str = "  # END generated e-mail subscriptions";

/// Where EMR's JupyterHub keeps a user's notebooks in the notebook bucket
/// (`jupyter-s3-conf`): `jupyter/<user>/`.
pub const NOTEBOOK_PREFIX: &str = "jupyter/";

/// CloudFormation logical id for a profile's schedule: `Schedule` + the name in CamelCase.
pub fn schedule_logical_id(profile: &str) -> String {
    format!("Schedule{}", camel(profile))
}

/// CloudFormation logical id of a user's e-mail subscription:
/// `EmailSubscription` + the profile and the user in CamelCase.
pub fn subscription_logical_id(profile: &ProfileName, user: &UserName) -> String {
    format!(
        "EmailSubscription{}{}",
        camel(profile.as_str()),
        camel(user.as_str())
    )
}

/// `team-a` → `TeamA`, `data_eng-2` → `DataEng2`: letters and digits only,
/// as a logical id must be.
fn camel(name: &str) -> String {
    name.split(['-', '_'])
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// One generated resource as template text: `  <LogicalId>: <JSON>`. JSON is
/// YAML (1.2, and what CloudFormation's and cfn-lint's parsers read), and
/// serde_json writes it: a value from a profile is always a string, never
/// structure (no `format!` of YAML here).
fn resource(logical_id: &str, body: &Value) -> String {
    // Keys sorted: the same text whether or not a crate of the build turns on
    // serde_json's preserve_order.
    let json = sparkhub_core::json::canonical(body);
    let indented = json.trim_end().replace('\n', "\n    ");
    format!("  {logical_id}: {indented}\n\n")
}

fn sub(text: &str) -> Value {
    json!({ "Fn::Sub": text })
}

/// The schedule resources, profiles in the order given.
pub fn schedule_resources(profiles: &[Profile]) -> String {
    let mut out = String::new();
    for profile in profiles {
        let Some(schedule) = &profile.schedule else {
            continue;
        };
        let name = profile.name.as_str();
        // A ready_by schedule fires READY_BY_SCHEDULE_LEAD early and says
        // when it was due to fire; create-cluster adds the lead back.
        let (input, expression, description) = if schedule.is_ready_by() {
            (
                json!({
                    "profile": name,
                    "run_id": "schedule-<aws.scheduler.scheduled-time>",
                    "scheduled_time": "<aws.scheduler.scheduled-time>"
                }),
                schedule
                    .fire_expression()
                    .expect("a validated profile's ready_by moves"),
                format!(
                    "sparkhub: profile {name} ready by {} ({})",
                    schedule.ready_by, schedule.timezone
                ),
            )
        } else {
            (
                json!({"profile": name, "run_id": "schedule-<aws.scheduler.scheduled-time>"}),
                schedule.cron.clone(),
                format!(
                    "sparkhub: start profile {name} at {} ({})",
                    schedule.cron, schedule.timezone
                ),
            )
        };
        let input = input.to_string();
        out.push_str(&resource(
            &schedule_logical_id(name),
            &json!({
                "Type": "AWS::Scheduler::Schedule",
                "Properties": {
                    "Name": sub(&format!("sparkhub-${{AWS::StackName}}-{name}")),
                    "Description": description,
                    "ScheduleExpression": expression,
                    "ScheduleExpressionTimezone": schedule.timezone,
                    "FlexibleTimeWindow": {"Mode": "OFF"},
                    "State": "ENABLED",
                    "Target": {
                        "Arn": {"Fn::GetAtt": ["CreateClusterFunction", "Arn"]},
                        "RoleArn": {"Fn::GetAtt": ["SchedulerRole", "Arn"]},
                        "Input": input,
                        "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
                        "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["UndeliveredTriggers", "Arn"]}}
                    }
                }
            }),
        ));
    }
    out
}

/// One EventBridge rule per `[[event_triggers]]` of a profile, targeting
/// create-cluster with `{"profile": ..., "run_id": "event-<event id>",
/// "event": <the whole event>}` (the input transformer's predefined
/// `aws.events.event.json`, the full event with its detail, usable only as a
/// JSON value:
/// <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html>),
/// and the permission for that rule to invoke it. The event id makes a
/// redelivered event the same run.
pub fn event_rule_resources(profiles: &[Profile]) -> String {
    let mut out = String::new();
    for profile in profiles {
        let name = profile.name.as_str();
        for (i, trigger) in profile.event_triggers.iter().enumerate() {
            let id = format!("EventRule{}{}", camel(name), i + 1);
            // Keys sorted by the map, whatever serde_json's features; the
            // event goes in where the placeholder string was (a profile's
            // name is letters, digits and dashes).
            let template: BTreeMap<&str, Value> = BTreeMap::from([
                ("profile", json!(name)),
                ("run_id", json!("event-<id>")),
                ("event", json!("__EVENT__")),
            ]);
            let template = serde_json::to_string(&template)
                .expect("a map of strings serializes")
                .replace("\"__EVENT__\"", "<aws.events.event.json>");
            out.push_str(&resource(
                &id,
                &json!({
                    "Type": "AWS::Events::Rule",
                    "Properties": {
                        "Description": format!("sparkhub: {} events start a run of profile {name}", trigger.detail_type),
                        "EventPattern": trigger.pattern(),
                        "State": "ENABLED",
                        "Targets": [{
                            "Id": "create-cluster",
                            "Arn": {"Fn::GetAtt": ["CreateClusterFunction", "Arn"]},
                            "InputTransformer": {
                                "InputPathsMap": {"id": "$.id"},
                                "InputTemplate": template
                            },
                            "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
                            "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["UndeliveredTriggers", "Arn"]}}
                        }]
                    }
                }),
            ));
            out.push_str(&resource(
                &format!("{id}Permission"),
                &json!({
                    "Type": "AWS::Lambda::Permission",
                    "Properties": {
                        "Action": "lambda:InvokeFunction",
                        "FunctionName": {"Ref": "CreateClusterFunction"},
                        "Principal": "events.amazonaws.com",
                        "SourceArn": {"Fn::GetAtt": [id, "Arn"]}
                    }
                }),
            ));
        }
    }
    out
}

/// One e-mail subscription to the stack's topic per user with an address,
/// letting through only the messages whose `recipients` name that user, as
/// (logical id, resource); profiles in the order given, users in the order
/// of `users`. An error when two would get the same logical id (`a-b` and
/// `a_b`, or profile `a` with user `b-c` and profile `a-b` with user `c`).
pub fn subscriptions(profiles: &[Profile]) -> Result<Vec<(String, Value)>, String> {
    let mut out = Vec::new();
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    for profile in profiles {
        for user in &profile.users {
            let Some(address) = profile.emails.get(user) else {
                continue;
            };
            let recipient = recipient(&profile.name, user);
            let id = subscription_logical_id(&profile.name, user);
            if let Some(other) = ids.insert(id.clone(), recipient.clone()) {
                return Err(format!(
                    "profiles/: the e-mail subscriptions of {other} and {recipient} would both be {id} in the template; rename one of the users or profiles"
                ));
            }
            out.push((
                id,
                json!({
                    "Type": "AWS::SNS::Subscription",
                    "Properties": {
                        "TopicArn": {"Ref": "SparkhubTopic"},
                        "Protocol": "email",
                        "Endpoint": address.as_str(),
                        "FilterPolicyScope": "MessageAttributes",
                        "FilterPolicy": {RECIPIENTS_ATTRIBUTE: [recipient]}
                    }
                }),
            ));
        }
    }
    Ok(out)
}

/// [`subscriptions`] as the template's generated section.
pub fn subscription_resources(profiles: &[Profile]) -> Result<String, String> {
    Ok(subscriptions(profiles)?
        .iter()
        .map(|(id, body)| resource(id, body))
        .collect())
}

/// The node role of a profile, as a `Fn::Sub` string.
fn node_role_name(profile: &str) -> String {
    format!("${{EmrInstanceRolePrefix}}-{profile}")
}

/// The node role, instance profile and node policy of every profile, and
/// the two PassRole grants that name exactly these roles: the workflow
/// passes a profile's role to EC2 in RunJobFlow, EMR's service role passes
/// it on to the instances. A role of the same prefix that the stack did not
/// generate (`sparkhub-node-x`) cannot be passed.
///
/// The role and instance profile exist only with `CreateEmrRoles=true`; the
/// policies are attached in both set-ups, to the stack's roles or to existing
/// roles of the same names, so the nodes can always read their secret.
pub fn node_role_resources(profiles: &[Profile]) -> String {
    let mut out = String::new();
    let mut role_arns = Vec::new();
    for profile in profiles {
        let name = profile.name.as_str();
        let id = camel(name);
        let role_name = sub(&node_role_name(name));
        role_arns.push(sub(&format!(
            "arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{}",
            node_role_name(name)
        )));
        out.push_str(&resource(
            &format!("NodeRole{id}"),
            &json!({
                "Type": "AWS::IAM::Role",
                "Condition": "CreateRoles",
                "Properties": {
                    "RoleName": role_name,
                    "Description": format!("sparkhub: nodes of profile {name}"),
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{
                            "Effect": "Allow",
                            "Principal": {"Service": "ec2.amazonaws.com"},
                            "Action": "sts:AssumeRole"
                        }]
                    },
                    "Tags": [{"Key": TAG_PROFILE, "Value": name}]
                }
            }),
        ));
        out.push_str(&resource(
            &format!("NodeInstanceProfile{id}"),
            &json!({
                "Type": "AWS::IAM::InstanceProfile",
                "Condition": "CreateRoles",
                "Properties": {
                    "InstanceProfileName": role_name,
                    "Roles": [{"Ref": format!("NodeRole{id}")}]
                }
            }),
        ));
        out.push_str(&resource(
            &format!("NodePolicy{id}"),
            &json!({
                "Type": "AWS::IAM::Policy",
                "Metadata": {"checkov": {"skip": [{
                    "id": "CKV_AWS_111",
                    "comment": "Session Manager's ssmmessages channel actions have no resource-level permissions; every other write names its resources."
                }]}},
                "Properties": {
                    "PolicyName": format!("sparkhub-node-{name}"),
                    "Roles": [{"Fn::If": ["CreateRoles", {"Ref": format!("NodeRole{id}")}, role_name]}],
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": node_statements(profile)}
                }
            }),
        ));
    }
    let pass = |roles: Value| {
        json!({
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyName": "sparkhub-pass-node-roles",
                "Roles": [roles],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Action": "iam:PassRole",
                        "Resource": role_arns,
                        "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
                    }]
                }
            }
        })
    };
    out.push_str(&resource(
        "WorkflowPassNodeRoles",
        &pass(json!({"Ref": "ClusterWorkflowRole"})),
    ));
    out.push_str(&resource(
        "EmrServicePassNodeRoles",
        &pass(json!({"Fn::If": ["CreateRoles", {"Ref": "EmrServiceRole"}, {"Ref": "EmrServiceRoleName"}]})),
    ));
    out.trim_end().to_owned() + "\n\n"
}

#[derive(Clone)]
enum BucketRef {
    Sparkhub,
    Named(String),
}

impl BucketRef {
    /// The bucket's ARN, as a `Fn::Sub` string.
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

/// What the SSM Agent on a node needs for Session Manager (port forwarding
/// to JupyterHub); these actions have no resource-level permissions.
pub const SSM_AGENT_ACTIONS: [&str; 5] = [
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
];

/// The sparkhub bucket's prefixes that steer every cluster: profiles,
/// scripts, leases, history, startup times (a `ready_by` run's lead), budgets. No node may write them, whatever its profile's
/// `log_uri` or `[access]` say (an explicit Deny wins over every Allow).
pub const CONTROL_PREFIXES: [&str; 6] = [
    "profiles/",
    "scripts/",
    "locks/",
    "history/",
    "startups/",
    "budgets/",
];

fn statement(sid: &str, actions: &[&str], resources: &[String], condition: Option<Value>) -> Value {
    let mut s = json!({
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": resources.iter().map(|r| if r.contains("${") { sub(r) } else { json!(r) }).collect::<Vec<_>>(),
    });
    if let Some(c) = condition {
        s["Condition"] = c;
    }
    s
}

/// ListBucket limited to the given prefixes (an empty one: the whole
/// bucket). Every prefix ends in `/`, so `p*` cannot reach a sibling folder.
fn list(sid: &str, bucket: &BucketRef, prefixes: &[String]) -> Value {
    let condition = (!prefixes.iter().any(|p| p.is_empty())).then(|| {
        json!({"StringLike": {"s3:prefix": prefixes.iter().map(|p| format!("{p}*")).collect::<Vec<_>>()}})
    });
    statement(sid, &["s3:ListBucket"], &[bucket.arn()], condition)
}

fn node_statements(profile: &Profile) -> Vec<Value> {
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
    // The users step reads the crypt hashes of this profile's passwords, no
    // plaintext and no other profile's.
    if !profile.users.is_empty() {
        let secret = format!(
            "arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:{}-*",
            hashes_secret_name(&profile.name)
        );
        out.push(statement(
            "OwnPasswordHashes",
            &["secretsmanager:GetSecretValue"],
            &[secret],
            None,
        ));
    }
    // EMR writes the cluster's logs with the node's credentials; by default
    // under this profile's own prefix.
    let logs = match &profile.log_uri {
        Some(uri) => Location::of(uri),
        None => Location {
            bucket: BucketRef::Sparkhub,
            prefix: default_log_prefix(name),
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
    // The notebook activity reporter (clusters with JupyterHub), in this
    // profile's own namespace, which the sweep reads for this profile's
    // clusters only; PutMetricData has no resource-level permissions, the
    // namespace condition narrows it.
    if profile.has_application("JupyterHub") {
        out.push(statement(
            "ActivityMetric",
            &["cloudwatch:PutMetricData"],
            &["*".into()],
            Some(json!({"StringEquals": {"cloudwatch:namespace": activity_namespace(name.as_str())}})),
        ));
    }
    // Session Manager port forwarding to the hub (no open port, no key
    // pair): the SSM Agent on the node registers and opens its channels with
    // the node's credentials. The minimal instance-profile actions of
    // https://docs.aws.amazon.com/systems-manager/latest/userguide/getting-started-create-iam-instance-profile.html
    // (AmazonSSMManagedInstanceCore grants more: parameters, documents,
    // inventory). They let the node answer sessions, not start any.
    out.push(statement(
        "SessionManagerInstance",
        &SSM_AGENT_ACTIONS[..1],
        &["arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/*".into()],
        None,
    ));
    out.push(statement(
        "SessionManagerChannels",
        &SSM_AGENT_ACTIONS[1..],
        &["*".into()],
        None,
    ));
    out.push(json!({
        "Sid": "NoControlData",
        "Effect": "Deny",
        "Action": ["s3:Put*", "s3:Delete*", "s3:Restore*", "s3:Replicate*"],
        "Resource": CONTROL_PREFIXES
            .iter()
            .map(|p| sub(&format!("${{SparkhubBucket.Arn}}/{p}*")))
            .collect::<Vec<_>>(),
    }));
    // Nor the bucket's own settings (policy, ACL, versioning, lifecycle...),
    // whatever an existing role may carry besides (CreateEmrRoles=false).
    out.push(json!({
        "Sid": "NoBucketSettings",
        "Effect": "Deny",
        "Action": ["s3:PutBucket*", "s3:DeleteBucket*", "s3:PutLifecycleConfiguration", "s3:PutEncryptionConfiguration", "s3:PutReplicationConfiguration"],
        "Resource": [sub("${SparkhubBucket.Arn}")],
    }));
    out
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

/// `template` with its generated sections (the schedules, the node roles
/// and the users' e-mail subscriptions of `profiles`), or an error when a
/// marker is missing, two profiles would share a user's notebook folder or
/// two subscriptions a logical id.
pub fn generated_template(template: &str, profiles: &[Profile]) -> Result<String, String> {
    let shared = shared_notebook_folders(&profiles.iter().collect::<Vec<_>>());
    if !shared.is_empty() {
        return Err(format!(
            "profiles/: these users' notebooks would be readable by the clusters of several profiles; rename them or give the profiles different notebook_bucket values: {shared:?}"
        ));
    }
    let subscriptions = subscription_resources(profiles)?;
    with_schedules(template, &schedule_resources(profiles))
        .and_then(|t| {
            with_section(
                &t,
                NODE_ROLES_BEGIN,
                NODE_ROLES_END,
                &node_role_resources(profiles),
            )
        })
        .and_then(|t| with_section(&t, SUBSCRIPTIONS_BEGIN, SUBSCRIPTIONS_END, &subscriptions))
        .and_then(|t| {
            with_section(
                &t,
                EVENT_RULES_BEGIN,
                EVENT_RULES_END,
                &event_rule_resources(profiles),
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
    let profiles = paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).expect("a profile is readable");
            Profile::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect::<Vec<_>>();
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let files: Vec<(&str, &Profile)> = names.iter().map(String::as_str).zip(&profiles).collect();
    let together = sparkhub_core::profile::problems_together(&files);
    assert!(together.is_empty(), "profiles/: {together:?}");
    profiles
}

#[cfg(test)]
mod tests {
    use super::*;
    use sparkhub_core::{ProfileName, UserName};

    #[test]
    fn two_profiles_may_not_share_a_users_notebook_folder() {
        let profiles = repo_profiles();
        assert!(shared_notebook_folders(&profiles.iter().collect::<Vec<_>>()).is_empty());
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
            shared_notebook_folders(&both.iter().collect::<Vec<_>>()),
            [(
                "philipp".to_string(),
                None,
                vec!["tutorial".to_string(), "team-b".to_string()]
            )]
        );
        other.notebook_bucket = Some("team-b-notebooks".into());
        assert!(shared_notebook_folders(&[tutorial, &other]).is_empty());
    }

    #[test]
    fn a_profile_schedule_becomes_a_scheduler_schedule_in_its_time_zone() {
        let profiles = repo_profiles();
        let section = parse_section(&schedule_resources(&profiles));
        assert_eq!(section.len(), 1, "profiles without a schedule get none");
        let (id, schedule) = &section[0];
        assert_eq!(id, "ScheduleTutorial");
        assert_eq!(schedule["Type"], "AWS::Scheduler::Schedule");
        let p = &schedule["Properties"];
        assert_eq!(p["ScheduleExpression"], "cron(0 8 ? * MON-FRI *)");
        assert_eq!(p["ScheduleExpressionTimezone"], "Europe/Berlin");
        assert_eq!(
            p["Target"]["Input"],
            r#"{"profile":"tutorial","run_id":"schedule-<aws.scheduler.scheduled-time>"}"#
        );
        assert_eq!(
            p["Target"]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0], "UndeliveredTriggers",
            "a delivery that fails after its retries is kept"
        );
        assert_eq!(schedule_logical_id("ml-retrain-2"), "ScheduleMlRetrain2");
    }

    /// A profile's event trigger becomes a rule with its pattern whose
    /// target gets the whole event and the event id as the run's, and the
    /// permission for that rule (no other) to invoke create-cluster.
    #[test]
    fn an_event_trigger_becomes_a_rule_passing_the_whole_event() {
        let profiles = repo_profiles();
        let section = parse_section(&event_rule_resources(&profiles));
        let ids: Vec<&str> = section.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["EventRuleDrift1", "EventRuleDrift1Permission"]);
        let rule = &section[0].1["Properties"];
        assert_eq!(
            rule["EventPattern"],
            json!({"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"], "detail": {"alarmName": ["model-drift"], "state": {"value": ["ALARM"]}}})
        );
        let target = &rule["Targets"][0];
        assert_eq!(
            target["InputTransformer"]["InputPathsMap"],
            json!({"id": "$.id"})
        );
        assert_eq!(
            target["InputTransformer"]["InputTemplate"],
            r#"{"event":<aws.events.event.json>,"profile":"drift","run_id":"event-<id>"}"#
        );
        // What EventBridge sends, with a sample event put in, is what
        // create-cluster reads.
        let alarm = std::fs::read_to_string(
            crate::golden::workspace_root().join("events/cloudwatch-alarm-state-change.json"),
        )
        .unwrap();
        let sent = target["InputTransformer"]["InputTemplate"]
            .as_str()
            .unwrap()
            .replace("<aws.events.event.json>", &alarm)
            .replace("<id>", "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92");
        let sent: Value = serde_json::from_str(&sent).unwrap();
        let sample: Value = serde_json::from_str(
            &std::fs::read_to_string(
                crate::golden::workspace_root().join("events/create-cluster-event-trigger.json"),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(sent, sample);
        let permission = &section[1].1["Properties"];
        assert_eq!(
            permission["SourceArn"],
            json!({"Fn::GetAtt": ["EventRuleDrift1", "Arn"]})
        );
        assert_eq!(permission["Principal"], "events.amazonaws.com");
    }

    /// A ready_by schedule fires an hour before the people arrive and tells
    /// create-cluster when it was due, from which the run's ready_by follows.
    #[test]
    fn a_ready_by_schedule_fires_its_lead_early_and_names_its_time() {
        let text = include_str!("../../../profiles/tutorial.toml").replace(
            "cron = \"cron(0 8 ? * MON-FRI *)\"",
            "ready_by = \"cron(30 9 ? * MON-FRI *)\"",
        );
        let profile = Profile::parse(&text).unwrap();
        let section = parse_section(&schedule_resources(&[profile]));
        let p = &section[0].1["Properties"];
        assert_eq!(p["ScheduleExpression"], "cron(30 8 ? * MON-FRI *)");
        assert_eq!(p["ScheduleExpressionTimezone"], "Europe/Berlin");
        let input: Value = serde_json::from_str(p["Target"]["Input"].as_str().unwrap()).unwrap();
        assert_eq!(input["scheduled_time"], "<aws.scheduler.scheduled-time>");
        assert_eq!(input["run_id"], "schedule-<aws.scheduler.scheduled-time>");
    }

    /// A user's address becomes an e-mail subscription to the topic that
    /// lets through exactly the messages naming that user: the recipient
    /// the sweep puts on the warnings and notices about the profile's
    /// clusters. A user without an address gets none.
    #[test]
    fn a_users_address_becomes_a_subscription_filtered_to_that_user() {
        let profiles = repo_profiles();
        let section = parse_section(&subscription_resources(&profiles).unwrap());
        assert_eq!(
            section.len(),
            1,
            "philipp's; admin and retrain have no address"
        );
        let (id, subscription) = &section[0];
        assert_eq!(id, "EmailSubscriptionTutorialPhilipp");
        assert_eq!(
            subscription,
            &json!({
                "Type": "AWS::SNS::Subscription",
                "Properties": {
                    "TopicArn": {"Ref": "SparkhubTopic"},
                    "Protocol": "email",
                    "Endpoint": "philipp@example.com",
                    "FilterPolicyScope": "MessageAttributes",
                    "FilterPolicy": {"recipients": ["tutorial/philipp"]}
                }
            })
        );
        let tutorial = profiles
            .iter()
            .find(|p| p.name.as_str() == "tutorial")
            .unwrap();
        assert_eq!(
            subscription["Properties"]["FilterPolicy"][RECIPIENTS_ATTRIBUTE],
            json!(sparkhub_core::recipients::recipients(tutorial)),
            "the filter names what the sweep sends"
        );
    }

    #[test]
    fn subscription_ids_are_alphanumeric_and_never_shared() {
        let user = |u: &str| UserName::parse(u).unwrap();
        let profile = |p: &str| ProfileName::parse(p).unwrap();
        for (p, u, id) in [
            ("tutorial", "philipp", "EmailSubscriptionTutorialPhilipp"),
            (
                "ml-retrain-2",
                "data_eng-2",
                "EmailSubscriptionMlRetrain2DataEng2",
            ),
            ("a", "_svc", "EmailSubscriptionASvc"),
        ] {
            let got = subscription_logical_id(&profile(p), &user(u));
            assert_eq!(got, id);
            assert!(got.bytes().all(|b| b.is_ascii_alphanumeric()), "{got}");
        }
        let tutorial = repo_profiles()
            .into_iter()
            .find(|p| p.name.as_str() == "tutorial")
            .unwrap();
        let with = |name: &str, users: &[&str]| {
            let mut p = tutorial.clone();
            p.name = profile(name);
            p.users = users.iter().map(|u| user(u)).collect();
            let address = tutorial.emails.values().next().unwrap().clone();
            p.emails = p
                .users
                .iter()
                .map(|u| (u.clone(), address.clone()))
                .collect();
            p
        };
        let both = [with("a", &["b-c"]), with("a-b", &["c"])];
        let e = subscription_resources(&both).unwrap_err();
        assert!(
            e.contains("a/b-c and a-b/c would both be EmailSubscriptionABC"),
            "{e}"
        );
        let e = subscription_resources(&[with("t", &["a-b", "a_b"])]).unwrap_err();
        assert!(e.contains("t/a-b and t/a_b"), "{e}");
        let fine = [with("a", &["b-c"]), with("a-b", &["d"])];
        assert_eq!(
            parse_section(&subscription_resources(&fine).unwrap()).len(),
            2
        );
    }

    /// The resources of a generated section, parsed back: each is
    /// `  <Id>: <JSON>`.
    fn parse_section(section: &str) -> Vec<(String, serde_json::Value)> {
        let mut out = Vec::new();
        for block in section.split("\n\n").filter(|b| !b.trim().is_empty()) {
            let (id, json) = block.trim_start().split_once(": ").unwrap();
            out.push((id.to_owned(), serde_json::from_str(json).unwrap()));
        }
        out
    }

    /// Threat model, operators' mistakes and hostile profiles: a location
    /// with a quote, a newline or `..` is refused by validation, naming the
    /// field; and even a value that got past validation stays one string in
    /// the generated template, never an extra statement.
    #[test]
    fn a_hostile_location_cannot_add_a_policy_statement() {
        let tutorial =
            std::fs::read_to_string(crate::golden::workspace_root().join("profiles/tutorial.toml"))
                .unwrap();
        let hostile = "s3://b-1/x\\\"\\n          - Effect: Allow\\n            Action: \\\"*\\\"/";
        for (field, line) in [
            ("log_uri", format!("log_uri = \"{hostile}\"")),
            (
                "log_uri",
                "log_uri = \"s3://b-1/a/../profiles/\"".to_owned(),
            ),
        ] {
            let text = tutorial.replacen(
                "name = \"tutorial\"",
                &format!("name = \"tutorial\"\n{line}"),
                1,
            );
            let e = sparkhub_core::Profile::parse(&text)
                .unwrap_err()
                .to_string();
            assert!(e.contains(field), "{line}: {e}");
        }
        let text = format!("{tutorial}\n[access]\nwrite = [\"{hostile}\"]\n");
        let e = sparkhub_core::Profile::parse(&text)
            .unwrap_err()
            .to_string();
        assert!(e.contains("access.write[0]"), "{e}");

        let profiles = repo_profiles();
        let baseline = parse_section(&node_role_resources(&profiles));
        let mut bent = profiles.clone();
        let payload = "x\"\n          - Effect: Allow\n            Action: \"*\"\n            Resource: \"*\"\n";
        let tutorial = bent
            .iter_mut()
            .find(|p| p.name.as_str() == "tutorial")
            .unwrap();
        tutorial.log_uri = Some(S3Uri::new("b-1", payload));
        let generated = parse_section(&node_role_resources(&bent));
        assert_eq!(generated.len(), baseline.len());
        for ((id, a), (_, b)) in baseline.iter().zip(&generated) {
            let statements = |v: &serde_json::Value| {
                v["Properties"]["PolicyDocument"]["Statement"]
                    .as_array()
                    .map(Vec::len)
            };
            assert_eq!(statements(a), statements(b), "{id}");
        }
        let policy = &generated
            .iter()
            .find(|(id, _)| id == "NodePolicyTutorial")
            .unwrap()
            .1;
        let logs = policy["Properties"]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "Logs")
            .unwrap();
        assert_eq!(
            logs["Resource"][0]["Fn::Sub"],
            format!("arn:${{AWS::Partition}}:s3:::b-1/{payload}*"),
            "the payload is one string of one resource"
        );
    }

    #[test]
    fn pass_role_names_each_generated_node_role() {
        let profiles = repo_profiles();
        let section = parse_section(&node_role_resources(&profiles));
        for id in ["WorkflowPassNodeRoles", "EmrServicePassNodeRoles"] {
            let policy = &section.iter().find(|(i, _)| i == id).unwrap().1;
            let resources = &policy["Properties"]["PolicyDocument"]["Statement"][0]["Resource"];
            let names: Vec<&str> = resources
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["Fn::Sub"].as_str().unwrap())
                .collect();
            assert_eq!(
                names,
                [
                    "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${EmrInstanceRolePrefix}-drift",
                    "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${EmrInstanceRolePrefix}-retrain",
                    "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${EmrInstanceRolePrefix}-tutorial"
                ],
                "{id}: no wildcard"
            );
        }
    }
}
