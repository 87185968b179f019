//! Behaviour of the public API on generated data: training learns, saving round-trips,
//! bad files and bad bytes give typed errors, a seed makes runs repeatable.

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use scones_model::{
    BatchMixing, Class, IMAGE_BYTES, LabeledImage, METADATA_FILE, ModelError, RgbImage,
    TrainConfig, TrainedModel, WEIGHTS_FILE, cross_validate, cross_validate_fold, evaluate,
    load_split, train,
};

/// Two trivially separable classes: bicycles are reddish, motorcycles bluish, both noisy.
fn synthetic(per_class: usize, seed: u64) -> Vec<LabeledImage> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    for class in Class::ALL {
        for i in 0..per_class {
            let mut bytes = vec![0u8; IMAGE_BYTES];
            for px in bytes.chunks_exact_mut(3) {
                let noise: u8 = rng.random_range(0..60);
                let (r, b) = match class {
                    Class::Bicycle => (170 + noise, 40 + noise),
                    Class::Motorcycle => (40 + noise, 170 + noise),
                };
                px.copy_from_slice(&[r, 90 + noise, b]);
            }
            out.push(LabeledImage {
                image: RgbImage::from_rgb_bytes(&bytes).expect("right length"),
                label: class,
                name: format!("{}_{i:03}.png", class.name()),
            });
        }
    }
    out
}

/// A configuration small enough for debug-build tests.
fn tiny_config(seed: u64) -> TrainConfig {
    TrainConfig {
        seed,
        epochs: 2,
        batch_size: 16,
        width: 4,
        validation_fraction: 0.25,
        peak_learning_rate: 0.2,
        ..TrainConfig::default()
    }
}

fn tiny_model(seed: u64) -> TrainedModel {
    train(&tiny_config(seed), &synthetic(32, 1), |_| {}).expect("training succeeds")
}

#[test]
fn training_separates_two_synthetic_classes_well_above_chance() {
    let mut reports = Vec::new();
    let model = train(&tiny_config(7), &synthetic(32, 1), |r| {
        reports.push(r.clone())
    })
    .expect("training succeeds");

    assert_eq!(
        reports.iter().map(|r| r.epoch).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(
        reports
            .iter()
            .all(|r| r.epochs == 2 && r.train_loss.is_finite())
    );
    assert!(reports[1].elapsed >= reports[0].elapsed);

    // Fresh images the model never saw.
    let unseen = synthetic(20, 99);
    let eval = evaluate(model.classifier(), &unseen).expect("evaluation succeeds");
    assert!(
        eval.accuracy >= 0.9,
        "accuracy {} on separable data\n{eval}",
        eval.accuracy
    );
    assert_eq!(eval.total, 40);

    let meta = model.metadata();
    assert_eq!(meta.images, 64);
    assert_eq!(meta.train_images + meta.validation_images, 64);
    assert_eq!(meta.validation_images, 16);
    assert_eq!(meta.classes, vec![Class::Bicycle, Class::Motorcycle]);
    assert_eq!(meta.input_shape, [3, 32, 32]);
    assert_eq!(meta.seed, 7);
    assert_eq!(meta.epochs, 2);
    assert_eq!(meta.validation_accuracy, reports[1].val_accuracy);
    assert_eq!(
        meta.data_fingerprint,
        scones_model::fingerprint::of_images(&synthetic(32, 1))
    );
}

#[test]
fn same_seed_gives_identical_metrics_and_predictions() {
    let images = synthetic(32, 1);
    let probe: Vec<RgbImage> = synthetic(5, 3).into_iter().map(|i| i.image).collect();
    let run = |seed| {
        let mut reports = Vec::new();
        let model = train(&tiny_config(seed), &images, |r| reports.push(r.clone())).expect("train");
        let metrics: Vec<_> = reports
            .iter()
            .map(|r| (r.train_loss, r.train_accuracy, r.val_loss, r.val_accuracy))
            .collect();
        let predictions = model.classifier().predict_batch(&probe).expect("predict");
        (metrics, predictions)
    };
    let first = run(11);
    let second = run(11);
    assert_eq!(first, second);
    let other_seed = run(12);
    assert_ne!(
        first.1, other_seed.1,
        "a different seed should give a different model"
    );
}

#[test]
fn probabilities_are_a_distribution_in_class_order() {
    let model = tiny_model(5);
    let images = synthetic(10, 4);
    let decoded: Vec<RgbImage> = images.iter().map(|i| i.image.clone()).collect();
    let batch = model.classifier().predict_batch(&decoded).expect("predict");
    assert_eq!(batch.len(), 20);
    for (probs, example) in batch.iter().zip(&images) {
        assert!((probs[0] + probs[1] - 1.0).abs() < 1e-5, "{probs:?}");
        assert!(probs.iter().all(|p| (0.0..=1.0).contains(p)));
        // Single-image prediction agrees with the batch.
        let single = model
            .classifier()
            .predict_image(&example.image)
            .expect("predict");
        assert!((single[0] - probs[0]).abs() < 1e-5);
    }
    // Reddish images (bicycles) should mostly get p_bicycle > 0.5: index 0 is bicycle.
    let bicycles_right = batch[..10].iter().filter(|p| p[0] > 0.5).count();
    assert!(bicycles_right >= 9, "{batch:?}");
}

#[test]
fn predict_png_decodes_rgb_and_rgba_alike() {
    let model = tiny_model(5);
    let example = &synthetic(1, 8)[0];
    let rgb_png = example.image.encode_png().expect("encode");
    let rgba: Vec<u8> = example
        .image
        .as_bytes()
        .chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], 255])
        .collect();
    let mut rgba_png = Vec::new();
    image::write_buffer_with_format(
        &mut std::io::Cursor::new(&mut rgba_png),
        &rgba,
        32,
        32,
        image::ExtendedColorType::Rgba8,
        image::ImageFormat::Png,
    )
    .expect("encode rgba");

    let from_rgb = model.classifier().predict_png(&rgb_png).expect("rgb");
    let from_rgba = model.classifier().predict_png(&rgba_png).expect("rgba");
    let direct = model
        .classifier()
        .predict_image(&example.image)
        .expect("direct");
    assert_eq!(from_rgb, direct);
    assert_eq!(from_rgba, direct);
}

