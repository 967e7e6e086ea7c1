//! A typed model of the Amazon States Language (the JSONPath dialect), as far
//! as sparkhub uses it.
//!
//! Invalid machines are hard to build: a state is an enum tagged by `Type`; a
//! transition is `Next` or `End`, never both and never neither; `ResultPath`
//! is either a path below `$` or `null` (discard), so a state cannot replace
//! its whole input by accident. [`StateMachine::validate`] checks the graph:
//! `StartAt` and every target exist, every state is reachable, and there is a
//! way to stop.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StateMachine {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub comment: Option<String>,
    pub start_at: String,
    pub states: BTreeMap<String, State>,
}

/// A set of states with a start, as in a Map state's `ItemProcessor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ItemProcessor {
    pub processor_config: ProcessorConfig,
    pub start_at: String,
    pub states: BTreeMap<String, State>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessorConfig {
    pub mode: ProcessorMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProcessorMode {
    Inline,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "Type")]
pub enum State {
    Task(Task),
    Pass(Pass),
    Wait(Wait),
    Choice(Choice),
    Map(Map),
    Succeed(Succeed),
    Fail(Fail),
}

/// Where a state goes next: `"Next": "<state>"` or `"End": true`, exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Transition {
    Next(String),
    End(EndTrue),
}

/// The literal `true` of `"End": true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndTrue;

impl Serialize for EndTrue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(true)
    }
}

/// Hand-written because a derived (flattened) enum would accept a state with
/// both `Next` and `End`, or with `"End": false`.
impl<'de> Deserialize<'de> for Transition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(rename = "Next")]
            next: Option<String>,
            #[serde(rename = "End")]
            end: Option<bool>,
        }
        let raw = Raw::deserialize(d)?;
        match (raw.next, raw.end) {
            (Some(next), None) => Ok(Self::Next(next)),
            (None, Some(true)) => Ok(Self::End(EndTrue)),
            (Some(_), Some(_)) => Err(serde::de::Error::custom(
                "a state has \"Next\" or \"End\", not both",
            )),
            (None, Some(false)) => Err(serde::de::Error::custom(
                "\"End\" must be true; use \"Next\" otherwise",
            )),
            (None, None) => Err(serde::de::Error::custom(
                "a state needs \"Next\" or \"End\": true",
            )),
        }
    }
}

impl Transition {
    pub fn next(name: impl Into<String>) -> Self {
        Self::Next(name.into())
    }
    pub fn end() -> Self {
        Self::End(EndTrue)
    }
}

/// `ResultPath`: a path below `$` where the result is put into the state's
/// input, or `null` to discard the result and pass the input on unchanged.
/// `"$"` (replace the input) is not representable: the execution input must
/// survive every state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultPath {
    Discard,
    At(String),
}

impl ResultPath {
    pub fn at(path: impl Into<String>) -> Self {
        Self::At(path.into())
    }
}

impl Serialize for ResultPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Discard => s.serialize_none(),
            Self::At(path) => s.serialize_str(path),
        }
    }
}

