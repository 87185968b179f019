//! The conformance harness: replays the AWS-validated cases of
//! `tui/asl/conformance/cases.jsonl` through the engine, normalises our history the way
//! FORMAT.md describes, and compares it with the recorded one.
//!
//! Shared by the `conformance` example (the report) and the `conformance` test (the
//! pass-count floor). No case id is ever special-cased: everything here is driven by the
//! case data (definition, input, Lambda behaviours, normalisers).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use futures::future::BoxFuture;
use regex::Regex;
use serde_json::{Map, Value, json};

use scones_asl::{
    Engine, EventDetails, ExecutionInput, ExecutionSpec, HistoryEvent, InvokeError, InvokeRequest,
    LambdaInvoker, LambdaRegistry, StateMachine, VecSink, VirtualClock,
};

/// Region/account/role the recordings used (normalised away anyway).
const REGION: &str = "us-east-1";
const ACCOUNT: &str = "111111111111";
const ROLE_ARN: &str = "arn:aws:iam::111111111111:role/snf_role";

/// One case of cases.jsonl.
pub struct Case {
    pub id: String,
    pub query_language: String,
    pub area: String,
    pub raw: Value,
}

impl Case {
    fn meta(&self) -> &Value {
        &self.raw["meta"]
    }
}

/// The result of one case.
pub struct CaseResult {
    pub id: String,
    pub area: String,
    pub query_language: String,
    pub passed: bool,
    /// Why it failed (validation error, or a readable diff).
    pub detail: String,
}

/// Where the cases live: `$SCONES_CONFORMANCE_DIR`, else the copy in `tui/asl/conformance`.
pub fn default_cases_path() -> PathBuf {
    if let Ok(dir) = std::env::var("SCONES_CONFORMANCE_DIR") {
        return PathBuf::from(dir).join("cases.jsonl");
    }
    // The copy committed with the engine (tui/asl/conformance/README.md says where it is from).
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance/cases.jsonl")
}

/// Load every case.
pub fn load_cases(path: &FsPath) -> Result<Vec<Case>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            let raw: Value =
                serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
            Ok(Case {
                id: raw["id"].as_str().unwrap_or_default().to_owned(),
                query_language: raw["query_language"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                area: raw["meta"]["area"].as_str().unwrap_or_default().to_owned(),
                raw,
            })
        })
        .collect()
}

/// The instant the dynamic inputs of the case file were generated: the earliest
/// `test_value` timestamp among the cases with `dynamic_input` (they are "now" or
/// "now + N days" at generation time). Replaying from that instant reproduces the waits
/// the recordings saw.
pub fn dynamic_epoch(cases: &[Case]) -> Option<DateTime<Utc>> {
    cases
        .iter()
        .filter(|c| c.meta().get("dynamic_input").is_some())
        .flat_map(|c| {
            c.meta()["test_normalizers"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|n| n["subject"] == "test_value")
        .filter_map(|n| {
            n["pattern"]
                .as_str()
                .and_then(|p| p.get(..19))
                .map(str::to_owned)
        })
        .filter_map(|p| NaiveDateTime::parse_from_str(&p, "%Y-%m-%dT%H:%M:%S").ok())
        .map(|t| t.and_utc())
        .min()
}

/// Run one case on a paused (virtual-time) current-thread runtime.
pub fn run_case(case: &Case, dynamic_epoch: Option<DateTime<Utc>>) -> CaseResult {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_case_inner(case, dynamic_epoch)
    }));
    let (passed, detail) = match result {
        Ok(Ok(())) => (true, String::new()),
        Ok(Err(detail)) => (false, detail),
        Err(p) => (
            false,
            format!(
                "PANIC: {}",
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default()
            ),
        ),
    };
    CaseResult {
        id: case.id.clone(),
        area: case.area.clone(),
        query_language: case.query_language.clone(),
        passed,
        detail,
    }
}

