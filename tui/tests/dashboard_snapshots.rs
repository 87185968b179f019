//! Snapshot tests of every panel and of the whole app, at 80x24 (the smallest supported
//! everyday size) and at 160x48 (the overview layout), from deterministic fixtures: fixed
//! clock, fixed ids, fixed seed, UTC. The real App, Worker and key map run; only the
//! backend is a fixture.

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crossterm::event::KeyCode;
use ratatui::style::Color;

use scones::dashboard::components::image::Entry;
use scones::dashboard::headless::Headless;
use scones::dashboard::panels::capture::CapturePanel;
use scones::dashboard::panels::executions::ExecutionsPanel;
use scones::dashboard::panels::logs::LogsPanel;
use scones::dashboard::panels::low_confidence::LowConfidencePanel;
use scones::dashboard::panels::{drift, metrics, quality};
use support::dashboard::{FixtureBackend, executions, options, t0};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

async fn dashboard(width: u16, height: u16) -> Headless<FixtureBackend> {
    dashboard_with(FixtureBackend::new(executions()), width, height, false).await
}

async fn dashboard_with(
    backend: Arc<FixtureBackend>,
    width: u16,
    height: u16,
    readonly: bool,
) -> Headless<FixtureBackend> {
    let mut d = Headless::new(backend, options(readonly, false), t0(), width, height);
    d.tick(t0());
    assert!(d.settle(Duration::from_secs(5)).await);
    // Answers make further data due (e.g. the selection's history): settle again.
    d.tick(t0());
    assert!(d.settle(Duration::from_secs(5)).await);
    d
}

async fn settle(d: &mut Headless<FixtureBackend>) {
    d.tick(t0());
    assert!(d.settle(Duration::from_secs(5)).await);
}

fn name(base: &str, (w, h): (u16, u16)) -> String {
    format!("{base}_{w}x{h}")
}

#[tokio::test]
async fn executions_list() {
    for size in SIZES {
        let mut d = dashboard(size.0, size.1).await;
        assert_eq!(d.app().shared.executions.total(), 14);
        insta::assert_snapshot!(name("executions", size), d.screen());
    }
}

/// Enter on a LowConfidence execution opens the detail with FilterLowConfidence selected
/// and its Error tab in view.
#[tokio::test]
async fn detail_of_a_low_confidence_failure() {
    for size in SIZES {
        let mut d = dashboard(size.0, size.1).await;
        // newest first: exec-0013 (running) is row 0; exec-0009 is row 4
        for _ in 0..4 {
            d.press(KeyCode::Char('j'));
        }
        assert_eq!(
            d.app().shared.executions.selected().unwrap().name,
            "exec-0009"
        );
        d.press(KeyCode::Enter);
        settle(&mut d).await;
        let detail = d
            .app()
            .panel::<ExecutionsPanel>()
            .and_then(|p| p.detail.as_ref())
            .expect("history loaded");
        assert_eq!(detail.selected_run().unwrap().name, "FilterLowConfidence");
        assert_eq!(detail.runs[1].retries(), 1);
        // exec-0009's image has no label: its prediction is shown, not judged.
        let screen = d.screen();
        assert!(screen.contains("predicted bicycle 0.710"), "{screen}");
        assert!(screen.contains("label none (unlabelled)"), "{screen}");
        insta::assert_snapshot!(name("detail_low_confidence", size), d.screen());
    }
}

#[tokio::test]
async fn detail_of_a_running_execution_with_output_tab() {
    let mut d = dashboard(80, 24).await;
    d.press(KeyCode::Enter); // row 0: the running one
    settle(&mut d).await;
    d.press(KeyCode::Char('k')); // SerializeImageData
    d.press(KeyCode::Char('l')); // next tab
    insta::assert_snapshot!("detail_running_80x24", d.screen());
}

/// The detail of an accepted-but-wrong execution says so next to the image it classified.
#[tokio::test]
async fn detail_shows_the_label_the_verdict_and_the_image() {
    let mut d = dashboard(80, 24).await;
    d.press(KeyCode::Char('/'));
    d.type_text("wrong");
    d.press(KeyCode::Enter);
    assert_eq!(d.app().shared.executions.view_len(), 1);
    assert_eq!(
        d.app().shared.executions.selected().unwrap().name,
        "exec-0008"
    );
    d.press(KeyCode::Enter);
    settle(&mut d).await;
    let key = d
        .app()
        .shared
        .executions
        .selected()
        .unwrap()
        .s3_key
        .clone()
        .unwrap();
    assert!(
        matches!(d.app().shared.images.get(&key), Some(Entry::Ready(p)) if p.dimensions() == (32, 32)),
        "the image was fetched and decoded"
    );
    let screen = d.screen();
    assert!(screen.contains("predicted motorcycle 0.950"), "{screen}");
    assert!(screen.contains("label bicycle"), "{screen}");
    assert!(screen.contains("WRONG, and accepted"), "{screen}");
    // Half blocks: the picture is drawn with ▀/▄ cells inside the image panel.
    assert!(screen.contains('▀') || screen.contains('▄'), "{screen}");
    insta::assert_snapshot!("detail_wrong_80x24", screen);
}

