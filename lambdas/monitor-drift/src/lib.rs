//! `monitor-drift`: judges the endpoint's captured traffic against the drift baseline with
//! the statistics the local stack uses (`scones_workflow::drift`), publishes the verdicts as
//! CloudWatch metrics ([`scones_workflow::drift::metrics`]; Terraform alarms on them) and
//! writes the report, a [`DriftView`], to the bucket (the dashboard's AWS backend reads it).
//!
//! The library holds the work so the emulator tests run it over the wire without a Lambda
//! runtime; `main.rs` only reads the environment and serves it.

mod capture;
mod config;

use chrono::{DateTime, Utc};
use lambda_runtime::Diagnostic;
use scones_workflow::drift::{Baseline, DriftView, Verdict, judge, metrics};
use scones_workflow::guard::{self, Change, Guard, GuardCommand, GuardState};
use serde_json::{Value, json};

pub use config::Config;

/// The largest guard state read (it is a few hundred bytes).
const MAX_GUARD_BYTES: u64 = 64 * 1024;

/// Conditional writes of the guard state before giving up (each lost race means another
/// writer wrote in between; three in a row is a problem to show, not a race).
const GUARD_WRITE_ATTEMPTS: usize = 3;

/// Why a run failed. Every variant names the object or call and what to check.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// An S3 call failed.
    #[error("S3 {operation} s3://{bucket}/{key}: {message}")]
    S3 {
        /// The operation.
        operation: &'static str,
        /// The bucket.
        bucket: String,
        /// The key or prefix.
        key: String,
        /// The service's message.
        message: String,
    },
    /// The baseline is not one scones wrote.
    #[error(
        "s3://{bucket}/{key} is not a drift baseline ({reason}): write one with `scones baseline --aws`"
    )]
    BadBaseline {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// PutMetricData failed.
    #[error("CloudWatch PutMetricData in {namespace}: {message}")]
    Metrics {
        /// The namespace.
        namespace: String,
        /// The service's message.
        message: String,
    },
}

impl MonitorError {
    /// The stable name a failed invocation reports as its `errorType`.
    pub fn name(&self) -> &'static str {
        match self {
            MonitorError::S3 { .. } => "S3Failed",
            MonitorError::BadBaseline { .. } => "BadBaseline",
            MonitorError::Metrics { .. } => "MetricsFailed",
        }
    }
}

