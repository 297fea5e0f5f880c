//! What every router that runs on the host it routes for shares (HAProxy, nginx): albflip's records in a
//! state file, the deployment lock as a file lock, and metrics from cumulative counters turned into
//! per-period deltas. A local router's provider folder (`providers/haproxy/`) uses these and adds only
//! what is its own: how it reads and writes weights and where its counters come from.
//!
//! - [`state_dir`]: the state directory (default [`state_dir::DEFAULT_STATE_DIR`]), its short-lived
//!   directory lock, and atomic writes (temporary file, then rename).
//! - [`state_file`]: [`StateFile`], the [`crate::ports::StateStore`] over `state.json`: the records of
//!   each route as keys and values, as the ALB keeps them in tags.
//! - [`file_lock`]: [`FileLock`], the [`crate::ports::Lock`] over `locks.json` in the same directory,
//!   with the lease, version and takeover rules of the port.
//! - [`history_file`]: [`HistoryFile`], the [`crate::history::HistoryStore`] over `history.json` in
//!   the same directory: each route's last [`history_file::HISTORY_KEEP`] finished runs.
//! - [`counters`]: [`CounterMetrics`], a [`crate::ports::MetricSource`] over any [`CounterSource`]
//!   (cumulative counters per server): sampled at every period boundary, answered as per-period deltas
//!   with no publication lag.

pub mod counters;
pub mod file_lock;
pub mod history_file;
pub mod single_route;
pub mod state_dir;
pub mod state_file;

pub use counters::{CounterMetrics, CounterSource, Cumulative, COUNTER_LABEL};
pub use file_lock::FileLock;
pub use history_file::HistoryFile;
pub use state_dir::{StateDir, DEFAULT_STATE_DIR};
pub use state_file::StateFile;

/// The smoke check's HTTP client of a router without a test route (HAProxy): never called, since such
/// a router refuses a test listener before any probe; answers that there is nothing to probe.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProbe;

impl crate::ports::HttpProbe for NoProbe {
    async fn get(&self, url: &str) -> Result<u16, crate::ports::ProbeError> {
        Err(crate::ports::ProbeError::Failed(format!(
            "{url}: this router has no test route to send a smoke check through"
        )))
    }
}

use std::time::Duration;

use crate::engine::MetricWindow;

/// The metric window of a local router's counters: no publication lag (the counters are read live),
/// 5-second periods, a one-minute window.
pub const LOCAL_WINDOW: MetricWindow = MetricWindow {
    window: Duration::from_secs(60),
    lag: Duration::ZERO,
    period: Duration::from_secs(5),
};
