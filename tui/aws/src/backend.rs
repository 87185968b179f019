//! The AWS backend: the port ([`Backend`]) over the deployed stack through the AWS SDK (Step
//! Functions, CloudWatch, CloudWatch Logs, S3, SageMaker), found from `terraform output
//! -json` or flags. The dashboard and `scones run --aws` both use it.
//!
//! Every call is made to cost as few AWS requests as possible at steady state, because the
//! dashboard refreshes continuously and Step Functions' `ListExecutions` quota is small:
//!
//! - executions: [`IncrementalLister`] (one `ListExecutions` per refresh when nothing
//!   changed; each execution described once when it appears and once if it fails);
//! - histories of finished executions: fetched once and cached here;
//! - metrics: the five series in one `GetMetricData`;
//! - data capture: one `ListObjectsV2` from the window's first hour; each capture file
//!   read once (cached by key and ETag);
//! - low confidence: one `FilterLogEvents` on the filter Lambda's log group;
//! - test keys (for `t`/`T`) and the test labels (`test.lst`, the ground truth the list
//!   shows): read once every [`TEST_KEYS_TTL`];
//! - images (the detail and the low-confidence tab show them): one `GetObject` each.
//!
//! Throttling and 5xx answers are retried by the SDK with exponential backoff and jitter
//! ([`RetryPolicy`]); what is still throttled after that comes back as
//! [`BackendError::Throttled`] and the dashboard's schedule backs off further. Every request
//! is counted ([`AwsBackend::calls`]) for the calls-per-refresh figure.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use chrono::Utc;
use futures::StreamExt;
use rand::Rng;
use scones_handlers::ImageRecord;
use scones_workflow::capture::{CapturedInference, Keep, parse_jsonl, sample_points};
use scones_workflow::cause::StopReason;
use scones_workflow::class::Class;
use scones_workflow::drift::DriftView;
use scones_workflow::guard::{GuardCommand, GuardMode, GuardState};
use scones_workflow::history::{self, HistoryEvent};
use scones_workflow::models::{ModelsView, Promotion, ServingChange};
use scones_workflow::port::{
    Backend, BackendError, BackendInfo, BackendKind, BackendResult, CaptureSample, Cursor,
    EndpointInfo, EndpointMetrics, ExecutionDelta, ExecutionId, ExecutionSummary, LogLevel,
    LogLine, LowConfidenceFailure, LowConfidenceReport, Operation, RecordLink, TimeRange,
};
use scones_workflow::review::{LabelRecord, NewLabel, ReviewQueue};
use scones_workflow::run::ExecutionResult;
use serde_json::Value;

use crate::calls::CallCounts;
use crate::capture;
use crate::error::AwsError;
use crate::executions::incremental::{IncrementalLister, ListerOptions, ListingError};
use crate::executions::{ExecutionDescription, Workflow, execution_name};
use crate::logs::{self, LogEvent};
use crate::metrics::{self, DEFAULT_VARIANT};
use crate::{
    AwsClients, AwsTarget, Discovery, DiscoveryError, ResourceSource, Resources, RetryPolicy,
    bucket, console, endpoint,
};

/// First wait between two `DescribeExecution` calls while following an execution.
const POLL_FIRST: Duration = Duration::from_millis(250);
/// Longest wait between two polls.
const POLL_MAX: Duration = Duration::from_secs(5);
/// Stop following an execution after this long (the definition times out at 300 s).
const WAIT_LIMIT: Duration = Duration::from_secs(900);

/// How long the listed test keys are reused before listing again.
pub const TEST_KEYS_TTL: Duration = Duration::from_secs(600);

/// How long the drift monitor's report (or its absence) is reused: the monitor writes one
/// every `drift_schedule_minutes` (at least a minute), and the dashboard asks on every
/// refresh of the header's drift marker.
pub const DRIFT_REPORT_TTL: Duration = Duration::from_secs(60);

/// How long a version's kept measures are reused: the Models tab asks every few seconds, a
/// gate run anywhere replaces them (one here at once).
pub const MEASURES_TTL: Duration = Duration::from_secs(60);

/// How long the guard's state is reused: the dashboard's header asks every refresh, the
/// monitor changes it once per `drift_schedule_minutes` at most, and an operator's own
/// command replaces it at once.
pub const GUARD_TTL: Duration = Duration::from_secs(30);

/// Log lines read per log group for one execution at most.
pub const LOGS_PER_GROUP: usize = 200;

/// How the AWS backend behaves.
#[derive(Debug, Clone)]
pub struct AwsOptions {
    /// Incremental listing settings.
    pub lister: ListerOptions,
    /// SDK retries (throttling, 5xx).
    pub retry: RetryPolicy,
    /// Refuse start/stop/redrive.
    pub readonly: bool,
    /// Endpoint variant whose metrics and capture are shown.
    pub variant: String,
    /// Finished histories kept at most.
    pub history_cache: usize,
}

impl Default for AwsOptions {
    fn default() -> Self {
        AwsOptions {
            lister: ListerOptions::default(),
            retry: RetryPolicy::default(),
            readonly: false,
            variant: DEFAULT_VARIANT.to_owned(),
            history_cache: 512,
        }
    }
}

/// Why the AWS backend cannot start.
#[derive(Debug, thiserror::Error)]
pub enum AwsBackendError {
    /// The deployed stack was not found.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// No region from the flags, the outputs or the standard chain.
    #[error("no AWS region: pass --region, set AWS_REGION, or configure one for the profile")]
    NoRegion,
    /// The state machine named by the outputs or flags does not exist.
    #[error(
        "nothing is deployed: state machine {arn} does not exist in {region} ({source}); run \
         `terraform apply` in terraform/, or check --tf-dir, --state-machine-arn, --region \
         and --profile"
    )]
    NothingDeployed {
        /// The ARN looked for.
        arn: String,
        /// The region asked.
        region: String,
        /// What Step Functions said.
        source: AwsError,
    },
    /// `--profile` gives no credentials.
    #[error(transparent)]
    Profile(#[from] crate::config::ProfileError),
    /// The stack could not be reached.
    #[error(transparent)]
    Aws(AwsError),
}

impl AwsBackendError {
    /// Stable name of the variant.
    pub fn name(&self) -> &'static str {
        match self {
            AwsBackendError::Discovery(e) => e.name(),
            AwsBackendError::NoRegion => "NoRegion",
            AwsBackendError::NothingDeployed { .. } => "NothingDeployed",
            AwsBackendError::Profile(_) => "Profile",
            AwsBackendError::Aws(_) => "Aws",
        }
    }
}

/// Parsed captures of one S3 object, keyed by its key, valid while the ETag is the same.
type CaptureCache = HashMap<String, (Option<String>, Arc<Vec<CapturedInference>>)>;

/// A value read from the bucket at an instant, re-read after [`TEST_KEYS_TTL`].
type Expiring<T> = tokio::sync::Mutex<Option<(Instant, Arc<T>)>>;

