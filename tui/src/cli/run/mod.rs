//! `scones run`: executions of the workflow on the local stack or on AWS, through one runner
//! over the port ([`scones_workflow::run`]): one line per execution as it ends, then the
//! summary.
//!
//! Exit status: 0 when every execution ended as the workflow is designed to (SUCCEEDED, or
//! FAILED with `LowConfidence`); 1 when any ended otherwise (another error, a timeout, a
//! stop), could not be started or followed, or was not persisted; 130 after Ctrl-C (the
//! running executions are stopped as ABORTED and the summary covers what ran); 141 when the
//! output was closed (`| head`), quietly, like other Unix tools.

pub mod print;

use crate::cli::output::errln;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
#[cfg(feature = "aws")]
use scones_aws::{AwsBackend, AwsOptions};
use scones_local::perturb::Perturbation;
use scones_local::{Home, LocalBackend, LocalOptions, stage};
use scones_workflow::port::Backend;
use scones_workflow::run::{self, Interruption, Keys, Next, RunReport};

#[cfg(feature = "aws")]
use super::aws_stack;
use super::aws_stack::AwsStackArgs;
use super::output;
use super::{BackendArgs, GlobalArgs, on_aws};
use crate::cli::progress::synthetic_banner;
use print::{line, not_finished_line};

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
    /// Classify N images drawn at random from the staged test split (drawn as the run goes:
    /// any N starts at once).
    #[arg(long, value_name = "N")]
    pub random: Option<u64>,
    /// Executions running at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: u32,
    /// FilterLowConfidence threshold in (0, 1] (local; on AWS it is the filter function's
    /// THRESHOLD, set by Terraform's `confidence_threshold` variable). Default: the one saved with
    /// `scones threshold --save`, else 0.93.
    #[arg(long, allow_negative_numbers = true)]
    pub threshold: Option<scones_workflow::Threshold>,
    /// Print only the summary, not one line per execution.
    #[arg(long, short)]
    pub quiet: bool,
    /// Do not write endpoint data capture (local; on AWS capture is the endpoint's).
    #[arg(long)]
    pub no_capture: bool,
    /// Send drifted traffic (local, with --random, not with --key): `darken` (a camera at
    /// dusk), `noise` (a cheap sensor), `blur` (a dirty lens), `one-class` (only
    /// motorcycles) or `overexpose` (a camera facing the sun: the model is confidently
    /// wrong, what the guard is for). The transformed images are
    /// written under perturbed/ in the bucket; `scones drift`, the guard and the dashboard
    /// see what the drift looks like.
    #[arg(
        long,
        value_name = "KIND",
        requires = "random",
        conflicts_with = "key",
        value_parser = perturbation
    )]
    pub perturb: Option<Perturbation>,
    /// Which split --perturb transforms: train (the default: images people may then label
    /// and a model may be retrained on) or test (to measure a model on the shift; never
    /// train on it).
    #[arg(long, value_name = "SPLIT", requires = "perturb", default_value = "train", value_parser = ["train", "test"])]
    pub perturb_from: String,
}

/// `--perturb KIND`: a known perturbation, or the list of them.
pub(crate) fn perturbation(name: &str) -> Result<Perturbation, String> {
    Perturbation::parse(name).ok_or_else(|| {
        let names: Vec<&str> = Perturbation::ALL.iter().map(|p| p.name()).collect();
        format!("unknown perturbation {name:?}: one of {}", names.join(", "))
    })
}

/// `scones run --aws`: the same runner against the deployed stack.
#[cfg(feature = "aws")]
async fn run_aws(args: &RunArgs) -> anyhow::Result<ExitCode> {
    if let Some(threshold) = args.threshold {
        return Err(super::threshold_is_local(threshold));
    }
    anyhow::ensure!(
        args.perturb.is_none(),
        "--perturb is local: it writes transformed images into the local bucket"
    );
    anyhow::ensure!(
        !args.no_capture,
        "--no-capture is a local setting: on AWS data capture is the endpoint's \
         configuration (Terraform's `data_capture_percentage`)"
    );
    let aws = AwsBackend::connect(
        &aws_stack::target(&args.backend),
        &args.stack.discovery(),
        AwsOptions::default(),
    )
    .await?;
    aws.check_deployed().await?;
    tracing::info!(state_machine = %aws.resources().state_machine_arn, "running on AWS");
    execute(Arc::new(aws), args, None).await
}

