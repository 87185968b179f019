//! `scones threshold --target-accuracy A`: the lowest confidence threshold whose accepted
//! predictions reach accuracy A on a labelled set, with its coverage and a 95% Wilson
//! interval (so 200 images are not over-trusted); says clearly when no threshold reaches A.
//! Prints the Terraform variable to set on AWS; `--save` makes it the local stack's.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use scones_local::Home;
use scones_workflow::quality::{Decisions, Recommendation, recommend_threshold};

use super::aws_stack::AwsStackArgs;
use super::eval::{DataArgs, score};
use super::{BackendArgs, GlobalArgs};
use crate::cli::output::{errln, outln};

#[derive(Debug, Args)]
pub struct ThresholdArgs {
    #[command(flatten)]
    pub backend: BackendArgs,
    #[command(flatten)]
    pub stack: AwsStackArgs,
    #[command(flatten)]
    pub data: DataArgs,
    /// The accuracy the accepted predictions must reach, in (0, 1], e.g. 0.98.
    #[arg(long, value_name = "A", allow_negative_numbers = true)]
    pub target_accuracy: f64,
    /// Save the threshold as the local stack's (used by `scones run` and the dashboard
    /// unless a --threshold flag says otherwise).
    #[arg(long)]
    pub save: bool,
    /// With --save: save a threshold even when the set is too small to back the target.
    #[arg(long, requires = "save")]
    pub force: bool,
    /// Print the recommendation as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(global: &GlobalArgs, args: ThresholdArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        !(args.save && args.backend.aws),
        "--save sets the local stack's threshold; on AWS the threshold is Terraform's \
         `{}` variable (the filter function's THRESHOLD): set it and `terraform apply`",
        scones_workflow::threshold::TERRAFORM_VARIABLE
    );
    if !(args.target_accuracy > 0.0 && args.target_accuracy <= 1.0) {
        anyhow::bail!(
            "--target-accuracy must be a number in (0, 1], e.g. 0.98 for 98%; got {}",
            args.target_accuracy
        );
    }
    let scored = score(global, &args.backend, &args.stack, &args.data, None)?;
    let recommendation = recommend_threshold(&scored.predictions, args.target_accuracy)?;
    // Every line through outln! (a closed pipe ends quietly, a full disk is reported as
    // stdout's); with --json stdout holds the JSON alone and the hints go to stderr.
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&recommendation)?)?;
    } else {
        let mut text = Vec::new();
        writeln!(text, "model: {}", scored.model.name)?;
        writeln!(text, "data: {}", scored.source)?;
        write_recommendation(&mut text, &recommendation, &scored.predictions)?;
        outln!("{}", String::from_utf8_lossy(&text).trim_end())?;
    }
    let hint = |line: String| {
        if args.json {
            errln!("{line}");
            Ok(())
        } else {
            outln!("{line}")
        }
    };
    let Some(threshold) = recommendation.threshold else {
        return Ok(ExitCode::FAILURE);
    };
    // How to make it the deployed stack's (said on AWS, and when not saved locally).
    let apply = scones_workflow::Threshold::new(threshold)?.terraform_apply();
    if args.backend.aws {
        hint(format!(
            "to use it on AWS: {apply}   (in terraform/; the filter function's THRESHOLD)"
        ))?;
    } else if args.save {
        // A threshold the data cannot back is not saved silently: one image "proves" 100%.
        if !recommendation.lower_bound_meets_target && !args.force {
            let accepted = recommendation.decisions.map_or(0, |d| d.accepted);
            anyhow::bail!(
                "not saved: {accepted} accepted images cannot show {:.1}% with 95% confidence \
                 (the interval's lower end is below the target); label more images, lower the \
                 target, or --force to save {threshold:.2} anyway",
                args.target_accuracy * 100.0
            );
        }
        let home = Home::locate(global.home.as_deref())?;
        let mut settings = home.settings()?;
        settings.threshold = Some(threshold);
        settings.save(home.root())?;
        hint(format!(
            "saved: the local stack's threshold is now {threshold:.2} ({})",
            home.root()
                .join(scones_local::settings::SETTINGS_FILE)
                .display()
        ))?;
    } else {
        hint(format!(
            "to use it: --save (the local stack), or on AWS: {apply}"
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write_recommendation(
    out: &mut impl Write,
    r: &Recommendation,
    predictions: &[scones_workflow::quality::Labelled],
) -> std::io::Result<()> {
    let target = r.target * 100.0;
    let line = |d: &Decisions| {
        let interval = d
            .accepted_accuracy_interval()
            .map(|(lo, hi)| format!(" (95% CI {:.1}%-{:.1}%)", lo * 100.0, hi * 100.0))
            .unwrap_or_default();
        format!(
            "accepted {} of {} ({:.1}%), accuracy of accepted {:.1}%{interval}, errors let through {}",
            d.accepted,
            d.total,
            d.coverage() * 100.0,
            d.accepted_accuracy().unwrap_or(0.0) * 100.0,
            d.accepted_wrong()
        )
    };
    match (r.threshold, r.decisions) {
        (Some(t), Some(d)) => {
            writeln!(out, "target: accuracy of the accepted >= {target:.1}%")?;
            writeln!(out, "recommended threshold: {t:.2}")?;
            writeln!(out, "  {}", line(&d))?;
            if !r.lower_bound_meets_target {
                writeln!(
                    out,
                    "  caution: the interval's lower end is below {target:.1}%: {} accepted images \
                     cannot show {target:.1}% with 95% confidence; label more images, or take a \
                     higher threshold for margin",
                    d.accepted
                )?;
            }
        }
        _ => {
            let best = scones_workflow::quality::risk_coverage(
                predictions,
                scones_workflow::quality::table_thresholds(),
            )
            .into_iter()
            .filter(|d| d.accepted > 0)
            .max_by(|a, b| {
                a.accepted_accuracy()
                    .partial_cmp(&b.accepted_accuracy())
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            writeln!(
                out,
                "no threshold from 0.50 to 0.99 reaches an accuracy of the accepted of {target:.1}% on this set"
            )?;
            if let Some(best) = best {
                writeln!(
                    out,
                    "  best: threshold {:.2}: {}",
                    best.threshold,
                    line(&best)
                )?;
            }
            writeln!(
                out,
                "  lower the target, or improve the model (`scones train --local`)"
            )?;
        }
    }
    Ok(())
}
