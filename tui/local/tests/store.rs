//! The execution store: what the dashboard queries see, two processes writing at once, and a
//! writer killed with SIGKILL mid-run.

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use scones_local::stage::{self, Source, SyntheticSpec};
use scones_local::store::{
    ChangeCursor, ExecutionFilter, ExecutionStart, ExecutionStatus, ExecutionStop, Store,
};
use scones_local::{Home, LocalStack, NoProgress, StackOptions};
use scones_workflow::run::Keys;
use serde_json::Value;
use support::FixedPredictor;

/// Set to the home path when this test binary runs as a child writer.
const CHILD_HOME: &str = "SCONES_TEST_CHILD_HOME";
/// Executions the child runs (0: until killed).
const CHILD_COUNT: &str = "SCONES_TEST_CHILD_COUNT";

fn staged_home(root: &Path) -> Home {
    let home = Home::at(root).unwrap();
    let source = Source::Synthetic {
        spec: SyntheticSpec {
            train_per_class: 2,
            test_per_class: 5,
            seed: 3,
        },
        reason: "store test".into(),
    };
    stage::stage(&home.bucket(), &source, &NoProgress).unwrap();
    home
}

/// Not a test of its own: when started by the tests below with `CHILD_HOME` set, runs real
/// executions against that home and prints `finished <arn>` once each is committed.
#[test]
fn child_writer() {
    let Ok(root) = std::env::var(CHILD_HOME) else {
        return;
    };
    let count: usize = std::env::var(CHILD_COUNT)
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let home = Home::at(Path::new(&root)).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let stack = LocalStack::with_predictor(
            &home,
            &StackOptions::default(),
            Arc::new(FixedPredictor([0.97, 0.03])),
        )
        .unwrap();
        let mut done = 0usize;
        while count == 0 || done < count {
            support::run_keys(&home, &stack, Keys::Random(8), 8, |r| {
                assert!(r.persist_error.is_none(), "{r:?}");
                println!("finished {}", r.arn);
            })
            .await;
            done += 8;
        }
        stack.flush().await.unwrap();
    });
}

/// This test binary run again as the child test `name`, with `env` set, stdout piped.
fn spawn_test(name: &str, env: &[(&str, &std::ffi::OsStr)]) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn spawn_child(home: &Path, count: usize) -> std::process::Child {
    let count = count.to_string();
    spawn_test(
        "child_writer",
        &[
            (CHILD_HOME, home.as_os_str()),
            (CHILD_COUNT, count.as_ref()),
        ],
    )
}

fn finished_arns(output: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(output)
        .lines()
        // libtest may print "test child_writer ... " in front of the first line.
        .filter_map(|l| {
            l.split("finished arn:")
                .nth(1)
                .map(|rest| format!("arn:{rest}"))
        })
        .collect()
}

fn event_types(history: &[Value]) -> Vec<String> {
    history
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("?").to_owned())
        .collect()
}

/// A SUCCEEDED execution of the scones workflow has all 17 events, ids 1..=17 in order.
fn assert_complete_success(store: &Store, arn: &str) {
    let detail = store
        .execution(arn)
        .unwrap()
        .unwrap_or_else(|| panic!("{arn} missing"));
    assert_eq!(detail.summary.status, ExecutionStatus::Succeeded, "{arn}");
    // JSON round trips may move the last digit of an f64.
    let [b, m] = detail
        .summary
        .scores
        .unwrap_or_else(|| panic!("{arn} has no scores"));
    assert!(
        (b - 0.97).abs() < 1e-6 && (m - 0.03).abs() < 1e-6,
        "{b} {m}"
    );
    let history = store.history(arn).unwrap();
    let types = event_types(&history);
    assert_eq!(types.len(), 17, "{arn}: {types:?}");
    assert_eq!(types.first().map(String::as_str), Some("ExecutionStarted"));
    assert_eq!(types.last().map(String::as_str), Some("ExecutionSucceeded"));
    let ids: Vec<u64> = history.iter().filter_map(|e| e["id"].as_u64()).collect();
    assert_eq!(ids, (1..=17).collect::<Vec<u64>>());
}

/// Event `id` of a history, `at_ms` on the execution's clock.
fn history_event(
    id: u64,
    at_ms: i64,
    details: scones_asl::EventDetails,
) -> scones_asl::HistoryEvent {
    scones_asl::HistoryEvent {
        id,
        previous_event_id: id - 1,
        timestamp: ms(at_ms),
        details,
    }
}

/// The file is sound and every reference in it resolves.
fn assert_sound(store: &Store) {
    assert_eq!(store.integrity_check().unwrap(), ["ok"]);
    assert_eq!(store.reference_check().unwrap(), Vec::<String>::new());
}

