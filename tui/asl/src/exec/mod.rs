//! Executing a [`StateMachine`]: the public entry points ([`Engine`], [`ExecutionSpec`],
//! [`Outcome`], [`StopHandle`]) and the per-execution shared state.
//!
//! One execution is one future. Map iterations and Parallel branches run concurrently
//! *inside* that future (cooperatively), which keeps event order deterministic for a given
//! timing while still overlapping Lambda calls and waits. The future is `Send + 'static`,
//! so callers may `tokio::spawn` many executions on a multi-thread runtime.

mod choice;
mod fail;
mod frame;
mod jsonata_io;
mod map;
mod parallel;
mod pass;
mod retry;
mod state;
mod task;
mod wait;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::definition::{Definition, StateMachine};
use crate::error::Failure;
use crate::history::{EventDetails, EventSink, HistoryEvent, Payload};
use crate::lambda::LambdaRegistry;
use frame::{EvCtx, Frame, Vars};

/// Who and what an execution is: the names and ARNs that appear in the history and in the
/// context object (`$$.Execution`, `$$.StateMachine`), plus the input.
#[derive(Debug, Clone)]
pub struct ExecutionSpec {
    /// `$$.StateMachine.Id`.
    pub state_machine_arn: String,
    /// `$$.StateMachine.Name`.
    pub state_machine_name: String,
    /// `$$.Execution.Id`.
    pub execution_arn: String,
    /// `$$.Execution.Name`.
    pub execution_name: String,
    /// `$$.Execution.RoleArn` and `ExecutionStarted.roleArn`.
    pub role_arn: String,
    /// Region used in ARNs built by the engine and `TaskScheduled.region`.
    pub region: String,
    /// Account used in ARNs built by the engine.
    pub account: String,
    /// The execution input.
    pub input: ExecutionInput,
}

/// The execution input, as a value or as the exact text given to StartExecution (the
/// text is echoed verbatim in `ExecutionStarted`).
#[derive(Debug, Clone)]
pub enum ExecutionInput {
    /// A JSON value.
    Json(Value),
    /// The exact input text. Must be JSON: build it with [`ExecutionInput::from_text`],
    /// which checks that (text that is not JSON would run as a JSON string).
    Text(String),
}

/// StartExecution input that is not JSON (AWS: `InvalidExecutionInput`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("InvalidExecutionInput: the execution input is not valid JSON: {reason}")]
pub struct InvalidExecutionInput {
    /// The JSON parser's message.
    pub reason: String,
}

impl ExecutionInput {
    /// Input text as sent to StartExecution, checked to be JSON.
    pub fn from_text(text: impl Into<String>) -> Result<Self, InvalidExecutionInput> {
        let text = text.into();
        serde_json::from_str::<Value>(&text).map_err(|e| InvalidExecutionInput {
            reason: e.to_string(),
        })?;
        Ok(ExecutionInput::Text(text))
    }
}

impl ExecutionSpec {
    /// A spec for a local execution: ARNs are built from the names with region
    /// `us-east-1`, account `000000000000` and role `StepFunctionsLocalRole`.
    pub fn local(state_machine_name: &str, execution_name: &str, input: Value) -> Self {
        Self::with_account(
            state_machine_name,
            execution_name,
            "us-east-1",
            "000000000000",
            "arn:aws:iam::000000000000:role/StepFunctionsLocalRole",
            ExecutionInput::Json(input),
        )
    }

    /// A spec with explicit region, account and role.
    pub fn with_account(
        state_machine_name: &str,
        execution_name: &str,
        region: &str,
        account: &str,
        role_arn: &str,
        input: ExecutionInput,
    ) -> Self {
        Self {
            state_machine_arn: format!(
                "arn:aws:states:{region}:{account}:stateMachine:{state_machine_name}"
            ),
            state_machine_name: state_machine_name.to_owned(),
            execution_arn: format!(
                "arn:aws:states:{region}:{account}:execution:{state_machine_name}:{execution_name}"
            ),
            execution_name: execution_name.to_owned(),
            role_arn: role_arn.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            input,
        }
    }
}

/// An execution's status: the domain model's. An engine [`Outcome`] is always a final one
/// (SUCCEEDED, FAILED, TIMED_OUT or ABORTED).
pub use scones_workflow::ExecutionStatus;

