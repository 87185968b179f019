//! Labelled predictions to score: the local model's, or the deployed endpoint's.

use std::path::Path;

use anyhow::Context;
use scones_local::{Home, stage, training};
use scones_workflow::Threshold;
use scones_workflow::quality::Labelled;
use serde::Serialize;

use super::DataArgs;
#[cfg(feature = "aws")]
use crate::cli::aws_stack;
use crate::cli::aws_stack::AwsStackArgs;
#[cfg(feature = "aws")]
use crate::cli::progress::BarProgress;
use crate::cli::progress::synthetic_banner;
use crate::cli::{BackendArgs, GlobalArgs, on_aws};

/// Predictions with what they were made by and on.
#[derive(Debug, Clone)]
pub struct Scored {
    /// The predictions with their labels.
    pub predictions: Vec<Labelled>,
    /// What was scored (e.g. "the staged test split (200 images)").
    pub source: String,
    /// Which model answered.
    pub model: ModelInfo,
    /// The threshold the tables mark: the one in force, or the one asked for.
    pub threshold: f64,
    /// Whether `threshold` is the one asked for (`--threshold`) rather than the one in
    /// force (the local stack's setting, or the deployed filter's).
    pub threshold_asked: bool,
    /// The staged data is the synthetic stand-in.
    pub synthetic: bool,
}

/// The model behind the predictions.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    /// Where it is (a model directory, an endpoint).
    pub name: String,
    /// How its probabilities are calibrated, as far as scones knows.
    pub calibration: CalibrationState,
}

/// What is known about the served probabilities' calibration.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CalibrationState {
    /// Temperature scaling fitted on predictions of training images the network did not see.
    Temperature {
        /// The temperature.
        temperature: f64,
        /// Predictions it was fitted on.
        images: usize,
        /// Which: the run's holdout or the configuration's out-of-fold predictions.
        fitted_on: scones_model::calibration::FittedOn,
    },
    /// The model carries no calibration (a final fit, or trained before calibration
    /// existed): its raw softmax is served.
    Uncalibrated,
    /// Not known from here (the SageMaker algorithm's own probabilities).
    #[cfg_attr(not(feature = "aws"), allow(dead_code))]
    Unknown,
}

/// Scores the model of the chosen backend on its labelled set.
#[cfg_attr(not(feature = "aws"), allow(unused_variables))] // `stack` says where the AWS one is
pub fn score(
    global: &GlobalArgs,
    backend: &BackendArgs,
    stack: &AwsStackArgs,
    data: &DataArgs,
    threshold: Option<Threshold>,
) -> anyhow::Result<Scored> {
    if backend.aws {
        anyhow::ensure!(
            data.images.is_none()
                && data.split == "test"
                && data.perturb.is_none()
                && data.model_version.is_none(),
            "--images/--labels/--split/--perturb/--model are local: on AWS the labelled set is \
             the bucket's test.lst and the endpoint's model answers"
        );
        return on_aws!(score_aws(backend, stack, threshold));
    }
    score_local(global, data, threshold)
}

