//! Decision quality over the selected window: of the executions that finished in it and
//! whose image has a label, how many the threshold accepted, how right those were (with a
//! 95% Wilson interval, so 40 images are not read as certainty), the errors let through,
//! the work referred to a person for nothing, and the risk-coverage curve with the
//! threshold in force marked. Unlabelled traffic is counted apart, never judged.
//!
//! Everything is derived from the executions list (scores and labels ride on its rows): no
//! backend call of its own. The decisions are recomputed from the scores at the threshold
//! in force, so the curve and the numbers agree; measures are those of
//! [`scones_workflow::quality`], the ones `scones eval` and `scones threshold` print.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Borders, Cell, Chart, Dataset, GraphType, Paragraph, Row, Table,
};

use scones_workflow::port::{ExecutionSummary, Request, Response, TimeRange};
use scones_workflow::quality::{Decisions, Labelled, risk_coverage, table_thresholds};
use scones_workflow::review::{VersionQuality, production_quality};

use crate::dashboard::action::View;
use crate::dashboard::components::truncate;
use crate::dashboard::keymap::KeyAction;
use crate::dashboard::panel::{Feed, FeedOwner, OnError, Panel, Scope};
use crate::dashboard::panels::metrics::{fmt_window, window_hints};
use crate::dashboard::shared::Shared;

/// This tab.
pub const VIEW: View = View("quality");

/// The tab: the offline view comes from the executions list (test images carry labels);
/// the production view from people's labels (its one feed).
#[derive(Debug, Clone, Default)]
pub struct QualityPanel {
    /// Production quality per model version, from the reviewed labels.
    pub production: Option<Vec<VersionQuality>>,
}

impl Panel for QualityPanel {
    fn view(&self) -> View {
        VIEW
    }

    fn title(&self) -> &'static str {
        "Quality"
    }

    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        let rows = self
            .production
            .as_ref()
            .map_or(0, |p| p.len().min(4) as u16);
        let [offline, production] = Layout::vertical([
            Constraint::Min(0),
            Constraint::Length(if rows > 0 { rows + 2 } else { 0 }),
        ])
        .areas(area);
        draw(frame, offline, shared);
        if let Some(p) = self.production.as_ref().filter(|p| !p.is_empty()) {
            draw_production(frame, production, shared, p);
        }
    }

    fn hints(&self, _shared: &Shared) -> Vec<(KeyAction, &'static str)> {
        window_hints()
    }

    fn copy(&self, shared: &Shared) -> Option<String> {
        let range = shared.range();
        let s = Summary::of(shared.executions.rows(), &range);
        let at = Decisions::at(&s.labelled, shared.info.threshold);
        serde_json::to_string_pretty(&serde_json::json!({
            "window_seconds": shared.window.length().as_secs(),
            "finished": s.finished,
            "classified": s.classified,
            "labelled": s.labelled.len(),
            "unlabelled": s.unlabelled(),
            "at_threshold": at,
            "accepted_accuracy_95": at.accepted_accuracy_interval(),
        }))
        .ok()
    }
}

impl FeedOwner for QualityPanel {
    const FEEDS: &'static [Feed<QualityPanel>] = &[Feed {
        name: "labels",
        interval: |_, base| (base * 5).max(std::time::Duration::from_secs(5)),
        scope: Scope::Global,
        wanted: |_, _, visible| visible,
        request: |_, _| Some(Request::Labels),
        accept: |panel, response, _| {
            if let Response::Labels(labels) = response {
                panel.production = Some(production_quality(&labels));
            }
        },
        // A backend without review (AWS, for now): the production view stays away.
        on_error: OnError::InPlace(|panel, _, _, _| panel.production = None),
    }];
}

