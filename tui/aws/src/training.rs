//! `scones train --aws`: run the SageMaker training job that Terraform specifies.
//!
//! Terraform (terraform/modules/training) computes a content-addressed job name and hands
//! the whole job as JSON ([`TrainingJobSpec`]); this module creates the job unless one of
//! that name already exists (job names are unique per account, so the name is the
//! idempotency key), waits for it with progress, and succeeds only if it ends `Completed`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_sagemaker::operation::describe_training_job::DescribeTrainingJobOutput;
use aws_sdk_sagemaker::types::{
    AlgorithmSpecification, Channel, DataSource, OutputDataConfig, ResourceConfig,
    S3DataDistribution, S3DataSource, S3DataType, StoppingCondition, Tag, TrainingInputMode,
    TrainingInstanceType, TrainingJobStatus,
};
use aws_smithy_types::error::display::DisplayErrorContext;
use serde::{Deserialize, Serialize};

/// The training job as Terraform's `job_spec` output describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingJobSpec {
    /// Content-addressed job name (`scones-ic-<16 hex>`).
    pub job_name: String,
    /// Region the job runs in: where Terraform made its bucket and role
    /// ([`TrainingJobSpec::job_region`] picks the client's region from it).
    #[serde(default)]
    pub region: Option<String>,
    /// Execution role SageMaker assumes.
    pub role_arn: String,
    /// Algorithm image (built-in image-classification).
    pub image_uri: String,
    /// Instance type, e.g. `ml.g4dn.xlarge`.
    pub instance_type: String,
    /// Instance count.
    #[serde(default = "one")]
    pub instance_count: i32,
    /// Training volume size in GB.
    pub volume_size_gb: i32,
    /// The job is stopped after this many seconds.
    pub max_runtime_seconds: i32,
    /// Algorithm hyperparameters (strings, as SageMaker takes them).
    pub hyperparameters: BTreeMap<String, String>,
    /// `s3://bucket/prefix` under which SageMaker writes `<job>/output/model.tar.gz`.
    pub output_s3_uri: String,
    /// Key that encrypts the model artifact.
    #[serde(default)]
    pub output_kms_key_arn: Option<String>,
    /// Input channels (`train`, `validation`, `train_lst`, `validation_lst`).
    pub channels: Vec<ChannelSpec>,
    /// Tags of the job.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

fn one() -> i32 {
    1
}

/// One input channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSpec {
    /// Channel name the algorithm expects.
    pub name: String,
    /// `s3://` prefix or object.
    pub s3_uri: String,
    /// Content type, e.g. `application/x-image`.
    #[serde(default)]
    pub content_type: Option<String>,
}

/// A job specification that cannot be submitted.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// Not JSON of the expected shape (also: unknown fields, which mean a Terraform/CLI
    /// version mismatch).
    #[error("the training job spec is not JSON of the expected shape")]
    InvalidJson(#[from] serde_json::Error),
    /// SageMaker job names: 1-63 letters, digits and hyphens, starting and ending with a
    /// letter or digit.
    #[error(
        "job name {name:?} is not a valid SageMaker job name (1-63 letters, digits, hyphens; no leading or trailing hyphen)"
    )]
    InvalidJobName {
        /// The name given.
        name: String,
    },
    /// A field that must be an `s3://bucket/...` URI is not.
    #[error("{field} = {value:?} is not an s3://bucket/key URI")]
    InvalidS3Uri {
        /// The field.
        field: String,
        /// The value given.
        value: String,
    },
    /// The job spec is for another region than the one asked for: the job would point at
    /// another region's bucket and role.
    #[error(
        "the job spec is for region {spec} (its bucket and role are there), not {asked}: drop \
         --region or pass --region {spec}"
    )]
    RegionMismatch {
        /// The spec's region.
        spec: String,
        /// The region asked for.
        asked: String,
    },
    /// A required text field is empty.
    #[error("{field} must not be empty")]
    Empty {
        /// The field.
        field: &'static str,
    },
    /// A number outside what SageMaker accepts.
    #[error("{field} = {value} is out of range ({range})")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// The value given.
        value: i64,
        /// What is allowed.
        range: &'static str,
    },
    /// No `train` channel, or a channel name twice.
    #[error("channels: {reason}")]
    Channels {
        /// Why.
        reason: String,
    },
}

