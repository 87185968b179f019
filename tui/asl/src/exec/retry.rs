//! Retry and Catch around the work of Task, Map and Parallel states.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use serde_json::Map;
use serde_json::Value;

use super::Run;
use super::frame::{Frame, StateCtx};
use super::state::{Assigned, Flow, assign_object};
use super::state::{AttemptError, Work};
use crate::definition::{Jitter, State};
use crate::error::{Failure, names};
use crate::history::EventDetails;

impl Run {
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
    // States.Runtime is terminal: "not retriable, and will always cause the execution to
    // fail" (the error-handling page); the recorded case test_catch_states_runtime shows
    // even an explicit `ErrorEquals: ["States.Runtime"]` does not catch it. (Whatever state
    // it comes from: a task, a Parallel branch, a Map iteration, a path or a template.)
    if name == names::RUNTIME {
        return false;
    }
    error_equals.iter().any(|e| {
        e == name
            || e == names::ALL
            // States.TaskFailed matches any error a task raises except the service's own
            // `States.*` errors other than itself.
            || (e == names::TASK_FAILED && !name.starts_with("States."))
    })
}
