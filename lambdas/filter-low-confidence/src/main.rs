//! Lambda `filter-low-confidence`: the last state of the scones workflow.

mod guard_state;

use std::sync::Arc;

use guard_state::GuardSource;
use scones_handlers::{FilterPolicy, filter_low_confidence};
use scones_lambda_runtime::{env, exit_on_config_error, init_tracing, sdk_config, serve};
use scones_workflow::guard::GuardMode;
use scones_workflow::review::DEFAULT_AUDIT_RATE;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let threshold = exit_on_config_error(env::threshold());
    let audit_rate = exit_on_config_error(env::parsed_or("AUDIT_RATE", DEFAULT_AUDIT_RATE));
    // The guard: its state is in GUARD_BUCKET (monitor-drift writes it); without the
    // variable there is no guard (a stack without the drift monitor).
    let mode = exit_on_config_error(env::parsed_or("GUARD_MODE", GuardMode::Hold));
    let guard = match std::env::var("GUARD_BUCKET") {
        Ok(bucket) if !bucket.trim().is_empty() => Some(Arc::new(GuardSource::new(
            aws_sdk_s3::Client::new(&sdk_config().await),
            bucket,
            mode,
        ))),
        _ => None,
    };
    tracing::info!(
        threshold = threshold.value(),
        audit_rate,
        guard = guard.as_ref().map_or("none", |_| mode.name()),
        "filter-low-confidence ready"
    );
    serve(move |event| {
        let guard = guard.clone();
        async move {
            let hold = match &guard {
                Some(source) => source.hold().await,
                None => None,
            };
            let policy = FilterPolicy {
                audit_rate,
                hold: hold.as_ref(),
                ..FilterPolicy::threshold(threshold)
            };
            filter_low_confidence(&policy, event).map(|accepted| accepted.record)
        }
    })
    .await
}
