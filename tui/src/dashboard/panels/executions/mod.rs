//! Tab 1, the executions: the list (`/` filter, `S` sort), and with Enter one execution's
//! detail (its states, their Input/Output/Error, the events, the image). In a terminal of at
//! least 120x34 the list shares the screen with a preview of the selected execution and
//! compact metrics and capture charts (the overview).

pub mod detail;
pub mod list_view;
pub mod state_runs;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

use scones_workflow::history::{self, HistoryEvent};
use scones_workflow::port::{CaptureSample, EndpointMetrics, ExecutionId, Request, Response};

use crate::dashboard::action::{Action, View};
use crate::dashboard::components::{body_area, is_wide};
use crate::dashboard::keymap::{InputMode, KeyAction};
use crate::dashboard::panel::{Feed, FeedOwner, Handled, OnError, Panel, Scope, panel_interval};
use crate::dashboard::panels::{capture, metrics};
use crate::dashboard::shared::Shared;

use detail::DetailState;

/// This tab.
pub const VIEW: View = View("executions");

/// Finished histories kept in memory.
pub const HISTORY_CACHE: usize = 256;

/// The history feed's name.
pub const HISTORY: &str = "history";

/// The tab's state: the detail (open or as the overview's preview), the filter being typed,
/// the cached histories and the overview's charts.
#[derive(Default)]
pub struct ExecutionsPanel {
    /// The detail is open.
    pub detail_open: bool,
    /// The selected execution's history and how it is being looked at.
    pub detail: Option<DetailState>,
    filter_edit: String,
    filter_before: String,
    histories: HashMap<ExecutionId, Arc<Vec<HistoryEvent>>>,
    history_order: VecDeque<ExecutionId>,
    overview_metrics: Option<EndpointMetrics>,
    overview_capture: Option<CaptureSample>,
}

/// Where the parts of the tab go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Layout3 {
    /// The list (zero when the detail is open).
    pub list: Rect,
    /// The detail, full or as the preview (zero when not shown).
    pub detail: Rect,
    /// The overview's metrics chart (zero when not shown).
    pub metrics: Rect,
    /// The overview's capture chart.
    pub capture: Rect,
}

/// The tab's layout in the body `body` of a terminal of `size`.
pub fn layout(body: Rect, size: Rect, detail_open: bool) -> Layout3 {
    if detail_open {
        return Layout3 {
            detail: body,
            ..Layout3::default()
        };
    }
    if !is_wide(size) {
        return Layout3 {
            list: body,
            ..Layout3::default()
        };
    }
    let [top, bottom] = Layout::vertical([Constraint::Min(0), Constraint::Length(12)]).areas(body);
    let [list, detail] =
        Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(top);
    let [metrics, capture] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(bottom);
    Layout3 {
        list,
        detail,
        metrics,
        capture,
    }
}

/// Shows execution `id` in the Executions tab, opened (from a row of another tab that
/// names it). The list's filter is cleared when it hides it.
pub fn open_execution(shared: &mut Shared, id: &ExecutionId) {
    let now = shared.now;
    if !shared.executions.select_id(id) {
        shared.executions.set_filter(String::new(), now);
        shared.executions.select_id(id);
    }
    let h = list_height(shared.size);
    shared.executions.keep_visible(h);
    shared.outbox.go = Some((VIEW, Some(Action::Open)));
}

/// Rows of the list in a terminal of `size` (as the list is drawn with the detail closed,
/// also while another tab hides it, so its scroll position stays right).
pub fn list_height(size: Rect) -> usize {
    list_view::body_height(layout(body_area(size), size, false).list).max(1)
}

impl ExecutionsPanel {
    /// True when the detail holds the selected execution's complete history (it will not
    /// change until a redrive).
    pub fn history_current(&self, shared: &Shared) -> bool {
        let Some(selected) = shared.executions.selected() else {
            return false;
        };
        match &self.detail {
            Some(d) if d.id == selected.id => {
                selected.status.is_final() && self.histories.contains_key(&d.id)
            }
            _ => false,
        }
    }

    fn shows_detail(&self, shared: &Shared) -> bool {
        self.detail_open
            || layout(body_area(shared.size), shared.size, false)
                .detail
                .width
                > 0
    }

    fn cache_history(&mut self, id: ExecutionId, events: Arc<Vec<HistoryEvent>>) {
        if self.histories.insert(id.clone(), events).is_none() {
            self.history_order.push_back(id);
            while self.history_order.len() > HISTORY_CACHE {
                if let Some(old) = self.history_order.pop_front() {
                    self.histories.remove(&old);
                }
            }
        }
    }

