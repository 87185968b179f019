//! Background fetching: every backend call ([`Request`], the port's calls as messages) runs in
//! its own tokio task and comes back as an [`Event::Completed`] message carrying the request
//! id it was started with.
//!
//! Requests belong to a [`Slot`]. A new request in a slot aborts the one still running
//! there (a stale history for an execution no longer selected is never worth waiting
//! for), and the app ignores completions whose id is not the latest of their slot, so a
//! late answer cannot overwrite a newer one. Mutations (start, stop, redrive) are never
//! cancelled. A panic inside a call is caught and reported as
//! [`BackendError::TaskCrashed`], so a broken backend cannot take the UI down. A [`Gate`] in
//! front of every call lets tests inject faults and count calls.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::AbortHandle;

use scones_workflow::port::{Backend, BackendError, BackendResult, Operation, Request, Response};

use crate::dashboard::event::Event;

/// Identifies one request; increases monotonically within an app.
pub type RequestId = u64;

/// Which stream of data a request feeds; at most one request per slot is worth having.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    /// A feed, by name (see [`crate::dashboard::panel::Feed`]).
    Feed(&'static str),
    /// Start/stop/redrive and the other mutations: never cancelled, never stale.
    Mutation,
}

/// A finished request.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The id it was started with.
    pub id: RequestId,
    /// Its slot.
    pub slot: Slot,
    /// The call's name.
    pub operation: Operation,
    /// The answer.
    pub result: BackendResult<Response>,
}

/// Runs requests against a backend in background tasks.
pub struct Worker<B: Backend> {
    backend: Arc<B>,
    events: UnboundedSender<Event>,
    running: HashMap<Slot, AbortHandle>,
    gate: Option<Gate>,
}

/// A check in front of every call: `Err` answers the call instead of making it (fault
/// injection in tests and benchmarks, which also count calls with it).
pub type Gate = Arc<dyn Fn(Operation) -> BackendResult<()> + Send + Sync>;

impl<B: Backend> Worker<B> {
    /// A worker sending completions to `events`.
    pub fn new(backend: Arc<B>, events: UnboundedSender<Event>) -> Self {
        Worker {
            backend,
            events,
            running: HashMap::new(),
            gate: None,
        }
    }

    /// Puts `gate` in front of every call.
    pub fn set_gate(&mut self, gate: Gate) {
        self.gate = Some(gate);
    }

    /// Starts `request` for `slot` in the background, aborting the previous request of the
    /// slot. Must be called inside a tokio runtime.
    pub fn submit(&mut self, id: RequestId, slot: Slot, request: Request) {
        let operation = request.operation();
        let backend = Arc::clone(&self.backend);
        let events = self.events.clone();
        let gate = self.gate.clone();
        let task = tokio::spawn(async move {
            let call = async {
                if let Some(gate) = &gate {
                    gate(operation)?;
                }
                request.call(backend.as_ref()).await
            };
            let result = AssertUnwindSafe(call)
                .catch_unwind()
                .await
                .unwrap_or_else(|panic| {
                    Err(BackendError::TaskCrashed {
                        operation,
                        message: panic_message(panic.as_ref()),
                    })
                });
            // The receiver is gone only when the dashboard is shutting down.
            let _ = events.send(Event::Completed(Box::new(Completion {
                id,
                slot,
                operation,
                result,
            })));
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

/// The text of a panic payload (`&str` or `String`; anything else is unnamed).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}
