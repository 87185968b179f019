//! ClassifyImage: send the PNG to the endpoint and record `[p_bicycle, p_motorcycle]`.

use std::time::Instant;

use serde_json::Value;

use crate::IMAGE_CONTENT_TYPE;
use crate::error::HandlerError;
use crate::ports::Endpoint;
use crate::record::ImageRecord;
use crate::scores::Scores;

/// Decodes `image_data`, invokes the endpoint with `image/png` and returns the record with
/// the validated probabilities in `inferences`.
pub async fn classify_image<E: Endpoint>(
    endpoint: &E,
    event: Value,
) -> Result<ImageRecord, HandlerError> {
    let mut record = ImageRecord::from_event(event)?;
    let png = record.image_bytes()?;
    let started = Instant::now();
    let answer = endpoint
        .invoke(png, IMAGE_CONTENT_TYPE)
        .await
        .map_err(|err| HandlerError::EndpointFailed {
            endpoint: endpoint.name().to_owned(),
            reason: err.0,
        })?;
    let scores = Scores::from_endpoint_body(&answer.body)?;
    record.inferences = scores.to_vec();
    record.model = answer.model.unwrap_or_default();
    tracing::info!(
        decision = "classified",
        s3_key = %record.s3_key,
        endpoint = endpoint.name(),
        model = %record.model,
        predicted = scores.predicted_class(),
        p_bicycle = scores.p_bicycle,
        p_motorcycle = scores.p_motorcycle,
        endpoint_ms = started.elapsed().as_secs_f64() * 1e3,
        "image classified"
    );
    Ok(record)
}
