//! The network: a small residual CNN for 32x32 RGB images (after Page's "ResNet-9" for
//! fast CIFAR training, narrowed so that an epoch of 1000 images fits a few seconds on 2 CPU
//! cores).
//!
//! ```text
//! prep    conv3x3(3 -> w)       BN ReLU                      32x32
//! layer1  conv3x3(w -> 2w)      BN ReLU maxpool2  + residual 16x16
//! layer2  conv3x3(2w -> 4w)     BN ReLU maxpool2             8x8
//! layer3  conv3x3(4w -> 8w)     BN ReLU maxpool2  + residual 4x4
//! head    global max pool, linear(8w -> 2), scaled by 1/8
//! ```

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor, activation};

/// Number of output classes.
pub const NUM_CLASSES: usize = 2;

/// The classifier's logits are multiplied by this: it keeps the initial logits small, which
/// Page found to stabilise early training of this architecture.
const LOGIT_SCALE: f32 = 0.125;

/// conv3x3 (no bias: the batch norm's beta plays that role) + batch norm + ReLU.
#[derive(Module, Debug)]
pub struct ConvBlock {
    conv: Conv2d,
    norm: BatchNorm,
}

impl ConvBlock {
    fn new(input: usize, output: usize, device: &Device) -> ConvBlock {
        ConvBlock {
            conv: Conv2dConfig::new([input, output], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(false)
                .init(device),
            norm: BatchNormConfig::new(output).init(device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        activation::relu(self.norm.forward(self.conv.forward(x)))
    }

    pub(crate) fn conv(&self) -> &Conv2d {
        &self.conv
    }

    pub(crate) fn norm(&self) -> &BatchNorm {
        &self.norm
    }
}

/// Two conv blocks with an identity shortcut around them.
#[derive(Module, Debug)]
pub struct Residual {
    first: ConvBlock,
    second: ConvBlock,
}

impl Residual {
    fn new(channels: usize, device: &Device) -> Residual {
        Residual {
            first: ConvBlock::new(channels, channels, device),
            second: ConvBlock::new(channels, channels, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.second.forward(self.first.forward(x.clone()));
        x + y
    }

    pub(crate) fn blocks(&self) -> (&ConvBlock, &ConvBlock) {
        (&self.first, &self.second)
    }
}

/// The layers of a [`Network`], borrowed (for [`crate::serving::ServingNetwork`]).
pub(crate) struct NetworkParts<'a> {
    pub prep: &'a ConvBlock,
    pub layer1: &'a ConvBlock,
    pub res1: &'a Residual,
    pub layer2: &'a ConvBlock,
    pub layer3: &'a ConvBlock,
    pub res3: &'a Residual,
    pub head: &'a Linear,
    pub logit_scale: f32,
}

/// The whole network; see the module docs for its shape.
#[derive(Module, Debug)]
pub struct Network {
    prep: ConvBlock,
    layer1: ConvBlock,
    res1: Residual,
    layer2: ConvBlock,
    layer3: ConvBlock,
    res3: Residual,
    pool: MaxPool2d,
    head: Linear,
}

impl Network {
    /// A freshly initialised network with base width `width` (channels of the first layer).
    pub fn new(width: usize, device: &Device) -> Network {
        let w = width;
        Network {
            prep: ConvBlock::new(3, w, device),
            layer1: ConvBlock::new(w, 2 * w, device),
            res1: Residual::new(2 * w, device),
            layer2: ConvBlock::new(2 * w, 4 * w, device),
            layer3: ConvBlock::new(4 * w, 8 * w, device),
            res3: Residual::new(8 * w, device),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            head: LinearConfig::new(8 * w, NUM_CLASSES).init(device),
        }
    }

    /// Logits `[batch, 2]` for normalised images `[batch, 3, 32, 32]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.prep.forward(images);
        let x = self.pool.forward(self.layer1.forward(x));
        let x = self.res1.forward(x);
        let x = self.pool.forward(self.layer2.forward(x));
        let x = self.pool.forward(self.layer3.forward(x));
        let x = self.res3.forward(x);
        let [batch, channels, height, width] = x.dims();
        // Global max pool over the remaining 4x4 positions.
        let x = x
            .reshape([batch, channels, height * width])
            .max_dim(2)
            .reshape([batch, channels]);
        self.head.forward(x).mul_scalar(LOGIT_SCALE)
    }

    pub(crate) fn parts(&self) -> NetworkParts<'_> {
        NetworkParts {
            prep: &self.prep,
            layer1: &self.layer1,
            res1: &self.res1,
            layer2: &self.layer2,
            layer3: &self.layer3,
            res3: &self.res3,
            head: &self.head,
            logit_scale: LOGIT_SCALE,
        }
    }

    /// The same network with random batch-norm statistics and affine parameters (a fresh
    /// network's are the identity, which would hide a wrong fold).
    #[cfg(test)]
    pub(crate) fn with_random_norm_statistics(self, seed: u64) -> Network {
        use burn::module::{Param, RunningState};
        use burn::tensor::Distribution;

        let device = Device::flex();
        device.seed(seed);
        let randomise = |block: ConvBlock| {
            let [channels] = block.norm.gamma.dims();
            let uniform = |low, high| {
                Tensor::<1>::random([channels], Distribution::Uniform(low, high), &device)
            };
            let mut norm = block.norm;
            norm.gamma = Param::from_tensor(uniform(0.5, 1.5));
            norm.beta = Param::from_tensor(uniform(-0.5, 0.5));
            norm.running_mean = RunningState::new(uniform(-0.5, 0.5));
            norm.running_var = RunningState::new(uniform(0.5, 2.0));
            ConvBlock { norm, ..block }
        };
        let residual = |r: Residual| Residual {
            first: randomise(r.first),
            second: randomise(r.second),
        };
        Network {
            prep: randomise(self.prep),
            layer1: randomise(self.layer1),
            res1: residual(self.res1),
            layer2: randomise(self.layer2),
            layer3: randomise(self.layer3),
            res3: residual(self.res3),
            ..self
        }
    }
}
