//! Property tests: whatever arrives as an event, an object or an endpoint answer, the
//! handlers never panic and always return either a valid record or a typed error.

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

mod support;

use proptest::prelude::*;
use scones_handlers::fakes::{MemoryStore, StaticEndpoint};
use scones_handlers::{ErrorName, HandlerError, ImageRecord, classify_image, serialize_image_data};
use scones_workflow::Threshold;
use serde_json::{Map, Value, json};
use support::filter;
use support::*;

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("JSON has no NaN/inf", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,24}".prop_map(Value::String),
        prop_oneof![Just(BUCKET), Just(KEY), Just("body"), Just("s3_key")]
            .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let key = prop_oneof![
            Just("s3_bucket".to_owned()),
            Just("s3_key".to_owned()),
            Just("image_data".to_owned()),
            Just("inferences".to_owned()),
            Just("body".to_owned()),
            "[a-z_]{1,10}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key, inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A successful output must be a record that parses back to itself with all four fields.
fn assert_valid(result: Result<ImageRecord, HandlerError>) {
    match result {
        Ok(record) => {
            let value = record.to_value();
            let object = value.as_object().expect("records serialise as objects");
            assert_eq!(object.len(), 4);
            assert!(value["image_data"].is_string());
            assert!(value["inferences"].is_array());
            assert_eq!(ImageRecord::from_event(value).unwrap(), record);
        }
        Err(err) => assert!(ErrorName::ALL.contains(&err.error_name())),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_events_give_a_record_or_a_typed_error(event in arb_json()) {
        assert_valid(block_on(serialize_image_data(&store_with_sample(), event.clone())));
        assert_valid(block_on(classify_image(&confident_endpoint(), event.clone())));
        assert_valid(filter(Threshold::DEFAULT, event));
    }

    #[test]
    fn arbitrary_bytes_as_the_image_give_a_record_or_a_typed_error(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        keep_png_signature in any::<bool>(),
    ) {
        let mut bytes = bytes;
        if keep_png_signature {
            // Get past the signature check so the decoder itself sees the garbage.
            let mut signed = b"\x89PNG\r\n\x1a\n".to_vec();
            signed.extend(bytes);
            bytes = signed;
        }
        let store = MemoryStore::new().with(BUCKET, KEY, bytes);
        let result = block_on(serialize_image_data(&store, execution_input()));
        if let Err(err) = &result {
            prop_assert_eq!(err.error_name(), ErrorName::ImageUndecodable);
        }
        assert_valid(result);
    }

    #[test]
    fn arbitrary_endpoint_answers_give_scores_or_malformed_inferences(
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            prop::collection::vec(any::<f64>(), 0..4).prop_map(|v| format!("{v:?}").into_bytes()),
        ]
    ) {
        let serialized = block_on(serialize_image_data(&store_with_sample(), execution_input()))
            .unwrap();
        let result = block_on(classify_image(&StaticEndpoint::raw(body), serialized.to_value()));
        match &result {
            Ok(record) => {
                let scores = record.scores().unwrap();
                prop_assert!((scores.p_bicycle + scores.p_motorcycle - 1.0).abs() <= 1e-3);
            }
            Err(err) => prop_assert_eq!(err.error_name(), ErrorName::MalformedInferences),
        }
        assert_valid(result);
    }

    #[test]
    fn the_filter_decision_matches_the_threshold(p in 0.0f64..=1.0, t in 0.01f64..=1.0) {
        let threshold = Threshold::new(t).unwrap();
        let mut record = ImageRecord::for_object(BUCKET, KEY).to_value();
        record["inferences"] = json!([p, 1.0 - p]);
        let result = filter(threshold, record);
        let confident = p.max(1.0 - p) >= t;
        prop_assert_eq!(result.is_ok(), confident);
        if let Err(err) = result {
            prop_assert_eq!(err.error_name(), ErrorName::LowConfidence);
        }
    }
}
