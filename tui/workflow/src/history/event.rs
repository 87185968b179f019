//! The history event as `GetExecutionHistory` returns it: typed details for the events the
//! local engine records (and `ExecutionRedriven`, which only the service records), and
//! [`EventDetails::Other`] for any other type, kept as it came. [`HistoryEvent::to_aws_json`]
//! writes the service's JSON; [`HistoryEvent::from_aws_json`] (in `read.rs`) reads it back.
//! Payloads are shared JSON values and only become the JSON *strings* AWS uses on output.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

/// A JSON payload in an event: either a value (serialised compactly on output) or text
/// that must be reproduced byte for byte (the execution input as the caller sent it,
/// a Lambda's raw response).
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// A JSON value.
    Json(Arc<Value>),
    /// Exact text.
    Text(Arc<str>),
}

impl Payload {
    /// The payload as AWS shows it: a JSON string.
    pub fn to_json_string(&self) -> String {
        match self {
            Payload::Json(v) => v.to_string(),
            Payload::Text(t) => t.to_string(),
        }
    }
}

impl From<Arc<Value>> for Payload {
    fn from(v: Arc<Value>) -> Self {
        Payload::Json(v)
    }
}

impl From<Value> for Payload {
    fn from(v: Value) -> Self {
        Payload::Json(Arc::new(v))
    }
}

/// The state types, as used in `<Type>StateEntered`/`<Type>StateExited`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateType {
    /// Pass
    Pass,
    /// Task
    Task,
    /// Choice
    Choice,
    /// Wait
    Wait,
    /// Succeed
    Succeed,
    /// Fail
    Fail,
    /// Parallel
    Parallel,
    /// Map
    Map,
}

impl StateType {
    /// Every state type.
    pub const ALL: [StateType; 8] = [
        StateType::Pass,
        StateType::Task,
        StateType::Choice,
        StateType::Wait,
        StateType::Succeed,
        StateType::Fail,
        StateType::Parallel,
        StateType::Map,
    ];

    /// The definition's `Type` (and the prefix of its event types).
    pub fn as_str(self) -> &'static str {
        self.names()[0]
    }

    /// Reads a definition's `Type`.
    pub fn parse(text: &str) -> Option<StateType> {
        StateType::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// The state type and phase of a `<Type>State<Phase>` event type.
    pub fn of_event_type(event_type: &str) -> Option<(StateType, StatePhase)> {
        StateType::ALL.into_iter().find_map(|t| {
            let [_, entered, exited, aborted] = t.names();
            match event_type {
                e if e == entered => Some((t, StatePhase::Entered)),
                e if e == exited => Some((t, StatePhase::Exited)),
                e if e == aborted => Some((t, StatePhase::Aborted)),
                _ => None,
            }
        })
    }

    /// `[Type, TypeStateEntered, TypeStateExited, TypeStateAborted]`: static, so writing an
    /// event's type never allocates.
    fn names(self) -> [&'static str; 4] {
        match self {
            StateType::Pass => [
                "Pass",
                "PassStateEntered",
                "PassStateExited",
                "PassStateAborted",
            ],
            StateType::Task => [
                "Task",
                "TaskStateEntered",
                "TaskStateExited",
                "TaskStateAborted",
            ],
            StateType::Choice => [
                "Choice",
                "ChoiceStateEntered",
                "ChoiceStateExited",
                "ChoiceStateAborted",
            ],
            StateType::Wait => [
                "Wait",
                "WaitStateEntered",
                "WaitStateExited",
                "WaitStateAborted",
            ],
            StateType::Succeed => [
                "Succeed",
                "SucceedStateEntered",
                "SucceedStateExited",
                "SucceedStateAborted",
            ],
            StateType::Fail => [
                "Fail",
                "FailStateEntered",
                "FailStateExited",
                "FailStateAborted",
            ],
            StateType::Parallel => [
                "Parallel",
                "ParallelStateEntered",
                "ParallelStateExited",
                "ParallelStateAborted",
            ],
            StateType::Map => [
                "Map",
                "MapStateEntered",
                "MapStateExited",
                "MapStateAborted",
            ],
        }
    }

    /// The event type of this state type in `phase`.
    pub fn event_type(self, phase: StatePhase) -> &'static str {
        let [_, entered, exited, aborted] = self.names();
        match phase {
            StatePhase::Entered => entered,
            StatePhase::Exited => exited,
            StatePhase::Aborted => aborted,
        }
    }
}

