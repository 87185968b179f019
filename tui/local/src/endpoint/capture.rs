//! Data capture in SageMaker's format ([`scones_workflow::capture`] defines the record and
//! reads it), one record a line, under
//! `datacapture/<endpoint>/AllTraffic/YYYY/MM/DD/HH/<MM-SS-mmm>-<uuid>.jsonl`.
//!
//! Lines are buffered (SageMaker also delivers capture in batches) and flushed at least once
//! a second, on hour change and on [`DataCapture::flush`]. A crash can cut the last line of a
//! file short; [`read_captures`] skips lines that do not parse.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use scones_workflow::capture::{CaptureRecord, CapturedInference, Keep};

use crate::bucket::LocalBucket;

/// SageMaker's variant name for a single-variant endpoint.
pub const VARIANT: &str = scones_workflow::capture::DEFAULT_VARIANT;
const FLUSH_EVERY: Duration = Duration::from_secs(1);

struct OpenFile {
    hour: (i32, u32, u32, u32),
    writer: BufWriter<File>,
    last_flush: Instant,
}

/// Appends capture records for one endpoint.
pub struct DataCapture {
    dir: PathBuf,
    file: Mutex<Option<OpenFile>>,
}

impl std::fmt::Debug for DataCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataCapture")
            .field("dir", &self.dir)
            .finish()
    }
}

impl DataCapture {
    /// Capture for `endpoint` in the bucket's `datacapture/<endpoint>/AllTraffic/`.
    pub fn new(bucket: &LocalBucket, endpoint: &str) -> DataCapture {
        DataCapture {
            dir: capture_dir(bucket, endpoint),
            file: Mutex::new(None),
        }
    }

    /// The variant directory the hour folders go in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one inference.
    pub fn record(
        &self,
        input: &[u8],
        input_content_type: &str,
        output: &[u8],
        output_content_type: &str,
        at: DateTime<Utc>,
    ) -> std::io::Result<()> {
        let line = CaptureRecord::new(
            uuid::Uuid::new_v4().to_string(),
            at,
            (input, input_content_type),
            (output, output_content_type),
        )
        .to_line();
        let hour = (at.year(), at.month(), at.day(), at.hour());
        let mut guard = self
            .file
            .lock()
            .map_err(|_| std::io::Error::other("data capture lock poisoned"))?;
        if guard.as_ref().is_none_or(|f| f.hour != hour) {
            if let Some(mut old) = guard.take() {
                old.writer.flush()?;
            }
            *guard = Some(self.open(at, hour)?);
        }
        let Some(file) = guard.as_mut() else {
            return Err(std::io::Error::other("data capture file not open"));
        };
        file.writer.write_all(&line)?;
        if file.last_flush.elapsed() >= FLUSH_EVERY {
            file.writer.flush()?;
            file.last_flush = Instant::now();
        }
        Ok(())
    }

    fn open(&self, at: DateTime<Utc>, hour: (i32, u32, u32, u32)) -> std::io::Result<OpenFile> {
        let dir = self.dir.join(format!(
            "{:04}/{:02}/{:02}/{:02}",
            hour.0, hour.1, hour.2, hour.3
        ));
        std::fs::create_dir_all(&dir)?;
        let name = format!(
            "{:02}-{:02}-{:03}-{}.jsonl",
            at.minute(),
            at.second(),
            at.timestamp_subsec_millis(),
            uuid::Uuid::new_v4()
        );
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(name))?;
        Ok(OpenFile {
            hour,
            writer: BufWriter::with_capacity(256 * 1024, file),
            last_flush: Instant::now(),
        })
    }

    /// Writes buffered lines to the file.
    pub fn flush(&self) -> std::io::Result<()> {
        let mut guard = self
            .file
            .lock()
            .map_err(|_| std::io::Error::other("data capture lock poisoned"))?;
        if let Some(file) = guard.as_mut() {
            file.writer.flush()?;
            file.last_flush = Instant::now();
        }
        Ok(())
    }
}

impl Drop for DataCapture {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// The capture directory of an endpoint's variant.
pub fn capture_dir(bucket: &LocalBucket, endpoint: &str) -> PathBuf {
    bucket.datacapture_dir().join(endpoint).join(VARIANT)
}

/// The inferences captured for `endpoint` at or after `since` (whole hours are scanned, so
/// records from earlier in `since`'s hour are filtered out here), oldest first; with
/// `newest`, only that many of the newest. Unparseable lines (a line cut short by a crash)
/// are skipped.
///
/// `newest` bounds the work, not just the answer: hour folders are read newest first and
/// reading stops once an hour completes the count (files of one hour can overlap in time,
/// those of earlier hours cannot), so the dashboard's drift view reads its windows, not the
/// whole history since the model was trained.
pub fn read_captures(
    bucket: &LocalBucket,
    endpoint: &str,
    since: DateTime<Utc>,
    keep: Keep,
    newest: Option<usize>,
) -> std::io::Result<Vec<CapturedInference>> {
    let root = capture_dir(bucket, endpoint);
    let mut files = Vec::new();
    collect_hour_files(&root, since, &mut files)?;
    files.sort();
    let since = since.with_nanosecond(0).unwrap_or(since);
    let mut out = Vec::new();
    // Newest hour first: files sort by their year/month/day/hour folders.
    let mut hours: Vec<&[PathBuf]> = files.chunk_by(|a, b| a.parent() == b.parent()).collect();
    hours.reverse();
    for hour in hours {
        for path in hour {
            let file = File::open(path)?;
            for line in BufReader::new(file).split(b'\n') {
                let Ok(line) = line else { continue };
                let Some(record) = CapturedInference::from_line(&line, keep) else {
                    continue;
                };
                if record.time >= since {
                    out.push(record);
                }
            }
        }
        if newest.is_some_and(|n| out.len() >= n) {
            break;
        }
    }
    out.sort_by_key(|c| c.time);
    if let Some(n) = newest {
        out.drain(..out.len().saturating_sub(n));
    }
    Ok(out)
}

/// Files in hour folders whose hour ends after `since`.
fn collect_hour_files(
    root: &Path,
    since: DateTime<Utc>,
    out: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    let since_hour = Utc
        .with_ymd_and_hms(since.year(), since.month(), since.day(), since.hour(), 0, 0)
        .single()
        .unwrap_or(since);
    for (start, dir) in hour_dirs(root)? {
        if start < since_hour {
            continue;
        }
        for entry in std::fs::read_dir(&dir)?.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "jsonl") {
                out.push(path);
            }
        }
    }
    Ok(())
}

