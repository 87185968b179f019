//! The function's configuration, from the environment Terraform sets
//! (`terraform/modules/drift`).

use scones_handlers::ConfigError;
use scones_lambda_runtime::env::{parsed_or, required, threshold};
use scones_workflow::capture::{DEFAULT_VARIANT, variant_prefix};
use scones_workflow::drift::{Cutoffs, DriftOptions, WindowSpec, metrics};
use scones_workflow::guard::GuardMode;

/// Where the function reads and writes, and what it judges.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The bucket holding the capture, the baseline and the reports (`BUCKET`).
    pub bucket: String,
    /// The endpoint whose traffic is judged (`ENDPOINT_NAME`).
    pub endpoint: String,
    /// `<CAPTURE_PREFIX><endpoint>/<VARIANT>/`: where SageMaker files the captures.
    pub capture_prefix: String,
    /// The baseline's key (`BASELINE_KEY`), written by `scones baseline --aws`.
    pub baseline_key: String,
    /// Where reports go (`REPORT_PREFIX`, ending in `/`).
    pub report_prefix: String,
    /// The CloudWatch namespace (`METRIC_NAMESPACE`, default `Scones/Drift`).
    pub namespace: String,
    /// The windows (`DRIFT_WINDOW`, default 1h; `DRIFT_WINDOWS`, default 6) and the
    /// threshold (`THRESHOLD`, the workflow's).
    pub options: DriftOptions,
    /// What the guard does on ALERT (`GUARD_MODE`: hold, the default, warn or off; Terraform's
    /// `guard` variable). The state goes to `guard/state.json` in the bucket.
    pub guard_mode: GuardMode,
}

impl Config {
    /// Reads the environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        let endpoint = required("ENDPOINT_NAME")?;
        let variant = parsed_or("VARIANT", DEFAULT_VARIANT.to_owned())?;
        let mut report_prefix = required("REPORT_PREFIX")?;
        if !report_prefix.ends_with('/') {
            report_prefix.push('/');
        }
        let windows: usize = parsed_or("DRIFT_WINDOWS", 6)?;
        if windows == 0 {
            return Err(ConfigError::Invalid {
                name: "DRIFT_WINDOWS",
                value: "0".to_owned(),
                reason: "at least one window".to_owned(),
            });
        }
        Ok(Config {
            bucket: required("BUCKET")?,
            capture_prefix: variant_prefix(&required("CAPTURE_PREFIX")?, &endpoint, &variant),
            endpoint,
            baseline_key: required("BASELINE_KEY")?,
            report_prefix,
            namespace: parsed_or("METRIC_NAMESPACE", metrics::NAMESPACE.to_owned())?,
            options: DriftOptions {
                window: parsed_or(
                    "DRIFT_WINDOW",
                    WindowSpec::Period(chrono::Duration::hours(1)),
                )?,
                windows,
                threshold: threshold()?.value(),
                cutoffs: Cutoffs::default(),
            },
            guard_mode: parsed_or("GUARD_MODE", GuardMode::Hold)?,
        })
    }
}
