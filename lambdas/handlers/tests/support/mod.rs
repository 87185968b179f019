//! Shared fixtures for the handler tests.
#![allow(dead_code)] // each test binary uses a different subset

use scones_handlers::fakes::{MemoryStore, StaticEndpoint, png};
use scones_handlers::{FilterPolicy, HandlerError, ImageRecord, filter_low_confidence};
use scones_workflow::Threshold;
use serde_json::{Value, json};

/// FilterLowConfidence at `threshold` with no hold and no audit sample.
pub fn filter(threshold: Threshold, event: Value) -> Result<ImageRecord, HandlerError> {
    filter_low_confidence(&FilterPolicy::threshold(threshold), event).map(|a| a.record)
}

pub const BUCKET: &str = "scones-test-bucket";
pub const KEY: &str = "test/bicycle_s_000513.png";

pub fn sample_png() -> Vec<u8> {
    png(32, 32, [200, 30, 40])
}

pub fn store_with_sample() -> MemoryStore {
    MemoryStore::new().with(BUCKET, KEY, sample_png())
}

/// The state machine input as Step Functions passes it to the first Lambda.
pub fn execution_input() -> Value {
    json!({"s3_bucket": BUCKET, "s3_key": KEY})
}

pub fn confident_endpoint() -> StaticEndpoint {
    StaticEndpoint::scores(0.97, 0.03)
}

pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime builds")
        .block_on(future)
}
