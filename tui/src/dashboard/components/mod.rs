//! The screen around the tabs (header, tab bar, footer, toasts, help) and the widgets the
//! tabs share (images, formatting helpers, "loading…" and "unavailable" notices); the tab
//! on screen draws the body.
//!
//! Drawing is a pure function of the state: no I/O, no awaits, no mutation. The layout is
//! computed by [`areas`] from the terminal size alone, so the mouse handler hit-tests
//! against exactly the rectangles that were drawn.

pub mod header;
pub mod help;
pub mod image;
pub mod toasts;

use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::dashboard::app::App;
use crate::dashboard::keymap::{InputMode, KeyAction};
use crate::dashboard::panel::Tab;
use crate::dashboard::shared::Shared;
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
    /// The tab's body.
    pub body: Rect,
    /// Key hints or the filter input.
    pub footer: Rect,
}

/// True when the terminal is large enough for the overview layout (list + preview +
/// metrics + capture on one screen).
pub fn is_wide(size: Rect) -> bool {
    size.width >= 120 && size.height >= 34
}

/// The layout of a terminal of `size`.
pub fn areas(size: Rect) -> Areas {
    let [header, tabs, body, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(size);
    Areas {
        header,
        tabs,
        body,
        footer,
    }
}

/// The body of a terminal of `size`.
pub fn body_area(size: Rect) -> Rect {
    areas(size).body
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
            .style(app.shared.theme.bad),
            size,
        );
        return;
    }
    let a = areas(size);
    let shared = &app.shared;
    header::draw(frame, a.header, shared);
    draw_tabs(frame, a.tabs, app);
    app.active().draw(frame, a.body, shared);
    draw_footer(frame, a.footer, app);
    toasts::draw(frame, a.body, shared);
    if shared.mode == InputMode::Help {
        help::draw(frame, size, shared);
    }
}

/// How long the tab titles are: the longest form that fits the tab bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TitleLength {
    Full,
    Short,
    /// The short title's first three letters.
    Tiny,
}

/// Column ranges of the tab titles in the tab bar `area`, with each tab's position.
pub fn tab_ranges(area: Rect, app: &App) -> Vec<(u16, u16, usize)> {
    let length = title_length(area.width, app);
    let mut out = Vec::new();
    let mut pos = area.x;
    for (i, tab) in app.tabs().enumerate() {
        let w = tab_label(i, tab, length).chars().count() as u16;
        out.push((pos, pos + w, i));
        pos += w + 1;
    }
    out
}

/// The tab whose title is at column `x` of the tab bar `area`.
pub fn tab_at(area: Rect, app: &App, x: u16) -> Option<usize> {
    tab_ranges(area, app)
        .into_iter()
        .find(|(s, e, _)| x >= *s && x < *e)
        .map(|(_, _, i)| i)
}

/// The longest titles that fit in `width` (every tab must stay visible at 80 columns).
fn title_length(width: u16, app: &App) -> TitleLength {
    let fits = |length| {
        let total: usize = app
            .tabs()
            .enumerate()
            .map(|(i, t)| tab_label(i, t, length).chars().count() + 1)
            .sum();
        total <= usize::from(width) + 1
    };
    [TitleLength::Full, TitleLength::Short]
        .into_iter()
        .find(|l| fits(*l))
        .unwrap_or(TitleLength::Tiny)
}

fn tab_label(i: usize, tab: &dyn Tab, length: TitleLength) -> String {
    let title: String = match length {
        TitleLength::Full => tab.title().to_owned(),
        TitleLength::Short => tab.short_title().to_owned(),
        TitleLength::Tiny => tab.short_title().chars().take(3).collect(),
    };
    format!(" {} {title} ", i + 1)
}

fn draw_tabs(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.shared.theme;
    let active = app.view();
    let length = title_length(area.width, app);
    let mut spans = Vec::new();
    for (i, tab) in app.tabs().enumerate() {
        if i > 0 {
            spans.push(Span::styled("│", theme.dim));
        }
        let on = tab.view() == active;
        let style = if on { theme.tab_active } else { theme.dim };
        let label = tab_label(i, tab, length);
        // Brackets (same width as the padding) mark the active tab without colours too.
        let label = if on {
            format!("[{}]", label.trim())
        } else {
            label
        };
        spans.push(Span::styled(label, style));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_footer(frame: &mut Frame, area: Rect, app: &App) {
    let shared = &app.shared;
    let theme = &shared.theme;
    if shared.mode == InputMode::Filter {
        let line = Line::from(vec![
            Span::styled("/", theme.title),
            Span::styled(shared.executions.filter.clone(), theme.text),
            Span::styled("█", theme.dim),
            Span::styled("  Enter keep · Esc cancel", theme.dim),
        ]);
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    let km = &shared.config.keymap;
    let mut hints: Vec<(KeyAction, &str)> = vec![(KeyAction::Help, "help")];
    hints.extend(app.active().hints(shared));
    if !shared.readonly {
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

/// The first visible row that keeps `selected` inside a window of `height` rows over `len`
/// rows, moving `offset` as little as possible and never leaving rows unused at the bottom.
pub fn visible_offset(offset: usize, selected: usize, height: usize, len: usize) -> usize {
    let height = height.max(1);
    let offset = offset.min(len.saturating_sub(height));
    if selected < offset {
        selected
    } else if selected >= offset + height {
        selected + 1 - height
    } else {
        offset
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

/// At most `max` characters, keeping the end (where names differ), with `…` when cut.
pub fn truncate_left(s: &str, max: usize) -> String {
    let count = s.chars().count();
    if count <= max {
        return s.to_owned();
    }
    let mut out = String::from("…");
    out.extend(s.chars().skip(count + 1 - max.max(1)));
    out
}

/// "loading…" in a panel whose data has not arrived, or, when its feed has never answered and
/// failed, the error itself and what to check.
pub fn draw_loading(frame: &mut Frame, area: Rect, shared: &Shared, feed: &str) {
    let theme = &shared.theme;
    let text = match shared.unavailable(feed) {
        Some(error) => vec![
            Line::styled(error.to_owned(), theme.bad),
            Line::styled(unavailable_hint(shared), theme.dim),
        ],
        None => vec![Line::styled("loading…", theme.dim)],
    };
    frame.render_widget(
        Paragraph::new(text).wrap(ratatui::widgets::Wrap { trim: true }),
        area,
    );
}

/// What to check when nothing can be read from the backend.
pub fn unavailable_hint(shared: &Shared) -> String {
    match &shared.info.kind {
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
    fn truncating_from_the_left_keeps_the_end() {
        assert_eq!(
            truncate_left("20261206T222927.063Z-9bdcf10d", 12),
            "…3Z-9bdcf10d"
        );
        assert_eq!(truncate_left("short", 12), "short");
        assert_eq!(truncate_left("abc", 1), "…");
    }

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
}
