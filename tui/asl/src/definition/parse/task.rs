//! Task states: the resource, timeouts, parameters and result selection.

use serde_json::Value;

use super::super::*;
use super::fields::Fields;

impl Fields<'_, '_> {
    pub(super) fn task(&mut self) -> Option<TaskState> {
        let resource = match self.obj.get("Resource") {
            Some(Value::String(r)) => {
                let r = r.as_str();
                if is_lambda_invoke_integration(r) {
                    let has_fn = self.language == QueryLanguage::Jsonata
                        || self
                            .obj
                            .get("Parameters")
                            .and_then(Value::as_object)
                            .is_some_and(|p| {
                                p.contains_key("FunctionName") || p.contains_key("FunctionName.$")
                            });
                    if !has_fn {
                        self.err(
                            "Parameters",
                            ValidationErrorKind::MissingField,
                            "arn:aws:states:::lambda:invoke needs Parameters with FunctionName",
                        );
                    }
                    Some(TaskResource::LambdaInvoke)
                } else if is_lambda_function_arn(r) {
                    Some(TaskResource::LambdaFunction { arn: Arc::from(r) })
                } else {
                    self.err(
                        "Resource",
                        ValidationErrorKind::UnsupportedResource,
                        format!("the local engine cannot run the resource `{r}` (supported: arn:aws:states:::lambda:invoke and Lambda function ARNs)"),
                    );
                    None
                }
            }
            Some(_) => {
                self.err(
                    "Resource",
                    ValidationErrorKind::InvalidType,
                    "Resource must be a string",
                );
                None
            }
            None => {
                self.err(
                    "Resource",
                    ValidationErrorKind::MissingField,
                    "a Task needs a Resource",
                );
                None
            }
        };
        let parameters = self.template("Parameters");
        let result_selector = self.template("ResultSelector");
        let result_path = self.result_path("ResultPath");
        let timeout = self.number_source("TimeoutSeconds", "TimeoutSecondsPath", 1.0);
        let heartbeat = self.number_source("HeartbeatSeconds", "HeartbeatSecondsPath", 1.0);
        if let (Some(NumberSource::Literal(t)), Some(NumberSource::Literal(h))) =
            (&timeout, &heartbeat)
            && h >= t
        {
            self.err(
                "HeartbeatSeconds",
                ValidationErrorKind::InvalidValue,
                "HeartbeatSeconds must be smaller than TimeoutSeconds",
            );
        }
        let errors = self.error_handling();
        Some(TaskState {
            resource: resource?,
            parameters,
            result_selector,
            result_path,
            timeout,
            heartbeat,
            errors,
        })
    }
}

/// `arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]`
pub(super) fn is_lambda_function_arn(r: &str) -> bool {
    let parts: Vec<&str> = r.split(':').collect();
    parts.len() >= 7
        && parts[0] == "arn"
        && parts[2] == "lambda"
        && parts[5] == "function"
        && !parts[6].is_empty()
}

/// `arn:<partition>:states:::lambda:invoke`, the optimized Lambda integration, in the
/// commercial, GovCloud and China partitions (the definition renders its partition).
fn is_lambda_invoke_integration(resource: &str) -> bool {
    ["aws", "aws-us-gov", "aws-cn"]
        .iter()
        .any(|partition| resource == format!("arn:{partition}:states:::lambda:invoke"))
}
