//! Human review: what people say an image is, kept as append-only label records under
//! `review/` in the bucket (the same lines locally and on S3), and what is waiting for them.
//!
//! - A [`LabelRecord`] is one person's answer about one image (key): a class, "unsure", or
//!   a withdrawal of an earlier answer (undo). Records are never changed or deleted; the
//!   newest record of a key wins ([`Labels`]) and all are kept.
//! - Records are JSON lines in files under [`LABELS_PREFIX`]: locally one file per writing
//!   process and day, appended to (a process never shares its file, so two people labelling
//!   at once lose nothing); on S3 one object per record (S3 has no append; one object each
//!   needs no conditional write to be safe under concurrent writers). One reader reads both:
//!   a file of one line or of thousands ([`parse_lines`]).
//! - The queue ([`ReviewItem`], [`ReviewReason`]): every `LowConfidence` failure, every
//!   `DriftHold`, and a random audit sample of accepted decisions (a confidently wrong model
//!   never shows among the rejects), each key once, until someone labels it.
//! - A fixed share of reviewed keys is held out as the production validation set, chosen by
//!   a hash of the key ([`is_held_out`]) so an image never moves between the sides; keys of
//!   the test split are neither trained on nor used to select a model ([`Use`]).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::class::Class;
use crate::port::ExecutionId;

/// Where label records live in the bucket.
pub const LABELS_PREFIX: &str = "review/labels/";

/// The version of the record format this build writes.
pub const LABEL_FORMAT: u32 = 1;

/// Share of reviewed keys held out as the production validation set, in percent.
pub const HELD_OUT_PERCENT: u64 = 20;

/// The default share of accepted decisions sampled for audit.
pub const DEFAULT_AUDIT_RATE: f64 = 0.02;

/// The audit share while drift is WARN or ALERT and decisions are still accepted (guard
/// `warn`, or just after a release): the model is least trusted then.
pub const RAISED_AUDIT_RATE: f64 = 0.2;

/// What a person said about an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// It is a bicycle.
    Bicycle,
    /// It is a motorcycle.
    Motorcycle,
    /// They could not tell: it leaves the queue, and is neither trained on nor scored.
    Unsure,
    /// An earlier answer taken back (undo): the key is back in the queue.
    Withdrawn,
}

impl Verdict {
    /// The class, for a bicycle or motorcycle answer.
    pub fn class(self) -> Option<Class> {
        match self {
            Verdict::Bicycle => Some(Class::Bicycle),
            Verdict::Motorcycle => Some(Class::Motorcycle),
            Verdict::Unsure | Verdict::Withdrawn => None,
        }
    }

    /// Its name in records, CSV files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Bicycle => "bicycle",
            Verdict::Motorcycle => "motorcycle",
            Verdict::Unsure => "unsure",
            Verdict::Withdrawn => "withdrawn",
        }
    }
}

