//! The SageMaker endpoint's state for the dashboard header (`DescribeEndpoint`).

use crate::error::AwsError;

/// What the header shows about the endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointStatus {
    /// Name.
    pub name: String,
    /// `InService`, `Creating`, `Updating`, `Failed`, ...
    pub status: String,
    /// Why it failed, when it did.
    pub failure_reason: Option<String>,
    /// Instances serving now (summed over variants; `None` for serverless).
    pub instances: Option<i32>,
    /// Whether data capture is on.
    pub data_capture: Option<bool>,
}

impl EndpointStatus {
    /// A short line for the header: the failure reason, or instances and capture.
    pub fn detail(&self) -> Option<String> {
        if let Some(reason) = &self.failure_reason {
            return Some(reason.clone());
        }
        let mut parts = Vec::new();
        match self.instances {
            Some(1) => parts.push("1 instance".to_owned()),
            Some(n) => parts.push(format!("{n} instances")),
            None => parts.push("serverless".to_owned()),
        }
        if self.data_capture == Some(true) {
            parts.push("data capture on".to_owned());
        }
        Some(parts.join(", "))
    }
}

/// `DescribeEndpoint`.
pub async fn describe(
    sagemaker: &aws_sdk_sagemaker::Client,
    name: &str,
) -> Result<EndpointStatus, AwsError> {
    let out = sagemaker
        .describe_endpoint()
        .endpoint_name(name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeEndpoint", e))?;
    let counts: Vec<i32> = out
        .production_variants()
        .iter()
        .filter_map(|v| v.current_instance_count())
        .collect();
    Ok(EndpointStatus {
        name: out.endpoint_name().unwrap_or(name).to_owned(),
        status: out
            .endpoint_status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_else(|| "Unknown".to_owned()),
        failure_reason: out.failure_reason().map(str::to_owned),
        instances: (!counts.is_empty()).then(|| counts.iter().sum()),
        data_capture: out.data_capture_config().and_then(|c| c.enable_capture()),
    })
}
