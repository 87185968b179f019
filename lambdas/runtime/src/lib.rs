//! What the three scones Lambda binaries share, so each `main` is a few lines:
//! JSON logs ([`init_tracing`]), configuration from the environment ([`env`]), the AWS SDK
//! configuration ([`sdk_config`]) and serving a handler so that its [`HandlerError`] name
//! becomes the Lambda `errorType`, which Step Functions records as the state's `error`
//! ([`serve`]).

pub mod env;
#[cfg(feature = "fake-runtime-api")]
pub mod fake_runtime_api;

use std::future::Future;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use scones_handlers::{HandlerError, ImageRecord};
use serde_json::Value;

/// A handler failure on its way to the Lambda Runtime API.
///
/// The runtime's fallback would put the Rust type name (`scones_handlers::HandlerError`) in
/// `errorType`; this keeps the stable name (`LowConfidence`, ...) there instead.
#[derive(Debug)]
pub struct FunctionError(pub HandlerError);

impl From<FunctionError> for Diagnostic {
    fn from(FunctionError(err): FunctionError) -> Diagnostic {
        Diagnostic {
            error_type: err.name().to_owned(),
            error_message: err.to_string(),
        }
    }
}

/// JSON log lines with the event's fields at the top level (`{"decision": "low_confidence",
/// "p_bicycle": ..}`), which is what the CloudWatch metric filters match on.
/// `RUST_LOG` overrides the default level (info).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    json_log_format(std::io::stdout)
        .with_env_filter(filter)
        .init();
}

/// The log format of the Lambda binaries, writing to `writer` (stdout in Lambda; a buffer in
/// the test that reads the decision line back).
pub fn json_log_format<W>(
    writer: W,
) -> tracing_subscriber::fmt::SubscriberBuilder<
    tracing_subscriber::fmt::format::JsonFields,
    tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Json>,
    tracing_subscriber::filter::LevelFilter,
    W,
>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_writer(writer)
}

/// The default credential/region chain with a rustls + ring HTTPS client (no aws-lc-sys).
/// `AWS_ENDPOINT_URL` is honoured by aws-config, which is how the tests point it at an emulator.
pub async fn sdk_config() -> aws_config::SdkConfig {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client)
        .load()
        .await
}

/// Runs the Lambda event loop with `handler`: `Ok(record)` is returned as the plain record
/// JSON, `Err(e)` as a function error with `errorType = e.name()`.
pub async fn serve<H, Fut>(handler: H) -> Result<(), lambda_runtime::Error>
where
    H: Fn(Value) -> Fut,
    Fut: Future<Output = Result<ImageRecord, HandlerError>>,
{
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler(event.payload)
            .await
            .map(|record| record.to_value())
            .map_err(FunctionError)
    }))
    .await
}

/// Logs a configuration error as one JSON line and exits: the function fails at init with a
/// readable message instead of failing every invocation.
pub fn exit_on_config_error<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    match result {
        Ok(value) => value,
        Err(err) => {
            tracing::error!(decision = "init_failed", error = %err, "invalid configuration");
            eprintln!("scones: invalid configuration: {err}");
            std::process::exit(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scones_handlers::{ErrorName, FilterPolicy, filter_low_confidence};
    use scones_workflow::Threshold;
    use scones_workflow::cause::{Decision, DecisionKind, LowConfidenceCause};
    use std::sync::{Arc, Mutex};

    /// Log lines collected in memory.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_filters_log_line_and_cause_read_back_as_written() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = json_log_format(move || writer.clone()).finish();
        let event = serde_json::json!({
            "s3_bucket": "scones-bucket", "s3_key": "test/a.png", "image_data": "iVBORw0KGgo=",
            "inferences": [0.61, 0.39]
        });
        let threshold = Threshold::new(0.93).unwrap();
        let err = tracing::subscriber::with_default(subscriber, || {
            filter_low_confidence(&FilterPolicy::threshold(threshold), event).unwrap_err()
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let line = text
            .lines()
            .find(|l| l.contains("decision"))
            .unwrap_or_else(|| panic!("no decision line in {text:?}"));
        // Top-level fields: what the Terraform metric filter `{ $.decision = .. }` needs.
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["decision"], "low_confidence", "{line}");
        let decision = Decision::parse(line).unwrap();
        assert_eq!(
            decision,
            Decision {
                kind: DecisionKind::LowConfidence,
                s3_key: "test/a.png".into(),
                threshold: 0.93,
                p_bicycle: 0.61,
                p_motorcycle: 0.39,
                model: None,
                audit: false,
            }
        );
        // The error document Step Functions records as the cause reads back the same.
        let wire = serde_json::to_string(&Diagnostic::from(FunctionError(err))).unwrap();
        assert_eq!(LowConfidenceCause::parse(&wire), decision.cause());
    }

    #[test]
    fn error_type_is_the_stable_name_not_a_rust_type() {
        let low = HandlerError::LowConfidence {
            threshold: 0.93,
            p_bicycle: 0.6,
            p_motorcycle: 0.4,
        };
        let diagnostic = Diagnostic::from(FunctionError(low.clone()));
        assert_eq!(diagnostic.error_type, "LowConfidence");
        assert_eq!(diagnostic.error_message, low.to_string());
        // On the wire: the shape Step Functions turns into the history's error and cause.
        let wire = serde_json::to_value(&diagnostic).unwrap();
        assert_eq!(wire["errorType"], "LowConfidence");
        assert!(
            wire["errorMessage"]
                .as_str()
                .unwrap()
                .contains("threshold 0.93")
        );
    }

    #[test]
    fn every_error_class_keeps_its_name() {
        let samples = [
            HandlerError::InvalidEvent { reason: "x".into() },
            HandlerError::ObjectNotFound {
                bucket: "b".into(),
                key: "k".into(),
            },
            HandlerError::ObjectUnreadable {
                bucket: "b".into(),
                key: "k".into(),
                reason: "r".into(),
            },
            HandlerError::ImageUndecodable {
                bucket: "b".into(),
                key: "k".into(),
                reason: "r".into(),
            },
            HandlerError::ImageTooLarge {
                bucket: "b".into(),
                key: "k".into(),
                bytes: 1,
                limit: 1,
            },
            HandlerError::EndpointFailed {
                endpoint: "e".into(),
                reason: "r".into(),
            },
            HandlerError::MalformedInferences { reason: "r".into() },
            HandlerError::LowConfidence {
                threshold: 0.9,
                p_bicycle: 0.5,
                p_motorcycle: 0.5,
            },
            HandlerError::DriftHold(scones_workflow::cause::DriftHoldCause {
                since: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
                statistics: vec!["contrast".into()],
                p_bicycle: 0.97,
                p_motorcycle: 0.03,
            }),
        ];
        let names: Vec<String> = samples
            .into_iter()
            .map(|err| Diagnostic::from(FunctionError(err)).error_type)
            .collect();
        let expected: Vec<String> = ErrorName::ALL.iter().map(|n| n.to_string()).collect();
        assert_eq!(names, expected);
    }
}
