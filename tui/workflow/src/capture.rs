//! SageMaker data capture, defined once: the JSON Lines record the endpoint writes (the local
//! endpoint writes it with [`CaptureRecord::new`], SageMaker writes it on AWS) and the one
//! reader both backends use ([`parse_jsonl`]).
//!
//! SageMaker files records under `<prefix><endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl`,
//! one a line:
//!
//! ```json
//! {"captureData": {
//!    "endpointInput":  {"observedContentType": "image/png", "mode": "INPUT",
//!                       "data": "<base64>", "encoding": "BASE64"},
//!    "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
//!                       "data": "<base64>", "encoding": "BASE64"}},
//!  "eventMetadata": {"eventId": "<uuid>", "inferenceTime": "2024-05-01T12:00:00Z"},
//!  "eventVersion": "0"}
//! ```
//!
//! `encoding` is `BASE64`, `JSON` or `CSV`; the classifier's output is
//! `[p_bicycle, p_motorcycle]`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::port::{CapturePoint, CaptureSample, TimeRange};

/// SageMaker's variant name for a single-variant endpoint.
pub const DEFAULT_VARIANT: &str = "AllTraffic";

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

/// The first hour worth listing for a window starting at `start` (SageMaker files an
/// inference under the hour it was written, which can lag the inference a little).
pub fn listing_start(start: DateTime<Utc>) -> DateTime<Utc> {
    start - Duration::minutes(5)
}

/// One captured payload (input or output).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapturedPayload {
    /// Content type of the payload.
    #[serde(default)]
    pub observed_content_type: String,
    /// `INPUT` or `OUTPUT`.
    #[serde(default)]
    pub mode: String,
    /// The payload, encoded per `encoding`.
    pub data: String,
    /// `BASE64`, `JSON` or `CSV`.
    #[serde(default)]
    pub encoding: String,
}

impl CapturedPayload {
    /// A payload stored base64-encoded, as the endpoint captures binary bodies.
    pub fn base64(mode: &str, content_type: &str, body: &[u8]) -> CapturedPayload {
        CapturedPayload {
            observed_content_type: content_type.to_owned(),
            mode: mode.to_owned(),
            data: BASE64.encode(body),
            encoding: "BASE64".to_owned(),
        }
    }

    /// The payload's bytes (decoded when base64; the text itself otherwise).
    pub fn bytes(&self) -> Option<Vec<u8>> {
        if self.encoding.eq_ignore_ascii_case("BASE64") {
            BASE64.decode(self.data.trim()).ok()
        } else {
            Some(self.data.as_bytes().to_vec())
        }
    }
}

/// `captureData`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaptureData {
    /// The request (SageMaker may leave it out when input capture is off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_input: Option<CapturedPayload>,
    /// The response.
    pub endpoint_output: CapturedPayload,
}

/// `eventMetadata`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventMetadata {
    /// Unique id of the inference.
    pub event_id: String,
    /// When it happened (RFC 3339, UTC).
    pub inference_time: String,
}

/// One line of a capture file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaptureRecord {
    /// Input and output.
    pub capture_data: CaptureData,
    /// Id and time.
    pub event_metadata: EventMetadata,
    /// Always `"0"`.
    #[serde(default)]
    pub event_version: String,
}

impl CaptureRecord {
    /// The record of one inference with binary input and output bodies, as SageMaker writes
    /// it (both base64, the time to the second).
    pub fn new(
        event_id: String,
        at: DateTime<Utc>,
        input: (&[u8], &str),
        output: (&[u8], &str),
    ) -> CaptureRecord {
        CaptureRecord {
            capture_data: CaptureData {
                endpoint_input: Some(CapturedPayload::base64("INPUT", input.1, input.0)),
                endpoint_output: CapturedPayload::base64("OUTPUT", output.1, output.0),
            },
            event_metadata: EventMetadata {
                event_id,
                inference_time: at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            },
            event_version: "0".to_owned(),
        }
    }

    /// The record as one line of a capture file, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        // A struct of strings always serialises.
        let mut line = serde_json::to_vec(self).unwrap_or_default();
        line.push(b'\n');
        line
    }
}

