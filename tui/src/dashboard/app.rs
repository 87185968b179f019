//! The dashboard's state and its one entry point, [`App::update`].
//!
//! `update` takes an [`Action`], changes the state, decides which backend calls are due
//! (the refresh schedule, with backoff and jitter after throttling) and returns them as
//! [`Command`]s. It never blocks and never does I/O, which is what lets tests drive the
//! real dashboard with a fixed clock and lets the UI stay responsive whatever the backend
//! does.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ratatui::layout::Rect;
use ratatui_image::picker::Picker;

use scones_workflow::ExecutionStatus;
use scones_workflow::history::{self, HistoryEvent};
use scones_workflow::port::{
    BackendError, BackendInfo, Cursor, EndpointInfo, ExecutionId, RecordLink, Request, Response,
    TimeRange,
};

use crate::dashboard::action::{Action, Command, View};
use crate::dashboard::components::capture::CaptureState;
use crate::dashboard::components::detail::{self, DetailState};
use crate::dashboard::components::drift::DriftState;
use crate::dashboard::components::executions::{self, ExecutionsState};
use crate::dashboard::components::image::{ImageMode, Images};
use crate::dashboard::components::logs::LogsState;
use crate::dashboard::components::low_confidence::{self, LowConfidenceState};
use crate::dashboard::components::metrics::MetricsState;
use crate::dashboard::components::quality;
use crate::dashboard::components::toasts::{ToastLevel, Toasts};
use crate::dashboard::components::{self, Areas};
use crate::dashboard::config::Config;
use crate::dashboard::feeds::{FEEDS, feed};
use crate::dashboard::keymap::{InputMode, KeyAction};
use crate::dashboard::theme::Theme;
use crate::dashboard::worker::{Completion, RequestId, Slot};

/// Executions asked for per listing call.
pub const PAGE_SIZE: usize = 5000;
/// Capture points asked for per call.
pub const CAPTURE_LIMIT: usize = 2000;
/// Low-confidence failures listed per call (the counts cover the whole window).
pub const LOW_CONFIDENCE_LIMIT: usize = 1000;
/// Finished histories kept in memory.
pub const HISTORY_CACHE: usize = 256;
/// Longest pause between retries of a throttled feed.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How the app was started.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// Settings.
    pub config: Config,
    /// Mutating keys off.
    pub readonly: bool,
    /// `NO_COLOR` in effect.
    pub no_color: bool,
    /// Time zone for displayed times.
    pub tz: FixedOffset,
    /// Seed of the jitter RNG (fixed in tests).
    pub seed: u64,
    /// How images are encoded for this terminal (`None`: images off).
    pub picker: Option<Picker>,
}

impl AppOptions {
    /// Options with `config`, colours per `NO_COLOR`, the local time zone and a random seed.
    pub fn new(config: Config, readonly: bool) -> Self {
        let config_images = config.images;
        let no_color = Theme::no_color_from_env();
        AppOptions {
            config,
            readonly,
            no_color,
            tz: *chrono::Local::now().offset(),
            seed: rand::rng().random(),
            picker: ImageMode::picker(config_images, no_color),
        }
    }
}

/// Refresh bookkeeping of one data feed.
#[derive(Debug, Clone, Default)]
pub struct Feed {
    /// When to ask next (`None`: now).
    pub next_due: Option<DateTime<Utc>>,
    /// Consecutive throttled answers.
    pub throttled: u32,
    /// Last successful answer.
    pub last_ok: Option<DateTime<Utc>>,
    /// The last answer was an error.
    pub failing: bool,
    /// What the last error said (`None` after a success).
    pub last_error: Option<String>,
}

/// How long after an execution stopped its log lines may still arrive: CloudWatch Logs
/// makes events searchable within seconds, occasionally a minute; two minutes covers it. A
/// finished execution's logs are fetched again until a fetch is this much younger than its
/// stop.
pub const LOG_INGESTION_WINDOW: chrono::Duration = chrono::Duration::minutes(2);

/// How long a mutating key on AWS waits for its confirming second press.
pub const CONFIRM_WINDOW: chrono::Duration = chrono::Duration::seconds(3);

