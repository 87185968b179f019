//! Options that say where the deployed stack is, shared by the commands that talk to it
//! (`scones run --aws`, `scones dashboard --aws`).

use std::path::PathBuf;

use clap::Args;
#[cfg(feature = "aws")]
use scones_aws::{AwsTarget, Discovery, ResourceOverrides};

#[cfg(feature = "aws")]
use super::BackendArgs;

/// Where the deployed stack's resources come from (with --aws). Without any of these, the
/// `scones` output of `terraform output -json` in the repository's terraform/ directory, or
/// a saved copy in $XDG_CONFIG_HOME/scones/aws.json.
#[derive(Debug, Clone, Default, Args)]
// Parsed in every build (so `--aws` answers cli::without_aws), read only with `aws`.
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct AwsStackArgs {
    /// Read `terraform output -json` in this directory (an applied scones configuration).
    #[arg(long, value_name = "DIR", requires = "aws")]
    pub tf_dir: Option<PathBuf>,
    /// A saved `terraform output -json scones` to read instead of running Terraform.
    #[arg(long, value_name = "PATH", requires = "aws")]
    pub stack_file: Option<PathBuf>,
    /// The workflow state machine (with --bucket, no Terraform is needed).
    #[arg(long, value_name = "ARN", requires = "aws")]
    pub state_machine_arn: Option<String>,
    /// The bucket with test/ and datacapture/.
    #[arg(long = "bucket", value_name = "NAME", requires = "aws")]
    pub stack_bucket: Option<String>,
    /// The SageMaker endpoint.
    #[arg(long, value_name = "NAME", requires = "aws")]
    pub endpoint_name: Option<String>,
    /// The state machine's log group.
    #[arg(long, value_name = "NAME", requires = "aws")]
    pub workflow_log_group: Option<String>,
    /// The filter-low-confidence function's log group.
    #[arg(long, value_name = "NAME", requires = "aws")]
    pub filter_log_group: Option<String>,
}

#[cfg(feature = "aws")]
impl AwsStackArgs {
    /// How to find the stack.
    pub fn discovery(&self) -> Discovery {
        Discovery {
            tf_dir: self.tf_dir.clone(),
            config_file: self.stack_file.clone(),
            overrides: ResourceOverrides {
                state_machine_arn: self.state_machine_arn.clone(),
                bucket: self.stack_bucket.clone(),
                endpoint_name: self.endpoint_name.clone(),
                workflow_log_group: self.workflow_log_group.clone(),
                filter_log_group: self.filter_log_group.clone(),
            },
            terraform: None,
        }
    }
}

#[cfg(feature = "aws")]
/// The AWS target of `--aws --profile --region` (the endpoint comes from
/// `AWS_ENDPOINT_URL`, which the SDK reads itself).
pub fn target(backend: &BackendArgs) -> AwsTarget {
    AwsTarget {
        profile: backend.profile.clone(),
        region: backend.region.clone(),
        endpoint_url: None,
    }
}

#[cfg(feature = "aws")]
/// The deployed stack's resources and clients for a one-shot command (`eval --aws`,
/// `baseline --aws`): the stack found as [`AwsStackArgs`] says, the region from the flags or
/// else the stack's.
pub async fn connect(
    backend: &BackendArgs,
    stack: &AwsStackArgs,
) -> anyhow::Result<(scones_aws::Resources, scones_aws::AwsClients)> {
    let (resources, _) = stack.discovery().discover().await?;
    let mut target = target(backend);
    if target.region.is_none() {
        target.region = resources.stack_region();
    }
    let config = scones_aws::sdk_config(&target).await;
    let clients = scones_aws::AwsClients::new(&config, &target, scones_aws::RetryPolicy::default());
    Ok((resources, clients))
}
