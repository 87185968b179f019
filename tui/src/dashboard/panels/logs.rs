//! Logs of the selected execution's time window: what the backend's log sources said
//! between its start and its end (AWS: the state machine's and the filter Lambda's log
//! groups; locally: the execution's history events as log lines plus the endpoint's
//! captured inferences in that window).

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::dashboard::action::{Action, View};
use crate::dashboard::components::truncate;
use crate::dashboard::keymap::KeyAction;
use crate::dashboard::panel::{Feed, FeedOwner, Handled, OnError, Panel, Scope, panel_interval};
use crate::dashboard::shared::Shared;
use scones_workflow::port::{ExecutionId, LogLevel, LogLine, Request, Response};

/// This tab.
pub const VIEW: View = View("logs");

/// How long after an execution stopped its log lines may still arrive: CloudWatch Logs
/// makes events searchable within seconds, occasionally a minute; two minutes covers it. A
/// finished execution's logs are fetched again until a fetch is this much younger than its
/// stop.
pub const LOG_INGESTION_WINDOW: chrono::Duration = chrono::Duration::minutes(2);

/// The lines of one execution.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogsPanel {
    /// Whose lines these are.
    pub id: Option<ExecutionId>,
    /// Oldest first.
    pub lines: Vec<LogLine>,
    /// First visible line.
    pub scroll: usize,
    /// When they arrived.
    pub fetched: Option<DateTime<Utc>>,
}

impl LogsPanel {
    /// Replaces the lines (arrived at `now`); a new execution starts at the top.
    pub fn set(&mut self, id: ExecutionId, lines: Vec<LogLine>, now: DateTime<Utc>) {
        self.fetched = Some(now);
        if self.id.as_ref() != Some(&id) {
            self.scroll = 0;
        }
        self.id = Some(id);
        self.scroll = self.scroll.min(lines.len().saturating_sub(1));
        self.lines = lines;
    }

    /// Scrolls.
    pub fn move_by(&mut self, delta: i64) {
        let last = self.lines.len().saturating_sub(1) as i64;
        self.scroll = (self.scroll as i64 + delta).clamp(0, last.max(0)) as usize;
    }

    /// True when the panel holds the selected execution's logs as they will stay: it
    /// finished, and they were fetched [`LOG_INGESTION_WINDOW`] or more after it stopped.
    /// Until then log lines may still arrive (CloudWatch Logs ingests with a lag), so the
    /// panel keeps refreshing.
    pub fn current(&self, shared: &Shared) -> bool {
        shared.executions.selected().is_some_and(|s| {
            self.id.as_ref() == Some(&s.id)
                && match (s.stop, self.fetched) {
                    (Some(stop), Some(fetched)) => fetched >= stop + LOG_INGESTION_WINDOW,
                    _ => false,
                }
        })
    }
}

impl Panel for LogsPanel {
    fn view(&self) -> View {
        VIEW
    }

    fn title(&self) -> &'static str {
        "Logs"
    }

    fn handle(&mut self, action: &Action, _shared: &mut Shared) -> Handled {
        match action {
            Action::Move(d) => self.move_by(i64::from(*d)),
            Action::First => self.move_by(i64::MIN / 2),
            Action::Last => self.move_by(i64::MAX / 2),
            Action::PageUp => self.move_by(-20),
            Action::PageDown => self.move_by(20),
            _ => return Handled::No,
        }
        Handled::Yes
    }

    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        draw(frame, area, shared, self);
    }

    fn hints(&self, _shared: &Shared) -> Vec<(KeyAction, &'static str)> {
        vec![(KeyAction::Copy, "copy")]
    }

    fn copy(&self, _shared: &Shared) -> Option<String> {
        serde_json::to_string_pretty(&self.lines).ok()
    }
}

impl FeedOwner for LogsPanel {
    const FEEDS: &'static [Feed<LogsPanel>] = &[Feed {
        name: "logs",
        interval: panel_interval,
        // A finished execution's logs are fetched until they are current (see
        // `LogsPanel::current`); a running one's on every refresh.
        scope: Scope::Selection,
        wanted: |panel, shared, visible| {
            visible
                && shared
                    .executions
                    .selected()
                    .is_some_and(|e| !e.status.is_final() || !panel.current(shared))
        },
        request: |_, shared| {
            Some(Request::Logs {
                execution: Box::new(shared.executions.selected()?.clone()),
            })
        },
        accept: |panel, response, shared| {
            if let Response::Logs(id, lines) = response {
                panel.set(id, lines, shared.now);
            }
        },
        on_error: OnError::Toast,
    }];
}

/// Draws the panel.
fn draw(frame: &mut Frame, area: Rect, shared: &Shared, s: &LogsPanel) {
    let theme = &shared.theme;
    let selected = shared.executions.selected();
    let title = Line::from(vec![
        Span::styled(" Logs ", theme.title),
        Span::styled(
            selected
                .map(|s| format!("{} ", truncate(&s.name, 40)))
                .unwrap_or_else(|| "no execution selected ".to_owned()),
            theme.dim,
        ),
    ]);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let current = selected.is_some_and(|sel| s.id.as_ref() == Some(&sel.id));
    if !current {
        let msg = if selected.is_some() {
            "loading…"
        } else {
            "select an execution in the Executions tab"
        };
        frame.render_widget(Paragraph::new(msg).style(theme.dim), inner);
        return;
    }
    let width = inner.width as usize;
    let lines: Vec<Line> = s
        .lines
        .iter()
        .skip(s.scroll)
        .take(inner.height as usize)
        .map(|l| {
            let t = l
                .time
                .with_timezone(&shared.tz)
                .format("%H:%M:%S%.3f")
                .to_string();
            let level = match l.level {
                LogLevel::Info => Span::styled("INFO ", theme.dim),
                LogLevel::Error => Span::styled("ERROR", theme.bad),
            };
            let head = format!("{t} {:<8} ", truncate(&l.source, 8));
            let room = width.saturating_sub(head.chars().count() + 6);
            Line::from(vec![
                Span::styled(head, theme.dim),
                level,
                Span::raw(" "),
                Span::styled(
                    truncate(&l.message, room),
                    if l.level == LogLevel::Error {
                        theme.bad
                    } else {
                        theme.text
                    },
                ),
            ])
        })
        .collect();
    if lines.is_empty() {
        frame.render_widget(
            Paragraph::new("no log lines in this execution's window").style(theme.dim),
            inner,
        );
    } else {
        frame.render_widget(Paragraph::new(lines), inner);
    }
}
