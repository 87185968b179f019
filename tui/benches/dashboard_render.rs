//! Frame render time of the dashboard with 10k and 100k executions in the store, at 80x24
//! and 160x48, per view; and the UI-thread cost of merging a refresh into a big list.
//! The store is real (SQLite, filled through the store writer plus 200 real workflow runs)
//! and the list is loaded through the real local backend. Run: scripts/bench-dashboard.sh.

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use crossterm::event::KeyCode;
use scones::dashboard::panels::executions::ExecutionsPanel;
use scones_workflow::ExecutionStatus;
use scones_workflow::port::{ExecutionId, ExecutionSummary};

fn sizes() -> Vec<usize> {
    std::env::var("SCONES_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000])
}

fn render(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let _enter = runtime.enter();
    let mut group = c.benchmark_group("frame");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    for n in sizes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = support::populate(dir.path(), n);
        for (w, h) in [(80u16, 24u16), (160, 48)] {
            let backend = Arc::new(support::backend(&home));
            let (mut d, _) = runtime.block_on(support::loaded(backend, None, n, w, h));
            for (view, label) in [('1', "executions"), ('2', "metrics"), ('4', "capture")] {
                d.press(KeyCode::Char(view));
                d.tick(Utc::now());
                runtime.block_on(d.settle(Duration::from_secs(30)));
                group.bench_function(format!("{n}/{w}x{h}/{label}"), |b| {
                    b.iter(|| {
                        d.render();
                    })
                });
            }
            // The detail of the newest execution (a real run with a full history).
            d.press(KeyCode::Char('1'));
            d.press(KeyCode::Enter);
            d.tick(Utc::now());
            runtime.block_on(d.settle(Duration::from_secs(30)));
            assert!(
                d.app()
                    .panel::<ExecutionsPanel>()
                    .is_some_and(|p| p.detail.is_some()),
                "history of the selected execution loaded"
            );
            group.bench_function(format!("{n}/{w}x{h}/detail"), |b| {
                b.iter(|| {
                    d.render();
                })
            });
            d.press(KeyCode::Esc);
        }
        // A refresh bringing 10 new executions: merged on the UI thread.
        let backend = Arc::new(support::backend(&home));
        let (d, _) = runtime.block_on(support::loaded(backend, None, n, 80, 24));
        let state = d.app().shared.executions.clone();
        let now = Utc::now();
        let fresh: Vec<ExecutionSummary> = (0..10)
            .map(|i| ExecutionSummary {
                id: ExecutionId::new(format!("fresh-{i}")),
                name: format!("fresh-{i}"),
                s3_key: Some("test/bicycle_s_000001.png".into()),
                status: ExecutionStatus::Running,
                start: now,
                stop: None,
                error: None,
                cause: None,
                scores: None,
                label: None,
                model: None,
            })
            .collect();
        group.bench_function(format!("{n}/merge-10"), |b| {
            b.iter_batched(
                || (state.clone(), fresh.clone()),
                |(mut s, f)| s.merge(f, now),
                BatchSize::LargeInput,
            )
        });
        let mut filtered = state.clone();
        group.bench_function(format!("{n}/filter-keystroke"), |b| {
            b.iter(|| filtered.set_filter("motor".into(), now))
        });
    }
    group.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
