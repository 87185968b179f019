//! The execution status and its rules, defined once for the engine, the store, both
//! backends, the CLI and the dashboard.

use std::fmt;

use serde::Serialize;

/// A Step Functions execution status (the service's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    /// Started (or redriven), not ended.
    Running,
    /// Ended successfully.
    Succeeded,
    /// Ended with an uncaught error.
    Failed,
    /// Hit its TimeoutSeconds.
    TimedOut,
    /// Stopped by StopExecution (or left running by a local process that died).
    Aborted,
    /// Failed and waiting to be redriven (the service's status for Map Run children).
    PendingRedrive,
}

impl ExecutionStatus {
    /// Every status.
    pub const ALL: [ExecutionStatus; 6] = [
        ExecutionStatus::Running,
        ExecutionStatus::Succeeded,
        ExecutionStatus::Failed,
        ExecutionStatus::TimedOut,
        ExecutionStatus::Aborted,
        ExecutionStatus::PendingRedrive,
    ];

    /// The service's name: `RUNNING`, `SUCCEEDED`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Aborted => "ABORTED",
            ExecutionStatus::PendingRedrive => "PENDING_REDRIVE",
        }
    }

    /// Parses the service's name exactly; `None` for anything else.
    pub fn parse(text: &str) -> Option<ExecutionStatus> {
        ExecutionStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    /// The status the service reported, with the one rule for a name this build does not
    /// know: it is taken as [`ExecutionStatus::Running`] (not final). A status added after
    /// this build is far more likely to be a new kind of "still going" than an ending, and
    /// taking it as not final is the safe side: the execution is polled again and its
    /// history is not cached as complete, where taking it as an ending would freeze a
    /// live execution on screen. The unknown name is logged.
    pub fn from_service(text: &str) -> ExecutionStatus {
        ExecutionStatus::parse(text).unwrap_or_else(|| {
            tracing::warn!(status = text, "unknown execution status, taken as RUNNING");
            ExecutionStatus::Running
        })
    }

    /// True once the execution has ended: nothing changes until a redrive (its history is
    /// complete and cacheable).
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            ExecutionStatus::Running | ExecutionStatus::PendingRedrive
        )
    }

    /// True when RedriveExecution accepts it: FAILED, TIMED_OUT or ABORTED (the service's
    /// rule; it also needs the execution to be under 14 days old, which only it can tell).
    pub fn is_redrivable(self) -> bool {
        matches!(
            self,
            ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted
        )
    }

    /// True for SUCCEEDED.
    pub fn is_success(self) -> bool {
        self == ExecutionStatus::Succeeded
    }
}

impl fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_is_running() {
        for s in ExecutionStatus::ALL {
            assert_eq!(ExecutionStatus::parse(s.as_str()), Some(s));
            assert_eq!(ExecutionStatus::from_service(s.as_str()), s);
        }
        assert_eq!(ExecutionStatus::parse("running"), None);
        assert_eq!(
            ExecutionStatus::from_service("SOMETHING_NEW"),
            ExecutionStatus::Running
        );
        assert!(!ExecutionStatus::from_service("SOMETHING_NEW").is_final());
    }

    #[test]
    fn final_and_redrivable_follow_the_service() {
        use ExecutionStatus as S;
        let finals: Vec<_> = S::ALL.into_iter().filter(|s| s.is_final()).collect();
        assert_eq!(finals, [S::Succeeded, S::Failed, S::TimedOut, S::Aborted]);
        let redrivable: Vec<_> = S::ALL.into_iter().filter(|s| s.is_redrivable()).collect();
        assert_eq!(redrivable, [S::Failed, S::TimedOut, S::Aborted]);
    }
}
