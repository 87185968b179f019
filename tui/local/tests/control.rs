//! The control loop on the local stack, end to end: the guard trips on drifted traffic and
//! never on unshifted traffic, held decisions fail with DriftHold and go to review, people's
//! labels are all kept, training uses reviewed images (never the held-out share, never
//! test/), versions pass a gate, promotion switches models under a running burst without a
//! failure, rollback goes back.

#![allow(clippy::unwrap_used)] // a test: a panic is its failure message

mod support;

use std::sync::Arc;

use chrono::Utc;
use scones_local::endpoint::Served;
use scones_local::perturb::{Perturbation, prepare};
use scones_local::review::LabelStore;
use scones_local::stage::{self, Source, Split, SyntheticSpec};
use scones_local::training::{TrainOptions, load_staged, train_staged};
use scones_local::{Home, LocalStack, NoProgress, StackOptions};
use scones_model::{RgbImage, TrainConfig};
use scones_workflow::ExecutionStatus;
use scones_workflow::cause::DRIFT_HOLD_ERROR;
use scones_workflow::drift::{Baseline, Profile};
use scones_workflow::guard::GuardCommand;
use scones_workflow::review::{NewLabel, ReviewReason, Use, Verdict, use_of};
use scones_workflow::run::Keys;
use support::BrightnessModel;

/// A home with synthetic data (light bicycles, dark motorcycles) and a model that needs no
/// training, with its baseline.
fn brightness_home(root: &std::path::Path) -> (Home, Served) {
    let home = Home::at(root).unwrap();
    let source = Source::Synthetic {
        spec: SyntheticSpec {
            train_per_class: 300,
            test_per_class: 100,
            seed: 11,
        },
        reason: "control test".into(),
    };
    stage::stage(&home.bucket(), &source, &NoProgress).unwrap();
    let train = load_staged(&home.bucket(), Split::Train).unwrap();
    let brightness = |i: &RgbImage| {
        scones_local::drift::features_of(i)
            .unwrap()
            .get(scones_workflow::drift::Feature::Brightness)
    };
    let middle = train.iter().map(|i| brightness(&i.image)).sum::<f64>() / train.len() as f64;
    let model = Arc::new(BrightnessModel { middle });
    let mut profile = Profile::default();
    for image in &train {
        profile.add_image(&scones_local::drift::features_of(&image.image).unwrap());
        profile.add_scores(model.scores(&image.image).map(f64::from));
    }
    let baseline = Baseline {
        format: Baseline::FORMAT,
        created: Utc::now(),
        model: "brightness".into(),
        inputs_from: "train/".into(),
        outputs_from: Some("train/".into()),
        held_out: None,
        profile,
    };
    let served = Served {
        version: "brightness".into(),
        predictor: model,
        baseline: Some(baseline),
    };
    (home, served)
}