impl TrainingJobSpec {
    /// The region to create the job in, given the one the caller asked for (`--region`):
    /// the spec's own when the caller named none (a default region elsewhere would create
    /// the job pointing at another region's bucket and role), and a mismatch refused.
    pub fn job_region(&self, asked: Option<&str>) -> Result<Option<String>, SpecError> {
        match (asked, self.region.as_deref()) {
            (Some(asked), Some(spec)) if asked != spec => Err(SpecError::RegionMismatch {
                spec: spec.to_owned(),
                asked: asked.to_owned(),
            }),
            (asked, spec) => Ok(asked.or(spec).map(str::to_owned)),
        }
    }

    /// Parses and validates the JSON Terraform passes (`--job-spec`).
    pub fn from_json(text: &str) -> Result<Self, SpecError> {
        let spec: TrainingJobSpec = serde_json::from_str(text)?;
        spec.validate()?;
        Ok(spec)
    }

    /// Checks what SageMaker would otherwise reject only after the request.
    pub fn validate(&self) -> Result<(), SpecError> {
        if !is_valid_job_name(&self.job_name) {
            return Err(SpecError::InvalidJobName {
                name: self.job_name.clone(),
            });
        }
        for (field, value) in [
            ("role_arn", &self.role_arn),
            ("image_uri", &self.image_uri),
            ("instance_type", &self.instance_type),
        ] {
            if value.trim().is_empty() {
                return Err(SpecError::Empty { field });
            }
        }
        for (field, value, range, ok) in [
            (
                "instance_count",
                self.instance_count,
                ">= 1",
                self.instance_count >= 1,
            ),
            (
                "volume_size_gb",
                self.volume_size_gb,
                "1..=16384",
                (1..=16384).contains(&self.volume_size_gb),
            ),
            (
                "max_runtime_seconds",
                self.max_runtime_seconds,
                ">= 1",
                self.max_runtime_seconds >= 1,
            ),
        ] {
            if !ok {
                return Err(SpecError::OutOfRange {
                    field,
                    value: i64::from(value),
                    range,
                });
            }
        }
        check_s3_uri("output_s3_uri", &self.output_s3_uri)?;
        let mut names = std::collections::BTreeSet::new();
        for channel in &self.channels {
            check_s3_uri(
                &format!("channels.{}.s3_uri", channel.name),
                &channel.s3_uri,
            )?;
            if !names.insert(channel.name.as_str()) {
                return Err(SpecError::Channels {
                    reason: format!("{:?} appears twice", channel.name),
                });
            }
        }
        if !names.contains("train") {
            return Err(SpecError::Channels {
                reason: "no \"train\" channel".into(),
            });
        }
        Ok(())
    }

    /// Where SageMaker will write the model: `<output_s3_uri>/<job_name>/output/model.tar.gz`
    /// (what Terraform's `model_data_url` is derived as).
    pub fn expected_model_data_url(&self) -> String {
        format!(
            "{}/{}/output/model.tar.gz",
            self.output_s3_uri.trim_end_matches('/'),
            self.job_name
        )
    }
}

fn is_valid_job_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

fn check_s3_uri(field: &str, value: &str) -> Result<(), SpecError> {
    let bucket = value
        .strip_prefix("s3://")
        .map(|rest| rest.split('/').next().unwrap_or(""));
    match bucket {
        Some(bucket) if bucket.len() >= 3 => Ok(()),
        _ => Err(SpecError::InvalidS3Uri {
            field: field.to_owned(),
            value: value.to_owned(),
        }),
    }
}

