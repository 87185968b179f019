//! The bucket's test images: the keys test executions pick from, and their labels; and the
//! two ways the CLI and the dashboard write and bound their own JSON records there.
//!
//! The `test/` listing is the truth for which images exist; when it is empty (or not
//! listable) `test.lst` (the SageMaker .lst file `scones stage --aws` uploads:
//! `index \t label \t path`, paths relative to `test/`) names them. The labels (the ground
//! truth the dashboard shows) come from `test.lst` only, never from file names.

use std::collections::HashMap;

use scones_workflow::class::Class;
use scones_workflow::dataset::{LstEntry, parse_lst};

use crate::capture::get_object;
use crate::error::AwsError;

/// Prefix of the test split.
pub const TEST_PREFIX: &str = "test/";

/// The .lst file of the test split.
pub const TEST_LST: &str = "test.lst";

/// The largest record of ours read back (a promotion, a version's measures: a few KB each).
pub const RECORD_MAX_BYTES: u64 = 1 << 20;

/// Whether a write may replace an object already at the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// The newest write wins (a baseline, a version's measures).
    Replace,
    /// Only if nothing is there (`If-None-Match: *`): a record is never overwritten.
    CreateOnly,
}

/// Writes `value` as JSON to `key`; `what` names it in an error.
pub async fn put_json<T: serde::Serialize>(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    value: &T,
    what: &str,
    put: Put,
) -> Result<(), AwsError> {
    let body = serde_json::to_vec_pretty(value)
        .map_err(|e| AwsError::protocol("PutObject", format!("serialising {what}: {e}")))?;
    let request = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .body(body.into());
    let request = match put {
        Put::Replace => request,
        Put::CreateOnly => request.if_none_match("*"),
    };
    request
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutObject", e))?;
    Ok(())
}

/// Every key under `prefix` (all pages), directory markers left out.
pub async fn list_keys(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<String>, AwsError> {
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListObjectsV2", e))?;
        keys.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key())
                .filter(|k| !k.ends_with('/'))
                .map(str::to_owned),
        );
        match out.next_continuation_token() {
            Some(t) if out.is_truncated().unwrap_or(false) => token = Some(t.to_owned()),
            _ => return Ok(keys),
        }
    }
}

/// The entries of the bucket's `test.lst`; empty when there is none.
pub async fn test_lst(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Vec<LstEntry>, AwsError> {
    read_lst(s3, bucket, TEST_LST).await
}

/// The entries of the .lst file at `key`; empty when there is none.
pub async fn read_lst(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Vec<LstEntry>, AwsError> {
    match get_object(s3, bucket, key).await {
        Ok(bytes) => parse_lst(&String::from_utf8_lossy(&bytes))
            .map_err(|e| AwsError::protocol("GetObject", format!("s3://{bucket}/{key}: {e}"))),
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// The test keys: the `test/` listing, or `test.lst`'s entries when the listing is empty.
pub async fn test_keys(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Vec<String>, AwsError> {
    let listed = list_keys(s3, bucket, TEST_PREFIX).await?;
    if !listed.is_empty() {
        return Ok(listed);
    }
    Ok(test_lst(s3, bucket)
        .await?
        .iter()
        .map(|e| format!("{TEST_PREFIX}{}", e.path))
        .collect())
}

/// The labels of the test images, by key, from `test.lst` (empty when there is none).
pub async fn test_labels(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<HashMap<String, Class>, AwsError> {
    Ok(test_lst(s3, bucket)
        .await?
        .into_iter()
        .map(|e| (format!("{TEST_PREFIX}{}", e.path), e.label))
        .collect())
}
