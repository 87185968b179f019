//! Drift end to end on the local stack: the real workflow, the endpoint's real capture files,
//! perturbed images from the bucket. Unperturbed traffic is OK in every window; each
//! perturbation is an ALERT within 200 captured inferences.

#![allow(clippy::unwrap_used)] // a test: a panic is its failure message

mod support;

use std::sync::Arc;

use chrono::Utc;
use scones_local::drift::{DriftOptions, features_of, judge_captures};
use scones_local::endpoint::DEFAULT_ENDPOINT_NAME;
use scones_local::perturb::{Perturbation, prepare};
use scones_local::stage::{self, Source, Split, SyntheticSpec};
use scones_local::training::load_staged;
use scones_local::{Home, LocalStack, NoProgress, StackOptions};
use scones_model::RgbImage;
use scones_workflow::drift::{Baseline, Cutoffs, Feature, Profile, Statistic, Verdict, WindowSpec};
use scones_workflow::run::Keys;
use support::BrightnessModel;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unperturbed_traffic_is_ok_and_every_perturbation_is_an_alert() {
    let tmp = tempfile::tempdir().unwrap();
    let home = Home::at(tmp.path()).unwrap();
    let source = Source::Synthetic {
        spec: SyntheticSpec {
            train_per_class: 300,
            test_per_class: 100,
            seed: 11,
        },
        reason: "drift test".into(),
    };
    stage::stage(&home.bucket(), &source, &NoProgress).unwrap();

    // The baseline: train/'s inputs and this model's outputs on them (it learnt nothing
    // from them, so they are as good as held out).
    let train = load_staged(&home.bucket(), Split::Train).unwrap();
    let brightness = |i: &RgbImage| features_of(i).unwrap().get(Feature::Brightness);
    let middle = train.iter().map(|i| brightness(&i.image)).sum::<f64>() / train.len() as f64;
    let model = Arc::new(BrightnessModel { middle });
    let mut profile = Profile::default();
    for image in &train {
        profile.add_image(&features_of(&image.image).unwrap());
        profile.add_scores(model.scores(&image.image).map(f64::from));
    }
    // Both classes are predicted, mostly right: the class mix means something.
    let bicycle_share = profile.predicted.counts[0] as f64 / profile.predicted.total() as f64;
    assert!((0.3..0.7).contains(&bicycle_share), "{bicycle_share}");
    let baseline = Baseline {
        format: Baseline::FORMAT,
        created: Utc::now(),
        model: "brightness".into(),
        inputs_from: "train/".into(),
        outputs_from: Some("train/".into()),
        held_out: None,
        profile,
    };
    let since = Utc::now() - chrono::Duration::seconds(1);
    let stack = LocalStack::with_predictor(&home, &StackOptions::default(), model).unwrap();
    let options = |windows| DriftOptions {
        window: WindowSpec::Count(200),
        windows,
        threshold: 0.93,
        cutoffs: Cutoffs::default(),
    };
    let judge = |windows| {
        judge_captures(
            &home.bucket(),
            DEFAULT_ENDPOINT_NAME,
            &baseline,
            since,
            &options(windows),
            Utc::now(),
        )
        .unwrap()
    };

    support::run_keys(&home, &stack, Keys::Random(1000), 16, |_| {}).await;
    stack.flush().await.unwrap();
    let (windows, unreadable) = judge(5);
    assert_eq!((windows.len(), unreadable), (5, 0));
    for w in &windows {
        assert_eq!(w.inferences, 200);
        assert_eq!(w.report.verdict, Verdict::Ok, "{:#?}", w.report);
    }

    for (kind, moved) in [
        (Perturbation::Darken, Statistic::Input(Feature::Brightness)),
        (Perturbation::Noise, Statistic::Input(Feature::Sharpness)),
        (Perturbation::Blur, Statistic::Input(Feature::Sharpness)),
        (Perturbation::OneClass, Statistic::PredictedClass),
    ] {
        let pool = Arc::new(prepare(&home.bucket(), kind, Split::Test).unwrap());
        support::run_keys(&home, &stack, Keys::RandomFrom(pool, 200), 16, |_| {}).await;
        stack.flush().await.unwrap();
        let (windows, _) = judge(1);
        let report = &windows[0].report;
        assert_eq!(report.verdict, Verdict::Alert, "{kind:?}: {report:#?}");
        assert_eq!(
            report.finding(moved).unwrap().verdict,
            Verdict::Alert,
            "{kind:?}"
        );
        // The next window is unperturbed traffic again.
        support::run_keys(&home, &stack, Keys::Random(200), 16, |_| {}).await;
        stack.flush().await.unwrap();
        assert_eq!(judge(1).0[0].report.verdict, Verdict::Ok, "after {kind:?}");
    }
}
