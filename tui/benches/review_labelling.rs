//! Labelling speed in the Review tab (issue 25: "the time from a key press to the next image
//! drawn", goal <= 50 ms locally): the real local backend over a home with a queue of
//! low-confidence images, the dashboard at 160x48 (images on screen), a person's pace (the
//! fetch ahead has finished between two presses, as it has at human speed). Timed: the
//! key press handled (the label sent, the next item current) and the frame drawn with the
//! next image. Prints the median, p95 and max over PRESSES presses.
//!
//! Run: cargo bench -p scones --bench review_labelling

#![allow(clippy::unwrap_used)] // a bench: a panic is its failure message

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use crossterm::event::KeyCode;
use scones::dashboard::headless::Headless;
use scones::dashboard::panels::review::ReviewPanel;
use scones_local::endpoint::{PredictError, Predictor};
use scones_local::stage::{self, Source, SyntheticSpec};
use scones_local::{Home, LocalBackend, LocalOptions, LocalStack, NoProgress, StackOptions};
use scones_workflow::Threshold;
use scones_workflow::run::{Keys, run_to_end};

const PRESSES: usize = 200;

/// Unsure of everything: every execution fails LowConfidence and queues its image.
struct Unsure;

impl Predictor for Unsure {
    fn predict_png(&self, _png: &[u8]) -> Result<[f32; 2], PredictError> {
        Ok([0.6, 0.4])
    }
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _enter = runtime.enter();
    let dir = tempfile::tempdir().unwrap();
    let home = Home::at(dir.path()).unwrap();
    let source = Source::Synthetic {
        spec: SyntheticSpec {
            train_per_class: 2,
            test_per_class: PRESSES / 2 + 20,
            seed: 11,
        },
        reason: "review benchmark".into(),
    };
    stage::stage(&home.bucket(), &source, &NoProgress).unwrap();
    let keys = home.bucket().test_keys().unwrap();
    runtime.block_on(async {
        let stack =
            LocalStack::with_predictor(&home, &StackOptions::default(), Arc::new(Unsure)).unwrap();
        let backend =
            Arc::new(LocalBackend::with_stack(&home, stack.clone(), Threshold::DEFAULT).unwrap());
        run_to_end(backend, Keys::Given(keys.clone()), 16)
            .await
            .unwrap();
        stack.flush().await.unwrap();
    });
    let backend = Arc::new(LocalBackend::open(&home, LocalOptions::default()).unwrap());
    let options = scones::dashboard::app::AppOptions {
        readonly: false,
        ..support::options()
    };
    let mut d = Headless::new(backend, options, Utc::now(), 160, 48);
    runtime.block_on(d.settle(Duration::from_secs(30)));
    d.press(KeyCode::Char('8'));
    let queued =
        runtime.block_on(
            d.run_until(Duration::from_secs(30), Duration::from_millis(1), |app| {
                app.panel::<ReviewPanel>()
                    .and_then(|p| p.queue.as_ref())
                    .is_some_and(|q| q.waiting > PRESSES as u64)
            }),
        );
    assert!(queued, "more than {PRESSES} images waiting");

    let mut times = Vec::with_capacity(PRESSES);
    for _ in 0..PRESSES {
        // At a person's pace the next page of the queue is listed and the images ahead are
        // fetched before the next press (untimed).
        let ready = runtime.block_on(d.run_until(
            Duration::from_secs(30),
            Duration::from_millis(2),
            |app| {
                let panel = app.panel::<ReviewPanel>().unwrap();
                panel.items.get(1).is_some_and(|next| {
                    matches!(
                        app.shared.images.get(&next.key),
                        Some(scones::dashboard::components::image::Entry::Ready(_))
                    )
                })
            },
        ));
        assert!(ready, "the next image was fetched ahead");
        let next = d.app().panel::<ReviewPanel>().unwrap().items[1].key.clone();
        let started = Instant::now();
        d.press(KeyCode::Char('b'));
        d.render();
        times.push(started.elapsed());
        let panel = d.app().panel::<ReviewPanel>().unwrap();
        assert_eq!(panel.current().map(|i| i.key.as_str()), Some(next.as_str()));
        assert!(
            matches!(
                d.app().shared.images.get(&next),
                Some(scones::dashboard::components::image::Entry::Ready(_))
            ),
            "{next} was drawn from the images fetched ahead"
        );
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "review: key press to next image drawn, {PRESSES} presses at 160x48: median {:.2} ms, \
         p95 {:.2} ms, max {:.2} ms",
        ms(times[PRESSES / 2]),
        ms(times[PRESSES * 95 / 100]),
        ms(times[PRESSES - 1])
    );
}
