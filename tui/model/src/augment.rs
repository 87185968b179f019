//! Training-time augmentation on decoded images: random crop from a padded image, a random
//! horizontal flip and cutout (a random square blanked out). All are label-preserving for
//! bicycles and motorcycles (a mirrored bike is still a bike; a small shift or a hidden patch
//! does not change the class), and together they are the standard CIFAR recipe that lets a
//! small network generalise from 1000 images.

use rand::Rng;

use crate::data::{CHANNELS, IMAGE_BYTES, IMAGE_SIDE, RgbImage};

/// How an image is augmented.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Augmentation {
    /// Pixels of padding on each side before a random 32x32 crop is taken (0 disables).
    /// The padding reflects the image rather than adding black borders, which CIFAR images
    /// never have.
    pub crop_padding: usize,
    /// Mirror the image left-right with probability 1/2.
    pub horizontal_flip: bool,
    /// Side of a square, centred anywhere in the image (so it may be clipped at an edge),
    /// filled with the dataset's mean colour (0 disables). Forces the network to use more
    /// than one part of the vehicle.
    #[serde(default)]
    pub cutout: usize,
}

/// CIFAR-100's mean colour: a cutout filled with it is zero after normalisation.
const MEAN_PIXEL: [u8; CHANNELS] = [129, 124, 112];

impl Default for Augmentation {
    fn default() -> Self {
        Augmentation {
            crop_padding: 4,
            horizontal_flip: true,
            cutout: 0,
        }
    }
}

/// Reflects an out-of-range coordinate back into `0..IMAGE_SIDE` (`-1 -> 1`, `32 -> 30`).
fn reflect(coordinate: isize) -> usize {
    let last = IMAGE_SIDE as isize - 1;
    let c = if coordinate < 0 {
        -coordinate
    } else {
        coordinate
    };
    let c = if c > last { 2 * last - c } else { c };
    c.clamp(0, last) as usize
}

impl Augmentation {
    /// Writes an augmented copy of `image` into `out` (interleaved RGB, [`IMAGE_BYTES`]).
    pub fn apply(&self, image: &RgbImage, rng: &mut impl Rng, out: &mut [u8; IMAGE_BYTES]) {
        let pad = self.crop_padding.min(IMAGE_SIDE / 2) as i32;
        let (dx, dy) = if pad > 0 {
            (
                rng.random_range(-pad..=pad) as isize,
                rng.random_range(-pad..=pad) as isize,
            )
        } else {
            (0, 0)
        };
        let flip = self.horizontal_flip && rng.random_bool(0.5);
        let src = image.as_bytes();
        for y in 0..IMAGE_SIDE {
            let sy = reflect(y as isize + dy);
            for x in 0..IMAGE_SIDE {
                let xx = if flip { IMAGE_SIDE - 1 - x } else { x };
                let sx = reflect(xx as isize + dx);
                let s = (sy * IMAGE_SIDE + sx) * CHANNELS;
                let d = (y * IMAGE_SIDE + x) * CHANNELS;
                out[d..d + CHANNELS].copy_from_slice(&src[s..s + CHANNELS]);
            }
        }
        if self.cutout > 0 {
            let (cy, cx) = (
                rng.random_range(0..IMAGE_SIDE),
                rng.random_range(0..IMAGE_SIDE),
            );
            let half = self.cutout / 2;
            let rows = cy.saturating_sub(half)..(cy + self.cutout - half).min(IMAGE_SIDE);
            let cols = cx.saturating_sub(half)..(cx + self.cutout - half).min(IMAGE_SIDE);
            for y in rows {
                for x in cols.clone() {
                    let d = (y * IMAGE_SIDE + x) * CHANNELS;
                    out[d..d + CHANNELS].copy_from_slice(&MEAN_PIXEL);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn gradient_image() -> RgbImage {
        let bytes: Vec<u8> = (0..IMAGE_BYTES).map(|i| (i % 251) as u8).collect();
        RgbImage::from_rgb_bytes(&bytes).expect("right length")
    }

    #[test]
    fn reflect_mirrors_at_both_edges() {
        assert_eq!(reflect(-1), 1);
        assert_eq!(reflect(-4), 4);
        assert_eq!(reflect(0), 0);
        assert_eq!(reflect(31), 31);
        assert_eq!(reflect(32), 30);
        assert_eq!(reflect(35), 27);
    }

    #[test]
    fn disabled_augmentation_is_identity() {
        let image = gradient_image();
        let aug = Augmentation {
            crop_padding: 0,
            horizontal_flip: false,
            cutout: 0,
        };
        let mut out = [0u8; IMAGE_BYTES];
        aug.apply(&image, &mut StdRng::seed_from_u64(1), &mut out);
        assert_eq!(&out, image.as_bytes());
    }

    #[test]
    fn flip_only_mirrors_rows() {
        let image = gradient_image();
        let aug = Augmentation {
            crop_padding: 0,
            horizontal_flip: true,
            cutout: 0,
        };
        let mut rng = StdRng::seed_from_u64(7);
        let mut saw_flip = false;
        for _ in 0..16 {
            let mut out = [0u8; IMAGE_BYTES];
            aug.apply(&image, &mut rng, &mut out);
            if &out != image.as_bytes() {
                saw_flip = true;
                let src = image.as_bytes();
                // Pixel (y=3, x=0) must come from (y=3, x=31).
                let d = (3 * IMAGE_SIDE) * CHANNELS;
                let s = (3 * IMAGE_SIDE + 31) * CHANNELS;
                assert_eq!(out[d..d + 3], src[s..s + 3]);
            }
        }
        assert!(saw_flip, "16 coin flips never flipped");
    }

    #[test]
    fn cutout_blanks_at_most_a_square_with_the_mean_colour() {
        let image = gradient_image();
        let aug = Augmentation {
            crop_padding: 0,
            horizontal_flip: false,
            cutout: 8,
        };
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..20 {
            let mut out = [0u8; IMAGE_BYTES];
            aug.apply(&image, &mut rng, &mut out);
            let changed: Vec<usize> = (0..IMAGE_SIDE * IMAGE_SIDE)
                .filter(|p| out[p * 3..p * 3 + 3] != image.as_bytes()[p * 3..p * 3 + 3])
                .collect();
            assert!(
                !changed.is_empty() && changed.len() <= 64,
                "{}",
                changed.len()
            );
            for p in &changed {
                assert_eq!(out[p * 3..p * 3 + 3], MEAN_PIXEL);
            }
            let ys: Vec<usize> = changed.iter().map(|p| p / IMAGE_SIDE).collect();
            let xs: Vec<usize> = changed.iter().map(|p| p % IMAGE_SIDE).collect();
            let span = |v: &[usize]| v.iter().max().unwrap_or(&0) - v.iter().min().unwrap_or(&0);
            assert!(span(&ys) < 8 && span(&xs) < 8);
        }
    }

    #[test]
    fn same_seed_same_augmentation() {
        let image = gradient_image();
        let aug = Augmentation::default();
        let (mut a, mut b) = ([0u8; IMAGE_BYTES], [0u8; IMAGE_BYTES]);
        aug.apply(&image, &mut StdRng::seed_from_u64(42), &mut a);
        aug.apply(&image, &mut StdRng::seed_from_u64(42), &mut b);
        assert_eq!(a, b);
    }
}
