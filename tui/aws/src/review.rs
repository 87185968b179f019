//! Review on AWS: the label records in the bucket and the queue from the filter's decisions.
//!
//! - **Labels** are the domain's [`LabelRecord`]s, one object per record under
//!   `review/labels/<day>/<record id>.json` ([`label_key`]). S3 has no append, and one shared
//!   object rewritten by every labeller would need a read-modify-write loop with conditional
//!   writes, where two people labelling at once retry against each other. One object per
//!   record needs no coordination at all: the record id is the time and 64 random bits, and
//!   the write is still `If-None-Match: *`, so even a collision could never replace another
//!   person's record. The reader is the same one the local stack uses
//!   ([`scones_workflow::review::parse_lines`]): an object that is not a record is skipped,
//!   counted and logged, never fatal.
//! - Objects are immutable, so [`LabelReader`] reads each once; after the first full
//!   listing it lists only from a few minutes before its previous listing on (keys sort by
//!   time), so a dashboard at steady state costs one `ListObjectsV2` per refresh.
//! - **The queue** is every decision the filter function logged that goes to a person
//!   (LowConfidence, DriftHold, an accepted decision drawn for audit:
//!   [`Decision::review_reason`]), each key once (its newest), over the last
//!   [`REVIEW_HORIZON`]. [`DecisionReader`] reads the log group once, then only what was
//!   logged since (with an overlap for CloudWatch's ingestion delay).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use scones_workflow::cause::Decision;
use scones_workflow::review::{LABELS_PREFIX, LabelRecord, Labels, ReviewItem, parse_lines};

use crate::error::AwsError;
use crate::logs;

/// How far back the queue looks for decisions (the log group keeps them for its retention,
/// a year by default; reading a year of a busy function's logs on every start would not be).
pub const REVIEW_HORIZON: Duration = Duration::days(14);

/// Log events can arrive in CloudWatch Logs a little after their timestamp: each read starts
/// this long before where the previous one ended (events read twice are the same item).
const LOG_DELAY: Duration = Duration::minutes(2);

/// Label writers' clocks may differ: a listing starts this long before the previous one's
/// time, so a record keyed a little in the past is still found.
const CLOCK_SKEW: Duration = Duration::minutes(5);

/// The largest label object read (a record is a few hundred bytes).
const MAX_LABEL_OBJECT: u64 = 64 * 1024;

/// Decision lines read per refresh at most.
const MAX_DECISIONS: usize = 100_000;

/// Label objects read at once.
const READ_CONCURRENCY: usize = 8;

/// The CloudWatch Logs filter pattern of the decisions that go to a person (JSON patterns
/// with `||` and `IS TRUE`: CloudWatch Logs User Guide, "Using filter patterns to match
/// terms in JSON log events"). Each line found is read again with [`Decision::parse`], so
/// a log service that does not evaluate JSON patterns (the emulator's) is still right.
pub const REVIEW_PATTERN: &str =
    r#"{ ($.decision = "low_confidence") || ($.decision = "drift_hold") || ($.audit IS TRUE) }"#;

/// The object key of `record`: its day and its id, so keys sort by time.
pub fn label_key(record: &LabelRecord) -> String {
    format!(
        "{LABELS_PREFIX}{}/{}.json",
        record.at.format("%Y-%m-%d"),
        record.id
    )
}

/// The first key of the records written at or after `at` (what a listing starts after).
fn key_at(at: DateTime<Utc>) -> String {
    format!(
        "{LABELS_PREFIX}{}/{}",
        at.format("%Y-%m-%d"),
        at.format("%Y%m%dT%H%M%S%6fZ")
    )
}

