//! Background fetching: every backend call runs in its own tokio task and comes back as an
//! [`Event::Completed`] message carrying the request id it was started with.
//!
//! Requests belong to a [`Slot`]. A new request in a slot aborts the one still running
//! there (a stale history for an execution no longer selected is never worth waiting
//! for), and the app ignores completions whose id is not the latest of their slot, so a
//! late answer cannot overwrite a newer one. Mutations (start, stop, redrive) are never
//! cancelled. A panic inside a call is caught and reported as
//! [`BackendError::TaskCrashed`], so a broken backend cannot take the UI down.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::AbortHandle;

use crate::dashboard::backend::{
    Backend, BackendError, BackendResult, CapturePoint, Cursor, EndpointInfo, EndpointMetrics,
    ExecutionDelta, ExecutionId, ExecutionSummary, HistoryEvent, LogLine, LowConfidenceFailure,
    RecordLink, TimeRange,
};
use crate::dashboard::event::Event;

/// Identifies one request; increases monotonically within an app.
pub type RequestId = u64;

/// A backend call the app wants made.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// [`Backend::executions_since`].
    Executions {
        /// Where the last listing ended.
        cursor: Option<Cursor>,
        /// Page size.
        limit: usize,
    },
    /// [`Backend::history`].
    History {
        /// Which execution.
        id: ExecutionId,
    },
    /// [`Backend::start_random`].
    StartRandom {
        /// How many executions.
        count: usize,
    },
    /// [`Backend::stop`].
    Stop {
        /// Which execution.
        id: ExecutionId,
    },
    /// [`Backend::redrive`].
    Redrive {
        /// Which execution.
        id: ExecutionId,
    },
    /// [`Backend::endpoint`].
    Endpoint,
    /// [`Backend::metrics`].
    Metrics {
        /// Window.
        range: TimeRange,
        /// Period.
        period: Duration,
    },
    /// [`Backend::capture`].
    Capture {
        /// Window.
        range: TimeRange,
        /// Max points.
        limit: usize,
    },
    /// [`Backend::low_confidence`].
    LowConfidence {
        /// Window.
        range: TimeRange,
    },
    /// [`Backend::logs`].
    Logs {
        /// The execution.
        execution: Box<ExecutionSummary>,
    },
    /// [`Backend::record_link`].
    RecordLink {
        /// Which execution.
        id: ExecutionId,
    },
}

/// Which stream of data a request feeds; at most one request per slot is worth having.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    /// The executions list.
    Executions,
    /// The selected execution's history.
    History,
    /// Header endpoint status.
    Endpoint,
    /// Metrics panel.
    Metrics,
    /// Capture panel.
    Capture,
    /// Low-confidence panel.
    LowConfidence,
    /// Logs panel.
    Logs,
    /// Start/stop/redrive: never cancelled, never stale.
    Mutation,
}

impl Request {
    /// The slot this request feeds.
    pub fn slot(&self) -> Slot {
        match self {
            Request::Executions { .. } => Slot::Executions,
            Request::History { .. } => Slot::History,
            Request::StartRandom { .. }
            | Request::Stop { .. }
            | Request::Redrive { .. }
            | Request::RecordLink { .. } => Slot::Mutation,
            Request::Endpoint => Slot::Endpoint,
            Request::Metrics { .. } => Slot::Metrics,
            Request::Capture { .. } => Slot::Capture,
            Request::LowConfidence { .. } => Slot::LowConfidence,
            Request::Logs { .. } => Slot::Logs,
        }
    }

    /// The call's name, for errors and call counts.
    pub fn operation(&self) -> &'static str {
        match self {
            Request::Executions { .. } => "ListExecutions",
            Request::History { .. } => "GetExecutionHistory",
            Request::StartRandom { .. } => "StartExecution",
            Request::Stop { .. } => "StopExecution",
            Request::Redrive { .. } => "RedriveExecution",
            Request::Endpoint => "DescribeEndpoint",
            Request::Metrics { .. } => "GetMetricData",
            Request::Capture { .. } => "ReadDataCapture",
            Request::LowConfidence { .. } => "LowConfidenceFailures",
            Request::Logs { .. } => "FilterLogEvents",
            Request::RecordLink { .. } => "RecordLink",
        }
    }
}

