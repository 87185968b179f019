//! `scones dashboard` (and `scones` with no command): the terminal dashboard.
//!
//! On the local stack, a home without staged data or a model is set up first (staged with
//! `scones stage`'s defaults, then trained, both with progress), so the one command works on
//! a fresh clone. The dashboard itself lives in the library (`scones::dashboard`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser};
use scones::dashboard::{self, RunOptions, config};
use scones_local::first_model::FirstModel;
use scones_local::training::TrainOptions;
use scones_local::{Home, LocalBackend, LocalOptions};
use scones_model::TrainConfig;
use scones_workflow::Threshold;

use super::aws_stack::AwsStackArgs;
use super::output::errln;
use super::stage::StageArgs;
use super::{BackendArgs, GlobalArgs};

#[derive(Debug, Args)]
pub struct DashboardArgs {
    #[command(flatten)]
    pub backend: BackendArgs,
    #[command(flatten)]
    pub stack: AwsStackArgs,
    /// Turn off the keys that change anything (t, T, s, r); never writes to the home.
    #[arg(long)]
    pub readonly: bool,
    /// Config file (default: $XDG_CONFIG_HOME/scones/dashboard.toml, if it exists).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// FilterLowConfidence threshold for executions started from the dashboard (default: the
    /// one saved with `scones threshold --save`, else 0.93).
    #[arg(long, allow_negative_numbers = true)]
    pub threshold: Option<Threshold>,
    /// Do not stage data or train a model when the home has none.
    #[arg(long)]
    pub no_setup: bool,
}

impl DashboardArgs {
    /// The arguments of a bare `scones`: every default.
    pub fn defaults() -> anyhow::Result<DashboardArgs> {
        #[derive(Parser)]
        struct Bare {
            #[command(flatten)]
            args: DashboardArgs,
        }
        Ok(Bare::try_parse_from(["scones"])?.args)
    }
}

/// Exit status when there is no terminal to draw on (a usage error, as clap's).
const EXIT_NO_TERMINAL: u8 = 2;

pub fn run(global: &GlobalArgs, args: DashboardArgs) -> anyhow::Result<ExitCode> {
    // A bad config file is reported before the terminal is taken over.
    let config = config::load(args.config.as_deref())?;
    if let (true, Some(threshold)) = (args.backend.aws, args.threshold) {
        return Err(super::threshold_is_local(threshold));
    }
    // Before any set-up (minutes of training for nothing) and before the screen is touched.
    if let Some(problem) = scones::dashboard::terminal::unusable_terminal() {
        errln!("scones dashboard: {problem}");
        return Ok(ExitCode::from(EXIT_NO_TERMINAL));
    }
    if args.backend.aws {
        return super::on_aws!(super::dashboard_aws::run(
            global,
            &args.backend,
            &args.stack,
            args.readonly,
            config,
        ));
    }
    // Read-only never creates anything, not even the home.
    let home = if args.readonly {
        Home::locate(global.home.as_deref())?
    } else {
        Home::resolve(global.home.as_deref())?
    };
    let first_model = if !args.no_setup && !args.readonly {
        first_run_setup(global, &home)?
    } else {
        None
    };
    let mut backend = LocalBackend::open(
        &home,
        LocalOptions {
            readonly: args.readonly,
            ..home.settings()?.local_options(args.threshold)
        },
    )
    .with_context(|| format!("opening the execution store in {}", home.root().display()))?;
    if let Some(first) = first_model {
        backend = backend.with_first_model(first);
    }
    let runtime = super::async_runtime()?;
    let options = RunOptions {
        config,
        readonly: args.readonly,
        log_file: home
            .logs_dir()
            .is_dir()
            .then(|| home.logs_dir().join("dashboard.log")),
    };
    let backend = Arc::new(backend);
    let signalled = runtime.block_on(async {
        let result = dashboard::run(Arc::clone(&backend), options).await;
        // Executions started from the dashboard run in this process: let them finish
        // (the terminal is already restored) rather than leave them to be closed as
        // orphans by the next process.
        backend.finish(std::time::Duration::from_secs(10)).await;
        result
    })?;
    Ok(exit_code(signalled))
}

/// Success after `q`; 128 + the signal's number after a signal ended the dashboard, as a
/// shell reports it (130 after SIGINT, 143 after SIGTERM), so a script can tell.
pub fn exit_code(signalled: Option<u8>) -> ExitCode {
    signalled.map_or(ExitCode::SUCCESS, ExitCode::from)
}

/// Stages data when the home has none (`scones stage --if-missing`, with its progress bar),
/// and starts training the first model in the background when none serves: the dashboard
/// opens at once and says how long the model has left (see `scones_local::first_model`).
fn first_run_setup(global: &GlobalArgs, home: &Home) -> anyhow::Result<Option<Arc<FirstModel>>> {
    let local = || BackendArgs {
        local: true,
        aws: false,
        profile: None,
        region: None,
    };
    // Already staged (scripts/dashboard.sh stages the shared data first): nothing to say.
    if scones_local::stage::read_manifest(&home.bucket())?.is_none() {
        let stage = StageArgs {
            backend: local(),
            cifar: None,
            images: None,
            labels: None,
            synthetic: false,
            if_missing: true,
            from: None,
            bucket: None,
            dry_run: false,
        };
        let code = super::stage::run(global, stage).context("first run: staging data")?;
        anyhow::ensure!(code == ExitCode::SUCCESS, "first run: staging data failed");
    }
    let bucket = home.bucket();
    if scones_local::training::existing_serving_model(&bucket)?.is_some() {
        return Ok(None);
    }
    let options = TrainOptions {
        reviewed: true,
        threshold: home.settings()?.threshold(None).value(),
    };
    let first = FirstModel::start(bucket, TrainConfig::default(), options)
        .context("first run: starting the training thread")?;
    Ok(Some(first))
}
