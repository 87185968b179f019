//! The local backend: the SQLite execution store, the local bucket's data capture, and a
//! [`LocalStack`] in this process for the keys that start and stop executions.
//!
//! Reads go to the shared store, so executions started by `scones run` in another terminal
//! show up live. SQLite calls are blocking and run on tokio's blocking pool, one connection
//! behind a mutex (reads are short and indexed; the store batches its writes).
//!
//! The stack (which needs a trained model) is opened lazily, on the first call that needs
//! it, so the dashboard also works on a home that has executions but no model yet, and a
//! model trained in another terminal is picked up without a restart. `--readonly` never
//! opens it: nothing is written to the home at all.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use regex::Regex;
use scones_handlers::Threshold;
use scones_local::endpoint::{DEFAULT_ENDPOINT_NAME, metric, read_captures};
use scones_local::store::{self, ChangeCursor, ExecutionStatus, Store, StoreError};
use scones_local::training::latest_model_dir;
use scones_local::workflow::STATE_MACHINE_NAME;
use scones_local::{Home, LocalBucket, LocalStack, StackError, StackOptions};

use crate::dashboard::backend::history::cause_message;
use crate::dashboard::backend::{
    Backend, BackendError, BackendInfo, BackendKind, BackendResult, CapturePoint, Cursor,
    EndpointInfo, EndpointMetrics, ExecStatus, ExecutionDelta, ExecutionId, ExecutionSummary,
    HistoryEvent, LogLevel, LogLine, LowConfidenceFailure, RecordLink, TimeRange,
};

/// The error name low-confidence failures carry (the handlers' stable name).
pub const LOW_CONFIDENCE: &str = "LowConfidence";

/// At most this many low-confidence failures are listed.
pub const LOW_CONFIDENCE_LIMIT: usize = 1000;

/// Error recorded on executions stopped from the dashboard.
pub const STOPPED_ERROR: &str = "Dashboard.Stopped";

/// How the local backend starts.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// FilterLowConfidence threshold for executions started here.
    pub threshold: Threshold,
    /// Never open the stack (no writes to the home).
    pub readonly: bool,
}

/// Why the local backend cannot start.
#[derive(Debug, thiserror::Error)]
pub enum LocalBackendError {
    /// The store cannot be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
}

enum StackSlot {
    /// Not opened yet (or no model last time we looked).
    Closed,
    /// Open.
    Open(LocalStack),
    /// Injected by tests/benchmarks: never reopened.
    Fixed(LocalStack),
}

/// The local stack as a dashboard backend.
pub struct LocalBackend {
    home: Home,
    bucket: LocalBucket,
    store: Arc<Mutex<Store>>,
    stack: Mutex<StackSlot>,
    options: LocalOptions,
    endpoint_name: String,
}

impl LocalBackend {
    /// The backend for `home`; opens (and if needed creates) its store.
    pub fn open(home: &Home, options: LocalOptions) -> Result<LocalBackend, LocalBackendError> {
        let store = home.open_store()?;
        Ok(LocalBackend {
            home: home.clone(),
            bucket: home.bucket(),
            store: Arc::new(Mutex::new(store)),
            stack: Mutex::new(StackSlot::Closed),
            options,
            endpoint_name: DEFAULT_ENDPOINT_NAME.to_owned(),
        })
    }

    /// The backend for `home` driving an already opened `stack` (tests and benchmarks use a
    /// stack with a fixed predictor).
    pub fn with_stack(
        home: &Home,
        stack: LocalStack,
        threshold: Threshold,
    ) -> Result<LocalBackend, LocalBackendError> {
        let backend = LocalBackend::open(
            home,
            LocalOptions {
                threshold,
                readonly: false,
            },
        )?;
        let name = stack.endpoint().endpoint_name().to_owned();
        if let Ok(mut slot) = backend.stack.lock() {
            *slot = StackSlot::Fixed(stack);
        }
        Ok(LocalBackend {
            endpoint_name: name,
            ..backend
        })
    }

