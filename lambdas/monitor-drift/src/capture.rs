//! The S3 side: the captures of the windows (listed from the oldest hour worth reading,
//! read newest first until the windows are full), the baseline and the reports.

use aws_sdk_s3::error::DisplayErrorContext;
use scones_workflow::capture::{CapturedInference, Keep, hour_prefix, listing_start, parse_jsonl};
use scones_workflow::drift::Reading;

use crate::{Monitor, MonitorError};

/// The largest capture file read. SageMaker rolls files over every few minutes; a file this
/// big is not one of its, and reading it could exhaust a small function's memory.
const MAX_CAPTURE_OBJECT: u64 = 64 * 1024 * 1024;

fn s3_error(
    monitor: &Monitor,
    operation: &'static str,
    key: &str,
    message: String,
) -> MonitorError {
    MonitorError::S3 {
        operation,
        bucket: monitor.config.bucket.clone(),
        key: key.to_owned(),
        message,
    }
}

/// The captures `reading` asks for, oldest first, and how many lines could not be parsed.
pub async fn read(
    monitor: &Monitor,
    reading: Reading,
) -> Result<(Vec<CapturedInference>, usize), MonitorError> {
    let keys = list(monitor, reading).await?;
    let mut captured = Vec::new();
    let mut unparsable = 0;
    for key in keys.iter().rev() {
        if reading.newest.is_some_and(|n| captured.len() >= n) {
            break;
        }
        let Some(bytes) = get_object(monitor, key, MAX_CAPTURE_OBJECT).await? else {
            continue; // deleted between the listing and the read (a lifecycle rule)
        };
        let (records, skipped) = parse_jsonl(&bytes, Keep::Input);
        unparsable += skipped;
        captured.extend(records.into_iter().filter(|r| r.time >= reading.since));
    }
    captured.sort_by_key(|r| r.time);
    if let Some(n) = reading.newest {
        captured.drain(..captured.len().saturating_sub(n));
    }
    Ok((captured, unparsable))
}

/// The keys of the capture files from the hour `reading.since` falls in (less SageMaker's
/// filing lag) on, in key (= time) order. Older hours are never listed.
async fn list(monitor: &Monitor, reading: Reading) -> Result<Vec<String>, MonitorError> {
    let prefix = &monitor.config.capture_prefix;
    let start_after = hour_prefix(prefix, listing_start(reading.since))
        .trim_end_matches('/')
        .to_owned();
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let out = monitor
            .s3
            .list_objects_v2()
            .bucket(&monitor.config.bucket)
            .prefix(prefix)
            .start_after(&start_after)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| {
                s3_error(
                    monitor,
                    "ListObjectsV2",
                    prefix,
                    DisplayErrorContext(e).to_string(),
                )
            })?;
        keys.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key())
                .filter(|k| k.ends_with(".jsonl"))
                .map(str::to_owned),
        );
        match out.next_continuation_token() {
            Some(t) if out.is_truncated().unwrap_or(false) => token = Some(t.to_owned()),
            _ => break,
        }
    }
    Ok(keys)
}

/// An object's bytes; `None` when it does not exist; an error when it is bigger than `max`.
pub async fn get_object(
    monitor: &Monitor,
    key: &str,
    max: u64,
) -> Result<Option<Vec<u8>>, MonitorError> {
    let out = match monitor
        .s3
        .get_object()
        .bucket(&monitor.config.bucket)
        .key(key)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
        Err(e) => {
            return Err(s3_error(
                monitor,
                "GetObject",
                key,
                DisplayErrorContext(e).to_string(),
            ));
        }
    };
    let size = out.content_length.and_then(|n| u64::try_from(n).ok());
    if let Some(size) = size.filter(|&n| n > max) {
        return Err(s3_error(
            monitor,
            "GetObject",
            key,
            format!("{size} bytes, more than the {max} this function reads"),
        ));
    }
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| s3_error(monitor, "GetObject", key, format!("reading the body: {e}")))?;
    Ok(Some(bytes.into_bytes().to_vec()))
}

/// Writes a JSON object.
pub async fn put_object(monitor: &Monitor, key: &str, body: Vec<u8>) -> Result<(), MonitorError> {
    monitor
        .s3
        .put_object()
        .bucket(&monitor.config.bucket)
        .key(key)
        .content_type("application/json")
        .body(body.into())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            s3_error(
                monitor,
                "PutObject",
                key,
                DisplayErrorContext(e).to_string(),
            )
        })
}
