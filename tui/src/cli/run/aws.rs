//! `scones run --aws`: executions of the deployed state machine, started with
//! `StartExecution` and followed with `DescribeExecution` (backoff with jitter) to their end;
//! the same lines and summary as `scones run --local`.
//!
//! The stack comes from `terraform output -json` (`--tf-dir`), a saved copy, or flags (see
//! [`scones_aws::Discovery`]); `--random N` draws keys from the bucket's `test/` listing
//! (or `test.lst`). `--threshold` and `--no-capture` are local settings: on AWS the
//! threshold is the filter Lambda's environment and capture the endpoint's configuration.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::Rng;
use rand::seq::IndexedRandom;
use scones::dashboard::backend::local::parse_low_confidence_cause;
use scones_aws::executions::{ExecutionDescription, Workflow, execution_name};
use scones_aws::{AwsClients, AwsError, Resources, RetryPolicy, bucket};
use scones_local::runner::{ExecutionResult, RunSummary};
use scones_local::store::ExecutionStatus;
use serde_json::json;

use super::RunArgs;
use super::print::line;
use crate::cli::GlobalArgs;
use crate::cli::aws_stack;

/// First wait between two `DescribeExecution` calls of one execution.
const POLL_FIRST: Duration = Duration::from_millis(250);
/// Longest wait between two polls.
const POLL_MAX: Duration = Duration::from_secs(5);
/// Give up following an execution after this long (the definition times out at 300 s).
const WAIT_LIMIT: Duration = Duration::from_secs(900);

pub fn run(_global: &GlobalArgs, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let (resources, source) = args.stack.discovery().discover().await?;
    let mut target = aws_stack::target(&args.backend);
    if target.region.is_none() {
        target.region = resources.stack_region();
    }
    let config = scones_aws::sdk_config(&target).await;
    let clients = AwsClients::new(&config, &target, RetryPolicy::default());
    tracing::info!(state_machine = %resources.state_machine_arn, %source, "running on AWS");

    let workflow = Arc::new(Workflow::new(
        clients.sfn.clone(),
        resources.state_machine_arn.clone(),
    ));
    // One cheap call first, so an undeployed (or destroyed) stack is one clear error
    // instead of a failed StartExecution per key.
    workflow.check_exists().await.map_err(|source| {
        if source.is_not_found() {
            RunAwsError::NoStateMachine {
                arn: resources.state_machine_arn.clone(),
                region: clients.region.clone().unwrap_or_else(|| "?".to_owned()),
                source: source.clone(),
            }
        } else {
            RunAwsError::Aws(source)
        }
    })?;
    let keys = match args.random {
        Some(n) => random_keys(&clients, &resources, n).await?,
        None => args.key.clone(),
    };

    let started = Instant::now();
    let total = keys.len();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(args.concurrency.max(1) as usize));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for key in keys {
        let workflow = Arc::clone(&workflow);
        let semaphore = Arc::clone(&semaphore);
        let bucket = resources.bucket.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let Ok(_permit) = semaphore.acquire_owned().await else {
                return;
            };
            let outcome = execute(&workflow, &bucket, &key).await;
            let _ = tx.send((key, outcome));
        });
    }
    drop(tx);

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut results: Vec<ExecutionResult> = Vec::with_capacity(total);
    let mut not_finished = 0usize;
    while let Some((key, outcome)) = rx.recv().await {
        match outcome {
            Ok(result) => {
                if !args.quiet {
                    let _ = writeln!(out, "{}", line(&result));
                }
                results.push(result);
            }
            Err(e) => {
                not_finished += 1;
                let _ = out.flush();
                eprintln!("{key}\tNOT FINISHED\t{e:#}");
            }
        }
    }
    let summary = RunSummary::of(&results, started.elapsed());
    let _ = writeln!(out, "{summary}");
    let _ = out.flush();
    anyhow::ensure!(
        not_finished == 0,
        "{not_finished} of {total} executions could not be started or followed to their end \
         on {}",
        resources.state_machine_arn
    );
    Ok(ExitCode::SUCCESS)
}

