//! A backend wrapper that fails, throttles or panics on a share of calls, for testing that
//! the dashboard survives a misbehaving service. It also counts calls per operation, which
//! is how the benchmarks measure calls per refresh.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::dashboard::backend::{
    Backend, BackendError, BackendInfo, BackendResult, CapturePoint, Cursor, EndpointInfo,
    EndpointMetrics, ExecutionDelta, ExecutionId, ExecutionSummary, HistoryEvent, LogLine,
    LowConfidenceFailure, RecordLink, TimeRange,
};

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
    pub calls: BTreeMap<&'static str, u64>,
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

/// Wraps a backend and injects faults per a [`FaultPlan`] that can be changed at any time.
pub struct FaultyBackend<B> {
    inner: B,
    plan: Mutex<FaultPlan>,
    enabled: AtomicBool,
    rng: Mutex<StdRng>,
    stats: Mutex<FaultStats>,
}

impl<B: Backend> FaultyBackend<B> {
    /// Wraps `inner`; faults drawn from a seeded RNG so runs are repeatable.
    pub fn new(inner: B, plan: FaultPlan, seed: u64) -> Self {
        FaultyBackend {
            inner,
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

    /// Replaces the plan.
    pub fn set_plan(&self, plan: FaultPlan) {
        if let Ok(mut p) = self.plan.lock() {
            *p = plan;
        }
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

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    fn draw(&self, operation: &'static str) -> Option<Fault> {
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

    fn gate(&self, operation: &'static str) -> BackendResult<()> {
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

impl<B: Backend> Backend for FaultyBackend<B> {
    fn info(&self) -> BackendInfo {
        self.inner.info()
    }

    async fn executions_since(
        &self,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> BackendResult<ExecutionDelta> {
        self.gate("ListExecutions")?;
        self.inner.executions_since(cursor, limit).await
    }

    async fn history(&self, id: ExecutionId) -> BackendResult<Vec<HistoryEvent>> {
        self.gate("GetExecutionHistory")?;
        self.inner.history(id).await
    }

    async fn start_random(&self, count: usize) -> BackendResult<Vec<ExecutionId>> {
        self.gate("StartExecution")?;
        self.inner.start_random(count).await
    }

    async fn stop(&self, id: ExecutionId) -> BackendResult<()> {
        self.gate("StopExecution")?;
        self.inner.stop(id).await
    }

    async fn redrive(&self, id: ExecutionId) -> BackendResult<()> {
        self.gate("RedriveExecution")?;
        self.inner.redrive(id).await
    }

    async fn endpoint(&self) -> BackendResult<EndpointInfo> {
        self.gate("DescribeEndpoint")?;
        self.inner.endpoint().await
    }

    async fn metrics(&self, range: TimeRange, period: Duration) -> BackendResult<EndpointMetrics> {
        self.gate("GetMetricData")?;
        self.inner.metrics(range, period).await
    }

    async fn capture(&self, range: TimeRange, limit: usize) -> BackendResult<Vec<CapturePoint>> {
        self.gate("ReadDataCapture")?;
        self.inner.capture(range, limit).await
    }

    async fn low_confidence(&self, range: TimeRange) -> BackendResult<Vec<LowConfidenceFailure>> {
        self.gate("LowConfidenceFailures")?;
        self.inner.low_confidence(range).await
    }

    async fn logs(&self, execution: ExecutionSummary) -> BackendResult<Vec<LogLine>> {
        self.gate("FilterLogEvents")?;
        self.inner.logs(execution).await
    }

    fn record_link(&self, id: &ExecutionId) -> RecordLink {
        self.inner.record_link(id)
    }
}
