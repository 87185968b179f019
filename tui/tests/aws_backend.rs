//! The dashboard's AWS backend over the wire, against the moto wrapper that
//! scripts/with-moto.sh starts (scripts/test.sh's `aws` suite): every resource is created
//! with the SDK, every answer comes back through the real clients, and the call counter is
//! checked so that "incremental" and "cached" mean fewer requests, not just equal results.

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

mod support;

use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use chrono::{DateTime, Utc};
use scones::dashboard::panels::executions::state_runs::{StateStatus, state_runs};
use scones_aws::{
    AwsBackend, AwsOptions, Discovery, ResourceOverrides, ResourceSource, RetryPolicy,
};
use scones_handlers::ImageRecord;
use scones_workflow::ExecutionStatus;
use scones_workflow::cause::StopReason;
use scones_workflow::port::{
    Backend, BackendError, BackendKind, Cursor, ExecutionId, ExecutionSummary, LogLevel,
    RecordLink, TimeRange,
};
use serde_json::json;

use support::aws::{Stack, TEST_KEYS};

/// Backoff short enough for the tests, same strategy as production.
fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(400),
    }
}

fn options() -> AwsOptions {
    AwsOptions {
        retry: fast_retry(),
        ..AwsOptions::default()
    }
}

fn backend(stack: &Stack, options: AwsOptions) -> AwsBackend {
    AwsBackend::new(
        &stack.config,
        &support::aws::target(),
        stack.resources(),
        ResourceSource::Flags,
        options,
    )
}

/// A read-only backend over `stack` (the dashboard's `--readonly`).
fn readonly_backend(stack: &Stack) -> AwsBackend {
    backend(
        stack,
        AwsOptions {
            readonly: true,
            ..options()
        },
    )
}

/// Refreshes until the lister has nothing more queued; returns every row seen.
async fn refresh_all(
    backend: &AwsBackend,
    cursor: Option<Cursor>,
) -> (Vec<ExecutionSummary>, Cursor) {
    let mut rows = Vec::new();
    let mut cursor = cursor;
    for _ in 0..20 {
        let delta = backend.executions_since(cursor.clone(), 100).await.unwrap();
        rows.extend(delta.changed);
        cursor = Some(delta.cursor);
        if !delta.more {
            break;
        }
    }
    (rows, cursor.unwrap())
}

fn row<'a>(rows: &'a [ExecutionSummary], arn: &str) -> &'a ExecutionSummary {
    rows.iter()
        .rev()
        .find(|r| r.id.as_str() == arn)
        .unwrap_or_else(|| panic!("{arn} not among {rows:#?}"))
}

#[tokio::test]
async fn executions_are_listed_incrementally_and_finished_histories_cached() {
    let stack = Stack::create("incr").await;
    stack.fail_low_confidence("motorcycle_s_000002", [0.6, 0.4]);
    let ok = stack.start(TEST_KEYS[0]).await;
    let low = stack.start(TEST_KEYS[1]).await;
    assert_eq!(stack.wait_final(&ok).await, "SUCCEEDED");
    assert_eq!(stack.wait_final(&low).await, "FAILED");

    let backend = backend(&stack, options());
    let info = backend.info();
    assert_eq!(
        info.kind,
        BackendKind::Aws {
            profile: None,
            credentials: support::aws::target().credentials_source(),
            region: "us-east-1".into()
        }
    );
    assert_eq!(info.state_machine, format!("scones-{}", stack.id));
    assert_eq!(info.threshold, 0.93);

    // First refresh: both, described once each (key, error and cause).
    let (rows, cursor) = refresh_all(&backend, None).await;
    let first = backend.calls();
    assert_eq!(rows.len(), 2, "{rows:#?}");
    let ok_row = row(&rows, &ok);
    assert_eq!(ok_row.status, ExecutionStatus::Succeeded);
    assert_eq!(ok_row.s3_key.as_deref(), Some(TEST_KEYS[0]));
    assert!(ok_row.stop.is_some() && ok_row.error.is_none());
    let low_row = row(&rows, &low);
    assert_eq!(low_row.status, ExecutionStatus::Failed);
    assert_eq!(low_row.s3_key.as_deref(), Some(TEST_KEYS[1]));
    assert_eq!(low_row.error.as_deref(), Some("LowConfidence"));
    assert!(
        low_row
            .cause
            .as_deref()
            .is_some_and(|c| c.contains("p_bicycle=0.6000")),
        "{low_row:?}"
    );
    assert_eq!(first.of("SFN.DescribeExecution"), 2, "{first:?}");

    // Steady state: nothing changed, one ListExecutions and nothing else.
    let before = backend.calls();
    let delta = backend
        .executions_since(Some(cursor.clone()), 100)
        .await
        .unwrap();
    let steady = backend.calls().since(&before);
    println!(
        "AWS calls per executions refresh at steady state: {} ({:?})",
        steady.attempts, steady.by_operation
    );
    assert!(delta.changed.is_empty(), "{:?}", delta.changed);
    assert!(!delta.more);
    assert_eq!(steady.attempts, 1, "{steady:?}");
    assert_eq!(steady.of("SFN.ListExecutions"), 1);

    // A new execution: only it comes back, described once.
    let third = stack.start(TEST_KEYS[2]).await;
    assert_eq!(stack.wait_final(&third).await, "SUCCEEDED");
    let before = backend.calls();
    let (rows, _) = refresh_all(&backend, Some(delta.cursor)).await;
    let spent = backend.calls().since(&before);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0].id.as_str(), third);
    assert_eq!(rows[0].s3_key.as_deref(), Some(TEST_KEYS[2]));
    assert_eq!(spent.of("SFN.DescribeExecution"), 1, "{spent:?}");
    assert_eq!(spent.of("SFN.ListExecutions"), 1, "{spent:?}");

    // The failed execution's history: parsed into state runs, fetched once, then cached.
    let before = backend.calls();
    let events = backend
        .history(ExecutionId::new(low.clone()))
        .await
        .unwrap();
    let again = backend
        .history(ExecutionId::new(low.clone()))
        .await
        .unwrap();
    let spent = backend.calls().since(&before);
    assert_eq!(events, again);
    assert_eq!(spent.of("SFN.GetExecutionHistory"), 1, "{spent:?}");
    assert_eq!(
        events.first().map(|e| e.event_type()),
        Some("ExecutionStarted")
    );
    assert_eq!(
        events.last().map(|e| e.event_type()),
        Some("ExecutionFailed")
    );
    let runs = state_runs(&events);
    let names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["SerializeImageData", "ClassifyImage", "FilterLowConfidence"]
    );
    assert_eq!(runs[0].status, StateStatus::Succeeded);
    assert_eq!(runs[1].status, StateStatus::Succeeded);
    assert!(
        runs[1]
            .output
            .as_deref()
            .is_some_and(|o| o.contains("0.97")),
        "ClassifyImage output: {:?}",
        runs[1].output
    );
    assert_eq!(runs[2].status, StateStatus::Failed);
    assert_eq!(runs[2].error.as_deref(), Some("LowConfidence"));
    assert_eq!(runs[2].attempts, 1);

    // An unknown execution is NotFound, not a crash.
    let missing = format!("{}:nope", ok.rsplit_once(':').unwrap().0);
    let err = backend
        .history(ExecutionId::new(missing.clone()))
        .await
        .unwrap_err();
    assert_eq!(err, BackendError::NotFound(missing));

    // The console link names the region and the execution.
    let RecordLink::Url(url) = backend.record_link(&ExecutionId::new(ok.clone())) else {
        panic!("AWS links are URLs");
    };
    assert!(
        url.contains("us-east-1") && url.contains(&stack.id),
        "{url}"
    );
}