/// A backend answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// Executions delta.
    Executions(ExecutionDelta),
    /// One execution's history.
    History(ExecutionId, Arc<Vec<HistoryEvent>>),
    /// Executions started.
    Started(Vec<ExecutionId>),
    /// Execution stopped.
    Stopped(ExecutionId),
    /// Execution redriven.
    Redriven(ExecutionId),
    /// Endpoint status.
    Endpoint(EndpointInfo),
    /// Metrics.
    Metrics(EndpointMetrics),
    /// Capture points.
    Capture(Vec<CapturePoint>),
    /// Low-confidence failures.
    LowConfidence(Vec<LowConfidenceFailure>),
    /// Log lines of one execution.
    Logs(ExecutionId, Vec<LogLine>),
    /// Where an execution's record lives.
    Link(RecordLink),
}

/// A finished request.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The id it was started with.
    pub id: RequestId,
    /// Its slot.
    pub slot: Slot,
    /// The call's name.
    pub operation: &'static str,
    /// The answer.
    pub result: BackendResult<Response>,
}

/// Runs requests against a backend in background tasks.
pub struct Worker<B: Backend> {
    backend: Arc<B>,
    events: UnboundedSender<Event>,
    running: HashMap<Slot, AbortHandle>,
}

impl<B: Backend> Worker<B> {
    /// A worker sending completions to `events`.
    pub fn new(backend: Arc<B>, events: UnboundedSender<Event>) -> Self {
        Worker {
            backend,
            events,
            running: HashMap::new(),
        }
    }

    /// Starts `request` in the background, aborting the previous request of its slot.
    /// Must be called inside a tokio runtime.
    pub fn submit(&mut self, id: RequestId, request: Request) {
        let slot = request.slot();
        let operation = request.operation();
        let backend = Arc::clone(&self.backend);
        let events = self.events.clone();
        let task = tokio::spawn(async move {
            let result = AssertUnwindSafe(call(backend.as_ref(), request))
                .catch_unwind()
                .await
                .unwrap_or_else(|panic| {
                    Err(BackendError::TaskCrashed {
                        operation,
                        message: panic_message(panic.as_ref()),
                    })
                });
            // The receiver is gone only when the dashboard is shutting down.
            let _ = events.send(Event::Completed(Completion {
                id,
                slot,
                operation,
                result,
            }));
        });
        if slot != Slot::Mutation
            && let Some(previous) = self.running.insert(slot, task.abort_handle())
        {
            previous.abort();
        }
    }

    /// Aborts everything still running (on exit).
    pub fn abort_all(&mut self) {
        for (_, handle) in self.running.drain() {
            handle.abort();
        }
    }
}

impl<B: Backend> Drop for Worker<B> {
    fn drop(&mut self) {
        self.abort_all();
    }
}

async fn call<B: Backend>(backend: &B, request: Request) -> BackendResult<Response> {
    Ok(match request {
        Request::Executions { cursor, limit } => {
            Response::Executions(backend.executions_since(cursor, limit).await?)
        }
        Request::History { id } => {
            let events = backend.history(id.clone()).await?;
            Response::History(id, Arc::new(events))
        }
        Request::StartRandom { count } => Response::Started(backend.start_random(count).await?),
        Request::Stop { id } => {
            backend.stop(id.clone()).await?;
            Response::Stopped(id)
        }
        Request::Redrive { id } => {
            backend.redrive(id.clone()).await?;
            Response::Redriven(id)
        }
        Request::Endpoint => Response::Endpoint(backend.endpoint().await?),
        Request::Metrics { range, period } => {
            Response::Metrics(backend.metrics(range, period).await?)
        }
        Request::Capture { range, limit } => {
            Response::Capture(backend.capture(range, limit).await?)
        }
        Request::LowConfidence { range } => {
            Response::LowConfidence(backend.low_confidence(range).await?)
        }
        Request::Logs { execution } => {
            let id = execution.id.clone();
            Response::Logs(id, backend.logs(*execution).await?)
        }
        Request::RecordLink { id } => Response::Link(backend.record_link(&id)),
    })
}

/// The text of a panic payload (`&str` or `String`; anything else is unnamed).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}
