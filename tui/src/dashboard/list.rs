//! The executions list, the model several tabs share: every execution the backend reported,
//! filtered (`/`), sorted (`S`), and the selection (the Executions tab shows its detail, the
//! Logs tab its logs). Also what a row's label says about its prediction ([`Truth`]).
//!
//! Rows are merged incrementally by id; the filtered and sorted view is an index vector
//! rebuilt only when data, filter or sort change, and drawing touches only the visible
//! slice, so 100k executions cost the same per frame as 100.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use scones_workflow::ExecutionStatus;
use scones_workflow::cause::LOW_CONFIDENCE_ERROR;
use scones_workflow::port::{ExecutionId, ExecutionSummary, TimeRange};

use crate::dashboard::components::visible_offset;

/// Orders of the list, cycled by the sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Newest first (default).
    NewestFirst,
    /// Oldest first.
    OldestFirst,
    /// Longest running first.
    Slowest,
    /// By status, failures first.
    Status,
    /// By s3 key.
    Key,
}

impl SortKey {
    /// The next order.
    pub fn next(self) -> SortKey {
        match self {
            SortKey::NewestFirst => SortKey::OldestFirst,
            SortKey::OldestFirst => SortKey::Slowest,
            SortKey::Slowest => SortKey::Status,
            SortKey::Status => SortKey::Key,
            SortKey::Key => SortKey::NewestFirst,
        }
    }

    /// Label for the panel title.
    pub fn label(self) -> &'static str {
        match self {
            SortKey::NewestFirst => "newest",
            SortKey::OldestFirst => "oldest",
            SortKey::Slowest => "slowest",
            SortKey::Status => "status",
            SortKey::Key => "key",
        }
    }
}

/// The list's data and navigation state.
#[derive(Debug, Clone)]
pub struct ExecutionList {
    rows: Vec<ExecutionSummary>,
    index: HashMap<ExecutionId, usize>,
    view: Vec<u32>,
    /// Position of the selection in the view.
    pub selected: usize,
    /// First visible position.
    pub offset: usize,
    /// The filter in force (case-insensitive substring of name, key, status, error).
    pub filter: String,
    /// The order.
    pub sort: SortKey,
    /// Number of running executions (for the title).
    running: usize,
    /// The user chose a row other than the first: arriving executions keep it selected.
    /// At the first row the selection follows the list's head (the newest execution), so a
    /// list that loads in pages, or grows, shows its newest at the top.
    pinned: bool,
}

impl Default for ExecutionList {
    fn default() -> Self {
        ExecutionList {
            rows: Vec::new(),
            index: HashMap::new(),
            view: Vec::new(),
            selected: 0,
            offset: 0,
            filter: String::new(),
            sort: SortKey::NewestFirst,
            running: 0,
            pinned: false,
        }
    }
}

impl ExecutionList {
    /// Adds new executions and replaces changed ones; keeps the selected execution selected
    /// when the user picked it (see `pinned`), else the first row. Returns true if anything
    /// changed.
    pub fn merge(&mut self, changed: Vec<ExecutionSummary>, now: DateTime<Utc>) -> bool {
        if changed.is_empty() {
            return false;
        }
        let keep = self.pinned.then(|| self.selected_id()).flatten();
        for summary in changed {
            match self.index.get(&summary.id) {
                Some(&i) => {
                    if let Some(row) = self.rows.get_mut(i) {
                        *row = summary;
                    }
                }
                None => {
                    self.index.insert(summary.id.clone(), self.rows.len());
                    self.rows.push(summary);
                }
            }
        }
        self.rebuild(keep, now);
        true
    }

    /// Drops executions that no longer exist; keeps the selection when it survives (else the
    /// row now at its place). Returns true if anything was dropped.
    pub fn remove(&mut self, gone: &[ExecutionId], now: DateTime<Utc>) -> bool {
        if !gone.iter().any(|id| self.index.contains_key(id)) {
            return false;
        }
        let keep = self.selected_id().filter(|id| !gone.contains(id));
        let gone: std::collections::HashSet<&ExecutionId> = gone.iter().collect();
        self.rows.retain(|r| !gone.contains(&r.id));
        self.index = self
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        self.rebuild(keep, now);
        true
    }