#[test]
fn two_processes_write_at_once_and_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let home = staged_home(tmp.path());
    let a = spawn_child(home.root(), 200);
    let b = spawn_child(home.root(), 200);
    let a = a.wait_with_output().unwrap();
    let b = b.wait_with_output().unwrap();
    assert!(a.status.success() && b.status.success(), "{a:?} {b:?}");
    let arns: Vec<String> = finished_arns(&a.stdout)
        .into_iter()
        .chain(finished_arns(&b.stdout))
        .collect();
    assert_eq!(arns.len(), 400);

    let store = home.open_store().unwrap();
    assert_sound(&store);
    let counts = store.status_counts().unwrap();
    assert_eq!((counts.total(), counts.succeeded), (400, 400));
    for arn in &arns {
        assert_complete_success(&store, arn);
    }
    // Each writer trained the store's history dictionary after its first 100 histories (or
    // took the other's), and packed the rest with it; all read back above.
    let db = rusqlite::Connection::open(home.store_path()).unwrap();
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert!((1..=2).contains(&count("SELECT count(*) FROM history_dictionaries")));
    assert!(count("SELECT count(*) FROM histories WHERE dictionary_id IS NOT NULL") >= 150);
    assert!(count("SELECT count(*) FROM histories WHERE dictionary_id IS NULL") >= 100);
}

#[test]
fn a_writer_killed_mid_run_leaves_a_sound_store_and_every_finished_execution() {
    let tmp = tempfile::tempdir().unwrap();
    let home = staged_home(tmp.path());
    let mut child = spawn_child(home.root(), 0);
    let stdout = child.stdout.take().unwrap();
    let mut finished = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    for line in BufReader::new(stdout).lines() {
        if let Some(arn) = line
            .unwrap()
            .split("finished arn:")
            .nth(1)
            .map(|rest| format!("arn:{rest}"))
        {
            finished.push(arn);
        }
        if finished.len() >= 300 || Instant::now() > deadline {
            break;
        }
    }
    // SIGKILL while it keeps writing.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        finished.len() >= 300,
        "the child finished only {}",
        finished.len()
    );

    let store = home.open_store().unwrap();
    assert_sound(&store);
    for arn in &finished {
        assert_complete_success(&store, arn);
    }
    // Executions it had in flight are RUNNING with a partial history until reaped.
    let running = store
        .latest_executions(
            &ExecutionFilter {
                status: Some(ExecutionStatus::Running),
                ..ExecutionFilter::default()
            },
            1000,
        )
        .unwrap();
    let reaped = store.reap_orphans(Duration::ZERO).unwrap();
    assert_eq!(reaped.len(), running.len());
    for arn in &reaped {
        let detail = store.execution(arn).unwrap().unwrap();
        assert_eq!(detail.summary.status, ExecutionStatus::Aborted);
        assert_eq!(detail.summary.error.as_deref(), Some("RunnerExited"));
        let history = store.history(arn).unwrap();
        let last = history.last().unwrap();
        assert_eq!(last["type"], "ExecutionAborted");
        assert_eq!(last["id"].as_u64(), Some(history.len() as u64));
    }
    assert_eq!(store.status_counts().unwrap().running, 0);
    assert_sound(&store);
}

fn ms(t: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_millis_opt(t).unwrap()
}

