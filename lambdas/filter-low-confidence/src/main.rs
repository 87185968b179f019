//! Lambda `filter-low-confidence`: the last state of the scones workflow.

use scones_handlers::filter_low_confidence;
use scones_lambda_runtime::{env, exit_on_config_error, init_tracing, serve};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let threshold = exit_on_config_error(env::threshold());
    tracing::info!(threshold = threshold.value(), "filter-low-confidence ready");
    serve(|event| async move { filter_low_confidence(threshold, event) }).await
}
