//! [`LocalStack`]: the one workflow definition on the local engine, with the real handlers
//! wired to the local bucket and endpoint, every execution persisted in the store as it runs.
//!
//! [`crate::LocalBackend`] drives it for the dashboard and `scones run --local`:
//! [`LocalStack::start`] fires one execution in the background, [`LocalStack::execute`] runs
//! one to its end, [`LocalStack::stop`] aborts a running one.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use scones_asl::{
    Engine, EventDetails, EventSink, ExecutionSpec, HistoryEvent, Payload, StateMachine,
    StopHandle, SystemClock,
};
use scones_handlers::ImageRecord;
use scones_workflow::cause::{DRIFT_HOLD_ERROR, LOW_CONFIDENCE_ERROR};
use scones_workflow::guard::GuardMode;
use scones_workflow::review::{DEFAULT_AUDIT_RATE, ReviewReason};
use scones_workflow::run::ExecutionResult;
use scones_workflow::{ExecutionStatus, Threshold};
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::bucket::LocalBucket;
use crate::endpoint::{DEFAULT_ENDPOINT_NAME, DataCapture, LocalEndpoint, Predictor, Served};
use crate::guard::{GuardFile, GuardMonitor};
use crate::home::Home;
use crate::stage::StageError;
use crate::store::{ExecutionStart, ExecutionStop, StoreError, StoreWriter};
use crate::training::TrainingError;
use crate::workflow::{self, AuditMarks, FilterSettings, STATE_MACHINE_NAME, WorkflowError};

/// Executions of a process that has shown no sign of life for this long are closed as
/// orphans when a stack opens.
pub const ORPHAN_AFTER: Duration = Duration::from_secs(15);

/// How the stack is set up.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// FilterLowConfidence's threshold (default 0.93).
    pub threshold: Threshold,
    /// The endpoint's name (metrics dimension, capture folder).
    pub endpoint_name: String,
    /// Write data capture (on by default, as the workflow's endpoint has it on).
    pub data_capture: bool,
    /// The guard's mode until one is set (`scones guard mode`); `hold` by default.
    pub guard: GuardMode,
    /// The share of accepted decisions drawn for audit (2 % by default).
    pub audit_rate: f64,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            threshold: Threshold::DEFAULT,
            endpoint_name: DEFAULT_ENDPOINT_NAME.to_owned(),
            data_capture: true,
            guard: GuardMode::Hold,
            audit_rate: DEFAULT_AUDIT_RATE,
        }
    }
}

/// Why the stack could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No model, or it could not be loaded.
    #[error(transparent)]
    Training(#[from] TrainingError),
    /// The workflow definition could not be used.
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
    /// The staged test list could not be read.
    #[error(transparent)]
    Stage(#[from] StageError),
    /// `--random` needs test images and there are none.
    #[error("no test images are staged in {bucket}: run `scones stage --local` first")]
    NoTestImages {
        /// The bucket directory.
        bucket: String,
    },
}

impl StackError {
    /// Stable name of the variant.
    pub fn name(&self) -> &'static str {
        match self {
            StackError::Store(e) => e.name(),
            StackError::Training(e) => e.name(),
            StackError::Workflow(_) => "Workflow",
            StackError::Stage(e) => e.name(),
            StackError::NoTestImages { .. } => "NoTestImages",
        }
    }
}

/// A started execution running in the background.
#[derive(Debug)]
pub struct StartedExecution {
    /// Execution name.
    pub name: String,
    /// Execution ARN (use it with [`LocalStack::stop`] or the store).
    pub arn: String,
    /// Resolves to the result once it ended and was persisted.
    pub handle: JoinHandle<ExecutionResult>,
}

struct Inner {
    bucket: Arc<LocalBucket>,
    endpoint: Arc<LocalEndpoint>,
    guard: Arc<GuardMonitor>,
    marks: Arc<AuditMarks>,
    engine: Engine,
    machine: StateMachine,
    writer: Arc<StoreWriter>,
    running: Mutex<HashMap<String, StopHandle>>,
}

/// The local stack, ready to run executions. Cheap to clone (shared state).
#[derive(Clone)]
pub struct LocalStack {
    inner: Arc<Inner>,
}

impl fmt::Debug for LocalStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalStack")
            .field("bucket", &self.inner.bucket.root())
            .field("endpoint", &self.inner.endpoint)
            .finish_non_exhaustive()
    }
}

impl LocalStack {
    /// Opens the stack of `home` serving its served model version (following promotions
    /// made by other processes).
    pub fn open(home: &Home, options: &StackOptions) -> Result<LocalStack, StackError> {
        let bucket = home.bucket();
        let version = crate::models::serving(&bucket)?.ok_or_else(|| TrainingError::NoModel {
            models: bucket.models_dir(),
        })?;
        let served = crate::endpoint::load_served(&bucket, &version)?;
        LocalStack::build(home, options, served, true)
    }

