//! The dashboard without a terminal (feature `test-support`): the real [`Dashboard`] — key
//! map, [`Dashboard::handle`], the app, the worker — on a ratatui `TestBackend`, driven by
//! code. Tests press keys, click, send signals and wait for answers; benchmarks render
//! frames and count calls. Only the event task (the clocks and the terminal's input) is
//! left out: the test is the clock.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::dashboard::app::{App, AppOptions};
use crate::dashboard::event::{self, Event};
use crate::dashboard::faults::Faults;
use crate::dashboard::{Dashboard, DashboardError, Screen, components};
use scones_workflow::port::Backend;

/// A screen in memory that keeps what was put on the clipboard.
pub struct TestScreen {
    terminal: Terminal<TestBackend>,
    /// Text put on the clipboard, in order.
    pub copied: Vec<String>,
}

impl Screen for TestScreen {
    fn draw(&mut self, app: &App) -> std::io::Result<()> {
        // TestBackend cannot fail to draw.
        let _ = self.terminal.draw(|f| components::draw(f, app));
        Ok(())
    }

    fn copy(&mut self, text: &str) {
        self.copied.push(text.to_owned());
    }
}

/// A dashboard driven by code, on a `TestBackend` of a given size.
pub struct Headless<B: Backend> {
    /// The dashboard.
    pub dashboard: Dashboard<B, TestScreen>,
    events: UnboundedReceiver<Event>,
    /// Completions handled.
    pub completions: u64,
}

impl<B: Backend> Headless<B> {
    /// A dashboard over `backend` at `now` in a `width`×`height` terminal. Must be called
    /// inside a tokio runtime.
    pub fn new(
        backend: Arc<B>,
        options: AppOptions,
        now: DateTime<Utc>,
        width: u16,
        height: u16,
    ) -> Self {
        let (tx, rx) = event::channel();
        let terminal = match Terminal::new(TestBackend::new(width, height)) {
            Ok(t) => t,
            Err(never) => match never {},
        };
        let screen = TestScreen {
            terminal,
            copied: Vec::new(),
        };
        Headless {
            dashboard: Dashboard::new(
                backend,
                options,
                now,
                Rect::new(0, 0, width, height),
                screen,
                tx,
            ),
            events: rx,
            completions: 0,
        }
    }

    /// The state.
    pub fn app(&self) -> &App {
        &self.dashboard.app
    }

    /// Text put on the clipboard, in order.
    pub fn copied(&self) -> &[String] {
        &self.dashboard.screen.copied
    }

    /// The same dashboard with `faults` injected in front of every backend call.
    pub fn with_faults(mut self, faults: Arc<Faults>) -> Self {
        self.dashboard
            .worker_mut()
            .set_gate(Arc::new(move |operation| faults.gate(operation)));
        self
    }

    /// Hands an event to the dashboard, as the event task would.
    pub fn send(&mut self, event: Event) -> Result<(), DashboardError> {
        self.dashboard.handle(event)
    }

    /// A tick at `now`.
    pub fn tick(&mut self, now: DateTime<Utc>) {
        let _ = self.send(Event::Tick(now));
    }

    /// Presses a key (through the key map, in the current input mode).
    pub fn press(&mut self, code: KeyCode) {
        self.press_with(code, KeyModifiers::NONE);
    }

    /// Presses a key with modifiers.
    pub fn press_with(&mut self, code: KeyCode, modifiers: KeyModifiers) {
        let _ = self.send(Event::Key(KeyEvent::new(code, modifiers)));
    }

    /// A left click at (column, row).
    pub fn click(&mut self, column: u16, row: u16) {
        self.mouse(MouseEventKind::Down(MouseButton::Left), column, row);
    }

    /// A mouse event of `kind` at (column, row).
    pub fn mouse(&mut self, kind: MouseEventKind, column: u16, row: u16) {
        let _ = self.send(Event::Mouse(MouseEvent {
            kind,
            column,
            row,
            modifiers: KeyModifiers::NONE,
        }));
    }

    /// Resizes the terminal (what a real one reports as a resize event).
    pub fn resize(&mut self, width: u16, height: u16) {
        self.dashboard
            .screen
            .terminal
            .backend_mut()
            .resize(width, height);
        let _ = self.send(Event::Resize(width, height));
    }

    /// Types text (each character a key press).
    pub fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.press(KeyCode::Char(c));
        }
    }

    /// Handles every completion already delivered; returns how many.
    pub fn drain(&mut self) -> usize {
        let mut n = 0;
        while let Ok(event) = self.events.try_recv() {
            if matches!(event, Event::Completed(_)) {
                n += 1;
            }
            let _ = self.send(event);
        }
        self.completions += n as u64;
        n
    }

    /// Waits until nothing is in flight (handling completions as they come), at most
    /// `timeout`. Returns false on timeout.
    pub async fn settle(&mut self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            self.drain();
            if self.dashboard.app.pending() == 0 {
                return true;
            }
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) => {
                    if matches!(event, Event::Completed(_)) {
                        self.completions += 1;
                    }
                    let _ = self.send(event);
                }
                Ok(None) | Err(_) => return false,
            }
        }
    }

    /// Ticks with the wall clock every `every` until `done(app)` holds, at most `timeout`.
    /// Returns whether it held.
    pub async fn run_until(
        &mut self,
        timeout: Duration,
        every: Duration,
        mut done: impl FnMut(&App) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            self.tick(Utc::now());
            self.settle(every).await;
            if done(&self.dashboard.app) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Draws a frame (as a render event does, whether or not anything changed) and returns
    /// the screen.
    pub fn render(&mut self) -> &TestBackend {
        self.dashboard.app.dirty = true;
        let _ = self.send(Event::Render);
        self.dashboard.screen.terminal.backend()
    }

    /// Draws a frame and returns the screen as text, one line per row.
    pub fn screen(&mut self) -> String {
        let backend = self.render();
        let buffer = backend.buffer();
        let mut out = String::new();
        for y in 0..buffer.area.height {
            for x in 0..buffer.area.width {
                out.push_str(buffer[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }
}