/// Ground truth over the wire: the listing's scores come from the executions' outputs and
/// causes, labels from the bucket's `test.lst` (an image it does not name is unlabelled);
/// the low-confidence report carries the label too; images are read with GetObject.
#[tokio::test]
async fn labels_scores_and_images_come_from_the_bucket() {
    use scones_workflow::class::Class;
    let stack = Stack::create("truth").await;
    support::aws::put_object(
        &stack.s3,
        &stack.bucket,
        "test.lst",
        b"0\t0\tbicycle_s_000001.png\n1\t1\tmotorcycle_s_000002.png\n".to_vec(),
    )
    .await;
    stack.fail_low_confidence("motorcycle_s_000002", [0.6, 0.4]);
    let mut arns = Vec::new();
    for key in TEST_KEYS {
        arns.push(stack.start(key).await);
    }
    for arn in &arns {
        stack.wait_final(arn).await;
    }
    let backend = backend(&stack, options());
    let (rows, _) = refresh_all(&backend, None).await;
    let [right, rejected, unlabelled] = [0, 1, 2].map(|i| row(&rows, &arns[i]).clone());
    assert_eq!(right.scores, Some(support::aws::SCORES), "{right:?}");
    assert_eq!(right.label, Some(Class::Bicycle));
    assert_eq!(right.correct(), Some(true));
    assert_eq!(rejected.scores, Some([0.6, 0.4]), "{rejected:?}");
    assert_eq!(rejected.label, Some(Class::Motorcycle));
    assert_eq!(rejected.correct(), Some(false));
    assert!(unlabelled.scores.is_some());
    assert_eq!(
        unlabelled.label, None,
        "not in test.lst: never guessed from the name"
    );
    // test.lst is read once per TTL, not per refresh.
    let before = backend.calls();
    backend.executions_since(None, 100).await.unwrap();
    assert_eq!(backend.calls().since(&before).of("S3.GetObject"), 0);

    let now = Utc::now();
    put_lines(
        &stack,
        &stack.filter_log_group,
        &[(
            now - chrono::Duration::seconds(5),
            json!({"level": "INFO", "decision": "low_confidence", "s3_key": TEST_KEYS[1],
                   "threshold": 0.93, "p_bicycle": 0.6, "p_motorcycle": 0.4})
            .to_string(),
        )],
    )
    .await;
    let range = TimeRange {
        start: now - chrono::Duration::seconds(600),
        end: now + chrono::Duration::seconds(1),
    };
    let report = backend.low_confidence(range, 10).await.unwrap();
    assert_eq!(report.failures.len(), 1, "{report:?}");
    assert_eq!(report.failures[0].label, Some(Class::Motorcycle));
    assert_eq!(report.failures[0].would_be_right(), Some(false));

    assert_eq!(
        backend.image(TEST_KEYS[0].to_owned()).await.unwrap(),
        b"\x89PNG placeholder".to_vec()
    );
    assert_eq!(
        backend.image("test/nope.png".to_owned()).await.unwrap_err(),
        BackendError::ObjectNotFound(format!("s3://{}/test/nope.png", stack.bucket))
    );
}

#[tokio::test]
async fn a_running_execution_is_followed_and_stopped() {
    let stack = Stack::create("stop").await;
    // SerializeImageData takes 2 s on this image: long enough to be seen RUNNING.
    stack.program(
        0,
        json!({"match": "bicycle_s_000001", "delay_seconds": 2.0}),
    );
    let backend = backend(&stack, options());
    let (rows, cursor) = refresh_all(&backend, None).await;
    assert!(rows.is_empty());

    let slow = stack.start(TEST_KEYS[0]).await;
    let (rows, cursor) = refresh_all(&backend, Some(cursor)).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, ExecutionStatus::Running);
    assert_eq!(rows[0].s3_key.as_deref(), Some(TEST_KEYS[0]));

    // A running history is not final: it is fetched again each time.
    let before = backend.calls();
    let h1 = backend
        .history(ExecutionId::new(slow.clone()))
        .await
        .unwrap();
    backend
        .history(ExecutionId::new(slow.clone()))
        .await
        .unwrap();
    assert_eq!(
        backend.calls().since(&before).of("SFN.GetExecutionHistory"),
        2
    );
    assert_eq!(h1.first().map(|e| e.event_type()), Some("ExecutionStarted"));

    backend
        .stop(ExecutionId::new(slow.clone()), StopReason::DASHBOARD)
        .await
        .unwrap();
    // moto ends the execution once its current task returns; refreshes pick the change up
    // through the running check, without re-listing everything.
    let mut cursor = cursor;
    let mut status = ExecutionStatus::Running;
    for _ in 0..60 {
        let delta = backend.executions_since(Some(cursor), 100).await.unwrap();
        cursor = delta.cursor;
        if let Some(r) = delta.changed.iter().find(|r| r.id.as_str() == slow) {
            status = r.status;
            if status.is_final() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(status, ExecutionStatus::Aborted);
    let events = backend
        .history(ExecutionId::new(slow.clone()))
        .await
        .unwrap();
    assert_eq!(
        events.last().map(|e| e.event_type()),
        Some("ExecutionAborted")
    );

    // Stopping what does not exist is NotFound; a read-only backend refuses to stop.
    let missing = format!("{}:nope", slow.rsplit_once(':').unwrap().0);
    assert_eq!(
        backend
            .stop(ExecutionId::new(missing.clone()), StopReason::DASHBOARD)
            .await
            .unwrap_err(),
        BackendError::NotFound(missing)
    );
    let readonly = readonly_backend(&stack);
    let err = readonly
        .stop(ExecutionId::new(slow.clone()), StopReason::DASHBOARD)
        .await
        .unwrap_err();
    assert_eq!(err.name(), "NotReady");
    assert_eq!(readonly.calls().attempts, 0);
}

#[tokio::test]
async fn start_random_starts_executions_on_test_keys() {
    let stack = Stack::create("start").await;
    let backend = backend(&stack, options());
    let ids = backend.start_random(3).await.unwrap();
    assert_eq!(ids.len(), 3);
    let started = stack.executions().await;
    assert_eq!(started.len(), 3);
    for id in &ids {
        let input = &started[id.as_str()];
        assert_eq!(input["s3_bucket"], json!(stack.bucket), "{input}");
        let key = input["s3_key"].as_str().unwrap();
        assert!(TEST_KEYS.contains(&key), "{key}");
        // The input is the documented execution input: the bucket and the key, nothing else.
        assert_eq!(*input, ImageRecord::execution_input(&stack.bucket, key));
        assert_eq!(stack.wait_final(id.as_str()).await, "SUCCEEDED");
    }
    // The test keys were listed once and are reused.
    let before = backend.calls();
    assert_eq!(backend.start_random(2).await.unwrap().len(), 2);
    let spent = backend.calls().since(&before);
    assert_eq!(spent.of("S3.ListObjectsV2"), 0, "{spent:?}");
    // ... after one HeadObject says a key it names is still there.
    assert_eq!(spent.of("S3.HeadObject"), 1, "{spent:?}");
    assert_eq!(spent.of("SFN.StartExecution"), 2, "{spent:?}");

    // The stack re-created under the same names (here: its test images gone): the cached
    // keys are not used for an execution that would fail on a missing object; the images are
    // listed again, and there are none.
    stack.delete_test_images().await;
    let before = backend.calls();
    let err = backend.start_random(1).await.unwrap_err();
    assert_eq!(err.name(), "NotReady", "{err}");
    let spent = backend.calls().since(&before);
    assert_eq!(spent.of("SFN.StartExecution"), 0, "{spent:?}");
    assert!(spent.of("S3.ListObjectsV2") >= 1, "{spent:?}");

    // Read-only: refused before any request.
    let readonly = readonly_backend(&stack);
    assert_eq!(
        readonly.start_random(1).await.unwrap_err().name(),
        "NotReady"
    );
    assert_eq!(readonly.calls().attempts, 0);
}

/// A listing of the test images that fails says what it cost: no test execution started.
#[tokio::test]
async fn a_failed_listing_of_test_images_says_no_test_execution_started() {
    let stack = Stack::create("listfail").await;
    let backend = backend(&stack, options());
    support::aws::control(
        "/scones-api/faults",
        // Enough for every retry; matched by this stack's bucket only.
        json!({"operation": "ListObjectsV2", "match": stack.bucket, "count": 20,
               "code": "InternalError", "status": 500}),
    );
    let err = backend.start_random(1).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("no test execution was started: listing the test images in s3://")
            && text.contains("ListObjectsV2"),
        "{text}"
    );
    assert_eq!(backend.calls().of("SFN.StartExecution"), 0);
}

#[tokio::test]
async fn an_empty_test_split_is_not_ready_and_test_lst_is_the_fallback() {
    let stack = Stack::create("empty").await;
    stack.delete_test_images().await;
    let backend = backend(&stack, options());
    let err = backend.start_random(1).await.unwrap_err();
    assert_eq!(err.name(), "NotReady", "{err}");
    assert!(err.to_string().contains("scones stage --aws"), "{err}");

    // test.lst names the images when test/ cannot be listed empty-handed.
    support::aws::put_object(
        &stack.s3,
        &stack.bucket,
        "test.lst",
        b"0\t1\tmotorcycle_s_000777.png\n".to_vec(),
    )
    .await;
    let fresh = self::backend(&stack, options());
    let ids = fresh.start_random(1).await.unwrap();
    let started = stack.executions().await;
    assert_eq!(
        started[ids[0].as_str()]["s3_key"],
        json!("test/motorcycle_s_000777.png")
    );
}

