//! The local endpoint: what SageMaker hosting does for the workflow, on this machine.
//!
//! PNG bytes in, the image-classification algorithm's JSON out (`[p_bicycle, p_motorcycle]`).
//! Every invocation records SageMaker's endpoint metrics in the execution store
//! (`Invocations`, `ModelLatency` and `OverheadLatency` in microseconds,
//! `Invocation4XXErrors`, `Invocation5XXErrors`) and, when enabled, a data-capture line in
//! SageMaker's JSONL format ([`capture`]).

pub mod capture;
mod predictor;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use scones_handlers::{Endpoint, Invocation, InvokeError};
use scones_workflow::drift::Baseline;

pub use capture::{DataCapture, read_captures};
pub use predictor::{PredictError, Predictor};

use crate::bucket::LocalBucket;
use crate::guard::GuardMonitor;
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

/// A model version as the endpoint serves it.
pub struct Served {
    /// Its version name (the model directory; what executions record).
    pub version: String,
    /// The model.
    pub predictor: Arc<dyn Predictor>,
    /// Its drift baseline (`None`: its traffic is not judged).
    pub baseline: Option<Baseline>,
}

impl std::fmt::Debug for Served {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Served")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// How often the endpoint looks whether another process promoted a version.
pub const WATCH_EVERY: Duration = Duration::from_millis(500);

/// A model behind an endpoint name, with metrics and optional data capture.
///
/// It serves one version at a time and switches between two inferences when a version is
/// promoted ([`LocalEndpoint::serve`], or the `SERVING` pointer changed by another process,
/// looked at every [`WATCH_EVERY`]). An execution is pinned to the version serving when it
/// started ([`LocalEndpoint::pin`]): executions in flight during a switch finish on the model
/// they started with.
pub struct LocalEndpoint {
    name: Arc<str>,
    serving: RwLock<Arc<Served>>,
    pins: Mutex<HashMap<Arc<str>, Arc<Served>>>,
    watch: Option<Mutex<Watch>>,
    metrics: Option<Arc<StoreWriter>>,
    capture: Option<DataCapture>,
    guard: Option<Arc<GuardMonitor>>,
}

struct Watch {
    bucket: LocalBucket,
    checked: Instant,
}

impl std::fmt::Debug for LocalEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEndpoint")
            .field("name", &self.name)
            .field("serving", &self.serving().version)
            .field("metrics", &self.metrics.is_some())
            .field("capture", &self.capture.is_some())
            .finish_non_exhaustive()
    }
}

impl LocalEndpoint {
    /// An endpoint named `name` answering with `predictor` (version `fixed`); no metrics,
    /// no capture, no guard.
    pub fn new(name: &str, predictor: Arc<dyn Predictor>) -> LocalEndpoint {
        LocalEndpoint::serving_version(
            name,
            Served {
                version: FIXED_VERSION.to_owned(),
                predictor,
                baseline: None,
            },
        )
    }

    /// An endpoint named `name` serving `served`.
    pub fn serving_version(name: &str, served: Served) -> LocalEndpoint {
        LocalEndpoint {
            name: Arc::from(name),
            serving: RwLock::new(Arc::new(served)),
            pins: Mutex::new(HashMap::new()),
            watch: None,
            metrics: None,
            capture: None,
            guard: None,
        }
    }

