//! One execution in detail: its states (type, status, duration, retries), the selected
//! state's Input/Output/Error as pretty JSON, and the raw events table. When the history
//! arrives the failing state is selected, so a LowConfidence execution opens on
//! FilterLowConfidence with its error in view.

use std::sync::Arc;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, Tabs, Wrap};

use crate::dashboard::components::image;
use crate::dashboard::components::{fmt_duration, fmt_offset, truncate, visible_offset};
use crate::dashboard::list::Truth;
use crate::dashboard::shared::Shared;

use super::state_runs::{
    StateRun, cause_message, failing_state, pretty_json, pretty_json_for_display, state_runs,
};
use scones_workflow::class::Class;
use scones_workflow::history::HistoryEvent;
use scones_workflow::port::{ExecutionId, ExecutionSummary};

/// Which payload of the selected state is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadTab {
    /// State input.
    Input,
    /// State output.
    Output,
    /// Error and cause.
    Error,
}

impl PayloadTab {
    const ALL: [PayloadTab; 3] = [PayloadTab::Input, PayloadTab::Output, PayloadTab::Error];

    fn index(self) -> usize {
        match self {
            PayloadTab::Input => 0,
            PayloadTab::Output => 1,
            PayloadTab::Error => 2,
        }
    }

    fn title(self) -> &'static str {
        match self {
            PayloadTab::Input => "Input",
            PayloadTab::Output => "Output",
            PayloadTab::Error => "Error",
        }
    }
}

/// Which pane of the detail view takes the movement keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetailFocus {
    /// The states table.
    States,
    /// The JSON payload.
    Payload,
    /// The events table.
    Events,
}

/// The history of the selected execution and how it is being looked at.
#[derive(Debug, Clone)]
pub struct DetailState {
    /// Whose history.
    pub id: ExecutionId,
    /// The events (shared with the history cache).
    pub events: Arc<Vec<HistoryEvent>>,
    /// The events folded into state visits.
    pub runs: Vec<StateRun>,
    /// Selected state visit.
    pub selected: usize,
    /// Payload tab.
    pub tab: PayloadTab,
    /// Focused pane.
    pub focus: DetailFocus,
    /// Payload scroll (lines).
    pub payload_scroll: u16,
    /// First visible event.
    pub events_offset: usize,
    /// The user moved the selection: a refreshed history keeps it instead of jumping to the
    /// failing state.
    pub user_moved: bool,
}

impl DetailState {
    /// A view of `events`, with the failing state (else the last one) selected.
    pub fn new(id: ExecutionId, events: Arc<Vec<HistoryEvent>>) -> DetailState {
        let runs = state_runs(&events);
        let selected = failing_state(&runs).unwrap_or(0);
        let tab = initial_tab(runs.get(selected));
        DetailState {
            id,
            events,
            runs,
            selected,
            tab,
            focus: DetailFocus::States,
            payload_scroll: 0,
            events_offset: 0,
            user_moved: false,
        }
    }

    /// A newer history of the same execution (it was running): keeps the user's place.
    pub fn refresh(&mut self, events: Arc<Vec<HistoryEvent>>) {
        let mut next = DetailState::new(self.id.clone(), events);
        if self.user_moved {
            next.selected = self.selected.min(next.runs.len().saturating_sub(1));
            next.tab = self.tab;
            next.payload_scroll = self.payload_scroll;
            next.user_moved = true;
        }
        next.focus = self.focus;
        next.events_offset = self.events_offset;
        *self = next;
    }

    /// The selected state visit.
    pub fn selected_run(&self) -> Option<&StateRun> {
        self.runs.get(self.selected)
    }

    /// Moves within the focused pane.
    pub fn move_by(&mut self, delta: i64) {
        match self.focus {
            DetailFocus::States => {
                let last = self.runs.len().saturating_sub(1) as i64;
                self.selected = (self.selected as i64 + delta).clamp(0, last.max(0)) as usize;
                self.payload_scroll = 0;
                self.user_moved = true;
            }
            DetailFocus::Payload => {
                self.payload_scroll =
                    (i64::from(self.payload_scroll) + delta).clamp(0, i64::from(u16::MAX)) as u16;
            }
            DetailFocus::Events => {
                let last = self.events.len().saturating_sub(1) as i64;
                self.events_offset =
                    (self.events_offset as i64 + delta).clamp(0, last.max(0)) as usize;
            }
        }
    }

    /// Next pane.
    pub fn next_focus(&mut self) {
        self.focus = match self.focus {
            DetailFocus::States => DetailFocus::Payload,
            DetailFocus::Payload => DetailFocus::Events,
            DetailFocus::Events => DetailFocus::States,
        };
    }

    /// Next (`+1`) or previous (`-1`) payload tab.
    pub fn cycle_tab(&mut self, step: i64) {
        let i = (self.tab.index() as i64 + step).rem_euclid(3) as usize;
        self.tab = PayloadTab::ALL[i];
        self.payload_scroll = 0;
        self.user_moved = true;
    }

