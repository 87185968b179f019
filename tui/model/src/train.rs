//! Training: augmented (optionally mixed) mini-batches, SGD with Nesterov momentum under a
//! one-cycle learning-rate schedule, label-smoothed soft-target cross-entropy, an optional
//! moving average of the weights, and validation after every epoch.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::SgdConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::tensor::{Device, Tensor};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::averaging::WeightAverage;
use crate::classifier::{Classifier, Score, TrainedModel};
use crate::config::TrainConfig;
use crate::data::{IMAGE_BYTES, LabeledImage};
use crate::metadata::ModelMetadata;
use crate::network::Network;
use crate::replicas::{self, Replicas};
use crate::split::{Split, holdout};
use crate::tensors::push_normalized;
use crate::{ModelError, fingerprint};

/// Progress of one finished epoch, for progress bars and logs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EpochReport {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Total epochs of the run.
    pub epochs: usize,
    /// Mean training loss (label-smoothed, on augmented images).
    pub train_loss: f32,
    /// Training accuracy on the augmented images as seen during the epoch.
    pub train_accuracy: f32,
    /// Mean validation cross-entropy (no smoothing, no augmentation).
    pub val_loss: f32,
    /// Validation accuracy.
    pub val_accuracy: f32,
    /// Learning rate at the end of the epoch.
    pub learning_rate: f64,
    /// Wall time since training started.
    pub elapsed: Duration,
}

/// Trains a model on `images`; a stratified `validation_fraction` of them is held out and
/// scored after every epoch. `on_epoch` is called once per epoch (draw a progress bar).
///
/// The data fingerprint in the metadata is computed from the images and labels given here;
/// pass the same images in the same order to get the same fingerprint.
///
/// Errors: [`ModelError::InvalidConfig`], [`ModelError::NotEnoughData`] (fewer than two images
/// of a class).
pub fn train(
    config: &TrainConfig,
    images: &[LabeledImage],
    on_epoch: impl FnMut(&EpochReport),
) -> Result<TrainedModel, ModelError> {
    config.validate()?;
    let split = holdout(images, config.validation_fraction, config.seed)?;
    let (network, final_report) = fit(config, images, &split, Validation::EveryEpoch, on_epoch)?;
    let mut metadata = ModelMetadata::new(
        config,
        fingerprint::of_images(images),
        images.len(),
        split.train.len(),
        split.validation.len(),
        &final_report,
    );
    let mut classifier = Classifier::from_network(network, config.test_time_flip);
    // The holdout calibrates the served probabilities; a final fit has none and takes the
    // configuration's out-of-fold calibration.
    metadata.calibration = match calibrate(&classifier, images, &split.validation)? {
        Some(fitted) => Some(fitted),
        None => config.out_of_fold_calibration.clone(),
    };
    if let Some(c) = &metadata.calibration {
        classifier = classifier.with_temperature(c.temperature);
    }
    Ok(TrainedModel::new(classifier, metadata))
}

/// Fits the calibration temperature on `images[held_out]` (images the network did not
/// train on); `None` when there are none.
pub(crate) fn calibrate(
    classifier: &Classifier,
    images: &[LabeledImage],
    held_out: &[usize],
) -> Result<Option<crate::calibration::Calibration>, ModelError> {
    let mut logits = Vec::with_capacity(held_out.len());
    let mut labels = Vec::with_capacity(held_out.len());
    for &i in held_out {
        let example = images.get(i).ok_or_else(|| ModelError::Backend {
            reason: format!("calibration index {i} out of range"),
        })?;
        logits.push(classifier.logits(&example.image)?);
        labels.push(example.label.index());
    }
    Ok(crate::calibration::fit_temperature(&logits, &labels))
}

/// When [`fit`] scores the validation part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Validation {
    /// After every epoch: a learning curve for progress displays.
    EveryEpoch,
    /// After the last epoch only (earlier reports carry NaN validation numbers). Scoring 200
    /// images with flip averaging after each of 40 epochs costs about a tenth of a
    /// cross-validation fold, and model selection only reads the final score; validation
    /// draws no random numbers, so the trained model is the same either way.
    LastEpochOnly,
}