    /// Follows the `SERVING` pointer of `bucket`: a version promoted by another process is
    /// served from the next execution on.
    pub fn follow(mut self, bucket: LocalBucket) -> LocalEndpoint {
        self.watch = Some(Mutex::new(Watch {
            bucket,
            checked: Instant::now(),
        }));
        self
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

    /// Hands every inference to the guard.
    pub fn with_guard(mut self, guard: Arc<GuardMonitor>) -> LocalEndpoint {
        let served = self.serving();
        guard.serve(&served.version, served.baseline.clone());
        self.guard = Some(guard);
        self
    }

    /// The endpoint name.
    pub fn endpoint_name(&self) -> &str {
        &self.name
    }

    /// The version serving now.
    pub fn serving(&self) -> Arc<Served> {
        Arc::clone(&self.serving.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Serves `served` from the next execution on (executions in flight keep theirs).
    pub fn serve(&self, served: Served) {
        if let Some(guard) = &self.guard {
            guard.serve(&served.version, served.baseline.clone());
        }
        *self.serving.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(served);
    }

    /// Looks (at most every [`WATCH_EVERY`]) whether the `SERVING` pointer names another
    /// version, and serves it.
    fn follow_pointer(&self) {
        let Some(watch) = &self.watch else {
            return;
        };
        let bucket = {
            let mut w = watch.lock().unwrap_or_else(|p| p.into_inner());
            if w.checked.elapsed() < WATCH_EVERY {
                return;
            }
            w.checked = Instant::now();
            w.bucket.clone()
        };
        let current = self.serving().version.clone();
        match crate::models::serving(&bucket) {
            Ok(Some(version)) if version != current => match load_served(&bucket, &version) {
                Ok(served) => {
                    tracing::info!(from = %current, to = %version, "serving another model version");
                    self.serve(served);
                }
                Err(e) => {
                    tracing::warn!(version, error = %e, "the promoted version cannot be loaded: still serving the previous one");
                }
            },
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the SERVING pointer is unreadable"),
        }
    }

    /// Pins the execution `arn` to the version serving now (its classification uses it,
    /// whatever is promoted meanwhile). Returns that version.
    pub fn pin(&self, arn: &Arc<str>) -> String {
        self.follow_pointer();
        let served = self.serving();
        let version = served.version.clone();
        self.pins
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(Arc::clone(arn), served);
        version
    }

    /// Forgets the pin of a finished execution.
    pub fn unpin(&self, arn: &str) {
        self.pins
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(arn);
    }

    fn served_for(&self, arn: Option<&str>) -> Arc<Served> {
        arn.and_then(|a| {
            self.pins
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(a)
                .cloned()
        })
        .unwrap_or_else(|| self.serving())
    }

    /// One invocation: the JSON body `[p_bicycle, p_motorcycle]`, or the error SageMaker
    /// would answer. Runs the model on the calling thread (well under a millisecond).
    pub fn invoke_now(&self, body: &[u8], content_type: &str) -> Result<Vec<u8>, EndpointError> {
        self.invoke_as(None, body, content_type)
            .map(|(body, _)| body)
    }

    /// [`LocalEndpoint::invoke_now`] for the execution `arn` (its pinned version), with the
    /// version that answered.
    pub fn invoke_as(
        &self,
        arn: Option<&str>,
        body: &[u8],
        content_type: &str,
    ) -> Result<(Vec<u8>, String), EndpointError> {
        let served = self.served_for(arn);
        let started = Instant::now();
        let at = Utc::now();
        let mut model_micros = None;
        let mut scores = None;
        let result = if !ACCEPTED_CONTENT_TYPES
            .iter()
            .any(|t| content_type.eq_ignore_ascii_case(t))
        {
            Err(EndpointError::UnsupportedContentType {
                content_type: content_type.to_owned(),
            })
        } else {
            let model_started = Instant::now();
            let prediction = served.predictor.predict_png(body);
            model_micros = Some(model_started.elapsed().as_micros() as f64);
            prediction
                .map_err(|e| match e {
                    PredictError::BadInput(reason) => EndpointError::BadInput { reason },
                    PredictError::Model(reason) => EndpointError::Model { reason },
                })
                .map(|[p0, p1]| {
                    scores = Some([f64::from(p0), f64::from(p1)]);
                    // The algorithm's JSON: a plain array of class probabilities.
                    serde_json::to_vec(&[f64::from(p0), f64::from(p1)]).unwrap_or_default()
                })
        };
        if let (Some(capture), Ok(output)) = (&self.capture, &result)
            && let Err(e) = capture.record(body, content_type, output, RESPONSE_CONTENT_TYPE, at)
        {
            tracing::warn!(error = %e, "data capture write failed");
        }
        // The guard judges the served model's traffic (a pinned older version's last few
        // inferences are not the served model's).
        if let (Some(guard), Some(scores)) = (&self.guard, scores)
            && served.version == self.serving().version
        {
            guard.observe(body, scores, at);
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
        result.map(|body| (body, served.version.clone()))
    }

    /// Writes buffered data capture to disk.
    pub fn flush(&self) -> std::io::Result<()> {
        match &self.capture {
            Some(c) => c.flush(),
            None => Ok(()),
        }
    }
}

/// The version name of a model given directly (tests, benchmarks), not trained in the home.
pub const FIXED_VERSION: &str = "fixed";

/// Loads the version `version` of `bucket` for serving: its model and its baseline.
pub fn load_served(
    bucket: &LocalBucket,
    version: &str,
) -> Result<Served, crate::training::TrainingError> {
    let dir = bucket.models_dir().join(version);
    let model = scones_model::TrainedModel::load(&dir)?;
    let baseline = match crate::drift::load_baseline(&dir) {
        Ok(b) => Some(b),
        Err(e) => {
            tracing::warn!(version, error = %e, "no drift baseline: the guard does not judge this version");
            None
        }
    };
    Ok(Served {
        version: version.to_owned(),
        predictor: Arc::new(model.into_classifier()),
        baseline,
    })
}

/// The endpoint as one execution sees it: its pinned version answers.
pub struct PinnedEndpoint<'a> {
    /// The endpoint.
    pub endpoint: &'a LocalEndpoint,
    /// The execution.
    pub arn: &'a str,
}

impl Endpoint for PinnedEndpoint<'_> {
    fn name(&self) -> &str {
        self.endpoint.endpoint_name()
    }

    async fn invoke(&self, body: Vec<u8>, content_type: &str) -> Result<Invocation, InvokeError> {
        self.endpoint
            .invoke_as(Some(self.arn), &body, content_type)
            .map(|(body, version)| Invocation {
                body,
                model: Some(version),
            })
            .map_err(|e| InvokeError(e.to_string()))
    }
}

impl Endpoint for LocalEndpoint {
    fn name(&self) -> &str {
        &self.name
    }

    async fn invoke(&self, body: Vec<u8>, content_type: &str) -> Result<Invocation, InvokeError> {
        self.invoke_as(None, &body, content_type)
            .map(|(body, version)| Invocation {
                body,
                model: Some(version),
            })
            .map_err(|e| InvokeError(e.to_string()))
    }
}