/// Why training did not produce a model.
#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    /// The spec is invalid.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A SageMaker call failed (credentials, permissions, quota, network).
    #[error("SageMaker {operation} for {job_name} failed: {message}")]
    Aws {
        /// The call.
        operation: &'static str,
        /// The training job.
        job_name: String,
        /// What the service said.
        message: String,
        #[source]
        /// The underlying error.
        source: Box<aws_sdk_sagemaker::Error>,
    },
    /// The job ended, but not `Completed`. Job names are content-addressed, so the same
    /// hyperparameters and data will keep finding this job: change either to train anew.
    #[error("training job {job_name} ended {status}: {reason}")]
    NotCompleted {
        /// The training job.
        job_name: String,
        /// Its status.
        status: String,
        /// Why.
        reason: String,
    },
    /// A `Completed` job of this name was found, but its model artefact is gone: the bucket
    /// was emptied or re-created since. SageMaker job names are unique per account and
    /// region forever, so this name can never train again.
    #[error(
        "training job {job_name} completed earlier, but its model artefact {model_data_url} \
         does not exist (the bucket was emptied or re-created since), and a SageMaker job name \
         can never be used again: change what the job name hashes (e.g. a hyperparameter, \
         the instance type or the run-time limit, `terraform apply -var ...`) to train anew"
    )]
    ArtifactMissing {
        /// The training job.
        job_name: String,
        /// Where its model should be.
        model_data_url: String,
    },
    /// The model artefact's existence could not be checked.
    #[error("cannot check the model artefact {model_data_url}: {message}")]
    ArtifactUnchecked {
        /// Where the model should be.
        model_data_url: String,
        /// What S3 said.
        message: String,
    },
    /// Still running when the caller's time ran out; the job itself goes on.
    #[error(
        "training job {job_name} still {status} after {waited:?}; it keeps running in SageMaker"
    )]
    TimedOut {
        /// The training job.
        job_name: String,
        /// Its status.
        status: String,
        /// How long it was followed.
        waited: Duration,
    },
}

impl TrainingError {
    fn aws<E>(
        operation: &'static str,
        job_name: &str,
        err: aws_sdk_sagemaker::error::SdkError<E>,
    ) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
        aws_sdk_sagemaker::Error: From<aws_sdk_sagemaker::error::SdkError<E>>,
    {
        TrainingError::Aws {
            operation,
            job_name: job_name.to_owned(),
            message: DisplayErrorContext(&err).to_string(),
            source: Box::new(err.into()),
        }
    }
}

/// What [`start_training_job`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    /// A new job was created.
    Created,
    /// A job of that name already existed (any status); nothing was created.
    AlreadyExists {
        /// Its status.
        status: String,
    },
}

/// How long SageMaker may still refuse to assume a role created moments before: IAM is
/// eventually consistent, and `terraform apply` creates the role and starts the job in one
/// run. The AWS provider retries `CreateModel` for the same two minutes.
pub const ROLE_PROPAGATION: Duration = Duration::from_secs(120);

/// The first wait before retrying such a refusal; it doubles up to 16 s.
const FIRST_ROLE_RETRY: Duration = Duration::from_secs(1);

/// A `ValidationException` that says SageMaker could not assume the job's role (what a role
/// not yet propagated looks like: "Could not assume role arn:... Please ensure that the role
/// exists and allows principal 'sagemaker.amazonaws.com' to assume the role."). Any other
/// validation error is final at once.
fn role_not_assumable_yet<R>(
    err: &aws_sdk_sagemaker::error::SdkError<
        aws_sdk_sagemaker::operation::create_training_job::CreateTrainingJobError,
        R,
    >,
) -> bool {
    use aws_sdk_sagemaker::error::ProvideErrorMetadata;
    err.as_service_error().is_some_and(|e| {
        e.code() == Some("ValidationException")
            && e.message()
                .is_some_and(|m| m.to_ascii_lowercase().contains("assume role"))
    })
}

/// Creates the job unless one of that name exists; retries for [`ROLE_PROPAGATION`] while
/// SageMaker cannot assume the job's role yet.
pub async fn start_training_job(
    client: &aws_sdk_sagemaker::Client,
    spec: &TrainingJobSpec,
) -> Result<StartOutcome, TrainingError> {
    spec.validate()?;
    if let Some(existing) = describe(client, &spec.job_name).await? {
        return Ok(StartOutcome::AlreadyExists {
            status: status_text(&existing),
        });
    }
    let deadline = Instant::now() + ROLE_PROPAGATION;
    let mut wait = FIRST_ROLE_RETRY;
    let created = loop {
        match create_request(client, spec).send().await {
            Err(err) if role_not_assumable_yet(&err) && Instant::now() + wait < deadline => {
                tracing::warn!(
                    job = %spec.job_name,
                    role = %spec.role_arn,
                    retry_in_s = wait.as_secs(),
                    "SageMaker cannot assume the role yet (IAM propagation): retrying"
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(16));
            }
            other => break other,
        }
    };
    match created {
        Ok(_) => Ok(StartOutcome::Created),
        // Created by a concurrent run between the describe and the create.
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use()) =>
        {
            let status = describe(client, &spec.job_name)
                .await?
                .map(|d| status_text(&d))
                .unwrap_or_else(|| "InProgress".into());
            Ok(StartOutcome::AlreadyExists { status })
        }
        Err(err) => Err(TrainingError::aws("CreateTrainingJob", &spec.job_name, err)),
    }
}

