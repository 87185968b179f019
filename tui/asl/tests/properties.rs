//! Property tests: whatever a user writes, the engine answers with a typed error or a value,
//! never a panic. Arbitrary JSON as a whole definition, definitions shaped like real ones
//! with arbitrary field values (then executed on arbitrary input), and arbitrary text as a
//! JSONPath, a reference path and an intrinsic function call (then evaluated).

#![allow(clippy::unwrap_used)] // a test: a panic is the failing test's message

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use scones_asl::intrinsics::{evaluate, parse_call};
use scones_asl::path::{Path, ReferencePath};
use scones_asl::scope::ValueResolver;
use scones_asl::{Engine, ExecutionSpec, LambdaRegistry, NullSink, StateMachine, VirtualClock};
use serde_json::{Map, Value, json};

/// Any JSON value, a few levels deep, with strings that look like paths and intrinsics
/// often enough to reach the compilers behind them.
fn json_value() -> impl Strategy<Value = Value> {
    let text = prop_oneof![
        ".{0,12}",
        Just("$".to_owned()),
        Just("$.a".to_owned()),
        Just("$$.Execution.Id".to_owned()),
        Just("$.items[0]".to_owned()),
        Just("$..nope".to_owned()),
        Just("$.a.length()".to_owned()),
        Just("States.Format('{}', $.a)".to_owned()),
        Just("States.JsonMerge($.a, $.b, false)".to_owned()),
        Just("States.ArrayGetItem($.a, 5)".to_owned()),
        Just("States.MathAdd(1, 2)".to_owned()),
        Just("{% $states.input %}".to_owned()),
        Just("A".to_owned()),
        Just("B".to_owned()),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        text.prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((field_name(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Field names of the States Language (and a few others), so generated states exercise the
/// parsers of real fields.
fn field_name() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "Type",
        "Next",
        "End",
        "Comment",
        "InputPath",
        "OutputPath",
        "ResultPath",
        "Parameters",
        "ResultSelector",
        "Result",
        "Resource",
        "TimeoutSeconds",
        "HeartbeatSeconds",
        "Retry",
        "Catch",
        "ErrorEquals",
        "IntervalSeconds",
        "MaxAttempts",
        "BackoffRate",
        "Choices",
        "Default",
        "Variable",
        "StringEquals",
        "NumericGreaterThan",
        "And",
        "Not",
        "Seconds",
        "SecondsPath",
        "Timestamp",
        "Error",
        "Cause",
        "ErrorPath",
        "CausePath",
        "Branches",
        "ItemsPath",
        "ItemSelector",
        "ItemProcessor",
        "Iterator",
        "MaxConcurrency",
        "StartAt",
        "States",
        "QueryLanguage",
        "Arguments",
        "Output",
        "Assign",
        "Items",
        "a",
        "b",
    ])
    .prop_map(str::to_owned)
}

fn state_type() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map",
    ])
}

/// A definition with the shape of a real one: two states A and B of arbitrary types, each
/// with some of the fields its type has, valued plausibly most of the time and arbitrarily
/// otherwise, so that many parse and run (and the rest exercise the refusals).
fn shaped_definition() -> impl Strategy<Value = Value> {
    // A goes on to B; B ends (or is a Succeed/Fail/Choice).
    (shaped_state(false), shaped_state(true))
        .prop_map(|(a, b)| json!({"StartAt": "A", "States": {"A": a, "B": b}}))
}

