//! HAProxy's own per-server counters (`show stat`) as a [`CounterSource`]: requests are the responses of
//! every class plus the failed connections (`hrsp_1xx`..`hrsp_other` + `econ`), errors the 5xx plus the
//! failed connections (`hrsp_5xx` + `econ`), latency the server's `rtime` (HAProxy's average over its
//! last 1024 requests). Keyed `BACKEND/SERVER`, as [`super::HaproxyRoutes`] names its backends' scopes.

use std::collections::BTreeMap;

use super::runtime::RuntimeApi;
use super::stat;
use crate::ports::{ApiError, ApiErrorKind};
use crate::providers::local::{CounterSource, Cumulative};

/// The counter key of `server` in `backend`.
pub fn key(backend: &str, server: &str) -> String {
    format!("{backend}/{server}")
}

/// Every server's counters from one HAProxy.
#[derive(Debug, Clone)]
pub struct HaproxyCounters {
    api: RuntimeApi,
}

impl HaproxyCounters {
    /// The counters of the HAProxy behind `api`.
    pub fn new(api: RuntimeApi) -> HaproxyCounters {
        HaproxyCounters { api }
    }
}

impl CounterSource for HaproxyCounters {
    async fn read(&self) -> Result<BTreeMap<String, Cumulative>, ApiError> {
        const OP: &str = "haproxy:show stat";
        let answer = self.api.command(OP, "show stat").await?;
        let stats = stat::parse_stat(&answer)
            .ok_or_else(|| ApiError::new(OP, ApiErrorKind::Other, answer.trim().to_string()))?;
        Ok(stats
            .servers
            .iter()
            .map(|s| {
                let counters = Cumulative {
                    requests: s.requests(),
                    errors: s.errors(),
                    latency_seconds: s.rtime_ms.map(|ms| ms as f64 / 1000.0),
                };
                (key(&s.backend, &s.server), counters)
            })
            .collect())
    }
}