    fn accept_history(
        &mut self,
        id: ExecutionId,
        events: Arc<Vec<HistoryEvent>>,
        shared: &mut Shared,
    ) {
        if history::is_complete(&events) {
            self.cache_history(id.clone(), Arc::clone(&events));
        } else {
            // It runs (again, after a redrive): an older complete history is stale.
            self.histories.remove(&id);
        }
        // The history is newer than the last listing: a redrive shows as running again
        // (and an ending as ended) at once.
        if let Some(status) = history::status_of(&events) {
            let now = shared.now;
            shared.executions.set_status(&id, status, now);
        }
        if shared.executions.selected_id().as_ref() == Some(&id) {
            match self.detail.as_mut() {
                Some(d) if d.id == id => d.refresh(events),
                _ => self.detail = Some(DetailState::new(id, events)),
            }
        }
    }

    fn apply_filter_edit(&mut self, shared: &mut Shared) {
        let now = shared.now;
        shared.executions.set_filter(self.filter_edit.clone(), now);
        shared.executions.offset = 0;
        shared.executions.keep_visible(list_height(shared.size));
    }

    fn move_list(&mut self, delta: i64, shared: &mut Shared) {
        shared.executions.move_by(delta, list_height(shared.size));
    }

    fn move_by(&mut self, delta: i64, shared: &mut Shared) {
        if self.detail_open {
            if let Some(d) = self.detail.as_mut() {
                d.move_by(delta);
            }
        } else {
            self.move_list(delta, shared);
        }
    }
}

impl Panel for ExecutionsPanel {
    fn view(&self) -> View {
        VIEW
    }

    fn title(&self) -> &'static str {
        "Executions"
    }

    fn short_title(&self) -> &'static str {
        "Execs"
    }

    fn handle(&mut self, action: &Action, shared: &mut Shared) -> Handled {
        let page = list_height(shared.size) as i64;
        match action {
            Action::Move(d) => self.move_by(i64::from(*d), shared),
            Action::First => self.move_by(i64::MIN / 2, shared),
            Action::Last => self.move_by(i64::MAX / 2, shared),
            Action::PageUp => self.move_by(-page, shared),
            Action::PageDown => self.move_by(page, shared),
            Action::Open if !self.detail_open && shared.executions.selected().is_some() => {
                self.detail_open = true;
                self.scope_changed(Scope::Selection, shared);
            }
            Action::Back if self.detail_open => self.detail_open = false,
            Action::Back if !shared.executions.filter.is_empty() => {
                self.filter_edit.clear();
                self.apply_filter_edit(shared);
            }
            Action::NextFocus => {
                if let Some(d) = self.detail.as_mut().filter(|_| self.detail_open) {
                    d.next_focus();
                }
            }
            Action::NextTab | Action::PrevTab => {
                let step = if *action == Action::NextTab { 1 } else { -1 };
                if let Some(d) = self.detail.as_mut() {
                    d.cycle_tab(step);
                }
            }
            Action::FilterStart if !self.detail_open => {
                self.filter_before = shared.executions.filter.clone();
                self.filter_edit = shared.executions.filter.clone();
                shared.mode = InputMode::Filter;
            }
            Action::FilterInput(c) => {
                self.filter_edit.push(*c);
                self.apply_filter_edit(shared);
            }
            Action::FilterBackspace => {
                self.filter_edit.pop();
                self.apply_filter_edit(shared);
            }
            Action::FilterAccept => shared.mode = InputMode::Normal,
            Action::FilterCancel => {
                shared.mode = InputMode::Normal;
                self.filter_edit = self.filter_before.clone();
                self.apply_filter_edit(shared);
            }
            Action::CycleSort => {
                let now = shared.now;
                shared.executions.cycle_sort(now);
                shared.executions.keep_visible(list_height(shared.size));
            }
            _ => return Handled::No,
        }
        Handled::Yes
    }

    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        let parts = layout(area, shared.size, self.detail_open);
        let selected = shared.executions.selected();
        let detail = self
            .detail
            .as_ref()
            .filter(|d| Some(&d.id) == selected.map(|s| &s.id));
        if parts.list.width > 0 {
            list_view::draw(frame, parts.list, shared, !self.detail_open);
        }
        if parts.detail.width > 0 {
            detail::draw(frame, parts.detail, shared, selected, detail);
        }
        if parts.metrics.width > 0 {
            metrics::draw_compact(frame, parts.metrics, shared, self.overview_metrics.as_ref());
            capture::draw(
                frame,
                parts.capture,
                shared,
                self.overview_capture.as_ref(),
                true,
            );
        }
    }

    fn hints(&self, _shared: &Shared) -> Vec<(KeyAction, &'static str)> {
        if self.detail_open {
            vec![
                (KeyAction::Back, "back"),
                (KeyAction::NextTab, "tab"),
                (KeyAction::NextFocus, "pane"),
                (KeyAction::Copy, "copy"),
            ]
        } else {
            vec![
                (KeyAction::Open, "detail"),
                (KeyAction::Filter, "filter"),
                (KeyAction::Sort, "sort"),
            ]
        }
    }

    fn copy(&self, shared: &Shared) -> Option<String> {
        if self.detail_open {
            self.detail.as_ref().and_then(DetailState::payload_json)
        } else {
            shared
                .executions
                .selected()
                .and_then(|e| serde_json::to_string_pretty(e).ok())
        }
    }

    fn images(&self, area: Rect, shared: &Shared) -> Vec<String> {
        let parts = layout(area, shared.size, self.detail_open);
        if detail::image_rows(parts.detail, shared) == 0 {
            return Vec::new();
        }
        shared
            .executions
            .selected()
            .and_then(|e| e.s3_key.clone())
            .into_iter()
            .collect()
    }

    fn click(&mut self, x: u16, y: u16, area: Rect, shared: &mut Shared) {
        let list = layout(area, shared.size, self.detail_open).list;
        let inside = x >= list.x && x < list.right() && y >= list.y && y < list.bottom();
        if !inside {
            return;
        }
        // Borders and the header row take the first two lines.
        let first_row = list.y + 2;
        if y < first_row || y + 1 >= list.bottom() {
            return;
        }
        let executions = &mut shared.executions;
        let offset = crate::dashboard::components::visible_offset(
            executions.offset,
            executions.selected,
            list_view::body_height(list),
            executions.view_len(),
        );
        let position = offset + usize::from(y - first_row);
        if position >= executions.view_len() {
            return;
        }
        if position == executions.selected {
            self.handle(&Action::Open, shared);
        } else {
            executions.offset = offset;
            executions.select_position(position);
        }
    }

    fn scope_changed(&mut self, scope: Scope, shared: &mut Shared) {
        if scope != Scope::Selection {
            if scope == Scope::Window {
                self.overview_metrics = None;
            }
            return;
        }
        // The selected execution changed: show its cached history at once (the history
        // feed asks for it otherwise).
        let Some(id) = shared.executions.selected_id() else {
            self.detail = None;
            return;
        };
        if self.detail.as_ref().is_some_and(|d| d.id == id) {
            return;
        }
        self.detail = self
            .histories
            .get(&id)
            .map(|events| DetailState::new(id.clone(), Arc::clone(events)));
    }
}

