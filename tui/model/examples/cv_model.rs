//! Model selection by k-fold cross-validation on the shared train split (test/ is never read).
//!
//! Usage: `cv_model --config CONFIG.json [--label NAME] [--folds 5] [--fold-seed 1]
//!         [--fold I] [--log FILE] [--threshold 0.93] [--train-fraction F] [--oof FILE]`
//!
//! Every configuration is scored on the same folds (same `--fold-seed`), so two configurations
//! are compared image by image. `--fold I` runs one fold only (to spread folds over processes);
//! `--log` appends one JSON line per fold (label, config, accuracy, loss, wall and CPU time,
//! load average, and the fraction of held-out images at least `--threshold` confident: the
//! share a confidence filter such as the workflow's 0.93 lets through), the record behind the
//! configuration log (tui/model/SELECTION.md).
//!
//! After the folds, the pooled out-of-fold predictions (every image of `train/` predicted by
//! the fold model that did not see it) get a calibration temperature fitted on them: the last
//! line (also in `--log`) prints it as the `out_of_fold_calibration` the configuration should
//! carry, with ECE, NLL, Brier and the decisions at `--threshold` before and after, and the
//! calibrated predictions' distribution as the `out_of_fold_outputs` it should carry (the
//! model-output half of a final fit's drift baseline).
//!
//! `--oof FILE` writes the pooled out-of-fold predictions, one JSON line per image (the raw
//! logits and the label), for measures computed later (the drift baseline's model outputs).
//!
//! `--train-fraction F` (below 1) trains each fold on a stratified fraction F of its training
//! part only and scores it on the same held-out fold: a learning-curve point. F = 0.85
//! against the full fold mirrors a 15% holdout against a final fit on all images, which is
//! the evidence for choosing between them (`validation_loss` is not computed then: null).