impl From<Class> for Verdict {
    fn from(c: Class) -> Verdict {
        match c {
            Class::Bicycle => Verdict::Bicycle,
            Class::Motorcycle => Verdict::Motorcycle,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A label a person can give (`withdrawn` is what undo writes, not an answer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a label: use bicycle, motorcycle or unsure")]
pub struct UnknownLabel(pub String);

impl FromStr for Verdict {
    type Err = UnknownLabel;

    fn from_str(text: &str) -> Result<Verdict, UnknownLabel> {
        match text.trim().to_ascii_lowercase().as_str() {
            "bicycle" | "0" => Ok(Verdict::Bicycle),
            "motorcycle" | "1" => Ok(Verdict::Motorcycle),
            "unsure" | "?" => Ok(Verdict::Unsure),
            _ => Err(UnknownLabel(text.to_owned())),
        }
    }
}

/// Why an image was put in front of a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewReason {
    /// Its confidence was below the threshold (`LowConfidence`).
    LowConfidence,
    /// The guard held the decision while drift was ALERT (`DriftHold`).
    DriftHold,
    /// An accepted decision drawn for audit.
    Audit,
    /// Labelled from outside the queue (`scones review import`, a key not queued).
    Import,
}

impl ReviewReason {
    /// Its name in records and on screen.
    pub fn name(self) -> &'static str {
        match self {
            ReviewReason::LowConfidence => "low_confidence",
            ReviewReason::DriftHold => "drift_hold",
            ReviewReason::Audit => "audit",
            ReviewReason::Import => "import",
        }
    }

    /// Reads a name written by [`ReviewReason::name`].
    pub fn parse(text: &str) -> Option<ReviewReason> {
        [
            ReviewReason::LowConfidence,
            ReviewReason::DriftHold,
            ReviewReason::Audit,
            ReviewReason::Import,
        ]
        .into_iter()
        .find(|r| r.name() == text)
    }

    /// Was the decision accepted (the audit sample)? The others were refused.
    pub fn accepted(self) -> bool {
        self == ReviewReason::Audit
    }
}

impl fmt::Display for ReviewReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One answer, as written under [`LABELS_PREFIX`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelRecord {
    /// [`LABEL_FORMAT`].
    pub format: u32,
    /// A unique id (two imports of the same file are told apart, a record read twice is
    /// counted once).
    pub id: String,
    /// The image's key in the bucket.
    pub key: String,
    /// The answer.
    pub label: Verdict,
    /// Who gave it (the OS user locally, the caller identity on AWS).
    pub who: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Why it was queued.
    pub reason: ReviewReason,
    /// The model version whose decision was reviewed, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The model's scores `[p_bicycle, p_motorcycle]` on it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scores: Option<[f64; 2]>,
    /// The execution that queued it, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<String>,
}

impl LabelRecord {
    /// The record's JSON line (no newline).
    pub fn to_line(&self) -> String {
        // A struct of strings, numbers and enums: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A line of a label file that could not be read, with where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based line number.
    pub line: usize,
    /// Why.
    pub reason: String,
}

/// The records of a label file (one record per line; blank lines skipped), and the lines
/// that are not records: a line cut short by a crash, or a file someone edited. Those are
/// reported, never fatal, and never hide the other lines.
pub fn parse_lines(text: &str) -> (Vec<LabelRecord>, Vec<BadLine>) {
    let mut records = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match serde_json::from_str::<LabelRecord>(line) {
            Ok(r) => records.push(r),
            Err(e) => bad.push(BadLine {
                line: i + 1,
                reason: e.to_string(),
            }),
        }
    }
    (records, bad)
}

/// The newest answer for every key, from every record read (in any order; a record read
/// twice counts once).
#[derive(Debug, Clone, Default)]
pub struct Labels {
    latest: HashMap<String, LabelRecord>,
    seen: std::collections::HashSet<String>,
    records: usize,
}

impl Labels {
    /// Adds records; the newest (by time, then id) of each key wins.
    pub fn extend(&mut self, records: impl IntoIterator<Item = LabelRecord>) {
        for r in records {
            if !self.seen.insert(r.id.clone()) {
                continue;
            }
            self.records += 1;
            match self.latest.get(&r.key) {
                Some(old) if (old.at, &old.id) >= (r.at, &r.id) => {}
                _ => {
                    self.latest.insert(r.key.clone(), r);
                }
            }
        }
    }

    /// The current answer for `key` (`None`: never labelled, or withdrawn).
    pub fn get(&self, key: &str) -> Option<&LabelRecord> {
        self.latest
            .get(key)
            .filter(|r| r.label != Verdict::Withdrawn)
    }

    /// The current class of `key` (`None` unless a person said bicycle or motorcycle).
    pub fn class(&self, key: &str) -> Option<Class> {
        self.get(key)?.label.class()
    }

    /// True when `key` has a current answer (a class or "unsure").
    pub fn is_answered(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Every current answer.
    pub fn current(&self) -> impl Iterator<Item = &LabelRecord> {
        self.latest
            .values()
            .filter(|r| r.label != Verdict::Withdrawn)
    }

    /// Records read (each once).
    pub fn records(&self) -> usize {
        self.records
    }
}

/// True when `key` belongs to the production validation set: a fixed share
/// ([`HELD_OUT_PERCENT`]) of keys by a hash of the key alone, so an image is on the same side
/// whoever labels it and however often the model is retrained.
pub fn is_held_out(key: &str) -> bool {
    let digest = Sha256::digest(key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % 100 < HELD_OUT_PERCENT
}

/// What a reviewed key may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Training (with `train/`).
    Train,
    /// The production validation set: the promotion gate and the candidate's measures.
    Validate,
    /// Neither: an image of the test split. Its label counts in production quality, but
    /// `test/` is never trained, calibrated or selected on.
    QualityOnly,
}

/// What the reviewed image `key` may be used for.
pub fn use_of(key: &str) -> Use {
    if key.starts_with("test/") {
        Use::QualityOnly
    } else if is_held_out(key) {
        Use::Validate
    } else {
        Use::Train
    }
}

/// One image waiting for a person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewItem {
    /// The image.
    pub key: String,
    /// Why it is queued.
    pub reason: ReviewReason,
    /// The execution that queued it (the newest, when the image ran several times).
    pub execution: Option<ExecutionId>,
    /// The model's scores.
    pub scores: Option<[f64; 2]>,
    /// The model version that decided.
    pub model: Option<String>,
    /// When the decision was made.
    pub time: DateTime<Utc>,
}

/// The review queue as the dashboard and `scones review list` show it.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ReviewQueue {
    /// The oldest waiting items first (a person works through them in order), at most the
    /// limit asked for.
    pub items: Vec<ReviewItem>,
    /// Items waiting in all (at least `items.len()`).
    pub waiting: u64,
    /// Keys answered so far (a class or unsure).
    pub answered: u64,
    /// Answers in the last hour (the labelling pace).
    pub answered_last_hour: u64,
    /// Lines of the label files that could not be read (skipped, with a warning).
    pub unreadable: u64,
}

impl ReviewQueue {
    /// The queue from the decisions that went to a person (`items`: each key once, its
    /// newest decision), minus the keys someone answered, oldest first, at most `limit`
    /// listed while the counts cover all. Both backends build it here.
    pub fn of(
        items: impl IntoIterator<Item = ReviewItem>,
        labels: &Labels,
        unreadable: u64,
        limit: usize,
        now: DateTime<Utc>,
    ) -> ReviewQueue {
        let mut waiting: Vec<ReviewItem> = items
            .into_iter()
            .filter(|item| !labels.is_answered(&item.key))
            .collect();
        waiting.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.key.cmp(&b.key)));
        let hour_ago = now - chrono::Duration::hours(1);
        ReviewQueue {
            waiting: waiting.len() as u64,
            items: waiting.into_iter().take(limit).collect(),
            answered: labels.current().count() as u64,
            answered_last_hour: labels.current().filter(|r| r.at >= hour_ago).count() as u64,
            unreadable,
        }
    }
}