#[tokio::test]
async fn metrics_put_with_put_metric_data_are_read_back() {
    let stack = Stack::create("metrics").await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&stack.config);
    let now = Utc::now();
    // Two minutes of data, aligned to whole minutes so the buckets are known.
    let minute = |m: i64| DateTime::from_timestamp((now.timestamp() / 60 - m) * 60 + 5, 0).unwrap();
    let dims = || {
        vec![
            Dimension::builder()
                .name("EndpointName")
                .value(&stack.endpoint_name)
                .build(),
            Dimension::builder()
                .name("VariantName")
                .value("AllTraffic")
                .build(),
        ]
    };
    let datum = |name: &str, at: DateTime<Utc>, value: f64, unit: StandardUnit| {
        MetricDatum::builder()
            .metric_name(name)
            .set_dimensions(Some(dims()))
            .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                at.timestamp(),
            ))
            .value(value)
            .unit(unit)
            .build()
    };
    let data = vec![
        datum("Invocations", minute(2), 3.0, StandardUnit::Count),
        datum("Invocations", minute(2), 4.0, StandardUnit::Count),
        datum("Invocations", minute(1), 5.0, StandardUnit::Count),
        datum(
            "ModelLatency",
            minute(2),
            2000.0,
            StandardUnit::Microseconds,
        ),
        datum(
            "ModelLatency",
            minute(2),
            4000.0,
            StandardUnit::Microseconds,
        ),
        datum(
            "ModelLatency",
            minute(1),
            1500.0,
            StandardUnit::Microseconds,
        ),
        datum("Invocation4XXErrors", minute(1), 1.0, StandardUnit::Count),
        datum("Invocation5XXErrors", minute(1), 2.0, StandardUnit::Count),
    ];
    cloudwatch
        .put_metric_data()
        .namespace("AWS/SageMaker")
        .set_metric_data(Some(data))
        .send()
        .await
        .unwrap();

    let backend = backend(&stack, options());
    let range = TimeRange {
        start: minute(3) - chrono::Duration::seconds(5),
        end: minute(0) - chrono::Duration::seconds(5),
    };
    let before = backend.calls();
    let m = backend
        .metrics(range, Duration::from_secs(60))
        .await
        .unwrap();
    let spent = backend.calls().since(&before);
    assert_eq!(spent.of("CloudWatch.GetMetricData"), 1, "{spent:?}");
    assert_eq!(spent.attempts, 1);
    assert_eq!(m.period, Duration::from_secs(60));
    assert_eq!(m.invocations, vec![0.0, 7.0, 5.0], "{m:?}");
    assert_eq!(m.latency_ms, vec![None, Some(3.0), Some(1.5)], "{m:?}");
    assert_eq!(m.latency_max_ms, vec![None, Some(4.0), Some(1.5)], "{m:?}");
    assert_eq!(m.errors, vec![0.0, 0.0, 3.0], "{m:?}");

    // Another endpoint's metrics are not mixed in.
    let other = Stack::create("metrics-other").await;
    let m = self::backend(&other, options())
        .metrics(range, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(m.invocations.iter().sum::<f64>(), 0.0, "{m:?}");
}

async fn put_lines(stack: &Stack, group: &str, lines: &[(DateTime<Utc>, String)]) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(&stack.config);
    logs.create_log_stream()
        .log_group_name(group)
        .log_stream_name("2025/01/01/[$LATEST]abc")
        .send()
        .await
        .unwrap();
    // PutLogEvents wants them in chronological order.
    let mut lines = lines.to_vec();
    lines.sort_by_key(|(t, _)| *t);
    let events = lines
        .iter()
        .map(|(t, m)| {
            InputLogEvent::builder()
                .timestamp(t.timestamp_millis())
                .message(m)
                .build()
                .unwrap()
        })
        .collect();
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name("2025/01/01/[$LATEST]abc")
        .set_log_events(Some(events))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn low_confidence_lines_and_execution_logs_come_from_filter_log_events() {
    let stack = Stack::create("logs").await;
    let now = Utc::now();
    let t = |s: i64| now - chrono::Duration::seconds(s);
    let decision = |key: &str, b: f64, m: f64| {
        json!({"timestamp": "x", "level": "INFO", "decision": "low_confidence", "s3_key": key,
               "threshold": 0.93, "p_bicycle": b, "p_motorcycle": m,
               "message": "below threshold"})
        .to_string()
    };
    put_lines(
        &stack,
        &stack.filter_log_group,
        &[
            (t(50), decision("test/a.png", 0.6, 0.4)),
            (
                t(40),
                json!({"level": "INFO", "decision": "pass", "s3_key": "test/b.png",
                       "threshold": 0.93, "p_bicycle": 0.99, "p_motorcycle": 0.01})
                .to_string(),
            ),
            (t(30), "text that mentions low_confidence".to_owned()),
            (
                t(20),
                format!(
                    "2025-01-01T00:00:00Z req-1 {}",
                    decision("test/c.png", 0.3, 0.7)
                ),
            ),
            // Outside the window asked for below.
            (t(3600), decision("test/old.png", 0.5, 0.5)),
        ],
    )
    .await;

    let backend = backend(&stack, options());
    let range = TimeRange {
        start: t(600),
        end: now + chrono::Duration::seconds(1),
    };
    let before = backend.calls();
    let report = backend.low_confidence(range, 1000).await.unwrap();
    assert_eq!(report.total, 2);
    let rows = report.failures;
    assert_eq!(
        backend
            .calls()
            .since(&before)
            .of("CloudWatch Logs.FilterLogEvents"),
        1
    );
    let keys: Vec<_> = rows.iter().map(|r| r.s3_key.as_deref()).collect();
    assert_eq!(keys, [Some("test/c.png"), Some("test/a.png")], "{rows:#?}");
    assert_eq!(
        (rows[0].p_bicycle, rows[0].p_motorcycle, rows[0].threshold),
        (0.3, 0.7, 0.93)
    );
    assert_eq!(rows[1].time.timestamp_millis(), t(50).timestamp_millis());

    // The logs panel: the state machine's lines about this execution, and the Lambdas'
    // lines about its image, in its time window.
    let arn = format!(
        "arn:aws:states:us-east-1:123456789012:execution:scones-{}:run-1",
        stack.id
    );
    put_lines(
        &stack,
        &stack.workflow_log_group,
        &[
            (
                t(25),
                json!({"id": "2", "type": "TaskStateEntered", "execution_arn": arn,
                       "details": {"name": "ClassifyImage", "input": "{}"}})
                .to_string(),
            ),
            (
                t(24),
                json!({"id": "9", "type": "ExecutionFailed", "execution_arn": arn,
                       "details": {"error": "LowConfidence"}})
                .to_string(),
            ),
            (
                t(24),
                json!({"id": "2", "type": "TaskStateEntered",
                       "execution_arn": format!("{arn}-other"),
                       "details": {"name": "Other"}})
                .to_string(),
            ),
        ],
    )
    .await;
    let execution = ExecutionSummary {
        scores: None,
        label: None,
        model: None,
        id: ExecutionId::new(arn.clone()),
        name: "run-1".into(),
        s3_key: Some("test/c.png".into()),
        status: ExecutionStatus::Failed,
        start: t(26),
        stop: Some(t(19)),
        error: Some("LowConfidence".into()),
        cause: None,
    };
    let lines = backend.logs(execution).await.unwrap();
    let shown: Vec<(&str, &str, LogLevel)> = lines
        .iter()
        .map(|l| (l.source.as_str(), l.message.as_str(), l.level))
        .collect();
    assert!(
        shown.contains(&("states", "TaskStateEntered ClassifyImage", LogLevel::Info)),
        "{shown:#?}"
    );
    assert!(
        shown.contains(&("states", "ExecutionFailed LowConfidence", LogLevel::Error)),
        "{shown:#?}"
    );
    assert!(
        shown
            .iter()
            .any(|(s, m, _)| *s == "filter-low-confidence" && m.contains("s3_key=test/c.png")),
        "{shown:#?}"
    );
    assert!(
        !shown
            .iter()
            .any(|(_, m, _)| m.contains("Other") || m.contains("test/a.png")),
        "lines of other executions leaked in: {shown:#?}"
    );
    assert!(lines.windows(2).all(|w| w[0].time <= w[1].time));
}

fn capture_line(event_id: &str, time: DateTime<Utc>, scores: [f64; 2], base64: bool) -> String {
    let output = format!("[{}, {}]", scores[0], scores[1]);
    let (data, encoding) = if base64 {
        use base64::Engine;
        (
            base64::engine::general_purpose::STANDARD.encode(&output),
            "BASE64",
        )
    } else {
        (output, "JSON")
    };
    json!({
        "captureData": {
            "endpointInput": {"observedContentType": "image/png", "mode": "INPUT",
                              "data": "iVBORw0KGgo=", "encoding": "BASE64"},
            "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                               "data": data, "encoding": encoding},
        },
        "eventMetadata": {"eventId": event_id,
                          "inferenceTime": time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)},
        "eventVersion": "0",
    })
    .to_string()
}

