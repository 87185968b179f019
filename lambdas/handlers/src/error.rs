//! Typed handler errors. Their [`HandlerError::name`] is what Step Functions records as the
//! task's and the execution's `error`, so the names are a public, stable interface: alarms,
//! Retry/Catch rules and the dashboard match on them. Never rename one.

use std::fmt;

use scones_workflow::cause::{DriftHoldCause, LowConfidenceCause};

/// The stable error names, one per failure class. `as_str` is the Step Functions `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorName {
    /// The event is not an image record (wrong shape, wrong types, unknown/wrapper fields).
    InvalidEvent,
    /// `s3://s3_bucket/s3_key` does not exist.
    ObjectNotFound,
    /// The object exists (or may) but could not be read: access denied, network, throttling.
    ObjectUnreadable,
    /// The object is not a decodable PNG.
    ImageUndecodable,
    /// The image base64-encoded would not fit in a Step Functions payload.
    ImageTooLarge,
    /// The endpoint call failed (unreachable, model error, timeout).
    EndpointFailed,
    /// The inference vector is not two probabilities (wrong length, NaN, out of range, sum != 1).
    MalformedInferences,
    /// max(inferences) is below the threshold.
    LowConfidence,
    /// Confident, but the guard holds decisions while drift is ALERT (or an operator holds
    /// them): the image goes to a person.
    DriftHold,
}

impl ErrorName {
    /// Every name, in the order of the README table.
    pub const ALL: [ErrorName; 9] = [
        ErrorName::InvalidEvent,
        ErrorName::ObjectNotFound,
        ErrorName::ObjectUnreadable,
        ErrorName::ImageUndecodable,
        ErrorName::ImageTooLarge,
        ErrorName::EndpointFailed,
        ErrorName::MalformedInferences,
        ErrorName::LowConfidence,
        ErrorName::DriftHold,
    ];

    /// The name as Step Functions records it.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorName::InvalidEvent => "InvalidEvent",
            ErrorName::ObjectNotFound => "ObjectNotFound",
            ErrorName::ObjectUnreadable => "ObjectUnreadable",
            ErrorName::ImageUndecodable => "ImageUndecodable",
            ErrorName::ImageTooLarge => "ImageTooLarge",
            ErrorName::EndpointFailed => "EndpointFailed",
            ErrorName::MalformedInferences => "MalformedInferences",
            ErrorName::LowConfidence => scones_workflow::cause::LOW_CONFIDENCE_ERROR,
            ErrorName::DriftHold => scones_workflow::cause::DRIFT_HOLD_ERROR,
        }
    }

    /// The name for an error string recorded in a history, if it is one of ours.
    pub fn parse(name: &str) -> Option<ErrorName> {
        ErrorName::ALL.into_iter().find(|n| n.as_str() == name)
    }
}

impl fmt::Display for ErrorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a handler refused or failed. The `Display` text becomes the Lambda `errorMessage`
/// (the `cause` in the history), so each variant says what was wrong with which object.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HandlerError {
    /// The event is not an image record.
    #[error("the event is not a scones image record: {reason}")]
    InvalidEvent {
        /// What is wrong with it.
        reason: String,
    },

    /// The object does not exist.
    #[error("s3://{bucket}/{key} does not exist")]
    ObjectNotFound {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },

    /// The object could not be read.
    #[error("could not read s3://{bucket}/{key}: {reason}")]
    ObjectUnreadable {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// Why (access denied, network, throttling).
        reason: String,
    },

    /// The object is not a decodable PNG.
    #[error("s3://{bucket}/{key} is not a decodable PNG image: {reason}")]
    ImageUndecodable {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// What the decoder said.
        reason: String,
    },

    /// The image would not fit in a Step Functions payload.
    #[error(
        "s3://{bucket}/{key} is {bytes} bytes; the record carrying it base64-encoded would exceed \
         the {limit}-byte Step Functions payload limit"
    )]
    ImageTooLarge {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The object's size.
        bytes: u64,
        /// The payload limit the record would exceed.
        limit: usize,
    },

    /// The endpoint call failed.
    #[error("endpoint {endpoint} failed: {reason}")]
    EndpointFailed {
        /// The endpoint.
        endpoint: String,
        /// What went wrong.
        reason: String,
    },

    /// The inference vector is not two probabilities.
    #[error("malformed inference vector: {reason}")]
    MalformedInferences {
        /// What is wrong with it.
        reason: String,
    },

    /// Both probabilities are below the threshold. The message is [`LowConfidenceCause`]'s,
    /// which the dashboard and the CLI read back.
    #[error("{}", LowConfidenceCause { threshold: *threshold, p_bicycle: *p_bicycle, p_motorcycle: *p_motorcycle })]
    LowConfidence {
        /// The threshold in force.
        threshold: f64,
        /// Probability of bicycle.
        p_bicycle: f64,
        /// Probability of motorcycle.
        p_motorcycle: f64,
    },

    /// Confident enough, but held for review by the guard. The message is
    /// [`DriftHoldCause`]'s (which statistics, since when, the scores).
    #[error("{0}")]
    DriftHold(DriftHoldCause),
}

impl HandlerError {
    /// The stable name recorded as the Step Functions `error` (the Lambda `errorType`).
    pub fn error_name(&self) -> ErrorName {
        match self {
            HandlerError::InvalidEvent { .. } => ErrorName::InvalidEvent,
            HandlerError::ObjectNotFound { .. } => ErrorName::ObjectNotFound,
            HandlerError::ObjectUnreadable { .. } => ErrorName::ObjectUnreadable,
            HandlerError::ImageUndecodable { .. } => ErrorName::ImageUndecodable,
            HandlerError::ImageTooLarge { .. } => ErrorName::ImageTooLarge,
            HandlerError::EndpointFailed { .. } => ErrorName::EndpointFailed,
            HandlerError::MalformedInferences { .. } => ErrorName::MalformedInferences,
            HandlerError::LowConfidence { .. } => ErrorName::LowConfidence,
            HandlerError::DriftHold(_) => ErrorName::DriftHold,
        }
    }

    /// Shorthand for `self.error_name().as_str()`.
    pub fn name(&self) -> &'static str {
        self.error_name().as_str()
    }

    pub(crate) fn invalid_event(reason: impl Into<String>) -> Self {
        HandlerError::InvalidEvent {
            reason: reason.into(),
        }
    }

    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        HandlerError::MalformedInferences {
            reason: reason.into(),
        }
    }
}
