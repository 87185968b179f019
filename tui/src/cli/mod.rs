//! Command-line interface: global options, the subcommands, and dispatch.
//!
//! Each command is a module (`stage/`, `train/`, ...). A command's `mod.rs` holds its
//! arguments and picks the backend; the backend's code sits beside it (`local.rs`; an
//! `aws.rs` joins it when the AWS backend exists). `--local` is the default backend.

mod eval;
mod run;
mod stage;
mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Scones Unlimited: classify bicycles and motorcycles with a Step Functions workflow, on
/// this machine (the default) or on AWS.
#[derive(Debug, Parser)]
#[command(name = "scones", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Directory holding all local state (bucket, models, execution store). Default: the XDG
    /// data directory, e.g. ~/.local/share/scones.
    #[arg(long, global = true, env = "SCONES_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// More log output on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Which backend a command runs against. Local is the default (and, for now, the only one).
#[derive(Debug, Clone, Copy, Args)]
pub struct BackendArgs {
    /// Run against the local stack on this machine (the default).
    #[arg(long)]
    pub local: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the bucket's train/ and test/ splits and .lst files from CIFAR-100 (archive,
    /// labelled PNG folder, or download).
    Stage(stage::StageArgs),
    /// Evaluate the current model on a labelled image set; ends with `accuracy: 0.xxx`.
    Eval(eval::EvalArgs),
    /// Start executions of the workflow; one line per execution, then a summary.
    Run(run::RunArgs),
    /// Train the model: locally on the staged train split (CPU), saved under models/;
    /// `--aws`: run the SageMaker training job Terraform specifies.
    Train(train::TrainArgs),
}

/// Runs the parsed command; the exit code says whether it succeeded.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Stage(args) => stage::run(&cli.global, args),
        Command::Train(args) => train::run(&cli.global, args),
        Command::Eval(args) => eval::run(&cli.global, args),
        Command::Run(args) => run::run(&cli.global, args),
    }
}