/// The result of an execution (what DescribeExecution reports once it stopped).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Final status.
    pub status: ExecutionStatus,
    /// Output (only when SUCCEEDED).
    pub output: Option<Value>,
    /// Error name (FAILED, TIMED_OUT, ABORTED).
    pub error: Option<String>,
    /// Cause.
    pub cause: Option<String>,
    /// When it started (on the execution clock).
    pub start_date: DateTime<Utc>,
    /// When it stopped.
    pub stop_date: DateTime<Utc>,
}

/// The error/cause a stop was requested with (`None` while running).
type StopRequest = Option<(Option<String>, Option<String>)>;

/// Stops a running execution the way `StopExecution` does (`ExecutionAborted`).
#[derive(Debug, Clone)]
pub struct StopHandle {
    tx: Arc<tokio::sync::watch::Sender<StopRequest>>,
}

impl StopHandle {
    /// Request the stop; the execution records `ExecutionAborted` with this error/cause.
    /// Stopping a finished execution does nothing.
    pub fn stop(&self, error: Option<String>, cause: Option<String>) {
        let _ = self.tx.send(Some((error, cause)));
    }
}

/// A started execution: await [`Execution::run`] (or spawn it) for the [`Outcome`].
pub struct Execution {
    future: BoxFuture<'static, Outcome>,
    stop: StopHandle,
}

impl Execution {
    /// A handle that can stop this execution from elsewhere.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Drive the execution to its end.
    pub fn run(self) -> BoxFuture<'static, Outcome> {
        self.future
    }
}

/// Runs state machines against registered Lambda functions on a clock.
#[derive(Clone)]
pub struct Engine {
    lambdas: Arc<LambdaRegistry>,
    clock: Arc<dyn Clock>,
}

impl Engine {
    /// An engine calling `lambdas` and reading time from `clock`.
    pub fn new(lambdas: LambdaRegistry, clock: Arc<dyn Clock>) -> Self {
        Self {
            lambdas: Arc::new(lambdas),
            clock,
        }
    }

    /// Prepare an execution; events go to `sink` as they happen. Nothing runs until the
    /// returned [`Execution::run`] future is polled.
    pub fn start(
        &self,
        machine: &StateMachine,
        spec: ExecutionSpec,
        sink: Arc<dyn EventSink>,
    ) -> Execution {
        let (tx, rx) = tokio::sync::watch::channel(None);
        let stop = StopHandle { tx: Arc::new(tx) };
        let def = machine.inner.clone();
        let lambdas = self.lambdas.clone();
        let clock = self.clock.clone();
        let future =
            Box::pin(async move { run_execution(def, spec, sink, lambdas, clock, rx).await });
        Execution { future, stop }
    }

    /// Convenience: run to completion, recording into `sink`.
    pub async fn execute(
        &self,
        machine: &StateMachine,
        spec: ExecutionSpec,
        sink: Arc<dyn EventSink>,
    ) -> Outcome {
        self.start(machine, spec, sink).run().await
    }
}

/// Shared, read-mostly state of one execution.
/// The most events one execution's history holds on AWS (the service quota "maximum
/// execution history size", 25,000 events). An execution that reaches it fails.
pub const MAX_HISTORY_EVENTS: u64 = 25_000;

pub(crate) struct Run {
    pub def: Arc<Definition>,
    pub spec: ExecutionSpec,
    pub clock: Arc<dyn Clock>,
    pub lambdas: Arc<LambdaRegistry>,
    recorder: Mutex<u64>,
    sink: Arc<dyn EventSink>,
    /// `$$.Execution`, built once.
    pub context_execution: Value,
    /// `$$.StateMachine`, built once.
    pub context_state_machine: Value,
}

impl Run {
    /// Record an event linked from `ctx`; advance `ctx` unless `advance` is false.
    pub fn emit(&self, ctx: &mut EvCtx, details: EventDetails, advance: bool) -> u64 {
        self.emit_at(ctx, details, advance).0
    }

    /// [`Run::emit`], also returning the event's timestamp.
    pub fn emit_at(
        &self,
        ctx: &mut EvCtx,
        details: EventDetails,
        advance: bool,
    ) -> (u64, DateTime<Utc>) {
        let timestamp = self.clock.now();
        // The lock spans id assignment and the sink call so ids reach the sink in order.
        let mut next = match self.recorder.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *next += 1;
        let id = *next;
        let event = HistoryEvent {
            id,
            previous_event_id: ctx.source,
            timestamp,
            details,
        };
        self.sink.record(&event);
        drop(next);
        ctx.last = id;
        if advance {
            ctx.source = id;
        }
        (id, timestamp)
    }

