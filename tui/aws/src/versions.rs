//! Model versions on AWS, and the record of what served when.
//!
//! A version is a Completed training job of the stack (named `<name>-ic-<digest>`, with
//! `-r<digest>` when it trained on reviewed images too): its artefact is
//! `<output>/<job>/output/model.tar.gz`. What serves is read from the endpoint itself
//! (DescribeEndpoint → DescribeEndpointConfig → DescribeModel: the model's artefact), not
//! from a record that could disagree with it.
//!
//! No model registry: SageMaker's model package groups would hold a second "which version
//! is approved" beside the endpoint's own answer, and Terraform would have to own the group
//! while the CLI changes its entries; the training jobs already name every version, and the
//! endpoint says which serves. Promotions and rollbacks are recorded one object each under
//! [`PROMOTIONS_PREFIX`] (who, when, from, to, forced).

use std::collections::HashMap;

use aws_sdk_sagemaker::error::ProvideErrorMetadata;
use aws_sdk_sagemaker::types::{SortBy, SortOrder, TrainingJobStatus};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use scones_workflow::models::{ModelVersion, Promotion, TrainedOn};

use crate::error::AwsError;
use crate::reviewed_training::LST_PREFIX;

/// Where promotion records go, one object each.
pub const PROMOTIONS_PREFIX: &str = "models/promotions/";

/// Versions listed at most (the newest).
const MAX_VERSIONS: i32 = 50;

/// Listing pages read at most.
const MAX_PAGES: usize = 20;

/// Describes made at once.
const CONCURRENCY: usize = 4;

/// One version: the job and its artefact.
#[derive(Debug, Clone, PartialEq)]
pub struct JobVersion {
    /// The version as listed.
    pub version: ModelVersion,
    /// Its `model.tar.gz`.
    pub model_data_url: String,
}

fn chrono_time(t: Option<&aws_smithy_types::DateTime>) -> DateTime<Utc> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
        .unwrap_or_default()
}

/// The Completed training jobs named with `job_prefix`, newest first, each with what it
/// was trained on (reviewed images counted from its combined list in `bucket`).
pub async fn list(
    sagemaker: &aws_sdk_sagemaker::Client,
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    job_prefix: &str,
    known: &mut HashMap<String, JobVersion>,
) -> Result<Vec<JobVersion>, AwsError> {
    // Every page: the filter and the order are the service's, but an emulator may page
    // before filtering; the newest are kept here either way.
    let mut found: Vec<(DateTime<Utc>, String)> = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let out = sagemaker
            .list_training_jobs()
            .name_contains(job_prefix)
            .status_equals(TrainingJobStatus::Completed)
            .sort_by(SortBy::CreationTime)
            .sort_order(SortOrder::Descending)
            .max_results(MAX_VERSIONS)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListTrainingJobs", e))?;
        found.extend(out.training_job_summaries().iter().filter_map(|j| {
            let name = j
                .training_job_name()
                .filter(|n| n.starts_with(job_prefix))?;
            Some((chrono_time(j.creation_time()), name.to_owned()))
        }));
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    found.sort_by(|a, b| b.cmp(a));
    found.truncate(MAX_VERSIONS as usize);
    let names: Vec<String> = found.into_iter().map(|(_, name)| name).collect();
    // A Completed job never changes: only the ones not seen before are described.
    let new: Vec<String> = names
        .iter()
        .filter(|n| !known.contains_key(*n))
        .cloned()
        .collect();
    let described: Vec<Result<Option<JobVersion>, AwsError>> = futures::stream::iter(new)
        .map(|name| describe(sagemaker, s3, bucket, name))
        .buffered(CONCURRENCY)
        .collect()
        .await;
    for job in described.into_iter().filter_map(Result::transpose) {
        let job = job?;
        known.insert(job.version.version.clone(), job);
    }
    Ok(names
        .iter()
        .filter_map(|name| known.get(name).cloned())
        .collect())
}

