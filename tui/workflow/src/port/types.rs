//! The data the port speaks: executions, their listing, time windows, endpoint metrics,
//! capture points, low-confidence failures, log lines and what a backend is.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::class::Class;
use crate::quality::Labelled;
use crate::status::ExecutionStatus;

/// An execution's identity: its ARN on AWS, its store id locally.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExecutionId(pub Arc<str>);

impl Serialize for ExecutionId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl ExecutionId {
    /// Wraps an id.
    pub fn new(id: impl Into<Arc<str>>) -> Self {
        ExecutionId(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ExecutionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One row of the executions list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutionSummary {
    /// Identity.
    pub id: ExecutionId,
    /// Execution name.
    pub name: String,
    /// The input's `s3_key`, when the input has one.
    pub s3_key: Option<String>,
    /// Current status.
    pub status: ExecutionStatus,
    /// When it started.
    pub start: DateTime<Utc>,
    /// When it ended, if it has.
    pub stop: Option<DateTime<Utc>>,
    /// Error name of a failed execution, when the backend knows it cheaply.
    pub error: Option<String>,
    /// Cause of a failed execution, when the backend knows it cheaply.
    pub cause: Option<String>,
    /// `[p_bicycle, p_motorcycle]` once ClassifyImage answered (as far as the backend knows).
    pub scores: Option<[f64; 2]>,
    /// The image's true class, when the staged test split's labels name it; `None` for
    /// unlabelled traffic (never guessed from the file name).
    pub label: Option<Class>,
    /// The model version that classified it, when known.
    pub model: Option<String>,
}

impl LowConfidenceFailure {
    /// The class the model leaned to (below the threshold, so not acted on).
    pub fn predicted(&self) -> Class {
        Class::predicted([self.p_bicycle, self.p_motorcycle])
    }

    /// Whether the rejected prediction would have been right: `None` without a label.
    pub fn would_be_right(&self) -> Option<bool> {
        Some(self.predicted() == self.label?)
    }
}

impl ExecutionSummary {
    /// Run time so far (`now` for running executions).
    pub fn duration(&self, now: DateTime<Utc>) -> Duration {
        let end = self.stop.unwrap_or(now);
        (end - self.start).to_std().unwrap_or_default()
    }

    /// The predicted class, once classified.
    pub fn predicted(&self) -> Option<Class> {
        self.scores.map(Class::predicted)
    }

    /// Whether the prediction was right: `None` without both a prediction and a label.
    pub fn correct(&self) -> Option<bool> {
        Some(self.predicted()? == self.label?)
    }

    /// The prediction with its label, for the quality measures.
    pub fn labelled(&self) -> Option<Labelled> {
        Some(Labelled {
            scores: self.scores?,
            label: self.label?,
        })
    }
}

/// Where an incremental listing left off. Opaque to the dashboard: each backend encodes its
/// own position (a store change sequence locally; newest start time and the running
/// executions on AWS).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cursor(pub String);

/// The answer to [`Backend::executions_since`]: executions that are new or changed since the
/// cursor, and the cursor to pass next time.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionDelta {
    /// New or changed executions (a row replaces the one with the same id).
    pub changed: Vec<ExecutionSummary>,
    /// Position to continue from.
    pub cursor: Cursor,
    /// More changes are waiting (the page was full): ask again at once.
    pub more: bool,
    /// Executions that no longer exist (the stack was re-created, history expired): drop
    /// them.
    pub removed: Vec<ExecutionId>,
}

/// A time window for metrics, capture and low-confidence queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}

impl TimeRange {
    /// The `window` before `end`.
    pub fn ending_at(end: DateTime<Utc>, window: Duration) -> Self {
        let span = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::zero());
        TimeRange {
            start: end - span,
            end,
        }
    }

    /// True if `t` is inside.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        t >= self.start && t < self.end
    }
}

/// Endpoint metrics over a window, one value per period (CloudWatch GetMetricData shape).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EndpointMetrics {
    /// Start of the first period.
    pub start: Option<DateTime<Utc>>,
    /// Length of one period.
    pub period: Duration,
    /// Invocations per period.
    pub invocations: Vec<f64>,
    /// Average model latency per period, milliseconds (`None`: no invocations).
    pub latency_ms: Vec<Option<f64>>,
    /// Maximum model latency per period, milliseconds.
    pub latency_max_ms: Vec<Option<f64>>,
    /// 4XX + 5XX errors per period.
    pub errors: Vec<f64>,
}

