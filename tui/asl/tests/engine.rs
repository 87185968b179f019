//! Behaviour of the engine through its public API: each state type, Retry timing on the
//! virtual clock, Catch, timeouts, abort, the context object and the history shape.

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde_json::{Value, json};

use scones_asl::{
    Engine, EventDetails, ExecutionSpec, ExecutionStatus, HistoryEvent, InvokeError, InvokeRequest,
    LambdaInvoker, LambdaRegistry, Outcome, StateMachine, VecSink, VirtualClock,
};

type Reply = BoxFuture<'static, Result<Vec<u8>, InvokeError>>;

fn epoch() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .expect("valid epoch")
}

fn machine(def: Value) -> StateMachine {
    StateMachine::from_value(&def).unwrap_or_else(|e| panic!("{e}"))
}

async fn run(def: Value, input: Value, registry: LambdaRegistry) -> (Outcome, Vec<HistoryEvent>) {
    let engine = Engine::new(registry, Arc::new(VirtualClock::starting_at(epoch())));
    let sink = Arc::new(VecSink::new());
    let outcome = engine
        .execute(
            &machine(def),
            ExecutionSpec::local("sm", "exec-1", input),
            sink.clone(),
        )
        .await;
    (outcome, sink.events())
}

fn types(events: &[HistoryEvent]) -> Vec<String> {
    events.iter().map(|e| e.event_type().to_owned()).collect()
}

/// A Lambda that answers with `f(payload)` and records the virtual instant of each call.
fn lambda<F>(calls: Arc<Mutex<Vec<tokio::time::Instant>>>, f: F) -> Arc<dyn LambdaInvoker>
where
    F: Fn(Value, usize) -> Result<Value, InvokeError> + Send + Sync + 'static,
{
    Arc::new(move |r: InvokeRequest| -> Reply {
        let n = {
            let mut c = calls.lock().expect("calls lock");
            c.push(tokio::time::Instant::now());
            c.len()
        };
        let payload: Value = serde_json::from_slice(&r.payload).unwrap_or(Value::Null);
        let result = f(payload, n).map(|v| v.to_string().into_bytes());
        Box::pin(async move { result })
    })
}

#[tokio::test(start_paused = true)]
async fn pass_chain_records_entered_and_exited_events_with_linked_ids() {
    let (outcome, events) = run(
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.a", "Next": "B"},
            "B": {"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.a.x, $.n)", "lit": "v"}, "End": true}
        }}),
        json!({"n": 41}),
        LambdaRegistry::new(),
    )
    .await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded);
    assert_eq!(outcome.output, Some(json!({"sum": 42, "lit": "v"})));
    assert_eq!(
        types(&events),
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    let links: Vec<(u64, u64)> = events.iter().map(|e| (e.id, e.previous_event_id)).collect();
    assert_eq!(links, [(1, 0), (2, 0), (3, 2), (4, 3), (5, 4), (6, 5)]);
    // GetExecutionHistory shape: payloads are JSON strings next to truncation details.
    let exited = events[2].to_aws_json();
    assert_eq!(exited["type"], "PassStateExited");
    assert_eq!(
        exited["stateExitedEventDetails"]["output"],
        "{\"n\":41,\"a\":{\"x\":1}}"
    );
    assert_eq!(
        exited["stateExitedEventDetails"]["outputDetails"],
        json!({"truncated": false})
    );
    assert!(
        exited["timestamp"]
            .as_str()
            .is_some_and(|t| t.starts_with("2025-01-01T00:00:00"))
    );
}

#[tokio::test(start_paused = true)]
async fn input_output_and_result_paths_compose() {
    let (outcome, _) = run(
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "InputPath": "$.in", "Parameters": {"v.$": "$.value"},
                  "ResultPath": "$.result", "OutputPath": "$.result", "End": true}
        }}),
        json!({"in": {"value": 7}, "other": true}),
        LambdaRegistry::new(),
    )
    .await;
    assert_eq!(outcome.output, Some(json!({"v": 7})));

    let (outcome, _) = run(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 1, "ResultPath": null, "End": true}}}),
        json!({"keep": "me"}),
        LambdaRegistry::new(),
    )
    .await;
    assert_eq!(outcome.output, Some(json!({"keep": "me"})));
}

