//! Logs of the selected execution's time window: what the backend's log sources said
//! between its start and its end (AWS: the state machine's and the filter Lambda's log
//! groups; locally: the execution's history events as log lines plus the endpoint's
//! captured inferences in that window).

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::dashboard::app::App;
use crate::dashboard::components::truncate;
use scones_workflow::port::{ExecutionId, LogLevel, LogLine};

/// The lines of one execution.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogsState {
    /// Whose lines these are.
    pub id: Option<ExecutionId>,
    /// Oldest first.
    pub lines: Vec<LogLine>,
    /// First visible line.
    pub scroll: usize,
    /// When they arrived.
    pub fetched: Option<DateTime<Utc>>,
}

impl LogsState {
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
}

/// Draws the panel.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let selected = app.executions.selected();
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
    let s = &app.logs;
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
                .with_timezone(&app.tz)
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