#[tokio::test]
async fn queries_are_incremental_filtered_and_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("s.sqlite3")).unwrap();
    let writer = store.writer().unwrap();
    let arn = |i: usize| format!("arn:aws:states:us-east-1:0:execution:scones:e{i}");
    let arns: Vec<Arc<str>> = (0..10).map(|i| Arc::from(arn(i).as_str())).collect();
    for (i, a) in arns.iter().enumerate() {
        writer.start_execution(ExecutionStart {
            arn: a.to_string(),
            name: format!("e{i}"),
            state_machine_arn: "arn:aws:states:us-east-1:0:stateMachine:scones".into(),
            s3_key: Some(format!("test/img_{i}.png")),
            input: "{}".into(),
            start: ms(1_700_000_000_000 + i as i64),
        });
    }
    writer.flush().await.unwrap();

    // Everything is new; paging by 4 visits each execution exactly once.
    let mut cursor = ChangeCursor::default();
    let mut seen = Vec::new();
    loop {
        let page = store.changes_since(cursor, 4).unwrap();
        seen.extend(page.executions.iter().map(|e| e.name.clone()));
        cursor = page.cursor;
        if !page.more {
            break;
        }
    }
    assert_eq!(seen, (0..10).map(|i| format!("e{i}")).collect::<Vec<_>>());
    assert!(
        store
            .changes_since(cursor, 100)
            .unwrap()
            .executions
            .is_empty()
    );

    // Two finish (one LowConfidence with scores), one gets scores only: exactly those three
    // show up as changed.
    writer.scores(&arns[3], [0.6, 0.4], Some("m1".into()));
    for (i, error) in [(3usize, Some("LowConfidence")), (7, None)] {
        writer
            .finish(
                &arns[i],
                ExecutionStop {
                    status: if error.is_some() {
                        ExecutionStatus::Failed
                    } else {
                        ExecutionStatus::Succeeded
                    },
                    output: error.is_none().then(|| "{}".to_owned()),
                    error: error.map(str::to_owned),
                    cause: error.map(|_| "confidence 0.6 is below the threshold 0.93".to_owned()),
                    stop: ms(1_700_000_001_000),
                    review: None,
                },
            )
            .await
            .unwrap();
    }
    writer.scores(&arns[5], [0.99, 0.01], None);
    writer.flush().await.unwrap();
    let changed = store.changes_since(cursor, 100).unwrap();
    let mut names: Vec<&str> = changed.executions.iter().map(|e| e.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["e3", "e5", "e7"]);

    let low = store
        .failures("LowConfidence", ms(0), ms(4_000_000_000_000), 10)
        .unwrap();
    assert_eq!((low.newest.len(), low.total), (1, 1));
    assert_eq!(low.newest[0].scores, Some([0.6, 0.4]));
    assert_eq!(
        low.newest[0].duration(Utc::now()),
        chrono::Duration::milliseconds(997)
    );

    // The count and the rate come from the whole window, not from the page: six
    // LowConfidence failures of the seven finished, read two at a time, newest first.
    for i in [0usize, 1, 2, 4, 6] {
        writer
            .finish(
                &arns[i],
                ExecutionStop {
                    status: ExecutionStatus::Failed,
                    output: None,
                    error: Some("LowConfidence".to_owned()),
                    cause: None,
                    stop: ms(1_700_000_002_000),
                    review: None,
                },
            )
            .await
            .unwrap();
    }
    writer.flush().await.unwrap();
    let page = store
        .failures("LowConfidence", ms(0), ms(4_000_000_000_000), 2)
        .unwrap();
    let names: Vec<&str> = page.newest.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["e6", "e4"]);
    assert_eq!((page.total, page.finished), (6, 7));

    let newest = store
        .latest_executions(&ExecutionFilter::default(), 3)
        .unwrap();
    let names: Vec<&str> = newest.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["e9", "e8", "e7"]);
    let next = store
        .latest_executions(
            &ExecutionFilter {
                before_id: newest.last().map(|e| e.id),
                ..ExecutionFilter::default()
            },
            2,
        )
        .unwrap();
    assert_eq!(
        next.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        ["e6", "e5"]
    );
    let by_key = store
        .latest_executions(
            &ExecutionFilter {
                key_contains: Some("img_4".into()),
                ..ExecutionFilter::default()
            },
            10,
        )
        .unwrap();
    assert_eq!(by_key.len(), 1);
    let counts = store.status_counts().unwrap();
    assert_eq!((counts.running, counts.succeeded, counts.failed), (3, 1, 6));
    assert_eq!(
        store.execution("e7").unwrap().unwrap().output.as_deref(),
        Some("{}")
    );

    // Metrics: per-second statistic sets, aggregated into any period.
    let endpoint: Arc<str> = Arc::from("ep");
    let t0 = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    for (offset, value) in [(0, 100.0), (0, 300.0), (1, 50.0), (65, 10.0)] {
        writer.metric(
            &endpoint,
            "ModelLatency",
            t0 + chrono::Duration::seconds(offset),
            value,
        );
    }
    writer.flush().await.unwrap();
    let series = store
        .metric_series(
            "ep",
            "ModelLatency",
            t0,
            t0 + chrono::Duration::minutes(5),
            Duration::from_secs(60),
        )
        .unwrap();
    assert_eq!(series.len(), 2);
    assert_eq!(series[0].start, t0);
    assert_eq!((series[0].sample_count, series[0].sum), (3, 450.0));
    assert_eq!((series[0].minimum, series[0].maximum), (50.0, 300.0));
    assert_eq!(series[0].average(), 150.0);
    assert_eq!(series[1].start, t0 + chrono::Duration::seconds(60));
    assert_eq!(series[1].sample_count, 1);
    writer.close().unwrap();
}

/// The local stack on `home` with a model that always answers bicycle at 0.97.
fn confident_stack(home: &Home) -> LocalStack {
    LocalStack::with_predictor(
        home,
        &StackOptions::default(),
        Arc::new(FixedPredictor([0.97, 0.03])),
    )
    .unwrap()
}

