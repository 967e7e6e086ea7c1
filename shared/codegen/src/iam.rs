//! What sparkhub asks of IAM: every AWS call each part makes, with the
//! resource and the condition keys AWS evaluates, and the calls that must be
//! refused. `make generate` writes it to `tests/iam/inventory.json`; the IAM
//! simulation in `make test` (`tests/infra/test_iam.py`, with the maintained
//! evaluator `@cloud-copilot/iam-simulate`) checks each entry against the
//! stack's policies after the SAM transform.
//!
//! Derived from the code wherever it can be:
//! - the functions' calls from [`PORT_CALLS`], one table per port, which a
//!   test checks against the SDK operations the adapters in `sparkhub-aws` really
//!   call, and from the ports each function's handler uses;
//! - the state machine's calls from the generated ASL (every `aws-sdk:*` and
//!   SNS task) and the rendered RunJobFlow request (its tags and roles);
//! - what EMR's service role does for a cluster and what a profile's nodes do
//!   from the rendered request, the scripts and the profile.
//!
//! Placeholders (`${Account}`, `${Region}`, `${StateMachineArn}`,
//! `${StateMachineName}`, `${TopicArn}`, `${FailedInvocationsArn}`,
//! `${CreateClusterFunctionArn}`, `${UndeliveredTriggersArn}`, `${EmrServiceRoleName}`,
//! `${EmrInstanceRolePrefix}`, `${CheckGroup}`, `${CheckRoleArn}`,
//! `${TerminateIdleClustersFunctionArn}`) are filled in by the simulation with the values
//! it also gives the template's parameters.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::infra::NOTEBOOK_PREFIX;
use sparkhub_core::Profile;
use sparkhub_core::names::S3Uri;
use sparkhub_core::render::{self, Deployment, RunOptions};
use sparkhub_core::users::{hashes_secret_name, secret_name};
use sparkhub_core::workflow::cluster_workflow;

/// A port of `ports.rs`, by its trait name.
pub type Port = &'static str;

/// One AWS call an adapter method makes.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    /// The SDK operation (snake case, as the Rust SDK spells it).
    pub operation: &'static str,
    /// The IAM action AWS authorizes it with.
    pub action: &'static str,
    /// The resource ARN (with placeholders).
    pub resource: &'static str,
    /// Condition keys AWS sets for it.
    pub context: &'static [(&'static str, &'static str)],
    /// Why sparkhub makes the call.
    pub why: &'static str,
}

const CLUSTER: &str = "arn:aws:elasticmapreduce:${Region}:${Account}:cluster/j-EXAMPLE";
const MANAGED: &[(&str, &str)] = &[
    ("aws:ResourceTag/sparkhub:managed", "true"),
    ("elasticmapreduce:ResourceTag/sparkhub:managed", "true"),
];

