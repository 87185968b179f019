//! Executions that failed with `LowConfidence`: key, both scores, the threshold, the time
//! and the image's label where it has one (green: the model leaned the right way and a
//! person had to check it anyway; red: the rejection stopped a wrong answer), the rate over
//! the metrics window (failures / executions that finished in it), and the selected
//! failure's image.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};

use crate::dashboard::action::{Action, View};
use crate::dashboard::components::{draw_loading, fmt_start, image, truncate, visible_offset};
use crate::dashboard::keymap::KeyAction;
use crate::dashboard::panel::{Feed, FeedOwner, Handled, OnError, Panel, Scope, panel_interval};
use crate::dashboard::panels::executions;
use crate::dashboard::panels::metrics::{fmt_window, window_hints};
use crate::dashboard::shared::Shared;
use scones_workflow::port::{LowConfidenceFailure, LowConfidenceReport, Request, Response};

/// This tab.
pub const VIEW: View = View("low_confidence");

/// Low-confidence failures listed per call (the counts cover the whole window).
pub const LOW_CONFIDENCE_LIMIT: usize = 1000;

/// The feed's name.
pub const FEED: &str = "low_confidence";

/// The failures in the window and the selection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LowConfidencePanel {
    /// The newest failures, newest first (a page: `total` counts them all).
    pub items: Vec<LowConfidenceFailure>,
    /// Failures in the whole window.
    pub total: u64,
    /// Executions that finished in the same window (the rate's denominator).
    pub finished_in_window: u64,
    /// Selected row.
    pub selected: usize,
    /// First visible row.
    pub offset: usize,
    /// An answer has arrived.
    pub loaded: bool,
}

impl LowConfidencePanel {
    /// Replaces the list, keeping the selection in range.
    pub fn set(&mut self, report: LowConfidenceReport, finished_in_window: u64) {
        self.items = report.failures;
        self.total = report.total.max(self.items.len() as u64);
        self.finished_in_window = finished_in_window.max(self.total);
        self.selected = self.selected.min(self.items.len().saturating_sub(1));
        self.loaded = true;
    }

    /// Moves the selection.
    pub fn move_by(&mut self, delta: i64, height: usize) {
        let last = self.items.len().saturating_sub(1) as i64;
        self.selected = (self.selected as i64 + delta).clamp(0, last.max(0)) as usize;
        self.offset = visible_offset(self.offset, self.selected, height, self.items.len());
    }

    /// The selected failure.
    pub fn selected(&self) -> Option<&LowConfidenceFailure> {
        self.items.get(self.selected)
    }

    /// Failures as a share of finished executions (None when nothing finished).
    pub fn rate(&self) -> Option<f64> {
        (self.finished_in_window > 0).then(|| self.total as f64 / self.finished_in_window as f64)
    }

    /// Of the listed failures with a label: how many leaned the right way (rejected but
    /// right) and how many the wrong way (rejections that stopped a mistake).
    pub fn labelled_split(&self) -> (usize, usize) {
        self.items
            .iter()
            .fold((0, 0), |(right, wrong), f| match f.would_be_right() {
                Some(true) => (right + 1, wrong),
                Some(false) => (right, wrong + 1),
                None => (right, wrong),
            })
    }
}

/// Rows of the image beside the table in the panel drawn in `area` (0: too small to show
/// one, or images off).
pub fn image_rows(area: Rect, shared: &Shared) -> u16 {
    // Inside the borders, below the rate line.
    let height = area.height.saturating_sub(3);
    match shared.picker {
        Some(_) if area.width >= 110 && height >= 8 => height.saturating_sub(2).min(10),
        _ => 0,
    }
}

impl Panel for LowConfidencePanel {
    fn view(&self) -> View {
        VIEW
    }

    fn title(&self) -> &'static str {
        "Low confidence"
    }

    fn short_title(&self) -> &'static str {
        "Low conf"
    }

    fn handle(&mut self, action: &Action, shared: &mut Shared) -> Handled {
        let height = crate::dashboard::components::body_area(shared.size)
            .height
            .saturating_sub(4) as usize;
        match action {
            Action::Move(d) => self.move_by(i64::from(*d), height),
            Action::First => self.move_by(i64::MIN / 2, height),
            Action::Last => self.move_by(i64::MAX / 2, height),
            Action::PageUp => self.move_by(-(height as i64), height),
            Action::PageDown => self.move_by(height as i64, height),
            Action::Open => match self.selected().and_then(|f| f.execution.clone()) {
                Some(id) => executions::open_execution(shared, &id),
                None => shared.toast_info("this failure is not linked to an execution"),
            },
            _ => return Handled::No,
        }
        Handled::Yes
    }

    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        draw(frame, area, shared, self);
    }

    fn hints(&self, _shared: &Shared) -> Vec<(KeyAction, &'static str)> {
        window_hints()
    }

    fn copy(&self, _shared: &Shared) -> Option<String> {
        serde_json::to_string_pretty(self.selected()?).ok()
    }

    fn images(&self, area: Rect, shared: &Shared) -> Vec<String> {
        if image_rows(area, shared) == 0 {
            return Vec::new();
        }
        self.selected()
            .and_then(|f| f.s3_key.clone())
            .into_iter()
            .collect()
    }
}