/// An image that cannot be fetched says why in its place; no toast, no retry storm.
#[tokio::test]
async fn an_image_that_cannot_be_fetched_says_why_in_its_place() {
    let mut rows = executions();
    for row in &mut rows {
        row.s3_key = Some("incoming/gone.png".to_owned());
    }
    let backend = FixtureBackend::new(rows);
    let mut d = dashboard_with(Arc::clone(&backend), 80, 24, false).await;
    d.press(KeyCode::Enter);
    settle(&mut d).await;
    let screen = d.screen();
    let image = &d.app().shared.images;
    assert!(
        matches!(image.get("incoming/gone.png"), Some(Entry::Failed { message, .. }) if message == "s3://scones-local/incoming/gone.png does not exist"),
        "{screen}"
    );
    assert!(screen.contains("does not"), "{screen}");
    assert!(d.app().shared.toasts.items().is_empty(), "{screen}");
    let calls = backend.image_calls.load(Ordering::SeqCst);
    assert_eq!(calls, 1);
    for second in 1..10 {
        d.tick(t0() + chrono::Duration::seconds(second));
        assert!(d.settle(Duration::from_secs(5)).await);
    }
    assert_eq!(
        backend.image_calls.load(Ordering::SeqCst),
        calls,
        "not asked again within the retry pause"
    );
}

/// Quality over the window: coverage, accuracy of the accepted, the errors let through, the
/// curve; the unlabelled counted apart.
#[tokio::test]
async fn quality_view() {
    for size in SIZES {
        let mut d = dashboard(size.0, size.1).await;
        d.press(KeyCode::Char('6'));
        settle(&mut d).await;
        assert_eq!(d.app().view(), quality::VIEW);
        let screen = d.screen();
        assert!(
            screen.contains("13 finished · 11 classified · 9 with a label"),
            "{screen}"
        );
        assert!(screen.contains("2 unlabelled"), "{screen}");
        assert!(screen.contains("8 of 9 accepted"), "{screen}");
        insta::assert_snapshot!(name("quality", size), screen);
    }
}

/// With reviewed labels the production box takes rows from the curve; on a short terminal
/// the curve is left out rather than drawn with its axis labels on top of each other
/// ("100%%" was seen in a 100x30 terminal).
#[tokio::test]
async fn quality_with_production_labels_on_a_short_terminal() {
    use scones_workflow::port::Backend;
    use scones_workflow::review::{NewLabel, ReviewReason, Verdict};
    let backend = FixtureBackend::new(executions());
    backend
        .label(NewLabel {
            key: "test/bicycle_s_000513.png".into(),
            label: Verdict::Bicycle,
            reason: ReviewReason::Audit,
            model: Some("v1".into()),
            scores: Some([0.97, 0.03]),
            execution: None,
        })
        .await
        .unwrap();
    for (w, h) in [(100, 30), (80, 24), (160, 48)] {
        let mut d = dashboard_with(backend.clone(), w, h, false).await;
        d.press(KeyCode::Char('6'));
        settle(&mut d).await;
        let screen = d.screen();
        assert!(screen.contains("Production"), "{w}x{h}: {screen}");
        assert!(!screen.contains("%%"), "{w}x{h}: {screen}");
    }
}

/// Drift: the newest window's dark images are an ALERT on brightness, said in the table,
/// its trend and the header (from any tab); the selected statistic's distributions below.
#[tokio::test]
async fn drift_view() {
    for size in SIZES {
        let backend = FixtureBackend::new(executions());
        backend.drifting.store(true, Ordering::SeqCst);
        let mut d = dashboard_with(backend, size.0, size.1, false).await;
        let first = d.screen();
        assert!(
            first.contains("DRIFT ALERT"),
            "the header, on tab 1: {first}"
        );
        d.press(KeyCode::Char('7'));
        settle(&mut d).await;
        assert_eq!(d.app().view(), drift::VIEW);
        // The brightness row (confidence, class mix, low-confidence rate come first).
        d.press(KeyCode::Down);
        d.press(KeyCode::Down);
        d.press(KeyCode::Down);
        let screen = d.screen();
        let brightness = screen.lines().find(|l| l.contains("brightness")).unwrap();
        assert!(brightness.contains("ALERT"), "{screen}");
        assert!(
            screen.contains("300 inferences (300 distinct images)"),
            "{screen}"
        );
        assert!(screen.contains("brightness: share per bin"), "{screen}");
        insta::assert_snapshot!(name("drift", size), screen);
    }
}

