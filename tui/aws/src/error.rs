//! One error type for every AWS call this crate makes, classified so callers can react:
//! back off on [`AwsError::Throttled`], say "not found" on [`AwsError::NotFound`], and show
//! the service's own message for the rest.
//!
//! The SDK's standard retry strategy has already retried throttling and 5xx answers with
//! exponential backoff and jitter (see [`crate::clients::RetryPolicy`]) by the time an
//! error reaches this type, so a `Throttled` here means "still throttled after retrying".

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Error codes AWS services use for "slow down" (Step Functions, CloudWatch and Logs say
/// `ThrottlingException`, S3 `SlowDown`, older APIs `Throttling`/`RequestLimitExceeded`).
pub const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "ProvisionedThroughputExceededException",
    "LimitExceededException",
];

/// Error codes that mean "the thing you named does not exist".
pub const NOT_FOUND_CODES: &[&str] = &[
    "ExecutionDoesNotExist",
    "StateMachineDoesNotExist",
    "ResourceNotFoundException",
    "ResourceNotFound",
    "NoSuchKey",
    "NoSuchBucket",
    "NotFound",
];

/// Why an AWS call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    /// Still throttled after the SDK's retries: slow down and try later.
    #[error("{operation} was throttled by AWS ({code}): {message}")]
    Throttled {
        /// The API call, e.g. `ListExecutions`.
        operation: &'static str,
        /// The service's error code.
        code: String,
        /// The service's message.
        message: String,
    },
    /// The named resource (execution, state machine, log group, object, endpoint) does not
    /// exist.
    #[error("{operation}: not found ({code}): {message}")]
    NotFound {
        /// The API call.
        operation: &'static str,
        /// The service's error code.
        code: String,
        /// The service's message.
        message: String,
    },
    /// The service refused the request (permissions, validation, wrong state...).
    #[error("{operation} was refused ({code}): {message}")]
    Service {
        /// The API call.
        operation: &'static str,
        /// The service's error code (`Unknown` when it sent none).
        code: String,
        /// The service's message.
        message: String,
        /// HTTP status of the answer.
        status: u16,
    },
    /// No usable credentials: none in the chain, a profile without any, an expired SSO
    /// session. Nothing was sent: this is not the network.
    #[error(
        "{operation}: no usable AWS credentials ({message}); set AWS_PROFILE or --profile, \
         or renew the session (`aws sso login`)"
    )]
    Credentials {
        /// The API call.
        operation: &'static str,
        /// What the credential provider said.
        message: String,
    },
    /// AWS could not be reached: no network, DNS, TLS.
    #[error("{operation} could not reach AWS: {message}")]
    Transport {
        /// The API call.
        operation: &'static str,
        /// What failed, with the SDK's context.
        message: String,
    },
    /// No answer within the timeouts ([`crate::config::TIMEOUTS`]): the service is hung or
    /// unreachable. A mutation may still be carried out by the service later.
    #[error("{operation} got no answer in time ({message})")]
    TimedOut {
        /// The API call.
        operation: &'static str,
        /// Which timeout, with the SDK's context.
        message: String,
    },
    /// The answer could not be read (or the request could not be built).
    #[error("{operation}: unusable request or response: {message}")]
    Protocol {
        /// The API call.
        operation: &'static str,
        /// What was wrong.
        message: String,
    },
}

