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
        r.s3_key,
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
        Some(id) => format!("{}\tNOT FINISHED\t{id}: {}", n.s3_key, n.error),
        None => format!("{}\tNOT STARTED\t{}", n.s3_key, n.error),
    }
}
