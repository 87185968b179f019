//! AWS-side code of the `scones` CLI and dashboard.
//!
//! - [`backend`]: [`AwsBackend`], the deployed stack behind the port the dashboard and
//!   `scones run` talk to ([`scones_workflow::port::Backend`]);
//! - [`resources`]: finding the deployed stack (`terraform output -json`, a saved copy,
//!   flags);
//! - [`clients`]: the SDK clients with one retry policy (backoff with jitter on throttling)
//!   and one [`calls::CallCounter`];
//! - [`executions`]: Step Functions executions: start, describe, history, stop, redrive, and
//!   the incremental listing the dashboard refreshes with;
//! - [`metrics`], [`logs`], [`capture`], [`endpoint`], [`bucket`]: CloudWatch metrics,
//!   CloudWatch Logs, S3 data capture, SageMaker DescribeEndpoint, the test keys;
//! - [`evaluation`]: the deployed endpoint on the labelled test split (`scones eval --aws`);
//! - [`stage`] and [`training`]: putting the staged bucket layout into S3 and running the
//!   SageMaker image-classification training job.
//!
//! Everything takes SDK clients built by [`config`] / [`clients`], so the same code runs
//! against AWS and, in the tests, against the moto server from `scripts/moto/`
//! (`AWS_ENDPOINT_URL`).

pub mod backend;
pub mod bucket;
pub mod calls;
pub mod candidate;
pub mod capture;
pub mod clients;
pub mod config;
pub mod console;
pub mod drift_baseline;
pub mod endpoint;
pub mod error;
pub mod evaluation;
pub mod executions;
pub mod guard;
pub mod logs;
pub mod metrics;
pub mod promotion;
pub mod resources;
pub mod review;
pub mod reviewed_training;
pub mod stage;
pub mod training;
pub mod versions;

pub use backend::{AwsBackend, AwsBackendError, AwsOptions};
pub use calls::{CallCounter, CallCounts};
pub use clients::{AwsClients, RetryPolicy};
pub use config::{AwsTarget, config_loader, s3_client, sagemaker_client, sdk_config};
pub use error::AwsError;
pub use executions::Workflow;
pub use resources::{Discovery, DiscoveryError, ResourceOverrides, ResourceSource, Resources};
pub use stage::{StageError, StageEvent, StageOptions, StageReport, stage_to_s3};
pub use training::{
    CompletedJob, JobProgress, SpecError, StartOutcome, TrainingError, TrainingJobSpec,
    WaitOptions, run_training_job, start_training_job,
};
