//! `scones-asl`: a local Amazon States Language engine.
//!
//! It parses and validates a Step Functions definition ([`StateMachine::parse`], every
//! problem reported with a JSON pointer), then executes it on a tokio runtime the way the
//! service does ([`Engine`]): JSONPath input/output processing, intrinsic functions,
//! Choice rules, Wait, Retry/Catch with AWS error names, Map and Parallel, and Lambda
//! tasks dispatched to in-process handlers ([`LambdaRegistry`]). Every execution streams
//! `GetExecutionHistory`-shaped events ([`HistoryEvent`]) to an [`EventSink`] as they
//! happen, and time comes from an injectable [`Clock`].
//!
//! ```
//! use std::sync::Arc;
//! use scones_asl::{Engine, ExecutionSpec, LambdaRegistry, StateMachine, SystemClock, VecSink};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let machine = StateMachine::parse(r#"{"StartAt": "Hi", "States": {
//!     "Hi": {"Type": "Pass", "Result": {"greeting": "hello"}, "End": true}}}"#).unwrap();
//! let engine = Engine::new(LambdaRegistry::new(), Arc::new(SystemClock));
//! let sink = Arc::new(VecSink::new());
//! let outcome = engine
//!     .execute(&machine, ExecutionSpec::local("demo", "run-1", serde_json::json!({})), sink.clone())
//!     .await;
//! assert_eq!(outcome.status.as_str(), "SUCCEEDED");
//! assert_eq!(outcome.output, Some(serde_json::json!({"greeting": "hello"})));
//! assert_eq!(sink.events().len(), 4);
//! # });
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod choice_rules;
pub mod clock;
pub mod definition;
pub mod diagnostics;
pub mod error;
pub mod exec;
pub mod history;
pub mod intrinsics;
pub mod jsonata;
pub mod lambda;
pub mod path;
pub mod payload;
pub mod scope;
pub mod template;
pub mod timestamp;

pub use clock::{Clock, SystemClock, VirtualClock};
pub use definition::{StateMachine, ValidationError, ValidationErrorKind, ValidationErrors};
pub use error::Failure;
pub use exec::{
    Engine, Execution, ExecutionInput, ExecutionSpec, ExecutionStatus, InvalidExecutionInput,
    Outcome, StopHandle,
};
pub use history::{
    ChannelSink, EventDetails, EventSink, HistoryEvent, NullSink, Payload, StateType, VecSink,
};
pub use lambda::{InvokeError, InvokeRequest, LambdaInvoker, LambdaRegistry};
pub use template::{TemplateError, render_template};