/// The deployed stack on AWS as a dashboard backend.
pub struct AwsBackend {
    clients: AwsClients,
    resources: Resources,
    source: ResourceSource,
    /// Where the credentials come from ([`AwsTarget::credentials_source`]).
    credentials: String,
    profile: Option<String>,
    region: String,
    workflow: Workflow,
    lister: IncrementalLister,
    options: AwsOptions,
    histories: Mutex<HashMap<String, Arc<Vec<HistoryEvent>>>>,
    test_keys: Expiring<Vec<String>>,
    /// The drift report as last read (or why there was none).
    drift_report: tokio::sync::Mutex<Option<(Instant, BackendResult<DriftView>)>>,
    labels: Expiring<HashMap<String, Class>>,
    captures: Mutex<CaptureCache>,
    /// The guard's state as last read or written ([`GUARD_TTL`]).
    guard: Expiring<GuardState>,
    /// The review labels read so far (each object once).
    review_labels: tokio::sync::Mutex<crate::review::LabelReader>,
    /// The decisions that went to a person, read so far.
    decisions: tokio::sync::Mutex<crate::review::DecisionReader>,
    /// The caller's identity (STS), asked once: who a label is from.
    who: tokio::sync::OnceCell<String>,
    /// Completed training jobs described so far, by name (such a job never changes).
    jobs: tokio::sync::Mutex<HashMap<String, crate::versions::JobVersion>>,
    /// Each version's kept measures as last read ([`MEASURES_TTL`]).
    measures: tokio::sync::Mutex<HashMap<String, (Instant, Option<crate::candidate::Measures>)>>,
    /// The Terraform binary a promotion runs.
    terraform: std::path::PathBuf,
}

impl AwsBackend {
    /// Finds the stack (see [`Discovery`]) and connects with the standard credential chain
    /// (`target.profile`, `AWS_PROFILE`, SSO, environment; `AWS_ENDPOINT_URL` for an
    /// emulator). The region is `target.region`, else the stack's, else the chain's.
    pub async fn connect(
        target: &AwsTarget,
        discovery: &Discovery,
        options: AwsOptions,
    ) -> Result<AwsBackend, AwsBackendError> {
        let (resources, source) = discovery.discover().await?;
        let mut target = target.clone();
        if target.region.is_none() {
            target.region = resources.stack_region();
        }
        let config = crate::sdk_config(&target).await;
        if config.region().is_none() {
            return Err(AwsBackendError::NoRegion);
        }
        crate::config::check_profile(&config, &target).await?;
        let mut backend = AwsBackend::new(&config, &target, resources, source, options);
        if let Some(terraform) = &discovery.terraform {
            backend.terraform = terraform.clone();
        }
        Ok(backend)
    }

    /// A backend over already loaded configuration (tests give fixed credentials).
    pub fn new(
        config: &SdkConfig,
        target: &AwsTarget,
        resources: Resources,
        source: ResourceSource,
        options: AwsOptions,
    ) -> AwsBackend {
        let clients = AwsClients::new(config, target, options.retry);
        let workflow = Workflow::new(clients.sfn.clone(), resources.state_machine_arn.clone());
        let lister = IncrementalLister::new(workflow.clone(), options.lister);
        let region = clients
            .region
            .clone()
            .or_else(|| resources.region.clone())
            .unwrap_or_else(|| "us-east-1".to_owned());
        AwsBackend {
            profile: target.profile.clone(),
            credentials: target.credentials_source(),
            region,
            clients,
            resources,
            source,
            workflow,
            lister,
            options,
            histories: Mutex::new(HashMap::new()),
            test_keys: tokio::sync::Mutex::new(None),
            drift_report: tokio::sync::Mutex::new(None),
            labels: tokio::sync::Mutex::new(None),
            captures: Mutex::new(HashMap::new()),
            guard: tokio::sync::Mutex::new(None),
            review_labels: tokio::sync::Mutex::default(),
            decisions: tokio::sync::Mutex::default(),
            who: tokio::sync::OnceCell::new(),
            jobs: tokio::sync::Mutex::default(),
            measures: tokio::sync::Mutex::default(),
            terraform: std::path::PathBuf::from("terraform"),
        }
    }

    /// Checks with one cheap call (`DescribeStateMachine`) that the state machine exists, so
    /// an undeployed (or destroyed) stack is one clear error before anything starts.
    pub async fn check_deployed(&self) -> Result<(), AwsBackendError> {
        self.workflow.check_exists().await.map_err(|source| {
            if source.is_not_found() {
                AwsBackendError::NothingDeployed {
                    arn: self.resources.state_machine_arn.clone(),
                    region: self.region.clone(),
                    source,
                }
            } else {
                AwsBackendError::Aws(source)
            }
        })
    }

    /// Requests sent so far, per operation (retries included).
    pub fn calls(&self) -> CallCounts {
        self.clients.counter.snapshot()
    }

    /// The resources in use.
    pub fn resources(&self) -> &Resources {
        &self.resources
    }

    /// Where the resources came from.
    pub fn source(&self) -> &ResourceSource {
        &self.source
    }

    /// Terraform's guard mode, or why this stack has no guard.
    fn guard_mode(&self, operation: Operation) -> BackendResult<GuardMode> {
        let reason = match &self.resources.drift {
            Some(drift) => match drift.guard {
                Some(mode) => return Ok(mode),
                None => "this stack was applied before the guard existed: terraform apply",
            },
            None => {
                "the stack has no drift monitor (drift_monitor_enabled = false or a serverless endpoint), so no guard"
            }
        };
        Err(BackendError::NotReady {
            operation,
            reason: reason.to_owned(),
        })
    }

    fn refuse_if_readonly(&self, operation: Operation) -> BackendResult<()> {
        if self.options.readonly {
            return Err(BackendError::NotReady {
                operation,
                reason: "the dashboard is read-only".to_owned(),
            });
        }
        Ok(())
    }

    /// The stack's model versions and deployment, or why there are none.
    fn model_resources(
        &self,
        operation: Operation,
    ) -> BackendResult<&crate::resources::ModelResources> {
        self.resources
            .models
            .as_ref()
            .ok_or_else(|| BackendError::NotReady {
                operation,
                reason: "this stack was applied before model versions existed: terraform apply"
                    .to_owned(),
            })
    }

    /// Before changing what serves: writable, the stack's versions known, and the endpoint
    /// not in the middle of another update (its state).
    async fn idle_endpoint(
        &self,
        operation: Operation,
    ) -> BackendResult<(
        &crate::resources::ModelResources,
        crate::versions::EndpointState,
    )> {
        self.refuse_if_readonly(operation)?;
        let models = self.model_resources(operation)?;
        let endpoint = self.live_endpoint(operation)?;
        let state = crate::versions::endpoint_state(&self.clients.sagemaker, endpoint)
            .await
            .map_err(backend_error(operation))?;
        crate::promotion::check_idle(&state).map_err(promotion_error(operation))?;
        Ok((models, state))
    }

    /// The Terraform directory the stack was found in: promotion goes through it.
    fn tf_dir(&self, operation: Operation) -> BackendResult<&std::path::Path> {
        match &self.source {
            ResourceSource::Terraform(dir) => Ok(dir),
            _ => Err(BackendError::NotReady {
                operation,
                reason: "on AWS the serving version is a Terraform input: pass --tf-dir (the \
                         directory you apply in)"
                    .to_owned(),
            }),
        }
    }

    /// Records what now serves, and returns the record.
    async fn record_serving(
        &self,
        operation: Operation,
        promotion: Promotion,
    ) -> BackendResult<Promotion> {
        crate::versions::record(&self.clients.s3, &self.resources.bucket, &promotion)
            .await
            .map_err(backend_error(operation))?;
        Ok(promotion)
    }

