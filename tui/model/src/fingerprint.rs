//! Data fingerprints: a SHA-256 that changes whenever the training data changes, so a model's
//! metadata says exactly which data it was trained on.

use sha2::{Digest, Sha256};

use crate::data::LabeledImage;

/// SHA-256 (hex) over the images sorted by name: for each, its name, label and decoded pixels.
///
/// Sorting makes the fingerprint independent of the order the images were loaded in; decoded
/// pixels (rather than PNG bytes) make it independent of PNG compression settings.
pub fn of_images(images: &[LabeledImage]) -> String {
    let mut sorted: Vec<&LabeledImage> = images.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name).then(a.label.cmp(&b.label)));
    let mut hasher = Sha256::new();
    for image in sorted {
        // Length-prefix the name so that ("ab", "c") and ("a", "bc") cannot collide.
        hasher.update((image.name.len() as u64).to_le_bytes());
        hasher.update(image.name.as_bytes());
        hasher.update([image.label.index() as u8]);
        hasher.update(image.image.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// SHA-256 (hex) of a byte string.
pub fn of_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Class, IMAGE_BYTES, RgbImage};

    fn example(name: &str, label: Class, fill: u8) -> LabeledImage {
        LabeledImage {
            image: RgbImage::from_rgb_bytes(&[fill; IMAGE_BYTES]).expect("right length"),
            label,
            name: name.to_string(),
        }
    }

    #[test]
    fn order_does_not_matter_but_content_does() {
        let a = example("a.png", Class::Bicycle, 1);
        let b = example("b.png", Class::Motorcycle, 2);
        let base = of_images(&[a.clone(), b.clone()]);
        assert_eq!(base, of_images(&[b.clone(), a.clone()]));
        assert_eq!(base.len(), 64);

        let relabelled = example("b.png", Class::Bicycle, 2);
        assert_ne!(base, of_images(&[a.clone(), relabelled]));
        let repainted = example("b.png", Class::Motorcycle, 3);
        assert_ne!(base, of_images(&[a.clone(), repainted]));
        let renamed = example("c.png", Class::Motorcycle, 2);
        assert_ne!(base, of_images(&[a, renamed]));
    }
}
