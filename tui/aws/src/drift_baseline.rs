//! `scones baseline --aws`: the drift baseline of the deployed endpoint, written where the
//! monitor-drift function reads it (terraform/modules/drift).
//!
//! - The **input** statistics come from the images of `train.lst`: label-free and
//!   model-free, so every training image is fair game (as the local stack's baseline).
//! - The **output** statistics (confidence, class mix, low-confidence rate) only from a
//!   held-out labelled set sent through the endpoint: the SageMaker model was fitted on all of
//!   `train/`, and a model's answers on its own training images are over-confident (measured
//!   on the local model: 83% above 0.93 against 70% on unseen images), so a baseline from them
//!   would call ordinary traffic drift. `test/` is never used: it is what the model's quality
//!   is measured on. Without a held-out set the baseline has inputs only and the report says
//!   the output statistics are not judged.

use futures::StreamExt;
use scones_workflow::drift::{Baseline, Profile};

use crate::bucket::read_lst;
use crate::capture::get_object;
use crate::clients::AwsClients;
use crate::error::AwsError;
use crate::evaluation::{LabelledSet, labelled_predictions};

/// The training split's .lst file and image prefix.
pub const TRAIN_SET: (&str, &str) = ("train.lst", "train/");

/// Reads in flight at once.
const CONCURRENCY: usize = 8;

/// Computes the baseline of `endpoint`: inputs from `train.lst`'s images, outputs from
/// `held_out` sent through the endpoint when given. `progress(stage, done, total)`.
pub async fn endpoint_baseline(
    clients: &AwsClients,
    bucket: &str,
    endpoint: &str,
    held_out: Option<&LabelledSet>,
    progress: impl Fn(&str, usize, usize),
) -> Result<Baseline, AwsError> {
    let (lst, prefix) = TRAIN_SET;
    let entries = read_lst(&clients.s3, bucket, lst).await?;
    if entries.is_empty() {
        return Err(AwsError::protocol(
            "GetObject",
            format!(
                "s3://{bucket}/{lst} is missing or empty: the input statistics come from the \
                 training images (run `scones stage --aws --bucket {bucket}`)"
            ),
        ));
    }
    let mut profile = Profile::default();
    let total = entries.len();
    let mut unreadable = Vec::new();
    let mut reads = futures::stream::iter(entries)
        .map(|entry| async move {
            let key = format!("{prefix}{}", entry.path);
            let png = get_object(&clients.s3, bucket, &key).await?;
            Ok::<_, AwsError>((key, scones_workflow::image::image_features(&png)))
        })
        .buffer_unordered(CONCURRENCY);
    let mut done = 0;
    while let Some(read) = reads.next().await {
        let (key, features) = read?;
        match features {
            Some(f) => profile.add_image(&f),
            None => unreadable.push(key),
        }
        done += 1;
        progress("reading the training images", done, total);
    }
    if profile.images() == 0 {
        return Err(AwsError::protocol(
            "GetObject",
            format!("none of the {total} images of s3://{bucket}/{lst} decodes as a PNG"),
        ));
    }
    let outputs_from = match held_out {
        Some(set) => {
            let predictions = labelled_predictions(clients, bucket, endpoint, set, |d, t| {
                progress("invoking the endpoint", d, t)
            })
            .await?;
            for p in &predictions {
                profile.add_scores(p.labelled.scores);
            }
            Some(format!(
                "{} held-out images of s3://{bucket}/{} through {endpoint}",
                predictions.len(),
                set.lst_key
            ))
        }
        None => None,
    };
    Ok(Baseline {
        format: Baseline::FORMAT,
        // After the held-out images went through the endpoint: their captures are older than
        // the baseline, and the monitor counts traffic from the baseline on.
        created: chrono::Utc::now(),
        model: format!("endpoint {endpoint}"),
        inputs_from: format!(
            "the {} images of s3://{bucket}/{lst}{}",
            profile.images(),
            if unreadable.is_empty() {
                String::new()
            } else {
                format!(" ({} unreadable as PNG, left out)", unreadable.len())
            }
        ),
        outputs_from,
        held_out: held_out.cloned(),
        profile,
    })
}

/// `baseline` with its output statistics measured again through `endpoint`, now serving
/// `version`, on the held-out set they came from; the input statistics (model-free) are kept.
/// Its `created` is now: the monitor judges the traffic from then on, the new version's.
/// `None` when the baseline records no held-out set to measure on.
pub async fn remeasure_outputs(
    clients: &AwsClients,
    bucket: &str,
    endpoint: &str,
    version: &str,
    mut baseline: Baseline,
) -> Result<Option<Baseline>, AwsError> {
    let Some(set) = baseline.held_out.clone() else {
        return Ok(None);
    };
    let predictions = labelled_predictions(clients, bucket, endpoint, &set, |_, _| {}).await?;
    let fresh = Profile::default();
    baseline.profile.confidence = fresh.confidence;
    baseline.profile.predicted = fresh.predicted;
    for p in &predictions {
        baseline.profile.add_scores(p.labelled.scores);
    }
    baseline.created = chrono::Utc::now();
    baseline.model = format!("endpoint {endpoint} serving {version}");
    baseline.outputs_from = Some(format!(
        "{} held-out images of s3://{bucket}/{} through {endpoint} serving {version}",
        predictions.len(),
        set.lst_key
    ));
    Ok(Some(baseline))
}

/// The baseline at `key`, `None` when there is none yet. Larger than
/// [`Baseline::MAX_BYTES`] or not a baseline is an error naming the object.
pub async fn get_baseline(
    clients: &AwsClients,
    bucket: &str,
    key: &str,
) -> Result<Option<Baseline>, AwsError> {
    let bytes =
        match crate::capture::get_object_at_most(&clients.s3, bucket, key, Baseline::MAX_BYTES)
            .await
        {
            Ok(bytes) => bytes,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        AwsError::protocol(
            "GetObject",
            format!("s3://{bucket}/{key} is not a drift baseline: {e}"),
        )
    })
}

/// Writes `baseline` to `key`.
pub async fn put_baseline(
    clients: &AwsClients,
    bucket: &str,
    key: &str,
    baseline: &Baseline,
) -> Result<(), AwsError> {
    crate::bucket::put_json(
        &clients.s3,
        bucket,
        key,
        baseline,
        "the baseline",
        crate::bucket::Put::Replace,
    )
    .await
}