/// The base64 image rides in most events of an execution: it is stored once (blobs table),
/// and every history reads back whole, as the engine recorded it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_payloads_are_stored_once_and_histories_read_back_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let home = staged_home(tmp.path());
    let stack = confident_stack(&home);
    let mut arns = Vec::new();
    support::run_keys(&home, &stack, Keys::Random(4), 4, |r| {
        arns.push(r.arn.clone())
    })
    .await;

    let store = home.open_store().unwrap();
    let db = rusqlite::Connection::open(home.store_path()).unwrap();
    for arn in &arns {
        assert_complete_success(&store, arn);
        let detail = store.execution(arn).unwrap().unwrap();
        let output: Value = serde_json::from_str(detail.output.as_deref().unwrap()).unwrap();
        let image = output["image_data"].as_str().unwrap().to_owned();
        assert!(
            image.len() > 1024,
            "the synthetic PNG should be a large payload"
        );
        let png = std::fs::read(home.bucket_dir().join(output["s3_key"].as_str().unwrap()));
        assert_eq!(
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &image).unwrap(),
            png.unwrap()
        );

        let history = store.history(arn).unwrap();
        let text = serde_json::to_string(&history).unwrap();
        assert!(
            !text.contains("$ref:"),
            "a payload was not put back: {text}"
        );
        // Events carry the record as escaped JSON text; count those that hold the image.
        let carrying = history
            .iter()
            .filter(|e| e.to_string().contains(&image))
            .count();
        assert!(carrying >= 6, "{carrying} events carry the image");

        let (rows, stored): (i64, i64) = db
            .query_row(
                "SELECT count(*), coalesce(sum(length(b.body)), 0) FROM payload_refs r
                 JOIN blobs b ON b.digest = r.digest
                 JOIN executions e ON e.id = r.execution_id WHERE e.arn = ?1",
                [arn],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        // A finished execution's history is one packed row, no event rows (schema v4).
        let (rows_left, events): (i64, i64) = db
            .query_row(
                "SELECT (SELECT count(*) FROM history_events h WHERE h.execution_id = e.id),
                        (SELECT length(packed) FROM histories h WHERE h.execution_id = e.id)
                 FROM executions e WHERE e.arn = ?1",
                [arn],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(rows_left, 0, "{arn} still has event rows");
        assert!(events < 3000, "{arn}: {events}-byte packed history");
        assert!(
            rows >= 1 && (rows as usize) < carrying,
            "{rows} payload rows for {carrying} events"
        );
        // Inline, the events alone held the image `carrying` times over.
        assert!(
            ((events + stored) as usize) < image.len() * carrying / 2,
            "{events} bytes of events + {stored} of payloads for a {}-byte image",
            image.len()
        );
    }
}

/// Executions of the same image share one stored body (issue 15): the blob is written once
/// for the whole store, each execution references it, and both histories read back
/// byte for byte with the image in them; every reference resolves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_sharing_an_image_share_its_stored_body() {
    let tmp = tempfile::tempdir().unwrap();
    let home = staged_home(tmp.path());
    let stack = confident_stack(&home);
    let key = home.bucket().test_keys().unwrap()[0].clone();
    let mut arns = Vec::new();
    support::run_keys(
        &home,
        &stack,
        Keys::Given(vec![key.clone(), key.clone(), key]),
        1,
        |r| arns.push(r.arn.clone()),
    )
    .await;
    assert_eq!(arns.len(), 3);

    let store = home.open_store().unwrap();
    let histories: Vec<String> = arns
        .iter()
        .map(|arn| serde_json::to_string(&store.history(arn).unwrap()).unwrap())
        .collect();
    let image = {
        let detail = store.execution(&arns[0]).unwrap().unwrap();
        let output: Value = serde_json::from_str(detail.output.as_deref().unwrap()).unwrap();
        output["image_data"].as_str().unwrap().to_owned()
    };
    for history in &histories {
        assert!(history.contains(&image) && !history.contains("$ref:"));
    }
    let db = rusqlite::Connection::open(home.store_path()).unwrap();
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    let image_blobs: i64 = db
        .query_row(
            "SELECT count(*) FROM blobs WHERE body = ?1",
            [&image],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        image_blobs, 1,
        "the image is stored once for the three executions"
    );
    let refs: i64 = db
        .query_row(
            "SELECT count(DISTINCT r.execution_id) FROM payload_refs r JOIN blobs b ON b.digest = r.digest WHERE b.body = ?1",
            [&image],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(refs, 3);
    // The final output carries the image too: stored apart as well, read back whole above.
    assert_eq!(
        count("SELECT count(*) FROM executions WHERE length(output) > 1024"),
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM executions WHERE output_template IS NOT NULL"),
        3
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM payload_refs r WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = r.digest)"
        ),
        0,
        "a reference dangles"
    );
}

