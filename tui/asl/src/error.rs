//! The runtime error shape shared by every part of the engine: an AWS error name and an
//! optional cause, exactly as they appear in `*Failed` history events.

use std::fmt;

/// Error names the service itself raises (`States.*`).
pub mod names {
    /// The wildcard of `ErrorEquals`: matches any error name.
    pub const ALL: &str = "States.ALL";
    /// A Task failed (any error other than a timeout is also a `States.TaskFailed`).
    pub const TASK_FAILED: &str = "States.TaskFailed";
    /// A runtime problem with the definition or data (bad path, wrong type...).
    pub const RUNTIME: &str = "States.Runtime";
    /// A ResultPath cannot be applied to the state's input (the States Language, Appendix A).
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    /// A Task ran longer than `TimeoutSeconds` or missed a heartbeat.
    pub const TIMEOUT: &str = "States.Timeout";
    /// A result larger than the 256 KiB service limit.
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
    /// An intrinsic function failed on its arguments.
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    /// A JSONata expression failed.
    pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";
    /// No Choice rule matched and there is no Default.
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    /// A Parameters/ItemSelector/ResultSelector field failed.
    pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
    /// A Map state exceeded its tolerated failure threshold.
    pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
    /// A branch or iteration failed (Parallel/Map).
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
}

/// A failure travelling through the state machine: what `Retry`/`Catch` match on and what
/// `ExecutionFailed` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The error name (`States.Runtime`, a Lambda `errorType`, a Fail state's `Error`...).
    /// `None` only for a Fail state without `Error`.
    pub error: Option<String>,
    /// Human-readable detail (a JSON string for Lambda errors).
    pub cause: Option<String>,
}

impl Failure {
    /// A failure with both an error name and a cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: Some(error.into()),
            cause: Some(cause.into()),
        }
    }

    /// A `States.Runtime` failure.
    pub fn runtime(cause: impl Into<String>) -> Self {
        Self::new(names::RUNTIME, cause)
    }

    /// A `States.IntrinsicFailure`.
    pub fn intrinsic(cause: impl Into<String>) -> Self {
        Self::new(names::INTRINSIC_FAILURE, cause)
    }

    /// The error name, or `""` when there is none (what `States.ErrorOutput` shows).
    pub fn error_name(&self) -> &str {
        self.error.as_deref().unwrap_or("")
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.error, &self.cause) {
            (Some(e), Some(c)) => write!(f, "{e}: {c}"),
            (Some(e), None) => f.write_str(e),
            (None, Some(c)) => f.write_str(c),
            (None, None) => f.write_str("(no error)"),
        }
    }
}

impl std::error::Error for Failure {}
