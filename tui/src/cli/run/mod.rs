//! `scones run`: start executions of the workflow.

mod aws;
mod local;
mod print;

use std::process::ExitCode;

use clap::Args;

use super::aws_stack::AwsStackArgs;
use super::{BackendArgs, GlobalArgs};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["key", "random"])))]
pub struct RunArgs {
    #[command(flatten)]
    pub backend: BackendArgs,
    #[command(flatten)]
    pub stack: AwsStackArgs,
    /// Classify this object of the bucket (e.g. test/bicycle_s_000513.png); repeatable.
    #[arg(long, value_name = "KEY")]
    pub key: Vec<String>,
    /// Classify N images drawn at random from the staged test split.
    #[arg(long, value_name = "N")]
    pub random: Option<usize>,
    /// Executions running at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: u32,
    /// FilterLowConfidence threshold in (0, 1].
    #[arg(long, default_value = "0.93")]
    pub threshold: scones_handlers::Threshold,
    /// Print only the summary, not one line per execution.
    #[arg(long, short)]
    pub quiet: bool,
    /// Do not write endpoint data capture.
    #[arg(long)]
    pub no_capture: bool,
}

pub fn run(global: &GlobalArgs, args: RunArgs) -> anyhow::Result<ExitCode> {
    if args.backend.aws {
        aws::run(global, &args)
    } else {
        local::run(global, &args)
    }
}