    /// True once the history holds [`MAX_HISTORY_EVENTS`] events: the execution must end.
    pub fn history_full(&self) -> bool {
        let recorded = match self.recorder.lock() {
            Ok(g) => *g,
            Err(poisoned) => *poisoned.into_inner(),
        };
        recorded >= MAX_HISTORY_EVENTS
    }

    /// Sleep on the execution clock.
    pub fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        self.clock.sleep(d)
    }
}

enum Ending {
    Done(Result<Arc<Value>, Failure>),
    Stopped(Option<String>, Option<String>),
    TimedOut,
}

async fn run_execution(
    def: Arc<Definition>,
    spec: ExecutionSpec,
    sink: Arc<dyn EventSink>,
    lambdas: Arc<LambdaRegistry>,
    clock: Arc<dyn Clock>,
    mut stop_rx: tokio::sync::watch::Receiver<StopRequest>,
) -> Outcome {
    let start_date = clock.now();
    let (input, input_payload) = match &spec.input {
        ExecutionInput::Json(v) => {
            let v = Arc::new(v.clone());
            (v.clone(), Payload::Json(v))
        }
        ExecutionInput::Text(t) => {
            // Text that is not JSON cannot reach StartExecution on AWS; treat it as a string.
            let v = Arc::new(serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.clone())));
            (v, Payload::Text(Arc::from(t.as_str())))
        }
    };
    let context_execution = json!({
        "Id": spec.execution_arn,
        "Input": &*input,
        "StartTime": start_date.to_rfc3339_opts(SecondsFormat::Millis, true),
        "Name": spec.execution_name,
        "RoleArn": spec.role_arn,
        "RedriveCount": 0,
    });
    let context_state_machine = json!({
        "Id": spec.state_machine_arn,
        "Name": spec.state_machine_name,
    });
    let run = Run {
        def,
        spec,
        clock,
        lambdas,
        recorder: Mutex::new(0),
        sink,
        context_execution,
        context_state_machine,
    };
    let mut start_ctx = EvCtx::default();
    let input_payload_for_first = input_payload.clone();
    run.emit(
        &mut start_ctx,
        EventDetails::ExecutionStarted {
            input: input_payload,
            role_arn: run.spec.role_arn.clone(),
        },
        true,
    );

    let mut frame = Frame {
        ev: EvCtx::default(),
        vars: Vars::default(),
        map_item: None,
        current: None,
        entered_text: matches!(input_payload_for_first, Payload::Text(_))
            .then_some(input_payload_for_first),
    };
    let ending = {
        let program = run.program(&run.def.program, input, &mut frame);
        let timeout = match run.def.timeout_seconds {
            Some(s) => run.sleep(Duration::from_secs(s)),
            None => Box::pin(futures::future::pending()),
        };
        let stopped = async {
            loop {
                if let Some((e, c)) = stop_rx.borrow_and_update().clone() {
                    return (e, c);
                }
                if stop_rx.changed().await.is_err() {
                    // Every StopHandle is gone: the execution can no longer be stopped.
                    futures::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            biased;
            (e, c) = stopped => Ending::Stopped(e, c),
            r = program => Ending::Done(r),
            _ = timeout => Ending::TimedOut,
        }
    };
    let mut ctx = frame.ev;
    let (status, output, error, cause) = match ending {
        Ending::Done(Ok(out)) => {
            run.emit(
                &mut ctx,
                EventDetails::ExecutionSucceeded {
                    output: Payload::Json(out.clone()),
                },
                true,
            );
            (ExecutionStatus::Succeeded, Some((*out).clone()), None, None)
        }
        Ending::Done(Err(f)) => {
            run.emit(
                &mut ctx,
                EventDetails::ExecutionFailed {
                    error: f.error.clone(),
                    cause: f.cause.clone(),
                },
                true,
            );
            (ExecutionStatus::Failed, None, f.error, f.cause)
        }
        Ending::Stopped(error, cause) => {
            let mut abort_ctx = EvCtx::default();
            run.emit(
                &mut abort_ctx,
                EventDetails::ExecutionAborted {
                    error: error.clone(),
                    cause: cause.clone(),
                },
                true,
            );
            (ExecutionStatus::Aborted, None, error, cause)
        }
        Ending::TimedOut => {
            let error = Some(crate::error::names::TIMEOUT.to_owned());
            run.emit(
                &mut ctx,
                EventDetails::ExecutionTimedOut {
                    error: error.clone(),
                    cause: None,
                },
                true,
            );
            (ExecutionStatus::TimedOut, None, error, None)
        }
    };
    Outcome {
        status,
        output,
        error,
        cause,
        start_date,
        stop_date: run.clock.now(),
    }
}