#[test]
fn predict_on_bad_bytes_is_a_typed_error() {
    let model = tiny_model(5);
    let classifier = model.classifier();
    for bad in [
        &b""[..],
        b"not a png at all",
        &[0x89, b'P', b'N', b'G', 0, 0, 0, 0],
    ] {
        let err = classifier.predict_png(bad).expect_err("must fail");
        assert_eq!(err.name(), "ImageDecode", "{err}");
    }
    // A valid PNG of the wrong size.
    let mut small = Vec::new();
    image::write_buffer_with_format(
        &mut std::io::Cursor::new(&mut small),
        &[7u8; 16 * 16 * 3],
        16,
        16,
        image::ExtendedColorType::Rgb8,
        image::ImageFormat::Png,
    )
    .expect("encode");
    match classifier.predict_png(&small) {
        Err(ModelError::ImageSize {
            width: 16,
            height: 16,
            expected: 32,
        }) => {}
        other => panic!("expected ImageSize, got {other:?}"),
    }
}

#[test]
fn save_then_load_gives_identical_predictions_and_metadata() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = tiny_model(5);
    model.save(dir.path()).expect("save");
    assert!(dir.path().join(WEIGHTS_FILE).is_file());
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join(METADATA_FILE)).expect("read"))
            .expect("metadata is JSON");
    for key in [
        "classes",
        "input_shape",
        "validation_accuracy",
        "data_fingerprint",
        "seed",
        "epochs",
        "created_at",
        "framework",
        "framework_version",
        "weights_sha256",
    ] {
        assert!(json.get(key).is_some(), "metadata.json lacks {key}: {json}");
    }
    assert_eq!(
        json["classes"],
        serde_json::json!(["bicycle", "motorcycle"])
    );
    assert_eq!(json["framework"], "burn");

    let loaded = TrainedModel::load(dir.path()).expect("load");
    let probe: Vec<RgbImage> = synthetic(6, 21).into_iter().map(|i| i.image).collect();
    assert_eq!(
        model.classifier().predict_batch(&probe).expect("predict"),
        loaded.classifier().predict_batch(&probe).expect("predict"),
    );
    let mut expected = model.metadata().clone();
    expected.weights_sha256 = loaded.metadata().weights_sha256.clone();
    assert_eq!(&expected, loaded.metadata());
    assert_eq!(loaded.metadata().weights_sha256.len(), 64);
}

