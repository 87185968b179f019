//! Training a tiny model for a couple of epochs on generated data, keeping it in the
//! bucket, and serving it from the endpoint.

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

use std::sync::Arc;

use scones_local::endpoint::LocalEndpoint;
use scones_local::stage::{self, Source, Split, SyntheticSpec};
use scones_local::training::{self, TrainOptions, TrainingError};
use scones_local::{LocalBucket, NoProgress};
use scones_model::TrainConfig;

#[test]
fn trains_a_tiny_model_as_a_version_that_serves_first_and_then_as_a_candidate() {
    let tmp = tempfile::tempdir().unwrap();
    let bucket = LocalBucket::new(tmp.path().join("bucket"));
    assert!(matches!(
        training::load_serving(&bucket),
        Err(TrainingError::NoModel { .. })
    ));
    let options = TrainOptions::default();
    let err = training::train_staged(&bucket, &TrainConfig::default(), &options, |_| {})
        .err()
        .unwrap();
    assert_eq!(err.name(), "NotStaged");

    let source = Source::Synthetic {
        spec: SyntheticSpec {
            train_per_class: 40,
            test_per_class: 10,
            seed: 11,
        },
        reason: "training test".into(),
    };
    stage::stage(&bucket, &source, &NoProgress).unwrap();
    let config = TrainConfig {
        epochs: 2,
        width: 4,
        batch_size: 16,
        // The shipped default is a final fit (nothing held out); this test follows validation.
        validation_fraction: 0.25,
        ..TrainConfig::default()
    };
    let mut epochs = Vec::new();
    let trained =
        training::train_staged(&bucket, &config, &options, |e| epochs.push(e.clone())).unwrap();
    let (model, dir) = (trained.model, trained.dir);
    // The home's first model serves at once; its measures are saved with it.
    assert!(trained.serving);
    assert_eq!(trained.version.trained_on.base, 80);
    assert_eq!(trained.version.trained_on.reviewed, 0);
    assert_eq!(trained.version.test.as_ref().unwrap().images, 20);
    assert!(trained.version.production.is_none(), "nothing reviewed yet");
    assert_eq!(epochs.len(), 2);
    assert_eq!(epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(), [1, 2]);
    assert!(
        epochs
            .iter()
            .all(|e| e.train_loss.is_finite() && (0.0..=1.0).contains(&e.val_accuracy))
    );

    assert!(dir.starts_with(bucket.models_dir()));
    assert_eq!(
        training::serving_model_dir(&bucket).unwrap(),
        Some(dir.clone())
    );
    let meta = model.metadata();
    assert_eq!(meta.train_images + meta.validation_images, 80);
    assert_eq!(meta.epochs, 2);

    // The staged test split is never part of training: it loads separately and scores.
    let test = training::load_staged(&bucket, Split::Test).unwrap();
    assert_eq!(test.len(), 20);
    let loaded = training::load_serving(&bucket).unwrap();
    let evaluation = scones_model::evaluate(loaded.classifier(), &test).unwrap();
    assert_eq!(evaluation.total, 20);
    assert!(
        evaluation
            .to_string()
            .lines()
            .last()
            .unwrap()
            .starts_with("accuracy: ")
    );

    // The endpoint serves the trained classifier: two probabilities summing to one.
    let endpoint = LocalEndpoint::new("ep", Arc::new(loaded.into_classifier()));
    let png = std::fs::read(bucket.root().join("test").join(&test[0].name)).unwrap();
    let body = endpoint.invoke_now(&png, "image/png").unwrap();
    let scores = scones_handlers::Scores::from_endpoint_body(&body).unwrap();
    assert!((scores.p_bicycle + scores.p_motorcycle - 1.0).abs() < 1e-3);

    // The drift baseline is saved with the model: the inputs of train/, and no output
    // baseline, since the shipped recipe's out-of-fold outputs are predictions of other data.
    let baseline = scones_local::drift::load_baseline(&dir).unwrap();
    assert_eq!(baseline.inputs_from, "the 80 images of train/");
    assert_eq!(baseline.profile.images(), 80);
    assert_eq!(
        (baseline.outputs_from.as_deref(), baseline.profile.outputs()),
        (None, 0)
    );
    // Out-of-fold outputs of this very training set are used.
    let train = training::load_staged(&bucket, Split::Train).unwrap();
    let mut ours = config.out_of_fold_outputs.clone().unwrap();
    ours.data_fingerprint = scones_model::fingerprint::of_images(&train);
    let with_outputs = TrainConfig {
        epochs: 1,
        out_of_fold_outputs: Some(ours),
        ..config.clone()
    };
    let second = training::train_staged(&bucket, &with_outputs, &options, |_| {}).unwrap();
    let baseline = scones_local::drift::load_baseline(&second.dir).unwrap();
    assert!(baseline.outputs_from.is_some());
    assert_eq!(baseline.profile.outputs(), 1000);

    // A second model is a candidate: the first still serves; the registry lists both.
    assert!(!second.serving);
    assert_eq!(
        training::serving_model_dir(&bucket).unwrap(),
        Some(dir.clone())
    );
    let view = scones_local::models::view(&bucket).unwrap();
    assert_eq!(view.versions.len(), 2);
    assert_eq!(view.versions.iter().filter(|v| v.serving).count(), 1);
    assert_eq!(view.history.len(), 1, "the first model's record");

    // A broken pointer is a typed error.
    std::fs::write(bucket.models_dir().join("SERVING"), "../elsewhere\n").unwrap();
    assert_eq!(
        training::serving_model_dir(&bucket).unwrap_err().name(),
        "Io"
    );
}

