//! Label-free statistics of an input image, the inputs' side of drift: what changes when
//! cameras, lighting or the kind of pictures sent change, before the model's confidence shows
//! it (or when it does not show it at all).

use serde::{Deserialize, Serialize};

/// One input statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// Mean luma (Rec. 601 weights), 0 black to 1 white.
    Brightness,
    /// Standard deviation of luma, 0 (flat) to 0.5.
    Contrast,
    /// Mean absolute difference of luma between neighbouring pixels (horizontal and
    /// vertical): falls when an image is blurred, rises with noise.
    Sharpness,
    /// Mean of the red channel, 0 to 1.
    Red,
    /// Mean of the green channel, 0 to 1.
    Green,
    /// Mean of the blue channel, 0 to 1.
    Blue,
}

impl Feature {
    /// All, in report order.
    pub const ALL: [Feature; 6] = [
        Feature::Brightness,
        Feature::Contrast,
        Feature::Sharpness,
        Feature::Red,
        Feature::Green,
        Feature::Blue,
    ];

    /// The name in reports, JSON and metric names.
    pub fn name(self) -> &'static str {
        match self {
            Feature::Brightness => "brightness",
            Feature::Contrast => "contrast",
            Feature::Sharpness => "sharpness",
            Feature::Red => "red",
            Feature::Green => "green",
            Feature::Blue => "blue",
        }
    }

    /// The range its histogram covers (values outside count at the edges).
    pub fn range(self) -> (f64, f64) {
        match self {
            Feature::Contrast | Feature::Sharpness => (0.0, 0.5),
            _ => (0.0, 1.0),
        }
    }
}

/// The statistics of one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageFeatures {
    values: [f64; 6],
}

impl ImageFeatures {
    /// The statistics of an image given as interleaved 8-bit RGB, row by row; `None` when
    /// the buffer is not `width * height * 3` bytes or the image is empty.
    pub fn of_rgb(width: usize, height: usize, rgb: &[u8]) -> Option<ImageFeatures> {
        let pixels = width.checked_mul(height)?;
        if pixels == 0 || rgb.len() != pixels.checked_mul(3)? {
            return None;
        }
        let luma: Vec<f64> = rgb
            .chunks_exact(3)
            .map(|p| {
                (0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]))
                    / 255.0
            })
            .collect();
        let n = pixels as f64;
        let brightness = luma.iter().sum::<f64>() / n;
        let contrast = (luma.iter().map(|l| (l - brightness).powi(2)).sum::<f64>() / n).sqrt();
        let (mut differences, mut pairs) = (0.0, 0usize);
        for y in 0..height {
            for x in 0..width {
                let here = luma[y * width + x];
                if x + 1 < width {
                    differences += (luma[y * width + x + 1] - here).abs();
                    pairs += 1;
                }
                if y + 1 < height {
                    differences += (luma[(y + 1) * width + x] - here).abs();
                    pairs += 1;
                }
            }
        }
        let sharpness = if pairs == 0 {
            0.0
        } else {
            differences / pairs as f64
        };
        let mut channel = [0.0f64; 3];
        for p in rgb.chunks_exact(3) {
            for (sum, &v) in channel.iter_mut().zip(p) {
                *sum += f64::from(v);
            }
        }
        let [red, green, blue] = channel.map(|sum| sum / n / 255.0);
        Some(ImageFeatures {
            values: [brightness, contrast, sharpness, red, green, blue],
        })
    }

    /// The value of one statistic.
    pub fn get(&self, feature: Feature) -> f64 {
        let index = Feature::ALL
            .iter()
            .position(|f| *f == feature)
            .unwrap_or_default();
        self.values[index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_of_hand_made_images() {
        // 2x1: a black and a white pixel.
        let f = ImageFeatures::of_rgb(2, 1, &[0, 0, 0, 255, 255, 255]).unwrap();
        assert!((f.get(Feature::Brightness) - 0.5).abs() < 1e-9);
        assert!((f.get(Feature::Contrast) - 0.5).abs() < 1e-9);
        assert!((f.get(Feature::Sharpness) - 1.0).abs() < 1e-9);
        // A flat pure-red image.
        let red: Vec<u8> = [255u8, 0, 0].repeat(4);
        let f = ImageFeatures::of_rgb(2, 2, &red).unwrap();
        assert!((f.get(Feature::Red) - 1.0).abs() < 1e-9);
        assert_eq!((f.get(Feature::Green), f.get(Feature::Blue)), (0.0, 0.0));
        assert!((f.get(Feature::Brightness) - 0.299).abs() < 1e-9);
        assert_eq!(
            (f.get(Feature::Contrast), f.get(Feature::Sharpness)),
            (0.0, 0.0)
        );
        assert_eq!(ImageFeatures::of_rgb(2, 2, &red[..11]), None);
        assert_eq!(ImageFeatures::of_rgb(0, 0, &[]), None);
    }
}
