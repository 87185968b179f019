//! Lambda `monitor-drift`: run by an EventBridge schedule; the event is ignored (every run
//! judges the windows ending now).

use lambda_runtime::{LambdaEvent, service_fn};
use monitor_drift::{Config, Monitor};
use scones_lambda_runtime::{exit_on_config_error, init_tracing, sdk_config};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let config = exit_on_config_error(Config::from_env());
    let sdk = sdk_config().await;
    let monitor = Monitor {
        s3: aws_sdk_s3::Client::new(&sdk),
        cloudwatch: aws_sdk_cloudwatch::Client::new(&sdk),
        config,
    };
    let monitor = &monitor;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        monitor
            .run(chrono::Utc::now())
            .await
            .map(|outcome| outcome.to_value())
    }))
    .await
}
