//! SerializeImageData: fetch the object, check it is a PNG, put it base64 in the record.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

use crate::error::HandlerError;
use crate::ports::{FetchError, ObjectStore};
use crate::record::ImageRecord;
use scones_workflow::image::decode_png;
use scones_workflow::limits::{INFERENCES_HEADROOM, MAX_IMAGE_BYTES, MAX_RECORD_BYTES};

/// Reads `s3://s3_bucket/s3_key`, checks it decodes as a PNG and returns the record with
/// `image_data` set (base64) and `inferences` empty.
pub async fn serialize_image_data<S: ObjectStore>(
    store: &S,
    event: Value,
) -> Result<ImageRecord, HandlerError> {
    let mut record = ImageRecord::from_event(event)?;
    let bucket = record.s3_bucket.clone();
    let key = record.s3_key.clone();

    let bytes = store
        .get_object(&bucket, &key, MAX_IMAGE_BYTES)
        .await
        .map_err(|err| match err {
            FetchError::NotFound => HandlerError::ObjectNotFound {
                bucket: bucket.clone(),
                key: key.clone(),
            },
            FetchError::TooLarge { size } => HandlerError::ImageTooLarge {
                bucket: bucket.clone(),
                key: key.clone(),
                bytes: size,
                limit: MAX_RECORD_BYTES,
            },
            FetchError::Unreadable(reason) => HandlerError::ObjectUnreadable {
                bucket: bucket.clone(),
                key: key.clone(),
                reason,
            },
        })?;

    let (width, height) = check_png(&bytes).map_err(|reason| HandlerError::ImageUndecodable {
        bucket: bucket.clone(),
        key: key.clone(),
        reason,
    })?;

    record.image_data = BASE64.encode(&bytes);
    record.inferences.clear();
    // The object limit already bounds the base64 size; the key and bucket still count.
    if record.json_len() + INFERENCES_HEADROOM > MAX_RECORD_BYTES {
        return Err(HandlerError::ImageTooLarge {
            bucket,
            key,
            bytes: bytes.len() as u64,
            limit: MAX_RECORD_BYTES,
        });
    }
    tracing::info!(
        decision = "serialized",
        s3_bucket = %bucket,
        s3_key = %key,
        bytes = bytes.len(),
        width,
        height,
        "image serialized"
    );
    Ok(record)
}

/// Decodes the bytes as PNG (bounded), returning the dimensions or why it is not one.
fn check_png(bytes: &[u8]) -> Result<(u32, u32), String> {
    let image = decode_png(bytes)?;
    Ok((image.width(), image.height()))
}