/// Production quality per model version, from people's labels: the accepted decisions'
/// accuracy estimated from the audit sample (with its Wilson interval), and how many of the
/// reviewed refusals the model would have got right.
fn draw_production(frame: &mut Frame, area: Rect, shared: &Shared, versions: &[VersionQuality]) {
    let theme = &shared.theme;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Span::styled(
            " Production, from reviewed labels (per model version) ",
            theme.title,
        ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let lines: Vec<Line> = versions
        .iter()
        .rev()
        .take(inner.height as usize)
        .map(|v| {
            let accepted = match v.accepted_accuracy() {
                Some((a, (lo, hi))) => format!(
                    "accepted {:.1}% [{:.1}, {:.1}] on {} audited",
                    a * 100.0,
                    lo * 100.0,
                    hi * 100.0,
                    v.audited
                ),
                None => "accepted: no audited decision labelled yet".to_owned(),
            };
            let refused = match v.refused_right_share() {
                Some(r) => format!(
                    " · refused but right {}/{} ({:.0}%)",
                    v.refused_right,
                    v.refused,
                    r * 100.0
                ),
                None => String::new(),
            };
            Line::from(vec![
                Span::styled(format!("{} ", truncate(&v.model, 30)), theme.dim),
                Span::styled(accepted, theme.text),
                Span::styled(refused, theme.dim),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

/// Thresholds listed beside the curve (the one in force is added).
const LISTED: [f64; 6] = [0.50, 0.80, 0.85, 0.90, 0.95, 0.99];

/// What the window holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Executions that finished in the window.
    pub finished: usize,
    /// ... of which were classified (have scores).
    pub classified: usize,
    /// Classified with a label.
    pub labelled: Vec<Labelled>,
}

impl Summary {
    /// The summary of `rows` that finished in `range`.
    pub fn of<'a>(rows: impl Iterator<Item = &'a ExecutionSummary>, range: &TimeRange) -> Summary {
        let mut s = Summary {
            finished: 0,
            classified: 0,
            labelled: Vec::new(),
        };
        for row in rows.filter(|r| r.stop.is_some_and(|t| range.contains(t))) {
            s.finished += 1;
            if row.scores.is_some() {
                s.classified += 1;
            }
            if let Some(l) = row.labelled() {
                s.labelled.push(l);
            }
        }
        s
    }

    /// Classified images without a label.
    pub fn unlabelled(&self) -> usize {
        self.classified - self.labelled.len()
    }
}

/// Draws the view.
fn draw(frame: &mut Frame, area: Rect, shared: &Shared) {
    let theme = &shared.theme;
    let threshold = shared.info.threshold;
    let window = shared.window.length();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Line::from(vec![
            Span::styled(" Decision quality ", theme.title),
            Span::styled(
                format!("last {} · threshold {threshold} ", fmt_window(window)),
                theme.dim,
            ),
        ]));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let range = shared.range();
    let summary = Summary::of(shared.executions.rows(), &range);
    let [counts_line, body] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(
                format!(
                    "{} finished · {} classified · {} with a label",
                    summary.finished,
                    summary.classified,
                    summary.labelled.len()
                ),
                theme.text,
            ),
            Span::styled(
                format!(
                    " · {} unlabelled (no ground truth: not judged)",
                    summary.unlabelled()
                ),
                theme.dim,
            ),
        ])),
        counts_line,
    );
    if summary.labelled.is_empty() {
        frame.render_widget(
            Paragraph::new(
                "No labelled executions in the window: test images (test.lst) carry labels; \
                 widen the window or start test executions.",
            )
            .style(theme.dim)
            .wrap(ratatui::widgets::Wrap { trim: true }),
            body,
        );
        return;
    }
    let at = Decisions::at(&summary.labelled, threshold);
    let facts = fact_lines(shared, &summary, &at);
    // The curve goes beside the numbers only where both fit: the numbers' lines are never
    // cut (at 120 columns a fixed 52 cut "of 1 referred to a person" and "if every
    // prediction were acted on", which fit at 80, where the curve goes below).
    let numbers_width = facts.iter().map(Line::width).max().unwrap_or(0) as u16 + 1;
    let [numbers, chart] = if body.width >= numbers_width + MIN_CURVE_WIDTH {
        Layout::horizontal([Constraint::Length(numbers_width), Constraint::Min(0)]).areas(body)
    } else {
        Layout::vertical([Constraint::Length(18), Constraint::Min(0)]).areas(body)
    };
    draw_numbers(frame, numbers, shared, &summary, &at, facts);
    draw_curve(frame, chart, shared, &summary, &at);
}

