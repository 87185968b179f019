//! `scones stage --local`: stage into the local bucket.

use crate::cli::output::{errln, outln};
use std::process::ExitCode;

use anyhow::Context;
use scones_local::Home;
use scones_local::home::cache_dir;
use scones_local::stage::{self, Source, StageManifest, SyntheticSpec};

use super::StageArgs;
use crate::cli::GlobalArgs;
use crate::cli::progress::{BarProgress, synthetic_banner};

pub fn run(global: &GlobalArgs, args: &StageArgs) -> anyhow::Result<ExitCode> {
    // A labels file that cannot be read fails before the home is made: a wrong argument
    // leaves nothing behind (no bucket/, no logs/).
    if let (Some(_), Some(labels)) = (&args.images, &args.labels) {
        scones_workflow::dataset::read_labels(labels)
            .context("staging failed; nothing was created")?;
    }
    let home = Home::resolve(global.home.as_deref())?;
    let bucket = home.bucket();
    if args.if_missing
        && let Some(existing) = stage::read_manifest(&bucket)?
    {
        outln!(
            "already staged in {}: {} ({} train, {} test images); skipping",
            bucket.root().display(),
            existing.source,
            existing.train.total(),
            existing.test.total()
        )?;
        if existing.synthetic {
            synthetic_banner(existing.synthetic_reason.as_deref());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let trained_on = scones_local::training::serving_model_dir(&bucket)
        .ok()
        .flatten()
        .and_then(|_| scones_local::training::staged_fingerprint(&bucket));
    let progress = BarProgress::new();
    let manifest = if let Some(archive) = &args.cifar {
        stage::stage(&bucket, &Source::Cifar(archive.clone()), &progress)
    } else if let (Some(dir), Some(labels)) = (&args.images, &args.labels) {
        let source = Source::Images {
            dir: dir.clone(),
            labels: labels.clone(),
        };
        stage::stage(&bucket, &source, &progress)
    } else if args.synthetic {
        let source = Source::Synthetic {
            spec: SyntheticSpec::default(),
            reason: "requested with --synthetic".into(),
        };
        stage::stage(&bucket, &source, &progress)
    } else {
        stage::stage_default(&bucket, &cache_dir(&home), &progress)
    }
    .context("staging failed; the bucket was left as it was")?;
    report(&home, &manifest)?;
    // Other images under a model trained on the old ones: its measures (and `eval`) no
    // longer describe this data. Said, not refused: re-staging is how data is replaced.
    if let Some(before) = trained_on
        && scones_local::training::staged_fingerprint(&bucket).as_ref() != Some(&before)
    {
        errln!(
            "warning: the served model was trained on the images staged before, not these; \
             its measures describe other data. Train on these: scones train"
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn report(home: &Home, manifest: &StageManifest) -> anyhow::Result<()> {
    if manifest.synthetic {
        synthetic_banner(manifest.synthetic_reason.as_deref());
    }
    outln!(
        "staged {} into {}",
        manifest.source,
        home.bucket_dir().display()
    )?;
    for (split, counts) in [("train", manifest.train), ("test", manifest.test)] {
        outln!(
            "  {split:<5} {:>5} images ({} bicycle, {} motorcycle)",
            counts.total(),
            counts.bicycle,
            counts.motorcycle
        )?;
    }
    Ok(())
}
