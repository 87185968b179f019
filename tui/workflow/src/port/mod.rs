//! The port the dashboard and the CLI talk to, and the types it speaks.
//!
//! [`Backend`] is implemented by the local stack (`scones_local::LocalBackend`: SQLite store,
//! local bucket, local endpoint) and by AWS (`scones_aws::AwsBackend`: Step Functions,
//! CloudWatch, CloudWatch Logs, S3, SageMaker). Each implementation translates its service's
//! shapes into these types, so the panels and the runner never know where data came from.
//! Execution histories are `GetExecutionHistory`-shaped on both and read by one reader
//! ([`crate::history`]).
//!
//! [`Request`] and [`Response`] (in `request.rs`) are the same calls as messages, for the
//! dashboard's background worker: one variant per call and one dispatch ([`Request::call`]).

mod error;
mod request;
mod types;

pub use error::{BackendError, BackendResult, Operation};
pub use request::{Request, Response};
pub use types::*;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rand::seq::IndexedRandom;

use crate::cause::StopReason;
use crate::drift::{DriftView, WindowSpec};
use crate::guard::{GuardCommand, GuardState};
use crate::history::HistoryEvent;
use crate::models::{ModelsView, Promotion};
use crate::review::{LabelRecord, NewLabel, ReviewQueue};
use crate::run::ExecutionResult;

/// Executions [`Backend::start_random`] starts at once (a burst of a thousand must not open a
/// thousand connections, nor wait for each start in turn).
pub const START_CONCURRENCY: usize = 16;