#[tokio::test(start_paused = true)]
async fn choice_rules_route_and_no_match_fails() {
    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"And": [{"Variable": "$.n", "NumericGreaterThan": 10}, {"Variable": "$.s", "StringMatches": "ab*"}], "Next": "Big"},
            {"Variable": "$.t", "TimestampLessThanEquals": "2020-01-01T00:00:00Z", "Next": "Old"}
        ]},
        "Big": {"Type": "Pass", "Result": "big", "End": true},
        "Old": {"Type": "Pass", "Result": "old", "End": true}
    }});
    let (o, _) = run(
        def.clone(),
        json!({"n": 11, "s": "abc", "t": "2030-01-01T00:00:00Z"}),
        LambdaRegistry::new(),
    )
    .await;
    assert_eq!(o.output, Some(json!("big")));
    let (o, _) = run(
        def.clone(),
        json!({"n": 1, "s": "abc", "t": "2019-01-01T00:00:00Z"}),
        LambdaRegistry::new(),
    )
    .await;
    assert_eq!(o.output, Some(json!("old")));
    let (o, events) = run(
        def,
        json!({"n": 1, "s": "x", "t": "2030-01-01T00:00:00Z"}),
        LambdaRegistry::new(),
    )
    .await;
    assert_eq!(o.status, ExecutionStatus::Failed);
    assert_eq!(o.error.as_deref(), Some("States.NoChoiceMatched"));
    assert_eq!(
        types(&events).last().map(String::as_str),
        Some("ExecutionFailed")
    );
}

#[tokio::test(start_paused = true)]
async fn wait_states_take_virtual_time_only() {
    let real = std::time::Instant::now();
    let (o, events) = run(
        json!({"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 3600, "Next": "W2"},
            "W2": {"Type": "Wait", "SecondsPath": "$.s", "End": true}
        }}),
        json!({"s": 60}),
        LambdaRegistry::new(),
    )
    .await;
    assert_eq!(o.status, ExecutionStatus::Succeeded);
    assert_eq!((o.stop_date - o.start_date).num_seconds(), 3660);
    assert!(real.elapsed() < Duration::from_secs(5));
    let exited_w = events
        .iter()
        .find(|e| e.event_type() == "WaitStateExited")
        .expect("exit event");
    assert_eq!((exited_w.timestamp - epoch()).num_seconds(), 3600);

    let (o, _) = run(
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": true}}}),
        json!({"s": -1}),
        LambdaRegistry::new(),
    )
    .await;
    assert_eq!(o.error.as_deref(), Some("States.Runtime"));
    assert!(
        o.cause
            .as_deref()
            .is_some_and(|c| c.contains("references a negative value")),
        "{o:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_waits_interval_times_backoff_capped_by_max_delay() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let mut registry = LambdaRegistry::new();
    registry.register(
        "flaky",
        lambda(calls.clone(), |p, n| {
            if n <= 3 {
                Err(InvokeError::function(
                    "Lambda.ServiceException",
                    "try again",
                ))
            } else {
                Ok(json!({"ok": p}))
            }
        }),
    );
    let (o, events) = run(
        json!({"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "flaky", "Payload.$": "$"}, "OutputPath": "$.Payload",
            "Retry": [{"ErrorEquals": ["Lambda.ServiceException"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 3, "MaxDelaySeconds": 10}],
            "End": true}}}),
        json!({"x": 1}),
        registry,
    )
    .await;
    assert_eq!(o.status, ExecutionStatus::Succeeded, "{o:?}");
    assert_eq!(o.output, Some(json!({"ok": {"x": 1}})));
    let at = calls.lock().expect("calls").clone();
    let gaps: Vec<u64> = at.windows(2).map(|w| (w[1] - w[0]).as_secs()).collect();
    // 2 s, 2*3 = 6 s, then 2*9 = 18 s capped at MaxDelaySeconds = 10 s.
    assert_eq!(gaps, [2, 6, 10]);
    assert_eq!(
        types(&events).iter().filter(|t| *t == "TaskFailed").count(),
        3
    );
}

