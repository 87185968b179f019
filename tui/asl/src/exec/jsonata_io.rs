//! Evaluating the JSONata fields of a JSONata state: the `$states` bindings, and the
//! `EvaluationFailed` event + `States.QueryEvaluationError` when an expression fails.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::Run;
use super::frame::{Frame, Scope, StateCtx};
use crate::error::{Failure, names};
use crate::history::EventDetails;
use crate::jsonata::{JTemplate, JsonataError};

/// What `$states` holds besides `input` and `context`.
#[derive(Default, Clone, Copy)]
pub(super) struct Extra<'a> {
    pub result: Option<&'a Value>,
    pub error_output: Option<&'a Value>,
}

impl Run {
    /// Evaluate `template` (the field `field` of the current state) with `$states.input` =
    /// `input`. A failure is recorded as `EvaluationFailed` and returned located.
    pub(super) fn jsonata(
        &self,
        template: &JTemplate,
        field: &str,
        input: &Value,
        extra: Extra<'_>,
        frame: &mut Frame<'_>,
        sc: &StateCtx,
    ) -> Result<Value, Failure> {
        let result = {
            let scope = Scope::new(input, self, &frame.vars, sc, frame.map_item.as_ref());
            let mut states = Map::new();
            states.insert("input".into(), input.clone());
            states.insert("context".into(), scope.context().clone());
            if let Some(r) = extra.result {
                states.insert("result".into(), r.clone());
            }
            if let Some(e) = extra.error_output {
                states.insert("errorOutput".into(), e.clone());
            }
            let states = Value::Object(states);
            let mut bindings: HashMap<&str, &Value> = frame.vars.visible();
            bindings.insert("states", &states);
            template.eval(&bindings, field)
        };
        result.map_err(|e| {
            // An expression failure is linked to the event the state was entered from.
            frame.ev.source = sc.entered_prev;
            self.evaluation_failed(e, frame, sc)
        })
    }

    /// Record `EvaluationFailed` for a JSONata failure and return the located failure.
    pub(super) fn evaluation_failed(
        &self,
        e: JsonataError,
        frame: &mut Frame<'_>,
        sc: &StateCtx,
    ) -> Failure {
        let cause = sc.located(&e.cause);
        self.emit(
            &mut frame.ev,
            EventDetails::EvaluationFailed {
                error: names::QUERY_EVALUATION_ERROR.into(),
                cause: cause.clone(),
                location: (!e.location.is_empty()).then_some(e.location),
                state: sc.name.clone(),
            },
            true,
        );
        Failure::new(names::QUERY_EVALUATION_ERROR, cause)
    }

    /// A JSONata-side error that is not an expression failure (a value of the wrong type or
    /// format); `location` may be empty when the service names none.
    pub(super) fn query_error(
        &self,
        cause: String,
        location: &str,
        frame: &mut Frame<'_>,
        sc: &StateCtx,
    ) -> Failure {
        self.evaluation_failed(
            JsonataError {
                cause,
                location: location.to_owned(),
            },
            frame,
            sc,
        )
    }
}

/// JSON type names as the service prints them.
pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