/// A mutating key pressed once on AWS ([`App::armed`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Armed {
    /// What it will do.
    pub action: Action,
    /// On which execution.
    pub target: Option<ExecutionId>,
    /// Until when a second press confirms it.
    pub until: DateTime<Utc>,
}

/// The whole dashboard state.
pub struct App {
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
    /// The time of the last tick.
    pub now: DateTime<Utc>,
    /// Terminal size.
    pub size: Rect,
    /// Active tab.
    pub view: View,
    /// Which keys mean what.
    pub mode: InputMode,
    /// The filter being typed.
    pub filter_edit: String,
    filter_before: String,
    /// The detail view is open (Executions tab).
    pub detail_open: bool,
    /// Set by [`Action::Quit`].
    pub should_quit: bool,
    /// Ticks processed.
    pub ticks: u64,
    /// Something visible changed since the last draw.
    pub dirty: bool,
    /// Executions list.
    pub executions: ExecutionsState,
    /// History of the selected execution.
    pub detail: Option<DetailState>,
    /// Metrics panel.
    pub metrics: MetricsState,
    /// Low-confidence panel.
    pub low_confidence: LowConfidenceState,
    /// Capture panel.
    pub capture: CaptureState,
    /// Logs panel.
    pub logs: LogsState,
    /// Drift view (and the header's marker).
    pub drift: DriftState,
    /// Notifications.
    pub toasts: Toasts,
    /// A mutating key pressed once on AWS, waiting for its confirming second press.
    pub armed: Option<Armed>,
    /// Endpoint status for the header.
    pub endpoint: Option<EndpointInfo>,
    /// Decoded images by key.
    pub images: Images,
    /// How images are drawn (`None`: off).
    pub picker: Option<Picker>,
    /// The key of the image being fetched.
    image_pending: Option<String>,
    cursor: Option<Cursor>,
    feeds: HashMap<Slot, Feed>,
    pending: HashMap<Slot, RequestId>,
    /// What each pending history/logs request is for.
    pending_for: HashMap<Slot, ExecutionId>,
    mutations: HashMap<RequestId, Request>,
    next_id: RequestId,
    history_cache: HashMap<ExecutionId, Arc<Vec<HistoryEvent>>>,
    history_order: VecDeque<ExecutionId>,
    rng: StdRng,
}

impl App {
    /// A fresh dashboard at time `now` in a terminal of `size`.
    pub fn new(info: BackendInfo, options: AppOptions, now: DateTime<Utc>, size: Rect) -> App {
        let theme = Theme::new(options.config.theme, options.no_color);
        App {
            info,
            theme,
            readonly: options.readonly,
            tz: options.tz,
            config: options.config,
            now,
            size,
            view: View::Executions,
            mode: InputMode::Normal,
            filter_edit: String::new(),
            filter_before: String::new(),
            detail_open: false,
            should_quit: false,
            ticks: 0,
            dirty: true,
            executions: ExecutionsState::default(),
            detail: None,
            metrics: MetricsState::default(),
            low_confidence: LowConfidenceState::default(),
            capture: CaptureState::default(),
            logs: LogsState::default(),
            drift: DriftState::default(),
            toasts: Toasts::default(),
            armed: None,
            endpoint: None,
            images: Images::default(),
            picker: options.picker,
            image_pending: None,
            cursor: None,
            feeds: HashMap::new(),
            pending: HashMap::new(),
            pending_for: HashMap::new(),
            mutations: HashMap::new(),
            next_id: 1,
            history_cache: HashMap::new(),
            history_order: VecDeque::new(),
            rng: StdRng::seed_from_u64(options.seed),
        }
    }

    /// Applies one action and returns the work it makes due.
    pub fn update(&mut self, action: Action) -> Vec<Command> {
        let mut out = Vec::new();
        self.apply(action, &mut out);
        self.schedule(&mut out);
        out
    }

    /// Calls in flight (for the spinner).
    pub fn pending(&self) -> usize {
        self.pending.len() + self.mutations.len()
    }

    /// True if a request is in flight for `slot`.
    pub fn is_pending(&self, slot: Slot) -> bool {
        self.pending.contains_key(&slot)
    }

    /// Age of the executions list.
    pub fn refresh_age(&self) -> Option<Duration> {
        let last = self.feeds.get(&Slot::Executions)?.last_ok?;
        Some((self.now - last).to_std().unwrap_or_default())
    }

