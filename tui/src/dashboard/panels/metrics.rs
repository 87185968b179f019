//! Endpoint metrics: invocations, model latency (average and maximum) and errors over a
//! window the user widens and narrows with `+`/`-`, one value per period like CloudWatch.

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Borders, Chart, Dataset, GraphType, LegendPosition, Paragraph, Sparkline,
};

use crate::dashboard::action::View;
use crate::dashboard::keymap::KeyAction;
use crate::dashboard::panel::{Feed, FeedOwner, OnError, Panel, Scope, panel_interval};
use crate::dashboard::shared::Shared;
use scones_workflow::port::{EndpointMetrics, Request, Response};

/// This tab.
pub const VIEW: View = View("metrics");

/// The tab's state: the last metrics received.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsPanel {
    /// The last metrics received (`None` after the window changed, until they arrive).
    pub data: Option<EndpointMetrics>,
}

/// The metrics call for the window on screen.
pub fn request(shared: &Shared) -> Request {
    Request::Metrics {
        range: shared.range(),
        period: shared.window.period(),
    }
}

impl Panel for MetricsPanel {
    fn view(&self) -> View {
        VIEW
    }

    fn title(&self) -> &'static str {
        "Metrics"
    }

    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        draw(frame, area, shared, self.data.as_ref());
    }

    fn hints(&self, _shared: &Shared) -> Vec<(KeyAction, &'static str)> {
        window_hints()
    }

    fn scope_changed(&mut self, scope: Scope, _shared: &mut Shared) {
        if scope == Scope::Window {
            self.data = None;
        }
    }
}

/// The footer hints of the window-scoped tabs.
pub fn window_hints() -> Vec<(KeyAction, &'static str)> {
    vec![
        (KeyAction::WindowWider, "wider"),
        (KeyAction::WindowNarrower, "narrower"),
    ]
}

impl FeedOwner for MetricsPanel {
    const FEEDS: &'static [Feed<MetricsPanel>] = &[Feed {
        name: "metrics",
        interval: panel_interval,
        scope: Scope::Window,
        wanted: |_, _, visible| visible,
        request: |_, shared| Some(request(shared)),
        accept: |panel, response, _| {
            if let Response::Metrics(m) = response {
                panel.data = Some(m);
            }
        },
        on_error: OnError::Toast,
    }];
}