// Enough threads that the sequential run leaves the writer and timers free.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_guard_holds_decisions_on_drift_and_never_on_unshifted_traffic() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, served) = brightness_home(tmp.path());
    let stack = LocalStack::with_served(&home, &StackOptions::default(), served).unwrap();
    let guard = stack.guard().clone();

    // Twenty windows of unshifted traffic: not one hold, and nothing refused for drift.
    let report = support::run_keys(&home, &stack, Keys::Random(4000), 16, |r| {
        assert_ne!(r.error.as_deref(), Some(DRIFT_HOLD_ERROR), "{r:?}");
    })
    .await;
    assert_eq!(report.summary.total, 4000);
    let state = guard.state();
    assert!(state.hold.is_none(), "{state:?}");
    assert_eq!(state.verdict, Some(scones_workflow::drift::Verdict::Ok));

    // Darkened traffic: the guard holds within 150 inferences, and from then on confident
    // decisions fail with DriftHold.
    let pool = Arc::new(prepare(&home.bucket(), Perturbation::Darken, Split::Train).unwrap());
    let mut order = Vec::new();
    support::run_keys(&home, &stack, Keys::RandomFrom(pool.clone(), 400), 1, |r| {
        order.push((r.status, r.error.clone()));
    })
    .await;
    let first_hold = order
        .iter()
        .position(|(_, e)| e.as_deref() == Some(DRIFT_HOLD_ERROR))
        .expect("the guard held");
    assert!(first_hold <= 150, "held after {first_hold} inferences");
    let accepted_after: usize = order[first_hold..]
        .iter()
        .filter(|(s, _)| *s == ExecutionStatus::Succeeded)
        .count();
    assert_eq!(accepted_after, 0, "nothing accepted while it holds");
    let state = guard.state();
    let hold = state.holding().unwrap();
    assert!(
        hold.statistics.iter().any(|s| s == "brightness"),
        "{hold:?}"
    );

    // Held decisions are in the review queue, as drift holds.
    let store = home.open_store().unwrap();
    let rows = store.review_rows().unwrap();
    assert!(
        rows.iter()
            .any(|r| r.review == Some(ReviewReason::DriftHold))
    );
    assert!(
        rows.iter()
            .all(|r| r.model.as_deref() == Some("brightness"))
    );

    // An operator releases it: accepted again, and the same ALERT episode does not trip it.
    guard.command(GuardCommand::Release).unwrap();
    let mut held = 0;
    support::run_keys(&home, &stack, Keys::RandomFrom(pool, 200), 4, |r| {
        held += usize::from(r.error.as_deref() == Some(DRIFT_HOLD_ERROR));
    })
    .await;
    assert_eq!(held, 0);
}

/// Two people labelling at once (two processes' stores, each its own file) lose nothing;
/// the newest label of a key wins, undo puts a key back; a damaged line is skipped and
/// counted, never fatal.
#[test]
fn labels_from_two_writers_at_once_are_all_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let bucket = scones_local::LocalBucket::new(tmp.path());
    let label = |key: &str, v| NewLabel {
        key: key.to_owned(),
        label: v,
        reason: ReviewReason::LowConfidence,
        model: Some("m".into()),
        scores: Some([0.6, 0.4]),
        execution: None,
    };
    std::thread::scope(|scope| {
        for who in ["ann", "bob"] {
            let bucket = bucket.clone();
            scope.spawn(move || {
                let store = LabelStore::new(&bucket);
                for i in 0..300 {
                    let record = label(&format!("shifted/{who}-{i}.png"), Verdict::Bicycle)
                        .record(who, Utc::now());
                    store.append(&record).unwrap();
                }
            });
        }
    });
    let reader = LabelStore::new(&bucket);
    let (labels, unreadable) = reader.labels().unwrap();
    assert_eq!((labels.records(), unreadable), (600, 0));
    // Newest wins; undo withdraws.
    let store = LabelStore::new(&bucket);
    let now = Utc::now();
    store
        .append(&label("shifted/ann-0.png", Verdict::Motorcycle).record("bob", now))
        .unwrap();
    store
        .append(
            &label("shifted/ann-1.png", Verdict::Withdrawn)
                .record("ann", now + chrono::Duration::milliseconds(1)),
        )
        .unwrap();
    // A line cut short by a crash.
    let day = tmp.path().join("review/labels/2020-01-01");
    std::fs::create_dir_all(&day).unwrap();
    std::fs::write(day.join("crashed.jsonl"), "{\"format\":1,\"id\"").unwrap();
    let (labels, _) = reader.labels().unwrap();
    assert_eq!(
        labels.class("shifted/ann-0.png"),
        Some(scones_workflow::class::Class::Motorcycle)
    );
    assert!(!labels.is_answered("shifted/ann-1.png"));
    assert_eq!(
        labels.records(),
        602,
        "read incrementally: only the new lines"
    );
    // The cut line stays unread until completed (no newline yet): not counted as bad.
    std::fs::write(day.join("bad.jsonl"), "not json\n").unwrap();
    let (_, unreadable) = reader.labels().unwrap();
    assert_eq!(unreadable, 1);
}

