//! The cluster workflow: one generic state machine; everything specific to a
//! profile arrives in the execution input ([`crate::render::WorkflowInput`]).
//!
//! ```text
//! Claimed cluster? ─ claimed ─► Wait for cluster (a pooled run's waiting cluster; if it ended: Claimed cluster gone ─► Create cluster)
//!                  ─ otherwise ─► Start later?
//! Start later? ─ start_at ─► Wait to start ─► Create cluster;  otherwise ─► Create cluster
//! Create cluster ─► Wait for cluster ─► Describe cluster ─► Cluster ready? ─┬─ starting ─► Wait for cluster
//!                                                                           ├─ ended ─────► Cluster did not start ─► Run failed
//!                                                                           └─ ready ─────► Notify? ─► (Notify ready) ─► Any steps?
//! Any steps? ─ yes ─► Run steps (Map, one at a time: Add step ─► Wait ─► Describe step ─► Step done?)
//!            ─ no ──► Terminate when done?
//! Terminate when done? ─ yes ─► Terminate cluster ─► Done      ─ pooled ─► Release cluster ─► Done      ─ no ─► Done
//! any failure once the cluster exists ─► Terminate after failure ─► Run failed
//! ```
//!
//! EMR is driven through AWS SDK integrations with explicit Wait/Choice poll
//! loops, not the `.sync` integrations: the loop runs in the local emulator's
//! interpreter, the poll interval is ours, and no EventBridge managed rule is
//! needed. Every `ResultPath` puts its result below `$` or discards it, so the
//! cluster id and the execution input survive every state.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::asl::*;
use crate::render::RUN_JOB_FLOW_FIELDS;

/// File name of the generated definition under `infra/statemachines/`.
pub const CLUSTER_WORKFLOW_FILE: &str = "cluster.asl.json";

/// The partition of the stack's region (`aws`, `aws-cn`, `aws-us-gov`):
/// the template fills it in through the state machine's
/// `DefinitionSubstitutions` (`${AWS::Partition}`), so the integrations'
/// ARNs are right in every partition.
pub const PARTITION_VARIABLE: &str = "${Partition}";
const EMR: &str = "arn:${Partition}:states:::aws-sdk:emr:";
const SNS_PUBLISH: &str = "arn:${Partition}:states:::sns:publish";

/// The definition as a region of `partition` runs it (what
/// `DefinitionSubstitutions` does on deploy).
pub fn for_partition(definition: &str, partition: &str) -> String {
    definition.replace(PARTITION_VARIABLE, partition)
}

/// A running step is looked at every `poll_seconds` for its first
/// [`POLLS_PER_PACE`] polls, then half as often for the next as many, and so
/// on until the interval reaches [`SLOWEST_POLL_SECONDS`]: the time between
/// a step's end and the workflow seeing it stays under about 1/20 of the
/// step's running time, and a step of the 720-hour maximum lifetime stays far
/// below Step Functions' 25,000 history events per execution
/// (<https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html>);
/// `workflow_tests` counts them.
pub const POLLS_PER_PACE: u32 = 20;
/// The interval stops doubling once it has reached this many seconds.
pub const SLOWEST_POLL_SECONDS: u32 = 3600;

/// Errors of EMR calls that are worth another try: throttling and EMR's
/// server errors. Step Functions names an AWS SDK integration's error
/// `<Service>.<Error>` in Pascal case with the suffix `Exception`
/// (<https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html>),
/// so EMR's throttling should be `Emr.ThrottlingException`; no page we could
/// read shows the name a throttled EMR call really gets, and an error the SDK
/// does not model may come as `Emr.EmrException` (or, as one report of the
/// optimized integration has it, `…AmazonElasticMapReduceException`), so all
/// are listed. `Emr.EmrException` also covers request errors EMR does not
/// model; a retry of those fails again, after the backoff.
pub const EMR_RETRYABLE: &[&str] = &[
    "Emr.ThrottlingException",
    "Emr.EmrException",
    "Emr.AmazonElasticMapReduceException",
    "Emr.InternalServerErrorException",
    "Emr.InternalServerException",
];