fn create_request(
    client: &aws_sdk_sagemaker::Client,
    spec: &TrainingJobSpec,
) -> aws_sdk_sagemaker::operation::create_training_job::builders::CreateTrainingJobFluentBuilder {
    let channels = spec.channels.iter().map(|channel| {
        let source = S3DataSource::builder()
            .s3_data_type(S3DataType::S3Prefix)
            .s3_uri(&channel.s3_uri)
            .s3_data_distribution_type(S3DataDistribution::FullyReplicated)
            .build();
        Channel::builder()
            .channel_name(&channel.name)
            .set_content_type(channel.content_type.clone())
            .input_mode(TrainingInputMode::File)
            .data_source(DataSource::builder().s3_data_source(source).build())
            .build()
    });
    let mut request = client
        .create_training_job()
        .training_job_name(&spec.job_name)
        .role_arn(&spec.role_arn)
        .algorithm_specification(
            AlgorithmSpecification::builder()
                .training_image(&spec.image_uri)
                .training_input_mode(TrainingInputMode::File)
                .build(),
        )
        .set_hyper_parameters(Some(spec.hyperparameters.clone().into_iter().collect()))
        .output_data_config(
            OutputDataConfig::builder()
                .s3_output_path(&spec.output_s3_uri)
                .set_kms_key_id(spec.output_kms_key_arn.clone())
                .build(),
        )
        .resource_config(
            ResourceConfig::builder()
                .instance_type(TrainingInstanceType::from(spec.instance_type.as_str()))
                .instance_count(spec.instance_count)
                .volume_size_in_gb(spec.volume_size_gb)
                .build(),
        )
        .stopping_condition(
            StoppingCondition::builder()
                .max_runtime_in_seconds(spec.max_runtime_seconds)
                .build(),
        );
    for channel in channels {
        request = request.input_data_config(channel);
    }
    for (key, value) in &spec.tags {
        request = request.tags(Tag::builder().key(key).value(value).build());
    }
    request
}

/// The job's description, or `None` if no job has that name.
async fn describe(
    client: &aws_sdk_sagemaker::Client,
    job_name: &str,
) -> Result<Option<DescribeTrainingJobOutput>, TrainingError> {
    match client
        .describe_training_job()
        .training_job_name(job_name)
        .send()
        .await
    {
        Ok(description) => Ok(Some(description)),
        Err(err) if is_not_found(&err) => Ok(None),
        Err(err) => Err(TrainingError::aws("DescribeTrainingJob", job_name, err)),
    }
}

/// SageMaker answers DescribeTrainingJob for an unknown name with a ValidationException
/// ("Requested resource not found"), not the modelled ResourceNotFound.
fn is_not_found(
    err: &aws_sdk_sagemaker::error::SdkError<
        aws_sdk_sagemaker::operation::describe_training_job::DescribeTrainingJobError,
    >,
) -> bool {
    let Some(service) = err.as_service_error() else {
        return false;
    };
    if service.is_resource_not_found() {
        return true;
    }
    use aws_sdk_sagemaker::error::ProvideErrorMetadata;
    let message = service.message().unwrap_or_default().to_ascii_lowercase();
    service.code() == Some("ValidationException")
        && (message.contains("not found") || message.contains("could not find"))
}

fn status_text(description: &DescribeTrainingJobOutput) -> String {
    description
        .training_job_status()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_else(|| "Unknown".into())
}

/// Polling of [`wait_for_completion`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitOptions {
    /// Time between DescribeTrainingJob calls.
    pub poll_interval: Duration,
    /// Give up waiting (the job keeps running) after this long; `None` waits for good.
    pub timeout: Option<Duration>,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            poll_interval: Duration::from_secs(30),
            timeout: None,
        }
    }
}