/// The narrowest risk-coverage curve drawn beside the numbers.
const MIN_CURVE_WIDTH: u16 = 40;

fn percent(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// The facts at the threshold, one per line.
fn fact_lines(shared: &Shared, s: &Summary, at: &Decisions) -> Vec<Line<'static>> {
    let theme = &shared.theme;
    let accuracy = at.accepted_accuracy().map_or("-".to_owned(), percent);
    let interval = at
        .accepted_accuracy_interval()
        .map_or(String::new(), |(lo, hi)| {
            format!("95% CI {}–{}", percent(lo), percent(hi))
        });
    let rejected = at.total - at.accepted;
    vec![
        Line::from(Span::styled(
            format!("at threshold {} (from the scores)", at.threshold),
            theme.dim,
        )),
        fact(
            "coverage",
            percent(at.coverage()),
            format!("{} of {} accepted", at.accepted, at.total),
            theme.text,
            shared,
        ),
        fact(
            "accuracy of accepted",
            accuracy,
            interval,
            theme.text,
            shared,
        ),
        fact(
            "accepted but wrong",
            at.accepted_wrong().to_string(),
            "errors let through".to_owned(),
            if at.accepted_wrong() > 0 {
                theme.bad
            } else {
                theme.ok
            },
            shared,
        ),
        fact(
            "rejected but right",
            at.rejected_correct.to_string(),
            format!("of {rejected} referred to a person"),
            theme.warn,
            shared,
        ),
        fact(
            "accuracy, all labelled",
            percent(
                s.labelled.iter().filter(|l| l.correct()).count() as f64 / s.labelled.len() as f64,
            ),
            "if every prediction were acted on".to_owned(),
            theme.text,
            shared,
        ),
    ]
}

/// The facts (`lines`), then the risk-coverage table.
fn draw_numbers(
    frame: &mut Frame,
    area: Rect,
    shared: &Shared,
    s: &Summary,
    at: &Decisions,
    lines: Vec<Line<'static>>,
) {
    let theme = &shared.theme;
    let [facts, table] = Layout::vertical([
        Constraint::Length(lines.len() as u16 + 1),
        Constraint::Min(0),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(lines), facts);
    let mut thresholds: Vec<f64> = LISTED.to_vec();
    if !thresholds.iter().any(|t| (t - at.threshold).abs() < 1e-9) {
        thresholds.push(at.threshold);
        thresholds.sort_by(f64::total_cmp);
    }
    let rows = risk_coverage(&s.labelled, thresholds).into_iter().map(|d| {
        let current = (d.threshold - at.threshold).abs() < 1e-9;
        Row::new(vec![
            Cell::from(format!(
                "{}{:.2}",
                if current { "▶" } else { " " },
                d.threshold
            )),
            Cell::from(percent(d.coverage())),
            Cell::from(d.accepted_accuracy().map_or("-".to_owned(), percent)),
            Cell::from(d.accepted_wrong().to_string()),
        ])
        .style(if current { theme.selected } else { theme.text })
    });
    frame.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(6),
                Constraint::Length(9),
                Constraint::Length(9),
                Constraint::Length(6),
            ],
        )
        .header(Row::new(["THRESH", "COVERAGE", "ACCURACY", "WRONG"]).style(theme.dim)),
        table,
    );
}

fn fact(
    name: &str,
    value: String,
    note: String,
    style: ratatui::style::Style,
    shared: &Shared,
) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{name:<23}"), shared.theme.dim),
        Span::styled(format!("{value:>7}"), style),
        Span::styled(format!("  {note}"), shared.theme.dim),
    ])
}

