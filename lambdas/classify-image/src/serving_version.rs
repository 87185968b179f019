//! Which model version the endpoint serves, so that each decision names the version that
//! made it (production quality and drift per version on AWS, as on the local stack).
//!
//! SageMaker's answer names only the production variant, and a blue/green deployment keeps
//! the variant's name (the developer guide's deployment-guardrail "Exclusions": the new
//! endpoint configuration must have the same variant name), so the variant cannot tell two
//! versions apart. The version is read from the endpoint instead: DescribeEndpoint names its
//! endpoint configuration (and, while an update runs, the pending one), the configuration
//! names the model, the model its artefact, and the training job that wrote the artefact is
//! the version (`scones_workflow::models::version_of`, as `scones models --aws` names it).
//! Configurations and models are immutable, so each is described once; the endpoint at most
//! once per [`REFRESH`] per execution environment, which also bounds how long after a
//! promotion or an automatic rollback decisions may still name the version before it.
//!
//! While a deployment runs, either fleet may answer and SageMaker does not say which, so the
//! decision names both ([`label`]). A failed lookup never fails a classification: the
//! decision then names the production variant, as the endpoint said, the failure is logged,
//! and the lookup is tried again after [`REFRESH`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_sagemaker::error::DisplayErrorContext;
use scones_workflow::models::version_of;
use tokio::sync::Mutex;

/// How long a read of the serving version is reused.
pub const REFRESH: Duration = Duration::from_secs(60);

pub struct ServingVersion {
    client: aws_sdk_sagemaker::Client,
    endpoint: String,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The last read and when it was made (`None` inside: it failed).
    last: Option<(Instant, Option<String>)>,
    /// Endpoint configuration name → the version its model serves.
    versions: HashMap<String, String>,
}

impl ServingVersion {
    pub fn new(client: aws_sdk_sagemaker::Client, endpoint: String) -> Self {
        ServingVersion {
            client,
            endpoint,
            state: Mutex::new(State::default()),
        }
    }

    /// The version serving now (see [`label`]), or `None` when it could not be read.
    pub async fn current(&self) -> Option<String> {
        let mut state = self.state.lock().await;
        if let Some((at, version)) = &state.last
            && at.elapsed() < REFRESH
        {
            return version.clone();
        }
        let version = match self.read(&mut state.versions).await {
            Ok(version) => Some(version),
            Err(error) => {
                tracing::warn!(
                    endpoint = %self.endpoint,
                    %error,
                    "the serving model version could not be read: decisions name the production variant"
                );
                None
            }
        };
        state.last = Some((Instant::now(), version.clone()));
        version
    }

    async fn read(&self, versions: &mut HashMap<String, String>) -> Result<String, String> {
        let endpoint = self
            .client
            .describe_endpoint()
            .endpoint_name(&self.endpoint)
            .send()
            .await
            .map_err(|e| format!("DescribeEndpoint: {}", DisplayErrorContext(&e)))?;
        let serving = endpoint
            .endpoint_config_name()
            .ok_or("DescribeEndpoint named no endpoint configuration")?;
        let serving = self.version_of_config(versions, serving).await?;
        let deploying = match endpoint
            .pending_deployment_summary()
            .and_then(|p| p.endpoint_config_name())
        {
            Some(config) => Some(self.version_of_config(versions, config).await?),
            None => None,
        };
        Ok(label(&serving, deploying.as_deref()))
    }

    async fn version_of_config(
        &self,
        versions: &mut HashMap<String, String>,
        config: &str,
    ) -> Result<String, String> {
        if let Some(version) = versions.get(config) {
            return Ok(version.clone());
        }
        let described = self
            .client
            .describe_endpoint_config()
            .endpoint_config_name(config)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "DescribeEndpointConfig {config}: {}",
                    DisplayErrorContext(&e)
                )
            })?;
        let model = described
            .production_variants()
            .first()
            .and_then(|v| v.model_name())
            .ok_or_else(|| format!("endpoint configuration {config} names no model"))?;
        let described = self
            .client
            .describe_model()
            .model_name(model)
            .send()
            .await
            .map_err(|e| format!("DescribeModel {model}: {}", DisplayErrorContext(&e)))?;
        let url = described
            .primary_container()
            .and_then(|c| c.model_data_url())
            .or_else(|| {
                described
                    .containers()
                    .first()
                    .and_then(|c| c.model_data_url())
            })
            .ok_or_else(|| format!("model {model} names no artefact"))?;
        let version = version_of(url);
        versions.insert(config.to_owned(), version.clone());
        Ok(version)
    }
}

/// What a decision names as its model: the serving version, or, while a deployment to
/// another runs, both (`<serving> or <deploying>`: either fleet may have answered).
pub fn label(serving: &str, deploying: Option<&str>) -> String {
    match deploying {
        Some(deploying) if deploying != serving => format!("{serving} or {deploying}"),
        _ => serving.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::label;

    #[test]
    fn a_deployment_names_both_fleets_and_none_names_the_serving_version() {
        assert_eq!(label("scones-ic-a", None), "scones-ic-a");
        assert_eq!(
            label("scones-ic-a", Some("scones-ic-a-r1")),
            "scones-ic-a or scones-ic-a-r1"
        );
        // An update that keeps the model (a new instance count) is still one version.
        assert_eq!(label("scones-ic-a", Some("scones-ic-a")), "scones-ic-a");
    }
}
