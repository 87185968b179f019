//! JSON → [`Definition`], collecting every problem with its JSON pointer.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::validate::check_reachability;
use super::*;
use crate::jsonata::JTemplate;
use crate::payload::escape_pointer;

type Errors = Vec<ValidationError>;

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
        _ => StateKind::Map(f.map(language)?),
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

struct Fields<'a, 'c> {
    obj: &'a Map<String, Value>,
    ptr: &'a str,
    cx: &'a mut StateCx<'c>,
    language: QueryLanguage,
}

impl Fields<'_, '_> {
    fn at(&self, key: &str) -> String {
        format!("{}/{key}", self.ptr)
    }

    fn err(&mut self, key: &str, kind: ValidationErrorKind, message: impl Into<String>) {
        let p = self.at(key);
        self.cx.err(&p, kind, message);
    }

    fn transition(&mut self) -> Transition {
        let next = self.obj.get("Next");
        let end = self.obj.get("End");
        match (next, end) {
            (Some(n), None) | (Some(n), Some(Value::Bool(false))) => {
                let p = self.at("Next");
                match self.cx.target(n, &p) {
                    Some(i) => Transition::Next(i),
                    None => Transition::End,
                }
            }
            (None, Some(Value::Bool(true))) => {
                self.cx.terminal = true;
                Transition::End
            }
            (Some(_), Some(_)) => {
                self.err(
                    "End",
                    ValidationErrorKind::MissingNext,
                    "a state cannot have both Next and End",
                );
                Transition::End
            }
            (None, Some(Value::Bool(false))) | (None, None) => {
                let p = self.ptr.to_owned();
                self.cx.err(
                    &p,
                    ValidationErrorKind::MissingNext,
                    "the state needs `Next` or `\"End\": true`",
                );
                Transition::End
            }
            (None, Some(_)) => {
                self.err(
                    "End",
                    ValidationErrorKind::InvalidType,
                    "End must be a boolean",
                );
                Transition::End
            }
        }
    }

    fn path(&mut self, key: &str) -> Option<Path> {
        let v = self.obj.get(key)?;
        match v.as_str().map(Path::parse) {
            Some(Ok(p)) => Some(p),
            Some(Err(e)) => {
                self.err(key, ValidationErrorKind::InvalidPath, e.to_string());
                None
            }
            None => {
                self.err(
                    key,
                    ValidationErrorKind::InvalidType,
                    format!("{key} must be a path string"),
                );
                None
            }
        }
    }

    fn data_path(&mut self, key: &str) -> DataPath {
        match self.obj.get(key) {
            None => DataPath::Root,
            Some(Value::Null) => DataPath::Null,
            Some(_) => self.path(key).map(DataPath::Path).unwrap_or(DataPath::Root),
        }
    }

    fn result_path(&mut self, key: &str) -> ResultPathSpec {
        result_path_of(self.obj, key, self.ptr, self.cx.errors)
    }

    fn template(&mut self, key: &str) -> Option<Template> {
        let v = self.obj.get(key)?;
        if key == "Assign" && !v.is_object() {
            self.err(
                key,
                ValidationErrorKind::InvalidType,
                "Assign must be an object",
            );
            return None;
        }
        let p = self.at(key);
        Some(Template::compile(v, &p, self.cx.errors))
    }

    /// A number given as `key` or `key_path` (never both).
    fn number_source(&mut self, key: &str, key_path: &str, min: f64) -> Option<NumberSource> {
        match (self.obj.get(key), self.obj.contains_key(key_path)) {
            (Some(_), true) => {
                self.err(
                    key_path,
                    ValidationErrorKind::InvalidValue,
                    format!("{key} and {key_path} are mutually exclusive"),
                );
                None
            }
            (Some(v), false) => match v.as_f64() {
                Some(n) if n >= min && v.is_number() => Some(NumberSource::Literal(n)),
                _ => {
                    self.err(
                        key,
                        ValidationErrorKind::InvalidValue,
                        format!("{key} must be a number >= {min}, not {v}"),
                    );
                    None
                }
            },
            (None, true) => self.path(key_path).map(NumberSource::Path),
            (None, false) => None,
        }
    }

