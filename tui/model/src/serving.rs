//! The network compiled for serving: batch norms folded into the convs, weights copied into
//! plain matrices, and a forward pass of one image as im2col + one matrix product per conv
//! (the `gemm` crate, which burn's CPU backend also uses: ~20% faster than
//! matrixmultiply on these small products, measured with `cargo bench --bench inference`).
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

use std::cell::RefCell;

use burn::module::Module;
use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;

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
    /// `[outputs, inputs * 9]` row-major, columns ordered (input channel, ky, kx) like
    /// im2col's rows.
    weight: Vec<f32>,
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
        if weight.len() != outputs * row {
            return Err(shape_error("conv weight"));
        }
        let mut folded = weight;
        let mut bias = Vec::with_capacity(outputs);
        for (o, weights) in folded.chunks_exact_mut(row).enumerate() {
            let scale = gamma[o] / (var[o] + norm.epsilon as f32).sqrt();
            for w in weights {
                *w *= scale;
            }
            bias.push(beta[o] - mean[o] * scale);
        }
        Ok(FoldedConv {
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

    /// conv + bias + ReLU of `x` (which must have the conv's input channel count).
    fn forward(&self, x: &Planes, cols: &mut Vec<f32>) -> Planes {
        let mut data = self.products(x, cols);
        bias_relu(&mut data, &self.bias);
        Planes {
            channels: self.outputs(),
            side: x.side,
            data,
        }
    }

    /// conv + bias + ReLU + 2x2 max pool of `x`, pooling before the bias and ReLU: both are
    /// monotonic, so `pool(relu(v + b)) == relu(pool(v) + b)`, on a quarter of the values.
    fn forward_pooled(&self, x: &Planes, cols: &mut Vec<f32>) -> Planes {
        let products = self.products(x, cols);
        let mut data = max_pool_2x2(&products, x.side);
        bias_relu(&mut data, &self.bias);
        Planes {
            channels: self.outputs(),
            side: x.side / 2,
            data,
        }
    }

    /// The conv's raw products `[outputs, side * side]`, before bias and ReLU.
    fn products(&self, x: &Planes, cols: &mut Vec<f32>) -> Vec<f32> {
        // A channel count that does not match the weights fails matmul's shape check.
        let k = x.channels * 9;
        let positions = x.plane_len();
        // The buffer only grows: im2col writes every element it hands to the product.
        if cols.len() < k * positions {
            cols.resize(k * positions, 0.0);
        }
        let cols = &mut cols[..k * positions];
        im2col_3x3(x, cols);
        let mut data = vec![0.0f32; self.outputs() * positions];
        matmul(&self.weight, cols, &mut data, k);
        data
    }
}

/// Adds each plane's bias, then ReLU.
fn bias_relu(data: &mut [f32], bias: &[f32]) {
    let plane = data.len() / bias.len().max(1);
    for (values, &b) in data.chunks_exact_mut(plane.max(1)).zip(bias) {
        for v in values {
            *v = (*v + b).max(0.0);
        }
    }
}

/// `out = lhs x rhs` for row-major `lhs` `[m, k]`, `rhs` `[k, n]` and `out` `[m, n]`, with
/// `m` and `n` implied by the lengths. Single-threaded: the endpoint runs many requests
/// side by side, so one request must not fan out over the cores.
// The workspace's one use of `unsafe` (workspace lints deny it elsewhere): gemm's kernels
// take raw pointers and strides; a safe wrapper would copy or re-check every product.
#[allow(unsafe_code)]
fn matmul(lhs: &[f32], rhs: &[f32], out: &mut [f32], k: usize) {
    let m = lhs.len() / k.max(1);
    let n = rhs.len() / k.max(1);
    // The bounds gemm reads and writes through raw pointers; a compiled network always meets
    // them (its shapes are checked at compile time), so a failure here is a bug, not input.
    assert!(
        k > 0 && lhs.len() == m * k && rhs.len() == k * n && out.len() == m * n,
        "matmul shapes: lhs {} rhs {} out {} k {k}",
        lhs.len(),
        rhs.len(),
        out.len()
    );
    // SAFETY: the assert above keeps every access in bounds: row-major strides (column
    // stride 1, row strides k, n and n) over slices of exactly m*k, k*n and m*n elements;
    // `out` is borrowed mutably, so it aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            // Overwrite `out` (gemm computes alpha * out + beta * lhs * rhs).
            false,
            lhs.as_ptr(),
            1,
            k as isize,
            rhs.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// The im2col matrix of a 3x3, padding-1 conv into `cols` (`channels * 9` rows of
/// `side * side`): row `(c, ky, kx)` holds, for every output position, the input pixel under
/// that kernel tap (0 outside the image). Every element is written, so `cols` may hold
/// anything before.
fn im2col_3x3(x: &Planes, cols: &mut [f32]) {
    // The network's sides as constants: the row copies become a few vector moves instead
    // of thousands of memcpy calls on 4- and 8-float rows (measured: a tenth of a pass).
    match x.side {
        32 => im2col_rows(x, cols, 32),
        16 => im2col_rows(x, cols, 16),
        8 => im2col_rows(x, cols, 8),
        4 => im2col_rows(x, cols, 4),
        side => im2col_rows(x, cols, side),
    }
}

#[inline(always)]
fn im2col_rows(x: &Planes, cols: &mut [f32], side: usize) {
    let positions = side * side;
    let taps = cols.chunks_exact_mut(positions);
    let sources = x
        .data
        .chunks_exact(positions)
        .flat_map(|plane| (0..9).map(move |tap| (plane, tap / 3, tap % 3)));
    for (row, (plane, ky, kx)) in taps.zip(sources) {
        for (y, dst) in row.chunks_exact_mut(side).enumerate() {
            // Source row y + ky - 1; rows outside the image are zero.
            let Some(sy) = (y + ky).checked_sub(1).filter(|&sy| sy < side) else {
                dst.fill(0.0);
                continue;
            };
            let src = &plane[sy * side..(sy + 1) * side];
            match kx {
                0 => {
                    dst[0] = 0.0;
                    dst[1..].copy_from_slice(&src[..side - 1]);
                }
                1 => dst.copy_from_slice(src),
                _ => {
                    dst[..side - 1].copy_from_slice(&src[1..]);
                    dst[side - 1] = 0.0;
                }
            }
        }
    }
}

/// 2x2 max pool, stride 2, of stacked `side x side` planes.
fn max_pool_2x2(data: &[f32], side: usize) -> Vec<f32> {
    let half = side / 2;
    let mut out = vec![0.0f32; data.len() / 4];
    // Planes are stacked and `side` is even, so pairs of rows never straddle two planes.
    for (rows, dst) in data.chunks_exact(2 * side).zip(out.chunks_exact_mut(half)) {
        let (top, bottom) = rows.split_at(side);
        for ((d, t), b) in dst
            .iter_mut()
            .zip(top.chunks_exact(2))
            .zip(bottom.chunks_exact(2))
        {
            *d = t[0].max(t[1]).max(b[0].max(b[1]));
        }
    }
    out
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

    fn forward(&self, x: Planes, cols: &mut Vec<f32>) -> Planes {
        let [first, second] = &self.0;
        let mut y = second.forward(&first.forward(&x, cols), cols);
        for (v, skip) in y.data.iter_mut().zip(&x.data) {
            *v += skip;
        }
        y
    }
}

thread_local! {
    /// The im2col buffer (up to ~300 KB), kept per thread between images: allocating it per
    /// image would cost a large, page-faulting allocation every time.
    static IM2COL: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
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
    /// `[features, classes]` row-major, burn's `Linear` layout.
    head_weight: Vec<f32>,
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
        let head_weight = values(head.weight.val())?;
        if head_weight.len() != features * classes {
            return Err(shape_error("head weight"));
        }
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
        IM2COL.with_borrow_mut(|cols| {
            let x = Planes {
                channels: CHANNELS,
                side: IMAGE_SIDE,
                data: image.to_vec(),
            };
            let x = self.prep.forward(&x, cols);
            let x = self.layer1.forward_pooled(&x, cols);
            let x = self.res1.forward(x, cols);
            let x = self.layer2.forward_pooled(&x, cols);
            let x = self.layer3.forward_pooled(&x, cols);
            let x = self.res3.forward(x, cols);
            self.head(&x)
        })
    }

    /// Global max pool, then the linear head.
    fn head(&self, x: &Planes) -> [f32; NUM_CLASSES] {
        let mut logits = [0.0f32; NUM_CLASSES];
        for (class, logit) in logits.iter_mut().enumerate() {
            let mut sum = self.head_bias[class];
            for (feature, plane) in x.data.chunks_exact(x.plane_len()).enumerate() {
                let max = plane.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                sum += max * self.head_weight[feature * NUM_CLASSES + class];
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
