//! k-fold cross-validation of a training configuration: the honest way to choose between
//! configurations on a small training set (a single 100-image holdout moves by +-3 points
//! between seeds, more than most of the differences being measured).

use std::time::Duration;

use crate::ModelError;
use crate::classifier::Classifier;
use crate::config::TrainConfig;
use crate::data::LabeledImage;
use crate::split::k_fold;
use crate::train::{EpochReport, fit};

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
/// `on_epoch(fold, report)` is called after every epoch of every fold.
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
    let (network, last) = fit(config, images, split, on_epoch)?;
    let other = Classifier::from_network(network, !config.test_time_flip)
        .score(images, &split.validation)?;
    Ok(FoldReport {
        fold,
        validation_accuracy: last.val_accuracy,
        validation_loss: last.val_loss,
        validation_accuracy_other_flip: other.accuracy,
        train_images: split.train.len(),
        validation_images: split.validation.len(),
        elapsed: last.elapsed,
    })
}
