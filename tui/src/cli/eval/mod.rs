//! `scones eval`: how good the model's decisions are on a labelled set. The local model on
//! the staged test split (or a labelled folder), or `--aws`: the deployed endpoint on the
//! bucket's `test.lst`, through InvokeEndpoint. Reports accuracy, precision, recall and the
//! confusion matrix; calibration (ECE, NLL, Brier, the reliability table); and the
//! risk-coverage table, the configured threshold's row marked. The last line is always
//! `accuracy: 0.xxx`; `--json` prints the same report for machines.

mod predictions;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use scones_workflow::Threshold;

pub use predictions::score;
pub use report::EvalReport;

use super::aws_stack::AwsStackArgs;
use super::{BackendArgs, GlobalArgs};
use crate::cli::output::outln;

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub backend: BackendArgs,
    #[command(flatten)]
    pub stack: AwsStackArgs,
    #[command(flatten)]
    pub data: DataArgs,
    /// The threshold whose risk-coverage row is marked (default: the stack's own: the saved
    /// local threshold or 0.93; on AWS the deployed one).
    #[arg(long, allow_negative_numbers = true)]
    pub threshold: Option<Threshold>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Production quality instead, from people's review labels, per model version: the
    /// accepted decisions' accuracy estimated from the audit sample (with its 95% interval)
    /// and the reviewed refusals the model would have got right.
    #[arg(long, conflicts_with_all = ["images", "labels"])]
    pub production: bool,
}

/// Which labelled images to score (local).
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// A folder with <split>/ PNGs (needs --labels). Default: the staged test split.
    #[arg(long, value_name = "DIR", requires = "labels")]
    pub images: Option<PathBuf>,
    /// CSV with columns split,filename,label (read with `scones stage`'s checks).
    #[arg(long, value_name = "CSV", requires = "images")]
    pub labels: Option<PathBuf>,
    /// Which split to score.
    #[arg(long, default_value = "test", value_parser = ["train", "test"])]
    pub split: String,
    /// Score the images transformed as `scones run --perturb KIND` transforms traffic (in
    /// memory; nothing is written): how the model does under that shift. Local.
    #[arg(long, value_name = "KIND", value_parser = crate::cli::run::perturbation)]
    pub perturb: Option<scones_local::perturb::Perturbation>,
    /// Score this model version (`scones models` lists them; `latest` for the newest that
    /// does not serve) instead of the served one. Local.
    #[arg(long = "model", value_name = "VERSION")]
    pub model_version: Option<String>,
}

pub fn run(global: &GlobalArgs, args: EvalArgs) -> anyhow::Result<ExitCode> {
    if args.production {
        let target = super::control::Target {
            backend: args.backend.clone(),
            stack: args.stack.clone(),
        };
        return super::control::dispatch(global, &target, true, Production { json: args.json });
    }
    let scored = score(
        global,
        &args.backend,
        &args.stack,
        &args.data,
        args.threshold,
    )?;
    let report = EvalReport::of(&scored);
    // Through outln!: a closed pipe ends quietly (141), a full disk says "cannot write to stdout".
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        outln!("{report}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `scones eval --production`.
struct Production {
    json: bool,
}

impl super::control::OnBackend for Production {
    async fn run<B: scones_workflow::port::Backend>(
        self,
        backend: std::sync::Arc<B>,
    ) -> anyhow::Result<ExitCode> {
        let labels = backend.labels().await?;
        let versions = scones_workflow::review::production_quality(&labels);
        if self.json {
            outln!("{}", serde_json::to_string_pretty(&versions)?)?;
            return Ok(ExitCode::SUCCESS);
        }
        if versions.is_empty() {
            outln!(
                "no reviewed labels yet: label images in the dashboard's Review tab or with `scones review`"
            )?;
        }
        for v in &versions {
            let accepted = match v.accepted_accuracy() {
                Some((a, (lo, hi))) => format!(
                    "accepted decisions {:.1}% right [95% {:.1}-{:.1}] on {} audited",
                    a * 100.0,
                    lo * 100.0,
                    hi * 100.0,
                    v.audited
                ),
                None => "accepted decisions: none audited and labelled yet".to_owned(),
            };
            outln!("{}: {accepted}", v.model)?;
            if let Some(share) = v.refused_right_share() {
                outln!(
                    "  refused but right: {}/{} ({:.1}%) of the reviewed refusals",
                    v.refused_right,
                    v.refused,
                    share * 100.0
                )?;
            }
            if v.unsure > 0 {
                outln!("  unsure: {}", v.unsure)?;
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
