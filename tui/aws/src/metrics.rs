//! SageMaker endpoint metrics from CloudWatch (`AWS/SageMaker`): invocations, model latency
//! (average and maximum) and 4XX/5XX errors over a window, all in one `GetMetricData` call.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use chrono::{DateTime, Utc};

use crate::error::AwsError;
use crate::executions::to_chrono;

/// Namespace of SageMaker endpoint metrics.
pub const NAMESPACE: &str = "AWS/SageMaker";

/// Variant name of a single-variant endpoint (the Terraform endpoint module's).
pub use scones_workflow::capture::DEFAULT_VARIANT;
use scones_workflow::metric;

/// The series of one window, one value per period, aligned on `start`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EndpointSeries {
    /// Start of the first period.
    pub start: Option<DateTime<Utc>>,
    /// Length of a period (what CloudWatch was asked for).
    pub period: Duration,
    /// `Invocations` (Sum) per period.
    pub invocations: Vec<f64>,
    /// `ModelLatency` (Average) per period, milliseconds; `None` without data.
    pub latency_avg_ms: Vec<Option<f64>>,
    /// `ModelLatency` (Maximum) per period, milliseconds.
    pub latency_max_ms: Vec<Option<f64>>,
    /// `Invocation4XXErrors` (Sum) per period.
    pub errors_4xx: Vec<f64>,
    /// `Invocation5XXErrors` (Sum) per period.
    pub errors_5xx: Vec<f64>,
}

/// The period asked of CloudWatch for SageMaker's endpoint invocation metrics: whole
/// minutes, at least one. They are standard-resolution metrics published once a minute
/// (SageMaker API reference, `MetricsConfig`: "invocation metrics continue to be published at
/// the default 60-second interval" unless enhanced metrics are on), so a shorter period
/// returns mostly empty buckets and a chart that misleads.
pub fn valid_period(period: Duration) -> Duration {
    let secs = period.as_secs().max(60);
    Duration::from_secs(secs.div_ceil(60) * 60)
}

/// The query ids, in the order of the fields of [`EndpointSeries`].
const QUERIES: [(&str, &str, &str); 5] = [
    ("invocations", metric::INVOCATIONS, "Sum"),
    ("latency_avg", metric::MODEL_LATENCY, "Average"),
    ("latency_max", metric::MODEL_LATENCY, "Maximum"),
    ("errors_4xx", metric::INVOCATION_4XX_ERRORS, "Sum"),
    ("errors_5xx", metric::INVOCATION_5XX_ERRORS, "Sum"),
];

