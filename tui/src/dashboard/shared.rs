//! What every panel sees: the environment (backend facts, settings, time, terminal size), the
//! models several panels show (the executions list and its selection, the time window, the
//! images, the endpoint), feed health for "loading"/"unavailable", the toasts, and an outbox
//! through which a panel asks for work (a mutation, a copy, a feed refreshed now).
//!
//! Panels own their own state; this is only what is shared between them. Nothing here does
//! I/O: the outbox is emptied by [`crate::dashboard::app::App`], which turns it into
//! commands.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use ratatui::layout::Rect;
use ratatui_image::picker::Picker;

use scones_workflow::ExecutionStatus;
use scones_workflow::drift::Verdict;
use scones_workflow::guard::GuardState;
use scones_workflow::port::{
    BackendError, BackendInfo, BackendKind, EndpointInfo, ExecutionId, Request, TimeRange,
};

use crate::dashboard::action::{Action, View};
use crate::dashboard::components::image::Images;
use crate::dashboard::components::toasts::{ToastLevel, Toasts};
use crate::dashboard::config::Config;
use crate::dashboard::keymap::{InputMode, KeyAction};
use crate::dashboard::list::ExecutionList;
use crate::dashboard::theme::Theme;

/// How long a mutating key on AWS waits for its confirming second press.
pub const CONFIRM_WINDOW: chrono::Duration = chrono::Duration::seconds(3);

/// The windows `+`/`-` step through (metrics, capture, low confidence, quality).
pub const WINDOWS: [Duration; 6] = [
    Duration::from_secs(5 * 60),
    Duration::from_secs(15 * 60),
    Duration::from_secs(60 * 60),
    Duration::from_secs(3 * 60 * 60),
    Duration::from_secs(12 * 60 * 60),
    Duration::from_secs(24 * 60 * 60),
];

/// Periods per window: enough resolution for a full-width sparkline at 80 columns.
pub const PERIODS: u32 = 60;

/// The time window the window-scoped panels show, widened and narrowed with `+`/`-`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window(usize);

impl Default for Window {
    fn default() -> Self {
        Window(1)
    }
}

impl Window {
    /// Its length.
    pub fn length(self) -> Duration {
        WINDOWS.get(self.0).copied().unwrap_or(WINDOWS[1])
    }

    /// Its period for [`PERIODS`] values.
    pub fn period(self) -> Duration {
        self.length() / PERIODS
    }

    /// The window one step wider (`+1`) or narrower (`-1`); itself at the ends.
    pub fn step(self, step: i64) -> Window {
        Window((self.0 as i64 + step).clamp(0, WINDOWS.len() as i64 - 1) as usize)
    }
}

/// A feed's health, as panels show it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Health {
    /// Last successful answer.
    pub last_ok: Option<DateTime<Utc>>,
    /// The last answer was an error.
    pub failing: bool,
    /// What the last error said (`None` after a success).
    pub last_error: Option<String>,
    /// Consecutive throttled answers (the back-off grows with them).
    pub throttled: u32,
}

/// A mutating key pressed once on AWS, waiting for its confirming second press.
#[derive(Debug, Clone, PartialEq)]
pub struct Armed {
    /// What it will do.
    pub action: Action,
    /// On what (an execution id, a version...).
    pub target: Option<String>,
    /// Until when a second press confirms it.
    pub until: DateTime<Utc>,
}

/// Work a panel asks for while it handles an action or an answer.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Calls that change the deployment, answered to the panel that asked.
    pub mutations: Vec<Request>,
    /// Text for the clipboard.
    pub copies: Vec<String>,
    /// Feeds to refresh at once, by name.
    pub refresh: Vec<&'static str>,
    /// The time window changed: every window-scoped feed is due.
    pub window_changed: bool,
    /// Switch to this tab, then hand it this action (the low-confidence tab opens an
    /// execution's detail in the executions tab this way).
    pub go: Option<(View, Option<Action>)>,
}

/// The state shared by the panels.
pub struct Shared {
    /// Backend facts.
    pub info: BackendInfo,
    /// Settings.
    pub config: Config,
    /// Styles.
    pub theme: Theme,
    /// Mutating keys off.
    pub readonly: bool,
    /// Display time zone.
    pub tz: FixedOffset,
    /// How images are drawn (`None`: off).
    pub picker: Option<Picker>,
    /// The time of the last tick.
    pub now: DateTime<Utc>,
    /// Terminal size.
    pub size: Rect,
    /// Ticks processed (the spinner).
    pub ticks: u64,
    /// Which keys mean what.
    pub mode: InputMode,
    /// The executions list, its filter, sort and selection (the Logs tab shows the selected
    /// execution's logs, the Executions tab its detail).
    pub executions: ExecutionList,
    /// The time window of the window-scoped panels.
    pub window: Window,
    /// Decoded images by key.
    pub images: Images,
    /// Keys of the images the screen wants, the one on screen first, then the next ones to
    /// fetch ahead (set from the active panel after every action).
    pub images_wanted: Vec<String>,
    /// Notifications.
    pub toasts: Toasts,
    /// Endpoint status for the header.
    pub endpoint: Option<EndpointInfo>,
    /// The served model's drift verdict when it is WARN or ALERT (the header shows it from
    /// every tab).
    pub drift_alarm: Option<Verdict>,
    /// The guard (the header shows a hold from every tab); `None` until known, or where the
    /// backend has none.
    pub guard: Option<GuardState>,
    /// Calls in flight (the spinner).
    pub pending: usize,
    /// Feed health by feed name.
    pub health: HashMap<&'static str, Health>,
    /// A mutating key pressed once on AWS.
    pub armed: Option<Armed>,
    /// What panels asked for, emptied after each action.
    pub outbox: Outbox,
}

