//! Batch-level mixing of training images: mixup (a convex blend of two images) and CutMix (a
//! rectangle of one image pasted into another), each with a matching blend of the two labels.
//! Both regularise a small network trained on few images: it can no longer memorise single
//! images, and it learns calibrated, less over-confident scores.

use rand::Rng;
use rand_distr::{Beta, Distribution};

use crate::data::{CHANNELS, IMAGE_SIDE};
use crate::network::NUM_CLASSES;

const PLANE: usize = IMAGE_SIDE * IMAGE_SIDE;
const IMAGE_FLOATS: usize = CHANNELS * PLANE;

/// How (and how often) a training batch is mixed with a shuffled copy of itself.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum BatchMixing {
    /// Plain batches.
    #[default]
    None,
    /// Mixup: `lambda * a + (1 - lambda) * b`, `lambda ~ Beta(alpha, alpha)`.
    Mixup {
        /// Beta distribution parameter (1 is uniform; small values mix lightly).
        alpha: f64,
        /// Chance that a batch is mixed at all (1 mixes every batch).
        probability: f64,
    },
    /// CutMix: a random rectangle covering `1 - lambda` of `a` is replaced by the same
    /// rectangle of `b`; the label weight is the area actually kept after clipping.
    Cutmix {
        /// Beta distribution parameter of `lambda` (1 is uniform).
        alpha: f64,
        /// Chance that a batch is mixed at all.
        probability: f64,
    },
}

impl BatchMixing {
    /// Why this setting cannot work, if it cannot.
    pub(crate) fn problem(&self) -> Option<&'static str> {
        match *self {
            BatchMixing::None => None,
            BatchMixing::Mixup { alpha, probability }
            | BatchMixing::Cutmix { alpha, probability } => {
                if !(alpha.is_finite() && alpha > 0.0) {
                    Some("mixing alpha must be a positive number")
                } else if !(0.0..=1.0).contains(&probability) {
                    Some("mixing probability must be within 0..=1")
                } else {
                    None
                }
            }
        }
    }

    /// Mixes `planar` (`batch` normalised images, `CHW` each) in place and returns the soft
    /// targets `[batch * 2]` for `labels`, smoothed by `smoothing`. Unmixed batches get
    /// smoothed one-hot targets, so every batch is trained with the same loss.
    pub(crate) fn apply(
        &self,
        planar: &mut [f32],
        labels: &[usize],
        smoothing: f32,
        rng: &mut impl Rng,
    ) -> Vec<f32> {
        let batch = labels.len();
        let mut targets = vec![0.0f32; batch * NUM_CLASSES];
        let mut add = |row: usize, label: usize, weight: f32| {
            if let Some(t) = targets.get_mut(row * NUM_CLASSES + label) {
                *t += weight;
            }
        };
        let mixed = match *self {
            BatchMixing::None => None,
            BatchMixing::Mixup { alpha, probability }
            | BatchMixing::Cutmix { alpha, probability } => {
                // `problem()` rejected invalid parameters before training; a draw that still
                // fails to build a distribution just leaves the batch unmixed.
                (rng.random_bool(probability.clamp(0.0, 1.0)))
                    .then(|| Beta::new(alpha, alpha).ok())
                    .flatten()
                    .map(|beta| {
                        let lambda = beta.sample(rng);
                        let partner = partners(batch, rng);
                        (lambda, partner)
                    })
            }
        };
        match (mixed, self) {
            (Some((lambda, partner)), BatchMixing::Mixup { .. }) => {
                mixup(planar, &partner, lambda as f32);
                for (row, (&label, &p)) in labels.iter().zip(&partner).enumerate() {
                    add(row, label, lambda as f32);
                    add(
                        row,
                        labels.get(p).copied().unwrap_or(label),
                        1.0 - lambda as f32,
                    );
                }
            }
            (Some((lambda, partner)), BatchMixing::Cutmix { .. }) => {
                let kept = cutmix(planar, &partner, lambda, rng);
                for (row, (&label, &p)) in labels.iter().zip(&partner).enumerate() {
                    add(row, label, kept);
                    add(row, labels.get(p).copied().unwrap_or(label), 1.0 - kept);
                }
            }
            _ => {
                for (row, &label) in labels.iter().enumerate() {
                    add(row, label, 1.0);
                }
            }
        }
        let uniform = smoothing / NUM_CLASSES as f32;
        for t in &mut targets {
            *t = *t * (1.0 - smoothing) + uniform;
        }
        targets
    }
}

/// A random permutation of `0..batch`: image `i` is mixed with image `partners[i]`.
fn partners(batch: usize, rng: &mut impl Rng) -> Vec<usize> {
    use rand::seq::SliceRandom;
    let mut order: Vec<usize> = (0..batch).collect();
    order.shuffle(rng);
    order
}

/// A copy of the unmixed batch, so partners are read before they are overwritten.
fn originals(planar: &[f32]) -> Vec<f32> {
    planar.to_vec()
}

