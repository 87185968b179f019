//! Conformance report: runs every case of `tui/asl/conformance/cases.jsonl` through the
//! engine and prints a per-area table, then `jsonpath: N passed, M failed` and
//! `jsonata: N passed, M failed`.
//!
//! Usage: `cargo run --release -p scones-asl --example conformance [-- --verbose SUBSTRING]
//! [--failures] [--cases PATH]`. Exits non-zero only when the harness itself cannot run
//! (missing/invalid cases file); the counts are the report.

mod harness;

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut verbose: Option<String> = None;
    let mut list_failures = false;
    let mut path = harness::default_cases_path();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--verbose" | "-v" => verbose = args.next(),
            "--failures" => list_failures = true,
            "--cases" => {
                if let Some(p) = args.next() {
                    path = p.into();
                }
            }
            other => {
                eprintln!(
                    "unknown argument `{other}` (expected --verbose SUBSTRING, --failures, --cases PATH)"
                );
                return ExitCode::from(2);
            }
        }
    }
    let cases = match harness::load_cases(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("conformance: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(filter) = verbose {
        let report = harness::run_all(&cases, Some(&filter));
        if report.results.is_empty() {
            eprintln!("no case id contains `{filter}`");
            return ExitCode::from(2);
        }
        for r in &report.results {
            println!("{} {}", if r.passed { "PASS" } else { "FAIL" }, r.id);
            if !r.passed {
                println!("{}", r.detail);
            }
        }
        return ExitCode::SUCCESS;
    }
    let report = harness::run_all(&cases, None);
    if list_failures {
        for r in report.results.iter().filter(|r| !r.passed) {
            let first = r.detail.lines().next().unwrap_or_default();
            println!("FAIL [{}] {} :: {}", r.query_language, r.id, first);
        }
        println!();
    }
    print!("{}", report.table());
    let (p, f) = report.totals("JSONPath");
    println!("jsonpath: {p} passed, {f} failed");
    let (p, f) = report.totals("JSONata");
    println!("jsonata: {p} passed, {f} failed");
    ExitCode::SUCCESS
}