/// `15m`, `1h`, `24h`.
pub fn fmt_window(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s >= 60 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

fn totals(m: &EndpointMetrics) -> (f64, Option<f64>, Option<f64>, f64) {
    let invocations: f64 = m.invocations.iter().sum();
    let weighted: f64 = m
        .latency_ms
        .iter()
        .zip(&m.invocations)
        .filter_map(|(l, n)| l.map(|l| l * n))
        .sum();
    let avg = (invocations > 0.0).then(|| weighted / invocations);
    let max = m.latency_max_ms.iter().flatten().copied().reduce(f64::max);
    (invocations, avg, max, m.errors.iter().sum())
}

/// Draws the full metrics view of `data`.
fn draw(frame: &mut Frame, area: Rect, shared: &Shared, data: Option<&EndpointMetrics>) {
    let theme = &shared.theme;
    let window = shared.window;
    // The period of the data received, which the backend may have widened (SageMaker's
    // endpoint metrics come in whole minutes), not the one asked for.
    let period = data.map_or(window.period(), |m| m.period);
    let title = Line::from(vec![
        Span::styled(" Endpoint metrics ", theme.title),
        Span::styled(
            format!(
                "last {} · {} periods · +/- window ",
                fmt_window(window.length()),
                fmt_window(period)
            ),
            theme.dim,
        ),
    ]);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(m) = data else {
        frame.render_widget(
            Paragraph::new("waiting for metrics…").style(theme.dim),
            inner,
        );
        return;
    };
    let (n, avg, max, errors) = totals(m);
    let summary = Line::from(vec![
        Span::styled("invocations ", theme.dim),
        Span::styled(format!("{n:.0}"), theme.text),
        Span::styled("  latency avg ", theme.dim),
        Span::styled(
            avg.map(|v| format!("{v:.2} ms")).unwrap_or("-".into()),
            theme.text,
        ),
        Span::styled("  max ", theme.dim),
        Span::styled(
            max.map(|v| format!("{v:.2} ms")).unwrap_or("-".into()),
            theme.text,
        ),
        Span::styled("  errors ", theme.dim),
        Span::styled(
            format!("{errors:.0}"),
            if errors > 0.0 { theme.bad } else { theme.text },
        ),
    ]);
    let [summary_area, inv_area, lat_area, err_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Percentage(30),
        Constraint::Min(5),
        Constraint::Percentage(20),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(summary), summary_area);
    // One time axis for the three charts: each period at its time, the window ending now,
    // so a series that covers part of the window is drawn where it happened.
    let axis = TimeAxis::new(shared, m);
    // A bar of height 0 would still draw a dot: periods without any are left empty.
    let counts = |v: &[f64]| axis.points(v.iter().map(|v| (*v > 0.0).then_some(*v)));
    let invocations = counts(&m.invocations);
    let errors = counts(&m.errors);
    let last = |v: &[f64]| v.last().copied().unwrap_or(0.0);
    let peak = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    draw_timed(
        frame,
        inv_area,
        shared,
        &axis,
        format!(
            "invocations / period: last {:.0}, peak {:.0}",
            last(&m.invocations),
            peak(&m.invocations)
        ),
        &[("invocations", theme.series, &invocations, GraphType::Bar)],
        false,
    );
    let avg = axis.points(m.latency_ms.iter().copied());
    let max = axis.points(m.latency_max_ms.iter().copied());
    draw_timed(
        frame,
        lat_area,
        shared,
        &axis,
        "model latency (ms)".to_owned(),
        &[
            ("avg ms", theme.series, &avg, GraphType::Line),
            ("max ms", theme.series_alt, &max, GraphType::Line),
        ],
        false,
    );
    draw_timed(
        frame,
        err_area,
        shared,
        &axis,
        format!(
            "errors (4XX+5XX): last {:.0}, peak {:.0}",
            last(&m.errors),
            peak(&m.errors)
        ),
        &[("errors", theme.bad, &errors, GraphType::Bar)],
        true,
    );
}

/// Where each period goes on the x axis: seconds before now (the window's end), at the
/// middle of the period.
struct TimeAxis {
    window_secs: f64,
    /// x of period 0 and the step between periods.
    first: f64,
    step: f64,
}

impl TimeAxis {
    fn new(shared: &Shared, m: &EndpointMetrics) -> TimeAxis {
        let window_secs = shared.window.length().as_secs_f64();
        let step = m.period.as_secs_f64();
        let n = m.invocations.len().max(1) as f64;
        let first = match m.start {
            Some(start) => (start - shared.now).num_milliseconds() as f64 / 1000.0 + step / 2.0,
            // No start time: the newest period ends now.
            None => -(n - 0.5) * step,
        };
        TimeAxis {
            window_secs,
            first,
            step,
        }
    }

    /// The points of a series, one per period with a value.
    fn points(&self, series: impl Iterator<Item = Option<f64>>) -> Vec<(f64, f64)> {
        series
            .enumerate()
            .filter_map(|(i, v)| Some((self.first + i as f64 * self.step, v?)))
            .collect()
    }
}

/// One series of a timed chart: its name, style, points and how it is drawn.
type Series<'a> = (&'a str, ratatui::style::Style, &'a [(f64, f64)], GraphType);

/// A chart over the window, x from `-window` to now, y from 0 to the datasets' peak.
fn draw_timed(
    frame: &mut Frame,
    area: Rect,
    shared: &Shared,
    axis: &TimeAxis,
    title: String,
    series: &[Series],
    time_labels: bool,
) {
    let theme = &shared.theme;
    let top = series
        .iter()
        .flat_map(|(_, _, points, _)| points.iter().map(|p| p.1))
        .fold(0.0_f64, f64::max)
        .max(0.1)
        * 1.1;
    let datasets: Vec<Dataset> = series
        .iter()
        .map(|(name, style, points, kind)| {
            Dataset::default()
                .name(*name)
                .marker(Marker::Braille)
                .graph_type(*kind)
                .style(*style)
                .data(points)
        })
        .collect();
    // A legend only where it tells series apart.
    let legend = if series.len() > 1 {
        (Constraint::Ratio(1, 3), Constraint::Ratio(1, 2))
    } else {
        (Constraint::Length(0), Constraint::Length(0))
    };
    let window = fmt_window(shared.window.length());
    let chart = Chart::new(datasets)
        .block(Block::default().title(Span::styled(title, theme.dim)))
        .hidden_legend_constraints(legend)
        // Top left, over the oldest points: at the default top right it covered the newest
        // two minutes, the ones an operator looks at.
        .legend_position(Some(LegendPosition::TopLeft))
        .x_axis({
            // The charts are stacked on one time axis: its labels once, under the last.
            let x = Axis::default()
                .bounds([-axis.window_secs, 0.0])
                .style(theme.dim);
            if time_labels {
                x.labels([format!("-{window}"), "now".to_owned()])
            } else {
                x
            }
        })
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                // One label width for every chart, so their plots start in one column and
                // a time is at the same place in each.
                .labels([format!("{:>6}", 0), format!("{top:>6.1}")])
                .style(theme.dim),
        );
    frame.render_widget(chart, area);
}

