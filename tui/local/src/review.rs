//! Review on the local stack: the label records under `bucket/review/labels/` (the format
//! of `scones_workflow::review`, the same lines the AWS side writes to S3), and the queue
//! built from the store's executions that went to review.
//!
//! Each process appends to its own file (`review/labels/<date>/<host>-<pid>-<start>.jsonl`),
//! one whole line per write: two people labelling from two terminals at once never write the
//! same file, and a crash mid-line leaves one unreadable line that readers skip and report.
//! Readers read every file incrementally (each file from where they stopped), so a queue of
//! 100,000 keys costs one pass, then only what was added.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use scones_handlers::FetchError;
use scones_workflow::port::ExecutionId;
use scones_workflow::review::{
    LABELS_PREFIX, LabelRecord, Labels, ReviewItem, ReviewQueue, parse_lines,
};

use crate::bucket::LocalBucket;
use crate::files::create_dir_within;
use crate::store::ExecutionRow;

/// Why labels cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// A file of the review folder.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The key is no image of the bucket.
    #[error(
        "{key} is not an image of the bucket ({reason}); label keys as `scones review list` shows them"
    )]
    NoSuchImage {
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
}

/// Who is labelling: the OS user.
pub fn who() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
        // No login variables (a container, cron): the account the process runs as.
        .or_else(|| whoami::fallible::username().ok())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The label records of a bucket.
pub struct LabelStore {
    root: PathBuf,
    dir: PathBuf,
    writer: String,
    read: Mutex<ReadState>,
}

#[derive(Default)]
struct ReadState {
    /// Bytes of each file consumed (whole lines only).
    offsets: HashMap<PathBuf, u64>,
    /// Shared with callers; copied only when new records arrive while a caller holds it.
    labels: Arc<Labels>,
    unreadable: u64,
}

impl LabelStore {
    /// The labels of `bucket`; this process writes its own file.
    pub fn new(bucket: &LocalBucket) -> LabelStore {
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or_else(|| "host".to_owned());
        LabelStore {
            root: bucket.root().to_path_buf(),
            dir: bucket.root().join(LABELS_PREFIX.trim_end_matches('/')),
            writer: format!(
                "{host}-{}-{}",
                std::process::id(),
                Utc::now().format("%H%M%S%3f")
            ),
            read: Mutex::new(ReadState::default()),
        }
    }

    /// Appends `record` (one line, one write) to this process's file of the day.
    pub fn append(&self, record: &LabelRecord) -> Result<(), ReviewError> {
        let day = self.dir.join(record.at.format("%Y-%m-%d").to_string());
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ReviewError::Io { path, source }
        };
        create_dir_within(&self.root, &day).map_err(io(&day))?;
        let path = day.join(format!("{}.jsonl", self.writer));
        if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_file()) {
            return Err(ReviewError::Io {
                path,
                source: std::io::Error::other(
                    "not a regular file: scones writes nothing through links",
                ),
            });
        }
        let mut line = record.to_line();
        line.push('\n');
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        file.write_all(line.as_bytes()).map_err(io(&path))?;
        // A label is a person's work: durable before it is reported done.
        file.sync_data().map_err(io(&path))
    }

    /// Every label so far (reading only what was added since the last call) and how many
    /// lines could not be read.
    pub fn labels(&self) -> Result<(Arc<Labels>, u64), ReviewError> {
        let mut state = self.read.lock().unwrap_or_else(|p| p.into_inner());
        for path in label_files(&self.dir)? {
            let start = state.offsets.get(&path).copied().unwrap_or(0);
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if !meta.is_file() || meta.len() <= start {
                continue;
            }
            let bytes = read_from(&path, start).map_err(|source| ReviewError::Io {
                path: path.clone(),
                source,
            })?;
            // Whole lines only: a line being written is read next time.
            let Some(end) = bytes.iter().rposition(|b| *b == b'\n') else {
                continue;
            };
            let text = String::from_utf8_lossy(&bytes[..=end]);
            let (records, bad) = parse_lines(&text);
            for b in &bad {
                tracing::warn!(file = %path.display(), line = b.line, reason = %b.reason, "label line skipped");
            }
            state.unreadable += bad.len() as u64;
            if !records.is_empty() {
                Arc::make_mut(&mut state.labels).extend(records);
            }
            state.offsets.insert(path, start + end as u64 + 1);
        }
        Ok((Arc::clone(&state.labels), state.unreadable))
    }
}