impl AwsError {
    /// Stable name of the variant.
    pub fn name(&self) -> &'static str {
        match self {
            AwsError::Throttled { .. } => "Throttled",
            AwsError::NotFound { .. } => "NotFound",
            AwsError::Service { .. } => "Service",
            AwsError::Credentials { .. } => "Credentials",
            AwsError::Transport { .. } => "Transport",
            AwsError::TimedOut { .. } => "TimedOut",
            AwsError::Protocol { .. } => "Protocol",
        }
    }

    /// The API call that failed.
    pub fn operation(&self) -> &'static str {
        match self {
            AwsError::Throttled { operation, .. }
            | AwsError::NotFound { operation, .. }
            | AwsError::Service { operation, .. }
            | AwsError::Credentials { operation, .. }
            | AwsError::Transport { operation, .. }
            | AwsError::TimedOut { operation, .. }
            | AwsError::Protocol { operation, .. } => operation,
        }
    }

    /// The service's error code, when it sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Throttled { code, .. }
            | AwsError::NotFound { code, .. }
            | AwsError::Service { code, .. } => Some(code),
            AwsError::Credentials { .. }
            | AwsError::Transport { .. }
            | AwsError::TimedOut { .. }
            | AwsError::Protocol { .. } => None,
        }
    }

    /// True for "slow down".
    pub fn is_throttling(&self) -> bool {
        matches!(self, AwsError::Throttled { .. })
    }

    /// True for "does not exist".
    pub fn is_not_found(&self) -> bool {
        matches!(self, AwsError::NotFound { .. })
    }

    /// An answer this crate could not make sense of.
    pub fn protocol(operation: &'static str, message: impl Into<String>) -> AwsError {
        AwsError::Protocol {
            operation,
            message: message.into(),
        }
    }

    /// Classifies an SDK error of any service.
    pub fn from_sdk<E, R>(operation: &'static str, err: SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + HttpStatus,
    {
        // The credentials are resolved before anything is sent; their failure surfaces as a
        // dispatch failure, which would otherwise read as the network's.
        if let SdkError::DispatchFailure(failure) = &err
            && let Some(message) = failure
                .as_connector_error()
                .and_then(|e| credentials_problem(e))
        {
            return AwsError::Credentials { operation, message };
        }
        let context = DisplayErrorContext(&err).to_string();
        match &err {
            SdkError::ServiceError(service) => {
                let status = service.raw().status_code();
                let code = service.err().code().unwrap_or("Unknown").to_owned();
                // Without a message (an answer the SDK could not parse: a proxy's HTML page),
                // the answer itself, not the SDK's debug dump.
                let message = service
                    .err()
                    .message()
                    .map(str::to_owned)
                    .unwrap_or_else(|| answer_summary(service.raw()));
                classify_service(operation, code, message, status)
            }
            // The innermost cause says which timeout after how long ("operation timeout (all
            // attempts including retries) occurred after 40s"); the chain around it is noise.
            SdkError::TimeoutError(_) => AwsError::TimedOut {
                operation,
                message: std::error::Error::source(&err).map_or(context, innermost_cause),
            },
            // A connect timeout surfaces as a dispatch failure that says so.
            SdkError::DispatchFailure(failure) if failure.is_timeout() => AwsError::TimedOut {
                operation,
                message: failure
                    .as_connector_error()
                    .map_or(context, |e| innermost_cause(e)),
            },
            // Each cause's message once ("dispatch failure: io error: ... Connection
            // refused"), not DisplayErrorContext's debug dump after them.
            SdkError::DispatchFailure(_) => AwsError::Transport {
                operation,
                message: std::error::Error::source(&err)
                    .map_or(context, |source| format!("{err}: {}", cause_chain(source))),
            },
            SdkError::ResponseError(response) => {
                let status = response.raw().status_code();
                // Some emulators and proxies answer throttling with a bare 429/503.
                let message = answer_summary(response.raw());
                if status == 429 || status == 503 {
                    AwsError::Throttled {
                        operation,
                        code: format!("HTTP {status}"),
                        message,
                    }
                } else {
                    AwsError::Protocol { operation, message }
                }
            }
            _ => AwsError::Protocol {
                operation,
                message: context,
            },
        }
    }
}

/// What the credential provider said, when `err`'s source chain holds its error.
fn credentials_problem(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    use aws_credential_types::provider::error::CredentialsError;
    std::iter::successors(Some(err), |e| e.source())
        .find_map(|e| e.downcast_ref::<CredentialsError>())
        .map(|credentials| cause_chain(credentials))
}

/// The message of the last error in `err`'s source chain.
fn innermost_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// The messages of `err` and its sources, joined with ": ", a message that repeats the one
/// before it left out.
fn cause_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut current = err.source();
    while let Some(e) = current {
        let message = e.to_string();
        if parts.last().is_none_or(|last| !last.contains(&message)) {
            parts.push(message);
        }
        current = e.source();
    }
    parts.join(": ")
}

/// Sorts a service error into a variant by its code and HTTP status.
pub fn classify_service(
    operation: &'static str,
    code: String,
    message: String,
    status: u16,
) -> AwsError {
    if THROTTLING_CODES.contains(&code.as_str()) || status == 429 {
        AwsError::Throttled {
            operation,
            code,
            message,
        }
    } else if NOT_FOUND_CODES.contains(&code.as_str()) || is_sagemaker_not_found(&code, &message) {
        AwsError::NotFound {
            operation,
            code,
            message,
        }
    } else {
        let message = match access_hint(operation, &code) {
            Some(hint) => format!("{message}; {hint}"),
            None => message,
        };
        AwsError::Service {
            operation,
            code,
            message,
            status,
        }
    }
}

/// The policy an operator attaches (terraform/README.md): which statement grants what.
const OPERATOR_POLICY: &str = include_str!("../../../terraform/operator-policy.json");

