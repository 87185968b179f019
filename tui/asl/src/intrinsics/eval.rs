//! Evaluation of intrinsic calls against the data of one state.

use base64::Engine as _;
use rand::{Rng, SeedableRng};
use serde_json::{Number, Value};
use sha2::Digest as _;

use super::{Arg, Call, Function};
use crate::error::Failure;

pub use crate::scope::PathResolver;

/// AWS caps `States.ArrayRange` results at 1000 elements.
const ARRAY_RANGE_LIMIT: usize = 1000;

/// Evaluate a call.
pub fn evaluate(call: &Call, scope: &(impl PathResolver + ?Sized)) -> Result<Value, Failure> {
    let mut args = Vec::with_capacity(call.args.len());
    for arg in &call.args {
        args.push(match arg {
            Arg::Literal(v) => v.clone(),
            Arg::Path(p) => scope
                .resolve(p)
                .map_err(|miss| {
                    Failure::runtime(format!(
                        "The JSONPath '{}' specified in the intrinsic function '{}' could not be found in the input '{}': {miss}",
                        p.text(),
                        call.text,
                        scope.input()
                    ))
                })?
                .into_owned(),
            Arg::Call(c) => evaluate(c, scope)?,
            Arg::Template(_) => Value::Null,
        });
    }
    let fail = |msg: String| Failure::intrinsic(format!("{}: {msg}", call.function.name()));
    match call.function {
        Function::Format => {
            let pieces: Vec<String> = match call.args.first() {
                Some(Arg::Template(pieces)) => pieces.clone(),
                // A template read from a path: split it now.
                _ => match args.first() {
                    Some(Value::String(s)) => s.split("{}").map(str::to_owned).collect(),
                    _ => return Err(fail("the template must be a string".into())),
                },
            };
            let values = &args[1..];
            if pieces.len() - 1 != values.len() {
                return Err(fail(format!(
                    "the template has {} placeholder(s) but {} argument(s) were given",
                    pieces.len() - 1,
                    values.len()
                )));
            }
            let mut out = String::new();
            for (i, piece) in pieces.iter().enumerate() {
                out.push_str(piece);
                if let Some(v) = values.get(i) {
                    java_to_string(v, &mut out);
                }
            }
            Ok(Value::String(out))
        }
        Function::StringToJson => {
            let s = as_str(&args[0]).ok_or_else(|| fail("the argument must be a string".into()))?;
            let trimmed = s.trim();
            if trimmed.is_empty() {
                return Ok(Value::Null);
            }
            let mut parsed: Value =
                serde_json::from_str(trimmed).map_err(|e| fail(format!("invalid JSON: {e}")))?;
            integral_negative_zero(&mut parsed);
            Ok(parsed)
        }
        Function::JsonToString => Ok(Value::String(args[0].to_string())),
        Function::Array => Ok(Value::Array(args)),
        Function::ArrayPartition => {
            let items = as_array(&args[0])
                .ok_or_else(|| fail("the first argument must be an array".into()))?;
            let size = as_int(&args[1])
                .filter(|n| *n > 0)
                .ok_or_else(|| fail("the chunk size must be a positive integer".into()))?;
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            Ok(Value::Array(
                items
                    .chunks(size)
                    .map(|c| Value::Array(c.to_vec()))
                    .collect(),
            ))
        }
        Function::ArrayContains => {
            let items = as_array(&args[0])
                .ok_or_else(|| fail("the first argument must be an array".into()))?;
            Ok(Value::Bool(items.contains(&args[1])))
        }
        Function::ArrayRange => {
            let (Some(start), Some(end), Some(step)) =
                (as_int(&args[0]), as_int(&args[1]), as_int(&args[2]))
            else {
                return Err(fail("start, end and step must be integers".into()));
            };
            if step == 0 {
                return Err(fail("step must not be 0".into()));
            }
            let mut out = Vec::new();
            let mut i = start;
            while (step > 0 && i <= end) || (step < 0 && i >= end) {
                if out.len() == ARRAY_RANGE_LIMIT {
                    return Err(fail(format!(
                        "the range would have more than {ARRAY_RANGE_LIMIT} elements"
                    )));
                }
                out.push(Value::from(i));
                i = i.saturating_add(step);
            }
            Ok(Value::Array(out))
        }
        Function::ArrayGetItem => {
            let items = as_array(&args[0])
                .ok_or_else(|| fail("the first argument must be an array".into()))?;
            let index =
                as_int(&args[1]).ok_or_else(|| fail("the index must be an integer".into()))?;
            usize::try_from(index)
                .ok()
                .and_then(|i| items.get(i))
                .cloned()
                .ok_or_else(|| {
                    fail(format!(
                        "index {index} is out of bounds for an array of {}",
                        items.len()
                    ))
                })
        }
        Function::ArrayLength => as_array(&args[0])
            .map(|a| Value::from(a.len()))
            .ok_or_else(|| fail("the argument must be an array".into())),
        Function::ArrayUnique => {
            let items =
                as_array(&args[0]).ok_or_else(|| fail("the argument must be an array".into()))?;
            let mut out: Vec<Value> = Vec::with_capacity(items.len());
            for item in items {
                if !out.contains(item) {
                    out.push(item.clone());
                }
            }
            Ok(Value::Array(out))
        }
        Function::Base64Encode => {
            let s = as_str(&args[0]).ok_or_else(|| fail("the argument must be a string".into()))?;
            Ok(Value::String(
                base64::engine::general_purpose::STANDARD.encode(s),
            ))
        }
        Function::Base64Decode => {
            let s = as_str(&args[0]).ok_or_else(|| fail("the argument must be a string".into()))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| fail(format!("invalid base64: {e}")))?;
            String::from_utf8(bytes)
                .map(Value::String)
                .map_err(|_| fail("the decoded bytes are not UTF-8".into()))
        }
        Function::Hash => {
            // The documented argument is a string ("the data to hash"); anything else fails
            // rather than hashing its JSON text.
            let data = as_str(&args[0])
                .ok_or_else(|| fail("the data to hash must be a string".into()))?
                .to_owned();
            let algorithm =
                as_str(&args[1]).ok_or_else(|| fail("the algorithm must be a string".into()))?;
            let digest = match algorithm {
                "MD5" => hex::encode(md5::Md5::digest(data.as_bytes())),
                "SHA-1" => hex::encode(sha1::Sha1::digest(data.as_bytes())),
                "SHA-256" => hex::encode(sha2::Sha256::digest(data.as_bytes())),
                "SHA-384" => hex::encode(sha2::Sha384::digest(data.as_bytes())),
                "SHA-512" => hex::encode(sha2::Sha512::digest(data.as_bytes())),
                other => {
                    return Err(fail(format!(
                        "unsupported algorithm `{other}` (MD5, SHA-1, SHA-256, SHA-384, SHA-512)"
                    )));
                }
            };
            Ok(Value::String(digest))
        }
        Function::JsonMerge => {
            let (Value::Object(a), Value::Object(b)) = (&args[0], &args[1]) else {
                return Err(fail("both values to merge must be objects".into()));
            };
            // AWS supports shallow merging only: the flag must be `false`.
            match args[2].as_bool() {
                Some(false) => {}
                Some(true) => {
                    return Err(fail(
                        "deep merging is not supported: the third argument must be false \
                         (shallow merge)"
                            .into(),
                    ));
                }
                None => return Err(fail("the third argument must be the boolean false".into())),
            }
            let mut merged = a.clone();
            for (k, v) in b {
                merged.insert(k.clone(), v.clone());
            }
            Ok(Value::Object(merged))
        }
        Function::MathRandom => {
            let (Some(start), Some(end)) = (as_rounded(&args[0]), as_rounded(&args[1])) else {
                return Err(fail("start and end must be numbers".into()));
            };
            if end <= start {
                return Err(fail("end must be greater than start".into()));
            }
            let n = match args.get(2) {
                Some(seed) => {
                    let seed =
                        as_rounded(seed).ok_or_else(|| fail("the seed must be a number".into()))?;
                    rand::rngs::StdRng::seed_from_u64(seed as u64).random_range(start..end)
                }
                None => rand::rng().random_range(start..end),
            };
            Ok(Value::from(n))
        }
        Function::MathAdd => {
            let (Some(a), Some(b)) = (as_rounded(&args[0]), as_rounded(&args[1])) else {
                return Err(fail("both arguments must be numbers".into()));
            };
            a.checked_add(b)
                .map(Value::from)
                .ok_or_else(|| fail("the sum overflows".into()))
        }
        Function::StringSplit => {
            let (Some(s), Some(delims)) = (as_str(&args[0]), as_str(&args[1])) else {
                return Err(fail("both arguments must be strings".into()));
            };
            // Every character of the second argument is a delimiter; empty pieces are dropped.
            Ok(Value::Array(
                s.split(|c| delims.contains(c))
                    .filter(|p| !p.is_empty())
                    .map(|p| Value::String(p.to_owned()))
                    .collect(),
            ))
        }
        Function::Uuid => Ok(Value::String(uuid::Uuid::new_v4().to_string())),
    }
}

