//! The local backend: the port ([`Backend`]) over the SQLite execution store, the local
//! bucket's data capture, and a [`LocalStack`] in this process for the calls that start and
//! stop executions. The dashboard and `scones run --local` both use it.
//!
//! Reads go to the shared store, so executions started by `scones run` in another terminal
//! show up live. SQLite calls are blocking and run on tokio's blocking pool, one connection
//! behind a mutex (reads are short and indexed; the store batches its writes).
//!
//! The stack (which needs a trained model) is opened lazily, on the first call that needs
//! it, so the dashboard also works on a home that has executions but no model yet, and a
//! model trained in another terminal is picked up without a restart. `--readonly` never
//! opens it: nothing is written to the home at all.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use scones_workflow::Threshold;
use scones_workflow::capture::{Keep, sample_points};
use scones_workflow::cause::{LOW_CONFIDENCE_ERROR, LowConfidenceCause, StopReason};
use scones_workflow::class::Class;
use scones_workflow::drift::{Cutoffs, DriftView, WindowSpec};
use scones_workflow::guard::{GuardCommand, GuardMode, GuardState};
use scones_workflow::history::HistoryEvent;
use scones_workflow::models::{ModelsView, Promotion};
use scones_workflow::port::{
    Backend, BackendError, BackendInfo, BackendKind, BackendResult, CaptureSample, Cursor,
    EndpointInfo, EndpointMetrics, ExecutionDelta, ExecutionId, ExecutionSummary, LogLevel,
    LogLine, LowConfidenceFailure, LowConfidenceReport, Operation, RecordLink, TimeRange,
};
use scones_workflow::review::{DEFAULT_AUDIT_RATE, LabelRecord, NewLabel, ReviewQueue};
use scones_workflow::run::ExecutionResult;
use tokio::task::JoinHandle;

use crate::first_model::{FirstModel, FirstModelStatus};
use crate::guard::GuardFile;
use crate::promotion::PromoteError;
use crate::review::LabelStore;

use crate::drift::{DriftError, DriftOptions};
use crate::endpoint::{DEFAULT_ENDPOINT_NAME, metric, read_captures};
use crate::store::{self, ChangeCursor, Store, StoreError};
use crate::training::{TrainingError, serving_model_dir};
use crate::workflow::STATE_MACHINE_NAME;
use crate::{Home, LocalBucket, LocalStack, StackError, StackOptions};

/// How often [`Backend::wait_execution`] looks at the store for an execution another process
/// runs.
const WAIT_POLL: Duration = Duration::from_millis(100);

/// How the local backend starts.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// FilterLowConfidence threshold for executions started here.
    pub threshold: Threshold,
    /// Never open the stack (no writes to the home).
    pub readonly: bool,
    /// Write the endpoint's data capture.
    pub data_capture: bool,
    /// The guard's mode until one is set.
    pub guard: GuardMode,
    /// The share of accepted decisions drawn for audit.
    pub audit_rate: f64,
}

impl Default for LocalOptions {
    fn default() -> Self {
        LocalOptions {
            threshold: Threshold::DEFAULT,
            readonly: false,
            data_capture: true,
            guard: GuardMode::Hold,
            audit_rate: DEFAULT_AUDIT_RATE,
        }
    }
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

/// The local stack behind the port.
pub struct LocalBackend {
    home: Home,
    bucket: LocalBucket,
    store: Arc<Mutex<Store>>,
    stack: Mutex<StackSlot>,
    options: LocalOptions,
    endpoint_name: String,
    /// Executions started by [`Backend::start_execution`], until they are waited for.
    started: Mutex<HashMap<String, JoinHandle<ExecutionResult>>>,
    /// The test split's labels by key, read from `test.lst` (re-read when it changes).
    labels: Mutex<Labels>,
    /// People's labels under `review/` (read incrementally).
    reviews: Arc<LabelStore>,
    /// The guard's state file (read directly when no stack is open here).
    guard: GuardFile,
    /// The home's first model, when it is training in this process.
    first_model: Option<Arc<FirstModel>>,
}

/// The ground truth of the staged test split, with the `test.lst` modification time it was
/// read at.
#[derive(Default)]
struct Labels {
    read_at: Option<std::time::SystemTime>,
    by_key: Arc<HashMap<String, Class>>,
}

impl LocalBackend {
    /// The backend for `home`; opens (and if needed creates) its store. Read-only (see
    /// [`LocalOptions::readonly`]), it opens the store read-only and writes nothing, not even
    /// a missing home.
    pub fn open(home: &Home, options: LocalOptions) -> Result<LocalBackend, LocalBackendError> {
        let store = if options.readonly {
            Store::open_readonly(&home.store_path())?
        } else {
            home.open_store()?
        };
        Ok(LocalBackend {
            home: home.clone(),
            bucket: home.bucket(),
            store: Arc::new(Mutex::new(store)),
            stack: Mutex::new(StackSlot::Closed),
            endpoint_name: DEFAULT_ENDPOINT_NAME.to_owned(),
            started: Mutex::new(HashMap::new()),
            labels: Mutex::new(Labels::default()),
            reviews: Arc::new(LabelStore::new(&home.bucket())),
            guard: GuardFile::new(&home.bucket(), options.guard),
            first_model: None,
            options,
        })
    }