    fn string_source(&mut self, key: &str, key_path: &str) -> Option<StringSource> {
        match (self.obj.get(key), self.obj.get(key_path)) {
            (Some(_), Some(_)) => {
                self.err(
                    key_path,
                    ValidationErrorKind::InvalidValue,
                    format!("{key} and {key_path} are mutually exclusive"),
                );
                None
            }
            (Some(Value::String(s)), None) => Some(StringSource::Literal(s.clone())),
            (Some(_), None) => {
                self.err(
                    key,
                    ValidationErrorKind::InvalidType,
                    format!("{key} must be a string"),
                );
                None
            }
            (None, Some(Value::String(s))) if crate::intrinsics::looks_like_call(s) => {
                match crate::intrinsics::parse_call(s) {
                    Ok(c) => Some(StringSource::Call(c)),
                    Err(e) => {
                        self.err(
                            key_path,
                            ValidationErrorKind::InvalidIntrinsic,
                            e.to_string(),
                        );
                        None
                    }
                }
            }
            (None, Some(_)) => self.path(key_path).map(StringSource::Path),
            (None, None) => None,
        }
    }

    fn error_handling(&mut self) -> ErrorHandling {
        let mut out = ErrorHandling::default();
        if let Some(v) = self.obj.get("Retry") {
            let base = self.at("Retry");
            match v.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let p = format!("{base}/{i}");
                        if let Some(r) = retrier(item, &p, i + 1 == items.len(), self.cx.errors) {
                            out.retry.push(r);
                        }
                    }
                }
                None => self.err(
                    "Retry",
                    ValidationErrorKind::InvalidType,
                    "Retry must be an array",
                ),
            }
        }
        if let Some(v) = self.obj.get("Catch") {
            let base = self.at("Catch");
            match v.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let p = format!("{base}/{i}");
                        if let Some(c) = self.catcher(item, &p, i + 1 == items.len()) {
                            out.catch.push(c);
                        }
                    }
                }
                None => self.err(
                    "Catch",
                    ValidationErrorKind::InvalidType,
                    "Catch must be an array",
                ),
            }
        }
        out
    }

    fn catcher(&mut self, item: &Value, p: &str, is_last: bool) -> Option<Catcher> {
        let Some(obj) = item.as_object() else {
            self.cx.err(
                p,
                ValidationErrorKind::InvalidType,
                "a catcher must be an object",
            );
            return None;
        };
        for k in obj.keys() {
            if !matches!(
                k.as_str(),
                "ErrorEquals" | "Next" | "ResultPath" | "Assign" | "Comment" | "Output"
            ) {
                self.cx.err(
                    &format!("{p}/{k}"),
                    ValidationErrorKind::UnknownField,
                    format!("`{k}` is not a field of a catcher"),
                );
            }
        }
        let error_equals = error_equals(obj, p, is_last, self.cx.errors);
        let next = match obj.get("Next") {
            Some(n) => self.cx.target(n, &format!("{p}/Next")),
            None => {
                self.cx.err(
                    &format!("{p}/Next"),
                    ValidationErrorKind::MissingField,
                    "a catcher needs Next",
                );
                None
            }
        };
        let result_path = result_path_of(obj, "ResultPath", p, self.cx.errors);
        let jsonata = self.language == QueryLanguage::Jsonata;
        let assign = match obj.get("Assign") {
            Some(v) if !jsonata => {
                Some(Template::compile(v, &format!("{p}/Assign"), self.cx.errors))
            }
            _ => None,
        };
        let compile_j = |key: &str, errors: &mut Errors| {
            obj.get(key)
                .filter(|_| jsonata)
                .map(|v| JTemplate::compile(v, &format!("{p}/{key}"), errors))
        };
        let jsonata_assign = compile_j("Assign", self.cx.errors);
        let jsonata_output = compile_j("Output", self.cx.errors);
        Some(Catcher {
            error_equals: error_equals?,
            next: next?,
            result_path,
            assign,
            jsonata_assign,
            jsonata_output,
        })
    }

    fn task(&mut self) -> Option<TaskState> {
        let resource = match self.obj.get("Resource") {
            Some(Value::String(r)) => {
                let r = r.as_str();
                if r == "arn:aws:states:::lambda:invoke" {
                    let has_fn = self.language == QueryLanguage::Jsonata
                        || self
                            .obj
                            .get("Parameters")
                            .and_then(Value::as_object)
                            .is_some_and(|p| {
                                p.contains_key("FunctionName") || p.contains_key("FunctionName.$")
                            });
                    if !has_fn {
                        self.err(
                            "Parameters",
                            ValidationErrorKind::MissingField,
                            "arn:aws:states:::lambda:invoke needs Parameters with FunctionName",
                        );
                    }
                    Some(TaskResource::LambdaInvoke)
                } else if is_lambda_function_arn(r) {
                    Some(TaskResource::LambdaFunction { arn: Arc::from(r) })
                } else {
                    self.err(
                        "Resource",
                        ValidationErrorKind::UnsupportedResource,
                        format!("the local engine cannot run the resource `{r}` (supported: arn:aws:states:::lambda:invoke and Lambda function ARNs)"),
                    );
                    None
                }
            }
            Some(_) => {
                self.err(
                    "Resource",
                    ValidationErrorKind::InvalidType,
                    "Resource must be a string",
                );
                None
            }
            None => {
                self.err(
                    "Resource",
                    ValidationErrorKind::MissingField,
                    "a Task needs a Resource",
                );
                None
            }
        };
        let parameters = self.template("Parameters");
        let result_selector = self.template("ResultSelector");
        let result_path = self.result_path("ResultPath");
        let timeout = self.number_source("TimeoutSeconds", "TimeoutSecondsPath", 1.0);
        let heartbeat = self.number_source("HeartbeatSeconds", "HeartbeatSecondsPath", 1.0);
        if let (Some(NumberSource::Literal(t)), Some(NumberSource::Literal(h))) =
            (&timeout, &heartbeat)
            && h >= t
        {
            self.err(
                "HeartbeatSeconds",
                ValidationErrorKind::InvalidValue,
                "HeartbeatSeconds must be smaller than TimeoutSeconds",
            );
        }
        let errors = self.error_handling();
        Some(TaskState {
            resource: resource?,
            parameters,
            result_selector,
            result_path,
            timeout,
            heartbeat,
            errors,
        })
    }

    fn choice(&mut self) -> Option<ChoiceState> {
        let mut choices = Vec::new();
        match self.obj.get("Choices").and_then(Value::as_array) {
            Some(items) if !items.is_empty() => {
                let base = self.at("Choices");
                for (i, item) in items.iter().enumerate() {
                    let p = format!("{base}/{i}");
                    let Some(rule) = item.as_object() else {
                        self.cx.err(
                            &p,
                            ValidationErrorKind::InvalidType,
                            "a Choice rule must be an object",
                        );
                        continue;
                    };
                    let jsonata_condition = if self.language == QueryLanguage::Jsonata {
                        match rule.get("Condition") {
                            Some(c) => Some(JTemplate::compile(
                                c,
                                &format!("{p}/Condition"),
                                self.cx.errors,
                            )),
                            None => {
                                self.cx.err(
                                    &format!("{p}/Condition"),
                                    ValidationErrorKind::MissingField,
                                    "a JSONata Choice rule needs Condition",
                                );
                                continue;
                            }
                        }
                    } else {
                        None
                    };
                    let condition = if jsonata_condition.is_some() {
                        Some(crate::choice::Condition::And(Vec::new()))
                    } else {
                        crate::choice::Condition::compile(rule, &p, true, self.cx.errors)
                    };
                    let jsonata_assign = rule
                        .get("Assign")
                        .filter(|_| self.language == QueryLanguage::Jsonata)
                        .map(|v| JTemplate::compile(v, &format!("{p}/Assign"), self.cx.errors));
                    let jsonata_output = rule
                        .get("Output")
                        .filter(|_| self.language == QueryLanguage::Jsonata)
                        .map(|v| JTemplate::compile(v, &format!("{p}/Output"), self.cx.errors));
                    let next = match rule.get("Next") {
                        Some(n) => self.cx.target(n, &format!("{p}/Next")),
                        None => {
                            self.cx.err(
                                &format!("{p}/Next"),
                                ValidationErrorKind::MissingField,
                                "a Choice rule needs Next",
                            );
                            None
                        }
                    };
                    let assign = rule
                        .get("Assign")
                        .filter(|_| self.language == QueryLanguage::JsonPath)
                        .map(|v| Template::compile(v, &format!("{p}/Assign"), self.cx.errors));
                    if let (Some(condition), Some(next)) = (condition, next) {
                        choices.push(ChoiceRule {
                            condition,
                            next,
                            assign,
                            jsonata_condition,
                            jsonata_assign,
                            jsonata_output,
                        });
                    }
                }
            }
            _ => self.err(
                "Choices",
                ValidationErrorKind::MissingField,
                "a Choice state needs a non-empty Choices array",
            ),
        }
        let default = match self.obj.get("Default") {
            Some(d) => {
                let p = self.at("Default");
                self.cx.target(d, &p)
            }
            None => None,
        };
        Some(ChoiceState { choices, default })
    }

    fn wait(&mut self) -> Option<WaitState> {
        let present: Vec<&str> = ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]
            .into_iter()
            .filter(|k| self.obj.contains_key(*k))
            .collect();
        if present.is_empty() && self.language == QueryLanguage::Jsonata {
            // The wait is a JSONata expression (validated with the state's JSONata fields).
            return Some(WaitState {
                wait: WaitSpec::Jsonata,
            });
        }
        if present.len() != 1 {
            let p = self.ptr.to_owned();
            self.cx.err(
                &p,
                ValidationErrorKind::InvalidValue,
                "a Wait state needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath",
            );
            return None;
        }
        let wait = match present[0] {
            "Seconds" => match self.obj.get("Seconds").and_then(Value::as_u64) {
                Some(s) => WaitSpec::Seconds(s),
                None => {
                    self.err(
                        "Seconds",
                        ValidationErrorKind::InvalidValue,
                        "Seconds must be a non-negative integer",
                    );
                    return None;
                }
            },
            "Timestamp" => match self.obj.get("Timestamp").and_then(Value::as_str) {
                Some(t) if crate::timestamp::parse(t).is_some() => {
                    WaitSpec::Timestamp(t.to_owned())
                }
                _ => {
                    self.err(
                        "Timestamp",
                        ValidationErrorKind::InvalidValue,
                        "Timestamp must be an ISO-8601 date-time with a zone",
                    );
                    return None;
                }
            },
            "SecondsPath" => WaitSpec::SecondsPath(self.path("SecondsPath")?),
            _ => WaitSpec::TimestampPath(self.path("TimestampPath")?),
        };
        Some(WaitState { wait })
    }

    fn parallel(&mut self, language: QueryLanguage) -> Option<ParallelState> {
        let mut branches = Vec::new();
        match self.obj.get("Branches").and_then(Value::as_array) {
            Some(items) if !items.is_empty() => {
                let base = self.at("Branches");
                for (i, item) in items.iter().enumerate() {
                    let p = format!("{base}/{i}");
                    match item.as_object() {
                        Some(b) => {
                            check_sub_program_keys(b, &p, self.cx.errors, &[]);
                            let lang = query_language(b, &p, language, self.cx.errors);
                            if let Some(prog) = parse_program(b, &p, lang, self.cx.errors) {
                                branches.push(prog);
                            }
                        }
                        None => self.cx.err(
                            &p,
                            ValidationErrorKind::InvalidType,
                            "a branch must be an object",
                        ),
                    }
                }
            }
            _ => self.err(
                "Branches",
                ValidationErrorKind::MissingField,
                "a Parallel state needs a non-empty Branches array",
            ),
        }
        let parameters = self.template("Parameters");
        let result_selector = self.template("ResultSelector");
        let result_path = self.result_path("ResultPath");
        let errors = self.error_handling();
        Some(ParallelState {
            branches,
            parameters,
            result_selector,
            result_path,
            errors,
        })
    }

    fn map(&mut self, language: QueryLanguage) -> Option<MapState> {
        for unsupported in ["ItemReader", "ResultWriter", "ItemBatcher"] {
            if self.obj.contains_key(unsupported) {
                self.err(
                    unsupported,
                    ValidationErrorKind::UnsupportedFeature,
                    format!("{unsupported} (distributed Map over S3) is not supported by the local engine"),
                );
            }
        }
        let (key, proc_obj) = match (self.obj.get("ItemProcessor"), self.obj.get("Iterator")) {
            (Some(_), Some(_)) => {
                self.err(
                    "Iterator",
                    ValidationErrorKind::InvalidValue,
                    "ItemProcessor and Iterator are mutually exclusive",
                );
                return None;
            }
            (Some(v), None) => ("ItemProcessor", v),
            (None, Some(v)) => ("Iterator", v),
            (None, None) => {
                self.err(
                    "ItemProcessor",
                    ValidationErrorKind::MissingField,
                    "a Map state needs ItemProcessor (or the legacy Iterator)",
                );
                return None;
            }
        };
        let p = self.at(key);
        let Some(proc_obj) = proc_obj.as_object() else {
            self.cx.err(
                &p,
                ValidationErrorKind::InvalidType,
                format!("{key} must be an object"),
            );
            return None;
        };
        let mut mode = MapMode::Inline;
        if let Some(cfg) = proc_obj.get("ProcessorConfig") {
            match cfg.get("Mode").and_then(Value::as_str) {
                Some("INLINE") | None => {}
                Some("DISTRIBUTED") => mode = MapMode::Distributed,
                Some(other) => self.cx.err(
                    &format!("{p}/ProcessorConfig/Mode"),
                    ValidationErrorKind::InvalidValue,
                    format!("Mode must be INLINE or DISTRIBUTED, not {other}"),
                ),
            }
        }
        check_sub_program_keys(proc_obj, &p, self.cx.errors, &["ProcessorConfig"]);
        let lang = query_language(proc_obj, &p, language, self.cx.errors);
        let processor = parse_program(proc_obj, &p, lang, self.cx.errors);
        let items_path = self.data_path("ItemsPath");
        let item_selector = match (
            self.template("ItemSelector"),
            self.obj.contains_key("Parameters"),
        ) {
            (Some(_), true) => {
                self.err(
                    "Parameters",
                    ValidationErrorKind::InvalidValue,
                    "ItemSelector and Parameters are mutually exclusive",
                );
                None
            }
            (Some(t), false) => Some(t),
            (None, _) => self.template("Parameters"),
        };
        let max_concurrency = self.number_source("MaxConcurrency", "MaxConcurrencyPath", 0.0);
        let tolerated_failure_count =
            self.number_source("ToleratedFailureCount", "ToleratedFailureCountPath", 0.0);
        let tolerated_failure_percentage = self.number_source(
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            0.0,
        );
        if let Some(NumberSource::Literal(p)) = &tolerated_failure_percentage
            && *p > 100.0
        {
            self.err(
                "ToleratedFailurePercentage",
                ValidationErrorKind::InvalidValue,
                "ToleratedFailurePercentage must be between 0 and 100",
            );
        }
        let label = self
            .obj
            .get("Label")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let result_selector = self.template("ResultSelector");
        let result_path = self.result_path("ResultPath");
        let errors = self.error_handling();
        Some(MapState {
            processor: processor?,
            mode,
            items_path,
            item_selector,
            max_concurrency,
            tolerated_failure_count,
            tolerated_failure_percentage,
            label,
            result_selector,
            result_path,
            errors,
        })
    }
}

