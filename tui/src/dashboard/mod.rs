//! The scones dashboard: a ratatui terminal UI over a [`Backend`] (the local stack or a
//! deployed AWS stack).
//!
//! How it fits together:
//!
//! ```text
//!  event task ──Tick/Render/Key/Mouse/Resize/Terminate──┐
//!  (event.rs)                                           ▼
//!                 Dashboard::handle ── keymap ──▶ Action ──▶ App::update ──▶ Commands
//!  worker tasks ──Completed(id, result)──▶  │        (app.rs: the tab on       │
//!  (worker.rs) ◀─────── Fetch(id, slot, request) ───  screen, the shell, ◀────┘
//!                                           │         the schedule)
//!                                           └─ Render & dirty ──▶ Screen::draw(&App)
//! ```
//!
//! Every backend call runs in a background task; the UI thread only maps events, updates
//! state and draws, so it keeps responding whatever the backend does. Drawing is a pure
//! function of the state. The terminal is restored on quit, on error and on panic
//! ([`terminal`]). Tests drive the same [`Dashboard`] on a test screen ([`headless`], with
//! the `test-support` feature).

pub mod action;
pub mod app;
pub mod components;
pub mod config;
pub mod event;
#[cfg(feature = "test-support")]
pub mod faults;
#[cfg(feature = "test-support")]
pub mod headless;
pub mod keymap;
pub mod list;
pub mod panel;
pub mod panels;
pub mod schedule;
pub mod shared;
pub mod shell;
pub mod terminal;
pub mod theme;
pub mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ratatui::layout::Rect;

use crate::dashboard::action::{Action, Command};
use crate::dashboard::app::{App, AppOptions};
use crate::dashboard::config::Config;
use crate::dashboard::event::{Event, EventTask};
use crate::dashboard::keymap::{KeyMap, map_key, map_mouse};
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

/// Where the dashboard draws and what it puts on the clipboard: the terminal, or a test
/// screen ([`headless`]).
pub trait Screen {
    /// Draws a frame of `app`.
    fn draw(&mut self, app: &App) -> std::io::Result<()>;
    /// Puts `text` on the clipboard (OSC 52 in a terminal).
    fn copy(&mut self, text: &str);
}

impl Screen for TerminalSession {
    fn draw(&mut self, app: &App) -> std::io::Result<()> {
        self.terminal().draw(|f| components::draw(f, app))?;
        Ok(())
    }

    fn copy(&mut self, text: &str) {
        // A terminal without OSC 52 ignores the sequence; nothing else to do.
        let _ = self.copy_to_clipboard(text);
    }
}

/// The dashboard: the state, the worker running its calls, the key map and a screen. Every
/// event, from a terminal or from a test, goes through [`Dashboard::handle`].
pub struct Dashboard<B: Backend, S: Screen> {
    /// The state.
    pub app: App,
    worker: Worker<B>,
    keymap: KeyMap,
    /// Where it draws.
    pub screen: S,
}

impl<B: Backend, S: Screen> Dashboard<B, S> {
    /// A dashboard over `backend` drawing on `screen` of `size`, its worker's answers sent to
    /// `events`. Must be called inside a tokio runtime.
    pub fn new(
        backend: Arc<B>,
        options: AppOptions,
        now: DateTime<Utc>,
        size: Rect,
        screen: S,
        events: tokio::sync::mpsc::UnboundedSender<Event>,
    ) -> Self {
        let keymap = options.config.keymap.clone();
        let app = App::new(backend.info(), options, now, size);
        Dashboard {
            app,
            worker: Worker::new(backend, events),
            keymap,
            screen,
        }
    }

    /// The worker (tests put fault injection in front of its calls).
    pub fn worker_mut(&mut self) -> &mut Worker<B> {
        &mut self.worker
    }

    /// Handles one event: a render draws when something changed, input becomes an action
    /// (through the key map), an answer is handed to the app. An input error ends the
    /// dashboard.
    pub fn handle(&mut self, event: Event) -> Result<(), DashboardError> {
        let action = match event {
            Event::Render => {
                if self.app.dirty {
                    self.screen.draw(&self.app)?;
                    self.app.dirty = false;
                }
                return Ok(());
            }
            Event::Tick(now) => Some(Action::Tick(now)),
            Event::Key(key) => map_key(&self.keymap, self.app.shared.mode, &key),
            Event::Mouse(mouse) => map_mouse(&mouse),
            Event::Resize(w, h) => Some(Action::Resize(w, h)),
            Event::Completed(c) => Some(Action::Completed(c)),
            Event::Terminate(status) => Some(Action::Terminated(status)),
            Event::InputError(e) => return Err(DashboardError::Input(e)),
        };
        if let Some(action) = action {
            self.act(action);
        }
        Ok(())
    }

    /// Applies an action and carries out the work it asks for.
    pub fn act(&mut self, action: Action) {
        let commands = self.app.update(action);
        for command in commands {
            match command {
                Command::Fetch { id, slot, request } => self.worker.submit(id, slot, request),
                Command::Copy(text) => self.screen.copy(&text),
            }
        }
    }
}

/// Runs the dashboard in this terminal until the user quits. Returns the exit status a
/// terminating signal asked for (`None` after `q`).
pub async fn run<B: Backend>(
    backend: Arc<B>,
    options: RunOptions,
) -> Result<Option<u8>, DashboardError> {
    let mut session = TerminalSession::enter(options.config.mouse, options.log_file.as_deref())?;
    let size = session.terminal().size()?;
    let app_options = AppOptions::new(options.config, options.readonly);
    let (tx, mut rx) = event::channel();
    let _events = EventTask::spawn(tx.clone(), TICK, FRAME);
    let mut dashboard = Dashboard::new(
        backend,
        app_options,
        Utc::now(),
        Rect::new(0, 0, size.width, size.height),
        session,
        tx,
    );
    dashboard.act(Action::Tick(Utc::now()));
    while let Some(event) = rx.recv().await {
        dashboard.handle(event)?;
        if dashboard.app.should_quit {
            break;
        }
    }
    dashboard.worker.abort_all();
    Ok(dashboard.app.exit_status)
}