#[tokio::test]
async fn data_capture_objects_are_parsed_once_and_cached_by_etag() {
    let stack = Stack::create("capture").await;
    let now = Utc::now();
    let t = |s: i64| now - chrono::Duration::seconds(s);
    let hour_dir = |at: DateTime<Utc>| {
        scones_aws::capture::hour_prefix(
            &format!("datacapture/{}/AllTraffic/", stack.endpoint_name),
            at,
        )
    };
    let file_a = format!("{}a.jsonl", hour_dir(t(120)));
    let file_b = format!("{}b.jsonl", hour_dir(t(60)));
    let a = [
        capture_line("e1", t(120), [0.97, 0.03], true),
        capture_line("e2", t(110), [0.55, 0.45], false),
        "{not a capture record".to_owned(),
    ]
    .join("\n");
    let b = capture_line("e3", t(60), [0.1, 0.9], true);
    support::aws::put_object(&stack.s3, &stack.bucket, &file_a, a.into_bytes()).await;
    support::aws::put_object(&stack.s3, &stack.bucket, &file_b, b.into_bytes()).await;
    // Another variant's capture is not ours.
    support::aws::put_object(
        &stack.s3,
        &stack.bucket,
        &format!(
            "datacapture/{}/Other/{}",
            stack.endpoint_name,
            file_a.rsplit_once("AllTraffic/").unwrap().1
        ),
        capture_line("x1", t(100), [0.5, 0.5], false).into_bytes(),
    )
    .await;

    let backend = backend(&stack, options());
    let range = TimeRange {
        start: t(300),
        end: now + chrono::Duration::seconds(1),
    };
    let before = backend.calls();
    let sample = backend.capture(range, 100).await.unwrap();
    let points = &sample.points;
    assert_eq!(sample.total, 3);
    let spent = backend.calls().since(&before);
    let ids: Vec<&str> = points.iter().map(|p| p.event_id.as_str()).collect();
    assert_eq!(ids, ["e1", "e2", "e3"], "{points:#?}");
    assert_eq!((points[1].p_bicycle, points[1].p_motorcycle), (0.55, 0.45));
    assert_eq!(points[2].confidence(), 0.9);
    assert_eq!(spent.of("S3.GetObject"), 2, "{spent:?}");

    // Second refresh: one listing, nothing read again.
    let before = backend.calls();
    assert_eq!(backend.capture(range, 100).await.unwrap(), sample);
    let spent = backend.calls().since(&before);
    assert_eq!(spent.of("S3.GetObject"), 0, "{spent:?}");
    assert_eq!(spent.of("S3.ListObjectsV2"), 1, "{spent:?}");

    // A replaced object (new ETag) is read again; past the limit the points are sampled
    // across the window (the oldest and the newest kept), and the total says how many.
    let b2 = [
        capture_line("e3", t(60), [0.1, 0.9], true),
        capture_line("e4", t(30), [0.2, 0.8], false),
    ]
    .join("\n");
    support::aws::put_object(&stack.s3, &stack.bucket, &file_b, b2.into_bytes()).await;
    let before = backend.calls();
    let sample = backend.capture(range, 2).await.unwrap();
    assert_eq!(backend.calls().since(&before).of("S3.GetObject"), 1);
    let all = backend.capture(range, 100).await.unwrap().points;
    assert_eq!(all.len(), 4);
    assert_eq!((sample.points.len(), sample.total), (2, 4));
    assert_eq!(sample.points, [all[0].clone(), all[3].clone()]);
}

#[tokio::test]
async fn the_endpoint_is_described_for_the_header() {
    let stack = Stack::create("endpoint").await;
    let sagemaker = aws_sdk_sagemaker::Client::new(&stack.config);
    let role = format!("arn:aws:iam::{}:role/sagemaker", support::aws::ACCOUNT);
    sagemaker
        .create_model()
        .model_name(&stack.endpoint_name)
        .execution_role_arn(&role)
        .primary_container(
            aws_sdk_sagemaker::types::ContainerDefinition::builder()
                .image("811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1")
                .model_data_url(format!("s3://{}/models/model.tar.gz", stack.bucket))
                .build(),
        )
        .send()
        .await
        .unwrap();
    sagemaker
        .create_endpoint_config()
        .endpoint_config_name(&stack.endpoint_name)
        .production_variants(
            aws_sdk_sagemaker::types::ProductionVariant::builder()
                .variant_name("AllTraffic")
                .model_name(&stack.endpoint_name)
                .initial_instance_count(1)
                .instance_type(aws_sdk_sagemaker::types::ProductionVariantInstanceType::MlT2Medium)
                .build(),
        )
        .send()
        .await
        .unwrap();
    sagemaker
        .create_endpoint()
        .endpoint_name(&stack.endpoint_name)
        .endpoint_config_name(&stack.endpoint_name)
        .send()
        .await
        .unwrap();

    let backend = backend(&stack, options());
    let info = backend.endpoint().await.unwrap();
    assert_eq!(info.name, stack.endpoint_name);
    assert_eq!(info.status, "InService", "{info:?}");
    assert!(info.in_service());
    assert!(
        info.detail
            .as_deref()
            .is_some_and(|d| d.contains("instance")),
        "{info:?}"
    );
    assert_eq!(backend.calls().of("SageMaker.DescribeEndpoint"), 1);

    // A stack whose endpoint was deleted shows NotFound instead of failing the header.
    let gone = Stack::create("endpoint-gone").await;
    let info = self::backend(&gone, options()).endpoint().await.unwrap();
    assert_eq!(info.status, "NotFound", "{info:?}");
    assert!(!info.in_service());
}

#[tokio::test]
async fn throttling_is_retried_with_backoff_then_reported_then_recovers() {
    let stack = Stack::create("throttle").await;
    let ok = stack.start(TEST_KEYS[0]).await;
    stack.wait_final(&ok).await;
    let backend = backend(&stack, options());

    // Two throttled answers: the SDK backs off and the third attempt succeeds.
    support::aws::control(
        "/scones-api/faults",
        json!({"operation": "ListExecutions", "match": stack.state_machine_arn,
               "count": 2, "code": "ThrottlingException"}),
    );
    let started = std::time::Instant::now();
    let delta = backend.executions_since(None, 100).await.unwrap();
    let waited = started.elapsed();
    assert_eq!(delta.changed.len(), 1);
    let calls = backend.calls();
    assert_eq!(calls.of("SFN.ListExecutions"), 3, "{calls:?}");
    assert_eq!(calls.retries(), 2, "{calls:?}");
    let fired: u64 = support::aws::faults()
        .iter()
        .filter(|f| f["match"] == json!(stack.state_machine_arn))
        .map(|f| f["fired"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(fired, 2, "the server saw the throttled attempts");
    assert!(waited < Duration::from_secs(5), "{waited:?}");

    // Throttled beyond the retries: a Throttled error, the dashboard's cue to slow down.
    support::aws::control(
        "/scones-api/faults",
        json!({"operation": "ListExecutions", "match": stack.state_machine_arn,
               "count": 4, "code": "ThrottlingException"}),
    );
    let before = backend.calls();
    let err = backend
        .executions_since(Some(delta.cursor.clone()), 100)
        .await
        .unwrap_err();
    assert!(err.is_throttling(), "{err}");
    assert_eq!(backend.calls().since(&before).of("SFN.ListExecutions"), 4);

    // Faults over: the next refresh works from the same cursor.
    let delta = backend
        .executions_since(Some(delta.cursor), 100)
        .await
        .unwrap();
    assert!(delta.changed.is_empty());

    // CloudWatch (rpcv2Cbor through the wrapper) backs off the same way.
    support::aws::control(
        "/scones-api/faults",
        json!({"operation": "GetMetricData", "match": stack.endpoint_name,
               "count": 1, "code": "ThrottlingException"}),
    );
    let before = backend.calls();
    let now = Utc::now();
    backend
        .metrics(
            TimeRange::ending_at(now, Duration::from_secs(600)),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    let spent = backend.calls().since(&before);
    assert_eq!(spent.of("CloudWatch.GetMetricData"), 2, "{spent:?}");
}

#[tokio::test]
async fn connect_finds_the_stack_from_flags_and_a_saved_outputs_file() {
    let stack = Stack::create("connect").await;
    // The standard chain: scripts/with-moto.sh exports AWS_ENDPOINT_URL and test keys.
    let target = scones_aws::AwsTarget::default();
    let by_flags = AwsBackend::connect(
        &target,
        &Discovery {
            overrides: ResourceOverrides {
                state_machine_arn: Some(stack.state_machine_arn.clone()),
                bucket: Some(stack.bucket.clone()),
                ..ResourceOverrides::default()
            },
            ..Discovery::default()
        },
        options(),
    )
    .await
    .unwrap();
    assert_eq!(by_flags.source(), &ResourceSource::Flags);
    // The region comes from the state machine's ARN.
    assert_eq!(
        by_flags.info().kind,
        BackendKind::Aws {
            profile: None,
            credentials: support::aws::target().credentials_source(),
            region: "us-east-1".into()
        }
    );
    by_flags.start_random(1).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("aws.json");
    std::fs::write(&file, stack.outputs().to_string()).unwrap();
    let by_file = AwsBackend::connect(
        &target,
        &Discovery {
            config_file: Some(file.clone()),
            ..Discovery::default()
        },
        options(),
    )
    .await
    .unwrap();
    assert_eq!(by_file.source(), &ResourceSource::ConfigFile(file));
    assert_eq!(by_file.resources(), &stack.resources());
    let (rows, _) = refresh_all(&by_file, None).await;
    assert_eq!(rows.len(), 1);

    // Nothing deployed: a typed error naming the cause.
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, "{}").unwrap();
    let err = AwsBackend::connect(
        &target,
        &Discovery {
            config_file: Some(empty),
            ..Discovery::default()
        },
        options(),
    )
    .await
    .err()
    .expect("an empty outputs file is nothing deployed");
    assert_eq!(err.name(), "NothingDeployed", "{err}");
}

/// The real dashboard (App + Worker, headless) over the AWS backend: after the first load,
/// a minute of 1 s refreshes at steady state (nothing running, nothing new) and what it
/// cost. This is the "AWS calls per refresh at steady state" figure of the report.
#[tokio::test]
async fn the_dashboard_at_steady_state_costs_one_list_per_refresh() {
    use chrono::FixedOffset;
    use scones::dashboard::app::AppOptions;
    use scones::dashboard::config::Config;
    use scones::dashboard::headless::Headless;

    let stack = Stack::create("steady").await;
    stack.fail_low_confidence("motorcycle", [0.55, 0.45]);
    for key in TEST_KEYS {
        let arn = stack.start(key).await;
        stack.wait_final(&arn).await;
    }
    let backend = std::sync::Arc::new(backend(&stack, options()));
    let config = Config::default();
    let refresh = config.refresh;
    let options = AppOptions {
        config,
        readonly: false,
        no_color: true,
        tz: FixedOffset::east_opt(0).unwrap(),
        seed: 7,
        // NO_COLOR: no images (an image costs one GetObject per key, fetched once).
        picker: None,
    };
    let mut now = Utc::now();
    let mut d = Headless::new(std::sync::Arc::clone(&backend), options, now, 160, 48);
    // First load: the listing, descriptions, the selected execution's history, panels.
    for _ in 0..10 {
        d.tick(now);
        assert!(d.settle(Duration::from_secs(20)).await, "first load hung");
        now += chrono::Duration::from_std(refresh).unwrap();
    }
    assert_eq!(d.app().shared.executions.total(), 3);
    let screen = d.screen();
    assert!(screen.contains("LowConfidence"), "{screen}");

    let before = backend.calls();
    let refreshes = 60;
    for _ in 0..refreshes {
        d.tick(now);
        assert!(d.settle(Duration::from_secs(20)).await);
        now += chrono::Duration::from_std(refresh).unwrap();
    }
    let spent = backend.calls().since(&before);
    println!(
        "dashboard at steady state, {refreshes} refreshes of {refresh:?} (160x48, executions \
         view): {} AWS requests = {:.2} per refresh; by operation: {:?}",
        spent.attempts,
        spent.attempts as f64 / refreshes as f64,
        spent.by_operation
    );
    assert_eq!(spent.of("SFN.ListExecutions"), refreshes, "{spent:?}");
    // Nothing is described or re-read once known and finished.
    assert_eq!(spent.of("SFN.DescribeExecution"), 0, "{spent:?}");
    assert_eq!(spent.of("SFN.GetExecutionHistory"), 0, "{spent:?}");
    // Only the guard's state (the header) is read again, at most once per GUARD_TTL.
    assert!(spent.of("S3.GetObject") <= 1, "{spent:?}");
    assert_eq!(spent.retries(), 0, "{spent:?}");
    assert_eq!(d.app().shared.executions.total(), 3);
}

/// A capture line as SageMaker writes it, with a real PNG as the input.
fn capture_line_with_input(
    event_id: &str,
    time: DateTime<Utc>,
    png: &[u8],
    p_bicycle: f64,
) -> String {
    use base64::Engine;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    json!({
        "captureData": {
            "endpointInput": {"observedContentType": "image/png", "mode": "INPUT",
                              "data": b64(png), "encoding": "BASE64"},
            "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                               "data": b64(format!("[{p_bicycle}, {}]", 1.0 - p_bicycle).as_bytes()),
                               "encoding": "BASE64"},
        },
        "eventMetadata": {"eventId": event_id,
                          "inferenceTime": time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)},
        "eventVersion": "0",
    })
    .to_string()
}

