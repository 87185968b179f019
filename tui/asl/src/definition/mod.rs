//! The compiled form of a state machine definition.
//!
//! [`StateMachine::parse`] reads the JSON once, compiles every path, template, intrinsic
//! call and choice rule, resolves every `Next` to an index, and reports *all* problems
//! (each located by JSON pointer) as [`ValidationErrors`]. Execution then never re-parses
//! anything.

mod parse;
mod validate;

use std::sync::Arc;

use serde_json::Value;

pub use crate::diagnostics::{ValidationError, ValidationErrorKind, ValidationErrors};

use crate::choice_rules::Condition;
use crate::intrinsics::Call;
use crate::jsonata::JTemplate;
use crate::path::{Path, ReferencePath};
use crate::payload::Template;

/// A parsed, validated state machine, ready to execute (cheap to clone).
#[derive(Debug, Clone)]
pub struct StateMachine {
    pub(crate) inner: Arc<Definition>,
}

/// The top level of a definition.
#[derive(Debug)]
pub(crate) struct Definition {
    pub program: Program,
    /// Execution-level `TimeoutSeconds`.
    pub timeout_seconds: Option<u64>,
    pub comment: Option<String>,
}

impl StateMachine {
    /// Parse and validate a definition. Every problem is reported, not just the first.
    pub fn parse(text: &str) -> Result<Self, ValidationErrors> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            ValidationErrors::single(ValidationError::new(
                "",
                ValidationErrorKind::InvalidJson,
                format!("the definition is not valid JSON: {e}"),
            ))
        })?;
        Self::from_value(&value)
    }

    /// Parse and validate an already-decoded definition.
    pub fn from_value(value: &Value) -> Result<Self, ValidationErrors> {
        parse::parse_definition(value).map(|d| Self { inner: Arc::new(d) })
    }

    /// The top-level `Comment`, if any.
    pub fn comment(&self) -> Option<&str> {
        self.inner.comment.as_deref()
    }

    /// The execution timeout (`TimeoutSeconds` at the top level), if any.
    pub fn timeout_seconds(&self) -> Option<u64> {
        self.inner.timeout_seconds
    }

    /// Names of the top-level states, in definition order.
    pub fn state_names(&self) -> impl Iterator<Item = &str> {
        self.inner.program.states.iter().map(|s| &*s.name)
    }

    /// The name of the start state.
    pub fn start_at(&self) -> &str {
        &self.inner.program.states[self.inner.program.start_at].name
    }
}

/// The query language of a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryLanguage {
    /// Paths, Parameters, ResultSelector... (the default).
    JsonPath,
    /// JSONata expressions (`{% ... %}`), Arguments, Output.
    Jsonata,
}

/// A list of states with a start (the top level, a Parallel branch or a Map processor).
#[derive(Debug)]
pub(crate) struct Program {
    pub start_at: usize,
    pub states: Vec<State>,
}

/// Where control goes after a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    Next(usize),
    End,
}

/// `InputPath`/`OutputPath`/`ItemsPath`: absent means `$`, `null` means `{}`.
#[derive(Debug, Clone)]
pub(crate) enum DataPath {
    Root,
    Null,
    Path(Path),
}

/// `ResultPath`: absent means `$` (the result replaces the input), `null` discards it.
#[derive(Debug, Clone)]
pub(crate) enum ResultPathSpec {
    Replace,
    Discard,
    Path(ReferencePath),
}

/// A number given literally or through a reference path (`TimeoutSeconds` vs
/// `TimeoutSecondsPath`, `MaxConcurrency` vs `MaxConcurrencyPath`...).
#[derive(Debug, Clone)]
pub(crate) enum NumberSource {
    Literal(f64),
    Path(Path),
}

/// A value given literally, by path or by intrinsic call (Fail `Error`/`ErrorPath`).
#[derive(Debug, Clone)]
pub(crate) enum StringSource {
    Literal(String),
    Path(Path),
    Call(Call),
}

