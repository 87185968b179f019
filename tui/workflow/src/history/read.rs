//! Reading `GetExecutionHistory` JSON back into [`HistoryEvent`]s: what the store hands the
//! local backend and what the SDK's events serialise to on AWS, through one reader.
//!
//! The reader is lenient where the service is: an event type this build does not type, or a
//! known type whose details do not have the expected shape, becomes [`EventDetails::Other`]
//! with its details kept, so a history from a newer service still shows. Only the common
//! fields (`id`, `type`, `timestamp`) are required.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::event::{EventDetails, HistoryEvent, Payload, StatePhase, StateType};

/// Why an event could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HistoryError {
    /// A required field is missing or has the wrong type.
    #[error("history event {index}: field `{field}` is missing or not a {expected}")]
    Field {
        /// Position of the event in the list.
        index: usize,
        /// The field.
        field: &'static str,
        /// The expected JSON type.
        expected: &'static str,
    },
    /// The timestamp is neither RFC 3339 text nor epoch seconds.
    #[error("history event {index}: unreadable timestamp {value}")]
    Timestamp {
        /// Position of the event in the list.
        index: usize,
        /// The value found.
        value: String,
    },
}

impl HistoryEvent {
    /// Reads one event in `GetExecutionHistory` JSON. `index` is only used in errors.
    pub fn from_aws_json(index: usize, event: &Value) -> Result<HistoryEvent, HistoryError> {
        let field = |name: &'static str, expected: &'static str| HistoryError::Field {
            index,
            field: name,
            expected,
        };
        let id = event
            .get("id")
            .and_then(Value::as_u64)
            .ok_or_else(|| field("id", "non-negative integer"))?;
        let previous_event_id = event
            .get("previousEventId")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let event_type = event
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| field("type", "string"))?;
        let timestamp = read_timestamp(index, event.get("timestamp"))?;
        let details_entry = event.as_object().and_then(|o| {
            o.iter()
                .find(|(k, v)| k.ends_with("EventDetails") && v.is_object())
                .map(|(k, v)| (k.clone(), v.clone()))
        });
        let details = details_entry
            .as_ref()
            .and_then(|(_, d)| d.as_object())
            .and_then(|d| typed(event_type, d))
            .or_else(|| typed_without_details(event_type, details_entry.is_some()))
            .unwrap_or_else(|| EventDetails::Other {
                event_type: event_type.to_owned(),
                details: details_entry,
            });
        Ok(HistoryEvent {
            id,
            previous_event_id,
            timestamp,
            details,
        })
    }

    /// Reads a whole `{"events": [...]}` document or a bare array of events.
    pub fn parse_all(doc: &Value) -> Result<Vec<HistoryEvent>, HistoryError> {
        let list = doc
            .get("events")
            .unwrap_or(doc)
            .as_array()
            .ok_or(HistoryError::Field {
                index: 0,
                field: "events",
                expected: "array",
            })?;
        list.iter()
            .enumerate()
            .map(|(i, e)| HistoryEvent::from_aws_json(i, e))
            .collect()
    }
}

fn read_timestamp(index: usize, value: Option<&Value>) -> Result<DateTime<Utc>, HistoryError> {
    let bad = |value: String| HistoryError::Timestamp { index, value };
    match value {
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| bad(s.clone())),
        // The AWS CLI prints epoch seconds with a fraction.
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|secs| secs.is_finite() && secs.abs() < 1e14)
            .and_then(|secs| DateTime::from_timestamp_millis((secs * 1000.0).round() as i64))
            .ok_or_else(|| bad(n.to_string())),
        _ => Err(HistoryError::Field {
            index,
            field: "timestamp",
            expected: "string",
        }),
    }
}

/// Events that carry no details object.
fn typed_without_details(event_type: &str, had_details: bool) -> Option<EventDetails> {
    use EventDetails as D;
    if had_details {
        return None;
    }
    if let Some((state_type, StatePhase::Aborted)) = StateType::of_event_type(event_type) {
        return Some(D::StateAborted { state_type });
    }
    Some(match event_type {
        "LambdaFunctionStarted" => D::LambdaFunctionStarted,
        "MapStateSucceeded" => D::MapStateSucceeded,
        "MapStateFailed" => D::MapStateFailed,
        "MapRunSucceeded" => D::MapRunSucceeded,
        "ParallelStateStarted" => D::ParallelStateStarted,
        "ParallelStateSucceeded" => D::ParallelStateSucceeded,
        "ParallelStateFailed" => D::ParallelStateFailed,
        "ExecutionRedriven" => D::ExecutionRedriven {
            redrive_count: None,
        },
        _ => return None,
    })
}

