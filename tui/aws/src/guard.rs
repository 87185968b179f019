//! The guard's state in the bucket (`guard/state.json`): monitor-drift writes it after every
//! run, filter-low-confidence reads it, and an operator's release or engage (`scones guard
//! --aws`, the dashboard) changes it here.
//!
//! Two writers (the monitor every few minutes, a person at any time) read, change and write
//! the same object, so every write is conditional (S3 conditional writes: `If-Match` on the
//! ETag read, `If-None-Match: *` when there was none): a write that lost the race is read
//! and applied again, never silently overwritten.

use aws_sdk_s3::primitives::ByteStream;
use chrono::Utc;
use scones_workflow::guard::{Change, GuardMode, GuardState, STATE_KEY};

use crate::error::AwsError;

/// Attempts at a conditional write before giving up (each lost race means another writer
/// wrote in between; three in a row is not a race but a problem worth showing).
const ATTEMPTS: usize = 3;

/// The state and its ETag, `None` when there is none yet.
pub async fn read(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<Option<(GuardState, String)>, AwsError> {
    let out = match s3.get_object().bucket(bucket).key(STATE_KEY).send().await {
        Ok(out) => out,
        Err(e) => {
            let e = AwsError::from_sdk("GetObject", e);
            return if e.is_not_found() { Ok(None) } else { Err(e) };
        }
    };
    let etag = out.e_tag().unwrap_or_default().to_owned();
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| AwsError::protocol("GetObject", format!("reading {STATE_KEY}: {e}")))?;
    let state = serde_json::from_slice(&bytes.into_bytes()).map_err(|e| {
        AwsError::protocol(
            "GetObject",
            format!("s3://{bucket}/{STATE_KEY} is not a guard state: {e}"),
        )
    })?;
    Ok(Some((state, etag)))
}

/// Applies `change` to the state (a new one in `mode` when there is none) and writes it
/// back conditionally, again on a lost race; the state written (or read, when nothing
/// changed) and what changed.
pub async fn update(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    mode: GuardMode,
    change: impl Fn(&mut GuardState) -> Change,
) -> Result<(GuardState, Change), AwsError> {
    for _ in 0..ATTEMPTS {
        let (mut state, etag) = match read(s3, bucket).await? {
            Some((state, etag)) => (state, Some(etag)),
            None => (GuardState::new(mode, Utc::now()), None),
        };
        let changed = change(&mut state);
        if changed == Change::None {
            return Ok((state, changed));
        }
        let body = serde_json::to_vec(&state)
            .map_err(|e| AwsError::protocol("PutObject", format!("the guard state: {e}")))?;
        let put = s3
            .put_object()
            .bucket(bucket)
            .key(STATE_KEY)
            .content_type("application/json")
            .body(ByteStream::from(body));
        let put = match etag {
            Some(etag) => put.if_match(etag),
            None => put.if_none_match("*"),
        };
        match put.send().await {
            Ok(_) => return Ok((state, changed)),
            Err(e) if lost_race(&e) => continue,
            Err(e) => return Err(AwsError::from_sdk("PutObject", e)),
        }
    }
    Err(AwsError::protocol(
        "PutObject",
        format!("s3://{bucket}/{STATE_KEY} changed under {ATTEMPTS} writes in a row; try again"),
    ))
}

/// 412 PreconditionFailed (another writer wrote since the read) or 409
/// ConditionalRequestConflict (another conditional write is in flight).
fn lost_race<R>(
    e: &aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::put_object::PutObjectError, R>,
) -> bool {
    use aws_sdk_s3::error::ProvideErrorMetadata;
    matches!(
        e.as_service_error().and_then(|s| s.code()),
        Some("PreconditionFailed" | "ConditionalRequestConflict")
    )
}
