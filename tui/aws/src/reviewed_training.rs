//! `scones train --aws` with what people reviewed: the training channel becomes `train.lst`
//! plus every image labelled in review on the training side of the hash split
//! ([`scones_workflow::review::use_of`]): never one of the held-out production validation
//! share, never one of `test/`.
//!
//! The built-in algorithm reads the images of its `train` channel (`s3://bucket/train/`)
//! named by the `.lst` of its `train_lst` channel. A reviewed image can be anywhere in the
//! bucket, so it is copied (CopyObject, server-side) into the channel's prefix under a
//! plain file name ([`copy_name`]) and listed there. That keeps the job's role as it was
//! (it reads `train/`), and keeps every `.lst` path a plain file name as the domain's
//! reader requires. The combined `.lst` goes to `review/training/<digest>/train.lst`.
//!
//! The job name covers the reviewed images: it is Terraform's content-addressed name plus
//! a digest of the combined `.lst` (keys, labels, order), so the same labels reuse the
//! finished job and one more label trains anew.

use aws_sdk_s3::primitives::ByteStream;
use scones_workflow::dataset::{LstEntry, file_name_problem, parse_lst};
use scones_workflow::review::{Use, use_of};
use sha2::{Digest, Sha256};

use crate::error::AwsError;
use crate::review::LabelReader;
use crate::training::TrainingJobSpec;

/// Where the combined `.lst` files go (the training role may read them).
pub const LST_PREFIX: &str = "review/training/";

/// The largest `train.lst` read (a million images are ~40 MB).
const MAX_LST_BYTES: u64 = 64 << 20;

/// Copies made at once.
const COPY_CONCURRENCY: usize = 16;

/// What a job trains on besides `train.lst`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reviewed {
    /// Reviewed images added to the training channel.
    pub added: usize,
    /// Reviewed images on the training side whose object is gone (left out).
    pub missing: Vec<String>,
    /// Reviewed images held out as the production validation set (not trained on).
    pub held_out: usize,
    /// Reviewed images of `test/` (never trained on).
    pub test_split: usize,
    /// Images in the combined `.lst`.
    pub samples: usize,
    /// The combined `.lst`.
    pub lst_uri: String,
}

/// Why the reviewed images cannot join the job.
#[derive(Debug, thiserror::Error)]
pub enum ReviewedError {
    /// An S3 call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The spec has no `train`/`train_lst` channel of the shape Terraform writes.
    #[error("the job spec's {channel} channel: {reason}")]
    Channel {
        /// Which.
        channel: &'static str,
        /// Why.
        reason: String,
    },
    /// `train.lst` does not read.
    #[error("{uri}: {source}")]
    Lst {
        /// Where it is.
        uri: String,
        /// Why.
        #[source]
        source: scones_workflow::dataset::LstError,
    },
}

/// The file name a reviewed image gets in the training channel: a digest of its key (two
/// keys never share one) and its own file name, when that is a plain one.
pub fn copy_name(key: &str) -> String {
    let digest = hex::encode(&Sha256::digest(key.as_bytes())[..8]);
    let base = key.rsplit('/').next().unwrap_or_default();
    let base = if file_name_problem(base).is_none() {
        base
    } else {
        "image.png"
    };
    format!("reviewed_{digest}_{base}")
}

