//! Traffic that drifts on purpose: `scones run --local --perturb KIND` sends transformed
//! images through the workflow so an operator sees what drift looks like (in `scones drift`
//! and the dashboard), and rehearses what to do about it (the guard, review, retraining),
//! before it happens for real.
//!
//! The transformed images are written into the bucket under `perturbed/<kind>/<split>/`
//! (once; they are the same every time) and the executions read them from there like any
//! other object: the whole workflow, data capture included, sees them. Traffic is made from
//! `train/` by default (people may label it and a model may be retrained on it); a
//! transformed copy of `test/` is for measuring a model on the shift, never for training.

use std::path::Path;

use image::{ImageBuffer, Rgb};
use rand::{Rng, SeedableRng};
use scones_model::RgbImage;
use scones_workflow::class::Class;

use crate::bucket::LocalBucket;
use crate::stage::{Split, StageError, read_lst};

/// A way traffic can drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perturbation {
    /// Every pixel at 40% of its value: a camera at dusk.
    Darken,
    /// Gaussian noise of standard deviation 25 (of 255) on every channel: a cheap sensor.
    Noise,
    /// A Gaussian blur of sigma 1.2 px: a dirty lens, or images upscaled from smaller ones.
    Blur,
    /// Only the motorcycle test images: the mix of vehicles changed.
    OneClass,
    /// Every channel at 1.8 times its value plus 40, clipped: a camera facing the sun, or
    /// one whose exposure control broke. Unlike darken, noise and blur it makes the model
    /// confidently wrong (it calls most images a bicycle above the threshold), so the
    /// threshold alone lets the mistakes through: what the guard is for.
    Overexpose,
}

impl Perturbation {
    /// All, in help order.
    pub const ALL: [Perturbation; 5] = [
        Perturbation::Darken,
        Perturbation::Noise,
        Perturbation::Blur,
        Perturbation::OneClass,
        Perturbation::Overexpose,
    ];

    /// The name on the command line and in keys.
    pub fn name(self) -> &'static str {
        match self {
            Perturbation::Darken => "darken",
            Perturbation::Noise => "noise",
            Perturbation::Blur => "blur",
            Perturbation::OneClass => "one-class",
            Perturbation::Overexpose => "overexpose",
        }
    }

    /// The perturbation called `name`.
    pub fn parse(name: &str) -> Option<Perturbation> {
        Perturbation::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The transformed image (`None` for [`Perturbation::OneClass`], which selects images
    /// rather than changing them).
    pub fn apply(self, image: &RgbImage, seed: u64) -> Option<RgbImage> {
        let side = scones_model::IMAGE_SIDE as u32;
        let pixels = image.as_bytes();
        let out: Vec<u8> = match self {
            Perturbation::Darken => pixels
                .iter()
                .map(|&v| (f32::from(v) * 0.4).round() as u8)
                .collect(),
            Perturbation::Noise => {
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                pixels
                    .iter()
                    .map(|&v| {
                        // Box-Muller: one standard normal draw per channel value.
                        let (u1, u2): (f64, f64) = (rng.random_range(1e-12..1.0), rng.random());
                        let normal =
                            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                        (f64::from(v) + 25.0 * normal).round().clamp(0.0, 255.0) as u8
                    })
                    .collect()
            }
            Perturbation::Blur => {
                let buffer: ImageBuffer<Rgb<u8>, Vec<u8>> =
                    ImageBuffer::from_raw(side, side, pixels.to_vec())?;
                image::imageops::blur(&buffer, 1.2).into_raw()
            }
            Perturbation::OneClass => return None,
            Perturbation::Overexpose => pixels
                .iter()
                .map(|&v| (f32::from(v) * 1.8 + 40.0).round().min(255.0) as u8)
                .collect(),
        };
        RgbImage::from_rgb_bytes(&out)
    }
}

/// The keys the perturbed traffic draws from: for an image transformation, the transformed
/// copy of every staged image of `split` (written under `perturbed/<kind>/<split>/` if
/// missing, never through a symbolic link); for one-class, the images of `split` labelled
/// motorcycle.
pub fn prepare(
    bucket: &LocalBucket,
    kind: Perturbation,
    split: Split,
) -> Result<Vec<String>, StageError> {
    let lst = bucket.root().join(format!("{}.lst", split.as_str()));
    let entries = read_lst(&lst)?;
    if kind == Perturbation::OneClass {
        return Ok(entries
            .iter()
            .filter(|e| e.label == Class::Motorcycle)
            .map(|e| format!("{}/{}", split.as_str(), e.path))
            .collect());
    }
    let prefix = format!("perturbed/{}/{}", kind.name(), split.as_str());
    let dir = bucket.root().join(&prefix);
    crate::files::create_dir_within(bucket.root(), &dir).map_err(|e| StageError::io(&dir, e))?;
    let mut keys = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let target = dir.join(&entry.path);
        match std::fs::symlink_metadata(&target) {
            Ok(m) if m.is_file() => {}
            // A link (or anything else) where the image goes: refused, never written through.
            Ok(_) => {
                return Err(StageError::io(
                    &target,
                    std::io::Error::other(
                        "not a regular file: scones writes nothing through links",
                    ),
                ));
            }
            Err(_) => {
                let source = bucket.root().join(split.as_str()).join(&entry.path);
                write_perturbed(&source, &target, kind, i as u64)?;
            }
        }
        keys.push(format!("{prefix}/{}", entry.path));
    }
    Ok(keys)
}

