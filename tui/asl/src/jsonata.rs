//! JSONata in JSONata states (`QueryLanguage: "JSONata"`): templates whose strings of the
//! exact form `{% expression %}` are evaluated with `jsonata-rs`, everything else literal.
//!
//! Expressions see `$states` (`input`, `result`, `errorOutput`, `context`) and the workflow
//! variables. The service's own functions that the data needs (`$partition`, `$range`,
//! `$parse`, `$hash`, `$uuid`) are provided here; `jsonata-rs` covers the standard library
//! it implements. Errors carry AWS's `States.QueryEvaluationError` wording and the field
//! location (`Arguments/FunctionName`).

use std::collections::HashMap;
use std::sync::Arc;

use bumpalo::Bump;
use jsonata_rs::JsonAta;
use serde_json::{Map, Value};

use crate::diagnostics::escape_pointer;
use crate::diagnostics::{ValidationError, ValidationErrorKind};

/// A compiled JSONata template.
#[derive(Debug, Clone)]
pub enum JTemplate {
    /// A value with no expression inside.
    Literal(Value),
    /// `"{% expr %}"`.
    Expr(Arc<str>),
    /// An object with expressions inside.
    Object(Vec<(String, JTemplate)>),
    /// An array with expressions inside.
    Array(Vec<JTemplate>),
}

/// A JSONata evaluation failure: the cause (without the state prefix) and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonataError {
    /// `The JSONata expression '…' specified for the field '…' …`.
    pub cause: String,
    /// The field path, e.g. `Output/result`.
    pub location: String,
}

/// The expression inside `{% … %}`, if `s` is exactly one.
pub fn expression_of(s: &str) -> Option<&str> {
    s.strip_prefix("{%")
        .and_then(|r| r.strip_suffix("%}"))
        .map(str::trim)
}

impl JTemplate {
    /// The expression text, if this template is a single expression.
    pub fn expr_text(&self) -> Option<&str> {
        match self {
            JTemplate::Expr(e) => Some(e),
            _ => None,
        }
    }

    /// Compile `value`, checking every expression's syntax.
    pub fn compile(value: &Value, pointer: &str, errors: &mut Vec<ValidationError>) -> JTemplate {
        match value {
            Value::String(s) => match expression_of(s) {
                Some(expr) => {
                    let arena = Bump::new();
                    if let Err(e) = JsonAta::new(expr, &arena) {
                        errors.push(ValidationError::new(
                            pointer,
                            ValidationErrorKind::InvalidValue,
                            format!("invalid JSONata expression `{expr}`: {e}"),
                        ));
                    }
                    JTemplate::Expr(Arc::from(expr))
                }
                None => JTemplate::Literal(value.clone()),
            },
            Value::Object(m) => {
                let members: Vec<(String, JTemplate)> = m
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            JTemplate::compile(
                                v,
                                &format!("{pointer}/{}", escape_pointer(k)),
                                errors,
                            ),
                        )
                    })
                    .collect();
                if members
                    .iter()
                    .all(|(_, t)| matches!(t, JTemplate::Literal(_)))
                {
                    JTemplate::Literal(value.clone())
                } else {
                    JTemplate::Object(members)
                }
            }
            Value::Array(a) => {
                let items: Vec<JTemplate> = a
                    .iter()
                    .enumerate()
                    .map(|(i, v)| JTemplate::compile(v, &format!("{pointer}/{i}"), errors))
                    .collect();
                if items.iter().all(|t| matches!(t, JTemplate::Literal(_))) {
                    JTemplate::Literal(value.clone())
                } else {
                    JTemplate::Array(items)
                }
            }
            other => JTemplate::Literal(other.clone()),
        }
    }

    /// Evaluate with the given bindings (`states` and variables). `field` is the location
    /// of this template (`Output`, `Arguments`...).
    pub fn eval(
        &self,
        bindings: &HashMap<&str, &Value>,
        field: &str,
    ) -> Result<Value, JsonataError> {
        match self {
            JTemplate::Literal(v) => Ok(v.clone()),
            JTemplate::Expr(expr) => evaluate(expr, bindings, field),
            JTemplate::Object(members) => {
                let mut out = Map::with_capacity(members.len());
                for (k, t) in members {
                    out.insert(k.clone(), t.eval(bindings, &format!("{field}/{k}"))?);
                }
                Ok(Value::Object(out))
            }
            JTemplate::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, t)| t.eval(bindings, &format!("{field}/{i}")))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
        }
    }
}