/// Every AWS call of every port, as the adapters in `sparkhub-aws` make them. A test
/// reads the sources of `shared/aws/src/` and fails when an adapter calls an SDK operation its port's
/// table does not list.
pub const PORT_CALLS: &[(Port, &[Call])] = &[
    (
        "ProfileStore",
        &[
            Call {
                operation: "get_object",
                action: "s3:GetObject",
                resource: "arn:aws:s3:::${Bucket}/profiles/${Profile}.toml",
                context: &[],
                why: "read a profile",
            },
            // A missing key answers 404 (the profile is gone) only to a caller
            // that may list the bucket; otherwise 403. AWS does not document
            // which condition keys that check sees, so the inventory asks
            // for ListBucket with none (an s3:prefix condition would not do).
            // https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
            Call {
                operation: "get_object",
                action: "s3:ListBucket",
                resource: "arn:aws:s3:::${Bucket}",
                context: &[],
                why: "tell a missing profile (404) from a forbidden one (403)",
            },
            Call {
                operation: "list_objects_v2",
                action: "s3:ListBucket",
                resource: "arn:aws:s3:::${Bucket}",
                context: &[("s3:prefix", "profiles/")],
                why: "list the profiles",
            },
        ],
    ),
    (
        "ScriptStore",
        &[Call {
            operation: "put_object",
            action: "s3:PutObject",
            resource: "arn:aws:s3:::${Bucket}/scripts/0123456789abcdef/jupyterhub-users.sh",
            context: &[],
            why: "upload a rendered script unless it is there (If-None-Match: *)",
        }],
    ),
    (
        "Workflow",
        &[
            Call {
                operation: "describe_execution",
                action: "states:DescribeExecution",
                resource: "arn:aws:states:${Region}:${Account}:execution:${StateMachineName}:tutorial-manual-20261128T080000Z",
                context: &[],
                why: "did this trigger start a run already",
            },
            Call {
                operation: "start_execution",
                action: "states:StartExecution",
                resource: "${StateMachineArn}",
                context: &[],
                why: "start the cluster workflow",
            },
            Call {
                operation: "list_executions",
                action: "states:ListExecutions",
                resource: "${StateMachineArn}",
                context: &[],
                why: "count a profile's runs that are starting (max_active_clusters)",
            },
        ],
    ),
    (
        "LeaseStore",
        &[
            Call {
                operation: "get_object",
                action: "s3:GetObject",
                resource: "arn:aws:s3:::${Bucket}/locks/${Profile}.json",
                context: &[],
                why: "read a profile's lease when the conditional create found one",
            },
            Call {
                operation: "put_object",
                action: "s3:PutObject",
                resource: "arn:aws:s3:::${Bucket}/locks/${Profile}.json",
                context: &[],
                why: "take or release a profile's lease (conditional writes)",
            },
        ],
    ),
    (
        "ClusterDirectory",
        &[
            Call {
                operation: "list_clusters",
                action: "elasticmapreduce:ListClusters",
                resource: "*",
                context: &[],
                why: "count a profile's active clusters",
            },
            Call {
                operation: "describe_cluster",
                action: "elasticmapreduce:DescribeCluster",
                resource: CLUSTER,
                context: &[],
                why: "read an active cluster's tags (any cluster, sparkhub's or not)",
            },
            Call {
                operation: "add_tags",
                action: "elasticmapreduce:AddTags",
                resource: CLUSTER,
                context: &[
                    ("aws:ResourceTag/sparkhub:managed", "true"),
                    ("elasticmapreduce:ResourceTag/sparkhub:managed", "true"),
                    ("aws:TagKeys", sparkhub_core::create::pool::TAG_CLAIMED_BY),
                ],
                why: "a pooled run claims a waiting cluster of its pool (sparkhub:claimed-by)",
            },
            Call {
                operation: "add_tags",
                action: "elasticmapreduce:AddTags",
                resource: CLUSTER,
                context: &[
                    ("aws:ResourceTag/sparkhub:managed", "true"),
                    ("elasticmapreduce:ResourceTag/sparkhub:managed", "true"),
                    ("aws:TagKeys", sparkhub_core::create::pool::TAG_CLAIMED_AT),
                ],
                why: "a pooled run claims a waiting cluster of its pool (sparkhub:claimed-at)",
            },
        ],
    ),
    (
        "ClusterSteps",
        &[
            Call {
                operation: "describe_cluster",
                action: "elasticmapreduce:DescribeCluster",
                resource: CLUSTER,
                context: &[],
                why: "read the cluster's tags and state",
            },
            Call {
                operation: "list_steps",
                action: "elasticmapreduce:ListSteps",
                resource: CLUSTER,
                context: MANAGED,
                why: "is the users step there already",
            },
            Call {
                operation: "add_job_flow_steps",
                action: "elasticmapreduce:AddJobFlowSteps",
                resource: CLUSTER,
                context: MANAGED,
                why: "add the users step",
            },
        ],
    ),
    (
        "SecretStore",
        &[
            Call {
                operation: "get_secret_value",
                action: "secretsmanager:GetSecretValue",
                resource: "arn:aws:secretsmanager:${Region}:${Account}:secret:sparkhub/${Profile}/jupyterhub-users-AbCdEf",
                context: &[],
                why: "read a profile's passwords",
            },
            Call {
                operation: "create_secret",
                action: "secretsmanager:CreateSecret",
                resource: "arn:aws:secretsmanager:${Region}:${Account}:secret:sparkhub/${Profile}/jupyterhub-users-AbCdEf",
                context: &[],
                why: "create a profile's password secret",
            },
            Call {
                operation: "put_secret_value",
                action: "secretsmanager:PutSecretValue",
                resource: "arn:aws:secretsmanager:${Region}:${Account}:secret:sparkhub/${Profile}/jupyterhub-users-AbCdEf",
                context: &[],
                why: "add the passwords of new users",
            },
            Call {
                operation: "get_secret_value",
                action: "secretsmanager:GetSecretValue",
                resource: "arn:aws:secretsmanager:${Region}:${Account}:secret:sparkhub/${Profile}/jupyterhub-password-hashes-AbCdEf",
                context: &[],
                why: "read the crypt hashes of a profile's passwords",
            },
            Call {
                operation: "create_secret",
                action: "secretsmanager:CreateSecret",
                resource: "arn:aws:secretsmanager:${Region}:${Account}:secret:sparkhub/${Profile}/jupyterhub-password-hashes-AbCdEf",
                context: &[],
                why: "create the secret of the crypt hashes the nodes read",
            },
            Call {
                operation: "put_secret_value",
                action: "secretsmanager:PutSecretValue",
                resource: "arn:aws:secretsmanager:${Region}:${Account}:secret:sparkhub/${Profile}/jupyterhub-password-hashes-AbCdEf",
                context: &[],
                why: "write the crypt hashes of the passwords",
            },
        ],
    ),
    (
        "ClusterFleet",
        &[
            Call {
                operation: "list_clusters",
                action: "elasticmapreduce:ListClusters",
                resource: "*",
                context: &[],
                why: "list the active clusters",
            },
            Call {
                operation: "describe_cluster",
                action: "elasticmapreduce:DescribeCluster",
                resource: CLUSTER,
                context: &[],
                why: "read a cluster's tags, times and protection",
            },
            Call {
                operation: "list_steps",
                action: "elasticmapreduce:ListSteps",
                resource: CLUSTER,
                context: MANAGED,
                why: "are steps pending or running",
            },
            Call {
                operation: "terminate_job_flows",
                action: "elasticmapreduce:TerminateJobFlows",
                resource: CLUSTER,
                context: MANAGED,
                why: "terminate an idle managed cluster",
            },
        ],
    ),
    (
        "ClusterTagger",
        &[Call {
            operation: "add_tags",
            action: "elasticmapreduce:AddTags",
            resource: CLUSTER,
            context: &[
                ("aws:ResourceTag/sparkhub:managed", "true"),
                ("elasticmapreduce:ResourceTag/sparkhub:managed", "true"),
                ("aws:TagKeys", sparkhub_core::render::TAG_WARNED_AT),
            ],
            why: "remember that the cluster's users were warned (sparkhub:warned-at)",
        }],
    ),
    (
        "ClusterUntagger",
        &[Call {
            operation: "remove_tags",
            action: "elasticmapreduce:RemoveTags",
            resource: CLUSTER,
            context: MANAGED,
            why: "sparkhub keep-alive --clear (the operator's credentials, no function)",
        }],
    ),
    (
        "ClusterInstances",
        &[Call {
            operation: "list_instances",
            action: "elasticmapreduce:ListInstances",
            resource: CLUSTER,
            context: &[],
            why: "sparkhub connect: the master's EC2 instance id for Session Manager (the operator's credentials, no function)",
        }],
    ),
    (
        "PriceSource",
        // The Price List's actions name no resource: the Billing User Guide's
        // policy for the Bulk API grants them on `*` ("Using the AWS Price
        // List Bulk API", IAM permissions); GetProducts is in its "Find
        // products and prices" example, which we have not read.
        &[Call {
            operation: "get_products",
            action: "pricing:GetProducts",
            resource: "*",
            context: &[],
            why: "on-demand EC2 and EMR prices from the Price List (sparkhub report with the operator's credentials; the sweep for the budgets)",
        }],
    ),
    (
        "ClusterArchive",
        &[
            Call {
                operation: "list_clusters",
                action: "elasticmapreduce:ListClusters",
                resource: "*",
                context: &[],
                why: "sparkhub report: the clusters of the period, every state (the operator's credentials, no function)",
            },
            Call {
                operation: "list_instance_fleets",
                action: "elasticmapreduce:ListInstanceFleets",
                resource: CLUSTER,
                context: &[],
                why: "sparkhub report: a cluster's instance types and capacities (the operator's credentials, no function)",
            },
        ],
    ),
    (
        "HistoryReader",
        &[
            Call {
                operation: "list_objects_v2",
                action: "s3:ListBucket",
                resource: "arn:aws:s3:::${Bucket}",
                context: &[("s3:prefix", "history/")],
                why: "sparkhub report: the history's objects of the period (the operator's credentials, no function)",
            },
            Call {
                operation: "get_object",
                action: "s3:GetObject",
                resource: "arn:aws:s3:::${Bucket}/history/*",
                context: &[],
                why: "sparkhub report: read a history record (the operator's credentials, no function)",
            },
        ],
    ),
    (
        "ProfilePublisher",
        &[Call {
            operation: "put_object",
            action: "s3:PutObject",
            resource: "arn:aws:s3:::${Bucket}/profiles/${Profile}.toml",
            context: &[],
            why: "sparkhub push: upload a valid profile (the operator's credentials, no function)",
        }],
    ),
    (
        "InstanceProfiles",
        &[Call {
            operation: "get_instance_profile",
            action: "iam:GetInstanceProfile",
            resource: "arn:aws:iam::${Account}:instance-profile/${EmrInstanceRolePrefix}-${Profile}",
            context: &[],
            why: "sparkhub push: does the profile's instance profile exist yet (the operator's credentials, no function)",
        }],
    ),
    (
        "StackOutputs",
        &[Call {
            operation: "describe_stacks",
            action: "cloudformation:DescribeStacks",
            resource: "arn:aws:cloudformation:${Region}:${Account}:stack/${StackName}/*",
            context: &[],
            why: "--stack: the bucket, the create-cluster function and the state machine from the stack's outputs (the operator's credentials, no function)",
        }],
    ),
    (
        "FunctionInvoker",
        &[Call {
            operation: "invoke",
            action: "lambda:InvokeFunction",
            resource: "${CreateClusterFunctionArn}",
            context: &[],
            why: "sparkhub start: a manual run of create-cluster (the operator's credentials, no function)",
        }],
    ),
    (
        "RunWatcher",
        &[
            Call {
                operation: "describe_execution",
                action: "states:DescribeExecution",
                resource: "arn:aws:states:${Region}:${Account}:execution:${StateMachineName}:tutorial-manual-20261128T080000Z",
                context: &[],
                why: "sparkhub start: the run's status (the operator's credentials, no function)",
            },
            Call {
                operation: "get_execution_history",
                action: "states:GetExecutionHistory",
                resource: "arn:aws:states:${Region}:${Account}:execution:${StateMachineName}:tutorial-manual-20261128T080000Z",
                context: &[],
                why: "sparkhub start: the run's state and its cluster (the operator's credentials, no function)",
            },
        ],
    ),
    // "No permissions are required to perform this operation" (STS API
    // reference, GetCallerIdentity); listed so that the scan sees the call.
    (
        "CallerIdentity",
        &[Call {
            operation: "get_caller_identity",
            action: "sts:GetCallerIdentity",
            resource: "*",
            context: &[],
            why: "sparkhub stop: who stopped the cluster, for the history (needs no permission)",
        }],
    ),
    (
        "HistoryStore",
        &[Call {
            operation: "put_object",
            action: "s3:PutObject",
            resource: "arn:aws:s3:::${Bucket}/history/2026-11-28/j-EXAMPLE-termination-1795852800.json",
            context: &[],
            why: "record a termination or a warning of the sweep (If-None-Match: *)",
        }],
    ),
    (
        "BudgetLedger",
        &[
            Call {
                operation: "get_object",
                action: "s3:GetObject",
                resource: "arn:aws:s3:::${Bucket}/budgets/${Profile}/2026-12.json",
                context: &[],
                why: "a profile's estimated spending this month (create-cluster: refuse past the budget; the sweep: add to it)",
            },
            Call {
                operation: "put_object",
                action: "s3:PutObject",
                resource: "arn:aws:s3:::${Bucket}/budgets/${Profile}/2026-12.json",
                context: &[],
                why: "keep a profile's month current, or note an override (If-Match / If-None-Match)",
            },
            Call {
                operation: "put_object",
                action: "s3:PutObject",
                resource: "arn:aws:s3:::${Bucket}/history/2026-12-06/${Profile}-budget-override-1796553600.json",
                context: &[],
                why: "record a run started past its budget (If-None-Match: *)",
            },
        ],
    ),
    (
        "StartupHistory",
        &[Call {
            operation: "get_object",
            action: "s3:GetObject",
            resource: "arn:aws:s3:::${Bucket}/startups/${Profile}.json",
            context: &[],
            why: "a profile's recent startup times (a ready_by run's lead; the setup function adds to them)",
        }],
    ),
    (
        "StartupLog",
        &[
            Call {
                operation: "get_object",
                action: "s3:GetObject",
                resource: "arn:aws:s3:::${Bucket}/startups/${Profile}.json",
                context: &[],
                why: "read a profile's startups before adding one (conditional write)",
            },
            Call {
                operation: "put_object",
                action: "s3:PutObject",
                resource: "arn:aws:s3:::${Bucket}/startups/${Profile}.json",
                context: &[],
                why: "add a cluster's startup to its profile's (If-Match / If-None-Match)",
            },
            Call {
                operation: "put_object",
                action: "s3:PutObject",
                resource: "arn:aws:s3:::${Bucket}/history/2026-11-28/j-EXAMPLE-startup-1795852800.json",
                context: &[],
                why: "record a cluster's startup in the history (If-None-Match: *)",
            },
            Call {
                operation: "put_metric_data",
                action: "cloudwatch:PutMetricData",
                resource: "*",
                context: &[("cloudwatch:namespace", "Sparkhub")],
                why: "the startup time metric (the dashboard's widget)",
            },
        ],
    ),
    (
        "MetricsSource",
        &[Call {
            operation: "get_metric_data",
            action: "cloudwatch:GetMetricData",
            resource: "*",
            context: &[],
            why: "IsIdle and the activity agent's samples of the clusters",
        }],
    ),
    (
        "CheckScheduler",
        &[
            Call {
                operation: "create_schedule",
                action: "scheduler:CreateSchedule",
                resource: "arn:aws:scheduler:${Region}:${Account}:schedule/${CheckGroup}/j-EXAMPLE-20261128T080000",
                context: &[],
                why: "a one-time check of a cluster whose warning or idle termination is due before the next sweep",
            },
            // The schedule invokes the sweep with a role: its creator passes
            // it (EventBridge Scheduler user guide, "Set up the execution
            // role": iam:PassRole, iam:PassedToService scheduler.amazonaws.com).
            Call {
                operation: "create_schedule",
                action: "iam:PassRole",
                resource: "${CheckRoleArn}",
                context: &[("iam:PassedToService", "scheduler.amazonaws.com")],
                why: "the check invokes the sweep with the check role",
            },
        ],
    ),
    (
        "Notifier",
        &[Call {
            operation: "publish",
            action: "sns:Publish",
            resource: "${TopicArn}",
            context: &[],
            why: "tell people what happened to a cluster",
        }],
    ),
];

