use super::*;

#[test]
fn cluster_workflow_is_a_valid_machine() {
    assert_eq!(cluster_workflow().validate(), Ok(()));
}

#[test]
fn generated_json_parses_back_into_the_same_machine() {
    let machine = cluster_workflow();
    let json = serde_json::to_string(&machine).unwrap();
    let back: StateMachine = serde_json::from_str(&json).unwrap();
    assert_eq!(back, machine);
}

#[test]
fn run_job_flow_gets_every_rendered_request_field() {
    let machine = cluster_workflow();
    let State::Task(create) = &machine.states[CREATE_CLUSTER] else {
        panic!("Create cluster is a task")
    };
    let params = create.parameters.as_ref().unwrap().as_object().unwrap();
    let profile = crate::Profile::parse(include_str!("../../../profiles/tutorial.toml")).unwrap();
    let plan = crate::render::plan(
        &profile,
        &crate::Deployment::with_default_roles("b-1"),
        &Default::default(),
    );
    let request = serde_json::to_value(&plan.input.request).unwrap();
    let mut rendered: Vec<String> = request
        .as_object()
        .unwrap()
        .keys()
        .map(|k| format!("{k}.$"))
        .collect();
    let mut passed: Vec<String> = params.keys().cloned().collect();
    rendered.sort();
    passed.sort();
    assert_eq!(
        passed, rendered,
        "every rendered field must reach runJobFlow, and only those"
    );
}

#[test]
fn the_workflow_uses_sdk_integrations_not_sync() {
    let resources = cluster_workflow().resources();
    assert!(
        resources.iter().all(|r| !r.ends_with(".sync")),
        "{resources:?}"
    );
    for action in [
        "runJobFlow",
        "describeCluster",
        "addJobFlowSteps",
        "describeStep",
        "terminateJobFlows",
    ] {
        assert!(
            resources.contains(&format!("arn:${{Partition}}:states:::aws-sdk:emr:{action}")),
            "{action} missing"
        );
    }
}

#[test]
fn every_failure_after_the_cluster_exists_terminates_it() {
    let machine = cluster_workflow();
    for (name, state) in &machine.states {
        let catches = match state {
            State::Task(t) => &t.catch,
            State::Map(m) => &m.catch,
            _ => continue,
        };
        match name.as_str() {
            CREATE_CLUSTER => {
                assert_eq!(catches[0].next, RUN_FAILED, "no cluster yet: fail directly")
            }
            NOTIFY_READY => assert_eq!(
                catches[0].next, ANY_STEPS,
                "notification failure is not fatal"
            ),
            TERMINATE_AFTER_FAILURE | TERMINATE_CLUSTER => assert_eq!(catches[0].next, RUN_FAILED),
            RELEASE_CLUSTER => assert_eq!(
                catches[0].next, DONE,
                "a failed release leaves the cluster up, its claim dies with the run"
            ),
            _ => assert_eq!(
                catches.first().map(|c| c.next.as_str()),
                Some(TERMINATE_AFTER_FAILURE),
                "{name}"
            ),
        }
    }
}

#[test]
fn the_mermaid_diagram_shows_every_state_and_the_error_paths() {
    let diagram = mermaid(&cluster_workflow());
    assert!(diagram.starts_with("flowchart TD"));
    for name in [
        CREATE_CLUSTER,
        CLUSTER_READY,
        RUN_STEPS,
        ADD_STEP,
        DESCRIBE_STEP,
        TERMINATE_AFTER_FAILURE,
        RUN_FAILED,
        DONE,
    ] {
        assert!(diagram.contains(&format!("\"{name}\"")), "{name} missing");
    }
    assert!(
        diagram.contains("-- \"WAITING / RUNNING\" -->"),
        "{diagram}"
    );
    assert!(
        diagram.contains("s_Run_steps -. error .-> s_Terminate_after_failure"),
        "{diagram}"
    );
}

#[test]
fn the_definition_names_no_partition_of_its_own() {
    let json = crate::json::canonical(&cluster_workflow());
    assert!(
        !json.contains("arn:aws:"),
        "a literal partition breaks aws-cn and aws-us-gov"
    );
    let deployed = for_partition(&json, "aws-cn");
    assert!(deployed.contains("\"arn:aws-cn:states:::aws-sdk:emr:runJobFlow\""));
    assert!(
        !deployed.contains("${"),
        "every placeholder is the partition"
    );
}

#[test]
fn creating_the_cluster_and_adding_a_step_retry_throttling_and_server_errors_only() {
    let machine = cluster_workflow();
    let State::Task(create) = &machine.states[CREATE_CLUSTER] else {
        panic!()
    };
    let State::Map(map) = &machine.states[RUN_STEPS] else {
        panic!()
    };
    let State::Task(add) = &map.item_processor.states[ADD_STEP] else {
        panic!()
    };
    for task in [create, add] {
        assert_eq!(task.retry.len(), 1);
        let retry = &task.retry[0];
        assert!(
            retry
                .error_equals
                .iter()
                .any(|e| e == "Emr.ThrottlingException")
        );
        assert!(retry.error_equals.iter().any(|e| e == "Emr.EmrException"));
        assert!(
            retry.error_equals.iter().all(|e| e.starts_with("Emr.")),
            "not States.ALL or States.TaskFailed: {:?}",
            retry.error_equals
        );
        assert!(retry.max_attempts >= 3 && retry.backoff_rate > 1.0);
    }
}

