//! The dashboard driven by key presses against the local backend: a temporary home with
//! staged data, the real SQLite store and runner (the endpoint answers with a fixed model so
//! outcomes are known), the real App and Worker. Each test asserts the state a user would
//! see.

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use crossterm::event::KeyCode;

use scones::dashboard::headless::Headless;
use scones::dashboard::panels::capture::CapturePanel;
use scones::dashboard::panels::executions::ExecutionsPanel;
use scones::dashboard::panels::executions::state_runs::StateStatus;
use scones::dashboard::panels::logs::{self, LogsPanel};
use scones::dashboard::panels::low_confidence::LowConfidencePanel;
use scones::dashboard::panels::metrics::MetricsPanel;
use scones_local::LocalBackend;
use scones_workflow::ExecutionStatus;
use support::dashboard::{
    FixedPredictor, SlowPredictor, local_backend, options, other_runner, readonly_backend,
    run_random, staged_home,
};

const WAIT: Duration = Duration::from_secs(20);
const STEP: Duration = Duration::from_millis(50);

fn dashboard(backend: LocalBackend, readonly: bool) -> Headless<LocalBackend> {
    Headless::new(
        Arc::new(backend),
        options(readonly, false),
        Utc::now(),
        80,
        24,
    )
}

fn finished(app: &scones::dashboard::app::App, n: usize) -> bool {
    app.shared.executions.total() == n
        && (0..n).all(|i| {
            app.shared
                .executions
                .at(i)
                .is_some_and(|e| e.status.is_final())
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t_starts_one_execution_that_appears_and_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let home = staged_home(tmp.path());
    let mut d = dashboard(
        local_backend(&home, Arc::new(FixedPredictor([0.97, 0.03]))),
        false,
    );
    assert!(
        d.run_until(WAIT, STEP, |a| a
            .shared
            .health("executions")
            .is_some_and(|f| f.last_ok.is_some()))
            .await
    );
    assert_eq!(d.app().shared.executions.total(), 0);
    assert!(d.screen().contains("No executions yet"));
    // staged_home stages the synthetic stand-in: the header must say so.
    assert!(d.screen().contains("SYNTHETIC DATA"), "{}", d.screen());

    d.press(KeyCode::Char('t'));
    assert!(
        d.run_until(WAIT, STEP, |a| finished(a, 1)).await,
        "{}",
        d.screen()
    );
    let e = d.app().shared.executions.at(0).unwrap().clone();
    assert_eq!(e.status, ExecutionStatus::Succeeded);
    assert!(e.s3_key.as_deref().unwrap().starts_with("test/"), "{e:?}");
    let screen = d.screen();
    assert!(screen.contains("SUCCEEDED"), "{screen}");
    assert!(screen.contains("started execution"), "{screen}");
    // The endpoint is in service once the stack answered.
    assert!(d.app().shared.endpoint.as_ref().unwrap().in_service());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_narrows_and_enter_opens_the_failing_state_of_a_low_confidence_execution() {
    let tmp = tempfile::tempdir().unwrap();
    let home = staged_home(tmp.path());
    let mut d = dashboard(
        local_backend(&home, Arc::new(FixedPredictor([0.6, 0.4]))),
        false,
    );
    d.press(KeyCode::Char('T'));
    assert!(
        d.run_until(WAIT, STEP, |a| finished(a, 10)).await,
        "{}",
        d.screen()
    );
    assert!((0..10).all(
        |i| d.app().shared.executions.at(i).unwrap().error.as_deref() == Some("LowConfidence")
    ));

    let bicycles = (0..10)
        .filter(|i| {
            d.app()
                .shared
                .executions
                .at(*i)
                .unwrap()
                .s3_key
                .as_deref()
                .unwrap()
                .contains("bicycle")
        })
        .count();
    d.press(KeyCode::Char('/'));
    d.type_text("bicycle");
    d.press(KeyCode::Enter);
    assert_eq!(d.app().shared.executions.view_len(), bicycles);
    assert!(d.screen().contains("filter:bicycle"));

    d.press(KeyCode::Enter);
    assert!(d.app().panel::<ExecutionsPanel>().unwrap().detail_open);
    assert!(
        d.run_until(WAIT, STEP, |a| a
            .panel::<ExecutionsPanel>()
            .is_some_and(|p| p.detail.is_some()))
            .await
    );
    let detail = d
        .app()
        .panel::<ExecutionsPanel>()
        .and_then(|p| p.detail.as_ref())
        .unwrap();
    let run = detail.selected_run().unwrap();
    assert_eq!(run.name, "FilterLowConfidence");
    assert_eq!(run.status, StateStatus::Failed);
    assert_eq!(run.error.as_deref(), Some("LowConfidence"));
    assert_eq!(detail.runs.len(), 3);
    let screen = d.screen();
    assert!(screen.contains("below the threshold 0.93"), "{screen}");

    // y copies the Error tab as JSON.
    d.press(KeyCode::Char('y'));
    let copied: serde_json::Value = serde_json::from_str(d.copied().last().unwrap()).unwrap();
    assert_eq!(copied["error"], "LowConfidence");
    assert_eq!(copied["cause"]["errorType"], "LowConfidence");

    // Esc closes the detail, a second Esc clears the filter.
    d.press(KeyCode::Esc);
    assert!(!d.app().panel::<ExecutionsPanel>().unwrap().detail_open);
    d.press(KeyCode::Esc);
    assert_eq!(d.app().shared.executions.view_len(), 10);

    // The low-confidence, metrics and capture views see the same ten executions.
    d.press(KeyCode::Char('3'));
    assert!(
        d.run_until(WAIT, STEP, |a| a
            .panel::<LowConfidencePanel>()
            .unwrap()
            .items
            .len()
            == 10)
            .await
    );
    let f = &d.app().panel::<LowConfidencePanel>().unwrap().items[0];
    assert!(
        (f.p_bicycle - 0.6).abs() < 1e-4 && (f.p_motorcycle - 0.4).abs() < 1e-4,
        "{f:?}"
    );
    assert_eq!(f.threshold, 0.93);
    assert_eq!(
        d.app().panel::<LowConfidencePanel>().unwrap().rate(),
        Some(1.0)
    );
    d.press(KeyCode::Char('2'));
    assert!(
        d.run_until(WAIT, STEP, |a| a
            .panel::<MetricsPanel>()
            .unwrap()
            .data
            .as_ref()
            .is_some_and(|m| m.invocations.iter().sum::<f64>() == 10.0))
            .await
    );
    d.press(KeyCode::Char('4'));
    assert!(
        d.run_until(WAIT, STEP, |a| a
            .panel::<CapturePanel>()
            .unwrap()
            .sample
            .as_ref()
            .map_or(0, |s| s.points.len())
            == 10)
            .await,
        "{}",
        d.screen()
    );
    assert!(
        d.app()
            .panel::<CapturePanel>()
            .unwrap()
            .sample
            .as_ref()
            .unwrap()
            .points
            .iter()
            .all(|p| p.confidence() < 0.93)
    );
    d.press(KeyCode::Char('5'));
    assert!(
        d.run_until(WAIT, STEP, |a| !a
            .panel::<LogsPanel>()
            .unwrap()
            .lines
            .is_empty())
            .await
    );
    assert!(
        d.app()
            .panel::<LogsPanel>()
            .unwrap()
            .lines
            .iter()
            .any(|l| l.message.contains("ExecutionFailed"))
    );
    assert!(
        d.app()
            .panel::<LogsPanel>()
            .unwrap()
            .lines
            .iter()
            .any(|l| l.source == "endpoint")
    );
    assert_eq!(d.app().view(), logs::VIEW);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_started_elsewhere_appear_live_in_a_read_only_dashboard() {
    let tmp = tempfile::tempdir().unwrap();
    let home = staged_home(tmp.path());
    let mut d = dashboard(readonly_backend(&home), true);
    assert!(
        d.run_until(WAIT, STEP, |a| !a.is_pending("executions")
            && a.refresh_age().is_some())
            .await
    );
    d.press(KeyCode::Char('t'));
    assert_eq!(d.app().pending(), 0);
    assert!(d.screen().contains("read-only"));

    run_random(&other_runner(&home), 6).await;
    assert!(
        d.run_until(WAIT, STEP, |a| finished(a, 6)).await,
        "{}",
        d.screen()
    );
    assert!(
        (0..6)
            .all(|i| d.app().shared.executions.at(i).unwrap().status == ExecutionStatus::Succeeded)
    );
    // Steady state: only the incremental listing and nothing new.
    let total = d.app().shared.executions.total();
    assert!(!d.run_until(Duration::from_secs(3), STEP, |_| false).await);
    assert_eq!(d.app().shared.executions.total(), total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s_stops_a_running_execution() {
    let tmp = tempfile::tempdir().unwrap();
    let home = staged_home(tmp.path());
    let mut d = dashboard(
        local_backend(&home, Arc::new(SlowPredictor(Duration::from_secs(3)))),
        false,
    );
    d.press(KeyCode::Char('t'));
    assert!(
        d.run_until(WAIT, STEP, |a| a
            .shared
            .executions
            .selected()
            .is_some_and(|e| e.status == ExecutionStatus::Running))
            .await
    );
    d.press(KeyCode::Char('s'));
    assert!(
        d.run_until(WAIT, STEP, |a| a
            .shared
            .executions
            .selected()
            .is_some_and(|e| e.status == ExecutionStatus::Aborted))
            .await,
        "{}",
        d.screen()
    );
    let e = d.app().shared.executions.selected().unwrap();
    assert_eq!(
        e.error.as_deref(),
        Some(scones_workflow::cause::STOPPED_ERROR)
    );
    // A finished execution cannot be stopped: the toast says why.
    d.press(KeyCode::Char('s'));
    assert!(
        d.app()
            .shared
            .toasts
            .items()
            .iter()
            .any(|t| t.text.contains("only running executions can be stopped"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_and_record_link_explain_the_local_backend() {
    let tmp = tempfile::tempdir().unwrap();
    let home = staged_home(tmp.path());
    let mut d = dashboard(
        local_backend(&home, Arc::new(FixedPredictor([0.97, 0.03]))),
        false,
    );
    d.press(KeyCode::Char('t'));
    assert!(d.run_until(WAIT, STEP, |a| finished(a, 1)).await);
    d.press(KeyCode::Char('r'));
    assert!(d.screen().contains("AWS feature"), "{}", d.screen());
    d.press(KeyCode::Char('o'));
    assert!(
        d.run_until(WAIT, STEP, |a| a
            .shared
            .toasts
            .items()
            .iter()
            .any(|t| t.text.contains("scones.sqlite3")))
            .await
    );
}

/// The listing still says FAILED, the history says the execution was redriven and runs
/// again: the list row, the detail and its states show it running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redriven_execution_shows_as_running_again() {
    let doc: serde_json::Value = serde_json::from_str(include_str!(
        "../workflow/tests/fixtures/redriven_execution.json"
    ))
    .unwrap();
    let running_after = doc["runningAfter"].as_u64().unwrap() as usize;
    let events = doc["events"].as_array().unwrap()[..running_after].to_vec();
    let mut rows = support::dashboard::executions();
    // Newest row: a failed execution (as the last listing saw it) with the redriven history.
    let row = rows.last_mut().unwrap();
    row.status = ExecutionStatus::Failed;
    row.error = Some("EndpointFailed".into());
    row.stop = Some(row.start + chrono::Duration::seconds(3));
    let id = row.id.clone();
    let backend = support::dashboard::FixtureBackend::new(rows);
    backend.histories.lock().unwrap().insert(id.clone(), events);
    let mut d = Headless::new(
        backend,
        options(false, false),
        support::dashboard::t0(),
        160,
        48,
    );
    assert!(
        d.run_until(WAIT, STEP, |a| a
            .panel::<ExecutionsPanel>()
            .is_some_and(|p| p.detail.is_some()))
            .await,
        "{}",
        d.screen()
    );
    d.press(KeyCode::Enter);
    let app = d.app();
    assert_eq!(app.shared.executions.selected_id(), Some(id.clone()));
    assert_eq!(
        app.shared.executions.get(&id).unwrap().status,
        ExecutionStatus::Running
    );
    let detail = app
        .panel::<ExecutionsPanel>()
        .and_then(|p| p.detail.as_ref())
        .unwrap();
    let states: Vec<(&str, StateStatus)> = detail
        .runs
        .iter()
        .map(|r| (r.name.as_str(), r.status))
        .collect();
    assert_eq!(
        states,
        [
            ("SerializeImageData", StateStatus::Succeeded),
            ("ClassifyImage", StateStatus::Failed),
            ("ClassifyImage", StateStatus::Running),
        ]
    );
    // Not cached as complete: it will be fetched again.
    assert!(
        !app.panel::<ExecutionsPanel>()
            .unwrap()
            .history_current(&app.shared)
    );
    let screen = d.screen();
    assert!(screen.contains("RUNNING"), "{screen}");
}

/// Messages that name a key name the user's binding, not the default letter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_that_name_a_key_follow_the_users_bindings() {
    let overrides = std::collections::BTreeMap::from([
        ("test".to_owned(), vec!["x".to_owned()]),
        ("burst".to_owned(), vec!["X".to_owned()]),
    ]);
    let keymap = scones::dashboard::keymap::KeyMap::with_overrides(&overrides).unwrap();
    let dashboard = |readonly| {
        let mut opts = options(readonly, false);
        opts.config.keymap = keymap.clone();
        let backend = support::dashboard::FixtureBackend::new(Vec::new());
        Headless::new(backend, opts, support::dashboard::t0(), 100, 30)
    };
    let mut d = dashboard(false);
    assert!(d.run_until(WAIT, STEP, |a| a.refresh_age().is_some()).await);
    let screen = d.screen();
    assert!(
        screen.contains("Press x to start a test execution, X for a burst"),
        "{screen}"
    );
    let mut d = dashboard(true);
    d.press(KeyCode::Char('x'));
    let toast = d.app().shared.toasts.items().last().unwrap().text.clone();
    assert_eq!(
        toast,
        "read-only (--readonly): x, X, s, r, H, b, m, u, z, P and R are turned off"
    );
}

/// An endpoint that does not serve says why in the header (the first model training while
/// the dashboard is already open: "the model is training …, about N s left").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_says_why_the_endpoint_does_not_serve() {
    let backend = support::dashboard::FixtureBackend::new(Vec::new());
    *backend.endpoint.lock().unwrap() = Some(scones_workflow::port::EndpointInfo {
        name: "scones-local-endpoint".to_owned(),
        status: "Creating".to_owned(),
        detail: Some("the model is training (epoch 3/40), about 52 s left".to_owned()),
    });
    let mut d = Headless::new(
        backend,
        options(false, false),
        support::dashboard::t0(),
        160,
        30,
    );
    assert!(
        d.run_until(WAIT, STEP, |a| a.shared.endpoint.is_some())
            .await,
        "{}",
        d.screen()
    );
    let screen = d.screen();
    assert!(
        screen.contains("● Creating the model is training (epoch 3/40), about 52 s left"),
        "{screen}"
    );
}

/// While the endpoint does not serve (the first model training), the header asks for its
/// status every couple of seconds, not every ten: the countdown moves and "InService" shows as
/// soon as `t` works.
#[tokio::test]
async fn the_header_follows_an_endpoint_that_does_not_serve_yet() {
    let backend = support::dashboard::FixtureBackend::new(Vec::new());
    let endpoint = |status: &str| scones_workflow::port::EndpointInfo {
        name: "scones-local-endpoint".to_owned(),
        status: status.to_owned(),
        detail: None,
    };
    *backend.endpoint.lock().unwrap() = Some(endpoint("Creating"));
    let fixture = Arc::clone(&backend);
    let mut d = Headless::new(
        backend,
        options(false, false),
        support::dashboard::t0(),
        160,
        30,
    );
    let creating = |a: &scones::dashboard::app::App| {
        a.shared.endpoint.as_ref().is_some_and(|e| !e.in_service())
    };
    assert!(d.run_until(WAIT, STEP, creating).await, "{}", d.screen());
    *fixture.endpoint.lock().unwrap() = Some(endpoint("InService"));
    // Well under the ten seconds between asks once it serves.
    let serving = |a: &scones::dashboard::app::App| {
        a.shared.endpoint.as_ref().is_some_and(|e| e.in_service())
    };
    assert!(
        d.run_until(Duration::from_secs(5), STEP, serving).await,
        "{}",
        d.screen()
    );
    assert!(d.screen().contains("● InService"), "{}", d.screen());
}
