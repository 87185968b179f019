//! `scones train`: train the classifier (locally on the staged train split and the reviewed
//! images, as a new version, or the SageMaker training job with `--aws`).

#[cfg(feature = "aws")]
mod aws;
mod local;

use std::process::ExitCode;

use clap::Args;

#[cfg(feature = "aws")]
use super::aws_stack;
use super::{BackendArgs, GlobalArgs, on_aws};

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Passes over the training data (default: the model's tuned setting).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Seed for the holdout split, initialisation, shuffling and augmentation.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Width (channels of the first layer) of the network (default: the model's setting).
    #[arg(long)]
    pub width: Option<usize>,
    /// Fraction of the train split held out (stratified) to validate on, 0 to train on
    /// every image (a final fit; then measure it with `scones eval`). Default: the model's
    /// tuned setting.
    #[arg(long, value_name = "FRACTION")]
    pub holdout: Option<f64>,
    /// Do nothing when a trained model exists already.
    #[arg(long)]
    pub if_missing: bool,
    /// Train on train/ alone, not on the images people labelled in review.
    #[arg(long)]
    pub no_reviewed: bool,
    /// With --aws: the training job spec JSON (Terraform's `training_job_spec` output), or
    /// `-` to read it from stdin.
    #[arg(long, value_name = "JSON", requires = "aws")]
    pub job_spec: Option<String>,
    /// With --aws: seconds between job status polls.
    #[arg(long, default_value_t = 30, requires = "aws")]
    pub poll_seconds: u64,
}

pub fn run(global: &GlobalArgs, args: TrainArgs) -> anyhow::Result<ExitCode> {
    if args.backend.aws {
        on_aws!(aws::run(global, &args, aws_stack::target(&args.backend)))
    } else {
        local::run(global, &args)
    }
}
