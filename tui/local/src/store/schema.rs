//! The schema and its versioning. Every change is a new numbered step; a file written by a
//! newer build is refused rather than misread.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::{StoreError, sqlite};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 5;

const V1: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO meta (key, value) VALUES ('change_seq', 0);

-- One row per execution, updated as it runs. `change_seq` is bumped whenever the row or its
-- history changes, so "what changed since cursor X" is one index range scan.
CREATE TABLE executions (
    id                INTEGER PRIMARY KEY,
    arn               TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL,
    state_machine_arn TEXT NOT NULL,
    status            TEXT NOT NULL
        CHECK (status IN ('RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED')),
    s3_key            TEXT,
    input             TEXT NOT NULL,
    output            TEXT,
    error             TEXT,
    cause             TEXT,
    p_bicycle         REAL,
    p_motorcycle      REAL,
    start_ms          INTEGER NOT NULL,
    stop_ms           INTEGER,
    runner            TEXT NOT NULL,
    change_seq        INTEGER NOT NULL
);
CREATE INDEX executions_by_change ON executions (change_seq);
CREATE INDEX executions_by_start ON executions (start_ms);
CREATE INDEX executions_by_status ON executions (status);
CREATE INDEX executions_by_error ON executions (error, start_ms) WHERE error IS NOT NULL;
CREATE INDEX executions_running ON executions (runner) WHERE status = 'RUNNING';

-- The GetExecutionHistory JSON of each event, in event id order.
CREATE TABLE history_events (
    execution_id INTEGER NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    event_id     INTEGER NOT NULL,
    type         TEXT NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    event        TEXT NOT NULL
);
CREATE UNIQUE INDEX history_events_by_execution ON history_events (execution_id, event_id);

-- Endpoint metrics as per-second statistic sets (CloudWatch's model): any period is a sum.
CREATE TABLE metrics (
    endpoint     TEXT NOT NULL,
    metric       TEXT NOT NULL,
    second       INTEGER NOT NULL,
    sample_count INTEGER NOT NULL,
    sum          REAL NOT NULL,
    minimum      REAL NOT NULL,
    maximum      REAL NOT NULL,
    PRIMARY KEY (endpoint, metric, second)
) WITHOUT ROWID;

-- Processes that write executions, with a heartbeat, so executions of a dead process can be
-- told apart from running ones.
CREATE TABLE runners (
    id           TEXT PRIMARY KEY,
    pid          INTEGER NOT NULL,
    started_ms   INTEGER NOT NULL,
    heartbeat_ms INTEGER NOT NULL
);
"#;

/// Version 2: large event payloads stored once per execution ([`super::payloads`]).
const V2: &str = r#"
CREATE TABLE payloads (
    execution_id INTEGER NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    digest       TEXT NOT NULL,
    body         TEXT NOT NULL,
    PRIMARY KEY (execution_id, digest)
) WITHOUT ROWID;
"#;

/// Version 3: large payloads stored once in the whole store, not once per execution (the
/// same test image runs through thousands of executions): the body under its digest in
/// `blobs`, and which execution uses which in `payload_refs`, so `scones gc` can tell a
/// body no execution uses any more. A v2 file's payloads move over in the same transaction.
/// An execution's output (the final record carries the image too) is split the same way:
/// `output_template` holds its template and `output` is then NULL.
const V3: &str = r#"
ALTER TABLE executions ADD COLUMN output_template TEXT;
CREATE TABLE blobs (
    digest TEXT PRIMARY KEY,
    body   TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE payload_refs (
    execution_id INTEGER NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    digest       TEXT NOT NULL,
    PRIMARY KEY (execution_id, digest)
) WITHOUT ROWID;
CREATE INDEX payload_refs_by_digest ON payload_refs (digest);
-- Executions `scones gc` removed, under the change sequence of their removal, so a dashboard
-- listing incrementally learns they are gone; kept a day.
CREATE TABLE removed_executions (
    arn        TEXT NOT NULL,
    change_seq INTEGER NOT NULL,
    removed_ms INTEGER NOT NULL
);
CREATE INDEX removed_executions_by_seq ON removed_executions (change_seq);
INSERT OR IGNORE INTO blobs (digest, body) SELECT digest, body FROM payloads;
INSERT OR IGNORE INTO payload_refs (execution_id, digest) SELECT execution_id, digest FROM payloads;
DROP TABLE payloads;
"#;

/// Version 4: a finished execution's history is one packed row ([`super::histories`])
/// instead of a row per event; running executions and older rows keep `history_events`.
/// The dictionaries packed histories name are kept for good (a few, 16 KB each).
const V4: &str = r#"
CREATE TABLE history_dictionaries (
    id         INTEGER PRIMARY KEY,
    dictionary BLOB NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE histories (
    execution_id  INTEGER PRIMARY KEY REFERENCES executions (id) ON DELETE CASCADE,
    dictionary_id INTEGER REFERENCES history_dictionaries (id),
    events        INTEGER NOT NULL,
    unpacked_len  INTEGER NOT NULL,
    packed        BLOB NOT NULL
);
"#;

/// Version 5: the control loop. Each execution records the model version that classified
/// it, and why it went to review (`low_confidence`, `drift_hold`, `audit`), indexed for the
/// review queue.
const V5: &str = r#"
ALTER TABLE executions ADD COLUMN model TEXT;
ALTER TABLE executions ADD COLUMN review TEXT;
CREATE INDEX executions_for_review ON executions (start_ms) WHERE review IS NOT NULL;
"#;

/// Checks that a store opened read-only has the schema this build reads (it cannot be
/// migrated without writing).
pub(crate) fn check_readable(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| sqlite(path, e))?;
    match version {
        v if v == SCHEMA_VERSION => Ok(()),
        v if v > SCHEMA_VERSION => Err(StoreError::SchemaTooNew {
            path: path.to_path_buf(),
            found: v,
            supported: SCHEMA_VERSION,
        }),
        v => Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: format!(
                "schema version {v} is older than this build's {SCHEMA_VERSION} and a read-only \
                 open cannot upgrade it: open it once without --readonly"
            ),
        }),
    }
}