fn run_case_inner(case: &Case, dynamic_epoch: Option<DateTime<Utc>>) -> Result<(), String> {
    let machine = StateMachine::from_value(&case.raw["definition"])
        .map_err(|e| format!("definition rejected: {e}"))?;
    let sm_name = "scones_conformance_machine";
    let exec_name = uuid::Uuid::new_v4().to_string();
    let input = match case.raw["input_text"].as_str() {
        Some(t) => ExecutionInput::Text(t.to_owned()),
        None => ExecutionInput::Json(json!({})),
    };
    let spec = ExecutionSpec::with_account(sm_name, &exec_name, REGION, ACCOUNT, ROLE_ARN, input);
    let mut registry = LambdaRegistry::new();
    if let Some(lambdas) = case.raw["lambdas"].as_object() {
        for (name, behaviour) in lambdas {
            let behaviour = behaviour.as_str().unwrap_or_default();
            registry.register(name, fake_lambda(behaviour)?);
        }
    }
    let epoch = match case.meta().get("dynamic_input") {
        Some(_) => dynamic_epoch.unwrap_or_else(Utc::now),
        None => Utc::now(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let sink = Arc::new(VecSink::new());
    let outcome = runtime.block_on(async {
        let clock = Arc::new(VirtualClock::starting_at(epoch));
        let engine = Engine::new(registry, clock);
        // Generous virtual cap (the longest recorded wait is ~68 years).
        tokio::time::timeout(
            Duration::from_secs(100 * 366 * 24 * 3600),
            engine.execute(&machine, spec, sink.clone()),
        )
        .await
    });
    let events: Vec<Value> = sink.events().iter().map(|e| e.to_aws_json()).collect();
    check_reader_agrees(&events)?;
    let names = Names {
        state_machine: sm_name.to_owned(),
        execution: exec_name,
    };
    let ours = normalize(events, case, &names);
    let expected = case.raw["expected"]["history"].clone();
    let (ours, expected) = remove_unverified(ours, expected, case);
    let incomplete = case.meta().get("history_incomplete").is_some();
    let outcome_note = match &outcome {
        Ok(o) => format!("{:?}", o.status),
        Err(_) => "still running after the virtual time cap".to_owned(),
    };
    compare(&ours, &expected, incomplete)
        .map_err(|diff| format!("(outcome {outcome_note})\n{diff}"))
}

/// The history reader (what the dashboard and the store use) must read back every event the
/// engine writes, typed, and write it out again unchanged.
fn check_reader_agrees(events: &[Value]) -> Result<(), String> {
    for (i, written) in events.iter().enumerate() {
        let read = HistoryEvent::from_aws_json(i, written)
            .map_err(|e| format!("history reader refused event {i}: {e}"))?;
        if matches!(read.details, EventDetails::Other { .. }) {
            return Err(format!(
                "history reader did not type event {i} ({})",
                read.event_type()
            ));
        }
        let again = read.to_aws_json();
        if &again != written {
            return Err(format!(
                "history reader changed event {i}:\n  written {written}\n  read back {again}"
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Lambda behaviours (lambdas.md)

fn fake_lambda(behaviour: &str) -> Result<Arc<dyn LambdaInvoker>, String> {
    type Out = BoxFuture<'static, Result<Vec<u8>, InvokeError>>;
    let f: Arc<dyn LambdaInvoker> = match behaviour {
        "id_function" => Arc::new(|r: InvokeRequest| -> Out {
            Box::pin(async move { Ok(python_dumps(&parse_event(&r.payload)).into_bytes()) })
        }),
        "echo_function" => Arc::new(|_r: InvokeRequest| -> Out {
            Box::pin(async move { Ok(b"{\"Return\": \"HelloWorld\"}".to_vec()) })
        }),
        "raise_exception" => Arc::new(|_r: InvokeRequest| -> Out {
            Box::pin(async move {
                Err(python_error(
                    "Exception",
                    "Some exception was raised.",
                    "  File \"/var/task/handler.py\", line 2, in handler\n    raise Exception(\"Some exception was raised.\")\n",
                ))
            })
        }),
        "raise_custom_exception" => Arc::new(|_r: InvokeRequest| -> Out {
            Box::pin(async move {
                Err(python_error(
                    "CustomException",
                    "",
                    "  File \"/var/task/handler.py\", line 9, in handler\n    raise CustomException()\n",
                ))
            })
        }),
        "return_bytes_str" => Arc::new(|_r: InvokeRequest| -> Out {
            Box::pin(async move { Ok(b"\"HelloWorld!\"".to_vec()) })
        }),
        "return_decorated_input" => Arc::new(|r: InvokeRequest| -> Out {
            Box::pin(async move {
                let text = format!("input-event-{}", python_str(&parse_event(&r.payload)));
                Ok(python_dumps(&Value::String(text)).into_bytes())
            })
        }),
        "large_output_string" => Arc::new(|_r: InvokeRequest| -> Out {
            Box::pin(async move { Ok(vec![b'a'; 257 * 1024]) })
        }),
        "wait_60_seconds" => Arc::new(|r: InvokeRequest| -> Out {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(python_dumps(&parse_event(&r.payload)).into_bytes())
            })
        }),
        other => return Err(format!("unknown Lambda behaviour `{other}`")),
    };
    Ok(f)
}

fn parse_event(payload: &[u8]) -> Value {
    serde_json::from_slice(payload).unwrap_or(Value::Null)
}

fn python_error(error_type: &str, message: &str, frame: &str) -> InvokeError {
    let doc = json!({
        "errorMessage": message,
        "errorType": error_type,
        "requestId": uuid::Uuid::new_v4().to_string(),
        "stackTrace": [frame],
    });
    InvokeError::Function {
        error_type: error_type.to_owned(),
        error_message: message.to_owned(),
        document: python_dumps(&doc).into_bytes(),
    }
}

/// `json.dumps` with Python's defaults: `", "`/`": "` separators and `\uXXXX` for non-ASCII.
pub fn python_dumps(v: &Value) -> String {
    let mut out = String::new();
    write_python(v, &mut out);
    out
}

fn write_python(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python_str(k, out);
                out.push_str(": ");
                write_python(v, out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python(v, out);
            }
            out.push(']');
        }
        Value::String(s) => write_python_str(s, out),
        other => out.push_str(&other.to_string()),
    }
}

fn write_python_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python's `str()` of a decoded JSON value.
fn python_str(v: &Value) -> String {
    fn repr(v: &Value, out: &mut String) {
        match v {
            Value::Null => out.push_str("None"),
            Value::Bool(true) => out.push_str("True"),
            Value::Bool(false) => out.push_str("False"),
            Value::Number(n) => out.push_str(&n.to_string()),
            Value::String(s) => {
                let quote = if s.contains('\'') && !s.contains('"') {
                    '"'
                } else {
                    '\''
                };
                out.push(quote);
                for c in s.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '\n' => out.push_str("\\n"),
                        '\t' => out.push_str("\\t"),
                        c if c == quote => {
                            out.push('\\');
                            out.push(c);
                        }
                        c => out.push(c),
                    }
                }
                out.push(quote);
            }
            Value::Array(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    repr(v, out);
                }
                out.push(']');
            }
            Value::Object(m) => {
                out.push('{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    repr(&Value::String(k.clone()), out);
                    out.push_str(": ");
                    repr(v, out);
                }
                out.push('}');
            }
        }
    }
    match v {
        Value::String(s) => s.clone(),
        other => {
            let mut out = String::new();
            repr(other, &mut out);
            out
        }
    }
}

