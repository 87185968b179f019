//! Drift on the local stack: the baseline saved with every model, and the windows of the
//! endpoint's captured traffic judged against it (`scones drift`, the dashboard's drift view).
//! The statistics are `scones_workflow::drift`'s, the same the AWS side uses.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use scones_model::{LabeledImage, ModelMetadata, OutOfFoldOutputs, RgbImage};
use scones_workflow::capture::Keep;
pub use scones_workflow::drift::DriftOptions;
use scones_workflow::drift::{
    BASELINE_FILE, Baseline, DriftView, ImageFeatures, Observer, Profile, WindowDrift, WindowSpec,
    judge,
};

use crate::bucket::LocalBucket;
use crate::endpoint::capture::read_captures;
use crate::training::{TrainingError, serving_model_dir};

/// Why drift could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    /// No model has been trained yet.
    #[error("no trained model in {models}: run `scones train --local` first")]
    NoModel {
        /// The models directory.
        models: PathBuf,
    },
    /// The model has no baseline (trained before baselines were saved).
    #[error(
        "the model in {model} has no drift baseline ({BASELINE_FILE}; models trained before \
         scones saved one): train a new one with `scones train --local`"
    )]
    NoBaseline {
        /// The model directory.
        model: PathBuf,
    },
    /// The model or its baseline could not be read.
    #[error("cannot read {path}: {reason}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Locating the model failed.
    #[error(transparent)]
    Training(#[from] TrainingError),
    /// The capture files could not be listed or read.
    #[error("cannot read the data capture in {dir}: {source}")]
    Capture {
        /// The capture directory.
        dir: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// The baseline of a model trained on `train_images`: the input statistics of those images
/// (label-free and model-free, so every training image is fair game), the output statistics
/// from the recipe's out-of-fold predictions on the same data when there are some (a final
/// fit's predictions on its own training images are over-confident: measured 83% above 0.93
/// against 70% on unseen images).
pub fn baseline_of(
    model: &str,
    train_images: &[LabeledImage],
    outputs: Option<&OutOfFoldOutputs>,
) -> Baseline {
    let mut profile = Profile::default();
    for image in train_images {
        if let Some(features) = features_of(&image.image) {
            profile.add_image(&features);
        }
    }
    let outputs_from = outputs.map(|o| {
        profile.confidence = o.confidence.clone();
        profile.predicted = o.predicted.clone();
        format!(
            "{} out-of-fold predictions of train/ ({}-fold cross-validation of the training \
             configuration), calibrated",
            o.confidence.total(),
            o.folds
        )
    });
    Baseline {
        format: Baseline::FORMAT,
        created: Utc::now(),
        model: model.to_owned(),
        inputs_from: format!("the {} images of train/", train_images.len()),
        outputs_from,
        held_out: None,
        profile,
    }
}

/// The baseline of a model retrained on reviewed production images: the input statistics
/// of those images (the traffic it was retrained for); no output statistics (a few hundred
/// held-out images are too few for an output baseline whose own noise would not look like
/// drift).
pub fn baseline_from_reviewed(model: &str, reviewed: &[LabeledImage]) -> Baseline {
    let mut profile = Profile::default();
    for image in reviewed {
        if let Some(features) = features_of(&image.image) {
            profile.add_image(&features);
        }
    }
    Baseline {
        format: Baseline::FORMAT,
        created: Utc::now(),
        model: model.to_owned(),
        inputs_from: format!(
            "the {} reviewed images it was retrained for (production traffic)",
            reviewed.len()
        ),
        outputs_from: None,
        held_out: None,
        profile,
    }
}

/// The input statistics of a decoded image.
pub fn features_of(image: &RgbImage) -> Option<ImageFeatures> {
    let side = scones_model::IMAGE_SIDE;
    ImageFeatures::of_rgb(side, side, image.as_bytes())
}

/// Saves `baseline` into the model directory `dir`.
pub fn save_baseline(dir: &Path, baseline: &Baseline) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(baseline).map_err(std::io::Error::other)?;
    crate::files::write_atomically(&dir.join(BASELINE_FILE), &json)
}

/// Reads the baseline saved with the model in `dir`.
pub fn load_baseline(dir: &Path) -> Result<Baseline, DriftError> {
    let path = dir.join(BASELINE_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(DriftError::NoBaseline {
                model: dir.to_path_buf(),
            });
        }
        Err(e) => {
            return Err(DriftError::Unreadable {
                path,
                reason: e.to_string(),
            });
        }
    };
    serde_json::from_slice(&bytes).map_err(|e| DriftError::Unreadable {
        path,
        reason: e.to_string(),
    })
}

