//! Incremental listing of a state machine's executions: each refresh asks AWS only for what
//! changed since the last one.
//!
//! `ListExecutions` returns executions newest first, with status and stop date. A refresh:
//!
//! 1. **Top scan**: pages from the newest down and stops at the first execution that is
//!    already known *and* finished (everything older is known, and finished executions
//!    never change). Executions above it are new; known running ones passed on the way get
//!    their status for free.
//! 2. **Running check**: known running executions the scan did not reach are checked: one
//!    `DescribeExecution` each when there are a few, otherwise one `ListExecutions` with
//!    `statusFilter=RUNNING`, describing only those that left it.
//! 3. **Backfill**: the first listing shows the newest page at once and reads older pages
//!    (up to [`ListerOptions::initial_rows`]) in the following calls, one page per call, with
//!    `more` set so the caller asks again at once.
//!
//! `ListExecutions` does not return the input (the image key) or a failure's error and
//! cause, so each execution is described once (`DescribeExecution`) when it first appears,
//! and once more if it ends in failure. Descriptions are cached here; at most
//! [`ListerOptions::describe_budget`] are made per call, the rest are queued and delivered
//! (as changed rows) by the following calls.
//!
//! At steady state (nothing new, nothing running) a refresh is one `ListExecutions` call.
//! The position is carried in an opaque cursor string; the description cache and the queue
//! live in the [`IncrementalLister`].

use scones_workflow::ExecutionStatus;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::error::AwsError;
use crate::executions::{ExecutionDescription, ExecutionListing, Workflow};

/// How the lister pages and describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListerOptions {
    /// Executions the first listing goes back (newest first).
    pub initial_rows: usize,
    /// Size of the first page of a top scan (later pages are 1000): small, because at
    /// steady state that one page is the whole refresh.
    pub scan_page: i32,
    /// `DescribeExecution` calls per refresh at most.
    pub describe_budget: usize,
    /// `DescribeExecution` calls in flight at once.
    pub describe_concurrency: usize,
    /// Up to this many known running executions outside the top scan are described one by
    /// one; more are checked with one `statusFilter=RUNNING` listing.
    pub describe_running_max: usize,
    /// Descriptions kept in the cache at most.
    pub cache_capacity: usize,
}

impl Default for ListerOptions {
    fn default() -> Self {
        ListerOptions {
            initial_rows: 1000,
            scan_page: 25,
            describe_budget: 100,
            describe_concurrency: 8,
            describe_running_max: 3,
            cache_capacity: 100_000,
        }
    }
}

/// One execution with what the dashboard shows about it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRow {
    /// What `ListExecutions` says.
    pub listing: ExecutionListing,
    /// The input's `s3_key` (once described).
    pub s3_key: Option<String>,
    /// Error of a failed execution (once described).
    pub error: Option<String>,
    /// Cause of a failed execution (once described).
    pub cause: Option<String>,
    /// `[p_bicycle, p_motorcycle]` of an ended execution (once described after it ended).
    pub scores: Option<[f64; 2]>,
}

/// The answer to [`IncrementalLister::changes`].
#[derive(Debug, Clone, PartialEq)]
pub struct ListingDelta {
    /// New or changed executions, newest first (a row replaces an earlier one with the same
    /// ARN).
    pub rows: Vec<ExecutionRow>,
    /// Where to continue from.
    pub cursor: String,
    /// More is waiting (backfill pages, queued descriptions): ask again at once.
    pub more: bool,
    /// Executions delivered before that no longer exist (see [`IncrementalLister::changes`]).
    pub removed: Vec<String>,
}

/// Position of an incremental listing (serialised into the opaque cursor string).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Position {
    /// Start (epoch ms) of the newest execution seen.
    top_ms: Option<i64>,
    /// Executions starting exactly at `top_ms` (start dates are not unique).
    top: BTreeSet<String>,
    /// Known executions that may still change (RUNNING, PENDING_REDRIVE).
    running: BTreeSet<String>,
    /// Older pages still to read.
    backfill: Option<Backfill>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Backfill {
    /// `nextToken` of the next page.
    token: String,
    /// Stop at executions at or below this boundary (already known).
    until_ms: Option<i64>,
    /// Executions exactly at `until_ms` that are known.
    until: BTreeSet<String>,
    /// Rows still wanted.
    remaining: usize,
}

