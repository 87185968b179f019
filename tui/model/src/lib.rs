//! `scones-model`: the small CNN that classifies 32x32 RGB images as bicycle (0) or
//! motorcycle (1), trained and run on the CPU in pure Rust (burn 0.22, `flex` backend).
//!
//! ```no_run
//! use std::path::Path;
//! use scones_model::{TrainConfig, TrainedModel, evaluate, load_split, train};
//!
//! # fn main() -> Result<(), scones_model::ModelError> {
//! let root = Path::new("../shared/data/cifar100-bikes");
//! let labels = root.join("labels.csv");
//! let images = load_split(root, &labels, "train")?;
//! let model = train(&TrainConfig::default(), &images, |e| {
//!     println!("epoch {}/{} val acc {:.3}", e.epoch, e.epochs, e.val_accuracy)
//! })?;
//! model.save(Path::new("models/latest"))?;
//!
//! let model = TrainedModel::load(Path::new("models/latest"))?;
//! let png = std::fs::read(root.join("test/bicycle_s_000513.png")).unwrap_or_default();
//! let [p_bicycle, p_motorcycle] = model.classifier().predict_png(&png)?;
//! let test = load_split(root, &labels, "test")?;
//! println!("{}", evaluate(model.classifier(), &test)?);
//! # let _ = (p_bicycle, p_motorcycle);
//! # Ok(())
//! # }
//! ```

mod augment;
mod averaging;
pub mod calibration;
mod classifier;
mod config;
mod cross_validation;
mod data;
mod error;
mod evaluate;
pub mod fingerprint;
mod metadata;
mod mixing;
pub mod network;
mod persist;
mod replicas;
mod serving;
pub mod split;
mod tensors;
mod train;

pub use augment::Augmentation;
pub use calibration::{Calibration, fit_temperature};
pub use classifier::{Classifier, TrainedModel};
pub use config::{OutOfFoldOutputs, TrainConfig};
pub use cross_validation::{CrossValidation, FoldReport, cross_validate, cross_validate_fold};
pub use data::{
    CHANNELS, Class, IMAGE_BYTES, IMAGE_SIDE, LabelRow, LabeledImage, LabelsError, RgbImage,
    file_name_problem, load_split, read_labels,
};
pub use error::ModelError;
pub use evaluate::{ClassMetrics, Evaluation, evaluate};
pub use metadata::{ARCHITECTURE, FORMAT_VERSION, FRAMEWORK, FRAMEWORK_VERSION, ModelMetadata};
pub use mixing::BatchMixing;
pub use persist::{METADATA_FILE, WEIGHTS_FILE};
pub use train::{EpochReport, train};