/// Evaluate one expression.
pub fn evaluate(
    expr: &str,
    bindings: &HashMap<&str, &Value>,
    field: &str,
) -> Result<Value, JsonataError> {
    let fail = |what: String| JsonataError {
        cause: format!("The JSONata expression '{expr}' specified for the field '{field}' {what}"),
        location: field.to_owned(),
    };
    // Plain references (`$states.input`, `$var.field`) are resolved directly: jsonata-rs
    // stores objects in hash maps, which would lose the key order AWS keeps (visible once
    // a value is embedded in a JSON string), and this is also much faster.
    if let Some(v) = plain_reference(expr, bindings) {
        return Ok(v.clone());
    }
    let arena = Bump::new();
    let jsonata = JsonAta::new(expr, &arena).map_err(|e| {
        fail(format!(
            "threw an error during evaluation. {}",
            error_text(&e)
        ))
    })?;
    register_aws_functions(&jsonata);
    let result = jsonata.evaluate(None, Some(bindings)).map_err(|e| {
        fail(format!(
            "threw an error during evaluation. {}",
            error_text(&e)
        ))
    })?;
    if result.is_undefined() {
        return Err(fail("returned nothing (undefined).".into()));
    }
    if result.is_function() {
        return Err(fail("returned an unsupported result type.".into()));
    }
    let text = result.serialize(false);
    let mut value: Value = serde_json::from_str(&text)
        .map_err(|_| fail("returned an unsupported result type.".into()))?;
    integral_floats(&mut value);
    Ok(value)
}

