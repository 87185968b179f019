//! The three handlers in sequence, as the state machine runs them, with in-memory fakes.

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use scones_handlers::fakes::StaticEndpoint;
use scones_handlers::{HandlerError, ImageRecord, classify_image, serialize_image_data};
use scones_workflow::Threshold;
use support::filter;
use support::*;

fn run_chain(endpoint: &StaticEndpoint, threshold: Threshold) -> Result<ImageRecord, HandlerError> {
    block_on(async {
        let serialized = serialize_image_data(&store_with_sample(), execution_input()).await?;
        let classified = classify_image(endpoint, serialized.to_value()).await?;
        filter(threshold, classified.to_value())
    })
}

#[test]
fn bucket_and_key_become_the_full_record() {
    let endpoint = StaticEndpoint::scores(0.02, 0.98);
    let record = run_chain(&endpoint, Threshold::DEFAULT).unwrap();
    assert_eq!(record.s3_bucket, BUCKET);
    assert_eq!(record.s3_key, KEY);
    assert_eq!(BASE64.decode(&record.image_data).unwrap(), sample_png());
    assert_eq!(record.inferences, vec![0.02, 0.98]);
    assert_eq!(record.scores().unwrap().predicted_class(), "motorcycle");

    // The endpoint got the PNG itself, as image/png.
    assert_eq!(endpoint.calls(), 1);
    let (body, content_type) = endpoint.last_request().unwrap();
    assert_eq!(body, sample_png());
    assert_eq!(content_type, "image/png");
}

#[test]
fn a_low_score_ends_in_the_typed_error() {
    let err = run_chain(&StaticEndpoint::scores(0.71, 0.29), Threshold::DEFAULT).unwrap_err();
    assert_eq!(
        err,
        HandlerError::LowConfidence {
            threshold: 0.93,
            p_bicycle: 0.71,
            p_motorcycle: 0.29
        }
    );
}

#[test]
fn the_threshold_is_inclusive_and_configurable() {
    let exactly = StaticEndpoint::scores(0.93, 0.07);
    assert!(run_chain(&exactly, Threshold::DEFAULT).is_ok());
    let strict = Threshold::new(0.99).unwrap();
    assert_eq!(
        run_chain(&exactly, strict).unwrap_err().name(),
        "LowConfidence"
    );
}
