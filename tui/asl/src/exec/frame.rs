//! Per-program evaluation state: event-id bookkeeping, variable scopes, and the resolver
//! that paths read through while a state runs.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::Run;
use crate::error::Failure;
use crate::path::{Path, PathMiss, PathRoot};
use crate::scope::PathResolver;

/// Where the next event of a program "comes from".
///
/// AWS links each event to a previous one (`previousEventId`). Within one program that is
/// the last event that advanced it (`source`); some events (e.g. `MapIterationSucceeded`,
/// `MapStateSucceeded`) are recorded without advancing it. Nested programs (Map
/// iterations, Parallel branches) start from their parent's `source` and, when they end,
/// the parent takes the larger of both (`integrate`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct EvCtx {
    pub source: u64,
    pub last: u64,
}

impl EvCtx {
    /// A context for a nested program starting from this one.
    pub fn child(&self) -> EvCtx {
        EvCtx {
            source: self.source,
            last: self.source,
        }
    }

    /// Take over the progress of a finished nested program.
    pub fn integrate(&mut self, other: &EvCtx) {
        self.source = self.source.max(other.source);
        self.last = self.last.max(other.last);
    }
}

/// Workflow variables of one scope; inner scopes (Map iterations, Parallel branches) read
/// their parents' variables but assign only their own.
#[derive(Debug, Default)]
pub(crate) struct Vars<'p> {
    pub local: HashMap<String, Value>,
    pub parent: Option<&'p Vars<'p>>,
}

impl<'p> Vars<'p> {
    /// A new inner scope.
    pub fn inner(parent: &'p Vars<'p>) -> Vars<'p> {
        Vars {
            local: HashMap::new(),
            parent: Some(parent),
        }
    }

    /// Every visible variable (inner scopes shadow outer ones).
    pub fn visible(&self) -> HashMap<&str, &Value> {
        let mut out = match self.parent {
            Some(p) => p.visible(),
            None => HashMap::new(),
        };
        for (k, v) in &self.local {
            out.insert(k.as_str(), v);
        }
        out
    }

    /// Look a variable up through the scope chain.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self.local.get(name) {
            Some(v) => Some(v),
            None => self.parent.and_then(|p| p.get(name)),
        }
    }
}

/// One running program (top level, branch or iteration).
pub(crate) struct Frame<'p> {
    pub ev: EvCtx,
    pub vars: Vars<'p>,
    /// `$$.Map.Item` inside a Map iteration.
    pub map_item: Option<(usize, Arc<Value>)>,
    /// The state currently running in this program (for `<Type>StateAborted` when the
    /// program is cancelled).
    pub current: Option<crate::history::StateType>,
    /// The exact text to show as the next state's entered input (the execution input as
    /// sent, for the first state).
    pub entered_text: Option<crate::history::Payload>,
}

impl<'p> Frame<'p> {
    /// A nested program's frame: events continue from this frame's source, variables live
    /// in an inner scope.
    pub fn nested<'c>(&'c self, map_item: Option<(usize, Arc<Value>)>) -> Frame<'c>
    where
        'p: 'c,
    {
        Frame {
            ev: self.ev.child(),
            vars: Vars::inner(&self.vars),
            map_item,
            current: None,
            entered_text: None,
        }
    }
}

/// What the context object says about the current state.
#[derive(Debug, Clone)]
pub(crate) struct StateCtx {
    pub name: Arc<str>,
    pub entered_id: u64,
    /// The `previousEventId` of the state's Entered event (where `EvaluationFailed`
    /// links to).
    pub entered_prev: u64,
    /// Formatted only when `$$` is read (formatting every state would cost more than
    /// the rest of a Pass transition).
    pub entered_time: chrono::DateTime<chrono::Utc>,
    /// Present for Task, Map and Parallel states.
    pub retry_count: Option<u64>,
}

impl StateCtx {
    /// Prefix a runtime error with the state's location, as AWS does:
    /// `An error occurred while executing the state 'X' (entered at the event id #N). ...`
    pub fn locate(&self, failure: Failure) -> Failure {
        match (&failure.error, &failure.cause) {
            (Some(e), Some(c))
                if (e == crate::error::names::RUNTIME
                    || e == crate::error::names::INTRINSIC_FAILURE)
                    && !c.starts_with("An error occurred while executing the state") =>
            {
                Failure::new(e.clone(), self.located(c))
            }
            _ => failure,
        }
    }

    /// `cause` with the location prefix.
    pub fn located(&self, cause: &str) -> String {
        format!(
            "An error occurred while executing the state '{}' (entered at the event id #{}). {cause}",
            self.name, self.entered_id
        )
    }

    /// A located `States.Runtime` failure.
    pub fn runtime(&self, cause: impl AsRef<str>) -> Failure {
        Failure::runtime(self.located(cause.as_ref()))
    }
}

/// Resolves paths for one evaluation: `$` is `input`, `$$` the lazily built context
/// object, `$name` a variable.
pub(crate) struct Scope<'s> {
    pub input: &'s Value,
    pub run: &'s Run,
    pub vars: &'s Vars<'s>,
    pub state: &'s StateCtx,
    pub map_item: Option<&'s (usize, Arc<Value>)>,
    context: OnceCell<Value>,
}

impl<'s> Scope<'s> {
    pub fn new(
        input: &'s Value,
        run: &'s Run,
        frame_vars: &'s Vars<'s>,
        state: &'s StateCtx,
        map_item: Option<&'s (usize, Arc<Value>)>,
    ) -> Self {
        Self {
            input,
            run,
            vars: frame_vars,
            state,
            map_item,
            context: OnceCell::new(),
        }
    }

    /// The context object `$$`.
    pub fn context(&self) -> &Value {
        self.context.get_or_init(|| {
            let mut ctx = Map::new();
            ctx.insert("Execution".into(), self.run.context_execution.clone());
            ctx.insert(
                "StateMachine".into(),
                self.run.context_state_machine.clone(),
            );
            let mut state = Map::new();
            state.insert(
                "EnteredTime".into(),
                json!(
                    self.state
                        .entered_time
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                ),
            );
            state.insert("Name".into(), json!(&*self.state.name));
            if let Some(n) = self.state.retry_count {
                state.insert("RetryCount".into(), json!(n));
            }
            ctx.insert("State".into(), Value::Object(state));
            if let Some((index, value)) = self.map_item {
                ctx.insert(
                    "Map".into(),
                    json!({"Item": {"Index": index, "Value": &**value}}),
                );
            }
            Value::Object(ctx)
        })
    }
}

impl PathResolver for Scope<'_> {
    fn resolve(&self, path: &Path) -> Result<Cow<'_, Value>, PathMiss> {
        match path.root() {
            PathRoot::Input => path.select(self.input),
            PathRoot::Context => path.select(self.context()),
            PathRoot::Variable(name) => match self.vars.get(name) {
                Some(v) => path.select(v),
                None => Err(PathMiss::NoResults {
                    normalized: format!("${name}"),
                }),
            },
        }
    }

    fn input(&self) -> &Value {
        self.input
    }
}