/// One observation of a running job, for a progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobProgress {
    /// `InProgress`, `Completed`, `Failed`, `Stopping`, `Stopped`.
    pub status: String,
    /// SageMaker's finer status: `Starting`, `Downloading`, `Training`, `Uploading`, ...
    pub secondary_status: String,
    /// The latest status message, if any.
    pub message: Option<String>,
    /// Time since waiting started.
    pub elapsed: Duration,
}

/// A job that ended `Completed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedJob {
    /// The job's name.
    pub job_name: String,
    /// Where SageMaker wrote the model (`.../output/model.tar.gz`).
    pub model_data_url: String,
    /// Billable seconds, when SageMaker reports them.
    pub billable_seconds: Option<i32>,
}

/// What one description says about the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// Still going.
    Running(JobProgress),
    /// Done with a model.
    Completed(CompletedJob),
    /// Done without one.
    Ended {
        /// Its status.
        status: String,
        /// Why.
        reason: String,
    },
}

/// Classifies one DescribeTrainingJob answer.
pub fn observe(
    job_name: &str,
    description: &DescribeTrainingJobOutput,
    elapsed: Duration,
) -> Observed {
    let status = status_text(description);
    match description.training_job_status() {
        Some(TrainingJobStatus::Completed) => Observed::Completed(CompletedJob {
            job_name: job_name.to_owned(),
            model_data_url: description
                .model_artifacts()
                .and_then(|a| a.s3_model_artifacts())
                .unwrap_or_default()
                .to_owned(),
            billable_seconds: description.billable_time_in_seconds(),
        }),
        Some(TrainingJobStatus::Failed) | Some(TrainingJobStatus::Stopped) => Observed::Ended {
            status,
            reason: description
                .failure_reason()
                .filter(|r| !r.is_empty())
                .unwrap_or("no failure reason given")
                .to_owned(),
        },
        _ => Observed::Running(JobProgress {
            status,
            secondary_status: description
                .secondary_status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            message: description
                .secondary_status_transitions()
                .last()
                .and_then(|t| t.status_message())
                .map(str::to_owned),
            elapsed,
        }),
    }
}

/// Polls until the job ends. `Completed` gives the model; any other end is an error.
/// `on_progress` is called after every poll of a running job.
pub async fn wait_for_completion(
    client: &aws_sdk_sagemaker::Client,
    job_name: &str,
    options: &WaitOptions,
    on_progress: &mut (dyn FnMut(&JobProgress) + Send),
) -> Result<CompletedJob, TrainingError> {
    let started = Instant::now();
    loop {
        let description =
            describe(client, job_name)
                .await?
                .ok_or_else(|| TrainingError::NotCompleted {
                    job_name: job_name.to_owned(),
                    status: "Missing".into(),
                    reason: "the job disappeared while waiting for it".into(),
                })?;
        match observe(job_name, &description, started.elapsed()) {
            Observed::Completed(job) => return Ok(job),
            Observed::Ended { status, reason } => {
                return Err(TrainingError::NotCompleted {
                    job_name: job_name.to_owned(),
                    status,
                    reason,
                });
            }
            Observed::Running(progress) => {
                on_progress(&progress);
                if let Some(timeout) = options.timeout
                    && started.elapsed() >= timeout
                {
                    return Err(TrainingError::TimedOut {
                        job_name: job_name.to_owned(),
                        status: progress.status,
                        waited: started.elapsed(),
                    });
                }
            }
        }
        tokio::time::sleep(options.poll_interval).await;
    }
}

/// [`start_training_job`] then [`wait_for_completion`]: what `scones train --aws` does. A job
/// that existed already is reused only while its model artefact exists (HeadObject through
/// `s3`): after a destroy and a new apply the name is the same but the artefact is gone,
/// and the model and endpoint built on it would fail later and less clearly.
pub async fn run_training_job(
    client: &aws_sdk_sagemaker::Client,
    s3: &aws_sdk_s3::Client,
    spec: &TrainingJobSpec,
    options: &WaitOptions,
    on_start: &mut (dyn FnMut(&StartOutcome) + Send),
    on_progress: &mut (dyn FnMut(&JobProgress) + Send),
) -> Result<CompletedJob, TrainingError> {
    let outcome = start_training_job(client, spec).await?;
    on_start(&outcome);
    let job = wait_for_completion(client, &spec.job_name, options, on_progress).await?;
    if matches!(outcome, StartOutcome::AlreadyExists { .. }) {
        check_artifact(s3, &job).await?;
    }
    Ok(job)
}

