//! Retry and Catch: the error handling Task, Parallel and Map states share (mirrors
//! `exec/retry.rs`).

use serde_json::{Map, Value};

use super::super::*;
use super::fields::{Errors, Fields, result_path_of};

impl Fields<'_, '_> {
    pub(super) fn error_handling(&mut self) -> ErrorHandling {
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

    pub(super) fn catcher(&mut self, item: &Value, p: &str, is_last: bool) -> Option<Catcher> {
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
}

pub(super) fn error_equals(
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

pub(super) fn retrier(
    item: &Value,
    p: &str,
    is_last: bool,
    errors: &mut Errors,
) -> Option<Retrier> {
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