fn saved_model_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    tiny_model(5).save(dir.path()).expect("save");
    dir
}

fn load_error(dir: &Path) -> ModelError {
    TrainedModel::load(dir).expect_err("load must fail")
}

#[test]
fn missing_files_are_reported_by_name() {
    let dir = saved_model_dir();
    std::fs::remove_file(dir.path().join(WEIGHTS_FILE)).expect("rm");
    match load_error(dir.path()) {
        ModelError::MissingFile { path } => assert!(path.ends_with(WEIGHTS_FILE)),
        other => panic!("expected MissingFile, got {other:?}"),
    }
    let dir = saved_model_dir();
    std::fs::remove_file(dir.path().join(METADATA_FILE)).expect("rm");
    match load_error(dir.path()) {
        ModelError::MissingFile { path } => assert!(path.ends_with(METADATA_FILE)),
        other => panic!("expected MissingFile, got {other:?}"),
    }
    let empty = tempfile::tempdir().expect("tempdir");
    assert_eq!(load_error(&empty.path().join("nope")).name(), "MissingFile");
}

#[test]
fn corrupt_files_are_typed_errors() {
    // Flipped byte in the weights: caught by the recorded SHA-256.
    let dir = saved_model_dir();
    let weights = dir.path().join(WEIGHTS_FILE);
    let mut bytes = std::fs::read(&weights).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&weights, &bytes).expect("write");
    assert_eq!(load_error(dir.path()).name(), "CorruptFile");

    // Truncated weights whose hash was "fixed up": caught by the safetensors parser.
    let dir = saved_model_dir();
    let weights = dir.path().join(WEIGHTS_FILE);
    let bytes = std::fs::read(&weights).expect("read");
    let truncated = &bytes[..bytes.len() / 2];
    std::fs::write(&weights, truncated).expect("write");
    rewrite_metadata(dir.path(), |m| {
        m["weights_sha256"] = scones_model::fingerprint::of_bytes(truncated).into();
    });
    let err = load_error(dir.path());
    assert!(matches!(err.name(), "CorruptFile" | "Mismatch"), "{err:?}");

    // Metadata that is not JSON.
    let dir = saved_model_dir();
    std::fs::write(dir.path().join(METADATA_FILE), b"{ not json").expect("write");
    assert_eq!(load_error(dir.path()).name(), "CorruptFile");
}

fn rewrite_metadata(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join(METADATA_FILE);
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    edit(&mut json);
    std::fs::write(&path, serde_json::to_vec(&json).expect("json")).expect("write");
}

/// A calibration temperature no fit produces (0, negative, 1e-30 which would make every
/// image certain, NaN as null) is a damaged model, refused on load (issue 27).
#[test]
fn an_impossible_calibration_temperature_is_refused() {
    for t in [
        serde_json::json!(-1.0),
        serde_json::json!(0.0),
        serde_json::json!(1e-30),
        serde_json::json!(1e9),
    ] {
        let dir = saved_model_dir();
        rewrite_metadata(dir.path(), |m| {
            m["calibration"] = serde_json::json!({"method": "temperature", "temperature": t,
                "images": 10, "nll_before": 0.5, "nll_after": 0.4});
        });
        let err = load_error(dir.path());
        assert_eq!(err.name(), "CorruptFile", "{t}: {err:?}");
        assert!(err.to_string().contains("temperature"), "{err}");
    }
    let dir = saved_model_dir();
    rewrite_metadata(dir.path(), |m| {
        m["calibration"] = serde_json::json!({"method": "temperature", "temperature": 0.8,
            "images": 10, "nll_before": 0.5, "nll_after": 0.4});
    });
    assert!(TrainedModel::load(dir.path()).is_ok());
}

