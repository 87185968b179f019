//! k-fold cross-validation of a training configuration: the honest way to choose between
//! configurations on a small training set (a single 100-image holdout moves by +-3 points
//! between seeds, more than most of the differences being measured).

use std::time::Duration;

use crate::ModelError;
use crate::classifier::Classifier;
use crate::config::TrainConfig;
use crate::data::LabeledImage;
use crate::split::k_fold;
use crate::train::{EpochReport, Validation, fit};

/// The outcome of one fold.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FoldReport {
    /// 0-based fold index.
    pub fold: usize,
    /// Accuracy on the fold's held-out images after the last epoch.
    pub validation_accuracy: f32,
    /// Mean cross-entropy on the held-out images after the last epoch.
    pub validation_loss: f32,
    /// Accuracy on the held-out images with the other test-time-flip setting than the
    /// configuration's, so one run shows what flip averaging is worth.
    pub validation_accuracy_other_flip: f32,
    /// Images trained on.
    pub train_images: usize,
    /// Images held out.
    pub validation_images: usize,
    /// Wall time of the fold's training.
    pub elapsed: Duration,
    /// The larger class probability of each held-out image (the configuration's flip
    /// setting), in fold order: how confident the model is, which decides how many images a
    /// confidence threshold such as the workflow's 0.93 lets through.
    pub validation_confidences: Vec<f32>,
    /// The raw logits (before any calibration temperature) of each held-out image, in fold
    /// order: pooled over the folds they are out-of-fold predictions of the whole training
    /// set, what the shipped calibration temperature is fitted on (see `cv_model`).
    pub validation_logits: Vec<[f32; 2]>,
    /// The true class index of each held-out image, in the same order.
    pub validation_labels: Vec<usize>,
}

impl FoldReport {
    /// Fraction of the held-out images whose larger class probability is at least
    /// `threshold` (0 for an empty fold).
    pub fn confident_fraction(&self, threshold: f32) -> f64 {
        let n = self.validation_confidences.len();
        if n == 0 {
            return 0.0;
        }
        let confident = self
            .validation_confidences
            .iter()
            .filter(|&&c| c >= threshold)
            .count();
        confident as f64 / n as f64
    }
}

/// The folds of one cross-validation run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CrossValidation {
    /// One report per fold, in fold order.
    pub folds: Vec<FoldReport>,
}

impl CrossValidation {
    /// Validation accuracy over all held-out images (each image is held out exactly once,
    /// so this is the pooled accuracy, not a mean of fold means).
    pub fn accuracy(&self) -> f64 {
        let (correct, total) = self.folds.iter().fold((0.0, 0usize), |(c, t), f| {
            (
                c + f64::from(f.validation_accuracy) * f.validation_images as f64,
                t + f.validation_images,
            )
        });
        if total == 0 {
            0.0
        } else {
            correct / total as f64
        }
    }

    /// Sample standard deviation of the per-fold accuracies (0 with fewer than 2 folds).
    pub fn fold_std(&self) -> f64 {
        let n = self.folds.len();
        if n < 2 {
            return 0.0;
        }
        let values: Vec<f64> = self
            .folds
            .iter()
            .map(|f| f64::from(f.validation_accuracy))
            .collect();
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        var.sqrt()
    }
}

/// Trains `config` once per fold of a stratified `folds`-fold split of `images` (fold
/// assignment seeded by `fold_seed`, so different configurations can be compared on the very
/// same folds) and scores each on its held-out fold. `config.validation_fraction` is not used.
/// `on_epoch(fold, report)` is called after every epoch of every fold; only the last epoch of
/// a fold is validated (earlier reports carry NaN validation numbers), which keeps
/// cross-validation cheaper without changing the trained models.
///
/// Errors: as [`crate::train`], plus [`ModelError::InvalidConfig`] for fewer than 2 folds.
pub fn cross_validate(
    config: &TrainConfig,
    images: &[LabeledImage],
    folds: usize,
    fold_seed: u64,
    mut on_epoch: impl FnMut(usize, &EpochReport),
) -> Result<CrossValidation, ModelError> {
    let reports = (0..folds)
        .map(|fold| {
            cross_validate_fold(config, images, folds, fold_seed, fold, |report| {
                on_epoch(fold, report)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CrossValidation { folds: reports })
}

/// One fold of [`cross_validate`] (`fold` in `0..folds`): lets several processes share the
/// folds of one cross-validation.
///
/// Errors: as [`cross_validate`], plus [`ModelError::InvalidConfig`] for `fold >= folds`.
pub fn cross_validate_fold(
    config: &TrainConfig,
    images: &[LabeledImage],
    folds: usize,
    fold_seed: u64,
    fold: usize,
    on_epoch: impl FnMut(&EpochReport),
) -> Result<FoldReport, ModelError> {
    config.validate()?;
    let splits = k_fold(images, folds, fold_seed)?;
    let split = splits.get(fold).ok_or_else(|| ModelError::InvalidConfig {
        reason: format!("fold {fold} does not exist in a {folds}-fold split"),
    })?;
    let (network, last) = fit(config, images, split, Validation::LastEpochOnly, on_epoch)?;
    let classifier = Classifier::from_network(network, config.test_time_flip);
    let held_out = split
        .validation
        .iter()
        .map(|&i| {
            images
                .get(i)
                .map(|example| example.image.clone())
                .ok_or_else(|| ModelError::Backend {
                    reason: format!("validation index {i} out of range"),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let validation_confidences = classifier
        .predict_batch(&held_out)?
        .iter()
        .map(|p| p[0].max(p[1]))
        .collect();
    let validation_logits = held_out
        .iter()
        .map(|image| classifier.logits(image))
        .collect::<Result<Vec<_>, _>>()?;
    let validation_labels = split
        .validation
        .iter()
        .filter_map(|&i| images.get(i).map(|example| example.label.index()))
        .collect();
    let other = classifier
        .with_test_time_flip(!config.test_time_flip)
        .score(images, &split.validation)?;
    Ok(FoldReport {
        fold,
        validation_accuracy: last.val_accuracy,
        validation_loss: last.val_loss,
        validation_accuracy_other_flip: other.accuracy,
        train_images: split.train.len(),
        validation_images: split.validation.len(),
        elapsed: last.elapsed,
        validation_confidences,
        validation_logits,
        validation_labels,
    })
}