/// Reads the endpoint's metrics over `[start, end)` in periods of `period` (rounded up to
/// whole minutes, [`valid_period`]). The window is aligned down to a whole period so buckets line up
/// with CloudWatch's.
pub async fn endpoint_series(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    endpoint: &str,
    variant: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    period: Duration,
) -> Result<EndpointSeries, AwsError> {
    let period = valid_period(period);
    let period_s = period.as_secs() as i64;
    let aligned = start.timestamp().div_euclid(period_s) * period_s;
    let start = DateTime::from_timestamp(aligned, 0).unwrap_or(start);
    let buckets = ((end - start).num_seconds().max(0) as u64).div_ceil(period_s as u64) as usize;
    let buckets = buckets.max(1);

    let dimensions = [
        Dimension::builder()
            .name("EndpointName")
            .value(endpoint)
            .build(),
        Dimension::builder()
            .name("VariantName")
            .value(variant)
            .build(),
    ];
    let queries: Vec<MetricDataQuery> = QUERIES
        .iter()
        .map(|(id, metric, stat)| {
            MetricDataQuery::builder()
                .id(*id)
                .metric_stat(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace(NAMESPACE)
                                .metric_name(*metric)
                                .set_dimensions(Some(dimensions.to_vec()))
                                .build(),
                        )
                        .period(period_s as i32)
                        .stat(*stat)
                        .build(),
                )
                .return_data(true)
                .build()
        })
        .collect();

    let mut values: HashMap<String, Vec<Option<f64>>> = QUERIES
        .iter()
        .map(|(id, _, _)| ((*id).to_owned(), vec![None; buckets]))
        .collect();
    let mut token: Option<String> = None;
    loop {
        let out = cloudwatch
            .get_metric_data()
            .set_metric_data_queries(Some(queries.clone()))
            .start_time(aws_smithy_types::DateTime::from_secs(start.timestamp()))
            .end_time(aws_smithy_types::DateTime::from_secs(end.timestamp()))
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetMetricData", e))?;
        for result in out.metric_data_results() {
            let Some(series) = result.id().and_then(|id| values.get_mut(id)) else {
                continue;
            };
            for (t, v) in result.timestamps().iter().zip(result.values()) {
                let offset = (to_chrono(t) - start).num_seconds();
                if offset < 0 {
                    continue;
                }
                let i = (offset / period_s) as usize;
                if let Some(slot) = series.get_mut(i) {
                    // Several datapoints in one bucket (a coarser period than asked for
                    // cannot happen; duplicates across pages can): keep the last.
                    *slot = Some(*v);
                }
            }
        }
        match out.next_token() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }

    let mut take = |id: &str| values.remove(id).unwrap_or_default();
    let zero = |v: Vec<Option<f64>>| v.into_iter().map(|x| x.unwrap_or(0.0)).collect();
    // ModelLatency is in microseconds.
    let ms = |v: Vec<Option<f64>>| v.into_iter().map(|x| x.map(|us| us / 1000.0)).collect();
    Ok(EndpointSeries {
        start: Some(start),
        period,
        invocations: zero(take("invocations")),
        latency_avg_ms: ms(take("latency_avg")),
        latency_max_ms: ms(take("latency_max")),
        errors_4xx: zero(take("errors_4xx")),
        errors_5xx: zero(take("errors_5xx")),
    })
}

/// The metric the monitoring module's log metric filter counts low-confidence decisions
/// into (`terraform/modules/monitoring`), in the stack's metric namespace.
pub const LOW_CONFIDENCE_METRIC: &str = "LowConfidenceDecisions";

/// The sum of a dimensionless metric over `[start, end)`, in one `GetMetricData` call (the
/// window as whole minutes, CloudWatch's smallest standard-resolution period).
pub async fn metric_sum(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    metric: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<f64, AwsError> {
    let start_s = start.timestamp().div_euclid(60) * 60;
    let end_s = end.timestamp().max(start_s + 60);
    let period = ((end_s - start_s) as u64).div_ceil(60) * 60;
    let query = MetricDataQuery::builder()
        .id("sum")
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace(namespace)
                        .metric_name(metric)
                        .build(),
                )
                .period(i32::try_from(period).unwrap_or(i32::MAX))
                .stat("Sum")
                .build(),
        )
        .return_data(true)
        .build();
    let mut total = 0.0;
    let mut token: Option<String> = None;
    loop {
        let out = cloudwatch
            .get_metric_data()
            .metric_data_queries(query.clone())
            .start_time(aws_smithy_types::DateTime::from_secs(start_s))
            .end_time(aws_smithy_types::DateTime::from_secs(end_s))
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetMetricData", e))?;
        total += out
            .metric_data_results()
            .iter()
            .flat_map(|r| r.values())
            .sum::<f64>();
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_whole_minutes_as_sagemaker_publishes_them() {
        let s = |n| valid_period(Duration::from_secs(n)).as_secs();
        // The dashboard's 15-minute window over 60 points asks for 15 s: one minute it is.
        assert_eq!(s(15), 60);
        assert_eq!(s(0), 60);
        assert_eq!(s(45), 60);
        assert_eq!(s(61), 120);
        assert_eq!(s(300), 300);
        assert_eq!(valid_period(Duration::from_millis(500)).as_secs(), 60);
    }
}
