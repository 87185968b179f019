//! The local endpoint: SageMaker's answer shape, its metrics, and its data-capture files.

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

mod support;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{Datelike, Timelike, Utc};
use scones_handlers::Endpoint;
use scones_local::endpoint::{DataCapture, EndpointError, LocalEndpoint, metric, read_captures};
use scones_local::{Home, LocalBucket};
use scones_workflow::capture::Keep;
use serde_json::Value;
use support::{FixedPredictor, RedPredictor, png};

#[tokio::test]
async fn answers_png_with_the_two_probabilities_as_a_json_array() {
    let endpoint = LocalEndpoint::new("ep", Arc::new(RedPredictor));
    let answer = endpoint
        .invoke(png([255, 0, 0]), "image/png")
        .await
        .unwrap();
    // It says which model version answered (a model given directly is `fixed`).
    assert_eq!(answer.model.as_deref(), Some("fixed"));
    let body = answer.body;
    let value: Value = serde_json::from_slice(&body).unwrap();
    let scores: Vec<f64> = value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(scores, [1.0, 0.0]);
    // The classify handler accepts exactly this body.
    let parsed = scones_handlers::Scores::from_endpoint_body(&body).unwrap();
    assert_eq!(parsed.p_bicycle, 1.0);

    let err = endpoint
        .invoke_now(b"not an image", "image/png")
        .unwrap_err();
    assert!(matches!(err, EndpointError::BadInput { .. }), "{err:?}");
    assert_eq!(err.status(), 400);
    let err = endpoint
        .invoke_now(&png([0, 0, 0]), "text/csv")
        .unwrap_err();
    assert_eq!(err.status(), 415);
    assert!(err.to_string().contains("text/csv"));
}

#[tokio::test]
async fn records_sagemaker_metrics_in_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let home = Home::at(tmp.path()).unwrap();
    let store = home.open_store().unwrap();
    let writer = Arc::new(store.writer().unwrap());
    let endpoint =
        LocalEndpoint::new("ep", Arc::new(FixedPredictor([0.9, 0.1]))).with_metrics(writer.clone());
    let start = Utc::now() - chrono::Duration::seconds(1);
    for _ in 0..5 {
        endpoint.invoke_now(&png([1, 2, 3]), "image/png").unwrap();
    }
    endpoint.invoke_now(b"garbage", "image/png").unwrap_err();
    endpoint
        .invoke_now(&png([1, 2, 3]), "text/plain")
        .unwrap_err();
    writer.flush().await.unwrap();

    let end = Utc::now() + chrono::Duration::seconds(2);
    let total = |name: &str| {
        store
            .metric_series("ep", name, start, end, Duration::from_secs(3600))
            .unwrap()
            .iter()
            .map(|d| (d.sample_count, d.sum))
            .fold((0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1))
    };
    assert_eq!(total(metric::INVOCATIONS), (7, 7.0));
    assert_eq!(total(metric::INVOCATION_4XX_ERRORS), (7, 2.0));
    assert_eq!(total(metric::INVOCATION_5XX_ERRORS), (7, 0.0));
    let (n, latency) = total(metric::MODEL_LATENCY);
    assert_eq!(n, 5);
    assert!(latency >= 0.0);
    assert_eq!(total(metric::OVERHEAD_LATENCY).0, 5);
}