/// Nothing could ever be listed (wrong region, no credentials, the service down at start):
/// the list says so and what to check, not "no executions"; other panels show the error
/// instead of "loading…"; the first refresh that succeeds shows the executions.
#[tokio::test]
async fn a_backend_that_never_answered_shows_its_error_not_an_empty_list() {
    let backend = FixtureBackend::new(executions());
    backend.failing.store(true, Ordering::SeqCst);
    let mut d = Headless::new(backend.clone(), options(false, false), t0(), 100, 30);
    d.tick(t0());
    assert!(d.settle(Duration::from_secs(5)).await);
    let screen = d.screen();
    assert!(
        screen.contains("Cannot list executions: ListExecutions failed: connection refused"),
        "{screen}"
    );
    assert!(screen.contains("Check the home"), "{screen}");
    assert!(!screen.contains("No executions yet"), "{screen}");
    d.press(KeyCode::Char('3'));
    d.tick(t0() + chrono::Duration::seconds(1));
    assert!(d.settle(Duration::from_secs(5)).await);
    let screen = d.screen();
    assert!(screen.contains("connection refused"), "{screen}");
    assert!(!screen.contains("loading…"), "{screen}");

    backend.failing.store(false, Ordering::SeqCst);
    d.press(KeyCode::Char('1'));
    d.tick(t0() + chrono::Duration::seconds(30));
    assert!(d.settle(Duration::from_secs(5)).await);
    let screen = d.screen();
    assert!(!screen.contains("Cannot list executions"), "{screen}");
    assert_eq!(d.app().shared.executions.total(), 14);
}

/// On AWS a stop cannot be taken back: the first `s` asks, the second (within 3 s, on the
/// same execution) stops; a late second press asks again (issue 18, item 11).
#[tokio::test]
async fn on_aws_stop_asks_for_a_second_press() {
    let backend = FixtureBackend::new(executions());
    backend.aws.store(true, Ordering::SeqCst);
    let mut d = dashboard_with(backend.clone(), 100, 30, false).await;
    for _ in 0..20 {
        if d.app()
            .shared
            .executions
            .selected()
            .is_some_and(|e| e.status == scones_workflow::ExecutionStatus::Running)
        {
            break;
        }
        d.press(KeyCode::Down);
    }
    let name = d.app().shared.executions.selected().unwrap().name.clone();
    d.press(KeyCode::Char('s'));
    settle(&mut d).await;
    assert_eq!(backend.stops.load(Ordering::SeqCst), 0);
    let asked = format!("press s again within 3 s to stop {name} on AWS");
    assert!(
        d.app()
            .shared
            .toasts
            .items()
            .iter()
            .any(|t| t.text == asked),
        "{}",
        d.screen()
    );
    // Too late: asks again.
    d.tick(t0() + chrono::Duration::seconds(5));
    d.press(KeyCode::Char('s'));
    settle(&mut d).await;
    assert_eq!(backend.stops.load(Ordering::SeqCst), 0);
    // In time: stops.
    d.tick(t0() + chrono::Duration::seconds(6));
    d.press(KeyCode::Char('s'));
    settle(&mut d).await;
    assert_eq!(backend.stops.load(Ordering::SeqCst), 1);
}

/// `o` on AWS: the console URL is long; it is copied whole and the toast shows all of it,
/// wrapped, not cut at three lines (issue 18, item 7).
#[tokio::test]
async fn the_console_link_is_copied_and_shown_whole() {
    let backend = FixtureBackend::new(executions());
    backend.aws.store(true, Ordering::SeqCst);
    let mut d = dashboard_with(backend, 80, 24, false).await;
    d.press(KeyCode::Char('o'));
    settle(&mut d).await;
    let url = d.copied().last().expect("the URL is copied").clone();
    assert!(
        url.starts_with("https://") && url.ends_with("exec-0013"),
        "{url}"
    );
    // The toast's text, joined across its wrapped lines, holds the whole URL.
    let screen = d.screen();
    let toast: String = screen
        .lines()
        .filter_map(|l| {
            let start = l.rfind("│")?;
            let before = &l[..start];
            let open = before.rfind("│")?;
            Some(before[open + "│".len()..].trim().to_owned())
        })
        .collect();
    assert!(toast.contains(&url), "{screen}");
}

