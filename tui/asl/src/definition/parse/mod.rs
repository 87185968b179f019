//! JSON → [`Definition`], collecting every problem with its JSON pointer.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

mod choice;
mod fields;
mod map;
mod parallel;
mod retry;
mod task;
mod wait;

use fields::{Errors, Fields, positive_int};

use super::validate::check_reachability;
use super::*;
use crate::diagnostics::escape_pointer;
use crate::jsonata::JTemplate;

const COMMON: &[&str] = &["Type", "Comment", "QueryLanguage"];
const PASS: &[&str] = &[
    "Next",
    "End",
    "InputPath",
    "OutputPath",
    "Parameters",
    "Result",
    "ResultPath",
    "Assign",
];
const TASK: &[&str] = &[
    "Next",
    "End",
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Retry",
    "Catch",
    "Resource",
    "TimeoutSeconds",
    "TimeoutSecondsPath",
    "HeartbeatSeconds",
    "HeartbeatSecondsPath",
    "Credentials",
    "Assign",
];
const CHOICE: &[&str] = &["Choices", "Default", "InputPath", "OutputPath", "Assign"];
const WAIT: &[&str] = &[
    "Next",
    "End",
    "InputPath",
    "OutputPath",
    "Seconds",
    "SecondsPath",
    "Timestamp",
    "TimestampPath",
    "Assign",
];
const SUCCEED: &[&str] = &["InputPath", "OutputPath"];
const FAIL: &[&str] = &["Error", "ErrorPath", "Cause", "CausePath"];
const PARALLEL: &[&str] = &[
    "Branches",
    "Next",
    "End",
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Retry",
    "Catch",
    "Assign",
];
const MAP: &[&str] = &[
    "Iterator",
    "ItemProcessor",
    "ItemsPath",
    "ItemSelector",
    "Parameters",
    "MaxConcurrency",
    "MaxConcurrencyPath",
    "ToleratedFailureCount",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentage",
    "ToleratedFailurePercentagePath",
    "Label",
    "ItemReader",
    "ResultWriter",
    "ItemBatcher",
    "ResultSelector",
    "ResultPath",
    "Next",
    "End",
    "Retry",
    "Catch",
    "InputPath",
    "OutputPath",
    "Assign",
];

pub(super) fn parse_definition(value: &Value) -> Result<Definition, ValidationErrors> {
    let mut errors = Errors::new();
    let Some(obj) = value.as_object() else {
        return Err(ValidationErrors::single(ValidationError::new(
            "",
            ValidationErrorKind::InvalidType,
            "a definition must be a JSON object",
        )));
    };
    for key in obj.keys() {
        if !matches!(
            key.as_str(),
            "StartAt" | "States" | "Comment" | "Version" | "TimeoutSeconds" | "QueryLanguage"
        ) {
            errors.push(ValidationError::new(
                &format!("/{}", escape_pointer(key)),
                ValidationErrorKind::UnknownField,
                format!("`{key}` is not a top-level field of a state machine"),
            ));
        }
    }
    let language = query_language(obj, "", QueryLanguage::JsonPath, &mut errors);
    let timeout_seconds = positive_int(obj, "TimeoutSeconds", "", &mut errors);
    let comment = obj
        .get("Comment")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let program = parse_program(obj, "", language, &mut errors);
    match program {
        Some(program) if errors.is_empty() => Ok(Definition {
            program,
            timeout_seconds,
            comment,
        }),
        _ => Err(ValidationErrors { errors }),
    }
}

fn query_language(
    obj: &Map<String, Value>,
    pointer: &str,
    inherited: QueryLanguage,
    errors: &mut Errors,
) -> QueryLanguage {
    match obj.get("QueryLanguage") {
        None => inherited,
        Some(Value::String(s)) if s == "JSONPath" => {
            if inherited == QueryLanguage::Jsonata {
                errors.push(ValidationError::new(
                    &format!("{pointer}/QueryLanguage"),
                    ValidationErrorKind::InvalidValue,
                    "a state cannot use JSONPath when the state machine uses JSONata",
                ));
            }
            QueryLanguage::JsonPath
        }
        Some(Value::String(s)) if s == "JSONata" => QueryLanguage::Jsonata,
        Some(other) => {
            errors.push(ValidationError::new(
                &format!("{pointer}/QueryLanguage"),
                ValidationErrorKind::InvalidValue,
                format!("QueryLanguage must be \"JSONPath\" or \"JSONata\", not {other}"),
            ));
            inherited
        }
    }
}