    /// The stack's versions (`versions::list`), each job described once per backend.
    async fn versions(
        &self,
        job_prefix: &str,
    ) -> Result<Vec<crate::versions::JobVersion>, AwsError> {
        let mut known = self.jobs.lock().await;
        crate::versions::list(
            &self.clients.sagemaker,
            &self.clients.s3,
            &self.resources.bucket,
            job_prefix,
            &mut known,
        )
        .await
    }

    /// Each version's kept measures (`candidate::load`), read again after [`MEASURES_TTL`].
    async fn kept_measures(
        &self,
        versions: Vec<String>,
    ) -> Vec<Option<crate::candidate::Measures>> {
        let mut kept = self.measures.lock().await;
        let stale: Vec<String> = versions
            .iter()
            .filter(|v| {
                kept.get(*v)
                    .is_none_or(|(at, _)| at.elapsed() >= MEASURES_TTL)
            })
            .cloned()
            .collect();
        let (s3, bucket) = (&self.clients.s3, self.resources.bucket.as_str());
        let read: Vec<(String, Option<crate::candidate::Measures>)> = futures::stream::iter(stale)
            .map(|version| async move {
                let m = crate::candidate::load(s3, bucket, &version).await;
                (version, m)
            })
            .buffered(4)
            .collect()
            .await;
        let now = Instant::now();
        for (version, m) in read {
            kept.insert(version, (now, m));
        }
        versions
            .iter()
            .map(|v| kept.get(v).and_then(|(_, m)| m.clone()))
            .collect()
    }

    /// Serves `version` (its artefact `url`; `serving` is Terraform's input for it, `None`
    /// for the training job's own) through Terraform, checks that the endpoint serves it,
    /// then measures the drift baseline's outputs again; what became of the baseline.
    async fn serve(
        &self,
        operation: Operation,
        serving: Option<&str>,
        url: &str,
        version: &str,
    ) -> BackendResult<Option<String>> {
        let tf_dir = self.tf_dir(operation)?;
        crate::promotion::serve(&self.terraform, tf_dir, serving, async || {
            self.check_serves(url, version).await
        })
        .await
        .map_err(promotion_error(operation))?;
        Ok(self
            .remeasure_drift_baseline(self.live_endpoint(operation)?, version)
            .await)
    }

    /// The closure `promotion::serve` runs after its apply: the endpoint must serve `url`.
    async fn check_serves(
        &self,
        url: &str,
        version: &str,
    ) -> Result<(), crate::promotion::PromotionError> {
        let endpoint = self.resources.live_endpoint().unwrap_or_default();
        let state = crate::versions::endpoint_state(&self.clients.sagemaker, endpoint).await?;
        crate::promotion::check_serves(&state, url, version)
    }

    /// The drift baseline's outputs measured again through `endpoint`, now serving
    /// `version`; what happened, in words (`None`: no drift monitor, no baseline yet, or one
    /// without output statistics, which are model-free and still true). A failure here does
    /// not undo the promotion: it is said, with the command that fixes it.
    async fn remeasure_drift_baseline(&self, endpoint: &str, version: &str) -> Option<String> {
        let drift = self.resources.drift.as_ref()?;
        let bucket = &self.resources.bucket;
        let key = &drift.baseline_key;
        let redo = format!(
            "its outputs are still the previous version's: run `scones baseline --aws \
             --held-out-lst ...` for {version}"
        );
        let baseline = match crate::drift_baseline::get_baseline(&self.clients, bucket, key).await {
            Ok(Some(b)) if b.outputs_from.is_some() => b,
            Ok(_) => return None,
            Err(e) => return Some(format!("s3://{bucket}/{key} unreadable ({e}); {redo}")),
        };
        let remeasured = crate::drift_baseline::remeasure_outputs(
            &self.clients,
            bucket,
            endpoint,
            version,
            baseline,
        )
        .await;
        Some(match remeasured {
            Ok(Some(baseline)) => {
                match crate::drift_baseline::put_baseline(&self.clients, bucket, key, &baseline)
                    .await
                {
                    Ok(()) => format!(
                        "outputs measured again for {version} ({}); the monitor judges the traffic \
                     from now on",
                        baseline.outputs_from.as_deref().unwrap_or_default()
                    ),
                    Err(e) => format!("s3://{bucket}/{key} not written ({e}); {redo}"),
                }
            }
            Ok(None) => format!("s3://{bucket}/{key} names no held-out set to measure on; {redo}"),
            Err(e) => format!("outputs not measured again ({e}); {redo}"),
        })
    }

    /// Every review label so far (new objects read), and the records that could not be read.
    async fn read_labels(
        &self,
        operation: Operation,
    ) -> BackendResult<(Arc<scones_workflow::review::Labels>, u64)> {
        self.review_labels
            .lock()
            .await
            .refresh(&self.clients.s3, &self.resources.bucket)
            .await
            .map_err(backend_error(operation))
    }

