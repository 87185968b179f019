//! The header: which backend (LOCAL and its home, flagged when its data is the synthetic
//! stand-in, or AWS with profile and region), the state machine, the endpoint's status (and
//! why when it does not serve), the threshold, a spinner while calls are in flight, and how
//! old the executions list is, marked STALE when refreshes stopped succeeding.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::dashboard::components::truncate;
use crate::dashboard::shared::Shared;
use scones_workflow::port::BackendKind;

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// Draws the two header lines.
pub fn draw(frame: &mut Frame, area: Rect, shared: &Shared) {
    let theme = &shared.theme;
    let sep = || Span::styled(" │ ", theme.dim);
    let mut first = vec![Span::styled(" scones ", theme.tab_active), Span::raw(" ")];
    match &shared.info.kind {
        BackendKind::Local {
            home,
            synthetic_data,
        } => {
            first.push(Span::styled("LOCAL ", theme.title));
            const BADGE: &str = " SYNTHETIC DATA ";
            let badge = if *synthetic_data { BADGE.len() + 1 } else { 0 };
            let room = (area.width as usize).saturating_sub(60 + badge).max(12);
            let home = home.display().to_string();
            let shown = if home.chars().count() > room {
                let tail: String = home
                    .chars()
                    .rev()
                    .take(room - 1)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                format!("…{tail}")
            } else {
                home
            };
            first.push(Span::styled(shown, theme.dim));
            if *synthetic_data {
                // Loud on every screen: scores on generated images mean nothing.
                first.push(Span::raw(" "));
                first.push(Span::styled(
                    BADGE,
                    theme.warn.add_modifier(ratatui::style::Modifier::REVERSED),
                ));
            }
        }
        BackendKind::Aws {
            credentials,
            region,
            ..
        } => {
            first.push(Span::styled("AWS ", theme.title));
            first.push(Span::styled(format!("{region} "), theme.text));
            first.push(Span::styled(format!("({credentials})"), theme.dim));
        }
    }
    first.push(sep());
    first.push(Span::styled("sm ", theme.dim));
    first.push(Span::styled(
        truncate(&shared.info.state_machine, 28),
        theme.text,
    ));
    first.push(sep());
    first.push(Span::styled("threshold ", theme.dim));
    first.push(Span::styled(
        format!("{}", shared.info.threshold),
        theme.text,
    ));
    if shared.readonly {
        first.push(sep());
        first.push(Span::styled("READ-ONLY", theme.warn));
    }

    let drift = shared.drift_alarm;
    let guard = shared.guard.as_ref().filter(|g| g.hold.is_some());
    let mut second = vec![Span::styled(" endpoint ", theme.dim)];
    match &shared.endpoint {
        Some(e) => {
            // The name is long and constant: only when there is room for it (the drift and
            // guard markers take its place at 80 columns).
            let markers =
                if drift.is_some() { 20 } else { 0 } + if guard.is_some() { 40 } else { 0 };
            if area.width >= 80 + markers {
                second.push(Span::styled(truncate(&e.name, 24), theme.text));
                second.push(Span::raw(" "));
            }
            let style = if e.in_service() { theme.ok } else { theme.bad };
            second.push(Span::styled(format!("● {}", e.status), style));
            // Why it does not serve, and for how long yet (a first model training: "the model
            // is training (epoch 3/40), about 50 s left").
            if !e.in_service()
                && let Some(detail) = &e.detail
            {
                let room = (area.width as usize)
                    .saturating_sub(60 + usize::from(markers))
                    .max(16);
                second.push(Span::styled(
                    format!(" {}", truncate(detail, room)),
                    theme.dim,
                ));
            }
        }
        None => second.push(Span::styled("…", theme.dim)),
    }
    // Drift shows from every tab, next to the endpoint whose traffic it is about: the point
    // of a safeguard is not having to look for it.
    if let Some(verdict) = drift {
        second.push(sep());
        second.push(Span::styled(
            format!(" DRIFT {} ", verdict.label()),
            crate::dashboard::panels::drift::verdict_style(theme, verdict)
                .add_modifier(ratatui::style::Modifier::REVERSED),
        ));
        second.push(Span::styled(" (7)", theme.dim));
    }
    // The guard's hold, from every tab: since when and why, and the key that releases it.
    if let Some(state) = guard
        && let Some(hold) = &state.hold
    {
        second.push(sep());
        let (label, style) = if state.holding().is_some() {
            (" GUARD HOLDING ", theme.bad)
        } else {
            (" GUARD WARN ", theme.warn)
        };
        second.push(Span::styled(
            label,
            style.add_modifier(ratatui::style::Modifier::REVERSED),
        ));
        let why = if hold.statistics.is_empty() {
            "by an operator".to_owned()
        } else {
            hold.statistics.join(", ")
        };
        second.push(Span::styled(
            format!(
                " since {} · {} ({} releases)",
                hold.since.with_timezone(&shared.tz).format("%H:%M"),
                crate::dashboard::components::truncate(&why, 24),
                shared
                    .config
                    .keymap
                    .hint(crate::dashboard::keymap::KeyAction::Guard)
            ),
            theme.dim,
        ));
    }
    second.push(sep());
    let pending = shared.pending;
    if pending > 0 {
        let frame_no = (shared.ticks as usize) % SPINNER.len();
        second.push(Span::styled(
            format!("{} {pending} pending", SPINNER[frame_no]),
            theme.busy,
        ));
    } else {
        second.push(Span::styled("idle", theme.dim));
    }
    second.push(sep());
    match shared.refresh_age() {
        Some(age) => {
            second.push(Span::styled("refreshed ", theme.dim));
            let text = if age < std::time::Duration::from_secs(1) {
                "just now".to_owned()
            } else {
                format!("{} ago", fmt_age(age))
            };
            second.push(Span::styled(text, theme.text));
        }
        None => second.push(Span::styled("not refreshed yet", theme.dim)),
    }
    if shared.is_stale() {
        second.push(Span::raw(" "));
        second.push(Span::styled(
            " STALE ",
            theme.bad.add_modifier(ratatui::style::Modifier::REVERSED),
        ));
    }
    frame.render_widget(
        Paragraph::new(vec![Line::from(first), Line::from(second)]),
        area,
    );
}

/// `3s`, `2m`, `1h`: refresh ages need no more precision.
pub fn fmt_age(age: std::time::Duration) -> String {
    let s = age.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        _ => format!("{}h", s / 3600),
    }
}