/// A label a person gives through the port.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLabel {
    /// The image.
    pub key: String,
    /// The answer (or [`Verdict::Withdrawn`] to undo).
    pub label: Verdict,
    /// Why it was queued, when it was ([`ReviewReason::Import`] otherwise).
    pub reason: ReviewReason,
    /// The model version that decided, when known.
    pub model: Option<String>,
    /// The scores, when known.
    pub scores: Option<[f64; 2]>,
    /// The execution, when known.
    pub execution: Option<ExecutionId>,
}

impl NewLabel {
    /// The record of this label, given by `who` at `at`.
    pub fn record(&self, who: &str, at: DateTime<Utc>) -> LabelRecord {
        LabelRecord {
            format: LABEL_FORMAT,
            id: uuid_like(at),
            key: self.key.clone(),
            label: self.label,
            who: who.to_owned(),
            at,
            reason: self.reason,
            model: self.model.clone(),
            scores: self.scores,
            execution: self.execution.as_ref().map(|e| e.to_string()),
        }
    }
}

/// A unique record id: the time and 64 random bits (no uuid dependency in this crate).
fn uuid_like(at: DateTime<Utc>) -> String {
    let random: u64 = rand::random();
    format!("{}-{random:016x}", at.format("%Y%m%dT%H%M%S%6fZ"))
}

/// Ground truth from production for one model version: what people's labels say about its
/// decisions. Accepted decisions are judged from the audit sample only (a random draw of
/// them, so its accuracy estimates all of them); refused ones from the reviewed refusals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionQuality {
    /// The model version (`unknown` for labels without one).
    pub model: String,
    /// Audited accepted decisions with a class label.
    pub audited: usize,
    /// ... of which the model got right.
    pub audited_right: usize,
    /// Reviewed refusals (low confidence, held) with a class label.
    pub refused: usize,
    /// ... of which the model leaned the right way (work for a person for nothing).
    pub refused_right: usize,
    /// Answers of "unsure" (neither).
    pub unsure: usize,
}

