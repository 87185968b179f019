//! The real `filter-low-confidence` binary against a fake Lambda Runtime API: what it posts
//! on the wire is what Step Functions turns into the state's output or error.

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

use std::time::Duration;

use scones_lambda_runtime::fake_runtime_api::{FakeRuntimeApi, Outcome, stdout_of, wait_or_kill};
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_filter-low-confidence");

fn record(p_bicycle: f64, p_motorcycle: f64) -> Value {
    json!({
        "s3_bucket": "scones-test-bucket",
        "s3_key": "test/bicycle_s_000513.png",
        "image_data": "iVBORw0KGgo=",
        "inferences": [p_bicycle, p_motorcycle]
    })
}

#[test]
fn confident_records_pass_and_low_ones_fail_with_low_confidence() {
    let api = FakeRuntimeApi::start(vec![
        record(0.97, 0.03),
        record(0.6, 0.4),
        json!({"body": "{\"s3_key\": \"x\"}"}),
    ])
    .unwrap();
    let mut child = api.spawn_function(BINARY, &[]).unwrap();
    let timeout = Duration::from_secs(20);
    let outcomes: Vec<Outcome> = (0..3).filter_map(|_| api.next_outcome(timeout)).collect();
    wait_or_kill(&mut child, Duration::from_millis(10));
    let logs = stdout_of(&mut child);

    assert_eq!(outcomes.len(), 3, "outcomes: {outcomes:?}\nlogs:\n{logs}");
    // The record passes unchanged, with all five fields (`model` is empty: it was
    // classified without one).
    let mut passed = record(0.97, 0.03);
    passed["model"] = json!("");
    assert_eq!(
        outcomes[0],
        Outcome::Response {
            request_id: "req-0".into(),
            body: passed
        }
    );
    let Outcome::Error { request_id, body } = &outcomes[1] else {
        panic!("expected a function error, got {:?}", outcomes[1]);
    };
    assert_eq!(request_id, "req-1");
    assert_eq!(body["errorType"], "LowConfidence");
    let message = body["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("threshold 0.93") && message.contains("p_bicycle=0.6000"),
        "{message}"
    );

    let Outcome::Error { body, .. } = &outcomes[2] else {
        panic!("expected InvalidEvent, got {:?}", outcomes[2]);
    };
    assert_eq!(body["errorType"], "InvalidEvent");

    // One JSON log line per decision, fields at the top level for the metric filter.
    let decisions: Vec<Value> = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line.get("decision").is_some())
        .collect();
    let low = decisions
        .iter()
        .find(|line| line["decision"] == "low_confidence")
        .unwrap_or_else(|| panic!("no low_confidence log line in:\n{logs}"));
    assert_eq!(low["threshold"], 0.93);
    assert_eq!(low["p_bicycle"], 0.6);
    assert_eq!(low["p_motorcycle"], 0.4);
    assert!(decisions.iter().any(|line| line["decision"] == "pass"));
}

#[test]
fn threshold_comes_from_the_environment() {
    let api = FakeRuntimeApi::start(vec![record(0.97, 0.03)]).unwrap();
    let mut child = api
        .spawn_function(BINARY, &[("THRESHOLD", "0.99")])
        .unwrap();
    let outcome = api.next_outcome(Duration::from_secs(20));
    wait_or_kill(&mut child, Duration::from_millis(10));
    let Some(Outcome::Error { body, .. }) = outcome else {
        panic!("expected LowConfidence at 0.99, got {outcome:?}");
    };
    assert_eq!(body["errorType"], "LowConfidence");
}

#[test]
fn an_invalid_threshold_fails_at_init_with_a_clear_message() {
    let api = FakeRuntimeApi::start(vec![record(0.97, 0.03)]).unwrap();
    let mut child = api
        .spawn_function(BINARY, &[("THRESHOLD", "ninety")])
        .unwrap();
    let status = wait_or_kill(&mut child, Duration::from_secs(20));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(2),
        "exits non-zero at init"
    );
    let logs = stdout_of(&mut child);
    assert!(
        logs.contains("THRESHOLD must be a number in (0, 1]"),
        "{logs}"
    );
    assert!(
        logs.contains("\\\"ninety\\\"") || logs.contains("ninety"),
        "{logs}"
    );
    // It never took an event.
    assert_eq!(api.next_outcome(Duration::from_millis(100)), None);
}
