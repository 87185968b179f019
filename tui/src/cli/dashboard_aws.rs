//! `scones dashboard --aws`: the dashboard over the deployed stack
//! ([`scones_aws::AwsBackend`]).

use std::process::ExitCode;
use std::sync::Arc;

use scones::dashboard::{self, RunOptions};
use scones_aws::{AwsBackend, AwsOptions};
use scones_local::Home;

use super::aws_stack::{self, AwsStackArgs};
use super::{BackendArgs, GlobalArgs};

/// Finds the stack, connects, and runs the dashboard until the user quits.
pub fn run(
    global: &GlobalArgs,
    backend: &BackendArgs,
    stack: &AwsStackArgs,
    readonly: bool,
    config: dashboard::config::Config,
) -> anyhow::Result<ExitCode> {
    let runtime = super::async_runtime()?;
    // Log output goes to the local home's logs while the dashboard owns the terminal, when
    // there is one: AWS mode creates nothing locally.
    let log_file = Home::locate(global.home.as_deref())
        .ok()
        .filter(|home| home.logs_dir().is_dir())
        .map(|home| home.logs_dir().join("dashboard-aws.log"));
    runtime.block_on(async {
        // Discovery and credential errors are reported before the terminal is taken over.
        let aws = AwsBackend::connect(
            &aws_stack::target(backend),
            &stack.discovery(),
            AwsOptions {
                readonly,
                ..AwsOptions::default()
            },
        )
        .await?;
        tracing::info!(source = %aws.source(), state_machine = %aws.resources().state_machine_arn, "dashboard on AWS");
        let options = RunOptions {
            config,
            readonly,
            log_file,
        };
        let signalled = dashboard::run(Arc::new(aws), options).await?;
        Ok(super::dashboard::exit_code(signalled))
    })
}
