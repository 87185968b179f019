//! AWS-side code of the `scones` CLI: putting the staged bucket layout into S3
//! ([`stage`]) and running the SageMaker image-classification training job ([`training`]).
//!
//! Everything takes SDK clients built by [`config`], so the same code runs against AWS and,
//! in the tests, against the moto server from `scripts/moto/` (`AWS_ENDPOINT_URL`).

pub mod config;
pub mod stage;
pub mod training;

pub use config::{AwsTarget, config_loader, s3_client, sagemaker_client, sdk_config};
pub use stage::{StageError, StageEvent, StageOptions, StageReport, stage_to_s3};
pub use training::{
    CompletedJob, JobProgress, SpecError, StartOutcome, TrainingError, TrainingJobSpec,
    WaitOptions, run_training_job,
};
