//! Command-line interface: global options, the subcommands, and dispatch.
//!
//! Each command is a module (`stage/`, `train/`, ...). A command's `mod.rs` holds its
//! arguments and picks the backend; each backend's part sits beside it (`local.rs`,
//! `aws.rs`). `--local` is the default backend. Only `dashboard.rs` and `dashboard_aws.rs`
//! use the dashboard (the library's `scones::dashboard`); no other command does.

mod aws_stack;
mod baseline;
mod control;
mod dashboard;
#[cfg(feature = "aws")]
mod dashboard_aws;
mod drift;
mod eval;
mod gc;
mod guard;
mod history;
mod models;
pub mod output;
pub mod progress;
mod review;
mod run;
mod serve;
mod stage;
mod threshold;
mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// `scones --version`: the version, and whether this build can talk to AWS (the scripts
/// look here to tell the two builds apart).
const VERSION: &str = if cfg!(feature = "aws") {
    env!("CARGO_PKG_VERSION")
} else {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (local stack only: without the `aws` feature)"
    )
};

/// Scones Unlimited: classify bicycles and motorcycles with a Step Functions workflow, on
/// this machine (the default) or on AWS.
#[derive(Debug, Parser)]
#[command(name = "scones", version = VERSION, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// No command: open the dashboard (`scones dashboard` with its defaults).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Directory holding all local state (bucket, models, execution store). Default:
    /// $SCONES_HOME if set and not empty, else the XDG data directory, e.g.
    /// ~/.local/share/scones.
    // Not clap's `env`: it refuses an empty SCONES_HOME ("a value is required"), where an
    // empty variable means unset to a shell user; `Home::locate` reads it.
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// More log output on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Which backend a command runs against. Local is the default.
#[derive(Debug, Clone, Args)]
pub struct BackendArgs {
    /// Run against the local stack on this machine (the default).
    #[arg(long, conflicts_with = "aws")]
    pub local: bool,
    /// Run against AWS: credentials and region from the standard chain (AWS_PROFILE, SSO,
    /// environment), or --profile / --region. AWS_ENDPOINT_URL points it at an emulator.
    #[arg(long)]
    pub aws: bool,
    /// AWS profile to use (with --aws).
    #[arg(long, requires = "aws", value_name = "NAME")]
    pub profile: Option<String>,
    /// AWS region to use (with --aws).
    #[arg(long, requires = "aws", value_name = "REGION")]
    pub region: Option<String>,
}

/// What every `--aws` command answers in a build without the `aws` feature: one line, with
/// how to get it. (`--aws` and its options still parse there, so the help reads the same and
/// the answer is this line rather than "unexpected argument".)
pub fn without_aws() -> anyhow::Error {
    anyhow::anyhow!(
        "this scones was built for the local stack only (without the `aws` feature): \
         `scripts/dashboard.sh --aws` builds it with AWS, as does `cargo install --path tui` \
         or `cargo build -p scones`"
    )
}

/// What `--threshold` with `--aws` answers (`run`, `dashboard`): on AWS the threshold is
/// Terraform's, and this says how to set `threshold` there.
fn threshold_is_local(threshold: scones_workflow::Threshold) -> anyhow::Error {
    anyhow::anyhow!(
        "--threshold is a local setting: on AWS the threshold is the filter function's \
         THRESHOLD environment variable, set by Terraform's `{}` variable ({})",
        scones_workflow::threshold::TERRAFORM_VARIABLE,
        threshold.terraform_apply()
    )
}

