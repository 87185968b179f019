//! `scones stage`: build the bucket layout (train/, test/, train.lst, test.lst).

mod local;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{BackendArgs, GlobalArgs};

#[derive(Debug, Args)]
pub struct StageArgs {
    #[command(flatten)]
    pub backend: BackendArgs,
    /// The CIFAR-100 python archive (cifar-100-python.tar.gz).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["images", "synthetic"])]
    pub cifar: Option<PathBuf>,
    /// A folder with train/ and test/ PNGs (needs --labels).
    #[arg(
        long,
        value_name = "DIR",
        requires = "labels",
        conflicts_with = "synthetic"
    )]
    pub images: Option<PathBuf>,
    /// CSV with columns split,filename,label (label 0 bicycle, 1 motorcycle).
    #[arg(long, value_name = "CSV", requires = "images")]
    pub labels: Option<PathBuf>,
    /// Stage a generated, clearly labelled synthetic dataset instead of CIFAR-100.
    #[arg(long)]
    pub synthetic: bool,
    /// Do nothing when data is already staged.
    #[arg(long)]
    pub if_missing: bool,
}

pub fn run(global: &GlobalArgs, args: StageArgs) -> anyhow::Result<ExitCode> {
    local::run(global, &args)
}
