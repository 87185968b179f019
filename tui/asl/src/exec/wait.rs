//! Wait states: Seconds, Timestamp, SecondsPath, TimestampPath (and their JSONata forms)
//! on the execution clock.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::Run;
use super::frame::{Frame, Scope, StateCtx};
use super::state::{Assigned, Flow, display_plain};
use crate::definition::{State, WaitSpec, WaitState};
use crate::error::Failure;
use crate::scope::PathResolver;

impl Run {
    pub(super) async fn wait(
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
}
