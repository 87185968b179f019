//! Lambda functions as the engine calls them: in-process invokers registered by name or
//! ARN, returning the raw response payload or a function/service error.

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;

/// One invocation (`RequestResponse`).
#[derive(Debug, Clone)]
pub struct InvokeRequest {
    /// The function name as registered (resolved from the name, partial or full ARN).
    pub function_name: String,
    /// The full function ARN Step Functions would call.
    pub function_arn: String,
    /// The payload bytes (JSON).
    pub payload: Vec<u8>,
    /// The execution making the call (`$$.Execution.Id`): what Step Functions knows and a
    /// Lambda function does not, for a local function that needs to tie work to the
    /// execution (the local stack pins each execution's model with it).
    pub execution_arn: String,
}

/// A failed invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeError {
    /// The function ran and raised (`FunctionError: Unhandled`). The `document` is the
    /// error payload exactly as the runtime produced it, e.g.
    /// `{"errorMessage": "...", "errorType": "LowConfidence", ...}`.
    Function {
        /// `errorType` — what Retry/Catch match on.
        error_type: String,
        /// `errorMessage`.
        error_message: String,
        /// The raw error document.
        document: Vec<u8>,
    },
    /// The Lambda service refused the call (the function was not invoked).
    Service {
        /// Lambda error code, e.g. `ResourceNotFoundException` (AWS reports
        /// `Lambda.<code>` as the error name).
        code: String,
        /// The service message.
        message: String,
        /// HTTP status code.
        status: u16,
    },
}

impl InvokeError {
    /// A function error whose document is built the way the Lambda runtimes build it
    /// (`errorMessage`, `errorType`, `requestId`, `stackTrace`).
    pub fn function(error_type: impl Into<String>, error_message: impl Into<String>) -> Self {
        let error_type = error_type.into();
        let error_message = error_message.into();
        let mut doc = serde_json::Map::new();
        doc.insert("errorMessage".into(), Value::String(error_message.clone()));
        doc.insert("errorType".into(), Value::String(error_type.clone()));
        doc.insert(
            "requestId".into(),
            Value::String(uuid::Uuid::new_v4().to_string()),
        );
        doc.insert("stackTrace".into(), Value::Array(Vec::new()));
        Self::Function {
            error_type,
            error_message,
            document: Value::Object(doc).to_string().into_bytes(),
        }
    }
}

/// Something that can run a Lambda function in-process.
pub trait LambdaInvoker: Send + Sync {
    /// Invoke the function; the future must be `Send` so executions can run on a
    /// multi-thread runtime.
    fn invoke(&self, request: InvokeRequest) -> BoxFuture<'static, Result<Vec<u8>, InvokeError>>;
}

impl<F> LambdaInvoker for F
where
    F: Fn(InvokeRequest) -> BoxFuture<'static, Result<Vec<u8>, InvokeError>> + Send + Sync,
{
    fn invoke(&self, request: InvokeRequest) -> BoxFuture<'static, Result<Vec<u8>, InvokeError>> {
        self(request)
    }
}

/// The functions an engine can call, by name. ARNs (`arn:aws:lambda:…:function:NAME`,
/// with or without a qualifier) and partial ARNs resolve to the name they contain.
#[derive(Clone, Default)]
pub struct LambdaRegistry {
    functions: HashMap<String, Arc<dyn LambdaInvoker>>,
}

impl std::fmt::Debug for LambdaRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.functions.keys().collect();
        names.sort();
        f.debug_struct("LambdaRegistry")
            .field("functions", &names)
            .finish()
    }
}

impl LambdaRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Register `invoker` under `name_or_arn` (an ARN registers the name inside it).
    pub fn register(&mut self, name_or_arn: &str, invoker: Arc<dyn LambdaInvoker>) -> &mut Self {
        self.functions
            .insert(function_name_of(name_or_arn).to_owned(), invoker);
        self
    }

    /// Find the function a `FunctionName`/`Resource` designates.
    pub fn resolve(&self, name_or_arn: &str) -> Option<(&str, &Arc<dyn LambdaInvoker>)> {
        let name = function_name_of(name_or_arn);
        self.functions
            .get_key_value(name)
            .map(|(k, v)| (k.as_str(), v))
    }

    /// Registered names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.functions.keys().map(String::as_str)
    }
}

/// The function name inside a name, partial ARN (`ACCOUNT:function:NAME`) or full ARN
/// (`arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`).
pub fn function_name_of(name_or_arn: &str) -> &str {
    let parts: Vec<&str> = name_or_arn.split(':').collect();
    match parts.iter().position(|p| *p == "function") {
        Some(i) if i + 1 < parts.len() => parts[i + 1],
        _ => parts.first().copied().unwrap_or(name_or_arn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_extracted_from_arns() {
        assert_eq!(function_name_of("classify-image"), "classify-image");
        assert_eq!(
            function_name_of("arn:aws:lambda:us-east-1:111111111111:function:f1"),
            "f1"
        );
        assert_eq!(
            function_name_of("arn:aws:lambda:us-east-1:111111111111:function:f1:$LATEST"),
            "f1"
        );
        assert_eq!(function_name_of("111111111111:function:f2"), "f2");
    }

    #[test]
    fn registry_resolves_names_and_arns() {
        let mut reg = LambdaRegistry::new();
        let f: Arc<dyn LambdaInvoker> = Arc::new(
            |_r: InvokeRequest| -> BoxFuture<'static, Result<Vec<u8>, InvokeError>> {
                Box::pin(async { Ok(b"{}".to_vec()) })
            },
        );
        reg.register("arn:aws:lambda:us-east-1:1:function:f1", f);
        assert!(reg.resolve("f1").is_some());
        assert!(
            reg.resolve("arn:aws:lambda:eu-west-1:2:function:f1:prod")
                .is_some()
        );
        assert!(reg.resolve("f2").is_none());
    }

    #[test]
    fn function_errors_carry_a_runtime_shaped_document() {
        let InvokeError::Function { document, .. } =
            InvokeError::function("LowConfidence", "0.5 < 0.93")
        else {
            panic!("not a function error");
        };
        let doc: Value = serde_json::from_slice(&document).unwrap();
        assert_eq!(doc["errorType"], "LowConfidence");
        assert_eq!(doc["errorMessage"], "0.5 < 0.93");
        let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["errorMessage", "errorType", "requestId", "stackTrace"]
        );
    }
}
