//! The local stack end to end at library level: the one definition, the real handlers, the
//! local bucket and endpoint, and the store — SUCCEEDED, LowConfidence and ObjectNotFound
//! executions with their histories, and stopping a running execution.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{RedPredictor, png};
use scones_local::endpoint::{PredictError, Predictor};
use scones_local::stage::{self, Source};
use scones_local::store::ExecutionStatus;
use scones_local::{Home, LocalStack, NoProgress, StackOptions};
use serde_json::Value;

/// Red images are confident bicycles, grey ones are a coin toss for [`RedPredictor`].
fn home_with_images(root: &std::path::Path) -> Home {
    let home = Home::at(&root.join("home")).unwrap();
    let dir = root.join("images");
    let mut csv = String::from("split,filename,label\n");
    for (split, name, rgb, label) in [
        ("train", "t0.png", [250, 0, 0], 0),
        ("train", "t1.png", [0, 0, 250], 1),
        ("test", "red.png", [255, 0, 0], 0),
        ("test", "grey.png", [128, 128, 128], 1),
    ] {
        std::fs::create_dir_all(dir.join(split)).unwrap();
        std::fs::write(dir.join(split).join(name), png(rgb)).unwrap();
        csv.push_str(&format!("{split},{name},{label}\n"));
    }
    let labels = root.join("labels.csv");
    std::fs::write(&labels, csv).unwrap();
    stage::stage(&home.bucket(), &Source::Images { dir, labels }, &NoProgress).unwrap();
    home
}

