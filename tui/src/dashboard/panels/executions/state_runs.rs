//! The detail panel's view of a history: one [`StateRun`] per state visit, folded from the
//! events ([`scones_workflow::history`]) the way the console does, following
//! `previousEventId` so Parallel and Map branches attribute their task events to the right
//! state. A redrive (`ExecutionRedriven`) reopens the execution: the visits after it are new
//! runs, and the ones its failure closed stay closed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

pub use scones_workflow::cause::cause_message;
use scones_workflow::history::{HistoryEvent, StatePhase};

/// How a state visit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StateStatus {
    /// Entered, not exited yet.
    Running,
    /// Exited normally.
    Succeeded,
    /// Failed (the execution failed in it, or its error was caught).
    Failed,
    /// Aborted by StopExecution or a timeout.
    Aborted,
}

impl StateStatus {
    /// Upper-case name for tables.
    pub fn as_str(self) -> &'static str {
        match self {
            StateStatus::Running => "RUNNING",
            StateStatus::Succeeded => "SUCCEEDED",
            StateStatus::Failed => "FAILED",
            StateStatus::Aborted => "ABORTED",
        }
    }
}

/// One visit of one state, folded from its events.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateRun {
    /// State name.
    pub name: String,
    /// State type from the event name (`Task`, `Pass`, `Map`...).
    pub state_type: String,
    /// How it ended.
    pub status: StateStatus,
    /// Entered at.
    pub entered: DateTime<Utc>,
    /// Exited (or failed/aborted) at.
    pub exited: Option<DateTime<Utc>>,
    /// State input (JSON text as recorded).
    pub input: Option<String>,
    /// State output (JSON text as recorded).
    pub output: Option<String>,
    /// Last error name seen in the state.
    pub error: Option<String>,
    /// Last cause seen in the state.
    pub cause: Option<String>,
    /// Task attempts scheduled (1 without retries).
    pub attempts: u32,
    /// Id of the `StateEntered` event.
    pub entered_event: u64,
}

impl StateRun {
    /// Retries made (attempts after the first).
    pub fn retries(&self) -> u32 {
        self.attempts.saturating_sub(1)
    }

    /// Time spent in the state (until `now` while running).
    pub fn duration(&self, now: DateTime<Utc>) -> std::time::Duration {
        (self.exited.unwrap_or(now) - self.entered)
            .to_std()
            .unwrap_or_default()
    }
}

/// Folds events into state visits, in the order they were entered.
pub fn state_runs(events: &[HistoryEvent]) -> Vec<StateRun> {
    let mut runs: Vec<StateRun> = Vec::new();
    // event id -> index of the state visit it belongs to
    let mut owner: HashMap<u64, usize> = HashMap::new();
    for ev in events {
        let phase = ev.state_phase();
        if let Some((state_type, StatePhase::Entered)) = phase {
            owner.insert(ev.id, runs.len());
            runs.push(StateRun {
                name: ev.name().unwrap_or("?").to_owned(),
                state_type: state_type.as_str().to_owned(),
                status: StateStatus::Running,
                entered: ev.timestamp,
                exited: None,
                input: ev.input(),
                output: None,
                error: None,
                cause: None,
                attempts: 0,
                entered_event: ev.id,
            });
            continue;
        }
        let run_index = owner.get(&ev.previous_event_id).copied();
        if let Some(i) = run_index {
            owner.insert(ev.id, i);
        }
        if ev.execution_status().is_some() {
            finish_open_runs(&mut runs, ev);
            continue;
        }
        let Some(run) = run_index.and_then(|i| runs.get_mut(i)) else {
            continue;
        };
        match phase {
            Some((_, StatePhase::Exited)) => {
                run.status = StateStatus::Succeeded;
                run.exited = Some(ev.timestamp);
                run.output = ev.output();
            }
            Some((_, StatePhase::Aborted)) => {
                run.status = StateStatus::Aborted;
                run.exited = Some(ev.timestamp);
            }
            _ if ev.is_task_attempt() => run.attempts += 1,
            _ if ev.error().is_some() || ev.event_type().ends_with("Failed") => {
                run.error = ev.error().map(str::to_owned);
                run.cause = ev.cause().map(str::to_owned);
            }
            _ => {}
        }
    }
    runs
}

