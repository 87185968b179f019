//! Training on the staged data and the reviewed images, keeping each model as a version in
//! the bucket (`crate::models` is the registry: which version serves, the promotions).

use std::path::{Path, PathBuf};

use scones_model::{EpochReport, LabeledImage, ModelError, TrainConfig, TrainedModel};
use scones_workflow::models::{ModelVersion, Promotion, ServingChange, SetMeasures, TrainedOn};
use scones_workflow::quality::Labelled;
use scones_workflow::review::{Labels, Use, use_of};

use crate::bucket::LocalBucket;
use crate::stage::{Split, StageError, read_lst};

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

/// The fingerprint of the staged `train/` images (what a model trained on them records as
/// its `data_fingerprint` before any reviewed image joins): `None` when nothing readable is
/// staged. Re-staging compares it before and after to say the served model was trained on
/// other data.
pub fn staged_fingerprint(bucket: &LocalBucket) -> Option<String> {
    load_staged(bucket, Split::Train)
        .ok()
        .map(|images| scones_model::fingerprint::of_images(&images))
}

/// Fails unless a file can be created in `dir` (made if missing): checked before training.
fn check_writable(dir: &Path) -> Result<(), TrainingError> {
    let probe = dir.join(format!(".write-check-{}", std::process::id()));
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&probe, b""))
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|source| TrainingError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::new(
                source.kind(),
                format!("cannot save a model here ({source}); nothing was trained"),
            ),
        })
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

/// How a training run uses what people reviewed, and what it measures at.
#[derive(Debug, Clone, Copy)]
pub struct TrainOptions {
    /// Train on the reviewed images too (outside the held-out share, never of `test/`).
    pub reviewed: bool,
    /// The threshold the measures are taken at.
    pub threshold: f64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            reviewed: true,
            threshold: scones_workflow::Threshold::DEFAULT.value(),
        }
    }
}

/// Reviewed images needed before a retrained model's drift baseline is taken from them (the
/// production traffic it was trained for) rather than from `train/`: fewer would make the
/// baseline's own noise look like drift.
pub const MIN_REVIEWED_BASELINE: usize = 100;

/// A trained version.
pub struct TrainedVersion {
    /// The model.
    pub model: TrainedModel,
    /// Its directory.
    pub dir: PathBuf,
    /// What it was trained on and its measures.
    pub version: ModelVersion,
    /// It serves (the first model of a home serves at once; later ones are candidates for
    /// `scones promote`).
    pub serving: bool,
}

/// The reviewed images of `bucket` for `use_` (training, or the production validation
/// set), each with its class, in key order; an image whose file is gone (or is no image) is
/// skipped and counted.
pub(crate) fn reviewed_images(
    bucket: &LocalBucket,
    labels: &Labels,
    use_: Use,
) -> (Vec<LabeledImage>, usize) {
    let mut out = Vec::new();
    let mut missing = 0;
    let mut records: Vec<_> = labels
        .current()
        .filter(|r| use_of(&r.key) == use_)
        .collect();
    // A fixed order: the same labels train the same model.
    records.sort_by(|a, b| a.key.cmp(&b.key));
    for record in records {
        let Some(class) = record.label.class() else {
            continue;
        };
        let loaded = bucket
            .object_file(&record.key)
            .ok()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|bytes| LabeledImage::from_png(record.key.clone(), &bytes, class).ok());
        match loaded {
            Some(image) => out.push(image),
            None => missing += 1,
        }
    }
    (out, missing)
}

/// The model's predictions on `images`, with their labels.
fn predictions(model: &TrainedModel, images: &[LabeledImage]) -> Vec<Labelled> {
    images
        .iter()
        .filter_map(|i| {
            let [a, b] = model.classifier().predict_image(&i.image).ok()?;
            Some(Labelled {
                scores: [f64::from(a), f64::from(b)],
                label: i.label,
            })
        })
        .collect()
}

