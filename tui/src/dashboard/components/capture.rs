//! Data capture: the model's confidence (max probability) of every captured inference over
//! the window, against the threshold line: the seeds' Model Monitor chart, live.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph};

use crate::dashboard::app::App;
use crate::dashboard::components::metrics::fmt_window;
use crate::dashboard::worker::Slot;
use scones_workflow::port::CapturePoint;

/// The captured points in the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaptureState {
    /// Oldest first.
    pub points: Vec<CapturePoint>,
    /// An answer has arrived.
    pub loaded: bool,
}

/// Draws the chart (`compact` for the wide executions view: no summary line).
pub fn draw(frame: &mut Frame, area: Rect, app: &App, compact: bool) {
    let theme = &app.theme;
    let threshold = app.info.threshold;
    let window = app.metrics.window();
    let points = &app.capture.points;
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
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(format!("{} captured", points.len()), theme.text),
                Span::styled(
                    format!(" · {below} below the threshold {threshold}{share}"),
                    theme.dim,
                ),
            ])),
            summary,
        );
        chart
    };
    if !app.capture.loaded {
        super::draw_loading(frame, chart_area, app, Slot::Capture);
        return;
    }
    let span = window.as_secs_f64();
    let x = |p: &CapturePoint| span - (app.now - p.time).num_milliseconds() as f64 / 1000.0;
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
