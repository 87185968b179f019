//! Fault injection: the dashboard over the real local backend wrapped in a backend that
//! fails or throttles 30% of calls, for 10,000 ticks. Nothing panics, every tick is
//! processed, errors show up as toasts, throttled feeds back off, and everything recovers
//! once the faults stop. A second test makes calls panic in their background tasks.

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use crossterm::event::KeyCode;

use scones::dashboard::faults::{FaultPlan, Faults};
use scones::dashboard::headless::Headless;
use scones_workflow::port::Operation;
use support::dashboard::{options, other_runner, readonly_backend, run_random, staged_home};

const TICK: chrono::Duration = chrono::Duration::milliseconds(250);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_percent_failing_or_throttled_calls_for_10k_ticks() {
    let tmp = tempfile::tempdir().unwrap();
    let home = staged_home(tmp.path());
    run_random(&other_runner(&home), 20).await;

    let plan = FaultPlan {
        fail: 0.15,
        throttle: 0.15,
        panic: 0.0,
    };
    let faults = Arc::new(Faults::new(plan, 42));
    let start = Utc::now();
    let mut d = Headless::new(
        Arc::new(readonly_backend(&home)),
        options(true, false),
        start,
        80,
        24,
    )
    .with_faults(Arc::clone(&faults));
    let mut now = start;
    let (mut saw_failure_toast, mut saw_throttle_toast, mut max_throttled, mut stale_ticks) =
        (false, false, 0u32, 0u32);
    for i in 0..10_000u32 {
        now += TICK;
        d.tick(now);
        // Walk through every view so every feed meets the faults.
        if i % 400 == 0 {
            let view = char::from(b'1' + (i / 400 % 5) as u8);
            d.press(KeyCode::Char(view));
            d.press(KeyCode::Char('j'));
            if view == '1' {
                d.press(KeyCode::Enter);
            }
        }
        assert!(
            d.settle(Duration::from_secs(10)).await,
            "tick {i}: calls never came back"
        );
        for t in d.app().shared.toasts.items() {
            saw_failure_toast |= t.text.contains("injected failure");
            saw_throttle_toast |= t.text.contains("throttled: backing off");
        }
        if let Some(f) = d.app().shared.health("executions") {
            max_throttled = max_throttled.max(f.throttled);
        }
        stale_ticks += u32::from(d.app().is_stale());
        if i % 250 == 0 {
            let screen = d.screen();
            assert!(screen.contains("scones"), "tick {i}: {screen}");
        }
    }
    assert_eq!(d.app().shared.ticks, 10_000, "every tick processed");
    let stats = faults.stats();
    let calls = stats.total_calls();
    assert!(calls > 2_000, "{stats:?}");
    let faulty = (stats.failed + stats.throttled) as f64 / calls as f64;
    assert!(
        (0.25..0.35).contains(&faulty),
        "fault share {faulty}: {stats:?}"
    );
    assert!(saw_failure_toast && saw_throttle_toast);
    assert!(
        max_throttled >= 2,
        "consecutive throttles back off: {max_throttled}"
    );
    assert!(stale_ticks > 0, "failed refreshes mark the list stale");
    for op in [
        Operation::ListExecutions,
        Operation::GetExecutionHistory,
        Operation::DescribeEndpoint,
        Operation::GetMetricData,
        Operation::ReadDataCapture,
        Operation::LowConfidenceFailures,
        Operation::FilterLogEvents,
    ] {
        assert!(
            stats.calls.get(&op).is_some_and(|n| *n > 0),
            "{op} never called: {stats:?}"
        );
    }

    // Faults stop: within a minute of (virtual) time everything is fresh again.
    faults.set_enabled(false);
    d.press(KeyCode::Char('1'));
    for _ in 0..240 {
        now += TICK;
        d.tick(now);
        assert!(d.settle(Duration::from_secs(10)).await);
    }
    assert!(!d.app().is_stale(), "{}", d.screen());
    assert!(d.app().refresh_age().unwrap() <= Duration::from_secs(2));
    assert_eq!(d.app().shared.executions.total(), 20);
    assert!(!d.app().shared.health("executions").unwrap().failing);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_backend_call_becomes_an_error_toast() {
    let tmp = tempfile::tempdir().unwrap();
    let home = staged_home(tmp.path());
    let plan = FaultPlan {
        fail: 0.0,
        throttle: 0.0,
        panic: 1.0,
    };
    let faults = Arc::new(Faults::new(plan, 1));
    let start = Utc::now();
    let mut d = Headless::new(
        Arc::new(readonly_backend(&home)),
        options(true, false),
        start,
        80,
        24,
    )
    .with_faults(Arc::clone(&faults));
    d.tick(start);
    assert!(d.settle(Duration::from_secs(10)).await);
    assert!(faults.stats().panicked >= 1);
    assert!(
        d.app().shared.toasts.items().iter().any(|t| t.text
            == "ListExecutions crashed in the background: injected panic in ListExecutions"),
        "{:?}",
        d.app().shared.toasts.items()
    );
    let screen = d.screen();
    assert!(screen.contains("crashed"), "{screen}");
    faults.set_enabled(false);
    d.tick(start + chrono::Duration::seconds(2));
    assert!(d.settle(Duration::from_secs(10)).await);
    assert!(!d.app().is_stale());
}
