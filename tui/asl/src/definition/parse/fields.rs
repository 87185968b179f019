//! The fields of one state object: the accessors every state type's parser uses (paths,
//! templates, numbers and strings from a literal or a path, transitions), each reporting
//! problems with the field's JSON pointer.

use serde_json::{Map, Value};

use super::super::*;
use super::StateCx;
use crate::diagnostics::escape_pointer;

pub(super) type Errors = Vec<ValidationError>;

pub(super) struct Fields<'a, 'c> {
    pub(super) obj: &'a Map<String, Value>,
    pub(super) ptr: &'a str,
    pub(super) cx: &'a mut StateCx<'c>,
    pub(super) language: QueryLanguage,
}

impl Fields<'_, '_> {
    pub(super) fn at(&self, key: &str) -> String {
        format!("{}/{key}", self.ptr)
    }

    pub(super) fn err(&mut self, key: &str, kind: ValidationErrorKind, message: impl Into<String>) {
        let p = self.at(key);
        self.cx.err(&p, kind, message);
    }

    pub(super) fn transition(&mut self) -> Transition {
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

    pub(super) fn path(&mut self, key: &str) -> Option<Path> {
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

    pub(super) fn data_path(&mut self, key: &str) -> DataPath {
        match self.obj.get(key) {
            None => DataPath::Root,
            Some(Value::Null) => DataPath::Null,
            Some(_) => self.path(key).map(DataPath::Path).unwrap_or(DataPath::Root),
        }
    }

    pub(super) fn result_path(&mut self, key: &str) -> ResultPathSpec {
        result_path_of(self.obj, key, self.ptr, self.cx.errors)
    }

    pub(super) fn template(&mut self, key: &str) -> Option<Template> {
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
    pub(super) fn number_source(
        &mut self,
        key: &str,
        key_path: &str,
        min: f64,
    ) -> Option<NumberSource> {
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

    pub(super) fn string_source(&mut self, key: &str, key_path: &str) -> Option<StringSource> {
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
                    // The Fail state's page: only the intrinsics that return a string.
                    Ok(c) if !STRING_INTRINSICS.contains(&c.function.name()) => {
                        self.err(
                            key_path,
                            ValidationErrorKind::InvalidIntrinsic,
                            format!(
                                "{} is not allowed in {key_path}: use one that returns a \
                                 string ({})",
                                c.function.name(),
                                STRING_INTRINSICS.join(", ")
                            ),
                        );
                        None
                    }
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
}

/// The intrinsics a Fail state's `ErrorPath`/`CausePath` may call (they return strings).
const STRING_INTRINSICS: [&str; 7] = [
    "States.Format",
    "States.JsonToString",
    "States.ArrayGetItem",
    "States.Base64Encode",
    "States.Base64Decode",
    "States.Hash",
    "States.UUID",
];

pub(super) fn result_path_of(
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

pub(super) fn positive_int(
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

pub(super) fn check_sub_program_keys(
    obj: &Map<String, Value>,
    p: &str,
    errors: &mut Errors,
    extra: &[&str],
) {
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