#[path = "support/process.rs"]
mod process;

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use process::{load_average, process_cpu_seconds, shared_data_dir};
use scones_model::calibration::{FittedOn, probabilities};
use scones_model::{
    EpochReport, FoldReport, LabeledImage, OutOfFoldOutputs, TrainConfig, cross_validate_fold,
    evaluate, fit_temperature, load_split, split, train,
};
use scones_workflow::class::Class;
use scones_workflow::drift::Profile;
use scones_workflow::quality::{Calibration, Decisions, Labelled};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut config = TrainConfig::default();
    let mut label = String::from("default");
    let (mut folds, mut fold_seed) = (5usize, 1u64);
    let mut only: Option<usize> = None;
    let mut log: Option<PathBuf> = None;
    let mut threshold = 0.93f32;
    let mut train_fraction = 1.0f64;
    let mut oof_out: Option<PathBuf> = None;
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--config" => config = serde_json::from_slice(&std::fs::read(value()?)?)?,
            "--label" => label = value()?,
            "--folds" => folds = value()?.parse()?,
            "--fold-seed" => fold_seed = value()?.parse()?,
            "--fold" => only = Some(value()?.parse()?),
            "--log" => log = Some(value()?.into()),
            "--threshold" => threshold = value()?.parse()?,
            "--train-fraction" => train_fraction = value()?.parse()?,
            "--oof" => oof_out = Some(value()?.into()),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }

    let root = shared_data_dir();
    let images = load_split(&root, &root.join("labels.csv"), "train")?;
    let which: Vec<usize> = match only {
        Some(fold) => vec![fold],
        None => (0..folds).collect(),
    };
    let mut accuracies = Vec::new();
    let (mut oof_logits, mut oof_labels) = (Vec::new(), Vec::new());
    for fold in which {
        let load_before = load_average();
        let cpu_before = process_cpu_seconds();
        let started = Instant::now();
        let progress = |e: &EpochReport| {
            if e.epoch.is_multiple_of(10) || e.epoch == e.epochs {
                eprintln!(
                    "[{label} fold {fold}] epoch {}/{} train loss {:.3} acc {:.3} | val loss {:.3} acc {:.3} | {:.0}s",
                    e.epoch,
                    e.epochs,
                    e.train_loss,
                    e.train_accuracy,
                    e.val_loss,
                    e.val_accuracy,
                    e.elapsed.as_secs_f64()
                );
            }
        };
        let mut calibration = serde_json::Value::Null;
        let report = if train_fraction < 1.0 {
            thinned_fold(
                &config,
                &images,
                (folds, fold_seed, fold),
                train_fraction,
                progress,
                &mut calibration,
            )?
        } else {
            cross_validate_fold(&config, &images, folds, fold_seed, fold, progress)?
        };
        let wall = started.elapsed().as_secs_f64();
        let cpu = match (cpu_before, process_cpu_seconds()) {
            (Some(a), Some(b)) => b - a,
            _ => f64::NAN,
        };
        let line = serde_json::json!({
            "label": label,
            "fold": fold,
            "folds": folds,
            "train_fraction": train_fraction,
            "train_images": report.train_images,
            "fold_seed": fold_seed,
            "validation_accuracy": report.validation_accuracy,
            "validation_loss": report.validation_loss,
            "validation_accuracy_other_flip": report.validation_accuracy_other_flip,
            "validation_images": report.validation_images,
            "confidence_threshold": threshold,
            "confident_fraction": report.confident_fraction(threshold),
            "wall_seconds": (wall * 10.0).round() / 10.0,
            "cpu_seconds": (cpu * 10.0).round() / 10.0,
            "load_before": load_before,
            "load_after": load_average(),
            "config": config,
            "calibration": calibration,
        });
        emit(&line, log.as_deref())?;
        accuracies.push(f64::from(report.validation_accuracy));
        oof_logits.extend_from_slice(&report.validation_logits);
        oof_labels.extend_from_slice(&report.validation_labels);
    }
    if let Some(path) = &oof_out {
        let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
        for (logits, label) in oof_logits.iter().zip(&oof_labels) {
            writeln!(
                file,
                "{}",
                serde_json::json!({"logits": logits, "label": label})
            )?;
        }
        file.flush()?;
    }
    // Every image held out once: the pooled out-of-fold predictions of the whole training
    // set, what `TrainConfig::out_of_fold_calibration` is fitted on.
    if let Some(mut fit) = fit_temperature(&oof_logits, &oof_labels) {
        fit.fitted_on = FittedOn::OutOfFold { folds };
        let measures = |t: f64| {
            let labelled: Vec<Labelled> = oof_logits
                .iter()
                .zip(&oof_labels)
                .map(|(l, &label)| Labelled {
                    scores: probabilities(*l, t),
                    label: if label == 0 {
                        Class::Bicycle
                    } else {
                        Class::Motorcycle
                    },
                })
                .collect();
            let cal = Calibration::of(&labelled);
            let at = Decisions::at(&labelled, f64::from(threshold));
            serde_json::json!({
                "ece": cal.ece, "nll": cal.nll, "brier": cal.brier,
                "coverage": at.coverage(), "accepted_accuracy": at.accepted_accuracy(),
            })
        };
        // The model-output half of a final fit's drift baseline (TrainConfig's
        // `out_of_fold_outputs`): the calibrated predictions' confidence and class mix.
        let mut outputs = Profile::default();
        for logits in &oof_logits {
            outputs.add_scores(probabilities(*logits, fit.temperature));
        }
        let out_of_fold_outputs = OutOfFoldOutputs {
            folds,
            data_fingerprint: scones_model::fingerprint::of_images(&images),
            confidence: outputs.confidence,
            predicted: outputs.predicted,
        };
        let line = serde_json::json!({
            "label": label,
            "pooled_out_of_fold": oof_labels.len(),
            "out_of_fold_outputs": out_of_fold_outputs,
            "temperature": fit.temperature,
            "calibration": fit,
            "threshold": threshold,
            "raw": measures(1.0),
            "calibrated": measures(fit.temperature),
        });
        emit(&line, log.as_deref())?;
    }
    let n = accuracies.len() as f64;
    let mean = accuracies.iter().sum::<f64>() / n;
    eprintln!("[{label}] mean validation accuracy {mean:.4} over {n} fold(s)");
    Ok(())
}

