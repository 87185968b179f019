//! Regression tests for the places where the engine departed from the States Language as
//! AWS documents it (each case a minimal definition and input; CONFORMANCE.md lists the
//! semantics and the pages they come from).

#![allow(clippy::unwrap_used)] // a test: a panic is the failing test's message

use std::sync::Arc;

use scones_asl::{
    Engine, ExecutionSpec, ExecutionStatus, LambdaRegistry, Outcome, StateMachine, SystemClock,
    ValidationErrorKind, VecSink,
};
use serde_json::{Value, json};

async fn run(definition: Value, input: Value) -> Outcome {
    let machine = StateMachine::from_value(&definition).unwrap();
    let engine = Engine::new(LambdaRegistry::new(), Arc::new(SystemClock));
    engine
        .execute(
            &machine,
            ExecutionSpec::local("m", "e", input),
            Arc::new(VecSink::new()),
        )
        .await
}

fn failed_with(outcome: &Outcome, error: &str) {
    assert_eq!(outcome.status, ExecutionStatus::Failed, "{outcome:?}");
    assert_eq!(outcome.error.as_deref(), Some(error), "{outcome:?}");
}

/// 1. A Catch (even on States.ALL) never catches States.Runtime, wherever it comes from.
#[tokio::test]
async fn states_runtime_is_never_caught() {
    let catch_all = json!([{"ErrorEquals": ["States.ALL"], "Next": "Done"}]);
    let done = json!({"Type": "Pass", "End": true});
    // From inside a Parallel branch (the case).
    let parallel_branch = json!({"StartAt": "Par", "States": {
        "Par": {"Type": "Parallel", "Next": "Done", "Catch": catch_all,
                "Branches": [{"StartAt": "B", "States": {
                    "B": {"Type": "Pass", "InputPath": "$.missing", "End": true}}}]},
        "Done": done}});
    // From a Parallel's Parameters.
    let parallel_parameters = json!({"StartAt": "Par", "States": {
        "Par": {"Type": "Parallel", "Next": "Done", "Catch": catch_all,
                "Parameters": {"x.$": "$.missing"},
                "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true}}}]},
        "Done": done}});
    // From inside a Map iteration.
    let map_iteration = json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "Next": "Done", "Catch": catch_all, "ItemsPath": "$.items",
              "ItemProcessor": {"StartAt": "I", "States": {
                  "I": {"Type": "Pass", "InputPath": "$.missing", "End": true}}}},
        "Done": done}});
    // From a Map's ItemsPath and ItemSelector.
    let map_items_path = json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "Next": "Done", "Catch": catch_all, "ItemsPath": "$.nope",
              "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}},
        "Done": done}});
    let map_item_selector = json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "Next": "Done", "Catch": catch_all, "ItemsPath": "$.items",
              "ItemSelector": {"v.$": "$.missing"},
              "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}},
        "Done": done}});
    // Explicitly named: still not caught (recorded case test_catch_states_runtime).
    let explicit = json!({"StartAt": "Par", "States": {
        "Par": {"Type": "Parallel", "Next": "Done",
                "Catch": [{"ErrorEquals": ["States.Runtime"], "Next": "Done"}],
                "Retry": [{"ErrorEquals": ["States.Runtime"], "MaxAttempts": 3}],
                "Branches": [{"StartAt": "B", "States": {
                    "B": {"Type": "Pass", "InputPath": "$.missing", "End": true}}}]},
        "Done": done}});
    for (name, definition) in [
        ("parallel branch", parallel_branch),
        ("parallel parameters", parallel_parameters),
        ("map iteration", map_iteration),
        ("map items path", map_items_path),
        ("map item selector", map_item_selector),
        ("explicit catch", explicit),
    ] {
        let outcome = run(definition, json!({"items": [1, 2]})).await;
        assert_eq!(
            outcome.status,
            ExecutionStatus::Failed,
            "{name}: {outcome:?}"
        );
        assert_eq!(outcome.error.as_deref(), Some("States.Runtime"), "{name}");
    }
}