/// The dashboard's first run: while the first model trains in the background the endpoint is
/// `Creating` and a test execution is refused with how far training is; once it is saved the
/// endpoint serves and an execution runs on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_model_trains_in_the_background_and_serves_when_saved() {
    use scones_local::first_model::{FirstModel, FirstModelStatus};
    use scones_local::{Home, LocalBackend, LocalOptions};
    use scones_workflow::port::{Backend, BackendError};

    let tmp = tempfile::tempdir().unwrap();
    let home = Home::at(tmp.path()).unwrap();
    let source = Source::Synthetic {
        spec: SyntheticSpec {
            train_per_class: 20,
            test_per_class: 5,
            seed: 5,
        },
        reason: "first model test".into(),
    };
    stage::stage(&home.bucket(), &source, &NoProgress).unwrap();
    let config = TrainConfig {
        epochs: 3,
        width: 4,
        batch_size: 16,
        ..TrainConfig::default()
    };
    let first = FirstModel::start(home.bucket(), config, TrainOptions::default()).unwrap();
    let backend = LocalBackend::open(&home, LocalOptions::default())
        .unwrap()
        .with_first_model(first.clone());

    // At once: nothing serves yet (a tiny model still takes far longer than these calls).
    let endpoint = backend.endpoint().await.unwrap();
    assert_eq!(endpoint.status, "Creating", "{endpoint:?}");
    assert!(
        endpoint
            .detail
            .as_deref()
            .unwrap()
            .starts_with("the model is training (epoch 0/3)"),
        "{endpoint:?}"
    );
    match backend.can_start() {
        Err(BackendError::NotReady { reason, .. }) => {
            assert!(reason.starts_with("the model is training"), "{reason}")
        }
        other => panic!("an execution before the model serves: {other:?}"),
    }

    let ended = ended(&first, std::time::Duration::from_secs(120)).await;
    assert_eq!(ended, FirstModelStatus::Done);
    assert_eq!(backend.endpoint().await.unwrap().status, "InService");
    let key = backend.test_keys().await.unwrap()[0].clone();
    let id = backend.start_execution(key).await.unwrap();
    backend.wait_execution(id).await.unwrap();
}

/// A first model whose training failed says so, and does not stand in the way of a model
/// trained meanwhile (the failure message tells the operator to run `scones train --local`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_first_model_says_why_and_a_model_trained_meanwhile_serves() {
    use scones_local::first_model::{FirstModel, FirstModelStatus};
    use scones_local::{Home, LocalBackend, LocalOptions};
    use scones_workflow::port::{Backend, BackendError};

    let tmp = tempfile::tempdir().unwrap();
    let home = Home::at(tmp.path()).unwrap();
    let config = TrainConfig {
        epochs: 1,
        width: 4,
        batch_size: 16,
        ..TrainConfig::default()
    };
    // Nothing is staged: the training fails at once.
    let first = FirstModel::start(home.bucket(), config.clone(), TrainOptions::default()).unwrap();
    let ended = ended(&first, std::time::Duration::from_secs(60)).await;
    assert!(matches!(ended, FirstModelStatus::Failed(_)), "{ended:?}");
    let backend = LocalBackend::open(&home, LocalOptions::default())
        .unwrap()
        .with_first_model(first);
    let endpoint = backend.endpoint().await.unwrap();
    assert_eq!(endpoint.status, "Failed", "{endpoint:?}");
    assert!(
        endpoint
            .detail
            .as_deref()
            .unwrap()
            .starts_with("training the first model failed"),
        "{endpoint:?}"
    );
    match backend.can_start() {
        Err(BackendError::NotReady { reason, .. }) => {
            assert!(reason.contains("run `scones train --local`"), "{reason}")
        }
        other => panic!("an execution without a model: {other:?}"),
    }

    let source = Source::Synthetic {
        spec: SyntheticSpec {
            train_per_class: 10,
            test_per_class: 3,
            seed: 7,
        },
        reason: "first model test".into(),
    };
    stage::stage(&home.bucket(), &source, &NoProgress).unwrap();
    training::train_staged(&home.bucket(), &config, &TrainOptions::default(), |_| {}).unwrap();
    assert_eq!(backend.endpoint().await.unwrap().status, "InService");
    backend.can_start().unwrap();
}

/// The first model's status once its training has ended (done or failed), polled for up to
/// `within`.
async fn ended(
    first: &scones_local::first_model::FirstModel,
    within: std::time::Duration,
) -> scones_local::first_model::FirstModelStatus {
    use scones_local::first_model::FirstModelStatus;
    let deadline = std::time::Instant::now() + within;
    loop {
        let status = first.status();
        if matches!(status, FirstModelStatus::Done | FirstModelStatus::Failed(_)) {
            return status;
        }
        assert!(std::time::Instant::now() < deadline, "still {status:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
