//! `scones run --local`: executions on the local engine, persisted in the local store.

use std::io::Write;
use std::process::ExitCode;

use scones_local::{Home, LocalStack, StackOptions, stage};

use super::RunArgs;
use super::print::line;
use crate::cli::GlobalArgs;
use crate::ui::synthetic_banner;

pub fn run(global: &GlobalArgs, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let home = Home::resolve(global.home.as_deref())?;
    if let Some(manifest) = stage::read_manifest(&home.bucket())?
        && manifest.synthetic
    {
        synthetic_banner(manifest.synthetic_reason.as_deref());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let options = StackOptions {
            threshold: args.threshold,
            data_capture: !args.no_capture,
            ..StackOptions::default()
        };
        let stack = LocalStack::open(&home, &options)?;
        let keys = match args.random {
            Some(n) => stack.random_test_keys(n)?,
            None => args.key.clone(),
        };
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        let quiet = args.quiet;
        let summary = stack
            .run_many(keys, args.concurrency as usize, |r| {
                if !quiet {
                    let _ = writeln!(out, "{}", line(r));
                }
            })
            .await;
        stack.flush().await?;
        let _ = writeln!(out, "{summary}");
        let _ = out.flush();
        anyhow::ensure!(
            summary.not_persisted == 0,
            "{} executions could not be persisted in {}",
            summary.not_persisted,
            home.store_path().display()
        );
        Ok(ExitCode::SUCCESS)
    })
}