// ---------------------------------------------------------------------------------------
// Normalisation (FORMAT.md §2)

struct Names {
    state_machine: String,
    execution: String,
}

fn normalize(events: Vec<Value>, case: &Case, names: &Names) -> Value {
    let mut events: Vec<Value> = events;
    for e in &mut events {
        // The API returns event timestamps as date-times, not strings (boto gives
        // `datetime` objects), so they are masked as "timestamp" rather than "date".
        if let Some(t) = e.get_mut("timestamp") {
            *t = json!(0);
        }
    }
    // A. JSON strings that are objects become objects.
    for e in &mut events {
        parse_object_strings(e);
    }
    let normalizers: Vec<Value> = case.meta()["test_normalizers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut root = Value::Array(events);
    // B. Value masks.
    sdk_masks(&mut root);
    let mut replace_all_refs: Vec<(String, String)> = Vec::new();
    for n in &normalizers {
        match n["kind"].as_str() {
            Some("jsonpath") => {
                let path = n["path"].as_str().unwrap_or_default();
                let replacement = n["replacement"].as_str().unwrap_or_default();
                if n["replace_all_occurrences"] == true {
                    let mut found = Vec::new();
                    jsonpath_ng_apply(&mut root, path, &mut |v| found.push(v.clone()));
                    for v in found {
                        if let Value::String(s) = v {
                            let reference =
                                format!("<{replacement}:{}>", replace_all_refs.len() + 1);
                            if !replace_all_refs.iter().any(|(k, _)| *k == s) {
                                replace_all_refs.push((s, reference));
                            }
                        }
                    }
                } else {
                    jsonpath_ng_apply(&mut root, path, &mut |v| {
                        *v = Value::String(replacement.to_owned())
                    });
                }
            }
            Some("parallel_branch_events_unordered") => {
                if let Value::Array(events) = &mut root {
                    mask_parallel_branches(events);
                }
            }
            Some("parse_first_output_string_per_event") => {
                if let Value::Array(events) = &mut root {
                    for e in events {
                        parse_first_output_string(e);
                    }
                }
            }
            _ => {}
        }
    }
    mask_timestamp_keys(&mut root);
    // C. References.
    let mut uuids: Vec<String> = Vec::new();
    collect_uuids(&root, &mut uuids);
    let mut json_inputs: Vec<String> = Vec::new();
    collect_json_inputs(&root, &mut json_inputs);
    // D. Substitutions.
    for (i, text) in json_inputs.iter().enumerate() {
        replace_in_strings(&mut root, &|s| {
            s.replace(text.as_str(), &format!("<json-input:{}>", i + 1))
        });
    }
    let map_run_arn =
        Regex::new(r"(arn:[^:]+:states:[^:]+:[^:]+:mapRun:[^/]+/)([^:]+):([A-Za-z0-9-]+)").ok();
    for n in &normalizers {
        match (n["kind"].as_str(), n["subject"].as_str()) {
            (Some("regex"), subject) => {
                let replacement = n["replacement"].as_str().unwrap_or_default().to_owned();
                let pattern = match subject {
                    Some("state_machine_name") => regex::escape(&names.state_machine),
                    Some("execution_name") => regex::escape(&names.execution),
                    Some("role_arn") => regex::escape(ROLE_ARN),
                    Some("test_value") if n["dynamic"] == true => {
                        match find_output_field(&root, "FunctionResult") {
                            Some(v) => regex::escape(&v),
                            None => continue,
                        }
                    }
                    _ => n["pattern"].as_str().unwrap_or_default().to_owned(),
                };
                let Ok(re) = Regex::new(&pattern) else {
                    continue;
                };
                replace_in_strings(&mut root, &|s| {
                    re.replace_all(s, replacement.as_str()).into_owned()
                });
            }
            (Some("map_run_arn"), _) => {
                if let Some(re) = &map_run_arn {
                    replace_in_strings(&mut root, &|s| {
                        re.replace_all(s, |c: &regex::Captures| {
                            let part0 = if is_uuid_prefix(&c[2]) {
                                "<MapRunArnPart0_0idx>".to_owned()
                            } else {
                                c[2].to_owned()
                            };
                            format!("{}{part0}:<MapRunArnPart1_0idx>", &c[1])
                        })
                        .into_owned()
                    });
                }
            }
            _ => {}
        }
    }
    for (value, reference) in &replace_all_refs {
        replace_in_strings(&mut root, &|s| s.replace(value.as_str(), reference));
    }
    replace_in_strings(&mut root, &|s| {
        s.replace("us-east-1", "<region>")
            .replace("arn:aws:", "arn:<partition>:")
    });
    for (i, u) in uuids.iter().enumerate() {
        replace_in_strings(&mut root, &|s| {
            s.replace(u.as_str(), &format!("<uuid:{}>", i + 1))
        });
    }
    let iso = iso_datetime_regex();
    replace_in_strings(&mut root, &|s| replace_dates(s, &iso));
    root
}

fn parse_object_strings(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (_, child) in m.iter_mut() {
                if let Value::String(s) = child
                    && s.starts_with('{')
                    && let Ok(parsed @ Value::Object(_)) = serde_json::from_str::<Value>(s)
                {
                    *child = parsed;
                    continue;
                }
                parse_object_strings(child);
            }
        }
        Value::Array(a) => {
            for child in a {
                if child.is_object() {
                    parse_object_strings(child);
                }
            }
        }
        _ => {}
    }
}