fn check_sub_program_keys(obj: &Map<String, Value>, p: &str, errors: &mut Errors, extra: &[&str]) {
    for k in obj.keys() {
        if !matches!(
            k.as_str(),
            "StartAt" | "States" | "Comment" | "QueryLanguage"
        ) && !extra.contains(&k.as_str())
        {
            errors.push(ValidationError::new(
                &format!("{p}/{}", escape_pointer(k)),
                ValidationErrorKind::UnknownField,
                format!("`{k}` is not a field here"),
            ));
        }
    }
}

fn result_path_of(
    obj: &Map<String, Value>,
    key: &str,
    ptr: &str,
    errors: &mut Errors,
) -> ResultPathSpec {
    match obj.get(key) {
        None => ResultPathSpec::Replace,
        Some(Value::Null) => ResultPathSpec::Discard,
        Some(Value::String(s)) => match ReferencePath::parse(s) {
            Ok(p) if p.text() == "$" => ResultPathSpec::Replace,
            Ok(p) => ResultPathSpec::Path(p),
            Err(e) => {
                errors.push(ValidationError::new(
                    &format!("{ptr}/{key}"),
                    ValidationErrorKind::InvalidReferencePath,
                    e.to_string(),
                ));
                ResultPathSpec::Replace
            }
        },
        Some(_) => {
            errors.push(ValidationError::new(
                &format!("{ptr}/{key}"),
                ValidationErrorKind::InvalidType,
                format!("{key} must be a reference path string or null"),
            ));
            ResultPathSpec::Replace
        }
    }
}

