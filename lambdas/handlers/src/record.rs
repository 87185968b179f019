//! The one record every Lambda reads and returns, and its strict parser.
//!
//! Strictness is the point: each of the classic bugs of this workflow (a `body` wrapper,
//! JSON-in-a-string `inferences`, bytes for `image_data`, fields under `body.body`, ...) is a
//! shape this parser refuses with [`HandlerError::InvalidEvent`] and a reason naming the field.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::HandlerError;
use crate::scores::Scores;

/// `{s3_bucket, s3_key, image_data, inferences, model}`: the state machine input (with
/// `image_data`, `inferences` and `model` absent or empty) and every Lambda's input and
/// output.
///
/// Serialised, it always carries all five fields as plain JSON: `image_data` a base64 string
/// (empty before SerializeImageData), `inferences` an array of numbers (empty before
/// ClassifyImage, `[p_bicycle, p_motorcycle]` after), `model` the version of the model that
/// gave them (empty before ClassifyImage, and when the endpoint does not say), so every
/// execution records which model decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageRecord {
    /// The bucket holding the image.
    pub s3_bucket: String,
    /// The image's key.
    pub s3_key: String,
    /// The PNG, base64 (`""` until SerializeImageData ran).
    #[serde(default, deserialize_with = "base64_text")]
    pub image_data: String,
    /// `[p_bicycle, p_motorcycle]` (`[]` until ClassifyImage ran).
    #[serde(default, deserialize_with = "number_list")]
    pub inferences: Vec<f64>,
    /// The model version that classified it (`""` until ClassifyImage ran).
    #[serde(default, deserialize_with = "text_or_null")]
    pub model: String,
}

impl ImageRecord {
    /// The state machine input for one image, as the README documents it and a person types
    /// it in the console: `{"s3_bucket": .., "s3_key": ..}`. Both backends start executions
    /// with it; the Lambdas read it as [`ImageRecord::for_object`].
    pub fn execution_input(bucket: &str, key: &str) -> Value {
        serde_json::json!({"s3_bucket": bucket, "s3_key": key})
    }

    /// The record of one image before any state ran: the bucket and key, the other fields
    /// empty (what every handler reads the execution input as).
    pub fn for_object(bucket: impl Into<String>, key: impl Into<String>) -> Self {
        ImageRecord {
            s3_bucket: bucket.into(),
            s3_key: key.into(),
            image_data: String::new(),
            inferences: Vec::new(),
            model: String::new(),
        }
    }

    /// Parses a Lambda event into a record, or says exactly what is wrong with it.
    pub fn from_event(event: Value) -> Result<Self, HandlerError> {
        if let Some(reason) = wrong_envelope(&event) {
            return Err(HandlerError::invalid_event(reason));
        }
        let record: ImageRecord = serde_path_to_error::deserialize(event).map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner();
            if path == "." {
                HandlerError::invalid_event(inner.to_string())
            } else {
                HandlerError::invalid_event(format!("{path}: {inner}"))
            }
        })?;
        record.validate_location()?;
        Ok(record)
    }

    /// The record as the JSON value a handler returns.
    pub fn to_value(&self) -> Value {
        // Serialising a struct of strings and finite f64 cannot fail; NaN/inf never get in
        // because `inferences` is only set from validated `Scores`.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The decoded PNG bytes in `image_data`.
    pub fn image_bytes(&self) -> Result<Vec<u8>, HandlerError> {
        if self.image_data.is_empty() {
            return Err(HandlerError::invalid_event(
                "image_data is empty: the record must pass SerializeImageData first",
            ));
        }
        BASE64.decode(self.image_data.as_bytes()).map_err(|err| {
            HandlerError::invalid_event(format!("image_data is not valid base64: {err}"))
        })
    }

    /// The validated `[p_bicycle, p_motorcycle]` in `inferences`.
    pub fn scores(&self) -> Result<Scores, HandlerError> {
        Scores::from_slice(&self.inferences)
    }

    /// Size in bytes of this record serialised as JSON, without building the string.
    pub fn json_len(&self) -> usize {
        let mut counter = ByteCounter(0);
        // Writing into a counter cannot fail (see `to_value`).
        let _ = serde_json::to_writer(&mut counter, self);
        counter.0
    }

    fn validate_location(&self) -> Result<(), HandlerError> {
        if let Some(problem) = bucket_name_problem(&self.s3_bucket) {
            return Err(HandlerError::invalid_event(format!(
                "s3_bucket {:?} {problem}",
                self.s3_bucket
            )));
        }
        if self.s3_key.is_empty() {
            return Err(HandlerError::invalid_event("s3_key is empty"));
        }
        if self.s3_key.len() > 1024 {
            return Err(HandlerError::invalid_event(format!(
                "s3_key is {} bytes; S3 keys are at most 1024",
                self.s3_key.len()
            )));
        }
        if self.s3_key.starts_with("s3://") {
            return Err(HandlerError::invalid_event(
                "s3_key is a URL; give the key inside the bucket, e.g. test/bicycle_s_000513.png",
            ));
        }
        Ok(())
    }
}