/// Read-only opens write nothing: a store that does not exist reads as empty and is not
/// created (nor its directory, nor a read-only backend's home); an existing store reads with
/// everything committed, also what is still in the WAL.
#[tokio::test]
async fn a_read_only_open_writes_nothing_and_reads_the_wal_too() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nowhere/scones.sqlite3");
    let empty = Store::open_readonly(&missing).unwrap();
    let page = empty.changes_since(ChangeCursor::default(), 10).unwrap();
    assert!(page.executions.is_empty());
    assert!(!tmp.path().join("nowhere").exists(), "nothing created");

    let home = tmp.path().join("home");
    let backend = scones_local::LocalBackend::open(
        &Home::locate(Some(&home)).unwrap(),
        scones_local::LocalOptions {
            readonly: true,
            ..scones_local::LocalOptions::default()
        },
    )
    .unwrap();
    use scones_workflow::port::Backend;
    assert!(
        backend
            .executions_since(None, 10)
            .await
            .unwrap()
            .changed
            .is_empty()
    );
    assert!(
        !home.exists(),
        "a read-only backend on a new home creates nothing"
    );

    // A store with a commit still in its WAL (its writer open) reads whole.
    let path = tmp.path().join("s.sqlite3");
    let store = Store::open(&path).unwrap();
    let writer = store.writer().unwrap();
    writer.start_execution(ExecutionStart {
        arn: "arn:aws:states:us-east-1:0:execution:scones:e1".into(),
        name: "e1".into(),
        state_machine_arn: "arn:aws:states:us-east-1:0:stateMachine:scones".into(),
        s3_key: Some("test/a.png".into()),
        input: "{}".into(),
        start: ms(1_700_000_000_000),
    });
    writer.flush().await.unwrap();
    let readonly = Store::open_readonly(&path).unwrap();
    let page = readonly.changes_since(ChangeCursor::default(), 10).unwrap();
    assert_eq!(page.executions.len(), 1);
    assert_eq!(page.executions[0].name, "e1");
    writer.close().unwrap();
}

/// Set to a store path when this test binary runs as the read-only child.
const CHILD_READONLY_STORE: &str = "SCONES_TEST_CHILD_READONLY_STORE";

/// Not a test of its own: with `CHILD_READONLY_STORE` set, opens that store read-only and
/// read-write, as the user it was started as, and prints what happened.
#[test]
fn child_reader() {
    let Ok(path) = std::env::var(CHILD_READONLY_STORE) else {
        return;
    };
    let path = Path::new(&path);
    match Store::open(path) {
        Ok(_) => println!("read-write: opened"),
        Err(e) => println!("read-write: refused: {e}"),
    }
    let store = Store::open_readonly(path).unwrap();
    let page = store.changes_since(ChangeCursor::default(), 10).unwrap();
    println!("read-only: {} executions", page.executions.len());
}

/// A home the user cannot write (`chmod -R a-w`; as root, the child drops to `nobody`,
/// for whom the mode bits count): a read-write open is refused, the read-only open reads it.
#[tokio::test]
async fn a_home_nobody_may_write_is_read_read_only() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let path = home.join("scones.sqlite3");
    {
        let store = Store::open(&path).unwrap();
        let writer = store.writer().unwrap();
        writer.start_execution(ExecutionStart {
            arn: "arn:aws:states:us-east-1:0:execution:scones:e1".into(),
            name: "e1".into(),
            state_machine_arn: "arn:aws:states:us-east-1:0:stateMachine:scones".into(),
            s3_key: Some("test/a.png".into()),
            input: "{}".into(),
            start: ms(1_700_000_000_000),
        });
        writer.flush().await.unwrap();
        writer.close().unwrap();
    }
    for entry in std::fs::read_dir(&home).unwrap() {
        let file = entry.unwrap().path();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).unwrap();
    }
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o555)).unwrap();
    // A copy of this binary where `nobody` can run it (the target directory may not be).
    let exe = tmp.path().join("store-test");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let root = std::fs::metadata("/proc/self").map(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid() == 0
    });
    let mut child = if root.unwrap_or(false) {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    let out = child
        .args(["child_reader", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_READONLY_STORE, &path)
        .output()
        .expect("run the child (as root it needs util-linux's setpriv to become nobody)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("read-write: refused"), "{stdout}");
    assert!(stdout.contains("read-only: 1 executions"), "{stdout}");
}

/// A damaged store is refused before anything is written into it, with the way out; a file
/// that is no database at all too.
#[tokio::test]
async fn a_damaged_store_is_refused_with_how_to_recover() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("scones.sqlite3");
    {
        let store = Store::open(&path).unwrap();
        let writer = store.writer().unwrap();
        for i in 0..200 {
            writer.start_execution(ExecutionStart {
                arn: format!("arn:aws:states:us-east-1:0:execution:scones:e{i}"),
                name: format!("e{i}"),
                state_machine_arn: "arn:aws:states:us-east-1:0:stateMachine:scones".into(),
                s3_key: Some(format!("test/img_{i}.png")),
                input: format!(
                    "{{\"s3_key\": \"test/img_{i}.png\", \"pad\": \"{}\"}}",
                    "x".repeat(200)
                ),
                start: ms(1_700_000_000_000 + i),
            });
        }
        writer.flush().await.unwrap();
        writer.close().unwrap();
    }
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 4 * 4096, "several pages: {}", bytes.len());
    // Garbage over the third page: a table page of the executions.
    bytes[2 * 4096..3 * 4096].fill(0xA5);
    std::fs::write(&path, &bytes).unwrap();
    // Refused on opening, read-write or read-only: every command (gc, history, the
    // dashboard, run) says the same thing instead of a bare SQLite error or "removed 0".
    for err in [
        Store::open(&path).expect_err("a damaged store must not be used"),
        Store::open_readonly(&path).expect_err("nor read as if sound"),
    ] {
        assert_eq!(err.name(), "Corrupt", "{err}");
        let message = err.to_string();
        assert!(
            message.contains("damaged") && message.contains("mv "),
            "{message}"
        );
    }

    let junk = tmp.path().join("junk.sqlite3");
    std::fs::write(&junk, vec![0x42; 8192]).unwrap();
    let err = Store::open(&junk).expect_err("not a database");
    assert_eq!(err.name(), "Corrupt", "{err}");
}