/// `spec` with the reviewed images added to its training channel, and what was added;
/// `spec` unchanged (and `None`) when no reviewed image is on the training side.
pub async fn add_reviewed(
    s3: &aws_sdk_s3::Client,
    spec: &TrainingJobSpec,
) -> Result<(TrainingJobSpec, Option<Reviewed>), ReviewedError> {
    let (lst_bucket, lst_key) = channel(spec, "train_lst")?;
    let (bucket, prefix) = channel(spec, "train")?;
    if lst_bucket != bucket {
        return Err(ReviewedError::Channel {
            channel: "train_lst",
            reason: format!("in bucket {lst_bucket}, not the train channel's {bucket}"),
        });
    }
    let (labels, unreadable) = LabelReader::default().refresh(s3, &bucket).await?;
    if unreadable > 0 {
        tracing::warn!(unreadable, "label records skipped (not records)");
    }
    let mut train = Vec::new();
    let (mut held_out, mut test_split) = (0, 0);
    for record in labels.current() {
        let Some(class) = record.label.class() else {
            continue;
        };
        match use_of(&record.key) {
            Use::Train => train.push((record.key.clone(), class)),
            Use::Validate => held_out += 1,
            Use::QualityOnly => test_split += 1,
        }
    }
    if train.is_empty() {
        return Ok((spec.clone(), None));
    }
    // A fixed order: the same labels give the same .lst, so the same job.
    train.sort();

    let lst_uri = format!("s3://{bucket}/{lst_key}");
    let text = crate::capture::get_object_at_most(s3, &bucket, &lst_key, MAX_LST_BYTES).await?;
    let mut entries =
        parse_lst(&String::from_utf8_lossy(&text)).map_err(|source| ReviewedError::Lst {
            uri: lst_uri.clone(),
            source,
        })?;

    let copies: Vec<(String, Result<(), AwsError>)> = {
        use futures::StreamExt;
        let (bucket, prefix) = (&bucket, &prefix);
        futures::stream::iter(train.iter().map(|(key, _)| key.clone()))
            .map(|key| async move {
                let copied = copy(s3, bucket, &key, &format!("{prefix}{}", copy_name(&key))).await;
                (key, copied)
            })
            .buffered(COPY_CONCURRENCY)
            .collect()
            .await
    };
    let mut missing = Vec::new();
    let mut next = entries.iter().map(|e| e.index + 1).max().unwrap_or(0);
    for ((key, class), (_, copied)) in train.iter().zip(copies) {
        match copied {
            Ok(()) => {
                entries.push(LstEntry {
                    index: next,
                    label: *class,
                    path: copy_name(key),
                });
                next += 1;
            }
            Err(e) if e.is_not_found() => missing.push(key.clone()),
            Err(e) => return Err(e.into()),
        }
    }
    let added = train.len() - missing.len();
    if added == 0 {
        return Ok((spec.clone(), None));
    }

    let mut lst: String = entries.iter().map(|e| e.to_line() + "\n").collect();
    lst.shrink_to_fit();
    let digest = hex::encode(&Sha256::digest(format!("{}\n{lst}", spec.job_name))[..6]);
    let key = format!("{LST_PREFIX}{digest}/train.lst");
    s3.put_object()
        .bucket(&bucket)
        .key(&key)
        .content_type("text/plain")
        .body(ByteStream::from(lst.into_bytes()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutObject", e))?;

    let mut out = spec.clone();
    out.job_name = job_name(&spec.job_name, &digest);
    let uri = format!("s3://{bucket}/{key}");
    for c in &mut out.channels {
        if c.name == "train_lst" {
            c.s3_uri = uri.clone();
        }
    }
    out.hyperparameters
        .insert("num_training_samples".into(), entries.len().to_string());
    Ok((
        out,
        Some(Reviewed {
            added,
            missing,
            held_out,
            test_split,
            samples: entries.len(),
            lst_uri: uri,
        }),
    ))
}

/// Terraform's job name with the reviewed images' digest, within SageMaker's 63 characters.
fn job_name(base: &str, digest: &str) -> String {
    let suffix = format!("-r{digest}");
    let keep = 63usize.saturating_sub(suffix.len()).min(base.len());
    format!("{}{suffix}", base[..keep].trim_end_matches('-'))
}

/// The bucket and key (or prefix) of the channel `name`.
fn channel(spec: &TrainingJobSpec, name: &'static str) -> Result<(String, String), ReviewedError> {
    let bad = |reason: String| ReviewedError::Channel {
        channel: name,
        reason,
    };
    let c = spec
        .channels
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| bad("missing".to_owned()))?;
    let (bucket, key) = c
        .s3_uri
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        .ok_or_else(|| bad(format!("{} is not s3://bucket/key", c.s3_uri)))?;
    Ok((bucket.to_owned(), key.to_owned()))
}

/// Server-side copy of `from` to `to` within `bucket`.
async fn copy(s3: &aws_sdk_s3::Client, bucket: &str, from: &str, to: &str) -> Result<(), AwsError> {
    // The copy source is `bucket/key`, URL-encoded (S3 API reference, CopyObject).
    let source = format!(
        "{bucket}/{}",
        percent_encoding::utf8_percent_encode(from, KEY_ENCODE)
    );
    s3.copy_object()
        .bucket(bucket)
        .key(to)
        .copy_source(source)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CopyObject", e))?;
    Ok(())
}

/// Everything but unreserved characters and `/` is encoded in a copy source.
const KEY_ENCODE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_get_plain_distinct_file_names_and_job_names_stay_valid() {
        let a = copy_name("incoming/2026/a.png");
        let b = copy_name("other/2026/a.png");
        assert_ne!(a, b);
        assert!(
            a.ends_with("_a.png") && file_name_problem(&a).is_none(),
            "{a}"
        );
        assert!(file_name_problem(&copy_name("odd/.hidden")).is_none());
        let name = job_name("scones-ic-0123456789abcdef", "a1b2c3d4e5f6");
        assert_eq!(name, "scones-ic-0123456789abcdef-ra1b2c3d4e5f6");
        let long = job_name(&"x".repeat(60), "a1b2c3d4e5f6");
        assert_eq!(long.len(), 63);
    }
}