    /// The caller's ARN (STS GetCallerIdentity, asked once): who a label is from.
    async fn who(&self, operation: Operation) -> BackendResult<&str> {
        self.who
            .get_or_try_init(|| async {
                let out = self
                    .clients
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("GetCallerIdentity", e))
                    .map_err(backend_error(operation))?;
                Ok(out.arn().unwrap_or("unknown").to_owned())
            })
            .await
            .map(String::as_str)
    }

    /// The test images' keys, listed at most every [`TEST_KEYS_TTL`]. A cached list is
    /// checked before each use with one HeadObject of a key it names: a stack re-created under
    /// the same names has other images or none, and an execution on a key that is gone only
    /// fails later, in SerializeImageData.
    async fn cached_test_keys(&self) -> BackendResult<Arc<Vec<String>>> {
        let mut slot = self.test_keys.lock().await;
        if let Some((at, keys)) = slot.as_ref()
            && at.elapsed() < TEST_KEYS_TTL
            && self.still_there(keys).await
        {
            return Ok(Arc::clone(keys));
        }
        let keys = bucket::test_keys(&self.clients.s3, &self.resources.bucket)
            .await
            .map_err(|e| self.no_test_execution(e))?;
        if keys.is_empty() {
            return Err(BackendError::NotReady {
                operation: Operation::StartExecution,
                reason: format!(
                    "s3://{}/test/ has no images and there is no test.lst: upload them with \
                     `scones stage --aws --bucket {}`",
                    self.resources.bucket, self.resources.bucket
                ),
            });
        }
        let keys = Arc::new(keys);
        *slot = Some((Instant::now(), Arc::clone(&keys)));
        Ok(keys)
    }

    /// Whether a cached key list still names an object (NotFound: no; any other answer is
    /// left to the execution itself, rather than failing the start on a HeadObject).
    async fn still_there(&self, keys: &[String]) -> bool {
        let Some(key) = keys.first() else {
            return false;
        };
        match self
            .clients
            .s3
            .head_object()
            .bucket(&self.resources.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => true,
            Err(e) => !AwsError::from_sdk("HeadObject", e).is_not_found(),
        }
    }

    /// A failure to list the test images, said as what it costs the user who pressed `t`
    /// (or ran `run --aws --random`): no test execution started, because of this listing.
    fn no_test_execution(&self, e: AwsError) -> BackendError {
        let what = format!(
            "no test execution was started: listing the test images in s3://{}/test/ failed: {e}",
            self.resources.bucket
        );
        match e {
            AwsError::Throttled { .. } => BackendError::Throttled {
                operation: Operation::ListTestImages,
                message: what,
            },
            AwsError::TimedOut { .. } => BackendError::Unanswered {
                operation: Operation::ListTestImages,
                message: what,
            },
            _ => BackendError::failed(Operation::ListTestImages, what),
        }
    }

    /// The monitor-drift function's latest report (see [`Backend::drift`]).
    async fn read_drift_report(&self) -> BackendResult<DriftView> {
        let Some(drift) = &self.resources.drift else {
            return Err(BackendError::NotReady {
                operation: Operation::Drift,
                reason: "this stack has no drift monitor (drift_monitor_enabled = false, a \
                         serverless endpoint, or no endpoint yet): set drift_monitor_enabled \
                         and terraform apply"
                    .to_owned(),
            });
        };
        let bucket = &self.resources.bucket;
        let key = format!(
            "{}{}",
            drift.reports_prefix,
            scones_workflow::drift::metrics::LATEST_REPORT
        );
        let bytes = capture::get_object_at_most(&self.clients.s3, bucket, &key, MAX_DRIFT_REPORT)
            .await
            .map_err(|e| {
                if e.is_not_found() {
                    BackendError::NotReady {
                        operation: Operation::Drift,
                        reason: format!(
                            "no drift report yet at s3://{bucket}/{key}: {} writes one every {} \
                             min once a baseline exists (`scones baseline --aws` writes it to \
                             s3://{bucket}/{})",
                            drift.function_name, drift.schedule_minutes, drift.baseline_key
                        ),
                    }
                } else {
                    backend_error(Operation::Drift)(e)
                }
            })?;
        serde_json::from_slice(&bytes).map_err(|e| BackendError::Failed {
            operation: Operation::Drift,
            message: format!("s3://{bucket}/{key} is not a drift report: {e}"),
        })
    }

    /// Low-confidence decisions in `range`, from the monitoring module's metric filter;
    /// `None` when the stack names no metric namespace or the read fails.
    async fn low_confidence_count(&self, range: TimeRange) -> Option<u64> {
        let namespace = self.resources.metric_namespace.as_deref()?;
        match metrics::metric_sum(
            &self.clients.cloudwatch,
            namespace,
            metrics::LOW_CONFIDENCE_METRIC,
            range.start,
            range.end,
        )
        .await
        {
            Ok(sum) => Some(sum.max(0.0).round() as u64),
            Err(e) => {
                tracing::warn!(error = %e, "low-confidence count from CloudWatch");
                None
            }
        }
    }

    /// The test split's labels by key (`test.lst`), re-read every [`TEST_KEYS_TTL`]. A
    /// bucket without a readable `test.lst` has no labels: its traffic shows as unlabelled
    /// (the error is logged, the listing goes on).
    async fn labels(&self) -> Arc<HashMap<String, Class>> {
        let mut slot = self.labels.lock().await;
        if let Some((at, labels)) = slot.as_ref()
            && at.elapsed() < TEST_KEYS_TTL
        {
            return Arc::clone(labels);
        }
        let labels = match bucket::test_labels(&self.clients.s3, &self.resources.bucket).await {
            Ok(labels) => Arc::new(labels),
            Err(e) => {
                tracing::warn!(error = %e, "test.lst unreadable: executions show unlabelled");
                Arc::default()
            }
        };
        *slot = Some((Instant::now(), Arc::clone(&labels)));
        labels
    }

    fn live_endpoint(&self, operation: Operation) -> BackendResult<&str> {
        self.resources
            .live_endpoint()
            .ok_or_else(|| BackendError::NotReady {
                operation,
                reason: "the stack has no endpoint (Terraform created none: no training job \
                         and no model_data_url)"
                    .to_owned(),
            })
    }

    async fn capture_points(&self, objects: Vec<capture::CaptureObject>) -> Vec<CapturedInference> {
        let mut fresh: Vec<capture::CaptureObject> = Vec::new();
        let mut points: Vec<CapturedInference> = Vec::new();
        {
            let mut cache = lock(&self.captures);
            // Forget files that left the window.
            let listed: std::collections::HashSet<&str> =
                objects.iter().map(|o| o.key.as_str()).collect();
            cache.retain(|k, _| listed.contains(k.as_str()));
            for o in objects {
                match cache.get(&o.key) {
                    Some((etag, parsed)) if *etag == o.etag => {
                        points.extend(parsed.iter().cloned());
                    }
                    _ => fresh.push(o),
                }
            }
        }
        let s3 = &self.clients.s3;
        let bucket = &self.resources.bucket;
        let read: Vec<(capture::CaptureObject, Result<Vec<u8>, AwsError>)> =
            futures::stream::iter(fresh)
                .map(|o| async move {
                    let bytes = capture::get_object(s3, bucket, &o.key).await;
                    (o, bytes)
                })
                .buffer_unordered(4)
                .collect()
                .await;
        let mut cache = lock(&self.captures);
        for (o, bytes) in read {
            match bytes {
                Ok(bytes) => {
                    let (parsed, skipped) = parse_jsonl(&bytes, Keep::Scores);
                    if skipped > 0 {
                        tracing::debug!(key = %o.key, skipped, "unreadable capture lines");
                    }
                    points.extend(parsed.iter().cloned());
                    cache.insert(o.key, (o.etag, Arc::new(parsed)));
                }
                // Not cached: tried again next refresh.
                Err(e) => tracing::warn!(key = %o.key, error = %e, "capture object unreadable"),
            }
        }
        points
    }
}

