//! The [`Backend`] calls as messages: what the dashboard's worker runs in the background and
//! hands back. One variant per call, one dispatch ([`Request::call`]).

use std::sync::Arc;
use std::time::Duration;

use super::Operation;
use super::{
    Backend, BackendResult, CaptureSample, Cursor, EndpointInfo, EndpointMetrics, ExecutionDelta,
    ExecutionId, ExecutionSummary, LogLine, LowConfidenceReport, RecordLink, TimeRange,
};
use crate::cause::StopReason;
use crate::drift::{DriftView, WindowSpec};
use crate::guard::{GuardCommand, GuardState};
use crate::history::HistoryEvent;
use crate::models::{ModelsView, Promotion};
use crate::review::{LabelRecord, NewLabel, ReviewQueue};

/// A backend call to make.
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
    /// [`Backend::stop`] (with [`StopReason::DASHBOARD`]: the dashboard is what sends it).
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
        /// Max failures listed.
        limit: usize,
    },
    /// [`Backend::image`].
    Image {
        /// The image's key.
        s3_key: String,
    },
    /// [`Backend::drift`].
    Drift {
        /// How windows are cut.
        window: WindowSpec,
        /// How many.
        windows: usize,
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
    /// [`Backend::guard`].
    Guard,
    /// [`Backend::command_guard`].
    CommandGuard(GuardCommand),
    /// [`Backend::review_queue`].
    ReviewQueue {
        /// Items listed at most.
        limit: usize,
    },
    /// [`Backend::label`].
    Label(Box<NewLabel>),
    /// [`Backend::labels`].
    Labels,
    /// [`Backend::models`].
    Models,
    /// [`Backend::promote`].
    Promote {
        /// The version.
        version: String,
        /// Past a failing gate (recorded).
        force: bool,
    },
    /// [`Backend::rollback`].
    Rollback,
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
    Capture(CaptureSample),
    /// Low-confidence failures.
    LowConfidence(LowConfidenceReport),
    /// An image's bytes, by key.
    Image(String, Arc<Vec<u8>>),
    /// The drift view.
    Drift(Arc<DriftView>),
    /// Log lines of one execution.
    Logs(ExecutionId, Vec<LogLine>),
    /// Where an execution's record lives.
    Link(RecordLink),
    /// The guard's state.
    Guard(GuardState),
    /// The review queue.
    ReviewQueue(ReviewQueue),
    /// A label recorded.
    Labelled(LabelRecord),
    /// The current labels.
    Labels(Vec<LabelRecord>),
    /// The model versions.
    Models(ModelsView),
    /// A promotion or rollback done.
    Promoted(Promotion),
}

impl Request {
    /// The call's name, for errors, pending-work lists and call counts.
    pub fn operation(&self) -> Operation {
        match self {
            Request::Executions { .. } => Operation::ListExecutions,
            Request::History { .. } => Operation::GetExecutionHistory,
            Request::StartRandom { .. } => Operation::StartExecution,
            Request::Stop { .. } => Operation::StopExecution,
            Request::Redrive { .. } => Operation::RedriveExecution,
            Request::Endpoint => Operation::DescribeEndpoint,
            Request::Metrics { .. } => Operation::GetMetricData,
            Request::Capture { .. } => Operation::ReadDataCapture,
            Request::LowConfidence { .. } => Operation::LowConfidenceFailures,
            Request::Image { .. } => Operation::GetObject,
            Request::Drift { .. } => Operation::Drift,
            Request::Logs { .. } => Operation::FilterLogEvents,
            Request::RecordLink { .. } => Operation::RecordLink,
            Request::Guard => Operation::DescribeGuard,
            Request::CommandGuard(_) => Operation::UpdateGuard,
            Request::ReviewQueue { .. } => Operation::ListReviewQueue,
            Request::Label(_) => Operation::PutLabel,
            Request::Labels => Operation::ListLabels,
            Request::Models => Operation::ListModels,
            Request::Promote { .. } => Operation::PromoteModel,
            Request::Rollback => Operation::RollbackModel,
        }
    }

    /// Makes the call.
    pub async fn call<B: Backend>(self, backend: &B) -> BackendResult<Response> {
        Ok(match self {
            Request::Executions { cursor, limit } => {
                Response::Executions(backend.executions_since(cursor, limit).await?)
            }
            Request::History { id } => {
                let events = backend.history(id.clone()).await?;
                Response::History(id, Arc::new(events))
            }
            Request::StartRandom { count } => Response::Started(backend.start_random(count).await?),
            Request::Stop { id } => {
                backend.stop(id.clone(), StopReason::DASHBOARD).await?;
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
            Request::LowConfidence { range, limit } => {
                Response::LowConfidence(backend.low_confidence(range, limit).await?)
            }
            Request::Image { s3_key } => {
                let bytes = backend.image(s3_key.clone()).await?;
                Response::Image(s3_key, Arc::new(bytes))
            }
            Request::Drift { window, windows } => {
                Response::Drift(Arc::new(backend.drift(window, windows).await?))
            }
            Request::Logs { execution } => {
                let id = execution.id.clone();
                Response::Logs(id, backend.logs(*execution).await?)
            }
            Request::RecordLink { id } => Response::Link(backend.record_link(&id)),
            Request::Guard => Response::Guard(backend.guard().await?),
            Request::CommandGuard(command) => {
                Response::Guard(backend.command_guard(command).await?)
            }
            Request::ReviewQueue { limit } => {
                Response::ReviewQueue(backend.review_queue(limit).await?)
            }
            Request::Label(label) => Response::Labelled(backend.label(*label).await?),
            Request::Labels => Response::Labels(backend.labels().await?),
            Request::Models => Response::Models(backend.models().await?),
            Request::Promote { version, force } => {
                Response::Promoted(backend.promote(version, force).await?)
            }
            Request::Rollback => Response::Promoted(backend.rollback().await?),
        })
    }
}