/// Why `scones run --aws` cannot start at all (per-execution failures are reported per
/// line instead).
#[derive(Debug, thiserror::Error)]
pub enum RunAwsError {
    /// The state machine named by the outputs or flags does not exist.
    #[error(
        "nothing is deployed: state machine {arn} does not exist in {region} ({source}); run \
         `terraform apply` in terraform/, or check --tf-dir, --state-machine-arn, --region \
         and --profile"
    )]
    NoStateMachine {
        /// The ARN looked for.
        arn: String,
        /// The region asked.
        region: String,
        /// What Step Functions said.
        source: AwsError,
    },
    /// `--random` found no test images to draw from.
    #[error(
        "s3://{bucket}/test/ has no images and there is no test.lst: upload them with \
         `scones stage --aws --bucket {bucket}`"
    )]
    NoTestImages {
        /// The bucket.
        bucket: String,
    },
    /// The test images could not be listed.
    #[error("listing the test images of s3://{bucket}: {source}")]
    ListingTestImages {
        /// The bucket.
        bucket: String,
        /// Why.
        source: AwsError,
    },
    /// Any other AWS failure before the first execution.
    #[error(transparent)]
    Aws(AwsError),
}

/// `n` keys drawn (with replacement, like `scones run --local`) from the test split.
async fn random_keys(
    clients: &AwsClients,
    resources: &Resources,
    n: usize,
) -> Result<Vec<String>, RunAwsError> {
    let keys = bucket::test_keys(&clients.s3, &resources.bucket)
        .await
        .map_err(|source| RunAwsError::ListingTestImages {
            bucket: resources.bucket.clone(),
            source,
        })?;
    if keys.is_empty() {
        return Err(RunAwsError::NoTestImages {
            bucket: resources.bucket.clone(),
        });
    }
    let mut rng = rand::rng();
    Ok((0..n)
        .filter_map(|_| keys.choose(&mut rng).cloned())
        .collect())
}

/// Why one execution has no result.
#[derive(Debug, thiserror::Error)]
enum ExecuteError {
    #[error("could not start: {0}")]
    Start(AwsError),
    #[error("{arn}: lost track of it: {source}")]
    Describe { arn: String, source: AwsError },
    #[error("{arn}: still {status} after {waited:?}")]
    Timeout {
        arn: String,
        status: String,
        waited: Duration,
    },
}

/// Starts one execution and follows it to its end.
async fn execute(
    workflow: &Workflow,
    bucket: &str,
    key: &str,
) -> Result<ExecutionResult, ExecuteError> {
    let name = execution_name("scones-run");
    let input = json!({"s3_bucket": bucket, "s3_key": key});
    let (arn, _) = workflow
        .start(&name, &input)
        .await
        .map_err(ExecuteError::Start)?;
    let since = Instant::now();
    let mut wait = POLL_FIRST;
    loop {
        // Full jitter: executions started together do not poll in lockstep.
        let pause = Duration::from_millis(
            rand::rng().random_range(wait.as_millis() as u64 / 2..=wait.as_millis() as u64),
        );
        tokio::time::sleep(pause).await;
        let described = match workflow.describe(&arn).await {
            Ok(d) => d,
            // The SDK already retried; keep following at a slower pace.
            Err(e) if e.is_throttling() => {
                wait = (wait * 2).min(POLL_MAX);
                continue;
            }
            Err(source) => return Err(ExecuteError::Describe { arn, source }),
        };
        if described.listing.is_final() {
            return Ok(result_of(key, described));
        }
        if since.elapsed() > WAIT_LIMIT {
            return Err(ExecuteError::Timeout {
                arn,
                status: described.listing.status,
                waited: since.elapsed(),
            });
        }
        wait = (wait.mul_f64(1.5)).min(POLL_MAX);
    }
}

/// The shared result type from a final description.
fn result_of(key: &str, d: ExecutionDescription) -> ExecutionResult {
    let status = ExecutionStatus::parse(&d.listing.status).unwrap_or(ExecutionStatus::Failed);
    // Succeeded: the output record's inferences; LowConfidence: the scores in the cause.
    let scores = d.scores().or_else(|| {
        d.cause
            .as_deref()
            .and_then(parse_low_confidence_cause)
            .map(|(_, b, m)| [b, m])
    });
    let duration = d
        .listing
        .stop
        .map(|stop| (stop - d.listing.start).to_std().unwrap_or_default())
        .unwrap_or_default();
    ExecutionResult {
        name: d.listing.name,
        arn: d.listing.arn,
        s3_key: key.to_owned(),
        status,
        error: d.error,
        cause: d.cause,
        scores,
        duration,
        persist_error: None,
    }
}
