//! Choice states: the first matching rule (JSONPath rules or JSONata `Condition`)
//! chooses the next state; otherwise `Default`, otherwise `States.NoChoiceMatched`.

use std::sync::Arc;

use serde_json::Value;

use super::Run;
use super::frame::{Frame, Scope, StateCtx};
use super::state::{Assigned, Flow, assign_object};
use crate::definition::{ChoiceState, State};
use crate::error::{Failure, names};

impl Run {
    pub(super) fn choice(
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

    pub(super) fn choice_jsonata(
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
}
