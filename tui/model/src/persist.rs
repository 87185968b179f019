//! Saving and loading a trained model: a directory with `model.safetensors` (the weights,
//! including batch-norm running statistics) and `metadata.json`.
//!
//! Files are written to a temporary name and renamed into place, weights first and metadata
//! last, so a crash mid-save never leaves a directory that loads as a different model: the
//! metadata records the weights' SHA-256 and `load` checks it.

use std::path::{Path, PathBuf};

use burn::store::{ModuleSnapshot, SafetensorsStore, SafetensorsStoreError};
use burn::tensor::Device;

use crate::ModelError;
use crate::classifier::{Classifier, TrainedModel};
use crate::fingerprint;
use crate::metadata::ModelMetadata;
use crate::network::Network;

/// File name of the weights inside a model directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// File name of the metadata inside a model directory.
pub const METADATA_FILE: &str = "metadata.json";

/// Writes `bytes` to `path` via a temporary file in the same directory and a rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let written = std::fs::write(&tmp, bytes)
        .map_err(|e| ModelError::io(&tmp, e))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| ModelError::io(path, e)));
    if written.is_err() {
        // A full disk leaves no partial file behind to keep it full.
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Keeps error messages from the store readable: it lists every mismatching tensor.
fn shorten(reason: &str) -> String {
    const MAX_CHARS: usize = 400;
    match reason.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}...", &reason[..cut]),
        None => reason.to_string(),
    }
}

/// Reads a file of a model directory; a missing file is [`ModelError::MissingFile`].
fn read_model_file(path: &Path) -> Result<Vec<u8>, ModelError> {
    std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ModelError::MissingFile {
            path: path.to_path_buf(),
        },
        _ => ModelError::io(path, e),
    })
}

fn weights_bytes(network: &Network) -> Result<Vec<u8>, ModelError> {
    let mut store = SafetensorsStore::from_bytes(None);
    network
        .save_into(&mut store)
        .map_err(|e| ModelError::Backend {
            reason: format!("serialising weights: {e}"),
        })?;
    store.get_bytes().map_err(|e| ModelError::Backend {
        reason: format!("serialising weights: {e}"),
    })
}

impl TrainedModel {
    /// Saves the model into `dir` (created if needed): [`WEIGHTS_FILE`] and [`METADATA_FILE`].
    /// Existing files of an older model in `dir` are replaced.
    pub fn save(&self, dir: &Path) -> Result<(), ModelError> {
        std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
        let weights = weights_bytes(self.classifier().network())?;
        let mut metadata = self.metadata().clone();
        metadata.weights_file = WEIGHTS_FILE.to_string();
        metadata.weights_sha256 = fingerprint::of_bytes(&weights);
        let json = serde_json::to_vec_pretty(&metadata).map_err(|e| ModelError::Backend {
            reason: format!("serialising metadata: {e}"),
        })?;
        write_atomically(&dir.join(WEIGHTS_FILE), &weights)?;
        write_atomically(&dir.join(METADATA_FILE), &json)
    }

    /// Loads a model saved by [`TrainedModel::save`].
    ///
    /// Errors: [`ModelError::MissingFile`] when a file is absent, [`ModelError::CorruptFile`]
    /// when metadata does not parse or the weights do not match their recorded SHA-256 or do
    /// not parse, [`ModelError::Mismatch`] when the model was made for another format version,
    /// architecture, class list or input shape, or its tensors do not fit the network.
    pub fn load(dir: &Path) -> Result<TrainedModel, ModelError> {
        let metadata_path = dir.join(METADATA_FILE);
        let metadata_bytes = read_model_file(&metadata_path)?;
        let metadata: ModelMetadata =
            serde_json::from_slice(&metadata_bytes).map_err(|e| ModelError::CorruptFile {
                path: metadata_path.clone(),
                reason: e.to_string(),
            })?;
        if let Some(reason) = metadata.incompatibility() {
            return Err(ModelError::Mismatch {
                path: metadata_path,
                reason,
            });
        }
        // A hand-edited or damaged calibration is refused, not ignored or served.
        if let Some(reason) = metadata.calibration.as_ref().and_then(|c| c.problem()) {
            return Err(ModelError::CorruptFile {
                path: metadata_path,
                reason,
            });
        }
        // Only a plain file name: metadata must not point outside the model directory.
        if metadata.weights_file != WEIGHTS_FILE {
            return Err(ModelError::Mismatch {
                path: metadata_path,
                reason: format!(
                    "weights_file {:?} (expected {WEIGHTS_FILE:?})",
                    metadata.weights_file
                ),
            });
        }
        let weights_path = dir.join(WEIGHTS_FILE);
        let weights = read_model_file(&weights_path)?;
        let actual = fingerprint::of_bytes(&weights);
        if actual != metadata.weights_sha256 {
            return Err(ModelError::CorruptFile {
                path: weights_path,
                reason: format!(
                    "SHA-256 is {actual}, metadata.json records {}",
                    metadata.weights_sha256
                ),
            });
        }

        let device = Device::flex();
        let mut network = Network::new(metadata.width, &device);
        let mut store = SafetensorsStore::from_bytes(Some(weights));
        let applied = network.load_from(&mut store).map_err(|e| match e {
            // The file parsed but its tensors have other shapes than this network's.
            SafetensorsStoreError::ValidationFailed(reason) => ModelError::Mismatch {
                path: weights_path.clone(),
                reason: shorten(&reason),
            },
            other => ModelError::CorruptFile {
                path: weights_path.clone(),
                reason: shorten(&other.to_string()),
            },
        })?;
        if !applied.errors.is_empty() || !applied.missing.is_empty() || !applied.unused.is_empty() {
            return Err(ModelError::Mismatch {
                path: weights_path,
                reason: format!(
                    "tensors do not fit the network: {} error(s) {:?}, missing {:?}, unused {:?}",
                    applied.errors.len(),
                    applied.errors.first().map(|e| e.to_string()),
                    applied.missing.iter().map(|(p, _)| p).collect::<Vec<_>>(),
                    applied.unused
                ),
            });
        }
        let mut classifier = Classifier::from_network(network, metadata.test_time_flip);
        if let Some(c) = &metadata.calibration {
            classifier = classifier.with_temperature(c.temperature);
        }
        Ok(TrainedModel::new(classifier, metadata))
    }
}