fn types(history: &[Value]) -> Vec<&str> {
    history
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_the_workflow_with_real_handlers_and_persists_every_history() {
    let tmp = tempfile::tempdir().unwrap();
    let home = home_with_images(tmp.path());
    let stack = LocalStack::with_predictor(&home, &StackOptions::default(), Arc::new(RedPredictor))
        .unwrap();
    let keys = vec![
        "test/red.png".to_owned(),
        "test/grey.png".to_owned(),
        "test/missing.png".to_owned(),
    ];
    let mut seen = Vec::new();
    let summary = stack.run_many(keys, 3, |r| seen.push(r.clone())).await;
    stack.flush().await.unwrap();
    assert_eq!(summary.total, 3);
    assert_eq!(summary.succeeded(), 1);
    assert_eq!(summary.failed_by_error.get("LowConfidence"), Some(&1));
    assert_eq!(summary.failed_by_error.get("ObjectNotFound"), Some(&1));
    assert_eq!(summary.not_persisted, 0);
    let by_key = |k: &str| seen.iter().find(|r| r.s3_key == k).unwrap().clone();

    let store = home.open_store().unwrap();

    // SUCCEEDED: the full record comes out, scores recorded.
    let red = by_key("test/red.png");
    assert_eq!(red.status, ExecutionStatus::Succeeded);
    assert_eq!(red.scores, Some([1.0, 0.0]));
    let detail = store.execution(&red.arn).unwrap().unwrap();
    assert_eq!(detail.summary.status, ExecutionStatus::Succeeded);
    assert_eq!(detail.summary.scores, Some([1.0, 0.0]));
    let output: Value = serde_json::from_str(detail.output.as_deref().unwrap()).unwrap();
    assert_eq!(output["s3_bucket"], "scones-local");
    assert_eq!(output["s3_key"], "test/red.png");
    assert_eq!(output["inferences"], serde_json::json!([1.0, 0.0]));
    assert!(!output["image_data"].as_str().unwrap().is_empty());
    let history = store.history(&red.arn).unwrap();
    let entered: Vec<&str> = history
        .iter()
        .filter(|e| e["type"] == "TaskStateEntered")
        .map(|e| e["stateEnteredEventDetails"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        entered,
        ["SerializeImageData", "ClassifyImage", "FilterLowConfidence"]
    );
    assert_eq!(types(&history).last(), Some(&"ExecutionSucceeded"));
    let scheduled = history
        .iter()
        .find(|e| e["type"] == "TaskScheduled")
        .unwrap();
    let params: Value = serde_json::from_str(
        scheduled["taskScheduledEventDetails"]["parameters"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(params["FunctionName"], "serialize-image-data");

    // LowConfidence: the filter task fails with the threshold and scores in the cause, and
    // so does the execution.
    let grey = by_key("test/grey.png");
    assert_eq!(grey.status, ExecutionStatus::Failed);
    assert_eq!(grey.error.as_deref(), Some("LowConfidence"));
    let p = 128.0 / 255.0f32;
    let [b, m] = grey.scores.unwrap();
    assert!((b - f64::from(p)).abs() < 1e-6 && (m - f64::from(1.0 - p)).abs() < 1e-6);
    let history = store.history(&grey.arn).unwrap();
    let failed_task = history.iter().find(|e| e["type"] == "TaskFailed").unwrap();
    assert_eq!(
        failed_task["taskFailedEventDetails"]["error"],
        "LowConfidence"
    );
    let last = history.last().unwrap();
    assert_eq!(last["type"], "ExecutionFailed");
    assert_eq!(
        last["executionFailedEventDetails"]["error"],
        "LowConfidence"
    );
    let cause = last["executionFailedEventDetails"]["cause"]
        .as_str()
        .unwrap();
    assert!(
        cause.contains("0.93") && cause.contains("p_bicycle=0.50"),
        "{cause}"
    );
    let low = store.failures("LowConfidence", 10).unwrap();
    assert_eq!(low.len(), 1);
    assert_eq!(low[0].scores, grey.scores);

    // A missing object fails the first state with ObjectNotFound.
    let missing = by_key("test/missing.png");
    assert_eq!(missing.error.as_deref(), Some("ObjectNotFound"));
    assert_eq!(missing.scores, None);
    let history = store.history(&missing.arn).unwrap();
    assert_eq!(
        types(&history),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskFailed",
            "ExecutionFailed"
        ]
    );

    // The endpoint recorded its metrics, and the capture has the two inferences.
    let now = chrono::Utc::now();
    let invocations: u64 = store
        .metric_series(
            "scones-local-endpoint",
            "Invocations",
            now - chrono::Duration::minutes(5),
            now + chrono::Duration::minutes(1),
            Duration::from_secs(60),
        )
        .unwrap()
        .iter()
        .map(|d| d.sample_count)
        .sum();
    assert_eq!(invocations, 2);
    let captured = scones_local::endpoint::read_captures(
        stack.bucket(),
        "scones-local-endpoint",
        now - chrono::Duration::minutes(5),
    )
    .unwrap();
    assert_eq!(captured.len(), 2);
}

/// Holds every prediction for a while, so an execution can be stopped mid-flight.
struct SlowPredictor;

impl Predictor for SlowPredictor {
    fn predict_png(&self, _png: &[u8]) -> Result<[f32; 2], PredictError> {
        std::thread::sleep(Duration::from_millis(600));
        Ok([0.99, 0.01])
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_execution_can_be_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let home = home_with_images(tmp.path());
    let stack =
        LocalStack::with_predictor(&home, &StackOptions::default(), Arc::new(SlowPredictor))
            .unwrap();
    let started = stack.start("test/red.png");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(stack.running(), std::slice::from_ref(&started.arn));
    let store = home.open_store().unwrap();
    let running = store.execution(&started.arn).unwrap().unwrap();
    assert_eq!(running.summary.status, ExecutionStatus::Running);
    assert!(stack.stop(
        &started.arn,
        Some("Operator".into()),
        Some("stopped by a test".into())
    ));
    let result = started.handle.await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Aborted);
    assert_eq!(result.error.as_deref(), Some("Operator"));
    assert!(!stack.stop(&started.arn, None, None));
    let detail = store.execution(&started.arn).unwrap().unwrap();
    assert_eq!(detail.summary.status, ExecutionStatus::Aborted);
    assert_eq!(
        store.history(&started.arn).unwrap().last().unwrap()["type"],
        "ExecutionAborted"
    );
}