/// `rm -rf` of the home under a running writer: SQLite would go on writing into the unlinked
/// file; the writer notices the file is gone and fails, so a run stops (issue 27).
#[tokio::test]
async fn a_store_removed_while_in_use_is_written_no_more() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let path = home.join("scones.sqlite3");
    let start = |i: i64| ExecutionStart {
        arn: format!("arn:aws:states:us-east-1:0:execution:scones:r{i}"),
        name: format!("r{i}"),
        state_machine_arn: "arn:aws:states:us-east-1:0:stateMachine:scones".into(),
        s3_key: Some("test/a.png".into()),
        input: "{}".into(),
        start: ms(1_700_000_000_000 + i),
    };
    let store = Store::open(&path).unwrap();
    let writer = store.writer().unwrap();
    writer.start_execution(start(0));
    writer.flush().await.unwrap();
    std::fs::remove_dir_all(&home).unwrap();
    writer.start_execution(start(1));
    let err = writer
        .flush()
        .await
        .expect_err("a removed store must not be written to");
    assert!(err.to_string().contains("removed or replaced"), "{err}");
}

/// `scones gc`'s store half: old and surplus finished executions go with their events and
/// references; a payload body goes when nothing references it any more and stays while
/// anything does; running executions stay; a dry run counts and removes nothing; every
/// reference left resolves (issue 15).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_removes_old_executions_and_only_unreferenced_payloads() {
    use scones_local::store::Retention;

    let tmp = tempfile::tempdir().unwrap();
    let home = staged_home(tmp.path());
    let stack = confident_stack(&home);
    let keys = home.bucket().test_keys().unwrap();
    let (a, b) = (keys[0].clone(), keys[1].clone());
    let mut arns = Vec::new();
    // Image a in executions 0 and 2, image b in 1 and 3.
    support::run_keys(
        &home,
        &stack,
        Keys::Given(vec![a.clone(), b.clone(), a, b]),
        1,
        |r| arns.push(r.arn.clone()),
    )
    .await;
    let db = rusqlite::Connection::open(home.store_path()).unwrap();
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    // Executions 0 and 1 started 30 days ago; one more is still running.
    let now = chrono::Utc::now();
    let old_ms = (now - chrono::Duration::days(30)).timestamp_millis();
    for arn in &arns[..2] {
        db.execute(
            "UPDATE executions SET start_ms = ?1 WHERE arn = ?2",
            rusqlite::params![old_ms, arn],
        )
        .unwrap();
    }
    db.execute(
        "INSERT INTO executions (arn, name, state_machine_arn, status, input, start_ms, runner, change_seq)
         VALUES ('arn:running', 'running', 'arn:sm', 'RUNNING', '{}', ?1, 'r', 1)",
        [old_ms],
    )
    .unwrap();
    let blobs_before = count("SELECT count(*) FROM blobs");
    let events_in_store = || {
        count("SELECT count(*) FROM history_events")
            + count("SELECT coalesce(sum(events), 0) FROM histories")
    };
    let events_before = events_in_store();

    let store = home.open_store().unwrap();
    let week = Retention {
        older_than: Some(chrono::Duration::days(7)),
        keep: None,
    };
    let dry = store.gc(&week, now, true).unwrap();
    assert_eq!((dry.executions, dry.blobs, dry.dry_run), (2, 0, true));
    assert_eq!(
        count("SELECT count(*) FROM executions"),
        5,
        "a dry run removes nothing"
    );

    // A dashboard listing incrementally, up to date before the collection.
    let seen = store
        .changes_since(Default::default(), 10_000)
        .unwrap()
        .cursor;
    let report = store.gc(&week, now, false).unwrap();
    assert_eq!(report.executions, 2);
    // It learns of the removals once.
    let changes = store.changes_since(seen, 10_000).unwrap();
    let mut removed = changes.removed.clone();
    removed.sort();
    let mut expected: Vec<String> = arns[..2].iter().map(|a| a.to_string()).collect();
    expected.sort();
    assert_eq!(removed, expected);
    assert!(
        store
            .changes_since(changes.cursor, 10_000)
            .unwrap()
            .removed
            .is_empty()
    );
    assert!(report.events > 0);
    assert_eq!(
        report.blobs, 0,
        "images a and b are still used by executions 2 and 3"
    );
    assert_eq!(count("SELECT count(*) FROM executions"), 3);
    assert_eq!(count("SELECT count(*) FROM blobs"), blobs_before);
    assert_eq!(events_in_store(), events_before - report.events as i64);
    assert!(store.execution("arn:running").unwrap().is_some());
    for arn in &arns[2..] {
        assert_complete_success(&store, arn);
    }

    // Keep the newest one, execution 3 (the running one stays whatever its age or rank).
    let report = store
        .gc(
            &Retention {
                older_than: None,
                keep: Some(1),
            },
            now,
            false,
        )
        .unwrap();
    assert_eq!(report.executions, 1);
    assert_eq!(
        report.blobs,
        blobs_before as u64 / 2,
        "image a's body is unused now"
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM payload_refs r WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = r.digest)"
        ),
        0,
        "a reference dangles"
    );
    assert_complete_success(&store, &arns[3]);
    assert_eq!(
        count("SELECT count(*) FROM executions WHERE status != 'RUNNING'"),
        1
    );
    assert_sound(&store);

    // The walk does find a body that went missing.
    db.execute("DELETE FROM blobs", []).unwrap();
    let problems = store.reference_check().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("references missing body")),
        "{problems:?}"
    );
}