/// One data-capture record reduced to what the confidence chart needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapturePoint {
    /// `eventMetadata.inferenceTime`.
    pub time: DateTime<Utc>,
    /// `eventMetadata.eventId`.
    pub event_id: String,
    /// Probability of bicycle.
    pub p_bicycle: f64,
    /// Probability of motorcycle.
    pub p_motorcycle: f64,
}

/// The capture points of a window: every one, or an even sample of them.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct CaptureSample {
    /// The points, oldest first.
    pub points: Vec<CapturePoint>,
    /// Captured inferences in the whole window (at least `points.len()`).
    pub total: u64,
}

impl CaptureSample {
    /// True when `points` holds only some of the window's inferences.
    pub fn is_sampled(&self) -> bool {
        self.total > self.points.len() as u64
    }
}

impl CapturePoint {
    /// The model's confidence: the larger probability.
    pub fn confidence(&self) -> f64 {
        self.p_bicycle.max(self.p_motorcycle)
    }
}

/// An execution that failed with `LowConfidence`, with the scores from its cause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LowConfidenceFailure {
    /// The execution, when known (log-based backends may only know the key).
    pub execution: Option<ExecutionId>,
    /// The image.
    pub s3_key: Option<String>,
    /// The image's true class, when the staged test split's labels name it.
    pub label: Option<Class>,
    /// Probability of bicycle.
    pub p_bicycle: f64,
    /// Probability of motorcycle.
    pub p_motorcycle: f64,
    /// The threshold in force.
    pub threshold: f64,
    /// When it failed.
    pub time: DateTime<Utc>,
}

/// The `LowConfidence` failures of a window: the count over the whole window, and a page of
/// the newest ones.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct LowConfidenceReport {
    /// The newest failures, newest first.
    pub failures: Vec<LowConfidenceFailure>,
    /// Failures in the whole window (at least `failures.len()`).
    pub total: u64,
    /// Decisions (passed and refused) in the window, when the backend counts them: the
    /// denominator of the low-confidence rate.
    pub decisions: Option<u64>,
}

/// One log line for the logs panel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogLine {
    /// When.
    pub time: DateTime<Utc>,
    /// Where it came from (a log group, a state name, `endpoint`...).
    pub source: String,
    /// Severity.
    pub level: LogLevel,
    /// The text.
    pub message: String,
}

/// Severity of a [`LogLine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LogLevel {
    /// Normal progress.
    Info,
    /// Something failed.
    Error,
}

/// The endpoint as the header shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointInfo {
    /// Endpoint name.
    pub name: String,
    /// SageMaker-style status: `InService`, `Creating`, `Failed`, or `NotTrained` locally.
    pub status: String,
    /// A short explanation (e.g. the model's validation accuracy, a failure reason).
    pub detail: Option<String>,
}

impl EndpointInfo {
    /// True when the endpoint can take requests.
    pub fn in_service(&self) -> bool {
        self.status == "InService"
    }
}

/// Which kind of deployment a backend talks to.
#[derive(Debug, Clone, PartialEq)]
pub enum BackendKind {
    /// The local stack in `home`.
    Local {
        /// The local home directory.
        home: PathBuf,
        /// The staged data is the generated stand-in (no CIFAR-100 was available), so the
        /// scores on screen say nothing about the real model.
        synthetic_data: bool,
    },
    /// AWS.
    Aws {
        /// Named profile, if any.
        profile: Option<String>,
        /// Where the credentials come from (`profile dev`, `env keys`, ...).
        credentials: String,
        /// Region.
        region: String,
    },
}

/// Static facts about a backend, known without a call.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendInfo {
    /// Local or AWS.
    pub kind: BackendKind,
    /// State machine name (or ARN).
    pub state_machine: String,
    /// Confidence threshold of the filter step.
    pub threshold: f64,
    /// Whether [`Backend::redrive`] can work here.
    pub supports_redrive: bool,
}

/// Where the full record of an execution can be opened.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordLink {
    /// A console URL.
    Url(String),
    /// A local file and how to find the execution in it.
    Local {
        /// The file (the SQLite store).
        path: PathBuf,
        /// How to look at the record (e.g. a sqlite3 command).
        hint: String,
    },
}

impl fmt::Display for RecordLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordLink::Url(u) => f.write_str(u),
            RecordLink::Local { path, hint } => write!(f, "{} ({hint})", path.display()),
        }
    }
}
