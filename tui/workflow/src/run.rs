//! `scones run` over the port: executions started on any [`Backend`], at most `concurrency`
//! at a time, each followed to its end, with one line per result and a summary.
//!
//! Keys are drawn lazily (a run of any size starts at once and holds only what is in
//! flight), and a run can be interrupted (Ctrl-C, a closed output): no new execution starts,
//! the ones running are stopped as StopExecution would (ABORTED with [`STOPPED_ERROR`]),
//! their ends are collected, and the summary covers what ran.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;

use crate::cause::{DRIFT_HOLD_ERROR, LOW_CONFIDENCE_ERROR, StopReason};
use crate::port::{Backend, BackendError, ExecutionId};
use crate::status::ExecutionStatus;

/// How one execution ended.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionResult {
    /// Execution name.
    pub name: String,
    /// Execution ARN.
    pub arn: String,
    /// The image key.
    pub s3_key: String,
    /// Final status.
    pub status: ExecutionStatus,
    /// Error name, when it did not succeed.
    pub error: Option<String>,
    /// Cause.
    pub cause: Option<String>,
    /// `[p_bicycle, p_motorcycle]` when ClassifyImage answered.
    pub scores: Option<[f64; 2]>,
    /// Start to stop.
    pub duration: Duration,
    /// Why the final state could not be persisted (`None`: it is committed). Local only.
    pub persist_error: Option<String>,
}

impl ExecutionResult {
    /// True when the execution ended the way the workflow is designed to end: SUCCEEDED, or
    /// FAILED with `LowConfidence` or `DriftHold` (the image goes to a person: the threshold
    /// or the guard at work). Anything else (another error, a timeout, a stop) is something
    /// for an operator to look at.
    pub fn is_designed_outcome(&self) -> bool {
        self.status == ExecutionStatus::Succeeded
            || (self.status == ExecutionStatus::Failed
                && matches!(
                    self.error.as_deref(),
                    Some(LOW_CONFIDENCE_ERROR | DRIFT_HOLD_ERROR)
                ))
    }
}

/// Totals of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunSummary {
    /// Executions that ended.
    pub total: usize,
    /// Executions per final status.
    pub by_status: BTreeMap<ExecutionStatus, usize>,
    /// Executions that did not succeed, per status and error name.
    pub by_error: BTreeMap<ExecutionStatus, BTreeMap<String, usize>>,
    /// Median execution duration.
    pub p50: Duration,
    /// 99th percentile execution duration.
    pub p99: Duration,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// Executions whose final state could not be persisted.
    pub not_persisted: usize,
    /// Executions that ended other than by design (see
    /// [`ExecutionResult::is_designed_outcome`]).
    pub unexpected: usize,
}

impl RunSummary {
    /// Builds the summary of `results` run in `elapsed`.
    pub fn of(results: &[ExecutionResult], elapsed: Duration) -> RunSummary {
        let mut summary = RunSummary {
            total: results.len(),
            elapsed,
            ..RunSummary::default()
        };
        let mut durations: Vec<Duration> = Vec::with_capacity(results.len());
        for r in results {
            summary.add(r);
            durations.push(r.duration);
        }
        durations.sort();
        summary.p50 = percentile(&durations, 0.50);
        summary.p99 = percentile(&durations, 0.99);
        summary
    }

    fn add(&mut self, r: &ExecutionResult) {
        *self.by_status.entry(r.status).or_default() += 1;
        if let Some(error) = r.error.clone().filter(|_| !r.status.is_success()) {
            *self
                .by_error
                .entry(r.status)
                .or_default()
                .entry(error)
                .or_default() += 1;
        }
        if r.persist_error.is_some() {
            self.not_persisted += 1;
        }
        if !r.is_designed_outcome() {
            self.unexpected += 1;
        }
    }

    /// Executions with `status`.
    pub fn count(&self, status: ExecutionStatus) -> usize {
        self.by_status.get(&status).copied().unwrap_or(0)
    }

    /// Executions that SUCCEEDED.
    pub fn succeeded(&self) -> usize {
        self.count(ExecutionStatus::Succeeded)
    }

    /// Executions per second of wall time.
    pub fn per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.total as f64 / secs
        } else {
            0.0
        }
    }
}

/// Nearest-rank percentile of sorted durations.
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted.get(rank - 1).copied().unwrap_or_default()
}

impl fmt::Display for RunSummary {
    /// `N executions: a succeeded, b failed (LowConfidence 3, ObjectNotFound 1), c aborted
    /// (Scones.Stopped 2); p50 .., p99 ..; r executions/s (s s)`: every status that occurred,
    /// each with the errors behind it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} executions: {} succeeded",
            self.total,
            self.succeeded()
        )?;
        for (status, n) in &self.by_status {
            if *status == ExecutionStatus::Succeeded {
                continue;
            }
            write!(
                f,
                ", {n} {}",
                status.as_str().to_lowercase().replace('_', " ")
            )?;
            if let Some(errors) = self.by_error.get(status) {
                let errors: Vec<String> = errors.iter().map(|(e, n)| format!("{e} {n}")).collect();
                write!(f, " ({})", errors.join(", "))?;
            }
        }
        write!(
            f,
            "; p50 {:.1} ms, p99 {:.1} ms; {:.0} executions/s ({:.2} s)",
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3,
            self.per_second(),
            self.elapsed.as_secs_f64()
        )?;
        if self.not_persisted > 0 {
            write!(f, "; {} NOT PERSISTED", self.not_persisted)?;
        }
        Ok(())
    }
}

