//! The conformance floor: replays every AWS-validated case and fails if fewer pass than
//! the pinned counts. Raise the floors when semantics improve; they must be the real
//! current counts (run `scripts/conformance.sh` for the report).

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

#[path = "../examples/conformance/harness.rs"]
mod harness;

/// JSONPath cases passing today. The 4 failures are listed in `tui/asl/CONFORMANCE.md`.
const JSONPATH_FLOOR: usize = 336;
/// JSONata cases passing today (all).
const JSONATA_FLOOR: usize = 148;

#[test]
fn conformance_pass_counts_do_not_regress() {
    let path = harness::default_cases_path();
    let cases = harness::load_cases(&path).unwrap_or_else(|e| panic!("conformance cases: {e}"));
    assert_eq!(cases.len(), 488, "cases.jsonl changed: {}", path.display());
    let report = harness::run_all(&cases, None);
    let (jsonpath_passed, jsonpath_failed) = report.totals("JSONPath");
    let (jsonata_passed, jsonata_failed) = report.totals("JSONata");
    println!("{}", report.table());
    println!("jsonpath: {jsonpath_passed} passed, {jsonpath_failed} failed");
    println!("jsonata: {jsonata_passed} passed, {jsonata_failed} failed");
    let failing: Vec<String> = report
        .results
        .iter()
        .filter(|r| !r.passed && r.query_language == "JSONPath")
        .map(|r| r.id.clone())
        .collect();
    check_floor("JSONPath", jsonpath_passed, JSONPATH_FLOOR, &failing);
    check_floor("JSONata", jsonata_passed, JSONATA_FLOOR, &[]);
}

fn check_floor(language: &str, passed: usize, floor: usize, failing: &[String]) {
    assert!(
        passed >= floor,
        "{language} conformance dropped to {passed} (floor {floor}); failing: {failing:#?}"
    );
}

#[test]
fn the_harness_detects_a_wrong_history() {
    // Guard against a harness that passes everything: corrupt one expected event and the
    // case must fail.
    let path = harness::default_cases_path();
    let cases = harness::load_cases(&path).unwrap_or_else(|e| panic!("conformance cases: {e}"));
    let mut case = cases
        .into_iter()
        .find(|c| c.id.contains("test_state_pass_result#0"))
        .expect("a known simple case");
    assert!(
        harness::run_case(&case, None).passed,
        "baseline case must pass"
    );
    case.raw["expected"]["history"][2]["stateExitedEventDetails"]["output"] =
        serde_json::json!({"Arg1": "tampered"});
    let result = harness::run_case(&case, None);
    assert!(!result.passed);
    assert!(result.detail.contains("tampered"), "{}", result.detail);
}
