//! `scones gc`: removes old executions from the local stack, like the service's retention
//! (Standard workflow history is kept 90 days): their events, the payload bodies nothing
//! references any more, their metrics and the capture files of those hours.

use std::process::ExitCode;

use clap::Args;
use scones_local::Home;
use scones_local::endpoint::DEFAULT_ENDPOINT_NAME;
use scones_local::endpoint::capture::remove_captures_before;
use scones_local::store::Retention;
use scones_workflow::drift::WindowSpec;

use super::GlobalArgs;
use crate::cli::output::outln;

/// The service's retention of Standard workflow history.
const DEFAULT_AGE: &str = "90d";

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Remove finished executions that started longer ago than this (e.g. 7d, 12h). Default:
    /// 90d, unless --keep is given alone.
    #[arg(long, value_name = "AGE")]
    pub older_than: Option<String>,
    /// Keep at most this many executions, the newest.
    #[arg(long, value_name = "N")]
    pub keep: Option<u64>,
    /// Say what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(global: &GlobalArgs, args: GcArgs) -> anyhow::Result<ExitCode> {
    let age = match (&args.older_than, args.keep) {
        (Some(text), _) => Some(parse_age(text)?),
        (None, Some(_)) => None,
        (None, None) => Some(parse_age(DEFAULT_AGE)?),
    };
    let home = Home::locate(global.home.as_deref())?;
    if !home.store_path().exists() {
        // Nothing to do is success: a cron job on a home that never ran must not fail.
        outln!(
            "no execution store in {}: nothing to collect",
            home.root().display()
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let store = home.open_store()?;
    let now = chrono::Utc::now();
    let retention = Retention {
        older_than: age,
        keep: args.keep,
    };
    let report = store.gc(&retention, now, args.dry_run)?;
    let (files, bytes) = match age {
        Some(age) => remove_captures_before(
            &home.bucket(),
            DEFAULT_ENDPOINT_NAME,
            // Saturating, as the store's pass does: an age older than the calendar is "all".
            now.checked_sub_signed(age)
                .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC),
            args.dry_run,
        )
        .map_err(|e| anyhow::anyhow!("cannot remove old data capture: {e}"))?,
        None => (0, 0),
    };
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    outln!(
        "{verb} {} executions ({} history events), {} payload bodies no execution uses, {} \
         metric seconds, {} capture files ({:.1} MB)",
        report.executions,
        report.events,
        report.blobs,
        report.metric_rows,
        files,
        bytes as f64 / 1e6
    )?;
    if !args.dry_run {
        outln!(
            "freed {:.1} MB in {} (reused by new executions)",
            report.freed_bytes as f64 / 1e6,
            store.path().display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// An age such as `7d`, `12h`, `30m`.
fn parse_age(text: &str) -> anyhow::Result<chrono::Duration> {
    match text.parse::<WindowSpec>() {
        Ok(WindowSpec::Period(age)) => Ok(age),
        _ => anyhow::bail!("--older-than {text:?} is not an age such as 90d, 12h or 30m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_periods_and_counts_are_refused() {
        assert_eq!(parse_age("7d").unwrap(), chrono::Duration::days(7));
        assert!(parse_age("500").is_err());
        assert!(parse_age("soon").is_err());
        // Past the window bound: refused, not an overflow later.
        assert!(parse_age("100000000d").is_err());
    }
}
