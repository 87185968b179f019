//! `scones eval`: how good the model's decisions are on a labelled set. The local model on
//! the staged test split (or a labelled folder), or `--aws`: the deployed endpoint on the
//! bucket's `test.lst`, through InvokeEndpoint. Reports accuracy, precision, recall and the
//! confusion matrix; calibration (ECE, NLL, Brier, the reliability table); and the
//! risk-coverage table, the configured threshold's row marked. The last line is always
//! `accuracy: 0.xxx`; `--json` prints the same report for machines.

mod predictions;
mod report;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use scones_workflow::Threshold;

pub use predictions::score;
pub use report::EvalReport;

use super::aws_stack::AwsStackArgs;
use super::{BackendArgs, GlobalArgs};

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
}

pub fn run(global: &GlobalArgs, args: EvalArgs) -> anyhow::Result<ExitCode> {
    let scored = score(
        global,
        &args.backend,
        &args.stack,
        &args.data,
        args.threshold,
    )?;
    let report = EvalReport::of(&scored);
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{report}")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