fn shaped_state(last: bool) -> impl Strategy<Value = Value> {
    state_type()
        .prop_flat_map(|t| {
            let fields: &'static [&'static str] = match t {
                "Pass" => &[
                    "InputPath",
                    "OutputPath",
                    "ResultPath",
                    "Parameters",
                    "Result",
                ],
                "Task" => &[
                    "InputPath",
                    "OutputPath",
                    "ResultPath",
                    "Parameters",
                    "ResultSelector",
                    "TimeoutSeconds",
                    "Retry",
                    "Catch",
                ],
                "Choice" => &["InputPath", "OutputPath"],
                "Wait" => &["InputPath", "OutputPath"],
                "Succeed" => &["InputPath", "OutputPath"],
                "Fail" => &["Error", "Cause", "ErrorPath", "CausePath"],
                "Parallel" => &[
                    "InputPath",
                    "OutputPath",
                    "ResultPath",
                    "Parameters",
                    "ResultSelector",
                    "Retry",
                    "Catch",
                ],
                _ => &[
                    "InputPath",
                    "OutputPath",
                    "ResultPath",
                    "ItemsPath",
                    "ItemSelector",
                    "MaxConcurrency",
                    "ResultSelector",
                    "Retry",
                    "Catch",
                ],
            };
            let chosen = prop::sample::subsequence(fields, 0..=fields.len().min(3));
            (Just(t), chosen).prop_flat_map(|(t, chosen)| {
                let values: Vec<_> = chosen.iter().map(|f| field_value(f)).collect();
                (Just(t), Just(chosen), values)
            })
        })
        .prop_map(move |(t, chosen, values)| {
            let mut obj: Map<String, Value> =
                chosen.iter().map(|f| (*f).to_owned()).zip(values).collect();
            obj.insert("Type".into(), json!(t));
            match t {
                "Succeed" | "Fail" => {}
                "Choice" => {
                    obj.insert(
                        "Choices".into(),
                        json!([{"Variable": "$.a", "IsPresent": true, "Next": "B"}]),
                    );
                    obj.insert("Default".into(), json!(if last { "A" } else { "B" }));
                }
                "Wait" => {
                    obj.insert("Seconds".into(), json!(1));
                }
                _ => {}
            }
            if !matches!(t, "Succeed" | "Fail" | "Choice") {
                if last {
                    obj.insert("End".into(), json!(true));
                } else {
                    obj.insert("Next".into(), json!("B"));
                }
            }
            if t == "Task" {
                // No such function is registered: the task fails at run time, which Retry and
                // Catch then see.
                obj.insert(
                    "Resource".into(),
                    json!("arn:aws:lambda:us-east-1:111111111111:function:missing"),
                );
            }
            if t == "Parallel" {
                obj.insert(
                    "Branches".into(),
                    json!([{"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}}]),
                );
            }
            if t == "Map" {
                obj.insert(
                    "ItemProcessor".into(),
                    json!({"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}}),
                );
            }
            Value::Object(obj)
        })
}

/// A plausible value of `field` most of the time, any JSON otherwise.
fn field_value(field: &str) -> BoxedStrategy<Value> {
    let plausible: BoxedStrategy<Value> = match field {
        "InputPath" | "OutputPath" | "ItemsPath" | "ErrorPath" | "CausePath" => {
            prop::sample::select(vec![
                "$",
                "$.a",
                "$.b",
                "$.a[0]",
                "$$.Execution.Id",
                "$.missing",
            ])
            .prop_map(|p| json!(p))
            .boxed()
        }
        "ResultPath" => prop::sample::select(vec!["$", "$.r", "$.a.b", "$.a[0]"])
            .prop_map(|p| json!(p))
            .boxed(),
        "Parameters" | "ResultSelector" | "ItemSelector" => prop::sample::select(vec![
            json!({"x.$": "$.a"}),
            json!({"m.$": "States.JsonMerge($.a, $.b, false)"}),
            json!({"f.$": "States.Format('{} {}', $.a, $.b)"}),
            json!({"s.$": "States.StringToJson($.a)"}),
            json!({"h.$": "States.Hash($.a, 'SHA-256')"}),
            json!({"v.$": "$$.Execution.Input"}),
        ])
        .boxed(),
        "Result" | "Error" | "Cause" => json_value().boxed(),
        "TimeoutSeconds" | "MaxConcurrency" => (0u64..5).prop_map(|n| json!(n)).boxed(),
        "Retry" => {
            Just(json!([{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1, "IntervalSeconds": 1}]))
                .boxed()
        }
        "Catch" => Just(json!([{"ErrorEquals": ["States.ALL"], "Next": "B"}])).boxed(),
        _ => json_value().boxed(),
    };
    prop_oneof![3 => plausible, 1 => json_value()].boxed()
}

fn run(machine: &StateMachine, input: Value) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let engine = Engine::new(
            LambdaRegistry::new(),
            Arc::new(VirtualClock::starting_at(chrono::Utc::now())),
        );
        let spec = ExecutionSpec::local("props", "run", input);
        // Waits run on virtual time; a day of it is plenty.
        let _ = tokio::time::timeout(
            Duration::from_secs(86_400),
            engine.execute(machine, spec, Arc::new(NullSink)),
        )
        .await;
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_json_as_a_definition_is_parsed_or_refused(doc in json_value()) {
        let _ = StateMachine::from_value(&doc);
    }

    #[test]
    fn any_text_as_a_definition_is_parsed_or_refused(text in ".{0,64}") {
        let _ = StateMachine::parse(&text);
    }

    #[test]
    fn shaped_definitions_parse_or_refuse_and_run_to_an_outcome(
        doc in shaped_definition(),
        input in json_value(),
    ) {
        // About 40% of these parse (the rest are refusals worth having too) and run.
        if let Ok(machine) = StateMachine::from_value(&doc) {
            run(&machine, input);
        }
    }

    #[test]
    fn any_text_as_a_path_compiles_or_is_refused_and_selects_without_panicking(
        text in "\\$?\\$?[.\\[\\]a-z0-9*?@()'\"=<>&|!:, -]{0,16}",
        input in json_value(),
    ) {
        if let Ok(path) = Path::parse(&text) {
            let _ = path.select(&input);
        }
        let _ = ReferencePath::parse(&text);
    }

    #[test]
    fn any_text_as_an_intrinsic_call_parses_or_is_refused_and_evaluates_to_a_value_or_failure(
        name in prop::sample::select(vec![
            "States.Format", "States.StringToJson", "States.JsonToString", "States.Array",
            "States.ArrayPartition", "States.ArrayContains", "States.ArrayRange",
            "States.ArrayGetItem", "States.ArrayLength", "States.ArrayUnique",
            "States.Base64Encode", "States.Base64Decode", "States.Hash", "States.JsonMerge",
            "States.MathRandom", "States.MathAdd", "States.StringSplit", "States.UUID",
            "States.Nope",
        ]),
        args in prop::collection::vec(
            prop_oneof![
                "'[^']{0,8}'",
                "-?[0-9]{1,4}(\\.[0-9]{1,3})?",
                Just("$.a".to_owned()),
                Just("$.b".to_owned()),
                Just("$".to_owned()),
                Just("true".to_owned()),
                Just("null".to_owned()),
                Just("States.Array(1, 2)".to_owned()),
            ],
            0..4,
        ),
        a in json_value(),
        b in json_value(),
        noise in ".{0,4}",
    ) {
        let text = format!("{name}({}){noise}", args.join(", "));
        let input = json!({"a": a, "b": b});
        if let Ok(call) = parse_call(&text) {
            let scope = ValueResolver { input: &input, context: None };
            let _ = evaluate(&call, &scope);
        }
    }
}