/// An execution ending closes every visit still open: a visit that saw an error failed, the
/// rest were cut short. (`ExecutionStarted` and `ExecutionRedriven` close nothing.)
fn finish_open_runs(runs: &mut [StateRun], ev: &HistoryEvent) {
    use scones_workflow::ExecutionStatus as S;
    let status = match ev.execution_status() {
        Some(S::Failed) => StateStatus::Failed,
        Some(S::Aborted | S::TimedOut) => StateStatus::Aborted,
        _ => return,
    };
    for run in runs.iter_mut().filter(|r| r.status == StateStatus::Running) {
        run.exited = Some(ev.timestamp);
        run.status = if run.error.is_some() || run.state_type == "Fail" {
            StateStatus::Failed
        } else {
            status
        };
        if run.status == StateStatus::Failed && run.error.is_none() {
            run.error = ev.error().map(str::to_owned);
            run.cause = ev.cause().map(str::to_owned);
        }
    }
}

/// Index of the state to select first: the last failed visit, else the last one.
pub fn failing_state(runs: &[StateRun]) -> Option<usize> {
    runs.iter()
        .rposition(|r| r.status == StateStatus::Failed)
        .or_else(|| runs.len().checked_sub(1))
}

/// Pretty-prints a recorded JSON payload; text that is not JSON is shown as is.
pub fn pretty_json(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_else(|_| text.to_owned()),
        Err(_) => text.to_owned(),
    }
}

/// Strings longer than this are shortened on screen (not in what `y` copies).
const DISPLAY_STRING_LIMIT: usize = 120;

