//! The guard on the local stack: the served model's drift verdict kept current as traffic
//! flows, and the guard state (`guard/state.json` in the bucket, the format the AWS side
//! writes to S3) that FilterLowConfidence consults.
//!
//! The endpoint hands every inference to [`GuardMonitor::observe`]: it keeps the last
//! [`WINDOW`] distinct observations and judges them against the served model's baseline
//! every [`EVERY`] inferences (incrementally: a window of 200 costs microseconds, never a
//! re-read of the capture files). An ALERT trips the guard at once; releasing by itself
//! takes [`RELEASE_AFTER`](scones_workflow::guard::RELEASE_AFTER) OK verdicts of
//! consecutive, non-overlapping windows.
//!
//! Several processes (the dashboard, `scones run` in another terminal, `scones guard`)
//! share the state through the file: each change is a read-modify-write under an exclusive
//! lock of `guard/state.lock`, and readers pick up another process's change by its
//! modification time (checked at most every [`RELOAD_EVERY`]).

use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use scones_workflow::drift::{
    Baseline, Cutoffs, Observation, ObservedImage, Verdict, WindowCounter, compare,
};
use scones_workflow::guard::{Change, Guard, GuardCommand, GuardMode, GuardState, Hold, STATE_KEY};

use crate::bucket::LocalBucket;

/// Distinct images in the window the guard judges.
pub const WINDOW: usize = 200;
/// Inferences between two judgements of the window.
pub const EVERY: usize = 25;
/// How often a reader looks whether another process changed the state.
pub const RELOAD_EVERY: Duration = Duration::from_millis(250);

/// Why the guard state cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// The file or its lock.
    #[error("guard state {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a guard state.
    #[error("{path} is not a guard state ({reason}); delete it to start afresh")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// The guard state file of a bucket.
#[derive(Debug, Clone)]
pub struct GuardFile {
    root: PathBuf,
    path: PathBuf,
    lock: PathBuf,
    default_mode: GuardMode,
}