/// Prints `line` and appends it to the log file, if any.
fn emit(line: &serde_json::Value, log: Option<&std::path::Path>) -> std::io::Result<()> {
    println!("{line}");
    if let Some(path) = log {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        writeln!(file, "{line}")?;
    }
    Ok(())
}

/// One fold trained on a stratified `fraction` of its training part, the rest of that part
/// held out to calibrate (exactly what `train` does with `validation_fraction` 1 - fraction),
/// and scored on the whole held-out fold, with the public API only. `calibration` receives
/// the temperature and the fold's calibration and decision measures, raw and calibrated.
fn thinned_fold(
    config: &TrainConfig,
    images: &[LabeledImage],
    (folds, fold_seed, fold): (usize, u64, usize),
    fraction: f64,
    on_epoch: impl FnMut(&EpochReport),
    calibration: &mut serde_json::Value,
) -> Result<FoldReport, Box<dyn std::error::Error>> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(format!("--train-fraction must be within (0, 1), got {fraction}").into());
    }
    let splits = split::k_fold(images, folds, fold_seed)?;
    let this = splits.get(fold).ok_or("no such fold")?;
    let pick = |indices: &[usize]| -> Vec<LabeledImage> {
        indices
            .iter()
            .filter_map(|&i| images.get(i).cloned())
            .collect()
    };
    let part = pick(&this.train);
    let validation = pick(&this.validation);
    let holdout = TrainConfig {
        validation_fraction: 1.0 - fraction,
        ..config.clone()
    };
    let model = train(&holdout, &part, on_epoch)?;
    let classifier = model.classifier();
    let shipped = evaluate(classifier, &validation)?;
    let other = evaluate(
        &classifier
            .clone()
            .with_test_time_flip(!classifier.test_time_flip()),
        &validation,
    )?;
    let measures =
        |c: &scones_model::Classifier| -> Result<serde_json::Value, scones_model::ModelError> {
            let labelled = validation
                .iter()
                .map(|v| {
                    let [b, m] = c.predict_image(&v.image)?;
                    Ok(Labelled {
                        scores: [f64::from(b), f64::from(m)],
                        label: v.label,
                    })
                })
                .collect::<Result<Vec<_>, scones_model::ModelError>>()?;
            let cal = Calibration::of(&labelled);
            let at = Decisions::at(&labelled, 0.93);
            Ok(serde_json::json!({
                "ece": cal.ece, "nll": cal.nll, "brier": cal.brier,
                "coverage_093": at.coverage(),
                "accepted_accuracy_093": at.accepted_accuracy(),
            }))
        };
    *calibration = serde_json::json!({
        "temperature": model.metadata().calibration.as_ref().map(|c| c.temperature),
        "calibration_images": model.metadata().validation_images,
        "raw": measures(&classifier.clone().with_temperature(1.0))?,
        "calibrated": measures(classifier)?,
    });
    let train_images_count = model.metadata().train_images;
    let held_out: Vec<_> = validation.iter().map(|v| v.image.clone()).collect();
    let validation_confidences = classifier
        .predict_batch(&held_out)?
        .iter()
        .map(|p| p[0].max(p[1]))
        .collect();
    let validation_logits = held_out
        .iter()
        .map(|image| classifier.logits(image))
        .collect::<Result<Vec<_>, _>>()?;
    let validation_labels = validation.iter().map(|v| v.label.index()).collect();
    Ok(FoldReport {
        fold,
        validation_accuracy: shipped.accuracy as f32,
        validation_loss: f32::NAN,
        validation_accuracy_other_flip: other.accuracy as f32,
        train_images: train_images_count,
        validation_images: validation.len(),
        elapsed: std::time::Duration::from_secs_f64(model.metadata().training_seconds),
        validation_confidences,
        validation_logits,
        validation_labels,
    })
}