fn error_equals(
    obj: &Map<String, Value>,
    p: &str,
    is_last: bool,
    errors: &mut Errors,
) -> Option<Vec<String>> {
    let ptr = format!("{p}/ErrorEquals");
    let Some(items) = obj
        .get("ErrorEquals")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    else {
        errors.push(ValidationError::new(
            &ptr,
            ValidationErrorKind::MissingField,
            "ErrorEquals must be a non-empty array of error names",
        ));
        return None;
    };
    let mut names = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item.as_str() {
            Some(s) => names.push(s.to_owned()),
            None => errors.push(ValidationError::new(
                &format!("{ptr}/{i}"),
                ValidationErrorKind::InvalidType,
                "error names must be strings",
            )),
        }
    }
    if names.iter().any(|n| n == crate::error::names::ALL) && (names.len() != 1 || !is_last) {
        errors.push(ValidationError::new(
            &ptr,
            ValidationErrorKind::InvalidValue,
            "States.ALL must appear alone and in the last retrier/catcher",
        ));
    }
    Some(names)
}

fn retrier(item: &Value, p: &str, is_last: bool, errors: &mut Errors) -> Option<Retrier> {
    let Some(obj) = item.as_object() else {
        errors.push(ValidationError::new(
            p,
            ValidationErrorKind::InvalidType,
            "a retrier must be an object",
        ));
        return None;
    };
    for k in obj.keys() {
        if !matches!(
            k.as_str(),
            "ErrorEquals"
                | "IntervalSeconds"
                | "MaxAttempts"
                | "BackoffRate"
                | "MaxDelaySeconds"
                | "JitterStrategy"
                | "Comment"
        ) {
            errors.push(ValidationError::new(
                &format!("{p}/{k}"),
                ValidationErrorKind::UnknownField,
                format!("`{k}` is not a field of a retrier"),
            ));
        }
    }
    let error_equals = error_equals(obj, p, is_last, errors);
    let mut number = |key: &str, default: f64, ok: &dyn Fn(f64) -> bool, integer: bool| -> f64 {
        match obj.get(key) {
            None => default,
            Some(v) => match v.as_f64() {
                Some(n) if ok(n) && (!integer || n.fract() == 0.0) => n,
                _ => {
                    errors.push(ValidationError::new(
                        &format!("{p}/{key}"),
                        ValidationErrorKind::InvalidValue,
                        format!("invalid {key}: {v}"),
                    ));
                    default
                }
            },
        }
    };
    let interval_seconds = number("IntervalSeconds", 1.0, &|n| n >= 1.0, true);
    let max_attempts = number("MaxAttempts", 3.0, &|n| n >= 0.0, true) as u64;
    let backoff_rate = number("BackoffRate", 2.0, &|n| n >= 1.0, false);
    let max_delay_seconds = obj
        .contains_key("MaxDelaySeconds")
        .then(|| number("MaxDelaySeconds", 0.0, &|n| n >= 1.0, true));
    let jitter = match obj.get("JitterStrategy").map(|v| v.as_str()) {
        None | Some(Some("NONE")) => Jitter::None,
        Some(Some("FULL")) => Jitter::Full,
        Some(_) => {
            errors.push(ValidationError::new(
                &format!("{p}/JitterStrategy"),
                ValidationErrorKind::InvalidValue,
                "JitterStrategy must be FULL or NONE",
            ));
            Jitter::None
        }
    };
    Some(Retrier {
        error_equals: error_equals?,
        interval_seconds,
        max_attempts,
        backoff_rate,
        max_delay_seconds,
        jitter,
    })
}

fn positive_int(
    obj: &Map<String, Value>,
    key: &str,
    ptr: &str,
    errors: &mut Errors,
) -> Option<u64> {
    let v = obj.get(key)?;
    match v.as_u64().filter(|n| *n > 0) {
        Some(n) => Some(n),
        None => {
            errors.push(ValidationError::new(
                &format!("{ptr}/{key}"),
                ValidationErrorKind::InvalidValue,
                format!("{key} must be a positive integer"),
            ));
            None
        }
    }
}

/// `arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]`
fn is_lambda_function_arn(r: &str) -> bool {
    let parts: Vec<&str> = r.split(':').collect();
    parts.len() >= 7
        && parts[0] == "arn"
        && parts[2] == "lambda"
        && parts[5] == "function"
        && !parts[6].is_empty()
}
