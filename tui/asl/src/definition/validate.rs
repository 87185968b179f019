//! The graph checks that run after parsing: every `Next` names a state, every state is
//! reachable, and there is a way out. (The errors themselves are in [`crate::diagnostics`].)

use std::sync::Arc;

use crate::diagnostics::{ValidationError, ValidationErrorKind};

/// Reachability and terminal-state checks over a program whose `Next` names were already
/// resolved to indexes (`edges[i]` = states reachable in one step from state `i`).
pub(crate) fn check_reachability(
    names: &[(Arc<str>, String)],
    edges: &[Vec<usize>],
    terminal: &[bool],
    start: usize,
    program_pointer: &str,
    errors: &mut Vec<ValidationError>,
) {
    let mut seen = vec![false; names.len()];
    let mut stack = vec![start];
    while let Some(i) = stack.pop() {
        if i >= seen.len() || std::mem::replace(&mut seen[i], true) {
            continue;
        }
        stack.extend(edges[i].iter().copied());
    }
    for (i, (name, pointer)) in names.iter().enumerate() {
        if !seen[i] {
            errors.push(ValidationError::new(
                pointer,
                ValidationErrorKind::UnreachableState,
                format!("state `{name}` cannot be reached from StartAt"),
            ));
        }
    }
    if !(0..names.len()).any(|i| seen[i] && terminal[i]) {
        errors.push(ValidationError::new(
            program_pointer,
            ValidationErrorKind::NoTerminalState,
            "no reachable state ends the state machine (End, Succeed or Fail)",
        ));
    }
}
