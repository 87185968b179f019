//! Inference: a trained network on the CPU backend, answering images with
//! `[p_bicycle, p_motorcycle]`.

use burn::tensor::{Device, Tensor};

use crate::ModelError;
use crate::data::{IMAGE_BYTES, LabeledImage, RgbImage};
use crate::metadata::ModelMetadata;
use crate::network::Network;
use crate::tensors::{images_tensor, labels_tensor, probabilities, push_normalized, scalar};

/// Images per forward pass when scoring many images: large enough to amortise per-call
/// overhead, small enough to keep activations a few MB.
const EVAL_BATCH: usize = 128;

/// A network ready for inference (no autodiff, batch norm in inference mode).
///
/// `Classifier` is `Send + Sync` (checked at compile time below) and every method takes
/// `&self`, so one instance in an `Arc` serves many tokio tasks at once. A forward pass is
/// CPU-bound (well under a millisecond for one image), so async callers with many concurrent
/// requests should call it from `tokio::task::spawn_blocking` or accept the short block.
#[derive(Debug, Clone)]
pub struct Classifier {
    network: Network,
    test_time_flip: bool,
    device: Device,
}

/// Loss and accuracy over a labelled subset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Score {
    pub loss: f32,
    pub accuracy: f32,
}

impl Classifier {
    pub(crate) fn from_network(network: Network, test_time_flip: bool) -> Classifier {
        Classifier {
            network,
            test_time_flip,
            device: Device::flex(),
        }
    }

    pub(crate) fn network(&self) -> &Network {
        &self.network
    }

    /// Whether predictions average the image and its mirror image.
    pub fn test_time_flip(&self) -> bool {
        self.test_time_flip
    }

    /// The same weights with flip averaging switched on or off. Averaging costs a second
    /// forward pass (about twice the latency) for a slightly better accuracy; the saved
    /// model's setting is the default.
    pub fn with_test_time_flip(mut self, enabled: bool) -> Classifier {
        self.test_time_flip = enabled;
        self
    }

    /// `[p_bicycle, p_motorcycle]` for PNG bytes (decode + forward).
    ///
    /// Errors: [`ModelError::ImageDecode`] for bytes that are not a PNG,
    /// [`ModelError::ImageSize`] for a PNG that is not 32x32.
    pub fn predict_png(&self, png: &[u8]) -> Result<[f32; 2], ModelError> {
        let image = RgbImage::decode_png(png)?;
        self.predict_image(&image)
    }

    /// `[p_bicycle, p_motorcycle]` for one decoded image.
    pub fn predict_image(&self, image: &RgbImage) -> Result<[f32; 2], ModelError> {
        self.predict_batch(std::slice::from_ref(image))?
            .first()
            .copied()
            .ok_or_else(|| ModelError::Backend {
                reason: "forward pass returned no rows".to_string(),
            })
    }

    /// `[p_bicycle, p_motorcycle]` for each image, in order.
    pub fn predict_batch(&self, images: &[RgbImage]) -> Result<Vec<[f32; 2]>, ModelError> {
        let mut out = Vec::with_capacity(images.len());
        for chunk in images.chunks(EVAL_BATCH) {
            let mut planar = Vec::with_capacity(chunk.len() * IMAGE_BYTES);
            for image in chunk {
                push_normalized(image.as_bytes(), &mut planar);
            }
            let inputs = images_tensor(planar, chunk.len(), &self.device);
            out.extend(probabilities(self.logits(inputs))?);
        }
        Ok(out)
    }

    /// Logits for a batch; with test-time flip, the mean of the logits of the image and its
    /// mirror image (averaging before the softmax keeps the output a proper distribution).
    fn logits(&self, inputs: Tensor<4>) -> Tensor<2> {
        if self.test_time_flip {
            let mirrored = inputs.clone().flip([3]);
            let batch = inputs.dims()[0];
            let both = self.network.forward(Tensor::cat(vec![inputs, mirrored], 0));
            let plain = both.clone().narrow(0, 0, batch);
            let flipped = both.narrow(0, batch, batch);
            (plain + flipped).mul_scalar(0.5)
        } else {
            self.network.forward(inputs)
        }
    }

    /// Mean cross-entropy and accuracy over `images[indices]` (used for validation).
    pub(crate) fn score(
        &self,
        images: &[LabeledImage],
        indices: &[usize],
    ) -> Result<Score, ModelError> {
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for chunk in indices.chunks(EVAL_BATCH) {
            let mut planar = Vec::with_capacity(chunk.len() * IMAGE_BYTES);
            let mut labels = Vec::with_capacity(chunk.len());
            for &i in chunk {
                let example = images.get(i).ok_or_else(|| ModelError::Backend {
                    reason: format!("validation index {i} out of range"),
                })?;
                push_normalized(example.image.as_bytes(), &mut planar);
                labels.push(example.label.index());
            }
            let logits = self.logits(images_tensor(planar, chunk.len(), &self.device));
            let targets = labels_tensor(&labels, &self.device);
            let loss = burn::nn::loss::CrossEntropyLossConfig::new()
                .init(&self.device)
                .forward(logits.clone(), targets);
            loss_sum += f64::from(scalar(loss)?) * chunk.len() as f64;
            for (probs, &label) in probabilities(logits)?.iter().zip(&labels) {
                if predicted_index(probs) == label {
                    correct += 1;
                }
            }
            seen += chunk.len();
        }
        Ok(Score {
            loss: (loss_sum / seen.max(1) as f64) as f32,
            accuracy: correct as f32 / seen.max(1) as f32,
        })
    }
}

/// Index of the larger probability (ties go to bicycle, index 0).
pub(crate) fn predicted_index(probs: &[f32; 2]) -> usize {
    usize::from(probs[1] > probs[0])
}

/// A trained classifier together with what is known about how it was made.
#[derive(Debug, Clone)]
pub struct TrainedModel {
    classifier: Classifier,
    metadata: ModelMetadata,
}

impl TrainedModel {
    pub(crate) fn new(classifier: Classifier, metadata: ModelMetadata) -> TrainedModel {
        TrainedModel {
            classifier,
            metadata,
        }
    }

    /// The classifier, for predictions.
    pub fn classifier(&self) -> &Classifier {
        &self.classifier
    }

    /// Consumes the model, keeping only the classifier (e.g. to put it in an `Arc`).
    pub fn into_classifier(self) -> Classifier {
        self.classifier
    }

    /// How the model was trained and how well it validated.
    pub fn metadata(&self) -> &ModelMetadata {
        &self.metadata
    }

    /// Mutable metadata, e.g. to replace the data fingerprint with one computed over the
    /// original files before saving.
    pub fn metadata_mut(&mut self) -> &mut ModelMetadata {
        &mut self.metadata
    }
}

/// Compile-time proof of the concurrency contract documented on [`Classifier`].
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Classifier>();
    assert_send_sync::<TrainedModel>();
};
