//! `metadata.json`: what a saved model is, how it was trained and how well it validated.

use crate::calibration::Calibration;
use crate::config::TrainConfig;
use crate::data::{CHANNELS, Class, IMAGE_SIDE};
use crate::train::EpochReport;

/// Version of the saved-model layout; bumped when `load` could no longer read older files.
pub const FORMAT_VERSION: u32 = 1;
/// Name of the network architecture (see [`crate::network`]).
pub const ARCHITECTURE: &str = "resnet8-narrow";
/// The tensor framework and the exact version the weights were written with.
pub const FRAMEWORK: &str = "burn";
/// Pinned in Cargo.toml (`=0.22.1`); the safetensors layout follows the module field names.
pub const FRAMEWORK_VERSION: &str = "0.22.1";

/// Contents of `metadata.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelMetadata {
    /// [`FORMAT_VERSION`] at save time.
    pub format_version: u32,
    /// [`ARCHITECTURE`].
    pub architecture: String,
    /// [`FRAMEWORK`].
    pub framework: String,
    /// [`FRAMEWORK_VERSION`].
    pub framework_version: String,
    /// Class names in probability-vector order: `["bicycle", "motorcycle"]`.
    pub classes: Vec<Class>,
    /// `[channels, height, width]` of the input: `[3, 32, 32]`.
    pub input_shape: [usize; 3],
    /// Base width of the network (needed to rebuild it before loading weights).
    pub width: usize,
    /// Whether predictions average the image and its mirror image.
    pub test_time_flip: bool,
    /// Accuracy on the held-out validation part after the last epoch; NaN (`null` in the
    /// file) after a final fit, which holds nothing out.
    #[serde(deserialize_with = "nan_from_null")]
    pub validation_accuracy: f32,
    /// Mean validation cross-entropy after the last epoch; NaN (`null`) after a final fit.
    #[serde(deserialize_with = "nan_from_null")]
    pub validation_loss: f32,
    /// Training accuracy (augmented images) in the last epoch.
    pub train_accuracy: f32,
    /// SHA-256 over the training images and labels (see [`crate::fingerprint::of_images`]).
    pub data_fingerprint: String,
    /// Images given to `train` (training + validation parts).
    pub images: usize,
    /// Images in the training part.
    pub train_images: usize,
    /// Images in the validation part.
    pub validation_images: usize,
    /// The seed of the run.
    pub seed: u64,
    /// Epochs run.
    pub epochs: usize,
    /// Wall time of training in seconds, rounded to milliseconds (few digits survive a JSON
    /// round trip exactly; serde_json's default float parsing is not exact for 17-digit ones).
    pub training_seconds: f64,
    /// The full training configuration.
    pub config: TrainConfig,
    /// When the model was trained (RFC 3339, UTC).
    pub created_at: String,
    /// File name of the weights inside the model directory.
    pub weights_file: String,
    /// SHA-256 of the weights file, checked on load to catch corruption.
    pub weights_sha256: String,
    /// How the served probabilities are calibrated; `None` for a final fit (nothing held
    /// out to fit on) and for models saved before calibration existed, which serve their raw
    /// softmax (`scones eval` says so).
    #[serde(default)]
    pub calibration: Option<Calibration>,
}

/// Reads a number that serde_json wrote as `null` because it was NaN (JSON has no NaN).
fn nan_from_null<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<f32, D::Error> {
    let value: Option<f32> = serde::Deserialize::deserialize(deserializer)?;
    Ok(value.unwrap_or(f32::NAN))
}

impl ModelMetadata {
    pub(crate) fn new(
        config: &TrainConfig,
        data_fingerprint: String,
        images: usize,
        train_images: usize,
        validation_images: usize,
        last_epoch: &EpochReport,
    ) -> ModelMetadata {
        ModelMetadata {
            format_version: FORMAT_VERSION,
            architecture: ARCHITECTURE.to_string(),
            framework: FRAMEWORK.to_string(),
            framework_version: FRAMEWORK_VERSION.to_string(),
            classes: Class::ALL.to_vec(),
            input_shape: [CHANNELS, IMAGE_SIDE, IMAGE_SIDE],
            width: config.width,
            test_time_flip: config.test_time_flip,
            validation_accuracy: last_epoch.val_accuracy,
            validation_loss: last_epoch.val_loss,
            train_accuracy: last_epoch.train_accuracy,
            data_fingerprint,
            images,
            train_images,
            validation_images,
            seed: config.seed,
            epochs: last_epoch.epochs,
            training_seconds: last_epoch.elapsed.as_millis() as f64 / 1000.0,
            config: config.clone(),
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            // Filled in by `save`.
            weights_file: crate::persist::WEIGHTS_FILE.to_string(),
            weights_sha256: String::new(),
            calibration: None,
        }
    }

    /// Why this build cannot use a model with this metadata, if it cannot.
    pub(crate) fn incompatibility(&self) -> Option<String> {
        if self.format_version != FORMAT_VERSION {
            return Some(format!(
                "format_version {} (this build reads {FORMAT_VERSION})",
                self.format_version
            ));
        }
        if self.architecture != ARCHITECTURE {
            return Some(format!(
                "architecture {:?} (expected {ARCHITECTURE:?})",
                self.architecture
            ));
        }
        if self.classes != Class::ALL {
            return Some(format!(
                "classes {:?} (expected [bicycle, motorcycle])",
                self.classes
            ));
        }
        if self.input_shape != [CHANNELS, IMAGE_SIDE, IMAGE_SIDE] {
            return Some(format!(
                "input_shape {:?} (expected [3, 32, 32])",
                self.input_shape
            ));
        }
        if self.width == 0 || self.width > 256 {
            return Some(format!("width {} outside 1..=256", self.width));
        }
        None
    }
}
