//! SageMaker data capture in S3: listing the capture objects of a window and reading them.
//! The record format and its reader are the domain model's ([`scones_workflow::capture`]);
//! SageMaker files records under `<prefix><endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl`.

use chrono::{DateTime, Utc};
pub use scones_workflow::capture::{hour_prefix, listing_start, variant_prefix};

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
    get_object_at_most(s3, bucket, key, u64::MAX).await
}

/// [`get_object`] refusing (before reading the body) an object larger than `max` bytes.
pub async fn get_object_at_most(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    max: u64,
) -> Result<Vec<u8>, AwsError> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetObject", e))?;
    let size = out.content_length.and_then(|n| u64::try_from(n).ok());
    if let Some(size) = size.filter(|&n| n > max) {
        return Err(AwsError::protocol(
            "GetObject",
            format!("{key} is {size} bytes, more than the {max} read"),
        ));
    }
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| AwsError::protocol("GetObject", format!("reading {key}: {e}")))?;
    Ok(bytes.into_bytes().to_vec())
}
