//! What the control-loop commands (`scones guard`, `review`, `models`, `promote`,
//! `rollback`) share: they talk to the port, so the same command runs against the local
//! stack or (`--aws`) the deployed one.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
#[cfg(feature = "aws")]
use scones_aws::{AwsBackend, AwsOptions};
use scones_local::{Home, LocalBackend};
use scones_workflow::port::Backend;

#[cfg(feature = "aws")]
use super::aws_stack;
use super::aws_stack::AwsStackArgs;
use super::{BackendArgs, GlobalArgs, on_aws};

/// Which deployment a control command acts on.
#[derive(Debug, Clone, Args)]
pub struct Target {
    #[command(flatten)]
    pub backend: BackendArgs,
    #[command(flatten)]
    pub stack: AwsStackArgs,
}

/// A command that runs the same over any backend.
pub trait OnBackend {
    /// Runs it; `readonly` says whether it may change anything.
    fn run<B: Backend>(self, backend: Arc<B>) -> impl Future<Output = anyhow::Result<ExitCode>>;
}

/// Runs `command` on the backend `target` names. Read-only commands open the local home
/// without creating anything.
pub fn dispatch<C: OnBackend>(
    global: &GlobalArgs,
    target: &Target,
    readonly: bool,
    command: C,
) -> anyhow::Result<ExitCode> {
    let runtime = super::async_runtime()?;
    if target.backend.aws {
        return on_aws!(runtime.block_on(async {
            let aws = AwsBackend::connect(
                &aws_stack::target(&target.backend),
                &target.stack.discovery(),
                AwsOptions {
                    readonly,
                    ..AwsOptions::default()
                },
            )
            .await?;
            command.run(Arc::new(aws)).await
        }));
    }
    let home = Home::locate(global.home.as_deref())?;
    anyhow::ensure!(
        home.exists(),
        "no scones home at {}: stage data and train a model first (scripts/dashboard.sh, or \
         `scones stage --local` and `scones train --local`)",
        home.root().display()
    );
    let settings = home.settings()?;
    let local = LocalBackend::open(
        &home,
        scones_local::LocalOptions {
            readonly,
            ..settings.local_options(None)
        },
    )
    .with_context(|| format!("opening the execution store in {}", home.root().display()))?;
    runtime.block_on(command.run(Arc::new(local)))
}
