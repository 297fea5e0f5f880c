//! The state directory of a local router: where the state file and the lock file live, the directory
//! lock that serialises every read-modify-write of them (an advisory `flock` on `.albflip.lock`, held
//! for one operation), and atomic writes (a temporary file in the same directory, synced, renamed into
//! place), so that a reader never sees half a file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::ports::{ApiError, ApiErrorKind};

/// Where albflip keeps its state on the host when no other directory is given.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/albflip";

/// The name of the directory lock's file.
const DIR_LOCK: &str = ".albflip.lock";

/// A state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    path: PathBuf,
}

impl StateDir {
    /// The directory at `path` (created on the first write).
    pub fn new(path: impl Into<PathBuf>) -> StateDir {
        StateDir { path: path.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file `name` in it.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Runs `f` while holding the directory lock (blocking until it is free), on a blocking thread.
    /// `operation` names the call in errors. A write (`writes`) creates the directory when it is
    /// missing; a read of a directory that does not exist runs `f` without a lock (there is nothing to
    /// read), so that `status` needs no right to create it.
    pub async fn locked<T, F>(
        &self,
        operation: &'static str,
        writes: bool,
        f: F,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&StateDir) -> Result<T, ApiError> + Send + 'static,
    {
        let dir = self.clone();
        tokio::task::spawn_blocking(move || {
            if !writes && !dir.path.is_dir() {
                return f(&dir);
            }
            let guard = dir.lock(operation)?;
            let result = f(&dir);
            drop(guard);
            result
        })
        .await
        .map_err(|e| ApiError::new(operation, ApiErrorKind::Other, e.to_string()))?
    }

    /// Takes the directory lock; it is released when the file is dropped.
    fn lock(&self, operation: &'static str) -> Result<File, ApiError> {
        std::fs::create_dir_all(&self.path).map_err(|e| io_error(operation, &self.path, &e))?;
        let path = self.file(DIR_LOCK);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io_error(operation, &path, &e))?;
        fs4::FileExt::lock(&file).map_err(|e| io_error(operation, &path, &e))?;
        Ok(file)
    }

    /// The text of `name`, or `None` when it does not exist.
    pub fn read(&self, operation: &'static str, name: &str) -> Result<Option<String>, ApiError> {
        let path = self.file(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(operation, &path, &e)),
        }
    }

    /// Replaces `name` with `text` atomically: written to a temporary file in the directory, synced,
    /// renamed over it, then the directory synced where it can be (so that the rename itself survives
    /// a power loss).
    pub fn write(&self, operation: &'static str, name: &str, text: &str) -> Result<(), ApiError> {
        let path = self.file(name);
        let temp = self.file(&format!(".{name}.{}.tmp", std::process::id()));
        let written = (|| {
            let mut file = File::create(&temp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&temp, &path)?;
            // Best effort: the rename is done and the file is whole either way, so a directory that
            // cannot be synced must not make a write that happened read as one that did not.
            if let Some(dir) = path.parent() {
                let _ = File::open(dir).and_then(|d| d.sync_all());
            }
            Ok(())
        })();
        written.map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            io_error(operation, &path, &e)
        })
    }
}

/// An I/O failure on `path` as the ports report failures: a missing permission is a refusal (nothing
/// was written), anything else may have left the file as it was.
pub fn io_error(operation: &str, path: &Path, e: &std::io::Error) -> ApiError {
    let kind = match e.kind() {
        std::io::ErrorKind::PermissionDenied => ApiErrorKind::Rejected {
            code: "PermissionDenied".into(),
        },
        std::io::ErrorKind::NotFound => ApiErrorKind::NotFound,
        _ => ApiErrorKind::Other,
    };
    ApiError::new(operation, kind, format!("{}: {e}", path.display()))
}

/// A file that is not what albflip wrote, named with the fix.
pub fn corrupt(operation: &str, path: &Path, e: &serde_json::Error) -> ApiError {
    ApiError::new(
        operation,
        ApiErrorKind::Rejected {
            code: "CorruptStateFile".into(),
        },
        format!(
            "{} is not albflip's JSON ({e}): restore it from a backup or remove it",
            path.display()
        ),
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[tokio::test]
    async fn a_write_replaces_the_whole_file_and_leaves_no_temporary_file() {
        let tmp = tempdir();
        let dir = StateDir::new(tmp.join("nested"));
        dir.locked("test", true, |d| d.write("test", "a.json", "{\"x\":1}"))
            .await
            .unwrap();
        dir.locked("test", true, |d| d.write("test", "a.json", "{}"))
            .await
            .unwrap();
        assert_eq!(dir.read("test", "a.json").unwrap().as_deref(), Some("{}"));
        assert_eq!(dir.read("test", "missing.json").unwrap(), None);
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    }

    /// A fresh directory under the system's temporary directory.
    pub(crate) fn tempdir() -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "albflip-state-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        std::fs::create_dir_all(&path).unwrap();
        path
    }
}
