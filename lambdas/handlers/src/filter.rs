//! FilterLowConfidence: pass confident records through, fail the rest with `LowConfidence`.

use serde_json::Value;

use crate::config::Threshold;
use crate::error::HandlerError;
use crate::record::ImageRecord;

/// Returns the record unchanged when max(inferences) >= threshold; otherwise the typed
/// `LowConfidence` error (threshold and both scores in its message), which the state machine
/// does not catch, so the execution ends FAILED with that error.
///
/// Logs one JSON line per decision; the Terraform metric filter counts
/// `{ $.decision = "low_confidence" }`.
pub fn filter_low_confidence(
    threshold: Threshold,
    event: Value,
) -> Result<ImageRecord, HandlerError> {
    let record = ImageRecord::from_event(event)?;
    let scores = record.scores()?;
    let confident = scores.max() >= threshold.value();
    tracing::info!(
        decision = if confident { "pass" } else { "low_confidence" },
        s3_key = %record.s3_key,
        threshold = threshold.value(),
        p_bicycle = scores.p_bicycle,
        p_motorcycle = scores.p_motorcycle,
        "confidence filter"
    );
    if confident {
        Ok(record)
    } else {
        Err(HandlerError::LowConfidence {
            threshold: threshold.value(),
            p_bicycle: scores.p_bicycle,
            p_motorcycle: scores.p_motorcycle,
        })
    }
}
