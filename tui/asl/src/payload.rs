//! Payload templates: `Parameters`, `ResultSelector`, `ItemSelector` and JSONPath `Assign`.
//!
//! A key ending in `.$` takes its value from a path (`$`, `$$`, `$var`) or an intrinsic
//! call; every other value is literal. Templates are compiled once; literal sub-trees are
//! kept as ready-made values so rendering them is a single clone.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::diagnostics::{ValidationError, ValidationErrorKind, escape_pointer};
use crate::error::Failure;
use crate::intrinsics::{self, Call};
use crate::path::Path;
use crate::scope::PathResolver;

/// A compiled payload template.
#[derive(Debug, Clone)]
pub enum Template {
    /// A value with nothing dynamic inside.
    Literal(Value),
    /// An object with at least one dynamic member.
    Object(Vec<(String, Template)>),
    /// An array with at least one dynamic element.
    Array(Vec<Template>),
    /// `"key.$": "$.path"`.
    Path {
        /// The key as written, with its `.$` (quoted in errors).
        field: Arc<str>,
        /// The compiled path.
        path: Path,
    },
    /// `"key.$": "States.Fn(...)"`.
    Call {
        /// The key as written, with its `.$`.
        field: Arc<str>,
        /// The compiled call.
        call: Call,
    },
}

impl Template {
    /// Compile `value`; problems are appended to `errors` with JSON pointers under `pointer`.
    pub fn compile(value: &Value, pointer: &str, errors: &mut Vec<ValidationError>) -> Template {
        match value {
            Value::Object(map) => {
                let mut members = Vec::with_capacity(map.len());
                let mut dynamic = false;
                for (key, v) in map {
                    let ptr = format!("{pointer}/{}", escape_pointer(key));
                    if let Some(name) = key.strip_suffix(".$") {
                        dynamic = true;
                        let field: Arc<str> = Arc::from(key.as_str());
                        let Some(text) = v.as_str() else {
                            errors.push(ValidationError::new(
                                &ptr,
                                ValidationErrorKind::InvalidType,
                                format!(
                                    "the value of `{key}` must be a path or intrinsic call string"
                                ),
                            ));
                            continue;
                        };
                        members.push((name.to_owned(), compile_dynamic(field, text, &ptr, errors)));
                    } else {
                        let t = Template::compile(v, &ptr, errors);
                        dynamic |= !matches!(t, Template::Literal(_));
                        members.push((key.clone(), t));
                    }
                }
                if dynamic {
                    Template::Object(members)
                } else {
                    Template::Literal(value.clone())
                }
            }
            Value::Array(items) => {
                let compiled: Vec<Template> = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Template::compile(v, &format!("{pointer}/{i}"), errors))
                    .collect();
                if compiled.iter().all(|t| matches!(t, Template::Literal(_))) {
                    Template::Literal(value.clone())
                } else {
                    Template::Array(compiled)
                }
            }
            other => Template::Literal(other.clone()),
        }
    }

    /// Produce the value for the current data.
    pub fn render(&self, scope: &(impl PathResolver + ?Sized)) -> Result<Value, Failure> {
        match self {
            Template::Literal(v) => Ok(v.clone()),
            Template::Object(members) => {
                let mut out = Map::with_capacity(members.len());
                for (key, t) in members {
                    out.insert(key.clone(), t.render(scope)?);
                }
                Ok(Value::Object(out))
            }
            Template::Array(items) => items
                .iter()
                .map(|t| t.render(scope))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Template::Path { field, path } => scope
                .resolve(path)
                .map(std::borrow::Cow::into_owned)
                .map_err(|_| field_miss(path, field, scope)),
            Template::Call { call, .. } => intrinsics::evaluate(call, scope),
        }
    }
}

/// The `States.Runtime` failure AWS reports when a `.$` field's path selects nothing.
pub fn field_miss(path: &Path, field: &str, scope: &(impl PathResolver + ?Sized)) -> Failure {
    Failure::runtime(format!(
        "The JSONPath '{}' specified for the field '{}' could not be found in the input '{}'",
        path.text(),
        field,
        scope.input()
    ))
}

fn compile_dynamic(
    field: Arc<str>,
    text: &str,
    pointer: &str,
    errors: &mut Vec<ValidationError>,
) -> Template {
    if intrinsics::looks_like_call(text) {
        match intrinsics::parse_call(text) {
            Ok(call) => Template::Call { field, call },
            Err(e) => {
                errors.push(ValidationError::new(
                    pointer,
                    ValidationErrorKind::InvalidIntrinsic,
                    e.to_string(),
                ));
                Template::Literal(Value::Null)
            }
        }
    } else {
        match Path::parse(text) {
            Ok(path) => Template::Path { field, path },
            Err(e) => {
                errors.push(ValidationError::new(
                    pointer,
                    ValidationErrorKind::InvalidPath,
                    e.to_string(),
                ));
                Template::Literal(Value::Null)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::ValueResolver;
    use serde_json::json;

    fn render(template: Value, input: Value) -> Result<Value, Failure> {
        let mut errors = Vec::new();
        let t = Template::compile(&template, "/Parameters", &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        t.render(&ValueResolver {
            input: &input,
            context: Some(&json!({"Execution": {"Name": "exec"}})),
        })
    }

    #[test]
    fn renders_paths_calls_literals_and_nesting() {
        let out = render(
            json!({"a.$": "$.x", "b": {"c.$": "States.Array($.x, 2)", "d": [1, {"e.$": "$$.Execution.Name"}]}, "f": "lit"}),
            json!({"x": 1}),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"a": 1, "b": {"c": [1, 2], "d": [1, {"e": "exec"}]}, "f": "lit"})
        );
    }

    #[test]
    fn literal_subtrees_stay_literal() {
        let mut errors = Vec::new();
        let t = Template::compile(&json!({"a": {"b": [1, 2]}}), "", &mut errors);
        assert!(matches!(t, Template::Literal(_)));
    }

    #[test]
    fn a_missing_path_names_the_field() {
        let err = render(json!({"value.$": "$.nope"}), json!({"x": 0})).unwrap_err();
        assert_eq!(err.error.as_deref(), Some("States.Runtime"));
        assert_eq!(
            err.cause.as_deref(),
            Some(
                "The JSONPath '$.nope' specified for the field 'value.$' could not be found in the input '{\"x\":0}'"
            )
        );
    }

    #[test]
    fn bad_paths_and_calls_are_reported_with_pointers() {
        let mut errors = Vec::new();
        Template::compile(
            &json!({"a.$": "nope", "b": {"c.$": "States.Nope()"}, "d.$": 3}),
            "/P",
            &mut errors,
        );
        let pointers: Vec<_> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(pointers, vec!["/P/a.$", "/P/b/c.$", "/P/d.$"]);
    }
}