    /// The text of the payload tab in view (pretty JSON with long strings shortened, or the
    /// error and its cause).
    pub fn payload_text(&self) -> String {
        let Some(run) = self.selected_run() else {
            return String::new();
        };
        match self.tab {
            PayloadTab::Input => (run.input.as_deref())
                .map(pretty_json_for_display)
                .unwrap_or_default(),
            PayloadTab::Output => (run.output.as_deref())
                .map(pretty_json_for_display)
                .unwrap_or_default(),
            PayloadTab::Error => error_text(run),
        }
    }

    /// The payload in view as JSON for the clipboard.
    pub fn payload_json(&self) -> Option<String> {
        let run = self.selected_run()?;
        match self.tab {
            PayloadTab::Input => run.input.as_deref().map(pretty_json),
            PayloadTab::Output => run.output.as_deref().map(pretty_json),
            PayloadTab::Error => {
                let error = run.error.as_ref()?;
                let cause = run.cause.as_deref().map(|c| {
                    serde_json::from_str(c).unwrap_or(serde_json::Value::String(c.to_owned()))
                });
                serde_json::to_string_pretty(&serde_json::json!({"error": error, "cause": cause}))
                    .ok()
            }
        }
    }
}

fn initial_tab(run: Option<&StateRun>) -> PayloadTab {
    match run {
        Some(r) if r.error.is_some() => PayloadTab::Error,
        Some(r) if r.output.is_some() => PayloadTab::Output,
        _ => PayloadTab::Input,
    }
}

fn error_text(run: &StateRun) -> String {
    match (&run.error, &run.cause) {
        (None, _) => "(no error)".to_owned(),
        (Some(e), None) => e.clone(),
        (Some(e), Some(c)) => {
            let message = cause_message(c);
            let doc = pretty_json(c);
            if message == *c {
                format!("{e}\n\n{message}")
            } else {
                format!("{e}\n\n{message}\n\ncause:\n{doc}")
            }
        }
    }
}

/// Draws the detail of `summary` (header line) with its history `detail` (`None`: not
/// loaded yet).
pub fn draw(
    frame: &mut Frame,
    area: Rect,
    shared: &Shared,
    summary: Option<&ExecutionSummary>,
    detail: Option<&DetailState>,
) {
    let theme = &shared.theme;
    let title = match summary {
        Some(s) => Line::from(vec![
            Span::styled(" Execution ", theme.title),
            Span::styled(truncate(&s.name, 36), theme.text),
            Span::raw(" "),
            Span::styled(s.status.as_str(), theme.status(s.status)),
            Span::raw(" "),
            Span::styled(fmt_duration(s.duration(shared.now)), theme.dim),
            Span::raw(" "),
        ]),
        None => Line::from(Span::styled(" Execution ", theme.title)),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border_focus)
        .title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(detail) = detail else {
        let msg = if summary.is_some() {
            "loading history…"
        } else {
            "no execution selected"
        };
        frame.render_widget(Paragraph::new(msg).style(theme.dim), inner);
        return;
    };
    let states_h = (detail.runs.len() as u16 + 1).clamp(2, 6);
    let events_h = if inner.height >= 24 { 9 } else { 5 };
    let image_rows = image_rows(area, shared);
    let top_h = (2 + states_h).max(image_rows + 2);
    let [top, payload_area, events_area] = Layout::vertical([
        Constraint::Length(top_h),
        Constraint::Min(3),
        Constraint::Length(events_h),
    ])
    .areas(inner);
    let image_w = if image_rows > 0 {
        image::square_cells(image_rows).width + 2
    } else {
        0
    };
    let [facts, image_area] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(image_w)]).areas(top);
    let [key_line, truth_line, states_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(states_h),
    ])
    .areas(facts);
    let key = summary.and_then(|s| s.s3_key.as_deref());
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("s3 key ", theme.dim),
            Span::styled(key.unwrap_or("-").to_owned(), theme.text),
        ])),
        key_line,
    );
    if let Some(s) = summary {
        frame.render_widget(Paragraph::new(truth_spans(s, theme)), truth_line);
    }
    if image_rows > 0 {
        image::draw(frame, image_area, shared, key, "image");
    }
    draw_states(frame, states_area, shared, detail);
    draw_payload(frame, payload_area, shared, detail);
    draw_events(frame, events_area, shared, detail);
}

/// Rows the image takes in a detail drawn in `area` (0: not shown; the preview beside the
/// list is too narrow for it next to the states).
pub fn image_rows(area: Rect, shared: &Shared) -> u16 {
    match shared.picker {
        Some(_) if area.width >= 70 && area.height >= 20 => {
            if area.height >= 30 {
                8
            } else {
                6
            }
        }
        _ => 0,
    }
}