/// Image `i` of a fixed population: a plain colour whose channels vary with `i`, divided by
/// `dim` (1: the population itself; 4: the same images much darker).
fn population_png(i: u32, dim: u32) -> Vec<u8> {
    let c = |k: u32| u8::try_from((40 + (i * k) % 200) / dim).unwrap();
    scones_handlers::fakes::png(8, 8, [c(7), c(13), c(29)])
}

/// The confidence of inference `i`: spread over (0.5, 1).
fn population_p(i: u32) -> f64 {
    0.5 + f64::from((i * 37) % 50) / 100.0
}

#[tokio::test]
async fn the_drift_monitor_judges_sagemaker_capture_publishes_metrics_and_the_dashboard_reads_its_report()
 {
    use scones_workflow::drift::{Baseline, DriftOptions, Profile, Verdict, WindowSpec, metrics};

    let stack = Stack::create("drift").await;
    let resources = stack.resources();
    let drift = resources.drift.clone().unwrap();
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&stack.config);
    let monitor = monitor_drift::Monitor {
        s3: stack.s3.clone(),
        cloudwatch: cloudwatch.clone(),
        config: monitor_drift::Config {
            bucket: stack.bucket.clone(),
            endpoint: stack.endpoint_name.clone(),
            capture_prefix: scones_workflow::capture::variant_prefix(
                "datacapture/",
                &stack.endpoint_name,
                "AllTraffic",
            ),
            baseline_key: drift.baseline_key.clone(),
            report_prefix: drift.reports_prefix.clone(),
            namespace: drift.metric_namespace.clone(),
            options: DriftOptions {
                window: WindowSpec::Period(chrono::Duration::minutes(30)),
                windows: 2,
                threshold: 0.93,
                cutoffs: Default::default(),
            },
            guard_mode: scones_workflow::guard::GuardMode::Hold,
        },
    };
    let backend = backend(&stack, options());
    let now = Utc::now();

    // Before `scones baseline --aws`: nothing judged, and the dashboard says what to run.
    let outcome = monitor.run(now).await.unwrap();
    assert!(
        matches!(outcome, monitor_drift::Outcome::NoBaseline { .. }),
        "{outcome:?}"
    );
    let err = backend
        .drift(WindowSpec::Count(500), 4)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("scones baseline --aws"), "{err}");

    // The baseline: 300 images of the population with their outputs.
    let mut profile = Profile::default();
    for i in 0..300 {
        let features = scones_workflow::image::image_features(&population_png(i, 1)).unwrap();
        profile.add_image(&features);
        profile.add_scores([population_p(i), 1.0 - population_p(i)]);
    }
    let baseline = Baseline {
        format: Baseline::FORMAT,
        created: now - chrono::Duration::hours(2),
        model: "scones-model-fixture".into(),
        inputs_from: "300 held-out images".into(),
        outputs_from: Some("300 held-out predictions".into()),
        held_out: None,
        profile,
    };
    support::aws::put_object(
        &stack.s3,
        &stack.bucket,
        &drift.baseline_key,
        serde_json::to_vec(&baseline).unwrap(),
    )
    .await;

    // Capture, filed as SageMaker does (one file per few minutes, under its hour): the older
    // window is the population itself, the current window the same images much darker.
    let prefix = format!("datacapture/{}/AllTraffic/", stack.endpoint_name);
    for (window, dim, start) in [(0u32, 1u32, 55i64), (1, 4, 25)] {
        let lines: Vec<String> = (0..120u32)
            .map(|i| {
                let n = window * 1000 + i;
                let at = now - chrono::Duration::minutes(start)
                    + chrono::Duration::seconds(i64::from(i) * 10);
                capture_line_with_input(
                    &format!("e{n}"),
                    at,
                    &population_png(i * 2 + 1, dim),
                    population_p(i * 2 + 1),
                )
            })
            .collect();
        let at = now - chrono::Duration::minutes(start);
        let key = format!(
            "{}{window}-capture.jsonl",
            scones_workflow::capture::hour_prefix(&prefix, at)
        );
        support::aws::put_object(
            &stack.s3,
            &stack.bucket,
            &key,
            lines.join("\n").into_bytes(),
        )
        .await;
    }

    // The guard's write is conditional: another writer (an operator) wrote between this
    // run's read and its write (S3 answers 412), so the verdict is applied again to the
    // state as it is now, not lost.
    support::aws::control(
        "/scones-api/faults",
        json!({"operation": "PutObject", "match": format!("{}/{}", stack.bucket, scones_workflow::guard::STATE_KEY),
               "count": 1, "code": "PreconditionFailed", "status": 412}),
    );
    let before = support::aws::faults();
    let outcome = monitor.run(now).await.unwrap();
    let fired = |faults: &[serde_json::Value]| {
        faults
            .iter()
            .filter(|f| f["code"] == "PreconditionFailed")
            .map(|f| f["fired"].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    assert_eq!(fired(&support::aws::faults()) - fired(&before), 1);
    let monitor_drift::Outcome::Judged {
        verdict,
        images,
        inferences,
        metrics: published,
        report_key,
        holding,
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    // ALERT trips the guard: its state, where filter-low-confidence reads it, holds, naming
    // the statistics and the served model.
    assert!(holding);
    let state: scones_workflow::guard::GuardState = serde_json::from_slice(
        &support::aws::get_object(&stack.s3, &stack.bucket, scones_workflow::guard::STATE_KEY)
            .await,
    )
    .unwrap();
    let hold = state.holding().expect("holding");
    assert!(
        hold.statistics.iter().any(|s| s == "brightness"),
        "{state:?}"
    );
    assert_eq!(state.model.as_deref(), Some("scones-model-fixture"));
    // Repeated images are one observation each (the population repeats every 100 odd indices).
    let distinct: std::collections::HashSet<Vec<u8>> =
        (0..120).map(|i| population_png(i * 2 + 1, 4)).collect();
    assert_eq!(
        (verdict, images, inferences),
        (Verdict::Alert, distinct.len() as u64, 120)
    );
    assert!(published > 10, "{published}");
    assert!(
        report_key.starts_with(&drift.reports_prefix),
        "{report_key}"
    );

    // The metrics are in CloudWatch, by endpoint.
    // The maxima of one of the endpoint's drift metrics around `now`.
    let maxima = |metric: &'static str| {
        let request = cloudwatch
            .get_metric_statistics()
            .namespace(&drift.metric_namespace)
            .metric_name(metric)
            .dimensions(
                Dimension::builder()
                    .name(metrics::DIMENSION_ENDPOINT)
                    .value(&stack.endpoint_name)
                    .build(),
            )
            .start_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                now.timestamp() - 600,
            ))
            .end_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                now.timestamp() + 600,
            ))
            .period(60)
            .statistics(aws_sdk_cloudwatch::types::Statistic::Maximum);
        async move {
            let stats = request.send().await.unwrap();
            stats
                .datapoints()
                .iter()
                .filter_map(|d| d.maximum())
                .collect::<Vec<f64>>()
        }
    };
    assert_eq!(maxima(metrics::VERDICT).await, [2.0]);
    let listed = cloudwatch
        .list_metrics()
        .namespace(&drift.metric_namespace)
        .metric_name(metrics::PSI)
        .send()
        .await
        .unwrap();
    let statistics: Vec<&str> = listed
        .metrics()
        .iter()
        .flat_map(|m| m.dimensions())
        .filter(|d| d.name() == Some(metrics::DIMENSION_STATISTIC))
        .filter_map(|d| d.value())
        .collect();
    assert!(statistics.contains(&"brightness"), "{statistics:?}");
    assert_eq!(maxima(metrics::GUARD_HOLDING).await, [1.0]);

    // Terraform's mode wins: the same verdict in `warn` mode records the hold but does not
    // apply it (the filter's `holding()` is None).
    let warn = monitor_drift::Monitor {
        config: monitor_drift::Config {
            guard_mode: scones_workflow::guard::GuardMode::Warn,
            ..monitor.config.clone()
        },
        ..monitor.clone()
    };
    let outcome = warn.run(now).await.unwrap();
    assert!(
        matches!(
            outcome,
            monitor_drift::Outcome::Judged { holding: false, .. }
        ),
        "{outcome:?}"
    );
    let state: scones_workflow::guard::GuardState = serde_json::from_slice(
        &support::aws::get_object(&stack.s3, &stack.bucket, scones_workflow::guard::STATE_KEY)
            .await,
    )
    .unwrap();
    assert_eq!(state.mode, scones_workflow::guard::GuardMode::Warn);
    assert!(
        state.holding().is_none() && state.hold.is_some(),
        "{state:?}"
    );

    // The report (and its absence) is reused for a minute: the first backend still says
    // there is none, without asking S3 again.
    let before = backend.calls();
    assert!(backend.drift(WindowSpec::Count(500), 4).await.is_err());
    assert_eq!(backend.calls().since(&before).of("S3.GetObject"), 0);

    // A dashboard opened now reads the same report the alarms saw: the older window OK, the
    // darkened one ALERT on brightness.
    let backend = self::backend(&stack, options());
    let view = backend.drift(WindowSpec::Count(500), 4).await.unwrap();
    assert_eq!(view.model, "scones-model-fixture");
    assert_eq!(view.window, "the last 30m");
    assert_eq!(view.windows.len(), 2, "{view:#?}");
    assert_eq!(
        view.windows[0].report.verdict,
        Verdict::Ok,
        "{:#?}",
        view.windows[0]
    );
    assert_eq!(view.verdict(), Verdict::Alert);
    let brightness = view
        .current()
        .unwrap()
        .report
        .finding(scones_workflow::drift::Statistic::Input(
            scones_workflow::drift::Feature::Brightness,
        ))
        .unwrap();
    assert_eq!(brightness.verdict, Verdict::Alert);
    assert_eq!(view.computed, Some(now));
}

