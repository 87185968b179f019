//! Time and peak memory of one monitor-drift run over a local home's captured traffic, with
//! S3 and CloudWatch served by the emulator (`scripts/bench-monitor-drift.sh` starts it):
//! the home's capture files (the local endpoint writes SageMaker's layout) and its newest
//! model's baseline are uploaded, then `Monitor::run` judges one window of the newest
//! `BENCH_CAPTURES` (default 10,000) inferences, `BENCH_RUNS` times.

#![allow(clippy::unwrap_used, missing_docs)] // a bench: a panic is its failure message

use std::path::{Path, PathBuf};
use std::time::Instant;

use monitor_drift::{Config, Monitor};
use scones_workflow::drift::{Cutoffs, DriftOptions, WindowSpec};

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

#[tokio::main]
async fn main() {
    let home = PathBuf::from(std::env::args().nth(1).expect("usage: bench_monitor HOME"));
    let captures: usize = std::env::var("BENCH_CAPTURES").map_or(10_000, |v| v.parse().unwrap());
    let runs: usize = std::env::var("BENCH_RUNS").map_or(5, |v| v.parse().unwrap());
    // The function's own SDK setup (rustls client; region and endpoint from the environment).
    let sdk = scones_lambda_runtime::sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let bucket = "scones-bench-drift";
    s3.create_bucket().bucket(bucket).send().await.unwrap();

    let models = home.join("bucket/models");
    let mut model_dirs: Vec<PathBuf> = std::fs::read_dir(&models)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("baseline.json").is_file())
        .collect();
    model_dirs.sort();
    let model = model_dirs.last().expect("a model with baseline.json");
    let baseline = std::fs::read(model.join("baseline.json")).unwrap();
    s3.put_object()
        .bucket(bucket)
        .key("drift/baselines/scones-local-endpoint.json")
        .body(baseline.into())
        .send()
        .await
        .unwrap();

    let capture_root = home.join("bucket");
    let mut files = Vec::new();
    files_under(&capture_root.join("datacapture"), &mut files);
    files.retain(|f| f.extension().is_some_and(|e| e == "jsonl"));
    let mut bytes = 0u64;
    for file in &files {
        let key = file
            .strip_prefix(&capture_root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let body = std::fs::read(file).unwrap();
        bytes += body.len() as u64;
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(body.into())
            .send()
            .await
            .unwrap();
    }
    eprintln!(
        "uploaded {} capture files ({:.1} MB)",
        files.len(),
        bytes as f64 / 1e6
    );
    let rss_before = peak_rss_mb();
    // Reset the peak (Linux: "5" clears VmHWM), so what follows is the run's alone, as in
    // the Lambda, which never uploaded anything.
    let _ = std::fs::write("/proc/self/clear_refs", "5");

    let monitor = Monitor {
        s3,
        cloudwatch: aws_sdk_cloudwatch::Client::new(&sdk),
        config: Config {
            bucket: bucket.to_owned(),
            endpoint: "scones-local-endpoint".to_owned(),
            capture_prefix: "datacapture/scones-local-endpoint/AllTraffic/".to_owned(),
            baseline_key: "drift/baselines/scones-local-endpoint.json".to_owned(),
            report_prefix: "drift/reports/scones-local-endpoint/".to_owned(),
            namespace: "Scones/DriftBench".to_owned(),
            options: DriftOptions {
                window: WindowSpec::Count(captures),
                windows: 1,
                threshold: 0.93,
                cutoffs: Cutoffs::default(),
            },
            guard_mode: scones_workflow::guard::GuardMode::Hold,
        },
    };
    // The baseline's time would exclude traffic older than it; the bench judges the newest
    // captures whatever their age, as a monitor deployed with an old baseline would.
    let mut seconds = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let outcome = monitor.run(chrono::Utc::now()).await.unwrap();
        seconds.push(start.elapsed().as_secs_f64());
        eprintln!("{:?}", outcome.to_value());
    }
    seconds.sort_by(f64::total_cmp);
    println!(
        "monitor-drift over the newest {captures} captures: median {:.2} s (min {:.2}, max {:.2}, {runs} runs); peak RSS during the runs {:.0} MB (the upload before them peaked at {:.0} MB)",
        seconds[seconds.len() / 2],
        seconds[0],
        seconds[seconds.len() - 1],
        peak_rss_mb(),
        rss_before
    );
}