/// Trains on `images[split.train]`, validating on `images[split.validation]` as `validation`
/// says. Returns the final network (the weight average when enabled) and the last epoch's
/// report.
pub(crate) fn fit(
    config: &TrainConfig,
    images: &[LabeledImage],
    split: &Split,
    validation: Validation,
    mut on_epoch: impl FnMut(&EpochReport),
) -> Result<(Network, EpochReport), ModelError> {
    config.validate()?;
    let started = Instant::now();
    let train_device = Device::flex().autodiff();
    let mut model = seeded_network(config.width, config.seed, &train_device);
    let mut optimizer = SgdConfig::new()
        .with_momentum(Some(MomentumConfig {
            momentum: config.momentum,
            dampening: 0.0,
            nesterov: true,
        }))
        .with_weight_decay(Some(WeightDecayConfig::new(config.weight_decay as f32)))
        .init();
    let replicas = Replicas::new(config.replicas)?;
    let mut average = (config.ema_decay > 0.0).then(|| WeightAverage::new(config.ema_decay));

    let mut rng = StdRng::seed_from_u64(config.seed);
    let steps_per_epoch = split.train.len().div_ceil(config.batch_size);
    let total_steps = steps_per_epoch * config.epochs;
    let mut step = 0usize;
    let mut order = split.train.clone();
    let mut augmented = [0u8; IMAGE_BYTES];
    let mut last_report = None;

    for epoch in 1..=config.epochs {
        order.shuffle(&mut rng);
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        let mut learning_rate = 0.0;
        // Drop a trailing batch of one: batch norm cannot normalise a single image.
        for batch in order.chunks(config.batch_size).filter(|b| b.len() > 1) {
            let mut planar = Vec::with_capacity(batch.len() * IMAGE_BYTES);
            let mut labels = Vec::with_capacity(batch.len());
            for &i in batch {
                let example = images.get(i).ok_or_else(|| ModelError::Backend {
                    reason: format!("training index {i} out of range"),
                })?;
                config
                    .augmentation
                    .apply(&example.image, &mut rng, &mut augmented);
                push_normalized(&augmented, &mut planar);
                labels.push(example.label.index());
            }
            let soft = config
                .mixing
                .apply(&mut planar, &labels, config.label_smoothing, &mut rng);
            let shards = replicas::shard(planar, soft, labels, replicas.shards_for(batch.len()));
            let (grads, stats) = replicas.gradients(&model, shards, &train_device)?;
            loss_sum += stats.loss_sum;
            correct += stats.correct;
            seen += batch.len();

            learning_rate = config.learning_rate(step, total_steps);
            model = optimizer.step(learning_rate, model, grads);
            if let Some(average) = average.as_mut() {
                average.update(model.valid());
            }
            step += 1;
        }

        let current = || match average.as_ref().and_then(WeightAverage::network) {
            Some(averaged) => averaged.clone(),
            None => model.valid(),
        };
        let skip = validation == Validation::LastEpochOnly && epoch < config.epochs;
        let val = if split.validation.is_empty() || skip {
            // A final fit (nothing to validate on) or an epoch whose score nobody reads.
            Score {
                loss: f32::NAN,
                accuracy: f32::NAN,
            }
        } else {
            Classifier::from_network(current(), config.test_time_flip)
                .score(images, &split.validation)?
        };
        let report = EpochReport {
            epoch,
            epochs: config.epochs,
            train_loss: (loss_sum / seen.max(1) as f64) as f32,
            train_accuracy: correct as f32 / seen.max(1) as f32,
            val_loss: val.loss,
            val_accuracy: val.accuracy,
            learning_rate,
            elapsed: started.elapsed(),
        };
        on_epoch(&report);
        last_report = Some(report);
    }

    let final_report = last_report.ok_or_else(|| ModelError::InvalidConfig {
        reason: "no epoch ran".to_string(),
    })?;
    let network = match average.and_then(WeightAverage::into_network) {
        Some(averaged) => averaged,
        None => model.valid(),
    };
    Ok((network, final_report))
}

/// Serialises "seed the backend RNG, then draw the initial weights": the flex backend's RNG is
/// process-global, so two trainings starting at once on different threads would otherwise
/// interleave their draws and lose determinism.
static WEIGHT_INIT: Mutex<()> = Mutex::new(());

/// A network whose initial weights depend only on `seed`.
fn seeded_network(width: usize, seed: u64, device: &Device) -> Network {
    // A poisoned lock only means another training panicked while holding it; the guarded
    // state is the backend RNG, which is re-seeded right here, so carrying on is sound.
    let _guard = WEIGHT_INIT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    device.seed(seed);
    let network = Network::new(width, device);
    // Parameters are initialised lazily on first use; force that now, under the lock.
    network.visit(&mut Materialize);
    network
}

/// Visits every float parameter, which forces burn's lazy initialisation.
struct Materialize;

impl ModuleVisitor for Materialize {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}
