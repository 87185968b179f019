//! The state loop and the parts every state shares: Entered/Exited events, InputPath,
//! OutputPath, ResultPath, Assign, and the Retry/Catch policy of Task, Map and Parallel.
//! Pass, Choice, Wait, Succeed and Fail are small enough to live here too.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::frame::{Frame, Scope, StateCtx};
use super::{MAX_HISTORY_EVENTS, Run};
use crate::definition::{
    DataPath, MapState, NumberSource, ParallelState, Program, ResultPathSpec, State, StateKind,
    TaskState, Transition,
};
use crate::error::{Failure, names};
use crate::history::{EventDetails, Payload, StateType};
use crate::path::PlaceError;
use crate::payload::Template;
use crate::scope::PathResolver;

/// Where control goes after a state.
pub(super) enum Flow {
    /// Continue with the state's own transition (`Next`/`End`).
    Default(Arc<Value>),
    /// A Choice rule or catcher chose the next state; the value skips OutputPath when
    /// `skip_output_path` (catcher outputs are passed on as they are).
    Goto {
        next: usize,
        value: Arc<Value>,
        skip_output_path: bool,
    },
}

/// The retryable work of a state.
#[derive(Clone, Copy)]
pub(super) enum Work<'a> {
    Task(&'a TaskState),
    Map(&'a MapState),
    Parallel(&'a ParallelState),
}

/// Why an attempt of a Task/Map/Parallel state failed.
pub(super) struct AttemptError {
    pub failure: Failure,
    /// True when the failure came from the state's children (iterations, branches), which
    /// the service reports with `MapStateFailed`/`ParallelStateFailed`; false for errors in
    /// evaluating the state's own fields (those fail the state without that event).
    pub from_children: bool,
}

impl From<Failure> for AttemptError {
    fn from(failure: Failure) -> Self {
        Self {
            failure,
            from_children: false,
        }
    }
}

/// Variables assigned by a state, applied once the state has finished evaluating.
pub(super) type Assigned = Vec<(String, Value)>;

impl Run {
    /// Run a program from its StartAt until a terminal state; returns the final output.
    pub(super) fn program<'a, 'p: 'a>(
        &'a self,
        program: &'a Program,
        input: Arc<Value>,
        frame: &'a mut Frame<'p>,
    ) -> BoxFuture<'a, Result<Arc<Value>, Failure>> {
        Box::pin(async move {
            let mut index = program.start_at;
            let mut data = input;
            loop {
                let state = &program.states[index];
                let (next, out) = self.state(state, data, frame).await?;
                if self.history_full() {
                    // A loop that never ends (or a very long run) fails as the service
                    // fails it, rather than spinning for ever.
                    return Err(Failure::runtime(format!(
                        "the execution history reached the maximum of {MAX_HISTORY_EVENTS} \
                         events"
                    )));
                }
                match next {
                    Transition::Next(i) => {
                        index = i;
                        data = out;
                    }
                    Transition::End => return Ok(out),
                }
            }
        })
    }

    async fn state(
        &self,
        state: &State,
        input: Arc<Value>,
        frame: &mut Frame<'_>,
    ) -> Result<(Transition, Arc<Value>), Failure> {
        let state_type = state_type(&state.kind);
        if state_type == StateType::Task {
            // Tasks are dispatched asynchronously by the service: concurrently running Map
            // iterations all start before their tasks are entered (see the recorded
            // histories), so give siblings a turn first.
            tokio::task::yield_now().await;
        }
        let entered_prev = frame.ev.source;
        let (entered_id, entered_time) = self.emit_at(
            &mut frame.ev,
            EventDetails::StateEntered {
                state_type,
                name: state.name.clone(),
                input: frame
                    .entered_text
                    .take()
                    .unwrap_or_else(|| Payload::Json(input.clone())),
            },
            true,
        );
        frame.current = Some(state_type);
        let mut sc = StateCtx {
            name: state.name.clone(),
            entered_id,
            entered_prev,
            entered_time,
            retry_count: matches!(
                state.kind,
                StateKind::Task(_) | StateKind::Map(_) | StateKind::Parallel(_)
            )
            .then_some(0),
        };
        let effective = self.input_path(&state.input_path, &input, frame, &sc)?;
        let mut assigned: Assigned = Vec::new();
        let flow = match &state.kind {
            StateKind::Pass(_) if state.jsonata.is_some() => Flow::Default(input.clone()),
            StateKind::Pass(p) => {
                self.pass(p, state, &input, &effective, frame, &sc, &mut assigned)?
            }
            StateKind::Task(t) => {
                // Boxed so the future of a plain Pass/Choice transition stays small.
                Box::pin(self.with_retry(
                    Work::Task(t),
                    state,
                    &input,
                    &effective,
                    frame,
                    &mut sc,
                    &mut assigned,
                ))
                .await?
            }
            StateKind::Choice(c) if state.jsonata.is_some() => {
                self.choice_jsonata(c, state, effective, frame, &sc, &mut assigned)?
            }
            StateKind::Choice(c) => self.choice(c, state, effective, frame, &sc, &mut assigned)?,
            StateKind::Wait(w) => {
                self.wait(w, state, effective, frame, &sc, &mut assigned)
                    .await?
            }
            StateKind::Succeed => Flow::Default(effective),
            StateKind::Fail(f) => return Err(self.fail(f, state, &effective, frame, &sc)),
            StateKind::Parallel(p) => {
                // Boxed so the future of a plain Pass/Choice transition stays small.
                Box::pin(self.with_retry(
                    Work::Parallel(p),
                    state,
                    &input,
                    &effective,
                    frame,
                    &mut sc,
                    &mut assigned,
                ))
                .await?
            }
            StateKind::Map(m) => {
                // Boxed so the future of a plain Pass/Choice transition stays small.
                Box::pin(self.with_retry(
                    Work::Map(m),
                    state,
                    &input,
                    &effective,
                    frame,
                    &mut sc,
                    &mut assigned,
                ))
                .await?
            }
        };
        let flow = match (&state.jsonata, flow) {
            (Some(j), Flow::Default(value)) => {
                // JSONata: Assign and Output see `$states.result` for Task/Map/Parallel.
                let result = matches!(
                    state.kind,
                    StateKind::Task(_) | StateKind::Map(_) | StateKind::Parallel(_)
                )
                .then_some(&*value);
                let extra = super::jsonata_io::Extra {
                    result,
                    error_output: None,
                };
                if let Some(t) = &j.assign {
                    assign_object(
                        self.jsonata(t, "Assign", &input, extra, frame, &sc)?,
                        &mut assigned,
                    );
                }
                match &j.output {
                    Some(t) => Flow::Default(Arc::new(
                        self.jsonata(t, "Output", &input, extra, frame, &sc)?,
                    )),
                    None => Flow::Default(value),
                }
            }
            (_, flow) => flow,
        };
        let (transition, output) = match flow {
            Flow::Default(value) => {
                if json_size(&value) > super::task::MAX_PAYLOAD_BYTES {
                    return Err(Failure::new(
                        names::DATA_LIMIT_EXCEEDED,
                        format!(
                            "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                            state.name
                        ),
                    ));
                }
                let out = self.output_path(&state.output_path, value, frame, &sc)?;
                (state.transition, out)
            }
            Flow::Goto {
                next,
                value,
                skip_output_path,
            } => {
                let out = if skip_output_path {
                    value
                } else {
                    self.output_path(&state.output_path, value, frame, &sc)?
                };
                (Transition::Next(next), out)
            }
        };
        let assigned_variables = (!assigned.is_empty()).then(|| {
            assigned
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect::<Vec<_>>()
        });
        for (k, v) in assigned {
            frame.vars.local.insert(k, v);
        }
        frame.current = None;
        self.emit(
            &mut frame.ev,
            EventDetails::StateExited {
                state_type,
                name: state.name.clone(),
                output: Payload::Json(output.clone()),
                assigned_variables,
            },
            true,
        );
        Ok((transition, output))
    }

    fn input_path(
        &self,
        spec: &DataPath,
        input: &Arc<Value>,
        frame: &Frame<'_>,
        sc: &StateCtx,
    ) -> Result<Arc<Value>, Failure> {
        match spec {
            DataPath::Root => Ok(input.clone()),
            DataPath::Null => Ok(Arc::new(json!({}))),
            DataPath::Path(p) if p.is_root_only() => Ok(input.clone()),
            DataPath::Path(p) => {
                let scope = Scope::new(input, self, &frame.vars, sc, frame.map_item.as_ref());
                scope
                    .resolve(p)
                    .map(|v| Arc::new(v.into_owned()))
                    .map_err(|miss| sc.runtime(format!("Invalid path '{}' : {miss}", p.text())))
            }
        }
    }

    pub(super) fn output_path(
        &self,
        spec: &DataPath,
        value: Arc<Value>,
        frame: &Frame<'_>,
        sc: &StateCtx,
    ) -> Result<Arc<Value>, Failure> {
        match spec {
            DataPath::Root => Ok(value),
            DataPath::Null => Ok(Arc::new(json!({}))),
            DataPath::Path(p) if p.is_root_only() => Ok(value),
            DataPath::Path(p) => {
                let scope = Scope::new(&value, self, &frame.vars, sc, frame.map_item.as_ref());
                scope
                    .resolve(p)
                    .map(|v| Arc::new(v.into_owned()))
                    .map_err(|miss| sc.runtime(format!("Invalid path '{}' : {miss}", p.text())))
            }
        }
    }

    /// Render a template with `$` = `input`.
    pub(super) fn render(
        &self,
        template: &Template,
        input: &Value,
        frame: &Frame<'_>,
        sc: &StateCtx,
    ) -> Result<Value, Failure> {
        let scope = Scope::new(input, self, &frame.vars, sc, frame.map_item.as_ref());
        template.render(&scope).map_err(|f| sc.locate(f))
    }

    /// Evaluate an `Assign` block (with `$` = `input`) into `assigned`.
    pub(super) fn assign(
        &self,
        template: Option<&Template>,
        input: &Value,
        frame: &Frame<'_>,
        sc: &StateCtx,
        assigned: &mut Assigned,
    ) -> Result<(), Failure> {
        let Some(t) = template else { return Ok(()) };
        if let Value::Object(vars) = self.render(t, input, frame, sc)? {
            assigned.extend(vars);
        }
        Ok(())
    }

    /// Place `result` into the raw state input according to ResultPath.
    pub(super) fn result_path(
        &self,
        spec: &ResultPathSpec,
        raw_input: &Arc<Value>,
        result: Value,
        sc: &StateCtx,
    ) -> Result<Arc<Value>, Failure> {
        match spec {
            ResultPathSpec::Replace => Ok(Arc::new(result)),
            ResultPathSpec::Discard => Ok(raw_input.clone()),
            ResultPathSpec::Path(p) => p
                .place((**raw_input).clone(), result)
                .map(Arc::new)
                // One rule for every ResultPath that cannot be applied (a name step on a
                // non-object, an index step on a non-array or past its end): the catchable
                // States.ResultPathMatchFailure, as AWS names the failure to place a result.
                .map_err(|e: PlaceError| {
                    Failure::new(
                        names::RESULT_PATH_MATCH_FAILURE,
                        format!(
                            "Unable to apply ResultPath '{}' to the input of state '{}': {e}",
                            p.text(),
                            sc.name
                        ),
                    )
                }),
        }
    }

    /// Resolve a number given literally or by path (`TimeoutSecondsPath`...).
    pub(super) fn number(
        &self,
        source: &NumberSource,
        input: &Value,
        frame: &Frame<'_>,
        sc: &StateCtx,
    ) -> Result<Result<f64, (String, Value)>, Failure> {
        match source {
            NumberSource::Literal(n) => Ok(Ok(*n)),
            NumberSource::Path(p) => {
                let scope = Scope::new(input, self, &frame.vars, sc, frame.map_item.as_ref());
                let v = scope
                    .resolve(p)
                    .map_err(|miss| sc.runtime(format!("Invalid path '{}' : {miss}", p.text())))?;
                Ok(v.as_f64()
                    .ok_or_else(|| (p.text().to_owned(), v.into_owned())))
            }
        }
    }
}

