//! Decoding the PNGs the workflow carries, bounded: a small PNG can declare a huge canvas (a
//! decompression bomb), and refusing it by its header keeps a Lambda from allocating
//! gigabytes. `serialize-image-data` checks images with it, `monitor-drift` takes the input
//! statistics of captured images with it.

use std::io::Cursor;

use crate::drift::ImageFeatures;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};

/// Largest width or height accepted.
const MAX_DIMENSION: u32 = 4096;
const MAX_DECODE_ALLOC: u64 = 64 * 1024 * 1024;

/// Decodes `bytes` as a PNG within the limits, or says why it is not one.
pub fn decode_png(bytes: &[u8]) -> Result<DynamicImage, String> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), ImageFormat::Png);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    reader.decode().map_err(|err| err.to_string())
}

/// The drift input statistics of a PNG; `None` when it does not decode.
pub fn image_features(png: &[u8]) -> Option<ImageFeatures> {
    let rgb = decode_png(png).ok()?.into_rgb8();
    let (width, height) = (rgb.width() as usize, rgb.height() as usize);
    ImageFeatures::of_rgb(width, height, rgb.as_raw())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::Feature;

    fn png(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(width, height, image::Rgb(rgb));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png)
            .expect("encode");
        out.into_inner()
    }

    #[test]
    fn features_of_a_png_and_none_of_anything_else() {
        let dark = image_features(&png(32, 32, [10, 10, 10])).unwrap();
        let light = image_features(&png(32, 32, [240, 240, 240])).unwrap();
        assert!(dark.get(Feature::Brightness) < light.get(Feature::Brightness));
        assert!(image_features(b"not a png").is_none());
        assert!(image_features(&[]).is_none());
    }
}