    /// The executions list is not being refreshed: the last call failed, or the last
    /// success is older than three refresh intervals (at least 5 s).
    pub fn is_stale(&self) -> bool {
        let Some(feed) = self.feeds.get(&Slot::Executions) else {
            return false;
        };
        let limit = (self.config.refresh * 3).max(Duration::from_secs(5));
        feed.failing || self.refresh_age().is_some_and(|age| age > limit)
    }

    /// Why a panel has nothing to show: its feed has never answered and its last call
    /// failed. The panel says this (and the likely fix) instead of "no executions" or
    /// "loading…", until a refresh succeeds.
    pub fn unavailable(&self, slot: Slot) -> Option<&str> {
        let feed = self.feeds.get(&slot)?;
        (feed.failing && feed.last_ok.is_none())
            .then_some(feed.last_error.as_deref())
            .flatten()
    }

    /// The feed state of a slot.
    pub fn feed(&self, slot: Slot) -> Option<&Feed> {
        self.feeds.get(&slot)
    }

    /// The current layout.
    pub fn areas(&self) -> Areas {
        components::areas(self.size, self)
    }

    /// Rows of the executions list as it is drawn in the Executions view, also while
    /// another view or the detail hides it (so its scroll position stays right).
    fn list_height(&self) -> usize {
        executions::body_height(components::list_area(self.size)).max(1)
    }

    fn apply(&mut self, action: Action, out: &mut Vec<Command>) {
        if !matches!(action, Action::Tick(_)) {
            self.dirty = true;
        }
        if action.is_mutating() && components::is_too_small(self.size) {
            // The screen shows only the size notice: nothing the key did could be seen.
            return;
        }
        if action.is_mutating() && self.readonly {
            let keys = self.config.keymap.hints(&KeyAction::MUTATING);
            self.toast_info(format!("read-only (--readonly): {keys} are turned off"));
            return;
        }
        match action {
            Action::Tick(now) => self.on_tick(now),
            Action::Resize(w, h) => {
                self.size = Rect::new(0, 0, w, h);
                let h = self.list_height();
                self.executions.keep_visible(h);
            }
            Action::Quit => self.should_quit = true,
            Action::ToggleHelp => {
                self.mode = if self.mode == InputMode::Help {
                    InputMode::Normal
                } else {
                    InputMode::Help
                };
            }
            Action::Move(d) => self.move_by(i64::from(d)),
            Action::First => self.move_by(i64::MIN / 2),
            Action::Last => self.move_by(i64::MAX / 2),
            Action::PageUp => self.move_by(-(self.list_height() as i64)),
            Action::PageDown => self.move_by(self.list_height() as i64),
            Action::Open => self.open(),
            Action::Back => self.back(),
            Action::NextView => self.go(View::ALL[(self.view.index() + 1) % View::ALL.len()]),
            Action::PrevView => {
                self.go(View::ALL[(self.view.index() + View::ALL.len() - 1) % View::ALL.len()])
            }
            Action::GoView(v) => self.go(v),
            Action::NextFocus => {
                if let Some(d) = self.detail.as_mut().filter(|_| self.detail_open) {
                    d.next_focus();
                }
            }
            Action::NextTab | Action::PrevTab => {
                let step = if action == Action::NextTab { 1 } else { -1 };
                if let Some(d) = self.detail.as_mut() {
                    d.cycle_tab(step);
                }
            }
            Action::FilterStart => {
                if self.view == View::Executions && !self.detail_open {
                    self.filter_before = self.executions.filter.clone();
                    self.filter_edit = self.executions.filter.clone();
                    self.mode = InputMode::Filter;
                }
            }
            Action::FilterInput(c) => {
                self.filter_edit.push(c);
                self.apply_filter_edit();
            }
            Action::FilterBackspace => {
                self.filter_edit.pop();
                self.apply_filter_edit();
            }
            Action::FilterAccept => self.mode = InputMode::Normal,
            Action::FilterCancel => {
                self.mode = InputMode::Normal;
                self.filter_edit = self.filter_before.clone();
                self.apply_filter_edit();
            }
            Action::CycleSort => {
                self.executions.cycle_sort(self.now);
                let h = self.list_height();
                self.executions.keep_visible(h);
                self.selection_changed();
            }
            Action::StartTest => self.mutate(Request::StartRandom { count: 1 }, out),
            Action::StartBurst => {
                let count = self.config.burst;
                let what = format!("start {count} executions");
                if self.confirmed(&action, None, KeyAction::Burst, what) {
                    self.mutate(Request::StartRandom { count }, out);
                }
            }
            Action::Stop => match self.executions.selected() {
                Some(e) if e.status == ExecutionStatus::Running => {
                    let id = e.id.clone();
                    let what = format!("stop {}", e.name);
                    if self.confirmed(&action, Some(&id), KeyAction::Stop, what) {
                        self.mutate(Request::Stop { id }, out);
                    }
                }
                Some(e) => self.toast_info(format!(
                    "{} is {}: only running executions can be stopped",
                    e.name, e.status
                )),
                None => self.toast_info("no execution selected"),
            },
            Action::Redrive => {
                if !self.info.supports_redrive {
                    let test = self.config.keymap.hint(KeyAction::Test);
                    self.toast_info(format!(
                        "redrive is an AWS feature (RedriveExecution); locally, press {test} to run a new execution"
                    ));
                } else {
                    match self.executions.selected() {
                        Some(e) if e.status.is_redrivable() => {
                            let id = e.id.clone();
                            let what = format!("redrive {}", e.name);
                            if self.confirmed(&action, Some(&id), KeyAction::Redrive, what) {
                                self.mutate(Request::Redrive { id }, out);
                            }
                        }
                        Some(e) => self.toast_info(format!("{} is {}: only failed, timed-out or aborted executions can be redriven", e.name, e.status)),
                        None => self.toast_info("no execution selected"),
                    }
                }
            }
            Action::Copy => self.copy(out),
            Action::OpenRecord => match self.executions.selected() {
                Some(e) => {
                    let id = e.id.clone();
                    self.mutate(Request::RecordLink { id }, out);
                }
                None => self.toast_info("no execution selected"),
            },
            Action::WindowWider | Action::WindowNarrower => {
                let step = if action == Action::WindowWider { 1 } else { -1 };
                if self.metrics.step(step) {
                    for slot in [Slot::Metrics, Slot::Capture, Slot::LowConfidence] {
                        self.feeds.entry(slot).or_default().next_due = None;
                    }
                    self.metrics.data = None;
                }
            }
            Action::Click(x, y) => self.click(x, y),
            Action::Scroll(x, y, d) => self.scroll(x, y, d),
            Action::Completed(c) => self.complete(c, out),
        }
    }

