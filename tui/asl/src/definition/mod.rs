//! The compiled form of a state machine definition.
//!
//! [`StateMachine::parse`] reads the JSON once, compiles every path, template, intrinsic
//! call and choice rule, resolves every `Next` to an index, and reports *all* problems
//! (each located by JSON pointer) as [`ValidationErrors`]. Execution then never re-parses
//! anything.

mod parse;
mod validate;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

pub use validate::{ValidationError, ValidationErrorKind, ValidationErrors};

use crate::choice::Condition;
use crate::intrinsics::Call;
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
    pub by_name: HashMap<Arc<str>, usize>,
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
    Map(MapState),
}

impl StateKind {
    /// The prefix of the state's history event types (`Pass` → `PassStateEntered`).
    pub fn type_name(&self) -> &'static str {
        match self {
            StateKind::Pass(_) => "Pass",
            StateKind::Task(_) => "Task",
            StateKind::Choice(_) => "Choice",
            StateKind::Wait(_) => "Wait",
            StateKind::Succeed => "Succeed",
            StateKind::Fail(_) => "Fail",
            StateKind::Parallel(_) => "Parallel",
            StateKind::Map(_) => "Map",
        }
    }
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
    LambdaInvoke { resource_arn: Arc<str> },
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
}

#[derive(Debug)]
pub(crate) struct ChoiceRule {
    pub condition: Condition,
    pub next: usize,
    pub assign: Option<Template>,
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
