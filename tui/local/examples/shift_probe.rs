//! Probe: how the served model of a home does on candidate image shifts of train/ (which
//! shift makes it confidently wrong). Run: cargo run --release -p scones-local --example
//! shift_probe -- HOME
#![allow(clippy::unwrap_used, missing_docs)]

use scones_local::stage::Split;
use scones_local::training::{load_serving, load_staged};
use scones_local::{Home, drift::features_of};
use scones_model::RgbImage;
use scones_workflow::drift::Feature;

fn transform(name: &str, px: &[u8]) -> Vec<u8> {
    let n = px.len() / 3;
    let mut out = Vec::with_capacity(px.len());
    for i in 0..n {
        let (r, g, b) = (px[3 * i] as f32, px[3 * i + 1] as f32, px[3 * i + 2] as f32);
        let y = 0.299 * r + 0.587 * g + 0.114 * b;
        let (r2, g2, b2) = match name {
            "invert" => (255.0 - r, 255.0 - g, 255.0 - b),
            "swap" => (b, g, r),
            "gray" => (y, y, y),
            "contrast" => {
                let c = |v: f32| ((v - 128.0) * 2.2 + 128.0).clamp(0.0, 255.0);
                (c(r), c(g), c(b))
            }
            "nightvision" => {
                let v = ((y - 60.0) * 1.8).clamp(0.0, 255.0);
                (v * 0.2, v, v * 0.2)
            }
            "sepia" => (
                (0.393 * r + 0.769 * g + 0.189 * b).min(255.0),
                (0.349 * r + 0.686 * g + 0.168 * b).min(255.0),
                (0.272 * r + 0.534 * g + 0.131 * b).min(255.0),
            ),
            "posterize" => {
                let p = |v: f32| ((v / 64.0).floor() * 64.0 + 32.0).min(255.0);
                (p(r), p(g), p(b))
            }
            "overexpose" => (
                (r * 1.8 + 40.0).min(255.0),
                (g * 1.8 + 40.0).min(255.0),
                (b * 1.8 + 40.0).min(255.0),
            ),
            "thermal" => {
                let t = y / 255.0;
                (
                    (t * 2.0).min(1.0) * 255.0,
                    (t * t) * 255.0,
                    ((1.0 - t) * 0.6) * 255.0,
                )
            }
            _ => (r, g, b),
        };
        out.extend([r2.round() as u8, g2.round() as u8, b2.round() as u8]);
    }
    out
}

fn main() {
    let home = Home::at(std::path::Path::new(&std::env::args().nth(1).unwrap())).unwrap();
    let bucket = home.bucket();
    let model = load_serving(&bucket).unwrap();
    let train = load_staged(&bucket, Split::Train).unwrap();
    for name in [
        "none",
        "invert",
        "swap",
        "gray",
        "contrast",
        "nightvision",
        "sepia",
        "posterize",
        "overexpose",
        "thermal",
    ] {
        let (mut right, mut conf, mut bike, mut above) = (0, 0.0, 0, 0);
        let mut contrast = 0.0;
        for img in &train {
            let shifted = RgbImage::from_rgb_bytes(&transform(name, img.image.as_bytes())).unwrap();
            let [a, b] = model.classifier().predict_image(&shifted).unwrap();
            let p = a.max(b) as f64;
            conf += p;
            if p >= 0.93 {
                above += 1;
            }
            let pred = if a >= b { 0 } else { 1 };
            bike += usize::from(pred == 0);
            right += usize::from(pred == img.label.index());
            contrast += features_of(&shifted).unwrap().get(Feature::Contrast);
        }
        let n = train.len() as f64;
        println!(
            "{name:12} acc {:.3} mean conf {:.3} accepted {:.2} bicycle share {:.2} contrast {:.3}",
            right as f64 / n,
            conf / n,
            above as f64 / n,
            bike as f64 / n,
            contrast / n
        );
    }
}