/// The IAM action an API call of this crate needs (where it differs from `service:Call`, the
/// action the IAM service authorization reference names for it).
fn iam_action(operation: &str) -> Option<String> {
    let service = match operation {
        "ListObjectsV2" => return Some("s3:ListBucket".to_owned()),
        "HeadObject" => return Some("s3:GetObject".to_owned()),
        "CopyObject" => return Some("s3:PutObject (and s3:GetObject on the source)".to_owned()),
        "GetObject" | "PutObject" | "DeleteObject" | "DeleteObjects" | "ListBuckets" => "s3",
        "FilterLogEvents" | "GetLogEvents" | "DescribeLogGroups" => "logs",
        "StartExecution"
        | "DescribeExecution"
        | "GetExecutionHistory"
        | "ListExecutions"
        | "StopExecution"
        | "RedriveExecution"
        | "DescribeStateMachine"
        | "ListStateMachines" => "states",
        "GetMetricData" | "PutMetricData" => "cloudwatch",
        "DescribeEndpoint"
        | "InvokeEndpoint"
        | "CreateTrainingJob"
        | "DescribeTrainingJob"
        | "ListTrainingJobs"
        | "DescribeEndpointConfig"
        | "DescribeModel"
        | "CreateModel"
        | "CreateEndpointConfig"
        | "CreateEndpoint"
        | "DeleteEndpoint"
        | "DeleteEndpointConfig"
        | "DeleteModel" => "sagemaker",
        "GetCallerIdentity" => "sts",
        _ => return None,
    };
    Some(format!("{service}:{operation}"))
}

/// The `Sid` of the operator policy's statement whose actions cover `action` (`s3:*` covers
/// every `s3:` action).
fn granting_statement(action: &str) -> Option<String> {
    let action = action.split_whitespace().next()?;
    let policy: serde_json::Value = serde_json::from_str(OPERATOR_POLICY).ok()?;
    policy["Statement"].as_array()?.iter().find_map(|st| {
        let actions = match &st["Action"] {
            serde_json::Value::String(a) => vec![a.as_str()],
            serde_json::Value::Array(a) => a.iter().filter_map(|a| a.as_str()).collect(),
            _ => Vec::new(),
        };
        let grants = actions.iter().any(|a| match a.strip_suffix('*') {
            Some(prefix) => action.starts_with(prefix),
            None => a.eq_ignore_ascii_case(action),
        });
        grants.then(|| st["Sid"].as_str().unwrap_or("(no Sid)").to_owned())
    })
}

/// For an access-denied answer: the IAM action the call needs and the statement of
/// terraform/operator-policy.json that grants it, so the fix is one step.
fn access_hint(operation: &str, code: &str) -> Option<String> {
    if !matches!(
        code,
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "AuthorizationError"
    ) {
        return None;
    }
    let action = iam_action(operation)?;
    Some(match granting_statement(&action) {
        Some(sid) => format!(
            "the caller needs {action}: statement {sid:?} of terraform/operator-policy.json \
             grants it (attach that policy, or add the action to the caller's)"
        ),
        None => format!("the caller needs {action}: add it to the caller's policy"),
    })
}

/// SageMaker answers DescribeEndpoint for a missing endpoint with a ValidationException
/// whose message says "Could not find endpoint".
fn is_sagemaker_not_found(code: &str, message: &str) -> bool {
    code == "ValidationException" && message.contains("Could not find")
}

/// The HTTP status of a raw response, whatever its type.
pub trait HttpStatus {
    /// The status code.
    fn status_code(&self) -> u16;

    /// The body, when it is in memory (an error answer's is).
    fn body_bytes(&self) -> Option<&[u8]> {
        None
    }
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }

    fn body_bytes(&self) -> Option<&[u8]> {
        self.body().bytes()
    }
}

/// An answer as a person can read it: `HTTP 500: <its text>`, markup removed, whitespace
/// collapsed, at most [`SUMMARY_CHARS`] characters of it.
fn answer_summary(raw: &impl HttpStatus) -> String {
    let status = raw.status_code();
    let mut text = String::new();
    let mut in_tag = false;
    for c in String::from_utf8_lossy(raw.body_bytes().unwrap_or_default()).chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if in_tag => {}
            _ => text.push(c),
        }
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return format!("HTTP {status} with no readable body");
    }
    let mut summary: String = text.chars().take(SUMMARY_CHARS).collect();
    if text.chars().count() > SUMMARY_CHARS {
        summary.push('…');
    }
    format!("HTTP {status}: {summary}")
}

