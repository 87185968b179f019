//! What `scones run` prints, the same for every backend: one line per execution as it ends,
//! then the summary ([`scones_workflow::run::RunSummary`]'s `Display`).

use scones_workflow::port::BackendError;
use scones_workflow::run::{ExecutionResult, NotFinished};

/// `key  STATUS  error  [p_bicycle, p_motorcycle]  ms  name`
pub fn line(r: &ExecutionResult) -> String {
    let scores = r
        .scores
        .map(|[b, m]| format!("[{b:.4}, {m:.4}]"))
        .unwrap_or_else(|| "-".into());
    format!(
        "{}\t{}\t{}\t{}\t{:.1} ms\t{}",
        escaped(&r.s3_key),
        r.status,
        r.error.as_deref().unwrap_or("-"),
        scores,
        r.duration.as_secs_f64() * 1e3,
        r.name
    )
}

/// `key  NOT FINISHED  what went wrong` (on stderr); `MAY START` for a start that got no
/// answer (it may still run when the service recovers).
pub fn not_finished_line(n: &NotFinished) -> String {
    let key = escaped(&n.s3_key);
    match &n.execution {
        Some(id) => format!("{key}\tNOT FINISHED\t{id}: {}", n.error),
        None if may_start(n) => format!("{key}\tMAY START\t{}", n.error),
        None => format!("{key}\tNOT STARTED\t{}", n.error),
    }
}

/// An execution whose start got no answer: it may still run when the service recovers.
fn may_start(n: &NotFinished) -> bool {
    n.execution.is_none() && matches!(n.error, BackendError::Unanswered { .. })
}

/// The count of executions without a result, by what may still happen to them, e.g.
/// `23 without a result: 20 may still start (their start got no answer), 3 not started`;
/// `None` when every execution has one.
pub fn not_finished_summary(not_finished: &[NotFinished]) -> Option<String> {
    if not_finished.is_empty() {
        return None;
    }
    let may_start = not_finished.iter().filter(|n| may_start(n)).count();
    let running = not_finished
        .iter()
        .filter(|n| n.execution.is_some())
        .count();
    let not_started = not_finished.len() - may_start - running;
    let parts: Vec<String> = [
        (
            may_start,
            "may still start (their start got no answer; listed if they do)",
        ),
        (not_started, "not started"),
        (running, "started but not followed to their end"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    Some(format!(
        "{} without a result: {}",
        not_finished.len(),
        parts.join(", ")
    ))
}

/// A key as printed on a line of tab-separated output: a tab, newline, escape code or other
/// control character in it (an S3 key may hold any) is shown escaped (`\t`, `\u{1b}`), so
/// it can neither break the columns nor drive the terminal.
pub fn escaped(key: &str) -> String {
    if key.chars().any(char::is_control) {
        key.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        key.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scones_workflow::port::Operation;

    fn not_finished(execution: Option<&str>, error: BackendError) -> NotFinished {
        NotFinished {
            s3_key: "test/a.png".to_owned(),
            execution: execution.map(scones_workflow::port::ExecutionId::new),
            error,
        }
    }

    /// A start that got no answer may still run (a hung service that recovers): it is said
    /// and counted apart from the starts that were refused.
    #[test]
    fn unanswered_starts_are_said_to_may_start_and_counted() {
        let unanswered = || BackendError::Unanswered {
            operation: Operation::StartExecution,
            message: "no answer in 40s; execution scones-1 may still start".to_owned(),
        };
        let refused = BackendError::failed(Operation::StartExecution, "AccessDenied");
        let lines = [
            not_finished(None, unanswered()),
            not_finished(None, unanswered()),
            not_finished(None, refused),
            not_finished(
                Some("arn:x"),
                BackendError::failed(Operation::DescribeExecution, "lost"),
            ),
        ];
        assert!(not_finished_line(&lines[0]).contains("\tMAY START\t"));
        assert!(not_finished_line(&lines[2]).contains("\tNOT STARTED\t"));
        assert!(not_finished_line(&lines[3]).contains("\tNOT FINISHED\t"));
        assert_eq!(
            not_finished_summary(&lines).as_deref(),
            Some(
                "4 without a result: 2 may still start (their start got no answer; listed if \
                 they do), 1 not started, 1 started but not followed to their end"
            )
        );
        assert_eq!(not_finished_summary(&[]), None);
    }

    #[test]
    fn control_characters_in_keys_are_escaped() {
        assert_eq!(escaped("test/a.png"), "test/a.png");
        assert_eq!(escaped("a\tb\x1b[31mc\n"), "a\\tb\\u{1b}[31mc\\n");
        assert_eq!(escaped("vélo/ü.png"), "vélo/ü.png");
    }
}