impl FeedOwner for ExecutionsPanel {
    const FEEDS: &'static [Feed<ExecutionsPanel>] = &[
        Feed {
            name: HISTORY,
            interval: |_, base| base,
            // The selected execution's history while the detail (or the overview's preview)
            // shows it; a finished execution's history is fetched once and cached.
            scope: Scope::Selection,
            wanted: |panel, shared, visible| {
                visible
                    && panel.shows_detail(shared)
                    && shared.executions.selected().is_some()
                    && !panel.history_current(shared)
            },
            request: |_, shared| {
                Some(Request::History {
                    id: shared.executions.selected_id()?,
                })
            },
            accept: |panel, response, shared| {
                if let Response::History(id, events) = response {
                    panel.accept_history(id, events, shared);
                }
            },
            on_error: OnError::Toast,
        },
        Feed {
            name: "overview-metrics",
            interval: panel_interval,
            scope: Scope::Window,
            wanted: |panel, shared, visible| visible && !panel.detail_open && is_wide(shared.size),
            request: |_, shared| Some(metrics::request(shared)),
            accept: |panel, response, _| {
                if let Response::Metrics(m) = response {
                    panel.overview_metrics = Some(m);
                }
            },
            on_error: OnError::Toast,
        },
        Feed {
            name: "overview-capture",
            interval: panel_interval,
            scope: Scope::Window,
            wanted: |panel, shared, visible| visible && !panel.detail_open && is_wide(shared.size),
            request: |_, shared| Some(capture::request(shared)),
            accept: |panel, response, _| {
                if let Response::Capture(sample) = response {
                    panel.overview_capture = Some(sample);
                }
            },
            on_error: OnError::Toast,
        },
    ];
}
