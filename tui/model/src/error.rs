//! The one error type of this crate.
//!
//! Variant names are stable: the CLI, the local endpoint and the execution history print them,
//! so renaming one is a breaking change.

use std::path::PathBuf;

/// Everything that can go wrong while loading data, training, saving, loading or predicting.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The bytes are not a decodable PNG image.
    #[error("image is not a decodable PNG: {reason}")]
    ImageDecode {
        /// What the decoder said.
        reason: String,
    },

    /// The image decoded but does not have the 32x32 shape the network takes.
    #[error("image is {width}x{height}, the model takes {expected}x{expected}")]
    ImageSize {
        /// Width of the decoded image.
        width: u32,
        /// Height of the decoded image.
        height: u32,
        /// The side length the model expects.
        expected: u32,
    },

    /// A label outside `0` (bicycle) and `1` (motorcycle).
    #[error("label {label} is not a known class (0 bicycle, 1 motorcycle)")]
    UnknownLabel {
        /// The offending label.
        label: i64,
    },

    /// The labels CSV is unreadable or a row is malformed.
    #[error("labels file {path}: {reason}")]
    Labels {
        /// The CSV file.
        path: PathBuf,
        /// What is wrong with it (row number included where known).
        reason: String,
    },

    /// The training configuration cannot work (for example zero epochs).
    #[error("invalid training configuration: {reason}")]
    InvalidConfig {
        /// Which setting is wrong and why.
        reason: String,
    },

    /// Too few images (or only one class) to train and validate.
    #[error("not enough training data: {reason}")]
    NotEnoughData {
        /// What is missing.
        reason: String,
    },

    /// A file of a saved model is missing.
    #[error("model file {path} is missing")]
    MissingFile {
        /// The file that should exist.
        path: PathBuf,
    },

    /// A file of a saved model exists but cannot be parsed.
    #[error("model file {path} is corrupt: {reason}")]
    CorruptFile {
        /// The unreadable file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },

    /// The saved model was made for something else than this build understands
    /// (format version, classes, input shape, architecture, tensor shapes).
    #[error("model in {path} does not match this build: {reason}")]
    Mismatch {
        /// The model directory or file.
        path: PathBuf,
        /// What differs.
        reason: String,
    },

    /// Reading or writing a file failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The tensor backend reported an error (should not happen on the CPU backend).
    #[error("tensor backend error: {reason}")]
    Backend {
        /// What the backend said.
        reason: String,
    },

    /// An error about one image file (decoding, size), naming the file. Its [`name`] is the
    /// inner error's.
    ///
    /// [`name`]: ModelError::name
    #[error("{}: {source}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: Box<ModelError>,
    },
}

impl ModelError {
    /// The stable name of the variant, for logs, metrics and execution histories.
    pub fn name(&self) -> &'static str {
        match self {
            ModelError::ImageDecode { .. } => "ImageDecode",
            ModelError::ImageSize { .. } => "ImageSize",
            ModelError::UnknownLabel { .. } => "UnknownLabel",
            ModelError::Labels { .. } => "Labels",
            ModelError::InvalidConfig { .. } => "InvalidConfig",
            ModelError::NotEnoughData { .. } => "NotEnoughData",
            ModelError::MissingFile { .. } => "MissingFile",
            ModelError::CorruptFile { .. } => "CorruptFile",
            ModelError::Mismatch { .. } => "Mismatch",
            ModelError::Io { .. } => "Io",
            ModelError::Backend { .. } => "Backend",
            ModelError::InFile { source, .. } => source.name(),
        }
    }

    /// `error` about the image file `path`.
    pub fn in_file(path: impl Into<PathBuf>, error: ModelError) -> ModelError {
        ModelError::InFile {
            path: path.into(),
            source: Box::new(error),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ModelError::Io {
            path: path.into(),
            source,
        }
    }
}