#[test]
fn mismatched_models_are_typed_errors() {
    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit); 4] = [
        ("format version", |m| m["format_version"] = 999.into()),
        ("classes", |m| {
            m["classes"] = serde_json::json!(["motorcycle", "bicycle"])
        }),
        ("input shape", |m| {
            m["input_shape"] = serde_json::json!([1, 28, 28])
        }),
        // Weights of a width-4 network declared as width 8: tensor shapes do not fit.
        ("width", |m| m["width"] = 8.into()),
    ];
    for (what, edit) in cases {
        let dir = saved_model_dir();
        rewrite_metadata(dir.path(), edit);
        let err = load_error(dir.path());
        assert_eq!(err.name(), "Mismatch", "{what}: {err:?}");
    }
}

#[test]
fn bad_training_input_is_rejected() {
    let one_class: Vec<LabeledImage> = synthetic(8, 1)
        .into_iter()
        .filter(|i| i.label == Class::Bicycle)
        .collect();
    let err = train(&tiny_config(1), &one_class, |_| {}).expect_err("one class");
    assert_eq!(err.name(), "NotEnoughData");
    let err = train(
        &TrainConfig {
            epochs: 0,
            ..tiny_config(1)
        },
        &synthetic(8, 1),
        |_| {},
    )
    .expect_err("zero epochs");
    assert_eq!(err.name(), "InvalidConfig");
    assert_eq!(Class::from_index(2), None);
}

#[test]
fn load_split_reads_labels_from_the_csv_not_file_names() {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(root.path().join("train")).expect("mkdir");
    std::fs::create_dir_all(root.path().join("test")).expect("mkdir");
    let images = synthetic(2, 1);
    // File names say "bicycle" but the CSV says otherwise for one of them.
    for (i, example) in images.iter().enumerate() {
        let split = if i == 3 { "test" } else { "train" };
        std::fs::write(
            root.path().join(split).join(format!("bicycle_{i}.png")),
            example.image.encode_png().expect("encode"),
        )
        .expect("write");
    }
    let csv = root.path().join("labels.csv");
    std::fs::write(
        &csv,
        "split,filename,label,class_name,cifar100_fine_label\n\
         train,bicycle_2.png,1,motorcycle,48\n\
         train,bicycle_0.png,0,bicycle,8\n\
         train,bicycle_1.png,0,bicycle,8\n\
         test,bicycle_3.png,1,motorcycle,48\n",
    )
    .expect("write");
    let train_split = load_split(root.path(), &csv, "train").expect("load");
    let names: Vec<_> = train_split
        .iter()
        .map(|i| (i.name.as_str(), i.label))
        .collect();
    assert_eq!(
        names,
        vec![
            ("bicycle_0.png", Class::Bicycle),
            ("bicycle_1.png", Class::Bicycle),
            ("bicycle_2.png", Class::Motorcycle),
        ]
    );
    assert_eq!(train_split[2].image, images[2].image);
    assert_eq!(
        load_split(root.path(), &csv, "test").expect("load").len(),
        1
    );

    // A bad label, a missing image and a non-PNG image are reported with their location.
    std::fs::write(&csv, "split,filename,label\ntrain,bicycle_0.png,7\n").expect("write");
    match load_split(root.path(), &csv, "train") {
        Err(ModelError::Labels { reason, .. }) => assert!(reason.contains("line 2"), "{reason}"),
        other => panic!("expected Labels, got {other:?}"),
    }
    std::fs::write(&csv, "split,filename,label\ntrain,missing.png,0\n").expect("write");
    assert_eq!(
        load_split(root.path(), &csv, "train")
            .expect_err("missing")
            .name(),
        "Io"
    );
    std::fs::write(root.path().join("train/junk.png"), b"junk").expect("write");
    std::fs::write(&csv, "split,filename,label\ntrain,junk.png,0\n").expect("write");
    let err = load_split(root.path(), &csv, "train").expect_err("junk");
    assert_eq!(err.name(), "ImageDecode");
    assert!(err.to_string().contains("junk.png"), "{err}");
    // An image of another size names its file too (eval --images reads folders this way).
    let big = image::RgbImage::from_pixel(64, 64, image::Rgb([1, 2, 3]));
    big.save(root.path().join("train/big.png")).expect("write");
    std::fs::write(&csv, "split,filename,label\ntrain,big.png,0\n").expect("write");
    let err = load_split(root.path(), &csv, "train").expect_err("big");
    assert_eq!(err.name(), "ImageSize");
    let message = err.to_string();
    assert!(
        message.contains("big.png") && message.contains("64x64"),
        "{message}"
    );
}