/// `-0` parses as a float in serde_json but as the integer 0 in the service's JSON parser.
fn integral_negative_zero(v: &mut Value) {
    match v {
        Value::Number(n)
            if n.as_f64() == Some(0.0) && n.as_f64().is_some_and(f64::is_sign_negative) =>
        {
            *v = Value::from(0);
        }
        Value::Array(a) => a.iter_mut().for_each(integral_negative_zero),
        Value::Object(m) => m.values_mut().for_each(integral_negative_zero),
        _ => {}
    }
}

fn as_str(v: &Value) -> Option<&str> {
    v.as_str()
}

fn as_array(v: &Value) -> Option<&Vec<Value>> {
    v.as_array()
}

/// An integer argument; integral floats (`3.0`) are accepted.
fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.is_finite())
                .map(|f| f as i64)
        }),
        _ => None,
    }
}

/// A number rounded like Java's `Math.round` (half up: 1.5 → 2, -1.5 → -1), which is how
/// AWS turns MathAdd/MathRandom arguments into integers.
fn as_rounded(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite())
                .map(|f| (f + 0.5).floor() as i64)
        }),
        _ => None,
    }
}

/// How `States.Format` prints a value: strings raw, objects and arrays the way Java's
/// `Map.toString()`/`List.toString()` print them (`{a=1, b=[]}`), which is what AWS shows.
fn java_to_string(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number_text(n)),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                java_to_string(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                java_to_string(item, out);
            }
            out.push('}');
        }
    }
}

