//! Task states: the optimized Lambda integration (`arn:aws:states:::lambda:invoke`) and the
//! legacy Lambda function resource, with their AWS event shapes, timeouts and errors.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Map, Value, json};

use super::Run;
use super::frame::{Frame, StateCtx};
use crate::definition::{State, TaskResource, TaskState};
use crate::error::{Failure, names};
use crate::history::{EventDetails, Payload};
use crate::lambda::{InvokeError, InvokeRequest, function_name_of};

/// The Step Functions limit on a state's result (256 KiB).
pub(super) const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

enum Invocation {
    Ok(Vec<u8>),
    Err(InvokeError),
    TimedOut,
}

impl Run {
    /// One attempt of a Task state's work; returns the task result.
    pub(super) async fn task_attempt(
        &self,
        task: &TaskState,
        state: &State,
        effective: &Arc<Value>,
        frame: &mut Frame<'_>,
        sc: &StateCtx,
    ) -> Result<Value, Failure> {
        // JSONata states: Arguments replace Parameters; timeouts may be expressions.
        let mut arguments = None;
        let mut jsonata_timeout = None;
        let mut jsonata_heartbeat = None;
        if let Some(j) = &state.jsonata {
            let extra = super::jsonata_io::Extra::default();
            if let Some(t) = &j.arguments {
                arguments = Some(self.jsonata(t, "Arguments", effective, extra, frame, sc)?);
            }
            for (template, slot, field) in [
                (&j.timeout, &mut jsonata_timeout, "TimeoutSeconds"),
                (&j.heartbeat, &mut jsonata_heartbeat, "HeartbeatSeconds"),
            ] {
                if let Some(t) = template {
                    let v = self.jsonata(t, field, effective, extra, frame, sc)?;
                    match v.as_f64().filter(|n| *n >= 1.0 && n.fract() == 0.0) {
                        Some(n) => *slot = Some(n as u64),
                        None => {
                            return Err(self.query_error(
                                format!(
                                    "The {field} field must be a positive integer, but was: {v}"
                                ),
                                field,
                                frame,
                                sc,
                            ));
                        }
                    }
                }
            }
        }
        let timeout = match &task.timeout {
            Some(source) => {
                Some(self.positive_seconds(source, effective, frame, sc, "TimeoutSecondsPath")?)
            }
            None => None,
        };
        let heartbeat = match &task.heartbeat {
            Some(source) => {
                Some(self.positive_seconds(source, effective, frame, sc, "HeartbeatSecondsPath")?)
            }
            None => None,
        };
        let timeout = jsonata_timeout.or(timeout);
        let heartbeat = jsonata_heartbeat.or(heartbeat);
        match &task.resource {
            TaskResource::LambdaInvoke => {
                self.lambda_invoke(task, arguments, effective, frame, sc, timeout, heartbeat)
                    .await
            }
            TaskResource::LambdaFunction { arn } => {
                self.lambda_function(task, arguments, arn, effective, frame, sc, timeout)
                    .await
            }
        }
    }

    fn positive_seconds(
        &self,
        source: &crate::definition::NumberSource,
        input: &Value,
        frame: &Frame<'_>,
        sc: &StateCtx,
        field: &str,
    ) -> Result<u64, Failure> {
        match self.number(source, input, frame, sc)? {
            Ok(n) if n >= 1.0 && n.fract() == 0.0 => Ok(n as u64),
            Ok(n) => Err(sc.runtime(format!(
                "The {field} field refers to value \"{n}\" which is not a valid positive integer"
            ))),
            Err((path, v)) => Err(sc.runtime(format!(
                "The {field} field refers to value \"{v}\" which is not a valid integer: {path}"
            ))),
        }
    }