fn sdk_masks(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.shift_remove("x-localstack");
            for (k, child) in m.iter_mut() {
                match k.as_str() {
                    "X-Amzn-Trace-Id" | "x-amz-crc32" | "x-amzn-RequestId" | "x-amzn-requestid" => {
                        *child = Value::String(k.clone());
                    }
                    "SdkHttpMetadata" => {
                        mask_key(child, "Date", "date");
                        sdk_masks(child);
                    }
                    "SdkResponseMetadata" => {
                        mask_key(child, "RequestId", "RequestId");
                        sdk_masks(child);
                    }
                    _ => sdk_masks(child),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(sdk_masks),
        _ => {}
    }
}

fn mask_key(v: &mut Value, key: &str, replacement: &str) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if k == key {
                    *child = Value::String(replacement.to_owned());
                } else {
                    mask_key(child, key, replacement);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| mask_key(c, key, replacement)),
        _ => {}
    }
}

fn mask_timestamp_keys(v: &mut Value) {
    let iso = iso_datetime_regex();
    fn walk(v: &mut Value, iso: &Regex) {
        match v {
            Value::Object(m) => {
                for (k, child) in m.iter_mut() {
                    if k.to_ascii_lowercase().contains("timestamp") {
                        let keep = matches!(child, Value::String(s) if iso.find(s).is_some_and(|m| m.start() == 0 && valid_date(m.as_str())));
                        if !keep {
                            *child = Value::String("timestamp".into());
                        }
                    } else {
                        walk(child, iso);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|c| walk(c, iso)),
            _ => {}
        }
    }
    walk(v, &iso);
}

/// Replace every well-formed ISO-8601 date-time (valid month/day, leap years) by `date`.
fn replace_dates(s: &str, iso: &Regex) -> String {
    iso.replace_all(s, |c: &regex::Captures| {
        let m = &c[0];
        if valid_date(m) {
            "date".to_owned()
        } else {
            m.to_owned()
        }
    })
    .into_owned()
}

fn valid_date(m: &str) -> bool {
    let (Ok(y), Ok(mo), Ok(d)) = (
        m[0..4].parse::<i32>(),
        m[5..7].parse::<u32>(),
        m[8..10].parse::<u32>(),
    ) else {
        return false;
    };
    y >= 1000 && chrono::NaiveDate::from_ymd_opt(y, mo, d).is_some()
}

fn iso_datetime_regex() -> Regex {
    // Dates are checked for validity after the match (month/day ranges, leap years).
    Regex::new(r"\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?(?:Z|[+-]\d{2}(?::?\d{2})?)")
        .expect("the ISO date-time pattern is a valid regex")
}

fn is_uuid_prefix(s: &str) -> bool {
    let re =
        Regex::new(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
            .ok();
    re.is_some_and(|re| re.is_match(s))
}

fn collect_uuids(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for k in keys {
                let child = &m[k.as_str()];
                if k.to_ascii_lowercase().ends_with("id")
                    && let Value::String(s) = child
                    && is_uuid_prefix(s)
                    && !out.contains(s)
                {
                    out.push(s.clone());
                }
                collect_uuids(child, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|c| collect_uuids(c, out)),
        _ => {}
    }
}

fn collect_json_inputs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                if k == "cause"
                    && let Value::String(s) = child
                    && let Some(start) = s.rfind("'{")
                    && let Some(end) = s[start..].rfind("}'")
                {
                    let text = &s[start + 1..start + end + 1];
                    if serde_json::from_str::<Value>(text).is_ok() && !out.iter().any(|t| t == text)
                    {
                        out.push(text.to_owned());
                    }
                }
                collect_json_inputs(child, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|c| collect_json_inputs(c, out)),
        _ => {}
    }
}

fn replace_in_strings(v: &mut Value, f: &dyn Fn(&str) -> String) {
    match v {
        Value::String(s) => {
            let new = f(s);
            if new != *s {
                *s = new;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| replace_in_strings(c, f)),
        Value::Object(m) => {
            let old = std::mem::take(m);
            for (k, mut child) in old {
                replace_in_strings(&mut child, f);
                m.insert(f(&k), child);
            }
        }
        _ => {}
    }
}

fn find_output_field(root: &Value, field: &str) -> Option<String> {
    let events = root.as_array()?;
    for e in events.iter().rev() {
        if let Some(out) = e
            .get("executionSucceededEventDetails")
            .and_then(|d| d.get("output"))
        {
            return out.get(field).and_then(Value::as_str).map(str::to_owned);
        }
    }
    None
}

/// A tiny jsonpath-ng subset: `$..a.b`, `$..events..x.y`, `$.a.b` (the root is the event
/// list, so a leading `events` is the root itself).
fn jsonpath_ng_apply(root: &mut Value, path: &str, f: &mut dyn FnMut(&mut Value)) {
    let Some(rest) = path.strip_prefix('$') else {
        return;
    };
    let mut steps: Vec<(bool, String)> = Vec::new();
    let mut s = rest;
    while !s.is_empty() {
        let (recursive, after) = if let Some(a) = s.strip_prefix("..") {
            (true, a)
        } else if let Some(a) = s.strip_prefix('.') {
            (false, a)
        } else {
            return;
        };
        let end = after.find('.').unwrap_or(after.len());
        steps.push((recursive, after[..end].to_owned()));
        s = &after[end..];
    }
    if steps.first().is_some_and(|(_, k)| k == "events") {
        steps.remove(0);
        if let Some(first) = steps.first_mut() {
            // `events..x` → search x anywhere below the list.
            first.0 = true;
        }
    }
    apply_steps(root, &steps, f);
}

fn apply_steps(v: &mut Value, steps: &[(bool, String)], f: &mut dyn FnMut(&mut Value)) {
    let Some(((recursive, key), rest)) = steps.split_first() else {
        f(v);
        return;
    };
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if k == key {
                    apply_steps(child, rest, f);
                } else if *recursive {
                    apply_steps(child, steps, f);
                }
            }
        }
        Value::Array(a) => {
            // Lists are transparent: their elements are searched with the same steps.
            for child in a {
                apply_steps(child, steps, f);
            }
        }
        _ => {}
    }
}