    /// Sets one execution's status from newer news than the listing (its history): a
    /// redriven execution runs again, and a running one whose history ended has ended.
    /// A running execution loses its stop time.
    pub fn set_status(&mut self, id: &ExecutionId, status: ExecutionStatus, now: DateTime<Utc>) {
        let Some(row) = self.index.get(id).and_then(|&i| self.rows.get_mut(i)) else {
            return;
        };
        if row.status == status {
            return;
        }
        row.status = status;
        if !status.is_final() {
            row.stop = None;
            row.error = None;
            row.cause = None;
        }
        let keep = self.selected_id();
        self.rebuild(keep, now);
    }

    /// Sets the filter and rebuilds the view.
    pub fn set_filter(&mut self, filter: String, now: DateTime<Utc>) {
        let keep = self.selected_id();
        self.filter = filter;
        self.rebuild(keep, now);
    }

    /// Next sort order.
    pub fn cycle_sort(&mut self, now: DateTime<Utc>) {
        let keep = self.selected_id();
        self.sort = self.sort.next();
        self.rebuild(keep, now);
    }

    fn rebuild(&mut self, keep: Option<ExecutionId>, now: DateTime<Utc>) {
        let needle = self.filter.to_lowercase();
        let rows = &self.rows;
        self.running = rows
            .iter()
            .filter(|r| r.status == ExecutionStatus::Running)
            .count();
        self.view = (0..rows.len() as u32)
            .filter(|&i| needle.is_empty() || matches_filter(&rows[i as usize], &needle))
            .collect();
        let key = |i: &u32| &rows[*i as usize];
        match self.sort {
            SortKey::NewestFirst => self
                .view
                .sort_by(|a, b| key(b).start.cmp(&key(a).start).then(b.cmp(a))),
            SortKey::OldestFirst => self
                .view
                .sort_by(|a, b| key(a).start.cmp(&key(b).start).then(a.cmp(b))),
            SortKey::Slowest => self
                .view
                .sort_by_cached_key(|i| std::cmp::Reverse(key(i).duration(now))),
            SortKey::Status => self.view.sort_by_key(|i| (status_rank(key(i).status), *i)),
            SortKey::Key => self
                .view
                .sort_by(|a, b| key(a).s3_key.cmp(&key(b).s3_key).then(a.cmp(b))),
        }
        self.selected = keep
            .and_then(|id| self.position_of(&id))
            .unwrap_or(0)
            .min(self.view.len().saturating_sub(1));
    }

    fn position_of(&self, id: &ExecutionId) -> Option<usize> {
        let row = *self.index.get(id)? as u32;
        self.view.iter().position(|&i| i == row)
    }

    /// Selects an execution by id if it is in the view.
    pub fn select_id(&mut self, id: &ExecutionId) -> bool {
        match self.position_of(id) {
            Some(p) => {
                self.selected = p;
                self.pinned = p != 0;
                true
            }
            None => false,
        }
    }

    /// Selects the execution at a view position (a click); it stays selected as rows
    /// arrive unless it is the first.
    pub fn select_position(&mut self, position: usize) {
        self.selected = position.min(self.view.len().saturating_sub(1));
        self.pinned = self.selected != 0;
    }

    /// The selected execution.
    pub fn selected(&self) -> Option<&ExecutionSummary> {
        self.at(self.selected)
    }

    /// The selected execution's id.
    pub fn selected_id(&self) -> Option<ExecutionId> {
        self.selected().map(|s| s.id.clone())
    }

    /// The execution at a view position.
    pub fn at(&self, position: usize) -> Option<&ExecutionSummary> {
        let i = *self.view.get(position)? as usize;
        self.rows.get(i)
    }

    /// An execution by id.
    pub fn get(&self, id: &ExecutionId) -> Option<&ExecutionSummary> {
        self.rows.get(*self.index.get(id)?)
    }

    /// Executions in the view.
    pub fn view_len(&self) -> usize {
        self.view.len()
    }

    /// Executions known.
    pub fn total(&self) -> usize {
        self.rows.len()
    }

    /// Running executions known.
    pub fn running(&self) -> usize {
        self.running
    }

    /// Every execution known, in arrival order.
    pub fn rows(&self) -> impl Iterator<Item = &ExecutionSummary> {
        self.rows.iter()
    }

    /// Executions that ended inside `range`.
    pub fn finished_in(&self, range: &TimeRange) -> usize {
        self.rows
            .iter()
            .filter(|r| r.stop.is_some_and(|t| range.contains(t)))
            .count()
    }

