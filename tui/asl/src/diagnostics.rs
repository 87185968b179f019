//! The problems a definition can have, each located by a JSON pointer: the leaf module that
//! the parser (`definition/`) and the expression compilers it calls (`choice`, `jsonata`,
//! `payload`) all report into, so none of them depends on another for its error type.

use std::fmt;

/// What kind of problem a [`ValidationError`] is (stable names for callers and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValidationErrorKind {
    /// The text is not JSON.
    InvalidJson,
    /// A required field is absent.
    MissingField,
    /// A field the state type (or object) does not have.
    UnknownField,
    /// A field with a value of the wrong JSON type.
    InvalidType,
    /// A field whose value is out of range or otherwise invalid.
    InvalidValue,
    /// `Next`/`Default`/`StartAt` names a state that does not exist.
    UnknownNext,
    /// A state has neither `Next` nor `End` (or both).
    MissingNext,
    /// No path leads from `StartAt` to this state.
    UnreachableState,
    /// No state can end the (sub-)machine.
    NoTerminalState,
    /// A malformed JSONPath.
    InvalidPath,
    /// A malformed reference path (`ResultPath`).
    InvalidReferencePath,
    /// A malformed intrinsic function call.
    InvalidIntrinsic,
    /// A Task resource this engine cannot run locally.
    UnsupportedResource,
    /// A language feature this engine does not implement.
    UnsupportedFeature,
}

/// One problem in a definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// JSON pointer (RFC 6901) to the offending value, e.g. `/States/Start/Next`.
    pub pointer: String,
    /// The kind of problem.
    pub kind: ValidationErrorKind,
    /// A readable explanation.
    pub message: String,
}

impl ValidationError {
    /// A new error.
    pub fn new(pointer: &str, kind: ValidationErrorKind, message: impl Into<String>) -> Self {
        Self {
            pointer: pointer.to_owned(),
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "{at}: {:?}: {}", self.kind, self.message)
    }
}

/// Every problem found in a definition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors {
    /// The problems, in document order.
    pub errors: Vec<ValidationError>,
}

impl ValidationErrors {
    pub(crate) fn single(e: ValidationError) -> Self {
        Self { errors: vec![e] }
    }

    /// True if some error has this kind.
    pub fn has(&self, kind: ValidationErrorKind) -> bool {
        self.errors.iter().any(|e| e.kind == kind)
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "invalid state machine definition ({} problem{}):",
            self.errors.len(),
            if self.errors.len() == 1 { "" } else { "s" }
        )?;
        for e in &self.errors {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

/// Escape a key for use in a JSON pointer (RFC 6901).
pub fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
