//! Counting the requests the SDK clients send, per operation: what the dashboard's "AWS calls
//! per refresh" figure and the tests' "this was answered from the cache" checks read.
//!
//! [`CallCounter`] is an SDK interceptor. It is attached to every client built by
//! [`crate::clients::AwsClients`], so it sees every request, including the SDK's own
//! retries (an attempt is counted each time a request is about to go on the wire).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Totals since the counter was created or last [reset](CallCounter::reset).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallCounts {
    /// Operations started (one per SDK `send()`).
    pub operations: u64,
    /// Requests sent, retries included.
    pub attempts: u64,
    /// Requests sent per `Service.Operation` (e.g. `SFN.ListExecutions`), retries included.
    pub by_operation: BTreeMap<String, u64>,
}

impl CallCounts {
    /// Requests sent again by the SDK's retry strategy (throttling, 5xx, timeouts).
    pub fn retries(&self) -> u64 {
        self.attempts.saturating_sub(self.operations)
    }

    /// Requests sent for one `Service.Operation`.
    pub fn of(&self, operation: &str) -> u64 {
        self.by_operation.get(operation).copied().unwrap_or(0)
    }

    /// What happened between `earlier` and `self` (both from the same counter).
    pub fn since(&self, earlier: &CallCounts) -> CallCounts {
        let mut by_operation = BTreeMap::new();
        for (op, n) in &self.by_operation {
            let d = n.saturating_sub(earlier.of(op));
            if d > 0 {
                by_operation.insert(op.clone(), d);
            }
        }
        CallCounts {
            operations: self.operations.saturating_sub(earlier.operations),
            attempts: self.attempts.saturating_sub(earlier.attempts),
            by_operation,
        }
    }
}

/// Shared call counter; clones count into the same totals.
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    counts: Arc<Mutex<CallCounts>>,
}

impl CallCounter {
    /// A counter at zero.
    pub fn new() -> CallCounter {
        CallCounter::default()
    }

    /// The totals now.
    pub fn snapshot(&self) -> CallCounts {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Back to zero.
    pub fn reset(&self) {
        if let Ok(mut c) = self.counts.lock() {
            *c = CallCounts::default();
        }
    }

    fn update(&self, f: impl FnOnce(&mut CallCounts)) {
        // A poisoned lock only means a panic elsewhere mid-update; counting goes on.
        let mut guard = match self.counts.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard);
    }
}

fn operation_name(cfg: &ConfigBag) -> String {
    match cfg.load::<Metadata>() {
        Some(m) => format!("{}.{}", m.service(), m.name()),
        None => "unknown".to_owned(),
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "scones::CallCounter"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.update(|c| c.operations += 1);
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = operation_name(cfg);
        self.update(|c| {
            c.attempts += 1;
            *c.by_operation.entry(name).or_default() += 1;
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_subtracts_per_operation() {
        let mut a = CallCounts {
            operations: 2,
            attempts: 3,
            ..CallCounts::default()
        };
        a.by_operation.insert("SFN.ListExecutions".into(), 3);
        let mut b = a.clone();
        b.operations = 5;
        b.attempts = 7;
        b.by_operation.insert("SFN.ListExecutions".into(), 5);
        b.by_operation.insert("S3.ListObjectsV2".into(), 2);
        let d = b.since(&a);
        assert_eq!(d.operations, 3);
        assert_eq!(d.attempts, 4);
        assert_eq!(d.retries(), 1);
        assert_eq!(d.of("SFN.ListExecutions"), 2);
        assert_eq!(d.of("S3.ListObjectsV2"), 2);
        assert_eq!(d.of("CloudWatch.GetMetricData"), 0);
    }
}