/// The typed details of `event_type` from its details object; `None` when the type is not
/// one this build types or the object lacks a field the type requires.
fn typed(event_type: &str, d: &Map<String, Value>) -> Option<EventDetails> {
    use EventDetails as D;
    let text = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_owned);
    let payload = |k: &str| {
        d.get(k)
            .and_then(Value::as_str)
            .map(|s| Payload::Text(Arc::from(s)))
    };
    let count = |k: &str| d.get(k).and_then(Value::as_u64);
    let index = || count("index").and_then(|i| usize::try_from(i).ok());
    let name = || text("name").map(|n| Arc::<str>::from(n.as_str()));
    if let Some((state_type, phase)) = StateType::of_event_type(event_type) {
        return match phase {
            StatePhase::Entered => Some(D::StateEntered {
                state_type,
                name: name()?,
                input: payload("input")?,
            }),
            StatePhase::Exited => Some(D::StateExited {
                state_type,
                name: name()?,
                output: payload("output")?,
                assigned_variables: d.get("assignedVariables").and_then(Value::as_object).map(
                    |vars| {
                        vars.iter()
                            .map(|(k, v)| {
                                let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                                (k.clone(), text)
                            })
                            .collect()
                    },
                ),
            }),
            StatePhase::Aborted => Some(D::StateAborted { state_type }),
        };
    }
    Some(match event_type {
        "ExecutionStarted" => D::ExecutionStarted {
            input: payload("input")?,
            role_arn: text("roleArn").unwrap_or_default(),
        },
        "ExecutionSucceeded" => D::ExecutionSucceeded {
            output: payload("output")?,
        },
        "ExecutionFailed" => D::ExecutionFailed {
            error: text("error"),
            cause: text("cause"),
        },
        "ExecutionAborted" => D::ExecutionAborted {
            error: text("error"),
            cause: text("cause"),
        },
        "ExecutionTimedOut" => D::ExecutionTimedOut {
            error: text("error"),
            cause: text("cause"),
        },
        "ExecutionRedriven" => D::ExecutionRedriven {
            redrive_count: count("redriveCount"),
        },
        "TaskScheduled" => D::TaskScheduled {
            resource: text("resource")?,
            resource_type: text("resourceType")?,
            region: text("region").unwrap_or_default(),
            parameters: payload("parameters")?,
            timeout_in_seconds: count("timeoutInSeconds"),
            heartbeat_in_seconds: count("heartbeatInSeconds"),
        },
        "TaskStarted" => D::TaskStarted {
            resource: text("resource")?,
            resource_type: text("resourceType")?,
        },
        "TaskSucceeded" => D::TaskSucceeded {
            resource: text("resource")?,
            resource_type: text("resourceType")?,
            output: payload("output")?,
        },
        "TaskFailed" => D::TaskFailed {
            resource: text("resource"),
            resource_type: text("resourceType"),
            error: text("error"),
            cause: text("cause"),
        },
        "TaskTimedOut" => D::TaskTimedOut {
            resource: text("resource")?,
            resource_type: text("resourceType")?,
            error: text("error")?,
        },
        "LambdaFunctionScheduled" => D::LambdaFunctionScheduled {
            resource: text("resource")?,
            input: payload("input")?,
            timeout_in_seconds: count("timeoutInSeconds"),
        },
        "LambdaFunctionSucceeded" => D::LambdaFunctionSucceeded {
            output: payload("output")?,
        },
        "LambdaFunctionFailed" => D::LambdaFunctionFailed {
            error: text("error"),
            cause: text("cause"),
        },
        "LambdaFunctionTimedOut" => D::LambdaFunctionTimedOut {
            error: text("error")?,
        },
        "MapStateStarted" => D::MapStateStarted {
            length: usize::try_from(count("length")?).ok()?,
        },
        "MapIterationStarted" => D::MapIterationStarted {
            name: name()?,
            index: index()?,
        },
        "MapIterationSucceeded" => D::MapIterationSucceeded {
            name: name()?,
            index: index()?,
        },
        "MapIterationFailed" => D::MapIterationFailed {
            name: name()?,
            index: index()?,
        },
        "MapIterationAborted" => D::MapIterationAborted {
            name: name()?,
            index: index()?,
        },
        "MapRunStarted" => D::MapRunStarted {
            map_run_arn: text("mapRunArn")?,
        },
        "MapRunFailed" => D::MapRunFailed {
            error: text("error"),
            cause: text("cause"),
        },
        "EvaluationFailed" => D::EvaluationFailed {
            error: text("error")?,
            cause: text("cause")?,
            location: text("location"),
            state: Arc::from(text("state")?.as_str()),
        },
        _ => return None,
    })
}
