//! The panels. Each module holds a panel's state (updated by [`App::update`]) and its
//! `draw` function; this module lays them out and draws the whole screen.
//!
//! Drawing is a pure function of [`App`]: no I/O, no awaits, no mutation. The layout is
//! computed by [`areas`] from the terminal size alone, so the mouse handler hit-tests
//! against exactly the rectangles that were drawn.

pub mod capture;
pub mod detail;
pub mod drift;
pub mod executions;
pub mod header;
pub mod help;
pub mod image;
pub mod logs;
pub mod low_confidence;
pub mod metrics;
pub mod quality;
pub mod toasts;

use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::dashboard::action::View;
use crate::dashboard::app::App;
use crate::dashboard::keymap::{InputMode, KeyAction};
use crate::dashboard::worker::Slot;
use scones_workflow::port::BackendKind;

/// Smallest terminal the dashboard draws in; below it, a message asks for more room.
pub const MIN_SIZE: (u16, u16) = (60, 16);

/// True when `size` is below [`MIN_SIZE`]: only the notice is drawn, and mutating keys are
/// ignored (their effect could not be seen).
pub fn is_too_small(size: Rect) -> bool {
    size.width < MIN_SIZE.0 || size.height < MIN_SIZE.1
}

/// Where each part of the screen goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Areas {
    /// Header (two lines).
    pub header: Rect,
    /// Tab bar.
    pub tabs: Rect,
    /// The view's body.
    pub body: Rect,
    /// Key hints or the filter input.
    pub footer: Rect,
    /// The executions list (zero when the view does not show it).
    pub list: Rect,
    /// The execution detail, full or as the wide view's preview (zero when not shown).
    pub detail: Rect,
    /// Compact metrics in the wide executions view.
    pub mini_metrics: Rect,
    /// Compact capture chart in the wide executions view.
    pub mini_capture: Rect,
}

/// True when the terminal is large enough for the overview layout (list + preview +
/// metrics + capture on one screen).
pub fn is_wide(size: Rect) -> bool {
    size.width >= 120 && size.height >= 34
}