/// How much of an unparsable answer's text an error quotes.
const SUMMARY_CHARS: usize = 160;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_denied_names_the_action_and_the_operator_policy_statement_that_grants_it() {
        let e = classify_service(
            "PutObject",
            "AccessDenied".into(),
            "Access Denied".into(),
            403,
        );
        let text = e.to_string();
        assert!(text.contains("s3:PutObject"), "{text}");
        assert!(text.contains("statement \"Bucket\""), "{text}");
        let e = classify_service(
            "FilterLogEvents",
            "AccessDeniedException".into(),
            "not authorized".into(),
            400,
        );
        assert!(
            e.to_string()
                .contains("logs:FilterLogEvents: statement \"LogGroupsAndReading\""),
            "{e}"
        );
        let e = classify_service("ListObjectsV2", "AccessDenied".into(), "denied".into(), 403);
        assert!(e.to_string().contains("s3:ListBucket"), "{e}");
        // Other refusals are left as the service said them.
        let e = classify_service("PutObject", "InvalidRequest".into(), "bad".into(), 400);
        assert!(!e.to_string().contains("the caller needs"), "{e}");
    }

    /// A server on 127.0.0.1 that answers every request with `status` and an HTML page, as a
    /// proxy or a load balancer in the way does.
    fn html_server(status: &'static str) -> String {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let body = "<html><head><title>502 Bad Gateway</title></head><body>\
                            <h1>Bad Gateway</h1><p>The proxy could not reach states.</p>\
                            </body></html>";
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        url
    }

    /// An answer the SDK cannot parse (an HTML page from something in the way) reads as its
    /// status and its text, not the SDK's debug dump of the response.
    #[tokio::test]
    async fn an_unparsable_answer_reads_as_its_status_and_text() {
        let target = crate::AwsTarget {
            profile: None,
            region: Some("us-east-1".to_owned()),
            endpoint_url: Some(html_server("502 Bad Gateway")),
        };
        let config = crate::config::config_loader(&target)
            .credentials_provider(aws_credential_types::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .load()
            .await;
        let err = aws_sdk_sfn::Client::new(&config)
            .list_state_machines()
            .send()
            .await
            .unwrap_err();
        let e = AwsError::from_sdk("ListStateMachines", err);
        let text = e.to_string();
        assert!(
            text.contains(
                "HTTP 502: 502 Bad Gateway Bad Gateway The proxy could not reach states."
            ),
            "{text}"
        );
        assert!(
            !text.contains("Response {") && !text.contains("<html>") && !text.contains("SdkBody"),
            "{text}"
        );
    }

    /// A credential provider that has none (as an empty chain or an expired SSO session).
    #[derive(Debug)]
    struct NoCredentials;

    impl aws_credential_types::provider::ProvideCredentials for NoCredentials {
        fn provide_credentials<'a>(
            &'a self,
        ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            aws_credential_types::provider::future::ProvideCredentials::ready(Err(
                aws_credential_types::provider::error::CredentialsError::not_loaded(
                    "no providers in chain provided credentials",
                ),
            ))
        }
    }

    /// Missing credentials were reported as "could not reach AWS": a real client with no
    /// credentials, pointed at a closed port, must say credentials (nothing was sent).
    #[tokio::test]
    async fn missing_credentials_are_not_a_network_error() {
        let target = crate::AwsTarget {
            profile: None,
            region: Some("us-east-1".to_owned()),
            endpoint_url: Some("http://127.0.0.1:9".to_owned()),
        };
        let config = crate::config::config_loader(&target)
            .credentials_provider(NoCredentials)
            .load()
            .await;
        let err = crate::s3_client(&config, &target)
            .list_buckets()
            .send()
            .await
            .unwrap_err();
        let e = AwsError::from_sdk("ListBuckets", err);
        assert_eq!(e.name(), "Credentials", "{e}");
        let text = e.to_string();
        assert!(
            text.contains("no providers in chain provided credentials")
                && text.contains("aws sso login")
                && !text.contains("could not reach"),
            "{text}"
        );
    }

    #[test]
    fn throttling_codes_and_429_are_throttling() {
        for code in [
            "ThrottlingException",
            "SlowDown",
            "TooManyRequestsException",
        ] {
            let e = classify_service("ListExecutions", code.into(), "slow".into(), 400);
            assert!(e.is_throttling(), "{code}");
            assert_eq!(e.name(), "Throttled");
        }
        let e = classify_service("GetObject", "Whatever".into(), "x".into(), 429);
        assert!(e.is_throttling());
    }

    #[test]
    fn missing_things_are_not_found() {
        let e = classify_service(
            "DescribeExecution",
            "ExecutionDoesNotExist".into(),
            "Execution Does Not Exist".into(),
            400,
        );
        assert!(e.is_not_found());
        let e = classify_service(
            "DescribeEndpoint",
            "ValidationException".into(),
            "Could not find endpoint \"x\".".into(),
            400,
        );
        assert!(e.is_not_found());
    }

    #[test]
    fn other_refusals_keep_code_status_and_message() {
        let e = classify_service(
            "StartExecution",
            "InvalidArn".into(),
            "not allowed".into(),
            400,
        );
        assert_eq!(
            e,
            AwsError::Service {
                operation: "StartExecution",
                code: "InvalidArn".into(),
                message: "not allowed".into(),
                status: 400
            }
        );
        assert_eq!(e.code(), Some("InvalidArn"));
        assert!(e.to_string().contains("StartExecution was refused"));
    }
}