/// The shipped kind of run, shrunk: weight averaging and batch mixing switched on. CutMix
/// needs more steps than plain training to separate even this easy data (3 epochs stay at
/// chance), hence 6 epochs.
fn regularised_config(seed: u64) -> TrainConfig {
    TrainConfig {
        epochs: 6,
        // Two replicas of 16 (the default replicas: 2). With batches of 16, batch norm sees
        // 8 images per replica, and on these 48 images seed 3 then trained to 100% in train
        // mode but predicted one class in eval mode: too few images for running statistics
        // that match, not a fault of the replicas (other seeds were fine; deterministic).
        batch_size: 32,
        ema_decay: 0.5,
        mixing: BatchMixing::Cutmix {
            alpha: 1.0,
            probability: 0.5,
        },
        ..tiny_config(seed)
    }
}

#[test]
fn weight_averaging_and_mixing_learn_and_are_deterministic() {
    let images = synthetic(32, 1);
    let unseen = synthetic(20, 99);
    let run = |seed| {
        let mut reports = Vec::new();
        let model = train(&regularised_config(seed), &images, |r| {
            reports.push(r.clone())
        })
        .expect("train");
        let eval = evaluate(model.classifier(), &unseen).expect("evaluate");
        let last = reports.last().cloned().expect("at least one epoch");
        (eval.accuracy, last.train_loss, last.val_accuracy, model)
    };
    let (accuracy, loss, val, model) = run(3);
    assert!(accuracy >= 0.9, "accuracy {accuracy} on separable data");
    let (accuracy2, loss2, val2, model2) = run(3);
    assert_eq!((accuracy, loss, val), (accuracy2, loss2, val2));
    let probe: Vec<RgbImage> = unseen.iter().map(|i| i.image.clone()).collect();
    assert_eq!(
        model.classifier().predict_batch(&probe).expect("predict"),
        model2.classifier().predict_batch(&probe).expect("predict"),
    );
    // The averaged weights are what gets saved and loaded.
    let dir = tempfile::tempdir().expect("tempdir");
    model.save(dir.path()).expect("save");
    let loaded = TrainedModel::load(dir.path()).expect("load");
    assert_eq!(
        model.classifier().predict_batch(&probe).expect("predict"),
        loaded.classifier().predict_batch(&probe).expect("predict"),
    );
    assert_eq!(loaded.metadata().config.ema_decay, 0.5);
}

#[test]
fn final_fit_trains_on_every_image_and_saves_nan_validation_as_null() {
    let images = synthetic(32, 1);
    let config = TrainConfig {
        validation_fraction: 0.0,
        ..tiny_config(4)
    };
    let mut reports = Vec::new();
    let model = train(&config, &images, |r| reports.push(r.clone())).expect("train");
    assert_eq!(reports.len(), 2);
    assert!(
        reports
            .iter()
            .all(|r| r.val_accuracy.is_nan() && r.val_loss.is_nan() && r.train_loss.is_finite())
    );
    let meta = model.metadata();
    assert_eq!((meta.train_images, meta.validation_images), (64, 0));
    assert!(meta.validation_accuracy.is_nan());
    let eval = evaluate(model.classifier(), &synthetic(20, 99)).expect("evaluate");
    assert!(eval.accuracy >= 0.9, "{eval}");

    let dir = tempfile::tempdir().expect("tempdir");
    model.save(dir.path()).expect("save");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join(METADATA_FILE)).expect("read"))
            .expect("metadata is JSON");
    assert_eq!(json["validation_accuracy"], serde_json::Value::Null);
    assert_eq!(json["validation_loss"], serde_json::Value::Null);
    let loaded = TrainedModel::load(dir.path()).expect("a final-fit model loads");
    assert!(loaded.metadata().validation_accuracy.is_nan());
    assert_eq!(loaded.metadata().train_images, 64);
}

