//! Map states: inline (iterations recorded in this history) and distributed (iterations
//! run as child executions; only `MapRun*` events here), MaxConcurrency, tolerated
//! failures, and abort of in-flight iterations when one fails.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::Run;
use super::frame::{EvCtx, Frame, Scope, StateCtx};
use super::state::{AttemptError, display_plain};
use crate::definition::{DataPath, MapMode, MapState, NumberSource, State};
use crate::error::{Failure, names};
use crate::history::{EventDetails, NullSink};
use crate::scope::PathResolver;

/// What one worker did.
struct WorkerReport {
    ev: EvCtx,
    /// Failed iterations, with the state they failed in.
    failures: Vec<(usize, Failure, Option<crate::history::StateType>)>,
    /// Iterations cancelled because another one failed, with the state they were in.
    aborted: Vec<(usize, Option<crate::history::StateType>)>,
}

/// Shared between the workers of one Map run.
struct Pool<'a> {
    items: &'a [Arc<Value>],
    next: AtomicUsize,
    outputs: Mutex<Vec<Option<Arc<Value>>>>,
    cancel: tokio::sync::watch::Sender<bool>,
    /// Inline maps stop at the first failure; distributed maps run every item.
    stop_on_failure: bool,
}

/// Return `Pending` once, waking immediately (a cooperative yield to sibling workers).
async fn yield_once() {
    let mut yielded = false;
    futures::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}

