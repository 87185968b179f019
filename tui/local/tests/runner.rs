//! The local stack end to end at library level: the one definition, the real handlers, the
//! local bucket and endpoint, and the store — SUCCEEDED, LowConfidence and ObjectNotFound
//! executions with their histories, and stopping a running execution.

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

mod support;

use std::sync::Arc;
use std::time::Duration;

use scones_local::endpoint::{PredictError, Predictor};
use scones_local::stage::{self, Source};
use scones_local::{Home, LocalBackend, LocalStack, NoProgress, StackOptions};
use scones_workflow::ExecutionStatus;
use scones_workflow::Threshold;
use scones_workflow::capture::Keep;
use scones_workflow::cause::STOPPED_ERROR;
use scones_workflow::run::{self, Interruption, Keys, Next};
use serde_json::Value;
use support::{RedPredictor, png};

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
    let backend =
        Arc::new(LocalBackend::with_stack(&home, stack.clone(), Threshold::DEFAULT).unwrap());
    let mut seen = Vec::new();
    let report = run::run(
        backend,
        Keys::Given(keys),
        3,
        |r| {
            seen.push(r.unwrap().clone());
            Next::Continue
        },
        std::future::pending(),
    )
    .await
    .unwrap();
    stack.flush().await.unwrap();
    let summary = report.summary;
    assert_eq!(summary.total, 3);
    assert_eq!(summary.succeeded(), 1);
    let failed = &summary.by_error[&ExecutionStatus::Failed];
    assert_eq!(failed.get("LowConfidence"), Some(&1));
    assert_eq!(failed.get("ObjectNotFound"), Some(&1));
    assert_eq!(summary.not_persisted, 0);
    // ObjectNotFound is not the workflow's designed outcome; LowConfidence is.
    assert_eq!(summary.unexpected, 1);
    let by_key = |k: &str| seen.iter().find(|r| r.s3_key == k).unwrap().clone();

    let store = home.open_store().unwrap();

    // SUCCEEDED: the full record comes out, scores recorded.
    let red = by_key("test/red.png");
    assert_eq!(red.status, ExecutionStatus::Succeeded);
    assert_eq!(red.scores, Some([1.0, 0.0]));
    let detail = store.execution(&red.arn).unwrap().unwrap();
    assert_eq!(detail.summary.status, ExecutionStatus::Succeeded);
    assert_eq!(detail.summary.scores, Some([1.0, 0.0]));
    // Started with the documented input, the bucket and the key (as on AWS).
    let input: Value = serde_json::from_str(&detail.input).unwrap();
    assert_eq!(
        input,
        serde_json::json!({"s3_bucket": "scones-local", "s3_key": "test/red.png"})
    );
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
    let now = chrono::Utc::now();
    let low = store
        .failures(
            "LowConfidence",
            now - chrono::Duration::minutes(5),
            now + chrono::Duration::minutes(1),
            10,
        )
        .unwrap();
    assert_eq!((low.newest.len(), low.total, low.finished), (1, 1, 3));
    assert_eq!(low.newest[0].scores, grey.scores);

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
        Keep::Scores,
        None,
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

// Enough workers that the slow predictor (which blocks its thread) leaves the timer free.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn an_interrupted_run_stops_what_runs_and_reports_what_ran() {
    let tmp = tempfile::tempdir().unwrap();
    let home = home_with_images(tmp.path());
    let stack =
        LocalStack::with_predictor(&home, &StackOptions::default(), Arc::new(SlowPredictor))
            .unwrap();
    let backend =
        Arc::new(LocalBackend::with_stack(&home, stack.clone(), Threshold::DEFAULT).unwrap());
    // A billion keys: drawn as the run goes, so it starts at once and holds only what is
    // in flight; Ctrl-C (the interrupt future) ends it.
    let started = std::time::Instant::now();
    let mut causes = Vec::new();
    let report = run::run(
        Arc::clone(&backend),
        Keys::Random(1_000_000_000),
        4,
        |r| {
            causes.push(r.as_ref().ok().and_then(|r| r.cause.clone()));
            Next::Continue
        },
        tokio::time::sleep(Duration::from_millis(200)),
    )
    .await
    .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report.interrupted, Some(Interruption::Interrupted));
    let summary = &report.summary;
    assert_eq!(summary.total, 4, "{summary}");
    // The four in flight when the interrupt came were stopped, not left RUNNING.
    assert_eq!(summary.count(ExecutionStatus::Aborted), 4, "{summary}");
    assert_eq!(
        summary.by_error[&ExecutionStatus::Aborted].get(STOPPED_ERROR),
        Some(&4)
    );
    // Each records that the run stopped it, not the dashboard.
    let expected = scones_workflow::cause::StopReason::RUN_INTERRUPTED.cause;
    assert_eq!(causes, vec![Some(expected.to_owned()); 4]);
    stack.flush().await.unwrap();
    let store = home.open_store().unwrap();
    assert_eq!(store.status_counts().unwrap().running, 0);
    assert_eq!(store.status_counts().unwrap().total(), summary.total as u64);
}