/// A running execution's events reach the store as rows a watcher reads (within the
/// writer's hold, without a flush); once it ends its whole history is one packed row, read
/// back as it was while running, and `history_after` reads a packed history too (issue 15).
#[tokio::test]
async fn a_running_history_is_watchable_and_a_finished_one_is_packed() {
    use scones_asl::{EventDetails, StateType};

    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("s.sqlite3")).unwrap();
    let writer = store.writer().unwrap();
    let arn: Arc<str> = Arc::from("arn:aws:states:us-east-1:0:execution:scones:live");
    writer.start_execution(ExecutionStart {
        arn: arn.to_string(),
        name: "live".into(),
        state_machine_arn: "arn:aws:states:us-east-1:0:stateMachine:scones".into(),
        s3_key: None,
        input: "{}".into(),
        start: ms(1_700_000_000_000),
    });
    let image = "iVBORw0KGgo".repeat(300);
    let record = serde_json::json!({"s3_key": "test/a.png", "image_data": image});
    let event = |id: u64, details| history_event(id, 1_700_000_000_000 + id as i64, details);
    writer.event(
        &arn,
        &event(
            1,
            EventDetails::ExecutionStarted {
                input: record.clone().into(),
                role_arn: "arn:aws:iam::0:role/r".into(),
            },
        ),
    );
    writer.event(
        &arn,
        &event(
            2,
            EventDetails::StateEntered {
                state_type: StateType::Pass,
                name: Arc::from("Copy"),
                input: record.clone().into(),
            },
        ),
    );
    let db = rusqlite::Connection::open(store.path()).unwrap();
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.history(&arn).unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "held events never written");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let while_running = store.history(&arn).unwrap();
    assert_eq!(count("SELECT count(*) FROM history_events"), 2);
    assert_eq!(count("SELECT count(*) FROM histories"), 0);
    assert!(while_running[1].to_string().contains(&image));

    writer.event(
        &arn,
        &event(
            3,
            EventDetails::StateExited {
                state_type: StateType::Pass,
                name: Arc::from("Copy"),
                output: record.clone().into(),
                assigned_variables: None,
            },
        ),
    );
    writer.event(
        &arn,
        &event(
            4,
            EventDetails::ExecutionSucceeded {
                output: record.clone().into(),
            },
        ),
    );
    writer
        .finish(
            &arn,
            ExecutionStop {
                status: ExecutionStatus::Succeeded,
                output: Some(record.to_string()),
                error: None,
                cause: None,
                stop: ms(1_700_000_000_010),
                review: None,
            },
        )
        .await
        .unwrap();
    let finished = store.history(&arn).unwrap();
    assert_eq!(finished[..2], while_running[..]);
    let ids: Vec<u64> = finished.iter().filter_map(|e| e["id"].as_u64()).collect();
    assert_eq!(ids, [1, 2, 3, 4]);
    assert_eq!(finished[3]["type"], "ExecutionSucceeded");
    assert_eq!(count("SELECT count(*) FROM history_events"), 0);
    assert_eq!(count("SELECT sum(events) FROM histories"), 4);
    assert_eq!(store.history_after(&arn, 2).unwrap(), finished[2..]);
    assert!(store.history_after(&arn, 4).unwrap().is_empty());
}

