//! Executions per second of the local stack with histories persisted: the same code path as
//! `scones run --local --random N` (the port's runner over [`LocalBackend`]), without the
//! CLI's printing.
//! Useful where the `scones` binary (which links the AWS SDKs) is not built yet.
//!
//! ```text
//! cargo run --release -p scones-local --example bench_run -- --home DIR [--n 10000] [--concurrency 64]
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use scones_local::{Home, LocalBackend, LocalOptions};
use scones_workflow::run::{Keys, run_to_end};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut home: Option<PathBuf> = None;
    let mut n = 10_000usize;
    let mut concurrency = 64usize;
    while let Some(arg) = args.next() {
        let mut number = || {
            args.next()
                .and_then(|v| v.parse::<usize>().ok())
                .ok_or("needs a number")
        };
        match arg.as_str() {
            "--home" => home = args.next().map(PathBuf::from),
            "--n" => n = number()?,
            "--concurrency" => concurrency = number()?,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let home = Home::resolve(home.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let backend = Arc::new(LocalBackend::open(&home, LocalOptions::default())?);
        backend.stack(scones_workflow::port::Operation::StartExecution)?;
        let report = run_to_end(Arc::clone(&backend), Keys::Random(n as u64), concurrency).await?;
        backend.finish(std::time::Duration::from_secs(60)).await;
        println!("{}", report.summary);
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