/// Which images to run.
#[derive(Debug, Clone, PartialEq)]
pub enum Keys {
    /// These keys, in order.
    Given(Vec<String>),
    /// This many keys drawn at random (with replacement) from the test split, one at a time
    /// as executions start.
    Random(u64),
    /// This many keys drawn at random (with replacement) from these (e.g. perturbed copies
    /// of the test images).
    RandomFrom(Arc<Vec<String>>, u64),
}

impl Keys {
    /// How many executions the run asks for.
    pub fn len(&self) -> u64 {
        match self {
            Keys::Given(k) => k.len() as u64,
            Keys::Random(n) | Keys::RandomFrom(_, n) => *n,
        }
    }

    /// True when there is nothing to run.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An execution that was started (or asked to start) but has no result.
#[derive(Debug, Clone, PartialEq)]
pub struct NotFinished {
    /// The image.
    pub s3_key: String,
    /// The execution, when it started.
    pub execution: Option<ExecutionId>,
    /// What went wrong.
    pub error: BackendError,
}

/// Why a run ended early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interruption {
    /// The interrupt future resolved (Ctrl-C).
    Interrupted,
    /// The result callback asked to stop (its output is gone).
    OutputClosed,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// Totals of the executions that ended.
    pub summary: RunSummary,
    /// Executions without a result.
    pub not_finished: Vec<NotFinished>,
    /// Why the run stopped early, if it did.
    pub interrupted: Option<Interruption>,
}

/// What the result callback wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Keep going.
    Continue,
    /// Stop the run as an interruption would ([`Interruption::OutputClosed`]).
    Stop,
}

/// Runs `keys` on `backend`, at most `concurrency` at a time. `on_result` sees each result
/// (and each execution without one) as it lands. When `interrupt` resolves, or `on_result`
/// returns [`Next::Stop`], no new execution starts and the running ones are stopped.
///
/// Fails before anything starts when random keys are asked for and there are none.
pub async fn run<B, F>(
    backend: Arc<B>,
    keys: Keys,
    concurrency: usize,
    mut on_result: F,
    interrupt: impl Future<Output = ()>,
) -> Result<RunReport, BackendError>
where
    B: Backend,
    F: FnMut(Result<&ExecutionResult, &NotFinished>) -> Next,
{
    let draw = KeySource::new(backend.as_ref(), keys).await?;
    let started = Instant::now();
    let running: Arc<Mutex<HashSet<ExecutionId>>> = Arc::default();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);

    // The producer starts executions as permits free up, until the keys run out or the
    // run is stopped.
    let producer = {
        let backend = Arc::clone(&backend);
        let running = Arc::clone(&running);
        tokio::spawn(async move {
            let mut draw = draw;
            while let Some(key) = draw.next() {
                let permit = tokio::select! {
                    p = Arc::clone(&semaphore).acquire_owned() => p,
                    _ = stop_rx.wait_for(|stop| *stop) => break,
                };
                let Ok(permit) = permit else { break };
                if *stop_rx.borrow() {
                    break;
                }
                let backend = Arc::clone(&backend);
                let running = Arc::clone(&running);
                let tx = tx.clone();
                tokio::spawn(async move {
                    let outcome = execute(backend.as_ref(), &running, key).await;
                    drop(permit);
                    let _ = tx.send(outcome);
                });
            }
        })
    };

    let mut results = Vec::new();
    let mut not_finished = Vec::new();
    let mut interrupted = None;
    tokio::pin!(interrupt);
    loop {
        let outcome = tokio::select! {
            outcome = rx.recv() => outcome,
            _ = &mut interrupt, if interrupted.is_none() => {
                interrupted = Some(Interruption::Interrupted);
                stop_all(backend.as_ref(), &stop_tx, &running).await;
                continue;
            }
        };
        // None: the producer is done and every execution task has reported.
        let Some(outcome) = outcome else { break };
        let next = match &outcome {
            Ok(r) => on_result(Ok(r)),
            Err(n) => on_result(Err(n)),
        };
        match outcome {
            Ok(r) => results.push(r),
            Err(n) => not_finished.push(n),
        }
        if next == Next::Stop && interrupted.is_none() {
            interrupted = Some(Interruption::OutputClosed);
            stop_all(backend.as_ref(), &stop_tx, &running).await;
        }
    }
    let _ = producer.await;
    Ok(RunReport {
        summary: RunSummary::of(&results, started.elapsed()),
        not_finished,
        interrupted,
    })
}