    /// Waits (at most `timeout`) for executions started by this process to end, then
    /// flushes the store writer and data capture. Call before exiting.
    pub async fn finish(&self, timeout: Duration) {
        let stack = match self.stack.lock().as_deref() {
            Ok(StackSlot::Open(s) | StackSlot::Fixed(s)) => s.clone(),
            _ => return,
        };
        let deadline = tokio::time::Instant::now() + timeout;
        while !stack.running().is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if let Err(e) = stack.flush().await {
            tracing::warn!(error = %e, "flushing the execution store failed");
        }
    }

    /// The stack, opening it if there is a model now.
    fn stack(&self, operation: &'static str) -> BackendResult<LocalStack> {
        if self.options.readonly {
            return Err(BackendError::NotReady {
                operation,
                reason: "the dashboard is read-only".to_owned(),
            });
        }
        let mut slot = self.stack.lock().map_err(|_| poisoned(operation))?;
        match &*slot {
            StackSlot::Open(s) | StackSlot::Fixed(s) => return Ok(s.clone()),
            StackSlot::Closed => {}
        }
        let options = StackOptions {
            threshold: self.options.threshold,
            ..StackOptions::default()
        };
        match LocalStack::open(&self.home, &options) {
            Ok(stack) => {
                *slot = StackSlot::Open(stack.clone());
                Ok(stack)
            }
            Err(e @ StackError::Training(_)) => Err(BackendError::NotReady {
                operation,
                reason: format!("{e} (train one with `scones train --local`)"),
            }),
            Err(e) => Err(BackendError::Failed {
                operation,
                message: e.to_string(),
            }),
        }
    }

    /// Runs a store query on the blocking pool.
    async fn query<T, F>(&self, operation: &'static str, f: F) -> BackendResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        let joined = tokio::task::spawn_blocking(move || {
            let store = store.lock().map_err(|_| poisoned(operation))?;
            f(&store).map_err(|e| store_error(operation, e))
        })
        .await;
        match joined {
            Ok(result) => result,
            Err(e) => Err(BackendError::TaskCrashed {
                operation,
                message: e.to_string(),
            }),
        }
    }
}

fn poisoned(operation: &'static str) -> BackendError {
    BackendError::Failed {
        operation,
        message: "a previous call panicked while holding the store".to_owned(),
    }
}

/// SQLite's BUSY/LOCKED mean another process holds the write lock: the local analogue of
/// throttling, so the dashboard backs off instead of hammering.
fn store_error(operation: &'static str, e: StoreError) -> BackendError {
    let busy = matches!(
        &e,
        StoreError::Sqlite { source: rusqlite_error, .. }
            if rusqlite_error.sqlite_error_code().is_some_and(|c| matches!(
                c,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ))
    );
    if busy {
        BackendError::Throttled {
            operation,
            message: e.to_string(),
        }
    } else {
        BackendError::Failed {
            operation,
            message: e.to_string(),
        }
    }
}

fn status(s: ExecutionStatus) -> ExecStatus {
    match s {
        ExecutionStatus::Running => ExecStatus::Running,
        ExecutionStatus::Succeeded => ExecStatus::Succeeded,
        ExecutionStatus::Failed => ExecStatus::Failed,
        ExecutionStatus::TimedOut => ExecStatus::TimedOut,
        ExecutionStatus::Aborted => ExecStatus::Aborted,
    }
}

fn summary(s: store::ExecutionSummary) -> ExecutionSummary {
    ExecutionSummary {
        id: ExecutionId::new(s.arn),
        name: s.name,
        s3_key: s.s3_key,
        status: status(s.status),
        start: s.start,
        stop: s.stop,
        error: s.error,
        cause: s.cause,
    }
}

/// `seq:id`, the store's change cursor as text.
fn encode_cursor(c: ChangeCursor) -> Cursor {
    Cursor(format!("{}:{}", c.seq, c.id))
}

fn decode_cursor(c: &Cursor) -> Option<ChangeCursor> {
    let (seq, id) = c.0.split_once(':')?;
    Some(ChangeCursor {
        seq: seq.parse().ok()?,
        id: id.parse().ok()?,
    })
}

