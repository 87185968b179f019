//! Training on the staged data and keeping models in the bucket.
//!
//! ```text
//! bucket/models/
//!   20240501T120000Z-3f2a9c1b/   model.safetensors + metadata.json (see scones-model)
//!                                 + baseline.json (the drift baseline, see crate::drift)
//!   LATEST                        the directory name of the model the endpoint serves
//! ```

use std::path::{Path, PathBuf};

use scones_model::{EpochReport, LabeledImage, ModelError, TrainConfig, TrainedModel};

use crate::bucket::LocalBucket;
use crate::stage::{Split, StageError, read_lst};

/// Name of the file that points at the current model.
pub const LATEST_FILE: &str = "LATEST";

/// Why training or loading a model failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    /// Nothing is staged yet.
    #[error("no staged data in {bucket}: run `scones stage --local` first")]
    NotStaged {
        /// The bucket directory.
        bucket: PathBuf,
    },
    /// No model has been trained yet.
    #[error("no trained model in {models}: run `scones train --local` first")]
    NoModel {
        /// The models directory.
        models: PathBuf,
    },
    /// Reading the staged data failed.
    #[error(transparent)]
    Stage(#[from] StageError),
    /// The model library failed (bad image, corrupt model file, ...).
    #[error("{0}")]
    Model(#[from] ModelError),
    /// Reading or writing a file failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl TrainingError {
    /// Stable name of the variant (the model library's own name for model errors).
    pub fn name(&self) -> &'static str {
        match self {
            TrainingError::NotStaged { .. } => "NotStaged",
            TrainingError::NoModel { .. } => "NoModel",
            TrainingError::Stage(e) => e.name(),
            TrainingError::Model(e) => e.name(),
            TrainingError::Io { .. } => "Io",
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainingError + '_ {
    move |source| TrainingError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The decoded images of a staged split, labelled from its `.lst` file.
pub fn load_staged(bucket: &LocalBucket, split: Split) -> Result<Vec<LabeledImage>, TrainingError> {
    let lst = bucket.root().join(format!("{}.lst", split.as_str()));
    if !lst.is_file() {
        return Err(TrainingError::NotStaged {
            bucket: bucket.root().to_path_buf(),
        });
    }
    let dir = bucket.root().join(split.as_str());
    let mut images = Vec::new();
    for entry in read_lst(&lst)? {
        let path = dir.join(&entry.path);
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let label = entry.label;
        let image = LabeledImage::from_png(entry.path.clone(), &bytes, label)
            .map_err(|e| ModelError::in_file(&path, e))?;
        images.push(image);
    }
    Ok(images)
}

/// Trains on the staged `train/` split (`config.validation_fraction` decides whether a
/// validation part is held out: the default is a final fit on every image; `test/` is never
/// read), saves the model under `models/` and makes it the latest. Returns the model
/// and its directory.
pub fn train_staged(
    bucket: &LocalBucket,
    config: &TrainConfig,
    on_epoch: impl FnMut(&EpochReport),
) -> Result<(TrainedModel, PathBuf), TrainingError> {
    let images = load_staged(bucket, Split::Train)?;
    let model = scones_model::train(config, &images, on_epoch)?;
    let models = bucket.models_dir();
    let short = model
        .metadata()
        .data_fingerprint
        .get(..8)
        .unwrap_or("model")
        .to_owned();
    let name = format!(
        "{}-{short}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
    );
    let dir = models.join(&name);
    model.save(&dir)?;
    // The drift baseline goes with the model, before LATEST points at it: a served model
    // always has one.
    // The recipe's out-of-fold outputs describe its predictions on the data they were
    // measured on: another training set (the synthetic stand-in) gets an inputs-only baseline.
    let outputs = config
        .out_of_fold_outputs
        .as_ref()
        .filter(|o| o.data_fingerprint == model.metadata().data_fingerprint);
    let baseline = crate::drift::baseline_of(&name, &images, outputs);
    crate::drift::save_baseline(&dir, &baseline).map_err(io(&dir))?;
    // The pointer is replaced atomically, so the endpoint never reads half a name.
    let tmp = models.join(format!(".{LATEST_FILE}.{}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&tmp, format!("{name}\n")).map_err(io(&tmp))?;
    let latest = models.join(LATEST_FILE);
    std::fs::rename(&tmp, &latest).map_err(io(&latest))?;
    Ok((model, dir))
}

/// The directory of the latest model, if one was trained.
pub fn latest_model_dir(bucket: &LocalBucket) -> Result<Option<PathBuf>, TrainingError> {
    let models = bucket.models_dir();
    let latest = models.join(LATEST_FILE);
    match std::fs::read_to_string(&latest) {
        Ok(name) => {
            let name = name.trim();
            if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
                return Err(TrainingError::Io {
                    path: latest,
                    source: std::io::Error::other(format!(
                        "{name:?} is not a model directory name"
                    )),
                });
            }
            Ok(Some(models.join(name)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(TrainingError::Io {
            path: latest,
            source: e,
        }),
    }
}

/// Loads the latest model.
pub fn load_latest(bucket: &LocalBucket) -> Result<TrainedModel, TrainingError> {
    let dir = latest_model_dir(bucket)?.ok_or_else(|| TrainingError::NoModel {
        models: bucket.models_dir(),
    })?;
    Ok(TrainedModel::load(&dir)?)
}