impl VersionQuality {
    /// Estimated accuracy of the accepted decisions, with a 95% Wilson interval.
    pub fn accepted_accuracy(&self) -> Option<(f64, (f64, f64))> {
        let interval = crate::quality::wilson_interval(
            self.audited_right,
            self.audited,
            crate::quality::Z_95,
        )?;
        Some((self.audited_right as f64 / self.audited as f64, interval))
    }

    /// Share of reviewed refusals the model would have got right.
    pub fn refused_right_share(&self) -> Option<f64> {
        (self.refused > 0).then(|| self.refused_right as f64 / self.refused as f64)
    }
}

/// Production quality per model version from the current labels (those that carry the
/// model's scores), by version name.
pub fn production_quality<'a>(
    records: impl IntoIterator<Item = &'a LabelRecord>,
) -> Vec<VersionQuality> {
    let mut by_model: std::collections::BTreeMap<String, VersionQuality> = Default::default();
    for r in records {
        let model = r.model.clone().unwrap_or_else(|| "unknown".to_owned());
        let q = by_model
            .entry(model.clone())
            .or_insert_with(|| VersionQuality {
                model,
                audited: 0,
                audited_right: 0,
                refused: 0,
                refused_right: 0,
                unsure: 0,
            });
        let Some(class) = r.label.class() else {
            if r.label == Verdict::Unsure {
                q.unsure += 1;
            }
            continue;
        };
        let Some(scores) = r.scores else {
            continue;
        };
        let right = Class::predicted(scores) == class;
        match r.reason {
            ReviewReason::Audit => {
                q.audited += 1;
                q.audited_right += usize::from(right);
            }
            ReviewReason::LowConfidence | ReviewReason::DriftHold => {
                q.refused += 1;
                q.refused_right += usize::from(right);
            }
            ReviewReason::Import => {}
        }
    }
    by_model.into_values().collect()
}

/// A row of a labels CSV (`key,label`, from an external labelling tool) that cannot be
/// used, with its line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    /// The header is not `key,label`.
    #[error("line 1: the header must be `key,label`, found {0:?}")]
    Header(String),
    /// A row that is not two fields.
    #[error("line {line}: expected `key,label`, found {found:?}")]
    Shape {
        /// 1-based line number.
        line: usize,
        /// The line.
        found: String,
    },
    /// A label that is not one.
    #[error("line {line}: {source}")]
    Label {
        /// 1-based line number.
        line: usize,
        /// Why.
        source: UnknownLabel,
    },
    /// An empty key.
    #[error("line {line}: the key is empty")]
    EmptyKey {
        /// 1-based line number.
        line: usize,
    },
}

