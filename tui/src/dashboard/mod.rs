//! The scones dashboard: a ratatui terminal UI over a [`Backend`] (the local stack now,
//! AWS later).
//!
//! How it fits together:
//!
//! ```text
//!  event task ──Tick/Render/Key/Mouse/Resize──┐
//!  (event.rs)                                 ▼
//!                     run loop ── keymap ──▶ Action ──▶ App::update ──▶ Commands
//!  worker tasks ──Completed(id, result)──▶    │           (app.rs)        │
//!  (worker.rs) ◀──────── Fetch(id, request) ──┼───────────────────────────┘
//!                                             └─ Render & dirty ──▶ components::draw(&App)
//! ```
//!
//! Every backend call runs in a background task; the UI thread only maps events, updates
//! state and draws, so it keeps responding whatever the backend does. Drawing is a pure
//! function of the state. The terminal is restored on quit, on error and on panic
//! ([`terminal`]).

pub mod action;
pub mod app;
pub mod components;
pub mod config;
pub mod event;
pub mod faults;
pub mod feeds;
pub mod headless;
pub mod keymap;
pub mod state_runs;
pub mod terminal;
pub mod theme;
pub mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ratatui::layout::Rect;

use crate::dashboard::action::{Action, Command};
use crate::dashboard::app::{App, AppOptions};
use crate::dashboard::config::Config;
use crate::dashboard::event::{Event, EventTask};
use crate::dashboard::keymap::{map_key, map_mouse};
use crate::dashboard::terminal::TerminalSession;
use crate::dashboard::worker::Worker;
use scones_workflow::port::Backend;

/// Tick period: refresh schedule resolution and spinner speed.
pub const TICK: Duration = Duration::from_millis(250);
/// Shortest time between two frames.
pub const FRAME: Duration = Duration::from_millis(50);

/// How to run the dashboard.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Settings (config file or defaults).
    pub config: Config,
    /// Turn the mutating keys off.
    pub readonly: bool,
    /// Where log output goes while the dashboard owns the terminal.
    pub log_file: Option<PathBuf>,
}

/// Why the dashboard stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// The terminal could not be set up or drawn on.
    #[error("terminal error: {0}")]
    Terminal(#[from] std::io::Error),
    /// Reading keyboard/mouse input failed.
    #[error("cannot read terminal input: {0}")]
    Input(String),
}

/// Runs the dashboard in this terminal until the user quits.
pub async fn run<B: Backend>(backend: Arc<B>, options: RunOptions) -> Result<(), DashboardError> {
    let mut session = TerminalSession::enter(options.config.mouse, options.log_file.as_deref())?;
    let app_options = AppOptions::new(options.config, options.readonly);
    let size = session.terminal().size()?;
    let (tx, mut rx) = event::channel();
    let _events = EventTask::spawn(tx.clone(), TICK, FRAME);
    let mut worker = Worker::new(Arc::clone(&backend), tx);
    let keymap = app_options.config.keymap.clone();
    let mut app = App::new(
        backend.info(),
        app_options,
        Utc::now(),
        Rect::new(0, 0, size.width, size.height),
    );
    let first = app.update(Action::Tick(Utc::now()));
    perform(first, &mut worker, &mut session);
    while let Some(event) = rx.recv().await {
        let action = match event {
            Event::Render => {
                if app.dirty {
                    session.terminal().draw(|f| components::draw(f, &app))?;
                    app.dirty = false;
                }
                continue;
            }
            Event::Tick(now) => Some(Action::Tick(now)),
            Event::Key(key) => map_key(&keymap, app.mode, &key),
            Event::Mouse(mouse) => map_mouse(&mouse),
            Event::Resize(w, h) => Some(Action::Resize(w, h)),
            Event::Completed(c) => Some(Action::Completed(c)),
            Event::Terminate => Some(Action::Quit),
            Event::InputError(e) => return Err(DashboardError::Input(e)),
        };
        if let Some(action) = action {
            let commands = app.update(action);
            perform(commands, &mut worker, &mut session);
        }
        if app.should_quit {
            break;
        }
    }
    worker.abort_all();
    Ok(())
}

fn perform<B: Backend>(
    commands: Vec<Command>,
    worker: &mut Worker<B>,
    session: &mut TerminalSession,
) {
    for command in commands {
        match command {
            Command::Fetch { id, slot, request } => worker.submit(id, slot, request),
            Command::Copy(text) => {
                // A terminal without OSC 52 ignores the sequence; nothing else to do.
                let _ = session.copy_to_clipboard(&text);
            }
        }
    }
}