/// A backend over a stack (named, not deployed) at `endpoint`, with fixed credentials and,
/// when given, other timeouts than production's.
async fn backend_at(
    endpoint: String,
    timeouts: Option<scones_aws::config::Timeouts>,
) -> AwsBackend {
    let target = scones_aws::AwsTarget {
        profile: None,
        region: Some(support::aws::REGION.into()),
        endpoint_url: Some(endpoint),
    };
    let mut loader = scones_aws::config_loader(&target).credentials_provider(
        aws_sdk_s3::config::Credentials::new("test", "test", None, None, "fixture"),
    );
    if let Some(timeouts) = timeouts {
        loader = loader.timeout_config(timeouts.sdk());
    }
    let config = loader.load().await;
    let resources = scones_aws::Resources::from_output_json(
        &json!({"scones": {"value": {
            "bucket": "unreachable-bucket",
            "state_machine_arn": "arn:aws:states:us-east-1:123456789012:stateMachine:unreachable",
        }}})
        .to_string(),
        "fixture",
    )
    .unwrap();
    AwsBackend::new(
        &config,
        &target,
        resources,
        ResourceSource::Flags,
        options(),
    )
}

/// A hung service (it accepts connections and never answers, as a SIGSTOPped server does):
/// every call ends with a timeout error in seconds, never pending for minutes; a test
/// execution that timed out says it may still start (issue 18, item 4). The production
/// timeouts are scones_aws::config::TIMEOUTS; shorter ones here keep the test fast.
#[tokio::test]
async fn a_hung_service_is_a_timeout_error_not_a_request_pending_forever() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    // S3 answers (one test image); every other service holds the connection unanswered.
    let held = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut open = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut head = vec![0u8; 4096];
            let n = socket.read(&mut head).await.unwrap_or(0);
            if head[..n].starts_with(b"GET /unreachable-bucket") {
                let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>unreachable-bucket</Name><KeyCount>1</KeyCount><IsTruncated>false</IsTruncated><Contents><Key>test/bicycle_s_000017.png</Key><Size>3</Size></Contents></ListBucketResult>";
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/xml\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            }
            open.push(socket);
        }
    });
    let backend = backend_at(
        format!("http://{address}"),
        Some(scones_aws::config::Timeouts {
            connect: Duration::from_secs(1),
            attempt: Duration::from_millis(500),
            operation: Duration::from_secs(2),
        }),
    )
    .await;
    let started = std::time::Instant::now();
    let err = backend.executions_since(None, 10).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("got no answer in time"), "{err}");
    // Which timeout after how long, without the SDK's debug chain.
    assert!(err.to_string().contains("occurred after 2s"), "{err}");
    assert!(!err.to_string().contains("MaybeTimeoutError"), "{err}");

    // `t` on a hung Step Functions: the error says the execution may still start, and its
    // name, so one that starts when the service recovers is no surprise.
    let started = std::time::Instant::now();
    let err = backend.start_random(1).await.unwrap_err();
    // Unanswered, not Failed: `scones run` says MAY START and counts it apart.
    assert_eq!(err.name(), "Unanswered", "{err}");
    let err = err.to_string();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        err.contains("StartExecution got no answer in time")
            && err.contains("execution scones-")
            && err.contains("may still start"),
        "{err}"
    );
    held.abort();
}

/// The stack re-created under the same names: the executions listed before no longer exist
/// and the next refresh drops them; executions started afterwards are listed (issue 18,
/// item 5).
#[tokio::test]
async fn executions_of_a_recreated_stack_are_dropped_from_the_list() {
    let stack = Stack::create("recreated").await;
    let old = [
        stack.start(TEST_KEYS[0]).await,
        stack.start(TEST_KEYS[1]).await,
    ];
    for arn in &old {
        stack.wait_final(arn).await;
    }
    let backend = backend(&stack, options());
    let (rows, cursor) = refresh_all(&backend, None).await;
    assert_eq!(rows.len(), 2);

    stack.recreate_state_machine().await;
    assert!(stack.executions().await.is_empty());
    let delta = backend
        .executions_since(Some(cursor.clone()), 100)
        .await
        .unwrap();
    let mut removed: Vec<&str> = delta.removed.iter().map(|id| id.as_str()).collect();
    removed.sort_unstable();
    let mut expected: Vec<&str> = old.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(removed, expected);
    assert!(delta.changed.is_empty());

    // Nothing left to drop; a new execution is listed as new.
    let new = stack.start(TEST_KEYS[0]).await;
    stack.wait_final(&new).await;
    let (rows, _) = refresh_all(&backend, Some(delta.cursor)).await;
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert!(ids.contains(&new.as_str()), "{rows:#?}");
}