impl Position {
    fn is_known(&self, e: &ExecutionListing) -> bool {
        match self.top_ms {
            None => false,
            Some(top) => {
                let ms = e.start.timestamp_millis();
                ms < top || (ms == top && self.top.contains(&e.arn))
            }
        }
    }

    fn see(&mut self, e: &ExecutionListing) {
        let ms = e.start.timestamp_millis();
        match self.top_ms {
            Some(top) if ms < top => {}
            Some(top) if ms == top => {
                self.top.insert(e.arn.clone());
            }
            _ => {
                self.top_ms = Some(ms);
                self.top = BTreeSet::from([e.arn.clone()]);
            }
        }
    }
}

impl Backfill {
    fn reached(&self, e: &ExecutionListing) -> bool {
        match self.until_ms {
            None => false,
            Some(until) => {
                let ms = e.start.timestamp_millis();
                ms < until || (ms == until && self.until.contains(&e.arn))
            }
        }
    }
}

/// Why a cursor could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable execution listing cursor: {0}")]
pub struct CursorError(String);

fn decode(cursor: &str) -> Result<Position, CursorError> {
    serde_json::from_str(cursor).map_err(|e| CursorError(e.to_string()))
}

fn encode(position: &Position) -> String {
    serde_json::to_string(position).unwrap_or_default()
}

/// What a description told us, kept so each execution is described as few times as
/// possible.
#[derive(Debug, Clone)]
struct Described {
    s3_key: Option<String>,
    error: Option<String>,
    cause: Option<String>,
    scores: Option<[f64; 2]>,
    status: ExecutionStatus,
}

#[derive(Debug, Default)]
struct State {
    described: HashMap<String, Described>,
    /// Order of insertion into `described`, for eviction.
    order: VecDeque<String>,
    /// Rows listed but not described yet (budget exhausted or throttled).
    queued: VecDeque<ExecutionListing>,
    /// Executions to re-check on the next call whatever the cursor says (redriven here).
    watch: HashSet<String>,
}

/// Lists a state machine's executions incrementally (see the module docs).
#[derive(Debug)]
pub struct IncrementalLister {
    workflow: Workflow,
    options: ListerOptions,
    state: Mutex<State>,
}

impl IncrementalLister {
    /// A lister over `workflow`.
    pub fn new(workflow: Workflow, options: ListerOptions) -> IncrementalLister {
        IncrementalLister {
            workflow,
            options,
            state: Mutex::new(State::default()),
        }
    }

    /// The workflow listed.
    pub fn workflow(&self) -> &Workflow {
        &self.workflow
    }

    /// Re-check `arn` on the next call even if the cursor thinks it finished (after a
    /// redrive made it run again); its cached description is dropped.
    pub fn watch(&self, arn: &str) {
        let mut state = self.lock();
        state.watch.insert(arn.to_owned());
        state.described.remove(arn);
    }

