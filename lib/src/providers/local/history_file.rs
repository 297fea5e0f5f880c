//! The deployment history of local routes in one file, `history.json` in the state directory: for
//! each route (by its key, as the lock names it), its last [`HISTORY_KEEP`] finished runs. Every
//! append is a read-modify-write under the directory lock, written atomically (temporary file, sync,
//! rename), so a reader never sees half a file and two runs never lose each other's entry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::state_dir::StateDir;
use crate::history::{newest_first, HistoryEntry, HistoryStore};
use crate::ports::{ApiError, ApiErrorKind};

/// The history file's name in the state directory.
pub const HISTORY_FILE: &str = "history.json";

/// How many entries a route keeps: an append beyond it drops the oldest.
pub const HISTORY_KEEP: usize = 100;

/// The file as written.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Contents {
    /// Each route's entries, oldest first.
    #[serde(default)]
    routes: BTreeMap<String, Vec<HistoryEntry>>,
}

/// The deployment history of local routes, in `history.json` in a [`StateDir`].
#[derive(Debug, Clone)]
pub struct HistoryFile {
    dir: StateDir,
    keep: usize,
}

impl HistoryFile {
    /// The history file in `dir`, keeping [`HISTORY_KEEP`] entries per route.
    pub fn new(dir: StateDir) -> HistoryFile {
        HistoryFile {
            dir,
            keep: HISTORY_KEEP,
        }
    }

    /// The same file keeping `keep` entries per route (at least one).
    pub fn keeping(self, keep: usize) -> HistoryFile {
        HistoryFile {
            keep: keep.max(1),
            ..self
        }
    }
}

/// A history file that is not what albflip wrote, named with the fix (it holds only the history:
/// removing it loses nothing else).
fn corrupt(operation: &str, dir: &StateDir, e: &serde_json::Error) -> ApiError {
    ApiError::new(
        operation,
        ApiErrorKind::Rejected {
            code: "CorruptHistoryFile".into(),
        },
        format!(
            "{} is not albflip's history JSON ({e}): restore it from a backup, or remove it (it holds only the deployment history; the next deployment starts a new one)",
            dir.file(HISTORY_FILE).display()
        ),
    )
}

fn read(dir: &StateDir, operation: &'static str) -> Result<Contents, ApiError> {
    match dir.read(operation, HISTORY_FILE)? {
        None => Ok(Contents::default()),
        Some(text) => serde_json::from_str(&text).map_err(|e| corrupt(operation, dir, &e)),
    }
}

impl HistoryStore for HistoryFile {
    async fn append(&self, entry: &HistoryEntry) -> Result<(), ApiError> {
        const OP: &str = "history-file:Append";
        let (entry, keep) = (entry.clone(), self.keep);
        self.dir
            .locked(OP, true, move |dir| {
                let mut contents = read(dir, OP)?;
                let entries = contents.routes.entry(entry.route.clone()).or_default();
                entries.push(entry);
                // Oldest first, so the ones dropped are the oldest.
                entries.sort_by(|a, b| (&a.started, &a.id).cmp(&(&b.started, &b.id)));
                let over = entries.len().saturating_sub(keep);
                entries.drain(..over);
                let text =
                    serde_json::to_string_pretty(&contents).map_err(|e| corrupt(OP, dir, &e))?;
                dir.write(OP, HISTORY_FILE, &text)
            })
            .await
    }

    async fn recent(&self, route: &str, limit: usize) -> Result<Vec<HistoryEntry>, ApiError> {
        const OP: &str = "history-file:Read";
        let route = route.to_string();
        self.dir
            .locked(OP, false, move |dir| {
                let entries = read(dir, OP)?.routes.remove(&route).unwrap_or_default();
                Ok(newest_first(entries, limit))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::local::state_dir::tests::tempdir;

    fn entry(route: &str, id: &str, started: &str, outcome: &str) -> HistoryEntry {
        HistoryEntry {
            id: id.into(),
            route: route.into(),
            started_by: "me".into(),
            started: started.into(),
            ended: started.into(),
            strategy: "immediate".into(),
            target: "green".into(),
            outcome: outcome.into(),
            reason: String::new(),
            seconds: 2.0,
        }
    }

    fn at(i: usize) -> String {
        format!("2026-11-29T10:{:02}:{:02}Z", i / 60, i % 60)
    }

    #[tokio::test]
    async fn entries_come_back_newest_first_per_route() {
        let file = HistoryFile::new(StateDir::new(tempdir().join("state")));
        // Nothing recorded yet, not even the directory: an empty history, not an error.
        assert!(file.recent("haproxy s app", 10).await.unwrap().is_empty());
        file.append(&entry("haproxy s app", "d1", &at(1), "completed"))
            .await
            .unwrap();
        file.append(&entry("haproxy s app", "d2", &at(2), "rolled_back"))
            .await
            .unwrap();
        file.append(&entry("haproxy s other", "d3", &at(3), "completed"))
            .await
            .unwrap();
        let got = file.recent("haproxy s app", 10).await.unwrap();
        let ids: Vec<&str> = got.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["d2", "d1"]);
        assert_eq!(got[0].outcome, "rolled_back");
        assert_eq!(file.recent("haproxy s app", 1).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_route_keeps_only_its_last_entries() {
        let file = HistoryFile::new(StateDir::new(tempdir())).keeping(3);
        for i in 0..5 {
            file.append(&entry("r", &format!("d{i}"), &at(i), "completed"))
                .await
                .unwrap();
        }
        let got = file.recent("r", 10).await.unwrap();
        let ids: Vec<&str> = got.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["d4", "d3", "d2"]);
        assert_eq!(
            HistoryFile::new(StateDir::new(tempdir())).keep,
            HISTORY_KEEP
        );
    }

    #[tokio::test]
    async fn an_append_is_atomic_and_concurrent_appends_are_all_kept() {
        let dir = StateDir::new(tempdir());
        let file = HistoryFile::new(dir.clone());
        let appends = (0..8).map(|i| {
            let file = file.clone();
            async move {
                file.append(&entry("r", &format!("d{i}"), &at(i), "completed"))
                    .await
            }
        });
        for r in futures_util::future::join_all(appends).await {
            r.unwrap();
        }
        assert_eq!(file.recent("r", 100).await.unwrap().len(), 8);
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
        // The file is whole JSON after every append.
        let text = std::fs::read_to_string(dir.file(HISTORY_FILE)).unwrap();
        assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok());
    }

    #[tokio::test]
    async fn a_corrupt_file_is_named_with_the_fix_and_left_as_it_is() {
        let dir = StateDir::new(tempdir());
        std::fs::write(dir.file(HISTORY_FILE), "{ not json").unwrap();
        let file = HistoryFile::new(dir.clone());
        for e in [
            file.recent("r", 10).await.unwrap_err(),
            file.append(&entry("r", "d1", &at(1), "completed"))
                .await
                .unwrap_err(),
        ] {
            let text = e.to_string();
            assert!(
                text.contains(&dir.file(HISTORY_FILE).display().to_string()),
                "{text}"
            );
            assert!(text.contains("remove it"), "{text}");
        }
        assert_eq!(
            std::fs::read_to_string(dir.file(HISTORY_FILE)).unwrap(),
            "{ not json"
        );
    }
}
