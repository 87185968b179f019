//! Retention: removing old executions like the service does (Standard workflow history is
//! kept 90 days), with their events, their payload references, the payload bodies nothing
//! references any more, and their metrics.
//!
//! Deletion runs in short transactions of [`BATCH`] executions, so a dashboard or a run
//! writing to the same file waits at most one batch (WAL: readers never wait). Running
//! executions are never removed. Freed pages stay in the file and are reused by new
//! executions (SQLite's free list); the report says how much was freed.

use chrono::{DateTime, Utc};
use rusqlite::{TransactionBehavior, params};

use super::{Store, StoreError};

/// Executions removed per transaction.
const BATCH: usize = 500;

/// How long a removal is remembered for listings (a dashboard left open longer than this
/// across a collection keeps the removed rows until it is restarted).
const TOMBSTONE_MS: i64 = 24 * 3600 * 1000;

/// What to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    /// Remove finished executions that started longer ago than this.
    pub older_than: Option<chrono::Duration>,
    /// Keep at most this many executions (the newest); finished ones beyond are removed.
    pub keep: Option<u64>,
}

/// What a collection removed (or, dry, would remove).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct GcReport {
    /// Executions.
    pub executions: u64,
    /// Their history events.
    pub events: u64,
    /// Payload bodies no remaining execution references.
    pub blobs: u64,
    /// Per-second metric rows older than the age limit.
    pub metric_rows: u64,
    /// Bytes of the file now free for new data (0 on a dry run).
    pub freed_bytes: u64,
    /// Nothing was removed: what would be.
    pub dry_run: bool,
}

impl Store {
    /// Removes what `retention` does not keep, as of `now`; with `dry_run`, only counts it.
    pub fn gc(
        &self,
        retention: &Retention,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<GcReport, StoreError> {
        let conn = self.conn();
        let err = |e| self.err(e);
        let cutoff_ms = retention
            .older_than
            .and_then(|age| now.checked_sub_signed(age))
            .map_or(i64::MIN, |t| t.timestamp_millis());
        let keep = retention
            .keep
            .map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        conn.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS gc_doomed (id INTEGER PRIMARY KEY);
             DELETE FROM gc_doomed;",
        )
        .map_err(err)?;
        conn.execute(
            "INSERT INTO gc_doomed (id)
             SELECT id FROM executions
             WHERE status != 'RUNNING'
               AND (start_ms < ?1
                    OR id NOT IN (SELECT id FROM executions ORDER BY start_ms DESC, id DESC LIMIT ?2))",
            params![cutoff_ms, keep],
        )
        .map_err(err)?;
        let count = |sql: &str| -> Result<u64, StoreError> {
            conn.query_row(sql, [], |r| r.get::<_, i64>(0))
                .map(|n| n.max(0) as u64)
                .map_err(err)
        };
        let mut report = GcReport {
            executions: count("SELECT count(*) FROM gc_doomed")?,
            events: count(
                "SELECT (SELECT count(*) FROM history_events WHERE execution_id IN (SELECT id FROM gc_doomed))
                      + (SELECT coalesce(sum(events), 0) FROM histories WHERE execution_id IN (SELECT id FROM gc_doomed))",
            )?,
            blobs: count(
                "SELECT count(*) FROM blobs b WHERE NOT EXISTS (
                     SELECT 1 FROM payload_refs r
                     WHERE r.digest = b.digest AND r.execution_id NOT IN (SELECT id FROM gc_doomed))",
            )?,
            metric_rows: if cutoff_ms == i64::MIN {
                0
            } else {
                conn.query_row(
                    "SELECT count(*) FROM metrics WHERE second < ?1",
                    [cutoff_ms.div_euclid(1000)],
                    |r| r.get::<_, i64>(0),
                )
                .map_err(err)?
                .max(0) as u64
            },
            freed_bytes: 0,
            dry_run,
        };
        if dry_run {
            return Ok(report);
        }
        let free_pages = || -> Result<i64, StoreError> {
            conn.pragma_query_value(None, "freelist_count", |r| r.get(0))
                .map_err(err)
        };
        let free_before = free_pages()?;
        let now_ms = now.timestamp_millis();
        while count("SELECT count(*) FROM gc_doomed")? > 0 {
            let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
                .map_err(err)?;
            // Each batch is a change like the writer's: listings learn the removals from it.
            let seq: i64 = tx
                .query_row(
                    "UPDATE meta SET value = value + 1 WHERE key = 'change_seq' RETURNING value",
                    [],
                    |r| r.get(0),
                )
                .map_err(err)?;
            tx.execute(
                "INSERT INTO removed_executions (arn, change_seq, removed_ms)
                 SELECT arn, ?1, ?2 FROM executions
                 WHERE id IN (SELECT id FROM gc_doomed ORDER BY id LIMIT ?3)",
                params![seq, now_ms, BATCH as i64],
            )
            .map_err(err)?;
            // Events and payload references go with their execution (ON DELETE CASCADE).
            tx.execute(
                "DELETE FROM executions WHERE id IN (SELECT id FROM gc_doomed ORDER BY id LIMIT ?1)",
                [BATCH as i64],
            )
            .map_err(err)?;
            tx.execute(
                "DELETE FROM gc_doomed WHERE id IN (SELECT id FROM gc_doomed ORDER BY id LIMIT ?1)",
                [BATCH as i64],
            )
            .map_err(err)?;
            tx.commit().map_err(err)?;
        }
        let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute(
            "DELETE FROM blobs WHERE NOT EXISTS (SELECT 1 FROM payload_refs r WHERE r.digest = blobs.digest)",
            [],
        )
        .map_err(err)?;
        tx.execute(
            "DELETE FROM removed_executions WHERE removed_ms < ?1",
            [now_ms - TOMBSTONE_MS],
        )
        .map_err(err)?;
        if cutoff_ms != i64::MIN {
            tx.execute(
                "DELETE FROM metrics WHERE second < ?1",
                [cutoff_ms.div_euclid(1000)],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        let page_size: i64 = conn
            .pragma_query_value(None, "page_size", |r| r.get(0))
            .map_err(err)?;
        report.freed_bytes = (free_pages()? - free_before).max(0) as u64 * page_size.max(0) as u64;
        Ok(report)
    }
}
