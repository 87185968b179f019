//! End to end: the one scones definition, rendered with local names, executed by the
//! engine with the lambdas crate's real handlers behind in-memory fakes (object store and
//! endpoint). Produces the SUCCEEDED and FAILED/LowConfidence histories a user would see
//! on AWS.

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{Value, json};

use scones_asl::{
    Engine, ExecutionSpec, ExecutionStatus, HistoryEvent, InvokeError, InvokeRequest,
    LambdaRegistry, Outcome, StateMachine, VecSink, VirtualClock, render_template,
};
use scones_handlers::fakes::{MemoryStore, StaticEndpoint, png};
use scones_handlers::{
    FilterPolicy, HandlerError, ImageRecord, classify_image, filter_low_confidence,
    serialize_image_data,
};
use scones_workflow::Threshold;

type Reply = BoxFuture<'static, Result<Vec<u8>, InvokeError>>;

const BUCKET: &str = "scones-local";
const KEY: &str = "test/bicycle_s_000513.png";

fn machine() -> StateMachine {
    let vars = scones_workflow::definition::variables("aws", str::to_owned);
    let text = render_template(scones_workflow::definition::DEFINITION, &vars).expect("renders");
    StateMachine::parse(&text).unwrap_or_else(|e| panic!("{e}"))
}

/// What a Lambda runtime does with a handler result: the record as the payload, or the
/// handler error as a function error named after it.
fn reply(result: Result<ImageRecord, HandlerError>) -> Result<Vec<u8>, InvokeError> {
    match result {
        Ok(record) => Ok(record.to_value().to_string().into_bytes()),
        Err(e) => Err(InvokeError::function(e.name(), e.to_string())),
    }
}

fn payload(r: &InvokeRequest) -> Value {
    serde_json::from_slice(&r.payload).unwrap_or(Value::Null)
}

fn registry(store: MemoryStore, endpoint: StaticEndpoint, threshold: f64) -> LambdaRegistry {
    let store = Arc::new(store);
    let endpoint = Arc::new(endpoint);
    let threshold = Threshold::new(threshold).expect("valid threshold");
    let mut r = LambdaRegistry::new();
    r.register(
        "serialize-image-data",
        Arc::new(move |req: InvokeRequest| -> Reply {
            let store = store.clone();
            let event = payload(&req);
            Box::pin(async move { reply(serialize_image_data(&*store, event).await) })
        }),
    );
    r.register(
        "classify-image",
        Arc::new(move |req: InvokeRequest| -> Reply {
            let endpoint = endpoint.clone();
            let event = payload(&req);
            Box::pin(async move { reply(classify_image(&*endpoint, event).await) })
        }),
    );
    r.register(
        "filter-low-confidence",
        Arc::new(move |req: InvokeRequest| -> Reply {
            let event = payload(&req);
            let policy = FilterPolicy::threshold(threshold);
            Box::pin(async move { reply(filter_low_confidence(&policy, event).map(|a| a.record)) })
        }),
    );
    r
}

async fn run(store: MemoryStore, endpoint: StaticEndpoint) -> (Outcome, Vec<Value>) {
    let engine = Engine::new(
        registry(store, endpoint, 0.93),
        Arc::new(VirtualClock::starting_at(chrono::Utc::now())),
    );
    let sink = Arc::new(VecSink::new());
    let input = json!({"s3_bucket": BUCKET, "s3_key": KEY});
    let outcome = engine
        .execute(
            &machine(),
            ExecutionSpec::local("scones", "exec-1", input),
            sink.clone(),
        )
        .await;
    let history = sink
        .events()
        .iter()
        .map(HistoryEvent::to_aws_json)
        .collect();
    (outcome, history)
}

fn types(history: &[Value]) -> Vec<&str> {
    history.iter().filter_map(|e| e["type"].as_str()).collect()
}

#[tokio::test(start_paused = true)]
async fn a_confident_bicycle_succeeds() {
    let store = MemoryStore::new().with(BUCKET, KEY, png(32, 32, [200, 30, 30]));
    let (o, history) = run(store, StaticEndpoint::scores(0.97, 0.03)).await;
    assert_eq!(o.status, ExecutionStatus::Succeeded, "{o:?}\n{history:#?}");
    let out = o.output.expect("output");
    assert_eq!(out["s3_bucket"], BUCKET);
    assert_eq!(out["s3_key"], KEY);
    assert_eq!(out["inferences"], json!([0.97, 0.03]));
    assert!(
        out["image_data"]
            .as_str()
            .is_some_and(|d| d.starts_with("iVBOR")),
        "base64 PNG"
    );
    assert_eq!(types(&history).last(), Some(&"ExecutionSucceeded"));
    assert_eq!(
        types(&history)
            .iter()
            .filter(|t| **t == "TaskSucceeded")
            .count(),
        3
    );
}

#[tokio::test(start_paused = true)]
async fn an_unsure_image_fails_with_low_confidence() {
    let store = MemoryStore::new().with(BUCKET, KEY, png(32, 32, [90, 90, 90]));
    let (o, history) = run(store, StaticEndpoint::scores(0.55, 0.45)).await;
    assert_eq!(o.status, ExecutionStatus::Failed);
    assert_eq!(o.error.as_deref(), Some("LowConfidence"));
    let failed = history.last().expect("history");
    assert_eq!(failed["type"], "ExecutionFailed");
    assert_eq!(
        failed["executionFailedEventDetails"]["error"],
        "LowConfidence"
    );
    let task_failed = history
        .iter()
        .find(|e| e["type"] == "TaskFailed")
        .expect("TaskFailed");
    assert_eq!(
        task_failed["taskFailedEventDetails"]["error"],
        "LowConfidence"
    );
    let cause: Value = serde_json::from_str(
        task_failed["taskFailedEventDetails"]["cause"]
            .as_str()
            .expect("cause"),
    )
    .expect("the cause is the Lambda error document");
    assert_eq!(cause["errorType"], "LowConfidence");
    let message = cause["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains("0.93"),
        "threshold in the cause: {message}"
    );
    // The filter is the state that failed.
    let entered: Vec<&str> = history
        .iter()
        .filter(|e| e["type"] == "TaskStateEntered")
        .filter_map(|e| e["stateEnteredEventDetails"]["name"].as_str())
        .collect();
    assert_eq!(
        entered,
        ["SerializeImageData", "ClassifyImage", "FilterLowConfidence"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_missing_object_fails_in_the_first_state_with_its_typed_error() {
    let (o, history) = run(MemoryStore::new(), StaticEndpoint::scores(0.97, 0.03)).await;
    assert_eq!(o.status, ExecutionStatus::Failed);
    assert_eq!(o.error.as_deref(), Some("ObjectNotFound"));
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
}