fn number_text(n: &Number) -> String {
    n.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intrinsics::parse_call;
    use crate::path::Path;
    use serde_json::json;
    use std::borrow::Cow;

    struct Input(Value);
    impl PathResolver for Input {
        fn resolve(&self, path: &Path) -> Result<Cow<'_, Value>, crate::path::PathMiss> {
            path.select(&self.0)
        }
        fn input(&self) -> &Value {
            &self.0
        }
    }

    fn run(expr: &str, input: Value) -> Result<Value, Failure> {
        evaluate(&parse_call(expr).unwrap(), &Input(input))
    }

    #[test]
    fn format_prints_like_aws() {
        assert_eq!(
            run(
                "States.Format('a={} b={} c={}', $.a, $.b, $.c)",
                json!({"a": "x", "b": null, "c": {"k": 1, "l": []}})
            )
            .unwrap(),
            json!("a=x b=null c={k=1, l=[]}")
        );
        assert_eq!(
            run(r"States.Format('\{\} {}', 1)", json!({})).unwrap(),
            json!("{} 1")
        );
        assert!(run("States.Format('{}')", json!({})).is_err());
    }

    #[test]
    fn array_functions() {
        assert_eq!(
            run("States.ArrayPartition($.a, 2)", json!({"a": [0, 1, 2]})).unwrap(),
            json!([[0, 1], [2]])
        );
        assert_eq!(
            run("States.ArrayRange(0, 10, 3)", json!({})).unwrap(),
            json!([0, 3, 6, 9])
        );
        assert_eq!(
            run("States.ArrayRange(1, 9, 9)", json!({})).unwrap(),
            json!([1])
        );
        assert_eq!(
            run("States.ArrayGetItem($.a, 1)", json!({"a": [5, 6]})).unwrap(),
            json!(6)
        );
        assert!(run("States.ArrayGetItem($.a, 2)", json!({"a": [5, 6]})).is_err());
        assert_eq!(
            run(
                "States.ArrayContains($.a, $.b)",
                json!({"a": [[1, 2], 2], "b": [1, 2]})
            )
            .unwrap(),
            json!(true)
        );
        assert_eq!(
            run(
                "States.ArrayUnique($.a)",
                json!({"a": [1, 1, null, null, "x"]})
            )
            .unwrap(),
            json!([1, null, "x"])
        );
        assert_eq!(
            run("States.ArrayLength($.a)", json!({"a": [1, 2, 3]})).unwrap(),
            json!(3)
        );
        assert!(run("States.ArrayRange(0, 5000, 1)", json!({})).is_err());
    }

    #[test]
    fn math_rounds_half_up_like_java() {
        for (a, b, want) in [
            (1.49, 1.5, 3),
            (-1.5, 0.0, -1),
            (2.5, 0.0, 3),
            (-2.5, 0.0, -2),
            (-0.5, 0.5, 1),
        ] {
            assert_eq!(
                run("States.MathAdd($.a, $.b)", json!({"a": a, "b": b})).unwrap(),
                json!(want),
                "{a}+{b}"
            );
        }
        let r = run("States.MathRandom(1, 3)", json!({}))
            .unwrap()
            .as_i64()
            .unwrap();
        assert!((1..3).contains(&r));
        assert_eq!(
            run("States.MathRandom(0, 999, 3)", json!({})).unwrap(),
            run("States.MathRandom(0, 999, 3)", json!({})).unwrap()
        );
    }

    #[test]
    fn strings_json_and_hashes() {
        assert_eq!(
            run(
                "States.StringSplit($.s, $.d)",
                json!({"s": "This.is+a,test", "d": ".+,"})
            )
            .unwrap(),
            json!(["This", "is", "a", "test"])
        );
        assert_eq!(
            run("States.StringSplit($.s, ',')", json!({"s": ", , ,"})).unwrap(),
            json!([" ", " "])
        );
        assert_eq!(
            run("States.StringToJson($.s)", json!({"s": " "})).unwrap(),
            Value::Null
        );
        assert_eq!(
            run("States.StringToJson($.s)", json!({"s": "[1, 2]"})).unwrap(),
            json!([1, 2])
        );
        assert_eq!(
            run("States.JsonToString($.v)", json!({"v": {"a": [1, "x"]}})).unwrap(),
            json!("{\"a\":[1,\"x\"]}")
        );
        assert_eq!(
            run("States.Base64Encode('Data to encode')", json!({})).unwrap(),
            json!("RGF0YSB0byBlbmNvZGU=")
        );
        assert_eq!(
            run("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')", json!({})).unwrap(),
            json!("Data to encode")
        );
        assert_eq!(
            run("States.Hash('input data', 'MD5')", json!({})).unwrap(),
            json!("812f45842bc6d66ee14572ce20db8e86")
        );
        assert_eq!(
            run("States.Hash('input data', 'SHA-1')", json!({})).unwrap(),
            json!("aaff4a450a104cd177d28d18d74485e8cae074b7")
        );
        assert!(run("States.Hash('x', 'CRC32')", json!({})).is_err());
        assert_eq!(
            run(
                "States.JsonMerge($.a, $.b, false)",
                json!({"a": {"x": {"p": 1}, "y": 1}, "b": {"x": {"q": 2}}})
            )
            .unwrap(),
            json!({"x": {"q": 2}, "y": 1})
        );
        assert_eq!(
            run("States.UUID()", json!({}))
                .unwrap()
                .as_str()
                .unwrap()
                .len(),
            36
        );
    }

    #[test]
    fn type_errors_are_intrinsic_failures() {
        let err = run("States.ArrayLength($.a)", json!({"a": "nope"})).unwrap_err();
        assert_eq!(err.error.as_deref(), Some("States.IntrinsicFailure"));
    }
}