/// Catches the envelope mistakes before serde, so the message names the mistake rather than
/// "unknown field".
fn wrong_envelope(event: &Value) -> Option<String> {
    match event {
        Value::Object(map) if map.contains_key("body") => Some(
            "found a `body` field: the record's fields are passed as a plain JSON object, never \
             wrapped in `body` (as a dict or as a JSON string)"
                .to_owned(),
        ),
        Value::Object(map) if map.contains_key("Payload") && !map.contains_key("s3_key") => Some(
            "found a Lambda invoke envelope (`Payload`): the state must unwrap it with \
             \"OutputPath\": \"$.Payload\""
                .to_owned(),
        ),
        Value::Object(_) => None,
        Value::String(_) => Some(
            "the event is a JSON string; the record is a JSON object, never JSON encoded in a \
             string"
                .to_owned(),
        ),
        other => Some(format!(
            "the event is {}, not a JSON object with s3_bucket and s3_key",
            json_kind(other)
        )),
    }
}

pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// S3 bucket naming rules that catch real mistakes (URLs, ARNs, paths, upper case).
fn bucket_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("is empty");
    }
    if !(3..=63).contains(&name.len()) {
        return Some("must be 3 to 63 characters long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Some("may contain only lower-case letters, digits, dots and hyphens");
    }
    None
}

struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `image_data`: a base64 string, or null/absent for "not serialised yet". An array (bytes)
/// or any other type is refused by name.
fn base64_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    struct Base64Text;
    impl<'de> Visitor<'de> for Base64Text {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a base64-encoded PNG as a string (never raw bytes)")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
            Ok(v)
        }
        fn visit_unit<E: de::Error>(self) -> Result<String, E> {
            Ok(String::new())
        }
        fn visit_none<E: de::Error>(self) -> Result<String, E> {
            Ok(String::new())
        }
    }
    deserializer.deserialize_any(Base64Text)
}

/// `model`: a string, or null/absent for "not classified yet".
fn text_or_null<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.unwrap_or_default())
}

/// `inferences`: an array of numbers, or null/absent for "not classified yet". A string
/// (JSON-in-a-string) is refused by name.
fn number_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<f64>, D::Error> {
    struct NumberList;
    impl<'de> Visitor<'de> for NumberList {
        type Value = Vec<f64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of numbers [p_bicycle, p_motorcycle]")
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Vec<f64>, E> {
            Err(E::custom(
                "inferences is a string; it must be a JSON array of numbers, never JSON encoded \
                 in a string",
            ))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<f64>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(2).min(16));
            while let Some(v) = seq.next_element::<f64>()? {
                out.push(v);
            }
            Ok(out)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Vec<f64>, E> {
            Ok(Vec::new())
        }
        fn visit_none<E: de::Error>(self) -> Result<Vec<f64>, E> {
            Ok(Vec::new())
        }
    }
    deserializer.deserialize_any(NumberList)
}