/// Runs the command.
pub fn run(global: &GlobalArgs, args: RunArgs) -> anyhow::Result<ExitCode> {
    let runtime = crate::cli::async_runtime()?;
    runtime.block_on(async {
        if args.backend.aws {
            on_aws!(run_aws(&args).await)
        } else {
            // No model: one clear error, and a new home stays as it was.
            let home = Home::locate(global.home.as_deref())?;
            if scones_local::training::serving_model_dir(&home.bucket())?.is_none() {
                anyhow::bail!(
                    "scones run: no trained model in {}: run `scones train --local` first",
                    home.bucket().models_dir().display()
                );
            }
            let home = home.create()?;
            if let Some(manifest) = stage::read_manifest(&home.bucket())?
                && manifest.synthetic
            {
                synthetic_banner(manifest.synthetic_reason.as_deref());
            }
            let local = Arc::new(LocalBackend::open(
                &home,
                LocalOptions {
                    data_capture: !args.no_capture,
                    ..home.settings()?.local_options(args.threshold)
                },
            )?);
            // No model, no data: one clear error before anything starts.
            local.stack(scones_workflow::port::Operation::StartExecution)?;
            let pool = match args.perturb {
                Some(kind) => Some(Arc::new(
                    scones_local::perturb::prepare(
                        &home.bucket(),
                        kind,
                        if args.perturb_from == "test" {
                            scones_local::stage::Split::Test
                        } else {
                            scones_local::stage::Split::Train
                        },
                    )
                    .with_context(|| format!("cannot prepare the {} images", kind.name()))?,
                )),
                None => None,
            };
            let code = execute(Arc::clone(&local), &args, pool).await;
            local.finish(std::time::Duration::from_secs(30)).await;
            code
        }
    })
}

/// Runs the executions on `backend`, printing as they end.
async fn execute<B: Backend>(
    backend: Arc<B>,
    args: &RunArgs,
    pool: Option<Arc<Vec<String>>>,
) -> anyhow::Result<ExitCode> {
    let keys = match (args.random, pool) {
        (Some(n), Some(pool)) => Keys::RandomFrom(pool, n),
        (Some(n), None) => Keys::Random(n),
        (None, _) => Keys::Given(args.key.clone()),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut write_error: Option<std::io::Error> = None;
    // The first execution the store could not record (a full disk, a removed home): the run
    // ends there rather than run the rest unrecorded.
    let mut persist_error: Option<String> = None;
    let quiet = args.quiet;
    let report = run::run(
        backend,
        keys,
        args.concurrency as usize,
        |result| {
            let written = match result {
                Ok(r) if !quiet => writeln!(out, "{}", line(r)),
                Ok(_) => Ok(()),
                Err(n) => {
                    // Failures go to stderr at once; stdout keeps the results.
                    let _ = out.flush();
                    errln!("{}", not_finished_line(n));
                    Ok(())
                }
            };
            if let Ok(r) = result
                && let Some(e) = &r.persist_error
            {
                persist_error.get_or_insert_with(|| e.clone());
                return Next::Stop;
            }
            match written {
                Ok(()) => Next::Continue,
                Err(e) => {
                    write_error.get_or_insert(e);
                    Next::Stop
                }
            }
        },
        async {
            // Without a handler (no signal support) the run just cannot be interrupted.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        },
    )
    .await?;
    let summary_written = writeln!(out, "{}", report.summary).and_then(|()| out.flush());
    if let Some(line) = print::not_finished_summary(&report.not_finished) {
        errln!("{line}");
    }
    if let Some(e) = persist_error {
        anyhow::bail!(
            "the run stopped: an execution could not be recorded ({e}); the executions still \
             running were stopped and nothing more was started"
        );
    }
    if let Some(e) = write_error.or(summary_written.err()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(ExitCode::from(output::EXIT_OUTPUT_CLOSED));
        }
        anyhow::bail!("cannot write the results to stdout: {e}");
    }
    Ok(exit_code(&report))
}

fn exit_code(report: &RunReport) -> ExitCode {
    match report.interrupted {
        Some(Interruption::Interrupted) => {
            errln!("interrupted: the executions still running were stopped");
            ExitCode::from(output::EXIT_INTERRUPTED)
        }
        Some(Interruption::OutputClosed) => ExitCode::from(output::EXIT_OUTPUT_CLOSED),
        None if report.summary.unexpected > 0
            || report.summary.not_persisted > 0
            || !report.not_finished.is_empty() =>
        {
            ExitCode::FAILURE
        }
        None => ExitCode::SUCCESS,
    }
}
