//! The execution history event, defined once: what the local engine records, what the store
//! keeps (as the service's JSON), and what both backends hand the dashboard.
//!
//! [`HistoryEvent::to_aws_json`] writes `GetExecutionHistory` JSON and
//! [`HistoryEvent::from_aws_json`] reads it; `tests/history_round_trip.rs` checks that the
//! two agree. The rules about a whole history ("has it ended?", "what status does it
//! imply?", including redrives) live here too, so no caller tests event names itself.

mod event;
mod read;

pub use event::{EventDetails, HistoryEvent, Payload, StatePhase, StateType};
pub use read::HistoryError;

use serde_json::Value;

use crate::cause::cause_message;
use crate::status::ExecutionStatus;

impl HistoryEvent {
    /// The state (or Map iteration) the event names, if any.
    pub fn name(&self) -> Option<&str> {
        use EventDetails as D;
        match &self.details {
            D::StateEntered { name, .. }
            | D::StateExited { name, .. }
            | D::MapIterationStarted { name, .. }
            | D::MapIterationSucceeded { name, .. }
            | D::MapIterationFailed { name, .. }
            | D::MapIterationAborted { name, .. } => Some(name),
            D::EvaluationFailed { state, .. } => Some(state),
            D::Other { .. } => self.other_str("name"),
            _ => None,
        }
    }

    /// The JSON text of the state or execution input the event carries.
    pub fn input(&self) -> Option<String> {
        use EventDetails as D;
        match &self.details {
            D::ExecutionStarted { input, .. }
            | D::StateEntered { input, .. }
            | D::LambdaFunctionScheduled { input, .. } => Some(input.to_json_string()),
            D::Other { .. } => self.other_str("input").map(str::to_owned),
            _ => None,
        }
    }

    /// The JSON text of the output the event carries.
    pub fn output(&self) -> Option<String> {
        use EventDetails as D;
        match &self.details {
            D::ExecutionSucceeded { output }
            | D::StateExited { output, .. }
            | D::TaskSucceeded { output, .. }
            | D::LambdaFunctionSucceeded { output } => Some(output.to_json_string()),
            D::Other { .. } => self.other_str("output").map(str::to_owned),
            _ => None,
        }
    }

    /// The error name the event carries.
    pub fn error(&self) -> Option<&str> {
        use EventDetails as D;
        match &self.details {
            D::ExecutionFailed { error, .. }
            | D::ExecutionAborted { error, .. }
            | D::ExecutionTimedOut { error, .. }
            | D::TaskFailed { error, .. }
            | D::LambdaFunctionFailed { error, .. }
            | D::MapRunFailed { error, .. } => error.as_deref(),
            D::TaskTimedOut { error, .. }
            | D::LambdaFunctionTimedOut { error }
            | D::EvaluationFailed { error, .. } => Some(error),
            D::Other { .. } => self.other_str("error"),
            _ => None,
        }
    }

    /// The cause the event carries.
    pub fn cause(&self) -> Option<&str> {
        use EventDetails as D;
        match &self.details {
            D::ExecutionFailed { cause, .. }
            | D::ExecutionAborted { cause, .. }
            | D::ExecutionTimedOut { cause, .. }
            | D::TaskFailed { cause, .. }
            | D::LambdaFunctionFailed { cause, .. }
            | D::MapRunFailed { cause, .. } => cause.as_deref(),
            D::EvaluationFailed { cause, .. } => Some(cause),
            D::Other { .. } => self.other_str("cause"),
            _ => None,
        }
    }