/// On AWS the view is the monitor's last report: its age is in the title.
#[tokio::test]
async fn a_drift_report_from_minutes_ago_says_how_old_it_is() {
    let backend = FixtureBackend::new(executions());
    *backend.drift_computed.lock().unwrap() = Some(t0() - chrono::Duration::minutes(20));
    let mut d = dashboard_with(backend, 100, 30, false).await;
    d.press(KeyCode::Char('7'));
    settle(&mut d).await;
    let screen = d.screen();
    let title = screen.lines().find(|l| l.contains(" Drift ")).unwrap();
    assert!(title.contains("report 20m old"), "{screen}");
}

/// A baseline with input statistics only (AWS without a held-out set): the output rows say
/// there is nothing to compare with, not "too few".
#[tokio::test]
async fn output_statistics_without_an_output_baseline_read_n_a() {
    let backend = FixtureBackend::new(executions());
    backend.drift_inputs_only.store(true, Ordering::SeqCst);
    let mut d = dashboard_with(backend, 100, 30, false).await;
    d.press(KeyCode::Char('7'));
    settle(&mut d).await;
    let screen = d.screen();
    let row = |name: &str| {
        screen
            .lines()
            .find(|l| l.contains(name))
            .unwrap()
            .to_owned()
    };
    assert!(row("low-confidence rate").contains("n/a"), "{screen}");
    assert!(row("│confidence ").contains("n/a"), "{screen}");
    assert!(row("brightness").contains("OK"), "{screen}");
    assert!(screen.contains("no output baseline"), "{screen}");
}

/// No baseline: the drift view says why and how to get one; no toast, no header marker.
#[tokio::test]
async fn drift_without_a_baseline_says_so_in_the_view() {
    let backend = FixtureBackend::new(executions());
    backend.failing.store(true, Ordering::SeqCst);
    let mut d = dashboard_with(backend.clone(), 80, 24, false).await;
    d.press(KeyCode::Char('7'));
    settle(&mut d).await;
    let screen = d.screen();
    assert!(
        screen.contains("Drift failed: connection refused"),
        "{screen}"
    );
    assert!(!screen.contains("DRIFT "), "{screen}");
}

#[tokio::test]
async fn metrics_view() {
    for size in SIZES {
        let mut d = dashboard(size.0, size.1).await;
        d.press(KeyCode::Char('2'));
        settle(&mut d).await;
        assert_eq!(d.app().view(), metrics::VIEW);
        insta::assert_snapshot!(name("metrics", size), d.screen());
    }
}

/// Metrics that cover part of the window (an endpoint created minutes ago) are drawn where
/// they happened, in every chart of the tab: the invocations and the latency both start
/// three quarters of the way along (issue 18, item 6; before, the invocations sparkline
/// started at the left edge while the latency chart did not).
#[tokio::test]
async fn every_metrics_chart_shares_one_time_axis() {
    let backend = FixtureBackend::new(executions());
    backend.metrics_late.store(true, Ordering::SeqCst);
    let mut d = dashboard_with(backend, 100, 30, false).await;
    d.press(KeyCode::Char('2'));
    settle(&mut d).await;
    let screen = d.screen();
    let lines: Vec<&str> = screen.lines().collect();
    let plot_start = |title: &str| {
        // The chart's rows follow its title; the plot starts after the y-axis bar.
        let at = lines.iter().position(|l| l.contains(title)).unwrap();
        lines[at + 1..]
            .iter()
            .take_while(|l| !l.contains('('))
            .filter_map(|l| {
                let chars: Vec<char> = l.chars().collect();
                let bar = chars.iter().position(|c| *c == '│' || *c == '┤')?;
                let bar = bar + 1 + chars[bar + 1..].iter().position(|c| *c == '│')?;
                let first = chars[bar + 1..]
                    .iter()
                    .position(|c| ('\u{2801}'..='\u{28ff}').contains(c))?;
                Some((first, chars.len() - bar - 2))
            })
            .min()
            .unwrap_or_else(|| panic!("no marks under {title}: {screen}"))
    };
    let (inv, width) = plot_start("invocations / period");
    let (lat, _) = plot_start("model latency");
    assert!(
        inv * 4 >= width * 2,
        "invocations start at {inv} of {width}: {screen}"
    );
    assert!(
        inv.abs_diff(lat) <= 2,
        "invocations at {inv}, latency at {lat}: {screen}"
    );
}