/// A stopped service (connection refused): one readable cause chain, not the SDK's debug
/// dump, now that long toasts are shown whole.
#[tokio::test]
async fn a_stopped_service_is_a_readable_transport_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let backend = backend_at(format!("http://127.0.0.1:{port}"), None).await;
    let err = backend
        .executions_since(None, 10)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("could not reach AWS"), "{err}");
    assert!(err.contains("Connection refused"), "{err}");
    assert!(!err.contains("DispatchFailure {"), "{err}");
}

/// `scones guard --aws` (and the dashboard) over the port: the state in the bucket, an
/// operator's engage and release written back with conditional writes; a write that lost the
/// race to another writer (the monitor) is read and applied again, not lost; the mode is
/// Terraform's; read-only refuses.
#[tokio::test]
async fn the_guard_is_read_and_commanded_in_the_bucket() {
    use scones_workflow::guard::{GuardCommand, GuardMode, GuardState, STATE_KEY};

    let stack = Stack::create("guard").await;
    let backend = backend(&stack, options());
    let state = backend.guard().await.unwrap();
    assert_eq!((state.mode, state.hold.is_none()), (GuardMode::Hold, true));

    let engaged = backend.command_guard(GuardCommand::Engage).await.unwrap();
    assert!(engaged.holding().is_some());
    let stored: GuardState = serde_json::from_slice(
        &support::aws::get_object(&stack.s3, &stack.bucket, STATE_KEY).await,
    )
    .unwrap();
    assert_eq!(stored, engaged);

    // Another writer wrote between this read and this write: S3 answers 412 to the
    // conditional write, and the release is applied to the state read again.
    support::aws::control(
        "/scones-api/faults",
        json!({"operation": "PutObject", "match": format!("{}/{STATE_KEY}", stack.bucket), "count": 1,
               "code": "PreconditionFailed", "status": 412}),
    );
    let before = backend.calls();
    let released = backend.command_guard(GuardCommand::Release).await.unwrap();
    assert!(released.hold.is_none(), "{released:?}");
    let spent = backend.calls().since(&before);
    assert_eq!(spent.of("S3.PutObject"), 2, "{spent:?}");
    let stored: GuardState = serde_json::from_slice(
        &support::aws::get_object(&stack.s3, &stack.bucket, STATE_KEY).await,
    )
    .unwrap();
    assert!(stored.hold.is_none());

    let err = backend
        .command_guard(GuardCommand::Mode(GuardMode::Warn))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("terraform apply -var guard=warn"),
        "{err}"
    );
    let readonly = readonly_backend(&stack);
    assert_eq!(
        readonly
            .command_guard(GuardCommand::Engage)
            .await
            .unwrap_err()
            .name(),
        "NotReady"
    );
}

/// Review labels are one object each under review/labels/: two people labelling the same
/// images at once from two dashboards lose nothing, the newest answer of a key wins, a
/// record that is not JSON is skipped and counted, and a dashboard at steady state reads
/// no label object twice.
#[tokio::test]
async fn review_labels_round_trip_in_s3_with_two_writers() {
    use scones_workflow::review::{LABELS_PREFIX, NewLabel, ReviewReason, Verdict};

    let stack = Stack::create("review").await;
    let (ann, bob) = (backend(&stack, options()), backend(&stack, options()));
    let label = |key: &str, label: Verdict| NewLabel {
        key: key.to_owned(),
        label,
        reason: ReviewReason::LowConfidence,
        model: Some("scones-model-a".into()),
        scores: Some([0.6, 0.4]),
        execution: None,
    };
    // Each labels every test image ten times, all at once.
    async fn writes(
        who: &AwsBackend,
        label: impl Fn(&str) -> NewLabel,
    ) -> Vec<Result<scones_workflow::review::LabelRecord, BackendError>> {
        futures::future::join_all((0..10).flat_map(|_| TEST_KEYS.map(|k| who.label(label(k)))))
            .await
    }
    let (a, b) = tokio::join!(
        writes(&ann, |k| label(k, Verdict::Bicycle)),
        writes(&bob, |k| label(k, Verdict::Motorcycle))
    );
    let written: Vec<_> = a.into_iter().chain(b).map(Result::unwrap).collect();
    assert_eq!(written.len(), 60);
    assert!(
        written.iter().all(|r| r.who.starts_with("arn:aws:")),
        "the caller identity from STS: {:?}",
        written[0].who
    );
    let objects = stack
        .s3
        .list_objects_v2()
        .bucket(&stack.bucket)
        .prefix(LABELS_PREFIX)
        .send()
        .await
        .unwrap();
    assert_eq!(
        objects.contents().len(),
        60,
        "one object per record, none lost"
    );

    // Someone's editor left a broken record in the bucket.
    stack
        .s3
        .put_object()
        .bucket(&stack.bucket)
        .key(format!("{LABELS_PREFIX}2020-01-01/broken.json"))
        .body(b"{\"format\": 1, \"key\": ".to_vec().into())
        .send()
        .await
        .unwrap();

    let reader = readonly_backend(&stack);
    let current = reader.labels().await.unwrap();
    assert_eq!(current.len(), TEST_KEYS.len(), "{current:#?}");
    for record in &current {
        let newest = written
            .iter()
            .filter(|r| r.key == record.key)
            .max_by(|x, y| (x.at, &x.id).cmp(&(y.at, &y.id)))
            .unwrap();
        assert_eq!(record, newest, "the newest answer of a key wins");
    }
    let queue = reader.review_queue(10).await.unwrap();
    assert_eq!((queue.answered, queue.unreadable), (3, 1), "{queue:?}");

    // Steady state: one listing, no object read again.
    let before = reader.calls();
    reader.labels().await.unwrap();
    let spent = reader.calls().since(&before);
    assert_eq!(spent.of("S3.ListObjectsV2"), 1, "{spent:?}");
    assert_eq!(spent.of("S3.GetObject"), 0, "{spent:?}");
    // A label written since is found by the next refresh.
    let late = ann
        .label(label(TEST_KEYS[0], Verdict::Unsure))
        .await
        .unwrap();
    let current = reader.labels().await.unwrap();
    assert!(current.contains(&late), "{current:#?}");

    // A caller whose policy lacks s3:PutObject is told which statement grants it.
    support::aws::control(
        "/scones-api/faults",
        json!({"operation": "PutObject", "match": format!("{}/review/labels/", stack.bucket),
               "count": 1, "code": "AccessDenied", "status": 403, "message": "Access Denied"}),
    );
    let err = ann
        .label(label(TEST_KEYS[1], Verdict::Bicycle))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("s3:PutObject") && text.contains("statement \"Bucket\""),
        "{text}"
    );

    // Refused: an image that is not in the bucket, and a read-only dashboard.
    let err = ann
        .label(label("incoming/never-uploaded.png", Verdict::Bicycle))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "NotReady");
    assert!(
        err.to_string().contains("incoming/never-uploaded.png"),
        "{err}"
    );
    let err = reader
        .label(label(TEST_KEYS[0], Verdict::Bicycle))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "NotReady");
    assert!(err.to_string().contains("read-only"), "{err}");
}

/// The queue is every decision the filter function logged that goes to a person: refused,
/// held, or accepted and drawn for audit; each key once (its newest); answered keys out.
#[tokio::test]
async fn the_review_queue_is_read_from_the_filter_functions_decisions() {
    use scones_workflow::review::{NewLabel, ReviewReason, Verdict};

    let stack = Stack::create("queue").await;
    let now = Utc::now();
    let t = |s: i64| now - chrono::Duration::seconds(s);
    let decision = |kind: &str, key: &str, audit: bool, p: f64| {
        json!({"level": "INFO", "message": "confidence filter", "decision": kind,
               "s3_key": key, "threshold": 0.8, "p_bicycle": p, "p_motorcycle": 1.0 - p,
               "model": "scones-model-a", "audit": audit})
        .to_string()
    };
    put_lines(
        &stack,
        &stack.filter_log_group,
        &[
            (t(90), decision("low_confidence", TEST_KEYS[0], false, 0.6)),
            (t(80), decision("pass", TEST_KEYS[1], true, 0.97)),
            (t(70), decision("pass", "test/confident.png", false, 0.99)),
            (t(60), decision("drift_hold", TEST_KEYS[2], false, 0.95)),
            // The same image again, later: one item, its newest decision.
            (t(50), decision("low_confidence", TEST_KEYS[0], false, 0.55)),
            (t(40), "START RequestId: 1 Version: $LATEST".to_owned()),
        ],
    )
    .await;

    let backend = backend(&stack, options());
    let queue = backend.review_queue(10).await.unwrap();
    let items: Vec<(&str, ReviewReason)> = queue
        .items
        .iter()
        .map(|i| (i.key.as_str(), i.reason))
        .collect();
    assert_eq!(
        items,
        vec![
            (TEST_KEYS[1], ReviewReason::Audit),
            (TEST_KEYS[2], ReviewReason::DriftHold),
            (TEST_KEYS[0], ReviewReason::LowConfidence),
        ],
        "oldest first, each key once, the confident unaudited pass left out"
    );
    assert_eq!(queue.waiting, 3);
    let newest = &queue.items[2];
    assert_eq!(newest.scores, Some([0.55, 1.0 - 0.55]));
    assert_eq!(newest.model.as_deref(), Some("scones-model-a"));

    let item = queue.items[0].clone();
    backend
        .label(NewLabel {
            key: item.key.clone(),
            label: Verdict::Motorcycle,
            reason: item.reason,
            model: item.model.clone(),
            scores: item.scores,
            execution: None,
        })
        .await
        .unwrap();
    let before = backend.calls();
    let queue = backend.review_queue(1).await.unwrap();
    assert_eq!(
        (queue.waiting, queue.items.len(), queue.answered),
        (2, 1, 1)
    );
    assert_eq!(queue.items[0].key, TEST_KEYS[2]);
    let spent = backend.calls().since(&before);
    assert_eq!(spent.of("CloudWatch Logs.FilterLogEvents"), 1, "{spent:?}");
}

