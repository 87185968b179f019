//! The S3 side: the captures of the windows (listed from the oldest hour worth reading,
//! streamed newest first until the windows are full), the baseline and the reports.

use aws_sdk_s3::error::DisplayErrorContext;
use scones_workflow::capture::{CapturedInference, Keep, hour_prefix, listing_start};
use scones_workflow::drift::{ImageFeatures, Observation, Observer, Reading};
use tokio::io::AsyncBufReadExt;

use crate::{Monitor, MonitorError};

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

/// An SDK error of the S3 call `operation` on `key`, as this function reports it.
fn s3_call_error<'a, E: std::error::Error>(
    monitor: &'a Monitor,
    operation: &'static str,
    key: &'a str,
) -> impl FnOnce(E) -> MonitorError + 'a {
    move |e| s3_error(monitor, operation, key, DisplayErrorContext(e).to_string())
}

/// The captures `reading` asks for as observations, oldest first, and how many lines could
/// not be parsed. Files are read newest first, line by line, each record reduced to an
/// observation as it is read: neither a file nor the images are ever whole in memory (a busy
/// endpoint's capture file can hold tens of MB).
pub async fn read(
    monitor: &Monitor,
    reading: Reading,
) -> Result<(Vec<Observation>, usize), MonitorError> {
    let keys = list(monitor, reading).await?;
    let mut observer = Observer::new(scones_workflow::image::image_features);
    let mut observed = Vec::new();
    let mut unparsable = 0;
    for key in keys.iter().rev() {
        if reading.newest.is_some_and(|n| observed.len() >= n) {
            break;
        }
        unparsable += read_file(monitor, key, reading, &mut observer, &mut observed).await?;
    }
    observed.sort_by_key(|o| o.time);
    if let Some(n) = reading.newest {
        observed.drain(..observed.len().saturating_sub(n));
    }
    Ok((observed, unparsable))
}

/// Streams one capture file into `observed`; the count of lines that are not records.
async fn read_file<F: Fn(&[u8]) -> Option<ImageFeatures>>(
    monitor: &Monitor,
    key: &str,
    reading: Reading,
    observer: &mut Observer<F>,
    observed: &mut Vec<Observation>,
) -> Result<usize, MonitorError> {
    // None: deleted between the listing and the read (the capture's lifecycle rule).
    let Some(out) = open_object(monitor, key, Missing::NotFound).await? else {
        return Ok(0);
    };
    let mut lines = tokio::io::BufReader::new(out.body.into_async_read());
    let mut line = Vec::new();
    let mut unparsable = 0;
    loop {
        line.clear();
        let read = lines
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| s3_error(monitor, "GetObject", key, format!("reading the body: {e}")))?;
        if read == 0 {
            return Ok(unparsable);
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match CapturedInference::from_line(&line, Keep::Input) {
            Some(record) if record.time >= reading.since => {
                observed.push(observer.observe(&record))
            }
            Some(_) => {}
            None => unparsable += 1,
        }
    }
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
            .map_err(s3_call_error(monitor, "ListObjectsV2", prefix))?;
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

/// What reading a missing object answers: S3 says 404 only to a caller that may list the
/// key; otherwise 403, which means "missing or forbidden".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Only a 404 means missing: a 403 is an error.
    NotFound,
    /// A 403 is told apart by listing the key (ListObjectsV2, prefix = the key): missing when
    /// it is not listed, an error when it is. For the baseline: the function's ListBucket grant
    /// is prefix-conditioned, and a GetObject request carries no prefix, so a missing baseline
    /// may answer 403 (a fresh deploy before `scones baseline --aws`).
    NotFoundOrUnlisted,
}

/// GetObject's answer, its body not read yet; `None` when the object does not exist.
async fn open_object(
    monitor: &Monitor,
    key: &str,
    missing: Missing,
) -> Result<Option<aws_sdk_s3::operation::get_object::GetObjectOutput>, MonitorError> {
    match monitor
        .s3
        .get_object()
        .bucket(&monitor.config.bucket)
        .key(key)
        .send()
        .await
    {
        Ok(out) => Ok(Some(out)),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
        Err(e)
            if missing == Missing::NotFoundOrUnlisted
                && e.raw_response().map(|r| r.status().as_u16()) == Some(403)
                && !listed(monitor, key).await? =>
        {
            Ok(None)
        }
        Err(e) => Err(s3_call_error(monitor, "GetObject", key)(e)),
    }
}

/// Whether ListObjectsV2 lists `key` itself.
async fn listed(monitor: &Monitor, key: &str) -> Result<bool, MonitorError> {
    let out = monitor
        .s3
        .list_objects_v2()
        .bucket(&monitor.config.bucket)
        .prefix(key)
        .max_keys(1)
        .send()
        .await
        .map_err(s3_call_error(monitor, "ListObjectsV2", key))?;
    Ok(out.contents().iter().any(|o| o.key() == Some(key)))
}

/// An object's bytes; `None` when it does not exist (as `missing` tells); an error when it is
/// bigger than `max`.
pub async fn get_object(
    monitor: &Monitor,
    key: &str,
    max: u64,
    missing: Missing,
) -> Result<Option<Vec<u8>>, MonitorError> {
    Ok(get_object_tagged(monitor, key, max, missing)
        .await?
        .map(|(bytes, _)| bytes))
}

/// [`get_object`] with the object's ETag, for a conditional write back ([`put_object_if`]).
pub async fn get_object_tagged(
    monitor: &Monitor,
    key: &str,
    max: u64,
    missing: Missing,
) -> Result<Option<(Vec<u8>, String)>, MonitorError> {
    let Some(out) = open_object(monitor, key, missing).await? else {
        return Ok(None);
    };
    let etag = out.e_tag().unwrap_or_default().to_owned();
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
    Ok(Some((bytes.into_bytes().to_vec(), etag)))
}

/// Writes a JSON object only if it is still as read: `If-Match` its ETag, or
/// `If-None-Match: *` when there was none (S3 conditional writes). `Ok(false)`: another
/// writer wrote in between (412 PreconditionFailed, 409 ConditionalRequestConflict).
pub async fn put_object_if(
    monitor: &Monitor,
    key: &str,
    body: Vec<u8>,
    read_etag: Option<&str>,
) -> Result<bool, MonitorError> {
    use aws_sdk_s3::error::ProvideErrorMetadata;
    let put = monitor
        .s3
        .put_object()
        .bucket(&monitor.config.bucket)
        .key(key)
        .content_type("application/json")
        .body(body.into());
    let put = match read_etag {
        Some(etag) => put.if_match(etag),
        None => put.if_none_match("*"),
    };
    match put.send().await {
        Ok(_) => Ok(true),
        Err(e)
            if matches!(
                e.as_service_error().and_then(|s| s.code()),
                Some("PreconditionFailed" | "ConditionalRequestConflict")
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(s3_call_error(monitor, "PutObject", key)(e)),
    }
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
        .map_err(s3_call_error(monitor, "PutObject", key))
}