#[tokio::test]
async fn low_confidence_view() {
    for size in SIZES {
        let mut d = dashboard(size.0, size.1).await;
        d.press(KeyCode::Char('3'));
        settle(&mut d).await;
        assert_eq!(
            d.app().panel::<LowConfidencePanel>().unwrap().items.len(),
            2
        );
        insta::assert_snapshot!(name("low_confidence", size), d.screen());
    }
}

#[tokio::test]
async fn capture_view() {
    for size in SIZES {
        let mut d = dashboard(size.0, size.1).await;
        d.press(KeyCode::Char('4'));
        settle(&mut d).await;
        assert_eq!(
            d.app()
                .panel::<CapturePanel>()
                .unwrap()
                .sample
                .as_ref()
                .unwrap()
                .points
                .len(),
            80
        );
        insta::assert_snapshot!(name("capture", size), d.screen());
    }
}

#[tokio::test]
async fn logs_view() {
    for size in SIZES {
        let mut d = dashboard(size.0, size.1).await;
        for _ in 0..4 {
            d.press(KeyCode::Char('j'));
        }
        d.press(KeyCode::Char('5'));
        settle(&mut d).await;
        assert!(!d.app().panel::<LogsPanel>().unwrap().lines.is_empty());
        insta::assert_snapshot!(name("logs", size), d.screen());
    }
}

/// A finished execution's logs are fetched again until a fetch comes two minutes after it
/// stopped (CloudWatch ingestion lags), then no more (issue 18, item 2).
#[tokio::test]
async fn logs_of_a_just_finished_execution_are_refetched_until_ingestion_is_over() {
    let backend = FixtureBackend::new(executions());
    let mut d = dashboard_with(backend.clone(), 100, 30, false).await;
    // exec-0012 stopped at 11:58:00.264; t0 is 12:00:00, just inside its window.
    d.press(KeyCode::Char('j'));
    let selected = d.app().shared.executions.selected().unwrap().clone();
    assert_eq!(selected.name, "exec-0012");
    d.press(KeyCode::Char('5'));
    settle(&mut d).await;
    assert_eq!(backend.logs_calls.load(Ordering::SeqCst), 1);
    assert!(
        !d.app()
            .panel::<LogsPanel>()
            .unwrap()
            .current(&d.app().shared)
    );
    let mut at = t0();
    for _ in 0..10 {
        at += chrono::Duration::seconds(3);
        d.tick(at);
        assert!(d.settle(Duration::from_secs(5)).await);
    }
    // Fetched again after the window closed, then left alone.
    assert_eq!(backend.logs_calls.load(Ordering::SeqCst), 2);
    assert!(
        d.app()
            .panel::<LogsPanel>()
            .unwrap()
            .current(&d.app().shared)
    );
}

#[tokio::test]
async fn help_overlay() {
    for size in SIZES {
        let mut d = dashboard(size.0, size.1).await;
        d.press(KeyCode::Char('?'));
        insta::assert_snapshot!(name("help", size), d.screen());
        d.press(KeyCode::Esc);
        assert!(!d.screen().contains("Keys"));
    }
}

#[tokio::test]
async fn filter_input() {
    let mut d = dashboard(80, 24).await;
    d.press(KeyCode::Char('/'));
    d.type_text("motor");
    assert_eq!(d.app().shared.executions.view_len(), 7);
    insta::assert_snapshot!("filter_typing_80x24", d.screen());
}

#[tokio::test]
async fn empty_store_and_read_only_toast() {
    let mut d = dashboard_with(FixtureBackend::new(Vec::new()), 80, 24, true).await;
    d.press(KeyCode::Char('t'));
    assert_eq!(d.app().pending(), 0, "read-only: nothing started");
    insta::assert_snapshot!("empty_readonly_80x24", d.screen());
}

#[tokio::test]
async fn stale_marker_and_error_toast_when_refreshes_fail() {
    let backend = FixtureBackend::new(executions());
    let mut d = dashboard_with(Arc::clone(&backend), 80, 24, false).await;
    backend.failing.store(true, Ordering::SeqCst);
    d.tick(t0() + chrono::Duration::seconds(2));
    assert!(d.settle(Duration::from_secs(5)).await);
    assert!(d.app().is_stale());
    insta::assert_snapshot!("stale_80x24", d.screen());
}

