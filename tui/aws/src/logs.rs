//! CloudWatch Logs reads: `FilterLogEvents` over a window, and the filter Lambda's
//! low-confidence decision lines.
//!
//! The filter Lambda logs one JSON object per decision ([`Decision`], the domain model's
//! writer and reader). The query uses the plain-text term `low_confidence` (which both
//! CloudWatch and the emulator apply) and each line is read with [`Decision::parse`], so a
//! line merely mentioning the word is not counted.

use chrono::{DateTime, Utc};
use scones_workflow::cause::{Decision, DecisionKind};
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
    Ok(filter_events_page(logs, group, pattern, start, end, limit)
        .await?
        .0)
}

/// [`filter_events`], and whether the window holds more events than `limit`.
async fn filter_events_page(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    pattern: Option<&str>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    limit: usize,
) -> Result<(Vec<LogEvent>, bool), AwsError> {
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    let more = loop {
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
            Some(t) if !t.is_empty() && events.len() < limit => token = Some(t.to_owned()),
            Some(t) if !t.is_empty() => break true,
            _ => break false,
        }
    };
    events.sort_by_key(|e| e.time);
    let more = more || events.len() > limit;
    events.truncate(limit);
    Ok((events, more))
}

/// One decision line of the filter Lambda, with the time it was logged.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedDecision {
    /// When it was logged.
    pub time: DateTime<Utc>,
    /// The line ([`Decision::parse`]).
    pub decision: Decision,
}

/// The newest low-confidence decisions logged in `[start, end)`, newest first, at most
/// `limit`, and whether there were more in the window than that.
///
/// `FilterLogEvents` returns events oldest first. One call over the whole window is enough
/// when it holds at most `limit` of them (the steady state). When it holds more, the window
/// is read again backwards in slices that double in length from one minute, newest first,
/// until `limit` decisions are in hand, so the list shows the newest and not the oldest.
pub async fn low_confidence_decisions(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    limit: usize,
) -> Result<(Vec<TimedDecision>, bool), AwsError> {
    let term = Some(Decision::LOW_CONFIDENCE_TERM);
    let (events, more) = filter_events_page(logs, group, term, start, end, limit).await?;
    if !more {
        let mut found = decisions_of(&events);
        let more = found.len() > limit;
        found.truncate(limit);
        return Ok((found, more));
    }
    let mut found: Vec<TimedDecision> = Vec::new();
    let mut slice = chrono::Duration::minutes(1);
    let mut slice_end = end;
    while slice_end > start && found.len() < limit {
        let slice_start = (slice_end - slice).max(start);
        let events = filter_events(logs, group, term, slice_start, slice_end, usize::MAX).await?;
        found.extend(decisions_of(&events));
        slice_end = slice_start;
        slice = slice * 2;
    }
    found.truncate(limit);
    Ok((found, true))
}

/// The low-confidence decision lines among `events`, newest first.
fn decisions_of(events: &[LogEvent]) -> Vec<TimedDecision> {
    let mut decisions: Vec<TimedDecision> = events
        .iter()
        .filter_map(|e| {
            let decision = Decision::parse(&e.message)?;
            (decision.kind == DecisionKind::LowConfidence).then_some(TimedDecision {
                time: e.time,
                decision,
            })
        })
        .collect();
    decisions.sort_by_key(|d| std::cmp::Reverse(d.time));
    decisions
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

    #[test]
    fn error_lines_are_recognised() {
        assert!(is_error_line(r#"{"level":"ERROR","message":"x"}"#));
        assert!(is_error_line(r#"{"type":"TaskFailed","details":{}}"#));
        assert!(!is_error_line(r#"{"type":"TaskStateEntered"}"#));
        assert!(!is_error_line("plain info"));
    }
}