/// Where the workflow keeps the cluster's state from its last describe.
pub const CLUSTER_STATE: &str = "$.cluster.Described.Status.State";

/// EMR cluster states in which the cluster is up and accepts work.
pub const READY_STATES: &[&str] = &["WAITING", "RUNNING"];
/// EMR cluster states from which it will never become ready.
pub const ENDED_STATES: &[&str] = &["TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS"];
/// EMR step states in which a step has failed for good.
pub const FAILED_STEP_STATES: &[&str] = &["FAILED", "CANCELLED", "INTERRUPTED", "CANCEL_PENDING"];

// State names, shared between the definition and the tests that read histories.
pub const CLAIMED_CLUSTER: &str = "Claimed cluster?";
pub const CLAIMED_CLUSTER_GONE: &str = "Claimed cluster gone";
pub const RELEASE_CLUSTER: &str = "Release cluster";
pub const START_LATER: &str = "Start later?";
pub const WAIT_TO_START: &str = "Wait to start";
pub const CREATE_CLUSTER: &str = "Create cluster";
pub const WAIT_FOR_CLUSTER: &str = "Wait for cluster";
pub const DESCRIBE_CLUSTER: &str = "Describe cluster";
pub const CLUSTER_READY: &str = "Cluster ready?";
pub const CLUSTER_DID_NOT_START: &str = "Cluster did not start";
pub const NOTIFY_WANTED: &str = "Notify?";
pub const NOTIFY_READY: &str = "Notify ready";
pub const ANY_STEPS: &str = "Any steps?";
pub const RUN_STEPS: &str = "Run steps";
pub const ADD_STEP: &str = "Add step";
pub const WAIT_FOR_STEP: &str = "Wait for step";
pub const DESCRIBE_STEP: &str = "Describe step";
pub const STEP_DONE: &str = "Step done?";
pub const COUNT_POLL: &str = "Count poll";
pub const POLL_LESS_OFTEN: &str = "Poll less often";
pub const STEP_SUCCEEDED: &str = "Step succeeded";
pub const STEP_FAILED: &str = "Step failed";
pub const STEP_FAILED_END: &str = "Fail step";
pub const TERMINATE_WHEN_DONE: &str = "Terminate when done?";
pub const TERMINATE_CLUSTER: &str = "Terminate cluster";
pub const TERMINATE_AFTER_FAILURE: &str = "Terminate after failure";
pub const DONE: &str = "Done";
pub const RUN_FAILED: &str = "Run failed";

/// `runJobFlow` and `addJobFlowSteps` are retried on throttling and EMR's
/// server errors only, with backoff (5 s, 10 s, … five times), so a
/// throttled call neither fails the run nor terminates a healthy cluster.
/// Neither call takes an idempotency token: a server error after EMR has
/// acted could mean a second cluster (tagged `sparkhub:managed`, so the idle
/// sweep ends it after its grace period) or a second step; that risk is
/// taken over failing the run.
fn retry_emr_busy() -> Vec<Retrier> {
    vec![Retrier {
        error_equals: EMR_RETRYABLE.iter().map(|e| (*e).to_owned()).collect(),
        interval_seconds: 5,
        max_attempts: 5,
        backoff_rate: 2.0,
    }]
}

/// Read-only polls and termination are safe to repeat on any failure.
fn retry_safe() -> Vec<Retrier> {
    vec![Retrier {
        error_equals: vec!["States.TaskFailed".into()],
        interval_seconds: 2,
        max_attempts: 4,
        backoff_rate: 2.0,
    }]
}

fn catch_all(result_path: &str, next: &str) -> Vec<Catcher> {
    vec![Catcher {
        error_equals: vec!["States.ALL".into()],
        result_path: ResultPath::at(result_path),
        next: next.into(),
    }]
}