#[test]
fn writes_data_capture_in_sagemaker_jsonl_format() {
    let tmp = tempfile::tempdir().unwrap();
    let bucket = LocalBucket::new(tmp.path());
    let endpoint = LocalEndpoint::new("my-endpoint", Arc::new(FixedPredictor([0.25, 0.75])))
        .with_capture(DataCapture::new(&bucket, "my-endpoint"));
    let before = Utc::now();
    let input = png([7, 8, 9]);
    for _ in 0..3 {
        endpoint.invoke_now(&input, "image/png").unwrap();
    }
    endpoint.flush().unwrap();

    // datacapture/<endpoint>/AllTraffic/YYYY/MM/DD/HH/<file>.jsonl
    let hour_dir = bucket
        .datacapture_dir()
        .join("my-endpoint/AllTraffic")
        .join(format!(
            "{:04}/{:02}/{:02}/{:02}",
            before.year(),
            before.month(),
            before.day(),
            before.hour()
        ));
    let files: Vec<_> = std::fs::read_dir(&hour_dir)
        .unwrap_or_else(|e| panic!("{}: {e}", hour_dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].extension().unwrap(), "jsonl");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    let line = &lines[0];
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(line), ["captureData", "eventMetadata", "eventVersion"]);
    assert_eq!(line["eventVersion"], "0");
    let input_capture = &line["captureData"]["endpointInput"];
    assert_eq!(
        keys(input_capture),
        ["data", "encoding", "mode", "observedContentType"]
    );
    assert_eq!(input_capture["observedContentType"], "image/png");
    assert_eq!(input_capture["mode"], "INPUT");
    assert_eq!(input_capture["encoding"], "BASE64");
    assert_eq!(
        BASE64
            .decode(input_capture["data"].as_str().unwrap())
            .unwrap(),
        input
    );
    let output_capture = &line["captureData"]["endpointOutput"];
    assert_eq!(output_capture["observedContentType"], "application/json");
    assert_eq!(output_capture["mode"], "OUTPUT");
    assert_eq!(output_capture["encoding"], "BASE64");
    let output: Value = serde_json::from_slice(
        &BASE64
            .decode(output_capture["data"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(output, serde_json::json!([0.25, 0.75]));
    let meta = &line["eventMetadata"];
    assert_eq!(keys(meta), ["eventId", "inferenceTime"]);
    assert!(uuid::Uuid::parse_str(meta["eventId"].as_str().unwrap()).is_ok());
    let at = chrono::DateTime::parse_from_rfc3339(meta["inferenceTime"].as_str().unwrap()).unwrap();
    assert!((at.with_timezone(&Utc) - before).num_seconds().abs() <= 2);
    let ids: std::collections::HashSet<&str> = lines
        .iter()
        .map(|l| l["eventMetadata"]["eventId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);

    // A line cut short by a crash is skipped by the reader.
    std::fs::write(&files[0], format!("{text}{{\"captureData\": {{\"endp")).unwrap();
    let captured = read_captures(
        &bucket,
        "my-endpoint",
        before - chrono::Duration::hours(1),
        Keep::Scores,
        None,
    )
    .unwrap();
    assert_eq!(captured.len(), 3);
    assert!(captured.iter().all(|c| c.scores == Some([0.25, 0.75])));
    assert!(
        read_captures(
            &bucket,
            "my-endpoint",
            Utc::now() + chrono::Duration::hours(2),
            Keep::Scores,
            None,
        )
        .unwrap()
        .is_empty()
    );
}

/// `newest` bounds the reading, not only the answer: once the newest hours hold enough
/// records, older hours are not opened (here an older hour's file is a dangling link, which
/// fails the read whenever it is opened).
#[test]
fn the_newest_captures_are_read_without_opening_older_hours() {
    use chrono::TimeZone;
    use scones_workflow::capture::CaptureRecord;

    let tmp = tempfile::tempdir().unwrap();
    let bucket = LocalBucket::new(tmp.path().join("bucket"));
    let dir = scones_local::endpoint::capture::capture_dir(&bucket, "ep");
    let line = |minute: u32, hour: u32| {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, hour, minute, 0).unwrap();
        CaptureRecord::new(
            format!("{hour}-{minute}"),
            at,
            (b"png", "image/png"),
            (b"[0.9, 0.1]", "application/json"),
        )
        .to_line()
    };
    let older = dir.join("2026/01/01/10");
    let newer = dir.join("2026/01/01/11");
    std::fs::create_dir_all(&older).unwrap();
    std::fs::create_dir_all(&newer).unwrap();
    std::os::unix::fs::symlink(tmp.path().join("gone"), older.join("a.jsonl")).unwrap();
    let mut text = Vec::new();
    for minute in [5, 1, 9] {
        text.extend(line(minute, 11));
    }
    std::fs::write(newer.join("b.jsonl"), text).unwrap();
    let since = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();

    let two = read_captures(&bucket, "ep", since, Keep::Scores, Some(2)).unwrap();
    let ids: Vec<&str> = two.iter().map(|c| c.event_id.as_str()).collect();
    assert_eq!(ids, ["11-5", "11-9"], "the two newest, oldest first");
    // Asking for more than the newest hour holds opens the older hour, and fails on it.
    assert!(read_captures(&bucket, "ep", since, Keep::Scores, Some(4)).is_err());
    assert!(read_captures(&bucket, "ep", since, Keep::Scores, None).is_err());
}
