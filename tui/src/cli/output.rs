//! What the commands print, and how they end when printing fails.
//!
//! Every line on stdout goes through [`outln!`] (or a locked, checked writer), never
//! `println!`, which panics on a closed pipe or a full disk. A closed reader (`| head`) ends
//! the command quietly with [`EXIT_OUTPUT_CLOSED`], as a Unix tool killed by SIGPIPE would;
//! any other write error (`> /dev/full`) is reported and the exit status is non-zero.

use std::fmt;
use std::io::{self, Write};

/// Exit status after Ctrl-C (128 + SIGINT), as shells report it.
pub const EXIT_INTERRUPTED: u8 = 130;
/// Exit status when stdout's reader went away (128 + SIGPIPE), as shells report it.
pub const EXIT_OUTPUT_CLOSED: u8 = 141;

/// Writes one line to stdout; a failure is the command's error.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::output::line(format_args!($($arg)*))
    };
}
pub(crate) use outln;

/// Writes one line to stderr, ignoring failure (with stderr gone too there is nowhere left to
/// say anything); unlike `eprintln!`, never panics.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
pub(crate) use errln;

/// See [`outln!`].
pub fn line(args: fmt::Arguments<'_>) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    out.write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .map_err(stdout_error)
}

/// Flushes stdout (what is still buffered when a command returns).
pub fn flush() -> anyhow::Result<()> {
    io::stdout().flush().map_err(stdout_error)
}

/// An error writing stdout, as the command's error.
pub fn stdout_error(e: io::Error) -> anyhow::Error {
    anyhow::Error::new(e).context("cannot write to stdout")
}

/// True when `error` comes from stdout's reader having gone away.
pub fn is_closed_output(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes on one line, each cause once: libraries often repeat their
/// source in their own message (`cannot create X: File exists (os error 17)` caused by
/// `File exists (os error 17)`), and printing the chain as is says it twice.
pub fn message(error: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// What to do about `error`, when its cause says more than its words: a full disk shows as
/// `No space left on device`, SQLite's `database or disk is full`, or (when the store's
/// shared-memory file cannot grow) `disk I/O error ... xShmMap`, none of which says "disk
/// full, free space" to everyone.
pub fn hint(error: &anyhow::Error) -> Option<&'static str> {
    let full_io = error.chain().any(|cause| {
        cause.downcast_ref::<io::Error>().is_some_and(|e| {
            matches!(
                e.kind(),
                io::ErrorKind::StorageFull
                    | io::ErrorKind::FileTooLarge
                    | io::ErrorKind::QuotaExceeded
            )
        })
    });
    let text = message(error);
    let full_text = [
        "No space left on device",
        "database or disk is full",
        "xShmMap",
        "File too large",
    ]
    .iter()
    .any(|t| text.contains(t));
    (full_io || full_text).then_some(
        "the disk (or the file size limit) is full: free space, e.g. `scones gc --older-than 7d` \
         removes old executions, then run the command again; nothing half-written was kept",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_is_said_once() {
        let io = io::Error::new(io::ErrorKind::AlreadyExists, "File exists (os error 17)");
        let inner =
            anyhow::Error::new(io).context("cannot create /h/bucket: File exists (os error 17)");
        let outer = inner.context("cannot set up the home /h");
        assert_eq!(
            message(&outer),
            "cannot set up the home /h: cannot create /h/bucket: File exists (os error 17)"
        );
        let plain = anyhow::anyhow!("no model").context("scones run");
        assert_eq!(message(&plain), "scones run: no model");
        assert_eq!(hint(&plain), None);
    }

    #[test]
    fn a_full_disk_says_so_whatever_reported_it() {
        let io = anyhow::Error::new(io::Error::from(io::ErrorKind::StorageFull)).context("train");
        assert!(hint(&io).is_some());
        let sqlite = anyhow::anyhow!("disk I/O error (xShmMap) on /h/scones.sqlite3");
        assert!(hint(&sqlite).unwrap().contains("scones gc"));
    }

    #[test]
    fn a_broken_pipe_anywhere_in_the_chain_is_a_closed_output() {
        let e = stdout_error(io::Error::from(io::ErrorKind::BrokenPipe)).context("eval");
        assert!(is_closed_output(&e));
        let full = stdout_error(io::Error::from(io::ErrorKind::StorageFull));
        assert!(!is_closed_output(&full));
        assert_eq!(
            message(&full),
            format!(
                "cannot write to stdout: {}",
                io::Error::from(io::ErrorKind::StorageFull)
            )
        );
    }
}