#[derive(Debug)]
pub(crate) struct State {
    pub name: Arc<str>,
    pub kind: StateKind,
    pub transition: Transition,
    pub input_path: DataPath,
    pub output_path: DataPath,
    pub assign: Option<Template>,
    /// The JSONata fields, for a JSONata state (`None` for JSONPath states).
    pub jsonata: Option<Box<JsonataState>>,
}

/// The fields of a JSONata state that hold JSONata templates/expressions.
#[derive(Debug, Default)]
pub(crate) struct JsonataState {
    pub output: Option<JTemplate>,
    pub assign: Option<JTemplate>,
    pub arguments: Option<JTemplate>,
    pub items: Option<JTemplate>,
    pub item_selector: Option<JTemplate>,
    pub max_concurrency: Option<JTemplate>,
    pub tolerated_failure_count: Option<JTemplate>,
    pub tolerated_failure_percentage: Option<JTemplate>,
    pub timeout: Option<JTemplate>,
    pub heartbeat: Option<JTemplate>,
    pub seconds: Option<JTemplate>,
    pub timestamp: Option<JTemplate>,
    pub error: Option<JTemplate>,
    pub cause: Option<JTemplate>,
}

#[derive(Debug)]
pub(crate) enum StateKind {
    Pass(PassState),
    Task(TaskState),
    Choice(ChoiceState),
    Wait(WaitState),
    Succeed,
    Fail(FailState),
    Parallel(ParallelState),
    Map(Box<MapState>),
}

#[derive(Debug)]
pub(crate) struct PassState {
    pub parameters: Option<Template>,
    pub result: Option<Value>,
    pub result_path: ResultPathSpec,
}

/// How a Task reaches its Lambda function.
#[derive(Debug, Clone)]
pub(crate) enum TaskResource {
    /// `arn:aws:states:::lambda:invoke` (optimized integration).
    LambdaInvoke,
    /// `arn:aws:lambda:<region>:<account>:function:<name>` (legacy integration).
    LambdaFunction { arn: Arc<str> },
}

#[derive(Debug)]
pub(crate) struct TaskState {
    pub resource: TaskResource,
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub result_path: ResultPathSpec,
    pub timeout: Option<NumberSource>,
    pub heartbeat: Option<NumberSource>,
    pub errors: ErrorHandling,
}

/// `Retry` and `Catch` of Task, Parallel and Map states.
#[derive(Debug, Default)]
pub(crate) struct ErrorHandling {
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Jitter {
    Full,
    None,
}

#[derive(Debug)]
pub(crate) struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: f64,
    pub max_attempts: u64,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<f64>,
    pub jitter: Jitter,
}

#[derive(Debug)]
pub(crate) struct Catcher {
    pub error_equals: Vec<String>,
    pub next: usize,
    pub result_path: ResultPathSpec,
    pub assign: Option<Template>,
    pub jsonata_assign: Option<JTemplate>,
    pub jsonata_output: Option<JTemplate>,
}

#[derive(Debug)]
pub(crate) struct ChoiceRule {
    pub condition: Condition,
    pub next: usize,
    pub assign: Option<Template>,
    pub jsonata_condition: Option<JTemplate>,
    pub jsonata_assign: Option<JTemplate>,
    pub jsonata_output: Option<JTemplate>,
}

#[derive(Debug)]
pub(crate) struct ChoiceState {
    pub choices: Vec<ChoiceRule>,
    pub default: Option<usize>,
}

#[derive(Debug)]
pub(crate) enum WaitSpec {
    Seconds(u64),
    Timestamp(String),
    SecondsPath(Path),
    TimestampPath(Path),
    /// JSONata `Seconds`/`Timestamp` expression (see the state's `JsonataState`).
    Jsonata,
}

#[derive(Debug)]
pub(crate) struct WaitState {
    pub wait: WaitSpec,
}

#[derive(Debug)]
pub(crate) struct FailState {
    pub error: Option<StringSource>,
    pub cause: Option<StringSource>,
}

