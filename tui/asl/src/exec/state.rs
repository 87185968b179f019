//! The state loop and the parts every state shares: Entered/Exited events, InputPath,
//! OutputPath, ResultPath, Assign, and the Retry/Catch policy of Task, Map and Parallel.
//! Pass, Choice, Wait, Succeed and Fail are small enough to live here too.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use rand::Rng;
use serde_json::{Map, Value, json};

use super::Run;
use super::frame::{Frame, Scope, StateCtx};
use crate::definition::{
    ChoiceState, DataPath, FailState, Jitter, MapState, NumberSource, ParallelState, PassState,
    Program, ResultPathSpec, State, StateKind, StringSource, TaskState, Transition, WaitSpec,
    WaitState,
};
use crate::error::{Failure, names};
use crate::history::{EventDetails, Payload, StateType};
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
                .map_err(|miss| sc.runtime(format!("Invalid path '{}' : {miss}", p.text()))),
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

    #[allow(clippy::too_many_arguments)]
    fn pass(
        &self,
        pass: &PassState,
        state: &State,
        raw_input: &Arc<Value>,
        effective: &Arc<Value>,
        frame: &Frame<'_>,
        sc: &StateCtx,
        assigned: &mut Assigned,
    ) -> Result<Flow, Failure> {
        let mut result: Option<Value> = None;
        if let Some(params) = &pass.parameters {
            result = Some(self.render(params, effective, frame, sc)?);
        }
        if let Some(r) = &pass.result {
            result = Some(r.clone());
        }
        let result_ref: &Value = result.as_ref().unwrap_or(effective);
        self.assign(state.assign.as_ref(), result_ref, frame, sc, assigned)?;
        match (&pass.result_path, result) {
            (ResultPathSpec::Replace, None) => Ok(Flow::Default(effective.clone())),
            (spec, result) => {
                let result = result.unwrap_or_else(|| (**effective).clone());
                Ok(Flow::Default(
                    self.result_path(spec, raw_input, result, sc)?,
                ))
            }
        }
    }

    fn choice(
        &self,
        choice: &ChoiceState,
        state: &State,
        effective: Arc<Value>,
        frame: &Frame<'_>,
        sc: &StateCtx,
        assigned: &mut Assigned,
    ) -> Result<Flow, Failure> {
        let chosen = {
            let scope = Scope::new(&effective, self, &frame.vars, sc, frame.map_item.as_ref());
            let mut chosen = None;
            for rule in &choice.choices {
                if rule.condition.evaluate(&scope).map_err(|f| sc.locate(f))? {
                    chosen = Some((rule.next, rule.assign.as_ref()));
                    break;
                }
            }
            chosen
        };
        let (next, rule_assign) = match chosen {
            Some(c) => c,
            None => match choice.default {
                Some(d) => (d, None),
                None => {
                    return Err(Failure::new(
                        names::NO_CHOICE_MATCHED,
                        format!("No Matches! (state '{}')", state.name),
                    ));
                }
            },
        };
        self.assign(state.assign.as_ref(), &effective, frame, sc, assigned)?;
        self.assign(rule_assign, &effective, frame, sc, assigned)?;
        Ok(Flow::Goto {
            next,
            value: effective,
            skip_output_path: false,
        })
    }

    fn choice_jsonata(
        &self,
        choice: &ChoiceState,
        state: &State,
        effective: Arc<Value>,
        frame: &mut Frame<'_>,
        sc: &StateCtx,
        assigned: &mut Assigned,
    ) -> Result<Flow, Failure> {
        let extra = super::jsonata_io::Extra::default();
        let mut chosen = None;
        for (i, rule) in choice.choices.iter().enumerate() {
            let Some(cond) = &rule.jsonata_condition else {
                continue;
            };
            let field = format!("Choices/{i}/Condition");
            match self.jsonata(cond, &field, &effective, extra, frame, sc)? {
                Value::Bool(true) => {
                    chosen = Some(rule);
                    break;
                }
                Value::Bool(false) => {}
                other => {
                    return Err(self.query_error(
                        format!(
                            "The JSONata expression specified for the field '{field}' returned an unexpected result type. Expected 'boolean', but was '{}' for value: {other}",
                            super::jsonata_io::type_name(&other)
                        ),
                        &field,
                        frame,
                        sc,
                    ));
                }
            }
        }
        let (next, rule_assign, rule_output) = match chosen {
            Some(rule) => (
                rule.next,
                rule.jsonata_assign.as_ref(),
                rule.jsonata_output.as_ref(),
            ),
            None => match choice.default {
                Some(d) => (d, None, None),
                None => {
                    return Err(Failure::new(
                        names::NO_CHOICE_MATCHED,
                        format!("No Matches! (state '{}')", state.name),
                    ));
                }
            },
        };
        let j = state.jsonata.as_deref();
        if let Some(t) = j.and_then(|j| j.assign.as_ref()) {
            assign_object(
                self.jsonata(t, "Assign", &effective, extra, frame, sc)?,
                assigned,
            );
        }
        if let Some(t) = rule_assign {
            assign_object(
                self.jsonata(t, "Assign", &effective, extra, frame, sc)?,
                assigned,
            );
        }
        let output = match rule_output.or(j.and_then(|j| j.output.as_ref())) {
            Some(t) => Arc::new(self.jsonata(t, "Output", &effective, extra, frame, sc)?),
            None => effective,
        };
        Ok(Flow::Goto {
            next,
            value: output,
            skip_output_path: true,
        })
    }

    async fn wait(
        &self,
        wait: &WaitState,
        state: &State,
        effective: Arc<Value>,
        frame: &mut Frame<'_>,
        sc: &StateCtx,
        assigned: &mut Assigned,
    ) -> Result<Flow, Failure> {
        // AWS rejects delays of 2^31 seconds (~68 years) or more.
        const MAX_WAIT_SECONDS: i64 = i32::MAX as i64;
        let seconds: i64 = match &wait.wait {
            WaitSpec::Jsonata => {
                let j = state.jsonata.as_deref();
                let extra = super::jsonata_io::Extra::default();
                if let Some(t) = j.and_then(|j| j.seconds.as_ref()) {
                    let v = self.jsonata(t, "Seconds", &effective, extra, frame, sc)?;
                    match v.as_i64().filter(|n| *n >= 0) {
                        Some(n) => n,
                        None => {
                            return Err(self.query_error(
                                format!("The Seconds field must be a non-negative integer, but was: {v}"),
                                "Seconds",
                                frame,
                                sc,
                            ));
                        }
                    }
                } else if let Some(t) = j.and_then(|j| j.timestamp.as_ref()) {
                    let v = self.jsonata(t, "Timestamp", &effective, extra, frame, sc)?;
                    match v.as_str().and_then(crate::timestamp::parse) {
                        Some(at) => (at - self.clock.now()).num_seconds().max(0),
                        None => {
                            return Err(self.query_error(
                                format!(
                                    "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {}",
                                    display_plain(&v)
                                ),
                                "Timestamp",
                                frame,
                                sc,
                            ));
                        }
                    }
                } else {
                    0
                }
            }
            WaitSpec::Seconds(s) => i64::try_from(*s).unwrap_or(i64::MAX),
            WaitSpec::Timestamp(t) => match crate::timestamp::parse(t) {
                Some(at) => (at - self.clock.now()).num_seconds().max(0),
                None => return Err(sc.runtime("The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string")),
            },
            WaitSpec::SecondsPath(p) => {
                let scope = Scope::new(&effective, self, &frame.vars, sc, frame.map_item.as_ref());
                let v = scope
                    .resolve(p)
                    .map_err(|miss| sc.runtime(format!("Invalid path '{}' : {miss}", p.text())))?;
                match v.as_i64().or_else(|| v.as_u64().map(|u| u as i64)) {
                    Some(n) if n < 0 => {
                        return Err(sc.runtime(format!(
                            "The SecondsPath parameter references a negative value: {} == {}",
                            p.text(),
                            v
                        )));
                    }
                    Some(n) => n,
                    None => {
                        return Err(sc.runtime(format!(
                            "The SecondsPath parameter cannot be parsed as a long value: {} == {}",
                            p.text(),
                            display_plain(&v)
                        )));
                    }
                }
            }
            WaitSpec::TimestampPath(p) => {
                let scope = Scope::new(&effective, self, &frame.vars, sc, frame.map_item.as_ref());
                let v = scope
                    .resolve(p)
                    .map_err(|miss| sc.runtime(format!("Invalid path '{}' : {miss}", p.text())))?;
                match v.as_str().and_then(crate::timestamp::parse) {
                    Some(at) => (at - self.clock.now()).num_seconds().max(0),
                    None => {
                        return Err(sc.runtime(format!(
                            "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {} == {}",
                            p.text(),
                            display_plain(&v)
                        )));
                    }
                }
            }
        };
        if seconds >= MAX_WAIT_SECONDS {
            return Err(sc.runtime("Wait state delay is too long."));
        }
        self.assign(state.assign.as_ref(), &effective, frame, sc, assigned)?;
        if seconds > 0 {
            self.sleep(Duration::from_secs(seconds.unsigned_abs()))
                .await;
        }
        Ok(Flow::Default(effective))
    }

    fn fail(
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
                    Ok(Some(display_plain(&v)))
                }
                Some(StringSource::Call(c)) => {
                    let scope =
                        Scope::new(effective, self, &frame.vars, sc, frame.map_item.as_ref());
                    let v = crate::intrinsics::evaluate(c, &scope).map_err(|f| sc.locate(f))?;
                    Ok(Some(display_plain(&v)))
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

    /// The Retry/Catch policy around the work of a Task, Map or Parallel state. Each
    /// attempt records its own failure events; on success the result goes through Assign,
    /// ResultSelector and ResultPath, on a caught failure through the catcher.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn with_retry(
        &self,
        work: Work<'_>,
        state: &State,
        raw_input: &Arc<Value>,
        effective: &Arc<Value>,
        frame: &mut Frame<'_>,
        sc: &mut StateCtx,
        assigned: &mut Assigned,
    ) -> Result<Flow, Failure> {
        let (handling, result_selector, result_path) = match &work {
            Work::Task(t) => (&t.errors, t.result_selector.as_ref(), &t.result_path),
            Work::Map(m) => (&m.errors, m.result_selector.as_ref(), &m.result_path),
            Work::Parallel(p) => (&p.errors, p.result_selector.as_ref(), &p.result_path),
        };
        let mut attempts = vec![0u64; handling.retry.len()];
        loop {
            let outcome = match &work {
                Work::Task(t) => self
                    .task_attempt(t, state, effective, frame, sc)
                    .await
                    .map_err(AttemptError::from),
                Work::Map(m) => self.map_attempt(m, state, effective, frame, sc).await,
                Work::Parallel(p) => self.parallel_attempt(p, state, effective, frame, sc).await,
            };
            let AttemptError {
                failure,
                from_children,
            } = match outcome {
                Ok(result) if state.jsonata.is_some() => {
                    // JSONata: Assign/Output are applied by the caller with $states.result.
                    return Ok(Flow::Default(Arc::new(result)));
                }
                Ok(result) => {
                    self.assign(state.assign.as_ref(), &result, frame, sc, assigned)?;
                    let selected = match result_selector {
                        Some(t) => self.render(t, &result, frame, sc)?,
                        None => result,
                    };
                    return Ok(Flow::Default(self.result_path(
                        result_path,
                        raw_input,
                        selected,
                        sc,
                    )?));
                }
                Err(f) => f,
            };
            // Retry: the first retrier whose ErrorEquals matches decides.
            if let Some(i) = handling
                .retry
                .iter()
                .position(|r| error_matches(&r.error_equals, &failure))
            {
                let r = &handling.retry[i];
                if attempts[i] < r.max_attempts {
                    let mut delay = r.interval_seconds * r.backoff_rate.powi(attempts[i] as i32);
                    if let Some(max) = r.max_delay_seconds {
                        delay = delay.min(max);
                    }
                    if r.jitter == Jitter::Full {
                        delay = rand::rng().random_range(0.0..=delay);
                    }
                    attempts[i] += 1;
                    sc.retry_count = Some(sc.retry_count.unwrap_or(0) + 1);
                    self.sleep(Duration::from_secs_f64(delay.max(0.0))).await;
                    continue;
                }
            }
            match work {
                Work::Map(_) if from_children => {
                    self.emit(&mut frame.ev, EventDetails::MapStateFailed, true);
                }
                Work::Parallel(_) if from_children => {
                    self.emit(&mut frame.ev, EventDetails::ParallelStateFailed, true);
                }
                _ => {}
            }
            if let Some(c) = handling
                .catch
                .iter()
                .find(|c| error_matches(&c.error_equals, &failure))
            {
                let mut error_output = Map::new();
                error_output.insert(
                    "Error".into(),
                    Value::String(failure.error_name().to_owned()),
                );
                error_output.insert(
                    "Cause".into(),
                    Value::String(failure.cause.clone().unwrap_or_default()),
                );
                let error_output = Value::Object(error_output);
                if state.jsonata.is_some() {
                    let extra = super::jsonata_io::Extra {
                        result: None,
                        error_output: Some(&error_output),
                    };
                    if let Some(t) = &c.jsonata_assign {
                        assign_object(
                            self.jsonata(t, "Assign", raw_input, extra, frame, sc)?,
                            assigned,
                        );
                    }
                    let value = match &c.jsonata_output {
                        Some(t) => self.jsonata(t, "Output", raw_input, extra, frame, sc)?,
                        None => error_output,
                    };
                    return Ok(Flow::Goto {
                        next: c.next,
                        value: Arc::new(value),
                        skip_output_path: true,
                    });
                }
                self.assign(c.assign.as_ref(), &error_output, frame, sc, assigned)?;
                let value = self.result_path(&c.result_path, raw_input, error_output, sc)?;
                return Ok(Flow::Goto {
                    next: c.next,
                    value,
                    skip_output_path: true,
                });
            }
            return Err(failure);
        }
    }
}

/// Does a failure match a retrier's/catcher's `ErrorEquals`?
pub(super) fn error_matches(error_equals: &[String], failure: &Failure) -> bool {
    let name = failure.error_name();
    error_equals.iter().any(|e| {
        e == name
            || e == names::ALL
            // States.TaskFailed matches any error a task raises except the service's own
            // `States.*` errors other than itself.
            || (e == names::TASK_FAILED && !name.starts_with("States."))
    })
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
fn assign_object(value: Value, assigned: &mut Assigned) {
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
