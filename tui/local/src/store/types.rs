//! What the store hands out.

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use scones_workflow::ExecutionStatus;
use scones_workflow::review::ReviewReason;

/// One execution as a list shows it (no input/output payloads).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutionRow {
    /// Store row id; increases with insertion.
    pub id: i64,
    /// Execution ARN.
    pub arn: String,
    /// Execution name.
    pub name: String,
    /// Current status.
    pub status: ExecutionStatus,
    /// `s3_key` of the input, when it has one.
    pub s3_key: Option<String>,
    /// Error name (FAILED, TIMED_OUT, ABORTED).
    pub error: Option<String>,
    /// Cause.
    pub cause: Option<String>,
    /// `[p_bicycle, p_motorcycle]` once ClassifyImage answered.
    pub scores: Option<[f64; 2]>,
    /// Start time.
    pub start: DateTime<Utc>,
    /// Stop time, once finished.
    pub stop: Option<DateTime<Utc>>,
    /// The change sequence of its last update.
    pub change_seq: u64,
    /// The model version that classified it.
    pub model: Option<String>,
    /// Why it went to a person, if it did.
    pub review: Option<ReviewReason>,
}

impl ExecutionRow {
    /// Run time so far (finished: start to stop).
    pub fn duration(&self, now: DateTime<Utc>) -> chrono::Duration {
        self.stop.unwrap_or(now) - self.start
    }
}

/// One execution with its payloads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutionDetail {
    /// The list fields.
    pub summary: ExecutionRow,
    /// Input JSON text.
    pub input: String,
    /// Output JSON text (SUCCEEDED only).
    pub output: Option<String>,
}

/// Position in the store's change stream; start from `ChangeCursor::default()` (everything).
/// Changes are ordered by (change sequence, row id), so a page boundary never skips rows that
/// share a sequence number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ChangeCursor {
    /// Change sequence of the last row seen.
    pub seq: u64,
    /// Row id of the last row seen.
    pub id: i64,
}

/// One period of a metric (CloudWatch's statistic set).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MetricDatum {
    /// Start of the period.
    pub start: DateTime<Utc>,
    /// Data points in the period.
    pub sample_count: u64,
    /// Their sum.
    pub sum: f64,
    /// Their minimum.
    pub minimum: f64,
    /// Their maximum.
    pub maximum: f64,
}

impl MetricDatum {
    /// `sum / sample_count` (0 for an empty period).
    pub fn average(&self) -> f64 {
        if self.sample_count == 0 {
            0.0
        } else {
            self.sum / self.sample_count as f64
        }
    }
}

/// Executions per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatusCounts {
    /// RUNNING
    pub running: u64,
    /// SUCCEEDED
    pub succeeded: u64,
    /// FAILED
    pub failed: u64,
    /// TIMED_OUT
    pub timed_out: u64,
    /// ABORTED
    pub aborted: u64,
}

impl StatusCounts {
    /// All executions counted.
    pub fn total(&self) -> u64 {
        self.running + self.succeeded + self.failed + self.timed_out + self.aborted
    }
}
