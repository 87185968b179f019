//! Windows of captured traffic: the last N inferences, or the last period of time.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};

/// How a window is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowSpec {
    /// The last `n` inferences (and the `n` before them, for the trend).
    Count(usize),
    /// The inferences of the last period (and the periods before it).
    Period(Duration),
}

/// The longest period window: ten years is longer than any traffic a model serves.
pub const MAX_PERIOD_DAYS: i64 = 3650;

/// A window that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "window {0:?} is neither a count of inferences (e.g. 500) nor a period (e.g. 30m, 1h, 2d) \
     of at most {MAX_PERIOD_DAYS}d"
)]
pub struct WindowSpecError(pub String);

impl FromStr for WindowSpec {
    type Err = WindowSpecError;

    fn from_str(text: &str) -> Result<WindowSpec, WindowSpecError> {
        let bad = || WindowSpecError(text.to_owned());
        let text = text.trim();
        if let Ok(n) = text.parse::<usize>() {
            return (n > 0).then_some(WindowSpec::Count(n)).ok_or_else(bad);
        }
        let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (number, unit) = text.split_at(split);
        let n: i64 = number.parse().map_err(|_| bad())?;
        let period = match unit {
            "s" => Duration::try_seconds(n),
            "m" => Duration::try_minutes(n),
            "h" => Duration::try_hours(n),
            "d" => Duration::try_days(n),
            _ => None,
        }
        .filter(|d| *d > Duration::zero() && *d <= Duration::days(MAX_PERIOD_DAYS))
        .ok_or_else(bad)?;
        Ok(WindowSpec::Period(period))
    }
}

impl WindowSpec {
    /// How the window reads in a report: "the last 500 inferences", "the last 1h".
    pub fn describe(&self) -> String {
        match self {
            WindowSpec::Count(_) => self.to_string(),
            WindowSpec::Period(_) => format!("the last {self}"),
        }
    }
}

impl std::fmt::Display for WindowSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WindowSpec::Count(n) => write!(f, "the last {n} inferences"),
            WindowSpec::Period(d) if d.num_seconds() % 86_400 == 0 => {
                write!(f, "{}d", d.num_days())
            }
            WindowSpec::Period(d) if d.num_seconds() % 3600 == 0 => {
                write!(f, "{}h", d.num_hours())
            }
            WindowSpec::Period(d) if d.num_seconds() % 60 == 0 => {
                write!(f, "{}m", d.num_minutes())
            }
            WindowSpec::Period(d) => write!(f, "{}s", d.num_seconds()),
        }
    }
}

/// Cuts `items` (oldest first, `time` of each) into up to `count` consecutive windows ending
/// at the newest item (count windows) or at `now` (period windows), oldest window first.
/// A count window is always full: older items that cannot fill one are left out. Period
/// windows may be empty.
pub fn split_windows<T>(
    items: &[T],
    time: impl Fn(&T) -> DateTime<Utc>,
    spec: WindowSpec,
    count: usize,
    now: DateTime<Utc>,
) -> Vec<&[T]> {
    let mut windows = Vec::new();
    match spec {
        WindowSpec::Count(n) => {
            let mut end = items.len();
            while windows.len() < count && end >= n && n > 0 {
                windows.push(&items[end - n..end]);
                end -= n;
            }
            // The newest window is never dropped for being short: with fewer than n items
            // it is what there is (its verdict says when it is too small to judge).
            if windows.is_empty() && count > 0 {
                windows.push(items);
            }
        }
        WindowSpec::Period(period) => {
            let mut end_time = now;
            let mut end = items.len();
            for _ in 0..count {
                // Saturating: windows reaching before the calendar's start are just longer.
                let start_time = end_time
                    .checked_sub_signed(period)
                    .unwrap_or(DateTime::<Utc>::MIN_UTC);
                let start = items[..end].partition_point(|i| time(i) < start_time);
                windows.push(&items[start..end]);
                end = start;
                end_time = start_time;
            }
        }
    }
    windows.reverse();
    windows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_bad_ones_are_errors() {
        assert_eq!("500".parse(), Ok(WindowSpec::Count(500)));
        assert_eq!("30m".parse(), Ok(WindowSpec::Period(Duration::minutes(30))));
        assert_eq!("2d".parse(), Ok(WindowSpec::Period(Duration::days(2))));
        for bad in [
            "0",
            "0h",
            "h",
            "1y",
            "-5",
            "",
            "1.5h",
            "100000000d",
            "3651d",
        ] {
            assert!(bad.parse::<WindowSpec>().is_err(), "{bad}");
        }
        assert_eq!(WindowSpec::Period(Duration::hours(3)).to_string(), "3h");
    }

    #[test]
    fn windows_end_at_the_newest_and_never_overlap() {
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        let items: Vec<i64> = (0..10).collect();
        let time = |i: &i64| t0 + Duration::seconds(*i);
        let w = split_windows(&items, time, WindowSpec::Count(4), 5, t0);
        assert_eq!(w, [&items[2..6], &items[6..10]]);
        let w = split_windows(&items, time, WindowSpec::Count(40), 5, t0);
        assert_eq!(w, [&items[..]]);
        let now = t0 + Duration::seconds(10);
        let w = split_windows(
            &items,
            time,
            WindowSpec::Period(Duration::seconds(3)),
            2,
            now,
        );
        assert_eq!(w, [&items[4..7], &items[7..10]]);
        assert!(split_windows(&items, time, WindowSpec::Count(3), 0, now).is_empty());
        // Forty windows of ten years each reach before the calendar: no overflow.
        let decade = WindowSpec::Period(Duration::days(MAX_PERIOD_DAYS));
        let w = split_windows(&items, time, decade, 40, now);
        assert_eq!(w.len(), 40);
        assert_eq!(w.last().unwrap().len(), 10);
    }
}
