//! `scones baseline --aws`: the drift baseline of the deployed endpoint, written where the
//! monitor-drift function reads it. The local stack saves a baseline with every model
//! (`scones train --local`), so there is nothing to run locally.

use std::process::ExitCode;

use clap::Args;
#[cfg(feature = "aws")]
use scones_aws::evaluation::LabelledSet;

use super::aws_stack::AwsStackArgs;
use super::{BackendArgs, on_aws};
#[cfg(feature = "aws")]
use super::{aws_stack, output::outln, progress::BarProgress};

#[derive(Debug, Args)]
pub struct BaselineArgs {
    #[command(flatten)]
    pub backend: BackendArgs,
    #[command(flatten)]
    pub stack: AwsStackArgs,
    /// A held-out labelled set in the bucket (a .lst file, e.g. holdout.lst) whose images go
    /// through the endpoint for the output statistics (confidence, class mix, low-confidence
    /// rate). Never test.lst, never images the model was trained on. Without it the baseline
    /// has input statistics only and the outputs are not judged.
    #[arg(long, value_name = "KEY")]
    pub held_out_lst: Option<String>,
    /// The prefix the held-out .lst file's paths are relative to.
    #[arg(
        long,
        value_name = "PREFIX",
        requires = "held_out_lst",
        default_value = "holdout/"
    )]
    pub held_out_prefix: String,
    /// Write a baseline without output statistics even where the current one has them
    /// (without this, such a replacement is refused).
    #[arg(long, conflicts_with = "held_out_lst")]
    pub no_outputs: bool,
}

pub fn run(args: BaselineArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.backend.aws,
        "the local stack saves a drift baseline with every model (`scones train --local`); \
         `scones baseline --aws` computes the deployed endpoint's"
    );
    on_aws!(run_aws(args))
}

#[cfg(feature = "aws")]
fn run_aws(args: BaselineArgs) -> anyhow::Result<ExitCode> {
    let held_out = args
        .held_out_lst
        .as_ref()
        .map(|lst_key| held_out_set(lst_key, &args.held_out_prefix))
        .transpose()?;
    let runtime = super::async_runtime()?;
    runtime.block_on(async {
        let (resources, clients) = aws_stack::connect(&args.backend, &args.stack).await?;
        let drift = resources.drift.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "the stack has no drift monitor (drift_monitor_enabled = false, a serverless \
                 endpoint, or no endpoint yet): nothing would read a baseline"
            )
        })?;
        let endpoint = resources.live_endpoint().ok_or_else(|| {
            anyhow::anyhow!("the stack has no endpoint yet (no training job, no model_data_url)")
        })?;
        // A baseline that judges outputs is not silently replaced by one that cannot: the
        // held-out set is the only way to get them back.
        if held_out.is_none() && !args.no_outputs {
            let current = scones_aws::drift_baseline::get_baseline(
                &clients,
                &resources.bucket,
                &drift.baseline_key,
            )
            .await?;
            if let Some(from) = current.and_then(|b| b.outputs_from) {
                anyhow::bail!(
                    "the baseline at s3://{}/{} judges the endpoint's outputs ({from}); without                      --held-out-lst this one would not, so nothing was written: pass                      --held-out-lst again, or --no-outputs to drop the output statistics",
                    resources.bucket,
                    drift.baseline_key
                );
            }
        }
        let bar = BarProgress::new();
        let progress = |stage: &str, done: usize, total: usize| {
            use scones_local::Progress;
            if done == 1 {
                bar.begin(stage, Some(total as u64));
            }
            bar.advance(1);
            if done == total {
                bar.end();
            }
        };
        let baseline = scones_aws::drift_baseline::endpoint_baseline(
            &clients,
            &resources.bucket,
            endpoint,
            held_out.as_ref(),
            progress,
        )
        .await?;
        scones_aws::drift_baseline::put_baseline(
            &clients,
            &resources.bucket,
            &drift.baseline_key,
            &baseline,
        )
        .await?;
        outln!("wrote s3://{}/{}", resources.bucket, drift.baseline_key)?;
        outln!("inputs: {}", baseline.inputs_from)?;
        outln!(
            "outputs: {}",
            baseline.outputs_from.as_deref().unwrap_or(
                "none (no --held-out-lst): confidence, class mix and low-confidence rate are \
                 not judged"
            )
        )?;
        outln!(
            "{} judges the traffic from now on, every {} min; its report: s3://{}/{}latest.json \
             (`scones dashboard --aws`, tab 7)",
            drift.function_name,
            drift.schedule_minutes,
            resources.bucket,
            drift.reports_prefix
        )?;
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(feature = "aws")]
/// The held-out set, refused when it is the test split (what quality is measured on) or the
/// training split (what the model has seen).
fn held_out_set(lst_key: &str, prefix: &str) -> anyhow::Result<LabelledSet> {
    let name = lst_key.rsplit('/').next().unwrap_or(lst_key);
    let prefix = if prefix.ends_with('/') {
        prefix.to_owned()
    } else {
        format!("{prefix}/")
    };
    for (split, lst) in [("test/", "test.lst"), ("train/", "train.lst")] {
        anyhow::ensure!(
            name != lst && prefix != split,
            "--held-out-lst {lst_key} --held-out-prefix {prefix}: the baseline's outputs must \
             come from images the model was neither trained nor tested on (not {split}); stage \
             a held-out set (e.g. holdout.lst and holdout/) and name it"
        );
    }
    Ok(LabelledSet {
        lst_key: lst_key.to_owned(),
        image_prefix: prefix,
    })
}

#[cfg(all(test, feature = "aws"))]
mod tests {
    use super::*;

    #[test]
    fn the_test_and_train_splits_are_refused_as_held_out() {
        assert!(held_out_set("test.lst", "holdout/").is_err());
        assert!(held_out_set("holdout.lst", "test/").is_err());
        assert!(held_out_set("sets/train.lst", "x/").is_err());
        let set = held_out_set("holdout.lst", "holdout").unwrap();
        assert_eq!(set.image_prefix, "holdout/");
    }
}
