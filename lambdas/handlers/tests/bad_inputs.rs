//! Each class of bad input and the error name the user sees for it. README.md's "Bad input"
//! table mirrors this file; `readme_lists_every_error_name` keeps the two from drifting.

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

mod support;

use scones_handlers::fakes::{MemoryStore, StaticEndpoint, png};
use scones_handlers::{
    ErrorName, FetchError, HandlerError, ImageRecord, ObjectStore, classify_image,
    serialize_image_data,
};
use scones_workflow::Threshold;
use scones_workflow::limits::MAX_IMAGE_BYTES;
use serde_json::{Value, json};
use support::filter as filter_at;
use support::*;

fn serialize_with(store: &impl ObjectStore, event: Value) -> Result<ImageRecord, HandlerError> {
    block_on(serialize_image_data(store, event))
}

fn classify_with(endpoint: &StaticEndpoint) -> Result<ImageRecord, HandlerError> {
    let record = serialize_with(&store_with_sample(), execution_input()).unwrap();
    block_on(classify_image(endpoint, record.to_value()))
}

fn filter(inferences: Value) -> Result<ImageRecord, HandlerError> {
    let mut record = serialize_with(&store_with_sample(), execution_input())
        .unwrap()
        .to_value();
    record["inferences"] = inferences;
    filter_at(Threshold::DEFAULT, record)
}

fn assert_name(case: &str, result: Result<ImageRecord, HandlerError>, expected: ErrorName) {
    match result {
        Err(err) => assert_eq!(err.error_name(), expected, "{case}: {err}"),
        Ok(record) => panic!(
            "{case}: expected {expected}, got a record for {}",
            record.s3_key
        ),
    }
}

#[test]
fn malformed_events_are_invalid_event() {
    let cases = [
        ("a JSON string", json!("{\"s3_bucket\": \"b\"}")),
        ("an array", json!([1, 2])),
        ("null", Value::Null),
        ("a body wrapper", json!({"body": execution_input()})),
        (
            "an invoke envelope",
            json!({"Payload": execution_input(), "StatusCode": 200}),
        ),
        ("no s3_key", json!({"s3_bucket": BUCKET})),
        ("no s3_bucket", json!({"s3_key": KEY})),
        (
            "a number as s3_key",
            json!({"s3_bucket": BUCKET, "s3_key": 7}),
        ),
        (
            "a URL as bucket",
            json!({"s3_bucket": "s3://scones", "s3_key": KEY}),
        ),
        (
            "a URL as key",
            json!({"s3_bucket": BUCKET, "s3_key": "s3://b/k.png"}),
        ),
        ("an empty key", json!({"s3_bucket": BUCKET, "s3_key": ""})),
        (
            "an unknown field",
            json!({"s3_bucket": BUCKET, "s3_key": KEY, "label": 1}),
        ),
        (
            "image_data as bytes",
            json!({"s3_bucket": BUCKET, "s3_key": KEY, "image_data": [137, 80]}),
        ),
        (
            "inferences as a string",
            json!({"s3_bucket": BUCKET, "s3_key": KEY, "inferences": "[1, 0]"}),
        ),
        (
            "inferences with a string",
            json!({"s3_bucket": BUCKET, "s3_key": KEY, "inferences": [1, "0"]}),
        ),
    ];
    for (case, event) in cases {
        assert_name(
            case,
            serialize_with(&store_with_sample(), event.clone()),
            ErrorName::InvalidEvent,
        );
        assert_name(
            case,
            filter_at(Threshold::DEFAULT, event),
            ErrorName::InvalidEvent,
        );
    }
    // ClassifyImage needs the image itself.
    assert_name(
        "classify before serialize",
        block_on(classify_image(&confident_endpoint(), execution_input())),
        ErrorName::InvalidEvent,
    );
}

#[test]
fn object_problems_have_their_own_names() {
    assert_name(
        "missing object",
        serialize_with(
            &store_with_sample(),
            json!({"s3_bucket": BUCKET, "s3_key": "test/nope.png"}),
        ),
        ErrorName::ObjectNotFound,
    );

    struct DeniedStore;
    impl ObjectStore for DeniedStore {
        async fn get_object(&self, _: &str, _: &str, _: usize) -> Result<Vec<u8>, FetchError> {
            Err(FetchError::Unreadable("AccessDenied".into()))
        }
    }
    let err = serialize_with(&DeniedStore, execution_input()).unwrap_err();
    assert_eq!(err.error_name(), ErrorName::ObjectUnreadable);
    assert!(err.to_string().contains("AccessDenied"));

    let mut truncated = sample_png();
    truncated.truncate(truncated.len() / 2);
    let wide = png(5000, 1, [1, 2, 3]); // a canvas over the 4096 px bound
    for (case, bytes) in [
        ("text", b"hello, not an image".to_vec()),
        (
            "a JPEG header",
            vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F'],
        ),
        ("a truncated PNG", truncated),
        ("an empty object", Vec::new()),
        ("an oversized canvas", wide),
    ] {
        let store = MemoryStore::new().with(BUCKET, KEY, bytes);
        assert_name(
            case,
            serialize_with(&store, execution_input()),
            ErrorName::ImageUndecodable,
        );
    }

    let store = MemoryStore::new().with(BUCKET, KEY, vec![0u8; MAX_IMAGE_BYTES + 1]);
    let err = serialize_with(&store, execution_input()).unwrap_err();
    assert_eq!(err.error_name(), ErrorName::ImageTooLarge);
    assert!(err.to_string().contains("262144-byte"), "{err}");
}

#[test]
fn endpoint_problems_are_endpoint_failed_or_malformed_inferences() {
    assert_name(
        "endpoint down",
        classify_with(&StaticEndpoint::failing("connection refused")),
        ErrorName::EndpointFailed,
    );
    for (case, body) in [
        ("not JSON", &b"<html>502</html>"[..]),
        ("NaN", b"[NaN, 0.5]"),
        ("an object", b"{\"predictions\": [0.9, 0.1]}"),
        ("three classes", b"[0.5, 0.3, 0.2]"),
        ("one class", b"[1.0]"),
        ("negative", b"[1.2, -0.2]"),
        ("not summing to 1", b"[0.5, 0.2]"),
        ("strings", b"[\"0.9\", \"0.1\"]"),
    ] {
        assert_name(
            case,
            classify_with(&StaticEndpoint::raw(body)),
            ErrorName::MalformedInferences,
        );
    }
}

#[test]
fn filter_problems_are_malformed_inferences_or_low_confidence() {
    for (case, inferences) in [
        ("empty", json!([])),
        ("absent", Value::Null),
        ("three values", json!([0.5, 0.25, 0.25])),
        ("out of range", json!([1.5, -0.5])),
        ("sum 0.5", json!([0.25, 0.25])),
    ] {
        assert_name(case, filter(inferences), ErrorName::MalformedInferences);
    }
    assert_name(
        "below threshold",
        filter(json!([0.5, 0.5])),
        ErrorName::LowConfidence,
    );
    assert!(filter(json!([0.05, 0.95])).is_ok());
}

#[test]
fn readme_lists_every_error_name() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md at the repository root");
    for name in ErrorName::ALL {
        assert!(
            readme.contains(&format!("`{name}`")),
            "README.md does not document the error name `{name}`"
        );
    }
}
