//! Fault injection: a share of the dashboard's backend calls fail, are throttled or panic,
//! for testing that the dashboard survives a misbehaving service. It also counts calls per
//! operation, which is how the benchmarks measure calls per refresh.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use scones_workflow::port::{BackendError, BackendResult, Operation};

/// What to inject, as shares of calls in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultPlan {
    /// Share of calls answered with [`BackendError::Failed`].
    pub fail: f64,
    /// Share of calls answered with [`BackendError::Throttled`].
    pub throttle: f64,
    /// Share of calls that panic.
    pub panic: f64,
}

impl FaultPlan {
    /// No faults: a pure call counter.
    pub const NONE: FaultPlan = FaultPlan {
        fail: 0.0,
        throttle: 0.0,
        panic: 0.0,
    };
}

/// Counts of what happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Calls per operation.
    pub calls: BTreeMap<Operation, u64>,
    /// Injected failures.
    pub failed: u64,
    /// Injected throttles.
    pub throttled: u64,
    /// Injected panics.
    pub panicked: u64,
}

impl FaultStats {
    /// All calls.
    pub fn total_calls(&self) -> u64 {
        self.calls.values().sum()
    }
}

enum Fault {
    Fail,
    Throttle,
    Panic,
}

/// Injects faults into the calls the dashboard's worker makes, per a [`FaultPlan`] that can
/// be changed at any time, and counts the calls. It sits in the worker (see
/// [`crate::dashboard::worker::Worker::with_faults`]), in front of any backend, so no
/// backend needs a wrapper.
pub struct Faults {
    plan: Mutex<FaultPlan>,
    enabled: AtomicBool,
    rng: Mutex<StdRng>,
    stats: Mutex<FaultStats>,
}

impl Faults {
    /// Faults drawn from a seeded RNG so runs are repeatable.
    pub fn new(plan: FaultPlan, seed: u64) -> Self {
        Faults {
            plan: Mutex::new(plan),
            enabled: AtomicBool::new(true),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            stats: Mutex::new(FaultStats::default()),
        }
    }

    /// Turns injection on or off (calls are still counted).
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::SeqCst);
    }

    /// What happened so far.
    pub fn stats(&self) -> FaultStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Resets the counters.
    pub fn reset_stats(&self) {
        if let Ok(mut s) = self.stats.lock() {
            *s = FaultStats::default();
        }
    }

    fn draw(&self, operation: Operation) -> Option<Fault> {
        let plan = self.plan.lock().map(|p| *p).unwrap_or(FaultPlan::NONE);
        let roll: f64 = self.rng.lock().map(|mut r| r.random()).unwrap_or(1.0);
        let fault = if !self.enabled.load(Ordering::SeqCst) {
            None
        } else if roll < plan.panic {
            Some(Fault::Panic)
        } else if roll < plan.panic + plan.throttle {
            Some(Fault::Throttle)
        } else if roll < plan.panic + plan.throttle + plan.fail {
            Some(Fault::Fail)
        } else {
            None
        };
        if let Ok(mut s) = self.stats.lock() {
            *s.calls.entry(operation).or_default() += 1;
            match fault {
                Some(Fault::Fail) => s.failed += 1,
                Some(Fault::Throttle) => s.throttled += 1,
                Some(Fault::Panic) => s.panicked += 1,
                None => {}
            }
        }
        fault
    }

    /// Counts a call of `operation` and decides its fate: `Ok` to make it, an error to
    /// answer instead; panics when the plan says so (the worker turns that into
    /// [`BackendError::TaskCrashed`]).
    pub fn gate(&self, operation: Operation) -> BackendResult<()> {
        match self.draw(operation) {
            None => Ok(()),
            Some(Fault::Fail) => Err(BackendError::Failed {
                operation,
                message: "injected failure".to_owned(),
            }),
            Some(Fault::Throttle) => Err(BackendError::Throttled {
                operation,
                message: "Rate exceeded (injected)".to_owned(),
            }),
            Some(Fault::Panic) => panic!("injected panic in {operation}"),
        }
    }
}