impl Shared {
    /// Shared state for a dashboard over `info` at `now` in a terminal of `size`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        info: BackendInfo,
        config: Config,
        theme: Theme,
        readonly: bool,
        tz: FixedOffset,
        picker: Option<Picker>,
        now: DateTime<Utc>,
        size: Rect,
    ) -> Shared {
        Shared {
            info,
            config,
            theme,
            readonly,
            tz,
            picker,
            now,
            size,
            ticks: 0,
            mode: InputMode::Normal,
            executions: ExecutionList::default(),
            window: Window::default(),
            images: Images::default(),
            images_wanted: Vec::new(),
            toasts: Toasts::default(),
            endpoint: None,
            drift_alarm: None,
            guard: None,
            pending: 0,
            health: HashMap::new(),
            armed: None,
            outbox: Outbox::default(),
        }
    }

    /// True on AWS (mutations cost money and cannot be taken back: they are confirmed).
    pub fn is_aws(&self) -> bool {
        matches!(self.info.kind, BackendKind::Aws { .. })
    }

    /// The window ending now.
    pub fn range(&self) -> TimeRange {
        TimeRange::ending_at(self.now, self.window.length())
    }

    /// Changes the time window; every window-scoped feed is asked again.
    pub fn step_window(&mut self, step: i64) {
        let next = self.window.step(step);
        if next != self.window {
            self.window = next;
            self.outbox.window_changed = true;
        }
    }

    /// The selected execution's identity and status: when it changes, the selection-scoped
    /// feeds (its history, its logs) are asked again.
    pub fn selection(&self) -> Option<(ExecutionId, ExecutionStatus)> {
        self.executions.selected().map(|e| (e.id.clone(), e.status))
    }

    /// How long ago the executions list was last refreshed.
    pub fn refresh_age(&self) -> Option<Duration> {
        let last = self
            .health
            .get(crate::dashboard::shell::EXECUTIONS)?
            .last_ok?;
        Some((self.now - last).to_std().unwrap_or_default())
    }

    /// The executions list is not being refreshed: the last call failed, or the last
    /// success is older than three refresh intervals (at least 5 s).
    pub fn is_stale(&self) -> bool {
        let Some(health) = self.health.get(crate::dashboard::shell::EXECUTIONS) else {
            return false;
        };
        let limit = (self.config.refresh * 3).max(Duration::from_secs(5));
        health.failing || self.refresh_age().is_some_and(|age| age > limit)
    }

    /// A health record of a feed.
    pub fn health(&self, feed: &str) -> Option<&Health> {
        self.health.get(feed)
    }

    /// Whether a feed has answered once: until then an empty panel is loading, not empty.
    pub fn loaded(&self, feed: &str) -> bool {
        self.health.get(feed).is_some_and(|h| h.last_ok.is_some())
    }

    /// Why a feed's panel has nothing to show: the feed never answered and its last call
    /// failed. The panel says this (and the likely fix) instead of "loading…", until a
    /// refresh succeeds.
    pub fn unavailable(&self, feed: &str) -> Option<&str> {
        let h = self.health.get(feed)?;
        (h.failing && h.last_ok.is_none())
            .then_some(h.last_error.as_deref())
            .flatten()
    }

    /// Asks for a call that changes the deployment.
    pub fn mutate(&mut self, request: Request) {
        self.outbox.mutations.push(request);
    }

    /// Puts `text` on the clipboard, saying so.
    pub fn copy(&mut self, text: String) {
        self.toast_info(format!(
            "copied {} bytes of JSON to the clipboard (OSC 52)",
            text.len()
        ));
        self.outbox.copies.push(text);
    }

    /// Puts `text` on the clipboard without the toast (the caller says something better).
    pub fn copy_quietly(&mut self, text: String) {
        self.outbox.copies.push(text);
    }

    /// Asks for the feed `name` at once.
    pub fn refresh(&mut self, name: &'static str) {
        self.outbox.refresh.push(name);
    }

    /// An information toast.
    pub fn toast_info(&mut self, text: impl Into<String>) {
        self.toasts.push(text, ToastLevel::Info, self.now);
    }

    /// An error toast.
    pub fn toast_error(&mut self, text: impl Into<String>) {
        self.toasts.push(text, ToastLevel::Error, self.now);
    }

    /// A backend error as a toast ("backing off" when it was throttled).
    pub fn toast_backend_error(&mut self, error: &BackendError) {
        match error {
            BackendError::Throttled { operation, .. } => {
                self.toast_error(format!("{operation} throttled: backing off"));
            }
            BackendError::Failed { operation, message } => {
                self.toasts
                    .push_failure(&operation.to_string(), message, self.now);
            }
            other => self.toast_error(other.to_string()),
        }
    }

    /// Whether a mutating key may act now. Locally, always. On AWS (where a stop or a burst
    /// cannot be taken back and costs money) the first press arms it and says so; a second
    /// press of the same key on the same target within [`CONFIRM_WINDOW`] acts.
    pub fn confirmed(
        &mut self,
        action: &Action,
        target: Option<&str>,
        key: KeyAction,
        what: &str,
    ) -> bool {
        if !self.is_aws() {
            return true;
        }
        let armed = Armed {
            action: action.clone(),
            target: target.map(str::to_owned),
            until: self.now + CONFIRM_WINDOW,
        };
        match self.armed.take() {
            Some(a)
                if a.action == armed.action && a.target == armed.target && self.now <= a.until =>
            {
                true
            }
            _ => {
                let hint = self.config.keymap.hint(key);
                self.toast_info(format!(
                    "press {hint} again within {} s to {what} on AWS",
                    CONFIRM_WINDOW.num_seconds()
                ));
                self.armed = Some(armed);
                false
            }
        }
    }
}