/// Which `<Type>State<Phase>` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatePhase {
    /// `StateEntered`
    Entered,
    /// `StateExited`
    Exited,
    /// `StateAborted`
    Aborted,
}

/// The details of one history event (the `type` plus its `<x>EventDetails`).
#[derive(Debug, Clone, PartialEq)]
pub enum EventDetails {
    /// `ExecutionStarted`
    ExecutionStarted {
        /// The execution input.
        input: Payload,
        /// The execution role.
        role_arn: String,
    },
    /// `ExecutionSucceeded`
    ExecutionSucceeded {
        /// The final output.
        output: Payload,
    },
    /// `ExecutionFailed`
    ExecutionFailed {
        /// Error name.
        error: Option<String>,
        /// Cause.
        cause: Option<String>,
    },
    /// `ExecutionAborted` (StopExecution)
    ExecutionAborted {
        /// Error given to StopExecution.
        error: Option<String>,
        /// Cause given to StopExecution.
        cause: Option<String>,
    },
    /// `ExecutionTimedOut`
    ExecutionTimedOut {
        /// Always `States.Timeout`.
        error: Option<String>,
        /// Optional cause.
        cause: Option<String>,
    },
    /// `<Type>StateEntered`
    StateEntered {
        /// Which kind of state.
        state_type: StateType,
        /// State name.
        name: Arc<str>,
        /// State input.
        input: Payload,
    },
    /// `<Type>StateExited`
    StateExited {
        /// Which kind of state.
        state_type: StateType,
        /// State name.
        name: Arc<str>,
        /// State output.
        output: Payload,
        /// Variables assigned by the state (JSON text per variable), if any.
        assigned_variables: Option<Vec<(String, String)>>,
    },
    /// `TaskStateAborted`, `MapStateAborted`, `ParallelStateAborted`, `WaitStateAborted`...
    StateAborted {
        /// Which kind of state.
        state_type: StateType,
    },
    /// `TaskScheduled`
    TaskScheduled {
        /// Service resource (`invoke`).
        resource: String,
        /// Service (`lambda`).
        resource_type: String,
        /// Region of the call.
        region: String,
        /// The API parameters.
        parameters: Payload,
        /// TimeoutSeconds if set.
        timeout_in_seconds: Option<u64>,
        /// HeartbeatSeconds if set.
        heartbeat_in_seconds: Option<u64>,
    },
    /// `TaskStarted`
    TaskStarted {
        /// Service resource.
        resource: String,
        /// Service.
        resource_type: String,
    },
    /// `TaskSucceeded`
    TaskSucceeded {
        /// Service resource.
        resource: String,
        /// Service.
        resource_type: String,
        /// The API response.
        output: Payload,
    },
    /// `TaskFailed`
    TaskFailed {
        /// Service resource.
        resource: Option<String>,
        /// Service.
        resource_type: Option<String>,
        /// Error name.
        error: Option<String>,
        /// Cause.
        cause: Option<String>,
    },
    /// `TaskTimedOut`
    TaskTimedOut {
        /// Service resource.
        resource: String,
        /// Service.
        resource_type: String,
        /// `States.Timeout`.
        error: String,
    },
    /// `LambdaFunctionScheduled` (legacy Lambda resource)
    LambdaFunctionScheduled {
        /// Function ARN.
        resource: String,
        /// Function input.
        input: Payload,
        /// TimeoutSeconds if set.
        timeout_in_seconds: Option<u64>,
    },
    /// `LambdaFunctionStarted`
    LambdaFunctionStarted,
    /// `LambdaFunctionSucceeded`
    LambdaFunctionSucceeded {
        /// Function result.
        output: Payload,
    },
    /// `LambdaFunctionFailed`
    LambdaFunctionFailed {
        /// Error name.
        error: Option<String>,
        /// Cause.
        cause: Option<String>,
    },
    /// `LambdaFunctionTimedOut`
    LambdaFunctionTimedOut {
        /// `States.Timeout`.
        error: String,
    },
    /// `MapStateStarted`
    MapStateStarted {
        /// Number of items.
        length: usize,
    },
    /// `MapStateSucceeded`
    MapStateSucceeded,
    /// `MapStateFailed`
    MapStateFailed,
    /// `MapIterationStarted`
    MapIterationStarted {
        /// Map state name.
        name: Arc<str>,
        /// Item index.
        index: usize,
    },
    /// `MapIterationSucceeded`
    MapIterationSucceeded {
        /// Map state name.
        name: Arc<str>,
        /// Item index.
        index: usize,
    },
    /// `MapIterationFailed`
    MapIterationFailed {
        /// Map state name.
        name: Arc<str>,
        /// Item index.
        index: usize,
    },
    /// `MapIterationAborted`
    MapIterationAborted {
        /// Map state name.
        name: Arc<str>,
        /// Item index.
        index: usize,
    },
    /// `MapRunStarted` (distributed Map)
    MapRunStarted {
        /// The Map Run ARN.
        map_run_arn: String,
    },
    /// `MapRunSucceeded`
    MapRunSucceeded,
    /// `MapRunFailed`
    MapRunFailed {
        /// Error name.
        error: Option<String>,
        /// Cause.
        cause: Option<String>,
    },
    /// `EvaluationFailed` (a JSONata expression failed)
    EvaluationFailed {
        /// `States.QueryEvaluationError`.
        error: String,
        /// What failed.
        cause: String,
        /// The field, e.g. `Output/result` (absent for some checks).
        location: Option<String>,
        /// The state name.
        state: Arc<str>,
    },
    /// `ParallelStateStarted`
    ParallelStateStarted,
    /// `ParallelStateSucceeded`
    ParallelStateSucceeded,
    /// `ParallelStateFailed`
    ParallelStateFailed,
    /// `ExecutionRedriven`: RedriveExecution restarted a failed, aborted or timed-out
    /// execution; it runs again from where it stopped (recorded by the service only).
    ExecutionRedriven {
        /// How many times it has been redriven, this one included.
        redrive_count: Option<u64>,
    },
    /// Any other event type, kept as it came so it can be shown and written back.
    Other {
        /// The `type`.
        event_type: String,
        /// The `<x>EventDetails` key and object, when the event has one.
        details: Option<(String, Value)>,
    },
}