fn parse_first_output_string(event: &mut Value) {
    fn walk(v: &mut Value) -> bool {
        if let Value::Object(m) = v {
            let mut keys: Vec<String> = m.keys().cloned().collect();
            keys.sort();
            for k in keys {
                let Some(child) = m.get_mut(&k) else { continue };
                if k == "output"
                    && let Value::String(s) = child
                    && let Ok(parsed) = serde_json::from_str::<Value>(s)
                {
                    *child = parsed;
                    return true;
                }
                if walk(child) {
                    return true;
                }
            }
        }
        false
    }
    walk(event);
}

/// FORMAT.md §3: mask the ids of branch events (and reproduce the deletions).
fn mask_parallel_branches(events: &mut Vec<Value>) {
    let mut start: Option<usize> = None;
    let mut run: Vec<Value> = Vec::new();
    let mut inside = false;
    let mut i = 0;
    while i < events.len() {
        let ty = events[i]["type"].as_str().unwrap_or_default().to_owned();
        if matches!(
            ty.as_str(),
            "ParallelStateSucceeded"
                | "ParallelStateFailed"
                | "ParallelStateAborted"
                | "ParallelStateExited"
        ) {
            if let Some(s) = start {
                let mut sorted = run.clone();
                sorted.sort_by_key(python_dumps);
                // Positions start..i are replaced by the run; when the list shrinks the
                // walk does not step back, exactly like the recording's normaliser.
                let end = i.min(events.len());
                if s <= end {
                    events.splice(s..end, sorted);
                }
            }
            inside = false;
        } else if ty == "ParallelStateStarted" {
            inside = true;
            run.clear();
            start = Some(i + 1);
        } else if inside {
            if let Value::Object(m) = &mut events[i] {
                m.insert("id".into(), json!([0]));
                m.insert("previousEventId".into(), json!(0));
            }
            run.push(events[i].clone());
        }
        i += 1;
    }
}

