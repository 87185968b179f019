//! The execution store: one SQLite file (WAL) shared by every process of the local stack.
//!
//! It holds executions (one row each, updated as they run), their history events (the
//! `GetExecutionHistory` JSON of each event), and endpoint metrics (per-second statistic
//! sets like CloudWatch's: sample count, sum, min, max).
//!
//! Writers go through a [`StoreWriter`]: a background thread that batches everything queued
//! into one transaction, so thousands of executions per second cost tens of commits, not
//! hundreds of thousands. Readers (the CLI, the dashboard, tests) open their own [`Store`]
//! and query it; WAL lets them read while a writer commits.
//!
//! Crash safety: every write is a transaction; WAL with `synchronous=NORMAL` keeps committed
//! transactions across a process crash (kill -9), and a transaction cut short rolls back.
//! A finished execution is reported finished only after its final row is committed
//! ([`StoreWriter::finish`] resolves then). Executions left RUNNING by a dead process are
//! closed as ABORTED by [`Store::reap_orphans`].

mod check;
mod gc;
mod histories;
mod payloads;
mod query;
mod schema;
mod types;
mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use gc::{GcReport, Retention};
pub use query::{ExecutionChanges, ExecutionFilter, Failures};
pub use types::{
    ChangeCursor, ExecutionDetail, ExecutionRow, ExecutionStatus, MetricDatum, StatusCounts,
};
pub use writer::{ExecutionStart, ExecutionStop, StoreWriter, WriterStats};

/// How long a connection waits for another process's transaction before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the store could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("execution store {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer scones with a schema this build does not know.
    #[error(
        "execution store {path} has schema version {found}; this build knows up to {supported}"
    )]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// What this build understands.
        supported: i64,
    },
    /// A stored value could not be read back (for example a corrupt JSON event).
    #[error("execution store {path}: {reason}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The background writer stopped (its thread ended or failed).
    #[error("execution store writer for {path} stopped: {reason}")]
    WriterStopped {
        /// The database file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl StoreError {
    /// Stable name of the variant.
    pub fn name(&self) -> &'static str {
        match self {
            StoreError::Sqlite { .. } => "Sqlite",
            StoreError::SchemaTooNew { .. } => "SchemaTooNew",
            StoreError::Corrupt { .. } => "Corrupt",
            StoreError::WriterStopped { .. } => "WriterStopped",
        }
    }
}

/// A read connection to the store (queries live in `query.rs`), and the factory of writers.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    conn: Connection,
    /// A read-only open of a file that did not exist: an empty in-memory stand-in.
    stand_in: bool,
}

impl Store {
    /// Opens the store at `path`, creating the file and schema on first use. A damaged file
    /// is refused with the way out ([`damaged`]) by every command that opens it, before any
    /// query or migration gives a bare SQLite error or a wrong answer ("removed 0").
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = open_connection(path)?;
        refuse_if_damaged(&conn, path)?;
        schema::migrate(&conn, path)?;
        Ok(Store {
            path: path.to_path_buf(),
            conn,
            stand_in: false,
        })
    }

    /// Opens the store at `path` for reading only, writing nothing anywhere: no file, no
    /// directory, no schema change. A store that does not exist yet reads as empty. On a home
    /// the user cannot write (another user's, `chmod a-w`, a read-only mount), where SQLite
    /// cannot create the WAL's shared-memory file, the file is opened immutable: read as it
    /// is, without the locks that would need that file.
    pub fn open_readonly(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            let conn = Connection::open_in_memory().map_err(|e| sqlite(path, e))?;
            schema::migrate(&conn, path)?;
            return Ok(Store {
                path: path.to_path_buf(),
                conn,
                stand_in: true,
            });
        }
        let open = |uri: String| -> Result<Connection, rusqlite::Error> {
            let conn = Connection::open_with_flags(
                uri,
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_URI
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            conn.busy_timeout(BUSY_TIMEOUT)?;
            // Reading the version makes SQLite open the WAL: a failure shows here.
            conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))?;
            Ok(conn)
        };
        let uri = file_uri(path);
        let conn = open(format!("{uri}?mode=ro"))
            .or_else(|_| open(format!("{uri}?immutable=1")))
            .map_err(|e| sqlite(path, e))?;
        refuse_if_damaged(&conn, path)?;
        schema::check_readable(&conn, path)?;
        Ok(Store {
            path: path.to_path_buf(),
            conn,
            stand_in: false,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True for the empty stand-in of a read-only open whose file did not exist: worth
    /// opening again once another process has created the file.
    pub fn is_stand_in(&self) -> bool {
        self.stand_in
    }

    /// Starts a background writer on its own connection.
    pub fn writer(&self) -> Result<StoreWriter, StoreError> {
        StoreWriter::start(&self.path)
    }

    /// `PRAGMA integrity_check`: `Ok(vec!["ok"])` for a sound file, else the problems found.
    pub fn integrity_check(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("PRAGMA integrity_check")
            .map_err(|e| sqlite(&self.path, e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| sqlite(&self.path, e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| sqlite(&self.path, e))
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }
}

/// A connection with the settings every user of the store needs.
pub(crate) fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent() {
        // A missing directory would surface as SQLite's "unable to open database file".
        let _ = std::fs::create_dir_all(dir);
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| sqlite(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| sqlite(path, e))?;
    // WAL: readers never block the writer and vice versa; NORMAL: a commit survives a
    // process crash (only an OS crash / power loss can drop the last commits). A file that
    // is not a database at all fails here.
    set_wal(&conn).map_err(|e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
            damaged(path, &e.to_string())
        }
        _ => sqlite(path, e),
    })?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(|e| sqlite(path, e))?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(|e| sqlite(path, e))?;
    Ok(conn)
}

/// Switches a connection to WAL. Two processes opening a new file at once both ask for the
/// switch, which takes the whole file; SQLite answers the loser SQLITE_BUSY at once, without
/// its busy handler (measured: `two_processes_write_at_once_and_lose_nothing` failed 3 runs in
/// 3 within 0.2 s), so the switch is retried here for up to [`BUSY_TIMEOUT`].
fn set_wal(conn: &Connection) -> rusqlite::Result<()> {
    let started = std::time::Instant::now();
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(e)
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// `PRAGMA quick_check`: the file's structure is sound, or [`StoreError::Corrupt`] with the
/// first problem found and how to recover. (quick_check skips the index-content checks of
/// `integrity_check`; measured on a 10,000-execution store in the note of issue 16.)
pub(crate) fn refuse_if_damaged(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let verdict: Result<String, rusqlite::Error> =
        conn.query_row("PRAGMA quick_check(1)", [], |r| r.get(0));
    let problem = match verdict {
        Ok(ok) if ok == "ok" => return Ok(()),
        Ok(problem) => problem,
        Err(e) => e.to_string(),
    };
    Err(damaged(path, &problem))
}

/// The error of a damaged store file, with the way out.
pub(crate) fn damaged(path: &Path, problem: &str) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        reason: format!(
            "the file is damaged ({problem}); nothing will be written to it. Move it aside \
             (mv {p} {p}.damaged, with its -wal and -shm files if any) and scones starts a \
             fresh store; sqlite3's .recover can salvage rows from the old one",
            p = path.display()
        ),
    }
}

/// `file:` URI of `path` for SQLite, with the characters URIs reserve escaped.
fn file_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            '%' => uri.push_str("%25"),
            c => uri.push(c),
        }
    }
    uri
}

pub(crate) fn sqlite(path: &Path, source: rusqlite::Error) -> StoreError {
    StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}