/// Training takes train/ and the reviewed images outside the held-out share; never a
/// reviewed image of test/. The candidate is measured on test/ and on the production
/// validation set, and the gate compares it with the served version.
#[test]
fn retraining_uses_reviewed_images_and_promotion_goes_through_the_gate() {
    let tmp = tempfile::tempdir().unwrap();
    let home = Home::at(tmp.path()).unwrap();
    let bucket = home.bucket();
    let source = Source::Synthetic {
        spec: SyntheticSpec {
            train_per_class: 30,
            test_per_class: 10,
            seed: 5,
        },
        reason: "control test".into(),
    };
    stage::stage(&bucket, &source, &NoProgress).unwrap();
    let config = TrainConfig {
        epochs: 1,
        width: 4,
        batch_size: 16,
        ..TrainConfig::default()
    };
    let options = TrainOptions::default();
    let first = train_staged(&bucket, &config, &options, |_| {}).unwrap();
    assert!(first.serving);

    // People label darkened copies of train/ images, and some test/ images.
    let keys = prepare(&bucket, Perturbation::Darken, Split::Train).unwrap();
    let store = LabelStore::new(&bucket);
    let train = load_staged(&bucket, Split::Train).unwrap();
    let test = load_staged(&bucket, Split::Test).unwrap();
    let mut expect_train = 0;
    for (i, key) in keys.iter().enumerate() {
        let class = train[i].label;
        store
            .append(
                &NewLabel {
                    key: key.clone(),
                    label: class.into(),
                    reason: ReviewReason::DriftHold,
                    model: Some(first.version.version.clone()),
                    scores: Some([0.9, 0.1]),
                    execution: None,
                }
                .record("ann", Utc::now()),
            )
            .unwrap();
        if use_of(key) == Use::Train {
            expect_train += 1;
        }
    }
    for t in test.iter().take(5) {
        store
            .append(
                &NewLabel {
                    key: format!("test/{}", t.name),
                    label: t.label.into(),
                    reason: ReviewReason::LowConfidence,
                    model: None,
                    scores: None,
                    execution: None,
                }
                .record("ann", Utc::now()),
            )
            .unwrap();
    }
    assert!(expect_train > 0 && expect_train < keys.len());
    let second = train_staged(&bucket, &config, &options, |_| {}).unwrap();
    assert!(!second.serving, "a candidate, not served");
    assert_eq!(second.version.trained_on.reviewed, expect_train);
    assert_eq!(
        second.version.production.as_ref().map(|m| m.images),
        Some(keys.len() - expect_train),
        "the held-out share is the production validation set"
    );

    // The gate: 20 production images needed; this tiny set refuses it, --force overrides
    // (recorded), rollback goes back, and twice is an error.
    let who = "ann";
    let err = scones_local::promotion::promote(&bucket, "latest", false, who).unwrap_err();
    assert_eq!(err.name(), "Refused", "{err}");
    assert!(err.to_string().contains("--force"), "{err}");
    let done = scones_local::promotion::promote(&bucket, "latest", true, who).unwrap();
    assert!(done.forced);
    assert_eq!(done.to, second.version.version);
    assert_eq!(
        scones_local::models::serving(&bucket).unwrap().as_deref(),
        Some(second.version.version.as_str())
    );
    let back = scones_local::promotion::rollback(&bucket, who).unwrap();
    assert_eq!(back.to, first.version.version);
    let err = scones_local::promotion::rollback(&bucket, who).unwrap_err();
    assert_eq!(err.name(), "NoPrevious");
    let err = scones_local::promotion::promote(&bucket, "no-such", false, who).unwrap_err();
    assert_eq!(err.name(), "NoSuchVersion");
    let view = scones_local::models::view(&bucket).unwrap();
    assert_eq!(
        view.history
            .iter()
            .map(|p| p.action.as_str())
            .collect::<Vec<_>>(),
        ["first", "promote", "rollback"]
    );
    // A promotion killed between writing the new pointer and renaming it leaves a temp file
    // that nothing reads: the old version serves.
    std::fs::write(bucket.models_dir().join(".SERVING.killed"), "garbage\n").unwrap();
    assert_eq!(
        scones_local::models::serving(&bucket).unwrap().as_deref(),
        Some(first.version.version.as_str())
    );
}