/// `on_aws!(expr)`: `expr` (a `Result` whose error converts from anyhow's) in a build with
/// the `aws` feature, [`without_aws`] in one without. The expression is not compiled there, so
/// the AWS part of a command is written once, behind this, beside its local part.
macro_rules! on_aws {
    ($e:expr) => {{
        #[cfg(feature = "aws")]
        let result = $e;
        #[cfg(not(feature = "aws"))]
        let result = Err($crate::cli::without_aws().into());
        result
    }};
}
pub(crate) use on_aws;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The terminal dashboard (also what `scones` alone opens): watch and drive the
    /// workflow; sets up the local stack on first run.
    Dashboard(dashboard::DashboardArgs),
    /// Build the bucket's train/ and test/ splits and .lst files from CIFAR-100 (archive,
    /// labelled PNG folder, or download).
    Stage(stage::StageArgs),
    /// How good the model's decisions are on a labelled set: accuracy, calibration and the
    /// risk-coverage table; ends with `accuracy: 0.xxx`.
    Eval(eval::EvalArgs),
    /// The lowest confidence threshold whose accepted predictions reach a target accuracy,
    /// with its coverage and a 95% interval; `--save` makes it the local stack's.
    Threshold(threshold::ThresholdArgs),
    /// Start executions of the workflow; one line per execution, then a summary.
    Run(run::RunArgs),
    /// Whether the served model's traffic still looks like its baseline: each statistic's
    /// PSI, Kolmogorov-Smirnov test and verdict over windows of captured inferences (local,
    /// or `--aws`: the monitor-drift function's latest report);
    /// ends with `drift: OK|WARN|ALERT|NOT ENOUGH DATA`.
    Drift(drift::DriftArgs),
    /// The deployed endpoint's drift baseline (`--aws`): input statistics of the training
    /// images, output statistics of a held-out set; written where monitor-drift reads it.
    Baseline(baseline::BaselineArgs),
    /// Remove old executions from the local stack (default: older than 90 days, as the
    /// service keeps history), with their events, unused payloads, metrics and capture.
    Gc(gc::GcArgs),
    /// One local execution's history as `aws stepfunctions get-execution-history` prints it
    /// (JSON, every event whole).
    History(history::HistoryArgs),
    /// Train the model: locally on the staged train split and the reviewed images (CPU), a
    /// new version under models/ (the first one serves; later ones are candidates);
    /// `--aws`: run the SageMaker training job Terraform specifies.
    Train(train::TrainArgs),
    /// The guard: whether decisions are held while drift is ALERT (since when, why), and an
    /// operator's release, engage or mode (hold, warn, off).
    Guard(guard::GuardArgs),
    /// The review queue and people's labels: list, label, import a CSV, export.
    Review(review::ReviewArgs),
    /// Every model version with its measures, which one serves, the promotions.
    Models(models::ModelsArgs),
    /// Serve a model version if it passes the gate (not worse on test/, better on the
    /// reviewed held-out images); `--force` overrides (recorded).
    Promote(models::PromoteArgs),
    /// Serve again the version served before the current one.
    Rollback(models::RollbackArgs),
    /// The local model answering inference requests on stdin/stdout (what the AWS
    /// emulator's InvokeEndpoint runs; not for people).
    #[command(hide = true)]
    Serve(serve::ServeArgs),
}

impl Command {
    /// The backend options of the command, if it runs against a backend.
    fn backend(&self) -> Option<&BackendArgs> {
        match self {
            Command::Dashboard(args) => Some(&args.backend),
            Command::Stage(args) => Some(&args.backend),
            Command::Train(args) => Some(&args.backend),
            Command::Eval(args) => Some(&args.backend),
            Command::Threshold(args) => Some(&args.backend),
            Command::Run(args) => Some(&args.backend),
            Command::Drift(args) => Some(&args.backend),
            Command::Baseline(args) => Some(&args.backend),
            Command::Guard(args) => Some(&args.target.backend),
            Command::Review(args) => Some(&args.target.backend),
            Command::Models(args) => Some(&args.target.backend),
            Command::Promote(args) => Some(&args.target.backend),
            Command::Rollback(args) => Some(&args.target.backend),
            Command::Gc(_) | Command::History(_) | Command::Serve(_) => None,
        }
    }
}

/// The async runtime of a command that talks to a backend (every such command builds the
/// same one).
fn async_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context as _;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Runs the parsed command; the exit code says whether it succeeded.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let Some(command) = cli.command else {
        return dashboard::run(&cli.global, dashboard::DashboardArgs::defaults()?);
    };
    // Before anything else the command would do (a terminal check, reading a home).
    if !cfg!(feature = "aws") && command.backend().is_some_and(|backend| backend.aws) {
        return Err(without_aws());
    }
    match command {
        Command::Dashboard(args) => dashboard::run(&cli.global, args),
        Command::Stage(args) => stage::run(&cli.global, args),
        Command::Train(args) => train::run(&cli.global, args),
        Command::Eval(args) => eval::run(&cli.global, args),
        Command::Threshold(args) => threshold::run(&cli.global, args),
        Command::Run(args) => run::run(&cli.global, args),
        Command::Drift(args) => drift::run(&cli.global, args),
        Command::Baseline(args) => baseline::run(args),
        Command::Gc(args) => gc::run(&cli.global, args),
        Command::History(args) => history::run(&cli.global, args),
        Command::Guard(args) => guard::run(&cli.global, args),
        Command::Review(args) => review::run(&cli.global, args),
        Command::Models(args) => models::list(&cli.global, args),
        Command::Promote(args) => models::promote(&cli.global, args),
        Command::Rollback(args) => models::rollback(&cli.global, args),
        Command::Serve(args) => serve::run(&cli.global, args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command's arguments are well formed (clap checks this only when a command is
    /// built, so a clash in one subcommand panics only when that subcommand runs).
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