fn task(
    resource: &str,
    parameters: Value,
    result_selector: Option<Value>,
    result_path: ResultPath,
    next: Transition,
) -> Task {
    Task {
        comment: None,
        resource: resource.into(),
        parameters: Some(parameters),
        result_selector,
        result_path,
        retry: Vec::new(),
        catch: Vec::new(),
        transition: next,
    }
}

/// The cluster workflow definition.
pub fn cluster_workflow() -> StateMachine {
    let mut states = BTreeMap::new();
    let mut add = |name: &str, state: State| {
        states.insert(name.to_owned(), state);
    };

    add(
        CLAIMED_CLUSTER,
        State::Choice(Choice {
            comment: Some(
                "A pooled run that claimed a waiting cluster looks at it instead of creating one."
                    .into(),
            ),
            choices: vec![ChoiceRule {
                condition: Condition::is_present("$.claimed"),
                next: WAIT_FOR_CLUSTER.into(),
            }],
            default: START_LATER.into(),
        }),
    );
    add(
        CLAIMED_CLUSTER_GONE,
        State::Pass(Pass {
            comment: Some("The claimed cluster ended before the run used it: create one with the same request (once).".into()),
            parameters: Some(json!({
                "ClusterId.$": "$.cluster.ClusterId",
                "State.$": "$.cluster.Described.Status.State"
            })),
            result_path: ResultPath::at("$.claim_lost"),
            transition: Transition::next(CREATE_CLUSTER),
        }),
    );
    add(
        RELEASE_CLUSTER,
        State::Task(Task {
            comment: Some("A pooled run leaves its cluster up for the next run and gives up its claim; a failed release is no failure (the claim dies with the execution).".into()),
            retry: retry_safe(),
            catch: catch_all("$.release_error", DONE),
            ..task(
                &format!("{EMR}removeTags"),
                json!({
                    "ResourceId.$": "$.cluster.ClusterId",
                    "TagKeys": [crate::create::pool::TAG_CLAIMED_BY, crate::create::pool::TAG_CLAIMED_AT]
                }),
                None,
                ResultPath::Discard,
                Transition::next(DONE),
            )
        }),
    );
    add(
        START_LATER,
        State::Choice(Choice {
            comment: Some(
                "A ready_by run waits until its cluster's lead before creating it.".into(),
            ),
            choices: vec![ChoiceRule {
                condition: Condition::is_present("$.start_at"),
                next: WAIT_TO_START.into(),
            }],
            default: CREATE_CLUSTER.into(),
        }),
    );
    add(
        WAIT_TO_START,
        State::Wait(Wait {
            comment: None,
            duration: WaitDuration::TimestampPath("$.start_at".into()),
            transition: Transition::next(CREATE_CLUSTER),
        }),
    );
    let run_job_flow_parameters: serde_json::Map<String, Value> = RUN_JOB_FLOW_FIELDS
        .iter()
        .map(|field| (format!("{field}.$"), json!(format!("$.request.{field}"))))
        .collect();
    add(
        CREATE_CLUSTER,
        State::Task(Task {
            comment: Some("Creates the cluster from the rendered RunJobFlow request; the result goes to $.cluster, the input stays.".into()),
            retry: retry_emr_busy(),
            catch: catch_all("$.error", RUN_FAILED),
            ..task(
                &format!("{EMR}runJobFlow"),
                Value::Object(run_job_flow_parameters),
                Some(json!({"ClusterId.$": "$.JobFlowId", "ClusterArn.$": "$.ClusterArn"})),
                ResultPath::at("$.cluster"),
                Transition::next(WAIT_FOR_CLUSTER),
            )
        }),
    );
    add(
        WAIT_FOR_CLUSTER,
        State::Wait(Wait {
            comment: None,
            duration: WaitDuration::SecondsPath("$.poll_seconds".into()),
            transition: Transition::next(DESCRIBE_CLUSTER),
        }),
    );
    add(
        DESCRIBE_CLUSTER,
        State::Task(Task {
            retry: retry_safe(),
            catch: catch_all("$.error", TERMINATE_AFTER_FAILURE),
            ..task(
                &format!("{EMR}describeCluster"),
                json!({"ClusterId.$": "$.cluster.ClusterId"}),
                // Only paths EMR always answers: a ResultSelector path that
                // matches nothing fails the task with States.Runtime, which no
                // Catch (not even States.ALL) catches, and EMR omits
                // StateChangeReason when it has none. The whole Status object
                // is always there and carries the reason when there is one.
                Some(json!({"Status.$": "$.Cluster.Status"})),
                ResultPath::at("$.cluster.Described"),
                Transition::next(CLUSTER_READY),
            )
        }),
    );
    add(
        CLUSTER_READY,
        State::Choice(Choice {
            comment: None,
            choices: vec![
                ChoiceRule {
                    condition: Condition::And {
                        and: vec![
                            Condition::string_in(CLUSTER_STATE, ENDED_STATES),
                            Condition::is_present("$.claimed"),
                            Condition::Not {
                                not: Box::new(Condition::is_present("$.claim_lost")),
                            },
                        ],
                    },
                    next: CLAIMED_CLUSTER_GONE.into(),
                },
                ChoiceRule {
                    condition: Condition::string_in(CLUSTER_STATE, READY_STATES),
                    next: NOTIFY_WANTED.into(),
                },
                ChoiceRule {
                    condition: Condition::string_in(CLUSTER_STATE, ENDED_STATES),
                    next: CLUSTER_DID_NOT_START.into(),
                },
            ],
            default: WAIT_FOR_CLUSTER.into(),
        }),
    );
    add(
        CLUSTER_DID_NOT_START,
        State::Pass(Pass {
            comment: Some(
                "EMR ended the cluster before it was ready; its status (with the StateChangeReason when EMR gives one) is the cause."
                    .into(),
            ),
            parameters: Some(json!({
                "Error": "ClusterDidNotStart",
                "Cause.$": "States.Format('EMR cluster {} ended in state {} before it was ready: {}', $.cluster.ClusterId, $.cluster.Described.Status.State, States.JsonToString($.cluster.Described.Status))"
            })),
            result_path: ResultPath::at("$.error"),
            transition: Transition::next(RUN_FAILED),
        }),
    );
    add(
        NOTIFY_WANTED,
        State::Choice(Choice {
            comment: None,
            choices: vec![ChoiceRule {
                condition: Condition::is_present("$.topic_arn"),
                next: NOTIFY_READY.into(),
            }],
            default: ANY_STEPS.into(),
        }),
    );
    add(
        NOTIFY_READY,
        State::Task(Task {
            comment: Some("A failed notification does not fail the run.".into()),
            retry: retry_safe(),
            catch: catch_all("$.notify_error", ANY_STEPS),
            ..task(
                SNS_PUBLISH,
                json!({
                    "TopicArn.$": "$.topic_arn",
                    "Subject.$": "States.Format('sparkhub: cluster {} of profile {} is ready', $.cluster.ClusterId, $.profile)",
                    "Message.$": "States.Format('EMR cluster {} (profile {}, run {}) is {}.', $.cluster.ClusterId, $.profile, $.run_id, $.cluster.Described.Status.State)"
                }),
                None,
                ResultPath::Discard,
                Transition::next(ANY_STEPS),
            )
        }),
    );
    add(
        ANY_STEPS,
        State::Choice(Choice {
            comment: None,
            choices: vec![ChoiceRule {
                condition: Condition::is_present("$.steps[0]"),
                next: RUN_STEPS.into(),
            }],
            default: TERMINATE_WHEN_DONE.into(),
        }),
    );
    add(
        RUN_STEPS,
        State::Map(Map {
            comment: Some("Pipeline steps, strictly one after the other.".into()),
            items_path: "$.steps".into(),
            item_selector: Some(json!({
                "ClusterId.$": "$.cluster.ClusterId",
                "Poll": {"Seconds.$": "$.poll_seconds", "Count": 0},
                "Step.$": "$$.Map.Item.Value"
            })),
            max_concurrency: 1,
            item_processor: step_processor(),
            result_path: ResultPath::Discard,
            catch: catch_all("$.error", TERMINATE_AFTER_FAILURE),
            transition: Transition::next(TERMINATE_WHEN_DONE),
        }),
    );
    add(
        TERMINATE_WHEN_DONE,
        State::Choice(Choice {
            comment: None,
            choices: vec![
                ChoiceRule {
                    condition: Condition::boolean_equals("$.terminate_when_done", true),
                    next: TERMINATE_CLUSTER.into(),
                },
                ChoiceRule {
                    condition: Condition::is_present("$.pooled"),
                    next: RELEASE_CLUSTER.into(),
                },
            ],
            default: DONE.into(),
        }),
    );
    add(
        TERMINATE_CLUSTER,
        State::Task(Task {
            retry: retry_safe(),
            catch: catch_all("$.error", RUN_FAILED),
            ..task(
                &format!("{EMR}terminateJobFlows"),
                json!({"JobFlowIds.$": "States.Array($.cluster.ClusterId)"}),
                None,
                ResultPath::Discard,
                Transition::next(DONE),
            )
        }),
    );
    add(
        TERMINATE_AFTER_FAILURE,
        State::Task(Task {
            comment: Some("No orphans: a run that fails after the cluster exists terminates it, then fails with the original cause.".into()),
            retry: retry_safe(),
            catch: catch_all("$.terminate_error", RUN_FAILED),
            ..task(
                &format!("{EMR}terminateJobFlows"),
                json!({"JobFlowIds.$": "States.Array($.cluster.ClusterId)"}),
                None,
                ResultPath::Discard,
                Transition::next(RUN_FAILED),
            )
        }),
    );
    add(DONE, State::Succeed(Succeed { comment: None }));
    add(
        RUN_FAILED,
        State::Fail(Fail {
            comment: None,
            error: FailError::ErrorPath("$.error.Error".into()),
            cause: FailCause::CausePath("$.error.Cause".into()),
        }),
    );

    StateMachine {
        comment: Some("sparkhub cluster run: create an EMR cluster, wait until it is ready, run pipeline steps, terminate when done or on failure.".into()),
        start_at: CLAIMED_CLUSTER.into(),
        states,
    }
}