fn state_type(kind: &StateKind) -> StateType {
    match kind {
        StateKind::Pass(_) => StateType::Pass,
        StateKind::Task(_) => StateType::Task,
        StateKind::Choice(_) => StateType::Choice,
        StateKind::Wait(_) => StateType::Wait,
        StateKind::Succeed => StateType::Succeed,
        StateKind::Fail(_) => StateType::Fail,
        StateKind::Parallel(_) => StateType::Parallel,
        StateKind::Map(_) => StateType::Map,
    }
}

/// The length of `v` serialised as compact JSON, without serialising it.
pub(super) fn json_size(v: &Value) -> usize {
    fn string_len(s: &str) -> usize {
        2 + s
            .chars()
            .map(|c| match c {
                '"' | '\\' | '\n' | '\r' | '\t' | '\u{08}' | '\u{0c}' => 2,
                c if (c as u32) < 0x20 => 6,
                c => c.len_utf8(),
            })
            .sum::<usize>()
    }
    match v {
        Value::Null => 4,
        Value::Bool(b) => {
            if *b {
                4
            } else {
                5
            }
        }
        Value::Number(n) => n.to_string().len(),
        Value::String(s) => string_len(s),
        Value::Array(a) => 2 + a.iter().map(json_size).sum::<usize>() + a.len().saturating_sub(1),
        Value::Object(m) => {
            2 + m
                .iter()
                .map(|(k, v)| string_len(k) + 1 + json_size(v))
                .sum::<usize>()
                + m.len().saturating_sub(1)
        }
    }
}

/// Add the members of an evaluated Assign object to `assigned`.
pub(super) fn assign_object(value: Value, assigned: &mut Assigned) {
    if let Value::Object(vars) = value {
        assigned.extend(vars);
    }
}

/// A value as AWS prints it inside messages: strings without quotes, the rest as JSON.
pub(super) fn display_plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_size_matches_serialisation() {
        for v in [
            json!({"a": [1, 2.5, null, true, false], "b\"c": "x\ny\u{1}z", "é": {}}),
            json!([]),
            json!("plain"),
        ] {
            assert_eq!(json_size(&v), v.to_string().len(), "{v}");
        }
    }
}