/// `$name(.field)*` resolved through objects only; `None` when the expression is anything
/// else or the path leaves objects (JSONata's array mapping then applies).
fn plain_reference<'b>(expr: &str, bindings: &HashMap<&str, &'b Value>) -> Option<&'b Value> {
    let rest = expr.strip_prefix('$')?;
    let mut parts = rest.split('.');
    let is_name = |s: &str| {
        let mut c = s.chars();
        matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_')
            && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
    };
    let first = parts.next().filter(|p| is_name(p))?;
    let mut current: &Value = bindings.get(first)?;
    for part in parts {
        if !is_name(part) {
            return None;
        }
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

/// `T1006 @ 0: message` → `T1006: message` (AWS shows the code and message only).
fn error_text(e: &jsonata_rs::Error) -> String {
    let text = e.to_string();
    match text.split_once(" @ ") {
        Some((code, rest)) => match rest.split_once(": ") {
            Some((_, message)) => format!("{code}: {message}"),
            None => text,
        },
        None => text,
    }
}

/// JSONata numbers are doubles; whole ones are integers in the service's JSON.
fn integral_floats(v: &mut Value) {
    match v {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9.0e15
            {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(integral_floats),
        Value::Object(m) => m.values_mut().for_each(integral_floats),
        _ => {}
    }
}

fn register_aws_functions(j: &JsonAta<'_>) {
    j.register_function("partition", 2, aws::partition);
    j.register_function("range", 3, aws::range);
    j.register_function("parse", 1, aws::parse);
    j.register_function("hash", 2, aws::hash);
    j.register_function("uuid", 0, aws::uuid);
}

/// The functions Step Functions adds to JSONata.
mod aws {
    use bumpalo::Bump;
    use jsonata_rs::{ArrayFlags, FunctionContext, Value};
    use sha2::Digest as _;

    type R<'a> = jsonata_rs::Result<&'a Value<'a>>;

    fn error<'a>(message: &str) -> R<'a> {
        Err(jsonata_rs::Error::D3137Error(message.to_owned()))
    }

    fn to_json<'a>(v: &'a Value<'a>) -> serde_json::Value {
        serde_json::from_str(&v.serialize(false)).unwrap_or(serde_json::Value::Null)
    }

    fn from_json<'a>(arena: &'a Bump, v: &serde_json::Value) -> &'a Value<'a> {
        match v {
            serde_json::Value::Null => Value::null(arena),
            serde_json::Value::Bool(b) => Value::bool(*b),
            serde_json::Value::Number(n) => Value::number(arena, n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => Value::string(arena, s),
            serde_json::Value::Array(a) => {
                let out = Value::array_with_capacity(arena, a.len(), ArrayFlags::empty());
                for item in a {
                    out.push(from_json(arena, item));
                }
                out
            }
            serde_json::Value::Object(m) => {
                let out = Value::object_with_capacity(arena, m.len());
                for (k, item) in m {
                    out.insert(k, from_json(arena, item));
                }
                out
            }
        }
    }

    /// `$partition(array, size)`
    pub fn partition<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a Value<'a>]) -> R<'a> {
        let (Some(array), Some(size)) = (args.first(), args.get(1)) else {
            return error("$partition takes an array and a chunk size");
        };
        let items = match to_json(array) {
            serde_json::Value::Array(a) => a,
            other => vec![other],
        };
        let size = to_json(size)
            .as_f64()
            .filter(|n| *n >= 1.0)
            .map(|n| n as usize);
        let Some(size) = size else {
            return error("$partition chunk size must be a positive integer");
        };
        let chunks: Vec<serde_json::Value> = items
            .chunks(size)
            .map(|c| serde_json::Value::Array(c.to_vec()))
            .collect();
        Ok(from_json(ctx.arena, &serde_json::Value::Array(chunks)))
    }

    /// `$range(start, end, step)` (end inclusive, like States.ArrayRange)
    pub fn range<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a Value<'a>]) -> R<'a> {
        let nums: Vec<Option<i64>> = args
            .iter()
            .map(|a| to_json(a).as_f64().map(|f| f as i64))
            .collect();
        let (Some(Some(start)), Some(Some(end)), Some(Some(step))) =
            (nums.first(), nums.get(1), nums.get(2))
        else {
            return error("$range takes three integers");
        };
        if *step == 0 {
            return error("$range step must not be 0");
        }
        let mut out = Vec::new();
        let mut i = *start;
        while (*step > 0 && i <= *end) || (*step < 0 && i >= *end) {
            if out.len() == 1000 {
                return error("$range would produce more than 1000 items");
            }
            out.push(serde_json::Value::from(i));
            i += step;
        }
        // A one-element JSONata sequence is its element (the service returns `1`, not
        // `[1]`, for `$range(1, 9, 9)`).
        if out.len() == 1 {
            return Ok(from_json(ctx.arena, &out[0]));
        }
        Ok(from_json(ctx.arena, &serde_json::Value::Array(out)))
    }

    /// `$parse(json_string)`
    pub fn parse<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a Value<'a>]) -> R<'a> {
        let Some(serde_json::Value::String(s)) = args.first().map(|a| to_json(a)) else {
            return error("$parse takes a string");
        };
        match serde_json::from_str::<serde_json::Value>(&s) {
            Ok(v) => Ok(from_json(ctx.arena, &v)),
            Err(e) => error(&format!("$parse: invalid JSON: {e}")),
        }
    }

    /// `$hash(data, algorithm)`
    pub fn hash<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a Value<'a>]) -> R<'a> {
        let data = match args.first().map(|a| to_json(a)) {
            Some(serde_json::Value::String(s)) => s,
            Some(other) => other.to_string(),
            None => return error("$hash takes data and an algorithm"),
        };
        let algorithm = args.get(1).map(|a| to_json(a));
        let digest = match algorithm.as_ref().and_then(|a| a.as_str()) {
            Some("MD5") => hex::encode(md5::Md5::digest(data.as_bytes())),
            Some("SHA-1") => hex::encode(sha1::Sha1::digest(data.as_bytes())),
            Some("SHA-256") => hex::encode(sha2::Sha256::digest(data.as_bytes())),
            Some("SHA-384") => hex::encode(sha2::Sha384::digest(data.as_bytes())),
            Some("SHA-512") => hex::encode(sha2::Sha512::digest(data.as_bytes())),
            _ => return error("$hash algorithm must be MD5, SHA-1, SHA-256, SHA-384 or SHA-512"),
        };
        Ok(Value::string(ctx.arena, &digest))
    }

    /// `$uuid()`
    pub fn uuid<'a>(ctx: FunctionContext<'a, '_>, _args: &[&'a Value<'a>]) -> R<'a> {
        Ok(Value::string(ctx.arena, &uuid::Uuid::new_v4().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(expr: &str, states: Value) -> Result<Value, JsonataError> {
        let mut b = HashMap::new();
        b.insert("states", &states);
        evaluate(expr, &b, "Output")
    }

    #[test]
    fn expressions_see_states_and_variables() {
        let states = json!({"input": {"xs": [1, 2, 3]}});
        let v = json!(10);
        let mut b = HashMap::new();
        b.insert("states", &states);
        b.insert("bias", &v);
        assert_eq!(
            evaluate("$sum($states.input.xs) + $bias", &b, "Output").unwrap(),
            json!(16)
        );
    }

    #[test]
    fn aws_functions() {
        let s = json!({"input": {"a": [1, 2, 3, 4, 5], "j": "{\"k\": [1]}"}});
        assert_eq!(
            run("$partition($states.input.a, 2)", s.clone()).unwrap(),
            json!([[1, 2], [3, 4], [5]])
        );
        assert_eq!(
            run("$range(0, 10, 5)", s.clone()).unwrap(),
            json!([0, 5, 10])
        );
        assert_eq!(
            run("$parse($states.input.j)", s.clone()).unwrap(),
            json!({"k": [1]})
        );
        assert_eq!(
            run("$hash('input data', 'MD5')", s.clone()).unwrap(),
            json!("812f45842bc6d66ee14572ce20db8e86")
        );
        assert_eq!(run("$uuid()", s).unwrap().as_str().map(str::len), Some(36));
    }

    #[test]
    fn errors_use_the_service_wording() {
        let e = run("$doesNotExist", json!({})).unwrap_err();
        assert_eq!(
            e.cause,
            "The JSONata expression '$doesNotExist' specified for the field 'Output' returned nothing (undefined)."
        );
        let e = run("$nope(1)", json!({})).unwrap_err();
        assert!(
            e.cause.ends_with(
                "threw an error during evaluation. T1006: Attempted to invoke a non-function"
            ),
            "{}",
            e.cause
        );
        let e = run("$fn := function($x){$x}", json!({})).unwrap_err();
        assert!(
            e.cause.ends_with("returned an unsupported result type."),
            "{}",
            e.cause
        );
    }

    #[test]
    fn templates_report_nested_locations() {
        let mut errors = Vec::new();
        let t = JTemplate::compile(
            &json!({"a": "{% $states.input.x %}", "b": {"c": "{% $missing %}"}, "d": " {% not %} "}),
            "/Output",
            &mut errors,
        );
        assert!(errors.is_empty());
        let states = json!({"input": {"x": 1}});
        let mut b = HashMap::new();
        b.insert("states", &states);
        let e = t.eval(&b, "Output").unwrap_err();
        assert_eq!(e.location, "Output/b/c");
        let ok = JTemplate::compile(
            &json!({"a": "{% $states.input.x %}", "d": " {% not %} "}),
            "/Output",
            &mut errors,
        );
        assert_eq!(
            ok.eval(&b, "Output").unwrap(),
            json!({"a": 1, "d": " {% not %} "})
        );
        JTemplate::compile(&json!("{% 1 + %}"), "/Output", &mut errors);
        assert_eq!(errors.len(), 1);
    }
}