/// Runs the step's poll loop of the generated definition: its Wait, Task
/// (Describe step answers RUNNING until `step_seconds`), Choice and Pass
/// states as written, with `States.MathAdd` in Pass parameters. Returns the
/// history events (5 per Task, 2 per other state, as Step Functions records
/// them: entered and exited, plus scheduled, started and succeeded for a
/// task) and how long after the step's end the loop saw it.
fn run_poll_loop(poll_seconds: u32, step_seconds: u64) -> (u64, u64) {
    fn get<'a>(doc: &'a serde_json::Value, path: &str) -> &'a serde_json::Value {
        path.trim_start_matches("$.")
            .split('.')
            .fold(doc, |v, key| &v[key])
    }
    fn set(doc: &mut serde_json::Value, path: &str, value: serde_json::Value) {
        let keys: Vec<&str> = path.trim_start_matches("$.").split('.').collect();
        let mut at = doc;
        for key in &keys[..keys.len() - 1] {
            at = &mut at[*key];
        }
        at[*keys.last().unwrap()] = value;
    }
    fn eval(doc: &serde_json::Value, expr: &str) -> serde_json::Value {
        if let Some(args) = expr
            .strip_prefix("States.MathAdd(")
            .and_then(|a| a.strip_suffix(')'))
        {
            let sum: i64 = args
                .split(',')
                .map(|a| {
                    let a = a.trim();
                    if a.starts_with('$') {
                        get(doc, a).as_i64().unwrap()
                    } else {
                        a.parse::<i64>().unwrap()
                    }
                })
                .sum();
            return serde_json::json!(sum);
        }
        get(doc, expr).clone()
    }
    fn holds(doc: &serde_json::Value, condition: &Condition) -> bool {
        match condition {
            Condition::Compare(c) => {
                let v = get(doc, &c.variable);
                match &c.operator {
                    Operator::StringEquals(s) => v.as_str() == Some(s),
                    Operator::NumericLessThan(n) => v.as_f64().unwrap() < *n,
                    Operator::NumericEquals(n) => v.as_f64() == Some(*n),
                    Operator::BooleanEquals(b) => v.as_bool() == Some(*b),
                    Operator::IsPresent(p) => v.is_null() != *p,
                }
            }
            Condition::Or { or } => or.iter().any(|c| holds(doc, c)),
            Condition::And { and } => and.iter().all(|c| holds(doc, c)),
            Condition::Not { not } => !holds(doc, not),
        }
    }

    let machine = cluster_workflow();
    let State::Map(map) = &machine.states[RUN_STEPS] else {
        panic!()
    };
    let selector = map.item_selector.as_ref().unwrap();
    let poll = &selector["Poll"];
    assert_eq!(poll["Seconds.$"], "$.poll_seconds");
    let mut doc = serde_json::json!({
        "ClusterId": "j-1",
        "Poll": {"Seconds": poll_seconds, "Count": poll["Count"]},
        "Added": {"StepId": "s-1"},
    });
    let states = &map.item_processor.states;
    let (mut now, mut events) = (0u64, 0u64);
    let mut at = WAIT_FOR_STEP.to_owned();
    loop {
        let next = match &states[&at] {
            State::Wait(w) => {
                events += 2;
                let WaitDuration::SecondsPath(p) = &w.duration else {
                    panic!()
                };
                now += get(&doc, p).as_u64().unwrap();
                &w.transition
            }
            State::Task(t) => {
                assert_eq!(at, DESCRIBE_STEP);
                events += 5;
                let state = if now >= step_seconds {
                    "COMPLETED"
                } else {
                    "RUNNING"
                };
                set(
                    &mut doc,
                    "$.Described",
                    serde_json::json!({"Status": {"State": state}}),
                );
                &t.transition
            }
            State::Choice(c) => {
                events += 2;
                at = c
                    .choices
                    .iter()
                    .find(|r| holds(&doc, &r.condition))
                    .map(|r| r.next.clone())
                    .unwrap_or_else(|| c.default.clone());
                continue;
            }
            State::Pass(p) => {
                events += 2;
                let params = p.parameters.as_ref().unwrap().as_object().unwrap();
                let mut value = serde_json::Map::new();
                for (k, v) in params {
                    match k.strip_suffix(".$") {
                        Some(k) => value.insert(k.into(), eval(&doc, v.as_str().unwrap())),
                        None => value.insert(k.clone(), v.clone()),
                    };
                }
                let ResultPath::At(path) = &p.result_path else {
                    panic!()
                };
                set(&mut doc, path, serde_json::Value::Object(value));
                &p.transition
            }
            State::Succeed(_) => return (events, now - step_seconds),
            other => panic!("{at}: {other:?}"),
        };
        let Transition::Next(n) = next else { panic!() };
        at = n.clone();
    }
}

#[test]
fn a_step_of_the_maximum_lifetime_stays_far_below_the_execution_history_limit() {
    // 720 hours, EMR's and sparkhub's longest cluster life, polled from 30 s.
    let (events, _) = run_poll_loop(30, 720 * 3600);
    assert!(
        events < 10_000,
        "{events} history events for a 720-hour step"
    );
    // (A poll every 30 s for ever would have needed 9 × 86,400 events.)
}

#[test]
fn a_step_is_seen_soon_after_it_ends() {
    for (step, at_most) in [
        (20, 10),
        (600, 30),
        (3600, 240),
        (6 * 3600, 1920),
        (720 * 3600, 3840),
    ] {
        let (_, late) = run_poll_loop(30, step);
        assert!(late <= at_most, "a {step} s step seen {late} s late");
        assert!(
            late * 20 <= step.max(600) * 2,
            "{step} s step seen {late} s late"
        );
    }
}
