//! The training configuration: every setting that decides how a model is trained, its
//! validation, and the learning-rate schedule.

use crate::ModelError;
use crate::augment::Augmentation;
use crate::calibration::{Calibration, FittedOn, TEMPERATURE};
use crate::mixing::BatchMixing;
use scones_workflow::drift::Histogram;

/// Everything that decides how a model is trained. [`TrainConfig::default`] is the shipped
/// configuration, chosen by 5-fold cross-validation on `train/` (fold seed 1, 200 images per
/// fold, every configuration on the very same folds; never on `test/`). The full log, with
/// every configuration tried, is `tui/model/SELECTION.md`. Why each setting:
///
/// - width 12 (round 4): over two training seeds 0.907 against 0.8975 at width 8, better on
///   7 of 10 folds, worse on 2; ~1.75x the training CPU (final fit ~65 s on idle cores).
///   40 epochs: 60 validated 0.898 (seed 42) against 0.884, mixed by fold, for 1.5x the time;
///   50 validated worse on the 2 folds run (round 2).
/// - calibration: a final fit serves [`TrainConfig::out_of_fold_calibration`], temperature
///   scaling fitted on this configuration's 1000 out-of-fold predictions of `train/`.
/// - `test_time_flip` on: 5-fold mean 0.897 +- 0.027 against 0.883 +- 0.034 without, better
///   on every fold (+0.5 to +3 points). Its cost is a second forward pass per prediction.
/// - label smoothing 0.1: 0.897 against 0.880 with 0.05 and 0.877 without (both with flip),
///   better or equal on every fold. Less smoothing makes the model more confident (share of
///   held-out images at or above the workflow's 0.93 threshold: 0.54 at 0.1, 0.64 at 0.05,
///   0.74 at 0), so confidence alone would favour less, but accuracy is the goal here.
/// - no mixup: with flip it validated 0.855 on 2 folds against 0.883 for the same folds.
/// - `validation_fraction` 0, a final fit on every image: nothing in training reads the
///   holdout (the epoch count is fixed, no early stopping), and more images validated
///   better: training on 85% of each fold's 800 images scored 0.883 against 0.897 on all
///   800, the same ratio as a 15% holdout against a final fit on 1000. The model's
///   `metadata.json` then has no validation numbers (`null`); the estimate of its accuracy
///   is the cross-validated 0.897 of this configuration.
/// - cutout 8 (0.907 against 0.887 without), peak learning rate 0.1 (0.2 validated 0.880):
///   round 1, single 100-image holdout.
/// - `replicas` 2: training keeps both cores of a 2-core machine busy (~1.45x faster:
///   89 s for the final fit instead of ~125 s). Each replica's batch norm sees 32 images
///   instead of 64; over two seeds this validated 0.8975 (0.884 seed 42, 0.911 seed 7)
///   against 0.900 (0.897, 0.903) with one replica: the same within seed noise.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    /// Seeds the holdout split, weight initialisation, shuffling and augmentation:
    /// same data + same seed -> same model and metrics.
    pub seed: u64,
    /// Passes over the training part.
    pub epochs: usize,
    /// Images per optimiser step.
    pub batch_size: usize,
    /// Channels of the first conv layer; later layers use 2x, 4x, 8x this.
    pub width: usize,
    /// Fraction of the given images held out (stratified by class) for validation. `0` is a
    /// final fit: every image is trained on, nothing is validated (the epoch reports' and the
    /// metadata's validation numbers are NaN, `null` in `metadata.json`); use it once the
    /// settings were chosen by cross-validation ([`crate::cross_validate`]).
    pub validation_fraction: f64,
    /// The highest learning rate of the one-cycle schedule.
    pub peak_learning_rate: f64,
    /// Fraction of all steps spent warming up linearly to the peak; the rest anneals with a
    /// cosine to zero.
    pub warmup_fraction: f64,
    /// Nesterov momentum of SGD.
    pub momentum: f64,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Label smoothing of the cross-entropy (0 disables).
    pub label_smoothing: f32,
    /// Training-time augmentation.
    pub augmentation: Augmentation,
    /// Average the prediction of the image and its mirror image at inference (validation
    /// included). Stored with the model.
    pub test_time_flip: bool,
    /// Per-step decay of the exponential moving average of the weights that becomes the
    /// trained model (0 disables averaging: the last weights are the model).
    #[serde(default)]
    pub ema_decay: f64,
    /// Mixup/CutMix of training batches.
    #[serde(default)]
    pub mixing: BatchMixing,
    /// Replicas of the network that train side by side, each on its shard of every batch
    /// (see `replicas.rs`); their batch norms see only their shard. Part of the
    /// configuration rather than taken from the core count, so a seed trains the same model
    /// on any machine. Models saved before this setting trained with one.
    #[serde(default = "one_replica")]
    pub replicas: usize,
    /// The calibration of a final fit (`validation_fraction` 0, nothing held out to fit
    /// one on): temperature scaling fitted on the pooled out-of-fold predictions of this
    /// configuration's 5-fold cross-validation on `train/` (`cv_model` prints it). It belongs
    /// to the configuration: change a setting and re-run `cv_model` for a new one. Ignored
    /// when a holdout is there to fit on. `None`: the final fit serves its raw softmax.
    #[serde(default)]
    pub out_of_fold_calibration: Option<Calibration>,
    /// The distribution of this configuration's calibrated out-of-fold predictions (what
    /// `cv_model` pools): the model-output half of the drift baseline saved with a final fit,
    /// which has no held-out images of its own. Belongs to the configuration, like the
    /// calibration. `None`: the baseline judges the inputs only.
    #[serde(default)]
    pub out_of_fold_outputs: Option<OutOfFoldOutputs>,
}