#[tokio::test(start_paused = true)]
async fn exhausted_retries_fall_through_to_catch_with_result_path() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let mut registry = LambdaRegistry::new();
    registry.register(
        "boom",
        lambda(calls.clone(), |_, _| {
            Err(InvokeError::function("Boom", "always"))
        }),
    );
    let (o, events) = run(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:boom",
                  "Retry": [{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 1}],
                  "Catch": [{"ErrorEquals": ["Boom"], "ResultPath": "$.error", "Next": "Handled"}], "End": true},
            "Handled": {"Type": "Pass", "End": true}}}),
        json!({"in": 1}),
        registry,
    )
    .await;
    assert_eq!(calls.lock().expect("calls").len(), 2);
    assert_eq!(o.status, ExecutionStatus::Succeeded);
    let out = o.output.expect("output");
    assert_eq!(out["in"], 1);
    assert_eq!(out["error"]["Error"], "Boom");
    let cause: Value =
        serde_json::from_str(out["error"]["Cause"].as_str().expect("cause")).expect("json cause");
    assert_eq!(cause["errorMessage"], "always");
    assert_eq!(
        types(&events),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionFailed",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionFailed",
            "TaskStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn task_timeout_is_states_timeout() {
    let mut registry = LambdaRegistry::new();
    registry.register(
        "slow",
        Arc::new(|_r: InvokeRequest| -> Reply {
            Box::pin(async {
                tokio::time::sleep(Duration::from_secs(600)).await;
                Ok(b"{}".to_vec())
            })
        }),
    );
    let (o, events) = run(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "slow"}, "TimeoutSeconds": 5, "End": true}}}),
        json!({}),
        registry,
    )
    .await;
    assert_eq!(o.status, ExecutionStatus::Failed);
    assert_eq!(o.error.as_deref(), Some("States.Timeout"));
    assert_eq!(o.cause, None);
    assert_eq!((o.stop_date - o.start_date).num_seconds(), 5);
    let scheduled = events
        .iter()
        .find(|e| e.event_type() == "TaskScheduled")
        .expect("scheduled");
    assert_eq!(
        scheduled.to_aws_json()["taskScheduledEventDetails"]["timeoutInSeconds"],
        5
    );
    assert!(types(&events).contains(&"TaskTimedOut".to_owned()));
}

#[tokio::test(start_paused = true)]
async fn execution_timeout_ends_timed_out() {
    let (o, events) = run(
        json!({"StartAt": "W", "TimeoutSeconds": 10, "States": {"W": {"Type": "Wait", "Seconds": 100, "End": true}}}),
        json!({}),
        LambdaRegistry::new(),
    )
    .await;
    assert_eq!(o.status, ExecutionStatus::TimedOut);
    assert_eq!(o.error.as_deref(), Some("States.Timeout"));
    assert_eq!(
        types(&events).last().map(String::as_str),
        Some("ExecutionTimedOut")
    );
    assert_eq!((o.stop_date - o.start_date).num_seconds(), 10);
}

