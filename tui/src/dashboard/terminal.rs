//! Entering and leaving the terminal's full-screen mode, so that it is always restored: on
//! quit and on error (the session's `Drop`), and on a panic of the UI thread (the panic
//! hook restores first, then prints the panic on the normal screen).
//!
//! A panic on another thread (a background backend task) must not restore the terminal
//! under a dashboard that keeps running, nor print over its screen: the hook records the
//! message instead; the worker turns it into an error toast, and the messages are printed
//! after the terminal is restored. Log output (tracing) is routed to a file while the
//! dashboard owns the screen, see [`stderr_unless_tui`].

use std::fs::File;
use std::io::{self, Stdout, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};
use std::thread::{self, ThreadId};

use base64::Engine;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

static ACTIVE: AtomicBool = AtomicBool::new(false);
static MOUSE: AtomicBool = AtomicBool::new(false);
static UI_THREAD: Mutex<Option<ThreadId>> = Mutex::new(None);
static BACKGROUND_PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static LOG_FILE: Mutex<Option<File>> = Mutex::new(None);
static HOOK: Once = Once::new();

/// Why this process cannot draw the dashboard, if it cannot: checked before anything touches
/// the screen, so a dashboard started from a script or a pipe says so in one line instead of
/// writing escape codes into a file.
pub fn unusable_terminal() -> Option<&'static str> {
    use std::io::IsTerminal;
    terminal_problem(
        io::stdout().is_terminal(),
        io::stdin().is_terminal(),
        std::env::var("TERM").ok().as_deref(),
    )
}

/// [`unusable_terminal`] for given facts.
pub fn terminal_problem(
    stdout_is_tty: bool,
    stdin_is_tty: bool,
    term: Option<&str>,
) -> Option<&'static str> {
    if !stdout_is_tty {
        Some(
            "stdout is not a terminal: the dashboard draws on one (in scripts use `scones run` and `scones eval`)",
        )
    } else if !stdin_is_tty {
        Some("stdin is not a terminal: the dashboard reads its keys from one")
    } else if term == Some("dumb") {
        Some(
            "TERM=dumb cannot draw the dashboard: run it in a terminal emulator (TERM=xterm-256color or similar)",
        )
    } else {
        None
    }
}

/// The dashboard's hold on the terminal; dropping it restores the terminal.
pub struct TerminalSession {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalSession {
    /// Raw mode, alternate screen, hidden cursor, and mouse capture if `mouse`. Log lines
    /// go to `log_file` (appended) until the session ends.
    pub fn enter(mouse: bool, log_file: Option<&Path>) -> io::Result<TerminalSession> {
        install_panic_hook();
        if let Some(path) = log_file
            && let Ok(file) = File::options().create(true).append(true).open(path)
            && let Ok(mut slot) = LOG_FILE.lock()
        {
            *slot = Some(file);
        }
        if let Ok(mut ui) = UI_THREAD.lock() {
            *ui = Some(thread::current().id());
        }
        MOUSE.store(mouse, Ordering::SeqCst);
        ACTIVE.store(true, Ordering::SeqCst);
        let setup = (|| {
            enable_raw_mode()?;
            let mut out = io::stdout();
            execute!(out, EnterAlternateScreen, cursor::Hide)?;
            if mouse {
                execute!(out, EnableMouseCapture)?;
            }
            Terminal::new(CrosstermBackend::new(io::stdout()))
        })();
        match setup {
            Ok(terminal) => Ok(TerminalSession { terminal }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }

    /// The ratatui terminal.
    pub fn terminal(&mut self) -> &mut Terminal<CrosstermBackend<Stdout>> {
        &mut self.terminal
    }

    /// Puts `text` on the clipboard of the terminal (and of tmux's outer terminal) with
    /// OSC 52.
    pub fn copy_to_clipboard(&mut self, text: &str) -> io::Result<()> {
        let sequence = osc52(text, std::env::var_os("TMUX").is_some());
        let out = self.terminal.backend_mut();
        out.write_all(sequence.as_bytes())?;
        out.flush()
    }
}

impl Drop for TerminalSession {
    fn drop(&mut self) {
        restore();
        for message in take_background_panics() {
            // Not eprintln!: it panics when stderr cannot be written.
            let _ = writeln!(
                io::stderr(),
                "scones dashboard: a background task panicked: {message}"
            );
        }
    }
}

/// The OSC 52 "set clipboard" sequence for `text`, wrapped for tmux passthrough when
/// `tmux` is set.
pub fn osc52(text: &str, tmux: bool) -> String {
    let payload = base64::engine::general_purpose::STANDARD.encode(text);
    if tmux {
        format!("\x1bPtmux;\x1b\x1b]52;c;{payload}\x07\x1b\\")
    } else {
        format!("\x1b]52;c;{payload}\x07")
    }
}

/// Leaves full-screen mode if the dashboard is in it. Idempotent; errors are ignored
/// because there is nothing better to do with a terminal that refuses to be restored.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = io::stdout();
    if MOUSE.load(Ordering::SeqCst) {
        let _ = execute!(out, DisableMouseCapture);
    }
    let _ = execute!(out, LeaveAlternateScreen, cursor::Show);
    let _ = disable_raw_mode();
    if let Ok(mut slot) = LOG_FILE.lock() {
        *slot = None;
    }
}

/// True while the dashboard owns the terminal.
pub fn is_active() -> bool {
    ACTIVE.load(Ordering::SeqCst)
}

/// Panic messages of background threads recorded while the dashboard was active.
pub fn take_background_panics() -> Vec<String> {
    BACKGROUND_PANICS
        .lock()
        .map(|mut v| std::mem::take(&mut *v))
        .unwrap_or_default()
}

fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let on_ui_thread = UI_THREAD
                .lock()
                .map(|ui| *ui == Some(thread::current().id()))
                .unwrap_or(true);
            if is_active() && !on_ui_thread {
                if let Ok(mut v) = BACKGROUND_PANICS.lock() {
                    v.push(info.to_string());
                }
                return;
            }
            restore();
            previous(info);
        }));
    });
}