impl<'de> Deserialize<'de> for ResultPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(Self::Discard),
            Some(path) if path.starts_with("$.") => Ok(Self::At(path)),
            Some(path) => Err(serde::de::Error::custom(format!(
                "ResultPath {path:?} would replace the state's input; use a path below \"$\" or null"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: u32,
    pub max_attempts: u32,
    pub backoff_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub result_path: ResultPath,
    pub next: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Task {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub comment: Option<String>,
    pub resource: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub parameters: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub result_selector: Option<Value>,
    pub result_path: ResultPath,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub retry: Vec<Retrier>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub catch: Vec<Catcher>,
    #[serde(flatten)]
    pub transition: Transition,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Pass {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub parameters: Option<Value>,
    pub result_path: ResultPath,
    #[serde(flatten)]
    pub transition: Transition,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Wait {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub comment: Option<String>,
    #[serde(flatten)]
    pub duration: WaitDuration,
    #[serde(flatten)]
    pub transition: Transition,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WaitDuration {
    Seconds(u32),
    SecondsPath(String),
    /// Until the RFC 3339 instant at this path.
    TimestampPath(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Choice {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub comment: Option<String>,
    pub choices: Vec<ChoiceRule>,
    pub default: String,
}

/// A top-level choice rule: a condition and the state to go to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChoiceRule {
    #[serde(flatten)]
    pub condition: Condition,
    pub next: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Condition {
    Compare(Comparison),
    Or {
        #[serde(rename = "Or")]
        or: Vec<Condition>,
    },
    And {
        #[serde(rename = "And")]
        and: Vec<Condition>,
    },
    Not {
        #[serde(rename = "Not")]
        not: Box<Condition>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Comparison {
    pub variable: String,
    #[serde(flatten)]
    pub operator: Operator,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Operator {
    StringEquals(String),
    BooleanEquals(bool),
    IsPresent(bool),
    NumericEquals(f64),
    NumericLessThan(f64),
}

impl Condition {
    pub fn string_equals(variable: &str, value: &str) -> Self {
        Self::Compare(Comparison {
            variable: variable.into(),
            operator: Operator::StringEquals(value.into()),
        })
    }

    /// `variable` equals one of `values`.
    pub fn string_in(variable: &str, values: &[&str]) -> Self {
        Self::Or {
            or: values
                .iter()
                .map(|v| Self::string_equals(variable, v))
                .collect(),
        }
    }

    pub fn is_present(variable: &str) -> Self {
        Self::Compare(Comparison {
            variable: variable.into(),
            operator: Operator::IsPresent(true),
        })
    }

    pub fn numeric_less_than(variable: &str, value: f64) -> Self {
        Self::Compare(Comparison {
            variable: variable.into(),
            operator: Operator::NumericLessThan(value),
        })
    }

    pub fn boolean_equals(variable: &str, value: bool) -> Self {
        Self::Compare(Comparison {
            variable: variable.into(),
            operator: Operator::BooleanEquals(value),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Map {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub comment: Option<String>,
    pub items_path: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub item_selector: Option<Value>,
    pub max_concurrency: u32,
    pub item_processor: ItemProcessor,
    pub result_path: ResultPath,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub catch: Vec<Catcher>,
    #[serde(flatten)]
    pub transition: Transition,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Succeed {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub comment: Option<String>,
}

/// A Fail state: error and cause either fixed or taken from the input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Fail {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub comment: Option<String>,
    #[serde(flatten)]
    pub error: FailError,
    #[serde(flatten)]
    pub cause: FailCause,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailError {
    Error(String),
    ErrorPath(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailCause {
    Cause(String),
    CausePath(String),
}

impl State {
    /// The states this one can go to, in no particular order.
    pub fn targets(&self) -> Vec<&str> {
        fn transition(t: &Transition) -> Vec<&str> {
            match t {
                Transition::Next(n) => vec![n.as_str()],
                Transition::End(_) => vec![],
            }
        }
        fn catches(c: &[Catcher]) -> Vec<&str> {
            c.iter().map(|c| c.next.as_str()).collect()
        }
        match self {
            State::Task(t) => [transition(&t.transition), catches(&t.catch)].concat(),
            State::Pass(p) => transition(&p.transition),
            State::Wait(w) => transition(&w.transition),
            State::Map(m) => [transition(&m.transition), catches(&m.catch)].concat(),
            State::Choice(c) => c
                .choices
                .iter()
                .map(|r| r.next.as_str())
                .chain([c.default.as_str()])
                .collect(),
            State::Succeed(_) | State::Fail(_) => vec![],
        }
    }

    /// Whether the machine can stop in this state.
    pub fn is_terminal(&self) -> bool {
        match self {
            State::Task(Task { transition, .. })
            | State::Pass(Pass { transition, .. })
            | State::Wait(Wait { transition, .. })
            | State::Map(Map { transition, .. }) => matches!(transition, Transition::End(_)),
            State::Succeed(_) | State::Fail(_) => true,
            State::Choice(_) => false,
        }
    }

    fn result_paths(&self) -> Vec<&ResultPath> {
        fn catches(c: &[Catcher]) -> Vec<&ResultPath> {
            c.iter().map(|c| &c.result_path).collect()
        }
        match self {
            State::Task(t) => [vec![&t.result_path], catches(&t.catch)].concat(),
            State::Pass(p) => vec![&p.result_path],
            State::Map(m) => [vec![&m.result_path], catches(&m.catch)].concat(),
            _ => vec![],
        }
    }
}

impl StateMachine {
    /// Checks the graph and returns every problem found, each naming the state.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        validate_states("", &self.start_at, &self.states, &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Every `Resource` of every Task state, nested ones included, sorted and once each.
    pub fn resources(&self) -> BTreeSet<String> {
        fn walk(states: &BTreeMap<String, State>, out: &mut BTreeSet<String>) {
            for state in states.values() {
                match state {
                    State::Task(t) => {
                        out.insert(t.resource.clone());
                    }
                    State::Map(m) => walk(&m.item_processor.states, out),
                    _ => {}
                }
            }
        }
        let mut out = BTreeSet::new();
        walk(&self.states, &mut out);
        out
    }
}

fn validate_states(
    scope: &str,
    start_at: &str,
    states: &BTreeMap<String, State>,
    errors: &mut Vec<String>,
) {
    let at = |name: &str| format!("{scope}{name}");
    if !states.contains_key(start_at) {
        errors.push(format!("{scope}StartAt: state {start_at:?} does not exist"));
    }
    for (name, state) in states {
        for target in state.targets() {
            if !states.contains_key(target) {
                errors.push(format!(
                    "{}: goes to {target:?}, which does not exist",
                    at(name)
                ));
            }
        }
        for path in state.result_paths() {
            if let ResultPath::At(p) = path
                && !p.starts_with("$.")
            {
                errors.push(format!(
                    "{}: ResultPath {p:?} would replace the state's input",
                    at(name)
                ));
            }
        }
        if let State::Map(m) = state {
            let inner = &m.item_processor;
            validate_states(
                &format!("{}/", at(name)),
                &inner.start_at,
                &inner.states,
                errors,
            );
        }
    }

    let mut reachable = BTreeSet::new();
    let mut todo = vec![start_at];
    while let Some(name) = todo.pop() {
        if !reachable.insert(name) {
            continue;
        }
        if let Some(state) = states.get(name) {
            todo.extend(state.targets());
        }
    }
    for name in states.keys() {
        if !reachable.contains(name.as_str()) {
            errors.push(format!("{}: not reachable from {start_at:?}", at(name)));
        }
    }
    if !states.values().any(State::is_terminal) {
        errors.push(format!(
            "{scope}: no state ends the machine (Succeed, Fail or End)"
        ));
    }
}

#[cfg(test)]
#[path = "asl_tests.rs"]
mod tests;
