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
use scones_workflow::Threshold;
use scones_workflow::run::ExecutionResult;
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::bucket::LocalBucket;
use crate::endpoint::{DEFAULT_ENDPOINT_NAME, DataCapture, LocalEndpoint, Predictor};
use crate::home::Home;
use crate::stage::StageError;
use crate::store::{ExecutionStart, ExecutionStop, StoreError, StoreWriter};
use crate::training::{self, TrainingError};
use crate::workflow::{self, STATE_MACHINE_NAME, WorkflowError};

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
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            threshold: Threshold::DEFAULT,
            endpoint_name: DEFAULT_ENDPOINT_NAME.to_owned(),
            data_capture: true,
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
    /// Opens the stack of `home` serving the latest trained model.
    pub fn open(home: &Home, options: &StackOptions) -> Result<LocalStack, StackError> {
        let model = training::load_latest(&home.bucket())?;
        LocalStack::with_predictor(home, options, Arc::new(model.into_classifier()))
    }

    /// Opens the stack of `home` with any model behind the endpoint (tests, benchmarks).
    /// Closes executions orphaned by dead processes first.
    pub fn with_predictor(
        home: &Home,
        options: &StackOptions,
        predictor: Arc<dyn Predictor>,
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
        let mut endpoint =
            LocalEndpoint::new(&options.endpoint_name, predictor).with_metrics(writer.clone());
        if options.data_capture {
            endpoint = endpoint.with_capture(DataCapture::new(&bucket, &options.endpoint_name));
        }
        let endpoint = Arc::new(endpoint);
        let registry = workflow::registry(bucket.clone(), endpoint.clone(), options.threshold);
        Ok(LocalStack {
            inner: Arc::new(Inner {
                bucket,
                endpoint,
                engine: Engine::new(registry, Arc::new(SystemClock)),
                machine: workflow::local_machine()?,
                writer,
                running: Mutex::new(HashMap::new()),
            }),
        })
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
        let input = ImageRecord::for_object(inner.bucket.name(), s3_key).to_value();
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
            let status = outcome.status;
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
            self.writer.scores(&self.arn, scores);
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