#[tokio::test]
async fn started_toast() {
    let mut d = dashboard(80, 24).await;
    d.press(KeyCode::Char('T'));
    settle(&mut d).await;
    let screen = d.screen();
    assert!(screen.contains("started 10 executions"), "{screen}");
}

#[tokio::test]
async fn no_color_draws_without_colours() {
    let backend = FixtureBackend::new(executions());
    let mut d = Headless::new(backend, options(false, true), t0(), 160, 48);
    d.tick(t0());
    assert!(d.settle(Duration::from_secs(5)).await);
    for view in ['1', '2', '3', '4', '5', '6'] {
        d.press(KeyCode::Char(view));
        settle(&mut d).await;
        let buffer = d.render().buffer().clone();
        for cell in buffer.content() {
            assert_eq!(cell.fg, Color::Reset, "{view}: coloured cell {cell:?}");
            assert_eq!(cell.bg, Color::Reset, "{view}: coloured cell {cell:?}");
        }
    }
}

#[tokio::test]
async fn colours_mark_statuses() {
    let mut d = dashboard(80, 24).await;
    let buffer = d.render().buffer().clone();
    let colour_of = |word: &str| {
        let text: Vec<String> = (0..buffer.area.height)
            .map(|y| {
                (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol().to_owned())
                    .collect()
            })
            .collect();
        let (y, line) = text
            .iter()
            .enumerate()
            .find(|(_, l)| l.contains(word))
            .unwrap();
        let x = line.chars().position(|_| true).map(|_| {
            let byte = line.find(word).unwrap();
            line[..byte].chars().count()
        });
        buffer[(x.unwrap() as u16, y as u16)].fg
    };
    assert_eq!(colour_of("FAILED"), Color::Red);
    assert_eq!(colour_of("SUCCEEDED"), Color::Green);
    assert_eq!(colour_of("RUNNING"), Color::Yellow);
}

/// A terminal below the minimum: the notice wraps inside it, and keys that would change
/// anything do nothing (their effect could not be seen); at a usable size they work again.
#[tokio::test]
async fn a_too_small_terminal_shows_a_notice_that_fits_and_ignores_mutating_keys() {
    let backend = FixtureBackend::new(executions());
    let mut d = dashboard_with(Arc::clone(&backend), 30, 8, false).await;
    let screen = d.screen();
    assert!(screen.contains("scones needs at"), "{screen}");
    assert!(screen.contains("30x8"), "the whole notice fits: {screen}");
    d.press(KeyCode::Char('t'));
    settle(&mut d).await;
    assert_eq!(backend.started.load(Ordering::SeqCst), 0, "nothing started");
    d.resize(80, 24);
    d.press(KeyCode::Char('t'));
    settle(&mut d).await;
    assert_eq!(backend.started.load(Ordering::SeqCst), 1);
}

/// The mouse goes through the real event path: a click on a row selects it, a second click
/// opens its detail, a click on a tab title switches to the tab, the wheel moves the list.
#[tokio::test]
async fn mouse_clicks_select_open_and_switch_tabs() {
    use crossterm::event::MouseEventKind;
    let mut d = dashboard(80, 24).await;
    assert_eq!(d.app().shared.executions.selected, 0);
    // Header (2 lines), tab bar, then the list's border and column header: the first row is
    // on line 5; the third on line 7.
    d.click(10, 7);
    assert_eq!(d.app().shared.executions.selected, 2);
    let panel =
        |d: &Headless<FixtureBackend>| d.app().panel::<ExecutionsPanel>().unwrap().detail_open;
    assert!(!panel(&d));
    d.click(10, 7);
    assert!(panel(&d), "a second click on the selected row opens it");
    d.press(KeyCode::Esc);
    d.mouse(MouseEventKind::ScrollDown, 10, 10);
    assert_eq!(
        d.app().shared.executions.selected,
        5,
        "a notch moves three rows"
    );
    // The tab bar is line 3; the titles start at column 0: find the second one.
    let screen = d.screen();
    let tabs = screen.lines().nth(2).unwrap();
    let x = tabs.find(" 2 ").unwrap() as u16 + 1;
    d.click(x, 2);
    assert_eq!(d.app().view(), metrics::VIEW, "{tabs}");
}

