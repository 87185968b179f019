//! FilterLowConfidence: pass confident records through, fail the rest with `LowConfidence`,
//! and while the guard holds, fail the confident ones too with `DriftHold` so a person sees
//! them. An accepted decision is drawn for the review's audit sample at the policy's rate.

use scones_workflow::Threshold;
use scones_workflow::cause::{Decision, DecisionKind, DriftHoldCause};
use scones_workflow::guard::Hold;
use serde_json::Value;

use crate::error::HandlerError;
use crate::record::ImageRecord;

/// What the filter applies besides the record.
#[derive(Debug, Clone, Copy)]
pub struct FilterPolicy<'a> {
    /// The confidence threshold.
    pub threshold: Threshold,
    /// The guard's hold in force, if any (`GuardState::holding`).
    pub hold: Option<&'a Hold>,
    /// The share of accepted decisions drawn for audit.
    pub audit_rate: f64,
}

impl FilterPolicy<'static> {
    /// The threshold alone: no hold, no audit sample.
    pub fn threshold(threshold: Threshold) -> Self {
        FilterPolicy {
            threshold,
            hold: None,
            audit_rate: 0.0,
        }
    }
}

/// An accepted record, and whether it was drawn for audit.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// The record, unchanged.
    pub record: ImageRecord,
    /// Drawn for the audit sample: a person will check this accepted decision.
    pub audit: bool,
}

/// Accepts the record when max(inferences) >= threshold and the guard does not hold;
/// otherwise the typed `LowConfidence` error (threshold and both scores in its message), or
/// `DriftHold` (which statistics, since when), which the state machine does not catch, so the
/// execution ends FAILED with that error.
///
/// Logs one JSON line per decision ([`Decision::log`]); the Terraform metric filter counts
/// `{ $.decision = "low_confidence" }` and the dashboard reads it back with
/// [`Decision::parse`].
pub fn filter_low_confidence(
    policy: &FilterPolicy<'_>,
    event: Value,
) -> Result<Accepted, HandlerError> {
    let record = ImageRecord::from_event(event)?;
    let scores = record.scores()?;
    let threshold = policy.threshold.value();
    let confident = scores.max() >= threshold;
    let kind = match (confident, policy.hold) {
        (false, _) => DecisionKind::LowConfidence,
        (true, Some(_)) => DecisionKind::DriftHold,
        (true, None) => DecisionKind::Pass,
    };
    let audit = kind == DecisionKind::Pass && rand::random::<f64>() < policy.audit_rate;
    Decision {
        kind,
        s3_key: record.s3_key.clone(),
        threshold,
        p_bicycle: scores.p_bicycle,
        p_motorcycle: scores.p_motorcycle,
        model: (!record.model.is_empty()).then(|| record.model.clone()),
        audit,
    }
    .log();
    match (kind, policy.hold) {
        (DecisionKind::LowConfidence, _) => Err(HandlerError::LowConfidence {
            threshold,
            p_bicycle: scores.p_bicycle,
            p_motorcycle: scores.p_motorcycle,
        }),
        (DecisionKind::DriftHold, Some(hold)) => Err(HandlerError::DriftHold(DriftHoldCause {
            since: hold.since,
            statistics: hold.statistics.clone(),
            p_bicycle: scores.p_bicycle,
            p_motorcycle: scores.p_motorcycle,
        })),
        _ => Ok(Accepted { record, audit }),
    }
}
