//! Deterministic, class-stratified splits of a labelled set: one holdout (what `train` uses)
//! and k folds (what model selection uses, because a 100-image holdout is too noisy to
//! choose between configurations).

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::ModelError;
use crate::data::{Class, LabeledImage};

/// Indices of a training part and a validation part of one labelled set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Indices used for fitting, ascending.
    pub train: Vec<usize>,
    /// Indices held out for validation, ascending.
    pub validation: Vec<usize>,
}

/// The indices of each class's images, each list shuffled with `rng`.
fn shuffled_members(images: &[LabeledImage], rng: &mut StdRng) -> Vec<(Class, Vec<usize>)> {
    Class::ALL
        .iter()
        .map(|&class| {
            let mut members: Vec<usize> = images
                .iter()
                .enumerate()
                .filter(|(_, im)| im.label == class)
                .map(|(i, _)| i)
                .collect();
            members.shuffle(rng);
            (class, members)
        })
        .collect()
}

/// Holds out `fraction` of each class (at least one image of each class on both sides),
/// deterministically from `seed`. A `fraction` of 0 holds out nothing (a final fit on all
/// images).
///
/// Errors: [`ModelError::NotEnoughData`] when a class has fewer than two images (fewer than
/// one for a final fit).
pub fn holdout(images: &[LabeledImage], fraction: f64, seed: u64) -> Result<Split, ModelError> {
    if fraction <= 0.0 {
        for class in Class::ALL {
            if !images.iter().any(|im| im.label == class) {
                return Err(ModelError::NotEnoughData {
                    reason: format!("no image of class {class}"),
                });
            }
        }
        return Ok(Split {
            train: (0..images.len()).collect(),
            validation: Vec::new(),
        });
    }
    // The constant keeps the split's random stream apart from the training stream of the same
    // seed; it is part of what "same seed, same split" means, so it must not change.
    let mut rng = StdRng::seed_from_u64(seed ^ 0x005e_ed0f_5b11);
    let mut split = Split {
        train: Vec::new(),
        validation: Vec::new(),
    };
    for (class, members) in shuffled_members(images, &mut rng) {
        if members.len() < 2 {
            return Err(ModelError::NotEnoughData {
                reason: format!(
                    "class {class} has {} image(s); training and validation need at least 2 of each class",
                    members.len()
                ),
            });
        }
        let held = ((members.len() as f64) * fraction).round() as usize;
        let held = held.clamp(1, members.len() - 1);
        let (validation, train) = members.split_at(held);
        split.validation.extend_from_slice(validation);
        split.train.extend_from_slice(train);
    }
    split.validation.sort_unstable();
    split.train.sort_unstable();
    Ok(split)
}

/// `folds` stratified folds: every image is validated exactly once, and each class is spread
/// as evenly as possible over the folds. Deterministic from `seed`.
///
/// Errors: [`ModelError::InvalidConfig`] for fewer than 2 folds, [`ModelError::NotEnoughData`]
/// when a class has fewer images than there are folds.
pub fn k_fold(images: &[LabeledImage], folds: usize, seed: u64) -> Result<Vec<Split>, ModelError> {
    if folds < 2 {
        return Err(ModelError::InvalidConfig {
            reason: format!("cross-validation needs at least 2 folds, got {folds}"),
        });
    }
    let mut rng = StdRng::seed_from_u64(seed ^ 0x00f0_1d5e_ed00);
    let mut fold_of = vec![0usize; images.len()];
    for (class, members) in shuffled_members(images, &mut rng) {
        if members.len() < folds {
            return Err(ModelError::NotEnoughData {
                reason: format!(
                    "class {class} has {} image(s), fewer than the {folds} folds",
                    members.len()
                ),
            });
        }
        for (position, &index) in members.iter().enumerate() {
            if let Some(slot) = fold_of.get_mut(index) {
                *slot = position % folds;
            }
        }
    }
    Ok((0..folds)
        .map(|fold| {
            let (validation, train): (Vec<usize>, Vec<usize>) =
                (0..images.len()).partition(|&i| fold_of.get(i) == Some(&fold));
            Split { train, validation }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{IMAGE_BYTES, RgbImage};

    fn images(bicycles: usize, motorcycles: usize) -> Vec<LabeledImage> {
        let image = RgbImage::from_rgb_bytes(&[0u8; IMAGE_BYTES]).expect("right length");
        (0..bicycles + motorcycles)
            .map(|i| LabeledImage {
                image: image.clone(),
                label: if i < bicycles {
                    Class::Bicycle
                } else {
                    Class::Motorcycle
                },
                name: format!("{i}.png"),
            })
            .collect()
    }

    fn count(images: &[LabeledImage], indices: &[usize], class: Class) -> usize {
        indices
            .iter()
            .filter(|&&i| images[i].label == class)
            .count()
    }

    #[test]
    fn holdout_is_stratified_disjoint_and_complete() {
        let set = images(60, 40);
        let split = holdout(&set, 0.1, 3).expect("enough data");
        assert_eq!(count(&set, &split.validation, Class::Bicycle), 6);
        assert_eq!(count(&set, &split.validation, Class::Motorcycle), 4);
        let mut all: Vec<usize> = split
            .train
            .iter()
            .chain(&split.validation)
            .copied()
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(split, holdout(&set, 0.1, 3).expect("enough data"));
        assert_ne!(split, holdout(&set, 0.1, 4).expect("enough data"));
    }

    #[test]
    fn zero_fraction_trains_on_everything() {
        let set = images(3, 2);
        let split = holdout(&set, 0.0, 1).expect("both classes present");
        assert_eq!(split.train, vec![0, 1, 2, 3, 4]);
        assert!(split.validation.is_empty());
        assert_eq!(
            holdout(&images(3, 0), 0.0, 1)
                .expect_err("no motorcycle")
                .name(),
            "NotEnoughData"
        );
    }

    #[test]
    fn k_fold_validates_every_image_exactly_once_with_balanced_classes() {
        let set = images(53, 47);
        let folds = k_fold(&set, 5, 9).expect("enough data");
        assert_eq!(folds.len(), 5);
        let mut seen = vec![0usize; set.len()];
        for fold in &folds {
            for &i in &fold.validation {
                seen[i] += 1;
                assert!(!fold.train.contains(&i));
            }
            assert_eq!(fold.train.len() + fold.validation.len(), set.len());
            let bikes = count(&set, &fold.validation, Class::Bicycle);
            assert!((10..=11).contains(&bikes), "{bikes}");
            let motos = count(&set, &fold.validation, Class::Motorcycle);
            assert!((9..=10).contains(&motos), "{motos}");
        }
        assert!(seen.iter().all(|&n| n == 1));
        assert_eq!(folds, k_fold(&set, 5, 9).expect("enough data"));
    }

    #[test]
    fn too_few_images_or_folds_are_typed_errors() {
        assert_eq!(
            holdout(&images(1, 10), 0.2, 0)
                .expect_err("one bicycle")
                .name(),
            "NotEnoughData"
        );
        assert_eq!(
            k_fold(&images(3, 10), 5, 0).expect_err("3 < 5").name(),
            "NotEnoughData"
        );
        assert_eq!(
            k_fold(&images(10, 10), 1, 0).expect_err("1 fold").name(),
            "InvalidConfig"
        );
    }
}
