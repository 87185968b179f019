//! The two things the handlers need from the outside world. S3 and SageMaker Runtime
//! implement them in the Lambda binaries; the local bucket and local endpoint implement them
//! in the local stack; `fakes` (feature `test-support`) implements them in memory for tests.

use std::future::Future;

/// Why an object could not be fetched.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    /// The object does not exist.
    #[error("no such object")]
    NotFound,
    /// The object is bigger than the caller's limit; it was not downloaded.
    #[error("the object is {size} bytes")]
    TooLarge {
        /// Its size.
        size: u64,
    },
    /// Anything else: access denied, network, throttling. The text says which.
    #[error("{0}")]
    Unreadable(String),
}

/// Reads objects by bucket and key.
pub trait ObjectStore: Send + Sync {
    /// The object's bytes. Objects larger than `max_bytes` are refused with
    /// [`FetchError::TooLarge`] before their body is read.
    fn get_object(
        &self,
        bucket: &str,
        key: &str,
        max_bytes: usize,
    ) -> impl Future<Output = Result<Vec<u8>, FetchError>> + Send;
}

/// The endpoint did not answer with a body (unreachable, model error, timeout).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct InvokeError(pub String);

/// An endpoint's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The response body.
    pub body: Vec<u8>,
    /// Which model version answered, when the endpoint says (SageMaker: the invoked
    /// production variant; the local endpoint: the model version it serves).
    pub model: Option<String>,
}

/// A model endpoint: bytes + content type in, response body out.
pub trait Endpoint: Send + Sync {
    /// The endpoint's name, for error messages and logs.
    fn name(&self) -> &str;

    /// Sends `body` with `content_type`; the answer.
    fn invoke(
        &self,
        body: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = Result<Invocation, InvokeError>> + Send;
}
