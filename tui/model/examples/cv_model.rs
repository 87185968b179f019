//! Model selection by k-fold cross-validation on the shared train split (test/ is never read).
//!
//! Usage: `cv_model --config CONFIG.json [--label NAME] [--folds 5] [--fold-seed 1]
//!         [--fold I] [--log FILE]`
//!
//! Every configuration is scored on the same folds (same `--fold-seed`), so two configurations
//! are compared image by image. `--fold I` runs one fold only (to spread folds over processes);
//! `--log` appends one JSON line per fold (label, config, accuracy, loss, wall and CPU time,
//! load average), the record behind the configuration log.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use scones_model::{TrainConfig, cross_validate_fold, load_split};

fn shared_data_dir() -> PathBuf {
    std::env::var_os("SCONES_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/cifar100-bikes")
        })
}

/// CPU time of this process in seconds, all threads (Linux `/proc/self/stat` utime + stime).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut config = TrainConfig::default();
    let mut label = String::from("default");
    let (mut folds, mut fold_seed) = (5usize, 1u64);
    let mut only: Option<usize> = None;
    let mut log: Option<PathBuf> = None;
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--config" => config = serde_json::from_slice(&std::fs::read(value()?)?)?,
            "--label" => label = value()?,
            "--folds" => folds = value()?.parse()?,
            "--fold-seed" => fold_seed = value()?.parse()?,
            "--fold" => only = Some(value()?.parse()?),
            "--log" => log = Some(value()?.into()),
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
    for fold in which {
        let load_before = load_average();
        let cpu_before = process_cpu_seconds();
        let started = Instant::now();
        let report = cross_validate_fold(&config, &images, folds, fold_seed, fold, |e| {
            if e.epoch % 10 == 0 || e.epoch == e.epochs {
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
        })?;
        let wall = started.elapsed().as_secs_f64();
        let cpu = match (cpu_before, process_cpu_seconds()) {
            (Some(a), Some(b)) => b - a,
            _ => f64::NAN,
        };
        let line = serde_json::json!({
            "label": label,
            "fold": fold,
            "folds": folds,
            "fold_seed": fold_seed,
            "validation_accuracy": report.validation_accuracy,
            "validation_loss": report.validation_loss,
            "validation_accuracy_other_flip": report.validation_accuracy_other_flip,
            "validation_images": report.validation_images,
            "wall_seconds": (wall * 10.0).round() / 10.0,
            "cpu_seconds": (cpu * 10.0).round() / 10.0,
            "load_before": load_before,
            "load_after": load_average(),
            "config": config,
        });
        println!("{line}");
        if let Some(path) = &log {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            writeln!(file, "{line}")?;
        }
        accuracies.push(f64::from(report.validation_accuracy));
    }
    let n = accuracies.len() as f64;
    let mean = accuracies.iter().sum::<f64>() / n;
    eprintln!("[{label}] mean validation accuracy {mean:.4} over {n} fold(s)");
    Ok(())
}
