//! What `scones run` prints, the same for every backend: one line per execution as it ends,
//! then the summary ([`scones_workflow::run::RunSummary`]'s `Display`).

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

/// `key  NOT FINISHED  what went wrong` (on stderr).
pub fn not_finished_line(n: &NotFinished) -> String {
    match &n.execution {
        Some(id) => format!("{}\tNOT FINISHED\t{id}: {}", escaped(&n.s3_key), n.error),
        None => format!("{}\tNOT STARTED\t{}", escaped(&n.s3_key), n.error),
    }
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

    #[test]
    fn control_characters_in_keys_are_escaped() {
        assert_eq!(escaped("test/a.png"), "test/a.png");
        assert_eq!(escaped("a\tb\x1b[31mc\n"), "a\\tb\\u{1b}[31mc\\n");
        assert_eq!(escaped("vélo/ü.png"), "vélo/ü.png");
    }
}