/// Which parts of a record to keep when reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Keep {
    /// Id, time and scores (what charts need).
    #[default]
    Scores,
    /// Also the decoded input body (what input-drift statistics need).
    Input,
}

/// One captured inference, decoded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapturedInference {
    /// `eventMetadata.eventId`.
    pub event_id: String,
    /// `eventMetadata.inferenceTime`.
    pub time: DateTime<Utc>,
    /// The decoded output `[p_bicycle, p_motorcycle]`, when it is one.
    pub scores: Option<[f64; 2]>,
    /// The decoded input body, when asked for ([`Keep::Input`]) and captured.
    #[serde(skip)]
    pub input: Option<Vec<u8>>,
}

impl CapturedInference {
    /// Reads one line; `None` when it is not a capture record (a line cut short by a
    /// crash, another format).
    pub fn from_line(line: &[u8], keep: Keep) -> Option<CapturedInference> {
        let record: CaptureRecord = serde_json::from_slice(line).ok()?;
        let time = DateTime::parse_from_rfc3339(&record.event_metadata.inference_time)
            .ok()?
            .with_timezone(&Utc);
        let scores = record
            .capture_data
            .endpoint_output
            .bytes()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|text| scores_of_text(&text));
        let input = match keep {
            Keep::Scores => None,
            Keep::Input => record
                .capture_data
                .endpoint_input
                .as_ref()
                .and_then(CapturedPayload::bytes),
        };
        Some(CapturedInference {
            event_id: record.event_metadata.event_id,
            time,
            scores,
            input,
        })
    }

    /// The model's confidence: the larger probability.
    pub fn confidence(&self) -> Option<f64> {
        self.scores.map(|[b, m]| b.max(m))
    }
}

/// The chart points of captured inferences in `range`: sorted by time, each event once (a
/// capture file listed twice, a line read again), and when there are more than `limit` an
/// even sample across the whole window, so a busy window's chart still spans the window
/// instead of showing only its newest stretch. `total` counts them all.
pub fn sample_points(
    captured: impl IntoIterator<Item = CapturedInference>,
    range: &TimeRange,
    limit: usize,
) -> CaptureSample {
    let mut points: Vec<CapturePoint> = captured
        .into_iter()
        .filter(|c| range.contains(c.time))
        .filter_map(|c| {
            let [p_bicycle, p_motorcycle] = c.scores?;
            Some(CapturePoint {
                time: c.time,
                event_id: c.event_id,
                p_bicycle,
                p_motorcycle,
            })
        })
        .collect();
    points.sort_by(|a, b| {
        a.time
            .cmp(&b.time)
            .then_with(|| a.event_id.cmp(&b.event_id))
    });
    points.dedup_by(|a, b| a.event_id == b.event_id);
    let total = points.len() as u64;
    if points.len() > limit {
        let n = points.len();
        // Evenly spaced indices from the first to the last point.
        let keep: Vec<usize> = match limit {
            0 => Vec::new(),
            1 => vec![n - 1],
            _ => (0..limit).map(|i| i * (n - 1) / (limit - 1)).collect(),
        };
        let mut kept = Vec::with_capacity(keep.len());
        let mut next = keep.into_iter().peekable();
        for (i, p) in points.into_iter().enumerate() {
            if next.peek() == Some(&i) {
                kept.push(p);
                next.next();
            }
        }
        points = kept;
    }
    CaptureSample { points, total }
}

/// The records of one JSON Lines capture file, and how many lines could not be read.
pub fn parse_jsonl(bytes: &[u8], keep: Keep) -> (Vec<CapturedInference>, usize) {
    let mut out = Vec::new();
    let mut skipped = 0;
    for line in bytes.split(|b| *b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match CapturedInference::from_line(line, keep) {
            Some(r) => out.push(r),
            None => skipped += 1,
        }
    }
    (out, skipped)
}