/// Trains on the staged `train/` split plus the reviewed images outside the held-out share
/// (`config.validation_fraction` decides whether a validation part is held out: the default
/// is a final fit on every image; `test/` is never trained on), saves the model under
/// `models/` with its drift baseline and measures, and makes it the served version when none
/// serves yet. Measures: the test split (the offline reference) and the production
/// validation set (the held-out share of reviewed images).
pub fn train_staged(
    bucket: &LocalBucket,
    config: &TrainConfig,
    options: &TrainOptions,
    on_epoch: impl FnMut(&EpochReport),
) -> Result<TrainedVersion, TrainingError> {
    let base = load_staged(bucket, Split::Train)?;
    // Minutes of training must not end in a save that cannot happen (a read-only home).
    check_writable(&bucket.models_dir())?;
    let labels = if options.reviewed {
        crate::review::LabelStore::new(bucket)
            .labels()
            .map(|(l, _)| l)
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "reviewed labels unreadable: training on train/ alone");
                Default::default()
            })
    } else {
        Default::default()
    };
    let (reviewed, missing) = reviewed_images(bucket, &labels, Use::Train);
    if missing > 0 {
        tracing::warn!(missing, "reviewed images whose file is gone were left out");
    }
    let mut images = base.clone();
    images.extend(reviewed.iter().cloned());
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
    // A version is its whole directory or nothing: a save that fails half-way (a full disk)
    // takes its partial files with it, so no space is lost and nothing half-made is listed.
    let saved = (|| -> Result<ModelVersion, TrainingError> {
        model.save(&dir)?;
        let (validation, _) = reviewed_images(bucket, &labels, Use::Validate);
        // The drift baseline goes with the model, before it can serve: a served model always
        // has one. A model retrained on enough reviewed images is meant for the traffic they
        // came from: its input baseline is theirs. Otherwise the inputs of train/, and the
        // recipe's out-of-fold outputs when they describe this very training set (a final fit's
        // predictions on its own training images are over-confident).
        let population: Vec<LabeledImage> = reviewed.iter().chain(&validation).cloned().collect();
        let baseline = if population.len() >= MIN_REVIEWED_BASELINE {
            crate::drift::baseline_from_reviewed(&name, &population)
        } else {
            let outputs = config
                .out_of_fold_outputs
                .as_ref()
                .filter(|o| o.data_fingerprint == model.metadata().data_fingerprint);
            crate::drift::baseline_of(&name, &base, outputs)
        };
        crate::drift::save_baseline(&dir, &baseline).map_err(io(&dir))?;
        let test = match load_staged(bucket, Split::Test) {
            Ok(t) => SetMeasures::of(&predictions(&model, &t), options.threshold),
            Err(_) => None,
        };
        let version = ModelVersion {
            version: name.clone(),
            created: chrono::Utc::now(),
            trained_on: TrainedOn {
                base: base.len(),
                reviewed: reviewed.len(),
            },
            test,
            production: SetMeasures::of(&predictions(&model, &validation), options.threshold),
            threshold: options.threshold,
            serving: false,
        };
        crate::models::save_measures(&dir, &version)?;
        Ok(version)
    })();
    let version = match saved {
        Ok(version) => version,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
    };
    let serving = crate::models::serving(bucket)?.is_none();
    if serving {
        crate::models::set_serving(bucket, &name)?;
        crate::models::append_history(
            bucket,
            &Promotion {
                at: chrono::Utc::now(),
                who: crate::review::who(),
                action: ServingChange::First,
                from: None,
                to: name.clone(),
                gate: None,
                forced: false,
                drift_baseline: None,
            },
        )?;
    }
    Ok(TrainedVersion {
        model,
        dir,
        version: ModelVersion { serving, ..version },
        serving,
    })
}

/// The directory of the served model version, if one was trained.
pub fn serving_model_dir(bucket: &LocalBucket) -> Result<Option<PathBuf>, TrainingError> {
    crate::models::serving_dir(bucket)
}

/// The served version's directory when it is there: what `--if-missing` skips training for
/// (a `SERVING` pointer naming a directory that is gone does not count).
pub fn existing_serving_model(bucket: &LocalBucket) -> Result<Option<PathBuf>, TrainingError> {
    Ok(serving_model_dir(bucket)?.filter(|dir| dir.is_dir()))
}

/// Loads the served model version.
pub fn load_serving(bucket: &LocalBucket) -> Result<TrainedModel, TrainingError> {
    let dir = serving_model_dir(bucket)?.ok_or_else(|| TrainingError::NoModel {
        models: bucket.models_dir(),
    })?;
    Ok(TrainedModel::load(&dir)?)
}
