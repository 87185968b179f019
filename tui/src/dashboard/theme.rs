//! Colours and emphasis. Two themes: `dark` (colours for a dark terminal) and `mono`
//! (no colour at all: bold, dim, reverse and underline only), which is forced when the
//! `NO_COLOR` environment variable is set (https://no-color.org).

use ratatui::style::{Color, Modifier, Style};

use scones_workflow::ExecutionStatus;

use crate::dashboard::panels::executions::state_runs::StateStatus;

/// Which palette.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThemeName {
    /// Colours for dark terminals (the default).
    Dark,
    /// No colours.
    Mono,
}

impl ThemeName {
    /// Parses a config value.
    pub fn parse(s: &str) -> Option<ThemeName> {
        match s {
            "dark" | "default" => Some(ThemeName::Dark),
            "mono" | "none" => Some(ThemeName::Mono),
            _ => None,
        }
    }
}

/// The styles every panel draws with.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    /// Which palette this is.
    pub name: ThemeName,
    /// Plain text.
    pub text: Style,
    /// Secondary text (labels, hints).
    pub dim: Style,
    /// Titles and emphasised values.
    pub title: Style,
    /// Panel borders.
    pub border: Style,
    /// Border of the focused panel.
    pub border_focus: Style,
    /// The selected row.
    pub selected: Style,
    /// The active tab.
    pub tab_active: Style,
    /// Good news (SUCCEEDED, InService).
    pub ok: Style,
    /// Bad news (FAILED, errors).
    pub bad: Style,
    /// In progress (RUNNING).
    pub busy: Style,
    /// Warnings (ABORTED, stale).
    pub warn: Style,
    /// Chart series 1 (invocations, confidence points).
    pub series: Style,
    /// Chart series 2 (latency max, threshold line).
    pub series_alt: Style,
}

impl Theme {
    /// The theme for `name`, or mono when `no_color` is set.
    pub fn new(name: ThemeName, no_color: bool) -> Theme {
        if no_color {
            return Theme::mono();
        }
        match name {
            ThemeName::Dark => Theme::dark(),
            ThemeName::Mono => Theme::mono(),
        }
    }

    /// True if `NO_COLOR` is set to a non-empty value.
    pub fn no_color_from_env() -> bool {
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
    }

    /// The colour theme.
    pub fn dark() -> Theme {
        Theme {
            name: ThemeName::Dark,
            text: Style::default(),
            dim: Style::default().fg(Color::DarkGray),
            title: Style::default()
                .fg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
            border: Style::default().fg(Color::DarkGray),
            border_focus: Style::default().fg(Color::Cyan),
            selected: Style::default()
                .bg(Color::Rgb(40, 50, 70))
                .add_modifier(Modifier::BOLD),
            tab_active: Style::default()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
            ok: Style::default().fg(Color::Green),
            bad: Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
            busy: Style::default().fg(Color::Yellow),
            warn: Style::default().fg(Color::Magenta),
            series: Style::default().fg(Color::Cyan),
            series_alt: Style::default().fg(Color::Yellow),
        }
    }

    /// No colours: emphasis by modifiers only.
    pub fn mono() -> Theme {
        let plain = Style::default();
        Theme {
            name: ThemeName::Mono,
            text: plain,
            dim: plain.add_modifier(Modifier::DIM),
            title: plain.add_modifier(Modifier::BOLD),
            border: plain,
            border_focus: plain.add_modifier(Modifier::BOLD),
            selected: plain.add_modifier(Modifier::REVERSED),
            tab_active: plain.add_modifier(Modifier::REVERSED | Modifier::BOLD),
            ok: plain,
            bad: plain.add_modifier(Modifier::BOLD),
            busy: plain.add_modifier(Modifier::ITALIC),
            warn: plain.add_modifier(Modifier::UNDERLINED),
            series: plain,
            series_alt: plain.add_modifier(Modifier::DIM),
        }
    }

    /// Style of an execution status.
    pub fn status(&self, status: ExecutionStatus) -> Style {
        match status {
            ExecutionStatus::Running => self.busy,
            ExecutionStatus::Succeeded => self.ok,
            ExecutionStatus::Failed | ExecutionStatus::TimedOut => self.bad,
            ExecutionStatus::Aborted | ExecutionStatus::PendingRedrive => self.warn,
        }
    }

    /// Style of a state's status.
    pub fn state(&self, status: StateStatus) -> Style {
        match status {
            StateStatus::Running => self.busy,
            StateStatus::Succeeded => self.ok,
            StateStatus::Failed => self.bad,
            StateStatus::Aborted => self.warn,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_wins_over_the_configured_theme() {
        let t = Theme::new(ThemeName::Dark, true);
        assert_eq!(t.name, ThemeName::Mono);
        for style in [
            t.text, t.dim, t.title, t.selected, t.ok, t.bad, t.busy, t.warn,
        ] {
            assert_eq!(style.fg, None);
            assert_eq!(style.bg, None);
        }
        assert_eq!(Theme::new(ThemeName::Dark, false).name, ThemeName::Dark);
    }
}
