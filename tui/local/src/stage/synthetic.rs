//! A generated stand-in dataset for when there is no CIFAR data and no network, so the
//! workflow still runs end to end. The two classes differ in a way a CNN learns quickly
//! (bicycles: thin dark rings on a light background — two wheels; motorcycles: a solid dark
//! blob with a warm tint), with noise so that confidence varies from image to image.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{Split, StagedImage};

/// How many synthetic images to make, and from which seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticSpec {
    /// Images per class in `train/`.
    pub train_per_class: usize,
    /// Images per class in `test/`.
    pub test_per_class: usize,
    /// Same seed, same images.
    pub seed: u64,
}

impl Default for SyntheticSpec {
    /// The size of the real subset: 500 + 500 train, 100 + 100 test.
    fn default() -> Self {
        SyntheticSpec {
            train_per_class: 500,
            test_per_class: 100,
            seed: 7,
        }
    }
}

const SIDE: u32 = 32;

pub(crate) fn generate(spec: &SyntheticSpec) -> Vec<StagedImage> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let mut images = Vec::new();
    for (split, per_class) in [
        (Split::Train, spec.train_per_class),
        (Split::Test, spec.test_per_class),
    ] {
        for label in [0u8, 1u8] {
            let class = if label == 0 { "bicycle" } else { "motorcycle" };
            for i in 0..per_class {
                let rgb = if label == 0 {
                    rings(&mut rng)
                } else {
                    blob(&mut rng)
                };
                images.push(StagedImage {
                    split,
                    filename: format!("synthetic_{class}_{i:05}.png"),
                    label,
                    png: encode(&rgb),
                });
            }
        }
    }
    images
}

fn canvas(rng: &mut StdRng, base: [f32; 3]) -> Vec<f32> {
    let mut px = Vec::with_capacity((SIDE * SIDE * 3) as usize);
    for _ in 0..SIDE * SIDE {
        for c in base {
            px.push(c + rng.random_range(-30.0..30.0));
        }
    }
    px
}

fn paint(px: &mut [f32], x: i32, y: i32, color: [f32; 3], alpha: f32) {
    if !(0..SIDE as i32).contains(&x) || !(0..SIDE as i32).contains(&y) {
        return;
    }
    let i = ((y as u32 * SIDE + x as u32) * 3) as usize;
    if let Some(p) = px.get_mut(i..i + 3) {
        for (v, c) in p.iter_mut().zip(color) {
            *v = *v * (1.0 - alpha) + c * alpha;
        }
    }
}

/// Two rings side by side (wheels) on a light background.
fn rings(rng: &mut StdRng) -> Vec<f32> {
    let mut px = canvas(rng, [200.0, 205.0, 210.0]);
    let radius = rng.random_range(4.0..6.5f32);
    let cy = rng.random_range(12.0..20.0f32);
    let gap = rng.random_range(2.0 * radius + 1.0..2.0 * radius + 4.0);
    // Keep both wheels mostly inside the 32x32 canvas; ranges are never empty for the radii
    // and gaps above, but clamp rather than trust arithmetic with a random draw.
    let (lo, hi) = (radius, 32.0 - radius - gap);
    let cx = if hi > lo {
        rng.random_range(lo..hi)
    } else {
        lo
    };
    let strength = rng.random_range(0.45..1.0f32);
    for (wx, wy) in [(cx, cy), (cx + gap, cy)] {
        for y in 0..SIDE as i32 {
            for x in 0..SIDE as i32 {
                let d = ((x as f32 - wx).powi(2) + (y as f32 - wy).powi(2)).sqrt();
                if (d - radius).abs() < 1.0 {
                    paint(&mut px, x, y, [30.0, 30.0, 35.0], strength);
                }
            }
        }
    }
    px
}

/// A solid dark, warm-tinted blob (engine and fairing).
fn blob(rng: &mut StdRng) -> Vec<f32> {
    let mut px = canvas(rng, [170.0, 160.0, 150.0]);
    let w = rng.random_range(10.0..18.0f32);
    let h = rng.random_range(6.0..12.0f32);
    // w <= 18 and h <= 12, so both ranges are non-empty.
    let cx = rng.random_range(w / 2.0 + 1.0..31.0 - w / 2.0);
    let cy = rng.random_range(h / 2.0 + 1.0..31.0 - h / 2.0);
    let strength = rng.random_range(0.45..1.0f32);
    for y in 0..SIDE as i32 {
        for x in 0..SIDE as i32 {
            let dx = (x as f32 - cx) / (w / 2.0);
            let dy = (y as f32 - cy) / (h / 2.0);
            if dx * dx + dy * dy <= 1.0 {
                paint(&mut px, x, y, [120.0, 40.0, 30.0], strength);
            }
        }
    }
    px
}

fn encode(px: &[f32]) -> Vec<u8> {
    let bytes: Vec<u8> = px.iter().map(|v| v.clamp(0.0, 255.0) as u8).collect();
    let mut png = Vec::new();
    // Encoding a well-formed in-memory 32x32 RGB buffer cannot fail; an empty file would be
    // caught by the stage's PNG validation anyway.
    let _ = image::write_buffer_with_format(
        &mut std::io::Cursor::new(&mut png),
        &bytes,
        SIDE,
        SIDE,
        image::ExtendedColorType::Rgb8,
        image::ImageFormat::Png,
    );
    png
}
