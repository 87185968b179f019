//! Pass states (JSONPath): Parameters, Result, ResultPath.

use std::sync::Arc;

use serde_json::Value;

use super::Run;
use super::frame::{Frame, StateCtx};
use super::state::{Assigned, Flow};
use crate::definition::{PassState, ResultPathSpec, State};
use crate::error::Failure;

impl Run {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn pass(
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
}