/// The drift of the served model's traffic.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LocalDrift {
    /// The model directory.
    pub model: PathBuf,
    /// Its baseline.
    pub baseline: Baseline,
    /// Traffic is counted from here: when the model was trained (earlier traffic was
    /// another model's).
    pub since: DateTime<Utc>,
    /// The windows, oldest first; the last is the current one.
    pub windows: Vec<WindowDrift>,
    /// Captured records that could not be used (cut short, or an input that is not a
    /// 32x32 PNG).
    pub unreadable: usize,
    /// When it was computed.
    pub computed: DateTime<Utc>,
}

impl LocalDrift {
    /// The newest window.
    pub fn current(&self) -> Option<&WindowDrift> {
        self.windows.last()
    }

    /// As the port's [`DriftView`], its windows cut by `spec`.
    pub fn view(self, spec: &WindowSpec) -> DriftView {
        DriftView {
            model: self.model.file_name().map_or_else(
                || self.model.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            inputs_from: self.baseline.inputs_from,
            outputs_from: self.baseline.outputs_from,
            window: spec.describe(),
            windows: self.windows,
            unreadable: self.unreadable,
            computed: Some(self.computed),
        }
    }
}

/// Judges the captured traffic of `endpoint` since the served model was trained, against the
/// baseline saved with it.
pub fn drift(
    bucket: &LocalBucket,
    endpoint: &str,
    options: &DriftOptions,
    now: DateTime<Utc>,
) -> Result<LocalDrift, DriftError> {
    let model = serving_model_dir(bucket)?.ok_or_else(|| DriftError::NoModel {
        models: bucket.models_dir(),
    })?;
    let baseline = load_baseline(&model)?;
    let since = serving_start(bucket, &model)?;
    let (windows, unreadable) = judge_captures(bucket, endpoint, &baseline, since, options, now)?;
    Ok(LocalDrift {
        model,
        baseline,
        since,
        windows,
        unreadable,
        computed: now,
    })
}

/// The windows of `endpoint`'s traffic captured since `since` judged against `baseline`,
/// oldest first, and how many captured records could not be used.
pub fn judge_captures(
    bucket: &LocalBucket,
    endpoint: &str,
    baseline: &Baseline,
    since: DateTime<Utc>,
    options: &DriftOptions,
    now: DateTime<Utc>,
) -> Result<(Vec<WindowDrift>, usize), DriftError> {
    let reading = options.reading(since, now);
    let captured = read_captures(bucket, endpoint, reading.since, Keep::Input, reading.newest)
        .map_err(|source| DriftError::Capture {
            dir: crate::endpoint::capture::capture_dir(bucket, endpoint),
            source,
        })?;
    let mut observer = Observer::new(|png: &[u8]| features_of(&RgbImage::decode_png(png).ok()?));
    let observed: Vec<_> = captured.iter().map(|c| observer.observe(c)).collect();
    Ok(judge(&observed, baseline, options, now))
}

/// Where the traffic of the served model in `dir` starts: when the version started serving
/// (promoted, rolled back to), else when it was trained. Earlier traffic was another model's.
fn serving_start(bucket: &LocalBucket, dir: &Path) -> Result<DateTime<Utc>, DriftError> {
    let version = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match crate::models::serving_since(bucket, &version) {
        Some(t) => Ok(t),
        None => model_created(dir),
    }
}

/// The newest `n` inferences of the served model captured for `endpoint`, with their
/// inputs, oldest first: where a new process's guard picks the traffic up
/// ([`crate::guard::GuardMonitor::resume`]). Empty when nothing serves or nothing is
/// readable (the guard then starts from its own traffic).
pub fn recent_traffic(
    bucket: &LocalBucket,
    endpoint: &str,
    n: usize,
) -> Vec<scones_workflow::capture::CapturedInference> {
    let Ok(Some(model)) = serving_model_dir(bucket) else {
        return Vec::new();
    };
    let Ok(since) = serving_start(bucket, &model) else {
        return Vec::new();
    };
    read_captures(bucket, endpoint, since, Keep::Input, Some(n)).unwrap_or_default()
}

/// When the model in `dir` was trained.
fn model_created(dir: &Path) -> Result<DateTime<Utc>, DriftError> {
    let path = dir.join(scones_model::METADATA_FILE);
    let unreadable = |reason: String| DriftError::Unreadable {
        path: path.clone(),
        reason,
    };
    let bytes = std::fs::read(&path).map_err(|e| unreadable(e.to_string()))?;
    let meta: ModelMetadata =
        serde_json::from_slice(&bytes).map_err(|e| unreadable(e.to_string()))?;
    DateTime::parse_from_rfc3339(&meta.created_at)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| unreadable(format!("created_at {:?}: {e}", meta.created_at)))
}
