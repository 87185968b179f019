//! Memory, load time, frame time percentiles and calls per refresh of the dashboard over a
//! store with N executions, each measured in a fresh process (so RSS is the dashboard's,
//! not the store filler's). Driven by scripts/bench-dashboard.sh:
//!
//! ```text
//! dashboard_memory populate DIR N     fill a home with N executions
//! dashboard_memory measure DIR N      load them, render, count calls; print results
//! ```

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use crossterm::event::KeyCode;
use scones::dashboard::faults::{FaultPlan, Faults};
use scones_local::Home;

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["populate", dir, n] => {
            let n: usize = n.parse().expect("N");
            let started = Instant::now();
            support::populate(std::path::Path::new(dir), n);
            println!(
                "populated {n} executions in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        ["measure", dir, n] => measure(dir, n.parse().expect("N")),
        _ => {
            // `cargo bench` without arguments runs every bench target: nothing to do here.
            eprintln!("usage: dashboard_memory populate DIR N | measure DIR N");
        }
    }
}

fn measure(dir: &str, n: usize) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let _enter = runtime.enter();
    let home = Home::at(std::path::Path::new(dir)).expect("home");
    let rss_start = status_kb("VmRSS:");
    let backend = Arc::new(support::backend(&home));
    // No faults: the injector only counts calls.
    let faults = Arc::new(Faults::new(FaultPlan::NONE, 0));
    let (mut d, load) = runtime.block_on(support::loaded(
        backend,
        Some(Arc::clone(&faults)),
        n,
        80,
        24,
    ));
    let rss_loaded = status_kb("VmRSS:");

    // Frame times at 80x24 on the executions list, scrolling as a user would.
    let mut frames = Vec::new();
    for i in 0..500 {
        if i % 5 == 0 {
            d.press(KeyCode::Char('j'));
        }
        let t = Instant::now();
        d.render();
        frames.push(t.elapsed());
    }
    frames.sort();

    // Steady state: one minute of (virtual) time on each view, counting backend calls.
    let mut now = Utc::now();
    let mut calls = Vec::new();
    for (view, label) in [
        ('1', "executions"),
        ('2', "metrics"),
        ('3', "low-confidence"),
        ('4', "capture"),
        ('5', "logs"),
    ] {
        d.press(KeyCode::Char(view));
        for _ in 0..8 {
            now += chrono::Duration::milliseconds(250);
            d.tick(now);
            runtime.block_on(d.settle(Duration::from_secs(30)));
        }
        faults.reset_stats();
        let refreshes = 60u32;
        for _ in 0..refreshes * 4 {
            now += chrono::Duration::milliseconds(250);
            d.tick(now);
            runtime.block_on(d.settle(Duration::from_secs(30)));
        }
        let stats = faults.stats();
        let per_op: Vec<String> = stats
            .calls
            .iter()
            .map(|(op, c)| format!("{op}={:.2}", *c as f64 / f64::from(refreshes)))
            .collect();
        calls.push(format!(
            "{label}: {:.2} calls per refresh ({})",
            stats.total_calls() as f64 / f64::from(refreshes),
            per_op.join(", ")
        ));
    }
    println!("executions in store      {n}");
    println!(
        "initial load             {:.2} s ({} executions listed)",
        load.as_secs_f64(),
        d.app().shared.executions.total()
    );
    println!(
        "frame 80x24 (executions) p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms over {} frames",
        percentile(&frames, 0.5).as_secs_f64() * 1e3,
        percentile(&frames, 0.99).as_secs_f64() * 1e3,
        frames.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        frames.len()
    );
    println!(
        "RSS before load          {:.1} MB",
        rss_start as f64 / 1024.0
    );
    println!(
        "RSS after load           {:.1} MB",
        rss_loaded as f64 / 1024.0
    );
    println!(
        "RSS at end               {:.1} MB",
        status_kb("VmRSS:") as f64 / 1024.0
    );
    println!(
        "peak RSS (VmHWM)         {:.1} MB",
        status_kb("VmHWM:") as f64 / 1024.0
    );
    println!(
        "steady state, refresh every {:?}:",
        d.app().shared.config.refresh
    );
    for line in calls {
        println!("  {line}");
    }
}