/// Threshold and scores from a LowConfidence cause (the handlers' message: `confidence
/// 0.7100 is below the threshold 0.93: p_bicycle=0.7100, p_motorcycle=0.2900`).
pub fn parse_low_confidence_cause(cause: &str) -> Option<(f64, f64, f64)> {
    static PATTERN: std::sync::OnceLock<Option<Regex>> = std::sync::OnceLock::new();
    let re = PATTERN
        .get_or_init(|| {
            Regex::new(r"threshold ([0-9.]+): p_bicycle=([0-9.eE+-]+), p_motorcycle=([0-9.eE+-]+)")
                .ok()
        })
        .as_ref()?;
    let message = cause_message(cause);
    let caps = re.captures(&message)?;
    let number = |i: usize| {
        caps.get(i)?
            .as_str()
            .trim_end_matches('.')
            .parse::<f64>()
            .ok()
    };
    Some((number(1)?, number(2)?, number(3)?))
}

impl Backend for LocalBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: BackendKind::Local {
                home: self.home.root().to_path_buf(),
                // Unreadable or missing manifest: nothing staged yet, so nothing to flag.
                synthetic_data: scones_local::stage::read_manifest(&self.bucket)
                    .ok()
                    .flatten()
                    .is_some_and(|m| m.synthetic),
            },
            state_machine: STATE_MACHINE_NAME.to_owned(),
            threshold: self.options.threshold.value(),
            supports_redrive: false,
        }
    }

    async fn executions_since(
        &self,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> BackendResult<ExecutionDelta> {
        let from = cursor.as_ref().and_then(decode_cursor).unwrap_or_default();
        let changes = self
            .query("ListExecutions", move |s| s.changes_since(from, limit))
            .await?;
        Ok(ExecutionDelta {
            changed: changes.executions.into_iter().map(summary).collect(),
            cursor: encode_cursor(changes.cursor),
            more: changes.more,
        })
    }

    async fn history(&self, id: ExecutionId) -> BackendResult<Vec<HistoryEvent>> {
        let arn = id.as_str().to_owned();
        let events = self
            .query("GetExecutionHistory", move |s| s.history(&arn))
            .await?;
        if events.is_empty() {
            return Err(BackendError::NotFound(id.to_string()));
        }
        events
            .iter()
            .enumerate()
            .map(|(i, e)| HistoryEvent::from_aws_json(i, e))
            .collect::<Result<_, _>>()
            .map_err(|e| BackendError::Failed {
                operation: "GetExecutionHistory",
                message: e.to_string(),
            })
    }

    async fn start_random(&self, count: usize) -> BackendResult<Vec<ExecutionId>> {
        let operation = "StartExecution";
        let stack = self.stack(operation)?;
        let keys = stack.random_test_keys(count).map_err(|e| match e {
            StackError::NoTestImages { .. } => BackendError::NotReady {
                operation,
                reason: e.to_string(),
            },
            other => BackendError::Failed {
                operation,
                message: other.to_string(),
            },
        })?;
        // Each execution runs in its own task on this runtime; its handle is dropped (the
        // task keeps running) because the store is where the dashboard watches it.
        Ok(keys
            .iter()
            .map(|key| ExecutionId::new(stack.start(key).arn))
            .collect())
    }

    async fn stop(&self, id: ExecutionId) -> BackendResult<()> {
        let stack = self.stack("StopExecution")?;
        if stack.stop(
            id.as_str(),
            Some(STOPPED_ERROR.to_owned()),
            Some("stopped from the scones dashboard".to_owned()),
        ) {
            Ok(())
        } else {
            Err(BackendError::Unsupported {
                operation: "StopExecution",
                backend: "local",
                reason: format!(
                    "{id} is not running in this dashboard; a local execution can only be stopped by the process running it (e.g. Ctrl-C its `scones run`)"
                ),
            })
        }
    }

    async fn redrive(&self, _id: ExecutionId) -> BackendResult<()> {
        Err(BackendError::Unsupported {
            operation: "RedriveExecution",
            backend: "local",
            reason: "redrive is a Step Functions service feature; start a new execution instead"
                .to_owned(),
        })
    }

    async fn endpoint(&self) -> BackendResult<EndpointInfo> {
        let name = self.endpoint_name.clone();
        let opened = matches!(
            self.stack
                .lock()
                .map(|s| matches!(*s, StackSlot::Open(_) | StackSlot::Fixed(_))),
            Ok(true)
        );
        if opened {
            return Ok(EndpointInfo {
                name,
                status: "InService".to_owned(),
                detail: None,
            });
        }
        let bucket = self.bucket.clone();
        let model = tokio::task::spawn_blocking(move || latest_model_dir(&bucket))
            .await
            .map_err(|e| BackendError::TaskCrashed {
                operation: "DescribeEndpoint",
                message: e.to_string(),
            })?;
        Ok(match model {
            Ok(Some(dir)) => EndpointInfo {
                name,
                status: "InService".to_owned(),
                detail: dir.file_name().map(|n| n.to_string_lossy().into_owned()),
            },
            Ok(None) => EndpointInfo {
                name,
                status: "NotTrained".to_owned(),
                detail: Some("run `scones train --local`".to_owned()),
            },
            Err(e) => EndpointInfo {
                name,
                status: "Failed".to_owned(),
                detail: Some(e.to_string()),
            },
        })
    }

    async fn metrics(&self, range: TimeRange, period: Duration) -> BackendResult<EndpointMetrics> {
        let endpoint = self.endpoint_name.clone();
        let period = period.max(Duration::from_secs(1));
        let series = self
            .query("GetMetricData", move |s| {
                let get = |m: &str| s.metric_series(&endpoint, m, range.start, range.end, period);
                Ok((
                    get(metric::INVOCATIONS)?,
                    get(metric::MODEL_LATENCY)?,
                    get(metric::INVOCATION_4XX_ERRORS)?,
                    get(metric::INVOCATION_5XX_ERRORS)?,
                ))
            })
            .await?;
        let (invocations, latency, e4, e5) = series;
        let span = (range.end - range.start).num_milliseconds().max(0) as u128;
        let n = (span / period.as_millis().max(1)).max(1) as usize;
        let slot = |t: DateTime<Utc>| -> Option<usize> {
            let offset = (t - range.start).num_milliseconds();
            let i = usize::try_from(offset).ok()? / period.as_millis().max(1) as usize;
            (i < n).then_some(i)
        };
        let mut m = EndpointMetrics {
            start: Some(range.start),
            period,
            invocations: vec![0.0; n],
            latency_ms: vec![None; n],
            latency_max_ms: vec![None; n],
            errors: vec![0.0; n],
        };
        for d in invocations {
            if let Some(i) = slot(d.start) {
                m.invocations[i] += d.sum;
            }
        }
        // ModelLatency is recorded in microseconds, like SageMaker's.
        for d in latency {
            if let Some(i) = slot(d.start) {
                m.latency_ms[i] = Some(d.average() / 1000.0);
                m.latency_max_ms[i] = Some(d.maximum / 1000.0);
            }
        }
        for d in e4.into_iter().chain(e5) {
            if let Some(i) = slot(d.start) {
                m.errors[i] += d.sum;
            }
        }
        Ok(m)
    }

    async fn capture(&self, range: TimeRange, limit: usize) -> BackendResult<Vec<CapturePoint>> {
        // The stack of this process buffers capture lines (flushed each second while
        // traffic lasts): write them out so the chart shows the latest inferences.
        let stack = match self.stack.lock().as_deref() {
            Ok(StackSlot::Open(s) | StackSlot::Fixed(s)) => Some(s.clone()),
            _ => None,
        };
        if let Some(stack) = stack
            && let Err(e) = stack.endpoint().flush()
        {
            tracing::warn!(error = %e, "data capture flush failed");
        }
        let bucket = self.bucket.clone();
        let endpoint = self.endpoint_name.clone();
        let read =
            tokio::task::spawn_blocking(move || read_captures(&bucket, &endpoint, range.start))
                .await
                .map_err(|e| BackendError::TaskCrashed {
                    operation: "ReadDataCapture",
                    message: e.to_string(),
                })?;
        let captured = match read {
            Ok(c) => c,
            // No capture folder yet: nothing captured.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(BackendError::Failed {
                    operation: "ReadDataCapture",
                    message: e.to_string(),
                });
            }
        };
        let mut points: Vec<CapturePoint> = captured
            .into_iter()
            .filter(|c| range.contains(c.time))
            .filter_map(|c| {
                let [p_bicycle, p_motorcycle] = c.scores?;
                Some(CapturePoint {
                    time: c.time,
                    event_id: c.event_id,
                    p_bicycle,
                    p_motorcycle,
                })
            })
            .collect();
        if points.len() > limit {
            points.drain(..points.len() - limit);
        }
        Ok(points)
    }

    async fn low_confidence(&self, range: TimeRange) -> BackendResult<Vec<LowConfidenceFailure>> {
        let rows = self
            .query("LowConfidenceFailures", |s| {
                s.failures(LOW_CONFIDENCE, LOW_CONFIDENCE_LIMIT)
            })
            .await?;
        let default_threshold = self.options.threshold.value();
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let time = row.stop.unwrap_or(row.start);
                if !range.contains(time) {
                    return None;
                }
                let parsed = row.cause.as_deref().and_then(parse_low_confidence_cause);
                let (threshold, p_bicycle, p_motorcycle) = match (parsed, row.scores) {
                    (Some(p), _) => p,
                    (None, Some([b, m])) => (default_threshold, b, m),
                    (None, None) => return None,
                };
                Some(LowConfidenceFailure {
                    execution: Some(ExecutionId::new(row.arn)),
                    s3_key: row.s3_key,
                    p_bicycle,
                    p_motorcycle,
                    threshold,
                    time,
                })
            })
            .collect())
    }

    async fn logs(&self, execution: ExecutionSummary) -> BackendResult<Vec<LogLine>> {
        let events = self.history(execution.id.clone()).await?;
        let mut lines: Vec<LogLine> = events.iter().map(event_line).collect();
        // The endpoint's side of the same window: what the model answered, from the data
        // capture (the local analogue of the endpoint's CloudWatch log group).
        let end = execution.stop.unwrap_or_else(Utc::now) + chrono::Duration::seconds(1);
        let range = TimeRange {
            start: execution.start - chrono::Duration::seconds(1),
            end,
        };
        if let Ok(points) = self.capture(range, 200).await {
            lines.extend(points.into_iter().map(|p| LogLine {
                time: p.time,
                source: "endpoint".to_owned(),
                level: LogLevel::Info,
                message: format!(
                    "inference {} p_bicycle={:.4} p_motorcycle={:.4}",
                    p.event_id, p.p_bicycle, p.p_motorcycle
                ),
            }));
        }
        lines.sort_by_key(|l| l.time);
        Ok(lines)
    }

    fn record_link(&self, id: &ExecutionId) -> RecordLink {
        let path: PathBuf = self.home.store_path();
        RecordLink::Local {
            hint: format!(
                "sqlite3 {} \"SELECT h.event FROM history_events h JOIN executions e ON e.id = h.execution_id WHERE e.arn = '{}' ORDER BY h.event_id\"",
                path.display(),
                id
            ),
            path,
        }
    }
}

fn event_line(e: &HistoryEvent) -> LogLine {
    let failed = ["Failed", "TimedOut", "Aborted"]
        .iter()
        .any(|s| e.kind.ends_with(s));
    let summary = e.summary();
    LogLine {
        time: e.timestamp,
        source: "states".to_owned(),
        level: if failed {
            LogLevel::Error
        } else {
            LogLevel::Info
        },
        message: if summary.is_empty() {
            e.kind.clone()
        } else {
            format!("{} {summary}", e.kind)
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_garbage_restarts() {
        let c = ChangeCursor { seq: 42, id: 7 };
        assert_eq!(decode_cursor(&encode_cursor(c)), Some(c));
        assert_eq!(decode_cursor(&Cursor("x".into())), None);
    }

    #[test]
    fn low_confidence_cause_is_parsed_from_the_error_document() {
        let doc = r#"{"errorMessage":"confidence 0.7100 is below the threshold 0.93: p_bicycle=0.7100, p_motorcycle=0.2900","errorType":"LowConfidence"}"#;
        assert_eq!(parse_low_confidence_cause(doc), Some((0.93, 0.71, 0.29)));
        assert_eq!(parse_low_confidence_cause("something else"), None);
    }
}