fn parse_program(
    obj: &Map<String, Value>,
    pointer: &str,
    language: QueryLanguage,
    errors: &mut Errors,
) -> Option<Program> {
    let start_at = match obj.get("StartAt") {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            errors.push(ValidationError::new(
                &format!("{pointer}/StartAt"),
                ValidationErrorKind::InvalidType,
                "StartAt must be a string",
            ));
            None
        }
        None => {
            errors.push(ValidationError::new(
                &format!("{pointer}/StartAt"),
                ValidationErrorKind::MissingField,
                "StartAt is required",
            ));
            None
        }
    };
    let states_ptr = format!("{pointer}/States");
    let Some(states_obj) = obj.get("States").and_then(Value::as_object) else {
        errors.push(ValidationError::new(
            &states_ptr,
            if obj.contains_key("States") {
                ValidationErrorKind::InvalidType
            } else {
                ValidationErrorKind::MissingField
            },
            "States must be an object of named states",
        ));
        return None;
    };
    if states_obj.is_empty() {
        errors.push(ValidationError::new(
            &states_ptr,
            ValidationErrorKind::InvalidValue,
            "States must hold at least one state",
        ));
        return None;
    }
    let by_name: HashMap<Arc<str>, usize> = states_obj
        .keys()
        .enumerate()
        .map(|(i, k)| (Arc::from(k.as_str()), i))
        .collect();
    let start = match start_at {
        Some(name) => match by_name.get(name) {
            Some(&i) => Some(i),
            None => {
                errors.push(ValidationError::new(
                    &format!("{pointer}/StartAt"),
                    ValidationErrorKind::UnknownNext,
                    format!("StartAt `{name}` is not a state of this state machine"),
                ));
                None
            }
        },
        None => None,
    };
    let mut states = Vec::with_capacity(states_obj.len());
    let mut names = Vec::with_capacity(states_obj.len());
    let mut edges = Vec::with_capacity(states_obj.len());
    let mut terminal = Vec::with_capacity(states_obj.len());
    for (name, value) in states_obj {
        let ptr = format!("{states_ptr}/{}", escape_pointer(name));
        let mut cx = StateCx {
            by_name: &by_name,
            edges: Vec::new(),
            terminal: false,
            errors,
        };
        let state = parse_state(name, value, &ptr, language, &mut cx);
        names.push((Arc::from(name.as_str()), ptr));
        edges.push(cx.edges);
        terminal.push(cx.terminal);
        if let Some(s) = state {
            states.push(s);
        }
    }
    let start = start?;
    check_reachability(&names, &edges, &terminal, start, pointer, errors);
    if states.len() != states_obj.len() {
        return None;
    }
    Some(Program {
        start_at: start,
        states,
    })
}

struct StateCx<'a> {
    by_name: &'a HashMap<Arc<str>, usize>,
    edges: Vec<usize>,
    terminal: bool,
    errors: &'a mut Errors,
}

impl StateCx<'_> {
    fn err(&mut self, pointer: &str, kind: ValidationErrorKind, message: impl Into<String>) {
        self.errors
            .push(ValidationError::new(pointer, kind, message));
    }

    /// Resolve a state name used by `Next`/`Default`/a catcher, recording the edge.
    fn target(&mut self, value: &Value, pointer: &str) -> Option<usize> {
        let Some(name) = value.as_str() else {
            self.err(
                pointer,
                ValidationErrorKind::InvalidType,
                "a state name must be a string",
            );
            return None;
        };
        match self.by_name.get(name) {
            Some(&i) => {
                self.edges.push(i);
                Some(i)
            }
            None => {
                self.err(
                    pointer,
                    ValidationErrorKind::UnknownNext,
                    format!("`{name}` is not a state of this state machine"),
                );
                None
            }
        }
    }
}

