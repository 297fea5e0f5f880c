//! The deployments a route has seen: one [`HistoryEntry`] per finished run (deploy, resume, promote),
//! kept in a [`HistoryStore`] (the lock table's DynamoDB table on AWS, in items of their own that
//! never collide with the lease; `history.json` in the state directory of a local router,
//! [`crate::local::HistoryFile`]) for the CLI's history command.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::ports::ApiError;

/// One finished run of a deployment on a route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The deployment's id (as recorded on the route).
    pub id: String,
    /// The route's key (the ALB: the listener's or rule's ARN).
    pub route: String,
    /// Who ran it (`$BUILD_TAG`, else user@host).
    pub started_by: String,
    /// When the run started (RFC 3339, UTC).
    pub started: String,
    /// When it ended (RFC 3339, UTC).
    pub ended: String,
    /// The run's strategy, for people (`canary 10%`, `gradual 10→50→100`, `resume …`, `promotion`).
    pub strategy: String,
    /// The new color.
    pub target: String,
    /// How it ended: `completed`, `awaiting_promotion`, `rolled_back`, `interrupted` or `failed`.
    pub outcome: String,
    /// Why, for people: the failing gate's sentence, the error; empty when it completed.
    pub reason: String,
    /// How long it ran, in seconds.
    pub seconds: f64,
}

impl HistoryEntry {
    /// How long it ran.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.seconds.max(0.0))
    }

    /// When it started, as a time (`None` when the text is not RFC 3339).
    pub fn started_at(&self) -> Option<SystemTime> {
        humantime::parse_rfc3339(&self.started).ok()
    }
}

/// Where the history of the routes' deployments is kept.
pub trait HistoryStore: Send + Sync {
    /// Adds `entry` to its route's history.
    fn append(
        &self,
        entry: &HistoryEntry,
    ) -> impl std::future::Future<Output = Result<(), ApiError>> + Send;

    /// The route's last `limit` entries, the newest first.
    fn recent(
        &self,
        route: &str,
        limit: usize,
    ) -> impl std::future::Future<Output = Result<Vec<HistoryEntry>, ApiError>> + Send;
}

/// The newest `limit` of `entries`, the newest first (by start, then id).
pub fn newest_first(mut entries: Vec<HistoryEntry>, limit: usize) -> Vec<HistoryEntry> {
    entries.sort_by(|a, b| (&b.started, &b.id).cmp(&(&a.started, &a.id)));
    entries.truncate(limit);
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, started: &str) -> HistoryEntry {
        HistoryEntry {
            id: id.into(),
            route: "r".into(),
            started_by: "me".into(),
            started: started.into(),
            ended: started.into(),
            strategy: "canary 10%".into(),
            target: "green".into(),
            outcome: "completed".into(),
            reason: String::new(),
            seconds: 1.0,
        }
    }

    #[test]
    fn the_newest_come_first_and_only_as_many_as_asked() {
        let got = newest_first(
            vec![
                entry("a", "2026-11-29T10:00:00Z"),
                entry("c", "2026-11-29T12:00:00Z"),
                entry("b", "2026-11-29T11:00:00Z"),
            ],
            2,
        );
        let ids: Vec<&str> = got.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["c", "b"]);
    }
}
