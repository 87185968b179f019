//! Shared by the dashboard benchmarks: a home with N executions in its store, and the
//! dashboard loaded over it.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{FixedOffset, Utc};
use scones::dashboard::app::AppOptions;
use scones::dashboard::config::Config;
use scones::dashboard::faults::Faults;
use scones::dashboard::headless::Headless;
use scones_local::endpoint::{PredictError, Predictor};
use scones_local::stage::{self, Source, SyntheticSpec};
use scones_local::store::{ExecutionStart, ExecutionStatus, ExecutionStop};
use scones_local::{Home, LocalBackend, LocalOptions, LocalStack, NoProgress, StackOptions};
use scones_workflow::Threshold;
use scones_workflow::port::Backend;
use scones_workflow::run::{Keys, run_to_end};
use serde_json::json;

/// Executions that get a real run (full history) after the bulk rows.
pub const REAL_RUNS: usize = 200;

struct Fixed([f32; 2]);

impl Predictor for Fixed {
    fn predict_png(&self, png: &[u8]) -> Result<[f32; 2], PredictError> {
        // Confident for most images, low confidence for some: both outcomes in the list.
        let low = png.len().is_multiple_of(5);
        Ok(if low { [0.6, 0.4] } else { self.0 })
    }
}

/// Fills `root` with a staged synthetic dataset and `n` executions: `n - REAL_RUNS` written
/// straight through the store writer (summary rows, 10% LowConfidence), then `REAL_RUNS`
/// real executions of the workflow (full histories, metrics, data capture).
pub fn populate(root: &Path, n: usize) -> Home {
    let home = Home::at(root).expect("home");
    let source = Source::Synthetic {
        spec: SyntheticSpec {
            train_per_class: 2,
            test_per_class: 20,
            seed: 5,
        },
        reason: "dashboard benchmark".into(),
    };
    stage::stage(&home.bucket(), &source, &NoProgress).expect("stage");
    let store = home.open_store().expect("store");
    let writer = store.writer().expect("writer");
    let bulk = n.saturating_sub(REAL_RUNS);
    let t0 = Utc::now() - chrono::Duration::seconds(bulk as i64);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut pending = Vec::new();
    for i in 0..bulk {
        let arn: Arc<str> =
            format!("arn:aws:states:local:000000000000:execution:scones:bulk-{i:07}").into();
        let key = format!(
            "test/{}_s_{:06}.png",
            if i % 2 == 0 { "bicycle" } else { "motorcycle" },
            i % 1000
        );
        let start = t0 + chrono::Duration::seconds(i as i64);
        writer.start_execution(ExecutionStart {
            arn: arn.to_string(),
            name: format!("bulk-{i:07}"),
            state_machine_arn: "arn:aws:states:local:000000000000:stateMachine:scones".into(),
            s3_key: Some(key.clone()),
            input: json!({"s3_bucket": "scones-local", "s3_key": key}).to_string(),
            start,
        });
        let low = i % 10 == 3;
        pending.push(writer.finish(
            &arn,
            ExecutionStop {
                status: if low { ExecutionStatus::Failed } else { ExecutionStatus::Succeeded },
                output: (!low).then(|| "{}".to_owned()),
                error: low.then(|| "LowConfidence".to_owned()),
                cause: low.then(|| {
                    json!({"errorMessage": "confidence 0.6000 is below the threshold 0.93: p_bicycle=0.6000, p_motorcycle=0.4000", "errorType": "LowConfidence"}).to_string()
                }),
                stop: start + chrono::Duration::milliseconds(40),
                review: None,
            },
        ));
        if pending.len() == 20_000 {
            runtime
                .block_on(futures::future::try_join_all(pending.drain(..)))
                .expect("commit");
        }
    }
    runtime
        .block_on(futures::future::try_join_all(pending))
        .expect("commit");
    writer.close().expect("writer close");
    runtime.block_on(async {
        let stack = LocalStack::with_predictor(
            &home,
            &StackOptions::default(),
            Arc::new(Fixed([0.97, 0.03])),
        )
        .expect("stack");
        let backend = Arc::new(
            LocalBackend::with_stack(&home, stack.clone(), Threshold::DEFAULT).expect("backend"),
        );
        run_to_end(backend, Keys::Random(REAL_RUNS.min(n) as u64), 16)
            .await
            .expect("runs");
        stack.flush().await.expect("flush");
    });
    home
}

/// A read-only local backend on `home` (what `scones dashboard --readonly` opens).
pub fn backend(home: &Home) -> LocalBackend {
    LocalBackend::open(
        home,
        LocalOptions {
            readonly: true,
            ..LocalOptions::default()
        },
    )
    .expect("backend")
}

/// Fixed options: UTC, seed 1, default config.
pub fn options() -> AppOptions {
    AppOptions {
        config: Config::default(),
        readonly: true,
        no_color: false,
        tz: FixedOffset::east_opt(0).expect("utc"),
        seed: 1,
        picker: Some(ratatui_image::picker::Picker::halfblocks()),
    }
}

/// The dashboard over `backend`, with the whole store listed (pages of 5000 until done).
/// Returns it and the time the initial load took.
pub async fn loaded<B: Backend>(
    backend: Arc<B>,
    faults: Option<Arc<Faults>>,
    n: usize,
    width: u16,
    height: u16,
) -> (Headless<B>, Duration) {
    let started = Instant::now();
    let mut d = Headless::new(backend, options(), Utc::now(), width, height);
    if let Some(faults) = faults {
        d = d.with_faults(faults);
    }
    let ok = d
        .run_until(Duration::from_secs(600), Duration::from_millis(1), |app| {
            app.shared.executions.total() >= n
        })
        .await;
    assert!(ok, "loaded {} of {n}", d.app().shared.executions.total());
    let took = started.elapsed();
    d.settle(Duration::from_secs(30)).await;
    (d, took)
}
