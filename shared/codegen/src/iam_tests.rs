use std::collections::BTreeSet;

use super::*;
use crate::golden::workspace_root;
use crate::infra::repo_profiles;

/// Names the SDK operations called on `.client` inside each `impl <Port> for
/// <Adapter>` block of every source file of `sparkhub-aws`.
fn adapter_operations() -> Vec<(String, BTreeSet<String>)> {
    let mut files: Vec<_> = std::fs::read_dir(workspace_root().join("shared/aws/src"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.ends_with(".rs") && !name.ends_with("_tests.rs")
        })
        .collect();
    files.sort();
    assert!(files.len() >= 2, "the adapters' sources: {files:?}");
    let mut blocks: Vec<(String, String)> = Vec::new();
    for source in files.iter().map(|f| std::fs::read_to_string(f).unwrap()) {
        let source = source.split("#[cfg(test)]").next().unwrap().to_owned();
        // Code before a file's first `impl` belongs to no port.
        blocks.push((String::new(), String::new()));
        scan(&source, &mut blocks);
    }
    fn scan(source: &str, blocks: &mut Vec<(String, String)>) {
        for line in source.lines() {
            if let Some(rest) = line.strip_prefix("impl ") {
                let port = match rest.split_once(" for ") {
                    Some((port, _)) => port.trim().to_owned(),
                    None => String::new(),
                };
                blocks.push((port, String::new()));
            } else if let Some((_, body)) = blocks.last_mut() {
                body.push_str(line);
            }
        }
    }
    blocks
        .into_iter()
        .map(|(port, body)| {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            let ops = compact
                .split(".client.")
                .skip(1)
                .map(|rest| {
                    rest.chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect::<String>()
                })
                .collect();
            (port, ops)
        })
        .collect()
}

#[test]
fn every_sdk_call_of_an_adapter_is_in_its_ports_inventory_table() {
    let blocks = adapter_operations();
    assert!(
        blocks
            .iter()
            .any(|(_, ops)| ops.contains("terminate_job_flows")),
        "the scan finds the adapters' calls: {blocks:?}"
    );
    for (port, ops) in &blocks {
        for op in ops {
            assert!(
                !port.is_empty(),
                "sparkhub-aws calls {op} outside a port implementation; give it a port and an entry in iam::PORT_CALLS"
            );
            assert!(
                port_calls(port).iter().any(|c| c.operation == op),
                "sparkhub-aws: `impl {port}` calls the SDK operation {op}, which iam::PORT_CALLS does not list for {port}; \
                 add the IAM action, resource and condition keys it needs (and the template's permission)"
            );
        }
    }
    let called: BTreeSet<&String> = blocks.iter().flat_map(|(_, ops)| ops).collect();
    for (port, calls) in PORT_CALLS {
        for call in *calls {
            assert!(
                called.contains(&call.operation.to_owned()),
                "iam::PORT_CALLS lists {} for {port}, which no adapter calls any more",
                call.operation
            );
        }
    }
}