/// The calls of one port; empty for an unknown one.
pub fn port_calls(port: &str) -> &'static [Call] {
    PORT_CALLS
        .iter()
        .find(|(p, _)| *p == port)
        .map(|(_, calls)| *calls)
        .unwrap_or(&[])
}

/// The functions: their logical id in the template, the directory of their use case in the core,
/// and the ports their handlers use (a test reads the handler sources and
/// fails when this list differs from the ports they import).
pub const FUNCTIONS: &[(&str, &str, &[Port])] = &[
    (
        "CreateClusterFunction",
        "shared/core/src/create",
        &[
            "ProfileStore",
            "ScriptStore",
            "Workflow",
            "ClusterDirectory",
            "LeaseStore",
            "StartupHistory",
            "BudgetLedger",
        ],
    ),
    (
        "SetupJupyterUsersFunction",
        "shared/core/src/setup",
        &[
            "ProfileStore",
            "ScriptStore",
            "ClusterSteps",
            "SecretStore",
            "Notifier",
            "StartupLog",
        ],
    ),
    (
        "TerminateIdleClustersFunction",
        "shared/core/src/sweep",
        &[
            "ProfileStore",
            "ClusterFleet",
            "MetricsSource",
            "Notifier",
            "ClusterTagger",
            "HistoryStore",
            "CheckScheduler",
            "BudgetLedger",
            "PriceSource",
        ],
    ),
];

