//! CloudWatch Logs reads: `FilterLogEvents` over a window, and the filter Lambda's
//! low-confidence decision lines.
//!
//! The filter Lambda logs one JSON object per decision with its fields at the top level:
//! `{"decision": "low_confidence", "s3_key": .., "threshold": .., "p_bicycle": ..,
//! "p_motorcycle": ..}`. The query uses the plain-text term `low_confidence` (which both
//! CloudWatch and the emulator apply) and the JSON is checked here, so a line merely
//! mentioning the word is not counted.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::AwsError;

/// One log event.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent {
    /// When it was logged.
    pub time: DateTime<Utc>,
    /// The log group.
    pub group: String,
    /// The log stream.
    pub stream: Option<String>,
    /// The text.
    pub message: String,
}

/// `FilterLogEvents` on `group` over `[start, end)`, oldest first, following pages until
/// `limit` events.
pub async fn filter_events(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    pattern: Option<&str>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<LogEvent>, AwsError> {
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = logs
            .filter_log_events()
            .log_group_name(group)
            .set_filter_pattern(pattern.map(str::to_owned))
            .start_time(start.timestamp_millis())
            .end_time(end.timestamp_millis())
            .limit(limit.clamp(1, 10_000) as i32)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("FilterLogEvents", e))?;
        for e in out.events() {
            let Some(time) = e.timestamp().and_then(DateTime::from_timestamp_millis) else {
                continue;
            };
            events.push(LogEvent {
                time,
                group: group.to_owned(),
                stream: e.log_stream_name().map(str::to_owned),
                message: e.message().unwrap_or_default().trim_end().to_owned(),
            });
        }
        match out.next_token() {
            Some(t) if events.len() < limit && !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    events.sort_by_key(|e| e.time);
    events.truncate(limit);
    Ok(events)
}

/// The filter term for decision lines of low confidence.
pub const LOW_CONFIDENCE_PATTERN: &str = "low_confidence";

/// One low-confidence decision of the filter Lambda.
#[derive(Debug, Clone, PartialEq)]
pub struct LowConfidenceDecision {
    /// When it was logged.
    pub time: DateTime<Utc>,
    /// The image.
    pub s3_key: Option<String>,
    /// The threshold in force.
    pub threshold: f64,
    /// Probability of bicycle.
    pub p_bicycle: f64,
    /// Probability of motorcycle.
    pub p_motorcycle: f64,
}

impl LowConfidenceDecision {
    /// Reads a decision line; `None` for any other line.
    pub fn parse(time: DateTime<Utc>, message: &str) -> Option<LowConfidenceDecision> {
        // Lambda may prefix lines (timestamp, request id) in text log format; the JSON
        // object starts at the first brace.
        let json = &message[message.find('{')?..];
        let v: Value = serde_json::from_str(json).ok()?;
        let fields = v.get("fields").filter(|f| f.is_object()).unwrap_or(&v);
        if fields.get("decision")?.as_str()? != "low_confidence" {
            return None;
        }
        Some(LowConfidenceDecision {
            time,
            s3_key: fields
                .get("s3_key")
                .and_then(Value::as_str)
                .map(str::to_owned),
            threshold: fields.get("threshold")?.as_f64()?,
            p_bicycle: fields.get("p_bicycle")?.as_f64()?,
            p_motorcycle: fields.get("p_motorcycle")?.as_f64()?,
        })
    }
}

/// Low-confidence decisions logged in `[start, end)`, newest first.
pub async fn low_confidence_decisions(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<LowConfidenceDecision>, AwsError> {
    let events =
        filter_events(logs, group, Some(LOW_CONFIDENCE_PATTERN), start, end, limit).await?;
    let mut decisions: Vec<LowConfidenceDecision> = events
        .iter()
        .filter_map(|e| LowConfidenceDecision::parse(e.time, &e.message))
        .collect();
    decisions.sort_by_key(|d| std::cmp::Reverse(d.time));
    Ok(decisions)
}

/// True when a log line reports a failure: a JSON line with `level` ERROR, or a state
/// machine event whose type ends in `Failed`/`TimedOut`/`Aborted`.
pub fn is_error_line(message: &str) -> bool {
    let Some(start) = message.find('{') else {
        return message.contains("ERROR");
    };
    let Ok(v) = serde_json::from_str::<Value>(&message[start..]) else {
        return message.contains("ERROR");
    };
    let level = v.get("level").and_then(Value::as_str).unwrap_or_default();
    let kind = v.get("type").and_then(Value::as_str).unwrap_or_default();
    level.eq_ignore_ascii_case("error")
        || kind.ends_with("Failed")
        || kind.ends_with("TimedOut")
        || kind.ends_with("Aborted")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> DateTime<Utc> {
        DateTime::from_timestamp(1_735_689_600, 0).unwrap()
    }

    #[test]
    fn reads_the_filter_lambdas_decision_line() {
        let line = r#"{"timestamp":"2025-01-01T00:00:00Z","level":"INFO","decision":"low_confidence","s3_key":"test/x.png","threshold":0.93,"p_bicycle":0.6,"p_motorcycle":0.4,"message":"below threshold"}"#;
        let d = LowConfidenceDecision::parse(t(), line).unwrap();
        assert_eq!(d.s3_key.as_deref(), Some("test/x.png"));
        assert_eq!((d.threshold, d.p_bicycle, d.p_motorcycle), (0.93, 0.6, 0.4));
    }

    #[test]
    fn other_lines_are_not_decisions() {
        let pass = r#"{"decision":"pass","threshold":0.93,"p_bicycle":0.97,"p_motorcycle":0.03}"#;
        assert_eq!(LowConfidenceDecision::parse(t(), pass), None);
        assert_eq!(
            LowConfidenceDecision::parse(t(), "text low_confidence"),
            None
        );
        let missing = r#"{"decision":"low_confidence","s3_key":"k"}"#;
        assert_eq!(LowConfidenceDecision::parse(t(), missing), None);
        let nested = r#"{"fields":{"decision":"low_confidence","threshold":0.9,"p_bicycle":0.5,"p_motorcycle":0.5}}"#;
        assert!(LowConfidenceDecision::parse(t(), nested).is_some());
    }

    #[test]
    fn error_lines_are_recognised() {
        assert!(is_error_line(r#"{"level":"ERROR","message":"x"}"#));
        assert!(is_error_line(r#"{"type":"TaskFailed","details":{}}"#));
        assert!(!is_error_line(r#"{"type":"TaskStateEntered"}"#));
        assert!(!is_error_line("plain info"));
    }
}
