//! Decoded images, labels, and loading a labelled image folder.

use std::path::{Path, PathBuf};

use crate::ModelError;

/// Side length of the square images the network takes (CIFAR: 32).
pub const IMAGE_SIDE: usize = 32;
/// Colour channels of a decoded image (RGB; alpha is dropped).
pub const CHANNELS: usize = 3;
/// Bytes in one decoded image.
pub const IMAGE_BYTES: usize = IMAGE_SIDE * IMAGE_SIDE * CHANNELS;

/// The two classes, in the order the probability vector uses (the domain model's).
pub use scones_workflow::class::Class;

/// A decoded 32x32 RGB image, row-major, interleaved (`HWC`, `u8`).
#[derive(Clone, PartialEq, Eq)]
pub struct RgbImage {
    pixels: Box<[u8; IMAGE_BYTES]>,
}

impl std::fmt::Debug for RgbImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RgbImage").finish_non_exhaustive()
    }
}

impl RgbImage {
    /// Wraps raw interleaved RGB bytes; `None` unless there are exactly [`IMAGE_BYTES`].
    pub fn from_rgb_bytes(bytes: &[u8]) -> Option<RgbImage> {
        let pixels: [u8; IMAGE_BYTES] = bytes.try_into().ok()?;
        Some(RgbImage {
            pixels: Box::new(pixels),
        })
    }

    /// Decodes PNG bytes (any colour type the `image` crate reads; alpha is dropped).
    ///
    /// Errors: [`ModelError::ImageDecode`] for anything that is not a PNG,
    /// [`ModelError::ImageSize`] for a PNG that is not 32x32.
    pub fn decode_png(bytes: &[u8]) -> Result<RgbImage, ModelError> {
        let decoded =
            image::load_from_memory_with_format(bytes, image::ImageFormat::Png).map_err(|e| {
                ModelError::ImageDecode {
                    reason: e.to_string(),
                }
            })?;
        let (width, height) = (decoded.width(), decoded.height());
        if width as usize != IMAGE_SIDE || height as usize != IMAGE_SIDE {
            return Err(ModelError::ImageSize {
                width,
                height,
                expected: IMAGE_SIDE as u32,
            });
        }
        // into_rgb8 is a no-op for RGB8 and strips alpha (or expands grey) otherwise.
        let rgb = decoded.into_rgb8();
        RgbImage::from_rgb_bytes(rgb.as_raw()).ok_or_else(|| ModelError::ImageDecode {
            reason: "decoded buffer has an unexpected length".to_string(),
        })
    }

    /// Encodes the image as an RGB PNG (used by tests and by synthetic datasets).
    pub fn encode_png(&self) -> Result<Vec<u8>, ModelError> {
        let mut out = Vec::new();
        image::write_buffer_with_format(
            &mut std::io::Cursor::new(&mut out),
            self.as_bytes(),
            IMAGE_SIDE as u32,
            IMAGE_SIDE as u32,
            image::ExtendedColorType::Rgb8,
            image::ImageFormat::Png,
        )
        .map_err(|e| ModelError::ImageDecode {
            reason: format!("encoding failed: {e}"),
        })?;
        Ok(out)
    }

    /// The interleaved RGB bytes.
    pub fn as_bytes(&self) -> &[u8; IMAGE_BYTES] {
        &self.pixels
    }
}

/// One training or evaluation example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabeledImage {
    /// The decoded image.
    pub image: RgbImage,
    /// Its class.
    pub label: Class,
    /// Where it came from (file name), for reports; not used by training.
    pub name: String,
}

impl LabeledImage {
    /// Decodes PNG bytes into a labelled example.
    pub fn from_png(
        name: impl Into<String>,
        bytes: &[u8],
        label: Class,
    ) -> Result<LabeledImage, ModelError> {
        Ok(LabeledImage {
            image: RgbImage::decode_png(bytes)?,
            label,
            name: name.into(),
        })
    }
}

/// The labels CSV and the file-name rule (the domain model's, shared with `scones stage`).
pub use scones_workflow::dataset::{LabelRow, LabelsError, file_name_problem, read_labels};

/// Loads the images of one split of a labelled folder.
///
/// `labels_csv` has a header with at least the columns `split`, `filename`, `label` (the layout
/// of `shared/data/cifar100-bikes/labels.csv`); the image of a row is `<root>/<split>/<filename>`.
/// Labels always come from the CSV, never from file names. Images are returned sorted by file
/// name so that the order (and so training) does not depend on the CSV's row order.
pub fn load_split(
    root: &Path,
    labels_csv: &Path,
    split: &str,
) -> Result<Vec<LabeledImage>, ModelError> {
    let rows = read_labels(labels_csv).map_err(|e| ModelError::Labels {
        path: labels_csv.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut images = Vec::new();
    for row in rows.into_iter().filter(|r| r.split == split) {
        let path: PathBuf = root.join(&row.split).join(&row.filename);
        let bytes = std::fs::read(&path).map_err(|e| ModelError::io(&path, e))?;
        let image = RgbImage::decode_png(&bytes).map_err(|e| ModelError::in_file(&path, e))?;
        images.push(LabeledImage {
            image,
            label: row.label,
            name: row.filename,
        });
    }
    images.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(images)
}
