//! [`ObjectStore`] over S3 GetObject.

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::operation::get_object::GetObjectError;
use scones_handlers::{FetchError, ObjectStore};

pub struct S3Store {
    client: aws_sdk_s3::Client,
}

impl S3Store {
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        S3Store { client }
    }
}

impl ObjectStore for S3Store {
    async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        max_bytes: usize,
    ) -> Result<Vec<u8>, FetchError> {
        let response = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|err| match err.as_service_error() {
                // NoSuchKey needs s3:ListBucket on the bucket; without it S3 answers 403
                // AccessDenied for a missing key (the Terraform role grants ListBucket on the
                // image prefixes so users see ObjectNotFound, not a permissions puzzle).
                Some(GetObjectError::NoSuchKey(_)) => FetchError::NotFound,
                _ => FetchError::Unreadable(DisplayErrorContext(&err).to_string()),
            })?;
        // Refuse by Content-Length before reading the body into memory.
        let size = response.content_length().unwrap_or(0).max(0) as u64;
        if size > max_bytes as u64 {
            return Err(FetchError::TooLarge { size });
        }
        let bytes = response
            .body
            .collect()
            .await
            .map_err(|err| FetchError::Unreadable(format!("reading the object body: {err}")))?
            .into_bytes();
        if bytes.len() > max_bytes {
            return Err(FetchError::TooLarge {
                size: bytes.len() as u64,
            });
        }
        Ok(bytes.to_vec())
    }
}
