//! SageMaker data capture in S3: listing the capture objects of a window and reading their
//! JSON Lines records.
//!
//! SageMaker writes `<prefix><endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl`, one record a
//! line: `{"captureData": {"endpointInput": {..}, "endpointOutput": {"observedContentType",
//! "mode", "data", "encoding"}}, "eventMetadata": {"eventId", "inferenceTime"},
//! "eventVersion": "0"}`. `encoding` is `BASE64`, `JSON` or `CSV`; the classifier's output
//! is `[p_bicycle, p_motorcycle]`.

use base64::Engine;
use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::error::AwsError;

/// One capture object.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureObject {
    /// Key.
    pub key: String,
    /// ETag (changes when the object is replaced).
    pub etag: Option<String>,
    /// Size in bytes.
    pub size: i64,
}

/// One captured inference.
#[derive(Debug, Clone, PartialEq)]
pub struct CapturedInference {
    /// `eventMetadata.eventId`.
    pub event_id: String,
    /// `eventMetadata.inferenceTime`.
    pub time: DateTime<Utc>,
    /// The output `[p_bicycle, p_motorcycle]`, when it is one.
    pub scores: Option<[f64; 2]>,
}

/// The folder of one endpoint variant's capture: `<prefix><endpoint>/<variant>/`.
pub fn variant_prefix(base: &str, endpoint: &str, variant: &str) -> String {
    let base = base.trim_start_matches('/');
    let base = if base.is_empty() || base.ends_with('/') {
        base.to_owned()
    } else {
        format!("{base}/")
    };
    format!("{base}{endpoint}/{variant}/")
}

/// The key prefix of the hour folder holding `t`.
pub fn hour_prefix(variant_prefix: &str, t: DateTime<Utc>) -> String {
    format!(
        "{variant_prefix}{:04}/{:02}/{:02}/{:02}/",
        t.year(),
        t.month(),
        t.day(),
        t.hour()
    )
}

/// Capture objects whose hour folder is at or after `since`'s hour, in key (= time) order.
/// One `ListObjectsV2` call per 1000 objects: the listing starts after the last key that
/// sorts before `since`'s hour, so older hours are never listed.
pub async fn list_objects(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    variant_prefix: &str,
    since: DateTime<Utc>,
) -> Result<Vec<CaptureObject>, AwsError> {
    // Keys of the previous hours all sort before "<hour prefix>" and after it come this
    // hour's files: start after the prefix itself minus its last character.
    let hour = hour_prefix(variant_prefix, since);
    let start_after = hour.trim_end_matches('/').to_owned();
    let mut objects = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(variant_prefix)
            .start_after(&start_after)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListObjectsV2", e))?;
        for o in out.contents() {
            let Some(key) = o.key() else { continue };
            if !key.ends_with(".jsonl") {
                continue;
            }
            objects.push(CaptureObject {
                key: key.to_owned(),
                etag: o.e_tag().map(str::to_owned),
                size: o.size().unwrap_or(0),
            });
        }
        match out.next_continuation_token() {
            Some(t) if out.is_truncated().unwrap_or(false) => token = Some(t.to_owned()),
            _ => break,
        }
    }
    Ok(objects)
}

/// Reads one object's bytes.
pub async fn get_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Vec<u8>, AwsError> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetObject", e))?;
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| AwsError::protocol("GetObject", format!("reading {key}: {e}")))?;
    Ok(bytes.into_bytes().to_vec())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    capture_data: CaptureData,
    event_metadata: EventMetadata,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CaptureData {
    endpoint_output: Payload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    data: String,
    #[serde(default)]
    encoding: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventMetadata {
    event_id: String,
    inference_time: String,
}

/// Records of one JSON Lines capture file, and how many lines could not be read (a line
/// cut short, another format).
pub fn parse_jsonl(bytes: &[u8]) -> (Vec<CapturedInference>, usize) {
    let mut out = Vec::new();
    let mut skipped = 0;
    for line in bytes.split(|b| *b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_record(line) {
            Some(r) => out.push(r),
            None => skipped += 1,
        }
    }
    (out, skipped)
}

fn parse_record(line: &[u8]) -> Option<CapturedInference> {
    let record: Record = serde_json::from_slice(line).ok()?;
    let time = DateTime::parse_from_rfc3339(&record.event_metadata.inference_time)
        .ok()?
        .with_timezone(&Utc);
    Some(CapturedInference {
        event_id: record.event_metadata.event_id,
        time,
        scores: decode_scores(&record.capture_data.endpoint_output),
    })
}

fn decode_scores(output: &Payload) -> Option<[f64; 2]> {
    let text = match output.encoding.to_ascii_uppercase().as_str() {
        "BASE64" => String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(output.data.trim())
                .ok()?,
        )
        .ok()?,
        _ => output.data.clone(),
    };
    scores_of_text(&text)
}

