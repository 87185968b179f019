//! The model benchmark behind `scripts/bench-model.sh`: trains the shipped default
//! configuration on the shared train split, reports training time (wall and CPU) and
//! validation accuracy (none after a final fit, the shipped default),
//! evaluates on the test split (the only place test/ is used) and times single-PNG inference.
//!
//! Usage: `bench_model [--config CONFIG.json] [--skip-test] [--save DIR] [--iterations N]`
//!
//! `--config` overrides the default configuration (for hyper-parameter search, which must be
//! judged on the validation accuracy alone: pass `--skip-test` while searching).

#[path = "support/process.rs"]
mod process;

use std::path::PathBuf;
use std::time::Instant;

use process::{load_average, process_cpu_seconds, shared_data_dir};
use scones_model::calibration::probabilities;
use scones_model::{TrainConfig, TrainedModel, evaluate, load_split, train};
use scones_workflow::quality::{Calibration, Decisions, Labelled};

/// The workflow's default confidence threshold (`scones run --threshold`).
const CONFIDENCE_THRESHOLD: f32 = 0.93;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut config = TrainConfig::default();
    let mut skip_test = false;
    let mut save: Option<PathBuf> = None;
    let mut iterations = 2000usize;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => {
                let path = args.next().ok_or("--config needs a file")?;
                config = serde_json::from_slice(&std::fs::read(path)?)?;
            }
            "--skip-test" => skip_test = true,
            "--save" => save = Some(args.next().ok_or("--save needs a directory")?.into()),
            "--iterations" => iterations = args.next().ok_or("--iterations needs N")?.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }

    let root = shared_data_dir();
    let labels = root.join("labels.csv");
    let train_images = load_split(&root, &labels, "train")?;
    println!("config: {}", serde_json::to_string(&config)?);
    println!(
        "train split: {} images from {}",
        train_images.len(),
        root.display()
    );

    let started = Instant::now();
    let cpu_before = process_cpu_seconds();
    let model = train(&config, &train_images, |e| {
        println!(
            "epoch {:>3}/{} lr {:.4} train loss {:.4} acc {:.3} | val loss {:.4} acc {:.3} | {:.1}s",
            e.epoch,
            e.epochs,
            e.learning_rate,
            e.train_loss,
            e.train_accuracy,
            e.val_loss,
            e.val_accuracy,
            e.elapsed.as_secs_f64()
        )
    })?;
    let training_seconds = started.elapsed().as_secs_f64();
    println!("training time: {training_seconds:.1} s");
    if let (Some(before), Some(after)) = (cpu_before, process_cpu_seconds()) {
        println!("training CPU time (all threads): {:.1} s", after - before);
    }
    println!("load average after training: {}", load_average());
    let metadata = model.metadata();
    if metadata.validation_images == 0 {
        // A final fit holds nothing out; its estimate is the cross-validation that chose it.
        println!(
            "validation accuracy: none (final fit on all {} images; the 5-fold cross-validated \
             estimate of the configuration is in tui/model/SELECTION.md)",
            metadata.train_images
        );
    } else {
        println!(
            "validation accuracy: {:.3} ({} held-out images)",
            metadata.validation_accuracy, metadata.validation_images
        );
    }

    let model = match save {
        Some(dir) => {
            model.save(&dir)?;
            TrainedModel::load(&dir)?
        }
        None => model,
    };

    // Latency with the saved setting (the endpoint's default) and with the other one, so the
    // accuracy/latency trade-off of flip averaging is visible.
    let shipped = model.classifier().clone();
    let other = shipped
        .clone()
        .with_test_time_flip(!shipped.test_time_flip());
    let png = first_test_png(&root)?;
    for classifier in [&other, &shipped] {
        time_inference(classifier, &png, iterations)?;
    }

    if skip_test {
        println!("test split skipped (--skip-test)");
    } else {
        let test_images = load_split(&root, &labels, "test")?;
        println!("test split: {} images", test_images.len());
        let other_eval = evaluate(&other, &test_images)?;
        println!(
            "test accuracy with test_time_flip={}: {:.3}",
            other.test_time_flip(),
            other_eval.accuracy
        );
        // What the workflow's confidence filter would do with these images, and how honest
        // the confidences are (informational: never a selection criterion, this is test/).
        let decoded: Vec<_> = test_images.iter().map(|i| i.image.clone()).collect();
        let probs = shipped.predict_batch(&decoded)?;
        let labelled: Vec<Labelled> = probs
            .iter()
            .zip(&test_images)
            .map(|(p, example)| Labelled {
                scores: p.map(f64::from),
                label: example.label,
            })
            .collect();
        let at = Decisions::at(&labelled, f64::from(CONFIDENCE_THRESHOLD));
        println!(
            "at threshold {CONFIDENCE_THRESHOLD}: accepted {}/{} ({:.1}%), accuracy of accepted {}",
            at.accepted,
            at.total,
            100.0 * at.coverage(),
            at.accepted_accuracy()
                .map_or("-".to_owned(), |a| format!("{a:.3}"))
        );
        let calibration = Calibration::of(&labelled);
        println!(
            "calibration (temperature {:.3}): ECE {:.4} ({} bins on [0.5, 1]), NLL {:.4}, Brier {:.4}",
            shipped.temperature(),
            calibration.ece,
            scones_workflow::quality::ECE_BINS,
            calibration.nll,
            calibration.brier
        );
        let raw: Vec<Labelled> = decoded
            .iter()
            .zip(&test_images)
            .map(|(image, example)| {
                let logits = shipped.logits(image)?;
                let p = probabilities(logits, 1.0);
                Ok(Labelled {
                    scores: p,
                    label: example.label,
                })
            })
            .collect::<Result<_, scones_model::ModelError>>()?;
        let raw_at = Decisions::at(&raw, f64::from(CONFIDENCE_THRESHOLD));
        println!(
            "uncalibrated (temperature 1): ECE {:.4}, accepted {:.1}% at {CONFIDENCE_THRESHOLD}",
            Calibration::of(&raw).ece,
            100.0 * raw_at.coverage()
        );
        println!(
            "shipped model (test_time_flip={}):",
            shipped.test_time_flip()
        );
        println!("{}", evaluate(&shipped, &test_images)?);
    }
    Ok(())
}