fn mixup(planar: &mut [f32], partner: &[usize], lambda: f32) {
    let source = originals(planar);
    for (image, out) in planar.chunks_exact_mut(IMAGE_FLOATS).enumerate() {
        let Some(other) = partner
            .get(image)
            .and_then(|&p| source.get(p * IMAGE_FLOATS..(p + 1) * IMAGE_FLOATS))
        else {
            continue;
        };
        for (x, &y) in out.iter_mut().zip(other) {
            *x = lambda * *x + (1.0 - lambda) * y;
        }
    }
}

/// Pastes one rectangle (the same for the whole batch, as in the CutMix paper) and returns the
/// fraction of each image that kept its own pixels.
fn cutmix(planar: &mut [f32], partner: &[usize], lambda: f64, rng: &mut impl Rng) -> f32 {
    let side = IMAGE_SIDE as f64;
    let cut = (1.0 - lambda).clamp(0.0, 1.0).sqrt();
    let (h, w) = ((side * cut) as usize, (side * cut) as usize);
    let (cy, cx) = (
        rng.random_range(0..IMAGE_SIDE),
        rng.random_range(0..IMAGE_SIDE),
    );
    let rows = cy.saturating_sub(h / 2)..(cy + h - h / 2).min(IMAGE_SIDE);
    let cols = cx.saturating_sub(w / 2)..(cx + w - w / 2).min(IMAGE_SIDE);
    let area = rows.len() * cols.len();
    if area == 0 {
        return 1.0;
    }
    let source = originals(planar);
    for (image, out) in planar.chunks_exact_mut(IMAGE_FLOATS).enumerate() {
        let Some(other) = partner
            .get(image)
            .and_then(|&p| source.get(p * IMAGE_FLOATS..(p + 1) * IMAGE_FLOATS))
        else {
            continue;
        };
        for c in 0..CHANNELS {
            for y in rows.clone() {
                let line = c * PLANE + y * IMAGE_SIDE;
                let span = line + cols.start..line + cols.end;
                if let (Some(dst), Some(src)) = (out.get_mut(span.clone()), other.get(span)) {
                    dst.copy_from_slice(src);
                }
            }
        }
    }
    1.0 - area as f32 / PLANE as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// Image `i` is filled with the value `i`.
    fn batch(n: usize) -> Vec<f32> {
        (0..n)
            .flat_map(|i| std::iter::repeat_n(i as f32, IMAGE_FLOATS))
            .collect()
    }

    #[test]
    fn no_mixing_gives_smoothed_one_hot_targets_and_untouched_images() {
        let mut planar = batch(3);
        let targets =
            BatchMixing::None.apply(&mut planar, &[0, 1, 1], 0.1, &mut StdRng::seed_from_u64(0));
        assert_eq!(planar, batch(3));
        assert_eq!(targets, vec![0.95, 0.05, 0.05, 0.95, 0.05, 0.95]);
    }

    #[test]
    fn mixup_blends_images_and_labels_with_the_same_weight() {
        let mixing = BatchMixing::Mixup {
            alpha: 1.0,
            probability: 1.0,
        };
        let mut rng = StdRng::seed_from_u64(5);
        let mut saw_blend = false;
        for _ in 0..10 {
            // A bicycle of value 0 and a motorcycle of value 1: a blend's pixel value is
            // exactly its motorcycle weight.
            let mut planar = batch(2);
            let targets = mixing.apply(&mut planar, &[0, 1], 0.0, &mut rng);
            for (i, image) in planar.chunks_exact(IMAGE_FLOATS).enumerate() {
                assert!(image.iter().all(|&v| v == image[0]));
                assert!((targets[i * 2 + 1] - image[0]).abs() < 1e-6);
                assert!((targets[i * 2] + targets[i * 2 + 1] - 1.0).abs() < 1e-6);
                saw_blend |= image[0] != i as f32;
            }
        }
        assert!(saw_blend, "10 batches never paired the two images");
    }

    #[test]
    fn cutmix_label_weight_is_the_kept_area() {
        let mixing = BatchMixing::Cutmix {
            alpha: 1.0,
            probability: 1.0,
        };
        let mut rng = StdRng::seed_from_u64(11);
        for _ in 0..20 {
            let mut planar = batch(2);
            let targets = mixing.apply(&mut planar, &[0, 1], 0.0, &mut rng);
            for (i, image) in planar.chunks_exact(IMAGE_FLOATS).enumerate() {
                let own = image.iter().filter(|&&v| v == i as f32).count() as f32;
                let kept = own / IMAGE_FLOATS as f32;
                let partner_is_self = image.iter().all(|&v| v == i as f32);
                if !partner_is_self {
                    let own_weight = targets[i * 2 + i];
                    assert!((own_weight - kept).abs() < 1e-6, "{own_weight} vs {kept}");
                }
                assert!((targets[i * 2] + targets[i * 2 + 1] - 1.0).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn invalid_parameters_are_named() {
        assert!(
            BatchMixing::Mixup {
                alpha: 0.0,
                probability: 1.0
            }
            .problem()
            .is_some()
        );
        assert!(
            BatchMixing::Cutmix {
                alpha: 1.0,
                probability: 1.5
            }
            .problem()
            .is_some()
        );
        assert!(BatchMixing::None.problem().is_none());
    }
}