    /// A task's service resource and type (`invoke`, `lambda`).
    pub fn resource(&self) -> Option<(&str, Option<&str>)> {
        use EventDetails as D;
        match &self.details {
            D::TaskScheduled {
                resource,
                resource_type,
                ..
            }
            | D::TaskStarted {
                resource,
                resource_type,
            }
            | D::TaskSucceeded {
                resource,
                resource_type,
                ..
            }
            | D::TaskTimedOut {
                resource,
                resource_type,
                ..
            } => Some((resource, Some(resource_type))),
            D::TaskFailed {
                resource: Some(resource),
                resource_type,
                ..
            } => Some((resource, resource_type.as_deref())),
            D::LambdaFunctionScheduled { resource, .. } => Some((resource, None)),
            D::Other { .. } => self
                .other_str("resource")
                .map(|r| (r, self.other_str("resourceType"))),
            _ => None,
        }
    }

    /// The state type and phase of a `<Type>State<Phase>` event.
    pub fn state_phase(&self) -> Option<(StateType, StatePhase)> {
        StateType::of_event_type(self.event_type())
    }

    /// True for an attempt at a task (a retry schedules another one).
    pub fn is_task_attempt(&self) -> bool {
        matches!(
            self.event_type(),
            "TaskScheduled" | "LambdaFunctionScheduled"
        )
    }

    /// The execution status this event puts the execution in, for the execution-level
    /// events (`ExecutionStarted`, `ExecutionRedriven` and the four endings).
    pub fn execution_status(&self) -> Option<ExecutionStatus> {
        use EventDetails as D;
        Some(match &self.details {
            D::ExecutionStarted { .. } | D::ExecutionRedriven { .. } => ExecutionStatus::Running,
            D::ExecutionSucceeded { .. } => ExecutionStatus::Succeeded,
            D::ExecutionFailed { .. } => ExecutionStatus::Failed,
            D::ExecutionAborted { .. } => ExecutionStatus::Aborted,
            D::ExecutionTimedOut { .. } => ExecutionStatus::TimedOut,
            _ => return None,
        })
    }

    /// True when the event reports a failure (a state, task or the execution failing,
    /// timing out or being aborted).
    pub fn is_failure(&self) -> bool {
        let t = self.event_type();
        ["Failed", "TimedOut", "Aborted"]
            .iter()
            .any(|s| t.ends_with(s))
    }

    /// One line describing the event, for the events table and the logs panel.
    pub fn summary(&self) -> String {
        if let Some(name) = self.name() {
            return name.to_owned();
        }
        match (self.error(), self.cause()) {
            (Some(e), Some(c)) => return format!("{e}: {}", cause_message(c)),
            (Some(e), None) => return e.to_owned(),
            _ => {}
        }
        if let Some((resource, resource_type)) = self.resource() {
            return match resource_type {
                Some(t) => format!("{t}:{resource}"),
                None => resource.to_owned(),
            };
        }
        if let EventDetails::ExecutionRedriven {
            redrive_count: Some(n),
        } = self.details
        {
            return format!("redrive {n}");
        }
        String::new()
    }

    fn other_str(&self, key: &str) -> Option<&str> {
        match &self.details {
            EventDetails::Other {
                details: Some((_, d)),
                ..
            } => d.get(key).and_then(Value::as_str),
            _ => None,
        }
    }
}

/// The status a history implies: that of its last execution-level event (a redrive puts a
/// failed execution back to RUNNING). `None` for a history without one (empty, or a page
/// that starts mid-way).
pub fn status_of(events: &[HistoryEvent]) -> Option<ExecutionStatus> {
    events.iter().rev().find_map(HistoryEvent::execution_status)
}

/// True when the history has ended and, as far as it shows, will not change: its last
/// execution-level event is an ending. (A later redrive appends to it; callers that cache a
/// complete history drop it when they redrive.)
pub fn is_complete(events: &[HistoryEvent]) -> bool {
    status_of(events).is_some_and(ExecutionStatus::is_final)
}

/// The whole history as the `events` array of a `GetExecutionHistory` response.
pub fn to_aws_json(events: &[HistoryEvent]) -> Value {
    Value::Array(events.iter().map(HistoryEvent::to_aws_json).collect())
}
