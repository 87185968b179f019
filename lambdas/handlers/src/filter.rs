//! FilterLowConfidence: pass confident records through, fail the rest with `LowConfidence`.

use scones_workflow::cause::{Decision, DecisionKind};
use serde_json::Value;

use crate::error::HandlerError;
use crate::record::ImageRecord;
use scones_workflow::Threshold;

/// Returns the record unchanged when max(inferences) >= threshold; otherwise the typed
/// `LowConfidence` error (threshold and both scores in its message), which the state machine
/// does not catch, so the execution ends FAILED with that error.
///
/// Logs one JSON line per decision ([`Decision::log`]); the Terraform metric filter counts
/// `{ $.decision = "low_confidence" }` and the dashboard reads it back with
/// [`Decision::parse`].
pub fn filter_low_confidence(
    threshold: Threshold,
    event: Value,
) -> Result<ImageRecord, HandlerError> {
    let record = ImageRecord::from_event(event)?;
    let scores = record.scores()?;
    let confident = scores.max() >= threshold.value();
    Decision {
        kind: if confident {
            DecisionKind::Pass
        } else {
            DecisionKind::LowConfidence
        },
        s3_key: record.s3_key.clone(),
        threshold: threshold.value(),
        p_bicycle: scores.p_bicycle,
        p_motorcycle: scores.p_motorcycle,
    }
    .log();
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