    /// Opens the stack of `home` with any model behind the endpoint (tests, benchmarks):
    /// version `fixed`, no drift baseline, promotions not followed. Closes executions
    /// orphaned by dead processes first.
    pub fn with_predictor(
        home: &Home,
        options: &StackOptions,
        predictor: Arc<dyn Predictor>,
    ) -> Result<LocalStack, StackError> {
        let served = Served {
            version: crate::endpoint::FIXED_VERSION.to_owned(),
            predictor,
            baseline: None,
        };
        LocalStack::build(home, options, served, false)
    }

    /// Opens the stack of `home` serving `served` (tests give a model and a baseline).
    pub fn with_served(
        home: &Home,
        options: &StackOptions,
        served: Served,
    ) -> Result<LocalStack, StackError> {
        LocalStack::build(home, options, served, false)
    }

    fn build(
        home: &Home,
        options: &StackOptions,
        served: Served,
        follow: bool,
    ) -> Result<LocalStack, StackError> {
        let store = home.open_store()?;
        let reaped = store.reap_orphans(ORPHAN_AFTER)?;
        if !reaped.is_empty() {
            tracing::warn!(
                count = reaped.len(),
                "closed executions left RUNNING by a process that exited"
            );
        }
        let writer = Arc::new(store.writer()?);
        let bucket = Arc::new(home.bucket());
        let guard = Arc::new(GuardMonitor::new(
            GuardFile::new(&bucket, options.guard),
            options.threshold.value(),
        ));
        let mut endpoint = LocalEndpoint::serving_version(&options.endpoint_name, served)
            .with_metrics(writer.clone())
            .with_guard(guard.clone());
        guard.resume(&crate::drift::recent_traffic(
            &bucket,
            &options.endpoint_name,
            // Images repeat in traffic: enough inferences for a window of distinct ones.
            4 * crate::guard::WINDOW,
        ));
        if follow {
            endpoint = endpoint.follow((*bucket).clone());
        }
        if options.data_capture {
            endpoint = endpoint.with_capture(DataCapture::new(&bucket, &options.endpoint_name));
        }
        let endpoint = Arc::new(endpoint);
        let marks = Arc::new(AuditMarks::default());
        let filter = Arc::new(FilterSettings {
            threshold: options.threshold,
            guard: Some(guard.clone()),
            audit_rate: options.audit_rate,
        });
        let registry = workflow::registry(bucket.clone(), endpoint.clone(), filter, marks.clone());
        Ok(LocalStack {
            inner: Arc::new(Inner {
                bucket,
                endpoint,
                guard,
                marks,
                engine: Engine::new(registry, Arc::new(SystemClock)),
                machine: workflow::local_machine()?,
                writer,
                running: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The guard of this stack.
    pub fn guard(&self) -> &Arc<GuardMonitor> {
        &self.inner.guard
    }

    /// The local bucket.
    pub fn bucket(&self) -> &LocalBucket {
        &self.inner.bucket
    }

    /// The local endpoint.
    pub fn endpoint(&self) -> &LocalEndpoint {
        &self.inner.endpoint
    }

    /// The staged test images' keys; none staged is [`StackError::NoTestImages`].
    pub fn test_keys(&self) -> Result<Vec<String>, StackError> {
        let keys = self.inner.bucket.test_keys()?;
        if keys.is_empty() {
            return Err(StackError::NoTestImages {
                bucket: self.inner.bucket.root().display().to_string(),
            });
        }
        Ok(keys)
    }

    /// Runs one execution for `s3_key` to its end; the result is returned once its final
    /// state is committed to the store.
    pub async fn execute(&self, s3_key: &str) -> ExecutionResult {
        let (_, _, run) = self.prepare(s3_key);
        run.await
    }

    /// Starts one execution in the background (needs a tokio runtime).
    pub fn start(&self, s3_key: &str) -> StartedExecution {
        let (name, arn, run) = self.prepare(s3_key);
        StartedExecution {
            name,
            arn,
            handle: tokio::spawn(run),
        }
    }

    /// Stops a running execution of this stack (`ExecutionAborted` with `error`/`cause`).
    /// Returns false when it is not running here.
    pub fn stop(&self, arn: &str, error: Option<String>, cause: Option<String>) -> bool {
        let handle = self
            .inner
            .running
            .lock()
            .ok()
            .and_then(|r| r.get(arn).cloned());
        match handle {
            Some(h) => {
                h.stop(error, cause);
                true
            }
            None => false,
        }
    }

    /// ARNs of the executions running in this stack.
    pub fn running(&self) -> Vec<String> {
        self.inner
            .running
            .lock()
            .map(|r| r.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Writes buffered data capture and waits until everything queued is in the store.
    pub async fn flush(&self) -> Result<(), StackError> {
        if let Err(e) = self.inner.endpoint.flush() {
            tracing::warn!(error = %e, "data capture flush failed");
        }
        Ok(self.inner.writer.flush().await?)
    }

    fn prepare(
        &self,
        s3_key: &str,
    ) -> (
        String,
        String,
        impl Future<Output = ExecutionResult> + Send + 'static,
    ) {
        let inner = self.inner.clone();
        let name = uuid::Uuid::new_v4().to_string();
        let input = ImageRecord::execution_input(inner.bucket.name(), s3_key);
        let spec = ExecutionSpec::local(STATE_MACHINE_NAME, &name, input.clone());
        let arn_text = spec.execution_arn.clone();
        let arn: Arc<str> = Arc::from(arn_text.as_str());
        inner.writer.start_execution(ExecutionStart {
            arn: arn_text.clone(),
            name: name.clone(),
            state_machine_arn: spec.state_machine_arn.clone(),
            s3_key: Some(s3_key.to_owned()),
            input: input.to_string(),
            start: Utc::now(),
        });
        let sink = Arc::new(StoreSink {
            arn: arn.clone(),
            writer: inner.writer.clone(),
            scores: Mutex::new(None),
        });
        // Its classification uses the version serving now, whatever is promoted meanwhile.
        inner.endpoint.pin(&arn);
        let execution = inner.engine.start(&inner.machine, spec, sink.clone());
        if let Ok(mut running) = inner.running.lock() {
            running.insert(arn_text.clone(), execution.stop_handle());
        }
        let key = s3_key.to_owned();
        let result_name = name.clone();
        let run = async move {
            let outcome = execution.run().await;
            if let Ok(mut running) = inner.running.lock() {
                running.remove(&*arn);
            }
            inner.endpoint.unpin(&arn);
            let status = outcome.status;
            let audited = inner.marks.take(&arn);
            let review = review_reason(status, outcome.error.as_deref(), audited);
            let persisted = inner
                .writer
                .finish(
                    &arn,
                    ExecutionStop {
                        status,
                        output: outcome.output.as_ref().map(Value::to_string),
                        error: outcome.error.clone(),
                        cause: outcome.cause.clone(),
                        stop: outcome.stop_date,
                        review,
                    },
                )
                .await;
            ExecutionResult {
                name: result_name,
                arn: arn.to_string(),
                s3_key: key,
                status,
                error: outcome.error,
                cause: outcome.cause,
                scores: sink.scores.lock().ok().and_then(|s| *s),
                duration: (outcome.stop_date - outcome.start_date)
                    .to_std()
                    .unwrap_or_default(),
                persist_error: persisted.err().map(|e| e.to_string()),
            }
        };
        (name, arn_text, run)
    }
}

/// Streams an execution's events into the store and notes the classifier's scores.
struct StoreSink {
    arn: Arc<str>,
    writer: Arc<StoreWriter>,
    scores: Mutex<Option<[f64; 2]>>,
}

impl EventSink for StoreSink {
    fn record(&self, event: &HistoryEvent) {
        self.writer.event(&self.arn, event);
        if let EventDetails::StateExited {
            output: Payload::Json(output),
            ..
        } = &event.details
            && let Some(scores) = scores_of(output)
            && let Ok(mut seen) = self.scores.lock()
            && seen.is_none()
        {
            *seen = Some(scores);
            let model = output
                .get("model")
                .and_then(Value::as_str)
                .filter(|m| !m.is_empty())
                .map(str::to_owned);
            self.writer.scores(&self.arn, scores, model);
        }
    }
}

/// `inferences` of a record, when it holds two numbers.
fn scores_of(record: &Value) -> Option<[f64; 2]> {
    match record.get("inferences")?.as_array()?.as_slice() {
        [a, b] => Some([a.as_f64()?, b.as_f64()?]),
        _ => None,
    }
}

/// Why an execution goes to a person: refused (`LowConfidence`), held (`DriftHold`), or an
/// accepted decision drawn for audit.
fn review_reason(
    status: ExecutionStatus,
    error: Option<&str>,
    audited: bool,
) -> Option<ReviewReason> {
    match (status, error) {
        (ExecutionStatus::Failed, Some(LOW_CONFIDENCE_ERROR)) => Some(ReviewReason::LowConfidence),
        (ExecutionStatus::Failed, Some(DRIFT_HOLD_ERROR)) => Some(ReviewReason::DriftHold),
        (ExecutionStatus::Succeeded, _) if audited => Some(ReviewReason::Audit),
        _ => None,
    }
}