/// One pipeline step: add it, poll it until it ends, fail with its reason.
fn step_processor() -> ItemProcessor {
    let mut states = BTreeMap::new();
    let mut add = |name: &str, state: State| {
        states.insert(name.to_owned(), state);
    };
    add(
        ADD_STEP,
        State::Task(Task {
            retry: retry_emr_busy(),
            ..task(
                &format!("{EMR}addJobFlowSteps"),
                json!({"JobFlowId.$": "$.ClusterId", "Steps.$": "States.Array($.Step)"}),
                Some(json!({"StepId.$": "$.StepIds[0]"})),
                ResultPath::at("$.Added"),
                Transition::next(WAIT_FOR_STEP),
            )
        }),
    );
    add(
        WAIT_FOR_STEP,
        State::Wait(Wait {
            comment: None,
            duration: WaitDuration::SecondsPath("$.Poll.Seconds".into()),
            transition: Transition::next(DESCRIBE_STEP),
        }),
    );
    add(
        COUNT_POLL,
        State::Pass(Pass {
            comment: None,
            parameters: Some(json!({
                "Seconds.$": "$.Poll.Seconds",
                "Count.$": "States.MathAdd($.Poll.Count, 1)"
            })),
            result_path: ResultPath::at("$.Poll"),
            transition: Transition::next(WAIT_FOR_STEP),
        }),
    );
    add(
        POLL_LESS_OFTEN,
        State::Pass(Pass {
            comment: Some(format!(
                "After {POLLS_PER_PACE} polls at one interval, the next {POLLS_PER_PACE} wait twice as long, up to {SLOWEST_POLL_SECONDS} s or more: a long step stays under the execution's 25,000 history events."
            )),
            parameters: Some(json!({
                "Seconds.$": "States.MathAdd($.Poll.Seconds, $.Poll.Seconds)",
                "Count": 0
            })),
            result_path: ResultPath::at("$.Poll"),
            transition: Transition::next(WAIT_FOR_STEP),
        }),
    );
    add(
        DESCRIBE_STEP,
        State::Task(Task {
            retry: retry_safe(),
            ..task(
                &format!("{EMR}describeStep"),
                json!({"ClusterId.$": "$.ClusterId", "StepId.$": "$.Added.StepId"}),
                Some(json!({"Status.$": "$.Step.Status"})),
                ResultPath::at("$.Described"),
                Transition::next(STEP_DONE),
            )
        }),
    );
    add(
        STEP_DONE,
        State::Choice(Choice {
            comment: None,
            choices: vec![
                ChoiceRule {
                    condition: Condition::string_equals("$.Described.Status.State", "COMPLETED"),
                    next: STEP_SUCCEEDED.into(),
                },
                ChoiceRule {
                    condition: Condition::string_in("$.Described.Status.State", FAILED_STEP_STATES),
                    next: STEP_FAILED.into(),
                },
                ChoiceRule {
                    condition: Condition::numeric_less_than(
                        "$.Poll.Count",
                        f64::from(POLLS_PER_PACE),
                    ),
                    next: COUNT_POLL.into(),
                },
                ChoiceRule {
                    condition: Condition::numeric_less_than(
                        "$.Poll.Seconds",
                        f64::from(SLOWEST_POLL_SECONDS),
                    ),
                    next: POLL_LESS_OFTEN.into(),
                },
            ],
            default: WAIT_FOR_STEP.into(),
        }),
    );
    add(STEP_SUCCEEDED, State::Succeed(Succeed { comment: None }));
    add(
        STEP_FAILED,
        State::Pass(Pass {
            comment: Some(
                "The step's status (state, reason, failure details, log file) is the cause.".into(),
            ),
            parameters: Some(json!({
                "Error": "StepFailed",
                "Cause.$": "States.Format('step {} ({}) on cluster {} ended {}: {}', $.Step.Name, $.Added.StepId, $.ClusterId, $.Described.Status.State, States.JsonToString($.Described.Status))"
            })),
            result_path: ResultPath::at("$.Failure"),
            transition: Transition::next(STEP_FAILED_END),
        }),
    );
    add(
        STEP_FAILED_END,
        State::Fail(Fail {
            comment: None,
            error: FailError::ErrorPath("$.Failure.Error".into()),
            cause: FailCause::CausePath("$.Failure.Cause".into()),
        }),
    );
    ItemProcessor {
        processor_config: ProcessorConfig {
            mode: ProcessorMode::Inline,
        },
        start_at: ADD_STEP.into(),
        states,
    }
}