/// Invocations and latency sparklines of `data` for the overview.
pub fn draw_compact(
    frame: &mut Frame,
    area: Rect,
    shared: &Shared,
    data: Option<&EndpointMetrics>,
) {
    let theme = &shared.theme;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Line::from(vec![
            Span::styled(" Endpoint ", theme.title),
            Span::styled(
                format!("last {} ", fmt_window(shared.window.length())),
                theme.dim,
            ),
        ]));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(m) = data else {
        frame.render_widget(
            Paragraph::new("waiting for metrics…").style(theme.dim),
            inner,
        );
        return;
    };
    let invocations: Vec<Option<f64>> = m.invocations.iter().copied().map(Some).collect();
    let [a, b] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(inner);
    draw_sparkline(
        frame,
        a,
        shared,
        ("invocations", theme.series),
        &invocations,
        false,
    );
    draw_sparkline(
        frame,
        b,
        shared,
        ("latency ms", theme.series_alt),
        &m.latency_ms,
        true,
    );
}

/// One series of the overview as a sparkline titled with its last and peak values; a
/// period without data is `-` (as tab 2 shows it), never `0.0`. With `time_axis`, the
/// window's ends under it (`-15m`, `now`), as the charts of tab 2 have theirs.
fn draw_sparkline(
    frame: &mut Frame,
    area: Rect,
    shared: &Shared,
    (label, style): (&str, ratatui::style::Style),
    values: &[Option<f64>],
    time_axis: bool,
) {
    let shown = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"));
    let last = values.last().copied().flatten();
    let peak = values.iter().flatten().copied().reduce(f64::max);
    // Sparklines take integers: scale so that fractional series (ms) keep their shape.
    let scale = match peak {
        Some(peak) if peak > 0.0 && peak < 100.0 => 100.0 / peak,
        _ => 1.0,
    };
    let data: Vec<u64> = values
        .iter()
        .map(|v| (v.unwrap_or(0.0) * scale).round().max(0.0) as u64)
        .collect();
    let title = Span::styled(
        format!("{label}: last {}, peak {}", shown(last), shown(peak)),
        shared.theme.dim,
    );
    let mut block = Block::default().title(title);
    if time_axis {
        let window = fmt_window(shared.window.length());
        block = block
            .title_bottom(Line::styled(format!("-{window}"), shared.theme.dim).left_aligned())
            .title_bottom(Line::styled("now", shared.theme.dim).right_aligned());
    }
    let spark = Sparkline::default().block(block).data(&data).style(style);
    frame.render_widget(spark, area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::shared::Window;

    #[test]
    fn window_steps_and_stops_at_the_ends() {
        let w = Window::default();
        assert_eq!(fmt_window(w.length()), "15m");
        assert_eq!(fmt_window(w.period()), "15s");
        let narrow = w.step(-1);
        assert_ne!(narrow, w);
        assert_eq!(narrow.step(-1), narrow);
        assert_eq!(fmt_window(narrow.length()), "5m");
        let mut wide = w;
        for _ in 0..10 {
            wide = wide.step(1);
        }
        assert_eq!(fmt_window(wide.length()), "24h");
        assert_eq!(fmt_window(wide.period()), "24m");
    }

    #[test]
    fn totals_weight_latency_by_invocations() {
        let m = EndpointMetrics {
            invocations: vec![1.0, 3.0],
            latency_ms: vec![Some(4.0), Some(0.0)],
            latency_max_ms: vec![Some(5.0), Some(1.0)],
            errors: vec![0.0, 2.0],
            ..EndpointMetrics::default()
        };
        let (n, avg, max, errors) = totals(&m);
        assert_eq!((n, avg, max, errors), (4.0, Some(1.0), Some(5.0), 2.0));
    }
}