    fn on_tick(&mut self, now: DateTime<Utc>) {
        let second_changed = now.timestamp() != self.now.timestamp();
        self.now = now;
        self.ticks += 1;
        if self.toasts.expire(now) || second_changed || !self.pending.is_empty() {
            self.dirty = true;
        }
    }

    fn go(&mut self, view: View) {
        self.view = view;
        self.mode = InputMode::Normal;
    }

    fn apply_filter_edit(&mut self) {
        self.executions
            .set_filter(self.filter_edit.clone(), self.now);
        self.executions.offset = 0;
        let h = self.list_height();
        self.executions.keep_visible(h);
        self.selection_changed();
    }

    fn move_by(&mut self, delta: i64) {
        match self.view {
            View::Executions if self.detail_open => {
                if let Some(d) = self.detail.as_mut() {
                    d.move_by(delta);
                }
            }
            View::Executions => {
                let before = self.executions.selected_id();
                let h = self.list_height();
                self.executions.move_by(delta, h);
                if self.executions.selected_id() != before {
                    self.selection_changed();
                }
            }
            View::LowConfidence => {
                let h = self.areas().body.height.saturating_sub(4) as usize;
                self.low_confidence.move_by(delta, h);
            }
            View::Logs => self.logs.move_by(delta),
            View::Drift => self.drift.move_by(delta),
            View::Metrics | View::Capture | View::Quality => {}
        }
    }

