//! `scones review`: the images waiting for a person (`list`), a label (`label KEY CLASS`),
//! labels from an external tool (`import FILE.csv`, columns `key,label`) and every current
//! label (`export`). Labels are append-only records under `review/` in the bucket.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use scones_workflow::port::Backend;
use scones_workflow::review::{NewLabel, ReviewItem, ReviewReason, Verdict, parse_csv};

use super::GlobalArgs;
use super::control::{OnBackend, Target, dispatch};
use crate::cli::output::{errln, outln};

/// The largest CSV `import` reads (a million labels are ~60 MB).
const MAX_CSV_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Debug, Args)]
pub struct ReviewArgs {
    #[command(subcommand)]
    pub action: ReviewAction,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Debug, Subcommand)]
pub enum ReviewAction {
    /// The images waiting for a person, oldest first.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// As JSON (the whole queue report).
        #[arg(long)]
        json: bool,
    },
    /// Label one image: bicycle, motorcycle or unsure.
    Label {
        /// The image's key, as `list` shows it.
        key: String,
        /// bicycle, motorcycle or unsure.
        label: Verdict,
    },
    /// Labels from a CSV with the columns `key,label` (an external labelling tool); nothing
    /// is imported unless every line reads and every key is an image of the bucket.
    Import {
        /// The CSV file.
        file: PathBuf,
    },
    /// Every image's current label as CSV (`key,label,who,at,reason,model`).
    Export,
}

pub fn run(global: &GlobalArgs, args: ReviewArgs) -> anyhow::Result<ExitCode> {
    let readonly = matches!(
        args.action,
        ReviewAction::List { .. } | ReviewAction::Export
    );
    dispatch(global, &args.target, readonly, Review(args.action))
}

struct Review(ReviewAction);

impl OnBackend for Review {
    async fn run<B: Backend>(self, backend: Arc<B>) -> anyhow::Result<ExitCode> {
        match self.0 {
            ReviewAction::List { limit, json } => list(backend.as_ref(), limit, json).await,
            ReviewAction::Label { key, label } => {
                let queued = queued(backend.as_ref()).await?;
                let record = backend.label(new_label(key, label, &queued)).await?;
                outln!(
                    "{}: {} (by {}, queued as {})",
                    record.key,
                    record.label,
                    record.who,
                    record.reason
                )?;
                Ok(ExitCode::SUCCESS)
            }
            ReviewAction::Import { file } => import(backend.as_ref(), &file).await,
            ReviewAction::Export => export(backend.as_ref()).await,
        }
    }
}

async fn list<B: Backend>(backend: &B, limit: usize, json: bool) -> anyhow::Result<ExitCode> {
    let queue = backend.review_queue(limit).await?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&queue)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    for item in &queue.items {
        let scores = item
            .scores
            .map_or("-".to_owned(), |[b, m]| format!("{b:.4} {m:.4}"));
        outln!(
            "{}\t{}\t{}\t{}\t{}",
            item.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            item.reason,
            scores,
            item.model.as_deref().unwrap_or("-"),
            super::run::print::escaped(&item.key)
        )?;
    }
    if queue.unreadable > 0 {
        errln!(
            "warning: {} unreadable lines in the label files were skipped",
            queue.unreadable
        );
    }
    outln!(
        "waiting: {} ({} listed) · answered: {} ({} in the last hour)",
        queue.waiting,
        queue.items.len(),
        queue.answered,
        queue.answered_last_hour
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Every queued image by key.
async fn queued<B: Backend>(backend: &B) -> anyhow::Result<HashMap<String, ReviewItem>> {
    Ok(backend
        .review_queue(usize::MAX)
        .await?
        .items
        .into_iter()
        .map(|i| (i.key.clone(), i))
        .collect())
}

/// The label of `key`, with what the queue knows about it (an image not queued is labelled
/// as an import).
fn new_label(key: String, label: Verdict, queued: &HashMap<String, ReviewItem>) -> NewLabel {
    let item = queued.get(&key);
    NewLabel {
        reason: item.map_or(ReviewReason::Import, |i| i.reason),
        model: item.and_then(|i| i.model.clone()),
        scores: item.and_then(|i| i.scores),
        execution: item.and_then(|i| i.execution.clone()),
        key,
        label,
    }
}

async fn import<B: Backend>(backend: &B, file: &std::path::Path) -> anyhow::Result<ExitCode> {
    let text = scones_workflow::input::read_text(file, MAX_CSV_BYTES)
        .with_context(|| format!("cannot import {}", file.display()))?;
    let rows = match parse_csv(&text) {
        Ok(rows) => rows,
        Err(errors) => {
            for e in &errors {
                errln!("{}: {e}", file.display());
            }
            anyhow::bail!(
                "{}: {} bad line(s); nothing imported",
                file.display(),
                errors.len()
            );
        }
    };
    let queued = queued(backend).await?;
    let mut imported = 0usize;
    for (i, (key, label)) in rows.into_iter().enumerate() {
        match backend.label(new_label(key.clone(), label, &queued)).await {
            Ok(_) => imported += 1,
            Err(e) => {
                // Earlier rows are recorded (labels are never lost); say where it stopped.
                anyhow::bail!(
                    "{}: row {} ({key}): {e}; {imported} label(s) imported before it",
                    file.display(),
                    i + 2
                );
            }
        }
    }
    outln!("imported {imported} label(s) from {}", file.display())?;
    Ok(ExitCode::SUCCESS)
}

async fn export<B: Backend>(backend: &B) -> anyhow::Result<ExitCode> {
    let labels = backend.labels().await?;
    outln!("key,label,who,at,reason,model")?;
    for r in labels {
        outln!(
            "{},{},{},{},{},{}",
            csv_field(&r.key),
            r.label,
            csv_field(&r.who),
            r.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            r.reason,
            csv_field(r.model.as_deref().unwrap_or(""))
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A CSV field, quoted when it must be.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}
