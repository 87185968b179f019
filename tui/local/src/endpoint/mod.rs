//! The local endpoint: what SageMaker hosting does for the workflow, on this machine.
//!
//! PNG bytes in, the image-classification algorithm's JSON out (`[p_bicycle, p_motorcycle]`).
//! Every invocation records SageMaker's endpoint metrics in the execution store
//! (`Invocations`, `ModelLatency` and `OverheadLatency` in microseconds,
//! `Invocation4XXErrors`, `Invocation5XXErrors`) and, when enabled, a data-capture line in
//! SageMaker's JSONL format ([`capture`]).

pub mod capture;
mod predictor;

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use scones_handlers::{Endpoint, InvokeError};

pub use capture::{DataCapture, read_captures};
pub use predictor::{PredictError, Predictor};

use crate::store::StoreWriter;

/// The endpoint name the local stack uses.
pub const DEFAULT_ENDPOINT_NAME: &str = "scones-local-endpoint";

/// Content type of the answer, as the SageMaker algorithm sends it.
pub const RESPONSE_CONTENT_TYPE: &str = "application/json";

/// Content types the endpoint accepts (those of the SageMaker image-classification
/// algorithm that carry PNG bytes).
pub const ACCEPTED_CONTENT_TYPES: [&str; 2] = ["image/png", "application/x-image"];

/// SageMaker's metric names (the domain model's).
pub use scones_workflow::metric;

/// Why an invocation failed, with the HTTP status SageMaker would answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EndpointError {
    /// The content type is not one the algorithm accepts (415).
    #[error(
        "Received client error (415) from model: content type {content_type:?} is not supported; send image/png"
    )]
    UnsupportedContentType {
        /// What was sent.
        content_type: String,
    },
    /// The body is not an image the model can take (400).
    #[error("Received client error (400) from model: {reason}")]
    BadInput {
        /// Why.
        reason: String,
    },
    /// The model failed (500).
    #[error("Received server error (500) from model: {reason}")]
    Model {
        /// Why.
        reason: String,
    },
}

impl EndpointError {
    /// The HTTP status of the answer.
    pub fn status(&self) -> u16 {
        match self {
            EndpointError::UnsupportedContentType { .. } => 415,
            EndpointError::BadInput { .. } => 400,
            EndpointError::Model { .. } => 500,
        }
    }

    /// Stable name of the variant.
    pub fn name(&self) -> &'static str {
        match self {
            EndpointError::UnsupportedContentType { .. } => "UnsupportedContentType",
            EndpointError::BadInput { .. } => "BadInput",
            EndpointError::Model { .. } => "Model",
        }
    }
}

/// A model behind an endpoint name, with metrics and optional data capture.
pub struct LocalEndpoint {
    name: Arc<str>,
    predictor: Arc<dyn Predictor>,
    metrics: Option<Arc<StoreWriter>>,
    capture: Option<DataCapture>,
}

impl std::fmt::Debug for LocalEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEndpoint")
            .field("name", &self.name)
            .field("metrics", &self.metrics.is_some())
            .field("capture", &self.capture.is_some())
            .finish_non_exhaustive()
    }
}

impl LocalEndpoint {
    /// An endpoint named `name` answering with `predictor`; no metrics, no capture.
    pub fn new(name: &str, predictor: Arc<dyn Predictor>) -> LocalEndpoint {
        LocalEndpoint {
            name: Arc::from(name),
            predictor,
            metrics: None,
            capture: None,
        }
    }

    /// Records metrics through `writer`.
    pub fn with_metrics(mut self, writer: Arc<StoreWriter>) -> LocalEndpoint {
        self.metrics = Some(writer);
        self
    }

    /// Writes data capture.
    pub fn with_capture(mut self, capture: DataCapture) -> LocalEndpoint {
        self.capture = Some(capture);
        self
    }

    /// The endpoint name.
    pub fn endpoint_name(&self) -> &str {
        &self.name
    }

    /// One invocation: the JSON body `[p_bicycle, p_motorcycle]`, or the error SageMaker
    /// would answer. Runs the model on the calling thread (well under a millisecond).
    pub fn invoke_now(&self, body: &[u8], content_type: &str) -> Result<Vec<u8>, EndpointError> {
        let started = Instant::now();
        let at = Utc::now();
        let mut model_micros = None;
        let result = if !ACCEPTED_CONTENT_TYPES
            .iter()
            .any(|t| content_type.eq_ignore_ascii_case(t))
        {
            Err(EndpointError::UnsupportedContentType {
                content_type: content_type.to_owned(),
            })
        } else {
            let model_started = Instant::now();
            let prediction = self.predictor.predict_png(body);
            model_micros = Some(model_started.elapsed().as_micros() as f64);
            prediction
                .map_err(|e| match e {
                    PredictError::BadInput(reason) => EndpointError::BadInput { reason },
                    PredictError::Model(reason) => EndpointError::Model { reason },
                })
                .map(|[p0, p1]| {
                    // The algorithm's JSON: a plain array of class probabilities.
                    serde_json::to_vec(&[f64::from(p0), f64::from(p1)]).unwrap_or_default()
                })
        };
        if let (Some(capture), Ok(output)) = (&self.capture, &result)
            && let Err(e) = capture.record(body, content_type, output, RESPONSE_CONTENT_TYPE, at)
        {
            tracing::warn!(error = %e, "data capture write failed");
        }
        if let Some(writer) = &self.metrics {
            let (client, server) = match &result {
                Ok(_) => (0.0, 0.0),
                Err(e) if e.status() < 500 => (1.0, 0.0),
                Err(_) => (0.0, 1.0),
            };
            writer.metric(&self.name, metric::INVOCATIONS, at, 1.0);
            writer.metric(&self.name, metric::INVOCATION_4XX_ERRORS, at, client);
            writer.metric(&self.name, metric::INVOCATION_5XX_ERRORS, at, server);
            if let (Ok(_), Some(model)) = (&result, model_micros) {
                let total = started.elapsed().as_micros() as f64;
                writer.metric(&self.name, metric::MODEL_LATENCY, at, model);
                writer.metric(
                    &self.name,
                    metric::OVERHEAD_LATENCY,
                    at,
                    (total - model).max(0.0),
                );
            }
        }
        result
    }

    /// Writes buffered data capture to disk.
    pub fn flush(&self) -> std::io::Result<()> {
        match &self.capture {
            Some(c) => c.flush(),
            None => Ok(()),
        }
    }
}

impl Endpoint for LocalEndpoint {
    fn name(&self) -> &str {
        &self.name
    }

    async fn invoke(&self, body: Vec<u8>, content_type: &str) -> Result<Vec<u8>, InvokeError> {
        self.invoke_now(&body, content_type)
            .map_err(|e| InvokeError(e.to_string()))
    }
}