impl GuardFile {
    /// The state of `bucket`; `default_mode` until a state is written.
    pub fn new(bucket: &LocalBucket, default_mode: GuardMode) -> GuardFile {
        let path = bucket.root().join(STATE_KEY);
        let lock = path.with_file_name("state.lock");
        GuardFile {
            root: bucket.root().to_path_buf(),
            path,
            lock,
            default_mode,
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The state (a fresh one in the default mode when none was written).
    pub fn load(&self) -> Result<GuardState, GuardError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| GuardError::Invalid {
                path: self.path.clone(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(GuardState::new(self.default_mode, Utc::now()))
            }
            Err(source) => Err(GuardError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// When the file last changed (`None`: not written yet).
    fn modified(&self) -> Option<SystemTime> {
        std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok()
    }

    /// Reads, changes with `change` and writes the state under the lock, so two processes
    /// changing it at once both count. Returns the state after the change.
    pub fn update<T>(
        &self,
        change: impl FnOnce(&mut GuardState) -> T,
    ) -> Result<(GuardState, T), GuardError> {
        let io = |source| GuardError::Io {
            path: self.path.clone(),
            source,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        crate::files::create_dir_within(&self.root, dir).map_err(io)?;
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock)
            .map_err(io)?;
        lock.lock().map_err(io)?;
        let mut state = self.load()?;
        let out = change(&mut state);
        let json = serde_json::to_vec_pretty(&state).map_err(|e| io(std::io::Error::other(e)))?;
        crate::files::write_atomically(&self.path, &json).map_err(io)?;
        drop(lock);
        Ok((state, out))
    }

    /// Applies an operator's command.
    pub fn command(&self, command: GuardCommand) -> Result<GuardState, GuardError> {
        Ok(self
            .update(|state| Guard::command(state, command, Utc::now()))?
            .0)
    }
}

/// The guard of one process's endpoint: it judges the traffic and keeps the state current.
pub struct GuardMonitor {
    file: GuardFile,
    threshold: f64,
    cutoffs: Cutoffs,
    inner: Mutex<Inner>,
}

struct Inner {
    /// The served model and its baseline (`None`: a model without one is not judged).
    model: Option<(String, Baseline)>,
    /// The newest distinct observations, oldest first.
    window: VecDeque<Observation>,
    seen: HashSet<u64>,
    since_judged: usize,
    /// Inferences since the last window that counted towards a release.
    since_counted: usize,
    state: GuardState,
    loaded_at: Option<SystemTime>,
    checked: Instant,
}

impl Inner {
    /// Adds an observation to the window (an image sent again is one observation of the
    /// traffic, as in `scones drift`), dropping the oldest beyond [`WINDOW`].
    fn push(&mut self, input: &[u8], scores: [f64; 2], time: DateTime<Utc>) {
        let hash = ObservedImage::hash_of(input);
        if !self.seen.insert(hash) {
            return;
        }
        let features = scones_workflow::image::image_features(input);
        self.window.push_back(Observation {
            time,
            scores: Some(scores),
            image: Some(ObservedImage { hash, features }),
        });
        while self.window.len() > WINDOW {
            if let Some(old) = self.window.pop_front()
                && let Some(image) = old.image
            {
                self.seen.remove(&image.hash);
            }
        }
    }
}

impl GuardMonitor {
    /// A monitor over the state in `file`, judging at `threshold`.
    pub fn new(file: GuardFile, threshold: f64) -> GuardMonitor {
        let state = file.load().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "guard state unreadable: starting from the default");
            GuardState::new(file.default_mode, Utc::now())
        });
        let loaded_at = file.modified();
        GuardMonitor {
            file,
            threshold,
            cutoffs: Cutoffs::default(),
            inner: Mutex::new(Inner {
                model: None,
                window: VecDeque::new(),
                seen: HashSet::new(),
                since_judged: 0,
                since_counted: 0,
                state,
                loaded_at,
                checked: Instant::now(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Plain data: still usable after a panic elsewhere.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Judges the traffic of `model` against `baseline` from now on (a new served model:
    /// the window starts empty).
    pub fn serve(&self, model: &str, baseline: Option<Baseline>) {
        let mut inner = self.lock();
        if inner.model.as_ref().map(|(m, _)| m.as_str()) == Some(model) {
            return;
        }
        inner.model = baseline.map(|b| (model.to_owned(), b));
        inner.window.clear();
        inner.seen.clear();
        inner.since_judged = 0;
        inner.since_counted = 0;
    }

    /// The state, re-read when another process changed it.
    pub fn state(&self) -> GuardState {
        let mut inner = self.lock();
        self.reload(&mut inner);
        inner.state.clone()
    }

    /// The hold the filter applies now, if any.
    pub fn hold(&self) -> Option<Hold> {
        let mut inner = self.lock();
        self.reload(&mut inner);
        inner.state.holding().cloned()
    }

    fn reload(&self, inner: &mut Inner) {
        if inner.checked.elapsed() < RELOAD_EVERY {
            return;
        }
        inner.checked = Instant::now();
        let modified = self.file.modified();
        if modified.is_some() && modified != inner.loaded_at {
            match self.file.load() {
                Ok(state) => {
                    inner.state = state;
                    inner.loaded_at = modified;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "guard state unreadable: keeping the last one")
                }
            }
        }
    }

    /// An operator's command (release, engage, a mode).
    pub fn command(&self, command: GuardCommand) -> Result<GuardState, GuardError> {
        let state = self.file.command(command)?;
        let mut inner = self.lock();
        inner.state = state.clone();
        inner.loaded_at = self.file.modified();
        Ok(state)
    }

    /// Continues the served model's traffic from where earlier processes left it: `recent`
    /// (its newest captured inferences, oldest first) fills the window without a judgement.
    /// A process that starts during a shift (a new `scones run`) then judges the shift
    /// within [`EVERY`] inferences instead of after a whole window of its own.
    pub fn resume(&self, recent: &[scones_workflow::capture::CapturedInference]) {
        let mut inner = self.lock();
        for c in recent {
            if let (Some(input), Some(scores)) = (&c.input, c.scores) {
                inner.push(input, scores, c.time);
            }
        }
    }

    /// One inference of the served model: its input bytes and scores.
    pub fn observe(&self, input: &[u8], scores: [f64; 2], now: DateTime<Utc>) {
        let judged = {
            let mut inner = self.lock();
            if inner.model.is_none() {
                return;
            }
            inner.since_judged += 1;
            inner.since_counted += 1;
            inner.push(input, scores, now);
            if inner.since_judged < EVERY || inner.window.len() < WINDOW {
                return;
            }
            inner.since_judged = 0;
            let Some((model, baseline)) = inner.model.as_ref() else {
                return;
            };
            let model = model.clone();
            let mut counter = WindowCounter::default();
            for o in &inner.window {
                counter.add(o);
            }
            let report = compare(
                &baseline.profile,
                &counter.profile,
                self.threshold,
                &self.cutoffs,
            );
            let alert = report.alerting();
            // A verdict counts towards a release once per full window of new traffic; an
            // ALERT counts at once.
            let counts = report.verdict == Verdict::Alert || inner.since_counted >= WINDOW;
            if counts {
                inner.since_counted = 0;
            }
            (model, report.verdict, alert, counts)
        };
        let (model, verdict, alert, counts) = judged;
        if !counts {
            return;
        }
        match self
            .file
            .update(|state| Guard::observe(state, &model, verdict, &alert, now))
        {
            Ok((state, change)) => {
                if change == Change::Tripped {
                    tracing::warn!(model, statistics = ?alert, "drift ALERT: the guard holds decisions");
                } else if change == Change::Released {
                    tracing::info!(model, "drift OK: the guard released decisions");
                }
                let mut inner = self.lock();
                inner.state = state;
                inner.loaded_at = self.file.modified();
            }
            Err(e) => tracing::warn!(error = %e, "the guard state could not be written"),
        }
    }
}
