//! One monitor-drift run outside Lambda, configured from the same environment variables
//! (Terraform's `drift` output and the function's configuration name them); what the
//! scheduled invocation would answer is printed. For trying the monitor against an emulator
//! or an account without waiting for the schedule:
//!
//!   BUCKET=... ENDPOINT_NAME=... CAPTURE_PREFIX=datacapture/ BASELINE_KEY=... \
//!   REPORT_PREFIX=... cargo run -p monitor-drift --example run_once

#![allow(missing_docs)]

use monitor_drift::{Config, Monitor};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let sdk = scones_lambda_runtime::sdk_config().await;
    let monitor = Monitor {
        s3: aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(std::env::var_os("AWS_ENDPOINT_URL").is_some())
                .build(),
        ),
        cloudwatch: aws_sdk_cloudwatch::Client::new(&sdk),
        config,
    };
    let outcome = monitor.run(chrono::Utc::now()).await?;
    println!("{}", outcome.to_value());
    Ok(())
}
