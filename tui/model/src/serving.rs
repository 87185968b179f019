//! The network compiled for serving: batch norms folded into the convs, weights copied into
//! plain matrices, and a forward pass of one image as im2col + one matrix product per conv.
//!
//! Why not burn's forward: at one 32x32 image, burn's CPU backend spends most of a forward
//! pass on per-op fixed costs (allocating every intermediate tensor, tiling im2col, rayon
//! dispatch across threads), not on arithmetic: measured ~1.2 ms per image, while the whole
//! network is ~6 M multiply-adds. The local endpoint answers one image per request and runs
//! many requests side by side, so serving wants a lean single-threaded pass; training (large
//! batches, autodiff) stays on burn. A test checks this pass against burn's forward.
//!
//! Folding: in inference a batch norm is a fixed per-channel affine map,
//! `y = (x - mean) / sqrt(var + eps) * gamma + beta`, so with `s = gamma / sqrt(var + eps)`
//! the conv before it becomes `w' = w * s`, `b' = beta - mean * s` (per output channel).

use burn::module::Module;
use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2};

use crate::ModelError;
use crate::data::{CHANNELS, IMAGE_SIDE};
use crate::network::{ConvBlock, NUM_CLASSES, Network, Residual};
use crate::tensors::values;

fn shape_error(what: &str) -> ModelError {
    ModelError::Backend {
        reason: format!("unexpected {what} shape while compiling the network for serving"),
    }
}

/// An activation map: `channels` planes of `side x side`, row-major.
#[derive(Debug, Clone)]
struct Planes {
    channels: usize,
    side: usize,
    data: Vec<f32>,
}

impl Planes {
    fn plane_len(&self) -> usize {
        self.side * self.side
    }
}

/// A 3x3 conv (stride 1, padding 1) with its batch norm folded in, then ReLU.
#[derive(Debug, Clone)]
struct FoldedConv {
    inputs: usize,
    /// `[outputs, inputs * 9]`, columns ordered (input channel, ky, kx) like im2col's rows.
    weight: Array2<f32>,
    bias: Vec<f32>,
}

impl FoldedConv {
    fn new(conv: &Conv2d, norm: &BatchNorm) -> Result<FoldedConv, ModelError> {
        let [outputs, inputs, kh, kw] = conv.weight.dims();
        if [kh, kw] != [3, 3] || conv.stride != [1, 1] || conv.groups != 1 {
            return Err(shape_error("conv"));
        }
        let weight = values(conv.weight.val())?;
        let gamma = values(norm.gamma.val())?;
        let beta = values(norm.beta.val())?;
        let mean = values(norm.running_mean.value())?;
        let var = values(norm.running_var.value())?;
        if [gamma.len(), beta.len(), mean.len(), var.len()] != [outputs; 4] {
            return Err(shape_error("batch norm"));
        }
        let row = inputs * 9;
        let mut folded = Array2::<f32>::zeros((outputs, row));
        let mut bias = Vec::with_capacity(outputs);
        for o in 0..outputs {
            let scale = gamma[o] / (var[o] + norm.epsilon as f32).sqrt();
            for (dst, w) in folded
                .row_mut(o)
                .iter_mut()
                .zip(&weight[o * row..(o + 1) * row])
            {
                *dst = w * scale;
            }
            bias.push(beta[o] - mean[o] * scale);
        }
        Ok(FoldedConv {
            inputs,
            weight: folded,
            bias,
        })
    }

    fn of(block: &ConvBlock) -> Result<FoldedConv, ModelError> {
        FoldedConv::new(block.conv(), block.norm())
    }

    fn outputs(&self) -> usize {
        self.bias.len()
    }

    /// conv + bias + ReLU of `x` (which must have `self.inputs` channels).
    fn forward(&self, x: &Planes, scratch: &mut Vec<f32>) -> Planes {
        let side = x.side;
        let positions = x.plane_len();
        im2col_3x3(x, scratch);
        let cols = ArrayView2::from_shape((self.inputs * 9, positions), &scratch[..])
            .expect("im2col fills inputs * 9 rows of side * side");
        let mut data = vec![0.0f32; self.outputs() * positions];
        let mut out = ArrayViewMut2::from_shape((self.outputs(), positions), &mut data[..])
            .expect("outputs x positions buffer");
        general_mat_mul(1.0, &self.weight, &cols, 0.0, &mut out);
        for (plane, &b) in data.chunks_exact_mut(positions).zip(&self.bias) {
            for v in plane {
                *v = (*v + b).max(0.0);
            }
        }
        Planes {
            channels: self.outputs(),
            side,
            data,
        }
    }
}

/// The im2col matrix of a 3x3, padding-1 conv: row `(c, ky, kx)` holds, for every output
/// position, the input pixel under that kernel tap (0 outside the image).
fn im2col_3x3(x: &Planes, cols: &mut Vec<f32>) {
    let side = x.side;
    let positions = x.plane_len();
    cols.clear();
    cols.resize(x.channels * 9 * positions, 0.0);
    for (c, plane) in x.data.chunks_exact(positions).enumerate() {
        for ky in 0..3 {
            for kx in 0..3 {
                let row = &mut cols[((c * 9) + ky * 3 + kx) * positions..][..positions];
                for y in 0..side {
                    // Source row y + ky - 1; rows outside the image stay zero.
                    let Some(sy) = (y + ky).checked_sub(1).filter(|&sy| sy < side) else {
                        continue;
                    };
                    let src = &plane[sy * side..(sy + 1) * side];
                    let dst = &mut row[y * side..(y + 1) * side];
                    match kx {
                        0 => dst[1..].copy_from_slice(&src[..side - 1]),
                        1 => dst.copy_from_slice(src),
                        _ => dst[..side - 1].copy_from_slice(&src[1..]),
                    }
                }
            }
        }
    }
}

