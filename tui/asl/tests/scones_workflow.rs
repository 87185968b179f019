//! The one scones definition (terraform/workflow/scones.asl.json), rendered with local
//! function names and run against in-process fakes of the three Lambdas: the success path,
//! the `LowConfidence` failure a user sees on AWS, and a transient Lambda service error
//! absorbed by the definition's retry block.

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::BoxFuture;
use serde_json::{Value, json};

use scones_asl::{
    Engine, ExecutionSpec, ExecutionStatus, HistoryEvent, InvokeError, InvokeRequest,
    LambdaRegistry, Outcome, StateMachine, VecSink, VirtualClock, render_template,
};

type Reply = BoxFuture<'static, Result<Vec<u8>, InvokeError>>;

use scones_workflow::definition::DEFINITION;
const THRESHOLD: f64 = 0.93;

fn scones_machine() -> StateMachine {
    let vars = scones_workflow::definition::variables("aws", str::to_owned);
    let text = render_template(DEFINITION, &vars).expect("the definition renders");
    StateMachine::parse(&text).unwrap_or_else(|e| panic!("{e}"))
}

fn event(payload: &[u8]) -> Value {
    serde_json::from_slice(payload).unwrap_or(Value::Null)
}

/// Fakes with the contract's behaviour: serialize adds `image_data`, classify adds
/// `inferences`, filter passes the record through or raises `LowConfidence`.
fn registry(
    scores: [f64; 2],
    classify_service_failures: usize,
) -> (LambdaRegistry, Arc<AtomicUsize>) {
    let mut r = LambdaRegistry::new();
    r.register(
        "serialize-image-data",
        Arc::new(|req: InvokeRequest| -> Reply {
            let mut record = event(&req.payload);
            record["image_data"] = json!("iVBORw0KGgo=");
            Box::pin(async move { Ok(record.to_string().into_bytes()) })
        }),
    );
    let classify_calls = Arc::new(AtomicUsize::new(0));
    let calls = classify_calls.clone();
    r.register(
        "classify-image",
        Arc::new(move |req: InvokeRequest| -> Reply {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            let mut record = event(&req.payload);
            record["inferences"] = json!(scores);
            Box::pin(async move {
                if n < classify_service_failures {
                    return Err(InvokeError::Service {
                        code: "ServiceException".into(),
                        message: "Lambda was unable to run the function".into(),
                        status: 500,
                    });
                }
                Ok(record.to_string().into_bytes())
            })
        }),
    );
    r.register(
        "filter-low-confidence",
        Arc::new(|req: InvokeRequest| -> Reply {
            let record = event(&req.payload);
            let best = record["inferences"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_f64).fold(0.0, f64::max))
                .unwrap_or(0.0);
            Box::pin(async move {
                if best >= THRESHOLD {
                    Ok(record.to_string().into_bytes())
                } else {
                    Err(InvokeError::function(
                        "LowConfidence",
                        format!("max(inferences) {best} is below the threshold {THRESHOLD}"),
                    ))
                }
            })
        }),
    );
    (r, classify_calls)
}

async fn run(scores: [f64; 2], failures: usize) -> (Outcome, Vec<HistoryEvent>, usize) {
    let (registry, classify_calls) = registry(scores, failures);
    let clock = Arc::new(VirtualClock::starting_at(chrono::Utc::now()));
    let engine = Engine::new(registry, clock);
    let sink = Arc::new(VecSink::new());
    let input = json!({"s3_bucket": "scones-local", "s3_key": "test/bicycle_s_000513.png"});
    let outcome = engine
        .execute(
            &scones_machine(),
            ExecutionSpec::local("scones", "exec-1", input),
            sink.clone(),
        )
        .await;
    (
        outcome,
        sink.events(),
        classify_calls.load(Ordering::SeqCst),
    )
}

fn types(events: &[HistoryEvent]) -> Vec<String> {
    events.iter().map(|e| e.event_type().to_owned()).collect()
}