#[tokio::test(start_paused = true)]
async fn stop_aborts_a_running_execution() {
    let engine = Engine::new(
        LambdaRegistry::new(),
        Arc::new(VirtualClock::starting_at(epoch())),
    );
    let sink = Arc::new(VecSink::new());
    let execution = engine.start(
        &machine(json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}})),
        ExecutionSpec::local("sm", "exec-stop", json!({})),
        sink.clone(),
    );
    let stop = execution.stop_handle();
    let handle = tokio::spawn(execution.run());
    tokio::time::sleep(Duration::from_secs(30)).await;
    // Running: the sink already holds the live events.
    assert_eq!(
        types(&sink.events()),
        ["ExecutionStarted", "WaitStateEntered"]
    );
    stop.stop(Some("Operator".into()), Some("stopped by test".into()));
    let o = handle.await.expect("join");
    assert_eq!(o.status, ExecutionStatus::Aborted);
    assert_eq!(o.error.as_deref(), Some("Operator"));
    let last = sink.events().last().cloned().expect("events");
    assert_eq!(
        last.details,
        EventDetails::ExecutionAborted {
            error: Some("Operator".into()),
            cause: Some("stopped by test".into())
        }
    );
}

#[tokio::test(start_paused = true)]
async fn fail_state_reports_error_and_cause_from_paths() {
    let (o, events) = run(
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "States.Format('bad {}', $.n)"}}}),
        json!({"e": "Custom", "n": 3}),
        LambdaRegistry::new(),
    )
    .await;
    assert_eq!(o.status, ExecutionStatus::Failed);
    assert_eq!(o.error.as_deref(), Some("Custom"));
    assert_eq!(o.cause.as_deref(), Some("bad 3"));
    assert_eq!(
        types(&events),
        ["ExecutionStarted", "FailStateEntered", "ExecutionFailed"]
    );
}

#[tokio::test(start_paused = true)]
async fn map_runs_items_with_context_and_parallel_runs_branches() {
    let (o, events) = run(
        json!({"StartAt": "M", "States": {
            "M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
                  "ItemSelector": {"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value", "k.$": "$.k"},
                  "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}},
                  "ResultPath": "$.mapped", "Next": "P"},
            "P": {"Type": "Parallel", "Branches": [
                {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Result": 1, "End": true}}},
                {"StartAt": "B2", "States": {"B2": {"Type": "Pass", "InputPath": "$.k", "End": true}}}
            ], "ResultPath": "$.par", "End": true}
        }}),
        json!({"items": ["a", "b", "c"], "k": "K"}),
        LambdaRegistry::new(),
    )
    .await;
    assert_eq!(o.status, ExecutionStatus::Succeeded, "{o:?}");
    let out = o.output.expect("output");
    assert_eq!(
        out["mapped"],
        json!([{"i": 0, "v": "a", "k": "K"}, {"i": 1, "v": "b", "k": "K"}, {"i": 2, "v": "c", "k": "K"}])
    );
    assert_eq!(out["par"], json!([1, "K"]));
    let t = types(&events);
    assert_eq!(t.iter().filter(|x| *x == "MapIterationStarted").count(), 3);
    assert_eq!(
        t.iter().filter(|x| *x == "MapIterationSucceeded").count(),
        3
    );
    assert!(t.contains(&"MapStateSucceeded".to_owned()));
    assert!(t.contains(&"ParallelStateSucceeded".to_owned()));
}

#[tokio::test(start_paused = true)]
async fn a_failing_iteration_fails_the_map_and_catch_sees_it() {
    let (o, events) = run(
        json!({"StartAt": "M", "States": {
            "M": {"Type": "Map",
                  "ItemProcessor": {"StartAt": "C", "States": {
                      "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Bad"}], "Default": "Ok"},
                      "Bad": {"Type": "Fail", "Error": "ItemError", "Cause": "two"},
                      "Ok": {"Type": "Pass", "End": true}}},
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": true},
            "Caught": {"Type": "Pass", "End": true}
        }}),
        json!([1, 2, 3]),
        LambdaRegistry::new(),
    )
    .await;
    assert_eq!(o.status, ExecutionStatus::Succeeded);
    assert_eq!(
        o.output,
        Some(json!({"Error": "ItemError", "Cause": "two"}))
    );
    let t = types(&events);
    assert!(t.contains(&"MapIterationFailed".to_owned()));
    assert!(t.contains(&"MapStateFailed".to_owned()));
}

