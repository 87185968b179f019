//! The deployed endpoint on the labelled test split: every image of `test.lst` sent with
//! `InvokeEndpoint` as the classify function sends it (`image/png`), its answer read with
//! the domain model's reader. `scones eval --aws` and `scones threshold --aws` score these.

use futures::StreamExt;
use scones_workflow::capture::scores_of_text;
use scones_workflow::quality::Labelled;

use crate::bucket::{TEST_LST, TEST_PREFIX, read_lst};
use crate::capture::get_object;
use crate::clients::AwsClients;
use crate::error::AwsError;

/// Requests in flight at once (an endpoint instance serves a few in parallel).
const CONCURRENCY: usize = 8;

/// One scored test image.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointPrediction {
    /// The image's key.
    pub key: String,
    /// The endpoint's answer with the image's label.
    pub labelled: Labelled,
}

/// Sends every image of the bucket's `test.lst` to `endpoint`; `progress(done, total)` after
/// each. Fails when there is no `test.lst` (no labels: nothing to score against) or when any
/// image cannot be read or answered (a partial evaluation would mislead).
pub async fn endpoint_predictions(
    clients: &AwsClients,
    bucket: &str,
    endpoint: &str,
    progress: impl Fn(usize, usize),
) -> Result<Vec<EndpointPrediction>, AwsError> {
    let set = LabelledSet {
        lst_key: TEST_LST.to_owned(),
        image_prefix: TEST_PREFIX.to_owned(),
    };
    labelled_predictions(clients, bucket, endpoint, &set, progress).await
}

pub use scones_workflow::dataset::LabelledSet;

/// Sends every image of `set` to `endpoint`, as [`endpoint_predictions`] does for the test
/// split.
pub async fn labelled_predictions(
    clients: &AwsClients,
    bucket: &str,
    endpoint: &str,
    set: &LabelledSet,
    progress: impl Fn(usize, usize),
) -> Result<Vec<EndpointPrediction>, AwsError> {
    let LabelledSet {
        lst_key,
        image_prefix,
    } = set;
    let entries = read_lst(&clients.s3, bucket, lst_key).await?;
    if entries.is_empty() {
        return Err(AwsError::protocol(
            "GetObject",
            format!(
                "s3://{bucket}/{lst_key} is missing or empty: the labels come from it (run \
                 `scones stage --aws --bucket {bucket}`)"
            ),
        ));
    }
    let images = entries
        .into_iter()
        .map(|e| (format!("{image_prefix}{}", e.path), e.label))
        .collect();
    keyed_predictions(clients, bucket, endpoint, images, progress).await
}

/// Sends each image `(key, label)` of the bucket to `endpoint`; fails on the first image
/// that cannot be read or answered (a partial evaluation would mislead). Sorted by key.
pub async fn keyed_predictions(
    clients: &AwsClients,
    bucket: &str,
    endpoint: &str,
    images: Vec<(String, scones_workflow::class::Class)>,
    progress: impl Fn(usize, usize),
) -> Result<Vec<EndpointPrediction>, AwsError> {
    let total = images.len();
    let mut done = 0usize;
    let mut out = Vec::with_capacity(total);
    let mut answers = futures::stream::iter(images)
        .map(|(key, label)| async move {
            let png = get_object(&clients.s3, bucket, &key).await?;
            let answer = clients
                .sagemaker_runtime
                .invoke_endpoint()
                .endpoint_name(endpoint)
                .content_type("image/png")
                .body(aws_smithy_types::Blob::new(png))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("InvokeEndpoint", e))?;
            let body = answer
                .body()
                .map(|b| b.as_ref().to_vec())
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&body);
            let scores = scores_of_text(&text).ok_or_else(|| {
                AwsError::protocol(
                    "InvokeEndpoint",
                    format!("{endpoint} answered {key} with {text:?}, not two probabilities"),
                )
            })?;
            Ok::<_, AwsError>(EndpointPrediction {
                key,
                labelled: Labelled { scores, label },
            })
        })
        .buffer_unordered(CONCURRENCY);
    while let Some(answer) = answers.next().await {
        out.push(answer?);
        done += 1;
        progress(done, total);
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}
