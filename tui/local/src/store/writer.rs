//! The background writer: one thread, one connection, one transaction per batch of
//! whatever was queued while the previous batch committed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use scones_asl::HistoryEvent;
use scones_workflow::review::ReviewReason;
use tokio::sync::oneshot;

use super::histories;
use super::payloads::{self, Payload};
use super::types::ExecutionStatus;
use super::{StoreError, open_connection, schema, sqlite};

/// How often an idle writer proves its process is alive.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(2);
/// Most operations written in one transaction (bounds transaction time and memory).
const MAX_BATCH: usize = 20_000;
/// Attempts at a batch before its operations are dropped and reported failed.
const ATTEMPTS: usize = 3;
/// How long a running execution's events may wait in the writer before they are written
/// as rows (a dashboard watching it sees them at most this late). Most local executions end
/// sooner, and their events are then only ever written packed ([`histories`]).
pub(crate) const HOLD: Duration = Duration::from_millis(200);

/// A new execution, recorded as RUNNING.
#[derive(Debug, Clone)]
pub struct ExecutionStart {
    /// Execution ARN (unique).
    pub arn: String,
    /// Execution name.
    pub name: String,
    /// State machine ARN.
    pub state_machine_arn: String,
    /// `s3_key` of the input, if any.
    pub s3_key: Option<String>,
    /// Input JSON text.
    pub input: String,
    /// Start time.
    pub start: DateTime<Utc>,
}

/// How an execution ended.
#[derive(Debug, Clone)]
pub struct ExecutionStop {
    /// Final status (not RUNNING).
    pub status: ExecutionStatus,
    /// Output JSON text (SUCCEEDED).
    pub output: Option<String>,
    /// Error name.
    pub error: Option<String>,
    /// Cause.
    pub cause: Option<String>,
    /// Stop time.
    pub stop: DateTime<Utc>,
    /// Why it goes to a person (refused, held, or drawn for audit), if it does.
    pub review: Option<ReviewReason>,
}

type Ack = oneshot::Sender<Result<(), String>>;

/// One history event as stored: its `history_events` row, or one line of a packed history.
#[derive(Debug, Clone)]
struct StoredEvent {
    event_id: i64,
    kind: String,
    timestamp_ms: i64,
    /// The GetExecutionHistory JSON with its large payloads split out.
    json: String,
}

/// The events of a running execution this writer started that are not written yet.
#[derive(Debug, Default)]
struct OpenHistory {
    held: Vec<StoredEvent>,
    /// When the oldest held event was queued.
    since: Option<Instant>,
    /// Some of its events are `history_events` rows already.
    rows: bool,
}

impl OpenHistory {
    /// Whether its held events are to be written as rows now: on a flush, or once the oldest
    /// has waited [`HOLD`].
    fn due(&self, flushing: bool) -> bool {
        !self.held.is_empty() && (flushing || self.since.is_some_and(|t| t.elapsed() >= HOLD))
    }
}

enum Op {
    Start(ExecutionStart),
    Event {
        arn: Arc<str>,
        event: StoredEvent,
        /// Large details strings taken out of the event's JSON ([`payloads`]).
        payloads: Vec<Payload>,
    },
    Scores {
        arn: Arc<str>,
        scores: [f64; 2],
        model: Option<String>,
    },
    Finish {
        arn: Arc<str>,
        stop: ExecutionStop,
        /// The output's long runs taken out (its template and the runs), when it has any.
        output_split: Option<(String, Vec<Payload>)>,
        ack: Option<Ack>,
    },
    Metric {
        endpoint: Arc<str>,
        metric: &'static str,
        second: i64,
        value: f64,
    },
    Flush(Ack),
}

/// Counters of a writer, for benchmarks and health displays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Transactions committed.
    pub transactions: u64,
    /// Operations written.
    pub operations: u64,
    /// Operations dropped after failed attempts.
    pub dropped: u64,
}

#[derive(Default)]
struct Counters {
    transactions: AtomicU64,
    operations: AtomicU64,
    dropped: AtomicU64,
}