/// A signal from outside ends the dashboard like `q`, with the status a shell reports for
/// it (130 after SIGINT, 143 after SIGTERM).
#[tokio::test]
async fn a_signal_ends_the_dashboard_with_its_exit_status() {
    use scones::dashboard::event::Event;
    let mut d = dashboard(80, 24).await;
    d.send(Event::Terminate(143)).unwrap();
    assert!(d.app().should_quit);
    assert_eq!(d.app().exit_status, Some(143));
    let mut d = dashboard(80, 24).await;
    d.press(KeyCode::Char('q'));
    assert!(d.app().should_quit);
    assert_eq!(d.app().exit_status, None, "q is a normal quit");
}

/// Every tab's title stays visible at 80 columns (short titles where the full ones do not
/// fit), and the titles sit side by side.
#[tokio::test]
async fn every_tab_fits_at_80_columns() {
    use scones::dashboard::components::tab_ranges;
    for width in [80, 200] {
        let d = dashboard(width, 24).await;
        let ranges = tab_ranges(d.app().areas().tabs, d.app());
        assert_eq!(ranges.len(), d.app().tabs().count());
        assert_eq!(ranges[0].0, 0);
        for w in ranges.windows(2) {
            assert_eq!(w[0].1 + 1, w[1].0);
        }
        assert!(ranges.last().unwrap().1 <= width, "{ranges:?}");
    }
}

/// The Review tab: one image at a time with the model's scores and why it is queued; `b`
/// labels it and the next one is on screen at once (fetched ahead), `z` takes it back.
#[tokio::test]
async fn review_tab_labels_one_image_after_another_and_undoes() {
    use scones::dashboard::panels::review::{self, ReviewPanel};
    use scones_workflow::review::Verdict;
    for size in SIZES {
        let backend = FixtureBackend::new(executions());
        let mut d = dashboard_with(backend.clone(), size.0, size.1, false).await;
        d.press(KeyCode::Char('8'));
        settle(&mut d).await;
        settle(&mut d).await;
        assert_eq!(d.app().view(), review::VIEW);
        let panel = |d: &Headless<FixtureBackend>| {
            let p = d.app().panel::<ReviewPanel>().unwrap();
            (p.current().map(|i| i.key.clone()), p.items.len())
        };
        let (first, waiting) = panel(&d);
        let first = first.expect("the fixture queues images");
        assert!(waiting >= 3, "{waiting}");
        let screen = d.screen();
        assert!(screen.contains(&first), "{screen}");
        insta::assert_snapshot!(name("review", size), screen);
        // The next images were fetched ahead (in the wide layout, where images show).
        let next: Vec<String> = d
            .app()
            .panel::<ReviewPanel>()
            .unwrap()
            .items
            .iter()
            .skip(1)
            .take(2)
            .map(|i| i.key.clone())
            .collect();
        if size == (160, 48) {
            for key in &next {
                assert!(
                    matches!(d.app().shared.images.get(key), Some(Entry::Ready(_))),
                    "{key} fetched ahead"
                );
            }
        }
        // b: recorded as a bicycle, with why it was queued; the next image is on screen
        // before the answer comes back.
        d.press(KeyCode::Char('b'));
        let (second, _) = panel(&d);
        assert_eq!(second.as_deref(), next.first().map(String::as_str));
        settle(&mut d).await;
        {
            let control = backend.control.lock().unwrap();
            let last = control.labels.last().unwrap();
            assert_eq!(
                (last.key.as_str(), last.label),
                (first.as_str(), Verdict::Bicycle)
            );
        }
        // z: withdrawn, and the image is back on screen.
        d.press(KeyCode::Char('z'));
        settle(&mut d).await;
        assert_eq!(panel(&d).0.as_deref(), Some(first.as_str()));
        let control = backend.control.lock().unwrap();
        assert_eq!(control.labels.last().unwrap().label, Verdict::Withdrawn);
    }
}

/// The Models tab: the versions side by side, which one serves; `P` promotes the selected
/// one and the tab says what happened.
#[tokio::test]
async fn models_tab_lists_versions_and_promotes() {
    use support::dashboard::{FIXTURE_CANDIDATE, FIXTURE_MODEL};
    for size in SIZES {
        let backend = FixtureBackend::new(executions());
        let mut d = dashboard_with(backend.clone(), size.0, size.1, false).await;
        d.press(KeyCode::Char('9'));
        settle(&mut d).await;
        let screen = d.screen();
        assert!(screen.contains("serving 20250601T110000"), "{screen}");
        assert!(
            screen.contains("0.891"),
            "the candidate's production accuracy: {screen}"
        );
        insta::assert_snapshot!(name("models", size), screen);
        // The newest (the candidate) is the first row.
        d.press(KeyCode::Char('P'));
        settle(&mut d).await;
        settle(&mut d).await;
        assert_eq!(
            backend.control.lock().unwrap().models.serving.as_deref(),
            Some(FIXTURE_CANDIDATE)
        );
        let screen = d.screen();
        assert!(screen.contains("promote:"), "{screen}");
        // R: back to the previous version.
        d.press(KeyCode::Char('R'));
        settle(&mut d).await;
        assert_eq!(
            backend.control.lock().unwrap().models.serving.as_deref(),
            Some(FIXTURE_MODEL)
        );
    }
}