    /// Cached `s3_key` of an execution, if it was described.
    pub fn cached_s3_key(&self, arn: &str) -> Option<String> {
        self.lock()
            .described
            .get(arn)
            .and_then(|d| d.s3_key.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a cache: after a panic elsewhere it is still usable.
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Executions new or changed since `cursor` (`None`: the newest ones), at most `limit`
    /// rows.
    pub async fn changes(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<ListingDelta, ListingError> {
        let limit = limit.max(1);
        let first = cursor.is_none();
        let mut pos = match cursor {
            Some(c) => decode(c)?,
            None => Position::default(),
        };
        let old = pos.clone();
        // ARN -> latest listing, in the order found (newest first).
        let mut changed: Vec<ExecutionListing> = Vec::new();
        let mut changed_index: HashMap<String, usize> = HashMap::new();
        let mut push =
            |e: ExecutionListing, changed: &mut Vec<ExecutionListing>| match changed_index
                .get(&e.arn)
            {
                Some(&i) => changed[i] = e,
                None => {
                    changed_index.insert(e.arn.clone(), changed.len());
                    changed.push(e);
                }
            };
        let mut still_running: BTreeSet<String> = pos.running.clone();
        // Every execution the scan saw, and whether it saw the whole listing (it ended for
        // lack of pages, not at a known finished execution or the row limit): then whatever
        // was delivered before and is not listed no longer exists.
        let mut listed: HashSet<String> = HashSet::new();
        let mut exhausted = false;

        // 1. Top scan.
        let mut token: Option<String> = None;
        let mut page_size = if first {
            limit.min(self.options.initial_rows.max(1)).min(1000) as i32
        } else {
            (self.options.scan_page as usize + old.running.len()).min(1000) as i32
        };
        'scan: loop {
            let (items, next) = self
                .workflow
                .list_page(None, token.take(), page_size)
                .await
                .map_err(ListingError::Aws)?;
            for e in items {
                pos.see(&e);
                listed.insert(e.arn.clone());
                if !old.is_known(&e) {
                    if !e.is_final() {
                        still_running.insert(e.arn.clone());
                    }
                    push(e, &mut changed);
                } else if old.running.contains(&e.arn) {
                    if e.is_final() {
                        still_running.remove(&e.arn);
                        push(e, &mut changed);
                    }
                } else if e.is_final() {
                    // The first known finished execution: everything below is known.
                    break 'scan;
                }
                if changed.len() >= limit {
                    if let Some(next) = next {
                        // More new executions than one call may return: read the rest as
                        // a backfill down to the old boundary.
                        pos.backfill = Some(Backfill {
                            token: next,
                            until_ms: old.top_ms,
                            until: old.top.clone(),
                            remaining: if first {
                                self.options.initial_rows.saturating_sub(changed.len())
                            } else {
                                usize::MAX
                            },
                        });
                    }
                    break 'scan;
                }
            }
            match next {
                Some(next) if !first => {
                    token = Some(next);
                    page_size = 1000;
                }
                Some(next) => {
                    // First listing: the newest page now, older pages in later calls.
                    if self.options.initial_rows > changed.len() {
                        pos.backfill = Some(Backfill {
                            token: next,
                            until_ms: None,
                            until: BTreeSet::new(),
                            remaining: self.options.initial_rows - changed.len(),
                        });
                    }
                    break;
                }
                None => {
                    exhausted = !first;
                    break;
                }
            }
        }

        // 2. Running check for known running executions the scan did not reach.
        let reached: HashSet<&str> = changed.iter().map(|e| e.arn.as_str()).collect();
        let mut unchecked: Vec<String> = old
            .running
            .iter()
            .filter(|arn| !reached.contains(arn.as_str()))
            .cloned()
            .collect();
        let watched: Vec<String> = self.lock().watch.drain().collect();
        for arn in watched {
            if !unchecked.contains(&arn) {
                unchecked.push(arn);
            }
        }
        let mut removed: Vec<String> = Vec::new();
        if exhausted {
            // Nothing older exists either: no backfill, no running check of the unlisted.
            pos.backfill = None;
            let mut state = self.lock();
            let gone: Vec<String> = state
                .described
                .keys()
                .chain(old.running.iter())
                .filter(|arn| !listed.contains(*arn))
                .cloned()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            for arn in &gone {
                state.described.remove(arn);
                still_running.remove(arn);
            }
            state.order.retain(|arn| !gone.contains(arn));
            unchecked.retain(|arn| !gone.contains(arn));
            removed = gone;
        }
        let mut to_describe: Vec<String> = Vec::new();
        if unchecked.len() > self.options.describe_running_max {
            let running_now = self.list_all_running().await.map_err(ListingError::Aws)?;
            for arn in unchecked {
                if running_now.contains(&arn) {
                    still_running.insert(arn);
                } else {
                    to_describe.push(arn);
                }
            }
        } else {
            to_describe = unchecked;
        }

        // 3. Backfill: one older page per call.
        if let Some(backfill) = old.backfill.clone().filter(|_| changed.len() < limit) {
            let (items, next) = self
                .workflow
                .list_page(None, Some(backfill.token.clone()), 1000)
                .await
                .map_err(ListingError::Aws)?;
            let mut remaining = backfill.remaining;
            let mut done = false;
            for e in items {
                if backfill.reached(&e) || remaining == 0 || changed.len() >= limit {
                    done = true;
                    break;
                }
                remaining -= 1;
                if !e.is_final() {
                    still_running.insert(e.arn.clone());
                }
                push(e, &mut changed);
            }
            pos.backfill = match next {
                Some(token) if !done && remaining > 0 => Some(Backfill {
                    token,
                    remaining,
                    ..backfill
                }),
                _ => None,
            };
        }

        // Descriptions: executions whose running status must be confirmed first, then new
        // and changed rows, then the queue from earlier calls; at most the budget.
        let mut rows: Vec<ExecutionRow> = Vec::with_capacity(changed.len());
        let mut wanted: Vec<ExecutionListing> = Vec::new();
        {
            let state = self.lock();
            for e in changed {
                match state.described.get(&e.arn) {
                    Some(d) if !needs_description(d, &e) => rows.push(row_from(e, d)),
                    _ => wanted.push(e),
                }
            }
        }
        let mut budget = self.options.describe_budget;
        let mut described_rows = Vec::new();
        let mut leftover: Vec<ExecutionListing> = Vec::new();

        // Known executions that left RUNNING: their final status comes from the describe.
        let running_checks: Vec<String> = to_describe;
        let take = running_checks.len().min(budget);
        budget -= take;
        let (check_now, check_later) = running_checks.split_at(take);
        let checked = self.describe_many(check_now.to_vec()).await;
        for (arn, result) in checked {
            match result {
                Ok(d) => described_rows.push(self.described(d, &mut still_running)),
                Err(e) if e.is_not_found() => {
                    still_running.remove(&arn);
                    removed.push(arn);
                }
                Err(e) if e.is_throttling() => {
                    still_running.insert(arn);
                }
                Err(e) => return Err(ListingError::Aws(e)),
            }
        }
        for arn in check_later {
            still_running.insert(arn.clone());
        }

        let take = wanted.len().min(budget);
        budget -= take;
        let rest = wanted.split_off(take);
        let results = self
            .describe_many(wanted.iter().map(|e| e.arn.clone()).collect())
            .await;
        let by_arn: HashMap<String, ExecutionListing> =
            wanted.into_iter().map(|e| (e.arn.clone(), e)).collect();
        for (arn, result) in results {
            let Some(listed) = by_arn.get(&arn).cloned() else {
                continue;
            };
            match result {
                Ok(d) => described_rows.push(self.described(d, &mut still_running)),
                Err(e) if e.is_not_found() => {}
                Err(e) if e.is_throttling() => {
                    rows.push(self.partial_row(listed.clone()));
                    leftover.push(listed);
                }
                Err(e) => return Err(ListingError::Aws(e)),
            }
        }
        for e in rest {
            rows.push(self.partial_row(e.clone()));
            leftover.push(e);
        }

        // The queue of earlier calls, with what is left of the budget.
        let queued: Vec<ExecutionListing> = {
            let mut state = self.lock();
            let n = state.queued.len().min(budget);
            state.queued.drain(..n).collect()
        };
        let results = self
            .describe_many(queued.iter().map(|e| e.arn.clone()).collect())
            .await;
        let by_arn: HashMap<String, ExecutionListing> =
            queued.into_iter().map(|e| (e.arn.clone(), e)).collect();
        for (arn, result) in results {
            match result {
                Ok(d) => described_rows.push(self.described(d, &mut still_running)),
                Err(e) if e.is_not_found() => {}
                Err(_) => {
                    if let Some(e) = by_arn.get(&arn) {
                        leftover.push(e.clone());
                    }
                }
            }
        }
        let queue_len = {
            let mut state = self.lock();
            state.queued.extend(leftover);
            state.queued.len()
        };

        rows.extend(described_rows);
        rows.sort_by_key(|r| std::cmp::Reverse(r.listing.start));
        dedup_rows(&mut rows);
        pos.running = still_running;
        let more = pos.backfill.is_some() || queue_len > 0;
        Ok(ListingDelta {
            rows,
            cursor: encode(&pos),
            more,
            removed,
        })
    }

    async fn list_all_running(&self) -> Result<HashSet<String>, AwsError> {
        let mut running = HashSet::new();
        let mut token = None;
        loop {
            let (items, next) = self
                .workflow
                .list_page(Some(ExecutionStatus::Running), token, 1000)
                .await?;
            running.extend(items.into_iter().map(|e| e.arn));
            match next {
                Some(t) => token = Some(t),
                None => return Ok(running),
            }
        }
    }

    async fn describe_many(
        &self,
        arns: Vec<String>,
    ) -> Vec<(String, Result<ExecutionDescription, AwsError>)> {
        futures::stream::iter(arns)
            .map(|arn| async move {
                let result = self.workflow.describe(&arn).await;
                (arn, result)
            })
            .buffer_unordered(self.options.describe_concurrency.max(1))
            .collect()
            .await
    }

    /// Caches a description and returns its row.
    /// A fresh description: keeps `still_running` in step with its status (re-described
    /// while it runs, dropped once final) and becomes a row.
    fn described(
        &self,
        d: ExecutionDescription,
        still_running: &mut BTreeSet<String>,
    ) -> ExecutionRow {
        if d.listing.is_final() {
            still_running.remove(&d.listing.arn);
        } else {
            still_running.insert(d.listing.arn.clone());
        }
        self.remember(d)
    }

    fn remember(&self, d: ExecutionDescription) -> ExecutionRow {
        let described = Described {
            s3_key: d.s3_key(),
            error: d.error.clone(),
            cause: d.cause.clone(),
            scores: d.scores(),
            status: d.listing.status,
        };
        let row = row_from(d.listing, &described);
        let mut state = self.lock();
        let arn = row.listing.arn.clone();
        if state.described.insert(arn.clone(), described).is_none() {
            state.order.push_back(arn);
        }
        while state.described.len() > self.options.cache_capacity.max(1) {
            match state.order.pop_front() {
                Some(old) => {
                    state.described.remove(&old);
                }
                None => break,
            }
        }
        row
    }

    /// A row with whatever the cache knows (the key survives a status change).
    fn partial_row(&self, e: ExecutionListing) -> ExecutionRow {
        let s3_key = self
            .lock()
            .described
            .get(&e.arn)
            .and_then(|d| d.s3_key.clone());
        ExecutionRow {
            listing: e,
            s3_key,
            error: None,
            cause: None,
            scores: None,
        }
    }
}

/// A cached description is enough unless the execution has since ended: its error and
/// cause, or its output's scores, have not been read (one more DescribeExecution per
/// execution, when it ends).
fn needs_description(d: &Described, e: &ExecutionListing) -> bool {
    d.status != e.status && e.is_final()
}

fn row_from(listing: ExecutionListing, d: &Described) -> ExecutionRow {
    let same = d.status == listing.status;
    ExecutionRow {
        s3_key: d.s3_key.clone(),
        error: if same { d.error.clone() } else { None },
        cause: if same { d.cause.clone() } else { None },
        scores: if same { d.scores } else { None },
        listing,
    }
}

/// Keeps the most complete row per ARN (a described one over a partial one).
fn dedup_rows(rows: &mut Vec<ExecutionRow>) {
    let mut best: HashMap<String, usize> = HashMap::new();
    let mut keep = vec![true; rows.len()];
    for (i, r) in rows.iter().enumerate() {
        match best.get(&r.listing.arn) {
            None => {
                best.insert(r.listing.arn.clone(), i);
            }
            Some(&j) => {
                let better =
                    |x: &ExecutionRow| (x.s3_key.is_some() as u8) + (x.error.is_some() as u8);
                if better(r) > better(&rows[j]) {
                    keep[j] = false;
                    best.insert(r.listing.arn.clone(), i);
                } else {
                    keep[i] = false;
                }
            }
        }
    }
    let mut i = 0;
    rows.retain(|_| {
        let k = keep[i];
        i += 1;
        k
    });
}

/// Why a listing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListingError {
    /// An AWS call failed.
    #[error(transparent)]
    Aws(AwsError),
    /// The cursor was not made by this lister.
    #[error(transparent)]
    Cursor(#[from] CursorError),
}

impl ListingError {
    /// Stable name of the variant.
    pub fn name(&self) -> &'static str {
        match self {
            ListingError::Aws(e) => e.name(),
            ListingError::Cursor(_) => "Cursor",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn listing(arn: &str, ms: i64, status: &str) -> ExecutionListing {
        ExecutionListing {
            arn: arn.into(),
            name: arn.into(),
            status: ExecutionStatus::from_service(status),
            start: DateTime::from_timestamp_millis(ms).unwrap(),
            stop: None,
        }
    }

    #[test]
    fn position_knows_what_is_at_or_below_the_top() {
        let mut p = Position::default();
        assert!(!p.is_known(&listing("a", 10, "RUNNING")));
        p.see(&listing("a", 10, "RUNNING"));
        p.see(&listing("b", 10, "RUNNING"));
        p.see(&listing("c", 5, "RUNNING"));
        assert_eq!(p.top_ms, Some(10));
        assert!(p.is_known(&listing("a", 10, "SUCCEEDED")));
        assert!(p.is_known(&listing("c", 5, "SUCCEEDED")));
        // Same millisecond, not seen: new.
        assert!(!p.is_known(&listing("d", 10, "RUNNING")));
        assert!(!p.is_known(&listing("e", 11, "RUNNING")));
        let round = decode(&encode(&p)).unwrap();
        assert_eq!(round, p);
        assert!(decode("garbage").is_err());
    }

    #[test]
    fn an_ended_execution_is_described_once_more() {
        let running = Described {
            s3_key: Some("k".into()),
            error: None,
            cause: None,
            scores: None,
            status: ExecutionStatus::Running,
        };
        assert!(needs_description(&running, &listing("a", 1, "FAILED")));
        // Its output holds the scores the list shows.
        assert!(needs_description(&running, &listing("a", 1, "SUCCEEDED")));
        assert!(!needs_description(&running, &listing("a", 1, "RUNNING")));
        let failed = Described {
            status: ExecutionStatus::Failed,
            error: Some("LowConfidence".into()),
            ..running
        };
        assert!(!needs_description(&failed, &listing("a", 1, "FAILED")));
        let row = row_from(listing("a", 1, "FAILED"), &failed);
        assert_eq!(row.error.as_deref(), Some("LowConfidence"));
        assert_eq!(row.s3_key.as_deref(), Some("k"));
    }

    #[test]
    fn dedup_keeps_the_described_row() {
        let mut rows = vec![
            ExecutionRow {
                listing: listing("a", 2, "FAILED"),
                s3_key: None,
                error: None,
                cause: None,
                scores: None,
            },
            ExecutionRow {
                listing: listing("b", 1, "SUCCEEDED"),
                s3_key: Some("kb".into()),
                error: None,
                cause: None,
                scores: None,
            },
            ExecutionRow {
                listing: listing("a", 2, "FAILED"),
                s3_key: Some("ka".into()),
                error: Some("E".into()),
                cause: None,
                scores: None,
            },
        ];
        dedup_rows(&mut rows);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].listing.arn, "b");
        assert_eq!(rows[1].error.as_deref(), Some("E"));
    }
}
