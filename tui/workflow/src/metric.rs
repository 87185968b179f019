//! SageMaker's endpoint metric names (namespace `AWS/SageMaker`, dimensions `EndpointName` and
//! `VariantName`): what the local endpoint records in its store and what the AWS backend
//! reads from CloudWatch.

/// Requests, one data point (value 1) per invocation.
pub const INVOCATIONS: &str = "Invocations";
/// Time the model took to answer, microseconds.
pub const MODEL_LATENCY: &str = "ModelLatency";
/// Time spent around the model (capture, metrics, serialisation), microseconds.
pub const OVERHEAD_LATENCY: &str = "OverheadLatency";
/// Client errors: 1 for a 4XX answer, 0 otherwise (sum = count, average = rate).
pub const INVOCATION_4XX_ERRORS: &str = "Invocation4XXErrors";
/// Model errors: 1 for a 5XX answer, 0 otherwise.
pub const INVOCATION_5XX_ERRORS: &str = "Invocation5XXErrors";
/// Every endpoint metric.
pub const ALL: [&str; 5] = [
    INVOCATIONS,
    MODEL_LATENCY,
    OVERHEAD_LATENCY,
    INVOCATION_4XX_ERRORS,
    INVOCATION_5XX_ERRORS,
];
