//! Non-blocking notifications in the bottom-right corner. Identical messages collapse into
//! one with a count, so a backend failing every refresh shows one toast, not a wall.

use chrono::{DateTime, Duration, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::dashboard::shared::Shared;

/// How serious a toast is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToastLevel {
    /// Confirmation.
    Info,
    /// Something failed.
    Error,
}

/// One notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    /// The text.
    pub text: String,
    /// Severity.
    pub level: ToastLevel,
    /// How many times it was raised while shown.
    pub count: u32,
    /// When it disappears.
    pub until: DateTime<Utc>,
}

/// At most this many toasts are kept; the oldest goes first.
pub const MAX_TOASTS: usize = 4;

/// The toasts on screen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Toasts {
    items: Vec<Toast>,
}

impl Toasts {
    /// Shows `text`, or bumps the count of the same text already shown.
    pub fn push(&mut self, text: impl Into<String>, level: ToastLevel, now: DateTime<Utc>) {
        let text = text.into();
        let ttl = match level {
            ToastLevel::Info => Duration::seconds(4),
            ToastLevel::Error => Duration::seconds(8),
        };
        if let Some(t) = self.items.iter_mut().find(|t| t.text == text) {
            t.count += 1;
            t.until = now + ttl;
            return;
        }
        if self.items.len() == MAX_TOASTS {
            self.items.remove(0);
        }
        self.items.push(Toast {
            text,
            level,
            count: 1,
            until: now + ttl,
        });
    }

    /// Drops expired toasts; true if any went.
    pub fn expire(&mut self, now: DateTime<Utc>) -> bool {
        let before = self.items.len();
        self.items.retain(|t| t.until > now);
        before != self.items.len()
    }

    /// The toasts, oldest first.
    pub fn items(&self) -> &[Toast] {
        &self.items
    }
}

/// Draws the toasts stacked above `area`'s bottom edge, right-aligned.
pub fn draw(frame: &mut Frame, area: Rect, shared: &Shared) {
    let theme = &shared.theme;
    let width = (area.width / 2).max(30).min(area.width);
    let mut bottom = area.bottom();
    for toast in shared.toasts.items().iter().rev() {
        let text = if toast.count > 1 {
            format!("{} (×{})", toast.text, toast.count)
        } else {
            toast.text.clone()
        };
        let inner_w = width.saturating_sub(2).max(1) as usize;
        // Long actionable text (a console URL, a command to run) is shown whole, up to half
        // the screen: a hint cut before its command helps nobody.
        let most = (area.height / 2).saturating_sub(2).max(3) as usize;
        let lines = wrapped_lines(&text, inner_w).clamp(1, most) as u16;
        let h = lines + 2;
        if bottom < area.y + h {
            break;
        }
        let rect = Rect::new(area.right().saturating_sub(width), bottom - h, width, h);
        bottom -= h;
        let style = match toast.level {
            ToastLevel::Info => theme.ok,
            ToastLevel::Error => theme.bad,
        };
        frame.render_widget(Clear, rect);
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(text, theme.text)))
                .wrap(Wrap { trim: true })
                .block(Block::default().borders(Borders::ALL).border_style(style)),
            rect,
        );
    }
}

/// Lines `text` takes when word-wrapped at `width` (as `Wrap { trim: true }` does, with
/// words longer than a line broken).
fn wrapped_lines(text: &str, width: usize) -> usize {
    let mut lines = 1;
    let mut used = 0;
    for word in text.split_whitespace() {
        let len = word.chars().count();
        let needed = if used == 0 { len } else { used + 1 + len };
        if needed <= width {
            used = needed;
        } else if len <= width {
            lines += 1;
            used = len;
        } else {
            // A word longer than the line (a URL): broken over as many lines as it needs.
            if used > 0 {
                lines += 1;
            }
            lines += (len - 1) / width;
            used = (len - 1) % width + 1;
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_line_counts_follow_words_and_break_long_ones() {
        assert_eq!(wrapped_lines("short", 10), 1);
        assert_eq!(wrapped_lines("aaaa bbbb cccc", 9), 2);
        assert_eq!(
            wrapped_lines("x https://console.aws.amazon.com/states/home", 10),
            6
        );
        assert_eq!(wrapped_lines("", 10), 1);
    }
    use chrono::TimeZone;

    #[test]
    fn same_text_collapses_and_old_ones_expire() {
        let t0 = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        let mut toasts = Toasts::default();
        toasts.push("ListExecutions failed", ToastLevel::Error, t0);
        toasts.push("ListExecutions failed", ToastLevel::Error, t0);
        toasts.push("started 1 execution", ToastLevel::Info, t0);
        assert_eq!(toasts.items().len(), 2);
        assert_eq!(toasts.items()[0].count, 2);
        assert!(toasts.expire(t0 + Duration::seconds(5)));
        assert_eq!(toasts.items().len(), 1);
        assert!(!toasts.expire(t0 + Duration::seconds(5)));
        assert!(toasts.expire(t0 + Duration::seconds(9)));
        for i in 0..10 {
            toasts.push(format!("t{i}"), ToastLevel::Info, t0);
        }
        assert_eq!(toasts.items().len(), MAX_TOASTS);
        assert_eq!(toasts.items()[0].text, "t6");
    }
}
