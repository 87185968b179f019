//! Drift: the served model's captured traffic against the baseline saved with it. Each
//! statistic (confidence, class mix, low-confidence rate, the input images' brightness,
//! contrast, sharpness and colour) with its baseline and current value, PSI, KS p-value,
//! verdict and the verdicts of the windows before (trend); under it, the selected
//! statistic's baseline and current distributions. The header shows `DRIFT WARN|ALERT`
//! from any tab.
//!
//! The numbers are the backend's ([`scones_workflow::drift`], what `scones drift` prints);
//! this module only draws them.

use std::sync::Arc;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Borders, Cell, Chart, Dataset, GraphType, Paragraph, Row, Table, Wrap,
};

use scones_workflow::drift::{DriftView, Finding, Histogram, Statistic, Verdict, WindowSpec};

use crate::dashboard::action::{Action, View};
use crate::dashboard::components::header::fmt_age;
use crate::dashboard::panel::{Feed, FeedOwner, Handled, OnError, Panel, Scope};
use crate::dashboard::shared::Shared;
use crate::dashboard::theme::Theme;
use scones_workflow::port::{Request, Response};

/// This tab.
pub const VIEW: View = View("drift");

/// The window the dashboard judges: the last 500 inferences (`scones drift`'s default), and
/// the five before it as the trend.
pub const WINDOW: WindowSpec = WindowSpec::Count(500);
/// Windows asked for: the current one and its trend.
pub const WINDOWS: usize = 6;

/// The drift panel's data.
#[derive(Debug, Clone, Default)]
pub struct DriftPanel {
    /// The last answer.
    pub view: Option<Arc<DriftView>>,
    /// Why the last request failed (no baseline, not on this backend), shown in the panel
    /// rather than as a toast every refresh.
    pub error: Option<String>,
    /// The selected statistic (row).
    pub selected: usize,
}

impl DriftPanel {
    /// Stores an answer.
    pub fn set(&mut self, view: Arc<DriftView>) {
        self.view = Some(view);
        self.error = None;
    }

    /// Stores a failure (keeping the last view: it is still the latest known).
    pub fn fail(&mut self, error: String) {
        self.error = Some(error);
    }

    /// Moves the selection.
    pub fn move_by(&mut self, delta: i64) {
        let rows = Statistic::all().count();
        let next = (self.selected as i64)
            .saturating_add(delta)
            .clamp(0, rows as i64 - 1);
        self.selected = next as usize;
    }

    /// The current window's verdict, when there is one to show (WARN or ALERT).
    pub fn alarm(&self) -> Option<Verdict> {
        let verdict = self.view.as_ref()?.verdict();
        (verdict >= Verdict::Warn).then_some(verdict)
    }
}

/// The style of a verdict.
pub fn verdict_style(theme: &Theme, verdict: Verdict) -> Style {
    match verdict {
        Verdict::Alert => theme.bad,
        Verdict::Warn => theme.warn,
        Verdict::Ok => theme.ok,
        Verdict::NotEnoughData => theme.dim,
    }
}

impl Panel for DriftPanel {
    fn view(&self) -> View {
        VIEW
    }

    fn title(&self) -> &'static str {
        "Drift"
    }

    fn handle(&mut self, action: &Action, _shared: &mut Shared) -> Handled {
        match action {
            Action::Move(d) => self.move_by(i64::from(*d)),
            Action::First => self.move_by(i64::MIN / 2),
            Action::Last => self.move_by(i64::MAX / 2),
            _ => return Handled::No,
        }
        Handled::Yes
    }

    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        draw(frame, area, shared, self);
    }

    /// The whole report: what `scones drift --json` would print for these windows.
    fn copy(&self, _shared: &Shared) -> Option<String> {
        serde_json::to_string_pretty(self.view.as_ref()?.as_ref()).ok()
    }
}

impl FeedOwner for DriftPanel {
    const FEEDS: &'static [Feed<DriftPanel>] = &[Feed {
        name: "drift",
        // Wanted on every tab: the header shows a WARN or ALERT wherever the user is. Each
        // refresh reads the current windows' capture files (~0.1 s for 10,000 inferences).
        interval: |_, base| (base * 5).max(std::time::Duration::from_secs(5)),
        scope: Scope::Global,
        wanted: |_, _, _| true,
        request: |_, _| {
            Some(Request::Drift {
                window: WINDOW,
                windows: WINDOWS,
            })
        },
        accept: |panel, response, shared| {
            if let Response::Drift(view) = response {
                panel.set(view);
                shared.drift_alarm = panel.alarm();
            }
        },
        // A missing baseline is said in the drift view, not in a toast every refresh.
        on_error: OnError::InPlace(|panel, _, error, _| panel.fail(error.to_string())),
    }];
}