fn parse_state(
    name: &str,
    value: &Value,
    ptr: &str,
    inherited: QueryLanguage,
    cx: &mut StateCx<'_>,
) -> Option<State> {
    let Some(obj) = value.as_object() else {
        cx.err(
            ptr,
            ValidationErrorKind::InvalidType,
            "a state must be an object",
        );
        return None;
    };
    if name.is_empty() || name.chars().count() > 80 {
        cx.err(
            ptr,
            ValidationErrorKind::InvalidValue,
            "state names must be 1 to 80 characters long",
        );
    }
    let language = query_language(obj, ptr, inherited, cx.errors);
    let type_name = match obj.get("Type") {
        Some(Value::String(t)) => t.as_str(),
        Some(_) => {
            cx.err(
                &format!("{ptr}/Type"),
                ValidationErrorKind::InvalidType,
                "Type must be a string",
            );
            return None;
        }
        None => {
            cx.err(
                &format!("{ptr}/Type"),
                ValidationErrorKind::MissingField,
                "Type is required",
            );
            return None;
        }
    };
    let allowed: &[&str] = match type_name {
        "Pass" => PASS,
        "Task" => TASK,
        "Choice" => CHOICE,
        "Wait" => WAIT,
        "Succeed" => SUCCEED,
        "Fail" => FAIL,
        "Parallel" => PARALLEL,
        "Map" => MAP,
        other => {
            cx.err(
                &format!("{ptr}/Type"),
                ValidationErrorKind::InvalidValue,
                format!("`{other}` is not a state type (Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map)"),
            );
            return None;
        }
    };
    let jsonata_allowed: &[&str] = match type_name {
        "Pass" => JSONATA_PASS,
        "Task" => JSONATA_TASK,
        "Choice" => JSONATA_CHOICE,
        "Wait" => JSONATA_WAIT,
        "Succeed" => &["Output"],
        "Fail" => &["Error", "Cause"],
        "Parallel" => JSONATA_PARALLEL,
        _ => JSONATA_MAP,
    };
    let allowed = if language == QueryLanguage::Jsonata {
        jsonata_allowed
    } else {
        allowed
    };
    // In a JSONata state, fields holding `{% … %}` expressions are compiled as JSONata and
    // removed from what the JSONPath-shaped parsers below see.
    let mut jsonata = None;
    let filtered;
    let obj = if language == QueryLanguage::Jsonata {
        let (j, rest) = JsonataState::compile(obj, ptr, cx.errors);
        jsonata = Some(Box::new(j));
        filtered = rest;
        &filtered
    } else {
        obj
    };
    for key in obj.keys() {
        if !COMMON.contains(&key.as_str()) && !allowed.contains(&key.as_str()) {
            cx.err(
                &format!("{ptr}/{}", escape_pointer(key)),
                ValidationErrorKind::UnknownField,
                format!("`{key}` is not a field of a {type_name} state"),
            );
        }
    }
    let mut f = Fields {
        obj,
        ptr,
        cx,
        language,
    };
    let transition = match type_name {
        "Choice" => Transition::End,
        "Succeed" | "Fail" => {
            f.cx.terminal = true;
            Transition::End
        }
        _ => f.transition(),
    };
    let input_path = f.data_path("InputPath");
    let output_path = if type_name == "Fail" {
        DataPath::Root
    } else {
        f.data_path("OutputPath")
    };
    let assign = if language == QueryLanguage::Jsonata {
        None
    } else {
        f.template("Assign")
    };
    let kind = match type_name {
        "Pass" => StateKind::Pass(PassState {
            parameters: f.template("Parameters"),
            result: f.obj.get("Result").cloned(),
            result_path: f.result_path("ResultPath"),
        }),
        "Task" => StateKind::Task(f.task()?),
        "Choice" => StateKind::Choice(f.choice()?),
        "Wait" => StateKind::Wait(f.wait()?),
        "Succeed" => StateKind::Succeed,
        "Fail" => StateKind::Fail(FailState {
            error: f.string_source("Error", "ErrorPath"),
            cause: f.string_source("Cause", "CausePath"),
        }),
        "Parallel" => StateKind::Parallel(f.parallel(language)?),
        _ => StateKind::Map(Box::new(f.map(language)?)),
    };
    Some(State {
        name: Arc::from(name),
        kind,
        transition,
        input_path,
        output_path,
        assign,
        jsonata,
    })
}

const JSONATA_PASS: &[&str] = &["Next", "End", "Output", "Assign"];
const JSONATA_TASK: &[&str] = &[
    "Next",
    "End",
    "Resource",
    "Arguments",
    "Output",
    "Assign",
    "Retry",
    "Catch",
    "TimeoutSeconds",
    "HeartbeatSeconds",
    "Credentials",
];
const JSONATA_CHOICE: &[&str] = &["Choices", "Default", "Output", "Assign"];
const JSONATA_WAIT: &[&str] = &["Next", "End", "Seconds", "Timestamp", "Output", "Assign"];
const JSONATA_PARALLEL: &[&str] = &[
    "Branches",
    "Next",
    "End",
    "Arguments",
    "Output",
    "Assign",
    "Retry",
    "Catch",
];
const JSONATA_MAP: &[&str] = &[
    "Iterator",
    "ItemProcessor",
    "Items",
    "ItemSelector",
    "MaxConcurrency",
    "ToleratedFailureCount",
    "ToleratedFailurePercentage",
    "Label",
    "ItemReader",
    "ResultWriter",
    "ItemBatcher",
    "Next",
    "End",
    "Output",
    "Assign",
    "Retry",
    "Catch",
];

impl JsonataState {
    /// Compile the JSONata fields of a state; returns them and the state object without
    /// the fields that were expressions (so the shared parsers see only literals).
    fn compile(
        obj: &Map<String, Value>,
        ptr: &str,
        errors: &mut Errors,
    ) -> (JsonataState, Map<String, Value>) {
        let mut rest = obj.clone();
        let mut take = |key: &str, always: bool| -> Option<JTemplate> {
            let v = obj.get(key)?;
            let is_expr = v.as_str().and_then(crate::jsonata::expression_of).is_some();
            if always || is_expr {
                rest.shift_remove(key);
                Some(JTemplate::compile(v, &format!("{ptr}/{key}"), errors))
            } else {
                None
            }
        };
        let j = JsonataState {
            output: take("Output", true),
            assign: take("Assign", true),
            arguments: take("Arguments", true),
            items: take("Items", true),
            item_selector: take("ItemSelector", true),
            max_concurrency: take("MaxConcurrency", false),
            tolerated_failure_count: take("ToleratedFailureCount", false),
            tolerated_failure_percentage: take("ToleratedFailurePercentage", false),
            timeout: take("TimeoutSeconds", false),
            heartbeat: take("HeartbeatSeconds", false),
            seconds: take("Seconds", false),
            timestamp: take("Timestamp", false),
            error: take("Error", false),
            cause: take("Cause", false),
        };
        (j, rest)
    }
}