fn score_local(
    global: &GlobalArgs,
    data: &DataArgs,
    threshold: Option<Threshold>,
) -> anyhow::Result<Scored> {
    let home = Home::locate(global.home.as_deref())?;
    let bucket = home.bucket();
    if training::serving_model_dir(&bucket)?.is_none() {
        anyhow::bail!(
            "no trained model in {}: train one with `scones train --local`",
            home.root().display()
        );
    }
    let (version, model) =
        scones_local::promotion::load_version(&bucket, data.model_version.as_deref())?;
    let model_dir = bucket.models_dir().join(&version);
    let mut synthetic = false;
    let (images, source) = match (&data.images, &data.labels) {
        (Some(dir), Some(labels)) => {
            let images = scones_model::load_split(dir, labels, &data.split).with_context(|| {
                format!("loading the {} split of {}", data.split, labels.display())
            })?;
            let source = format!(
                "the {} split of {} ({} images)",
                data.split,
                labels.display(),
                images.len()
            );
            (images, source)
        }
        _ => {
            if let Some(manifest) = stage::read_manifest(&bucket)?
                && manifest.synthetic
            {
                synthetic_banner(manifest.synthetic_reason.as_deref());
                synthetic = true;
            }
            let split = match data.split.as_str() {
                "train" => stage::Split::Train,
                _ => stage::Split::Test,
            };
            let images = training::load_staged(&bucket, split)?;
            let source = format!("the staged {} split ({} images)", data.split, images.len());
            (images, source)
        }
    };
    anyhow::ensure!(!images.is_empty(), "no images in the {} split", data.split);
    let (images, source) = match data.perturb {
        None => (images, source),
        Some(kind) => (
            perturbed(kind, images),
            format!("{source}, perturbed: {}", kind.name()),
        ),
    };
    anyhow::ensure!(
        !images.is_empty(),
        "no images left after --perturb selected them"
    );
    let classifier = model.classifier();
    let predictions = images
        .iter()
        .map(|example| {
            let [b, m] = classifier
                .predict_image(&example.image)
                .with_context(|| format!("predicting {}", example.name))?;
            Ok(Labelled {
                scores: [f64::from(b), f64::from(m)],
                label: example.label,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let calibration = match &model.metadata().calibration {
        Some(c) => CalibrationState::Temperature {
            temperature: c.temperature,
            images: c.images,
            fitted_on: c.fitted_on,
        },
        None => CalibrationState::Uncalibrated,
    };
    Ok(Scored {
        predictions,
        source,
        model: ModelInfo {
            name: display_path(&model_dir),
            calibration,
        },
        threshold: home.settings()?.threshold(threshold).value(),
        threshold_asked: threshold.is_some(),
        synthetic,
    })
}

/// `images` as the perturbation `kind` shows them: transformed (seeded by position, as
/// traffic is), or for one-class only the motorcycles.
fn perturbed(
    kind: scones_local::perturb::Perturbation,
    images: Vec<scones_model::LabeledImage>,
) -> Vec<scones_model::LabeledImage> {
    use scones_local::perturb::Perturbation;
    images
        .into_iter()
        .enumerate()
        .filter_map(|(i, mut example)| {
            if kind == Perturbation::OneClass {
                return (example.label == scones_model::Class::Motorcycle).then_some(example);
            }
            example.image = kind.apply(&example.image, i as u64)?;
            Some(example)
        })
        .collect()
}

fn display_path(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(feature = "aws")]
fn score_aws(
    backend: &BackendArgs,
    stack: &AwsStackArgs,
    threshold: Option<Threshold>,
) -> anyhow::Result<Scored> {
    let runtime = crate::cli::async_runtime()?;
    runtime.block_on(async {
        let (resources, clients) = aws_stack::connect(backend, stack).await?;
        let endpoint = resources.live_endpoint().ok_or_else(|| {
            anyhow::anyhow!(
                "the stack has no endpoint to evaluate (Terraform created none: no training job \
                 and no model_data_url)"
            )
        })?;
        let bar = BarProgress::new();
        let progress = |done: usize, total: usize| {
            use scones_local::Progress;
            if done == 1 {
                bar.begin("invoking the endpoint", Some(total as u64));
            }
            bar.advance(1);
        };
        let predictions = scones_aws::evaluation::endpoint_predictions(
            &clients,
            &resources.bucket,
            endpoint,
            progress,
        )
        .await?;
        scones_local::Progress::end(&bar);
        let deployed = resources.threshold.unwrap_or(Threshold::DEFAULT.value());
        Ok(Scored {
            source: format!(
                "s3://{}/test.lst through InvokeEndpoint ({} images)",
                resources.bucket,
                predictions.len()
            ),
            predictions: predictions.into_iter().map(|p| p.labelled).collect(),
            model: ModelInfo {
                name: format!("endpoint {endpoint}"),
                calibration: CalibrationState::Unknown,
            },
            threshold: threshold.map_or(deployed, Threshold::value),
            threshold_asked: threshold.is_some(),
            synthetic: false,
        })
    })
}