/// Queues writes for the background thread. Cheap to call from async code (a channel send;
/// event JSON is serialised on the caller's thread so the work spreads over the runtime).
/// Dropping it writes what is queued and stops the thread.
pub struct StoreWriter {
    path: PathBuf,
    runner_id: String,
    tx: Option<mpsc::Sender<Op>>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
    last_error: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for StoreWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreWriter")
            .field("path", &self.path)
            .field("runner_id", &self.runner_id)
            .finish_non_exhaustive()
    }
}

impl StoreWriter {
    pub(crate) fn start(path: &Path) -> Result<StoreWriter, StoreError> {
        let conn = open_connection(path)?;
        // A damaged file is refused before anything is written into it: SQLite would go on
        // appending to the healthy pages and nobody would notice until a read failed.
        super::refuse_if_damaged(&conn, path)?;
        schema::migrate(&conn, path)?;
        let runner_id = uuid::Uuid::new_v4().to_string();
        let now = Utc::now().timestamp_millis();
        conn.execute(
            "INSERT INTO runners (id, pid, started_ms, heartbeat_ms) VALUES (?1, ?2, ?3, ?3)",
            params![runner_id, std::process::id(), now],
        )
        .map_err(|e| sqlite(path, e))?;
        let packer = load_packer(&conn).map_err(|e| sqlite(path, e))?;
        let (tx, rx) = mpsc::channel();
        let counters = Arc::new(Counters::default());
        let last_error = Arc::new(Mutex::new(None));
        let thread = {
            let thread_path = path.to_path_buf();
            let runner_id = runner_id.clone();
            let counters = counters.clone();
            let last_error = last_error.clone();
            std::thread::Builder::new()
                .name("scones-store-writer".into())
                .spawn(move || {
                    WriterThread {
                        conn,
                        file: file_identity(&thread_path),
                        path: thread_path,
                        runner_id,
                        ids: HashMap::new(),
                        open: HashMap::new(),
                        packer,
                        samples: Vec::new(),
                        counters,
                        last_error,
                        last_heartbeat: Instant::now(),
                    }
                    .run(rx)
                })
                .map_err(|e| StoreError::WriterStopped {
                    path: path.to_path_buf(),
                    reason: format!("cannot start the writer thread: {e}"),
                })?
        };
        Ok(StoreWriter {
            path: path.to_path_buf(),
            runner_id,
            tx: Some(tx),
            thread: Some(thread),
            counters,
            last_error,
        })
    }

    /// This writer's runner id (stored with every execution it starts).
    pub fn runner_id(&self) -> &str {
        &self.runner_id
    }

    fn send(&self, op: Op) {
        // A send fails only when the thread has ended; the next `flush`/`finish` reports it.
        if let Some(tx) = &self.tx {
            let _ = tx.send(op);
        }
    }

    /// Records a new RUNNING execution.
    pub fn start_execution(&self, start: ExecutionStart) {
        self.send(Op::Start(start));
    }

    /// Records a history event of the execution `arn` (as its GetExecutionHistory JSON;
    /// large payloads are split out here, on the caller's thread, to keep the single writer
    /// thread free for SQLite).
    pub fn event(&self, arn: &Arc<str>, event: &HistoryEvent) {
        let mut json = event.to_aws_json();
        let payloads = payloads::extract(&mut json);
        self.send(Op::Event {
            arn: arn.clone(),
            event: StoredEvent {
                event_id: i64::try_from(event.id).unwrap_or(i64::MAX),
                kind: event.event_type().to_owned(),
                timestamp_ms: event.timestamp.timestamp_millis(),
                json: json.to_string(),
            },
            payloads,
        });
    }

    /// Records the classifier's scores of a running execution and the model version that
    /// gave them.
    pub fn scores(&self, arn: &Arc<str>, scores: [f64; 2], model: Option<String>) {
        self.send(Op::Scores {
            arn: arn.clone(),
            scores,
            model,
        });
    }

    /// Records the end of an execution; resolves once it is committed (durable).
    pub fn finish(
        &self,
        arn: &Arc<str>,
        stop: ExecutionStop,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'static {
        let (ack, done) = oneshot::channel();
        // Split here, on the caller's thread, as events are (see `event`).
        let output_split = stop.output.as_deref().and_then(payloads::extract_text);
        self.send(Op::Finish {
            arn: arn.clone(),
            stop,
            output_split,
            ack: Some(ack),
        });
        self.ack_future(done)
    }