/// A final fit serves the configuration's out-of-fold calibration; a run with a holdout fits
/// its own; a configuration without one serves the raw softmax. The temperature is saved and
/// applied after loading.
#[test]
fn calibration_comes_from_the_holdout_or_the_configurations_out_of_fold_fit() {
    use scones_model::calibration::{Calibration, FittedOn};
    let images = synthetic(32, 1);
    let out_of_fold = Calibration {
        method: "temperature".into(),
        temperature: 0.5,
        images: 1000,
        fitted_on: FittedOn::OutOfFold { folds: 5 },
        nll_before: 0.3,
        nll_after: 0.2,
    };
    let final_fit = TrainConfig {
        validation_fraction: 0.0,
        out_of_fold_calibration: Some(out_of_fold.clone()),
        ..tiny_config(4)
    };
    let model = train(&final_fit, &images, |_| {}).expect("train");
    assert_eq!(model.metadata().calibration.as_ref(), Some(&out_of_fold));
    assert_eq!(model.classifier().temperature(), 0.5);
    let image = &images[0].image;
    let raw = model.classifier().logits(image).expect("logits");
    let served = model.classifier().predict_image(image).expect("predict");
    let expected = scones_model::calibration::probabilities(raw, 0.5);
    assert!(
        (f64::from(served[0]) - expected[0]).abs() < 1e-5,
        "{served:?} {expected:?}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    model.save(dir.path()).expect("save");
    let loaded = TrainedModel::load(dir.path()).expect("load");
    assert_eq!(loaded.classifier().temperature(), 0.5);
    assert_eq!(
        loaded.classifier().predict_image(image).expect("predict"),
        served
    );

    let holdout = TrainConfig {
        out_of_fold_calibration: Some(out_of_fold),
        ..tiny_config(4)
    };
    let fitted = train(&holdout, &images, |_| {}).expect("train");
    let c = fitted
        .metadata()
        .calibration
        .clone()
        .expect("fitted on the holdout");
    assert_eq!((c.fitted_on, c.images), (FittedOn::Holdout, 16));

    let uncalibrated = TrainConfig {
        validation_fraction: 0.0,
        out_of_fold_calibration: None,
        ..tiny_config(4)
    };
    let raw_model = train(&uncalibrated, &images, |_| {}).expect("train");
    assert_eq!(raw_model.metadata().calibration, None);
    assert_eq!(raw_model.classifier().temperature(), 1.0);
}

#[test]
fn cross_validation_scores_every_image_once_on_the_same_folds() {
    let images = synthetic(20, 1);
    let config = TrainConfig {
        epochs: 2,
        ..tiny_config(2)
    };
    let mut epochs_seen = vec![0usize; 4];
    let cv = cross_validate(&config, &images, 4, 7, |fold, report| {
        epochs_seen[fold] += 1;
        assert_eq!(report.epochs, 2);
        // Only the last epoch of a fold is validated.
        assert_eq!(report.val_accuracy.is_nan(), report.epoch < 2, "{report:?}");
    })
    .expect("cross-validate");
    assert_eq!(epochs_seen, vec![2, 2, 2, 2]);
    assert_eq!(cv.folds.len(), 4);
    assert_eq!(
        cv.folds.iter().map(|f| f.validation_images).sum::<usize>(),
        40
    );
    assert!(cv.folds.iter().all(|f| f.train_images == 30));
    for fold in &cv.folds {
        assert_eq!(fold.validation_confidences.len(), fold.validation_images);
        assert!(
            fold.validation_confidences
                .iter()
                .all(|c| (0.5..=1.0).contains(c)),
            "{fold:?}"
        );
        assert_eq!(fold.confident_fraction(0.0), 1.0);
        assert_eq!(fold.confident_fraction(1.01), 0.0);
    }
    assert!(cv.accuracy() >= 0.9, "{cv:?}");
    assert!(cv.fold_std().is_finite());

    // One fold on its own is exactly that fold of the full run.
    let third = cross_validate_fold(&config, &images, 4, 7, 2, |_| {}).expect("fold 2");
    assert_eq!(third.validation_accuracy, cv.folds[2].validation_accuracy);
    assert_eq!(third.validation_loss, cv.folds[2].validation_loss);

    for (folds, fold) in [(1, 0), (4, 4)] {
        let err = cross_validate_fold(&config, &images, folds, 7, fold, |_| {})
            .expect_err("no such fold");
        assert_eq!(err.name(), "InvalidConfig");
    }
}
