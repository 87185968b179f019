//! Terminal output shared by the commands: progress bars and loud notices.

use crate::cli::output::errln;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use scones_local::Progress;

/// Draws each phase of a long operation as an indicatif bar on stderr (hidden when stderr is
/// not a terminal, so logs and tests stay clean).
pub struct BarProgress {
    bar: Mutex<Option<ProgressBar>>,
}

impl BarProgress {
    pub fn new() -> Self {
        BarProgress {
            bar: Mutex::new(None),
        }
    }
}

impl Progress for BarProgress {
    fn begin(&self, phase: &str, total: Option<u64>) {
        let bar = match total {
            Some(n) => ProgressBar::new(n).with_style(
                ProgressStyle::with_template(
                    "{msg:>24} [{bar:30}] {human_pos}/{human_len} ({eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner(),
        };
        let bar = bar.with_message(phase.to_owned());
        if let Ok(mut slot) = self.bar.lock()
            && let Some(old) = slot.replace(bar)
        {
            old.finish_and_clear();
        }
    }

    fn advance(&self, delta: u64) {
        if let Ok(slot) = self.bar.lock()
            && let Some(bar) = slot.as_ref()
        {
            bar.inc(delta);
        }
    }

    fn end(&self) {
        if let Ok(mut slot) = self.bar.lock()
            && let Some(bar) = slot.take()
        {
            bar.finish_and_clear();
        }
    }
}

/// The banner shown whenever the staged data is synthetic: never silently.
pub fn synthetic_banner(reason: Option<&str>) {
    let line = "!".repeat(78);
    errln!("{line}");
    errln!("!! SYNTHETIC DATA: the bucket holds generated images, NOT CIFAR-100.");
    if let Some(reason) = reason {
        errln!("!! {reason}");
    }
    errln!("!! Accuracy and confidence numbers on it say nothing about the real task.");
    errln!("!! Stage real data with --cifar PATH or --images DIR --labels CSV.");
    errln!("{line}");
}
