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
            resources.contains(&format!("arn:aws:states:::aws-sdk:emr:{action}")),
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
