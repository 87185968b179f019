//! Non-blocking notifications in the bottom-right corner. Identical messages collapse into
//! one with a count, and calls failing for one cause share one toast naming them all, so a
//! backend failing every refresh shows one toast, not a wall. A failure's repeats do not keep
//! its toast up: it goes after its time (the header's STALE and the panels say it meanwhile)
//! and comes back with the next failure.

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
    /// For failed calls: their shared cause and the calls, in the order they failed.
    pub failure: Option<(String, Vec<String>)>,
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
        self.add(Toast {
            text,
            level,
            count: 1,
            until: now + ttl,
            failure: None,
        });
    }

    /// Shows a new toast, the oldest going when [`MAX_TOASTS`] are shown.
    fn add(&mut self, toast: Toast) {
        if self.items.len() == MAX_TOASTS {
            self.items.remove(0);
        }
        self.items.push(toast);
    }

    /// Shows that `operation` failed because of `cause`: on the toast of the calls that
    /// failed for the same cause, if one is shown (its time is not extended).
    pub fn push_failure(&mut self, operation: &str, cause: &str, now: DateTime<Utc>) {
        let text = |operations: &[String]| format!("{} failed: {cause}", operations.join(", "));
        if let Some(toast) = self
            .items
            .iter_mut()
            .find(|t| t.failure.as_ref().is_some_and(|(c, _)| c == cause))
        {
            toast.count += 1;
            if let Some((_, operations)) = &mut toast.failure
                && !operations.iter().any(|o| o == operation)
            {
                operations.push(operation.to_owned());
                toast.text = text(operations);
            }
            return;
        }
        let operations = vec![operation.to_owned()];
        self.add(Toast {
            text: text(&operations),
            level: ToastLevel::Error,
            count: 1,
            until: now + Duration::seconds(8),
            failure: Some((cause.to_owned(), operations)),
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

    /// Four feeds failing for one cause, every refresh: one toast naming the four calls,
    /// gone after its time although the failures go on; the next failure shows it again.
    #[test]
    fn calls_failing_for_one_cause_share_a_toast_that_clears() {
        let t0 = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).expect("valid");
        let mut toasts = Toasts::default();
        let cause = "dispatch failure: Connection refused";
        for second in 0..20 {
            let now = t0 + Duration::seconds(second);
            for operation in [
                "ListExecutions",
                "GetMetricData",
                "ListObjectsV2",
                "FilterLogEvents",
            ] {
                toasts.push_failure(operation, cause, now);
            }
            toasts.expire(now);
            let shown = toasts.items();
            if second < 8 {
                assert_eq!(shown.len(), 1, "{shown:?}");
                assert_eq!(
                    shown[0].text,
                    format!(
                        "ListExecutions, GetMetricData, ListObjectsV2, FilterLogEvents failed: {cause}"
                    )
                );
            }
        }
        // Expired at t0 + 8 s, shown again by the failures after it: never one stuck toast
        // counting up without end.
        assert_eq!(toasts.items().len(), 1);
        assert!(toasts.items()[0].count < 60, "{:?}", toasts.items());
        toasts.push_failure(
            "ListExecutions",
            "another cause",
            t0 + Duration::seconds(20),
        );
        assert_eq!(toasts.items().len(), 2);
    }

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
