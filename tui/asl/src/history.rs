//! Execution history events, shaped like `GetExecutionHistory`.
//!
//! The event itself is the domain model's ([`scones_workflow::history`]): the engine records
//! it, the store keeps it, both backends read it. This module streams events to an
//! [`EventSink`] as they happen (so a store can persist a running execution live).

use std::sync::Mutex;

pub use scones_workflow::history::{
    EventDetails, HistoryEvent, Payload, StatePhase, StateType, to_aws_json,
};

/// Receives events as they are recorded. Called synchronously in emission order, so keep
/// it quick (push to a channel or a buffer).
pub trait EventSink: Send + Sync {
    /// One new event.
    fn record(&self, event: &HistoryEvent);
}

/// A sink that keeps every event in memory.
#[derive(Debug, Default)]
pub struct VecSink {
    events: Mutex<Vec<HistoryEvent>>,
}

impl VecSink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of the events recorded so far.
    pub fn events(&self) -> Vec<HistoryEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Take the recorded events, leaving the sink empty.
    pub fn take(&self) -> Vec<HistoryEvent> {
        self.events
            .lock()
            .map(|mut e| std::mem::take(&mut *e))
            .unwrap_or_default()
    }
}

impl EventSink for VecSink {
    fn record(&self, event: &HistoryEvent) {
        if let Ok(mut events) = self.events.lock() {
            events.push(event.clone());
        }
    }
}

/// A sink that forwards every event to a tokio channel, for a consumer (a store, a
/// dashboard) running elsewhere. Events sent after the receiver is gone are dropped.
#[derive(Debug, Clone)]
pub struct ChannelSink {
    tx: tokio::sync::mpsc::UnboundedSender<HistoryEvent>,
}

impl ChannelSink {
    /// A sink and the receiving end of its channel.
    pub fn new() -> (Self, tokio::sync::mpsc::UnboundedReceiver<HistoryEvent>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (Self { tx }, rx)
    }
}

impl EventSink for ChannelSink {
    fn record(&self, event: &HistoryEvent) {
        // A closed receiver means nobody wants the history any more; the execution goes on.
        let _ = self.tx.send(event.clone());
    }
}

/// A sink that drops everything (for callers that only want the outcome).
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl EventSink for NullSink {
    fn record(&self, _event: &HistoryEvent) {}
}