    /// The selected execution changed: show its cached history at once, or ask for it.
    fn selection_changed(&mut self) {
        let Some(id) = self.executions.selected_id() else {
            self.detail = None;
            return;
        };
        if self.detail.as_ref().is_some_and(|d| d.id == id) {
            return;
        }
        self.detail = self
            .history_cache
            .get(&id)
            .map(|events| DetailState::new(id.clone(), Arc::clone(events)));
        // A different execution's history or logs in flight is stale now.
        for slot in [Slot::History, Slot::Logs] {
            self.feeds.entry(slot).or_default().next_due = None;
        }
    }

    fn open(&mut self) {
        match self.view {
            View::Executions if !self.detail_open && self.executions.selected().is_some() => {
                self.detail_open = true;
                self.selection_changed();
            }
            View::LowConfidence => {
                let target = self
                    .low_confidence
                    .selected()
                    .and_then(|f| f.execution.clone());
                match target {
                    Some(id) => {
                        if !self.executions.select_id(&id) {
                            self.executions.set_filter(String::new(), self.now);
                            self.executions.select_id(&id);
                        }
                        let h = self.list_height();
                        self.executions.keep_visible(h);
                        self.view = View::Executions;
                        self.detail_open = true;
                        self.selection_changed();
                    }
                    None => self.toast_info("this failure is not linked to an execution"),
                }
            }
            _ => {}
        }
    }

    fn back(&mut self) {
        if self.mode == InputMode::Help {
            self.mode = InputMode::Normal;
        } else if self.view == View::Executions && self.detail_open {
            self.detail_open = false;
        } else if self.view == View::Executions && !self.executions.filter.is_empty() {
            self.filter_edit.clear();
            self.apply_filter_edit();
        } else if self.view != View::Executions {
            self.view = View::Executions;
        }
    }

    fn copy(&mut self, out: &mut Vec<Command>) {
        let text = match self.view {
            View::Executions if self.detail_open => {
                self.detail.as_ref().and_then(DetailState::payload_json)
            }
            View::Executions => self
                .executions
                .selected()
                .and_then(|e| serde_json::to_string_pretty(e).ok()),
            View::LowConfidence => self
                .low_confidence
                .selected()
                .and_then(|f| serde_json::to_string_pretty(f).ok()),
            View::Logs => serde_json::to_string_pretty(&self.logs.lines).ok(),
            // The whole report: what `scones drift --json` would print for these windows.
            View::Drift => self
                .drift
                .view
                .as_ref()
                .and_then(|v| serde_json::to_string_pretty(v.as_ref()).ok()),
            View::Capture => serde_json::to_string_pretty(&self.capture.points).ok(),
            View::Metrics => None,
            View::Quality => {
                let range = TimeRange::ending_at(self.now, self.metrics.window());
                let s = quality::Summary::of(self.executions.rows(), &range);
                let at = scones_workflow::quality::Decisions::at(&s.labelled, self.info.threshold);
                serde_json::to_string_pretty(&serde_json::json!({
                    "window_seconds": self.metrics.window().as_secs(),
                    "finished": s.finished,
                    "classified": s.classified,
                    "labelled": s.labelled.len(),
                    "unlabelled": s.unlabelled(),
                    "at_threshold": at,
                    "accepted_accuracy_95": at.accepted_accuracy_interval(),
                }))
                .ok()
            }
        };
        match text {
            Some(text) => {
                self.toast_info(format!(
                    "copied {} bytes of JSON to the clipboard (OSC 52)",
                    text.len()
                ));
                out.push(Command::Copy(text));
            }
            None => self.toast_info("nothing to copy here"),
        }
    }

    fn click(&mut self, x: u16, y: u16) {
        let a = self.areas();
        let inside = |r: Rect| x >= r.x && x < r.right() && y >= r.y && y < r.bottom();
        if inside(a.tabs) {
            if let Some((_, _, view)) = components::tab_ranges(a.tabs)
                .into_iter()
                .find(|(s, e, _)| x >= *s && x < *e)
            {
                self.go(view);
                self.detail_open = false;
            }
            return;
        }
        if self.view == View::Executions && !self.detail_open && inside(a.list) {
            // Borders and the header row take the first two lines.
            let first_row = a.list.y + 2;
            if y < first_row || y + 1 >= a.list.bottom() {
                return;
            }
            let h = executions::body_height(a.list);
            let offset = executions::visible_offset(
                self.executions.offset,
                self.executions.selected,
                h,
                self.executions.view_len(),
            );
            let position = offset + usize::from(y - first_row);
            if position >= self.executions.view_len() {
                return;
            }
            if position == self.executions.selected {
                self.open();
            } else {
                self.executions.offset = offset;
                self.executions.selected = position;
                self.selection_changed();
            }
        }
    }