/// The reused job's model artefact exists.
async fn check_artifact(s3: &aws_sdk_s3::Client, job: &CompletedJob) -> Result<(), TrainingError> {
    let unchecked = |message: String| TrainingError::ArtifactUnchecked {
        model_data_url: job.model_data_url.clone(),
        message,
    };
    let (bucket, key) = job
        .model_data_url
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .ok_or_else(|| unchecked("not an s3://bucket/key URI".to_owned()))?;
    match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => Ok(()),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => {
            Err(TrainingError::ArtifactMissing {
                job_name: job.job_name.clone(),
                model_data_url: job.model_data_url.clone(),
            })
        }
        Err(err) => Err(unchecked(DisplayErrorContext(&err).to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sagemaker::types::{ModelArtifacts, SecondaryStatus, SecondaryStatusTransition};

    /// The shape terraform/modules/training renders (its `job_spec` output).
    pub(crate) const TERRAFORM_SPEC: &str = r#"{
      "job_name": "scones-ic-0123456789abcdef",
      "region": "us-east-1",
      "role_arn": "arn:aws:iam::123456789012:role/scones-training",
      "image_uri": "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1",
      "instance_type": "ml.g4dn.xlarge",
      "instance_count": 1,
      "volume_size_gb": 30,
      "max_runtime_seconds": 3600,
      "hyperparameters": {"num_classes": "2", "image_shape": "3,32,32", "num_training_samples": "1000"},
      "output_s3_uri": "s3://scones-123456789012-us-east-1/models",
      "output_kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/1111",
      "channels": [
        {"name": "train", "s3_uri": "s3://scones-123456789012-us-east-1/train/", "content_type": "application/x-image"},
        {"name": "validation", "s3_uri": "s3://scones-123456789012-us-east-1/test/", "content_type": "application/x-image"},
        {"name": "train_lst", "s3_uri": "s3://scones-123456789012-us-east-1/train.lst", "content_type": "application/x-image"},
        {"name": "validation_lst", "s3_uri": "s3://scones-123456789012-us-east-1/test.lst", "content_type": "application/x-image"}
      ],
      "tags": {"Project": "scones", "ManagedBy": "terraform"}
    }"#;

    fn spec() -> TrainingJobSpec {
        TrainingJobSpec::from_json(TERRAFORM_SPEC).unwrap()
    }

    #[test]
    fn parses_the_terraform_spec() {
        let spec = spec();
        assert_eq!(spec.job_name, "scones-ic-0123456789abcdef");
        assert_eq!(spec.channels.len(), 4);
        assert_eq!(spec.hyperparameters["image_shape"], "3,32,32");
        assert_eq!(
            spec.expected_model_data_url(),
            "s3://scones-123456789012-us-east-1/models/scones-ic-0123456789abcdef/output/model.tar.gz"
        );
    }

    /// The job is created in the spec's region unless another is asked for, which is
    /// refused: the spec's bucket and role are in its own region.
    #[test]
    fn the_job_runs_in_the_specs_region_and_a_mismatch_is_refused() {
        let spec = TrainingJobSpec::from_json(TERRAFORM_SPEC).expect("valid");
        assert_eq!(spec.region.as_deref(), Some("us-east-1"));
        assert_eq!(spec.job_region(None).unwrap().as_deref(), Some("us-east-1"));
        assert_eq!(
            spec.job_region(Some("us-east-1")).unwrap().as_deref(),
            Some("us-east-1")
        );
        let err = spec.job_region(Some("eu-west-1")).unwrap_err();
        assert!(
            matches!(&err, SpecError::RegionMismatch { spec, asked } if spec == "us-east-1" && asked == "eu-west-1"),
            "{err}"
        );
        let unspecified = TrainingJobSpec {
            region: None,
            ..spec
        };
        assert_eq!(
            unspecified
                .job_region(Some("eu-west-1"))
                .unwrap()
                .as_deref(),
            Some("eu-west-1")
        );
    }

    #[test]
    fn unknown_fields_are_a_version_mismatch() {
        let text = TERRAFORM_SPEC.replacen("\"region\"", "\"regoin\"", 1);
        let err = TrainingJobSpec::from_json(&text).unwrap_err();
        let SpecError::InvalidJson(cause) = &err else {
            panic!("expected InvalidJson, got {err}");
        };
        assert!(cause.to_string().contains("regoin"), "{cause}");
    }

    #[test]
    fn invalid_specs_are_named() {
        let mut bad = spec();
        bad.job_name = "-scones".into();
        assert!(matches!(
            bad.validate(),
            Err(SpecError::InvalidJobName { .. })
        ));
        bad.job_name = "a".repeat(64);
        assert!(matches!(
            bad.validate(),
            Err(SpecError::InvalidJobName { .. })
        ));

        let mut bad = spec();
        bad.output_s3_uri = "/models".into();
        assert!(matches!(
            bad.validate(),
            Err(SpecError::InvalidS3Uri { field, .. }) if field == "output_s3_uri"
        ));

        let mut bad = spec();
        bad.channels.retain(|c| c.name != "train");
        assert!(matches!(bad.validate(), Err(SpecError::Channels { .. })));

        let mut bad = spec();
        let duplicate = bad.channels[1].clone();
        bad.channels.push(duplicate);
        assert!(matches!(bad.validate(), Err(SpecError::Channels { .. })));

        let mut bad = spec();
        bad.volume_size_gb = 0;
        assert!(matches!(
            bad.validate(),
            Err(SpecError::OutOfRange {
                field: "volume_size_gb",
                ..
            })
        ));

        let mut bad = spec();
        bad.role_arn = " ".into();
        assert!(matches!(
            bad.validate(),
            Err(SpecError::Empty { field: "role_arn" })
        ));
    }

    #[test]
    fn completed_jobs_give_their_artifact() {
        let description = DescribeTrainingJobOutput::builder()
            .training_job_status(TrainingJobStatus::Completed)
            .model_artifacts(
                ModelArtifacts::builder()
                    .s3_model_artifacts("s3://b/models/j/output/model.tar.gz")
                    .build(),
            )
            .billable_time_in_seconds(321)
            .build();
        assert_eq!(
            observe("j", &description, Duration::ZERO),
            Observed::Completed(CompletedJob {
                job_name: "j".into(),
                model_data_url: "s3://b/models/j/output/model.tar.gz".into(),
                billable_seconds: Some(321),
            })
        );
    }

    #[test]
    fn failed_and_stopped_jobs_are_errors_with_the_reason() {
        let failed = DescribeTrainingJobOutput::builder()
            .training_job_status(TrainingJobStatus::Failed)
            .failure_reason("ClientError: Data download failed")
            .build();
        assert_eq!(
            observe("j", &failed, Duration::ZERO),
            Observed::Ended {
                status: "Failed".into(),
                reason: "ClientError: Data download failed".into()
            }
        );
        let stopped = DescribeTrainingJobOutput::builder()
            .training_job_status(TrainingJobStatus::Stopped)
            .build();
        assert!(matches!(
            observe("j", &stopped, Duration::ZERO),
            Observed::Ended { status, .. } if status == "Stopped"
        ));
    }

    #[test]
    fn running_jobs_report_progress() {
        let running = DescribeTrainingJobOutput::builder()
            .training_job_status(TrainingJobStatus::InProgress)
            .secondary_status(SecondaryStatus::Training)
            .secondary_status_transitions(
                SecondaryStatusTransition::builder()
                    .status(SecondaryStatus::Training)
                    .status_message("Training image download completed. Training in progress.")
                    .start_time(aws_smithy_types::DateTime::from_secs(0))
                    .build(),
            )
            .build();
        let Observed::Running(progress) = observe("j", &running, Duration::from_secs(5)) else {
            panic!("expected Running");
        };
        assert_eq!(progress.status, "InProgress");
        assert_eq!(progress.secondary_status, "Training");
        assert_eq!(
            progress.message.as_deref(),
            Some("Training image download completed. Training in progress.")
        );
        assert_eq!(progress.elapsed, Duration::from_secs(5));
    }
}
