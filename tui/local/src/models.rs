//! The local model registry: every trained model is a version under `models/`, one serves,
//! and promotions and rollbacks are a log.
//!
//! ```text
//! bucket/models/
//!   20261206T210000.123Z-3f2a9c1b/   model.safetensors, metadata.json (scones-model),
//!                                     baseline.json (its drift baseline),
//!                                     measures.json (what it was trained on, how good it is)
//!   SERVING                            the version the endpoint serves (`LATEST` before 0.2)
//!   history.jsonl                      promotions and rollbacks, one JSON line each
//! ```
//!
//! The pointer is what serves: it is replaced atomically (write and rename), so a process
//! killed during a promotion leaves the old version or the new one serving, never neither;
//! the history line is appended after it.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use scones_workflow::models::{ModelVersion, ModelsView, Promotion};

use crate::bucket::LocalBucket;
use crate::training::TrainingError;

/// The pointer to the served version.
pub const SERVING_FILE: &str = "SERVING";
/// What the pointer was called before versions could be promoted; read when `SERVING` is
/// missing.
pub const LEGACY_LATEST_FILE: &str = "LATEST";
/// The promotions and rollbacks.
pub const HISTORY_FILE: &str = "history.jsonl";
/// A version's measures, beside its model.
pub const MEASURES_FILE: &str = "measures.json";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainingError + '_ {
    move |source| TrainingError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A version name that is a plain directory name (no path, not hidden).
pub fn valid_version(name: &str) -> bool {
    !name.is_empty()
        && !name.contains(['/', '\\'])
        && !name.starts_with('.')
        && name != SERVING_FILE
        && name != LEGACY_LATEST_FILE
        && name != HISTORY_FILE
}

/// The version the endpoint serves (`None`: nothing trained yet).
pub fn serving(bucket: &LocalBucket) -> Result<Option<String>, TrainingError> {
    let models = bucket.models_dir();
    for file in [SERVING_FILE, LEGACY_LATEST_FILE] {
        let path = models.join(file);
        match std::fs::read_to_string(&path) {
            Ok(name) => {
                let name = name.trim();
                if !valid_version(name) {
                    return Err(TrainingError::Io {
                        path,
                        source: std::io::Error::other(format!(
                            "{name:?} is not a model version name"
                        )),
                    });
                }
                return Ok(Some(name.to_owned()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(TrainingError::Io { path, source: e }),
        }
    }
    Ok(None)
}

/// The directory of the served version.
pub fn serving_dir(bucket: &LocalBucket) -> Result<Option<PathBuf>, TrainingError> {
    Ok(serving(bucket)?.map(|v| bucket.models_dir().join(v)))
}

/// Makes `version` the served one (atomically: a reader sees the old name or the new one).
pub fn set_serving(bucket: &LocalBucket, version: &str) -> Result<(), TrainingError> {
    let models = bucket.models_dir();
    let target = models.join(SERVING_FILE);
    crate::files::write_atomically(&target, format!("{version}\n").as_bytes())
        .map_err(io(&target))?;
    // The old name, if a home has one, would be read by an older build: keep it in step.
    let legacy = models.join(LEGACY_LATEST_FILE);
    if legacy.exists() {
        let _ = std::fs::remove_file(&legacy);
    }
    Ok(())
}

/// When `version` started serving (its last promotion or rollback to it), else when it
/// was created. Traffic before that was another model's.
pub fn serving_since(bucket: &LocalBucket, version: &str) -> Option<DateTime<Utc>> {
    history(bucket)
        .ok()?
        .into_iter()
        .rev()
        .find(|p| p.to == version)
        .map(|p| p.at)
}

/// The promotions and rollbacks, oldest first (lines that cannot be read are skipped with a
/// warning: the log is a record, not what serves).
pub fn history(bucket: &LocalBucket) -> Result<Vec<Promotion>, TrainingError> {
    let path = bucket.models_dir().join(HISTORY_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(TrainingError::Io { path, source: e }),
    };
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .filter_map(|(i, l)| match serde_json::from_str(l) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(file = %path.display(), line = i + 1, error = %e, "unreadable promotion record skipped");
                None
            }
        })
        .collect())
}

/// Appends a promotion or rollback to the log (one line, one write: a crash leaves the line
/// whole or absent, and a half line is skipped on reading).
pub fn append_history(bucket: &LocalBucket, promotion: &Promotion) -> Result<(), TrainingError> {
    let path = bucket.models_dir().join(HISTORY_FILE);
    let mut line = serde_json::to_string(promotion).map_err(|e| TrainingError::Io {
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    line.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(io(&path))?;
    file.write_all(line.as_bytes()).map_err(io(&path))
}

/// Saves a version's measures beside its model.
pub fn save_measures(dir: &Path, version: &ModelVersion) -> Result<(), TrainingError> {
    let path = dir.join(MEASURES_FILE);
    let json =
        serde_json::to_vec_pretty(version).map_err(|e| io(&path)(std::io::Error::other(e)))?;
    crate::files::write_atomically(&path, &json).map_err(io(&path))
}

/// The measures of the version in `dir` (`None`: a model trained before versions had any).
pub fn load_measures(dir: &Path) -> Option<ModelVersion> {
    let bytes = std::fs::read(dir.join(MEASURES_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Every version, newest first, with which one serves and the log.
pub fn view(bucket: &LocalBucket) -> Result<ModelsView, TrainingError> {
    let serving = serving(bucket)?;
    let models = bucket.models_dir();
    let mut versions = Vec::new();
    let entries = match std::fs::read_dir(&models) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(ModelsView::default());
        }
        Err(e) => {
            return Err(TrainingError::Io {
                path: models,
                source: e,
            });
        }
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // Only real directories: a link inside models/ is not a version scones made.
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir || !valid_version(&name) {
            continue;
        }
        let dir = entry.path();
        if !dir.join(scones_model::METADATA_FILE).is_file() {
            continue;
        }
        let mut version = load_measures(&dir).unwrap_or_else(|| legacy_version(&dir, &name));
        version.version = name.clone();
        version.serving = serving.as_deref() == Some(name.as_str());
        versions.push(version);
    }
    versions.sort_by(|a, b| b.created.cmp(&a.created).then(b.version.cmp(&a.version)));
    Ok(ModelsView {
        versions,
        serving,
        history: history(bucket)?,
        deployment: None,
    })
}

/// A version trained before measures were saved: what its metadata says.
fn legacy_version(dir: &Path, name: &str) -> ModelVersion {
    let created = std::fs::read(dir.join(scones_model::METADATA_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<scones_model::ModelMetadata>(&b).ok())
        .and_then(|m| DateTime::parse_from_rfc3339(&m.created_at).ok())
        .map_or(DateTime::<Utc>::UNIX_EPOCH, |t| t.with_timezone(&Utc));
    ModelVersion {
        version: name.to_owned(),
        created,
        trained_on: Default::default(),
        test: None,
        production: None,
        threshold: scones_workflow::Threshold::DEFAULT.value(),
        serving: false,
    }
}
