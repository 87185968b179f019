//! `scones models` (every version with its measures, which serves, the promotions),
//! `scones promote VERSION|latest [--force]` (through the gate) and `scones rollback`.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use scones_workflow::models::{ModelsView, SetMeasures};
use scones_workflow::port::Backend;

use super::GlobalArgs;
use super::control::{OnBackend, Target, dispatch};
use crate::cli::output::outln;

#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(flatten)]
    pub target: Target,
    /// As JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The version to serve (`scones models` lists them), or `latest` for the newest.
    #[arg(value_name = "VERSION")]
    pub model_version: String,
    /// Serve it even when the gate refuses it (recorded in the history).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub target: Target,
    /// As JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub target: Target,
    /// As JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn list(global: &GlobalArgs, args: ModelsArgs) -> anyhow::Result<ExitCode> {
    dispatch(global, &args.target, true, List { json: args.json })
}

pub fn promote(global: &GlobalArgs, args: PromoteArgs) -> anyhow::Result<ExitCode> {
    let json = args.json;
    dispatch(
        global,
        &args.target,
        false,
        Step::Promote {
            version: args.model_version,
            force: args.force,
            json,
        },
    )
}

pub fn rollback(global: &GlobalArgs, args: RollbackArgs) -> anyhow::Result<ExitCode> {
    dispatch(
        global,
        &args.target,
        false,
        Step::Rollback { json: args.json },
    )
}

struct List {
    json: bool,
}

impl OnBackend for List {
    async fn run<B: Backend>(self, backend: Arc<B>) -> anyhow::Result<ExitCode> {
        let view = backend.models().await?;
        if self.json {
            outln!("{}", serde_json::to_string_pretty(&view)?)?;
        } else {
            for line in table(&view) {
                outln!("{line}")?;
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

enum Step {
    Promote {
        version: String,
        force: bool,
        json: bool,
    },
    Rollback {
        json: bool,
    },
}

impl OnBackend for Step {
    async fn run<B: Backend>(self, backend: Arc<B>) -> anyhow::Result<ExitCode> {
        let (done, json) = match self {
            Step::Promote {
                version,
                force,
                json,
            } => (backend.promote(version, force).await?, json),
            Step::Rollback { json } => (backend.rollback().await?, json),
        };
        if json {
            outln!("{}", serde_json::to_string_pretty(&done)?)?;
        } else {
            for line in done.describe() {
                outln!("{line}")?;
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

fn measures(m: Option<&SetMeasures>) -> String {
    match m {
        Some(m) => format!(
            "{:.3} ({:>4} img, ECE {:.3}, cov {:>5.1}%)",
            m.accuracy,
            m.images,
            m.ece,
            m.coverage * 100.0
        ),
        None => "-".to_owned(),
    }
}

/// The versions side by side, newest first, the served one marked.
pub fn table(view: &ModelsView) -> Vec<String> {
    let mut lines = vec![format!(
        "  {:<32} {:>11}  {:<40} {}",
        "VERSION", "TRAINED ON", "TEST", "PRODUCTION VALIDATION"
    )];
    for v in &view.versions {
        lines.push(format!(
            "{} {:<32} {:>5}+{:<5}  {:<40} {}",
            if v.serving { "*" } else { " " },
            v.version,
            v.trained_on.base,
            v.trained_on.reviewed,
            measures(v.test.as_ref()),
            measures(v.production.as_ref())
        ));
    }
    if let Some(d) = &view.deployment {
        lines.push(format!("deployment: {d}"));
    }
    lines.push(format!(
        "serving: {}",
        view.serving.as_deref().unwrap_or("nothing")
    ));
    lines
}