fn remove_unverified(mut ours: Value, mut expected: Value, case: &Case) -> (Value, Value) {
    let paths: Vec<String> = case.meta()["localstack_unverified_paths"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for p in paths {
        for v in [&mut ours, &mut expected] {
            remove_path(v, &p);
        }
    }
    (ours, expected)
}

fn remove_path(root: &mut Value, path: &str) {
    // `$..events[4].previousEventId`: positional.
    if let Some(rest) = path.strip_prefix("$..events[") {
        if let Some((idx, key)) = rest.split_once("].")
            && let (Ok(i), Some(events)) = (idx.parse::<usize>(), root.as_array_mut())
            && let Some(Value::Object(m)) = events.get_mut(i)
        {
            m.shift_remove(key);
        }
        return;
    }
    if path == "$..events" {
        // The whole list is unverified: keep only its length-independent prefix check.
        if let Value::Array(a) = root {
            a.truncate(1);
        }
        return;
    }
    let Some(key) = path.strip_prefix("$..") else {
        return;
    };
    // The root here is the event list itself.
    let key = key
        .strip_prefix("events..")
        .or_else(|| key.strip_prefix("events."))
        .unwrap_or(key);
    if key.contains('.') || key.contains('[') {
        // `$..a.b`: remove b under any a.
        let parts: Vec<&str> = key.split('.').collect();
        remove_nested(root, &parts);
        return;
    }
    remove_key_everywhere(root, key);
}

fn remove_key_everywhere(v: &mut Value, key: &str) {
    match v {
        Value::Object(m) => {
            m.shift_remove(key);
            for (_, c) in m.iter_mut() {
                remove_key_everywhere(c, key);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| remove_key_everywhere(c, key)),
        _ => {}
    }
}

fn remove_nested(v: &mut Value, parts: &[&str]) {
    fn remove_at(v: &mut Value, parts: &[&str]) {
        match parts {
            [] => {}
            [last] => {
                if let Value::Object(m) = v {
                    m.shift_remove(*last);
                }
            }
            [first, rest @ ..] => {
                if let Some(child) = v.get_mut(*first) {
                    remove_at(child, rest);
                }
            }
        }
    }
    match v {
        Value::Object(m) => {
            if m.contains_key(parts[0]) {
                remove_at(v, parts);
            }
            if let Value::Object(m) = v {
                for (_, c) in m.iter_mut() {
                    remove_nested(c, parts);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| remove_nested(c, parts)),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------
// Comparison

/// Compare the normalised lists. Masked Parallel-branch runs (`id == [0]`) compare as
/// multisets; `incomplete` compares only the expected prefix.
fn compare(ours: &Value, expected: &Value, incomplete: bool) -> Result<(), String> {
    let (Some(ours), Some(expected)) = (ours.as_array(), expected.as_array()) else {
        return Err("histories are not arrays".into());
    };
    let ours = sort_masked_runs(ours);
    let expected = sort_masked_runs(expected);
    let ours_cut: &[Value] = if incomplete && ours.len() > expected.len() {
        &ours[..expected.len()]
    } else {
        &ours
    };
    if ours_cut == expected.as_slice() {
        return Ok(());
    }
    Err(diff(ours_cut, &expected))
}

fn sort_masked_runs(events: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(events.len());
    let mut run: Vec<Value> = Vec::new();
    for e in events {
        if e["id"] == json!([0]) {
            run.push(e.clone());
        } else {
            run.sort_by_key(canonical);
            out.append(&mut run);
            out.push(e.clone());
        }
    }
    run.sort_by_key(canonical);
    out.append(&mut run);
    out
}

/// Key-sorted JSON text (order-insensitive identity of a value).
pub fn canonical(v: &Value) -> String {
    fn sort(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let sorted: BTreeMap<&String, Value> =
                    m.iter().map(|(k, v)| (k, sort(v))).collect();
                let mut out = Map::new();
                for (k, v) in sorted {
                    out.insert(k.clone(), v);
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    sort(v).to_string()
}

fn summary(e: &Value) -> String {
    let mut e = e.clone();
    if let Value::Object(m) = &mut e {
        m.shift_remove("timestamp");
    }
    let text = canonical(&e);
    if text.len() > 700 {
        let mut cut = 700;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}…", &text[..cut])
    } else {
        text
    }
}

fn diff(ours: &[Value], expected: &[Value]) -> String {
    let mut out = String::new();
    let n = ours.len().max(expected.len());
    let mut shown = 0;
    for i in 0..n {
        let a = ours.get(i);
        let b = expected.get(i);
        if a == b {
            continue;
        }
        shown += 1;
        if shown > 6 {
            out.push_str("  ...\n");
            break;
        }
        out.push_str(&format!("  event #{i}:\n"));
        out.push_str(&format!(
            "    ours:     {}\n",
            a.map(summary).unwrap_or_else(|| "(none)".into())
        ));
        out.push_str(&format!(
            "    expected: {}\n",
            b.map(summary).unwrap_or_else(|| "(none)".into())
        ));
    }
    out.push_str(&format!(
        "  ({} events ours, {} expected)\n",
        ours.len(),
        expected.len()
    ));
    out
}

/// A readable listing of every event, for `--verbose`.
pub fn listing(events: &Value) -> String {
    events
        .as_array()
        .map(|a| a.iter().map(|e| format!("  {}\n", summary(e))).collect())
        .unwrap_or_default()
}

/// Per-area counts and totals by query language.
pub struct Report {
    pub results: Vec<CaseResult>,
}

impl Report {
    pub fn totals(&self, language: &str) -> (usize, usize) {
        let of_lang: Vec<&CaseResult> = self
            .results
            .iter()
            .filter(|r| r.query_language == language)
            .collect();
        let passed = of_lang.iter().filter(|r| r.passed).count();
        (passed, of_lang.len() - passed)
    }

    pub fn table(&self) -> String {
        let mut areas: BTreeMap<&str, [usize; 4]> = BTreeMap::new();
        for r in &self.results {
            let e = areas.entry(r.area.as_str()).or_default();
            let base = if r.query_language == "JSONPath" { 0 } else { 2 };
            e[base + usize::from(!r.passed)] += 1;
        }
        let mut out = format!(
            "{:<22} {:>14} {:>14}\n",
            "area", "JSONPath ok/all", "JSONata ok/all"
        );
        for (area, c) in areas {
            out.push_str(&format!(
                "{:<22} {:>14} {:>14}\n",
                area,
                format!("{}/{}", c[0], c[0] + c[1]),
                format!("{}/{}", c[2], c[2] + c[3])
            ));
        }
        out
    }
}

/// Run every case (optionally only those whose id contains `filter`).
pub fn run_all(cases: &[Case], filter: Option<&str>) -> Report {
    let epoch = dynamic_epoch(cases);
    let results = cases
        .iter()
        .filter(|c| filter.is_none_or(|f| c.id.contains(f)))
        .map(|c| run_case(c, epoch))
        .collect();
    Report { results }
}