#[test]
fn every_function_is_listed_with_the_ports_its_handler_uses() {
    let known: BTreeSet<&str> = PORT_CALLS.iter().map(|(p, _)| *p).collect();
    for (function, dir, ports) in FUNCTIONS {
        let mut used = BTreeSet::new();
        for entry in std::fs::read_dir(workspace_root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.ends_with("_tests.rs") || !name.ends_with(".rs") {
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            for import in source.split("crate::ports::").skip(1) {
                let group = match import.strip_prefix('{') {
                    Some(rest) => rest.split('}').next().unwrap(),
                    None => import.split(';').next().unwrap(),
                };
                for token in group.split(|c: char| !c.is_ascii_alphanumeric() && c != '_') {
                    if let Some(port) = known.get(token) {
                        used.insert(*port);
                    }
                }
            }
        }
        let listed: BTreeSet<&str> = ports.iter().copied().collect();
        assert_eq!(
            used, listed,
            "{function} ({dir}) uses these ports; iam::FUNCTIONS must list exactly them"
        );
    }
}

#[test]
fn runjobflow_carries_the_tags_the_policies_require() {
    let inventory = inventory(&repo_profiles());
    let run = inventory
        .allowed
        .iter()
        .find(|r| r.action == "elasticmapreduce:RunJobFlow")
        .unwrap();
    for key in [
        "elasticmapreduce:RequestTag/sparkhub:managed",
        "elasticmapreduce:RequestTag/for-use-with-amazon-emr-managed-policies",
    ] {
        assert_eq!(
            run.context.get(key),
            Some(&ContextValue::One("true".into())),
            "{key}"
        );
    }
}

#[test]
fn nodes_of_one_profile_may_not_read_another_profiles_secret() {
    let inventory = inventory(&repo_profiles());
    assert!(inventory.denied.iter().any(|r| {
        r.principal == node_role("retrain")
            && r.action == "secretsmanager:GetSecretValue"
            && r.resource.contains("sparkhub/tutorial/")
    }));
    assert!(inventory.allowed.iter().any(|r| {
        r.principal == node_role("tutorial")
            && r.action == "secretsmanager:GetSecretValue"
            && r.resource.contains("sparkhub/tutorial/")
    }));
}

#[test]
fn runjobflow_with_tags_is_allowed_only_together_with_addtags_under_the_same_request_tags() {
    let inventory = inventory(&repo_profiles());
    let runs: Vec<_> = inventory
        .allowed
        .iter()
        .filter(|r| r.action == "elasticmapreduce:RunJobFlow")
        .collect();
    assert!(!runs.is_empty());
    for run in runs {
        let tags: BTreeMap<_, _> = run
            .context
            .iter()
            .filter(|(k, _)| k.contains(":RequestTag/") || *k == "aws:TagKeys")
            .collect();
        assert!(
            inventory.allowed.iter().any(|r| {
                r.principal == STATE_MACHINE
                    && r.action == "elasticmapreduce:AddTags"
                    && r.resource.contains(":cluster/")
                    && tags.iter().all(|(k, v)| r.context.get(*k) == Some(*v))
            }),
            "no AddTags with the request tags of {run:?}"
        );
    }
    assert!(inventory.denied.iter().any(|r| {
        r.principal == STATE_MACHINE
            && r.action == "elasticmapreduce:AddTags"
            && r.context.get("aws:RequestTag/sparkhub:managed")
                == Some(&ContextValue::One("false".into()))
    }));
}

#[test]
fn the_first_cluster_may_create_emrs_service_linked_role() {
    let inventory = inventory(&repo_profiles());
    for action in [
        "iam:CreateServiceLinkedRole",
        "elasticmapreduce:PutAutoTerminationPolicy",
    ] {
        assert!(
            inventory
                .allowed
                .iter()
                .any(|r| r.principal == STATE_MACHINE && r.action == action),
            "{action}"
        );
    }
    // EMR's service role tags what it launches: ec2:CreateTags on create.
    assert!(inventory.allowed.iter().any(|r| {
        r.principal == EMR_SERVICE_ROLE
            && r.action == "ec2:CreateTags"
            && r.context.get("ec2:CreateAction") == Some(&ContextValue::One("CreateFleet".into()))
    }));
}

#[test]
fn every_row_of_the_implied_table_says_where_it_comes_from() {
    use crate::implied::{Evidence, Holds, IMPLIED};
    for row in IMPLIED {
        match row.evidence {
            Evidence::Documented => assert!(
                row.source.contains("https://"),
                "{} for {}: a documented row needs its page",
                row.action,
                row.call
            ),
            Evidence::Unverified => assert!(row.source.starts_with("not found here")),
        }
        assert!(!row.says.is_empty());
        if let Holds::NotSent(why) = row.holds {
            assert!(!why.is_empty());
        }
    }
}

/// The rows that do not apply because sparkhub does not send what triggers
/// them stay true only while the adapter sends no tags and no KMS key.
#[test]
fn sparkhubs_create_secret_sends_no_tags_and_no_kms_key() {
    let source =
        std::fs::read_to_string(workspace_root().join("shared/aws/src/secrets.rs")).unwrap();
    let start = source
        .find(".create_secret()")
        .expect("the CreateSecret call");
    let call = &source[start..start + source[start..].find(".send()").unwrap()];
    for setter in [".tags(", ".set_tags(", ".kms_key_id(", ".set_kms_key_id("] {
        assert!(
            !call.contains(setter),
            "CreateSecret now sends {setter}: update shared/codegen/src/implied.rs"
        );
    }
}

/// Threat model, one test per way a notebook user (the node role) or a
/// starter of executions could reach beyond their profile: each is in the
/// inventory's abuse list, which the simulation (tests/infra/test_iam.py,
/// `test_every_listed_abuse_is_denied`) proves denied.
fn denied(
    principal: &str,
    action: &str,
    resource_has: &str,
    context: Option<(&str, &str)>,
) -> bool {
    inventory(&repo_profiles()).denied.iter().any(|r| {
        r.principal == principal
            && r.action == action
            && r.resource.contains(resource_has)
            && context.is_none_or(|(k, v)| r.context.get(k) == Some(&ContextValue::One(v.into())))
    })
}

#[test]
fn a_node_cannot_read_the_plaintext_passwords_of_its_own_profile() {
    assert!(denied(
        &node_role("tutorial"),
        "secretsmanager:GetSecretValue",
        "secret:sparkhub/tutorial/jupyterhub-users-",
        None
    ));
}

#[test]
fn a_node_cannot_write_the_buckets_profiles_scripts_locks_or_history() {
    for prefix in [
        "/profiles/",
        "/scripts/",
        "/locks/",
        "/history/",
        "/startups/",
    ] {
        for action in ["s3:PutObject", "s3:DeleteObject"] {
            assert!(
                denied(&node_role("tutorial"), action, prefix, None),
                "{action} {prefix}"
            );
        }
    }
}

#[test]
fn a_node_cannot_overwrite_another_profiles_logs() {
    assert!(denied(
        &node_role("retrain"),
        "s3:PutObject",
        "/logs/tutorial/",
        None
    ));
    assert!(denied(
        &node_role("tutorial"),
        "s3:PutObject",
        "/logs/retrain/",
        None
    ));
}

#[test]
fn a_node_cannot_publish_activity_for_another_profiles_clusters() {
    for namespace in ["Sparkhub", "Sparkhub/Activity/retrain"] {
        assert!(
            denied(
                &node_role("tutorial"),
                "cloudwatch:PutMetricData",
                "*",
                Some(("cloudwatch:namespace", namespace))
            ),
            "{namespace}"
        );
    }
}

#[test]
fn a_node_role_the_stack_did_not_generate_cannot_be_passed() {
    for principal in [STATE_MACHINE, EMR_SERVICE_ROLE] {
        assert!(denied(
            principal,
            "iam:PassRole",
            "role/${EmrInstanceRolePrefix}-not-a-profile",
            None
        ));
    }
}

/// With the defaults (no key pair, no SSH rule) Session Manager port
/// forwarding is the way into JupyterHub: every node role may do what the
/// SSM Agent needs, and the simulation proves it allowed.
#[test]
fn every_node_can_be_reached_by_session_manager() {
    let inventory = inventory(&repo_profiles());
    for profile in ["tutorial", "retrain"] {
        for action in crate::infra::SSM_AGENT_ACTIONS {
            assert!(
                inventory
                    .allowed
                    .iter()
                    .any(|r| r.principal == node_role(profile) && r.action == action),
                "{profile}: {action}"
            );
        }
    }
}

/// Every port the CLI's sources import is in a command's row of
/// OPERATOR_COMMANDS (so the README's table of the operator's permissions
/// lists its calls), and every operation named there is one its port makes.
#[test]
fn every_port_the_cli_uses_is_in_the_operator_table() {
    let known: BTreeSet<&str> = PORT_CALLS.iter().map(|(p, _)| *p).collect();
    let mut used = BTreeSet::new();
    for entry in std::fs::read_dir(workspace_root().join("cli/src")).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        for import in source.split("ports::").skip(1) {
            let group = match import.strip_prefix('{') {
                Some(rest) => rest.split('}').next().unwrap(),
                None => import.split(';').next().unwrap(),
            };
            for token in group.split(|c: char| !c.is_ascii_alphanumeric() && c != '_') {
                if let Some(port) = known.get(token) {
                    used.insert(*port);
                }
            }
        }
    }
    assert!(
        used.contains("FunctionInvoker"),
        "the scan sees the CLI's ports: {used:?}"
    );
    let listed: BTreeSet<&str> = OPERATOR_COMMANDS
        .iter()
        .flat_map(|(_, ports)| ports.iter().map(|(p, _)| *p))
        .collect();
    for port in &used {
        assert!(
            listed.contains(port),
            "the CLI uses the port {port}; list the commands that use it in iam::OPERATOR_COMMANDS"
        );
    }
    for (command, ports) in OPERATOR_COMMANDS {
        for (port, ops) in *ports {
            assert!(known.contains(port), "{command}: no port {port}");
            for op in *ops {
                assert!(
                    port_calls(port).iter().any(|c| c.operation == *op),
                    "{command}: {port} makes no call {op}"
                );
            }
        }
    }
}

#[test]
fn the_operator_table_names_each_commands_actions() {
    let table = operator_permissions_markdown();
    for row in [
        "| `start` | `lambda:InvokeFunction` |",
        "| `start` | `states:GetExecutionHistory` |",
        "| `push` | `iam:GetInstanceProfile` |",
        "| `push` | `s3:PutObject` | `arn:aws:s3:::<BucketName>/profiles/<profile>.toml` |",
        "| `stop` | `elasticmapreduce:TerminateJobFlows` |",
        "| `report` | `elasticmapreduce:ListInstanceFleets` |",
        "| `--stack (any command)` | `cloudformation:DescribeStacks` |",
    ] {
        assert!(table.contains(row), "{row} in\n{table}");
    }
    // The sweep's own calls are not the operator's.
    assert!(
        !table.contains("| `status` | `elasticmapreduce:TerminateJobFlows`"),
        "{table}"
    );
}
