//! `scones history`: one local execution's history as `aws stepfunctions
//! get-execution-history` prints it. The store keeps a finished history packed
//! (compressed), so this is how to read it outside the dashboard.

use std::process::ExitCode;

use clap::Args;
use scones_local::Home;

use super::GlobalArgs;
use crate::cli::output::outln;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The execution's ARN or name.
    #[arg(value_name = "EXECUTION")]
    pub execution: String,
}

pub fn run(global: &GlobalArgs, args: HistoryArgs) -> anyhow::Result<ExitCode> {
    let home = Home::locate(global.home.as_deref())?;
    anyhow::ensure!(
        home.store_path().exists(),
        "no execution store in {}",
        home.root().display()
    );
    // Not read-only: an older store is upgraded first, as every other command does.
    let store = home.open_store()?;
    let Some(detail) = store.execution(&args.execution)? else {
        anyhow::bail!(
            "no execution {} in {}",
            args.execution,
            home.store_path().display()
        );
    };
    let events = store.history(&detail.summary.arn)?;
    let text = serde_json::to_string_pretty(&serde_json::json!({ "events": events }))?;
    outln!("{text}")?;
    Ok(ExitCode::SUCCESS)
}
