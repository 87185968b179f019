//! Fail states: Error/Cause literal, by path, by intrinsic, or by JSONata.

use serde_json::Value;

use super::Run;
use super::frame::{Frame, Scope, StateCtx};
use super::state::display_plain;
use crate::definition::{FailState, State, StringSource};
use crate::error::Failure;
use crate::scope::PathResolver;

impl Run {
    pub(super) fn fail(
        &self,
        fail: &FailState,
        state: &State,
        effective: &Value,
        frame: &mut Frame<'_>,
        sc: &StateCtx,
    ) -> Failure {
        if let Some(j) = &state.jsonata {
            let mut field = |t: &Option<crate::jsonata::JTemplate>,
                             literal: &Option<StringSource>,
                             name: &str| {
                match (t, literal) {
                    (Some(t), _) => self
                        .jsonata(
                            t,
                            name,
                            effective,
                            super::jsonata_io::Extra::default(),
                            frame,
                            sc,
                        )
                        .map(|v| Some(display_plain(&v))),
                    (None, Some(StringSource::Literal(s))) => Ok(Some(s.clone())),
                    _ => Ok(None),
                }
            };
            let error = match field(&j.error, &fail.error, "Error") {
                Ok(e) => e,
                Err(f) => return f,
            };
            let cause = match field(&j.cause, &fail.cause, "Cause") {
                Ok(c) => c,
                Err(f) => return f,
            };
            return Failure { error, cause };
        }
        let frame: &Frame<'_> = frame;
        let resolve = |source: &Option<StringSource>,
                       field: &str|
         -> Result<Option<String>, Failure> {
            match source {
                None => Ok(None),
                Some(StringSource::Literal(s)) => Ok(Some(s.clone())),
                Some(StringSource::Path(p)) => {
                    let scope =
                        Scope::new(effective, self, &frame.vars, sc, frame.map_item.as_ref());
                    let v = scope.resolve(p).map_err(|_| {
                        sc.runtime(format!(
                            "The JSONPath '{}' specified for the field '{field}' could not be found in the input '{}'",
                            p.text(),
                            effective
                        ))
                    })?;
                    // The Fail state's page: the path "must select a field that contains a
                    // string value"; anything else fails the execution.
                    match v.as_ref() {
                        Value::String(s) => Ok(Some(s.clone())),
                        other => Err(sc.runtime(format!(
                            "The JSONPath '{}' specified for the field '{field}' does not reference a string value: {other}",
                            p.text()
                        ))),
                    }
                }
                Some(StringSource::Call(c)) => {
                    let scope =
                        Scope::new(effective, self, &frame.vars, sc, frame.map_item.as_ref());
                    let v = crate::intrinsics::evaluate(c, &scope).map_err(|f| sc.locate(f))?;
                    match v {
                        Value::String(s) => Ok(Some(s)),
                        other => Err(sc.runtime(format!(
                            "The intrinsic function specified for the field '{field}' returned {other}, not a string"
                        ))),
                    }
                }
            }
        };
        let error = match resolve(&fail.error, "ErrorPath") {
            Ok(e) => e,
            Err(f) => return f,
        };
        let cause = match resolve(&fail.cause, "CausePath") {
            Ok(c) => c,
            Err(f) => return f,
        };
        Failure { error, cause }
    }
}
