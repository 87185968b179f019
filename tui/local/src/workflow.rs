//! The one workflow definition (`terraform/workflow/scones.asl.json`, embedded at build time
//! from that file — never copied) rendered with the local function names, and the three
//! handlers registered under those names.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use scones_asl::{InvokeRequest, LambdaInvoker, LambdaRegistry, StateMachine, render_template};
use scones_handlers::{
    ErrorName, FilterPolicy, HandlerError, ImageRecord, ObjectStore, classify_image,
    filter_low_confidence, serialize_image_data,
};
use scones_workflow::Threshold;
use scones_workflow::drift::Verdict;
use scones_workflow::guard::GuardState;
use scones_workflow::review::RAISED_AUDIT_RATE;

use crate::endpoint::{LocalEndpoint, PinnedEndpoint};
use crate::guard::GuardMonitor;
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

/// What FilterLowConfidence applies locally: the threshold, the guard (its hold, and the
/// drift verdict that raises the audit share), the audit shares.
pub struct FilterSettings {
    /// The confidence threshold.
    pub threshold: Threshold,
    /// The guard, when there is one.
    pub guard: Option<Arc<GuardMonitor>>,
    /// The share of accepted decisions drawn for audit.
    pub audit_rate: f64,
}

impl FilterSettings {
    /// The audit share now: raised while drift is WARN or ALERT and decisions are still
    /// accepted (the model is least trusted then).
    fn audit_rate(&self, state: Option<&GuardState>) -> f64 {
        let drifting = state
            .is_some_and(|s| s.hold.is_some() || s.verdict.is_some_and(|v| v >= Verdict::Warn));
        if drifting {
            self.audit_rate.max(RAISED_AUDIT_RATE)
        } else {
            self.audit_rate
        }
    }
}

/// Executions whose accepted decision was drawn for audit, until their end is recorded.
#[derive(Debug, Default)]
pub struct AuditMarks(Mutex<HashSet<String>>);

impl AuditMarks {
    fn mark(&self, arn: &str) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(arn.to_owned());
    }

    /// Whether `arn` was drawn (and forgets it).
    pub fn take(&self, arn: &str) -> bool {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(arn)
    }
}

/// The three handlers under their local names: the same code the Lambda binaries run, over
/// `store` (the local bucket) and `endpoint` (the local endpoint, each execution on its pinned
/// model version), the filter with the guard and the audit draw (`marks` notes the drawn).
pub fn registry<S>(
    store: Arc<S>,
    endpoint: Arc<LocalEndpoint>,
    filter: Arc<FilterSettings>,
    marks: Arc<AuditMarks>,
) -> LambdaRegistry
where
    S: ObjectStore + 'static,
{
    let mut registry = LambdaRegistry::new();
    registry.register(
        SERIALIZE_IMAGE_DATA,
        invoker(move |_, event| {
            let store = store.clone();
            async move { serialize_image_data(&*store, event).await }
        }),
    );
    registry.register(
        CLASSIFY_IMAGE,
        invoker(move |arn, event| {
            let endpoint = endpoint.clone();
            async move {
                let pinned = PinnedEndpoint {
                    endpoint: &endpoint,
                    arn: &arn,
                };
                classify_image(&pinned, event).await
            }
        }),
    );
    registry.register(
        FILTER_LOW_CONFIDENCE,
        invoker(move |arn, event| {
            let state = filter.guard.as_ref().map(|g| g.state());
            let policy = FilterPolicy {
                threshold: filter.threshold,
                hold: state.as_ref().and_then(GuardState::holding),
                audit_rate: filter.audit_rate(state.as_ref()),
            };
            let result = filter_low_confidence(&policy, event).map(|accepted| {
                if accepted.audit {
                    marks.mark(&arn);
                }
                accepted.record
            });
            std::future::ready(result)
        }),
    );
    registry
}

/// Wraps a handler the way the Lambda runtime does: the payload parsed as JSON, the record
/// serialised back, a [`HandlerError`] raised as a function error whose `errorType` is its
/// stable name.
fn invoker<F, Fut>(handler: F) -> Arc<dyn LambdaInvoker>
where
    F: Fn(String, Value) -> Fut + Send + Sync + 'static,
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
            let running = handler(request.execution_arn, event);
            Box::pin(async move {
                match running.await {
                    Ok(record) => Ok(serde_json::to_vec(&record).unwrap_or_default()),
                    Err(e) => Err(scones_asl::InvokeError::function(e.name(), e.to_string())),
                }
            })
        },
    )
}
