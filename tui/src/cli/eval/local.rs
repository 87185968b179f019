//! `scones eval --local`: evaluate the latest local model.

use std::process::ExitCode;

use anyhow::Context;
use scones_local::stage::Split;
use scones_local::{Home, stage, training};

use super::EvalArgs;
use crate::cli::GlobalArgs;
use crate::ui::synthetic_banner;

pub fn run(global: &GlobalArgs, args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let home = Home::resolve(global.home.as_deref())?;
    let bucket = home.bucket();
    let model = training::load_latest(&bucket)?;
    let images = match (&args.images, &args.labels) {
        (Some(dir), Some(labels)) => scones_model::load_split(dir, labels, &args.split)
            .with_context(|| format!("loading the {} split of {}", args.split, labels.display()))?,
        _ => {
            if let Some(manifest) = stage::read_manifest(&bucket)?
                && manifest.synthetic
            {
                synthetic_banner(manifest.synthetic_reason.as_deref());
            }
            let split = match args.split.as_str() {
                "train" => Split::Train,
                "test" => Split::Test,
                other => anyhow::bail!("--split {other:?}: the staged splits are train and test"),
            };
            training::load_staged(&bucket, split)?
        }
    };
    anyhow::ensure!(!images.is_empty(), "no images in the {} split", args.split);
    let evaluation = scones_model::evaluate(model.classifier(), &images)?;
    println!("{evaluation}");
    Ok(ExitCode::SUCCESS)
}