#[tokio::test(start_paused = true)]
async fn context_object_reflects_the_execution_spec() {
    let (o, _) = run(
        json!({"StartAt": "T", "States": {"T": {"Type": "Pass", "Parameters": {
            "id.$": "$$.Execution.Id", "name.$": "$$.Execution.Name", "input.$": "$$.Execution.Input",
            "role.$": "$$.Execution.RoleArn", "start.$": "$$.Execution.StartTime",
            "sm.$": "$$.StateMachine.Name", "smid.$": "$$.StateMachine.Id",
            "state.$": "$$.State.Name", "entered.$": "$$.State.EnteredTime"}, "End": true}}}),
        json!({"a": 1}),
        LambdaRegistry::new(),
    )
    .await;
    let out = o.output.expect("output");
    assert_eq!(
        out["id"],
        "arn:aws:states:us-east-1:000000000000:execution:sm:exec-1"
    );
    assert_eq!(out["name"], "exec-1");
    assert_eq!(out["input"], json!({"a": 1}));
    assert_eq!(
        out["role"],
        "arn:aws:iam::000000000000:role/StepFunctionsLocalRole"
    );
    assert_eq!(out["start"], "2025-01-01T00:00:00.000Z");
    assert_eq!(out["sm"], "sm");
    assert_eq!(
        out["smid"],
        "arn:aws:states:us-east-1:000000000000:stateMachine:sm"
    );
    assert_eq!(out["state"], "T");
    assert_eq!(out["entered"], "2025-01-01T00:00:00.000Z");
}

#[tokio::test(start_paused = true)]
async fn unknown_functions_are_resource_not_found() {
    let (o, events) = run(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "missing"}, "End": true}}}),
        json!({}),
        LambdaRegistry::new(),
    )
    .await;
    assert_eq!(o.error.as_deref(), Some("Lambda.ResourceNotFoundException"));
    assert!(o.cause.as_deref().is_some_and(|c| c.starts_with(
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:missing:$LATEST (Service: AWSLambda; Status Code: 404"
    )));
    let failed = events
        .iter()
        .find(|e| e.event_type() == "TaskFailed")
        .expect("TaskFailed")
        .to_aws_json();
    assert_eq!(failed["taskFailedEventDetails"]["resource"], "invoke");
    assert_eq!(failed["taskFailedEventDetails"]["resourceType"], "lambda");
}

#[tokio::test(start_paused = true)]
async fn runtime_path_errors_name_the_state_and_event() {
    let (o, _) = run(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"v.$": "$.nope"}, "End": true}}}),
        json!({"x": 0}),
        LambdaRegistry::new(),
    )
    .await;
    assert_eq!(o.error.as_deref(), Some("States.Runtime"));
    assert_eq!(
        o.cause.as_deref(),
        Some(
            "An error occurred while executing the state 'P' (entered at the event id #2). The JSONPath '$.nope' specified for the field 'v.$' could not be found in the input '{\"x\":0}'"
        )
    );
}

#[test]
fn many_executions_run_concurrently_on_a_multi_thread_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut registry = LambdaRegistry::new();
        registry.register(
            "echo",
            Arc::new(|r: InvokeRequest| -> Reply {
                Box::pin(async move {
                    tokio::task::yield_now().await;
                    Ok(r.payload)
                })
            }),
        );
        let engine = Engine::new(registry, Arc::new(scones_asl::SystemClock));
        let sm = machine(json!({"StartAt": "T", "States": {"T": {"Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "echo", "Payload.$": "$"},
            "OutputPath": "$.Payload", "End": true}}}));
        let handles: Vec<_> = (0..64)
            .map(|i| {
                let sink = Arc::new(VecSink::new());
                let exec = engine.start(&sm, ExecutionSpec::local("sm", &format!("e{i}"), json!({"i": i})), sink);
                tokio::spawn(exec.run())
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            let o = h.await.expect("join");
            assert_eq!(o.output, Some(json!({"i": i})));
        }
    });
}