/// Brings the file up to [`SCHEMA_VERSION`]. Safe when several processes open a new file at
/// once: the check and the creation happen in one write transaction.
pub(crate) fn migrate(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| sqlite(path, e))?;
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    if version > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
        .map_err(|e| sqlite(path, e))?;
    // Re-read inside the write lock: another process may have migrated meanwhile.
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| sqlite(path, e))?;
    if version < SCHEMA_VERSION {
        // Each step once, in order; a v1 file keeps its rows (their events are inline, which
        // readers still understand).
        for (step, ddl) in [(1, V1), (2, V2), (3, V3), (4, V4), (5, V5)] {
            if version < step {
                tx.execute_batch(ddl).map_err(|e| sqlite(path, e))?;
            }
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(|e| sqlite(path, e))?;
    }
    tx.commit().map_err(|e| sqlite(path, e))
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::{SCHEMA_VERSION, V1, V2, migrate};

    fn version(conn: &Connection) -> i64 {
        conn.pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    }

    /// A store written by the v1 build keeps its rows and gains the payloads table.
    #[test]
    fn a_version_1_file_is_migrated_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.sqlite3");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(V1).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO executions (arn, name, state_machine_arn, status, input, start_ms, runner, change_seq)
             VALUES ('arn:e', 'e', 'arn:sm', 'SUCCEEDED', '{}', 1, 'r', 1)",
            [],
        )
        .unwrap();

        migrate(&conn, &path).unwrap();
        assert_eq!(version(&conn), SCHEMA_VERSION);
        let executions: i64 = conn
            .query_row("SELECT count(*) FROM executions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(executions, 1);
        let blobs: i64 = conn
            .query_row("SELECT count(*) FROM blobs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(blobs, 0);
        // Idempotent.
        migrate(&conn, &path).unwrap();
        assert_eq!(version(&conn), SCHEMA_VERSION);
    }

    /// A v2 store's per-execution payloads become one blob per distinct body, every
    /// execution keeping its reference; nothing else changes.
    #[test]
    fn a_version_2_file_moves_its_payloads_to_shared_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.sqlite3");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(V1).unwrap();
        conn.execute_batch(V2).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        for (id, arn) in [(1, "arn:a"), (2, "arn:b")] {
            conn.execute(
                "INSERT INTO executions (id, arn, name, state_machine_arn, status, input, start_ms, runner, change_seq)
                 VALUES (?1, ?2, 'e', 'arn:sm', 'SUCCEEDED', '{}', 1, 'r', 1)",
                rusqlite::params![id, arn],
            )
            .unwrap();
            // The same image in both executions, and one body of its own each.
            conn.execute(
                "INSERT INTO payloads (execution_id, digest, body) VALUES (?1, 'same', 'IMAGE')",
                [id],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO payloads (execution_id, digest, body) VALUES (?1, ?2, 'OWN')",
                rusqlite::params![id, format!("own-{id}")],
            )
            .unwrap();
        }

        migrate(&conn, &path).unwrap();
        assert_eq!(version(&conn), SCHEMA_VERSION);
        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(count("SELECT count(*) FROM blobs"), 3);
        assert_eq!(count("SELECT count(*) FROM payload_refs"), 4);
        assert_eq!(count("SELECT count(*) FROM executions"), 2);
        let old_table: i64 =
            count("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'payloads'");
        assert_eq!(old_table, 0);
    }

    /// A migration cut short (the process killed before it commits) leaves the v2 file as it
    /// was: the next open migrates it whole. SQLite's transaction is what makes this so; the
    /// test drops the connection mid-migration as kill -9 would.
    #[test]
    fn a_migration_cut_short_leaves_the_old_store_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.sqlite3");
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "journal_mode", "WAL").unwrap();
            conn.execute_batch(V1).unwrap();
            conn.execute_batch(V2).unwrap();
            conn.pragma_update(None, "user_version", 2).unwrap();
            conn.execute(
                "INSERT INTO executions (id, arn, name, state_machine_arn, status, input, start_ms, runner, change_seq)
                 VALUES (1, 'arn:a', 'e', 'arn:sm', 'SUCCEEDED', '{}', 1, 'r', 1)",
                [],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO payloads (execution_id, digest, body) VALUES (1, 'd', 'BODY')",
                [],
            )
            .unwrap();
        }
        {
            // Half a migration: the new tables made, the old one dropped, never committed.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("BEGIN IMMEDIATE;").unwrap();
            conn.execute_batch(super::V3).unwrap();
            // Dropped here without COMMIT, as a killed process leaves it.
        }
        let conn = Connection::open(&path).unwrap();
        assert_eq!(version(&conn), 2);
        let body: String = conn
            .query_row("SELECT body FROM payloads WHERE digest = 'd'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(body, "BODY");
        migrate(&conn, &path).unwrap();
        assert_eq!(version(&conn), SCHEMA_VERSION);
        let body: String = conn
            .query_row("SELECT body FROM blobs WHERE digest = 'd'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(body, "BODY");
    }

    /// Set to a store path when this test binary runs as a child that opens (and so
    /// migrates) it.
    const CHILD_MIGRATE: &str = "SCONES_TEST_CHILD_MIGRATE";

    /// Not a test of its own: started by the test below with `CHILD_MIGRATE` set.
    #[test]
    fn child_migrates() {
        let Ok(path) = std::env::var(CHILD_MIGRATE) else {
            return;
        };
        println!("opening");
        crate::store::Store::open(std::path::Path::new(&path)).unwrap();
        println!("opened");
    }

    const EXECUTIONS: i64 = 2_000;

    /// A v2 store as the v2 build wrote it: executions with event rows and a payload each.
    fn v2_store(path: &std::path::Path) {
        let conn = Connection::open(path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch(V1).unwrap();
        conn.execute_batch(V2).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        let tx = conn.unchecked_transaction().unwrap();
        for id in 1..=EXECUTIONS {
            tx.execute(
                "INSERT INTO executions (id, arn, name, state_machine_arn, status, input, start_ms, runner, change_seq)
                 VALUES (?1, 'arn:e' || ?1, 'e', 'arn:sm', 'SUCCEEDED', '{}', ?1, 'r', ?1)",
                [id],
            )
            .unwrap();
            for event in 1..=5 {
                tx.execute(
                    "INSERT INTO history_events (execution_id, event_id, type, timestamp_ms, event)
                     VALUES (?1, ?2, 'PassStateEntered', 1, '{\"id\":' || ?2 || ',\"type\":\"PassStateEntered\"}')",
                    [id, event],
                )
                .unwrap();
            }
            tx.execute(
                "INSERT INTO payloads (execution_id, digest, body) VALUES (?1, 'd' || ?1, hex(randomblob(2048)))",
                [id],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }

    /// Opens `path` in a child, kills it with SIGKILL `after` the child says it is opening,
    /// and says whether the child had finished opening by then.
    fn open_and_kill(
        path: &std::path::Path,
        after: std::time::Duration,
    ) -> (bool, std::time::Duration) {
        use std::io::{BufRead, BufReader};
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "store::schema::tests::child_migrates",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_MIGRATE, path)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert!(
            lines
                .by_ref()
                .map_while(Result::ok)
                .any(|l| l.contains("opening"))
        );
        let start = std::time::Instant::now();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let opened = lines.map_while(Result::ok).any(|l| l.contains("opened"));
            let _ = tx.send(opened);
        });
        let opened = matches!(rx.recv_timeout(after), Ok(true));
        let elapsed = start.elapsed();
        let _ = child.kill();
        child.wait().unwrap();
        reader.join().unwrap();
        (opened, elapsed)
    }

    /// kill -9 during the migration of a v2 store (issue 15): whenever the process dies, the
    /// file is the old store whole or the new one whole, and the next open migrates it
    /// without losing an execution, an event or a payload.
    #[test]
    fn a_migration_killed_with_sigkill_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let fixture = dir.path().join("fixture.sqlite3");
        v2_store(&fixture);
        let copy = |name: &str| {
            let path = dir.path().join(name);
            for suffix in ["", "-wal", "-shm"] {
                let from = std::path::PathBuf::from(format!("{}{suffix}", fixture.display()));
                if from.exists() {
                    std::fs::copy(&from, format!("{}{suffix}", path.display())).unwrap();
                }
            }
            path
        };
        // How long a whole migration takes here, as the parent sees it.
        let (opened, whole) =
            open_and_kill(&copy("timing.sqlite3"), std::time::Duration::from_secs(60));
        assert!(opened);
        let (mut interrupted, mut cut_short) = (0, 0);
        for (i, fraction) in [0.1, 0.3, 0.5, 0.7, 0.9].iter().enumerate() {
            let path = copy(&format!("kill{i}.sqlite3"));
            let (opened, _) = open_and_kill(&path, whole.mul_f64(*fraction));
            interrupted += usize::from(!opened);
            let conn = Connection::open(&path).unwrap();
            let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
            match version(&conn) {
                2 => {
                    cut_short += 1;
                    assert_eq!(count("SELECT count(*) FROM payloads"), EXECUTIONS);
                }
                v => {
                    assert_eq!(v, SCHEMA_VERSION);
                    assert_eq!(count("SELECT count(*) FROM blobs"), EXECUTIONS);
                }
            }
            assert_eq!(count("SELECT count(*) FROM executions"), EXECUTIONS);
            assert_eq!(count("SELECT count(*) FROM history_events"), 5 * EXECUTIONS);
            assert_eq!(
                conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
                    .unwrap(),
                "ok"
            );
            let store = crate::store::Store::open(&path).unwrap();
            assert_eq!(version(store.conn()), SCHEMA_VERSION);
            assert_eq!(count("SELECT count(*) FROM payload_refs"), EXECUTIONS);
            assert_eq!(store.reference_check().unwrap(), Vec::<String>::new());
            assert_eq!(store.history("arn:e7").unwrap().len(), 5);
        }
        assert!(
            interrupted > 0,
            "no kill landed before the migration ended ({whole:?})"
        );
        assert!(
            cut_short > 0,
            "every killed migration had committed ({whole:?})"
        );
    }
}