/// `[p_bicycle, p_motorcycle]` from an endpoint answer: a JSON array (or an object holding
/// one under `predictions`/`probabilities`, or a batch-shaped `[[b, m]]`), or CSV
/// `p_bicycle,p_motorcycle`.
pub fn scores_of_text(text: &str) -> Option<[f64; 2]> {
    let text = text.trim();
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        let array = match &v {
            Value::Array(_) => &v,
            Value::Object(o) => o.get("predictions").or_else(|| o.get("probabilities"))?,
            _ => return None,
        };
        let array = match array.as_array()?.as_slice() {
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
    fn the_writer_and_the_reader_agree() {
        let at = DateTime::parse_from_rfc3339("2025-01-01T00:00:01Z")
            .unwrap()
            .with_timezone(&Utc);
        let png = [0x89u8, b'P', b'N', b'G', 1, 2, 3];
        let record = CaptureRecord::new(
            "e1".into(),
            at,
            (&png, "image/png"),
            (b"[0.91,0.09]", "application/json"),
        );
        let line = record.to_line();
        assert_eq!(line.last(), Some(&b'\n'));
        let back: CaptureRecord = serde_json::from_slice(&line).unwrap();
        assert_eq!(back, record);
        let read = CapturedInference::from_line(&line, Keep::Input).unwrap();
        assert_eq!(read.event_id, "e1");
        assert_eq!(read.time, at);
        assert_eq!(read.scores, Some([0.91, 0.09]));
        assert_eq!(read.input.as_deref(), Some(&png[..]));
        assert_eq!(
            CapturedInference::from_line(&line, Keep::Scores)
                .unwrap()
                .input,
            None
        );
    }

    #[test]
    fn reads_base64_json_and_csv_outputs_and_counts_bad_lines() {
        let b64 = BASE64.encode("[0.91, 0.09]");
        let text = format!(
            "{{\"captureData\":{{\"endpointInput\":{{\"observedContentType\":\"image/png\",\"mode\":\"INPUT\",\"data\":\"iVBO\",\"encoding\":\"BASE64\"}},\"endpointOutput\":{{\"observedContentType\":\"application/json\",\"mode\":\"OUTPUT\",\"data\":\"{b64}\",\"encoding\":\"BASE64\"}}}},\"eventMetadata\":{{\"eventId\":\"e1\",\"inferenceTime\":\"2025-01-01T00:00:01Z\"}},\"eventVersion\":\"0\"}}\n\
             {{\"captureData\":{{\"endpointOutput\":{{\"data\":\"[0.2,0.8]\",\"encoding\":\"JSON\"}}}},\"eventMetadata\":{{\"eventId\":\"e2\",\"inferenceTime\":\"2025-01-01T00:00:02.500Z\"}}}}\n\
             {{\"captureData\":{{\"endpointOutput\":{{\"data\":\"0.5,0.5\",\"encoding\":\"CSV\"}}}},\"eventMetadata\":{{\"eventId\":\"e3\",\"inferenceTime\":\"2025-01-01T00:00:03Z\"}}}}\n\
             {{\"captureData\": truncated\n\n"
        );
        let (records, skipped) = parse_jsonl(text.as_bytes(), Keep::Scores);
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

    #[test]
    fn points_are_sorted_deduplicated_and_sampled_across_the_window() {
        let t0 = DateTime::<Utc>::UNIX_EPOCH + Duration::days(1);
        let inference = |i: i64, id: &str| CapturedInference {
            event_id: id.to_owned(),
            time: t0 + Duration::seconds(i),
            scores: Some([0.9, 0.1]),
            input: None,
        };
        let range = TimeRange {
            start: t0,
            end: t0 + Duration::seconds(1000),
        };
        let mut captured: Vec<CapturedInference> = (0..1000)
            .rev()
            .map(|i| inference(i, &format!("e{i}")))
            .collect();
        captured.push(inference(5, "e5")); // listed twice
        captured.push(inference(2000, "late")); // outside the window
        let all = sample_points(captured.clone(), &range, 5000);
        assert_eq!((all.points.len(), all.total), (1000, 1000));
        assert!(!all.is_sampled());
        assert!(all.points.windows(2).all(|w| w[0].time <= w[1].time));
        let sample = sample_points(captured, &range, 100);
        assert_eq!((sample.points.len(), sample.total), (100, 1000));
        assert!(sample.is_sampled());
        // The sample spans the window: its first and last points are the window's.
        assert_eq!(sample.points[0].time, t0);
        assert_eq!(sample.points[99].time, t0 + Duration::seconds(999));
    }
}