#[tokio::test(start_paused = true)]
async fn jsonata_states_use_arguments_output_assign_and_conditions() {
    let mut registry = LambdaRegistry::new();
    registry.register(
        "double",
        Arc::new(|r: InvokeRequest| -> Reply {
            let v: Value = serde_json::from_slice(&r.payload).unwrap_or_default();
            let n = v["n"].as_i64().unwrap_or(0);
            Box::pin(async move { Ok(json!({"n": n * 2}).to_string().into_bytes()) })
        }),
    );
    let (o, events) = run(
        json!({"QueryLanguage": "JSONata", "StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Arguments": {"FunctionName": "double", "Payload": {"n": "{% $states.input.n + 1 %}"}},
                  "Assign": {"doubled": "{% $states.result.Payload.n %}"},
                  "Output": "{% $states.result.Payload %}", "Next": "C"},
            "C": {"Type": "Choice", "Choices": [
                {"Condition": "{% $doubled > 10 %}", "Next": "Big", "Output": {"size": "big", "n": "{% $doubled %}"}}
            ], "Default": "Small"},
            "Big": {"Type": "Succeed"},
            "Small": {"Type": "Fail", "Error": "TooSmall", "Cause": "{% 'got ' & $string($doubled) %}"}
        }}),
        json!({"n": 5}),
        registry.clone(),
    )
    .await;
    assert_eq!(o.status, ExecutionStatus::Succeeded, "{o:?}");
    assert_eq!(o.output, Some(json!({"size": "big", "n": 12})));
    let exited = events
        .iter()
        .find(|e| e.event_type() == "TaskStateExited")
        .expect("exit")
        .to_aws_json();
    assert_eq!(
        exited["stateExitedEventDetails"]["assignedVariables"],
        json!({"doubled": "12"})
    );

    let (o, _) = run(
        json!({"QueryLanguage": "JSONata", "StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Arguments": {"FunctionName": "double", "Payload": {"n": "{% $states.input.n %}"}},
                  "Assign": {"doubled": "{% $states.result.Payload.n %}"}, "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Condition": "{% $doubled > 10 %}", "Next": "Big"}], "Default": "Small"},
            "Big": {"Type": "Succeed"},
            "Small": {"Type": "Fail", "Error": "TooSmall", "Cause": "{% 'got ' & $string($doubled) %}"}
        }}),
        json!({"n": 2}),
        registry,
    )
    .await;
    assert_eq!(o.error.as_deref(), Some("TooSmall"));
    assert_eq!(o.cause.as_deref(), Some("got 4"));
}