fn write_perturbed(
    source: &Path,
    target: &Path,
    kind: Perturbation,
    seed: u64,
) -> Result<(), StageError> {
    let bytes = std::fs::read(source).map_err(|e| StageError::io(source, e))?;
    let corrupt = |reason: String| StageError::CorruptImage {
        path: source.to_path_buf(),
        reason,
    };
    let image = RgbImage::decode_png(&bytes).map_err(|e| corrupt(e.to_string()))?;
    let Some(changed) = kind.apply(&image, seed) else {
        return Ok(());
    };
    let png = changed.encode_png().map_err(|e| corrupt(e.to_string()))?;
    // Whole: a run that is interrupted leaves no half image.
    crate::files::write_atomically(target, &png).map_err(|e| StageError::io(target, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use scones_workflow::drift::{Feature, ImageFeatures};

    fn features(image: &RgbImage) -> ImageFeatures {
        ImageFeatures::of_rgb(32, 32, image.as_bytes()).unwrap()
    }

    #[test]
    fn each_perturbation_moves_the_statistic_it_should() {
        // A checkerboard of mid greys: contrast and edges everywhere.
        let pixels: Vec<u8> = (0..32 * 32)
            .flat_map(|i| {
                let v = if (i % 32 + i / 32) % 2 == 0 { 90 } else { 170 };
                [v, v, v]
            })
            .collect();
        let image = RgbImage::from_rgb_bytes(&pixels).unwrap();
        let before = features(&image);
        let dark = features(&Perturbation::Darken.apply(&image, 0).unwrap());
        assert!(dark.get(Feature::Brightness) < before.get(Feature::Brightness) * 0.45);
        let blurred = features(&Perturbation::Blur.apply(&image, 0).unwrap());
        assert!(blurred.get(Feature::Sharpness) < before.get(Feature::Sharpness) * 0.5);
        let flat = RgbImage::from_rgb_bytes(&[128u8; 32 * 32 * 3]).unwrap();
        let noisy = features(&Perturbation::Noise.apply(&flat, 7).unwrap());
        // Independent noise of 25/255 per channel is ~0.065 of luma (the channels' weights
        // average part of it out); a flat image had none.
        assert!(noisy.get(Feature::Contrast) > 0.05, "{noisy:?}");
        assert!(noisy.get(Feature::Sharpness) > 0.05, "{noisy:?}");
        assert_eq!(
            Perturbation::Noise.apply(&flat, 7).map(|i| *i.as_bytes()),
            Perturbation::Noise.apply(&flat, 7).map(|i| *i.as_bytes()),
            "the same image every time"
        );
        let bright = features(&Perturbation::Overexpose.apply(&image, 0).unwrap());
        // 90 -> 202 and 170 -> 255 (clipped): brighter, and the clipping flattens contrast.
        assert!(bright.get(Feature::Brightness) > before.get(Feature::Brightness) * 1.6);
        assert!(bright.get(Feature::Contrast) < before.get(Feature::Contrast));
        assert!(Perturbation::OneClass.apply(&image, 0).is_none());
        for p in Perturbation::ALL {
            assert_eq!(Perturbation::parse(p.name()), Some(p));
        }
    }

    /// Nothing is written through a link: a `perturbed` folder linked outside the home is
    /// refused, and nothing appears behind it (issue 27).
    #[test]
    fn perturbed_images_are_never_written_through_a_link() {
        let tmp = tempfile::tempdir().unwrap();
        let bucket = LocalBucket::new(tmp.path().join("bucket"));
        let source = crate::stage::Source::Synthetic {
            spec: crate::stage::SyntheticSpec {
                train_per_class: 2,
                test_per_class: 2,
                seed: 1,
            },
            reason: "perturb test".into(),
        };
        crate::stage::stage(&bucket, &source, &crate::NoProgress).unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), bucket.root().join("perturbed")).unwrap();
        assert!(prepare(&bucket, Perturbation::Blur, Split::Train).is_err());
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
        // Without the link, the copies are made inside the bucket.
        std::fs::remove_file(bucket.root().join("perturbed")).unwrap();
        let keys = prepare(&bucket, Perturbation::Blur, Split::Train).unwrap();
        assert_eq!(keys.len(), 4);
        assert!(keys.iter().all(|k| k.starts_with("perturbed/blur/train/")));
    }
}
