//! Lambda `filter-low-confidence`: the last state of the scones workflow.

use scones_handlers::{FilterPolicy, filter_low_confidence};
use scones_lambda_runtime::{env, exit_on_config_error, init_tracing, serve};
use scones_workflow::review::DEFAULT_AUDIT_RATE;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let threshold = exit_on_config_error(env::threshold());
    let audit_rate = exit_on_config_error(env::parsed_or("AUDIT_RATE", DEFAULT_AUDIT_RATE));
    tracing::info!(
        threshold = threshold.value(),
        audit_rate,
        "filter-low-confidence ready"
    );
    serve(move |event| async move {
        let policy = FilterPolicy {
            audit_rate,
            ..FilterPolicy::threshold(threshold)
        };
        filter_low_confidence(&policy, event).map(|accepted| accepted.record)
    })
    .await
}