/// The `sparkhub` commands that call AWS, with the operator's own
/// credentials (no role of the stack), and the port calls each makes: a port
/// with no operations named makes all of its [`PORT_CALLS`]. A test reads
/// the CLI's sources and fails when it uses a port no command lists here;
/// the README's table of the operator's permissions is generated from it
/// ([`operator_permissions_markdown`]).
/// A port and the operations of it a command makes (none named: all).
pub type PortUse = (Port, &'static [&'static str]);

pub const OPERATOR_COMMANDS: &[(&str, &[PortUse])] = &[
    (
        "status",
        &[
            ("ProfileStore", &["list_objects_v2", "get_object"]),
            (
                "ClusterFleet",
                &["list_clusters", "describe_cluster", "list_steps"],
            ),
            ("MetricsSource", &[]),
        ],
    ),
    (
        "connect",
        &[
            ("ClusterSteps", &["describe_cluster"]),
            ("ClusterInstances", &[]),
        ],
    ),
    ("password", &[("SecretStore", &["get_secret_value"])]),
    ("password --rotate", &[("SecretStore", &[])]),
    (
        "keep-alive",
        &[
            ("ClusterSteps", &["describe_cluster"]),
            ("ClusterTagger", &[]),
            ("ClusterUntagger", &[]),
        ],
    ),
    (
        "report",
        &[
            ("ClusterArchive", &[]),
            ("ClusterSteps", &["describe_cluster"]),
            ("ProfileStore", &["get_object"]),
            ("HistoryReader", &[]),
            ("PriceSource", &[]),
            // The month's budget object of each budgeted profile.
            ("BudgetLedger", &["get_object"]),
        ],
    ),
    (
        "push",
        &[("ProfilePublisher", &[]), ("InstanceProfiles", &[])],
    ),
    (
        "start",
        &[
            ("FunctionInvoker", &[]),
            ("RunWatcher", &[]),
            ("ClusterSteps", &["describe_cluster", "list_steps"]),
        ],
    ),
    (
        "stop",
        &[
            ("ClusterSteps", &["describe_cluster"]),
            ("ClusterFleet", &["terminate_job_flows"]),
            ("HistoryStore", &[]),
            ("CallerIdentity", &[]),
        ],
    ),
    ("--stack (any command)", &[("StackOutputs", &[])]),
];

/// The calls of one command of [`OPERATOR_COMMANDS`].
pub fn operator_calls(command: &str) -> Vec<&'static Call> {
    OPERATOR_COMMANDS
        .iter()
        .filter(|(c, _)| *c == command)
        .flat_map(|(_, ports)| ports.iter())
        .flat_map(|(port, ops)| {
            port_calls(port)
                .iter()
                .filter(move |call| ops.is_empty() || ops.contains(&call.operation))
        })
        .collect()
}

/// The README's table of the operator's permissions, between these markers.
pub const OPERATOR_BEGIN: &str = "<!-- BEGIN generated: operator permissions (make generate) -->";
pub const OPERATOR_END: &str = "<!-- END generated: operator permissions -->";

/// A resource of the tables as a person reads it: the placeholders in words.
fn readable(resource: &str) -> String {
    resource
        .replace("${Bucket}", "<BucketName>")
        .replace("${Region}", "<region>")
        .replace("${Account}", "<account>")
        .replace("${Profile}", "<profile>")
        .replace("${StackName}", "<stack>")
        .replace("${StateMachineName}", "<state machine>")
        .replace("${EmrInstanceRolePrefix}", "sparkhub-node")
        .replace(
            "${CreateClusterFunctionArn}",
            "the create-cluster function (CreateClusterFunctionName)",
        )
        .replace("${Secret}", "<secret>")
        .replace(":tutorial-manual-20261128T080000Z", ":*")
        .replace(
            "/history/2026-11-28/j-EXAMPLE-termination-1795852800.json",
            "/history/*",
        )
        .replace("/j-EXAMPLE", "/*")
        .replace(
            "sparkhub/<profile>/jupyterhub-users-AbCdEf",
            "sparkhub/<profile>/jupyterhub-users-*",
        )
        .replace(
            "sparkhub/<profile>/jupyterhub-password-hashes-AbCdEf",
            "sparkhub/<profile>/jupyterhub-password-hashes-*",
        )
}

/// One row per command and IAM action: the resources, and the condition
/// keys a policy may use.
pub fn operator_permissions_markdown() -> String {
    let mut out = String::from(
        "| command | IAM action | resource | condition keys AWS sets |\n|---|---|---|---|\n",
    );
    for (command, _) in OPERATOR_COMMANDS {
        let mut rows: BTreeMap<&str, (Vec<String>, Vec<String>)> = BTreeMap::new();
        for call in operator_calls(command) {
            let (resources, keys) = rows.entry(call.action).or_default();
            let resource = format!("`{}`", readable(call.resource));
            if !resources.contains(&resource) {
                resources.push(resource);
            }
            // The tag keys are those of the sweep's calls (keep-alive sets
            // sparkhub:keep-alive-until, not sparkhub:warned-at): left out.
            for (key, value) in call.context.iter().filter(|(k, _)| *k != "aws:TagKeys") {
                let key = format!("`{key}` = `{}`", readable(value));
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        for (action, (resources, keys)) in rows {
            out.push_str(&format!(
                "| `{command}` | `{action}` | {} | {} |\n",
                resources.join(", "),
                if keys.is_empty() {
                    "".into()
                } else {
                    keys.join(", ")
                }
            ));
        }
    }
    out
}

/// `readme` with the operator's permissions between [`OPERATOR_BEGIN`] and
/// [`OPERATOR_END`].
pub fn with_operator_permissions(readme: &str) -> Option<String> {
    let begin = readme.find(OPERATOR_BEGIN)?;
    let end = readme.find(OPERATOR_END)?;
    (begin < end).then(|| {
        format!(
            "{}{OPERATOR_BEGIN}\n{}{}",
            &readme[..begin],
            operator_permissions_markdown(),
            &readme[end..]
        )
    })
}

/// The principal of the state machine's role and EMR's roles in the inventory.
pub const STATE_MACHINE: &str = "ClusterWorkflow";
pub const EMR_SERVICE_ROLE: &str = "${EmrServiceRoleName}";

/// The role a profile's nodes run with.
pub fn node_role(profile: &str) -> String {
    render::instance_role_name("${EmrInstanceRolePrefix}", profile)
}

/// One request and what IAM must answer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Request {
    /// A function's or the state machine's logical id, or an EMR role name.
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub context: BTreeMap<String, ContextValue>,
    pub why: String,
    /// The request parameters the call sends that an authorization beside
    /// the named action depends on, with their values ([`crate::implied`]).
    #[serde(skip)]
    pub sends: BTreeMap<String, String>,
}

/// A condition key's value: one string, or several (`aws:TagKeys`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(untagged)]
pub enum ContextValue {
    One(String),
    Many(Vec<String>),
}

/// The name the inventory gives the sparkhub bucket (`${Bucket}` in the
/// tables); the simulation deploys the template with a bucket of this name.
pub const BUCKET: &str = "sparkhub-bucket-example";

/// The whole inventory: calls that must be allowed and calls that must be denied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inventory {
    /// [`BUCKET`]
    pub bucket: String,
    pub allowed: Vec<Request>,
    pub denied: Vec<Request>,
}

