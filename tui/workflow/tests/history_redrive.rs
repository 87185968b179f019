//! A redriven execution's history: RUNNING again after `ExecutionRedriven`, ended once it
//! ends again, and every event of it typed by the reader.

#![allow(clippy::unwrap_used)] // a test: a panic is the failing test's message

use scones_workflow::ExecutionStatus;
use scones_workflow::history::{self, EventDetails, HistoryEvent};
use serde_json::Value;

fn fixture() -> (Vec<HistoryEvent>, usize) {
    let doc: Value =
        serde_json::from_str(include_str!("fixtures/redriven_execution.json")).unwrap();
    let events = HistoryEvent::parse_all(&doc).unwrap();
    let running_after = doc["runningAfter"].as_u64().unwrap() as usize;
    (events, running_after)
}

#[test]
fn a_redrive_puts_a_failed_execution_back_to_running() {
    let (events, running_after) = fixture();
    let failed_at = events
        .iter()
        .position(|e| e.event_type() == "ExecutionFailed")
        .unwrap();
    // Up to the failure: FAILED and complete (cacheable).
    let before = &events[..=failed_at];
    assert_eq!(history::status_of(before), Some(ExecutionStatus::Failed));
    assert!(history::is_complete(before));
    // Redriven, still in ClassifyImage: RUNNING and not complete.
    let running = &events[..running_after];
    assert_eq!(history::status_of(running), Some(ExecutionStatus::Running));
    assert!(!history::is_complete(running));
    let redriven = &events[failed_at + 1];
    assert_eq!(
        redriven.details,
        EventDetails::ExecutionRedriven {
            redrive_count: Some(1)
        }
    );
    assert_eq!(redriven.summary(), "redrive 1");
    // Ended again: SUCCEEDED.
    assert_eq!(
        history::status_of(&events),
        Some(ExecutionStatus::Succeeded)
    );
    assert!(history::is_complete(&events));
}

#[test]
fn every_event_of_the_service_history_is_typed_and_written_back_the_same() {
    let (events, _) = fixture();
    let doc: Value =
        serde_json::from_str(include_str!("fixtures/redriven_execution.json")).unwrap();
    for (event, original) in events.iter().zip(doc["events"].as_array().unwrap()) {
        assert!(
            !matches!(event.details, EventDetails::Other { .. }),
            "{} was not typed",
            event.event_type()
        );
        assert_eq!(&event.to_aws_json(), original);
    }
}

#[test]
fn an_unknown_event_type_is_kept_as_it_came() {
    let raw = serde_json::json!({
        "id": 7, "previousEventId": 6, "timestamp": "2026-12-03T10:00:00.000Z",
        "type": "MapRunRedriven",
        "mapRunRedrivenEventDetails": {"mapRunArn": "arn:x", "redriveCount": 2}
    });
    let event = HistoryEvent::from_aws_json(0, &raw).unwrap();
    assert!(
        matches!(&event.details, EventDetails::Other { event_type, .. } if event_type == "MapRunRedriven")
    );
    assert_eq!(event.to_aws_json(), raw);
    assert_eq!(event.execution_status(), None);
}