/// The label files below `dir` (the day folders' `.jsonl` files), sorted; links are not
/// followed.
fn label_files(dir: &Path) -> Result<Vec<PathBuf>, ReviewError> {
    let mut files = Vec::new();
    let days = match std::fs::read_dir(dir) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        Err(source) => {
            return Err(ReviewError::Io {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    for day in days.flatten() {
        if !day.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(day.path()) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_file())
                && path
                    .extension()
                    .is_some_and(|e| e == "jsonl" || e == "json")
            {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

fn read_from(path: &Path, start: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Checks that `key` names an image file of the bucket (a regular file, not through a
/// link).
pub fn check_image(bucket: &LocalBucket, key: &str) -> Result<(), ReviewError> {
    bucket
        .object_file(key)
        .map(|_| ())
        .map_err(|e| ReviewError::NoSuchImage {
            key: key.to_owned(),
            reason: match e {
                FetchError::NotFound => "no such file".to_owned(),
                other => other.to_string(),
            },
        })
}

/// The review queue from the store's executions that went to review: each key once (its
/// newest execution), minus the keys someone answered, oldest first, at most `limit`.
pub fn queue(
    rows: &[ExecutionRow],
    labels: &Labels,
    unreadable: u64,
    limit: usize,
    now: DateTime<Utc>,
) -> ReviewQueue {
    let mut newest: HashMap<&str, &ExecutionRow> = HashMap::new();
    for row in rows {
        let (Some(key), Some(_)) = (row.s3_key.as_deref(), row.review) else {
            continue;
        };
        newest.insert(key, row);
    }
    let items = newest.into_values().filter_map(|row| {
        Some(ReviewItem {
            key: row.s3_key.clone()?,
            reason: row.review?,
            execution: Some(ExecutionId::new(row.arn.clone())),
            scores: row.scores,
            model: row.model.clone(),
            time: row.stop.unwrap_or(row.start),
        })
    });
    ReviewQueue::of(items, labels, unreadable, limit, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use scones_workflow::review::{NewLabel, ReviewReason, Verdict};

    /// A queue of 100,000 images: every key once (its newest execution), the answered ones
    /// out, the oldest first, at most the limit listed while the count covers all.
    #[test]
    fn a_queue_of_a_hundred_thousand_images() {
        let t0 = chrono::Utc::now() - chrono::Duration::days(1);
        let row = |i: i64, key: String| ExecutionRow {
            id: i,
            arn: format!("arn:aws:states:local:0:execution:scones:e{i}"),
            name: format!("e{i}"),
            status: scones_workflow::ExecutionStatus::Failed,
            s3_key: Some(key),
            error: Some("LowConfidence".into()),
            cause: None,
            scores: Some([0.6, 0.4]),
            start: t0 + chrono::Duration::milliseconds(i),
            stop: None,
            change_seq: i as u64,
            model: Some("v1".into()),
            review: Some(ReviewReason::LowConfidence),
        };
        let mut rows: Vec<ExecutionRow> = (0..100_000)
            .map(|i| row(i, format!("train/img_{i:06}.png")))
            .collect();
        // The same image sent again later: one item, its newest execution.
        rows.push(row(100_000, "train/img_000000.png".into()));
        let mut labels = Labels::default();
        labels.extend((1..=10).map(|i| {
            NewLabel {
                key: format!("train/img_{i:06}.png"),
                label: Verdict::Bicycle,
                reason: ReviewReason::LowConfidence,
                model: None,
                scores: None,
                execution: None,
            }
            .record("a", t0)
        }));
        let q = queue(&rows, &labels, 0, 50, chrono::Utc::now());
        assert_eq!(q.waiting, 100_000 - 10);
        assert_eq!(q.items.len(), 50);
        assert_eq!(q.answered, 10);
        // img_000000's newest execution is the last one: it queues last, not first.
        assert_eq!(q.items[0].key, "train/img_000011.png");
        assert!(q.items.iter().all(|i| i.key != "train/img_000000.png"));
    }
}