impl FeedOwner for LowConfidencePanel {
    const FEEDS: &'static [Feed<LowConfidencePanel>] = &[Feed {
        name: FEED,
        interval: panel_interval,
        scope: Scope::Window,
        wanted: |_, _, visible| visible,
        request: |_, shared| {
            Some(Request::LowConfidence {
                range: shared.range(),
                limit: LOW_CONFIDENCE_LIMIT,
            })
        },
        accept: |panel, response, shared| {
            if let Response::LowConfidence(report) = response {
                let range = shared.range();
                let finished = report
                    .decisions
                    .unwrap_or_else(|| shared.executions.finished_in(&range) as u64);
                panel.set(report, finished);
            }
        },
        on_error: OnError::Toast,
    }];
}

/// Draws the panel.
fn draw(frame: &mut Frame, area: Rect, shared: &Shared, s: &LowConfidencePanel) {
    let theme = &shared.theme;
    let window = shared.window.length();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Line::from(vec![
            Span::styled(" Low-confidence failures ", theme.title),
            Span::styled(
                format!(
                    "last {} · threshold {} ",
                    fmt_window(window),
                    shared.info.threshold
                ),
                theme.dim,
            ),
        ]));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [rate_area, table_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    let image_rows = image_rows(area, shared);
    let [table_area, image_area] = Layout::horizontal([
        Constraint::Min(0),
        Constraint::Length(if image_rows > 0 {
            image::square_cells(image_rows).width + 2
        } else {
            0
        }),
    ])
    .areas(table_area);
    if image_rows > 0 {
        let key = s.selected().and_then(|f| f.s3_key.as_deref());
        let [image_area, _] =
            Layout::vertical([Constraint::Length(image_rows + 2), Constraint::Min(0)])
                .areas(image_area);
        image::draw(frame, image_area, shared, key, "image");
    }
    let per_min = s.total as f64 / (window.as_secs_f64() / 60.0);
    let rate = match s.rate() {
        Some(r) => format!(
            "{:.1}% of {} finished executions",
            r * 100.0,
            s.finished_in_window
        ),
        None => "no finished executions in the window".to_owned(),
    };
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(
                if s.total > s.items.len() as u64 {
                    format!("{} failures (newest {} listed)", s.total, s.items.len())
                } else {
                    format!("{} failures", s.total)
                },
                if s.total == 0 { theme.ok } else { theme.bad },
            ),
            Span::styled(format!(" · {rate} · {per_min:.2}/min"), theme.dim),
            {
                let (right, wrong) = s.labelled_split();
                Span::styled(
                    if right + wrong > 0 {
                        format!(" · listed with a label: {right} leaned right, {wrong} wrong")
                    } else {
                        String::new()
                    },
                    theme.dim,
                )
            },
        ])),
        rate_area,
    );
    if !s.loaded {
        draw_loading(frame, table_area, shared, FEED);
        return;
    }
    let height = table_area.height.saturating_sub(1) as usize;
    let offset = visible_offset(s.offset, s.selected, height, s.items.len());
    let wide = table_area.width >= 100;
    let time_w: u16 = if wide { 14 } else { 8 };
    let key_w = (table_area.width as usize)
        .saturating_sub(36 + 11 + usize::from(time_w) + 5)
        .clamp(12, 60);
    let rows = s
        .items
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, f)| {
            let style = if i == s.selected {
                theme.selected
            } else {
                theme.text
            };
            Row::new(vec![
                Cell::from(fmt_start(f.time, shared.now, shared.tz, wide)),
                Cell::from(truncate(f.s3_key.as_deref().unwrap_or("-"), key_w)),
                Cell::from(format!("{:.4}", f.p_bicycle)),
                Cell::from(format!("{:.4}", f.p_motorcycle)),
                Cell::from(format!("{}", f.threshold)),
                match (f.label, f.would_be_right()) {
                    (Some(label), Some(right)) => Cell::from(Span::styled(
                        label.to_string(),
                        if right { theme.ok } else { theme.bad },
                    )),
                    _ => Cell::from(Span::styled("unlabelled", theme.dim)),
                },
            ])
            .style(style)
        });
    let table = Table::new(
        rows,
        [
            Constraint::Length(time_w),
            Constraint::Fill(1),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(10),
        ],
    )
    .header(
        Row::new([
            "TIME",
            "S3 KEY",
            "P_BICYCLE",
            "P_MOTOR",
            "THRESHOLD",
            "LABEL",
        ])
        .style(theme.dim),
    );
    frame.render_widget(table, table_area);
}
