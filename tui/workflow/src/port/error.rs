//! Why a backend call failed, and the names of the calls.

use std::fmt;

use serde::Serialize;

/// The port's calls by name: what errors, the pending-work list and call counts say. The AWS
/// name where the call is one AWS API call (`StartExecution`), a descriptive one otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Operation {
    /// [`super::Backend::executions_since`].
    ListExecutions,
    /// [`super::Backend::history`].
    GetExecutionHistory,
    /// [`super::Backend::start_execution`] and [`super::Backend::start_random`].
    StartExecution,
    /// [`super::Backend::wait_execution`].
    DescribeExecution,
    /// [`super::Backend::stop`].
    StopExecution,
    /// [`super::Backend::redrive`].
    RedriveExecution,
    /// [`super::Backend::test_keys`].
    ListTestImages,
    /// [`super::Backend::endpoint`].
    DescribeEndpoint,
    /// [`super::Backend::metrics`].
    GetMetricData,
    /// [`super::Backend::capture`].
    ReadDataCapture,
    /// [`super::Backend::low_confidence`].
    LowConfidenceFailures,
    /// [`super::Backend::image`].
    GetObject,
    /// [`super::Backend::drift`].
    Drift,
    /// [`super::Backend::logs`].
    FilterLogEvents,
    /// [`super::Backend::record_link`].
    RecordLink,
    /// [`super::Backend::guard`].
    DescribeGuard,
    /// [`super::Backend::command_guard`].
    UpdateGuard,
    /// [`super::Backend::review_queue`].
    ListReviewQueue,
    /// [`super::Backend::label`].
    PutLabel,
    /// [`super::Backend::labels`].
    ListLabels,
    /// [`super::Backend::models`].
    ListModels,
    /// [`super::Backend::promote`].
    PromoteModel,
    /// [`super::Backend::rollback`].
    RollbackModel,
}

impl Operation {
    /// The name as errors and call counts show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::ListExecutions => "ListExecutions",
            Operation::GetExecutionHistory => "GetExecutionHistory",
            Operation::StartExecution => "StartExecution",
            Operation::DescribeExecution => "DescribeExecution",
            Operation::StopExecution => "StopExecution",
            Operation::RedriveExecution => "RedriveExecution",
            Operation::ListTestImages => "ListTestImages",
            Operation::DescribeEndpoint => "DescribeEndpoint",
            Operation::GetMetricData => "GetMetricData",
            Operation::ReadDataCapture => "ReadDataCapture",
            Operation::LowConfidenceFailures => "LowConfidenceFailures",
            Operation::GetObject => "GetObject",
            Operation::Drift => "Drift",
            Operation::FilterLogEvents => "FilterLogEvents",
            Operation::RecordLink => "RecordLink",
            Operation::DescribeGuard => "DescribeGuard",
            Operation::UpdateGuard => "UpdateGuard",
            Operation::ListReviewQueue => "ListReviewQueue",
            Operation::PutLabel => "PutLabel",
            Operation::ListLabels => "ListLabels",
            Operation::ListModels => "ListModels",
            Operation::PromoteModel => "PromoteModel",
            Operation::RollbackModel => "RollbackModel",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a backend call failed. Names are stable ([`BackendError::name`]); messages say what
/// to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BackendError {
    /// The service asked us to slow down (ThrottlingException, SQLITE_BUSY); retry later.
    #[error("{operation} was throttled: {message}")]
    Throttled {
        /// The call.
        operation: Operation,
        /// What the service said.
        message: String,
    },
    /// The call is not possible on this backend (e.g. redrive locally).
    #[error("{operation} is not available on the {backend} backend: {reason}")]
    Unsupported {
        /// The call.
        operation: Operation,
        /// `local` or `AWS`.
        backend: &'static str,
        /// Why, and what to do instead.
        reason: String,
    },
    /// The backend is reachable but not ready for this (no model, no test data...).
    #[error("{operation}: {reason}")]
    NotReady {
        /// The call.
        operation: Operation,
        /// What is missing and how to fix it.
        reason: String,
    },
    /// No such execution.
    #[error("execution {0} not found")]
    NotFound(String),
    /// No such object in the bucket (its `s3://` URI).
    #[error("{0} does not exist")]
    ObjectNotFound(String),
    /// The call got no answer in time (a hung service): it may still take effect (an
    /// execution asked for may still start when the service recovers).
    #[error("{operation} got no answer: {message}")]
    Unanswered {
        /// The call.
        operation: Operation,
        /// Which timeout, and what to look for if it took effect.
        message: String,
    },
    /// Anything else the backend reported.
    #[error("{operation} failed: {message}")]
    Failed {
        /// The call.
        operation: Operation,
        /// What went wrong.
        message: String,
    },
    /// The background task running the call panicked or was lost.
    #[error("{operation} crashed in the background: {message}")]
    TaskCrashed {
        /// The call.
        operation: Operation,
        /// The panic message.
        message: String,
    },
}

impl BackendError {
    /// `operation` failed with `error` (its message).
    pub fn failed(operation: Operation, error: impl std::fmt::Display) -> BackendError {
        BackendError::Failed {
            operation,
            message: error.to_string(),
        }
    }

    /// Stable name of the variant.
    pub fn name(&self) -> &'static str {
        match self {
            BackendError::Throttled { .. } => "Throttled",
            BackendError::Unsupported { .. } => "Unsupported",
            BackendError::NotReady { .. } => "NotReady",
            BackendError::NotFound(_) => "NotFound",
            BackendError::ObjectNotFound(_) => "ObjectNotFound",
            BackendError::Unanswered { .. } => "Unanswered",
            BackendError::Failed { .. } => "Failed",
            BackendError::TaskCrashed { .. } => "TaskCrashed",
        }
    }

    /// True for errors that mean "slow down" rather than "broken".
    pub fn is_throttling(&self) -> bool {
        matches!(self, BackendError::Throttled { .. })
    }
}

/// Result of a backend call.
pub type BackendResult<T> = Result<T, BackendError>;
