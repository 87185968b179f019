//! What a path can read while a state runs: the state input (`$`), the context object
//! (`$$`) and workflow variables (`$name`).

use std::borrow::Cow;

use serde_json::Value;

use crate::path::{Path, PathMiss};

/// Resolves compiled paths against the data of the running state.
pub trait PathResolver {
    /// The value `path` selects from the root it names.
    fn resolve(&self, path: &Path) -> Result<Cow<'_, Value>, PathMiss>;
    /// The value `$` designates (quoted in error causes).
    fn input(&self) -> &Value;
}

/// A resolver over a plain value: `$` is `input`, and there is no context object or
/// variable (used for ResultSelector, whose `$` is the task result, in tests, and for
/// conditions evaluated outside an execution).
pub struct ValueResolver<'a> {
    /// The value of `$`.
    pub input: &'a Value,
    /// The context object, if any.
    pub context: Option<&'a Value>,
}

impl PathResolver for ValueResolver<'_> {
    fn resolve(&self, path: &Path) -> Result<Cow<'_, Value>, PathMiss> {
        match path.root() {
            crate::path::PathRoot::Input => path.select(self.input),
            crate::path::PathRoot::Context => match self.context {
                Some(ctx) => path.select(ctx),
                None => Err(PathMiss::NoResults {
                    normalized: path.text().to_owned(),
                }),
            },
            crate::path::PathRoot::Variable(_) => Err(PathMiss::NoResults {
                normalized: path.text().to_owned(),
            }),
        }
    }

    fn input(&self) -> &Value {
        self.input
    }
}