/// A writer for log output: stderr normally; while the dashboard owns the terminal, the
/// log file given to [`TerminalSession::enter`] (or nowhere), so logs never scribble over
/// the screen. Use as `tracing_subscriber::fmt().with_writer(stderr_unless_tui)`.
pub fn stderr_unless_tui() -> LogWriter {
    LogWriter
}

/// See [`stderr_unless_tui`].
#[derive(Debug, Clone, Copy)]
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !is_active() {
            return io::stderr().write(buf);
        }
        match LOG_FILE.lock() {
            Ok(mut slot) => match slot.as_mut() {
                // The formatter colours for the terminal it started on; a file gets the
                // text without the escape codes.
                Some(file) => file.write_all(&strip_ansi(buf)).map(|()| buf.len()),
                None => Ok(buf.len()),
            },
            Err(_) => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if !is_active() {
            return io::stderr().flush();
        }
        Ok(())
    }
}

/// `bytes` without ANSI escape sequences (CSI `ESC [ ... final`, the colours and styles a
/// log formatter writes).
fn strip_ansi(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == 0x1b && bytes.get(i + 1) == Some(&b'[') {
            i += 2;
            // Parameters and intermediates, then one final byte in @..~.
            while i < bytes.len() && !(0x40..=0x7e).contains(&bytes[i]) {
                i += 1;
            }
            i += 1;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_lose_their_colour_codes_and_nothing_else() {
        let coloured = b"\x1b[2m2026-12-04T05:00:00Z\x1b[0m \x1b[32m INFO\x1b[0m \x1b[2mscones\x1b[0m: dashboard on AWS";
        assert_eq!(
            String::from_utf8(strip_ansi(coloured)).unwrap(),
            "2026-12-04T05:00:00Z  INFO scones: dashboard on AWS"
        );
        assert_eq!(strip_ansi(b"plain [text] \x1b"), b"plain [text] \x1b");
        assert_eq!(strip_ansi(b"cut \x1b[3"), b"cut ");
    }

    #[test]
    fn a_pipe_a_missing_tty_or_a_dumb_terminal_cannot_draw() {
        assert!(terminal_problem(false, true, Some("xterm")).is_some_and(|p| p.contains("stdout")));
        assert!(terminal_problem(true, false, Some("xterm")).is_some_and(|p| p.contains("stdin")));
        assert!(
            terminal_problem(true, true, Some("dumb")).is_some_and(|p| p.contains("TERM=dumb"))
        );
        assert_eq!(terminal_problem(true, true, Some("xterm-256color")), None);
        assert_eq!(terminal_problem(true, true, None), None);
    }

    #[test]
    fn osc52_encodes_base64_and_wraps_for_tmux() {
        assert_eq!(osc52("hi", false), "\x1b]52;c;aGk=\x07");
        assert_eq!(osc52("hi", true), "\x1bPtmux;\x1b\x1b]52;c;aGk=\x07\x1b\\");
    }
}
