//! The dashboard without a terminal: the real [`App`], [`Worker`] and key mapping, driven by
//! code. Tests press keys and wait for answers; benchmarks render frames and count calls.
//! Only the event task and the terminal session are left out.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::dashboard::action::{Action, Command};
use crate::dashboard::app::{App, AppOptions};
use crate::dashboard::components;
use crate::dashboard::event::{self, Event};
use crate::dashboard::faults::Faults;
use crate::dashboard::keymap::map_key;
use crate::dashboard::worker::Worker;
use scones_workflow::port::Backend;

/// A dashboard driven by code, on a `TestBackend` of a given size.
pub struct Headless<B: Backend> {
    /// The state.
    pub app: App,
    worker: Worker<B>,
    events: UnboundedReceiver<Event>,
    terminal: Terminal<TestBackend>,
    /// Text put on the clipboard, in order.
    pub copied: Vec<String>,
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
        let app = App::new(backend.info(), options, now, Rect::new(0, 0, width, height));
        let terminal = match Terminal::new(TestBackend::new(width, height)) {
            Ok(t) => t,
            Err(never) => match never {},
        };
        Headless {
            app,
            worker: Worker::new(backend, tx),
            events: rx,
            terminal,
            copied: Vec::new(),
            completions: 0,
        }
    }

    /// The same dashboard with `faults` injected in front of every backend call.
    pub fn with_faults(mut self, faults: Arc<Faults>) -> Self {
        self.worker = self.worker.with_faults(faults);
        self
    }

    /// Applies an action and starts the work it asks for.
    pub fn act(&mut self, action: Action) {
        let commands = self.app.update(action);
        for command in commands {
            match command {
                Command::Fetch { id, slot, request } => self.worker.submit(id, slot, request),
                Command::Copy(text) => self.copied.push(text),
            }
        }
    }

    /// A tick at `now`.
    pub fn tick(&mut self, now: DateTime<Utc>) {
        self.act(Action::Tick(now));
    }

    /// Presses a key (through the key map, in the current input mode).
    pub fn press(&mut self, code: KeyCode) {
        self.press_with(code, KeyModifiers::NONE);
    }

    /// Presses a key with modifiers.
    pub fn press_with(&mut self, code: KeyCode, modifiers: KeyModifiers) {
        let key = KeyEvent::new(code, modifiers);
        let keymap = self.app.config.keymap.clone();
        if let Some(action) = map_key(&keymap, self.app.mode, &key) {
            self.act(action);
        }
    }

    /// Resizes the terminal (what a real one reports as a resize event).
    pub fn resize(&mut self, width: u16, height: u16) {
        self.terminal.backend_mut().resize(width, height);
        self.act(Action::Resize(width, height));
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
            if let Event::Completed(c) = event {
                self.act(Action::Completed(c));
                n += 1;
            }
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
            if self.app.pending() == 0 {
                return true;
            }
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(Event::Completed(c))) => {
                    self.completions += 1;
                    self.act(Action::Completed(c));
                }
                Ok(Some(_)) => {}
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
            if done(&self.app) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Draws a frame and returns the screen.
    pub fn render(&mut self) -> &TestBackend {
        let app = &self.app;
        // TestBackend cannot fail to draw.
        let _ = self.terminal.draw(|f| components::draw(f, app));
        self.terminal.backend()
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