/// The listing carries each execution's scores and, for images of the staged test split, the
/// label `test.lst` gives (re-read when the file changes); other images are unlabelled. The
/// low-confidence report carries the label too, and the images themselves are served by key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_carry_scores_and_staged_labels_and_images_are_served() {
    use scones_workflow::class::Class;
    use scones_workflow::port::{Backend, BackendError, TimeRange};

    let tmp = tempfile::tempdir().unwrap();
    let home = home_with_images(tmp.path());
    let bucket_root = home.bucket().root().to_path_buf();
    std::fs::create_dir_all(bucket_root.join("incoming")).unwrap();
    std::fs::write(bucket_root.join("incoming/new.png"), png([250, 0, 0])).unwrap();
    let stack = LocalStack::with_predictor(&home, &StackOptions::default(), Arc::new(RedPredictor))
        .unwrap();
    let backend =
        Arc::new(LocalBackend::with_stack(&home, stack.clone(), Threshold::DEFAULT).unwrap());
    let keys = ["test/red.png", "test/grey.png", "incoming/new.png"].map(str::to_owned);
    run::run_to_end(Arc::clone(&backend), Keys::Given(keys.to_vec()), 3)
        .await
        .unwrap();
    stack.flush().await.unwrap();

    let listed = backend.executions_since(None, 100).await.unwrap().changed;
    let by_key = |k: &str| {
        listed
            .iter()
            .find(|e| e.s3_key.as_deref() == Some(k))
            .unwrap()
    };
    let red = by_key("test/red.png");
    assert_eq!(
        (red.scores, red.label),
        (Some([1.0, 0.0]), Some(Class::Bicycle))
    );
    assert_eq!(red.correct(), Some(true));
    let grey = by_key("test/grey.png");
    assert_eq!(grey.label, Some(Class::Motorcycle));
    assert_eq!(grey.correct(), Some(false), "grey leans bicycle: {grey:?}");
    let new = by_key("incoming/new.png");
    assert!(new.scores.is_some());
    assert_eq!(
        new.label, None,
        "outside the test split: unlabelled, never guessed"
    );

    let range = TimeRange::ending_at(chrono::Utc::now(), Duration::from_secs(3600));
    let low = backend.low_confidence(range, 10).await.unwrap();
    assert_eq!(low.failures.len(), 1);
    assert_eq!(low.failures[0].label, Some(Class::Motorcycle));
    assert_eq!(low.failures[0].would_be_right(), Some(false));

    // A changed test.lst is read again.
    let lst = bucket_root.join("test.lst");
    let text = std::fs::read_to_string(&lst).unwrap();
    let relabelled: String = text
        .lines()
        .map(|line| {
            let mut fields: Vec<&str> = line.split('\t').collect();
            if fields.get(2) == Some(&"red.png") {
                fields[1] = "1";
            }
            fields.join("\t") + "\n"
        })
        .collect();
    std::fs::write(&lst, relabelled).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&lst)
        .unwrap()
        .set_modified(std::time::SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    let listed = backend.executions_since(None, 100).await.unwrap().changed;
    let red = listed
        .iter()
        .find(|e| e.s3_key.as_deref() == Some("test/red.png"))
        .unwrap();
    assert_eq!(red.label, Some(Class::Motorcycle));

    assert_eq!(
        backend.image("test/red.png".into()).await.unwrap(),
        png([255, 0, 0])
    );
    let missing = backend.image("test/missing.png".into()).await.unwrap_err();
    assert_eq!(
        missing,
        BackendError::ObjectNotFound("s3://scones-local/test/missing.png".into())
    );
}

/// The dashboard lists an execution as soon as its row exists, while the store's writer still
/// holds its first events (up to 200 ms): asking for its history then is "no events yet",
/// never "not found". Only an execution with no row is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_execution_is_never_called_missing() {
    use scones_workflow::port::{Backend, BackendError, ExecutionId};
    let tmp = tempfile::tempdir().unwrap();
    let home = home_with_images(tmp.path());
    let stack = LocalStack::with_predictor(&home, &StackOptions::default(), Arc::new(RedPredictor))
        .unwrap();
    let backend = LocalBackend::with_stack(&home, stack.clone(), Threshold::DEFAULT).unwrap();
    for _ in 0..5 {
        let id = backend
            .start_execution("test/red.png".to_owned())
            .await
            .unwrap();
        // At once, before the writer has stored anything: readable, never "not found".
        let history = backend.history(id.clone()).await;
        assert!(history.is_ok(), "{history:?}");
    }
    // Listed: the dashboard shows it, and its history (however short) reads.
    let listed = backend.executions_since(None, 100).await.unwrap().changed;
    assert_eq!(listed.len(), 5);
    for e in listed {
        assert!(backend.history(e.id).await.is_ok());
    }
    let missing = backend
        .history(ExecutionId::new(
            "arn:aws:states:local:0:execution:scones:nope",
        ))
        .await;
    assert!(
        matches!(missing, Err(BackendError::NotFound(_))),
        "{missing:?}"
    );
    stack.flush().await.unwrap();
}