#[tokio::test(start_paused = true)]
async fn a_failing_jsonata_expression_records_evaluation_failed() {
    let (o, events) = run(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "QueryLanguage": "JSONata",
            "Output": {"result": "{% $doesNotExist %}"}, "End": true}}}),
        json!({}),
        LambdaRegistry::new(),
    )
    .await;
    assert_eq!(o.error.as_deref(), Some("States.QueryEvaluationError"));
    assert_eq!(
        o.cause.as_deref(),
        Some(
            "An error occurred while executing the state 'P' (entered at the event id #2). The JSONata expression '$doesNotExist' specified for the field 'Output/result' returned nothing (undefined)."
        )
    );
    let failed = events
        .iter()
        .find(|e| e.event_type() == "EvaluationFailed")
        .expect("EvaluationFailed")
        .to_aws_json();
    assert_eq!(
        failed["evaluationFailedEventDetails"]["location"],
        "Output/result"
    );
    assert_eq!(failed["evaluationFailedEventDetails"]["state"], "P");
    assert_eq!(
        types(&events),
        [
            "ExecutionStarted",
            "PassStateEntered",
            "EvaluationFailed",
            "ExecutionFailed"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn jsonata_map_items_and_catch_error_output() {
    let (o, _) = run(
        json!({"QueryLanguage": "JSONata", "StartAt": "M", "States": {
            "M": {"Type": "Map", "Items": "{% $states.input.xs %}",
                  "ItemSelector": {"v": "{% $states.context.Map.Item.Value * 10 %}"},
                  "ItemProcessor": {"StartAt": "F", "States": {
                      "F": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.v > 20 %}", "Next": "Boom"}], "Default": "Ok"},
                      "Boom": {"Type": "Fail", "Error": "Big", "Cause": "too big"},
                      "Ok": {"Type": "Pass", "End": true}}},
                  "Catch": [{"ErrorEquals": ["Big"], "Output": {"caught": "{% $states.errorOutput.Error %}", "in": "{% $states.input %}"}, "Next": "Done"}],
                  "End": true},
            "Done": {"Type": "Pass", "End": true}
        }}),
        json!({"xs": [1, 2, 3]}),
        LambdaRegistry::new(),
    )
    .await;
    assert_eq!(o.status, ExecutionStatus::Succeeded, "{o:?}");
    assert_eq!(
        o.output,
        Some(json!({"caught": "Big", "in": {"xs": [1, 2, 3]}}))
    );
}

#[tokio::test(start_paused = true)]
async fn a_channel_sink_streams_events_while_running_and_input_text_is_checked() {
    assert!(scones_asl::ExecutionInput::from_text("{not json").is_err());
    let input = scones_asl::ExecutionInput::from_text("[1, 2]").expect("valid JSON text");
    let engine = Engine::new(
        LambdaRegistry::new(),
        Arc::new(VirtualClock::starting_at(epoch())),
    );
    let (sink, mut rx) = scones_asl::ChannelSink::new();
    let spec = ExecutionSpec::with_account(
        "sm",
        "e",
        "us-east-1",
        "000000000000",
        "arn:aws:iam::000000000000:role/r",
        input,
    );
    let exec = engine.start(
        &machine(
            json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 10, "End": true}}}),
        ),
        spec,
        Arc::new(sink),
    );
    let handle = tokio::spawn(exec.run());
    let first = rx.recv().await.expect("ExecutionStarted");
    // The exact input text is kept.
    assert_eq!(
        first.to_aws_json()["executionStartedEventDetails"]["input"],
        "[1, 2]"
    );
    assert_eq!(
        rx.recv().await.expect("entered").event_type(),
        "WaitStateEntered"
    );
    let o = handle.await.expect("join");
    assert_eq!(o.output, Some(json!([1, 2])));
    let rest: Vec<String> = std::iter::from_fn(|| rx.try_recv().ok())
        .map(|e| e.event_type().to_owned())
        .collect();
    assert_eq!(rest, ["WaitStateExited", "ExecutionSucceeded"]);
}

/// A loop that never ends fails once its history reaches the service's 25,000-event quota,
/// rather than spinning for ever (found by the property tests: a Choice whose default points
/// back at the state before it).
#[tokio::test]
async fn an_endless_loop_fails_at_the_history_quota() {
    let machine = StateMachine::parse(
        r#"{"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": true, "Next": "C"}], "Default": "A"},
            "C": {"Type": "Succeed"}}}"#,
    )
    .unwrap();
    let sink = Arc::new(VecSink::new());
    let engine = Engine::new(LambdaRegistry::new(), Arc::new(scones_asl::SystemClock));
    let outcome = engine
        .execute(
            &machine,
            ExecutionSpec::local("m", "loop", json!({})),
            sink.clone(),
        )
        .await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(outcome.error.as_deref(), Some("States.Runtime"));
    assert!(outcome.cause.unwrap().contains("25000"));
    // The state that crosses the quota finishes, then the execution fails.
    let events = sink.events().len() as u64;
    let quota = scones_asl::exec::MAX_HISTORY_EVENTS;
    assert!((quota + 1..=quota + 3).contains(&events), "{events}");
}