/// 2. States.JsonMerge merges shallowly only: a `true` flag fails.
#[tokio::test]
async fn json_merge_refuses_deep_merging() {
    let definition = |flag: bool| {
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true,
            "Parameters": {"m.$": format!("States.JsonMerge($.a, $.b, {flag})")}}}})
    };
    let input = json!({"a": {"x": {"p": 1}}, "b": {"x": {"q": 2}}});
    failed_with(
        &run(definition(true), input.clone()).await,
        "States.IntrinsicFailure",
    );
    let shallow = run(definition(false), input).await;
    assert_eq!(shallow.output, Some(json!({"m": {"x": {"q": 2}}})));
}

/// 3. A Fail state's ErrorPath/CausePath must select a string.
#[tokio::test]
async fn fail_paths_must_select_strings() {
    for (field, input) in [
        ("ErrorPath", json!({"n": 5})),
        ("CausePath", json!({"n": {"a": 1}})),
    ] {
        let definition = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", field: "$.n"}}});
        failed_with(&run(definition, input).await, "States.Runtime");
    }
    let definition =
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$..nope"}}});
    failed_with(&run(definition, json!({})).await, "States.Runtime");
    let definition = json!({"StartAt": "F", "States": {"F": {"Type": "Fail",
        "ErrorPath": "$.e", "CausePath": "$.c"}}});
    let outcome = run(definition, json!({"e": "Custom", "c": "because"})).await;
    assert_eq!(
        (outcome.error.as_deref(), outcome.cause.as_deref()),
        (Some("Custom"), Some("because"))
    );
}

/// 4. Only the intrinsics that return a string are allowed in ErrorPath/CausePath.
#[test]
fn fail_paths_allow_only_string_intrinsics() {
    let definition =
        |call: &str| json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "CausePath": call}}});
    let refused = StateMachine::from_value(&definition("States.MathAdd(1, 2)")).unwrap_err();
    assert!(
        refused.has(ValidationErrorKind::InvalidIntrinsic),
        "{refused}"
    );
    assert!(StateMachine::from_value(&definition("States.Format('x {}', $.a)")).is_ok());
    assert!(StateMachine::from_value(&definition("States.UUID()")).is_ok());
}

/// 5. A JSONPath function is accepted in the definition and fails when evaluated.
#[tokio::test]
async fn jsonpath_functions_fail_at_run_time() {
    let definition = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true,
        "Parameters": {"n.$": "$.items.length()"}}}});
    assert!(StateMachine::from_value(&definition).is_ok());
    failed_with(
        &run(definition, json!({"items": [1, 2]})).await,
        "States.Runtime",
    );
}

/// 6. A ResultPath that cannot be applied is States.ResultPathMatchFailure (catchable).
#[tokio::test]
async fn result_path_on_a_non_object_is_a_match_failure() {
    let definition = json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "End": true, "Result": 1, "ResultPath": "$.x"}}});
    failed_with(
        &run(definition, json!(5)).await,
        "States.ResultPathMatchFailure",
    );
    let nested = json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "End": true, "Result": 1, "ResultPath": "$.a.b"}}});
    failed_with(
        &run(nested.clone(), json!({"a": "text"})).await,
        "States.ResultPathMatchFailure",
    );
    // An index step where there is no array (or past its end) fails the same way, so a
    // Catch on States.ResultPathMatchFailure sees every ResultPath that cannot be applied.
    let indexed = json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "End": true, "Result": 1, "ResultPath": "$.items[0]"}}});
    for input in [json!({"items": {"a": 1}}), json!({"items": []}), json!({})] {
        failed_with(
            &run(indexed.clone(), input).await,
            "States.ResultPathMatchFailure",
        );
    }
    let outcome = run(indexed, json!({"items": [0, 2]})).await;
    assert_eq!(outcome.output, Some(json!({"items": [1, 2]})));
    // Missing objects on the way are still created.
    let outcome = run(nested, json!({})).await;
    assert_eq!(outcome.output, Some(json!({"a": {"b": 1}})));
}

/// 7. States.Hash hashes strings only.
#[tokio::test]
async fn hash_of_a_number_fails() {
    let definition = |arg: &str| {
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true,
            "Parameters": {"h.$": format!("States.Hash({arg}, 'SHA-256')")}}}})
    };
    failed_with(
        &run(definition("$.n"), json!({"n": 5})).await,
        "States.IntrinsicFailure",
    );
    let ok = run(definition("$.s"), json!({"s": "abc"})).await;
    assert_eq!(
        ok.output,
        Some(json!({"h": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}))
    );
}
