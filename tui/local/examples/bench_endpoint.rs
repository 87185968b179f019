//! Inference latency of the local endpoint with the latest trained model of a home:
//! model only (PNG decode + forward) and the whole endpoint invocation (plus metrics and
//! data capture, as `scones run` uses it). Prints p50/p99 over every staged test image,
//! repeated to at least `--n` calls.
//!
//! ```text
//! cargo run --release -p scones-local --example bench_endpoint -- --home DIR [--n 2000]
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use scones_local::endpoint::{DataCapture, LocalEndpoint};
use scones_local::{Home, training};

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied().unwrap_or_default()
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{label:<34} n={:<6} p50 {:>8.3} ms  p99 {:>8.3} ms",
        samples.len(),
        percentile(&samples, 0.50).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut home: Option<PathBuf> = None;
    let mut n = 2000usize;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--home" => home = args.next().map(PathBuf::from),
            "--n" => {
                n = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--n needs a number")?
            }
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let home = Home::resolve(home.as_deref())?;
    let bucket = home.bucket();
    let model = training::load_serving(&bucket)?;
    let classifier = Arc::new(model.into_classifier());
    let images: Vec<Vec<u8>> = bucket
        .test_keys()?
        .iter()
        .map(|k| {
            bucket
                .path_of(k)
                .map_err(|e| e.to_string())
                .and_then(|p| std::fs::read(p).map_err(|e| e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    if images.is_empty() {
        return Err("no staged test images".into());
    }
    let calls = n.max(images.len());

    // Warm up caches and allocator.
    for png in images.iter().take(50) {
        classifier.predict_png(png)?;
    }
    let mut model_only = Vec::with_capacity(calls);
    for png in images.iter().cycle().take(calls) {
        let t = Instant::now();
        classifier.predict_png(png)?;
        model_only.push(t.elapsed());
    }
    report("model (decode + forward)", model_only);

    let store = home.open_store()?;
    let writer = Arc::new(store.writer()?);
    let endpoint = LocalEndpoint::new("bench-endpoint", classifier)
        .with_metrics(writer.clone())
        .with_capture(DataCapture::new(&bucket, "bench-endpoint"));
    let mut invoke = Vec::with_capacity(calls);
    for png in images.iter().cycle().take(calls) {
        let t = Instant::now();
        endpoint.invoke_now(png, "image/png")?;
        invoke.push(t.elapsed());
    }
    report("endpoint (+ metrics, data capture)", invoke);
    endpoint.flush()?;
    writer.flush_blocking()?;
    Ok(())
}