/// How an execution ended, from its final description. The scores come from the output
/// record (SUCCEEDED) or the LowConfidence cause.
fn result_of(d: ExecutionDescription) -> ExecutionResult {
    let scores = d.scores();
    let duration = d
        .listing
        .stop
        .map(|stop| (stop - d.listing.start).to_std().unwrap_or_default())
        .unwrap_or_default();
    ExecutionResult {
        s3_key: d.s3_key().unwrap_or_default(),
        name: d.listing.name,
        arn: d.listing.arn,
        status: d.listing.status,
        error: d.error,
        cause: d.cause,
        scores,
        duration,
        persist_error: None,
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Caches only: still usable after a panic elsewhere.
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// The largest drift report read: a report of 48 windows is ~300 KB.
const MAX_DRIFT_REPORT: u64 = 8 * 1024 * 1024;

/// A refused or failed promotion as the port's error: a refusal says why and what to do.
fn promotion_error(
    operation: Operation,
) -> impl Fn(crate::promotion::PromotionError) -> BackendError {
    move |e| match e {
        crate::promotion::PromotionError::Aws(e) => backend_error(operation)(e),
        crate::promotion::PromotionError::Refused(reason) => {
            BackendError::NotReady { operation, reason }
        }
        other => BackendError::failed(operation, other),
    }
}

/// The endpoint's deployment in words, while one is in progress or after one failed.
fn deployment_line(
    state: &crate::versions::EndpointState,
    deployment: &crate::resources::Deployment,
) -> Option<String> {
    if state.in_service() && state.failure_reason.is_none() {
        return None;
    }
    let mut line = state.status.clone();
    if let Some(since) = state.updating_since {
        line.push_str(&format!(" since {}", since.format("%H:%M:%SZ")));
    }
    if !state.in_service() {
        line.push_str(&format!(" ({})", deployment.describe()));
    }
    if let Some(reason) = &state.failure_reason {
        line.push_str(&format!(": {reason}"));
    }
    Some(line)
}

/// An AWS error of a call made for the port's `operation`, as the port's error (the AWS
/// call that failed is named in the message).
fn backend_error(operation: Operation) -> impl Fn(AwsError) -> BackendError {
    move |e| match e {
        AwsError::Throttled { message, .. } => BackendError::Throttled { operation, message },
        other => BackendError::failed(operation, other),
    }
}

/// An AWS error about one execution (NotFound names it).
fn execution_error(operation: Operation, id: &ExecutionId, e: AwsError) -> BackendError {
    if e.is_not_found() {
        BackendError::NotFound(id.to_string())
    } else {
        backend_error(operation)(e)
    }
}

fn listing_error(e: ListingError) -> BackendError {
    match e {
        ListingError::Aws(e) => backend_error(Operation::ListExecutions)(e),
        ListingError::Cursor(c) => BackendError::failed(Operation::ListExecutions, c),
    }
}

/// A log line of the state machine's log group (`{"type": .., "details": {..}}`) or of a
/// Lambda (`{"level": .., "message": .., ...fields}`), made short for the logs panel.
fn log_message(message: &str) -> String {
    let Some(start) = message.find('{') else {
        return message.to_owned();
    };
    let Ok(v) = serde_json::from_str::<Value>(&message[start..]) else {
        return message.to_owned();
    };
    if let Some(kind) = v.get("type").and_then(Value::as_str) {
        let details = v.get("details").cloned().unwrap_or(Value::Null);
        let about = ["name", "error", "resource"]
            .iter()
            .find_map(|k| details.get(*k).and_then(Value::as_str))
            .unwrap_or("");
        return format!("{kind} {about}").trim_end().to_owned();
    }
    let mut parts: Vec<String> = Vec::new();
    if let Some(m) = v.get("message").and_then(Value::as_str) {
        parts.push(m.to_owned());
    }
    if let Some(o) = v.as_object() {
        for (k, val) in o {
            if matches!(k.as_str(), "message" | "timestamp" | "level" | "target") {
                continue;
            }
            let text = match val {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            parts.push(format!("{k}={text}"));
        }
    }
    if parts.is_empty() {
        message.to_owned()
    } else {
        parts.join(" ")
    }
}

/// False for a state machine log line that names another execution. The filter pattern
/// matches the ARN as a term, so `...:run-1` also finds the lines of `...:run-10`; the
/// line's own `execution_arn` settles it. Lines without one are kept.
fn about_execution(message: &str, arn: &str) -> bool {
    let Some(start) = message.find('{') else {
        return true;
    };
    match serde_json::from_str::<Value>(&message[start..]) {
        Ok(v) => v
            .get("execution_arn")
            .and_then(Value::as_str)
            .is_none_or(|a| a == arn),
        Err(_) => true,
    }
}

fn log_line(source: &str, e: &LogEvent) -> LogLine {
    LogLine {
        time: e.time,
        source: source.to_owned(),
        level: if logs::is_error_line(&e.message) {
            LogLevel::Error
        } else {
            LogLevel::Info
        },
        message: log_message(&e.message),
    }
}

/// A filter pattern matching a literal term (quoted, as CloudWatch needs for ARNs and keys
/// with punctuation).
fn literal_pattern(term: &str) -> String {
    format!("\"{}\"", term.replace('"', ""))
}

impl Backend for AwsBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: BackendKind::Aws {
                profile: self.profile.clone(),
                credentials: self.credentials.clone(),
                region: self.region.clone(),
            },
            state_machine: self.resources.state_machine_name().to_owned(),
            // The filter function's default when the outputs do not say.
            threshold: self
                .resources
                .threshold
                .unwrap_or(scones_workflow::Threshold::DEFAULT.value()),
            supports_redrive: true,
        }
    }

    async fn executions_since(
        &self,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> BackendResult<ExecutionDelta> {
        let delta = self
            .lister
            .changes(cursor.as_ref().map(|c| c.0.as_str()), limit)
            .await
            .map_err(listing_error)?;
        let labels = self.labels().await;
        let changed = delta
            .rows
            .into_iter()
            .map(|row| ExecutionSummary {
                id: ExecutionId::new(row.listing.arn),
                name: row.listing.name,
                label: row.s3_key.as_ref().and_then(|k| labels.get(k).copied()),
                s3_key: row.s3_key,
                status: row.listing.status,
                start: row.listing.start,
                stop: row.listing.stop,
                error: row.error,
                cause: row.cause,
                scores: row.scores,
                // The listing reads the scores from the execution's output; the model
                // version rides in the same record (issue: the AWS control loop).
                model: None,
            })
            .collect();
        Ok(ExecutionDelta {
            changed,
            cursor: Cursor(delta.cursor),
            more: delta.more,
            removed: delta.removed.into_iter().map(ExecutionId::new).collect(),
        })
    }

    async fn history(&self, id: ExecutionId) -> BackendResult<Vec<HistoryEvent>> {
        if let Some(events) = lock(&self.histories).get(id.as_str()) {
            return Ok(events.as_ref().clone());
        }
        let raw = self
            .workflow
            .history(id.as_str())
            .await
            .map_err(|e| execution_error(Operation::GetExecutionHistory, &id, e))?;
        let events = raw
            .iter()
            .enumerate()
            .map(|(i, v)| HistoryEvent::from_aws_json(i, v))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| BackendError::failed(Operation::GetExecutionHistory, e))?;
        if history::is_complete(&events) {
            let mut cache = lock(&self.histories);
            if cache.len() >= self.options.history_cache.max(1) {
                // Simple bound: drop an arbitrary entry (histories are re-fetchable).
                if let Some(k) = cache.keys().next().cloned() {
                    cache.remove(&k);
                }
            }
            cache.insert(id.as_str().to_owned(), Arc::new(events.clone()));
        }
        Ok(events)
    }

    fn can_start(&self) -> BackendResult<()> {
        self.refuse_if_readonly(Operation::StartExecution)
    }

    async fn test_keys(&self) -> BackendResult<Arc<Vec<String>>> {
        self.cached_test_keys().await
    }

    async fn start_execution(&self, s3_key: String) -> BackendResult<ExecutionId> {
        self.refuse_if_readonly(Operation::StartExecution)?;
        let input = ImageRecord::execution_input(&self.resources.bucket, &s3_key);
        let name = execution_name("scones");
        match self.workflow.start(&name, &input).await {
            Ok((arn, _)) => Ok(ExecutionId::new(arn)),
            // The request may be queued on a hung service and run when it recovers: say so,
            // with the name to look for.
            Err(e @ AwsError::TimedOut { .. }) => Err(BackendError::Unanswered {
                operation: Operation::StartExecution,
                message: format!(
                    "{e}; execution {name} may still start when the service recovers, and is \
                     listed if it does"
                ),
            }),
            Err(e) => Err(backend_error(Operation::StartExecution)(e)),
        }
    }

    async fn wait_execution(&self, id: ExecutionId) -> BackendResult<ExecutionResult> {
        let since = Instant::now();
        let mut wait = POLL_FIRST;
        loop {
            // Full jitter: executions started together do not poll in lockstep.
            let pause = Duration::from_millis(
                rand::rng().random_range(wait.as_millis() as u64 / 2..=wait.as_millis() as u64),
            );
            tokio::time::sleep(pause).await;
            let described = match self.workflow.describe(id.as_str()).await {
                Ok(d) => d,
                // The SDK already retried; keep following at a slower pace.
                Err(e) if e.is_throttling() => {
                    wait = (wait * 2).min(POLL_MAX);
                    continue;
                }
                Err(e) => return Err(execution_error(Operation::DescribeExecution, &id, e)),
            };
            if described.listing.is_final() {
                return Ok(result_of(described));
            }
            if since.elapsed() > WAIT_LIMIT {
                return Err(BackendError::Failed {
                    operation: Operation::DescribeExecution,
                    message: format!(
                        "{id}: still {} after {:?}",
                        described.listing.status,
                        since.elapsed()
                    ),
                });
            }
            wait = wait.mul_f64(1.5).min(POLL_MAX);
        }
    }

    async fn stop(&self, id: ExecutionId, reason: StopReason) -> BackendResult<()> {
        self.refuse_if_readonly(Operation::StopExecution)?;
        self.workflow
            .stop(id.as_str(), reason.error, reason.cause)
            .await
            .map_err(|e| execution_error(Operation::StopExecution, &id, e))
    }

    async fn redrive(&self, id: ExecutionId) -> BackendResult<()> {
        self.refuse_if_readonly(Operation::RedriveExecution)?;
        self.workflow
            .redrive(id.as_str())
            .await
            .map_err(|e| execution_error(Operation::RedriveExecution, &id, e))?;
        // It runs again: its history is no longer final and its status must be re-read.
        lock(&self.histories).remove(id.as_str());
        self.lister.watch(id.as_str());
        Ok(())
    }

    async fn endpoint(&self) -> BackendResult<EndpointInfo> {
        let Some(name) = self.resources.live_endpoint() else {
            return Ok(EndpointInfo {
                name: self
                    .resources
                    .endpoint_name
                    .clone()
                    .unwrap_or_else(|| "-".to_owned()),
                status: "NotDeployed".to_owned(),
                detail: Some("no model: Terraform created no endpoint".to_owned()),
            });
        };
        match endpoint::describe(&self.clients.sagemaker, name).await {
            Ok(status) => Ok(EndpointInfo {
                detail: status.detail(),
                name: status.name,
                status: status.status,
            }),
            Err(e) if e.is_not_found() => Ok(EndpointInfo {
                name: name.to_owned(),
                status: "NotFound".to_owned(),
                detail: Some(e.to_string()),
            }),
            Err(e) => Err(backend_error(Operation::DescribeEndpoint)(e)),
        }
    }

    async fn metrics(&self, range: TimeRange, period: Duration) -> BackendResult<EndpointMetrics> {
        let name = self.live_endpoint(Operation::GetMetricData)?;
        let series = metrics::endpoint_series(
            &self.clients.cloudwatch,
            name,
            &self.options.variant,
            range.start,
            range.end,
            period,
        )
        .await
        .map_err(backend_error(Operation::GetMetricData))?;
        let errors = series
            .errors_4xx
            .iter()
            .zip(&series.errors_5xx)
            .map(|(a, b)| a + b)
            .collect();
        Ok(EndpointMetrics {
            start: series.start,
            period: series.period,
            invocations: series.invocations,
            latency_ms: series.latency_avg_ms,
            latency_max_ms: series.latency_max_ms,
            errors,
        })
    }

    async fn capture(&self, range: TimeRange, limit: usize) -> BackendResult<CaptureSample> {
        let name = self.live_endpoint(Operation::ReadDataCapture)?;
        let prefix = capture::variant_prefix(
            &self.resources.data_capture_prefix,
            name,
            &self.options.variant,
        );
        let objects = capture::list_objects(
            &self.clients.s3,
            &self.resources.bucket,
            &prefix,
            capture::listing_start(range.start),
        )
        .await
        .map_err(backend_error(Operation::ReadDataCapture))?;
        let captured = self.capture_points(objects).await;
        Ok(sample_points(captured, &range, limit))
    }

    async fn low_confidence(
        &self,
        range: TimeRange,
        limit: usize,
    ) -> BackendResult<LowConfidenceReport> {
        let Some(group) = self.resources.filter_log_group() else {
            return Err(BackendError::NotReady {
                operation: Operation::FilterLogEvents,
                reason: "the outputs name no log group for filter-low-confidence".to_owned(),
            });
        };
        let (decisions, more) = logs::low_confidence_decisions(
            &self.clients.logs,
            group,
            range.start,
            range.end,
            limit,
        )
        .await
        .map_err(backend_error(Operation::LowConfidenceFailures))?;
        let labels = self.labels().await;
        let failures: Vec<LowConfidenceFailure> = decisions
            .into_iter()
            .map(|d| LowConfidenceFailure {
                execution: None,
                label: labels.get(&d.decision.s3_key).copied(),
                s3_key: Some(d.decision.s3_key),
                p_bicycle: d.decision.p_bicycle,
                p_motorcycle: d.decision.p_motorcycle,
                threshold: d.decision.threshold,
                time: d.time,
            })
            .collect();
        let total = if more {
            // More than a page: the metric filter's count covers the whole window.
            self.low_confidence_count(range)
                .await
                .unwrap_or(failures.len() as u64)
        } else {
            failures.len() as u64
        };
        Ok(LowConfidenceReport {
            total: total.max(failures.len() as u64),
            failures,
            decisions: None,
        })
    }

    async fn image(&self, s3_key: String) -> BackendResult<Vec<u8>> {
        let max = scones_workflow::limits::MAX_IMAGE_BYTES as u64;
        capture::get_object_at_most(&self.clients.s3, &self.resources.bucket, &s3_key, max)
            .await
            .map_err(|e| {
                if e.is_not_found() {
                    BackendError::ObjectNotFound(format!("s3://{}/{s3_key}", self.resources.bucket))
                } else {
                    backend_error(Operation::GetObject)(e)
                }
            })
    }

    /// The monitor-drift function's latest report. Its windows are the function's
    /// (`drift_window`, `drift_windows` in Terraform), not the dashboard's: the view shows
    /// what the alarms saw.
    async fn drift(
        &self,
        _window: scones_workflow::drift::WindowSpec,
        _windows: usize,
    ) -> BackendResult<DriftView> {
        let mut slot = self.drift_report.lock().await;
        if let Some((at, report)) = slot.as_ref()
            && at.elapsed() < DRIFT_REPORT_TTL
        {
            return report.clone();
        }
        let report = self.read_drift_report().await;
        *slot = Some((Instant::now(), report.clone()));
        report
    }
    async fn logs(&self, execution: ExecutionSummary) -> BackendResult<Vec<LogLine>> {
        let start = execution.start - chrono::Duration::seconds(2);
        let end = execution.stop.unwrap_or_else(Utc::now) + chrono::Duration::seconds(5);
        // (label, group, pattern)
        let mut queries: Vec<(String, String, Option<String>)> = Vec::new();
        if let Some(group) = self.resources.workflow_log_group() {
            queries.push((
                "states".to_owned(),
                group.to_owned(),
                Some(literal_pattern(execution.id.as_str())),
            ));
        }
        let key = execution
            .s3_key
            .clone()
            .or_else(|| self.lister.cached_s3_key(execution.id.as_str()));
        for (role, group) in &self.resources.log_groups {
            if role == crate::resources::WORKFLOW_LOG_GROUP {
                continue;
            }
            queries.push((
                role.clone(),
                group.clone(),
                key.as_deref().map(literal_pattern),
            ));
        }
        if queries.is_empty() {
            return Err(BackendError::NotReady {
                operation: Operation::FilterLogEvents,
                reason: "the outputs name no log groups".to_owned(),
            });
        }
        let id = execution.id.as_str();
        let logs_client = &self.clients.logs;
        let results: Vec<(String, Result<Vec<LogEvent>, AwsError>)> =
            futures::stream::iter(queries)
                .map(|(label, group, pattern)| async move {
                    let r = logs::filter_events(
                        logs_client,
                        &group,
                        pattern.as_deref(),
                        start,
                        end,
                        LOGS_PER_GROUP,
                    )
                    .await;
                    (label, r)
                })
                .buffer_unordered(4)
                .collect()
                .await;
        let mut lines = Vec::new();
        let mut errors = Vec::new();
        let total = results.len();
        for (label, r) in results {
            match r {
                Ok(events) => lines.extend(
                    events
                        .iter()
                        .filter(|e| label != "states" || about_execution(&e.message, id))
                        .map(|e| log_line(&label, e)),
                ),
                // A group that does not exist yet (a function never invoked) has no lines.
                Err(e) if e.is_not_found() => {}
                Err(e) => errors.push(e),
            }
        }
        if errors.len() == total
            && let Some(e) = errors.into_iter().next()
        {
            return Err(backend_error(Operation::FilterLogEvents)(e));
        }
        lines.sort_by_key(|l| l.time);
        Ok(lines)
    }

    async fn guard(&self) -> BackendResult<GuardState> {
        let mode = self.guard_mode(Operation::DescribeGuard)?;
        let mut slot = self.guard.lock().await;
        if let Some((at, state)) = slot.as_ref()
            && at.elapsed() < GUARD_TTL
        {
            return Ok(GuardState::clone(state));
        }
        let state = match crate::guard::read(&self.clients.s3, &self.resources.bucket).await {
            Ok(Some((state, _))) => state,
            // Before the monitor's first run: not holding, in Terraform's mode.
            Ok(None) => GuardState::new(mode, Utc::now()),
            Err(e) => return Err(backend_error(Operation::DescribeGuard)(e)),
        };
        *slot = Some((Instant::now(), Arc::new(state.clone())));
        Ok(state)
    }

    async fn command_guard(&self, command: GuardCommand) -> BackendResult<GuardState> {
        self.refuse_if_readonly(Operation::UpdateGuard)?;
        let mode = self.guard_mode(Operation::UpdateGuard)?;
        if let GuardCommand::Mode(wanted) = command {
            // Terraform owns the mode: the monitor writes it back on its next run.
            return Err(BackendError::NotReady {
                operation: Operation::UpdateGuard,
                reason: format!(
                    "on AWS the guard's mode is Terraform's: terraform apply -var guard={wanted}"
                ),
            });
        }
        let now = Utc::now();
        let state = crate::guard::update(&self.clients.s3, &self.resources.bucket, mode, |state| {
            scones_workflow::guard::Guard::command(state, command, now)
        })
        .await
        .map(|(state, _)| state)
        .map_err(backend_error(Operation::UpdateGuard))?;
        *self.guard.lock().await = Some((Instant::now(), Arc::new(state.clone())));
        Ok(state)
    }

    async fn review_queue(&self, limit: usize) -> BackendResult<ReviewQueue> {
        let operation = Operation::ListReviewQueue;
        let Some(group) = self.resources.filter_log_group() else {
            return Err(BackendError::NotReady {
                operation,
                reason: "the outputs name no log group for filter-low-confidence".to_owned(),
            });
        };
        let (labels, unreadable) = self.read_labels(operation).await?;
        let now = Utc::now();
        let mut decisions = self.decisions.lock().await;
        decisions
            .refresh(&self.clients.logs, group, now)
            .await
            .map_err(backend_error(operation))?;
        Ok(ReviewQueue::of(
            decisions.items().cloned(),
            &labels,
            unreadable,
            limit,
            now,
        ))
    }

    async fn label(&self, label: NewLabel) -> BackendResult<LabelRecord> {
        let operation = Operation::PutLabel;
        self.refuse_if_readonly(operation)?;
        let s3 = &self.clients.s3;
        let bucket = &self.resources.bucket;
        let exists = crate::review::object_exists(s3, bucket, &label.key)
            .await
            .map_err(backend_error(operation))?;
        if !exists {
            return Err(BackendError::NotReady {
                operation,
                reason: format!(
                    "{} is not an image of s3://{bucket}/ (no such object); label keys as \
                     `scones review list --aws` shows them",
                    label.key
                ),
            });
        }
        let who = self.who(operation).await?;
        let record = label.record(who, Utc::now());
        crate::review::put_label(s3, bucket, &record)
            .await
            .map_err(backend_error(operation))?;
        Ok(record)
    }

    async fn labels(&self) -> BackendResult<Vec<LabelRecord>> {
        let (labels, _) = self.read_labels(Operation::ListLabels).await?;
        let mut current: Vec<LabelRecord> = labels.current().cloned().collect();
        current.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.key.cmp(&b.key)));
        Ok(current)
    }

    async fn models(&self) -> BackendResult<ModelsView> {
        let operation = Operation::ListModels;
        let models = self.model_resources(operation)?;
        let endpoint = self.live_endpoint(operation)?;
        let sagemaker = &self.clients.sagemaker;
        let (versions, state, history) = tokio::join!(
            self.versions(&models.job_prefix),
            crate::versions::endpoint_state(sagemaker, endpoint),
            crate::versions::history(&self.clients.s3, &self.resources.bucket),
        );
        let error = backend_error(operation);
        let state = state.map_err(&error)?;
        let serving = state
            .serving_model_data_url
            .as_deref()
            .map(scones_workflow::models::version_of);
        let mut versions: Vec<_> = versions
            .map_err(&error)?
            .into_iter()
            .map(|v| v.version)
            .collect();
        let names: Vec<String> = versions.iter().map(|v| v.version.clone()).collect();
        let measures = self.kept_measures(names).await;
        for (v, m) in versions.iter_mut().zip(measures) {
            v.serving = Some(&v.version) == serving.as_ref();
            if let Some(m) = m {
                v.test = m.test;
                v.production = m.production;
                v.threshold = m.threshold;
            }
        }
        Ok(ModelsView {
            versions,
            serving,
            history: history.map_err(&error)?,
            deployment: deployment_line(&state, &models.deployment),
        })
    }

    async fn promote(&self, version: String, force: bool) -> BackendResult<Promotion> {
        let operation = Operation::PromoteModel;
        let (models, state) = self.idle_endpoint(operation).await?;
        let error = backend_error(operation);
        let refused = |reason: String| BackendError::NotReady { operation, reason };
        let s3 = &self.clients.s3;
        let bucket = &self.resources.bucket;
        let versions = self.versions(&models.job_prefix).await.map_err(&error)?;
        let wanted = if version == "latest" {
            versions.first()
        } else {
            versions.iter().find(|v| v.version.version == version)
        };
        let Some(wanted) = wanted else {
            return Err(refused(format!(
                "{version} is no Completed training job of this stack (`scones models --aws` \
                 lists them)"
            )));
        };
        let to = wanted.version.version.clone();
        let url = wanted.model_data_url.clone();
        let artefact = url
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'));
        let present = match artefact {
            Some((b, key)) => crate::review::object_exists(s3, b, key)
                .await
                .map_err(&error)?,
            None => false,
        };
        if !present {
            return Err(refused(format!(
                "{to}'s model artefact {url} is missing: the job's output is gone (a destroyed \
                 bucket?); retrain with `scones train --aws`"
            )));
        }
        let from = state
            .serving_model_data_url
            .as_deref()
            .map(scones_workflow::models::version_of);
        if from.as_deref() == Some(to.as_str()) {
            return Err(refused(format!("{to} serves already")));
        }
        // The gate, unless overridden (then not measured: the candidate endpoint costs
        // minutes and money, and its answer would not be heeded).
        let gate = if force {
            None
        } else {
            let Some(spec) = models.candidate.as_ref() else {
                return Err(refused(
                    "this stack was applied before the promotion gate could measure on AWS: \
                     terraform apply (or --force, recorded)"
                        .to_owned(),
                ));
            };
            let measured = crate::candidate::measure(
                &self.clients,
                bucket,
                spec,
                &to,
                &url,
                (
                    from.as_deref().unwrap_or("the served model"),
                    self.live_endpoint(operation)?,
                ),
                self.info().threshold,
                &|step| tracing::info!("promote {to}: {step}"),
            )
            .await
            .map_err(&error)?;
            let at = Instant::now();
            let mut kept = self.measures.lock().await;
            for m in [&measured.candidate, &measured.serving] {
                kept.insert(m.version.clone(), (at, Some(m.clone())));
            }
            drop(kept);
            if !measured.gate.passed {
                return Err(refused(format!(
                    "the gate refused {to}: {}; `--force` promotes it anyway (recorded)",
                    measured.gate.reasons.join("; ")
                )));
            }
            Some(measured.gate)
        };
        // Terraform's own artefact needs no override: serving it is the default.
        let serving = (Some(url.as_str()) != models.deployment.trained_model_data_url.as_deref())
            .then_some(url.as_str());
        let drift_baseline = self.serve(operation, serving, &url, &to).await?;
        let promotion = Promotion {
            at: Utc::now(),
            who: self.who(operation).await?.to_owned(),
            action: ServingChange::Promote,
            from,
            to,
            gate,
            forced: force,
            drift_baseline,
        };
        self.record_serving(operation, promotion).await
    }

    async fn rollback(&self) -> BackendResult<Promotion> {
        let operation = Operation::RollbackModel;
        let (models, state) = self.idle_endpoint(operation).await?;
        let error = backend_error(operation);
        let s3 = &self.clients.s3;
        let bucket = &self.resources.bucket;
        let current = state
            .serving_model_data_url
            .as_deref()
            .map(scones_workflow::models::version_of);
        let history = crate::versions::history(s3, bucket).await.map_err(&error)?;
        // The version served before the current one came to serve.
        let Some(previous) = history
            .iter()
            .rev()
            .find(|p| Some(&p.to) == current.as_ref())
            .and_then(|p| p.from.clone())
        else {
            return Err(BackendError::NotReady {
                operation,
                reason: "nothing to roll back to: no promotion made the serving version serve"
                    .to_owned(),
            });
        };
        let trained = models
            .deployment
            .trained_model_data_url
            .as_deref()
            .map(scones_workflow::models::version_of);
        let serving = if trained.as_deref() == Some(previous.as_str()) {
            None
        } else {
            let versions = self.versions(&models.job_prefix).await.map_err(&error)?;
            let Some(v) = versions.into_iter().find(|v| v.version.version == previous) else {
                return Err(BackendError::NotReady {
                    operation,
                    reason: format!(
                        "{previous}, served before, is no Completed training job of this stack \
                         any more"
                    ),
                });
            };
            Some(v.model_data_url)
        };
        // Serving nothing of our own means Terraform's: the training job's artefact.
        let url = serving
            .clone()
            .or_else(|| models.deployment.trained_model_data_url.clone())
            .unwrap_or_default();
        let drift_baseline = self
            .serve(operation, serving.as_deref(), &url, &previous)
            .await?;
        let promotion = Promotion {
            at: Utc::now(),
            who: self.who(operation).await?.to_owned(),
            action: ServingChange::Rollback,
            from: current,
            to: previous,
            gate: None,
            forced: false,
            drift_baseline,
        };
        self.record_serving(operation, promotion).await
    }

    fn record_link(&self, id: &ExecutionId) -> RecordLink {
        let region = console::arn_region(id.as_str()).unwrap_or(&self.region);
        RecordLink::Url(console::execution_url(region, id.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_models_view_says_what_a_deployment_is_doing_and_why_one_failed() {
        let deployment = crate::resources::Deployment {
            traffic: "CANARY".into(),
            canary_percent: Some(25),
            baking_seconds: 600,
            rollback_alarms: vec!["a".into(), "b".into()],
            serving_model_data_url: None,
            trained_model_data_url: None,
            promoted: false,
        };
        let state = |status: &str, reason: Option<&str>| crate::versions::EndpointState {
            status: status.into(),
            serving_model_data_url: None,
            failure_reason: reason.map(str::to_owned),
            updating_since: chrono::DateTime::from_timestamp(1_790_000_000, 0),
        };
        assert_eq!(
            deployment_line(&state("InService", None), &deployment),
            None
        );
        assert_eq!(
            deployment_line(&state("Updating", None), &deployment).as_deref(),
            Some(
                "Updating since 14:13:20Z (blue/green, canary 25% then all, baking 600 s, \
                 rolls back on 2 alarm(s))"
            )
        );
        let rolled_back = deployment_line(
            &state("InService", Some("rolled back: alarm a in ALARM")),
            &deployment,
        );
        assert_eq!(
            rolled_back.as_deref(),
            Some("InService since 14:13:20Z: rolled back: alarm a in ALARM")
        );
    }

    #[test]
    fn log_messages_are_shortened() {
        let sfn = r#"{"id":"3","type":"TaskStateEntered","details":{"name":"ClassifyImage","input":"{}"},"execution_arn":"arn"}"#;
        assert_eq!(log_message(sfn), "TaskStateEntered ClassifyImage");
        let lambda = r#"{"timestamp":"t","level":"INFO","decision":"pass","p_bicycle":0.97}"#;
        assert_eq!(log_message(lambda), "decision=pass p_bicycle=0.97");
        assert_eq!(log_message("START RequestId: x"), "START RequestId: x");
    }

    #[test]
    fn state_lines_of_other_executions_are_left_out() {
        let arn = "arn:aws:states:us-east-1:1:execution:m:run-1";
        let line = |a: &str| format!(r#"{{"type":"TaskStateEntered","execution_arn":"{a}"}}"#);
        assert!(about_execution(&line(arn), arn));
        assert!(!about_execution(&line(&format!("{arn}0")), arn));
        assert!(about_execution("plain text", arn));
        assert!(about_execution(r#"{"type":"X"}"#, arn));
    }

    #[test]
    fn literal_patterns_are_quoted() {
        assert_eq!(
            literal_pattern("arn:aws:states:us-east-1:1:execution:m:n"),
            "\"arn:aws:states:us-east-1:1:execution:m:n\""
        );
        assert_eq!(literal_pattern("a\"b"), "\"ab\"");
    }

    #[test]
    fn errors_map_to_the_dashboards() {
        let e = backend_error(Operation::ListExecutions)(AwsError::Throttled {
            operation: "ListExecutions",
            code: "ThrottlingException".into(),
            message: "Rate exceeded".into(),
        });
        assert!(e.is_throttling());
        let id = ExecutionId::new("arn:x");
        let e = execution_error(
            Operation::DescribeExecution,
            &id,
            AwsError::NotFound {
                operation: "DescribeExecution",
                code: "ExecutionDoesNotExist".into(),
                message: "gone".into(),
            },
        );
        assert_eq!(e, BackendError::NotFound("arn:x".into()));
    }
}