/// The layout for `app`'s view in a terminal of `size`.
pub fn areas(size: Rect, app: &App) -> Areas {
    let [header, tabs, body, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(size);
    let mut a = Areas {
        header,
        tabs,
        body,
        footer,
        ..Areas::default()
    };
    if app.view != View::Executions {
        return a;
    }
    if app.detail_open {
        a.detail = body;
        return a;
    }
    if is_wide(size) {
        let [top, bottom] =
            Layout::vertical([Constraint::Min(0), Constraint::Length(12)]).areas(body);
        let [list, detail] =
            Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(top);
        let [m, c] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(bottom);
        a.list = list;
        a.detail = detail;
        a.mini_metrics = m;
        a.mini_capture = c;
    } else {
        a.list = body;
    }
    a
}

/// Where the executions list goes in the Executions view (detail closed).
pub fn list_area(size: Rect) -> Rect {
    let [_, _, body, _] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(size);
    if is_wide(size) {
        let [top, _] = Layout::vertical([Constraint::Min(0), Constraint::Length(12)]).areas(body);
        let [list, _] =
            Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(top);
        list
    } else {
        body
    }
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &App) {
    let size = frame.area();
    if is_too_small(size) {
        // Wrapped, so it fits any size that has room for words at all.
        frame.render_widget(
            Paragraph::new(format!(
                "scones needs at least {}x{}; this terminal is {}x{}. Keys that change \
                 anything are off until it is larger.",
                MIN_SIZE.0, MIN_SIZE.1, size.width, size.height
            ))
            .wrap(ratatui::widgets::Wrap { trim: true })
            .style(app.theme.bad),
            size,
        );
        return;
    }
    let a = areas(size, app);
    header::draw(frame, a.header, app);
    draw_tabs(frame, a.tabs, app);
    match app.view {
        View::Executions => {
            if app.detail_open {
                detail::draw(frame, a.detail, app, app.executions.selected());
            } else {
                executions::draw(frame, a.list, app, true);
                if a.detail.width > 0 {
                    detail::draw(frame, a.detail, app, app.executions.selected());
                }
                if a.mini_metrics.width > 0 {
                    metrics::draw_compact(frame, a.mini_metrics, app);
                    capture::draw(frame, a.mini_capture, app, true);
                }
            }
        }
        View::Metrics => metrics::draw(frame, a.body, app),
        View::LowConfidence => low_confidence::draw(frame, a.body, app),
        View::Capture => capture::draw(frame, a.body, app, false),
        View::Logs => logs::draw(frame, a.body, app),
        View::Quality => quality::draw(frame, a.body, app),
        View::Drift => drift::draw(frame, a.body, app),
    }
    draw_footer(frame, a.footer, app);
    toasts::draw(frame, a.body, app);
    if app.mode == InputMode::Help {
        help::draw(frame, size, app);
    }
}

/// Column ranges of the tab titles in the tab bar `area`.
pub fn tab_ranges(area: Rect) -> Vec<(u16, u16, View)> {
    let short = short_tabs(area.width);
    let mut out = Vec::new();
    let mut pos = area.x;
    for (i, view) in View::ALL.iter().enumerate() {
        let w = tab_label(i, *view, short).chars().count() as u16;
        out.push((pos, pos + w, *view));
        pos += w + 1;
    }
    out
}

/// True when the full titles do not fit in `width` (all seven tabs must stay visible at 80
/// columns).
fn short_tabs(width: u16) -> bool {
    let full: usize = View::ALL
        .iter()
        .enumerate()
        .map(|(i, v)| tab_label(i, *v, false).chars().count() + 1)
        .sum();
    usize::from(width) < full
}

fn tab_label(i: usize, view: View, short: bool) -> String {
    let title = if short {
        view.short_title()
    } else {
        view.title()
    };
    format!(" {} {title} ", i + 1)
}

fn draw_tabs(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let mut spans = Vec::new();
    for (i, view) in View::ALL.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled("│", theme.dim));
        }
        let style = if *view == app.view {
            theme.tab_active
        } else {
            theme.dim
        };
        let label = tab_label(i, *view, short_tabs(area.width));
        // Brackets (same width as the padding) mark the active tab without colours too.
        let label = if *view == app.view {
            format!("[{}]", label.trim())
        } else {
            label
        };
        spans.push(Span::styled(label, style));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_footer(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    if app.mode == InputMode::Filter {
        let line = Line::from(vec![
            Span::styled("/", theme.title),
            Span::styled(app.filter_edit.clone(), theme.text),
            Span::styled("█", theme.dim),
            Span::styled("  Enter keep · Esc cancel", theme.dim),
        ]);
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    let km = &app.config.keymap;
    let mut hints: Vec<(KeyAction, &str)> = vec![(KeyAction::Help, "help")];
    match app.view {
        View::Executions if app.detail_open => {
            hints.extend([
                (KeyAction::Back, "back"),
                (KeyAction::NextTab, "tab"),
                (KeyAction::NextFocus, "pane"),
                (KeyAction::Copy, "copy"),
            ]);
        }
        View::Executions => {
            hints.extend([
                (KeyAction::Open, "detail"),
                (KeyAction::Filter, "filter"),
                (KeyAction::Sort, "sort"),
            ]);
        }
        View::Metrics | View::Capture | View::LowConfidence | View::Quality => {
            hints.extend([
                (KeyAction::WindowWider, "wider"),
                (KeyAction::WindowNarrower, "narrower"),
            ]);
        }
        View::Drift => {}
        View::Logs => hints.push((KeyAction::Copy, "copy")),
    }
    if !app.readonly {
        hints.extend([(KeyAction::Test, "test"), (KeyAction::Burst, "burst")]);
    }
    hints.push((KeyAction::Quit, "quit"));
    let mut spans = Vec::new();
    for (action, label) in hints {
        spans.push(Span::styled(km.hint(action), theme.title));
        spans.push(Span::styled(format!(" {label}  "), theme.dim));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// `850ms`, `1.2s`, `2m03s`, `1h02m`.
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else if ms < 3_600_000 {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    } else {
        format!("{}h{:02}m", ms / 3_600_000, (ms / 60_000) % 60)
    }
}

/// Offset from the start of an execution: `+0.120s`.
pub fn fmt_offset(d: chrono::Duration) -> String {
    format!("+{:.3}s", d.num_milliseconds().max(0) as f64 / 1000.0)
}

/// A start time in the dashboard's time zone: `HH:MM:SS` today, else the date (narrow)
/// or date and time (wide).
pub fn fmt_start(t: DateTime<Utc>, now: DateTime<Utc>, tz: FixedOffset, wide: bool) -> String {
    let local = t.with_timezone(&tz);
    if local.date_naive() == now.with_timezone(&tz).date_naive() {
        if wide {
            local.format("today %H:%M:%S").to_string()
        } else {
            local.format("%H:%M:%S").to_string()
        }
    } else if wide {
        local.format("%m-%d %H:%M:%S").to_string()
    } else {
        local.format("%b %d").to_string()
    }
}

/// At most `max` characters, with `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// "loading…" in a panel whose data has not arrived, or, when its feed has never answered and
/// failed, the error itself and what to check.
pub fn draw_loading(frame: &mut Frame, area: Rect, app: &App, slot: Slot) {
    let theme = &app.theme;
    let text = match app.unavailable(slot) {
        Some(error) => vec![
            Line::styled(error.to_owned(), theme.bad),
            Line::styled(unavailable_hint(app), theme.dim),
        ],
        None => vec![Line::styled("loading…", theme.dim)],
    };
    frame.render_widget(
        Paragraph::new(text).wrap(ratatui::widgets::Wrap { trim: true }),
        area,
    );
}

/// What to check when nothing can be read from the backend.
pub fn unavailable_hint(app: &App) -> String {
    match &app.info.kind {
        BackendKind::Aws { .. } => "Check the region (--region or AWS_REGION), the profile \
            (--profile or AWS_PROFILE) and that its credentials are valid (e.g. aws sso login); \
            this clears as soon as a refresh succeeds."
            .to_owned(),
        BackendKind::Local { home, .. } => format!(
            "Check the home {} and its store (scones.sqlite3); this clears as soon as a \
             refresh succeeds.",
            home.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn formats() {
        assert_eq!(fmt_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(fmt_duration(Duration::from_millis(1250)), "1.2s");
        assert_eq!(fmt_duration(Duration::from_secs(123)), "2m03s");
        assert_eq!(fmt_duration(Duration::from_secs(3720)), "1h02m");
        assert_eq!(fmt_offset(chrono::Duration::milliseconds(1234)), "+1.234s");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        let tz = FixedOffset::east_opt(0).unwrap();
        let now = Utc.with_ymd_and_hms(2025, 3, 2, 12, 0, 0).unwrap();
        let t = Utc.with_ymd_and_hms(2025, 3, 2, 11, 59, 58).unwrap();
        assert_eq!(fmt_start(t, now, tz, false), "11:59:58");
        let y = Utc.with_ymd_and_hms(2025, 3, 1, 8, 0, 0).unwrap();
        assert_eq!(fmt_start(y, now, tz, false), "Mar 01");
        assert_eq!(fmt_start(y, now, tz, true), "03-01 08:00:00");
    }

    #[test]
    fn tab_ranges_are_contiguous() {
        let r = tab_ranges(Rect::new(0, 0, 200, 1));
        assert_eq!(r.len(), View::ALL.len());
        assert_eq!(r[0].0, 0);
        for w in r.windows(2) {
            assert_eq!(w[0].1 + 1, w[1].0);
        }
    }

    #[test]
    fn every_tab_fits_at_80_columns() {
        let r = tab_ranges(Rect::new(0, 0, 80, 1));
        let last = r.last().unwrap();
        assert_eq!(last.2, View::Drift);
        // The active tab's brackets take the place of its padding: the width is the same.
        assert!(last.1 <= 80, "{r:?}");
        assert!(!short_tabs(160));
    }
}