/// The first PNG of test/ by name: only its bytes are used, to time decoding + inference.
fn first_test_png(root: &std::path::Path) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let png_path = std::fs::read_dir(root.join("test"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .min()
        .ok_or("no PNG in test/")?;
    Ok(std::fs::read(&png_path)?)
}

/// Prints p50/p99 wall latency and CPU per call of `predict_png` on one PNG.
fn time_inference(
    classifier: &scones_model::Classifier,
    png: &[u8],
    iterations: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    // One PNG, decoded and classified from bytes each time, as the local endpoint does.
    for _ in 0..50 {
        classifier.predict_png(png)?;
    }
    let mut samples = Vec::with_capacity(iterations);
    let cpu_before = process_cpu_seconds();
    for _ in 0..iterations {
        let t = Instant::now();
        let probs = classifier.predict_png(png)?;
        samples.push(t.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(probs);
    }
    let cpu_per_call = match (cpu_before, process_cpu_seconds()) {
        (Some(before), Some(after)) => {
            format!("{:.3} ms", (after - before) * 1e3 / iterations as f64)
        }
        _ => "n/a".to_string(),
    };
    samples.sort_by(f64::total_cmp);
    println!(
        "inference test_time_flip={} (decode + forward, one 32x32 PNG, {iterations} runs): p50 {:.3} ms  p99 {:.3} ms  (CPU per call {cpu_per_call})",
        classifier.test_time_flip(),
        percentile(&samples, 0.5),
        percentile(&samples, 0.99)
    );
    Ok(())
}