/// Accuracy of the accepted against coverage for thresholds 0.50..0.99: moving right
/// accepts more and (usually) lets more errors through. The threshold in force is marked.
/// Rows a chart needs to say anything: its title, two axis labels apart, the x axis.
const MIN_CHART_ROWS: u16 = 5;

fn draw_curve(frame: &mut Frame, area: Rect, shared: &Shared, s: &Summary, at: &Decisions) {
    // Squeezed below that (a short terminal with the production box open) its labels
    // overlap ("85.0%" under "100%" read "100%%"): the table above says it all.
    if area.height < MIN_CHART_ROWS {
        return;
    }
    let theme = &shared.theme;
    let curve: Vec<(f64, f64)> = risk_coverage(&s.labelled, table_thresholds())
        .iter()
        .filter_map(|d| Some((d.coverage(), d.accepted_accuracy()?)))
        .collect();
    let marker: Vec<(f64, f64)> = at
        .accepted_accuracy()
        .map(|a| (at.coverage(), a))
        .into_iter()
        .collect();
    let floor = curve.iter().map(|p| p.1).fold(1.0_f64, f64::min).min(0.9);
    let floor = (floor * 20.0).floor() / 20.0;
    let datasets = vec![
        Dataset::default()
            .name("0.50→0.99")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.series)
            .data(&curve),
        Dataset::default()
            .name(format!("threshold {}", at.threshold))
            .marker(Marker::Block)
            .graph_type(GraphType::Scatter)
            .style(theme.series_alt)
            .data(&marker),
    ];
    let chart = Chart::new(datasets)
        .block(
            Block::default().title(Span::styled(
                // The long form where it fits, the short one beside the numbers at 120 columns.
                [
                    "risk-coverage: accuracy of accepted (y) vs share accepted (x)",
                    "risk-coverage (y: accuracy, x: coverage)",
                ]
                .into_iter()
                .find(|title| title.chars().count() <= usize::from(area.width))
                .unwrap_or("risk-coverage"),
                theme.dim,
            )),
        )
        .x_axis(
            Axis::default()
                .bounds([0.0, 1.0])
                .labels(["0%", "50%", "100%"])
                .style(theme.dim),
        )
        .y_axis(
            Axis::default()
                .bounds([floor, 1.0])
                .labels([percent(floor), "100%".to_owned()])
                .style(theme.dim),
        );
    frame.render_widget(chart, area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};
    use scones_workflow::ExecutionStatus;
    use scones_workflow::class::Class;
    use scones_workflow::port::ExecutionId;

    fn row(
        i: i64,
        stop_minutes_ago: i64,
        scores: Option<[f64; 2]>,
        label: Option<Class>,
    ) -> ExecutionSummary {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        let stop = now - Duration::minutes(stop_minutes_ago);
        ExecutionSummary {
            id: ExecutionId::new(format!("e{i}")),
            name: format!("e{i}"),
            s3_key: Some("test/x.png".into()),
            status: ExecutionStatus::Succeeded,
            start: stop - Duration::seconds(1),
            stop: Some(stop),
            error: None,
            cause: None,
            scores,
            label,
            model: None,
        }
    }

    #[test]
    fn the_window_counts_finished_classified_labelled_and_unlabelled() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        let range = TimeRange::ending_at(now, std::time::Duration::from_secs(15 * 60));
        let rows = [
            row(1, 1, Some([0.9, 0.1]), Some(Class::Bicycle)),
            row(2, 2, Some([0.2, 0.8]), None),
            row(3, 3, None, Some(Class::Bicycle)),
            row(4, 60, Some([0.9, 0.1]), Some(Class::Motorcycle)),
        ];
        let s = Summary::of(rows.iter(), &range);
        assert_eq!(
            (s.finished, s.classified, s.labelled.len(), s.unlabelled()),
            (3, 2, 1, 1)
        );
        assert_eq!(s.labelled[0].label, Class::Bicycle);
    }
}