/// The calibrated out-of-fold predictions of a configuration on one training set, as drift
/// histograms.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OutOfFoldOutputs {
    /// Cross-validation folds.
    pub folds: usize,
    /// The training set they are predictions of ([`crate::fingerprint::of_images`]): a model
    /// trained on other data (the synthetic stand-in, another subset) gets no output
    /// baseline rather than the wrong one. (Empty in a configuration saved before it was
    /// recorded: matches no data.)
    #[serde(default)]
    pub data_fingerprint: String,
    /// The top-class probability ([`scones_workflow::drift::CONFIDENCE_BINS`] bins over
    /// [0.5, 1]).
    pub confidence: Histogram,
    /// Predictions per class (bin 0 bicycle, bin 1 motorcycle).
    pub predicted: Histogram,
}

fn one_replica() -> usize {
    1
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            seed: 42,
            epochs: 40,
            batch_size: 64,
            width: 12,
            validation_fraction: 0.0,
            peak_learning_rate: 0.1,
            warmup_fraction: 0.25,
            momentum: 0.9,
            weight_decay: 5e-4,
            label_smoothing: 0.1,
            augmentation: Augmentation {
                crop_padding: 4,
                horizontal_flip: true,
                cutout: 8,
            },
            test_time_flip: true,
            ema_decay: 0.0,
            mixing: BatchMixing::None,
            replicas: 2,
            out_of_fold_calibration: Some(shipped_calibration()),
            out_of_fold_outputs: Some(shipped_outputs()),
        }
    }
}

/// The default configuration's out-of-fold outputs: the same `cv_model` run's 1000 pooled
/// predictions, calibrated with [`shipped_calibration`] (its `out_of_fold_outputs` line).
fn shipped_outputs() -> OutOfFoldOutputs {
    let confidence = [
        5, 9, 6, 5, 2, 5, 6, 1, 4, 3, 2, 3, 4, 6, 6, 6, 6, 8, 6, 5, 5, 5, 9, 7, 2, 3, 7, 6, 9, 10,
        11, 7, 14, 6, 10, 9, 9, 18, 16, 19, 21, 28, 22, 27, 38, 45, 81, 140, 178, 140,
    ];
    OutOfFoldOutputs {
        folds: 5,
        // The 1000 train/ images of the shared CIFAR-100 bicycle/motorcycle subset.
        data_fingerprint: "9bdcf10df669084269b725b01340c5f42c7c6f424c6cb4c69e8db2cd5b86dc19"
            .to_owned(),
        confidence: Histogram {
            lo: 0.5,
            hi: 1.0,
            counts: confidence.to_vec(),
        },
        predicted: Histogram {
            lo: 0.0,
            hi: 2.0,
            counts: vec![483, 517],
        },
    }
}

/// The default configuration's out-of-fold calibration: `cv_model` (5 folds, fold seed 1)
/// on this very configuration pooled 1000 out-of-fold predictions and fitted this
/// temperature on them (SELECTION.md, "Calibration").
fn shipped_calibration() -> Calibration {
    Calibration {
        method: TEMPERATURE.to_owned(),
        temperature: 0.8412,
        images: 1000,
        fitted_on: FittedOn::OutOfFold { folds: 5 },
        nll_before: 0.2431,
        nll_after: 0.2389,
    }
}