/// The hour folders under `root` (`YYYY/MM/DD/HH`) with the hour each starts, oldest first.
fn hour_dirs(root: &Path) -> std::io::Result<Vec<(DateTime<Utc>, PathBuf)>> {
    let mut out = Vec::new();
    for year in numbered_dirs(root)? {
        for month in numbered_dirs(&year.1)? {
            for day in numbered_dirs(&month.1)? {
                for hour in numbered_dirs(&day.1)? {
                    if let Some(start) = Utc
                        .with_ymd_and_hms(year.0 as i32, month.0, day.0, hour.0, 0, 0)
                        .single()
                    {
                        out.push((start, hour.1));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Capture files of `endpoint` whose whole hour ended before `cutoff`: removed (or, with
/// `dry_run`, counted). Returns the files and their bytes.
pub fn remove_captures_before(
    bucket: &LocalBucket,
    endpoint: &str,
    cutoff: DateTime<Utc>,
    dry_run: bool,
) -> std::io::Result<(u64, u64)> {
    let (mut files, mut bytes) = (0, 0);
    let root = capture_dir(bucket, endpoint);
    // Nothing is deleted through a link: a linked capture folder could point anywhere.
    // (Below the root, `numbered_dirs` walks real folders only.)
    crate::files::refuse_links_within(bucket.root(), &root)?;
    for (start, dir) in hour_dirs(&root)? {
        if start + chrono::Duration::hours(1) > cutoff {
            continue;
        }
        for entry in std::fs::read_dir(&dir)?.flatten() {
            let path = entry.path();
            let regular = entry.file_type().is_ok_and(|t| t.is_file());
            if regular && path.extension().is_some_and(|e| e == "jsonl") {
                files += 1;
                bytes += entry.metadata().map_or(0, |m| m.len());
                if !dry_run {
                    std::fs::remove_file(&path)?;
                }
            }
        }
        if !dry_run {
            // The hour folder (and a day, month or year left empty) goes too; a folder that
            // still holds something is kept.
            let mut emptied = Some(dir.as_path());
            for _ in 0..4 {
                let Some(d) = emptied else { break };
                if std::fs::remove_dir(d).is_err() {
                    break;
                }
                emptied = d.parent();
            }
        }
    }
    Ok((files, bytes))
}

/// Sub-directories named by a number, with that number. Real folders only: a symbolic
/// link is never followed (scones writes capture folders itself; a link is someone else's).
fn numbered_dirs(dir: &Path) -> std::io::Result<Vec<(u32, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out: Vec<(u32, PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
                .map(|n| (n, e.path()))
        })
        .collect();
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_hours_that_ended_before_the_cutoff_are_removed_with_their_folders() {
        let dir = tempfile::tempdir().unwrap();
        let bucket = LocalBucket::new(dir.path().join("bucket"));
        let root = capture_dir(&bucket, "e");
        let file = |hour: &str, name: &str| {
            let d = root.join(hour);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join(name), b"{}\n").unwrap();
        };
        file("2026/01/01/10", "a.jsonl");
        file("2026/01/01/11", "b.jsonl");
        file("2026/01/01/11", "keep.txt"); // not a capture file: its folder stays
        file("2026/01/02/00", "c.jsonl");
        let cutoff = Utc.with_ymd_and_hms(2026, 1, 1, 12, 30, 0).unwrap();

        assert_eq!(
            remove_captures_before(&bucket, "e", cutoff, true).unwrap(),
            (2, 6)
        );
        assert!(
            root.join("2026/01/01/10/a.jsonl").exists(),
            "a dry run removes nothing"
        );
        assert_eq!(
            remove_captures_before(&bucket, "e", cutoff, false).unwrap(),
            (2, 6)
        );
        assert!(!root.join("2026/01/01/10").exists());
        assert!(!root.join("2026/01/01/11/b.jsonl").exists());
        assert!(root.join("2026/01/01/11/keep.txt").exists());
        assert!(root.join("2026/01/02/00/c.jsonl").exists());
        // A link to a folder outside, named like an old hour: nothing behind it is deleted.
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("x.jsonl"), b"{}\n").unwrap();
        std::fs::create_dir_all(root.join("2025/01/01")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("2025/01/01/00")).unwrap();
        remove_captures_before(&bucket, "e", cutoff, false).unwrap();
        assert!(outside.path().join("x.jsonl").exists());
        // The hour that ends after the cutoff (12:00-13:00) is not touched either way.
        file("2026/01/01/12", "d.jsonl");
        assert_eq!(
            remove_captures_before(&bucket, "e", cutoff, false).unwrap(),
            (0, 0)
        );
    }
}