/// One event of an execution history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    /// 1-based, in emission order.
    pub id: u64,
    /// The event this one follows from (0 for the first ones).
    pub previous_event_id: u64,
    /// When it happened (on the execution's clock).
    pub timestamp: DateTime<Utc>,
    /// What happened.
    pub details: EventDetails,
}

impl HistoryEvent {
    /// The `type` field (`PassStateEntered`, `TaskScheduled`, ...).
    pub fn event_type(&self) -> &str {
        use EventDetails as D;
        match &self.details {
            D::ExecutionStarted { .. } => "ExecutionStarted",
            D::ExecutionSucceeded { .. } => "ExecutionSucceeded",
            D::ExecutionFailed { .. } => "ExecutionFailed",
            D::ExecutionAborted { .. } => "ExecutionAborted",
            D::ExecutionTimedOut { .. } => "ExecutionTimedOut",
            D::StateEntered { state_type, .. } => state_type.event_type(StatePhase::Entered),
            D::StateExited { state_type, .. } => state_type.event_type(StatePhase::Exited),
            D::StateAborted { state_type } => state_type.event_type(StatePhase::Aborted),
            D::TaskScheduled { .. } => "TaskScheduled",
            D::TaskStarted { .. } => "TaskStarted",
            D::TaskSucceeded { .. } => "TaskSucceeded",
            D::TaskFailed { .. } => "TaskFailed",
            D::TaskTimedOut { .. } => "TaskTimedOut",
            D::LambdaFunctionScheduled { .. } => "LambdaFunctionScheduled",
            D::LambdaFunctionStarted => "LambdaFunctionStarted",
            D::LambdaFunctionSucceeded { .. } => "LambdaFunctionSucceeded",
            D::LambdaFunctionFailed { .. } => "LambdaFunctionFailed",
            D::LambdaFunctionTimedOut { .. } => "LambdaFunctionTimedOut",
            D::MapStateStarted { .. } => "MapStateStarted",
            D::MapStateSucceeded => "MapStateSucceeded",
            D::MapStateFailed => "MapStateFailed",
            D::MapIterationStarted { .. } => "MapIterationStarted",
            D::MapIterationSucceeded { .. } => "MapIterationSucceeded",
            D::MapIterationFailed { .. } => "MapIterationFailed",
            D::MapIterationAborted { .. } => "MapIterationAborted",
            D::MapRunStarted { .. } => "MapRunStarted",
            D::MapRunSucceeded => "MapRunSucceeded",
            D::MapRunFailed { .. } => "MapRunFailed",
            D::EvaluationFailed { .. } => "EvaluationFailed",
            D::ParallelStateStarted => "ParallelStateStarted",
            D::ParallelStateSucceeded => "ParallelStateSucceeded",
            D::ParallelStateFailed => "ParallelStateFailed",
            D::ExecutionRedriven { .. } => "ExecutionRedriven",
            D::Other { event_type, .. } => event_type,
        }
    }

