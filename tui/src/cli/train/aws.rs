//! `scones train --aws`: create the SageMaker training job unless one of that name exists,
//! wait for it with progress, and fail unless it ends `Completed`.

use crate::cli::output::errln;
use crate::cli::output::outln;
use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::ProgressBar;
use scones_aws::training::WaitOptions;
use scones_aws::{AwsTarget, StartOutcome, TrainingJobSpec};

use super::TrainArgs;
use crate::cli::GlobalArgs;

pub fn run(
    _global: &GlobalArgs,
    args: &TrainArgs,
    mut target: AwsTarget,
) -> anyhow::Result<ExitCode> {
    let Some(spec_arg) = args.job_spec.as_deref() else {
        bail!("--aws needs --job-spec JSON (Terraform's training job_spec output)");
    };
    let text = if spec_arg == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the job spec from stdin")?;
        text
    } else {
        spec_arg.to_owned()
    };
    let spec = TrainingJobSpec::from_json(&text)?;
    target.region = spec.job_region(target.region.as_deref())?;
    let options = WaitOptions {
        poll_interval: Duration::from_secs(args.poll_seconds.max(1)),
        timeout: None,
    };

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let bar = ProgressBar::new_spinner().with_message(format!("{}: starting", spec.job_name));
    bar.enable_steady_tick(Duration::from_millis(200));
    let job = runtime.block_on(async {
        let config = scones_aws::sdk_config(&target).await;
        let sagemaker = scones_aws::sagemaker_client(&config);
        let s3 = scones_aws::s3_client(&config, &target);
        scones_aws::run_training_job(
            &sagemaker,
            &s3,
            &spec,
            &options,
            &mut |start| {
                let line = match start {
                    StartOutcome::Created => format!("created training job {}", spec.job_name),
                    StartOutcome::AlreadyExists { status } => {
                        format!("training job {} already exists ({status})", spec.job_name)
                    }
                };
                // Not bar.println: the line must show when stdout is not a terminal. A write
                // error here surfaces again at the last lines, once the job is done.
                let _ = bar.suspend(|| outln!("{line}"));
            },
            &mut |progress| {
                let message = progress.message.as_deref().unwrap_or("");
                bar.set_message(format!(
                    "{}: {} / {} [{}s] {message}",
                    spec.job_name,
                    progress.status,
                    progress.secondary_status,
                    progress.elapsed.as_secs()
                ));
            },
        )
        .await
    });
    bar.finish_and_clear();
    let job = job?;
    outln!("training job {} Completed", job.job_name)?;
    outln!("model: {}", job.model_data_url)?;
    if job.model_data_url != spec.expected_model_data_url() {
        errln!(
            "warning: the artifact is not where Terraform expects it ({})",
            spec.expected_model_data_url()
        );
    }
    Ok(ExitCode::SUCCESS)
}