fn request(
    principal: &str,
    action: &str,
    resource: &str,
    context: &[(&str, &str)],
    why: &str,
) -> Request {
    Request {
        principal: principal.to_owned(),
        action: action.to_owned(),
        resource: resource.to_owned(),
        context: context
            .iter()
            .map(|(k, v)| ((*k).to_owned(), ContextValue::One((*v).to_owned())))
            .collect(),
        why: why.to_owned(),
        sends: BTreeMap::new(),
    }
}

impl Request {
    /// With the tags as condition keys `<service>:<kind>/<key>` for each
    /// service prefix: AWS sets both `aws:RequestTag/…` and the service's
    /// own key, and a policy may use either.
    fn with_tags(mut self, kind: &str, services: &[&str], tags: &[(String, String)]) -> Self {
        for service in services {
            for (k, v) in tags {
                self.context.insert(
                    format!("{service}:{kind}/{k}"),
                    ContextValue::One(v.clone()),
                );
            }
        }
        self
    }

    fn sending(mut self, parameter: &str, value: &str) -> Self {
        self.sends.insert(parameter.to_owned(), value.to_owned());
        self
    }
}

fn with_profile(call: &Call, principal: &str, profile: &str) -> Request {
    let fill = |s: &str| s.replace("${Profile}", profile);
    Request {
        principal: principal.to_owned(),
        action: call.action.to_owned(),
        resource: fill(call.resource),
        context: call
            .context
            .iter()
            .map(|(k, v)| {
                let value = if *k == "aws:TagKeys" {
                    ContextValue::Many(vec![fill(v)])
                } else {
                    ContextValue::One(fill(v))
                };
                ((*k).to_owned(), value)
            })
            .collect(),
        why: format!("{} ({})", call.why, call.operation),
        sends: BTreeMap::new(),
    }
}

/// An `s3://` location as the object ARN of one example key below it.
fn object_arn(uri: &S3Uri, example: &str) -> String {
    let key = if uri.key().is_empty() || uri.key().ends_with('/') {
        format!("{}{example}", uri.key())
    } else {
        uri.key().to_owned()
    };
    format!("arn:aws:s3:::{}/{key}", uri.bucket())
}

/// The inventory for these (valid) profiles.
pub fn inventory(profiles: &[Profile]) -> Inventory {
    let mut allowed = Vec::new();
    let mut denied = Vec::new();
    let deployment = Deployment {
        bucket: BUCKET.into(),
        master_security_group: None,
        service_role: EMR_SERVICE_ROLE.into(),
        instance_role_prefix: "${EmrInstanceRolePrefix}".into(),
    };

    for profile in profiles {
        let name = profile.name.as_str();
        for (function, _, ports) in FUNCTIONS {
            for port in *ports {
                for call in port_calls(port) {
                    allowed.push(with_profile(call, function, name));
                }
            }
        }

        let plan = render::plan(
            profile,
            &deployment,
            &RunOptions {
                run_id: "inventory".into(),
                object: profile
                    .triggers
                    .first()
                    .map(|t| S3Uri::new(&t.bucket, &format!("{}new{}", t.prefix, t.suffix))),
                ..Default::default()
            },
        );
        let request_tags: Vec<(String, String)> = plan
            .input
            .request
            .tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect();

        state_machine_calls(&mut allowed, name, &request_tags, &sent_parameters(&plan));
        emr_service_role_calls(
            &mut allowed,
            &request_tags,
            &plan.input.request.job_flow_role,
        );
        node_calls(&mut allowed, profile, &plan);
    }

    runtime_calls(&mut allowed, profiles);
    implied_calls(&mut allowed);
    abuses(&mut denied, profiles);
    for r in allowed.iter_mut().chain(denied.iter_mut()) {
        r.resource = r.resource.replace("${Bucket}", BUCKET);
        for value in r.context.values_mut() {
            if let ContextValue::One(v) = value {
                *v = v.replace("${Bucket}", BUCKET);
            }
        }
    }
    allowed.sort();
    allowed.dedup();
    denied.sort();
    denied.dedup();
    Inventory {
        bucket: BUCKET.into(),
        allowed,
        denied,
    }
}

/// The top-level parameters of the rendered RunJobFlow request that carry a
/// value, by their API name, with the value where it is a string.
fn sent_parameters(plan: &sparkhub_core::ClusterPlan) -> BTreeMap<String, String> {
    let request = serde_json::to_value(&plan.input.request).expect("the request serializes");
    let Value::Object(fields) = request else {
        return BTreeMap::new();
    };
    fields
        .into_iter()
        .filter(|(_, v)| match v {
            Value::Null => false,
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            Value::String(s) => !s.is_empty(),
            _ => true,
        })
        .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
        .collect()
}

/// Every authorization of [`crate::implied::IMPLIED`] that the stack must
/// grant, for each call of the inventory it applies to: same principal, the
/// call's resource or the row's, the call's request tags where the row says so.
fn implied_calls(out: &mut Vec<Request>) {
    use crate::implied::{Holds, IMPLIED, When, Who};
    let mut extra = Vec::new();
    for call in out.iter() {
        for row in IMPLIED {
            if row.call != call.action || row.who != Who::Caller || row.holds != Holds::Simulated {
                continue;
            }
            let sent = match row.when {
                When::Sends(parameter) => match call.sends.get(parameter) {
                    Some(value) => value.as_str(),
                    None => continue,
                },
                When::Always | When::FirstInAccount => "",
            };
            let resource = row
                .resource
                .replace("${Resource}", &call.resource)
                .replace("${Sent}", sent);
            let mut r = request(
                &call.principal,
                row.action,
                &resource,
                row.context,
                &format!(
                    "AWS also checks {} for {} {}: {}",
                    row.action,
                    row.call,
                    row.when.describe(),
                    row.source
                ),
            );
            if row.request_tags {
                for (key, value) in &call.context {
                    if key.contains(":RequestTag/") || key == "aws:TagKeys" {
                        r.context.insert(key.clone(), value.clone());
                    }
                }
            }
            extra.push(r);
        }
    }
    out.extend(extra);
}

