//! The data feeds the dashboard keeps fresh, one descriptor each: which [`Slot`] it owns,
//! how often it refreshes, when its data is on screen, and which backend call fetches it.
//! [`crate::dashboard::app::App`]'s schedule walks [`FEEDS`]; nothing else lists the feeds.
//!
//! Adding a panel's data (ARCHITECTURE.md walks through it): a method on the port
//! (`scones_workflow::port::Backend`, with its `Request`/`Response` variant and dispatch arm)
//! implemented by both backends, a [`Slot`], one [`Feed`] here, and the arm of
//! `App::accept` that stores the answer.

use std::time::Duration;

use scones_workflow::port::{Request, TimeRange};

use crate::dashboard::action::View;
use crate::dashboard::app::{App, CAPTURE_LIMIT, LOW_CONFIDENCE_LIMIT, PAGE_SIZE};
use crate::dashboard::components::drift;
use crate::dashboard::worker::Slot;

/// One stream of data.
pub struct Feed {
    /// The slot its requests and answers belong to.
    pub slot: Slot,
    /// How often it refreshes while wanted, given the configured refresh interval.
    pub interval: fn(Duration) -> Duration,
    /// True when its data is on screen (only wanted feeds are fetched).
    pub wanted: fn(&App) -> bool,
    /// The call to make now; `None` when there is nothing to ask (no selection).
    pub request: fn(&App) -> Option<Request>,
}

/// Every feed, in the order their requests are sent when several are due at once.
pub const FEEDS: &[Feed] = &[
    Feed {
        slot: Slot::Executions,
        interval: |base| base,
        wanted: |_| true,
        request: |app| {
            Some(Request::Executions {
                cursor: app.cursor().cloned(),
                limit: PAGE_SIZE,
            })
        },
    },
    Feed {
        slot: Slot::Endpoint,
        interval: |base| (base * 15).max(Duration::from_secs(10)),
        wanted: |_| true,
        request: |_| Some(Request::Endpoint),
    },
    Feed {
        slot: Slot::History,
        interval: |base| base,
        // The selected execution's history while the detail (or the side panel) shows it;
        // a finished execution's history is fetched once and cached.
        wanted: |app| {
            app.view == View::Executions
                && (app.detail_open || app.areas().detail.width > 0)
                && app.executions.selected().is_some()
                && !app.history_current()
        },
        request: |app| {
            Some(Request::History {
                id: app.executions.selected_id()?,
            })
        },
    },
    Feed {
        slot: Slot::Metrics,
        interval: panel_interval,
        wanted: |app| {
            app.view == View::Metrics
                || (app.view == View::Executions && app.areas().mini_metrics.width > 0)
        },
        request: |app| {
            Some(Request::Metrics {
                range: window(app),
                period: app.metrics.period(),
            })
        },
    },
    Feed {
        slot: Slot::Capture,
        interval: panel_interval,
        wanted: |app| {
            app.view == View::Capture
                || (app.view == View::Executions && app.areas().mini_metrics.width > 0)
        },
        request: |app| {
            Some(Request::Capture {
                range: window(app),
                limit: CAPTURE_LIMIT,
            })
        },
    },
    Feed {
        slot: Slot::LowConfidence,
        interval: panel_interval,
        wanted: |app| app.view == View::LowConfidence,
        request: |app| {
            Some(Request::LowConfidence {
                range: window(app),
                limit: LOW_CONFIDENCE_LIMIT,
            })
        },
    },
    Feed {
        slot: Slot::Drift,
        // Wanted on every tab: the header shows a WARN or ALERT wherever the user is. Each
        // refresh reads the current windows' capture files (~0.1 s for 10,000 inferences).
        interval: |base| (base * 5).max(Duration::from_secs(5)),
        wanted: |_| true,
        request: |_| {
            Some(Request::Drift {
                window: drift::WINDOW,
                windows: drift::WINDOWS,
            })
        },
    },
    Feed {
        slot: Slot::Image,
        interval: |base| base,
        // The image on screen, once (a failed fetch is shown in its place and asked again
        // after `image::RETRY_AFTER`).
        wanted: |app| {
            app.picker.is_some()
                && app
                    .image_on_screen()
                    .is_some_and(|key| app.images.wants(key, app.now))
        },
        request: |app| {
            Some(Request::Image {
                s3_key: app.image_on_screen()?.to_owned(),
            })
        },
    },
    Feed {
        slot: Slot::Logs,
        interval: panel_interval,
        // A finished execution's logs are fetched until they are current (see
        // `App::logs_current`); a running one's on every refresh.
        wanted: |app| {
            app.view == View::Logs
                && app
                    .executions
                    .selected()
                    .is_some_and(|e| !e.status.is_final() || !app.logs_current())
        },
        request: |app| {
            Some(Request::Logs {
                execution: Box::new(app.executions.selected()?.clone()),
            })
        },
    },
];

/// The descriptor of `slot` (`None` for [`Slot::Mutation`]).
pub fn feed(slot: Slot) -> Option<&'static Feed> {
    FEEDS.iter().find(|f| f.slot == slot)
}

/// The panels' refresh: twice the base interval, at least 2 s.
fn panel_interval(base: Duration) -> Duration {
    (base * 2).max(Duration::from_secs(2))
}

/// The metrics window ending now.
fn window(app: &App) -> TimeRange {
    TimeRange::ending_at(app.now, app.metrics.window())
}