    fn scroll(&mut self, _x: u16, _y: u16, delta: i32) {
        self.move_by(i64::from(delta) * 3);
    }

    fn mutate(&mut self, request: Request, out: &mut Vec<Command>) {
        let id = self.fresh_id();
        self.mutations.insert(id, request.clone());
        out.push(Command::Fetch {
            id,
            slot: Slot::Mutation,
            request,
        });
    }

    fn fresh_id(&mut self) -> RequestId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Whether a mutating key may act now. Locally, always. On AWS (where a stop or a burst
    /// cannot be taken back and costs money) the first press arms it and says so; a second
    /// press of the same key on the same execution within [`CONFIRM_WINDOW`] acts.
    fn confirmed(
        &mut self,
        action: &Action,
        target: Option<&ExecutionId>,
        key: KeyAction,
        what: String,
    ) -> bool {
        if !matches!(
            self.info.kind,
            scones_workflow::port::BackendKind::Aws { .. }
        ) {
            return true;
        }
        let armed = Armed {
            action: action.clone(),
            target: target.cloned(),
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

    fn toast_info(&mut self, text: impl Into<String>) {
        self.toasts.push(text, ToastLevel::Info, self.now);
    }

    fn toast_error(&mut self, text: impl Into<String>) {
        self.toasts.push(text, ToastLevel::Error, self.now);
    }

    // ---- the refresh schedule ------------------------------------------------------

    /// Where the executions listing left off.
    pub fn cursor(&self) -> Option<&Cursor> {
        self.cursor.as_ref()
    }

    /// True when the detail holds the selected execution's complete history (it will not
    /// change until a redrive).
    pub fn history_current(&self) -> bool {
        let Some(selected) = self.executions.selected() else {
            return false;
        };
        match &self.detail {
            Some(d) if d.id == selected.id => {
                selected.status.is_final() && self.history_cache.contains_key(&d.id)
            }
            _ => false,
        }
    }

    /// The key of the image on screen: the selected execution's while its detail shows, the
    /// selected failure's in the low-confidence tab.
    pub fn image_on_screen(&self) -> Option<&str> {
        match self.view {
            View::Executions if detail::image_rows(self.areas().detail, self) > 0 => {
                self.executions.selected()?.s3_key.as_deref()
            }
            View::LowConfidence if low_confidence::image_rows(self.areas().body, self) > 0 => {
                self.low_confidence.selected()?.s3_key.as_deref()
            }
            _ => None,
        }
    }

    /// True when the logs panel holds the selected execution's logs as they will stay: it
    /// finished, and they were fetched [`LOG_INGESTION_WINDOW`] or more after it stopped.
    /// Until then log lines may still arrive (CloudWatch Logs ingests with a lag), so the
    /// panel keeps refreshing.
    pub fn logs_current(&self) -> bool {
        self.executions.selected().is_some_and(|s| {
            self.logs.id.as_ref() == Some(&s.id)
                && match (s.stop, self.logs.fetched) {
                    (Some(stop), Some(fetched)) => fetched >= stop + LOG_INGESTION_WINDOW,
                    _ => false,
                }
        })
    }

    /// How often a slot refreshes while it is wanted.
    fn interval(&self, slot: Slot) -> Duration {
        feed(slot).map_or(self.config.refresh, |f| (f.interval)(self.config.refresh))
    }

    fn schedule(&mut self, out: &mut Vec<Command>) {
        for f in FEEDS {
            let slot = f.slot;
            if !(f.wanted)(self) {
                continue;
            }
            if self.pending.contains_key(&slot) && !self.request_outdated(slot) {
                continue;
            }
            let feed_state = self.feeds.entry(slot).or_default();
            if feed_state.next_due.is_some_and(|due| self.now < due) {
                continue;
            }
            if let Some(request) = (f.request)(self) {
                let id = self.fresh_id();
                self.pending.insert(slot, id);
                match &request {
                    Request::History { id: exec } => {
                        self.pending_for.insert(slot, exec.clone());
                    }
                    Request::Logs { execution } => {
                        self.pending_for.insert(slot, execution.id.clone());
                    }
                    Request::Image { s3_key } => self.image_pending = Some(s3_key.clone()),
                    _ => {}
                }
                out.push(Command::Fetch { id, slot, request });
                self.dirty = true;
            }
        }
    }

    /// A history/logs request in flight for an execution that is no longer selected is
    /// replaced (the worker aborts it) rather than waited for.
    fn request_outdated(&self, slot: Slot) -> bool {
        match slot {
            Slot::History | Slot::Logs => {
                self.pending_for.get(&slot) != self.executions.selected_id().as_ref()
            }
            Slot::Image => self.image_pending.as_deref() != self.image_on_screen(),
            _ => false,
        }
    }

    /// Next time a slot is due after an answer: the interval after success or an error;
    /// after throttling, exponential backoff with full jitter on top of the interval.
    fn reschedule(&mut self, slot: Slot, result: Result<(), &BackendError>) {
        let interval = self.interval(slot);
        let now = self.now;
        let jitter = {
            let feed = self.feeds.entry(slot).or_default();
            match result {
                Ok(()) => {
                    feed.throttled = 0;
                    feed.failing = false;
                    feed.last_error = None;
                    feed.last_ok = Some(now);
                    None
                }
                Err(e) => {
                    feed.failing = true;
                    feed.last_error = Some(e.to_string());
                    if e.is_throttling() {
                        feed.throttled = feed.throttled.saturating_add(1);
                        Some(feed.throttled)
                    } else {
                        None
                    }
                }
            }
        };
        let delay = match jitter {
            Some(n) => {
                let cap = interval
                    .saturating_mul(1u32 << n.min(16))
                    .min(MAX_BACKOFF)
                    .as_millis() as u64;
                interval + Duration::from_millis(self.rng.random_range(0..=cap))
            }
            None => interval,
        };
        let due = now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::zero());
        self.feeds.entry(slot).or_default().next_due = Some(due);
    }

    // ---- answers ------------------------------------------------------------------

    fn complete(&mut self, c: Completion, out: &mut Vec<Command>) {
        if c.slot == Slot::Mutation {
            let Some(request) = self.mutations.remove(&c.id) else {
                return;
            };
            self.complete_mutation(request, c.result, out);
            return;
        }
        if self.pending.get(&c.slot) != Some(&c.id) {
            // Superseded by a newer request of the same slot: ignore.
            return;
        }
        self.pending.remove(&c.slot);
        self.pending_for.remove(&c.slot);
        let image_key = if c.slot == Slot::Image {
            self.image_pending.take()
        } else {
            None
        };
        match c.result {
            Ok(response) => {
                let more = matches!(&response, Response::Executions(d) if d.more);
                self.reschedule(c.slot, Ok(()));
                if more {
                    self.feeds.entry(c.slot).or_default().next_due = None;
                }
                self.accept(response);
            }
            Err(e) => {
                self.reschedule(c.slot, Err(&e));
                if let Some(key) = image_key {
                    // Shown in the image's place, not as a toast, and asked again later.
                    self.images.insert_failure(key, e.to_string(), self.now);
                } else if c.slot == Slot::Drift {
                    // Refreshed in the background from every tab: a missing baseline is
                    // said in the drift view, not in a toast every refresh.
                    self.drift.fail(e.to_string());
                } else if e.is_throttling() {
                    self.toast_error(format!("{} throttled: backing off", c.operation));
                } else {
                    self.toast_error(e.to_string());
                }
            }
        }
    }

    fn complete_mutation(
        &mut self,
        request: Request,
        result: Result<Response, BackendError>,
        out: &mut Vec<Command>,
    ) {
        match (request, result) {
            (_, Err(e)) => self.toast_error(e.to_string()),
            (_, Ok(Response::Started(ids))) => {
                let text = match ids.as_slice() {
                    [one] => format!(
                        "started execution {}",
                        one.as_str().rsplit(':').next().unwrap_or(one.as_str())
                    ),
                    many => format!("started {} executions", many.len()),
                };
                self.toast_info(text);
                self.feeds.entry(Slot::Executions).or_default().next_due = None;
            }
            (_, Ok(Response::Stopped(id))) => {
                self.toast_info(format!("stopped {id}"));
                self.feeds.entry(Slot::Executions).or_default().next_due = None;
            }
            (_, Ok(Response::Redriven(id))) => {
                self.toast_info(format!("redriven {id}"));
                // It runs again: its cached history is no longer complete.
                self.history_cache.remove(&id);
                self.executions
                    .set_status(&id, ExecutionStatus::Running, self.now);
                self.feeds.entry(Slot::Executions).or_default().next_due = None;
                self.feeds.entry(Slot::History).or_default().next_due = None;
            }
            // A console URL is long (the execution's ARN is in it): it goes to the clipboard
            // whole, and the toast shows it wrapped.
            (_, Ok(Response::Link(RecordLink::Url(url)))) => {
                self.toast_info(format!("console link copied to the clipboard: {url}"));
                out.push(Command::Copy(url));
            }
            (_, Ok(Response::Link(link))) => self.toast_info(format!("record: {link}")),
            (_, Ok(_)) => {}
        }
    }

    fn accept(&mut self, response: Response) {
        match response {
            Response::Executions(delta) => {
                self.cursor = Some(delta.cursor);
                let before = self.executions.selected_id();
                let selected_was_running = self
                    .executions
                    .selected()
                    .is_some_and(|e| e.status == ExecutionStatus::Running);
                let removed = self.executions.remove(&delta.removed, self.now);
                for id in &delta.removed {
                    self.history_cache.remove(id);
                }
                if self.executions.merge(delta.changed, self.now) || removed {
                    let h = self.list_height();
                    self.executions.keep_visible(h);
                }
                let selected_now_final = self
                    .executions
                    .selected()
                    .is_some_and(|e| e.status.is_final());
                if self.executions.selected_id() != before {
                    self.selection_changed();
                } else if selected_was_running && selected_now_final {
                    // It just finished: its final history is worth one more fetch.
                    self.feeds.entry(Slot::History).or_default().next_due = None;
                    self.feeds.entry(Slot::Logs).or_default().next_due = None;
                }
            }
            Response::History(id, events) => {
                if history::is_complete(&events) {
                    self.cache_history(id.clone(), Arc::clone(&events));
                }
                // The history is newer than the last listing: a redrive shows as running
                // again (and an ending as ended) at once.
                if let Some(status) = history::status_of(&events) {
                    self.executions.set_status(&id, status, self.now);
                }
                if self.executions.selected_id().as_ref() == Some(&id) {
                    match self.detail.as_mut() {
                        Some(d) if d.id == id => d.refresh(events),
                        _ => self.detail = Some(DetailState::new(id, events)),
                    }
                }
            }
            Response::Endpoint(info) => self.endpoint = Some(info),
            Response::Metrics(m) => self.metrics.data = Some(m),
            Response::Capture(sample) => {
                self.capture.points = sample.points;
                self.capture.loaded = true;
            }
            Response::LowConfidence(report) => {
                let range = TimeRange::ending_at(self.now, self.metrics.window());
                let finished = report
                    .decisions
                    .unwrap_or_else(|| self.executions.finished_in(&range) as u64);
                self.low_confidence.set(report, finished);
            }
            Response::Logs(id, lines) => self.logs.set(id, lines, self.now),
            Response::Drift(view) => self.drift.set(view),
            Response::Image(key, bytes) => self.images.insert_png(key, &bytes, self.now),
            Response::Started(_)
            | Response::Stopped(_)
            | Response::Redriven(_)
            | Response::Link(_) => {}
        }
    }

    fn cache_history(&mut self, id: ExecutionId, events: Arc<Vec<HistoryEvent>>) {
        if self.history_cache.insert(id.clone(), events).is_none() {
            self.history_order.push_back(id);
            while self.history_order.len() > HISTORY_CACHE {
                if let Some(old) = self.history_order.pop_front() {
                    self.history_cache.remove(&old);
                }
            }
        }
    }

    /// Histories held in the cache.
    pub fn cached_histories(&self) -> usize {
        self.history_cache.len()
    }
}