/// Draws the view.
fn draw(frame: &mut Frame, area: Rect, shared: &Shared, state: &DriftPanel) {
    let theme = &shared.theme;
    let mut title = vec![Span::styled(" Drift ", theme.title)];
    if let Some(view) = &state.view {
        title.push(Span::styled(
            format!("{} vs baseline · ", view.window),
            theme.dim,
        ));
        let verdict = view.verdict();
        title.push(Span::styled(
            format!("{} ", verdict.label()),
            verdict_style(theme, verdict),
        ));
        // On AWS the view is the monitor's last report: say how old it is.
        let age = view.computed.and_then(|t| (shared.now - t).to_std().ok());
        if let Some(age) = age.filter(|age| age.as_secs() >= 60) {
            title.push(Span::styled(
                format!("· report {} old ", fmt_age(age)),
                theme.dim,
            ));
        }
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Line::from(title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(view) = &state.view else {
        let text = state.error.clone().unwrap_or_else(|| "loading…".to_owned());
        frame.render_widget(
            Paragraph::new(text)
                .style(theme.dim)
                .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    };
    let Some(current) = view.current() else {
        frame.render_widget(
            Paragraph::new("no captured traffic since the model was trained: press t or T")
                .style(theme.dim),
            inner,
        );
        return;
    };
    let rows = Statistic::all().count() as u16;
    let [summary, table, chart] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(rows + 1),
        Constraint::Min(0),
    ])
    .areas(inner);
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!(
                "{} inferences ({} distinct images) · model {} · ",
                current.inferences,
                current.inferences - current.repeats,
                view.model
            ),
            theme.text,
        ),
        Span::styled(
            format!(
                "PSI ≥ {} WARN, ≥ {} ALERT when KS p < {}",
                current.report.cutoffs.psi_warn,
                current.report.cutoffs.psi_alert,
                current.report.cutoffs.significance
            ),
            theme.dim,
        ),
    ])];
    let mut note = format!("baseline: inputs from {}", view.inputs_from);
    match &view.outputs_from {
        Some(from) => note.push_str(&format!("; outputs from {from}")),
        None => note.push_str("; no output baseline"),
    }
    if let Some(error) = &state.error {
        note = format!("refresh failed: {error}");
    }
    lines.push(Line::styled(note, theme.dim));
    frame.render_widget(Paragraph::new(lines), summary);
    draw_table(frame, table, theme, state.selected, view);
    if let Some(finding) = current.report.findings.get(state.selected) {
        draw_distributions(frame, chart, theme, finding);
    }
}

fn draw_table(frame: &mut Frame, area: Rect, theme: &Theme, selected: usize, view: &DriftView) {
    let Some(current) = view.current() else {
        return;
    };
    let number = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.3}"));
    let rows = current.report.findings.iter().enumerate().map(|(i, f)| {
        let trend: Vec<Span> = view
            .windows
            .iter()
            .filter_map(|w| w.report.finding(f.statistic))
            .map(|f| Span::styled(trend_mark(f.verdict), verdict_style(theme, f.verdict)))
            .collect();
        let row = Row::new(vec![
            Cell::from(f.statistic.label()),
            Cell::from(number(f.baseline_mean)),
            Cell::from(number(f.current_mean)),
            Cell::from(number(f.psi)),
            Cell::from(f.ks.map_or("-".to_owned(), |k| k.p_value_text())),
            Cell::from(Span::styled(
                // An empty baseline side is not "too few": there is nothing to compare with
                // (an AWS baseline without a held-out set has no outputs).
                if f.baseline.total() == 0 {
                    "n/a"
                } else {
                    short(f.verdict)
                },
                verdict_style(theme, f.verdict),
            )),
            Cell::from(Line::from(trend)),
        ]);
        if i == selected {
            row.style(theme.selected)
        } else {
            row
        }
    });
    let widths = [
        Constraint::Length(19),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Min(6),
    ];
    let header = Row::new([
        "statistic",
        "baseline",
        "window",
        "PSI",
        "KS p",
        "verdict",
        "trend",
    ])
    .style(theme.dim);
    frame.render_widget(Table::new(rows, widths).header(header), area);
}

/// Baseline and window shares per bin of the selected statistic, as two step lines.
fn draw_distributions(frame: &mut Frame, area: Rect, theme: &Theme, finding: &Finding) {
    if area.height < 4 {
        return;
    }
    let shares = |h: &Histogram| -> Vec<(f64, f64)> {
        let total = h.total().max(1) as f64;
        let width = (h.hi - h.lo) / h.counts.len().max(1) as f64;
        h.counts
            .iter()
            .enumerate()
            .flat_map(|(i, &c)| {
                let x = h.lo + width * i as f64;
                let y = c as f64 / total;
                [(x, y), (x + width, y)]
            })
            .collect()
    };
    let (baseline, current) = (shares(&finding.baseline), shares(&finding.current));
    let top = baseline
        .iter()
        .chain(&current)
        .map(|p| p.1)
        .fold(0.0f64, f64::max)
        .max(0.01);
    let (lo, hi) = (finding.baseline.lo, finding.baseline.hi);
    let datasets = vec![
        Dataset::default()
            .name("baseline")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.series_alt)
            .data(&baseline),
        Dataset::default()
            .name("window")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(verdict_style(theme, finding.verdict))
            .data(&current),
    ];
    let x_labels = match finding.statistic {
        Statistic::PredictedClass => vec![Span::raw("bicycle"), Span::raw("motorcycle")],
        Statistic::LowConfidenceRate => vec![Span::raw("below"), Span::raw("at or above")],
        _ => vec![Span::raw(format!("{lo}")), Span::raw(format!("{hi}"))],
    };
    let chart = Chart::new(datasets)
        .block(
            Block::default()
                .borders(Borders::TOP)
                .border_style(theme.border)
                .title(Span::styled(
                    format!(" {}: share per bin ", finding.statistic.label()),
                    theme.dim,
                )),
        )
        .x_axis(
            Axis::default()
                .bounds([lo, hi])
                .labels(x_labels)
                .style(theme.dim),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                .labels([Span::raw("0"), Span::raw(format!("{:.0}%", top * 100.0))])
                .style(theme.dim),
        );
    frame.render_widget(chart, area);
}

/// A verdict in the table.
fn short(v: Verdict) -> &'static str {
    match v {
        Verdict::NotEnoughData => "few",
        Verdict::Ok => "OK",
        Verdict::Warn => "WARN",
        Verdict::Alert => "ALERT",
    }
}

/// A verdict in the trend column: one cell each.
fn trend_mark(v: Verdict) -> &'static str {
    match v {
        Verdict::NotEnoughData => "·",
        Verdict::Ok => "▁",
        Verdict::Warn => "▄",
        Verdict::Alert => "█",
    }
}