/// What AWS does with sparkhub's roles around the code: Lambda sends failed
/// asynchronous invocations to the queue with the function's role (the stack's
/// on-failure destination), the scheduler invokes create-cluster for the
/// profiles with a `[schedule]` and the sweep for the checks it scheduled,
/// Step Functions delivers the workflow's logs.
/// <https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html>,
/// <https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html>
fn runtime_calls(out: &mut Vec<Request>, profiles: &[Profile]) {
    for (function, _, _) in FUNCTIONS {
        out.push(request(
            function,
            "sqs:SendMessage",
            "${FailedInvocationsArn}",
            &[],
            "Lambda keeps a failed asynchronous invocation in the queue",
        ));
    }
    if profiles.iter().any(|p| p.schedule.is_some()) {
        out.push(
            request(
                "SchedulerRole",
                "lambda:InvokeFunction",
                "${CreateClusterFunctionArn}",
                &[],
                "a profile's schedule starts create-cluster",
            )
            .sending("DeadLetterConfig", ""),
        );
    }
    out.push(request(
        "SweepCheckRole",
        "lambda:InvokeFunction",
        "${TerminateIdleClustersFunctionArn}",
        &[],
        "a one-time check the sweep scheduled runs the sweep for one cluster",
    ));
    for action in [
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    ] {
        out.push(request(
            STATE_MACHINE,
            action,
            "*",
            &[],
            "Step Functions delivers the workflow's logs to CloudWatch Logs",
        ));
    }
}

/// Every SDK task of the generated state machine, with the resource and keys
/// of one run of the profile.
fn state_machine_calls(
    out: &mut Vec<Request>,
    profile: &str,
    request_tags: &[(String, String)],
    sent: &BTreeMap<String, String>,
) {
    let definition = serde_json::to_value(cluster_workflow()).expect("the workflow serializes");
    let mut resources = Vec::new();
    collect_task_resources(&definition, &mut resources);
    for resource in resources {
        let resource = sparkhub_core::workflow::for_partition(&resource, "aws");
        if resource == "arn:aws:states:::sns:publish" {
            out.push(request(
                STATE_MACHINE,
                "sns:Publish",
                "${TopicArn}",
                &[],
                "the workflow: notify ready",
            ));
            continue;
        }
        let Some(sdk) = resource.strip_prefix("arn:aws:states:::aws-sdk:") else {
            continue;
        };
        let (service, operation) = sdk.split_once(':').expect("aws-sdk:<service>:<operation>");
        let prefix = if service == "emr" {
            "elasticmapreduce"
        } else {
            service
        };
        let action = format!(
            "{prefix}:{}{}",
            operation[..1].to_uppercase(),
            &operation[1..]
        );
        let why = format!("the workflow: {operation} ({profile})");
        if action == "elasticmapreduce:RunJobFlow" {
            let mut r = request(STATE_MACHINE, &action, "*", &[], &why).with_tags(
                "RequestTag",
                &["aws", "elasticmapreduce"],
                request_tags,
            );
            r.context.insert(
                "aws:TagKeys".into(),
                ContextValue::Many(request_tags.iter().map(|(k, _)| k.clone()).collect()),
            );
            // What the rendered request sends decides which authorizations
            // AWS makes beside RunJobFlow (PassRole of both roles, AddTags,
            // PutAutoTerminationPolicy): see crate::implied.
            r.sends = sent.clone();
            out.push(r);
        } else {
            out.push(
                request(STATE_MACHINE, &action, CLUSTER, &[], &why).with_tags(
                    "ResourceTag",
                    &["aws", "elasticmapreduce"],
                    request_tags,
                ),
            );
        }
    }
}

fn collect_task_resources(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if map.get("Type").and_then(Value::as_str) == Some("Task")
                && let Some(resource) = map.get("Resource").and_then(Value::as_str)
            {
                out.push(resource.to_owned());
            }
            map.values().for_each(|v| collect_task_resources(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_task_resources(v, out)),
        _ => {}
    }
}

/// What EMR does with the service role to launch a profile's cluster: EC2
/// calls with the cluster's tags as request tags, in subnets and security
/// groups tagged for the v2 policy (the README says to tag them), and the
/// node role passed to EC2.
/// <https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-managed-iam-policies.html>
fn emr_service_role_calls(
    out: &mut Vec<Request>,
    request_tags: &[(String, String)],
    job_flow_role: &str,
) {
    let v2 = [
        (
            "aws:ResourceTag/for-use-with-amazon-emr-managed-policies",
            "true",
        ),
        (
            "ec2:ResourceTag/for-use-with-amazon-emr-managed-policies",
            "true",
        ),
    ];
    for action in ["ec2:CreateFleet", "ec2:RunInstances"] {
        for kind in ["instance", "volume"] {
            out.push(
                request(
                    EMR_SERVICE_ROLE,
                    action,
                    &format!("arn:aws:ec2:${{Region}}:${{Account}}:{kind}/*"),
                    &[],
                    "EMR launches the cluster's instances with its tags",
                )
                .with_tags("RequestTag", &["aws", "ec2"], request_tags)
                .sending("TagSpecifications", ""),
            );
        }
        // IAM knows CreateFleet on subnets but not on security groups.
        let network: &[&str] = if action == "ec2:RunInstances" {
            &["subnet/subnet-0example", "security-group/sg-0example"]
        } else {
            &["subnet/subnet-0example"]
        };
        for kind in network {
            out.push(request(
                EMR_SERVICE_ROLE,
                action,
                &format!("arn:aws:ec2:${{Region}}:${{Account}}:{kind}"),
                &v2,
                "EMR launches into a subnet and security groups tagged for the v2 policy",
            ));
        }
    }
    out.push(
        request(
            EMR_SERVICE_ROLE,
            "ec2:CreateLaunchTemplate",
            "arn:aws:ec2:${Region}:${Account}:launch-template/*",
            &[],
            "EMR creates a launch template for the fleets",
        )
        .with_tags("RequestTag", &["aws", "ec2"], request_tags)
        .sending("TagSpecifications", ""),
    );
    out.push(request(
        EMR_SERVICE_ROLE,
        "iam:PassRole",
        &format!("arn:aws:iam::${{Account}}:role/{job_flow_role}"),
        &[("iam:PassedToService", "ec2.amazonaws.com")],
        "EMR passes the profile's node role to its instances",
    ));
}

