//! Handler time without the network: serialize one real 32x32 CIFAR PNG from the shared data
//! (fetch from memory, PNG decode check, base64) and the confidence filter. Goal <= 100 µs each.
//!
//! `SCONES_SHARED_DATA` points at the cifar100-bikes folder (default ../shared/data/...).

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use scones_handlers::fakes::MemoryStore;
use scones_handlers::{FilterPolicy, filter_low_confidence, serialize_image_data};
use scones_workflow::Threshold;
use serde_json::json;

const KEY: &str = "test/bicycle_s_000513.png";

fn sample_png() -> Vec<u8> {
    let dir = std::env::var_os("SCONES_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/cifar100-bikes")
        });
    let path = dir.join(KEY);
    std::fs::read(&path).unwrap_or_else(|err| {
        panic!(
            "benchmark data {} is missing ({err}); set SCONES_SHARED_DATA",
            path.display()
        )
    })
}

fn handlers(c: &mut Criterion) {
    let png = sample_png();
    let store = MemoryStore::new().with("scones-bench", KEY, png.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let input = json!({"s3_bucket": "scones-bench", "s3_key": KEY});

    c.bench_function(
        &format!("serialize_image_data ({} byte PNG)", png.len()),
        |b| {
            b.iter(|| {
                runtime
                    .block_on(serialize_image_data(&store, input.clone()))
                    .unwrap()
            })
        },
    );

    let serialized = runtime
        .block_on(serialize_image_data(&store, input.clone()))
        .unwrap();
    let mut classified = serialized.to_value();
    classified["inferences"] = json!([0.97, 0.03]);
    c.bench_function("filter_low_confidence (pass)", |b| {
        let policy = FilterPolicy::threshold(Threshold::DEFAULT);
        b.iter(|| filter_low_confidence(&policy, classified.clone()).unwrap())
    });
}

criterion_group!(benches, handlers);
criterion_main!(benches);