    /// The event exactly as `GetExecutionHistory` returns it: `id`, `previousEventId`,
    /// `timestamp` (ISO-8601), `type` and the `<x>EventDetails` object, with JSON payloads
    /// as JSON strings next to `{"truncated": false}` details.
    pub fn to_aws_json(&self) -> Value {
        use EventDetails as D;
        let mut event = Map::new();
        event.insert("id".into(), json!(self.id));
        event.insert("previousEventId".into(), json!(self.previous_event_id));
        event.insert(
            "timestamp".into(),
            json!(self.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
        event.insert("type".into(), json!(self.event_type()));
        let data = |key: &str, payload: &Payload, m: &mut Map<String, Value>| {
            m.insert(key.into(), Value::String(payload.to_json_string()));
            m.insert(format!("{key}Details"), json!({"truncated": false}));
        };
        let opt = |m: &mut Map<String, Value>, key: &str, v: &Option<String>| {
            if let Some(v) = v {
                m.insert(key.into(), json!(v));
            }
        };
        let mut d = Map::new();
        let key = match &self.details {
            D::ExecutionStarted { input, role_arn } => {
                data("input", input, &mut d);
                d.insert("roleArn".into(), json!(role_arn));
                Some("executionStartedEventDetails")
            }
            D::ExecutionSucceeded { output } => {
                data("output", output, &mut d);
                Some("executionSucceededEventDetails")
            }
            D::ExecutionFailed { error, cause } => {
                opt(&mut d, "error", error);
                opt(&mut d, "cause", cause);
                Some("executionFailedEventDetails")
            }
            D::ExecutionAborted { error, cause } => {
                opt(&mut d, "error", error);
                opt(&mut d, "cause", cause);
                Some("executionAbortedEventDetails")
            }
            D::ExecutionTimedOut { error, cause } => {
                opt(&mut d, "error", error);
                opt(&mut d, "cause", cause);
                Some("executionTimedOutEventDetails")
            }
            D::StateEntered { name, input, .. } => {
                d.insert("name".into(), json!(&**name));
                data("input", input, &mut d);
                Some("stateEnteredEventDetails")
            }
            D::StateExited {
                name,
                output,
                assigned_variables,
                ..
            } => {
                d.insert("name".into(), json!(&**name));
                data("output", output, &mut d);
                if let Some(vars) = assigned_variables {
                    let vars: Map<String, Value> = vars
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                        .collect();
                    d.insert("assignedVariables".into(), Value::Object(vars));
                    d.insert(
                        "assignedVariablesDetails".into(),
                        json!({"truncated": false}),
                    );
                }
                Some("stateExitedEventDetails")
            }
            D::StateAborted { .. }
            | D::LambdaFunctionStarted
            | D::MapStateSucceeded
            | D::MapStateFailed
            | D::MapRunSucceeded
            | D::ParallelStateStarted
            | D::ParallelStateSucceeded
            | D::ParallelStateFailed => None,
            D::TaskScheduled {
                resource,
                resource_type,
                region,
                parameters,
                timeout_in_seconds,
                heartbeat_in_seconds,
            } => {
                d.insert("resource".into(), json!(resource));
                d.insert("resourceType".into(), json!(resource_type));
                d.insert("region".into(), json!(region));
                d.insert(
                    "parameters".into(),
                    Value::String(parameters.to_json_string()),
                );
                if let Some(t) = timeout_in_seconds {
                    d.insert("timeoutInSeconds".into(), json!(t));
                }
                if let Some(h) = heartbeat_in_seconds {
                    d.insert("heartbeatInSeconds".into(), json!(h));
                }
                Some("taskScheduledEventDetails")
            }
            D::TaskStarted {
                resource,
                resource_type,
            } => {
                d.insert("resource".into(), json!(resource));
                d.insert("resourceType".into(), json!(resource_type));
                Some("taskStartedEventDetails")
            }
            D::TaskSucceeded {
                resource,
                resource_type,
                output,
            } => {
                d.insert("resource".into(), json!(resource));
                d.insert("resourceType".into(), json!(resource_type));
                data("output", output, &mut d);
                Some("taskSucceededEventDetails")
            }
            D::TaskFailed {
                resource,
                resource_type,
                error,
                cause,
            } => {
                opt(&mut d, "resource", resource);
                opt(&mut d, "resourceType", resource_type);
                opt(&mut d, "error", error);
                opt(&mut d, "cause", cause);
                Some("taskFailedEventDetails")
            }
            D::TaskTimedOut {
                resource,
                resource_type,
                error,
            } => {
                d.insert("resource".into(), json!(resource));
                d.insert("resourceType".into(), json!(resource_type));
                d.insert("error".into(), json!(error));
                Some("taskTimedOutEventDetails")
            }
            D::LambdaFunctionScheduled {
                resource,
                input,
                timeout_in_seconds,
            } => {
                d.insert("resource".into(), json!(resource));
                data("input", input, &mut d);
                if let Some(t) = timeout_in_seconds {
                    d.insert("timeoutInSeconds".into(), json!(t));
                }
                Some("lambdaFunctionScheduledEventDetails")
            }
            D::LambdaFunctionSucceeded { output } => {
                data("output", output, &mut d);
                Some("lambdaFunctionSucceededEventDetails")
            }
            D::LambdaFunctionFailed { error, cause } => {
                opt(&mut d, "error", error);
                opt(&mut d, "cause", cause);
                Some("lambdaFunctionFailedEventDetails")
            }
            D::LambdaFunctionTimedOut { error } => {
                d.insert("error".into(), json!(error));
                Some("lambdaFunctionTimedOutEventDetails")
            }
            D::MapStateStarted { length } => {
                d.insert("length".into(), json!(length));
                Some("mapStateStartedEventDetails")
            }
            D::MapIterationStarted { name, index } => {
                d.insert("name".into(), json!(&**name));
                d.insert("index".into(), json!(index));
                Some("mapIterationStartedEventDetails")
            }
            D::MapIterationSucceeded { name, index } => {
                d.insert("name".into(), json!(&**name));
                d.insert("index".into(), json!(index));
                Some("mapIterationSucceededEventDetails")
            }
            D::MapIterationFailed { name, index } => {
                d.insert("name".into(), json!(&**name));
                d.insert("index".into(), json!(index));
                Some("mapIterationFailedEventDetails")
            }
            D::MapIterationAborted { name, index } => {
                d.insert("name".into(), json!(&**name));
                d.insert("index".into(), json!(index));
                Some("mapIterationAbortedEventDetails")
            }
            D::MapRunStarted { map_run_arn } => {
                d.insert("mapRunArn".into(), json!(map_run_arn));
                Some("mapRunStartedEventDetails")
            }
            D::EvaluationFailed {
                error,
                cause,
                location,
                state,
            } => {
                d.insert("error".into(), json!(error));
                d.insert("cause".into(), json!(cause));
                if let Some(location) = location {
                    d.insert("location".into(), json!(location));
                }
                d.insert("state".into(), json!(&**state));
                Some("evaluationFailedEventDetails")
            }
            D::MapRunFailed { error, cause } => {
                opt(&mut d, "error", error);
                opt(&mut d, "cause", cause);
                Some("mapRunFailedEventDetails")
            }
            D::ExecutionRedriven { redrive_count } => {
                if let Some(n) = redrive_count {
                    d.insert("redriveCount".into(), json!(n));
                }
                Some("executionRedrivenEventDetails")
            }
            D::Other { details, .. } => {
                if let Some((key, value)) = details {
                    event.insert(key.clone(), value.clone());
                }
                None
            }
        };
        if let Some(key) = key {
            event.insert(key.into(), Value::Object(d));
        }
        Value::Object(event)
    }
}