/// What a profile's nodes do with their instance role.
fn node_calls(out: &mut Vec<Request>, profile: &Profile, plan: &sparkhub_core::ClusterPlan) {
    let role = node_role(profile.name.as_str());
    let node = |action: &str, resource: &str, context: &[(&str, &str)], why: &str| {
        request(&role, action, resource, context, why)
    };
    for script in &plan.scripts {
        out.push(node(
            "s3:GetObject",
            &format!("arn:aws:s3:::${{Bucket}}/{}", script.key),
            &[],
            "bootstrap actions and the users step read their scripts",
        ));
    }
    out.push(node(
        "s3:GetObject",
        "arn:aws:s3:::${Region}.elasticmapreduce/libs/script-runner/script-runner.jar",
        &[],
        "the users step runs through script-runner.jar",
    ));
    if !profile.users.is_empty() {
        out.push(node(
            "secretsmanager:GetSecretValue",
            &format!(
                "arn:aws:secretsmanager:${{Region}}:${{Account}}:secret:{}-AbCdEf",
                hashes_secret_name(&profile.name)
            ),
            &[],
            "the users step reads the crypt hashes of its profile's passwords",
        ));
    }
    let logs = profile.log_location(BUCKET);
    out.push(node(
        "s3:PutObject",
        &object_arn(
            &logs,
            "j-EXAMPLE/node/i-0example/applications/spark/stderr.gz",
        ),
        &[],
        "EMR writes the cluster's logs",
    ));
    if profile.has_application("JupyterHub") {
        let bucket = profile.notebook_bucket.as_deref().unwrap_or(BUCKET);
        for user in &profile.users {
            let folder = format!("{NOTEBOOK_PREFIX}{user}/");
            for action in ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"] {
                out.push(node(
                    action,
                    &format!("arn:aws:s3:::{bucket}/{folder}analysis.ipynb"),
                    &[],
                    "JupyterHub keeps the user's notebooks in S3",
                ));
            }
            out.push(node(
                "s3:ListBucket",
                &format!("arn:aws:s3:::{bucket}"),
                &[("s3:prefix", &folder)],
                "JupyterHub lists the user's notebooks",
            ));
        }
        out.push(node(
            "cloudwatch:PutMetricData",
            "*",
            &[(
                "cloudwatch:namespace",
                &sparkhub_core::idle::activity_namespace(profile.name.as_str()),
            )],
            "the notebook activity reporter publishes its count in its profile's namespace",
        ));
    }
    for action in crate::infra::SSM_AGENT_ACTIONS {
        let resource = if action.starts_with("ssm:") {
            "arn:aws:ec2:${Region}:${Account}:instance/i-0example"
        } else {
            "*"
        };
        out.push(node(
            action,
            resource,
            &[],
            "the SSM Agent keeps the node reachable by Session Manager port forwarding (sparkhub connect)",
        ));
    }
    for step in &plan.input.steps {
        for arg in std::iter::once(&step.hadoop_jar_step.jar).chain(&step.hadoop_jar_step.args) {
            if let Ok(uri) = S3Uri::parse(arg) {
                out.push(node(
                    "s3:GetObject",
                    &object_arn(&uri, "part-0000.csv"),
                    &[],
                    "a pipeline step reads what its arguments name",
                ));
            }
        }
    }
    for location in &profile.access.read {
        out.push(node(
            "s3:GetObject",
            &object_arn(location.as_uri(), "data/part-0000.parquet"),
            &[],
            "the profile's [access] read location",
        ));
        out.push(node(
            "s3:ListBucket",
            &format!("arn:aws:s3:::{}", location.bucket()),
            &[("s3:prefix", &format!("{}data/", location.prefix()))],
            "the profile's [access] read location",
        ));
    }
    for location in &profile.access.write {
        for action in ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"] {
            out.push(node(
                action,
                &object_arn(location.as_uri(), "model/v1.bin"),
                &[],
                "the profile's [access] write location",
            ));
        }
        out.push(node(
            "s3:ListBucket",
            &format!("arn:aws:s3:::{}", location.bucket()),
            &[("s3:prefix", &format!("{}model/", location.prefix()))],
            "the profile's [access] write location",
        ));
    }
}