/// `[p_bicycle, p_motorcycle]` from an endpoint answer: a JSON array (or an object holding
/// one under `predictions`/`probabilities`), or CSV `p_bicycle,p_motorcycle`.
pub fn scores_of_text(text: &str) -> Option<[f64; 2]> {
    let text = text.trim();
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        let array = match &v {
            Value::Array(_) => &v,
            Value::Object(o) => o.get("predictions").or_else(|| o.get("probabilities"))?,
            _ => return None,
        };
        let array = match array.as_array()?.as_slice() {
            // [[p_b, p_m]] from batch-shaped answers.
            [inner @ Value::Array(_)] => inner.as_array()?,
            _ => array.as_array()?,
        };
        return match array.as_slice() {
            [b, m] => Some([b.as_f64()?, m.as_f64()?]),
            _ => None,
        };
    }
    let mut parts = text.split(',').map(|p| p.trim().parse::<f64>());
    match (parts.next(), parts.next(), parts.next()) {
        (Some(Ok(b)), Some(Ok(m)), None) => Some([b, m]),
        _ => None,
    }
}

/// The first hour worth listing for a window starting at `start` (SageMaker files an
/// inference under the hour it was written, which can lag the inference a little).
pub fn listing_start(start: DateTime<Utc>) -> DateTime<Utc> {
    start - Duration::minutes(5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_follow_sagemakers_layout() {
        let p = variant_prefix("datacapture", "scones-endpoint", "AllTraffic");
        assert_eq!(p, "datacapture/scones-endpoint/AllTraffic/");
        assert_eq!(variant_prefix("datacapture/", "e", "v"), "datacapture/e/v/");
        assert_eq!(variant_prefix("", "e", "v"), "e/v/");
        let t = DateTime::parse_from_rfc3339("2025-03-04T05:06:07Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            hour_prefix(&p, t),
            "datacapture/scones-endpoint/AllTraffic/2025/03/04/05/"
        );
    }

    #[test]
    fn reads_base64_json_and_csv_outputs_and_counts_bad_lines() {
        let b64 = base64::engine::general_purpose::STANDARD.encode("[0.91, 0.09]");
        let text = format!(
            "{{\"captureData\":{{\"endpointInput\":{{\"observedContentType\":\"image/png\",\"mode\":\"INPUT\",\"data\":\"iVBO\",\"encoding\":\"BASE64\"}},\"endpointOutput\":{{\"observedContentType\":\"application/json\",\"mode\":\"OUTPUT\",\"data\":\"{b64}\",\"encoding\":\"BASE64\"}}}},\"eventMetadata\":{{\"eventId\":\"e1\",\"inferenceTime\":\"2025-01-01T00:00:01Z\"}},\"eventVersion\":\"0\"}}\n\
             {{\"captureData\":{{\"endpointOutput\":{{\"data\":\"[0.2,0.8]\",\"encoding\":\"JSON\"}}}},\"eventMetadata\":{{\"eventId\":\"e2\",\"inferenceTime\":\"2025-01-01T00:00:02.500Z\"}}}}\n\
             {{\"captureData\":{{\"endpointOutput\":{{\"data\":\"0.5,0.5\",\"encoding\":\"CSV\"}}}},\"eventMetadata\":{{\"eventId\":\"e3\",\"inferenceTime\":\"2025-01-01T00:00:03Z\"}}}}\n\
             {{\"captureData\": truncated\n\n"
        );
        let (records, skipped) = parse_jsonl(text.as_bytes());
        assert_eq!(skipped, 1);
        let scores: Vec<_> = records.iter().map(|r| r.scores).collect();
        assert_eq!(
            scores,
            vec![Some([0.91, 0.09]), Some([0.2, 0.8]), Some([0.5, 0.5])]
        );
        assert_eq!(records[1].event_id, "e2");
        assert_eq!(records[1].time.timestamp_millis(), 1_735_689_602_500);
    }

    #[test]
    fn scores_accept_the_common_answer_shapes() {
        assert_eq!(scores_of_text("[0.3, 0.7]"), Some([0.3, 0.7]));
        assert_eq!(scores_of_text("[[0.3, 0.7]]"), Some([0.3, 0.7]));
        assert_eq!(
            scores_of_text(r#"{"predictions": [0.3, 0.7]}"#),
            Some([0.3, 0.7])
        );
        assert_eq!(scores_of_text("[0.3, 0.7, 0.0]"), None);
        assert_eq!(scores_of_text("garbage"), None);
    }
}
