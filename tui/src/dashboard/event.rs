//! The event task: terminal input, a tick clock and a render clock merged into one channel,
//! which also carries the background workers' completions.
//!
//! The tick drives time-based work (refresh schedule, toasts, spinner); the render clock
//! caps the frame rate, and the run loop draws on it only when something changed, so an
//! idle dashboard costs almost nothing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use crossterm::event::{Event as TermEvent, EventStream, KeyEvent, KeyEventKind, MouseEvent};
use futures::StreamExt;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::dashboard::worker::Completion;

/// Everything the run loop reacts to.
#[derive(Debug, Clone)]
pub enum Event {
    /// The tick clock fired.
    Tick(DateTime<Utc>),
    /// The render clock fired.
    Render,
    /// A key was pressed.
    Key(KeyEvent),
    /// The mouse did something.
    Mouse(MouseEvent),
    /// The terminal changed size.
    Resize(u16, u16),
    /// A background call finished.
    Completed(Box<Completion>),
    /// Reading the terminal failed; the dashboard cannot go on.
    InputError(String),
    /// SIGTERM, SIGHUP, SIGINT or SIGQUIT from outside (in raw mode Ctrl-C is a key, not a
    /// signal): leave like `q` would, restoring the terminal, and exit with 128 + the
    /// signal's number as a shell reports a process the signal ended.
    Terminate(u8),
}

/// The sending and receiving ends of the event channel.
pub fn channel() -> (UnboundedSender<Event>, UnboundedReceiver<Event>) {
    unbounded_channel()
}

/// The running event task; aborted when dropped.
pub struct EventTask {
    handle: JoinHandle<()>,
}

impl EventTask {
    /// Starts reading the terminal and the two clocks into `tx`.
    pub fn spawn(tx: UnboundedSender<Event>, tick: Duration, frame: Duration) -> Self {
        let handle = tokio::spawn(async move {
            let mut input = EventStream::new();
            let mut tick_clock = tokio::time::interval(tick);
            tick_clock.set_missed_tick_behavior(MissedTickBehavior::Skip);
            let mut frame_clock = tokio::time::interval(frame);
            frame_clock.set_missed_tick_behavior(MissedTickBehavior::Skip);
            let (_keep_open, mut terminate) = terminate_signals();
            loop {
                let event = tokio::select! {
                    _ = tick_clock.tick() => Event::Tick(Utc::now()),
                    _ = frame_clock.tick() => Event::Render,
                    Some(status) = terminate.recv() => Event::Terminate(status),
                    input = input.next() => match input {
                        Some(Ok(TermEvent::Key(key))) if key.kind != KeyEventKind::Release => Event::Key(key),
                        Some(Ok(TermEvent::Mouse(mouse))) => Event::Mouse(mouse),
                        Some(Ok(TermEvent::Resize(w, h))) => Event::Resize(w, h),
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => Event::InputError(e.to_string()),
                        None => Event::InputError("the terminal input closed".to_owned()),
                    },
                };
                let stop = matches!(event, Event::InputError(_));
                if tx.send(event).is_err() || stop {
                    break;
                }
            }
        });
        EventTask { handle }
    }
}

impl Drop for EventTask {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// SIGTERM, SIGHUP, SIGINT and SIGQUIT as one stream, so a dashboard killed with any
/// catchable signal still restores the terminal (SIGQUIT's core dump is not worth a
/// terminal left in raw mode).
/// The sender is returned so the caller keeps the channel open (and `recv` pending) even
/// when no signal could be hooked.
fn terminate_signals() -> (UnboundedSender<u8>, UnboundedReceiver<u8>) {
    let (tx, rx) = unbounded_channel();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        // The exit status a shell gives a process ended by the signal: 128 + its number.
        for (kind, status) in [
            (SignalKind::terminate(), 143),
            (SignalKind::hangup(), 129),
            (SignalKind::interrupt(), 130),
            (SignalKind::quit(), 131),
        ] {
            if let Ok(mut sig) = signal(kind) {
                let tx = tx.clone();
                tokio::spawn(async move {
                    while sig.recv().await.is_some() {
                        if tx.send(status).is_err() {
                            break;
                        }
                    }
                });
            }
        }
    }
    (tx, rx)
}