    /// Serves the model `first` trains once it is saved; until then the endpoint is
    /// `Creating` and executions are refused with the time left ([`crate::first_model`]).
    pub fn with_first_model(mut self, first: Arc<FirstModel>) -> LocalBackend {
        self.first_model = Some(first);
        self
    }

    /// The first model's status while it is not serving yet.
    fn first_model_pending(&self) -> Option<FirstModelStatus> {
        self.first_model
            .as_ref()
            .map(|f| f.status())
            .filter(|s| *s != FirstModelStatus::Done)
    }

    /// The test split's labels by key (`test/<file>`), re-read when `test.lst` changed;
    /// empty when nothing is staged. Images outside the test split are unlabelled.
    fn labels(&self) -> Arc<HashMap<String, Class>> {
        let path = self.bucket.root().join("test.lst");
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        let mut labels = lock(&self.labels);
        if modified.is_some() && labels.read_at != modified {
            match crate::stage::read_lst(&path) {
                Ok(entries) => {
                    labels.by_key = Arc::new(
                        entries
                            .into_iter()
                            .map(|e| (format!("test/{}", e.path), e.label))
                            .collect(),
                    );
                    labels.read_at = modified;
                }
                Err(e) => tracing::warn!(error = %e, "test.lst unreadable: no labels"),
            }
        }
        Arc::clone(&labels.by_key)
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
                ..LocalOptions::default()
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
    pub fn stack(&self, operation: Operation) -> BackendResult<LocalStack> {
        self.writable(operation)?;
        let mut slot = self.stack.lock().map_err(|_| poisoned(operation))?;
        match &*slot {
            StackSlot::Open(s) | StackSlot::Fixed(s) => return Ok(s.clone()),
            StackSlot::Closed => {}
        }
        let options = StackOptions {
            threshold: self.options.threshold,
            data_capture: self.options.data_capture,
            guard: self.options.guard,
            audit_rate: self.options.audit_rate,
            ..StackOptions::default()
        };
        match LocalStack::open(&self.home, &options) {
            Ok(stack) => {
                *slot = StackSlot::Open(stack.clone());
                Ok(stack)
            }
            // No model yet: the first one training here says how long it has left (a model
            // trained meanwhile by `scones train` serves all the same).
            Err(StackError::Training(TrainingError::NoModel { .. }))
                if let Some(status) = self.first_model_pending() =>
            {
                Err(BackendError::NotReady {
                    operation,
                    reason: status.describe(),
                })
            }
            // Its message says which command fixes it.
            Err(e @ StackError::Training(_)) => Err(BackendError::NotReady {
                operation,
                reason: e.to_string(),
            }),
            Err(e) => Err(BackendError::failed(operation, e)),
        }
    }

    /// The stack, when this process has one open (no attempt to open it).
    fn open_stack(&self) -> Option<LocalStack> {
        match self.stack.lock().as_deref() {
            Ok(StackSlot::Open(s) | StackSlot::Fixed(s)) => Some(s.clone()),
            _ => None,
        }
    }

    /// Runs blocking work on the blocking pool.
    async fn blocking<T, F>(&self, operation: Operation, f: F) -> BackendResult<T>
    where
        T: Send + 'static,
        F: FnOnce() -> BackendResult<T> + Send + 'static,
    {
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| BackendError::TaskCrashed {
                operation,
                message: e.to_string(),
            })?
    }