/// `readme` with the cluster workflow's diagram between its markers, or
/// `None` when the markers are missing.
pub fn with_readme_diagram(readme: &str) -> Option<String> {
    let begin = readme.find(README_MERMAID_BEGIN)?;
    let end = readme.find(README_MERMAID_END)?;
    Some(format!(
        "{}{README_MERMAID_BEGIN}\n```mermaid\n{}```\n{}",
        &readme[..begin],
        mermaid(&cluster_workflow()),
        &readme[end..]
    ))
}

/// The generated definitions, by file name, as written to `infra/statemachines/`.
pub fn generated_definitions() -> Vec<(&'static str, String)> {
    vec![(
        CLUSTER_WORKFLOW_FILE,
        crate::json::canonical(&cluster_workflow()),
    )]
}

/// The cluster a state of the cluster workflow saw: `cluster.ClusterId` of
/// its input or output (JSON text), set once the run created or claimed its
/// cluster; `None` before, or for text that is not such a document.
pub fn cluster_id_in(document: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(document).ok()?;
    value["cluster"]["ClusterId"]
        .as_str()
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
#[path = "workflow_tests.rs"]
mod tests;

/// A Mermaid flowchart of a state machine: solid arrows for transitions and
/// choices (labelled), dotted ones for error catches; a Map's states in a
/// subgraph.
pub fn mermaid(machine: &StateMachine) -> String {
    fn id(scope: &str, name: &str) -> String {
        let clean: String = format!("{scope}{name}")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        format!("s_{clean}")
    }
    fn label(condition: &Condition) -> String {
        match condition {
            Condition::Compare(c) => match &c.operator {
                Operator::StringEquals(v) => v.clone(),
                Operator::BooleanEquals(b) => b.to_string(),
                Operator::IsPresent(_) => "yes".into(),
                Operator::NumericEquals(n) => n.to_string(),
                Operator::NumericLessThan(n) => format!("< {n}"),
            },
            Condition::Or { or } => or.iter().map(label).collect::<Vec<_>>().join(" / "),
            Condition::And { and } => and.iter().map(label).collect::<Vec<_>>().join(" + "),
            Condition::Not { not } => format!("not {}", label(not)),
        }
    }
    fn walk(scope: &str, start: &str, states: &BTreeMap<String, State>, out: &mut Vec<String>) {
        out.push(format!(
            "  start_{}((start)) --> {}",
            id(scope, ""),
            id(scope, start)
        ));
        for (name, state) in states {
            let from = id(scope, name);
            let shape = match state {
                State::Choice(_) => format!("{from}{{\"{name}\"}}"),
                State::Succeed(_) | State::Fail(_) => format!("{from}([\"{name}\"])"),
                _ => format!("{from}[\"{name}\"]"),
            };
            out.push(format!("  {shape}"));
            let transition = match state {
                State::Task(Task { transition, .. })
                | State::Pass(Pass { transition, .. })
                | State::Wait(Wait { transition, .. })
                | State::Map(Map { transition, .. }) => Some(transition),
                _ => None,
            };
            if let Some(Transition::Next(next)) = transition {
                out.push(format!("  {from} --> {}", id(scope, next)));
            }
            match state {
                State::Choice(c) => {
                    for rule in &c.choices {
                        out.push(format!(
                            "  {from} -- \"{}\" --> {}",
                            label(&rule.condition),
                            id(scope, &rule.next)
                        ));
                    }
                    out.push(format!(
                        "  {from} -- otherwise --> {}",
                        id(scope, &c.default)
                    ));
                }
                State::Task(Task { catch, .. }) | State::Map(Map { catch, .. }) => {
                    for c in catch {
                        out.push(format!("  {from} -. error .-> {}", id(scope, &c.next)));
                    }
                }
                _ => {}
            }
            if let State::Map(m) = state {
                let inner = format!("{scope}{name}/");
                out.push(format!(
                    "  subgraph {}_steps [\"{name}: for each step\"]",
                    from
                ));
                walk(
                    &inner,
                    &m.item_processor.start_at,
                    &m.item_processor.states,
                    out,
                );
                out.push("  end".into());
                out.push(format!(
                    "  {from} -. each .-> {}",
                    id(&inner, &m.item_processor.start_at)
                ));
            }
        }
    }
    let mut lines = vec!["flowchart TD".to_owned()];
    walk("", &machine.start_at, &machine.states, &mut lines);
    lines.push(String::new());
    lines.join("\n")
}

/// README markers around the embedded diagram of the cluster workflow.
pub const README_MERMAID_BEGIN: &str = "<!-- BEGIN generated: cluster workflow (make generate) -->";
pub const README_MERMAID_END: &str = "<!-- END generated: cluster workflow -->";
