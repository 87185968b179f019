//! `scones guard`: what the guard does on drift, whether it holds decisions now (since when,
//! why), and an operator's orders: release it, engage it, set its mode.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};
use scones_workflow::guard::{By, GuardCommand, GuardMode, GuardState};
use scones_workflow::port::Backend;

use super::GlobalArgs;
use super::control::{OnBackend, Target, dispatch};
use crate::cli::output::outln;

#[derive(Debug, Args)]
pub struct GuardArgs {
    #[command(subcommand)]
    pub action: Option<GuardAction>,
    #[command(flatten)]
    pub target: Target,
    /// Print the state as JSON.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum GuardAction {
    /// Show the state (the default).
    Status,
    /// Accept decisions again (a drift hold trips again only on a new ALERT episode).
    Release,
    /// Hold every decision for review now, whatever drift says, until released.
    Engage,
    /// What the guard does on drift ALERT: hold (default), warn or off.
    Mode {
        /// hold, warn or off.
        mode: GuardMode,
    },
}

pub fn run(global: &GlobalArgs, args: GuardArgs) -> anyhow::Result<ExitCode> {
    let action = args.action.unwrap_or(GuardAction::Status);
    let readonly = matches!(action, GuardAction::Status);
    dispatch(
        global,
        &args.target,
        readonly,
        Guard {
            action,
            json: args.json,
        },
    )
}

struct Guard {
    action: GuardAction,
    json: bool,
}

impl OnBackend for Guard {
    async fn run<B: Backend>(self, backend: Arc<B>) -> anyhow::Result<ExitCode> {
        let state = match self.action {
            GuardAction::Status => backend.guard().await?,
            GuardAction::Release => backend.command_guard(GuardCommand::Release).await?,
            GuardAction::Engage => backend.command_guard(GuardCommand::Engage).await?,
            GuardAction::Mode { mode } => backend.command_guard(GuardCommand::Mode(mode)).await?,
        };
        if self.json {
            outln!("{}", serde_json::to_string_pretty(&state)?)?;
        } else {
            for line in describe(&state) {
                outln!("{line}")?;
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// The state in words, a line each; the last is `guard: HOLDING|ACCEPTING`.
pub fn describe(state: &GuardState) -> Vec<String> {
    let mut lines = vec![format!("mode: {}", state.mode)];
    if let Some(model) = &state.model {
        lines.push(format!(
            "served model: {model}, last drift verdict {}",
            state.verdict.map_or("-", |v| v.label())
        ));
    }
    match &state.hold {
        Some(hold) => {
            let who = match hold.by {
                By::Drift => format!("drift ALERT on {}", hold.statistics.join(", ")),
                By::Operator => "an operator".to_owned(),
            };
            lines.push(format!(
                "held since {} by {who}{}",
                hold.since
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                if hold.by == By::Drift {
                    format!(
                        "; OK windows in a row {}/{}",
                        hold.ok_windows,
                        scones_workflow::guard::RELEASE_AFTER
                    )
                } else {
                    String::new()
                }
            ));
            if state.mode == GuardMode::Warn {
                lines.push("mode warn: decisions are still accepted".to_owned());
            }
        }
        None => lines.push("not holding".to_owned()),
    }
    let holding = state.holding().is_some();
    lines.push(format!(
        "guard: {}",
        if holding { "HOLDING" } else { "ACCEPTING" }
    ));
    lines
}