    /// Refuses a change when read-only.
    fn writable(&self, operation: Operation) -> BackendResult<()> {
        if self.options.readonly {
            return Err(BackendError::NotReady {
                operation,
                reason: "the dashboard is read-only".to_owned(),
            });
        }
        Ok(())
    }

    /// A new version serves: this process's endpoint switches at once (others follow the
    /// pointer within `endpoint::WATCH_EVERY`).
    fn serve_now(&self, version: &str) {
        if let Some(stack) = self.open_stack() {
            match crate::endpoint::load_served(&self.bucket, version) {
                Ok(served) => stack.endpoint().serve(served),
                Err(e) => tracing::warn!(version, error = %e, "cannot load the promoted version"),
            }
        }
    }

    /// The stack of this process buffers capture lines (flushed each second while traffic
    /// lasts): writes them out so a reader sees the latest inferences.
    fn flush_capture(&self) {
        if let Some(stack) = self.open_stack()
            && let Err(e) = stack.endpoint().flush()
        {
            tracing::warn!(error = %e, "data capture flush failed");
        }
    }

    /// Runs a store query on the blocking pool.
    async fn query<T, F>(&self, operation: Operation, f: F) -> BackendResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        let joined = tokio::task::spawn_blocking(move || {
            let mut store = store.lock().map_err(|_| poisoned(operation))?;
            // A read-only backend on a home without a store yet reads an empty stand-in
            // until another process (`scones run`) creates the file.
            // A file still being created (no schema yet) leaves the stand-in for next time.
            if store.is_stand_in()
                && store.path().exists()
                && let Ok(opened) = Store::open_readonly(store.path())
            {
                *store = opened;
            }
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

fn poisoned(operation: Operation) -> BackendError {
    BackendError::Failed {
        operation,
        message: "a previous call panicked while holding the store".to_owned(),
    }
}

/// SQLite's BUSY/LOCKED mean another process holds the write lock: the local analogue of
/// throttling, so the dashboard backs off instead of hammering.
fn store_error(operation: Operation, e: StoreError) -> BackendError {
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
        BackendError::failed(operation, e)
    }
}

fn summary(s: store::ExecutionRow, labels: &HashMap<String, Class>) -> ExecutionSummary {
    ExecutionSummary {
        id: ExecutionId::new(s.arn),
        name: s.name,
        label: s.s3_key.as_ref().and_then(|k| labels.get(k).copied()),
        s3_key: s.s3_key,
        status: s.status,
        start: s.start,
        stop: s.stop,
        error: s.error,
        cause: s.cause,
        scores: s.scores,
        model: s.model,
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

impl Backend for LocalBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: BackendKind::Local {
                home: self.home.root().to_path_buf(),
                // Unreadable or missing manifest: nothing staged yet, so nothing to flag.
                synthetic_data: crate::stage::read_manifest(&self.bucket)
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
            .query(Operation::ListExecutions, move |s| {
                s.changes_since(from, limit)
            })
            .await?;
        let labels = self.labels();
        Ok(ExecutionDelta {
            changed: changes
                .executions
                .into_iter()
                .map(|s| summary(s, &labels))
                .collect(),
            cursor: encode_cursor(changes.cursor),
            more: changes.more,
            removed: changes.removed.into_iter().map(ExecutionId::new).collect(),
        })
    }

    async fn history(&self, id: ExecutionId) -> BackendResult<Vec<HistoryEvent>> {
        let operation = Operation::GetExecutionHistory;
        let read = |arn: String| self.query(operation, move |s| s.history(&arn));
        let mut events = read(id.as_str().to_owned()).await?;
        if events.is_empty() {
            // Nothing stored yet is not "missing": the store's writer holds a fresh
            // execution's first events (and its row) up to 200 ms. One this process started
            // is flushed and read again; one with a row has no events yet. Only an id nobody
            // started is not found.
            let started_here = self
                .started
                .lock()
                .map_err(|_| poisoned(operation))?
                .contains_key(id.as_str());
            if started_here && let Ok(stack) = self.stack(operation) {
                let _ = stack.flush().await;
                events = read(id.as_str().to_owned()).await?;
            }
            if events.is_empty() && !started_here {
                let arn = id.as_str().to_owned();
                let row = self.query(operation, move |s| s.execution(&arn)).await?;
                if row.is_none() {
                    return Err(BackendError::NotFound(id.to_string()));
                }
            }
        }
        events
            .iter()
            .enumerate()
            .map(|(i, e)| HistoryEvent::from_aws_json(i, e))
            .collect::<Result<_, _>>()
            .map_err(|e| BackendError::failed(Operation::GetExecutionHistory, e))
    }

    fn can_start(&self) -> BackendResult<()> {
        self.stack(Operation::StartExecution).map(|_| ())
    }

    async fn test_keys(&self) -> BackendResult<Arc<Vec<String>>> {
        let operation = Operation::ListTestImages;
        let bucket = self.bucket.clone();
        let listed = self
            .blocking(operation, move || Ok(bucket.test_keys()))
            .await?;
        match listed {
            Ok(keys) if !keys.is_empty() => Ok(Arc::new(keys)),
            Ok(_) => Err(BackendError::NotReady {
                operation,
                reason: StackError::NoTestImages {
                    bucket: self.bucket.root().display().to_string(),
                }
                .to_string(),
            }),
            Err(e) => Err(BackendError::NotReady {
                operation,
                reason: format!("{e} (stage the data with `scones stage --local`)"),
            }),
        }
    }

    async fn start_execution(&self, s3_key: String) -> BackendResult<ExecutionId> {
        let stack = self.stack(Operation::StartExecution)?;
        let started = stack.start(&s3_key);
        let id = ExecutionId::new(started.arn);
        let mut handles = lock(&self.started);
        // Executions nobody waits for (the dashboard's test executions) end on their own:
        // their handles are dropped here, so the map holds only what is still worth waiting
        // for.
        handles.retain(|_, h| !h.is_finished());
        handles.insert(id.to_string(), started.handle);
        Ok(id)
    }

    async fn wait_execution(&self, id: ExecutionId) -> BackendResult<ExecutionResult> {
        let operation = Operation::DescribeExecution;
        let handle = lock(&self.started).remove(id.as_str());
        if let Some(handle) = handle {
            return handle.await.map_err(|e| BackendError::TaskCrashed {
                operation,
                message: e.to_string(),
            });
        }
        // Started elsewhere (another process, or start_random): follow it in the store.
        loop {
            let arn = id.to_string();
            let detail = self
                .query(operation, move |s| s.execution(&arn))
                .await?
                .ok_or_else(|| BackendError::NotFound(id.to_string()))?;
            let s = detail.summary;
            if s.status.is_final() {
                return Ok(ExecutionResult {
                    name: s.name,
                    arn: s.arn,
                    s3_key: s.s3_key.unwrap_or_default(),
                    status: s.status,
                    error: s.error,
                    cause: s.cause,
                    scores: s.scores,
                    duration: s
                        .stop
                        .map(|stop| (stop - s.start).to_std().unwrap_or_default())
                        .unwrap_or_default(),
                    persist_error: None,
                });
            }
            tokio::time::sleep(WAIT_POLL).await;
        }
    }

    async fn stop(&self, id: ExecutionId, reason: StopReason) -> BackendResult<()> {
        let stack = self.stack(Operation::StopExecution)?;
        if stack.stop(
            id.as_str(),
            Some(reason.error.to_owned()),
            Some(reason.cause.to_owned()),
        ) {
            Ok(())
        } else {
            Err(BackendError::Unsupported {
                operation: Operation::StopExecution,
                backend: "local",
                reason: format!(
                    "{id} is not running in this dashboard; a local execution can only be stopped by the process running it (e.g. Ctrl-C its `scones run`)"
                ),
            })
        }
    }

    async fn redrive(&self, _id: ExecutionId) -> BackendResult<()> {
        Err(BackendError::Unsupported {
            operation: Operation::RedriveExecution,
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
        let model = tokio::task::spawn_blocking(move || serving_model_dir(&bucket))
            .await
            .map_err(|e| BackendError::TaskCrashed {
                operation: Operation::DescribeEndpoint,
                message: e.to_string(),
            })?;
        Ok(match model {
            Ok(Some(dir)) => EndpointInfo {
                name,
                status: "InService".to_owned(),
                detail: dir.file_name().map(|n| n.to_string_lossy().into_owned()),
            },
            // SageMaker's word for an endpoint whose model is not up yet.
            Ok(None) if let Some(status) = self.first_model_pending() => EndpointInfo {
                name,
                status: match status {
                    FirstModelStatus::Failed(_) => "Failed",
                    _ => "Creating",
                }
                .to_owned(),
                detail: Some(status.describe()),
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
            .query(Operation::GetMetricData, move |s| {
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

    async fn capture(&self, range: TimeRange, limit: usize) -> BackendResult<CaptureSample> {
        self.flush_capture();
        let bucket = self.bucket.clone();
        let endpoint = self.endpoint_name.clone();
        let read = tokio::task::spawn_blocking(move || {
            read_captures(&bucket, &endpoint, range.start, Keep::Scores, None)
        })
        .await
        .map_err(|e| BackendError::TaskCrashed {
            operation: Operation::ReadDataCapture,
            message: e.to_string(),
        })?;
        match read {
            Ok(captured) => Ok(sample_points(captured, &range, limit)),
            // No capture folder yet: nothing captured.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CaptureSample::default()),
            Err(e) => Err(BackendError::failed(Operation::ReadDataCapture, e)),
        }
    }

    async fn low_confidence(
        &self,
        range: TimeRange,
        limit: usize,
    ) -> BackendResult<LowConfidenceReport> {
        let found = self
            .query(Operation::LowConfidenceFailures, move |s| {
                s.failures(LOW_CONFIDENCE_ERROR, range.start, range.end, limit)
            })
            .await?;
        let default_threshold = self.options.threshold.value();
        let labels = self.labels();
        let failures = found
            .newest
            .into_iter()
            .filter_map(|row| {
                let time = row.stop.unwrap_or(row.start);
                let cause = row
                    .cause
                    .as_deref()
                    .and_then(LowConfidenceCause::parse)
                    .or_else(|| {
                        let [p_bicycle, p_motorcycle] = row.scores?;
                        Some(LowConfidenceCause {
                            threshold: default_threshold,
                            p_bicycle,
                            p_motorcycle,
                        })
                    })?;
                Some(LowConfidenceFailure {
                    execution: Some(ExecutionId::new(row.arn)),
                    label: row.s3_key.as_ref().and_then(|k| labels.get(k).copied()),
                    s3_key: row.s3_key,
                    p_bicycle: cause.p_bicycle,
                    p_motorcycle: cause.p_motorcycle,
                    threshold: cause.threshold,
                    time,
                })
            })
            .collect();
        Ok(LowConfidenceReport {
            failures,
            total: found.total,
            decisions: Some(found.finished),
        })
    }

    async fn image(&self, s3_key: String) -> BackendResult<Vec<u8>> {
        use scones_handlers::ObjectStore;
        let bucket = self.bucket.name().to_owned();
        self.bucket
            .get_object(&bucket, &s3_key, scones_workflow::limits::MAX_IMAGE_BYTES)
            .await
            .map_err(|e| match e {
                scones_handlers::FetchError::NotFound => {
                    BackendError::ObjectNotFound(format!("s3://{bucket}/{s3_key}"))
                }
                other => BackendError::failed(Operation::GetObject, other),
            })
    }

    async fn drift(&self, window: WindowSpec, windows: usize) -> BackendResult<DriftView> {
        let operation = Operation::Drift;
        self.flush_capture();
        let bucket = self.bucket.clone();
        let endpoint = self.endpoint_name.clone();
        let options = DriftOptions {
            window,
            windows,
            threshold: self.options.threshold.value(),
            cutoffs: Cutoffs::default(),
        };
        let judged = self
            .blocking(operation, move || {
                Ok(crate::drift::drift(
                    &bucket,
                    &endpoint,
                    &options,
                    Utc::now(),
                ))
            })
            .await?;
        match judged {
            Ok(drift) => Ok(drift.view(&window)),
            Err(e @ (DriftError::NoModel { .. } | DriftError::NoBaseline { .. })) => {
                Err(BackendError::NotReady {
                    operation,
                    reason: e.to_string(),
                })
            }
            Err(e) => Err(BackendError::failed(operation, e)),
        }
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
        if let Ok(sample) = self.capture(range, 200).await {
            lines.extend(sample.points.into_iter().map(|p| LogLine {
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

    async fn guard(&self) -> BackendResult<GuardState> {
        let operation = Operation::DescribeGuard;
        if let Some(stack) = self.open_stack() {
            return Ok(stack.guard().state());
        }
        let file = self.guard.clone();
        self.blocking(operation, move || {
            file.load().map_err(|e| BackendError::failed(operation, e))
        })
        .await
    }

    async fn command_guard(&self, command: GuardCommand) -> BackendResult<GuardState> {
        let operation = Operation::UpdateGuard;
        self.writable(operation)?;
        let stack = self.open_stack();
        let file = self.guard.clone();
        self.blocking(operation, move || {
            match &stack {
                Some(s) => s.guard().command(command),
                None => file.command(command),
            }
            .map_err(|e| BackendError::failed(operation, e))
        })
        .await
    }

    async fn review_queue(&self, limit: usize) -> BackendResult<ReviewQueue> {
        let operation = Operation::ListReviewQueue;
        let rows = self.query(operation, |s| s.review_rows()).await?;
        let reviews = Arc::clone(&self.reviews);
        self.blocking(operation, move || {
            let (labels, unreadable) = reviews
                .labels()
                .map_err(|e| BackendError::failed(operation, e))?;
            Ok(crate::review::queue(
                &rows,
                &labels,
                unreadable,
                limit,
                Utc::now(),
            ))
        })
        .await
    }

    async fn label(&self, label: NewLabel) -> BackendResult<LabelRecord> {
        let operation = Operation::PutLabel;
        self.writable(operation)?;
        let bucket = self.bucket.clone();
        let reviews = Arc::clone(&self.reviews);
        self.blocking(operation, move || {
            crate::review::check_image(&bucket, &label.key).map_err(|e| {
                BackendError::NotReady {
                    operation,
                    reason: e.to_string(),
                }
            })?;
            let record = label.record(&crate::review::who(), Utc::now());
            reviews
                .append(&record)
                .map_err(|e| BackendError::failed(operation, e))?;
            Ok(record)
        })
        .await
    }

    async fn labels(&self) -> BackendResult<Vec<LabelRecord>> {
        let operation = Operation::ListLabels;
        let reviews = Arc::clone(&self.reviews);
        self.blocking(operation, move || {
            let (labels, _) = reviews
                .labels()
                .map_err(|e| BackendError::failed(operation, e))?;
            let mut current: Vec<LabelRecord> = labels.current().cloned().collect();
            current.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.key.cmp(&b.key)));
            Ok(current)
        })
        .await
    }

    async fn models(&self) -> BackendResult<ModelsView> {
        let operation = Operation::ListModels;
        let bucket = self.bucket.clone();
        self.blocking(operation, move || {
            crate::models::view(&bucket).map_err(|e| BackendError::failed(operation, e))
        })
        .await
    }

    async fn promote(&self, version: String, force: bool) -> BackendResult<Promotion> {
        let operation = Operation::PromoteModel;
        self.writable(operation)?;
        let bucket = self.bucket.clone();
        let done = self
            .blocking(operation, move || {
                crate::promotion::promote(&bucket, &version, force, &crate::review::who())
                    .map_err(|e| promotion_error(operation, e))
            })
            .await?;
        self.serve_now(&done.to);
        Ok(done)
    }

    async fn rollback(&self) -> BackendResult<Promotion> {
        let operation = Operation::RollbackModel;
        self.writable(operation)?;
        let bucket = self.bucket.clone();
        let done = self
            .blocking(operation, move || {
                crate::promotion::rollback(&bucket, &crate::review::who())
                    .map_err(|e| promotion_error(operation, e))
            })
            .await?;
        self.serve_now(&done.to);
        Ok(done)
    }

    fn record_link(&self, id: &ExecutionId) -> RecordLink {
        let path: PathBuf = self.home.store_path();
        RecordLink::Local {
            hint: format!("scones --home {} history {id}", self.home.root().display()),
            path,
        }
    }
}

/// A refused promotion is the user's to fix (NotReady, with the gate's findings); a broken
/// registry is a failure.
fn promotion_error(operation: Operation, e: PromoteError) -> BackendError {
    match e {
        PromoteError::Registry(_) | PromoteError::Unusable { .. } => {
            BackendError::failed(operation, e)
        }
        other => BackendError::NotReady {
            operation,
            reason: other.to_string(),
        },
    }
}

fn event_line(e: &HistoryEvent) -> LogLine {
    let summary = e.summary();
    LogLine {
        time: e.timestamp,
        source: "states".to_owned(),
        level: if e.is_failure() {
            LogLevel::Error
        } else {
            LogLevel::Info
        },
        message: if summary.is_empty() {
            e.event_type().to_owned()
        } else {
            format!("{} {summary}", e.event_type())
        },
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A map of task handles: still usable after a panic elsewhere.
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
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
}
