//! Executions per second of the local stack with histories persisted: the same code path as
//! `scones run --local --random N` (`LocalStack::run_many`), without the CLI's printing.
//! Useful where the `scones` binary (which links the AWS SDKs) is not built yet.
//!
//! ```text
//! cargo run --release -p scones-local --example bench_run -- --home DIR [--n 10000] [--concurrency 64]
//! ```

use std::path::PathBuf;

use scones_local::{Home, LocalStack, StackOptions};

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
        let stack = LocalStack::open(&home, &StackOptions::default())?;
        let keys = stack.random_test_keys(n)?;
        let summary = stack.run_many(keys, concurrency, |_| {}).await;
        stack.flush().await?;
        println!("{summary}");
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