/// A promotion in the middle of a burst: no execution fails because of it, the ones that
/// started before it finish on the version they started with, later ones use the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_switch_under_a_burst_fails_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let home = Home::at(tmp.path()).unwrap();
    let source = Source::Synthetic {
        spec: SyntheticSpec {
            train_per_class: 10,
            test_per_class: 50,
            seed: 3,
        },
        reason: "control test".into(),
    };
    stage::stage(&home.bucket(), &source, &NoProgress).unwrap();
    let served = |version: &str, p: f32| Served {
        version: version.to_owned(),
        predictor: Arc::new(support::FixedPredictor([p, 1.0 - p])),
        baseline: None,
    };
    let stack =
        LocalStack::with_served(&home, &StackOptions::default(), served("v1", 0.99)).unwrap();
    let switcher = {
        let stack = stack.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(150)).await;
            stack.endpoint().serve(served("v2", 0.98));
        })
    };
    let mut endings = std::collections::BTreeMap::new();
    let report = support::run_keys(&home, &stack, Keys::Random(1000), 64, |r| {
        *endings.entry((r.status, r.error.clone())).or_insert(0usize) += 1;
    })
    .await;
    switcher.await.unwrap();
    assert_eq!(report.summary.total, 1000);
    assert_eq!(
        endings.get(&(ExecutionStatus::Succeeded, None)),
        Some(&1000),
        "{endings:?}"
    );
    let store = home.open_store().unwrap();
    let page = store
        .changes_since(Default::default(), 2000)
        .unwrap()
        .executions;
    let versions: std::collections::BTreeSet<_> =
        page.iter().filter_map(|r| r.model.clone()).collect();
    assert_eq!(
        versions.into_iter().collect::<Vec<_>>(),
        ["v1", "v2"],
        "both versions answered"
    );
    // Each execution's recorded version is the one it was pinned to: its scores say which.
    for r in &page {
        let expected = if r.model.as_deref() == Some("v1") {
            0.99
        } else {
            0.98
        };
        assert!((r.scores.unwrap()[0] - expected).abs() < 1e-6, "{r:?}");
    }
}

/// A new process (a new `scones run`) takes the traffic up where the last one left it: the
/// guard's window starts from the served version's newest captured inferences, so a shift
/// already under way is judged within one judgement, not after a whole window of the new
/// process's own traffic (the rehearsal held after 220 shifted inferences without this).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_process_judges_a_shift_where_the_last_one_left_it() {
    use scones_local::guard::{EVERY, WINDOW};
    let tmp = tempfile::tempdir().unwrap();
    let home = Home::at(tmp.path()).unwrap();
    let bucket = home.bucket();
    let source = Source::Synthetic {
        spec: SyntheticSpec {
            train_per_class: 300,
            test_per_class: 150,
            seed: 8,
        },
        reason: "control test".into(),
    };
    stage::stage(&bucket, &source, &NoProgress).unwrap();
    let config = TrainConfig {
        epochs: 1,
        width: 4,
        batch_size: 32,
        ..TrainConfig::default()
    };
    train_staged(&bucket, &config, &TrainOptions::default(), |_| {}).unwrap();
    let darkened = Arc::new(prepare(&bucket, Perturbation::Darken, Split::Train).unwrap());
    let options = StackOptions::default();
    {
        // The first process: a full window of unshifted traffic, then the shift begins
        // (fewer inferences than a judgement takes, so this process does not trip).
        let stack = LocalStack::open(&home, &options).unwrap();
        support::run_keys(&home, &stack, Keys::Random(2 * WINDOW as u64), 8, |_| {}).await;
        support::run_keys(
            &home,
            &stack,
            Keys::RandomFrom(darkened.clone(), (EVERY - 5) as u64),
            1,
            |_| {},
        )
        .await;
        assert!(stack.guard().state().hold.is_none());
    }
    // The second process: within two judgements of its own it holds.
    let stack = LocalStack::open(&home, &options).unwrap();
    support::run_keys(
        &home,
        &stack,
        Keys::RandomFrom(darkened, 2 * EVERY as u64),
        1,
        |_| {},
    )
    .await;
    // (This tiny model is unsure of everything, so no decision is left to hold: the state
    // is what says the guard tripped.)
    let state = stack.guard().state();
    assert!(state.hold.is_some(), "{state:?}");
}
