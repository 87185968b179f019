//! `scones drift`: the served model's captured traffic judged against its baseline, window by
//! window. Each statistic's PSI and Kolmogorov-Smirnov test, its verdict, and the verdicts of
//! the windows before (the trend); the last line is `drift: <verdict>`. Locally it is
//! computed now; `--aws` prints the monitor-drift function's latest report.

use std::process::ExitCode;

use clap::Args;
#[cfg(feature = "aws")]
use scones_aws::{AwsBackend, AwsOptions};
use scones_local::Home;
use scones_local::drift::{DriftOptions, drift};
use scones_local::endpoint::DEFAULT_ENDPOINT_NAME;
use scones_workflow::drift::{Cutoffs, DriftView, Finding, Verdict, WindowDrift, WindowSpec};
#[cfg(feature = "aws")]
use scones_workflow::port::Backend;

#[cfg(feature = "aws")]
use super::aws_stack;
use super::aws_stack::AwsStackArgs;
use super::{BackendArgs, GlobalArgs, on_aws};
use crate::cli::output::outln;

#[derive(Debug, Args)]
pub struct DriftArgs {
    #[command(flatten)]
    pub backend: BackendArgs,
    #[command(flatten)]
    pub stack: AwsStackArgs,
    /// The window: a count of inferences (500) or a period (30m, 1h, 2d). Local only: on AWS
    /// the monitor's windows are Terraform's drift_window and drift_windows.
    #[arg(long, default_value = "500", conflicts_with = "aws")]
    pub window: WindowSpec,
    /// Windows shown: the current one and the ones before it (the trend). Local only, as
    /// --window.
    #[arg(
        long,
        default_value_t = 6,
        value_parser = clap::value_parser!(u16).range(1..=1000),
        conflicts_with = "aws"
    )]
    pub windows: u16,
    /// The threshold the low-confidence rate is taken at. Default: the local stack's (saved
    /// with `scones threshold --save`, else 0.93).
    #[arg(long, allow_negative_numbers = true)]
    pub threshold: Option<scones_workflow::Threshold>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(global: &GlobalArgs, args: DriftArgs) -> anyhow::Result<ExitCode> {
    if args.backend.aws {
        return on_aws!(run_aws(&args));
    }
    let home = Home::locate(global.home.as_deref())?;
    let options = DriftOptions {
        window: args.window,
        windows: usize::from(args.windows),
        threshold: home.settings()?.threshold(args.threshold).value(),
        cutoffs: Cutoffs::default(),
    };
    let result = drift(
        &home.bucket(),
        DEFAULT_ENDPOINT_NAME,
        &options,
        chrono::Utc::now(),
    )?;
    if args.json {
        let json = serde_json::to_string_pretty(&result)?;
        outln!("{json}")?;
    } else {
        print_report(&result.view(&args.window))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The monitor-drift function's latest report (`--aws`).
#[cfg(feature = "aws")]
fn run_aws(args: &DriftArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.threshold.is_none(),
        "--threshold is a local setting: on AWS the monitor takes the low-confidence rate at the \
         workflow's threshold (Terraform's confidence_threshold)"
    );
    let runtime = super::async_runtime()?;
    let view = runtime.block_on(async {
        let aws = AwsBackend::connect(
            &aws_stack::target(&args.backend),
            &args.stack.discovery(),
            AwsOptions::default(),
        )
        .await?;
        anyhow::Ok(aws.drift(args.window, usize::from(args.windows)).await?)
    })?;
    if args.json {
        let json = serde_json::to_string_pretty(&view)?;
        outln!("{json}")?;
    } else {
        if let Some(computed) = view.computed {
            outln!("report: {}", computed.format("%Y-%m-%d %H:%M:%S UTC"))?;
        }
        print_report(&view)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(view: &DriftView) -> anyhow::Result<()> {
    outln!("model: {}", view.model)?;
    outln!("baseline inputs: {}", view.inputs_from)?;
    outln!(
        "baseline outputs: {}",
        view.outputs_from
            .as_deref()
            .unwrap_or("none: confidence, class mix and low-confidence rate are not judged")
    )?;
    let Some(current) = view.current() else {
        outln!("no captured traffic since the model was trained")?;
        outln!("drift: {}", Verdict::NotEnoughData.label())?;
        return Ok(());
    };
    let r = &current.report;
    let window = &view.window;
    outln!(
        "window: {window}: {} inferences, {} distinct images{}; low-confidence rate at \
         threshold {:.2}",
        current.inferences,
        current.inferences - current.repeats,
        span(current),
        r.threshold
    )?;
    outln!(
        "verdicts: PSI >= {} WARN, >= {} ALERT, when the Kolmogorov-Smirnov p-value < {}; \
         fewer than {} distinct images: not enough data",
        r.cutoffs.psi_warn,
        r.cutoffs.psi_alert,
        r.cutoffs.significance,
        r.cutoffs.min_samples
    )?;
    if view.unreadable > 0 {
        outln!(
            "{} captured records had no usable scores or image",
            view.unreadable
        )?;
    }
    outln!("")?;
    outln!(
        "{:<20} {:>9} {:>9} {:>7} {:>6} {:>8}  {:<15} trend (oldest -> newest)",
        "statistic",
        "baseline",
        "window",
        "PSI",
        "KS D",
        "p-value",
        "verdict"
    )?;
    for finding in &r.findings {
        let trend: Vec<&str> = view
            .windows
            .iter()
            .filter_map(|w| w.report.finding(finding.statistic))
            .map(|f| short(f.verdict))
            .collect();
        outln!("{}  {}", row(finding), trend.join(" "))?;
    }
    outln!("")?;
    outln!("drift: {}", r.verdict.label())?;
    Ok(())
}

fn span(window: &WindowDrift) -> String {
    match (window.from, window.to) {
        (Some(from), Some(to)) => format!(
            ", {} to {}",
            from.format("%Y-%m-%d %H:%M:%S"),
            to.format("%H:%M:%S UTC")
        ),
        _ => String::new(),
    }
}

fn row(f: &Finding) -> String {
    let number = |v: Option<f64>, digits: usize| match v {
        Some(v) => format!("{v:.digits$}"),
        None => "-".to_owned(),
    };
    format!(
        "{:<20} {:>9} {:>9} {:>7} {:>6} {:>8}  {:<15}",
        f.statistic.label(),
        number(f.baseline_mean, 3),
        number(f.current_mean, 3),
        number(f.psi, 3),
        number(f.ks.map(|k| k.d), 3),
        f.ks.map_or("-".to_owned(), |k| k.p_value_text()),
        f.verdict.label()
    )
}

/// A verdict in a trend column.
fn short(v: Verdict) -> &'static str {
    match v {
        Verdict::NotEnoughData => "-",
        Verdict::Ok => "ok",
        Verdict::Warn => "WARN",
        Verdict::Alert => "ALERT",
    }
}
