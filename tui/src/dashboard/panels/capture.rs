//! Data capture: the model's confidence (max probability) of every captured inference over
//! the window, against the threshold line: the seeds' Model Monitor chart, live.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph};

use crate::dashboard::action::View;
use crate::dashboard::components::draw_loading;
use crate::dashboard::keymap::KeyAction;
use crate::dashboard::panel::{Feed, FeedOwner, OnError, Panel, Scope, panel_interval};
use crate::dashboard::panels::metrics::{fmt_window, window_hints};
use crate::dashboard::shared::Shared;
use scones_workflow::port::{CapturePoint, CaptureSample, Request, Response};

/// This tab.
pub const VIEW: View = View("capture");

/// Points asked for per call: more are sampled evenly across the window.
pub const CAPTURE_LIMIT: usize = 2000;

/// The feed's name.
pub const FEED: &str = "capture";

/// The tab's state: the captured points of the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CapturePanel {
    /// The last answer (`None` until one arrives).
    pub sample: Option<CaptureSample>,
}

/// The capture call for the window on screen.
pub fn request(shared: &Shared) -> Request {
    Request::Capture {
        range: shared.range(),
        limit: CAPTURE_LIMIT,
    }
}

impl Panel for CapturePanel {
    fn view(&self) -> View {
        VIEW
    }

    fn title(&self) -> &'static str {
        "Capture"
    }

    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        draw(frame, area, shared, self.sample.as_ref(), false);
    }

    fn hints(&self, _shared: &Shared) -> Vec<(KeyAction, &'static str)> {
        window_hints()
    }

    fn copy(&self, _shared: &Shared) -> Option<String> {
        serde_json::to_string_pretty(&self.sample.as_ref()?.points).ok()
    }
}

impl FeedOwner for CapturePanel {
    const FEEDS: &'static [Feed<CapturePanel>] = &[Feed {
        name: FEED,
        interval: panel_interval,
        scope: Scope::Window,
        wanted: |_, _, visible| visible,
        request: |_, shared| Some(request(shared)),
        accept: |panel, response, _| {
            if let Response::Capture(sample) = response {
                panel.sample = Some(sample);
            }
        },
        on_error: OnError::Toast,
    }];
}

/// Draws the chart of `sample` (`compact` for the overview: no summary line).
pub fn draw(
    frame: &mut Frame,
    area: Rect,
    shared: &Shared,
    sample: Option<&CaptureSample>,
    compact: bool,
) {
    let theme = &shared.theme;
    let threshold = shared.info.threshold;
    let window = shared.window.length();
    let points: &[CapturePoint] = sample.map_or(&[], |s| &s.points);
    let below = points.iter().filter(|p| p.confidence() < threshold).count();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Line::from(vec![
            Span::styled(" Data capture ", theme.title),
            Span::styled(
                format!("confidence, last {} · ", fmt_window(window)),
                theme.dim,
            ),
            Span::styled("• confident ", theme.ok),
            Span::styled("█ below ", theme.bad),
            Span::styled(format!("─ {threshold} "), theme.series_alt),
        ]));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let chart_area = if compact {
        inner
    } else {
        let [summary, chart] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
        let share = if points.is_empty() {
            String::new()
        } else {
            format!(" ({:.1}%)", below as f64 * 100.0 / points.len() as f64)
        };
        let total = sample.map_or(0, |s| s.total);
        // A busy window is sampled evenly across it: say so, and of how many.
        let (shown, of) = if sample.is_some_and(CaptureSample::is_sampled) {
            (
                format!("{total} captured, {} shown across the window", points.len()),
                " of those",
            )
        } else {
            (format!("{total} captured"), "")
        };
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(shown, theme.text),
                Span::styled(
                    format!(" · {below}{of} below the threshold {threshold}{share}"),
                    theme.dim,
                ),
            ])),
            summary,
        );
        chart
    };
    if sample.is_none() {
        draw_loading(frame, chart_area, shared, FEED);
        return;
    }
    let span = window.as_secs_f64();
    let x = |p: &CapturePoint| span - (shared.now - p.time).num_milliseconds() as f64 / 1000.0;
    let (low, high): (Vec<_>, Vec<_>) = points
        .iter()
        .map(|p| (x(p), p.confidence(), p.confidence() < threshold))
        .partition(|(_, _, is_low)| *is_low);
    let low: Vec<(f64, f64)> = low.into_iter().map(|(x, y, _)| (x, y)).collect();
    let high: Vec<(f64, f64)> = high.into_iter().map(|(x, y, _)| (x, y)).collect();
    let line = [(0.0, threshold), (span, threshold)];
    let datasets = vec![
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.series_alt)
            .data(&line),
        Dataset::default()
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(theme.ok)
            .data(&high),
        Dataset::default()
            .marker(Marker::Block)
            .graph_type(GraphType::Scatter)
            .style(theme.bad)
            .data(&low),
    ];
    let chart = Chart::new(datasets)
        .x_axis(
            Axis::default()
                .bounds([0.0, span])
                .labels([format!("-{}", fmt_window(window)), "now".to_owned()])
                .style(theme.dim),
        )
        .y_axis(
            Axis::default()
                .bounds([0.5, 1.0])
                .labels(["0.5", "0.75", "1.0"])
                .style(theme.dim),
        )
        .legend_position(None);
    frame.render_widget(chart, chart_area);
}