impl From<MonitorError> for Diagnostic {
    fn from(err: MonitorError) -> Diagnostic {
        Diagnostic {
            error_type: err.name().to_owned(),
            error_message: err.to_string(),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// There is no baseline yet: nothing was judged or published (not a failure, so a stack
    /// deployed before `scones baseline --aws` does not fail every scheduled run).
    NoBaseline {
        /// Where the baseline is expected.
        key: String,
    },
    /// The windows were judged, the metrics published and the report written.
    Judged {
        /// The current window's verdict.
        verdict: Verdict,
        /// Distinct images in it.
        images: u64,
        /// Inferences in it.
        inferences: u64,
        /// Metric values published.
        metrics: usize,
        /// The report's key.
        report_key: String,
        /// Whether the guard holds decisions after this run.
        holding: bool,
    },
}

impl Outcome {
    /// The invocation's answer.
    pub fn to_value(&self) -> Value {
        match self {
            Outcome::NoBaseline { key } => json!({"outcome": "no_baseline", "baseline_key": key}),
            Outcome::Judged {
                verdict,
                images,
                inferences,
                metrics,
                report_key,
                holding,
            } => json!({
                "outcome": "judged",
                "verdict": verdict,
                "images": images,
                "inferences": inferences,
                "metrics": metrics,
                "report_key": report_key,
                "guard": if *holding { "holding" } else { "clear" },
            }),
        }
    }
}

/// The clients and the configuration of one function instance.
#[derive(Debug, Clone)]
pub struct Monitor {
    /// S3: the capture, the baseline and the reports.
    pub s3: aws_sdk_s3::Client,
    /// CloudWatch: the metrics.
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// What to read and judge.
    pub config: Config,
}

impl Monitor {
    /// One run: the windows ending `now`.
    pub async fn run(&self, now: DateTime<Utc>) -> Result<Outcome, MonitorError> {
        let config = &self.config;
        let Some(baseline) = self.baseline().await? else {
            tracing::warn!(
                decision = "no_baseline",
                baseline_key = %config.baseline_key,
                "no drift baseline yet: run `scones baseline --aws`"
            );
            return Ok(Outcome::NoBaseline {
                key: config.baseline_key.clone(),
            });
        };
        // Traffic from before the baseline was another model's (and the baseline's own
        // images, sent through the endpoint to measure it, are captured before it is saved).
        let reading = config.options.reading(baseline.created, now);
        let (captured, unparsable) = capture::read(self, reading).await?;
        let (windows, unusable) = judge(&captured, &baseline, &config.options, now);
        let view = DriftView {
            model: baseline.model.clone(),
            inputs_from: baseline.inputs_from.clone(),
            outputs_from: baseline.outputs_from.clone(),
            window: config.options.window.describe(),
            windows,
            unreadable: unparsable + unusable,
            computed: Some(now),
        };
        let guard = self.update_guard(&view, now).await?;
        let holding = guard.holding().is_some();
        let published = match view.current() {
            Some(current) => {
                let mut values = metrics::metrics_of(current);
                values.push(metrics::DriftMetric {
                    name: metrics::GUARD_HOLDING,
                    statistic: None,
                    value: if holding { 1.0 } else { 0.0 },
                    count: false,
                });
                self.publish_metrics(&values, now).await?
            }
            None => 0,
        };
        let report_key = self.write_report(&view, now).await?;
        let current = view.current();
        let outcome = Outcome::Judged {
            verdict: view.verdict(),
            images: current.map_or(0, |w| w.report.images),
            inferences: current.map_or(0, |w| w.inferences),
            metrics: published,
            report_key,
            holding,
        };
        tracing::info!(decision = "drift_judged", outcome = %outcome.to_value(), "drift judged");
        Ok(outcome)
    }

    /// Applies this run's verdict to the guard (the rules of `scones_workflow::guard`, the
    /// local stack's) in the mode Terraform set, and writes the state where
    /// filter-low-confidence reads it (`guard/state.json`) when anything changed. Runs every
    /// `drift_schedule_minutes` over the last window, so a drift hold releases itself after
    /// [`guard::RELEASE_AFTER`] OK runs in a row. A state that is not valid JSON is replaced
    /// (with a warning): the monitor owns it, and a broken one must not stop judging.
    async fn update_guard(
        &self,
        view: &DriftView,
        now: DateTime<Utc>,
    ) -> Result<GuardState, MonitorError> {
        // An operator may release or engage it at any time (`scones guard --aws`): the write
        // is conditional on the state read, and redone on the state as it is now when another
        // writer came in between.
        for _ in 0..GUARD_WRITE_ATTEMPTS {
            let (state, etag, changed) = self.observe_guard(view, now).await?;
            if !changed {
                return Ok(state);
            }
            let body = serde_json::to_vec(&state).map_err(|e| MonitorError::S3 {
                operation: "PutObject",
                bucket: self.config.bucket.clone(),
                key: guard::STATE_KEY.to_owned(),
                message: format!("serialising the guard state: {e}"),
            })?;
            if capture::put_object_if(self, guard::STATE_KEY, body, etag.as_deref()).await? {
                return Ok(state);
            }
            tracing::info!(
                key = guard::STATE_KEY,
                "the guard state changed since it was read: applying the verdict again"
            );
        }
        Err(MonitorError::S3 {
            operation: "PutObject",
            bucket: self.config.bucket.clone(),
            key: guard::STATE_KEY.to_owned(),
            message: format!("changed under {GUARD_WRITE_ATTEMPTS} conditional writes in a row"),
        })
    }

    /// The guard's state with this run's verdict applied, its ETag as read (`None`: there was
    /// none), and whether anything changed.
    async fn observe_guard(
        &self,
        view: &DriftView,
        now: DateTime<Utc>,
    ) -> Result<(GuardState, Option<String>, bool), MonitorError> {
        let mode = self.config.guard_mode;
        let stored = capture::get_object_tagged(
            self,
            guard::STATE_KEY,
            MAX_GUARD_BYTES,
            capture::Missing::NotFoundOrUnlisted,
        )
        .await?;
        // `fresh`: a new state replaces none, or one that is not a guard state (then the
        // condition is that object's own ETag).
        let (mut state, etag, fresh) = match stored {
            Some((bytes, etag)) => match serde_json::from_slice::<GuardState>(&bytes) {
                Ok(state) => (state, Some(etag), false),
                Err(e) => {
                    tracing::warn!(key = guard::STATE_KEY, error = %e, "unreadable guard state: starting a new one");
                    (GuardState::new(mode, now), Some(etag), true)
                }
            },
            None => (GuardState::new(mode, now), None, true),
        };
        let mut changed =
            fresh || Guard::command(&mut state, GuardCommand::Mode(mode), now) != Change::None;
        if let Some(current) = view.current() {
            let alert = current.report.alerting();
            let change =
                Guard::observe(&mut state, &view.model, current.report.verdict, &alert, now);
            match change {
                Change::Tripped => {
                    tracing::warn!(decision = "guard_tripped", statistics = ?alert, "drift ALERT: the guard holds decisions")
                }
                Change::Released => tracing::info!(
                    decision = "guard_released",
                    "drift OK: the guard released decisions"
                ),
                _ => {}
            }
            changed |= change != Change::None;
        }
        Ok((state, etag, changed))
    }

    /// The baseline, `None` when there is none yet.
    async fn baseline(&self) -> Result<Option<Baseline>, MonitorError> {
        let (bucket, key) = (&self.config.bucket, &self.config.baseline_key);
        let Some(bytes) = capture::get_object(
            self,
            key,
            Baseline::MAX_BYTES,
            capture::Missing::NotFoundOrUnlisted,
        )
        .await?
        else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| MonitorError::BadBaseline {
                bucket: bucket.clone(),
                key: key.clone(),
                reason: e.to_string(),
            })
    }

    /// Publishes `values` in one PutMetricData call; how many.
    async fn publish_metrics(
        &self,
        values: &[metrics::DriftMetric],
        now: DateTime<Utc>,
    ) -> Result<usize, MonitorError> {
        use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
        let namespace = &self.config.namespace;
        let timestamp =
            aws_sdk_cloudwatch::primitives::DateTime::from_millis(now.timestamp_millis());
        let data: Vec<MetricDatum> = values
            .iter()
            .map(|m| {
                let mut datum = MetricDatum::builder()
                    .metric_name(m.name)
                    .value(m.value)
                    .timestamp(timestamp)
                    .unit(if m.count {
                        StandardUnit::Count
                    } else {
                        StandardUnit::None
                    })
                    .dimensions(
                        Dimension::builder()
                            .name(metrics::DIMENSION_ENDPOINT)
                            .value(&self.config.endpoint)
                            .build(),
                    );
                if let Some(statistic) = m.statistic {
                    datum = datum.dimensions(
                        Dimension::builder()
                            .name(metrics::DIMENSION_STATISTIC)
                            .value(statistic.name())
                            .build(),
                    );
                }
                datum.build()
            })
            .collect();
        self.cloudwatch
            .put_metric_data()
            .namespace(namespace)
            .set_metric_data(Some(data))
            .send()
            .await
            .map_err(|e| MonitorError::Metrics {
                namespace: namespace.clone(),
                message: aws_sdk_cloudwatch::error::DisplayErrorContext(e).to_string(),
            })?;
        Ok(values.len())
    }

    /// Writes the report under its time and as the latest; the timed key.
    async fn write_report(
        &self,
        view: &DriftView,
        now: DateTime<Utc>,
    ) -> Result<String, MonitorError> {
        let prefix = &self.config.report_prefix;
        let body = serde_json::to_vec(view).map_err(|e| MonitorError::S3 {
            operation: "PutObject",
            bucket: self.config.bucket.clone(),
            key: prefix.clone(),
            message: format!("serialising the report: {e}"),
        })?;
        let key = metrics::report_key(prefix, now);
        capture::put_object(self, &key, body.clone()).await?;
        capture::put_object(self, &format!("{prefix}{}", metrics::LATEST_REPORT), body).await?;
        Ok(key)
    }
}