/// Writes `record` as its own object (never replacing one: `If-None-Match: *`).
pub async fn put_label(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    record: &LabelRecord,
) -> Result<(), AwsError> {
    let mut body = record.to_line();
    body.push('\n');
    s3.put_object()
        .bucket(bucket)
        .key(label_key(record))
        .content_type("application/json")
        .if_none_match("*")
        .body(ByteStream::from(body.into_bytes()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutObject", e))?;
    Ok(())
}

/// Whether `key` is an object of the bucket (HeadObject).
pub async fn object_exists(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<bool, AwsError> {
    match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => Ok(true),
        Err(e) => {
            let e = AwsError::from_sdk("HeadObject", e);
            if e.is_not_found() { Ok(false) } else { Err(e) }
        }
    }
}

/// Every label record of a bucket, each object read once.
#[derive(Debug, Default)]
pub struct LabelReader {
    /// Object keys read (or found unreadable): never read again.
    read: HashSet<String>,
    /// When the last listing started (the next one starts [`CLOCK_SKEW`] before).
    listed_at: Option<DateTime<Utc>>,
    labels: Arc<Labels>,
    unreadable: u64,
}

impl LabelReader {
    /// Reads the records written since the last call (all of them the first time); every
    /// label so far, and how many objects or lines could not be read.
    pub async fn refresh(
        &mut self,
        s3: &aws_sdk_s3::Client,
        bucket: &str,
    ) -> Result<(Arc<Labels>, u64), AwsError> {
        let now = Utc::now();
        let start_after = self.listed_at.map(|t| key_at(t - CLOCK_SKEW));
        let listed = list_keys(s3, bucket, start_after.as_deref()).await?;
        let mut fresh = Vec::new();
        for (key, size) in listed {
            if self.read.contains(&key) {
                continue;
            }
            if size > MAX_LABEL_OBJECT {
                // Not a record, and never going to become one: counted once, never read.
                tracing::warn!(%key, size, "label object skipped: too large for a record");
                self.unreadable += 1;
                self.read.insert(key);
                continue;
            }
            fresh.push(key);
        }
        let read: Vec<(String, Result<Vec<u8>, AwsError>)> = futures::stream::iter(fresh)
            .map(|key| async move {
                let bytes =
                    crate::capture::get_object_at_most(s3, bucket, &key, MAX_LABEL_OBJECT).await;
                (key, bytes)
            })
            .buffer_unordered(READ_CONCURRENCY)
            .collect()
            .await;
        let mut records = Vec::new();
        let mut failed = None;
        for (key, bytes) in read {
            let bytes = match bytes {
                Ok(bytes) => bytes,
                // Gone between the listing and the read: nothing to count.
                Err(e) if e.is_not_found() => continue,
                // Not marked read: tried again next time, and said if nothing else is read.
                Err(e) => {
                    tracing::warn!(%key, error = %e, "label object unreadable for now");
                    failed = Some(e);
                    continue;
                }
            };
            let text = String::from_utf8_lossy(&bytes);
            let (found, bad) = parse_lines(&text);
            for b in &bad {
                tracing::warn!(%key, line = b.line, reason = %b.reason, "label record skipped");
            }
            self.unreadable += bad.len() as u64;
            records.extend(found);
            self.read.insert(key);
        }
        let got = !records.is_empty();
        if got {
            Arc::make_mut(&mut self.labels).extend(records);
        }
        match failed {
            // Nothing new could be read: say why (the labels read so far are kept).
            Some(e) if !got => return Err(e),
            // The listing time stays, so the next listing finds the objects not read.
            Some(_) => {}
            None => self.listed_at = Some(now),
        }
        Ok((Arc::clone(&self.labels), self.unreadable))
    }
}

/// The keys under [`LABELS_PREFIX`] (after `start_after`, when given) with their sizes, in
/// key order.
async fn list_keys(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    start_after: Option<&str>,
) -> Result<Vec<(String, u64)>, AwsError> {
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(LABELS_PREFIX)
            .set_start_after(start_after.map(str::to_owned))
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListObjectsV2", e))?;
        keys.extend(out.contents().iter().filter_map(|o| {
            let key = o.key().filter(|k| !k.ends_with('/'))?;
            Some((
                key.to_owned(),
                u64::try_from(o.size().unwrap_or(0)).unwrap_or(0),
            ))
        }));
        match out.next_continuation_token() {
            Some(t) if out.is_truncated().unwrap_or(false) => token = Some(t.to_owned()),
            _ => break,
        }
    }
    Ok(keys)
}

/// The decisions that went to a person, each key once (its newest decision).
#[derive(Debug, Default)]
pub struct DecisionReader {
    /// Where the last read ended.
    until: Option<DateTime<Utc>>,
    items: HashMap<String, ReviewItem>,
}

impl DecisionReader {
    /// Reads what the filter function logged since the last call (the last
    /// [`REVIEW_HORIZON`] the first time) from its log group `group`.
    pub async fn refresh(
        &mut self,
        client: &aws_sdk_cloudwatchlogs::Client,
        group: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AwsError> {
        let horizon = now - REVIEW_HORIZON;
        let start = self
            .until
            .map_or(horizon, |until| (until - LOG_DELAY).max(horizon));
        let events = logs::filter_events(
            client,
            group,
            Some(REVIEW_PATTERN),
            start,
            now,
            MAX_DECISIONS,
        )
        .await?;
        if events.len() >= MAX_DECISIONS {
            tracing::warn!(
                read = events.len(),
                "more decisions to review than one read takes; the rest come next refresh"
            );
        }
        for event in &events {
            let Some(decision) = Decision::parse(&event.message) else {
                continue;
            };
            let Some(reason) = decision.review_reason() else {
                continue;
            };
            if decision.s3_key.is_empty() {
                continue;
            }
            let newer = self
                .items
                .get(&decision.s3_key)
                .is_none_or(|old| old.time <= event.time);
            if newer {
                self.items.insert(
                    decision.s3_key.clone(),
                    ReviewItem {
                        key: decision.s3_key.clone(),
                        reason,
                        // The function's log line knows the image, not the execution.
                        execution: None,
                        scores: Some([decision.p_bicycle, decision.p_motorcycle]),
                        model: decision.model.clone(),
                        time: event.time,
                    },
                );
            }
        }
        // A capped read ends where its last event was, so the rest is read next time.
        self.until = Some(match events.last() {
            Some(last) if events.len() >= MAX_DECISIONS => last.time,
            _ => now,
        });
        self.items.retain(|_, item| item.time >= horizon);
        Ok(())
    }

    /// Every decision kept (each key's newest).
    pub fn items(&self) -> impl Iterator<Item = &ReviewItem> {
        self.items.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scones_workflow::review::{NewLabel, ReviewReason, Verdict};

    #[test]
    fn label_keys_sort_by_time_and_a_listing_start_precedes_later_records() {
        let at = |s: i64| DateTime::from_timestamp(1_790_000_000 + s, 0).unwrap();
        let record = |s: i64| {
            NewLabel {
                key: "incoming/a.png".into(),
                label: Verdict::Bicycle,
                reason: ReviewReason::Audit,
                model: None,
                scores: None,
                execution: None,
            }
            .record("arn:aws:iam::1:user/ann", at(s))
        };
        let (a, b) = (label_key(&record(0)), label_key(&record(1)));
        assert!(a < b, "{a} {b}");
        assert!(key_at(at(0)) < a, "a listing from a record's time finds it");
        assert!(key_at(at(1)) > a);
        // Across midnight too.
        let day = 86_400 - (1_790_000_000 % 86_400);
        assert!(label_key(&record(day - 1)) < key_at(at(day)));
        assert!(a.starts_with(LABELS_PREFIX) && a.ends_with(".json"));
    }
}
