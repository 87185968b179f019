//! `scones eval`: score the current model on a labelled image set.

mod local;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{BackendArgs, GlobalArgs};

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub backend: BackendArgs,
    /// A folder with <split>/ PNGs (needs --labels). Default: the staged test split.
    #[arg(long, value_name = "DIR", requires = "labels")]
    pub images: Option<PathBuf>,
    /// CSV with columns split,filename,label.
    #[arg(long, value_name = "CSV", requires = "images")]
    pub labels: Option<PathBuf>,
    /// Which split of the CSV to score.
    #[arg(long, default_value = "test")]
    pub split: String,
}

pub fn run(global: &GlobalArgs, args: EvalArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        !args.backend.aws,
        "`scones eval --aws` is not available yet; `scones eval` runs locally"
    );
    local::run(global, &args)
}
