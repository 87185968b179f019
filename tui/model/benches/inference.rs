//! Single-image inference (decode + forward of one 32x32 PNG) with the default architecture,
//! with and without test-time flip, and a batch of 64.
//!
//! The weights come from one quick epoch on generated images: inference cost depends on the
//! architecture and width, not on what the weights learned.

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

use criterion::{Criterion, criterion_group, criterion_main};
use scones_model::{Class, IMAGE_BYTES, LabeledImage, RgbImage, TrainConfig, train};

fn generated_images() -> Vec<LabeledImage> {
    (0..64u32)
        .map(|i| {
            let class = if i % 2 == 0 {
                Class::Bicycle
            } else {
                Class::Motorcycle
            };
            let bytes: Vec<u8> = (0..IMAGE_BYTES as u32)
                .map(|p| ((p * 31 + i * 17 + class.index() as u32 * 90) % 256) as u8)
                .collect();
            LabeledImage {
                image: RgbImage::from_rgb_bytes(&bytes).expect("right length"),
                label: class,
                name: format!("{i}.png"),
            }
        })
        .collect()
}

fn inference(c: &mut Criterion) {
    let images = generated_images();
    let config = TrainConfig {
        epochs: 1,
        ..TrainConfig::default()
    };
    let model = train(&config, &images, |_| {}).expect("training succeeds");
    let classifier = model.classifier();
    let png = images[0].image.encode_png().expect("encode");

    c.bench_function("decode_png_32x32", |b| {
        b.iter(|| RgbImage::decode_png(std::hint::black_box(&png)))
    });
    let plain = classifier.clone().with_test_time_flip(false);
    c.bench_function("predict_png_no_flip", |b| {
        b.iter(|| plain.predict_png(std::hint::black_box(&png)))
    });
    let flipping = classifier.clone().with_test_time_flip(true);
    c.bench_function("predict_png_test_time_flip", |b| {
        b.iter(|| flipping.predict_png(std::hint::black_box(&png)))
    });
    let batch: Vec<RgbImage> = images.iter().map(|i| i.image.clone()).collect();
    c.bench_function("predict_batch_64", |b| {
        b.iter(|| classifier.predict_batch(std::hint::black_box(&batch)))
    });
}

criterion_group!(benches, inference);
criterion_main!(benches);
