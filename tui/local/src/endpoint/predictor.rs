//! The model behind the endpoint, as a small trait so the endpoint can be exercised with any
//! model (the trained CNN in production, fixed answers in tests and benchmarks).

use scones_model::{Classifier, ModelError, RgbImage};

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

    /// Each image's answer, in order: what [`Predictor::predict_png`] answers for it, in one
    /// pass where the model can (an image that fails fails alone).
    fn predict_pngs(&self, pngs: &[&[u8]]) -> Vec<Result<[f32; 2], PredictError>> {
        pngs.iter().map(|png| self.predict_png(png)).collect()
    }
}

impl Predictor for Classifier {
    fn predict_png(&self, png: &[u8]) -> Result<[f32; 2], PredictError> {
        Classifier::predict_png(self, png).map_err(predict_error)
    }

    fn predict_pngs(&self, pngs: &[&[u8]]) -> Vec<Result<[f32; 2], PredictError>> {
        let decoded: Vec<Result<RgbImage, PredictError>> = pngs
            .iter()
            .map(|png| RgbImage::decode_png(png).map_err(predict_error))
            .collect();
        let images: Vec<&RgbImage> = decoded.iter().filter_map(|d| d.as_ref().ok()).collect();
        let mut answers = match self.predict_images(&images) {
            Ok(answers) => answers.into_iter().map(Ok).collect::<Vec<_>>(),
            Err(e) => vec![Err(predict_error(e)); images.len()],
        }
        .into_iter();
        decoded
            .into_iter()
            .map(|d| match d {
                Ok(_) => answers.next().unwrap_or_else(|| {
                    Err(PredictError::Model(
                        "the model answered too few images".to_owned(),
                    ))
                }),
                Err(e) => Err(e),
            })
            .collect()
    }
}

/// The model's error as the endpoint answers it: an image it cannot take is the caller's.
fn predict_error(e: ModelError) -> PredictError {
    match e {
        ModelError::ImageDecode { .. } | ModelError::ImageSize { .. } => {
            PredictError::BadInput(format!("{}: {e}", e.name()))
        }
        other => PredictError::Model(format!("{}: {other}", other.name())),
    }
}
