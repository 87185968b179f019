//! Progress of long operations (downloading, staging, training), reported to whoever drives
//! them. The library never draws anything: the CLI renders this with progress bars, a
//! dashboard can show a gauge, tests ignore it.

/// Receives progress. Calls come from the thread doing the work, in order:
/// `begin`, any number of `advance`, then `end`; a phase may be followed by another.
pub trait Progress: Send + Sync {
    /// A new phase starts; `total` is its size in units (bytes, images) when known.
    fn begin(&self, phase: &str, total: Option<u64>);
    /// `delta` more units are done.
    fn advance(&self, delta: u64);
    /// The current phase is over.
    fn end(&self);
}

/// Progress that goes nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn begin(&self, _phase: &str, _total: Option<u64>) {}
    fn advance(&self, _delta: u64) {}
    fn end(&self) {}
}
