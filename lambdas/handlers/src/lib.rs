//! The scones event contract and the three workflow handlers.
//!
//! Every Lambda in the workflow reads and returns the same [`ImageRecord`]:
//!
//! ```json
//! {"s3_bucket": "...", "s3_key": "test/bicycle_s_000513.png",
//!  "image_data": "<base64 PNG>", "inferences": [0.97, 0.03]}
//! ```
//!
//! The handlers are plain async functions over two ports ([`ObjectStore`], [`Endpoint`]), so
//! the same code runs inside the Lambda binaries (S3 + SageMaker Runtime adapters) and
//! in-process in the local stack (local bucket + local endpoint).
//!
//! Failures are [`HandlerError`]s whose [`HandlerError::name`] is the stable error name that
//! Step Functions shows as the task's and the execution's `error`.

mod classify;
mod config;
mod error;
#[cfg(feature = "test-support")]
pub mod fakes;
mod filter;
mod ports;
mod record;
mod scores;
mod serialize;

pub use classify::classify_image;
pub use config::ConfigError;
pub use error::{ErrorName, HandlerError};
pub use filter::{Accepted, FilterPolicy, filter_low_confidence};
pub use ports::{Endpoint, FetchError, Invocation, InvokeError, ObjectStore};
pub use record::ImageRecord;
pub use scores::Scores;
pub use serialize::serialize_image_data;

/// The content type the classify handler sends to the endpoint; the SageMaker built-in
/// image-classification algorithm accepts it directly.
pub const IMAGE_CONTENT_TYPE: &str = "image/png";

/// Class order of `inferences` and of the model output.
pub const CLASSES: [&str; 2] = ["bicycle", "motorcycle"];
