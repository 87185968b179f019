//! `scones train --local`: train on the local bucket's train split, save under models/.

use crate::cli::output::{errln, outln};
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use scones_local::training::TrainOptions;
use scones_local::{Home, stage, training};
use scones_model::TrainConfig;

use super::TrainArgs;
use crate::cli::GlobalArgs;
use crate::cli::progress::synthetic_banner;

pub fn run(global: &GlobalArgs, args: &TrainArgs) -> anyhow::Result<ExitCode> {
    // Nothing staged, nothing to train: a new home stays as it was (the models directory is
    // created when a model is saved).
    let home = Home::locate(global.home.as_deref())?;
    let bucket = home.bucket();
    if args.if_missing
        && let Some(dir) = training::existing_serving_model(&bucket)?
    {
        outln!("a model exists already ({}); skipping", dir.display())?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(manifest) = stage::read_manifest(&bucket)?
        && manifest.synthetic
    {
        synthetic_banner(manifest.synthetic_reason.as_deref());
    }
    let mut config = TrainConfig::default();
    // The shipped calibration and drift baseline were measured on the default recipe's
    // out-of-fold predictions; another width or length is another recipe, whose numbers
    // nobody measured: its final fit serves raw probabilities and judges inputs only.
    if args.epochs.is_some_and(|e| e != config.epochs)
        || args.width.is_some_and(|w| w != config.width)
    {
        config.out_of_fold_calibration = None;
        config.out_of_fold_outputs = None;
        errln!(
            "note: a changed --epochs/--width has no out-of-fold calibration or output \
             baseline (run tui/model's cv_model for them): probabilities are served raw"
        );
    }
    if let Some(epochs) = args.epochs {
        config.epochs = epochs;
    }
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    if let Some(width) = args.width {
        config.width = width;
    }
    if let Some(holdout) = args.holdout {
        config.validation_fraction = holdout;
    }
    let bar = ProgressBar::new(config.epochs as u64).with_style(
        ProgressStyle::with_template("training [{bar:30}] epoch {pos}/{len} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let options = TrainOptions {
        reviewed: !args.no_reviewed,
        threshold: home.settings()?.threshold(None).value(),
    };
    let trained = training::train_staged(&bucket, &config, &options, |epoch| {
        let mut line = format!(
            "loss {:.3} acc {:.3}",
            epoch.train_loss, epoch.train_accuracy
        );
        // A final fit holds nothing out: its validation numbers are NaN, not worth a column.
        if epoch.val_accuracy.is_finite() {
            line.push_str(&format!(
                " | val loss {:.3} acc {:.3}",
                epoch.val_loss, epoch.val_accuracy
            ));
        }
        bar.set_position(epoch.epoch as u64);
        bar.set_message(line.clone());
        // Bars are hidden when stderr is not a terminal; keep a plain trace in logs.
        tracing::info!(epoch = epoch.epoch, epochs = epoch.epochs, "{line}");
    })
    .context("training failed")?;
    bar.finish_and_clear();
    let meta = trained.model.metadata();
    outln!(
        "trained {} in {:.1} s",
        meta.architecture,
        meta.training_seconds
    )?;
    if meta.validation_images > 0 {
        outln!(
            "  validation accuracy {:.3} on {} held-out images ({} trained on)",
            meta.validation_accuracy,
            meta.validation_images,
            meta.train_images
        )?;
    } else {
        outln!(
            "  final fit on all {} images, nothing held out: measure it with `scones eval --local`",
            meta.train_images
        )?;
    }
    let v = &trained.version;
    outln!(
        "  version {} trained on {} images of train/ and {} reviewed images",
        v.version,
        v.trained_on.base,
        v.trained_on.reviewed
    )?;
    for (set, m) in [("test/", &v.test), ("production validation", &v.production)] {
        match m {
            Some(m) => outln!(
                "  {set}: accuracy {:.3} on {} images, ECE {:.3}, coverage {:.1}% at {}",
                m.accuracy,
                m.images,
                m.ece,
                m.coverage * 100.0,
                v.threshold
            )?,
            None => outln!("  {set}: no images")?,
        }
    }
    outln!("  saved to {}", trained.dir.display())?;
    if trained.serving {
        outln!("  it serves now (the first model of this home)")?;
    } else {
        outln!(
            "  a candidate: compare with `scones models`, serve it with `scones promote {}`",
            v.version
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
