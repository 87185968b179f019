//! The one workflow definition (`terraform/workflow/scones.asl.json`, embedded at build time
//! from that file — never copied) rendered with the local function names, and the three
//! handlers registered under those names.

use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use scones_asl::{InvokeRequest, LambdaInvoker, LambdaRegistry, StateMachine, render_template};
use scones_handlers::{
    Endpoint, ErrorName, HandlerError, ImageRecord, ObjectStore, classify_image,
    filter_low_confidence, serialize_image_data,
};
use scones_workflow::Threshold;
use serde_json::Value;

pub use scones_workflow::definition::{
    CLASSIFY_IMAGE, DEFINITION, FILTER_LOW_CONFIDENCE, SERIALIZE_IMAGE_DATA,
};
/// Name of the local state machine (in execution ARNs).
pub const STATE_MACHINE_NAME: &str = "scones";

/// Why the definition cannot be used locally.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// A template variable could not be rendered.
    #[error("rendering terraform/workflow/scones.asl.json: {0}")]
    Template(#[from] scones_asl::TemplateError),
    /// The rendered definition is not valid ASL.
    #[error("terraform/workflow/scones.asl.json is not a valid state machine: {0}")]
    Invalid(String),
}

/// The definition with the local function names in.
pub fn local_definition() -> Result<String, WorkflowError> {
    // The local engine is in no partition; the service integrations' ARNs read as the
    // commercial partition's.
    let vars = scones_workflow::definition::variables("aws", str::to_owned);
    Ok(render_template(DEFINITION, &vars)?)
}

/// The parsed, validated local state machine.
pub fn local_machine() -> Result<StateMachine, WorkflowError> {
    StateMachine::parse(&local_definition()?).map_err(|e| WorkflowError::Invalid(e.to_string()))
}

/// The three handlers under their local names: the same code the Lambda binaries run, over
/// `store` (the local bucket) and `endpoint` (the local endpoint).
pub fn registry<S, E>(store: Arc<S>, endpoint: Arc<E>, threshold: Threshold) -> LambdaRegistry
where
    S: ObjectStore + 'static,
    E: Endpoint + 'static,
{
    let mut registry = LambdaRegistry::new();
    registry.register(
        SERIALIZE_IMAGE_DATA,
        invoker(move |event| {
            let store = store.clone();
            async move { serialize_image_data(&*store, event).await }
        }),
    );
    registry.register(
        CLASSIFY_IMAGE,
        invoker(move |event| {
            let endpoint = endpoint.clone();
            async move { classify_image(&*endpoint, event).await }
        }),
    );
    registry.register(
        FILTER_LOW_CONFIDENCE,
        invoker(move |event| std::future::ready(filter_low_confidence(threshold, event))),
    );
    registry
}

/// Wraps a handler the way the Lambda runtime does: the payload parsed as JSON, the record
/// serialised back, a [`HandlerError`] raised as a function error whose `errorType` is its
/// stable name.
fn invoker<F, Fut>(handler: F) -> Arc<dyn LambdaInvoker>
where
    F: Fn(Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<ImageRecord, HandlerError>> + Send + 'static,
{
    Arc::new(
        move |request: InvokeRequest| -> BoxFuture<'static, Result<Vec<u8>, scones_asl::InvokeError>> {
            let event: Value = match serde_json::from_slice(&request.payload) {
                Ok(v) => v,
                Err(e) => {
                    return Box::pin(std::future::ready(Err(scones_asl::InvokeError::function(
                        ErrorName::InvalidEvent.as_str(),
                        format!("the event is not JSON: {e}"),
                    ))));
                }
            };
            let running = handler(event);
            Box::pin(async move {
                match running.await {
                    Ok(record) => Ok(serde_json::to_vec(&record).unwrap_or_default()),
                    Err(e) => Err(scones_asl::InvokeError::function(e.name(), e.to_string())),
                }
            })
        },
    )
}
