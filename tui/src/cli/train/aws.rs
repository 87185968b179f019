//! `scones train --aws`: create the SageMaker training job unless one of that name exists,
//! wait for it with progress, and fail unless it ends `Completed`. The images people
//! labelled in review join the training channel (unless `--no-reviewed`), and the job's
//! name covers them (`scones_aws::reviewed_training`).

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
    let terraform_spec = TrainingJobSpec::from_json(&text)?;
    let mut spec = terraform_spec.clone();
    target.region = spec.job_region(target.region.as_deref())?;
    let options = WaitOptions {
        poll_interval: Duration::from_secs(args.poll_seconds.max(1)),
        timeout: None,
    };

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let config = runtime.block_on(scones_aws::sdk_config(&target));
    let sagemaker = scones_aws::sagemaker_client(&config);
    let s3 = scones_aws::s3_client(&config, &target);
    let reviewed = if args.no_reviewed {
        None
    } else {
        let (with_reviewed, reviewed) = runtime
            .block_on(scones_aws::reviewed_training::add_reviewed(&s3, &spec))
            .context("adding the reviewed images to the training channel")?;
        spec = with_reviewed;
        reviewed
    };
    match &reviewed {
        Some(r) => {
            outln!(
                "reviewed images: {} added to the training channel ({} held out for \
                 validation, {} of test/ never trained on); {} images in {}",
                r.added,
                r.held_out,
                r.test_split,
                r.samples,
                r.lst_uri
            )?;
            if !r.missing.is_empty() {
                errln!(
                    "warning: {} reviewed image(s) no longer in the bucket were left out: {}",
                    r.missing.len(),
                    r.missing.join(", ")
                );
            }
        }
        None if !args.no_reviewed => {
            outln!("no reviewed images on the training side: training on train.lst alone")?;
        }
        None => {}
    }
    let bar = ProgressBar::new_spinner().with_message(format!("{}: starting", spec.job_name));
    bar.enable_steady_tick(Duration::from_millis(200));
    let job = runtime.block_on(async {
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
    if job.model_data_url != terraform_spec.expected_model_data_url() {
        if reviewed.is_some() {
            outln!(
                "a candidate: the endpoint serves {} until you promote this one with \
                 `scones promote --aws --tf-dir terraform {} --force` (through the deployment \
                 guardrails)",
                terraform_spec.expected_model_data_url(),
                job.job_name
            )?;
        } else {
            errln!(
                "warning: the artifact is not where Terraform expects it ({})",
                terraform_spec.expected_model_data_url()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