/// `predicted motorcycle 0.982 · label motorcycle · right · model <version>`, or what is
/// not known yet.
fn truth_spans(s: &ExecutionSummary, theme: &crate::dashboard::theme::Theme) -> Line<'static> {
    let mut spans = Vec::new();
    match s.scores {
        Some(scores) => {
            let class = Class::predicted(scores);
            spans.push(Span::styled("predicted ", theme.dim));
            spans.push(Span::styled(
                format!("{class} {:.3}", scores[class.index()]),
                theme.text,
            ));
        }
        None => spans.push(Span::styled("not classified", theme.dim)),
    }
    spans.push(Span::styled(" · label ", theme.dim));
    match s.label {
        Some(label) => spans.push(Span::styled(label.to_string(), theme.text)),
        None => spans.push(Span::styled("none (unlabelled)", theme.dim)),
    }
    let truth = Truth::of(s);
    if s.label.is_some() && !truth.sentence().is_empty() {
        spans.push(Span::styled(" · ", theme.dim));
        spans.push(Span::styled(truth.sentence(), truth.style(theme)));
    }
    // Last: the verdict matters more where the line is cut.
    if let Some(model) = &s.model {
        spans.push(Span::styled(" · model ", theme.dim));
        spans.push(Span::styled(model.clone(), theme.text));
    }
    Line::from(spans)
}

fn draw_states(frame: &mut Frame, area: Rect, shared: &Shared, d: &DetailState) {
    let theme = &shared.theme;
    let height = area.height.saturating_sub(1) as usize;
    let offset = visible_offset(0, d.selected, height, d.runs.len());
    let rows = d
        .runs
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, r)| {
            let marker = if i == d.selected { "▶" } else { " " };
            let style = if i == d.selected && d.focus == DetailFocus::States {
                theme.selected
            } else {
                theme.text
            };
            Row::new(vec![
                Cell::from(format!("{marker}{}", r.name)),
                Cell::from(r.state_type.clone()),
                Cell::from(Span::styled(r.status.as_str(), theme.state(r.status))),
                Cell::from(fmt_duration(r.duration(shared.now))),
                Cell::from(r.retries().to_string()),
            ])
            .style(style)
        });
    let table = Table::new(
        rows,
        [
            Constraint::Max(28),
            Constraint::Length(6),
            Constraint::Length(9),
            Constraint::Length(7),
            Constraint::Length(7),
        ],
    )
    .header(Row::new(["STATE", "TYPE", "STATUS", "DUR", "RETRIES"]).style(theme.dim));
    frame.render_widget(table, area);
}

fn draw_payload(frame: &mut Frame, area: Rect, shared: &Shared, d: &DetailState) {
    let theme = &shared.theme;
    let focused = d.focus == DetailFocus::Payload;
    // Brackets mark the active tab even without colours (NO_COLOR).
    let tabs = Tabs::new(PayloadTab::ALL.map(|t| {
        if t == d.tab {
            format!("[{}]", t.title())
        } else {
            format!(" {} ", t.title())
        }
    }))
    .select(d.tab.index())
    .style(theme.dim)
    .highlight_style(theme.tab_active)
    .divider("|");
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(if focused {
            theme.border_focus
        } else {
            theme.border
        });
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [tab_line, body] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    frame.render_widget(tabs, tab_line);
    let text = d.payload_text();
    let style = if d.tab == PayloadTab::Error && d.selected_run().is_some_and(|r| r.error.is_some())
    {
        theme.bad
    } else {
        theme.text
    };
    frame.render_widget(
        Paragraph::new(Text::from(text))
            .style(style)
            .wrap(Wrap { trim: false })
            .scroll((d.payload_scroll, 0)),
        body,
    );
}

fn draw_events(frame: &mut Frame, area: Rect, shared: &Shared, d: &DetailState) {
    let theme = &shared.theme;
    let focused = d.focus == DetailFocus::Events;
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(if focused {
            theme.border_focus
        } else {
            theme.border
        })
        .title(Span::styled(
            format!(" {} events ", d.events.len()),
            theme.dim,
        ));
    let height = area.height.saturating_sub(2) as usize;
    let start = d.events.first().map(|e| e.timestamp);
    let offset = d.events_offset.min(d.events.len().saturating_sub(height));
    let rows = d.events.iter().skip(offset).take(height).map(|e| {
        let style = if e.is_failure() {
            theme.bad
        } else {
            theme.text
        };
        Row::new(vec![
            Cell::from(e.id.to_string()),
            Cell::from(
                start
                    .map(|s| fmt_offset(e.timestamp - s))
                    .unwrap_or_default(),
            ),
            Cell::from(e.event_type().to_owned()),
            Cell::from(e.summary()),
        ])
        .style(style)
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(3),
            Constraint::Length(8),
            Constraint::Length(24),
            Constraint::Fill(1),
        ],
    )
    .header(Row::new(["ID", "+TIME", "TYPE", "DETAIL"]).style(theme.dim))
    .block(block);
    frame.render_widget(table, area);
}