/// [`run`] without output or interruption: every key run to its end (tests, benchmarks).
pub async fn run_to_end<B: Backend>(
    backend: Arc<B>,
    keys: Keys,
    concurrency: usize,
) -> Result<RunReport, BackendError> {
    run(
        backend,
        keys,
        concurrency,
        |_| Next::Continue,
        std::future::pending(),
    )
    .await
}

/// Stops the producer and every execution still running.
async fn stop_all<B: Backend>(
    backend: &B,
    stop: &tokio::sync::watch::Sender<bool>,
    running: &Mutex<HashSet<ExecutionId>>,
) {
    let _ = stop.send(true);
    let ids: Vec<ExecutionId> = running
        .lock()
        .map(|r| r.iter().cloned().collect())
        .unwrap_or_default();
    for id in ids {
        // One that ended meanwhile cannot be stopped: that is fine.
        if let Err(e) = backend.stop(id.clone(), StopReason::RUN_INTERRUPTED).await {
            tracing::debug!(execution = %id, error = %e, "stopping on interrupt");
        }
    }
}

/// Starts and follows one execution.
async fn execute<B: Backend>(
    backend: &B,
    running: &Mutex<HashSet<ExecutionId>>,
    s3_key: String,
) -> Result<ExecutionResult, NotFinished> {
    let id = backend
        .start_execution(s3_key.clone())
        .await
        .map_err(|error| NotFinished {
            s3_key: s3_key.clone(),
            execution: None,
            error,
        })?;
    if let Ok(mut r) = running.lock() {
        r.insert(id.clone());
    }
    let result = backend.wait_execution(id.clone()).await;
    if let Ok(mut r) = running.lock() {
        r.remove(&id);
    }
    result.map_err(|error| NotFinished {
        s3_key,
        execution: Some(id),
        error,
    })
}

/// Hands out the run's keys one at a time.
struct KeySource {
    keys: Keys,
    next: u64,
    pool: Arc<Vec<String>>,
}

impl KeySource {
    async fn new<B: Backend>(backend: &B, keys: Keys) -> Result<KeySource, BackendError> {
        let pool = match &keys {
            Keys::Random(n) if *n > 0 => backend.test_keys().await?,
            Keys::RandomFrom(pool, _) => Arc::clone(pool),
            _ => Arc::default(),
        };
        Ok(KeySource {
            keys,
            next: 0,
            pool,
        })
    }

    fn next(&mut self) -> Option<String> {
        if self.next >= self.keys.len() {
            return None;
        }
        let key = match &self.keys {
            Keys::Given(keys) => keys.get(usize::try_from(self.next).ok()?).cloned(),
            Keys::Random(_) | Keys::RandomFrom(..) => {
                let i = rand::rng().random_range(0..self.pool.len().max(1));
                self.pool.get(i).cloned()
            }
        };
        self.next += 1;
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::STOPPED_ERROR;

    fn result(status: ExecutionStatus, error: Option<&str>) -> ExecutionResult {
        ExecutionResult {
            name: "n".into(),
            arn: "a".into(),
            s3_key: "k".into(),
            status,
            error: error.map(str::to_owned),
            cause: None,
            scores: None,
            duration: Duration::from_millis(10),
            persist_error: None,
        }
    }

    #[test]
    fn the_summary_names_every_status_with_its_errors() {
        let s = RunSummary::of(
            &[
                result(ExecutionStatus::Succeeded, None),
                result(ExecutionStatus::Failed, Some(LOW_CONFIDENCE_ERROR)),
                result(ExecutionStatus::Failed, Some("ObjectNotFound")),
            ],
            Duration::from_secs(1),
        );
        assert!(
            s.to_string().starts_with(
                "3 executions: 1 succeeded, 2 failed (LowConfidence 1, ObjectNotFound 1);"
            ),
            "{s}"
        );
        assert_eq!(s.unexpected, 1);
        // A hold of the guard is a designed outcome too: the image goes to a person.
        let s = RunSummary::of(
            &[result(ExecutionStatus::Failed, Some(DRIFT_HOLD_ERROR))],
            Duration::from_secs(1),
        );
        assert_eq!(s.unexpected, 0, "{s}");
        // An aborted execution without an error is named, not "1 failed ()".
        let s = RunSummary::of(
            &[result(ExecutionStatus::Aborted, None)],
            Duration::from_secs(1),
        );
        assert!(
            s.to_string()
                .starts_with("1 executions: 0 succeeded, 1 aborted;"),
            "{s}"
        );
        let s = RunSummary::of(
            &[result(ExecutionStatus::Aborted, Some(STOPPED_ERROR))],
            Duration::from_secs(1),
        );
        assert!(
            s.to_string()
                .starts_with("1 executions: 0 succeeded, 1 aborted (Scones.Stopped 1);"),
            "{s}"
        );
    }
}