impl TrainConfig {
    pub(crate) fn validate(&self) -> Result<(), ModelError> {
        let invalid = |reason: &str| {
            Err(ModelError::InvalidConfig {
                reason: reason.to_string(),
            })
        };
        if self.epochs == 0 {
            return invalid("epochs must be at least 1");
        }
        if self.batch_size < 2 {
            // Batch norm needs at least two samples to estimate a variance.
            return invalid("batch_size must be at least 2");
        }
        if self.width == 0 || self.width > 256 {
            return invalid("width must be within 1..=256");
        }
        if !(self.validation_fraction >= 0.0 && self.validation_fraction < 1.0) {
            return invalid("validation_fraction must be within 0 (final fit) and 1 (exclusive)");
        }
        if !(self.peak_learning_rate.is_finite() && self.peak_learning_rate > 0.0) {
            return invalid("peak_learning_rate must be a positive number");
        }
        if !(0.0..1.0).contains(&self.warmup_fraction) {
            return invalid("warmup_fraction must be within 0..1");
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return invalid("momentum must be within 0..1");
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return invalid("weight_decay must be a non-negative number");
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return invalid("label_smoothing must be within 0..1");
        }
        if !(0.0..1.0).contains(&self.ema_decay) {
            return invalid("ema_decay must be within 0..1");
        }
        if self.replicas == 0 || self.replicas > 64 {
            return invalid("replicas must be within 1..=64");
        }
        if let Some(problem) = self.mixing.problem() {
            return invalid(problem);
        }
        if let Some(c) = &self.out_of_fold_calibration
            && !(c.temperature.is_finite() && c.temperature > 0.0)
        {
            return invalid("out_of_fold_calibration.temperature must be a positive number");
        }
        Ok(())
    }

    /// The one-cycle learning rate at `step` of `total` steps: linear warm-up from 0 to the
    /// peak, then a cosine down to 0. One-cycle lets a short run use a high peak rate safely.
    pub fn learning_rate(&self, step: usize, total: usize) -> f64 {
        let total = total.max(1) as f64;
        let t = (step as f64 + 1.0) / total;
        let warmup = self.warmup_fraction;
        if t <= warmup {
            self.peak_learning_rate * t / warmup
        } else {
            let progress = ((t - warmup) / (1.0 - warmup)).clamp(0.0, 1.0);
            self.peak_learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_cycle_rises_then_falls_to_zero() {
        let config = TrainConfig {
            peak_learning_rate: 1.0,
            warmup_fraction: 0.25,
            ..TrainConfig::default()
        };
        let total = 100;
        let lrs: Vec<f64> = (0..total).map(|s| config.learning_rate(s, total)).collect();
        let peak_at = lrs
            .iter()
            .enumerate()
            .fold(
                (0, f64::MIN),
                |best, (i, &v)| if v > best.1 { (i, v) } else { best },
            )
            .0;
        assert_eq!(peak_at, 24);
        assert!((lrs[24] - 1.0).abs() < 1e-9);
        assert!(lrs[..24].windows(2).all(|w| w[0] < w[1]));
        assert!(lrs[24..].windows(2).all(|w| w[0] >= w[1]));
        assert!(lrs[99].abs() < 1e-9);
    }

    #[test]
    fn configurations_saved_before_a_field_existed_still_read() {
        // The default configuration as saved, minus the fields added over time: models
        // saved with it must still load (their metadata carries their configuration).
        let mut saved = serde_json::to_value(TrainConfig::default()).unwrap();
        saved["out_of_fold_outputs"]
            .as_object_mut()
            .unwrap()
            .remove("data_fingerprint");
        let read: TrainConfig = serde_json::from_value(saved.clone()).unwrap();
        assert_eq!(read.out_of_fold_outputs.unwrap().data_fingerprint, "");
        let object = saved.as_object_mut().unwrap();
        object.remove("out_of_fold_outputs");
        object.remove("out_of_fold_calibration");
        let read: TrainConfig = serde_json::from_value(saved).unwrap();
        assert_eq!(
            (read.out_of_fold_outputs, read.out_of_fold_calibration),
            (None, None)
        );
    }

    #[test]
    fn invalid_configs_are_rejected_by_name() {
        for bad in [
            TrainConfig {
                epochs: 0,
                ..TrainConfig::default()
            },
            TrainConfig {
                batch_size: 1,
                ..TrainConfig::default()
            },
            TrainConfig {
                validation_fraction: -0.1,
                ..TrainConfig::default()
            },
            TrainConfig {
                validation_fraction: 1.0,
                ..TrainConfig::default()
            },
            TrainConfig {
                peak_learning_rate: f64::NAN,
                ..TrainConfig::default()
            },
            TrainConfig {
                label_smoothing: 1.0,
                ..TrainConfig::default()
            },
            TrainConfig {
                ema_decay: 1.0,
                ..TrainConfig::default()
            },
            TrainConfig {
                replicas: 0,
                ..TrainConfig::default()
            },
            TrainConfig {
                out_of_fold_calibration: Some(Calibration {
                    temperature: 0.0,
                    ..shipped_calibration()
                }),
                ..TrainConfig::default()
            },
            TrainConfig {
                mixing: BatchMixing::Mixup {
                    alpha: -1.0,
                    probability: 1.0,
                },
                ..TrainConfig::default()
            },
        ] {
            let err = bad.validate().expect_err("config must be rejected");
            assert_eq!(err.name(), "InvalidConfig", "{bad:?}");
        }
        assert!(TrainConfig::default().validate().is_ok());
    }
}