#[derive(Debug)]
pub(crate) struct ParallelState {
    pub branches: Vec<Program>,
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub result_path: ResultPathSpec,
    pub errors: ErrorHandling,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MapMode {
    Inline,
    Distributed,
}

#[derive(Debug)]
pub(crate) struct MapState {
    pub processor: Program,
    pub mode: MapMode,
    pub items_path: DataPath,
    /// `ItemSelector`, or the legacy `Parameters`.
    pub item_selector: Option<Template>,
    pub max_concurrency: Option<NumberSource>,
    pub tolerated_failure_count: Option<NumberSource>,
    pub tolerated_failure_percentage: Option<NumberSource>,
    pub label: Option<String>,
    pub result_selector: Option<Template>,
    pub result_path: ResultPathSpec,
    pub errors: ErrorHandling,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors_of(def: Value) -> ValidationErrors {
        StateMachine::from_value(&def).expect_err("definition should be rejected")
    }

    fn has(errors: &ValidationErrors, pointer: &str, kind: ValidationErrorKind) -> bool {
        errors
            .errors
            .iter()
            .any(|e| e.pointer == pointer && e.kind == kind)
    }

    #[test]
    fn a_valid_definition_parses() {
        let sm = StateMachine::from_value(&json!({
            "Comment": "ok", "StartAt": "A", "TimeoutSeconds": 10,
            "States": {
                "A": {"Type": "Pass", "Next": "B"},
                "B": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 1, "Next": "C"}], "Default": "D"},
                "C": {"Type": "Succeed"},
                "D": {"Type": "Fail", "Error": "E"}
            }
        }))
        .unwrap();
        assert_eq!(sm.start_at(), "A");
        assert_eq!(sm.timeout_seconds(), Some(10));
        assert_eq!(sm.state_names().collect::<Vec<_>>(), ["A", "B", "C", "D"]);
    }

    #[test]
    fn every_problem_is_reported_with_its_pointer() {
        let errors = errors_of(json!({
            "StartAt": "A",
            "States": {
                "A": {"Type": "Pass", "Next": "Nope", "InputPath": "no-dollar"},
                "B": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "Seconds": 3, "End": true},
                "C": {"Type": "Pass", "Parameters": {"x.$": "States.Bogus(1)"}, "ResultPath": "$.a[*]"},
                "D": {"Type": "Wait"}
            }
        }));
        assert!(
            has(&errors, "/States/A/Next", ValidationErrorKind::UnknownNext),
            "{errors}"
        );
        assert!(
            has(
                &errors,
                "/States/A/InputPath",
                ValidationErrorKind::InvalidPath
            ),
            "{errors}"
        );
        assert!(
            has(
                &errors,
                "/States/B/Resource",
                ValidationErrorKind::UnsupportedResource
            ),
            "{errors}"
        );
        assert!(
            has(
                &errors,
                "/States/B/Seconds",
                ValidationErrorKind::UnknownField
            ),
            "{errors}"
        );
        assert!(
            has(
                &errors,
                "/States/C/Parameters/x.$",
                ValidationErrorKind::InvalidIntrinsic
            ),
            "{errors}"
        );
        assert!(
            has(
                &errors,
                "/States/C/ResultPath",
                ValidationErrorKind::InvalidReferencePath
            ),
            "{errors}"
        );
        assert!(
            has(&errors, "/States/C", ValidationErrorKind::MissingNext),
            "{errors}"
        );
        assert!(
            has(&errors, "/States/D", ValidationErrorKind::InvalidValue),
            "{errors}"
        );
        assert!(
            has(&errors, "/States/B", ValidationErrorKind::UnreachableState),
            "{errors}"
        );
        // Display lists them all.
        let text = errors.to_string();
        assert!(
            text.contains(&format!("({} problems)", errors.errors.len())),
            "{text}"
        );
        for e in &errors.errors {
            assert!(text.contains(&e.pointer), "{text}");
        }
    }

    #[test]
    fn graph_checks_find_unreachable_and_endless_machines() {
        let errors = errors_of(json!({
            "StartAt": "A",
            "States": {"A": {"Type": "Pass", "Next": "A"}, "Lost": {"Type": "Succeed"}}
        }));
        assert!(
            has(
                &errors,
                "/States/Lost",
                ValidationErrorKind::UnreachableState
            ),
            "{errors}"
        );
        assert!(
            has(&errors, "", ValidationErrorKind::NoTerminalState),
            "{errors}"
        );
        let errors = errors_of(json!({"StartAt": "X", "States": {"A": {"Type": "Succeed"}}}));
        assert!(
            has(&errors, "/StartAt", ValidationErrorKind::UnknownNext),
            "{errors}"
        );
    }

    #[test]
    fn nested_programs_are_validated_too() {
        let errors = errors_of(json!({
            "StartAt": "M",
            "States": {
                "M": {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "Next": "Gone"}}}, "End": true},
                "P": {"Type": "Parallel", "Branches": [{"StartAt": "Q", "States": {"Q": {"Type": "Pass"}}}], "End": true}
            }
        }));
        assert!(
            has(
                &errors,
                "/States/M/ItemProcessor/States/I/Next",
                ValidationErrorKind::UnknownNext
            ),
            "{errors}"
        );
        assert!(
            has(
                &errors,
                "/States/P/Branches/0/States/Q",
                ValidationErrorKind::MissingNext
            ),
            "{errors}"
        );
    }

    #[test]
    fn retry_and_catch_are_checked() {
        let errors = errors_of(json!({
            "StartAt": "T",
            "States": {
                "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": true,
                      "Retry": [{"ErrorEquals": ["States.ALL", "X"], "BackoffRate": 0.5}],
                      "Catch": [{"ErrorEquals": [], "Next": "T"}]}
            }
        }));
        assert!(
            has(
                &errors,
                "/States/T/Retry/0/ErrorEquals",
                ValidationErrorKind::InvalidValue
            ),
            "{errors}"
        );
        assert!(
            has(
                &errors,
                "/States/T/Retry/0/BackoffRate",
                ValidationErrorKind::InvalidValue
            ),
            "{errors}"
        );
        assert!(
            has(
                &errors,
                "/States/T/Catch/0/ErrorEquals",
                ValidationErrorKind::MissingField
            ),
            "{errors}"
        );
    }

    #[test]
    fn lambda_invoke_needs_a_function_name_and_unknown_integrations_are_named() {
        let errors = errors_of(json!({
            "StartAt": "T",
            "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"Payload.$": "$"}, "End": true}}
        }));
        assert!(
            has(
                &errors,
                "/States/T/Parameters",
                ValidationErrorKind::MissingField
            ),
            "{errors}"
        );
        let errors = errors_of(json!({
            "StartAt": "T",
            "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "End": true}}
        }));
        assert!(
            errors
                .to_string()
                .contains("arn:aws:states:::dynamodb:putItem"),
            "{errors}"
        );
    }

    #[test]
    fn the_lambda_integration_is_recognised_in_every_partition() {
        for partition in ["aws", "aws-us-gov", "aws-cn"] {
            let def = json!({
                "StartAt": "T",
                "States": {"T": {"Type": "Task",
                    "Resource": format!("arn:{partition}:states:::lambda:invoke"),
                    "Parameters": {"FunctionName": "f", "Payload.$": "$"}, "End": true}}
            });
            assert!(StateMachine::parse(&def.to_string()).is_ok(), "{partition}");
        }
        let errors = errors_of(json!({
            "StartAt": "T",
            "States": {"T": {"Type": "Task", "Resource": "arn:nope:states:::lambda:invoke",
                "Parameters": {"FunctionName": "f"}, "End": true}}
        }));
        assert!(errors.to_string().contains("arn:nope"), "{errors}");
    }

    #[test]
    fn invalid_json_is_a_single_typed_error() {
        let errors = StateMachine::parse("{not json").unwrap_err();
        assert_eq!(errors.errors.len(), 1);
        assert_eq!(errors.errors[0].kind, ValidationErrorKind::InvalidJson);
    }
}