/// Run up to `n` futures made by `make`, polling them in creation order and starting the
/// next one only when every running one is waiting. Iterations that never wait therefore
/// run one after another on the first worker (the order the service records for them),
/// while iterations that wait (Lambda calls, Wait states) overlap up to `n` at a time, in
/// round-robin order — without creating `n` futures up front.
async fn join_lazily<F, Fut>(n: usize, mut make: F) -> Vec<Fut::Output>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future,
{
    use std::task::Poll;

    let mut running: Vec<Option<std::pin::Pin<Box<Fut>>>> = Vec::new();
    let mut done = Vec::with_capacity(n);
    let mut any_finished = false;
    futures::future::poll_fn(|cx| {
        let mut poll_one =
            |fut: &mut std::pin::Pin<Box<Fut>>, done: &mut Vec<Fut::Output>| match fut
                .as_mut()
                .poll(cx)
            {
                Poll::Ready(out) => {
                    done.push(out);
                    true
                }
                Poll::Pending => false,
            };
        // Each wake polls every running worker once, in creation order.
        for slot in running.iter_mut() {
            if let Some(fut) = slot
                && poll_one(fut, &mut done)
            {
                *slot = None;
                // A worker only returns once no work is left for it, so no new
                // worker is needed after this.
                any_finished = true;
            }
        }
        // While every running worker waits, start (and poll) another one.
        while running.len() < n && !any_finished && running.iter().all(Option::is_some) {
            let mut fut = Box::pin(make());
            if poll_one(&mut fut, &mut done) {
                any_finished = true;
                running.push(None);
            } else {
                running.push(Some(fut));
            }
        }
        if running.iter().all(Option::is_none) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    done
}

impl Run {
    /// One attempt of a Map state's work; returns the array of iteration outputs.
    pub(super) async fn map_attempt(
        &self,
        map: &MapState,
        state: &State,
        effective: &Arc<Value>,
        frame: &mut Frame<'_>,
        sc: &StateCtx,
    ) -> Result<Value, AttemptError> {
        let j = state.jsonata.as_deref();
        let extra = super::jsonata_io::Extra::default();
        let jsonata_integer = |run: &Run,
                               template: Option<&crate::jsonata::JTemplate>,
                               field: &str,
                               frame: &mut Frame<'_>|
         -> Result<Option<usize>, Failure> {
            let Some(t) = template else { return Ok(None) };
            let v = run.jsonata(t, field, effective, extra, frame, sc)?;
            match v.as_f64().filter(|n| *n >= 0.0 && n.fract() == 0.0) {
                Some(n) => Ok(Some(n as usize)),
                None => Err(run.query_error(
                    format!("The {field} field must be a non-negative integer, but was: {v}"),
                    field,
                    frame,
                    sc,
                )),
            }
        };
        let jsonata_concurrency = jsonata_integer(
            self,
            j.and_then(|j| j.max_concurrency.as_ref()),
            "MaxConcurrency",
            frame,
        )?;
        let max_concurrency = match (jsonata_concurrency, &map.max_concurrency) {
            (Some(n), _) => n,
            (None, None) => 0,
            (None, Some(source)) => {
                self.map_integer(source, effective, frame, sc, "MaxConcurrency")?
            }
        };
        // Items failures are reported as failures of the Map (with MapStateFailed).
        let map_failed = |failure: Failure| AttemptError {
            failure,
            from_children: true,
        };
        let jsonata_items = match j.and_then(|j| j.items.as_ref()) {
            Some(t) => {
                let v = self
                    .jsonata(t, "Items", effective, extra, frame, sc)
                    .map_err(map_failed)?;
                if !v.is_array() {
                    return Err(map_failed(self.query_error(
                            format!(
                                "The JSONata expression '{}' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was '{}' for value: {v}",
                                t.expr_text().unwrap_or_default(),
                                super::jsonata_io::type_name(&v)
                            ),
                            "Items",
                            frame,
                            sc,
                        )));
                }
                Some(Arc::new(v))
            }
            None => None,
        };
        if j.is_some() && jsonata_items.is_none() && !effective.is_array() {
            return Err(map_failed(self.query_error(
                format!("Map state input must be an array but was: {effective}"),
                "",
                frame,
                sc,
            )));
        }
        let items_value = match &map.items_path {
            _ if jsonata_items.is_some() => jsonata_items.clone().unwrap_or_default(),
            DataPath::Root => effective.clone(),
            DataPath::Null => Arc::new(Value::Object(Default::default())),
            DataPath::Path(p) => {
                let scope = Scope::new(effective, self, &frame.vars, sc, frame.map_item.as_ref());
                Arc::new(
                    scope
                        .resolve(p)
                        .map_err(|miss| {
                            sc.runtime(format!("Invalid path '{}' : {miss}", p.text()))
                        })?
                        .into_owned(),
                )
            }
        };
        if !items_value.is_array() {
            return Err(sc
                .runtime(format!(
                    "Map state input must be an array but was: {}",
                    items_value
                ))
                .into());
        }
        // Each item becomes a shared value once (moved out when the array is not shared).
        let items: Vec<Arc<Value>> = match Arc::try_unwrap(items_value) {
            Ok(Value::Array(owned)) => owned.into_iter().map(Arc::new).collect(),
            Ok(_) => Vec::new(),
            Err(shared) => shared
                .as_array()
                .map(|a| a.iter().cloned().map(Arc::new).collect())
                .unwrap_or_default(),
        };
        let items = items.as_slice();
        self.emit(
            &mut frame.ev,
            EventDetails::MapStateStarted {
                length: items.len(),
            },
            true,
        );
        let jsonata_tolerated = jsonata_integer(
            self,
            j.and_then(|j| j.tolerated_failure_count.as_ref()),
            "ToleratedFailureCount",
            frame,
        )?;
        let tolerated_count = match &map.tolerated_failure_count {
            _ if jsonata_tolerated.is_some() => jsonata_tolerated.unwrap_or(0),
            None => 0,
            Some(source) => {
                self.map_integer(source, effective, frame, sc, "ToleratedFailureCount")?
            }
        };
        let jsonata_percentage = match j.and_then(|j| j.tolerated_failure_percentage.as_ref()) {
            Some(t) => {
                let v =
                    self.jsonata(t, "ToleratedFailurePercentage", effective, extra, frame, sc)?;
                match v.as_f64().filter(|n| (0.0..=100.0).contains(n)) {
                    Some(n) => Some(n),
                    None => {
                        return Err(self
                            .query_error(
                                format!("The ToleratedFailurePercentage field must be a number between 0 and 100, but was: {v}"),
                                "ToleratedFailurePercentage",
                                frame,
                                sc,
                            )
                            .into());
                    }
                }
            }
            None => None,
        };
        let tolerated_percentage = match &map.tolerated_failure_percentage {
            _ if jsonata_percentage.is_some() => jsonata_percentage.unwrap_or(0.0),
            None => 0.0,
            Some(source) => match self.number(source, effective, frame, sc)? {
                Ok(n) if (0.0..=100.0).contains(&n) => n,
                Ok(_) => {
                    return Err(sc
                        .runtime("ToleratedFailurePercentage must be between 0 and 100.")
                        .into());
                }
                Err((_, Value::String(s)))
                    if s.trim()
                        .parse::<f64>()
                        .is_ok_and(|n| (0.0..=100.0).contains(&n)) =>
                {
                    s.trim().parse::<f64>().unwrap_or(0.0)
                }
                Err((path, v)) => {
                    return Err(sc.runtime(format!(
                        "The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid float: {path}",
                        display_plain(&v)
                    ))
                    .into());
                }
            },
        };

        let workers = if max_concurrency == 0 {
            items.len()
        } else {
            max_concurrency.min(items.len())
        };
        match map.mode {
            MapMode::Inline => {
                let (reports, outputs) = self
                    .run_iterations(map, state, effective, items, workers, frame, sc, true)
                    .await;
                let mut first_failure = None;
                let mut aborted = Vec::new();
                for r in reports {
                    frame.ev.integrate(&r.ev);
                    aborted.extend(r.aborted);
                    for (i, f, current) in r.failures {
                        if first_failure.as_ref().is_none_or(|(j, _, _)| i < *j) {
                            first_failure = Some((i, f, current));
                        }
                    }
                }
                if let Some((_, failure, failed_in)) = first_failure {
                    // The iterations still running when one failed are aborted, as seen
                    // from the Map: each in-flight state, then the iteration.
                    aborted.sort_by_key(|(i, _)| *i);
                    for (index, current) in aborted {
                        if let Some(state_type) = current {
                            self.emit(
                                &mut frame.ev,
                                EventDetails::StateAborted { state_type },
                                false,
                            );
                        }
                        self.emit(
                            &mut frame.ev,
                            EventDetails::MapIterationAborted {
                                name: state.name.clone(),
                                index,
                            },
                            false,
                        );
                    }
                    // A Task that failed the iteration is also closed as aborted (recorded
                    // last by AWS, after the sibling iterations).
                    if failed_in == Some(crate::history::StateType::Task) {
                        self.emit(
                            &mut frame.ev,
                            EventDetails::StateAborted {
                                state_type: crate::history::StateType::Task,
                            },
                            false,
                        );
                    }
                    return Err(AttemptError {
                        failure,
                        from_children: true,
                    });
                }
                self.emit(&mut frame.ev, EventDetails::MapStateSucceeded, false);
                Ok(Value::Array(outputs))
            }
            MapMode::Distributed => {
                let map_run_arn = format!(
                    "arn:aws:states:{}:{}:mapRun:{}/{}:{}",
                    self.spec.region,
                    self.spec.account,
                    self.spec.state_machine_name,
                    map.label
                        .clone()
                        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                    uuid::Uuid::new_v4()
                );
                self.emit(
                    &mut frame.ev,
                    EventDetails::MapRunStarted { map_run_arn },
                    true,
                );
                // Child executions record their own histories, not this one.
                let child = self.child_run();
                let (reports, outputs) = child
                    .run_iterations(map, state, effective, items, workers, frame, sc, false)
                    .await;
                let failures: Vec<Failure> = reports
                    .into_iter()
                    .flat_map(|r| r.failures)
                    .map(|(_, f, _)| f)
                    .collect();
                let exceeded = !failures.is_empty()
                    && (failures.len() > tolerated_count
                        && (items.is_empty()
                            || (failures.len() as f64 * 100.0 / items.len() as f64)
                                > tolerated_percentage));
                if exceeded {
                    let f = Failure::new(
                        names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                        "The specified tolerated failure threshold was exceeded",
                    );
                    self.emit(
                        &mut frame.ev,
                        EventDetails::MapRunFailed {
                            error: f.error.clone(),
                            cause: f.cause.clone(),
                        },
                        true,
                    );
                    return Err(AttemptError {
                        failure: f,
                        from_children: true,
                    });
                }
                self.emit(&mut frame.ev, EventDetails::MapRunSucceeded, true);
                self.emit(&mut frame.ev, EventDetails::MapStateSucceeded, false);
                Ok(Value::Array(outputs))
            }
        }
    }

    /// A non-negative integer field (`MaxConcurrency[Path]`, `ToleratedFailureCount[Path]`).
    fn map_integer(
        &self,
        source: &NumberSource,
        input: &Value,
        frame: &Frame<'_>,
        sc: &StateCtx,
        field: &str,
    ) -> Result<usize, Failure> {
        match self.number(source, input, frame, sc)? {
            Ok(n) if n < 0.0 => Err(sc.runtime(format!("{field} cannot be negative."))),
            Ok(n) if n.fract() == 0.0 => Ok(n as usize),
            Ok(n) => Err(sc.runtime(format!(
                "The {field}Path field refers to value \"{n}\" which is not a valid integer"
            ))),
            // A numeric string is accepted, as the service's JSON binding does.
            Err((_, Value::String(s))) if s.trim().parse::<u64>().is_ok() => {
                Ok(s.trim().parse::<usize>().unwrap_or(usize::MAX))
            }
            // A numeric string is accepted, as the service's JSON binding does.
            Err((_, Value::String(s))) if s.trim().parse::<usize>().is_ok() => {
                Ok(s.trim().parse::<usize>().unwrap_or(usize::MAX))
            }
            Err((path, v)) => Err(sc.runtime(format!(
                "The {field}Path field refers to value \"{}\" which is not a valid integer: {path}",
                display_plain(&v)
            ))),
        }
    }

    /// A copy of this run whose events go nowhere (distributed Map child executions).
    fn child_run(&self) -> Run {
        Run {
            def: self.def.clone(),
            spec: self.spec.clone(),
            clock: self.clock.clone(),
            lambdas: self.lambdas.clone(),
            recorder: Mutex::new(0),
            sink: Arc::new(NullSink),
            context_execution: self.context_execution.clone(),
            context_state_machine: self.context_state_machine.clone(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_iterations(
        &self,
        map: &MapState,
        state: &State,
        effective: &Arc<Value>,
        items: &[Arc<Value>],
        workers: usize,
        frame: &Frame<'_>,
        sc: &StateCtx,
        stop_on_failure: bool,
    ) -> (Vec<WorkerReport>, Vec<Value>) {
        let (cancel, _) = tokio::sync::watch::channel(false);
        let pool = Pool {
            items,
            next: AtomicUsize::new(0),
            outputs: Mutex::new(vec![None; items.len()]),
            cancel,
            stop_on_failure,
        };
        let reports = join_lazily(workers, || {
            self.map_worker(&pool, map, state, effective, frame, sc)
        })
        .await;
        let outputs = pool
            .outputs
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .into_iter()
            .map(|o| {
                o.map(|v| Arc::try_unwrap(v).unwrap_or_else(|a| (*a).clone()))
                    .unwrap_or(Value::Null)
            })
            .collect();
        (reports, outputs)
    }

    /// One worker: takes items until none are left (or the map failed).
    async fn map_worker(
        &self,
        pool: &Pool<'_>,
        map: &MapState,
        state: &State,
        effective: &Arc<Value>,
        frame: &Frame<'_>,
        sc: &StateCtx,
    ) -> WorkerReport {
        let mut worker_ev = frame.ev.child();
        let mut failures = Vec::new();
        let mut aborted = Vec::new();
        let mut cancelled = pool.cancel.subscribe();
        loop {
            if *cancelled.borrow() {
                break;
            }
            let index = pool.next.fetch_add(1, Ordering::SeqCst);
            let Some(item) = pool.items.get(index) else {
                break;
            };
            let item = item.clone();
            let mut job = Frame {
                ev: worker_ev.child(),
                vars: super::frame::Vars::inner(&frame.vars),
                map_item: Some((index, item.clone())),
                current: None,
                entered_text: None,
            };
            self.emit(
                &mut job.ev,
                EventDetails::MapIterationStarted {
                    name: state.name.clone(),
                    index,
                },
                true,
            );
            let jsonata_selector = state
                .jsonata
                .as_deref()
                .and_then(|j| j.item_selector.as_ref());
            let outcome = match &map.item_selector {
                _ if jsonata_selector.is_some() => match jsonata_selector {
                    Some(t) => self
                        .jsonata(
                            t,
                            "ItemSelector",
                            effective,
                            super::jsonata_io::Extra::default(),
                            &mut job,
                            sc,
                        )
                        .map(Arc::new),
                    None => Ok(item),
                },
                Some(t) => {
                    let scope = Scope::new(effective, self, &frame.vars, sc, job.map_item.as_ref());
                    t.render(&scope).map(Arc::new).map_err(|f| sc.locate(f))
                }
                None => Ok(item),
            };
            let outcome = match outcome {
                Ok(input) => {
                    let program = self.program(&map.processor, input, &mut job);
                    tokio::select! {
                        r = program => Some(r),
                        _ = cancelled.wait_for(|c| *c) => None,
                    }
                }
                Err(f) => Some(Err(f)),
            };
            match outcome {
                Some(Ok(output)) => {
                    self.emit(
                        &mut job.ev,
                        EventDetails::MapIterationSucceeded {
                            name: state.name.clone(),
                            index,
                        },
                        false,
                    );
                    if let Ok(mut outputs) = pool.outputs.lock()
                        && let Some(slot) = outputs.get_mut(index)
                    {
                        *slot = Some(output);
                    }
                    worker_ev.integrate(&job.ev);
                    if pool.next.load(Ordering::SeqCst) >= pool.items.len() {
                        // The last iteration's success event is where the Map continues from.
                        worker_ev.source = job.ev.last;
                    }
                }
                Some(Err(f)) => {
                    if pool.stop_on_failure {
                        // Let siblings that finish at the same instant record their own
                        // outcome first; if one of them already failed the Map, this
                        // iteration is aborted rather than failed (as recorded by AWS for
                        // simultaneous task timeouts).
                        yield_once().await;
                        if *cancelled.borrow() {
                            aborted.push((index, job.current));
                            break;
                        }
                    }
                    self.emit(
                        &mut job.ev,
                        EventDetails::MapIterationFailed {
                            name: state.name.clone(),
                            index,
                        },
                        false,
                    );
                    worker_ev.integrate(&job.ev);
                    failures.push((index, f, job.current));
                    if pool.stop_on_failure {
                        let _ = pool.cancel.send(true);
                        break;
                    }
                }
                None => {
                    // Another iteration failed: this one is aborted where it stands. The
                    // Map records the abort (after the failure), not the iteration.
                    aborted.push((index, job.current));
                    break;
                }
            }
        }
        WorkerReport {
            ev: worker_ev,
            failures,
            aborted,
        }
    }
}