/// Set to the store path when this test binary runs as a child collecting garbage.
const CHILD_GC: &str = "SCONES_TEST_CHILD_GC";

/// Not a test of its own: started by the test below with `CHILD_GC` set, removes every
/// finished execution of that store.
#[test]
fn child_gc() {
    let Ok(path) = std::env::var(CHILD_GC) else {
        return;
    };
    let store = Store::open(Path::new(&path)).unwrap();
    println!("collecting");
    let retention = scones_local::store::Retention {
        older_than: None,
        keep: Some(0),
    };
    store.gc(&retention, Utc::now(), false).unwrap();
    println!("collected");
}

/// `n` finished executions written straight through the writer, each with a large payload
/// shared with one in fifty of the others, a two-event history and an output.
async fn fill(store: &Store, n: usize) {
    use scones_asl::EventDetails;
    let writer = store.writer().unwrap();
    for i in 0..n {
        let arn: Arc<str> = Arc::from(format!("arn:aws:states:us-east-1:0:execution:scones:e{i}"));
        writer.start_execution(ExecutionStart {
            arn: arn.to_string(),
            name: format!("e{i}"),
            state_machine_arn: "arn:aws:states:us-east-1:0:stateMachine:scones".into(),
            s3_key: Some(format!("test/{}.png", i % 50)),
            input: "{}".into(),
            start: ms(1_700_000_000_000 + i as i64),
        });
        let record = serde_json::json!({"image_data": format!("{:04}", i % 50).repeat(300)});
        let event = |id: u64, details| history_event(id, 1_700_000_000_000 + i as i64, details);
        writer.event(
            &arn,
            &event(
                1,
                EventDetails::ExecutionStarted {
                    input: record.clone().into(),
                    role_arn: "arn:aws:iam::0:role/r".into(),
                },
            ),
        );
        writer.event(
            &arn,
            &event(
                2,
                EventDetails::ExecutionSucceeded {
                    output: record.clone().into(),
                },
            ),
        );
        let finished = writer.finish(
            &arn,
            ExecutionStop {
                status: ExecutionStatus::Succeeded,
                output: Some(record.to_string()),
                error: None,
                cause: None,
                stop: ms(1_700_000_000_001 + i as i64),
                review: None,
            },
        );
        if i % 1000 == 999 {
            finished.await.unwrap();
        }
    }
    writer.flush().await.unwrap();
}

/// kill -9 in the middle of `scones gc` (issue 15): the batches it committed are gone whole,
/// the rest is untouched, nothing dangles, and the next collection finishes the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_killed_mid_way_leaves_a_sound_store() {
    const N: usize = 10_000;
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("s.sqlite3");
    let store = Store::open(&path).unwrap();
    fill(&store, N).await;
    assert_eq!(store.status_counts().unwrap().succeeded, N as u64);

    let mut child = spawn_test("child_gc", &[(CHILD_GC, path.as_os_str())]);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(
        lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.contains("collecting")),
        "the child never started collecting"
    );
    // Kill as soon as its first batch is committed.
    let db = rusqlite::Connection::open(&path).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while db
        .query_row("SELECT count(*) FROM removed_executions", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap()
        == 0
    {
        assert!(Instant::now() < deadline, "gc removed nothing in a minute");
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let finished_early = lines.map_while(Result::ok).any(|l| l.contains("collected"));
    assert!(
        !finished_early,
        "gc finished before the kill: make N larger"
    );

    let store = Store::open(&path).unwrap();
    assert_sound(&store);
    let left = store.status_counts().unwrap().total();
    let removed: i64 = db
        .query_row("SELECT count(*) FROM removed_executions", [], |r| r.get(0))
        .unwrap();
    assert!(left > 0 && left < N as u64, "{left} left");
    assert_eq!(left + removed as u64, N as u64);
    for summary in store
        .latest_executions(&ExecutionFilter::default(), 50)
        .unwrap()
    {
        let history = store.history(&summary.arn).unwrap();
        assert_eq!(
            event_types(&history),
            ["ExecutionStarted", "ExecutionSucceeded"]
        );
        assert!(
            store
                .execution(&summary.arn)
                .unwrap()
                .unwrap()
                .output
                .is_some()
        );
    }

    let retention = scones_local::store::Retention {
        older_than: None,
        keep: Some(0),
    };
    store.gc(&retention, Utc::now(), false).unwrap();
    assert_eq!(store.status_counts().unwrap().total(), 0);
    let blobs: i64 = db
        .query_row("SELECT count(*) FROM blobs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(blobs, 0, "no execution uses a body any more");
    assert_sound(&store);
}