/// What must be refused, whatever the code does.
fn abuses(out: &mut Vec<Request>, profiles: &[Profile]) {
    let unmanaged: &[(&str, &str)] = &[
        ("aws:ResourceTag/sparkhub:managed", "false"),
        ("elasticmapreduce:ResourceTag/sparkhub:managed", "false"),
    ];
    let callers = FUNCTIONS
        .iter()
        .map(|(f, _, _)| *f)
        .chain([STATE_MACHINE])
        .collect::<Vec<_>>();
    for caller in &callers {
        for action in [
            "elasticmapreduce:TerminateJobFlows",
            "elasticmapreduce:AddJobFlowSteps",
            "elasticmapreduce:SetTerminationProtection",
            "elasticmapreduce:AddTags",
        ] {
            out.push(request(
                caller,
                action,
                CLUSTER,
                &[],
                "a cluster without sparkhub:managed = true is not sparkhub's",
            ));
            out.push(request(
                caller,
                action,
                CLUSTER,
                unmanaged,
                "a cluster with sparkhub:managed = false is not sparkhub's",
            ));
        }
        for (action, resource) in [
            (
                "secretsmanager:DeleteSecret",
                "arn:aws:secretsmanager:${Region}:${Account}:secret:sparkhub/tutorial/jupyterhub-users-AbCdEf",
            ),
            (
                "s3:PutObject",
                "arn:aws:s3:::${Bucket}/profiles/tutorial.toml",
            ),
            (
                "s3:DeleteObject",
                "arn:aws:s3:::${Bucket}/profiles/tutorial.toml",
            ),
        ] {
            out.push(request(
                caller,
                action,
                resource,
                &[],
                "no function deletes a secret or changes a profile",
            ));
        }
    }
    // The sweep tags a managed cluster with sparkhub:warned-at only: it may
    // not keep a cluster alive, adopt one, or hand one to another profile.
    for key in [
        sparkhub_core::render::TAG_KEEP_ALIVE_UNTIL,
        sparkhub_core::render::TAG_MANAGED,
        sparkhub_core::render::TAG_PROFILE,
    ] {
        let mut r = request(
            "TerminateIdleClustersFunction",
            "elasticmapreduce:AddTags",
            CLUSTER,
            &[
                ("aws:ResourceTag/sparkhub:managed", "true"),
                ("elasticmapreduce:ResourceTag/sparkhub:managed", "true"),
            ],
            "the sweep sets no tag but sparkhub:warned-at",
        );
        r.context.insert(
            "aws:TagKeys".into(),
            ContextValue::Many(vec![
                sparkhub_core::render::TAG_WARNED_AT.into(),
                key.into(),
            ]),
        );
        out.push(r);
    }
    // The sweep writes its history and nothing else in the bucket.
    for key in [
        "scripts/0123456789abcdef/jupyterhub-users.sh",
        "locks/tutorial.json",
    ] {
        out.push(request(
            "TerminateIdleClustersFunction",
            "s3:PutObject",
            &format!("arn:aws:s3:::${{Bucket}}/{key}"),
            &[],
            "the sweep writes under history/ only",
        ));
    }
    // RunJobFlow without sparkhub's tags would make a cluster the sweep never sees.
    out.push(request(
        STATE_MACHINE,
        "elasticmapreduce:RunJobFlow",
        "*",
        &[],
        "a cluster without sparkhub:managed = true",
    ));
    out.push(request(
        STATE_MACHINE,
        "elasticmapreduce:RunJobFlow",
        "*",
        &[
            ("aws:RequestTag/sparkhub:managed", "false"),
            ("elasticmapreduce:RequestTag/sparkhub:managed", "false"),
            (
                "aws:RequestTag/for-use-with-amazon-emr-managed-policies",
                "true",
            ),
            (
                "elasticmapreduce:RequestTag/for-use-with-amazon-emr-managed-policies",
                "true",
            ),
        ],
        "a cluster with sparkhub:managed = false",
    ));
    // RunJobFlow's AddTags (AWS checks it for the tags of a new cluster) is
    // granted only with sparkhub:managed = true among the request's tags: it
    // cannot hand a cluster to sparkhub or take one away from it.
    out.push(request(
        STATE_MACHINE,
        "elasticmapreduce:AddTags",
        CLUSTER,
        &[
            ("aws:RequestTag/sparkhub:managed", "false"),
            ("elasticmapreduce:RequestTag/sparkhub:managed", "false"),
            ("aws:TagKeys", "sparkhub:managed"),
        ],
        "the workflow tags only clusters it creates as sparkhub's",
    ));
    // EMR's service-linked role, and no other.
    for (service, role) in [
        (
            "spot.amazonaws.com",
            "spot.amazonaws.com/AWSServiceRoleForEC2Spot",
        ),
        (
            "ecs.amazonaws.com",
            "ecs.amazonaws.com/AWSServiceRoleForECS",
        ),
    ] {
        out.push(request(
            STATE_MACHINE,
            "iam:CreateServiceLinkedRole",
            &format!("arn:aws:iam::${{Account}}:role/aws-service-role/{role}"),
            &[("iam:AWSServiceName", service)],
            "the workflow creates EMR's service-linked role only",
        ));
    }
    // Only the node roles the stack generated from the profiles, not any
    // role that happens to carry the prefix.
    for principal in [STATE_MACHINE, EMR_SERVICE_ROLE] {
        out.push(request(
            principal,
            "iam:PassRole",
            "arn:aws:iam::${Account}:role/${EmrInstanceRolePrefix}-not-a-profile",
            &[("iam:PassedToService", "ec2.amazonaws.com")],
            "a role of the node prefix the stack did not generate is not passed",
        ));
    }
    out.push(request(
        STATE_MACHINE,
        "iam:PassRole",
        "arn:aws:iam::${Account}:role/Admin",
        &[("iam:PassedToService", "ec2.amazonaws.com")],
        "the workflow passes only sparkhub's roles",
    ));
    // A node of one profile reads nothing of another profile.
    for a in profiles {
        for b in profiles.iter().filter(|b| b.name != a.name) {
            out.push(request(
                &node_role(a.name.as_str()),
                "secretsmanager:GetSecretValue",
                &format!(
                    "arn:aws:secretsmanager:${{Region}}:${{Account}}:secret:{}-AbCdEf",
                    secret_name(&b.name)
                ),
                &[],
                "a node reads its own profile's passwords only",
            ));
            out.push(request(
                &node_role(a.name.as_str()),
                "secretsmanager:GetSecretValue",
                &format!(
                    "arn:aws:secretsmanager:${{Region}}:${{Account}}:secret:{}-AbCdEf",
                    hashes_secret_name(&b.name)
                ),
                &[],
                "a node reads its own profile's password hashes only",
            ));
            out.push(request(
                &node_role(a.name.as_str()),
                "s3:PutObject",
                &object_arn(&b.log_location(BUCKET), "j-EXAMPLE/steps/s-1/stderr.gz"),
                &[],
                "a node writes its own profile's logs only",
            ));
            let bucket = b.notebook_bucket.as_deref().unwrap_or(BUCKET);
            for user in b.users.iter().filter(|u| !a.users.contains(u)) {
                out.push(request(
                    &node_role(a.name.as_str()),
                    "s3:GetObject",
                    &format!("arn:aws:s3:::{bucket}/{NOTEBOOK_PREFIX}{user}/analysis.ipynb"),
                    &[],
                    "a node reads its own profile's notebooks only",
                ));
                out.push(request(
                    &node_role(a.name.as_str()),
                    "s3:ListBucket",
                    &format!("arn:aws:s3:::{bucket}"),
                    &[("s3:prefix", &format!("{NOTEBOOK_PREFIX}{user}/"))],
                    "a node lists its own profile's notebooks only",
                ));
            }
        }
        let role = node_role(a.name.as_str());
        // Threat model, notebook users: a node reads no plaintext password,
        // not even its own profile's (only their crypt hashes).
        out.push(request(
            &role,
            "secretsmanager:GetSecretValue",
            &format!(
                "arn:aws:secretsmanager:${{Region}}:${{Account}}:secret:{}-AbCdEf",
                secret_name(&a.name)
            ),
            &[],
            "a node reads no plaintext password (notebook users have its credentials)",
        ));
        // ... writes nothing that steers other clusters: profiles, scripts,
        // leases, history (denied explicitly, whatever log_uri or [access]
        // grant; tests/infra/test_iam.py also tries it with a grant on the
        // whole bucket).
        for key in [
            "profiles/tutorial.toml",
            "scripts/0123456789abcdef/jupyterhub-users.sh",
            "locks/tutorial.json",
            "history/2026-11-28/j-EXAMPLE-termination-1795852800.json",
            "startups/tutorial.json",
            "budgets/tutorial/2026-12.json",
        ] {
            for action in ["s3:PutObject", "s3:DeleteObject"] {
                out.push(request(
                    &role,
                    action,
                    &format!("arn:aws:s3:::${{Bucket}}/{key}"),
                    &[],
                    "a node writes none of the bucket's control data",
                ));
            }
        }
        // ... publishes activity in its own profile's namespace only.
        for namespace in ["Sparkhub".to_owned()].into_iter().chain(
            profiles
                .iter()
                .filter(|b| b.name != a.name)
                .map(|b| sparkhub_core::idle::activity_namespace(b.name.as_str())),
        ) {
            out.push(request(
                &role,
                "cloudwatch:PutMetricData",
                "*",
                &[("cloudwatch:namespace", &namespace)],
                "a node publishes activity for its own profile's clusters only",
            ));
        }
        // Nobody's notebooks but the profile's users', not even the hub admin's.
        out.push(request(
            &node_role(a.name.as_str()),
            "s3:GetObject",
            "arn:aws:s3:::${Bucket}/jupyter/jovyan/analysis.ipynb",
            &[],
            "a node reads its own profile's notebooks only",
        ));
        out.push(request(
            &node_role(a.name.as_str()),
            "s3:GetObject",
            "arn:aws:s3:::${Bucket}/profiles/tutorial.toml",
            &[],
            "a node reads no profile",
        ));
        out.push(request(
            &node_role(a.name.as_str()),
            "secretsmanager:GetSecretValue",
            "arn:aws:secretsmanager:${Region}:${Account}:secret:database-password-AbCdEf",
            &[],
            "a node reads no secret but its profile's",
        ));
    }
}

/// The inventory as the JSON file the simulation reads.
pub fn inventory_json(profiles: &[Profile]) -> String {
    sparkhub_core::json::canonical(&inventory(profiles))
}

#[cfg(test)]
#[path = "iam_tests.rs"]
mod tests;
