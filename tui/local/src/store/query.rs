//! Reads for the CLI and the dashboard. Every query is bounded by a `limit` and served by an
//! index, so a store with 100k executions answers "the newest 50" or "what changed since X"
//! without reading the rest.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
use scones_workflow::review::ReviewReason;
use serde_json::Value;

use super::types::{
    ChangeCursor, ExecutionDetail, ExecutionRow, ExecutionStatus, MetricDatum, StatusCounts,
};
use super::{Store, StoreError, histories, payloads, sqlite};

const SUMMARY_COLUMNS: &str = "id, arn, name, status, s3_key, error, cause, p_bicycle, p_motorcycle, start_ms, stop_ms, change_seq, model, review";

/// Error name recorded for executions whose process died before they finished.
pub const RUNNER_EXITED: &str = "RunnerExited";

/// Which executions a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecutionFilter {
    /// Only this status.
    pub status: Option<ExecutionStatus>,
    /// Only this error name (e.g. `LowConfidence`).
    pub error: Option<String>,
    /// Only executions whose `s3_key` contains this text.
    pub key_contains: Option<String>,
    /// Only executions with a row id below this (the next page of a newest-first list).
    pub before_id: Option<i64>,
}

/// [`Store::failures`]: a page of the newest failures and counts over the whole window.
#[derive(Debug, Clone, PartialEq)]
pub struct Failures {
    /// The newest, newest first.
    pub newest: Vec<ExecutionRow>,
    /// Failures with that error in the window.
    pub total: u64,
    /// Executions of the window that have ended.
    pub finished: u64,
}

/// A page of the change stream.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionChanges {
    /// Executions created or changed after the cursor, oldest change first.
    pub executions: Vec<ExecutionRow>,
    /// Pass this to the next call.
    pub cursor: ChangeCursor,
    /// True when the page was full: call again for more.
    pub more: bool,
    /// Executions removed (by `scones gc`) after the cursor.
    pub removed: Vec<String>,
}

fn millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn summary(row: &Row<'_>) -> rusqlite::Result<ExecutionRow> {
    let status: String = row.get(3)?;
    let p_bicycle: Option<f64> = row.get(7)?;
    let p_motorcycle: Option<f64> = row.get(8)?;
    let stop_ms: Option<i64> = row.get(10)?;
    let change_seq: i64 = row.get(11)?;
    Ok(ExecutionRow {
        id: row.get(0)?,
        arn: row.get(1)?,
        name: row.get(2)?,
        // The CHECK constraint admits only known statuses.
        status: ExecutionStatus::parse(&status).unwrap_or(ExecutionStatus::Running),
        s3_key: row.get(4)?,
        error: row.get(5)?,
        cause: row.get(6)?,
        scores: p_bicycle.zip(p_motorcycle).map(|(b, m)| [b, m]),
        start: millis(row.get(9)?),
        stop: stop_ms.map(millis),
        change_seq: u64::try_from(change_seq).unwrap_or(0),
        model: row.get(12)?,
        review: row
            .get::<_, Option<String>>(13)?
            .as_deref()
            .and_then(ReviewReason::parse),
    })
}

impl Store {
    pub(crate) fn err(&self, e: rusqlite::Error) -> StoreError {
        sqlite(self.path(), e)
    }

    /// Executions created or changed after `cursor` (at most `limit`), for incremental
    /// refresh: new executions, status changes, new history events, new scores.
    pub fn changes_since(
        &self,
        cursor: ChangeCursor,
        limit: usize,
    ) -> Result<ExecutionChanges, StoreError> {
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM executions
             WHERE change_seq > ?1 OR (change_seq = ?1 AND id > ?2)
             ORDER BY change_seq, id LIMIT ?3"
        );
        let mut stmt = self.conn().prepare_cached(&sql).map_err(|e| self.err(e))?;
        let executions = stmt
            .query_map(
                params![
                    i64::try_from(cursor.seq).unwrap_or(i64::MAX),
                    cursor.id,
                    limit as i64
                ],
                summary,
            )
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        let mut next = executions.last().map_or(cursor, |e| ChangeCursor {
            seq: e.change_seq,
            id: e.id,
        });
        let more = executions.len() == limit;
        let seq = i64::try_from(cursor.seq).unwrap_or(i64::MAX);
        let mut removed_stmt = self
            .conn()
            .prepare_cached(
                "SELECT arn, change_seq FROM removed_executions WHERE change_seq > ?1 ORDER BY change_seq",
            )
            .map_err(|e| self.err(e))?;
        let removed: Vec<(String, i64)> = removed_stmt
            .query_map([seq], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        // A full page stops where it stops (removals after it come again next call); otherwise
        // the cursor moves past the removals, so they are reported once.
        if !more && let Some(&(_, last)) = removed.last() {
            let last = u64::try_from(last).unwrap_or(0);
            if last > next.seq {
                next = ChangeCursor {
                    seq: last,
                    id: i64::MAX,
                };
            }
        }
        Ok(ExecutionChanges {
            more,
            executions,
            cursor: next,
            removed: removed.into_iter().map(|(arn, _)| arn).collect(),
        })
    }

