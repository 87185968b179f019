//! Parallel states: every branch runs concurrently on the same input; the first failure
//! aborts the others.

use std::sync::Arc;

use serde_json::Value;

use super::Run;
use super::frame::{EvCtx, Frame, StateCtx};
use super::state::AttemptError;
use crate::definition::ParallelState;
use crate::error::Failure;
use crate::history::EventDetails;

/// A branch's event context and outcome (`None` when it was cancelled).
type BranchResult = (EvCtx, Option<Result<Arc<Value>, Failure>>);

impl Run {
    /// One attempt of a Parallel state's work; returns the array of branch outputs.
    pub(super) async fn parallel_attempt(
        &self,
        parallel: &ParallelState,
        state: &crate::definition::State,
        effective: &Arc<Value>,
        frame: &mut Frame<'_>,
        sc: &StateCtx,
    ) -> Result<Value, AttemptError> {
        self.emit(&mut frame.ev, EventDetails::ParallelStateStarted, true);
        let arguments = state.jsonata.as_deref().and_then(|j| j.arguments.as_ref());
        let input = match (arguments, &parallel.parameters) {
            (Some(t), _) => Arc::new(self.jsonata(
                t,
                "Arguments",
                effective,
                super::jsonata_io::Extra::default(),
                frame,
                sc,
            )?),
            (None, Some(t)) => Arc::new(self.render(t, effective, frame, sc)?),
            (None, None) => effective.clone(),
        };
        let (cancel, _) = tokio::sync::watch::channel(false);
        let results: Vec<BranchResult> = {
            let parent: &Frame<'_> = frame;
            futures::future::join_all(parallel.branches.iter().map(|branch| {
                let input = input.clone();
                let cancel = &cancel;
                async move {
                    let mut child = parent.nested(parent.map_item.clone());
                    let mut cancelled = cancel.subscribe();
                    let outcome = {
                        let program = self.program(branch, input, &mut child);
                        tokio::select! {
                            r = program => Some(r),
                            _ = cancelled.wait_for(|c| *c) => None,
                        }
                    };
                    match &outcome {
                        Some(Err(_)) => {
                            // A Task that failed the branch is closed as aborted when the
                            // Parallel fails (as recorded by AWS).
                            if child.current == Some(crate::history::StateType::Task) {
                                self.emit(
                                    &mut child.ev,
                                    EventDetails::StateAborted {
                                        state_type: crate::history::StateType::Task,
                                    },
                                    false,
                                );
                            }
                            let _ = cancel.send(true);
                        }
                        None => {
                            if let Some(t) = child.current {
                                self.emit(
                                    &mut child.ev,
                                    EventDetails::StateAborted { state_type: t },
                                    false,
                                );
                            }
                        }
                        Some(Ok(_)) => {}
                    }
                    (child.ev, outcome)
                }
            }))
            .await
        };
        let mut outputs = Vec::with_capacity(results.len());
        let mut failure = None;
        for (ev, outcome) in results {
            frame.ev.integrate(&ev);
            match outcome {
                Some(Ok(v)) => outputs.push(Arc::try_unwrap(v).unwrap_or_else(|a| (*a).clone())),
                Some(Err(f)) => {
                    failure.get_or_insert(f);
                }
                None => {}
            }
        }
        if let Some(failure) = failure {
            return Err(AttemptError {
                failure,
                from_children: true,
            });
        }
        self.emit(&mut frame.ev, EventDetails::ParallelStateSucceeded, false);
        Ok(Value::Array(outputs))
    }
}
