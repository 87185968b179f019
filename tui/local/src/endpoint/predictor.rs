//! The model behind the endpoint, as a small trait so the endpoint can be exercised with any
//! model (the trained CNN in production, fixed answers in tests and benchmarks).

use scones_model::{Classifier, ModelError};

/// Why a prediction failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PredictError {
    /// The input is not something the model takes (the caller's fault: a 4XX).
    #[error("{0}")]
    BadInput(String),
    /// The model failed (a 5XX).
    #[error("{0}")]
    Model(String),
}

/// PNG bytes to `[p_bicycle, p_motorcycle]`.
pub trait Predictor: Send + Sync + 'static {
    /// The two class probabilities of the image.
    fn predict_png(&self, png: &[u8]) -> Result<[f32; 2], PredictError>;
}

impl Predictor for Classifier {
    fn predict_png(&self, png: &[u8]) -> Result<[f32; 2], PredictError> {
        Classifier::predict_png(self, png).map_err(|e| match e {
            ModelError::ImageDecode { .. } | ModelError::ImageSize { .. } => {
                PredictError::BadInput(format!("{}: {e}", e.name()))
            }
            other => PredictError::Model(format!("{}: {other}", other.name())),
        })
    }
}