    async fn invoke(&self, function: &str, payload: Vec<u8>, timeout: Option<u64>) -> Invocation {
        let name = function_name_of(function).to_owned();
        let function_arn = if function.starts_with("arn:") {
            function.to_owned()
        } else {
            format!(
                "arn:aws:lambda:{}:{}:function:{name}",
                self.spec.region, self.spec.account
            )
        };
        let Some((_, invoker)) = self.lambdas.resolve(function) else {
            return Invocation::Err(InvokeError::Service {
                code: "ResourceNotFoundException".into(),
                message: format!("Function not found: {function_arn}:$LATEST"),
                status: 404,
            });
        };
        let call = invoker.invoke(InvokeRequest {
            function_name: name,
            function_arn,
            payload,
            execution_arn: self.spec.execution_arn.clone(),
        });
        match timeout {
            None => match call.await {
                Ok(bytes) => Invocation::Ok(bytes),
                Err(e) => Invocation::Err(e),
            },
            Some(secs) => {
                let deadline = self.sleep(Duration::from_secs(secs));
                tokio::select! {
                    r = call => match r {
                        Ok(bytes) => Invocation::Ok(bytes),
                        Err(e) => Invocation::Err(e),
                    },
                    _ = deadline => Invocation::TimedOut,
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn lambda_invoke(
        &self,
        task: &TaskState,
        arguments: Option<Value>,
        effective: &Arc<Value>,
        frame: &mut Frame<'_>,
        sc: &StateCtx,
        timeout: Option<u64>,
        heartbeat: Option<u64>,
    ) -> Result<Value, Failure> {
        let parameters = match (arguments, &task.parameters) {
            (Some(a), _) => a,
            (None, Some(t)) => self.render(t, effective, frame, sc)?,
            (None, None) => (**effective).clone(),
        };
        let resource = "invoke".to_owned();
        let resource_type = "lambda".to_owned();
        let parameters = Arc::new(parameters);
        self.emit(
            &mut frame.ev,
            EventDetails::TaskScheduled {
                resource: resource.clone(),
                resource_type: resource_type.clone(),
                region: self.spec.region.clone(),
                parameters: Payload::Json(parameters.clone()),
                timeout_in_seconds: timeout,
                heartbeat_in_seconds: heartbeat,
            },
            true,
        );
        tokio::task::yield_now().await;
        self.emit(
            &mut frame.ev,
            EventDetails::TaskStarted {
                resource: resource.clone(),
                resource_type: resource_type.clone(),
            },
            true,
        );
        let function = match parameters.get("FunctionName") {
            Some(Value::String(s)) => s.clone(),
            other => {
                let f = Failure::new(
                    names::RUNTIME,
                    format!(
                        "FunctionName must be a string, got {}",
                        other.unwrap_or(&Value::Null)
                    ),
                );
                self.task_failed(frame, &f, &resource, &resource_type);
                return Err(f);
            }
        };
        let payload = to_payload_bytes(parameters.get("Payload"));
        match self.invoke(&function, payload, timeout).await {
            Invocation::Ok(bytes) => {
                let tail_log = parameters.get("LogType").and_then(Value::as_str) == Some("Tail");
                let response = invoke_response(&bytes, tail_log);
                if response.to_string().len() > MAX_PAYLOAD_BYTES {
                    let f = Failure::new(
                        names::DATA_LIMIT_EXCEEDED,
                        "The state/task 'lambda' returned a result with a size exceeding the maximum number of bytes service limit.",
                    );
                    self.task_failed(frame, &f, &resource, &resource_type);
                    return Err(f);
                }
                let response = Arc::new(response);
                self.emit(
                    &mut frame.ev,
                    EventDetails::TaskSucceeded {
                        resource,
                        resource_type,
                        output: Payload::Json(response.clone()),
                    },
                    true,
                );
                Ok(Arc::try_unwrap(response).unwrap_or_else(|a| (*a).clone()))
            }
            Invocation::Err(InvokeError::Function {
                error_type,
                document,
                ..
            }) => {
                // The optimized integration reports the error document as compact JSON.
                let cause = serde_json::from_slice::<Value>(&document)
                    .map(|v| v.to_string())
                    .unwrap_or_else(|_| String::from_utf8_lossy(&document).into_owned());
                let f = Failure::new(error_type, cause);
                self.task_failed(frame, &f, &resource, &resource_type);
                Err(f)
            }
            Invocation::Err(InvokeError::Service {
                code,
                message,
                status,
            }) => {
                let f = Failure::new(
                    format!("Lambda.{code}"),
                    format!(
                        "{message} (Service: AWSLambda; Status Code: {status}; Error Code: {code}; Request ID: {}; Proxy: null)",
                        uuid::Uuid::new_v4()
                    ),
                );
                self.task_failed(frame, &f, &resource, &resource_type);
                Err(f)
            }
            Invocation::TimedOut => {
                self.emit(
                    &mut frame.ev,
                    EventDetails::TaskTimedOut {
                        resource,
                        resource_type,
                        error: names::TIMEOUT.into(),
                    },
                    true,
                );
                Err(Failure {
                    error: Some(names::TIMEOUT.into()),
                    cause: None,
                })
            }
        }
    }

    fn task_failed(&self, frame: &mut Frame<'_>, f: &Failure, resource: &str, resource_type: &str) {
        self.emit(
            &mut frame.ev,
            EventDetails::TaskFailed {
                resource: Some(resource.to_owned()),
                resource_type: Some(resource_type.to_owned()),
                error: f.error.clone(),
                cause: f.cause.clone(),
            },
            true,
        );
    }

    #[allow(clippy::too_many_arguments)]
    async fn lambda_function(
        &self,
        task: &TaskState,
        arguments: Option<Value>,
        arn: &str,
        effective: &Arc<Value>,
        frame: &mut Frame<'_>,
        sc: &StateCtx,
        timeout: Option<u64>,
    ) -> Result<Value, Failure> {
        let payload = match (arguments, &task.parameters) {
            (Some(a), _) => Arc::new(a),
            (None, Some(t)) => Arc::new(self.render(t, effective, frame, sc)?),
            (None, None) => effective.clone(),
        };
        self.emit(
            &mut frame.ev,
            EventDetails::LambdaFunctionScheduled {
                resource: arn.to_owned(),
                input: Payload::Json(payload.clone()),
                timeout_in_seconds: timeout,
            },
            true,
        );
        tokio::task::yield_now().await;
        self.emit(&mut frame.ev, EventDetails::LambdaFunctionStarted, true);
        let fail = |run: &Run, frame: &mut Frame<'_>, f: Failure| -> Failure {
            run.emit(
                &mut frame.ev,
                EventDetails::LambdaFunctionFailed {
                    error: f.error.clone(),
                    cause: f.cause.clone(),
                },
                true,
            );
            f
        };
        match self
            .invoke(arn, to_payload_bytes(Some(&payload)), timeout)
            .await
        {
            Invocation::Ok(bytes) => {
                let output = decode_payload(&bytes);
                if output.to_string().len() > MAX_PAYLOAD_BYTES {
                    let f = Failure::new(
                        names::DATA_LIMIT_EXCEEDED,
                        format!(
                            "The state/task '{arn}' returned a result with a size exceeding the maximum number of bytes service limit."
                        ),
                    );
                    return Err(fail(self, frame, f));
                }
                let output = Arc::new(output);
                self.emit(
                    &mut frame.ev,
                    EventDetails::LambdaFunctionSucceeded {
                        output: Payload::Json(output.clone()),
                    },
                    true,
                );
                Ok(Arc::try_unwrap(output).unwrap_or_else(|a| (*a).clone()))
            }
            Invocation::Err(InvokeError::Function {
                error_type,
                document,
                ..
            }) => {
                // The legacy resource keeps the runtime's own text of the error document.
                let cause = String::from_utf8_lossy(&document).into_owned();
                Err(fail(self, frame, Failure::new(error_type, cause)))
            }
            Invocation::Err(InvokeError::Service {
                code,
                message,
                status,
            }) => {
                let cause = format!(
                    "{message} (Service: AWSLambda; Status Code: {status}; Error Code: {code}; Request ID: {}; Proxy: null)",
                    uuid::Uuid::new_v4()
                );
                Err(fail(
                    self,
                    frame,
                    Failure::new(format!("Lambda.{code}"), cause),
                ))
            }
            Invocation::TimedOut => {
                self.emit(
                    &mut frame.ev,
                    EventDetails::LambdaFunctionTimedOut {
                        error: names::TIMEOUT.into(),
                    },
                    true,
                );
                Err(Failure {
                    error: Some(names::TIMEOUT.into()),
                    cause: None,
                })
            }
        }
    }
}

/// The bytes Lambda receives for a `Payload` value: absent/null sends `{}`, a string that
/// is itself JSON is sent as that JSON, anything else is JSON-encoded.
fn to_payload_bytes(payload: Option<&Value>) -> Vec<u8> {
    match payload {
        None | Some(Value::Null) => b"{}".to_vec(),
        Some(Value::String(s)) if serde_json::from_str::<Value>(s).is_ok() => {
            s.clone().into_bytes()
        }
        Some(v) => v.to_string().into_bytes(),
    }
}

/// A Lambda response payload: JSON when it parses, otherwise the text itself.
fn decode_payload(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// The `lambda:invoke` result: the Invoke API response envelope.
fn invoke_response(bytes: &[u8], tail_log: bool) -> Value {
    let request_id = uuid::Uuid::new_v4().to_string();
    let date = Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let trace = format!(
        "Root=1-{:08x}-{};Sampled=0",
        Utc::now().timestamp(),
        &uuid::Uuid::new_v4().simple().to_string()[..24]
    );
    let length = bytes.len().to_string();
    // `LogType: Tail` returns the last 4 KB of the invocation log, base64-encoded.
    let log_result = tail_log.then(|| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!(
            "START RequestId: {request_id} Version: $LATEST\nEND RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: 1.00 ms\n"
        ))
    });
    let mut headers: Vec<(&str, &str)> = vec![
        ("Connection", "keep-alive"),
        ("Content-Length", &length),
        ("Content-Type", "application/json"),
        ("Date", &date),
        ("X-Amz-Executed-Version", "$LATEST"),
        ("x-amzn-Remapped-Content-Length", "0"),
        ("x-amzn-RequestId", &request_id),
        ("X-Amzn-Trace-Id", &trace),
    ];
    if let Some(log) = &log_result {
        headers.push(("X-Amz-Log-Result", log));
    }
    let all: Map<String, Value> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!([v])))
        .collect();
    let plain: Map<String, Value> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let mut response = json!({
        "ExecutedVersion": "$LATEST",
        "Payload": decode_payload(bytes),
        "SdkHttpMetadata": {
            "AllHttpHeaders": all,
            "HttpHeaders": plain,
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    });
    if let (Some(log), Value::Object(m)) = (log_result, &mut response) {
        m.insert("LogResult".into(), Value::String(log));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_bytes_follow_the_service_rules() {
        assert_eq!(to_payload_bytes(None), b"{}");
        assert_eq!(to_payload_bytes(Some(&Value::Null)), b"{}");
        assert_eq!(to_payload_bytes(Some(&json!("{\"a\": 1}"))), b"{\"a\": 1}");
        assert_eq!(to_payload_bytes(Some(&json!("hello"))), b"\"hello\"");
        assert_eq!(to_payload_bytes(Some(&json!({"a": [1]}))), b"{\"a\":[1]}");
    }

    #[test]
    fn responses_decode_json_or_keep_text() {
        assert_eq!(decode_payload(b"{\"x\": 1}"), json!({"x": 1}));
        assert_eq!(decode_payload(b"\"HelloWorld!\""), json!("HelloWorld!"));
        assert_eq!(decode_payload(b"aaa"), json!("aaa"));
        let envelope = invoke_response(b"{}", true);
        assert!(envelope["LogResult"].is_string());
        assert_eq!(envelope["StatusCode"], 200);
        assert_eq!(envelope["Payload"], json!({}));
        assert_eq!(
            envelope["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"],
            "2"
        );
    }
}
