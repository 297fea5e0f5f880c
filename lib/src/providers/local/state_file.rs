//! albflip's records of local routes in one file, `state.json` in the state directory: for each route
//! (named by its router, e.g. `haproxy:web`), its records as keys and values, the same records the ALB
//! keeps in tags (the deployment record, the stable color, capacity records). Every save is a
//! read-modify-write under the directory lock, written atomically.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::state_dir::{corrupt, StateDir};
use crate::ports::{ApiError, StateStore, Tags};

/// The state file's name in the state directory.
pub const STATE_FILE: &str = "state.json";

/// The file as written.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Contents {
    /// Each route's records.
    #[serde(default)]
    routes: BTreeMap<String, Tags>,
}

/// albflip's records of local routes, in `state.json` in a [`StateDir`].
#[derive(Debug, Clone)]
pub struct StateFile {
    dir: StateDir,
}

impl StateFile {
    /// The state file in `dir`.
    pub fn new(dir: StateDir) -> StateFile {
        StateFile { dir }
    }

    /// The directory it lives in.
    pub fn dir(&self) -> &StateDir {
        &self.dir
    }
}

fn read(dir: &StateDir, operation: &'static str) -> Result<Contents, ApiError> {
    match dir.read(operation, STATE_FILE)? {
        None => Ok(Contents::default()),
        Some(text) => {
            serde_json::from_str(&text).map_err(|e| corrupt(operation, &dir.file(STATE_FILE), &e))
        }
    }
}

impl StateStore for StateFile {
    type Route = String;

    async fn load(&self, route: &String) -> Result<Tags, ApiError> {
        const OP: &str = "state-file:Load";
        let route = route.clone();
        self.dir
            .locked(OP, false, move |dir| {
                Ok(read(dir, OP)?.routes.remove(&route).unwrap_or_default())
            })
            .await
    }

    async fn save(&self, route: &String, records: &[(&str, &str)]) -> Result<(), ApiError> {
        const OP: &str = "state-file:Save";
        let route = route.clone();
        let records: Vec<(String, String)> = records
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        self.dir
            .locked(OP, true, move |dir| {
                let mut contents = read(dir, OP)?;
                contents.routes.entry(route).or_default().extend(records);
                let text = serde_json::to_string_pretty(&contents)
                    .map_err(|e| corrupt(OP, &dir.file(STATE_FILE), &e))?;
                dir.write(OP, STATE_FILE, &text)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::state_dir::tests::tempdir;
    use super::*;
    use crate::ports::ApiErrorKind;

    #[tokio::test]
    async fn records_of_two_routes_are_kept_apart_and_survive_a_new_handle() {
        let dir = StateDir::new(tempdir());
        let store = StateFile::new(dir.clone());
        let (web, api) = ("haproxy:web".to_string(), "haproxy:api".to_string());
        store
            .save(&web, &[("albflip:stable", "green")])
            .await
            .unwrap();
        store
            .save(&api, &[("albflip:stable", "blue")])
            .await
            .unwrap();
        store
            .save(&web, &[("albflip:state", "completed")])
            .await
            .unwrap();
        let again = StateFile::new(dir);
        let loaded = again.load(&web).await.unwrap();
        assert_eq!(
            loaded.get("albflip:stable").map(String::as_str),
            Some("green")
        );
        assert_eq!(
            loaded.get("albflip:state").map(String::as_str),
            Some("completed")
        );
        assert_eq!(again.load(&api).await.unwrap().len(), 1);
        assert!(again
            .load(&"haproxy:none".to_string())
            .await
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn a_missing_directory_reads_as_no_records_and_is_not_created() {
        let path = tempdir().join("not-yet");
        let store = StateFile::new(StateDir::new(&path));
        assert!(store.load(&"r".to_string()).await.unwrap().is_empty());
        assert!(!path.exists(), "a read creates nothing");
        store.save(&"r".to_string(), &[("k", "v")]).await.unwrap();
        assert!(path.join(STATE_FILE).is_file(), "a write creates it");
    }

    #[tokio::test]
    async fn a_file_albflip_did_not_write_is_refused_and_left_alone() {
        let path = tempdir();
        std::fs::write(path.join(STATE_FILE), "not json").unwrap();
        let store = StateFile::new(StateDir::new(&path));
        let e = store
            .save(&"r".to_string(), &[("k", "v")])
            .await
            .unwrap_err();
        assert!(matches!(e.kind, ApiErrorKind::Rejected { .. }), "{e}");
        assert!(e.to_string().contains("state.json"), "{e}");
        assert_eq!(
            std::fs::read_to_string(path.join(STATE_FILE)).unwrap(),
            "not json"
        );
    }

    #[tokio::test]
    async fn concurrent_saves_lose_no_record() {
        let store = StateFile::new(StateDir::new(tempdir()));
        let route = "haproxy:web".to_string();
        let saves = (0..16).map(|i| {
            let (store, route) = (store.clone(), route.clone());
            tokio::spawn(async move {
                let key = format!("k{i}");
                store.save(&route, &[(key.as_str(), "v")]).await
            })
        });
        for save in saves.collect::<Vec<_>>() {
            save.await.unwrap().unwrap();
        }
        assert_eq!(store.load(&route).await.unwrap().len(), 16);
    }
}
