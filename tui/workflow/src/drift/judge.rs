//! Judging captured traffic: which captures a drift computation reads, how they are cut into
//! windows and each window compared with the baseline. The local stack (`scones drift`, the
//! dashboard) and the `monitor-drift` Lambda read their capture files each their own way,
//! reduce each record to an [`Observation`] as they read, and hand them here.

use chrono::{DateTime, Utc};

use super::{Baseline, Cutoffs, Observation, WindowCounter, WindowDrift, WindowSpec};
use super::{compare, split_windows};

/// What a drift computation judges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DriftOptions {
    /// How windows are cut.
    pub window: WindowSpec,
    /// How many windows (the newest is the current one; the others are its trend).
    pub windows: usize,
    /// The threshold the low-confidence rate is taken at.
    pub threshold: f64,
    /// Where verdicts change.
    pub cutoffs: Cutoffs,
}

/// Which captures the windows can hold: those at or after `since`, and of them only the
/// newest `newest` when that is `Some`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// The oldest capture time worth reading.
    pub since: DateTime<Utc>,
    /// At most this many of the newest captures.
    pub newest: Option<usize>,
}

impl DriftOptions {
    /// What to read for windows ending `now`, counting traffic from `since` (when the served
    /// model was created: older traffic was another model's). Count windows need the newest
    /// `window x windows` captures; period windows the periods back from `now`.
    pub fn reading(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> Reading {
        match self.window {
            WindowSpec::Count(n) => Reading {
                since,
                newest: Some(n.saturating_mul(self.windows)),
            },
            WindowSpec::Period(period) => {
                let periods = i32::try_from(self.windows).unwrap_or(i32::MAX);
                let start = period
                    .checked_mul(periods)
                    .and_then(|span| now.checked_sub_signed(span))
                    .unwrap_or(since);
                Reading {
                    since: since.max(start),
                    newest: None,
                }
            }
        }
    }
}

/// The windows of `observed` (oldest first; see [`Observer`](super::Observer)) judged
/// against `baseline`, oldest window first, and how many observations could not be used.
pub fn judge(
    observed: &[Observation],
    baseline: &Baseline,
    options: &DriftOptions,
    now: DateTime<Utc>,
) -> (Vec<WindowDrift>, usize) {
    let mut unreadable = 0;
    let windows = split_windows(observed, |o| o.time, options.window, options.windows, now)
        .into_iter()
        .map(|window| {
            let mut counter = WindowCounter::default();
            for observation in window {
                counter.add(observation);
            }
            unreadable += counter.unusable as usize;
            WindowDrift {
                from: window.first().map(|c| c.time),
                to: window.last().map(|c| c.time),
                inferences: counter.inferences,
                repeats: counter.repeats,
                report: compare(
                    &baseline.profile,
                    &counter.profile,
                    options.threshold,
                    &options.cutoffs,
                ),
            }
        })
        .collect();
    (windows, unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn options(window: WindowSpec) -> DriftOptions {
        DriftOptions {
            window,
            windows: 4,
            threshold: 0.9,
            cutoffs: Cutoffs::default(),
        }
    }

    #[test]
    fn count_windows_read_the_newest_window_times_windows() {
        let now = DateTime::<Utc>::UNIX_EPOCH + Duration::days(10);
        let since = now - Duration::days(3);
        let r = options(WindowSpec::Count(500)).reading(since, now);
        assert_eq!(
            r,
            Reading {
                since,
                newest: Some(2000)
            }
        );
    }

    #[test]
    fn period_windows_read_back_from_now_but_never_before_the_model() {
        let now = DateTime::<Utc>::UNIX_EPOCH + Duration::days(10);
        let hour = WindowSpec::Period(Duration::hours(1));
        let r = options(hour).reading(now - Duration::days(3), now);
        assert_eq!(r.since, now - Duration::hours(4));
        assert_eq!(r.newest, None);
        let young = now - Duration::minutes(30);
        assert_eq!(options(hour).reading(young, now).since, young);
    }
}
