//! Execution history events, shaped like `GetExecutionHistory`.
//!
//! Events are streamed to an [`EventSink`] as they happen (so a store can persist a
//! running execution live). Payloads are kept as shared JSON values and only serialised
//! to the JSON *strings* AWS uses when [`HistoryEvent::to_aws_json`] is called.

use std::sync::{Arc, Mutex};

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
    fn prefix(self) -> &'static str {
        match self {
            StateType::Pass => "Pass",
            StateType::Task => "Task",
            StateType::Choice => "Choice",
            StateType::Wait => "Wait",
            StateType::Succeed => "Succeed",
            StateType::Fail => "Fail",
            StateType::Parallel => "Parallel",
            StateType::Map => "Map",
        }
    }
}

/// The details of one history event (the `type` plus its `<x>EventDetails`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
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
    pub fn event_type(&self) -> String {
        use EventDetails as D;
        let fixed = match &self.details {
            D::ExecutionStarted { .. } => "ExecutionStarted",
            D::ExecutionSucceeded { .. } => "ExecutionSucceeded",
            D::ExecutionFailed { .. } => "ExecutionFailed",
            D::ExecutionAborted { .. } => "ExecutionAborted",
            D::ExecutionTimedOut { .. } => "ExecutionTimedOut",
            D::StateEntered { state_type, .. } => {
                return format!("{}StateEntered", state_type.prefix());
            }
            D::StateExited { state_type, .. } => {
                return format!("{}StateExited", state_type.prefix());
            }
            D::StateAborted { state_type } => {
                return format!("{}StateAborted", state_type.prefix());
            }
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
        };
        fixed.to_owned()
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
        };
        if let Some(key) = key {
            event.insert(key.into(), Value::Object(d));
        }
        Value::Object(event)
    }
}

/// Receives events as they are recorded. Called synchronously in emission order, so keep
/// it quick (push to a channel or a buffer).
pub trait EventSink: Send + Sync {
    /// One new event.
    fn record(&self, event: &HistoryEvent);
}

/// A sink that keeps every event in memory.
#[derive(Debug, Default)]
pub struct VecSink {
    events: Mutex<Vec<HistoryEvent>>,
}

impl VecSink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of the events recorded so far.
    pub fn events(&self) -> Vec<HistoryEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Take the recorded events, leaving the sink empty.
    pub fn take(&self) -> Vec<HistoryEvent> {
        self.events
            .lock()
            .map(|mut e| std::mem::take(&mut *e))
            .unwrap_or_default()
    }
}

impl EventSink for VecSink {
    fn record(&self, event: &HistoryEvent) {
        if let Ok(mut events) = self.events.lock() {
            events.push(event.clone());
        }
    }
}

/// A sink that forwards every event to a tokio channel, for a consumer (a store, a
/// dashboard) running elsewhere. Events sent after the receiver is gone are dropped.
#[derive(Debug, Clone)]
pub struct ChannelSink {
    tx: tokio::sync::mpsc::UnboundedSender<HistoryEvent>,
}

impl ChannelSink {
    /// A sink and the receiving end of its channel.
    pub fn new() -> (Self, tokio::sync::mpsc::UnboundedReceiver<HistoryEvent>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (Self { tx }, rx)
    }
}

impl EventSink for ChannelSink {
    fn record(&self, event: &HistoryEvent) {
        // A closed receiver means nobody wants the history any more; the execution goes on.
        let _ = self.tx.send(event.clone());
    }
}

/// A sink that drops everything (for callers that only want the outcome).
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl EventSink for NullSink {
    fn record(&self, _event: &HistoryEvent) {}
}

/// The whole history as the `events` array of a `GetExecutionHistory` response.
pub fn to_aws_json(events: &[HistoryEvent]) -> Value {
    Value::Array(events.iter().map(HistoryEvent::to_aws_json).collect())
}