/// A deployment of the scones workflow, as the dashboard and `scones run` see it.
///
/// Methods return `Send` futures so the worker can run each call in its own tokio task.
/// Implementations must be cheap to share (`Arc`) and must never block the async runtime
/// (blocking work such as SQLite goes through `spawn_blocking`).
pub trait Backend: Send + Sync + 'static {
    /// Static facts: kind, state machine, threshold.
    fn info(&self) -> BackendInfo;

    /// Executions new or changed since `cursor` (all of them, newest first, when `None`),
    /// at most `limit` per call.
    fn executions_since(
        &self,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> impl Future<Output = BackendResult<ExecutionDelta>> + Send;

    /// The full history of one execution, oldest event first.
    fn history(
        &self,
        id: ExecutionId,
    ) -> impl Future<Output = BackendResult<Vec<HistoryEvent>>> + Send;

    /// Starts `count` executions, each on a random image of the test split, at most
    /// [`START_CONCURRENCY`] starts at a time. The ones that started are returned; the first
    /// error only when none did.
    fn start_random(
        &self,
        count: usize,
    ) -> impl Future<Output = BackendResult<Vec<ExecutionId>>> + Send {
        async move {
            self.can_start()?;
            let keys = self.test_keys().await?;
            let picks: Vec<String> = {
                let mut rng = rand::rng();
                (0..count)
                    .filter_map(|_| keys.choose(&mut rng).cloned())
                    .collect()
            };
            let results: Vec<BackendResult<ExecutionId>> = futures::stream::iter(picks)
                .map(|key| self.start_execution(key))
                .buffered(START_CONCURRENCY)
                .collect()
                .await;
            let mut started = Vec::with_capacity(results.len());
            let mut first_error = None;
            for result in results {
                match result {
                    Ok(id) => started.push(id),
                    Err(e) => {
                        tracing::warn!(error = %e, "a test execution did not start");
                        first_error.get_or_insert(e);
                    }
                }
            }
            match (started.is_empty(), first_error) {
                (true, Some(e)) => Err(e),
                _ => Ok(started),
            }
        }
    }

    /// Whether executions can be started here at all (not read-only, a model to serve),
    /// checked before anything is asked of the service.
    fn can_start(&self) -> BackendResult<()> {
        Ok(())
    }

    /// The keys of the staged test split (to draw random test executions from). An empty
    /// split is [`BackendError::NotReady`], saying how to stage it.
    fn test_keys(&self) -> impl Future<Output = BackendResult<Arc<Vec<String>>>> + Send;

    /// Starts one execution on the image `s3_key` of the deployment's bucket.
    fn start_execution(
        &self,
        s3_key: String,
    ) -> impl Future<Output = BackendResult<ExecutionId>> + Send;

    /// Waits for an execution to end and returns how it ended (its final state committed,
    /// locally; described as final, on AWS).
    fn wait_execution(
        &self,
        id: ExecutionId,
    ) -> impl Future<Output = BackendResult<ExecutionResult>> + Send;

    /// Stops a running execution (StopExecution), recording `reason` as its error and cause.
    fn stop(
        &self,
        id: ExecutionId,
        reason: StopReason,
    ) -> impl Future<Output = BackendResult<()>> + Send;

    /// Redrives a failed execution (RedriveExecution).
    fn redrive(&self, id: ExecutionId) -> impl Future<Output = BackendResult<()>> + Send;

    /// The endpoint's status.
    fn endpoint(&self) -> impl Future<Output = BackendResult<EndpointInfo>> + Send;

    /// Endpoint metrics over `range`, in periods of `period`.
    fn metrics(
        &self,
        range: TimeRange,
        period: Duration,
    ) -> impl Future<Output = BackendResult<EndpointMetrics>> + Send;

    /// Data-capture records with inference time in `range`, oldest first: all of them, or an
    /// even sample across the window when there are more than `limit`
    /// ([`crate::capture::sample_points`]).
    fn capture(
        &self,
        range: TimeRange,
        limit: usize,
    ) -> impl Future<Output = BackendResult<CaptureSample>> + Send;

    /// `LowConfidence` failures in `range`: how many there are in all, and the newest of
    /// them (at most `limit`), newest first.
    fn low_confidence(
        &self,
        range: TimeRange,
        limit: usize,
    ) -> impl Future<Output = BackendResult<LowConfidenceReport>> + Send;

    /// The bytes of the image `s3_key` of the deployment's bucket (a PNG), to show it.
    fn image(&self, s3_key: String) -> impl Future<Output = BackendResult<Vec<u8>>> + Send;

    /// The served model's captured traffic judged against its drift baseline, in up to
    /// `windows` windows cut by `window` (oldest first). No baseline is
    /// [`BackendError::NotReady`], saying how to get one.
    fn drift(
        &self,
        window: WindowSpec,
        windows: usize,
    ) -> impl Future<Output = BackendResult<DriftView>> + Send;

    /// Log lines about one execution within its time window, oldest first.
    fn logs(
        &self,
        execution: ExecutionSummary,
    ) -> impl Future<Output = BackendResult<Vec<LogLine>>> + Send;

    /// The guard: its mode, whether it holds decisions (since when, why), the served model's
    /// last drift verdict.
    fn guard(&self) -> impl Future<Output = BackendResult<GuardState>> + Send;

    /// An operator's order to the guard (release, engage, a mode); the state after it.
    fn command_guard(
        &self,
        command: GuardCommand,
    ) -> impl Future<Output = BackendResult<GuardState>> + Send;

    /// The images waiting for a person, oldest first (at most `limit`), and the counts.
    fn review_queue(&self, limit: usize)
    -> impl Future<Output = BackendResult<ReviewQueue>> + Send;

    /// Records a person's label (appended; the newest label of a key wins). Refuses a key
    /// that is not an image of the bucket.
    fn label(&self, label: NewLabel) -> impl Future<Output = BackendResult<LabelRecord>> + Send;

    /// Every image's current label (the newest record of each key; withdrawn ones left out):
    /// what `scones review export` prints and production quality is measured from.
    fn labels(&self) -> impl Future<Output = BackendResult<Vec<LabelRecord>>> + Send;

    /// Every model version with its measures, which one serves, and the promotions so far.
    fn models(&self) -> impl Future<Output = BackendResult<ModelsView>> + Send;

    /// Makes `version` the served model if it passes the gate (or `force`, recorded).
    fn promote(
        &self,
        version: String,
        force: bool,
    ) -> impl Future<Output = BackendResult<Promotion>> + Send;

    /// Serves the version served before the current one again.
    fn rollback(&self) -> impl Future<Output = BackendResult<Promotion>> + Send;

    /// Where the full record of an execution lives (console URL, or the local file).
    fn record_link(&self, id: &ExecutionId) -> RecordLink;
}