/// A Completed training job of `stack` named `name` (moto completes jobs at once); its
/// artefact URL.
async fn training_job(stack: &Stack, name: &str, samples: usize) -> String {
    let spec = scones_aws::TrainingJobSpec::from_json(
        &json!({
            "job_name": name,
            "region": "us-east-1",
            "role_arn": "arn:aws:iam::123456789012:role/scones-training",
            "image_uri": "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1",
            "instance_type": "ml.g4dn.xlarge",
            "volume_size_gb": 30,
            "max_runtime_seconds": 3600,
            "hyperparameters": {"num_training_samples": samples.to_string()},
            "output_s3_uri": format!("s3://{}/models", stack.bucket),
            "channels": [{"name": "train", "s3_uri": format!("s3://{}/train/", stack.bucket)}],
        })
        .to_string(),
    )
    .unwrap();
    let sagemaker = aws_sdk_sagemaker::Client::new(&stack.config);
    scones_aws::start_training_job(&sagemaker, &spec)
        .await
        .unwrap();
    spec.expected_model_data_url()
}

/// Versions are the stack's Completed training jobs (with what each trained on), the
/// endpoint itself says which serves, and a promotion is refused, saying why, while it
/// would not be safe: a missing artefact, no gate measures without --force, the version
/// serving already, nothing to roll back to, a read-only dashboard.
#[tokio::test]
async fn model_versions_come_from_training_jobs_and_unsafe_promotions_are_refused() {
    use scones_aws::resources::{Deployment, ModelResources};
    use scones_aws::reviewed_training::LST_PREFIX;

    let stack = Stack::create("models").await;
    let prefix = format!("{}-ic-", stack.id);
    let base = format!("{prefix}0123456789abcdef");
    let retrained = format!("{base}-r0a1b2c3d4e5f");
    let base_url = training_job(&stack, &base, 1000).await;
    let retrained_url = training_job(&stack, &retrained, 1002).await;
    support::aws::put_object(
        &stack.s3,
        &stack.bucket,
        &format!("{LST_PREFIX}0a1b2c3d4e5f/train.lst"),
        b"0\t0\tbicycle_1.png\n1\t1\treviewed_00_a.png\n2\t0\treviewed_01_b.png\n".to_vec(),
    )
    .await;
    let key = |url: &str| {
        url.strip_prefix(&format!("s3://{}/", stack.bucket))
            .unwrap()
            .to_owned()
    };
    support::aws::put_object(&stack.s3, &stack.bucket, &key(&base_url), b"model".to_vec()).await;

    // The endpoint serves the base version.
    let sagemaker = aws_sdk_sagemaker::Client::new(&stack.config);
    let model = format!("{}-model", stack.id);
    sagemaker
        .create_model()
        .model_name(&model)
        .execution_role_arn("arn:aws:iam::123456789012:role/scones-endpoint")
        .primary_container(
            aws_sdk_sagemaker::types::ContainerDefinition::builder()
                .image("811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1")
                .model_data_url(&base_url)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let config = format!("{}-config", stack.id);
    sagemaker
        .create_endpoint_config()
        .endpoint_config_name(&config)
        .production_variants(
            aws_sdk_sagemaker::types::ProductionVariant::builder()
                .variant_name("AllTraffic")
                .model_name(&model)
                .instance_type(aws_sdk_sagemaker::types::ProductionVariantInstanceType::MlM5Large)
                .initial_instance_count(1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    sagemaker
        .create_endpoint()
        .endpoint_name(&stack.endpoint_name)
        .endpoint_config_name(&config)
        .send()
        .await
        .unwrap();

    let mut resources = stack.resources();
    resources.models = Some(ModelResources {
        job_prefix: prefix,
        deployment: Deployment {
            traffic: "ALL_AT_ONCE".into(),
            canary_percent: None,
            baking_seconds: 600,
            rollback_alarms: vec!["scones-endpoint-5xx".into()],
            serving_model_data_url: Some(base_url.clone()),
            trained_model_data_url: Some(base_url.clone()),
            promoted: false,
        },
        candidate: None,
    });
    let make = |readonly: bool| {
        AwsBackend::new(
            &stack.config,
            &support::aws::target(),
            resources.clone(),
            ResourceSource::Flags,
            AwsOptions {
                readonly,
                ..options()
            },
        )
    };
    let backend = make(false);

    // Measures kept by an earlier gate are shown with their version.
    let measures = json!({"version": base, "at": "2026-12-07T00:00:00Z", "threshold": 0.8,
        "test": {"images": 200, "accuracy": 0.9, "ece": 0.05, "coverage": 0.8,
                 "accepted_accuracy": 0.95},
        "production": null});
    support::aws::put_object(
        &stack.s3,
        &stack.bucket,
        &format!("{}{base}.json", scones_aws::candidate::MEASURES_PREFIX),
        measures.to_string().into_bytes(),
    )
    .await;
    let view = backend.models().await.unwrap();
    let base_test = view.versions[1]
        .test
        .as_ref()
        .map(|t| (t.images, t.accuracy));
    assert_eq!(base_test, Some((200, 0.9)));
    assert!(view.versions[0].test.is_none(), "never measured");
    let names: Vec<&str> = view.versions.iter().map(|v| v.version.as_str()).collect();
    assert_eq!(names, [retrained.as_str(), base.as_str()], "newest first");
    assert_eq!(view.serving.as_deref(), Some(base.as_str()));
    assert!(view.versions[1].serving && !view.versions[0].serving);
    assert_eq!(
        (
            view.versions[0].trained_on.base,
            view.versions[0].trained_on.reviewed
        ),
        (1000, 2)
    );
    assert_eq!(view.deployment, None, "nothing being deployed");

    // The Models tab asks every few seconds: a Completed job never changes and measures are
    // reused for a minute, so asking again describes no job and reads no object.
    let before = backend.calls();
    let again = backend.models().await.unwrap();
    assert_eq!(again.versions, view.versions);
    let spent = backend.calls().since(&before);
    assert_eq!(spent.of("SageMaker.ListTrainingJobs"), 1, "{spent:?}");
    assert_eq!(spent.of("SageMaker.DescribeTrainingJob"), 0, "{spent:?}");
    assert_eq!(spent.of("S3.GetObject"), 0, "{spent:?}");

    let refusal = |e: BackendError| {
        assert_eq!(e.name(), "NotReady", "{e}");
        e.to_string()
    };
    let err = refusal(backend.promote(retrained.clone(), true).await.unwrap_err());
    assert!(
        err.contains("is missing"),
        "no artefact, no promotion: {err}"
    );
    support::aws::put_object(
        &stack.s3,
        &stack.bucket,
        &key(&retrained_url),
        b"model".to_vec(),
    )
    .await;
    let err = refusal(backend.promote(retrained.clone(), false).await.unwrap_err());
    assert!(
        err.contains("before the promotion gate could measure") && err.contains("--force"),
        "a stack whose outputs name no candidate endpoint cannot run the gate: {err}"
    );
    let err = refusal(backend.promote("latest".into(), true).await.unwrap_err());
    assert!(
        err.contains("--tf-dir"),
        "the serving version is a Terraform input: {err}"
    );
    let err = refusal(backend.promote(base.clone(), true).await.unwrap_err());
    assert!(err.contains("serves already"), "{err}");
    let err = refusal(
        backend
            .promote("scones-ic-ffffffffffffffff".into(), true)
            .await
            .unwrap_err(),
    );
    assert!(err.contains("no Completed training job"), "{err}");
    let err = refusal(backend.rollback().await.unwrap_err());
    assert!(err.contains("nothing to roll back to"), "{err}");
    let err = refusal(make(true).promote(retrained, true).await.unwrap_err());
    assert!(err.contains("read-only"), "{err}");
}
