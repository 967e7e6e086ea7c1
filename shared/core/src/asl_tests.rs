use super::*;
use serde_json::json;

fn pass(next: Transition) -> State {
    State::Pass(Pass {
        comment: None,
        parameters: None,
        result_path: ResultPath::Discard,
        transition: next,
    })
}

fn machine(states: Vec<(&str, State)>) -> StateMachine {
    StateMachine {
        comment: None,
        start_at: "A".into(),
        states: states.into_iter().map(|(n, s)| (n.to_owned(), s)).collect(),
    }
}

#[test]
fn a_transition_is_next_or_end() {
    let s: State =
        serde_json::from_value(json!({"Type": "Pass", "ResultPath": null, "Next": "B"})).unwrap();
    assert_eq!(s.targets(), ["B"]);
    let s: State =
        serde_json::from_value(json!({"Type": "Pass", "ResultPath": null, "End": true})).unwrap();
    assert!(s.is_terminal());
    for bad in [
        json!({"Type": "Pass", "ResultPath": null}),
        json!({"Type": "Pass", "ResultPath": null, "End": false}),
        json!({"Type": "Pass", "ResultPath": null, "Next": "B", "End": true}),
    ] {
        assert!(
            serde_json::from_value::<State>(bad.clone()).is_err(),
            "{bad} must not parse"
        );
    }
    let out = serde_json::to_value(pass(Transition::end())).unwrap();
    assert_eq!(
        out,
        json!({"Type": "Pass", "ResultPath": null, "End": true})
    );
}

#[test]
fn result_path_cannot_replace_the_input() {
    for bad in ["$", "ClusterId", ""] {
        let v = json!({"Type": "Pass", "ResultPath": bad, "End": true});
        let err = serde_json::from_value::<State>(v).unwrap_err().to_string();
        assert!(err.contains("would replace") || bad.is_empty(), "{err}");
    }
    // The tutorial's bug: a task writing its result over the cluster id it needs.
    let tutorial_bug = json!({"Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:addStep.sync", "ResultPath": "$", "End": true});
    assert!(serde_json::from_value::<State>(tutorial_bug).is_err());
}

#[test]
fn states_are_tagged_by_type() {
    let v = json!({"Type": "Wait", "SecondsPath": "$.poll_seconds", "Next": "X"});
    let s: State = serde_json::from_value(v.clone()).unwrap();
    assert!(
        matches!(&s, State::Wait(Wait { duration: WaitDuration::SecondsPath(p), .. }) if p == "$.poll_seconds")
    );
    assert_eq!(serde_json::to_value(&s).unwrap(), v);
    assert!(serde_json::from_value::<State>(json!({"Type": "Parallel2", "End": true})).is_err());
}

#[test]
fn choice_rules_round_trip() {
    let v = json!({
        "Type": "Choice",
        "Choices": [
            {"Or": [{"Variable": "$.s", "StringEquals": "A"}, {"Variable": "$.s", "StringEquals": "B"}], "Next": "X"},
            {"Variable": "$.t", "IsPresent": true, "Next": "Y"}
        ],
        "Default": "Z"
    });
    let s: State = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(serde_json::to_value(&s).unwrap(), v);
    assert_eq!(s.targets(), ["X", "Y", "Z"]);
}

#[test]
fn validator_finds_missing_targets_unreachable_states_and_no_end() {
    let ok = machine(vec![
        ("A", pass(Transition::next("B"))),
        ("B", State::Succeed(Succeed { comment: None })),
    ]);
    assert_eq!(ok.validate(), Ok(()));

    let missing = machine(vec![("A", pass(Transition::next("Nowhere")))]);
    let errors = missing.validate().unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("\"Nowhere\", which does not exist")),
        "{errors:?}"
    );

    let unreachable = machine(vec![
        ("A", pass(Transition::end())),
        ("Island", pass(Transition::end())),
    ]);
    assert_eq!(
        unreachable.validate().unwrap_err(),
        ["Island: not reachable from \"A\""]
    );

    let endless = machine(vec![
        ("A", pass(Transition::next("B"))),
        ("B", pass(Transition::next("A"))),
    ]);
    assert!(endless.validate().unwrap_err()[0].contains("no state ends the machine"));

    let mut bad_start = ok.clone();
    bad_start.start_at = "Start".into();
    assert!(
        bad_start
            .validate()
            .unwrap_err()
            .iter()
            .any(|e| e.contains("StartAt: state \"Start\" does not exist"))
    );
}