/// One job as a version (`None`: not Completed, or no artefact).
pub async fn describe(
    sagemaker: &aws_sdk_sagemaker::Client,
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    name: String,
) -> Result<Option<JobVersion>, AwsError> {
    let job = match sagemaker
        .describe_training_job()
        .training_job_name(&name)
        .send()
        .await
    {
        Ok(job) => job,
        Err(e) => {
            let e = AwsError::from_sdk("DescribeTrainingJob", e);
            return if e.is_not_found() { Ok(None) } else { Err(e) };
        }
    };
    if job.training_job_status() != Some(&TrainingJobStatus::Completed) {
        return Ok(None);
    }
    let Some(url) = job.model_artifacts().and_then(|a| a.s3_model_artifacts()) else {
        return Ok(None);
    };
    let samples: usize = job
        .hyper_parameters()
        .and_then(|h| h.get("num_training_samples"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let reviewed = reviewed_count(s3, bucket, &name).await;
    Ok(Some(JobVersion {
        version: ModelVersion {
            version: name,
            created: chrono_time(job.creation_time()),
            trained_on: TrainedOn {
                base: samples.saturating_sub(reviewed),
                reviewed,
            },
            // Not measured on AWS yet: the gate's measures need the candidate's answers.
            test: None,
            production: None,
            threshold: 0.0,
            serving: false,
        },
        model_data_url: url.to_owned(),
    }))
}

/// Reviewed images a job trained on: the `reviewed_` lines of its combined list (a job
/// named `...-r<digest>`), 0 for the others or when the list is gone.
async fn reviewed_count(s3: &aws_sdk_s3::Client, bucket: &str, job: &str) -> usize {
    let Some((_, digest)) = job.rsplit_once("-r") else {
        return 0;
    };
    if digest.len() != 12 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return 0;
    }
    let key = format!("{LST_PREFIX}{digest}/train.lst");
    match crate::capture::get_object_at_most(s3, bucket, &key, 64 << 20).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|l| {
                l.split('\t')
                    .nth(2)
                    .is_some_and(|p| p.starts_with("reviewed_"))
            })
            .count(),
        Err(e) => {
            tracing::warn!(%key, error = %e, "reviewed images of a version unknown");
            0
        }
    }
}

/// What the endpoint is doing and serving.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointState {
    /// `InService`, `Updating`, `RollingBack`, ...
    pub status: String,
    /// The artefact its current configuration's model serves.
    pub serving_model_data_url: Option<String>,
    /// Why the last update failed or rolled back, when it did.
    pub failure_reason: Option<String>,
    /// When the update in progress started.
    pub updating_since: Option<DateTime<Utc>>,
}

impl EndpointState {
    /// True when nothing is being deployed.
    pub fn in_service(&self) -> bool {
        self.status == "InService"
    }
}

/// The endpoint's status and the artefact it serves.
pub async fn endpoint_state(
    sagemaker: &aws_sdk_sagemaker::Client,
    endpoint: &str,
) -> Result<EndpointState, AwsError> {
    let out = sagemaker
        .describe_endpoint()
        .endpoint_name(endpoint)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeEndpoint", e))?;
    let status = out
        .endpoint_status()
        .map_or_else(|| "Unknown".to_owned(), |s| s.as_str().to_owned());
    let updating_since = out
        .pending_deployment_summary()
        .and_then(|p| p.start_time())
        .map(|t| chrono_time(Some(t)));
    // A configuration or model deleted while the endpoint still runs it (Terraform deletes
    // the configuration it replaced even when SageMaker rolled the update back to it) serves
    // nothing this stack can name.
    let gone = |message: Option<&str>| message.is_some_and(|m| m.contains("Could not find"));
    let mut serving = None;
    if let Some(config) = out.endpoint_config_name() {
        let config = match sagemaker
            .describe_endpoint_config()
            .endpoint_config_name(config)
            .send()
            .await
        {
            Ok(config) => Some(config),
            Err(e) if gone(e.message()) => None,
            Err(e) => return Err(AwsError::from_sdk("DescribeEndpointConfig", e)),
        };
        if let Some(model) = config
            .as_ref()
            .and_then(|c| c.production_variants().first().and_then(|v| v.model_name()))
        {
            match sagemaker.describe_model().model_name(model).send().await {
                Ok(model) => {
                    serving = model
                        .primary_container()
                        .and_then(|c| c.model_data_url())
                        .or_else(|| model.containers().first().and_then(|c| c.model_data_url()))
                        .map(str::to_owned);
                }
                Err(e) if gone(e.message()) => {}
                Err(e) => return Err(AwsError::from_sdk("DescribeModel", e)),
            }
        }
    }
    Ok(EndpointState {
        status,
        serving_model_data_url: serving,
        failure_reason: out.failure_reason().map(str::to_owned),
        updating_since,
    })
}

/// Records a promotion or rollback (its own object).
pub async fn record(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    promotion: &Promotion,
) -> Result<(), AwsError> {
    let key = format!(
        "{PROMOTIONS_PREFIX}{}-{:08x}.json",
        promotion.at.format("%Y%m%dT%H%M%S%6fZ"),
        rand::random::<u32>()
    );
    crate::bucket::put_json(
        s3,
        bucket,
        &key,
        promotion,
        "the promotion record",
        crate::bucket::Put::CreateOnly,
    )
    .await
}

/// Every promotion record, oldest first (an unreadable one is skipped with a warning).
pub async fn history(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Vec<Promotion>, AwsError> {
    let keys = crate::bucket::list_keys(s3, bucket, PROMOTIONS_PREFIX).await?;
    let mut records = Vec::new();
    for key in keys {
        match crate::capture::get_object_at_most(s3, bucket, &key, crate::bucket::RECORD_MAX_BYTES)
            .await
        {
            Ok(bytes) => match serde_json::from_slice::<Promotion>(&bytes) {
                Ok(p) => records.push(p),
                Err(e) => tracing::warn!(%key, error = %e, "promotion record skipped"),
            },
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    records.sort_by_key(|p| p.at);
    Ok(records)
}