#[tokio::test(start_paused = true)]
async fn a_confident_image_succeeds_with_the_full_record() {
    let (o, events, _) = run([0.97, 0.03], 0).await;
    assert_eq!(o.status, ExecutionStatus::Succeeded, "{o:?}");
    assert_eq!(
        o.output,
        Some(json!({
            "s3_bucket": "scones-local",
            "s3_key": "test/bicycle_s_000513.png",
            "image_data": "iVBORw0KGgo=",
            "inferences": [0.97, 0.03]
        }))
    );
    let task = [
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
    ];
    let mut expected = vec!["ExecutionStarted".to_owned()];
    for _ in 0..3 {
        expected.extend(task.iter().map(|s| (*s).to_owned()));
    }
    expected.push("ExecutionSucceeded".into());
    assert_eq!(types(&events), expected);
    // The state names a user sees, in order.
    let entered: Vec<String> = events
        .iter()
        .map(HistoryEvent::to_aws_json)
        .filter(|e| e["type"] == "TaskStateEntered")
        .map(|e| {
            e["stateEnteredEventDetails"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        entered,
        ["SerializeImageData", "ClassifyImage", "FilterLowConfidence"]
    );
    // TaskScheduled carries the rendered local function name and the task timeout.
    let scheduled = events[2].to_aws_json();
    let params: Value = serde_json::from_str(
        scheduled["taskScheduledEventDetails"]["parameters"]
            .as_str()
            .expect("parameters string"),
    )
    .expect("parameters JSON");
    assert_eq!(params["FunctionName"], "serialize-image-data");
    assert_eq!(
        scheduled["taskScheduledEventDetails"]["timeoutInSeconds"],
        30
    );
}

#[tokio::test(start_paused = true)]
async fn low_confidence_fails_the_execution_with_that_error() {
    let (o, events, _) = run([0.6, 0.4], 0).await;
    assert_eq!(o.status, ExecutionStatus::Failed);
    assert_eq!(o.error.as_deref(), Some("LowConfidence"));
    let cause: Value = serde_json::from_str(o.cause.as_deref().expect("cause"))
        .expect("cause is the error document");
    assert_eq!(cause["errorType"], "LowConfidence");
    assert!(
        cause["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("0.6") && m.contains("0.93"))
    );

    let json: Vec<Value> = events.iter().map(HistoryEvent::to_aws_json).collect();
    let task_failed = json
        .iter()
        .find(|e| e["type"] == "TaskFailed")
        .expect("TaskFailed");
    assert_eq!(
        task_failed["taskFailedEventDetails"]["error"],
        "LowConfidence"
    );
    assert_eq!(task_failed["taskFailedEventDetails"]["resource"], "invoke");
    let failed = json.last().expect("events");
    assert_eq!(failed["type"], "ExecutionFailed");
    assert_eq!(
        failed["executionFailedEventDetails"]["error"],
        "LowConfidence"
    );
    assert_eq!(
        failed["executionFailedEventDetails"]["cause"],
        task_failed["taskFailedEventDetails"]["cause"]
    );
    // LowConfidence is not in the retry list: exactly one filter attempt.
    assert_eq!(
        types(&events).iter().filter(|t| *t == "TaskFailed").count(),
        1
    );
    // The failing state is the filter, and it never exited.
    assert_eq!(failed["previousEventId"], task_failed["id"]);
}

#[tokio::test(start_paused = true)]
async fn a_transient_lambda_service_error_is_retried() {
    let (o, events, classify_calls) = run([0.05, 0.95], 2).await;
    assert_eq!(o.status, ExecutionStatus::Succeeded, "{o:?}");
    assert_eq!(classify_calls, 3);
    let failures: Vec<Value> = events
        .iter()
        .map(HistoryEvent::to_aws_json)
        .filter(|e| e["type"] == "TaskFailed")
        .collect();
    assert_eq!(failures.len(), 2);
    assert_eq!(
        failures[0]["taskFailedEventDetails"]["error"],
        "Lambda.ServiceException"
    );
    // Full jitter: each wait is at most IntervalSeconds * BackoffRate^n (1 s, then 2 s).
    assert!((o.stop_date - o.start_date).num_milliseconds() <= 3_000);
}

#[test]
fn the_definition_needs_all_three_function_names() {
    let mut vars = scones_workflow::definition::variables("aws", str::to_owned);
    vars.remove("filter_low_confidence_function");
    let err = render_template(DEFINITION, &vars).unwrap_err();
    assert!(
        err.to_string().contains("filter_low_confidence_function"),
        "{err}"
    );
}

/// Every Lambda task retries the transient Lambda service errors the Step Functions guide
/// lists ("Handle Lambda service exceptions": ClientExecutionTimeoutException,
/// ServiceException, AWSLambdaException, SdkClientException), and Lambda's throttling.
#[test]
fn every_lambda_task_retries_the_documented_transient_errors() {
    let vars = scones_workflow::definition::variables("aws", str::to_owned);
    let text = render_template(DEFINITION, &vars).expect("the definition renders");
    let definition: Value = serde_json::from_str(&text).expect("JSON");
    let states = definition["States"].as_object().expect("states");
    let mut tasks = 0;
    for (name, state) in states {
        if state["Type"] != "Task" {
            continue;
        }
        tasks += 1;
        let retried: Vec<&str> = state["Retry"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["ErrorEquals"].as_array().into_iter().flatten())
            .filter_map(Value::as_str)
            .collect();
        for error in [
            "Lambda.ClientExecutionTimeoutException",
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
        ] {
            assert!(
                retried.contains(&error),
                "{name} does not retry {error}: {retried:?}"
            );
        }
    }
    assert_eq!(tasks, 3, "{states:?}");
}