/// 2x2 max pool, stride 2.
fn max_pool_2x2(x: &Planes) -> Planes {
    let side = x.side / 2;
    let mut data = Vec::with_capacity(x.channels * side * side);
    for plane in x.data.chunks_exact(x.plane_len()) {
        for y in 0..side {
            let top = &plane[2 * y * x.side..][..x.side];
            let bottom = &plane[(2 * y + 1) * x.side..][..x.side];
            for xx in 0..side {
                let a = top[2 * xx].max(top[2 * xx + 1]);
                let b = bottom[2 * xx].max(bottom[2 * xx + 1]);
                data.push(a.max(b));
            }
        }
    }
    Planes {
        channels: x.channels,
        side,
        data,
    }
}

/// Two folded convs with an identity shortcut around them.
#[derive(Debug, Clone)]
struct FoldedResidual([FoldedConv; 2]);

impl FoldedResidual {
    fn of(residual: &Residual) -> Result<FoldedResidual, ModelError> {
        let (first, second) = residual.blocks();
        Ok(FoldedResidual([
            FoldedConv::of(first)?,
            FoldedConv::of(second)?,
        ]))
    }

    fn forward(&self, x: Planes, scratch: &mut Vec<f32>) -> Planes {
        let [first, second] = &self.0;
        let mut y = second.forward(&first.forward(&x, scratch), scratch);
        for (v, skip) in y.data.iter_mut().zip(&x.data) {
            *v += skip;
        }
        y
    }
}

/// [`Network`] compiled for serving (see the module docs); same logits as
/// [`Network::forward`] in inference mode, to float rounding.
#[derive(Debug, Clone)]
pub(crate) struct ServingNetwork {
    prep: FoldedConv,
    layer1: FoldedConv,
    res1: FoldedResidual,
    layer2: FoldedConv,
    layer3: FoldedConv,
    res3: FoldedResidual,
    /// `[features, classes]`, burn's `Linear` layout.
    head_weight: Array2<f32>,
    head_bias: Vec<f32>,
    logit_scale: f32,
}

impl ServingNetwork {
    pub(crate) fn compile(network: &Network) -> Result<ServingNetwork, ModelError> {
        let parts = network.parts();
        let head = parts.head.clone().no_grad();
        let [features, classes] = head.weight.dims();
        if classes != NUM_CLASSES {
            return Err(shape_error("head"));
        }
        let head_weight = Array2::from_shape_vec((features, classes), values(head.weight.val())?)
            .map_err(|_| shape_error("head weight"))?;
        let head_bias = match &head.bias {
            Some(b) => values(b.val())?,
            None => vec![0.0; classes],
        };
        Ok(ServingNetwork {
            prep: FoldedConv::of(parts.prep)?,
            layer1: FoldedConv::of(parts.layer1)?,
            res1: FoldedResidual::of(parts.res1)?,
            layer2: FoldedConv::of(parts.layer2)?,
            layer3: FoldedConv::of(parts.layer3)?,
            res3: FoldedResidual::of(parts.res3)?,
            head_weight,
            head_bias,
            logit_scale: parts.logit_scale,
        })
    }

    /// Logits of one normalised planar image (`3 x 32 x 32` floats, as
    /// [`crate::tensors::push_normalized`] lays it out).
    pub(crate) fn logits(&self, image: &[f32]) -> [f32; NUM_CLASSES] {
        let mut scratch = Vec::new();
        let x = Planes {
            channels: CHANNELS,
            side: IMAGE_SIDE,
            data: image.to_vec(),
        };
        let x = self.prep.forward(&x, &mut scratch);
        let x = max_pool_2x2(&self.layer1.forward(&x, &mut scratch));
        let x = self.res1.forward(x, &mut scratch);
        let x = max_pool_2x2(&self.layer2.forward(&x, &mut scratch));
        let x = max_pool_2x2(&self.layer3.forward(&x, &mut scratch));
        let x = self.res3.forward(x, &mut scratch);
        // Global max pool, then the linear head.
        let mut logits = [0.0f32; NUM_CLASSES];
        for (class, logit) in logits.iter_mut().enumerate() {
            let mut sum = self.head_bias[class];
            for (feature, plane) in x.data.chunks_exact(x.plane_len()).enumerate() {
                let max = plane.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                sum += max * self.head_weight[[feature, class]];
            }
            *logit = sum * self.logit_scale;
        }
        logits
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor};

    use super::ServingNetwork;
    use crate::data::IMAGE_BYTES;
    use crate::network::Network;

    /// The compiled pass must answer what burn's forward answers, with non-trivial batch-norm
    /// statistics (a fresh network's are the identity, which would hide a wrong fold).
    #[test]
    fn serving_network_matches_burns_forward() {
        let device = Device::flex();
        let network = Network::new(8, &device).with_random_norm_statistics(7);
        let images = Tensor::<4>::random([4, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
        let expected = crate::tensors::values(network.forward(images.clone())).expect("logits");
        let pixels = crate::tensors::values(images).expect("images");
        let serving = ServingNetwork::compile(&network).expect("compiles");
        let got: Vec<f32> = pixels
            .chunks_exact(IMAGE_BYTES)
            .flat_map(|image| serving.logits(image))
            .collect();
        let largest = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(largest > 1e-3, "logits are all ~0: {expected:?}");
        for (e, g) in expected.iter().zip(&got) {
            assert!(
                (e - g).abs() <= 1e-4 * largest.max(1.0),
                "{expected:?} vs {got:?}"
            );
        }
    }
}