/// The `(key, label)` rows of a labels CSV, every bad line named (nothing is imported
/// unless the whole file reads).
pub fn parse_csv(text: &str) -> Result<Vec<(String, Verdict)>, Vec<CsvError>> {
    let mut lines = text.lines().enumerate();
    let mut errors = Vec::new();
    match lines.next() {
        Some((_, header))
            if header
                .split(',')
                .map(|f| f.trim().trim_matches('"').to_ascii_lowercase())
                .collect::<Vec<_>>()
                == ["key", "label"] => {}
        Some((_, header)) => return Err(vec![CsvError::Header(header.to_owned())]),
        None => return Err(vec![CsvError::Header(String::new())]),
    }
    let mut rows = Vec::new();
    for (i, line) in lines {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line
            .split(',')
            .map(|f| f.trim().trim_matches('"'))
            .collect();
        let [key, label] = fields.as_slice() else {
            errors.push(CsvError::Shape {
                line: n,
                found: line.to_owned(),
            });
            continue;
        };
        if key.is_empty() {
            errors.push(CsvError::EmptyKey { line: n });
            continue;
        }
        match label.parse::<Verdict>() {
            Ok(v) => rows.push(((*key).to_owned(), v)),
            Err(source) => errors.push(CsvError::Label { line: n, source }),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn record(key: &str, label: Verdict, secs: i64, id: &str) -> LabelRecord {
        LabelRecord {
            format: LABEL_FORMAT,
            id: id.to_owned(),
            key: key.to_owned(),
            label,
            who: "ann".into(),
            at: Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap(),
            reason: ReviewReason::LowConfidence,
            model: None,
            scores: None,
            execution: None,
        }
    }

    #[test]
    fn the_newest_answer_wins_whatever_the_order_and_undo_requeues() {
        let a = record("k", Verdict::Bicycle, 1, "a");
        let b = record("k", Verdict::Motorcycle, 2, "b");
        let undo = record("k", Verdict::Withdrawn, 3, "c");
        for order in [vec![a.clone(), b.clone()], vec![b.clone(), a.clone()]] {
            let mut l = Labels::default();
            l.extend(order);
            assert_eq!(l.class("k"), Some(Class::Motorcycle));
        }
        let mut l = Labels::default();
        l.extend([a.clone(), b.clone(), undo, b.clone()]);
        assert_eq!(l.records(), 3, "a record read twice counts once");
        assert!(!l.is_answered("k"), "withdrawn: back in the queue");
        let mut l = Labels::default();
        l.extend([record("k", Verdict::Unsure, 1, "u")]);
        assert!(l.is_answered("k"));
        assert_eq!(l.class("k"), None);
    }

    #[test]
    fn lines_round_trip_and_bad_lines_are_named_not_fatal() {
        let a = record("train/x.png", Verdict::Bicycle, 1, "a");
        let text = format!("{}\n\n{{\"cut\": \n{}\n", a.to_line(), a.to_line());
        let (records, bad) = parse_lines(&text);
        assert_eq!(records, vec![a.clone(), a]);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].line, 3);
    }

    #[test]
    fn csv_rows_are_read_and_every_bad_line_named() {
        let ok = parse_csv("key,label\ntrain/a.png,bicycle\n\"train/b.png\",1\n").unwrap();
        assert_eq!(
            ok,
            vec![
                ("train/a.png".to_owned(), Verdict::Bicycle),
                ("train/b.png".to_owned(), Verdict::Motorcycle)
            ]
        );
        let errors = parse_csv("key,label\na,bicycle\nb,car\nc\n,bicycle\n").unwrap_err();
        assert_eq!(errors.len(), 3);
        assert!(
            errors[0].to_string().starts_with("line 3: \"car\""),
            "{}",
            errors[0]
        );
        assert!(errors[1].to_string().starts_with("line 4:"));
        assert!(
            errors[2]
                .to_string()
                .starts_with("line 5: the key is empty")
        );
        assert!(matches!(
            parse_csv("file,class\n").unwrap_err()[0],
            CsvError::Header(_)
        ));
    }

    #[test]
    fn test_keys_are_never_trained_or_selected_on() {
        assert_eq!(use_of("test/bicycle_s_000513.png"), Use::QualityOnly);
        let uses: Vec<Use> = (0..1000)
            .map(|i| use_of(&format!("shifted/{i}.png")))
            .collect();
        let held = uses.iter().filter(|u| **u == Use::Validate).count();
        // A fixed 20 % share by hash: 1000 keys give about 200.
        assert!((150..250).contains(&held), "{held}");
        assert!(uses.iter().all(|u| *u != Use::QualityOnly));
    }

    #[test]
    fn production_quality_judges_accepted_decisions_by_the_audit_sample_only() {
        let r = |key: &str, label, reason, scores: [f64; 2]| LabelRecord {
            reason,
            scores: Some(scores),
            model: Some("m1".into()),
            ..record(key, label, 1, key)
        };
        let records = vec![
            r("a", Verdict::Bicycle, ReviewReason::Audit, [0.97, 0.03]),
            r("b", Verdict::Motorcycle, ReviewReason::Audit, [0.96, 0.04]),
            r(
                "c",
                Verdict::Bicycle,
                ReviewReason::LowConfidence,
                [0.7, 0.3],
            ),
            r("d", Verdict::Bicycle, ReviewReason::DriftHold, [0.1, 0.9]),
            r("e", Verdict::Unsure, ReviewReason::Audit, [0.9, 0.1]),
        ];
        let q = production_quality(&records);
        assert_eq!(q.len(), 1);
        let q = &q[0];
        assert_eq!((q.audited, q.audited_right), (2, 1));
        assert_eq!((q.refused, q.refused_right), (2, 1));
        assert_eq!(q.unsure, 1);
        let (accuracy, (lo, hi)) = q.accepted_accuracy().unwrap();
        assert_eq!(accuracy, 0.5);
        assert!(lo < 0.5 && hi > 0.5);
    }
}