    /// Moves the selection by `delta` rows, keeping it on screen for a list `height` rows
    /// tall.
    pub fn move_by(&mut self, delta: i64, height: usize) {
        let last = self.view.len().saturating_sub(1) as i64;
        self.selected = (self.selected as i64 + delta).clamp(0, last.max(0)) as usize;
        self.pinned = self.selected != 0;
        self.offset = visible_offset(self.offset, self.selected, height, self.view.len());
    }

    /// Keeps the stored offset consistent with the selection for a list `height` rows tall.
    pub fn keep_visible(&mut self, height: usize) {
        self.offset = visible_offset(self.offset, self.selected, height, self.view.len());
    }
}

fn status_rank(s: ExecutionStatus) -> u8 {
    match s {
        ExecutionStatus::Failed | ExecutionStatus::TimedOut => 0,
        ExecutionStatus::Aborted | ExecutionStatus::PendingRedrive => 1,
        ExecutionStatus::Running => 2,
        ExecutionStatus::Succeeded => 3,
    }
}

fn matches_filter(row: &ExecutionSummary, needle: &str) -> bool {
    let has = |s: &str| s.to_lowercase().contains(needle);
    has(&row.name)
        || row.s3_key.as_deref().is_some_and(has)
        || has(row.status.as_str())
        || row.error.as_deref().is_some_and(has)
        || has(Truth::of(row).text())
}

/// What the label says about an execution's prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    /// Accepted, and the prediction matches the label.
    Right,
    /// Accepted although it does not: an error let through.
    Wrong,
    /// Rejected (`LowConfidence`) although it leaned the right way: work for a person.
    RejectedRight,
    /// Rejected, and it leaned the wrong way: a mistake stopped.
    RejectedWrong,
    /// Classified, but the image has no label (production traffic).
    Unlabelled,
    /// Not classified (yet).
    Unknown,
}

impl Truth {
    /// The truth of `row`'s prediction.
    pub fn of(row: &ExecutionSummary) -> Truth {
        let rejected = row.error.as_deref() == Some(LOW_CONFIDENCE_ERROR);
        match (row.correct(), row.scores, rejected) {
            (Some(true), _, false) => Truth::Right,
            (Some(false), _, false) => Truth::Wrong,
            (Some(true), _, true) => Truth::RejectedRight,
            (Some(false), _, true) => Truth::RejectedWrong,
            (None, Some(_), _) => Truth::Unlabelled,
            (None, None, _) => Truth::Unknown,
        }
    }

