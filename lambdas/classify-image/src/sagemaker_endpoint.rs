//! [`Endpoint`] over SageMaker Runtime InvokeEndpoint.

use aws_sdk_sagemakerruntime::error::DisplayErrorContext;
use aws_sdk_sagemakerruntime::primitives::Blob;
use scones_handlers::{Endpoint, Invocation, InvokeError};

use crate::serving_version::ServingVersion;

pub struct SageMakerEndpoint {
    client: aws_sdk_sagemakerruntime::Client,
    name: String,
    serving: ServingVersion,
}

impl SageMakerEndpoint {
    pub fn new(
        client: aws_sdk_sagemakerruntime::Client,
        name: String,
        serving: ServingVersion,
    ) -> Self {
        SageMakerEndpoint {
            client,
            name,
            serving,
        }
    }
}

impl Endpoint for SageMakerEndpoint {
    fn name(&self) -> &str {
        &self.name
    }

    async fn invoke(&self, body: Vec<u8>, content_type: &str) -> Result<Invocation, InvokeError> {
        let response = self
            .client
            .invoke_endpoint()
            .endpoint_name(&self.name)
            .content_type(content_type)
            .accept("application/json")
            .body(Blob::new(body))
            .send()
            .await
            // The context chain carries SageMaker's own message (ModelError with the
            // container's status and log stream), which is what an operator needs.
            .map_err(|err| InvokeError(DisplayErrorContext(&err).to_string()))?;
        // The version the endpoint serves (read from the endpoint: a blue/green deployment
        // keeps the variant's name); the variant that answered when that cannot be read.
        let model = match self.serving.current().await {
            Some(version) => Some(version),
            None => response.invoked_production_variant().map(str::to_owned),
        };
        Ok(Invocation {
            body: response.body.map(Blob::into_inner).unwrap_or_default(),
            model,
        })
    }
}