/// Pretty JSON for reading on screen: a long string value (the base64 `image_data`, ~4 KB)
/// is shortened to its start and its length, so the fields after it (`inferences`) stay in
/// view instead of below a screenful of base64.
pub fn pretty_json_for_display(text: &str) -> String {
    fn shorten(v: &mut Value) {
        match v {
            Value::String(s) if s.chars().count() > DISPLAY_STRING_LIMIT => {
                let head: String = s.chars().take(48).collect();
                *s = format!("{head}… ({} chars)", s.chars().count());
            }
            Value::Array(items) => items.iter_mut().for_each(shorten),
            Value::Object(map) => map.values_mut().for_each(shorten),
            _ => {}
        }
    }
    match serde_json::from_str::<Value>(text) {
        Ok(mut v) => {
            shorten(&mut v);
            serde_json::to_string_pretty(&v).unwrap_or_else(|_| text.to_owned())
        }
        Err(_) => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scones_workflow::history::{EventDetails, HistoryError};
    use serde_json::json;

    #[test]
    fn display_json_shortens_long_strings_only() {
        let long = "A".repeat(4000);
        let text = json!({"s3_key": "test/a.png", "image_data": long, "inferences": [0.9, 0.1]})
            .to_string();
        let shown = pretty_json_for_display(&text);
        assert!(shown.contains("\"s3_key\": \"test/a.png\""));
        assert!(shown.contains("(4000 chars)"));
        assert!(shown.contains("0.9"));
        assert!(shown.len() < 300, "{shown}");
        // What is copied stays complete.
        assert!(pretty_json(&text).contains(&long));
        assert_eq!(pretty_json_for_display("not json"), "not json");
    }

    fn ev(id: i64, prev: i64, kind: &str, key: &str, details: Value) -> Value {
        let mut e = json!({"id": id, "previousEventId": prev, "type": kind,
            "timestamp": format!("2025-01-01T00:00:{id:02}.000Z")});
        if !key.is_empty() {
            e[key] = details;
        }
        e
    }

    fn low_confidence_history() -> Vec<HistoryEvent> {
        let cause = r#"{"errorMessage":"confidence 0.7100 is below the threshold 0.93: p_bicycle=0.7100, p_motorcycle=0.2900","errorType":"LowConfidence"}"#;
        let doc = json!({"events": [
            ev(1, 0, "ExecutionStarted", "executionStartedEventDetails", json!({"input": "{\"s3_key\":\"k\"}"})),
            ev(2, 1, "TaskStateEntered", "stateEnteredEventDetails", json!({"name": "SerializeImageData", "input": "{}"})),
            ev(3, 2, "TaskScheduled", "taskScheduledEventDetails", json!({"resource": "invoke", "resourceType": "lambda"})),
            ev(4, 3, "TaskStarted", "taskStartedEventDetails", json!({"resource": "invoke", "resourceType": "lambda"})),
            ev(5, 4, "TaskSucceeded", "taskSucceededEventDetails", json!({"output": "{}"})),
            ev(6, 5, "TaskStateExited", "stateExitedEventDetails", json!({"name": "SerializeImageData", "output": "{\"a\":1}"})),
            ev(7, 6, "TaskStateEntered", "stateEnteredEventDetails", json!({"name": "FilterLowConfidence", "input": "{}"})),
            ev(8, 7, "TaskScheduled", "taskScheduledEventDetails", json!({"resource": "invoke", "resourceType": "lambda"})),
            ev(9, 8, "TaskFailed", "taskFailedEventDetails", json!({"error": "Lambda.ServiceException", "cause": "x"})),
            ev(10, 9, "TaskScheduled", "taskScheduledEventDetails", json!({"resource": "invoke", "resourceType": "lambda"})),
            ev(11, 10, "TaskFailed", "taskFailedEventDetails", json!({"error": "LowConfidence", "cause": cause})),
            ev(12, 11, "ExecutionFailed", "executionFailedEventDetails", json!({"error": "LowConfidence", "cause": cause})),
        ]});
        HistoryEvent::parse_all(&doc).unwrap()
    }

    #[test]
    fn low_confidence_history_folds_into_states_with_the_failing_one_selected() {
        let runs = state_runs(&low_confidence_history());
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].status, StateStatus::Succeeded);
        assert_eq!(runs[0].output.as_deref(), Some("{\"a\":1}"));
        assert_eq!(runs[0].retries(), 0);
        let failed = &runs[1];
        assert_eq!(failed.name, "FilterLowConfidence");
        assert_eq!(failed.state_type, "Task");
        assert_eq!(failed.status, StateStatus::Failed);
        assert_eq!(failed.error.as_deref(), Some("LowConfidence"));
        assert_eq!(failed.retries(), 1);
        assert_eq!(failing_state(&runs), Some(1));
        assert!(cause_message(failed.cause.as_deref().unwrap()).starts_with("confidence 0.7100"));
    }

    #[test]
    fn a_running_execution_keeps_its_open_state_running() {
        let events = low_confidence_history();
        let runs = state_runs(&events[..8]);
        assert_eq!(runs[1].status, StateStatus::Running);
        assert_eq!(runs[1].exited, None);
        assert_eq!(failing_state(&runs), Some(1));
    }

    #[test]
    fn bad_events_are_typed_errors() {
        let err = HistoryEvent::parse_all(&json!({"events": [{"type": "X"}]})).unwrap_err();
        assert!(matches!(err, HistoryError::Field { field: "id", .. }));
        let err =
            HistoryEvent::parse_all(&json!([{"id": 1, "type": "X", "timestamp": "yesterday"}]))
                .unwrap_err();
        assert!(matches!(err, HistoryError::Timestamp { .. }));
        assert!(HistoryEvent::parse_all(&json!("nope")).is_err());
    }

    #[test]
    fn epoch_timestamps_are_read() {
        let e = HistoryEvent::from_aws_json(
            0,
            &json!({"id": 1, "type": "PassStateEntered", "timestamp": 1735689600.5}),
        )
        .unwrap();
        assert_eq!(e.timestamp.timestamp_millis(), 1_735_689_600_500);
        assert!(matches!(
            e.details,
            EventDetails::Other { details: None, .. }
        ));
    }

    #[test]
    fn pretty_json_leaves_text_alone() {
        assert_eq!(pretty_json("{\"a\":1}"), "{\n  \"a\": 1\n}");
        assert_eq!(pretty_json("not json"), "not json");
    }
}
