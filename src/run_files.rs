//! What a run writes beside its output for a pipeline: the deployment's id (`--deployment-id-file`),
//! as soon as the engine announces it, and every event as NDJSON (`--events-file`), whatever the
//! output format. A file that cannot be written is a warning on stderr: the deployment goes on.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use albflip::events::{Event, Observer};

/// Writes the id file and the events file of one run.
pub struct RunFiles {
    id_file: Option<PathBuf>,
    events: Mutex<Option<File>>,
    id: Mutex<Option<String>>,
}

impl RunFiles {
    /// Opens (truncates) the events file now, so that a stale one from an earlier run never stays
    /// behind; a file that cannot be created is a warning. A stale id file is removed for the same
    /// reason: it names a deployment only once this run started one.
    pub fn open(id_file: Option<&Path>, events_file: Option<&Path>) -> RunFiles {
        if let Some(path) = id_file {
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => warn("remove", path, &e),
                _ => {}
            }
        }
        let events = events_file.and_then(|path| match File::create(path) {
            Ok(f) => Some(f),
            Err(e) => {
                warn("create", path, &e);
                None
            }
        });
        RunFiles {
            id_file: id_file.map(Path::to_path_buf),
            events: Mutex::new(events),
            id: Mutex::new(None),
        }
    }

    fn note_id(&self, event: &Event) {
        let Event::DeploymentStarted {
            deployment_id: Some(id),
            ..
        } = event
        else {
            return;
        };
        if let Ok(mut known) = self.id.lock() {
            *known = Some(id.clone());
        }
        if let Some(path) = &self.id_file {
            if let Err(e) = std::fs::write(path, format!("{id}\n")) {
                warn("write", path, &e);
            }
        }
    }
}

fn warn(verb: &str, path: &Path, e: &std::io::Error) {
    eprintln!("albflip: warning: could not {verb} {}: {e}", path.display());
}

impl Observer for RunFiles {
    fn on_event(&self, at: SystemTime, event: &Event) {
        self.note_id(event);
        let Ok(mut file) = self.events.lock() else {
            return;
        };
        let Some(f) = file.as_mut() else {
            return;
        };
        let id = self.id.lock().ok().and_then(|i| i.clone());
        let line = crate::progress::json(at, event, id.as_deref());
        if writeln!(f, "{line}").and_then(|()| f.flush()).is_err() {
            eprintln!(
                "albflip: warning: could not write to the events file; no more events go there"
            );
            *file = None;
        }
    }
}
