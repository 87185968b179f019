//! `scones stage --aws`: upload the staged bucket layout to S3, skipping unchanged objects.

use crate::cli::output::outln;
use std::process::ExitCode;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use scones_aws::{AwsTarget, StageEvent, StageOptions};
use scones_local::Home;

use super::StageArgs;
use crate::cli::GlobalArgs;

pub fn run(global: &GlobalArgs, args: &StageArgs, target: AwsTarget) -> anyhow::Result<ExitCode> {
    if args.cifar.is_some() || args.images.is_some() || args.synthetic || args.if_missing {
        bail!(
            "--aws uploads an already staged layout: stage locally first (`scones stage` with \
             --cifar/--images/--synthetic), then `scones stage --aws --bucket NAME`"
        );
    }
    let Some(bucket) = args.bucket.as_deref() else {
        bail!("--aws needs --bucket NAME (the Terraform output bucket_name)");
    };
    let source = match &args.from {
        Some(dir) => dir.clone(),
        None => Home::resolve(global.home.as_deref())?.bucket_dir(),
    };
    // Before loading AWS configuration: a wrong --from should fail fast and alone.
    scones_aws::stage::check_layout(&source)?;
    let options = StageOptions {
        dry_run: args.dry_run,
        ..StageOptions::default()
    };

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let bar = ProgressBar::new_spinner().with_message("comparing with the bucket");
    let report = runtime.block_on(async {
        let config = scones_aws::sdk_config(&target).await;
        let s3 = scones_aws::s3_client(&config, &target);
        scones_aws::stage_to_s3(&s3, &source, bucket, &options, &|event| show(&bar, &event)).await
    });
    bar.finish_and_clear();
    let report = report.with_context(|| {
        format!(
            "staging {} to s3://{bucket} stopped; objects already uploaded are kept and skipped next time",
            source.display()
        )
    })?;

    let verb = if args.dry_run {
        "would upload"
    } else {
        "uploaded"
    };
    outln!(
        "{verb} {} objects ({:.1} MB) to s3://{bucket}, {} unchanged",
        report.uploaded.len(),
        report.bytes_uploaded as f64 / 1e6,
        report.skipped
    )?;
    Ok(ExitCode::SUCCESS)
}

fn show(bar: &ProgressBar, event: &StageEvent) {
    match event {
        StageEvent::Scanned { files, .. } => {
            bar.set_message(format!("comparing {files} files with the bucket"));
        }
        StageEvent::Planned { upload_bytes, .. } => {
            bar.set_length(*upload_bytes);
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg:>12} [{bar:30}] {binary_bytes}/{binary_total_bytes} ({eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_message("uploading");
        }
        StageEvent::Uploaded { bytes, .. } => bar.inc(*bytes),
    }
}