/// A hold shows in the header from every tab, with why and since when; `H` releases it,
/// and a read-only dashboard refuses to.
#[tokio::test]
async fn the_header_shows_a_guard_hold_from_every_tab_and_h_releases_it() {
    use scones_workflow::drift::Verdict;
    use scones_workflow::guard::Guard;
    let backend = FixtureBackend::new(executions());
    {
        let mut c = backend.control.lock().unwrap();
        Guard::observe(
            &mut c.guard,
            "m",
            Verdict::Alert,
            &["contrast".to_owned()],
            t0(),
        );
    }
    let mut d = dashboard_with(backend.clone(), 120, 34, true).await;
    for tab in ['1', '3', '8'] {
        d.press(KeyCode::Char(tab));
        let screen = d.screen();
        let header = screen.lines().nth(1).unwrap();
        assert!(header.contains("GUARD HOLDING"), "tab {tab}: {header}");
        assert!(header.contains("since 12:00 · contrast"), "{header}");
    }
    d.press(KeyCode::Char('H'));
    settle(&mut d).await;
    assert!(
        backend.control.lock().unwrap().guard.hold.is_some(),
        "read-only: refused"
    );
    let mut d = dashboard_with(backend.clone(), 120, 34, false).await;
    d.press(KeyCode::Char('H'));
    settle(&mut d).await;
    assert!(
        backend.control.lock().unwrap().guard.hold.is_none(),
        "released"
    );
    settle(&mut d).await;
    assert!(!d.screen().contains("GUARD HOLDING"));
}

/// Until the first listing answers, the empty list says it is loading, not "no executions"
/// (on a hung service the first answer takes seconds).
#[tokio::test]
async fn the_list_says_loading_until_the_first_listing_answers() {
    let backend = FixtureBackend::new(Vec::new());
    let mut d = Headless::new(backend, options(false, false), t0(), 100, 30);
    let screen = d.screen();
    assert!(screen.contains("Loading executions"), "{screen}");
    assert!(!screen.contains("No executions yet"), "{screen}");
    d.tick(t0());
    assert!(d.settle(Duration::from_secs(5)).await);
    let screen = d.screen();
    assert!(screen.contains("No executions yet"), "{screen}");
}

/// The overview's sparklines: a period without invocations has no latency, shown `-` as
/// tab 2 shows it (it read `0.0`), and the latency sparkline has the window's ends under it.
#[tokio::test]
async fn the_overview_sparklines_say_dash_for_no_data_and_have_a_time_axis() {
    let backend = FixtureBackend::new(executions());
    backend.metrics_quiet_now.store(true, Ordering::SeqCst);
    let mut d = dashboard_with(backend, 160, 48, false).await;
    let screen = d.screen();
    assert!(screen.contains("latency ms: last -, peak 0.8"), "{screen}");
    assert!(!screen.contains("latency ms: last 0.0"), "{screen}");
    let axis = screen
        .lines()
        .find(|l| l.contains("-15m") && l.contains("now"))
        .unwrap_or_else(|| panic!("no time axis: {screen}"));
    assert!(axis.find("-15m") < axis.find("now"), "{axis}");
}

/// At 120x34 the curve goes beside the numbers without cutting them ("of 1 referred to a
/// person" and "if every prediction were acted on" were cut there, and whole at 80x24).
#[tokio::test]
async fn the_quality_numbers_are_whole_beside_the_curve() {
    for (w, h) in [(80, 24), (120, 34), (160, 48)] {
        let mut d = dashboard(w, h).await;
        d.press(KeyCode::Char('6'));
        settle(&mut d).await;
        let screen = d.screen();
        for text in [
            "of 1 referred to a person",
            "if every prediction were acted on",
        ] {
            assert!(screen.contains(text), "{w}x{h}: {text}: {screen}");
        }
        if w >= 120 {
            assert!(
                screen.contains("risk-coverage"),
                "{w}x{h}: no curve: {screen}"
            );
        }
    }
}
