//! The eight ways public implementations of this workflow get the event contract wrong
//! (DESIGN.md, "Event contract"), each shown to be impossible here.

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use scones_handlers::{ErrorName, HandlerError, ImageRecord, classify_image, serialize_image_data};
use scones_workflow::Threshold;
use serde_json::{Value, json};
use support::filter;
use support::*;

fn classified_record() -> Value {
    let serialized = block_on(serialize_image_data(
        &store_with_sample(),
        execution_input(),
    ))
    .expect("sample serializes");
    block_on(classify_image(&confident_endpoint(), serialized.to_value()))
        .expect("sample classifies")
        .to_value()
}

fn expect_invalid(result: Result<ImageRecord, HandlerError>, needle: &str) {
    match result {
        Err(err @ HandlerError::InvalidEvent { .. }) => {
            assert_eq!(err.name(), "InvalidEvent");
            assert!(
                err.to_string().contains(needle),
                "message {:?} should mention {needle:?}",
                err.to_string()
            );
        }
        other => panic!("expected InvalidEvent mentioning {needle:?}, got {other:?}"),
    }
}

/// 1. Low confidence is a typed error with a stable name, never a TypeError from raising a
///    non-exception (the seed's `raise("THRESHOLD_CONFIDENCE_NOT_MET")`).
#[test]
fn low_confidence_is_a_typed_error_with_a_stable_name() {
    let mut record = classified_record();
    record["inferences"] = json!([0.6, 0.4]);
    let err = filter(Threshold::DEFAULT, record).unwrap_err();
    assert_eq!(err.error_name(), ErrorName::LowConfidence);
    assert_eq!(err.name(), "LowConfidence");
    let message = err.to_string();
    for part in ["0.93", "p_bicycle=0.6000", "p_motorcycle=0.4000"] {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

/// 2. `body` as a dict in one Lambda and a JSON string in the next: there is no `body`.
#[test]
fn a_body_wrapper_is_refused_whether_dict_or_string() {
    let inner = execution_input();
    let as_dict = json!({"statusCode": 200, "body": inner.clone()});
    let as_string = json!({"statusCode": 200, "body": inner.to_string()});
    for event in [as_dict, as_string] {
        expect_invalid(
            block_on(serialize_image_data(&store_with_sample(), event.clone())),
            "body",
        );
        expect_invalid(
            block_on(classify_image(&confident_endpoint(), event.clone())),
            "body",
        );
        expect_invalid(filter(Threshold::DEFAULT, event), "body");
    }
    let output = classified_record();
    assert!(output.get("body").is_none());
}

/// 3. `inferences` left as a JSON string.
#[test]
fn inferences_as_a_json_string_are_refused_and_never_emitted() {
    let mut record = classified_record();
    assert!(record["inferences"].is_array(), "emitted as an array");
    assert!(
        record["inferences"]
            .as_array()
            .unwrap()
            .iter()
            .all(Value::is_number)
    );
    record["inferences"] = json!("[0.97, 0.03]");
    expect_invalid(
        filter(Threshold::DEFAULT, record),
        "never JSON encoded in a string",
    );
}

/// 4. `image_data` as bytes.
#[test]
fn image_data_is_a_base64_string_never_bytes() {
    let record = classified_record();
    let text = record["image_data"]
        .as_str()
        .expect("image_data is a string");
    assert_eq!(BASE64.decode(text).unwrap(), sample_png());

    let mut as_bytes = record.clone();
    as_bytes["image_data"] = json!(sample_png());
    expect_invalid(
        block_on(classify_image(&confident_endpoint(), as_bytes)),
        "never raw bytes",
    );
    let mut not_base64 = record;
    not_base64["image_data"] = json!("b'\\x89PNG...'");
    expect_invalid(
        block_on(classify_image(&confident_endpoint(), not_base64)),
        "not valid base64",
    );
}

/// 5. Fields nested under `body.body`.
#[test]
fn fields_nested_under_body_body_are_refused() {
    let event = json!({"body": {"body": execution_input()}});
    expect_invalid(
        block_on(serialize_image_data(&store_with_sample(), event.clone())),
        "body",
    );
    expect_invalid(filter(Threshold::DEFAULT, event), "body");
}

/// 6. Dropping `s3_bucket`/`s3_key` downstream: every output carries them unchanged, and a
///    record without them is refused by name.
#[test]
fn s3_location_survives_every_step_and_is_required() {
    let serialized = block_on(serialize_image_data(
        &store_with_sample(),
        execution_input(),
    ))
    .unwrap()
    .to_value();
    let classified = block_on(classify_image(&confident_endpoint(), serialized.clone()))
        .unwrap()
        .to_value();
    let filtered = filter(Threshold::DEFAULT, classified.clone())
        .unwrap()
        .to_value();
    for output in [&serialized, &classified, &filtered] {
        assert_eq!(output["s3_bucket"], BUCKET);
        assert_eq!(output["s3_key"], KEY);
    }
    for field in ["s3_bucket", "s3_key"] {
        let mut without = filtered.clone();
        without.as_object_mut().unwrap().remove(field);
        expect_invalid(filter(Threshold::DEFAULT, without), field);
    }
}

/// 7. Swallowing errors and returning statusCode 500 so the execution "succeeds": failures
///    are `Err`, and a successful output is exactly the record, with no status field.
#[test]
fn failures_are_errors_not_status_codes() {
    let missing = block_on(serialize_image_data(
        &store_with_sample(),
        json!({"s3_bucket": BUCKET, "s3_key": "test/missing.png"}),
    ));
    assert_eq!(missing.unwrap_err().error_name(), ErrorName::ObjectNotFound);

    let failed = block_on(classify_image(
        &scones_handlers::fakes::StaticEndpoint::failing("model container exited"),
        block_on(serialize_image_data(
            &store_with_sample(),
            execution_input(),
        ))
        .unwrap()
        .to_value(),
    ));
    assert_eq!(failed.unwrap_err().error_name(), ErrorName::EndpointFailed);

    let output = classified_record();
    let mut keys: Vec<&str> = output
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["image_data", "inferences", "model", "s3_bucket", "s3_key"]
    );

    let mut with_status = output;
    with_status["statusCode"] = json!(500);
    expect_invalid(filter(Threshold::DEFAULT, with_status), "statusCode");
}

/// 8. A different input event shape per Lambda: all three read one type, so each accepts
///    the state machine input shape and each other's output.
#[test]
fn one_event_shape_for_all_three_lambdas() {
    let input = execution_input();
    // The state machine input parses as the record every handler reads.
    let parsed = ImageRecord::from_event(input.clone()).unwrap();
    assert_eq!(parsed, ImageRecord::for_object(BUCKET, KEY));
    assert_eq!(
        parsed.to_value(),
        json!({
            "s3_bucket": BUCKET, "s3_key": KEY, "image_data": "", "inferences": [], "model": ""
        })
    );

    // Each handler's output is a valid input of every handler (what each may then still
    // require is a field, never a shape).
    let serialized = block_on(serialize_image_data(&store_with_sample(), input)).unwrap();
    let classified =
        block_on(classify_image(&confident_endpoint(), serialized.to_value())).unwrap();
    for output in [&serialized, &classified] {
        let value = output.to_value();
        assert_eq!(ImageRecord::from_event(value.clone()).unwrap(), *output);
        block_on(serialize_image_data(&store_with_sample(), value.clone())).unwrap();
        block_on(classify_image(&confident_endpoint(), value)).unwrap();
    }
    filter(Threshold::DEFAULT, classified.to_value()).unwrap();
    // ClassifyImage records which model answered.
    assert_eq!(classified.model, scones_handlers::fakes::FAKE_MODEL);
}

/// The guard: a confident decision is held with `DriftHold` (the cause names the statistics
/// and since when, and reads back), an unconfident one is still `LowConfidence`, and with no
/// hold the record passes; an accepted decision is drawn for audit at the policy's rate.
#[test]
fn a_held_guard_turns_confident_decisions_into_drift_holds() {
    use chrono::TimeZone;
    use scones_handlers::{FilterPolicy, filter_low_confidence};
    use scones_workflow::cause::DriftHoldCause;
    use scones_workflow::guard::{By, Hold};
    let hold = Hold {
        since: chrono::Utc.with_ymd_and_hms(2026, 12, 6, 21, 0, 0).unwrap(),
        by: By::Drift,
        statistics: vec!["contrast".into()],
        ok_windows: 0,
    };
    let held = FilterPolicy {
        threshold: Threshold::DEFAULT,
        hold: Some(&hold),
        audit_rate: 1.0,
    };
    let confident = classified_record();
    let err = filter_low_confidence(&held, confident.clone()).unwrap_err();
    assert_eq!(err.error_name(), ErrorName::DriftHold);
    assert_eq!(err.name(), "DriftHold");
    let cause = DriftHoldCause::parse(&err.to_string()).unwrap();
    assert_eq!(
        (cause.since, cause.statistics.clone()),
        (hold.since, hold.statistics.clone())
    );
    assert_eq!(cause.p_bicycle, 0.97);
    let mut unsure = confident.clone();
    unsure["inferences"] = json!([0.6, 0.4]);
    assert_eq!(
        filter_low_confidence(&held, unsure)
            .unwrap_err()
            .error_name(),
        ErrorName::LowConfidence
    );
    let open = FilterPolicy { hold: None, ..held };
    let accepted = filter_low_confidence(&open, confident.clone()).unwrap();
    assert!(accepted.audit, "rate 1: every accepted decision is audited");
    let never = FilterPolicy {
        audit_rate: 0.0,
        ..open
    };
    assert!(!filter_low_confidence(&never, confident).unwrap().audit);
}