    /// The newest executions (by start order) matching `filter`, newest first.
    pub fn latest_executions(
        &self,
        filter: &ExecutionFilter,
        limit: usize,
    ) -> Result<Vec<ExecutionRow>, StoreError> {
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM executions
             WHERE (?1 IS NULL OR status = ?1)
               AND (?2 IS NULL OR error = ?2)
               AND (?3 IS NULL OR instr(s3_key, ?3) > 0)
               AND (?4 IS NULL OR id < ?4)
             ORDER BY id DESC LIMIT ?5"
        );
        let mut stmt = self.conn().prepare_cached(&sql).map_err(|e| self.err(e))?;
        stmt.query_map(
            params![
                filter.status.map(ExecutionStatus::as_str),
                filter.error,
                filter.key_contains,
                filter.before_id,
                limit as i64
            ],
            summary,
        )
        .map_err(|e| self.err(e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| self.err(e))
    }

    /// One execution by ARN or name, with its input and output (put back together when its
    /// large runs were stored apart, [`super::payloads`]).
    pub fn execution(&self, arn_or_name: &str) -> Result<Option<ExecutionDetail>, StoreError> {
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS}, input, output, output_template FROM executions
             WHERE arn = ?1 OR id = (SELECT id FROM executions WHERE name = ?1 ORDER BY id DESC LIMIT 1)
             LIMIT 1"
        );
        let found = self
            .conn()
            .query_row(&sql, [arn_or_name], |row| {
                Ok((
                    ExecutionDetail {
                        summary: summary(row)?,
                        input: row.get(14)?,
                        output: row.get(15)?,
                    },
                    row.get::<_, Option<String>>(16)?,
                ))
            })
            .optional()
            .map_err(|e| self.err(e))?;
        let Some((mut detail, template)) = found else {
            return Ok(None);
        };
        if let Some(template) = template {
            let mut body_of = self
                .conn()
                .prepare_cached("SELECT body FROM blobs WHERE digest = ?1")
                .map_err(|e| self.err(e))?;
            let output = payloads::restore_text(&template, |digest| {
                body_of
                    .query_row(params![digest], |r| r.get::<_, String>(0))
                    .optional()
            })
            .map_err(|e| self.err(e))?
            .map_err(|problem| StoreError::Corrupt {
                path: self.path().to_path_buf(),
                reason: format!(
                    "the output of {arn_or_name} cannot be put back together: {problem:?}"
                ),
            })?;
            detail.output = Some(output);
        }
        Ok(Some(detail))
    }

    /// The execution's history as `GetExecutionHistory` events, in event order.
    pub fn history(&self, arn: &str) -> Result<Vec<Value>, StoreError> {
        self.history_after(arn, 0)
    }

    /// Events with an id above `after_event_id` (for a running execution being watched),
    /// unpacked ([`super::histories`]) and with their large payloads put back
    /// ([`super::payloads`]).
    pub fn history_after(&self, arn: &str, after_event_id: u64) -> Result<Vec<Value>, StoreError> {
        let after = i64::try_from(after_event_id).unwrap_or(i64::MAX);
        let corrupt = |reason: String| StoreError::Corrupt {
            path: self.path().to_path_buf(),
            reason,
        };
        let Some((_, texts)) = self.stored_events(arn)? else {
            return Ok(Vec::new());
        };
        let mut body_of = self
            .conn()
            .prepare_cached("SELECT body FROM blobs WHERE digest = ?1")
            .map_err(|e| self.err(e))?;
        let mut events = Vec::with_capacity(texts.len());
        for text in &texts {
            let mut event: Value = serde_json::from_str(text)
                .map_err(|e| corrupt(format!("history event of {arn} is not JSON: {e}")))?;
            if event["id"].as_i64().is_some_and(|id| id <= after) {
                continue;
            }
            payloads::restore(&mut event, |digest| {
                body_of
                    .query_row(params![digest], |r| r.get::<_, String>(0))
                    .optional()
            })
            .map_err(|e| self.err(e))?
            .map_err(|problem| {
                corrupt(format!(
                    "history event of {arn} cannot be put back together: {problem:?}"
                ))
            })?;
            events.push(event);
        }
        Ok(events)
    }

    /// The row id of the execution `arn` and its events as stored (payloads still split
    /// out), in event order: its packed history, then its event rows (a running execution's,
    /// or all of them in stores written before version 4). `None`: no such execution.
    pub(crate) fn stored_events(
        &self,
        arn: &str,
    ) -> Result<Option<(i64, Vec<String>)>, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            path: self.path().to_path_buf(),
            reason,
        };
        struct Packed {
            frame: Vec<u8>,
            dictionary_id: Option<i64>,
            dictionary: Option<Vec<u8>>,
            unpacked_len: i64,
            events: i64,
        }
        let found: Option<(i64, Option<Packed>)> = self
            .conn()
            .prepare_cached(
                "SELECT e.id, h.packed, h.dictionary_id, d.dictionary, h.unpacked_len, h.events
                 FROM executions e
                 LEFT JOIN histories h ON h.execution_id = e.id
                 LEFT JOIN history_dictionaries d ON d.id = h.dictionary_id
                 WHERE e.arn = ?1",
            )
            .and_then(|mut stmt| {
                stmt.query_row([arn], |r| {
                    let frame: Option<Vec<u8>> = r.get(1)?;
                    let packed = match frame {
                        Some(frame) => Some(Packed {
                            frame,
                            dictionary_id: r.get(2)?,
                            dictionary: r.get(3)?,
                            unpacked_len: r.get(4)?,
                            events: r.get(5)?,
                        }),
                        None => None,
                    };
                    Ok((r.get(0)?, packed))
                })
                .optional()
            })
            .map_err(|e| self.err(e))?;
        let Some((id, packed)) = found else {
            return Ok(None);
        };
        let mut texts = match packed {
            Some(p) => {
                if let (Some(missing), None) = (p.dictionary_id, &p.dictionary) {
                    return Err(corrupt(format!(
                        "the history of {arn} was packed with dictionary {missing}, which is missing"
                    )));
                }
                histories::unpack(&p.frame, p.dictionary.as_deref(), p.unpacked_len, p.events)
                    .map_err(|e| corrupt(format!("the history of {arn}: {e}")))?
            }
            None => Vec::new(),
        };
        // A running execution's events, or those of a store written before version 4.
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT event FROM history_events WHERE execution_id = ?1 ORDER BY event_id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([id], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        for row in rows {
            texts.push(row.map_err(|e| self.err(e))?);
        }
        Ok(Some((id, texts)))
    }

    /// The executions started in `[from, to)` that failed with `error` (e.g.
    /// `LowConfidence`): the newest `limit` of them with their scores, how many there are in
    /// Every execution that went to a person (refused, held or drawn for audit), oldest
    /// first.
    pub fn review_rows(&self) -> Result<Vec<ExecutionRow>, StoreError> {
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM executions WHERE review IS NOT NULL ORDER BY start_ms, id"
        );
        let mut stmt = self.conn().prepare_cached(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], summary)
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// all, and how many executions of the window have ended (the rate's denominator).
    pub fn failures(
        &self,
        error: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Failures, StoreError> {
        let (from, to) = (from.timestamp_millis(), to.timestamp_millis());
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM executions
             WHERE error = ?1 AND start_ms >= ?2 AND start_ms < ?3
             ORDER BY start_ms DESC LIMIT ?4"
        );
        let mut stmt = self.conn().prepare_cached(&sql).map_err(|e| self.err(e))?;
        let newest = stmt
            .query_map(params![error, from, to, limit as i64], summary)
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        let count = |sql: &str, args: &[&dyn rusqlite::ToSql]| -> Result<u64, StoreError> {
            self.conn()
                .prepare_cached(sql)
                .and_then(|mut st| st.query_row(args, |r| r.get::<_, i64>(0)))
                .map(|n| u64::try_from(n).unwrap_or(0))
                .map_err(|e| self.err(e))
        };
        let total = count(
            "SELECT count(*) FROM executions WHERE error = ?1 AND start_ms >= ?2 AND start_ms < ?3",
            &[&error, &from, &to],
        )?;
        let finished = count(
            "SELECT count(*) FROM executions
             WHERE start_ms >= ?1 AND start_ms < ?2 AND status != 'RUNNING'",
            &[&from, &to],
        )?;
        Ok(Failures {
            newest,
            total,
            finished,
        })
    }

    /// How many executions are in each status.
    pub fn status_counts(&self) -> Result<StatusCounts, StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT status, count(*) FROM executions GROUP BY status")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(|e| self.err(e))?;
        let mut counts = StatusCounts::default();
        for row in rows {
            let (status, n) = row.map_err(|e| self.err(e))?;
            let n = u64::try_from(n).unwrap_or(0);
            match ExecutionStatus::parse(&status) {
                Some(ExecutionStatus::Running) => counts.running += n,
                Some(ExecutionStatus::Succeeded) => counts.succeeded += n,
                Some(ExecutionStatus::Failed) => counts.failed += n,
                Some(ExecutionStatus::TimedOut) => counts.timed_out += n,
                Some(ExecutionStatus::Aborted) => counts.aborted += n,
                // Never stored (the schema's CHECK refuses it); a Map Run status.
                Some(ExecutionStatus::PendingRedrive) | None => {}
            }
        }
        Ok(counts)
    }

    /// A metric of an endpoint over `[from, to)`, aggregated into periods of `period`
    /// (at least one second). Periods without data are absent.
    pub fn metric_series(
        &self,
        endpoint: &str,
        metric: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        period: Duration,
    ) -> Result<Vec<MetricDatum>, StoreError> {
        let period_s = i64::try_from(period.as_secs().max(1)).unwrap_or(i64::MAX);
        let from_s = from.timestamp();
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT (second - ?3) / ?5 AS bucket, sum(sample_count), sum(sum), min(minimum), max(maximum)
                 FROM metrics
                 WHERE endpoint = ?1 AND metric = ?2 AND second >= ?3 AND second < ?4
                 GROUP BY bucket ORDER BY bucket",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map(
            params![endpoint, metric, from_s, to.timestamp(), period_s],
            |r| {
                let bucket: i64 = r.get(0)?;
                let count: i64 = r.get(1)?;
                Ok(MetricDatum {
                    start: Utc
                        .timestamp_opt(from_s + bucket * period_s, 0)
                        .single()
                        .unwrap_or(from),
                    sample_count: u64::try_from(count).unwrap_or(0),
                    sum: r.get(2)?,
                    minimum: r.get(3)?,
                    maximum: r.get(4)?,
                })
            },
        )
        .map_err(|e| self.err(e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| self.err(e))
    }

    /// Closes executions left RUNNING by processes that are gone (no heartbeat for
    /// `stale_after`, or exited cleanly without finishing them): each gets an
    /// `ExecutionAborted` event and status ABORTED with error [`RUNNER_EXITED`]. Returns
    /// their ARNs.
    pub fn reap_orphans(&self, stale_after: Duration) -> Result<Vec<String>, StoreError> {
        let now = Utc::now();
        let cutoff =
            now.timestamp_millis() - i64::try_from(stale_after.as_millis()).unwrap_or(i64::MAX);
        let tx = rusqlite::Transaction::new_unchecked(self.conn(), TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let orphans: Vec<(i64, String, String)> = {
            let mut stmt = tx
                .prepare(
                    "SELECT e.id, e.arn, e.runner FROM executions e
                     LEFT JOIN runners r ON r.id = e.runner
                     WHERE e.status = 'RUNNING' AND (r.id IS NULL OR r.heartbeat_ms < ?1)",
                )
                .map_err(|e| self.err(e))?;
            stmt.query_map([cutoff], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(|e| self.err(e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.err(e))?
        };
        if orphans.is_empty() {
            return Ok(Vec::new());
        }
        let seq: i64 = tx
            .query_row(
                "UPDATE meta SET value = value + 1 WHERE key = 'change_seq' RETURNING value",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        let cause = "the process running this execution exited before it finished";
        let timestamp = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        for (id, _, _) in &orphans {
            let last: i64 = tx
                .query_row(
                    "SELECT coalesce(max(event_id), 0) FROM history_events WHERE execution_id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .map_err(|e| self.err(e))?;
            let event = serde_json::json!({
                "id": last + 1,
                "previousEventId": last,
                "timestamp": timestamp,
                "type": "ExecutionAborted",
                "executionAbortedEventDetails": {"error": RUNNER_EXITED, "cause": cause},
            });
            tx.execute(
                "INSERT OR IGNORE INTO history_events (execution_id, event_id, type, timestamp_ms, event)
                 VALUES (?1, ?2, 'ExecutionAborted', ?3, ?4)",
                params![id, last + 1, now.timestamp_millis(), event.to_string()],
            )
            .map_err(|e| self.err(e))?;
            tx.execute(
                "UPDATE executions SET status = 'ABORTED', error = ?2, cause = ?3, stop_ms = ?4, change_seq = ?5
                 WHERE id = ?1",
                params![id, RUNNER_EXITED, cause, now.timestamp_millis(), seq],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.execute("DELETE FROM runners WHERE heartbeat_ms < ?1", [cutoff])
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(orphans.into_iter().map(|(_, arn, _)| arn).collect())
    }
}
