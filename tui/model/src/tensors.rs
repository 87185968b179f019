//! Turning decoded images into the network's input tensor and logits back into numbers.

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::ModelError;
use crate::data::{CHANNELS, IMAGE_BYTES, IMAGE_SIDE};

/// Per-channel mean of CIFAR-100's training set (RGB, 0..1). Fixed constants rather than
/// statistics of our own split, so that a saved model needs no extra normalisation state.
const MEAN: [f32; CHANNELS] = [0.5071, 0.4865, 0.4409];
/// Per-channel standard deviation of CIFAR-100's training set.
const STD: [f32; CHANNELS] = [0.2673, 0.2564, 0.2762];

const PLANE: usize = IMAGE_SIDE * IMAGE_SIDE;

/// Appends one image (interleaved RGB bytes) to `out` as normalised planar floats (`CHW`).
pub(crate) fn push_normalized(pixels: &[u8; IMAGE_BYTES], out: &mut Vec<f32>) {
    let start = out.len();
    out.resize(start + IMAGE_BYTES, 0.0);
    let planes = &mut out[start..];
    for (i, rgb) in pixels.chunks_exact(CHANNELS).enumerate() {
        for c in 0..CHANNELS {
            planes[c * PLANE + i] = (f32::from(rgb[c]) / 255.0 - MEAN[c]) / STD[c];
        }
    }
}

/// A `[batch, 3, 32, 32]` tensor from normalised planar floats of `batch` images.
pub(crate) fn images_tensor(planar: Vec<f32>, batch: usize, device: &Device) -> Tensor<4> {
    Tensor::from_data(
        TensorData::new(planar, [batch, CHANNELS, IMAGE_SIDE, IMAGE_SIDE]),
        device,
    )
}

/// A `[batch]` tensor of class indices.
pub(crate) fn labels_tensor(labels: &[usize], device: &Device) -> Tensor<1, Int> {
    let labels: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
    let len = labels.len();
    Tensor::from_data(TensorData::new(labels, [len]), device)
}

/// The values of a float tensor, in row-major order.
pub(crate) fn values<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, ModelError> {
    tensor
        .into_data()
        .try_into_vec::<f32>()
        .map_err(|e| ModelError::Backend {
            reason: format!("{e:?}"),
        })
}

/// The scalar value of a one-element tensor.
pub(crate) fn scalar(tensor: Tensor<1>) -> Result<f32, ModelError> {
    values(tensor)?
        .first()
        .copied()
        .ok_or_else(|| ModelError::Backend {
            reason: "empty scalar tensor".to_string(),
        })
}
