//! A counter of API calls per service and operation.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Counts API calls; cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct CallCounter(Arc<Mutex<BTreeMap<String, u64>>>);

impl CallCounter {
    /// Records one call of `operation` (e.g. `elasticloadbalancing:ModifyListener`), and logs it at
    /// debug level (`-vv`).
    pub fn record(&self, operation: &str) {
        tracing::debug!(%operation, "API call");
        if let Ok(mut map) = self.0.lock() {
            *map.entry(operation.to_string()).or_default() += 1;
        }
    }

    /// Calls so far, per operation.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Calls so far, per service (the part before the colon).
    pub fn per_service(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for (op, n) in self.snapshot() {
            let service = op.split(':').next().unwrap_or_default().to_string();
            *out.entry(service).or_default() += n;
        }
        out
    }

    /// All calls so far.
    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }
}
