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
    failures: Vec<(usize, Failure)>,
}

/// Shared between the workers of one Map run.
struct Pool<'a> {
    items: &'a [Value],
    next: AtomicUsize,
    outputs: Mutex<Vec<Option<Arc<Value>>>>,
    cancel: tokio::sync::watch::Sender<bool>,
    /// Inline maps stop at the first failure; distributed maps run every item.
    stop_on_failure: bool,
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
        let max_concurrency = match &map.max_concurrency {
            None => 0,
            Some(source) => self.map_integer(source, effective, frame, sc, "MaxConcurrency")?,
        };
        let items_value = match &map.items_path {
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
        let Value::Array(items) = &*items_value else {
            return Err(sc
                .runtime(format!(
                    "Map state input must be an array but was: {}",
                    items_value
                ))
                .into());
        };
        self.emit(
            &mut frame.ev,
            EventDetails::MapStateStarted {
                length: items.len(),
            },
            true,
        );
        let tolerated_count = match &map.tolerated_failure_count {
            None => 0,
            Some(source) => {
                self.map_integer(source, effective, frame, sc, "ToleratedFailureCount")?
            }
        };
        let tolerated_percentage = match &map.tolerated_failure_percentage {
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
                for r in reports {
                    frame.ev.integrate(&r.ev);
                    for (i, f) in r.failures {
                        if first_failure.as_ref().is_none_or(|(j, _)| i < *j) {
                            first_failure = Some((i, f));
                        }
                    }
                }
                if let Some((_, failure)) = first_failure {
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
                    .map(|(_, f)| f)
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
        items: &[Value],
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
        let reports = futures::future::join_all(
            (0..workers).map(|_| self.map_worker(&pool, map, state, effective, frame, sc)),
        )
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
        let mut cancelled = pool.cancel.subscribe();
        loop {
            if *cancelled.borrow() {
                break;
            }
            let index = pool.next.fetch_add(1, Ordering::SeqCst);
            let Some(item) = pool.items.get(index) else {
                break;
            };
            let item = Arc::new(item.clone());
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
            let outcome = match &map.item_selector {
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
                    self.emit(
                        &mut job.ev,
                        EventDetails::MapIterationFailed {
                            name: state.name.clone(),
                            index,
                        },
                        false,
                    );
                    worker_ev.integrate(&job.ev);
                    failures.push((index, f));
                    if pool.stop_on_failure {
                        let _ = pool.cancel.send(true);
                        break;
                    }
                }
                None => {
                    // Another iteration failed: this one is aborted where it stands.
                    if let Some(t) = job.current {
                        self.emit(
                            &mut job.ev,
                            EventDetails::StateAborted { state_type: t },
                            false,
                        );
                    }
                    self.emit(
                        &mut job.ev,
                        EventDetails::MapIterationAborted {
                            name: state.name.clone(),
                            index,
                        },
                        false,
                    );
                    worker_ev.integrate(&job.ev);
                    break;
                }
            }
        }
        WorkerReport {
            ev: worker_ev,
            failures,
        }
    }
}
