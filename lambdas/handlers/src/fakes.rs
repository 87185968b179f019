//! In-memory implementations of the ports, for tests and benchmarks (here, in the engine and
//! in the local stack). They behave like the real thing where it matters: a missing object is
//! `NotFound`, the size limit is enforced, the endpoint sees the content type it was sent.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::ports::{Endpoint, FetchError, Invocation, InvokeError, ObjectStore};

/// Objects by (bucket, key).
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    objects: HashMap<(String, String), Vec<u8>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The store with one more object.
    pub fn with(mut self, bucket: &str, key: &str, bytes: Vec<u8>) -> Self {
        self.insert(bucket, key, bytes);
        self
    }

    /// Adds (or replaces) an object.
    pub fn insert(&mut self, bucket: &str, key: &str, bytes: Vec<u8>) {
        self.objects
            .insert((bucket.to_owned(), key.to_owned()), bytes);
    }
}

impl ObjectStore for MemoryStore {
    async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        max_bytes: usize,
    ) -> Result<Vec<u8>, FetchError> {
        let bytes = self
            .objects
            .get(&(bucket.to_owned(), key.to_owned()))
            .ok_or(FetchError::NotFound)?;
        if bytes.len() > max_bytes {
            return Err(FetchError::TooLarge {
                size: bytes.len() as u64,
            });
        }
        Ok(bytes.clone())
    }
}

/// An endpoint that always gives the same answer and remembers what it was sent.
#[derive(Debug)]
pub struct StaticEndpoint {
    name: String,
    answer: Result<Vec<u8>, String>,
    calls: AtomicUsize,
    last_request: Mutex<Option<(Vec<u8>, String)>>,
}

/// The model version the fake endpoint says answered.
pub const FAKE_MODEL: &str = "fake-model-1";

impl StaticEndpoint {
    /// Answers `[p_bicycle, p_motorcycle]` as the SageMaker algorithm does.
    pub fn scores(p_bicycle: f64, p_motorcycle: f64) -> Self {
        Self::raw(format!("[{p_bicycle}, {p_motorcycle}]").into_bytes())
    }

    /// Answers these exact bytes.
    pub fn raw(body: impl Into<Vec<u8>>) -> Self {
        Self::new(Ok(body.into()))
    }

    /// Fails every call with this message.
    pub fn failing(message: &str) -> Self {
        Self::new(Err(message.to_owned()))
    }

    fn new(answer: Result<Vec<u8>, String>) -> Self {
        StaticEndpoint {
            name: "static-endpoint".to_owned(),
            answer,
            calls: AtomicUsize::new(0),
            last_request: Mutex::new(None),
        }
    }

    /// Invocations so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The body and content type of the last call.
    pub fn last_request(&self) -> Option<(Vec<u8>, String)> {
        self.last_request
            .lock()
            .map(|guard| guard.clone())
            .unwrap_or(None)
    }
}

impl Endpoint for StaticEndpoint {
    fn name(&self) -> &str {
        &self.name
    }

    async fn invoke(&self, body: Vec<u8>, content_type: &str) -> Result<Invocation, InvokeError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut last) = self.last_request.lock() {
            *last = Some((body, content_type.to_owned()));
        }
        self.answer
            .clone()
            .map_err(InvokeError)
            .map(|body| Invocation {
                body,
                model: Some(FAKE_MODEL.to_owned()),
            })
    }
}

/// A valid RGB PNG of the given size filled with one colour: real bytes for tests.
pub fn png(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    let image = image::RgbImage::from_pixel(width, height, image::Rgb(rgb));
    let mut out = Cursor::new(Vec::new());
    // Encoding an in-memory RGB buffer to PNG only fails on I/O errors, which a Vec never has.
    let _ = image.write_to(&mut out, image::ImageFormat::Png);
    out.into_inner()
}
