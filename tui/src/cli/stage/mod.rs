//! `scones stage`: build the bucket layout (train/, test/, train.lst, test.lst).

#[cfg(feature = "aws")]
mod aws;
mod local;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

#[cfg(feature = "aws")]
use super::aws_stack;
use super::{BackendArgs, GlobalArgs, on_aws};

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
    /// With --aws: the staged layout to upload (default: the local bucket in the home).
    #[arg(long, value_name = "DIR", requires = "aws")]
    pub from: Option<PathBuf>,
    /// With --aws: the S3 bucket to upload to (`terraform output -raw bucket_name`).
    #[arg(long, value_name = "NAME", requires = "aws")]
    pub bucket: Option<String>,
    /// With --aws: compare with the bucket and report, upload nothing.
    #[arg(long, requires = "aws")]
    pub dry_run: bool,
}

pub fn run(global: &GlobalArgs, args: StageArgs) -> anyhow::Result<ExitCode> {
    if args.backend.aws {
        on_aws!(aws::run(global, &args, aws_stack::target(&args.backend)))
    } else {
        local::run(global, &args)
    }
}