    /// Adds one data point to a metric of an endpoint.
    pub fn metric(&self, endpoint: &Arc<str>, metric: &'static str, at: DateTime<Utc>, value: f64) {
        self.send(Op::Metric {
            endpoint: endpoint.clone(),
            metric,
            second: at.timestamp(),
            value,
        });
    }

    /// Resolves once everything queued before it is committed.
    pub fn flush(&self) -> impl Future<Output = Result<(), StoreError>> + Send + 'static {
        let (ack, done) = oneshot::channel();
        self.send(Op::Flush(ack));
        self.ack_future(done)
    }

    /// [`StoreWriter::flush`] for code outside an async runtime.
    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        let (ack, done) = oneshot::channel();
        self.send(Op::Flush(ack));
        let path = self.path.clone();
        match done.blocking_recv() {
            Ok(result) => result.map_err(|reason| StoreError::WriterStopped { path, reason }),
            Err(_) => Err(self.stopped_error()),
        }
    }

    fn ack_future(
        &self,
        done: oneshot::Receiver<Result<(), String>>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'static {
        let path = self.path.clone();
        let stopped = self.stopped_error();
        async move {
            match done.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(reason)) => Err(StoreError::WriterStopped { path, reason }),
                Err(_) => Err(stopped),
            }
        }
    }

    fn stopped_error(&self) -> StoreError {
        let reason = self
            .last_error
            .lock()
            .ok()
            .and_then(|e| e.clone())
            .unwrap_or_else(|| "the writer thread has ended".into());
        StoreError::WriterStopped {
            path: self.path.clone(),
            reason,
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> WriterStats {
        WriterStats {
            transactions: self.counters.transactions.load(Ordering::Relaxed),
            operations: self.counters.operations.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
        }
    }

    /// Writes what is queued, stops the thread and reports the last error, if any.
    pub fn close(mut self) -> Result<(), StoreError> {
        self.shutdown();
        match self.last_error.lock().ok().and_then(|e| e.clone()) {
            Some(reason) => Err(StoreError::WriterStopped {
                path: self.path.clone(),
                reason,
            }),
            None => Ok(()),
        }
    }

    fn shutdown(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Device and inode of the file at `path` (`None` when there is none).
fn file_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

impl Drop for StoreWriter {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct WriterThread {
    conn: Connection,
    /// The store file's identity when opened ([`file_identity`]).
    file: Option<(u64, u64)>,
    path: PathBuf,
    runner_id: String,
    /// Row ids of the executions this writer started and has not finished.
    ids: HashMap<Arc<str>, i64>,
    /// Events of those executions not written yet, by row id.
    open: HashMap<i64, OpenHistory>,
    packer: histories::Packer,
    /// Joined histories to train the store's dictionary on, while it has none.
    samples: Vec<String>,
    counters: Arc<Counters>,
    last_error: Arc<Mutex<Option<String>>>,
    last_heartbeat: Instant,
}

/// What a committed batch did to the executions' histories; [`WriterThread::settle`]
/// applies it to the writer's memory once the transaction is durable.
#[derive(Debug, Default)]
struct Outcome {
    /// Executions started in the batch.
    new_ids: Vec<(Arc<str>, i64)>,
    /// Executions finished in the batch (their history packed).
    finished: Vec<Arc<str>>,
    /// Executions whose held and new events were written as rows.
    written: HashSet<i64>,
    /// Executions whose new events stay held.
    held: HashSet<i64>,
    /// Histories packed without a dictionary, joined (samples to train one on).
    samples: Vec<String>,
    /// The dictionary trained and stored in the batch, under its id.
    dictionary: Option<(i64, Vec<u8>)>,
    /// Training a dictionary failed: start collecting samples again.
    training_failed: bool,
}

impl WriterThread {
    fn run(mut self, rx: mpsc::Receiver<Op>) {
        loop {
            // Held events must not wait for the next heartbeat.
            let timeout = if self.open.values().any(|h| !h.held.is_empty()) {
                HOLD
            } else {
                HEARTBEAT
            };
            let first = match rx.recv_timeout(timeout) {
                Ok(op) => op,
                Err(RecvTimeoutError::Timeout) => {
                    self.write(Vec::new());
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => break,
                }
            }
            self.write(batch);
        }
        // Clean exit: what is still held is written (a flush), and this process no longer
        // runs anything; executions it left RUNNING are orphans from now on.
        let (ack, _) = oneshot::channel();
        self.write(vec![Op::Flush(ack)]);
        let _ = self
            .conn
            .execute("DELETE FROM runners WHERE id = ?1", [&self.runner_id]);
    }

    fn write(&mut self, batch: Vec<Op>) {
        let mut ops = Vec::with_capacity(batch.len());
        let mut acks: Vec<Ack> = Vec::new();
        // A flush asks for everything queued before it, held events included.
        let mut flushing = false;
        for op in batch {
            match op {
                Op::Flush(ack) => {
                    flushing = true;
                    acks.push(ack);
                }
                Op::Finish {
                    arn,
                    stop,
                    output_split,
                    ack,
                } => {
                    acks.extend(ack);
                    ops.push(Op::Finish {
                        arn,
                        stop,
                        output_split,
                        ack: None,
                    });
                }
                other => ops.push(other),
            }
        }
        let batch = ops;
        if batch.is_empty()
            && !self.open.values().any(|h| h.due(flushing))
            && self.last_heartbeat.elapsed() < HEARTBEAT
        {
            for ack in acks {
                let _ = ack.send(Ok(()));
            }
            return;
        }
        let mut result = Err(String::new());
        for attempt in 1..=ATTEMPTS {
            result = self
                .check_file()
                .and_then(|()| self.write_once(&batch, flushing));
            match &result {
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(attempt, error = %e, path = %self.path.display(), "execution store write failed");
                    std::thread::sleep(Duration::from_millis(50 * attempt as u64));
                }
            }
        }
        let result = match result {
            Ok(outcome) => {
                self.counters.transactions.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .operations
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                self.last_heartbeat = Instant::now();
                self.settle(batch, outcome);
                Ok(())
            }
            Err(e) => {
                self.counters
                    .dropped
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                if let Ok(mut last) = self.last_error.lock() {
                    *last = Some(e.clone());
                }
                Err(e)
            }
        };
        for ack in acks {
            let _ = ack.send(result.clone());
        }
    }

    /// The file at the store's path is still the one this writer opened. SQLite writes on
    /// into an unlinked file without a word: after `rm -rf` of the home, a run would record
    /// thousands of executions nobody can ever read. One `stat` per batch.
    fn check_file(&self) -> Result<(), String> {
        if self.file.is_some() && file_identity(&self.path) != self.file {
            return Err(format!(
                "the store file {} was removed or replaced while in use (was the home \
                 deleted?): nothing more is written to it",
                self.path.display()
            ));
        }
        Ok(())
    }

    fn write_once(&mut self, batch: &[Op], flushing: bool) -> Result<Outcome, String> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(|e| e.to_string())?;
        let outcome = write_ops(
            &tx,
            batch,
            &Memory {
                ids: &self.ids,
                open: &self.open,
                samples: &self.samples,
                flushing,
            },
            &mut self.packer,
            &self.runner_id,
        )
        .map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
        Ok(outcome)
    }

    /// Only now that the rows exist for good does the writer's memory change.
    fn settle(&mut self, batch: Vec<Op>, outcome: Outcome) {
        self.ids.extend(outcome.new_ids);
        for id in &outcome.written {
            if let Some(history) = self.open.get_mut(id) {
                history.held.clear();
                history.since = None;
                history.rows = true;
            }
        }
        let now = Instant::now();
        for op in batch {
            if let Op::Event { arn, event, .. } = op
                && let Some(&id) = self.ids.get(&arn)
                && outcome.held.contains(&id)
            {
                let history = self.open.entry(id).or_default();
                history.since.get_or_insert(now);
                history.held.push(event);
            }
        }
        for arn in outcome.finished {
            if let Some(id) = self.ids.remove(&arn) {
                self.open.remove(&id);
            }
        }
        if let Some((id, dictionary)) = outcome.dictionary {
            match histories::Packer::with_dictionary(id, &dictionary) {
                Ok(packer) => self.packer = packer,
                Err(e) => {
                    tracing::warn!(error = %e, "the history dictionary just trained cannot be used")
                }
            }
            self.samples = Vec::new();
        } else if outcome.training_failed {
            self.samples.clear();
        } else if self.packer.dictionary().is_none() {
            let room = histories::TRAIN_AFTER.saturating_sub(self.samples.len());
            self.samples.extend(outcome.samples.into_iter().take(room));
        }
    }
}

/// What the writer remembers, as a batch sees it.
struct Memory<'a> {
    ids: &'a HashMap<Arc<str>, i64>,
    open: &'a HashMap<i64, OpenHistory>,
    samples: &'a [String],
    flushing: bool,
}

/// The packer of the store's newest history dictionary (none in a new store).
fn load_packer(conn: &Connection) -> rusqlite::Result<histories::Packer> {
    let newest: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT id, dictionary FROM history_dictionaries ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let packer = match &newest {
        Some((id, dictionary)) => histories::Packer::with_dictionary(*id, dictionary),
        None => histories::Packer::plain(),
    };
    packer.map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// Per (endpoint, metric, second): sample count, sum, minimum, maximum.
type MetricSets<'a> = HashMap<(&'a str, &'a str, i64), (u64, f64, f64, f64)>;

fn write_ops<'b>(
    tx: &Transaction<'_>,
    batch: &'b [Op],
    memory: &Memory<'_>,
    packer: &mut histories::Packer,
    runner_id: &str,
) -> rusqlite::Result<Outcome> {
    let now_ms = Utc::now().timestamp_millis();
    tx.execute(
        "UPDATE runners SET heartbeat_ms = ?2 WHERE id = ?1",
        params![runner_id, now_ms],
    )?;
    // Executions whose held events are written now: all on a flush, else those held long enough.
    let due: Vec<i64> = memory
        .open
        .iter()
        .filter(|(_, h)| h.due(memory.flushing))
        .map(|(id, _)| *id)
        .collect();
    if batch.is_empty() && due.is_empty() {
        return Ok(Outcome::default());
    }
    let seq: i64 = tx.query_row(
        "UPDATE meta SET value = value + 1 WHERE key = 'change_seq' RETURNING value",
        [],
        |r| r.get(0),
    )?;
    let mut new_ids: HashMap<Arc<str>, i64> = HashMap::new();
    let mut finished = Vec::new();
    let mut finished_ids: Vec<i64> = Vec::new();
    let mut touched: HashSet<i64> = HashSet::new();
    let mut stamped: HashSet<i64> = HashSet::new();
    let mut metrics: MetricSets<'_> = HashMap::new();
    // This batch's events, by execution, in the order recorded.
    let mut staged: HashMap<i64, Vec<&StoredEvent>> = HashMap::new();

    let mut insert_execution = tx.prepare_cached(
        "INSERT INTO executions (arn, name, state_machine_arn, status, s3_key, input, start_ms, runner, change_seq)
         VALUES (?1, ?2, ?3, 'RUNNING', ?4, ?5, ?6, ?7, ?8)",
    )?;
    // A body stored by an earlier event or execution is already there: ignored. The
    // reference says this execution uses it (what `scones gc` keeps bodies for).
    let mut insert_blob =
        tx.prepare_cached("INSERT OR IGNORE INTO blobs (digest, body) VALUES (?1, ?2)")?;
    let mut insert_ref = tx.prepare_cached(
        "INSERT OR IGNORE INTO payload_refs (execution_id, digest) VALUES (?1, ?2)",
    )?;
    // Most events of an execution carry the same image: each body and reference is written
    // once per batch (the statements would ignore the repeats, after a B-tree search each).
    // Only within the transaction: across batches `scones gc` may have removed a body since.
    let mut stored_bodies: HashSet<&'b str> = HashSet::new();
    let mut stored_refs: HashSet<(i64, &'b str)> = HashSet::new();
    let mut store_payload = |id: i64, payload: &'b Payload| -> rusqlite::Result<()> {
        if stored_bodies.insert(&payload.digest) {
            insert_blob.execute(params![payload.digest, payload.body])?;
        }
        if stored_refs.insert((id, &payload.digest)) {
            insert_ref.execute(params![id, payload.digest])?;
        }
        Ok(())
    };
    let mut set_scores = tx.prepare_cached(
        "UPDATE executions SET p_bicycle = ?2, p_motorcycle = ?3, model = ?4 WHERE id = ?1",
    )?;
    let mut finish = tx.prepare_cached(
        "UPDATE executions SET status = ?2, output = ?3, error = ?4, cause = ?5, stop_ms = ?6, change_seq = ?7,
             output_template = ?8, review = ?9
         WHERE id = ?1",
    )?;
    let mut find = tx.prepare_cached("SELECT id FROM executions WHERE arn = ?1")?;
    let mut id_of =
        |arn: &Arc<str>, new_ids: &HashMap<Arc<str>, i64>| -> rusqlite::Result<Option<i64>> {
            if let Some(id) = new_ids.get(arn).or_else(|| memory.ids.get(arn)) {
                return Ok(Some(*id));
            }
            find.query_row([&**arn], |r| r.get(0)).optional()
        };

    for op in batch {
        match op {
            Op::Start(s) => {
                let inserted = insert_execution.execute(params![
                    s.arn,
                    s.name,
                    s.state_machine_arn,
                    s.s3_key,
                    s.input,
                    s.start.timestamp_millis(),
                    runner_id,
                    seq
                ]);
                match inserted {
                    Ok(_) => {
                        let id = tx.last_insert_rowid();
                        new_ids.insert(Arc::from(s.arn.as_str()), id);
                        stamped.insert(id);
                    }
                    Err(rusqlite::Error::SqliteFailure(e, _))
                        if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                    {
                        tracing::warn!(arn = %s.arn, "an execution with this ARN exists; not recorded again");
                    }
                    Err(e) => return Err(e),
                }
            }
            Op::Event {
                arn,
                event,
                payloads,
            } => {
                if let Some(id) = id_of(arn, &new_ids)? {
                    for payload in payloads {
                        store_payload(id, payload)?;
                    }
                    staged.entry(id).or_default().push(event);
                }
            }
            Op::Scores { arn, scores, model } => {
                if let Some(id) = id_of(arn, &new_ids)? {
                    set_scores.execute(params![id, scores[0], scores[1], model])?;
                    touched.insert(id);
                }
            }
            Op::Finish {
                arn,
                stop,
                output_split,
                ..
            } => {
                if let Some(id) = id_of(arn, &new_ids)? {
                    let (output, template) = match output_split {
                        Some((template, runs)) => {
                            for payload in runs {
                                store_payload(id, payload)?;
                            }
                            (None, Some(template.as_str()))
                        }
                        None => (stop.output.as_deref(), None),
                    };
                    finish.execute(params![
                        id,
                        stop.status.as_str(),
                        output,
                        stop.error,
                        stop.cause,
                        stop.stop.timestamp_millis(),
                        seq,
                        template,
                        stop.review.map(ReviewReason::name)
                    ])?;
                    stamped.insert(id);
                    finished.push(arn.clone());
                    finished_ids.push(id);
                }
            }
            Op::Metric {
                endpoint,
                metric,
                second,
                value,
            } => {
                let e = metrics.entry((&**endpoint, *metric, *second)).or_insert((
                    0,
                    0.0,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                ));
                e.0 += 1;
                e.1 += value;
                e.2 = e.2.min(*value);
                e.3 = e.3.max(*value);
            }
            Op::Flush(_) => {}
        }
    }

    let mut outcome = Outcome::default();
    if packer.dictionary().is_none() && memory.samples.len() >= histories::TRAIN_AFTER {
        match histories::train(memory.samples) {
            Ok(dictionary) => {
                tx.execute(
                    "INSERT INTO history_dictionaries (dictionary, created_ms) VALUES (?1, ?2)",
                    params![dictionary, now_ms],
                )?;
                outcome.dictionary = Some((tx.last_insert_rowid(), dictionary));
            }
            Err(e) => {
                tracing::warn!(error = %e, "no history dictionary trained; histories stay plainly compressed");
                outcome.training_failed = true;
            }
        }
    }
    for &id in &finished_ids {
        let plain = pack_history(tx, packer, id, memory.open.get(&id), staged.remove(&id))?;
        outcome.samples.extend(plain);
    }
    let ours: HashSet<i64> = memory
        .ids
        .values()
        .chain(new_ids.values())
        .copied()
        .collect();
    let mut insert_event = tx.prepare_cached(
        "INSERT OR IGNORE INTO history_events (execution_id, event_id, type, timestamp_ms, event)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut to_write: HashSet<i64> = due.into_iter().collect();
    for &id in staged.keys() {
        // An execution another writer started has no open history here: rows at once.
        if memory.flushing || !ours.contains(&id) {
            to_write.insert(id);
        } else if !to_write.contains(&id) {
            outcome.held.insert(id);
        }
    }
    for id in to_write {
        if finished_ids.contains(&id) {
            continue;
        }
        let held = memory
            .open
            .get(&id)
            .map(|h| h.held.as_slice())
            .unwrap_or_default();
        let new = staged.get(&id).map(Vec::as_slice).unwrap_or_default();
        for e in held.iter().chain(new.iter().copied()) {
            insert_event.execute(params![id, e.event_id, e.kind, e.timestamp_ms, e.json])?;
        }
        outcome.held.remove(&id);
        outcome.written.insert(id);
        touched.insert(id);
    }

    let mut stamp = tx.prepare_cached("UPDATE executions SET change_seq = ?2 WHERE id = ?1")?;
    for id in touched.difference(&stamped) {
        stamp.execute(params![id, seq])?;
    }
    let mut upsert = tx.prepare_cached(
        "INSERT INTO metrics (endpoint, metric, second, sample_count, sum, minimum, maximum)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (endpoint, metric, second) DO UPDATE SET
             sample_count = sample_count + excluded.sample_count,
             sum = sum + excluded.sum,
             minimum = min(minimum, excluded.minimum),
             maximum = max(maximum, excluded.maximum)",
    )?;
    for ((endpoint, metric, second), (count, sum, min, max)) in metrics {
        upsert.execute(params![
            endpoint,
            metric,
            second,
            count as i64,
            sum,
            min,
            max
        ])?;
    }
    outcome.new_ids = new_ids.into_iter().collect();
    outcome.finished = finished;
    Ok(outcome)
}

/// Stores a finished execution's whole history as one packed row ([`histories`]): the
/// events it already has as rows (written while it ran, or by another writer), those held
/// here and those of this batch; its rows are then deleted.
/// Returns the joined history when it was packed without a dictionary (a sample to train
/// one on).
fn pack_history(
    tx: &Transaction<'_>,
    packer: &mut histories::Packer,
    id: i64,
    open: Option<&OpenHistory>,
    staged: Option<Vec<&StoredEvent>>,
) -> rusqlite::Result<Option<String>> {
    let mut events: BTreeMap<i64, &str> = BTreeMap::new();
    let had_rows = open.is_none_or(|h| h.rows);
    let rows: Vec<(i64, String)> = if had_rows {
        let mut stmt = tx
            .prepare_cached("SELECT event_id, event FROM history_events WHERE execution_id = ?1")?;
        stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };
    for (event_id, json) in &rows {
        events.insert(*event_id, json);
    }
    let held = open.map(|h| h.held.iter()).into_iter().flatten();
    for e in held.chain(staged.unwrap_or_default()) {
        events.entry(e.event_id).or_insert(&e.json);
    }
    if events.is_empty() {
        return Ok(None);
    }
    let text = histories::join(events.values().copied());
    let packed = packer
        .pack(&text)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO histories (execution_id, dictionary_id, events, unpacked_len, packed)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        id,
        packer.dictionary(),
        events.len() as i64,
        i64::try_from(text.len()).unwrap_or(i64::MAX),
        packed
    ])?;
    if had_rows {
        tx.prepare_cached("DELETE FROM history_events WHERE execution_id = ?1")?
            .execute([id])?;
    }
    Ok(packer.dictionary().is_none().then_some(text))
}