    /// The TRUTH column's text (also what the filter matches: `/wrong`).
    pub fn text(self) -> &'static str {
        match self {
            Truth::Right => "ok",
            Truth::Wrong => "WRONG",
            Truth::RejectedRight => "(ok)",
            Truth::RejectedWrong => "(bad)",
            Truth::Unlabelled => "unlab",
            Truth::Unknown => "",
        }
    }

    /// In words, for the detail view.
    pub fn sentence(self) -> &'static str {
        match self {
            Truth::Right => "right",
            Truth::Wrong => "WRONG, and accepted: an error let through",
            Truth::RejectedRight => "rejected, though it leaned the right way",
            Truth::RejectedWrong => "rejected, and it leaned the wrong way: a mistake stopped",
            Truth::Unlabelled => "no label: not judged",
            Truth::Unknown => "",
        }
    }

    /// Its style.
    pub fn style(self, theme: &crate::dashboard::theme::Theme) -> ratatui::style::Style {
        match self {
            Truth::Right | Truth::RejectedWrong => theme.ok,
            Truth::Wrong => theme.bad,
            Truth::RejectedRight => theme.warn,
            Truth::Unlabelled | Truth::Unknown => theme.dim,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn exec(i: u32, status: ExecutionStatus, key: &str) -> ExecutionSummary {
        let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
            + chrono::Duration::seconds(i64::from(i));
        ExecutionSummary {
            id: ExecutionId::new(format!("id-{i}")),
            name: format!("exec-{i}"),
            s3_key: Some(key.to_owned()),
            status,
            start,
            stop: status
                .is_final()
                .then_some(start + chrono::Duration::milliseconds(100 + i64::from(i))),
            error: (status == ExecutionStatus::Failed).then(|| "LowConfidence".to_owned()),
            cause: None,
            scores: None,
            label: None,
            model: None,
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 1, 0, 0).unwrap()
    }

    #[test]
    fn merge_replaces_by_id_and_sorts_newest_first() {
        let mut s = ExecutionList::default();
        s.merge(
            vec![
                exec(1, ExecutionStatus::Running, "test/a.png"),
                exec(2, ExecutionStatus::Succeeded, "test/b.png"),
            ],
            now(),
        );
        assert_eq!(s.total(), 2);
        assert_eq!(s.running(), 1);
        assert_eq!(s.at(0).unwrap().name, "exec-2");
        s.merge(vec![exec(1, ExecutionStatus::Failed, "test/a.png")], now());
        assert_eq!(s.total(), 2);
        assert_eq!(s.running(), 0);
        assert_eq!(
            s.get(&ExecutionId::new("id-1")).unwrap().status,
            ExecutionStatus::Failed
        );
    }

    #[test]
    fn removed_executions_leave_the_list_and_the_selection_survives_when_it_can() {
        let mut s = ExecutionList::default();
        s.merge(
            (1..=4)
                .map(|i| exec(i, ExecutionStatus::Succeeded, "test/a.png"))
                .collect(),
            now(),
        );
        s.select_id(&ExecutionId::new("id-2"));
        assert!(s.remove(&[ExecutionId::new("id-4")], now()));
        assert_eq!(s.total(), 3);
        assert_eq!(s.selected_id(), Some(ExecutionId::new("id-2")));
        assert!(s.get(&ExecutionId::new("id-4")).is_none());
        // Removing the selected one selects what is there now; unknown ids change nothing.
        assert!(s.remove(&[ExecutionId::new("id-2")], now()));
        assert!(s.selected_id().is_some());
        assert!(!s.remove(&[ExecutionId::new("id-9")], now()));
        assert_eq!(s.total(), 2);
        // The index follows: a later merge replaces, not duplicates.
        s.merge(vec![exec(1, ExecutionStatus::Failed, "test/a.png")], now());
        assert_eq!(s.total(), 2);
    }

    #[test]
    fn an_untouched_selection_follows_the_newest_as_pages_arrive() {
        // A big store lists in pages, older ones first: the newest must end up at the top
        // and selected, not scrolled off above an older page's first row.
        let mut s = ExecutionList::default();
        s.merge(
            (0..5)
                .map(|i| exec(i, ExecutionStatus::Succeeded, "k"))
                .collect(),
            now(),
        );
        s.merge(
            (5..8)
                .map(|i| exec(i, ExecutionStatus::Succeeded, "k"))
                .collect(),
            now(),
        );
        assert_eq!(s.selected, 0);
        assert_eq!(s.selected().unwrap().name, "exec-7");
        // Back at the top after a move: following again.
        s.move_by(3, 10);
        s.move_by(-3, 10);
        s.merge(vec![exec(8, ExecutionStatus::Running, "k")], now());
        assert_eq!(s.selected().unwrap().name, "exec-8");
    }

    #[test]
    fn selection_follows_the_execution_when_rows_arrive() {
        let mut s = ExecutionList::default();
        s.merge(
            (0..5)
                .map(|i| exec(i, ExecutionStatus::Succeeded, "k"))
                .collect(),
            now(),
        );
        s.move_by(2, 10);
        let picked = s.selected_id().unwrap();
        s.merge(
            (5..8)
                .map(|i| exec(i, ExecutionStatus::Succeeded, "k"))
                .collect(),
            now(),
        );
        assert_eq!(s.selected_id().unwrap(), picked);
        assert_eq!(s.selected, 5);
    }

    #[test]
    fn filter_narrows_on_name_key_status_and_error() {
        let mut s = ExecutionList::default();
        s.merge(
            vec![
                exec(1, ExecutionStatus::Succeeded, "test/bicycle_1.png"),
                exec(2, ExecutionStatus::Failed, "test/motorcycle_2.png"),
                exec(3, ExecutionStatus::Succeeded, "test/motorcycle_3.png"),
            ],
            now(),
        );
        s.set_filter("MOTOR".into(), now());
        assert_eq!(s.view_len(), 2);
        s.set_filter("lowconf".into(), now());
        assert_eq!(s.view_len(), 1);
        assert_eq!(s.selected().unwrap().name, "exec-2");
        s.set_filter("nothing-matches".into(), now());
        assert_eq!(s.view_len(), 0);
        assert!(s.selected().is_none());
        s.move_by(1, 10);
        assert!(s.selected().is_none());
    }

    #[test]
    fn truth_compares_the_prediction_with_the_label_and_filters() {
        use scones_workflow::class::Class;
        let scored = |i, scores, label| ExecutionSummary {
            scores: Some(scores),
            label,
            ..exec(i, ExecutionStatus::Succeeded, "test/x.png")
        };
        let right = scored(1, [0.97, 0.03], Some(Class::Bicycle));
        let wrong = scored(2, [0.02, 0.98], Some(Class::Bicycle));
        let unlabelled = scored(3, [0.02, 0.98], None);
        let pending = ExecutionSummary {
            label: Some(Class::Motorcycle),
            ..exec(4, ExecutionStatus::Running, "test/y.png")
        };
        let rejected = |i, label| ExecutionSummary {
            scores: Some([0.7, 0.3]),
            label: Some(label),
            ..exec(i, ExecutionStatus::Failed, "test/z.png")
        };
        let (rejected_right, rejected_wrong) =
            (rejected(5, Class::Bicycle), rejected(6, Class::Motorcycle));
        assert_eq!(Truth::of(&right), Truth::Right);
        assert_eq!(Truth::of(&wrong), Truth::Wrong);
        assert_eq!(Truth::of(&unlabelled), Truth::Unlabelled);
        assert_eq!(Truth::of(&pending), Truth::Unknown);
        assert_eq!(Truth::of(&rejected_right), Truth::RejectedRight);
        assert_eq!(Truth::of(&rejected_wrong), Truth::RejectedWrong);
        let mut s = ExecutionList::default();
        s.merge(
            vec![
                right,
                wrong,
                unlabelled,
                pending,
                rejected_right,
                rejected_wrong,
            ],
            now(),
        );
        s.set_filter("wrong".into(), now());
        assert_eq!(s.view_len(), 1);
        assert_eq!(s.selected().unwrap().name, "exec-2");
        s.set_filter("unlab".into(), now());
        assert_eq!(s.selected().unwrap().name, "exec-3");
        s.set_filter("".into(), now());
        assert_eq!(s.view_len(), 6);
    }

    #[test]
    fn filter_finds_nothing_for_a_needle_that_matches_no_row() {
        let mut s = ExecutionList::default();
        s.merge(vec![exec(1, ExecutionStatus::Succeeded, "k")], now());
        s.set_filter("nothing-matches".into(), now());
        assert_eq!(s.view_len(), 0);
        assert!(s.selected().is_none());
        s.move_by(1, 10);
        assert!(s.selected().is_none());
    }

    #[test]
    fn sort_orders() {
        let mut s = ExecutionList::default();
        s.merge(
            vec![
                exec(1, ExecutionStatus::Succeeded, "c"),
                exec(2, ExecutionStatus::Failed, "a"),
                exec(3, ExecutionStatus::Running, "b"),
            ],
            now(),
        );
        let names = |s: &ExecutionList| {
            (0..s.view_len())
                .map(|p| s.at(p).unwrap().name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&s), ["exec-3", "exec-2", "exec-1"]);
        s.cycle_sort(now());
        assert_eq!(names(&s), ["exec-1", "exec-2", "exec-3"]);
        s.cycle_sort(now()); // slowest: the running one runs until now
        assert_eq!(names(&s)[0], "exec-3");
        s.cycle_sort(now());
        assert_eq!(names(&s)[0], "exec-2");
        s.cycle_sort(now());
        assert_eq!(names(&s), ["exec-2", "exec-3", "exec-1"]);
        s.cycle_sort(now());
        assert_eq!(s.sort, SortKey::NewestFirst);
    }

    #[test]
    fn offset_moves_minimally() {
        assert_eq!(visible_offset(0, 3, 5, 20), 0);
        assert_eq!(visible_offset(0, 5, 5, 20), 1);
        assert_eq!(visible_offset(4, 2, 5, 20), 2);
        assert_eq!(visible_offset(4, 6, 0, 20), 6);
        // never a half-empty window when rows could fill it
        assert_eq!(visible_offset(10, 10, 17, 11), 0);
        assert_eq!(visible_offset(10, 10, 5, 11), 6);
    }
}
