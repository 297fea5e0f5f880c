//! Talking to nginx: its configuration test (`nginx -t`) and its reload (`nginx -s reload`) as shell
//! commands the user can replace, and the check that nginx answered a reload. `nginx -s reload` only
//! sends a signal and exits 0 whether or not the master then takes the new configuration; a master that
//! took it starts a new generation of worker processes, one that refused it (a port it cannot bind, a
//! file it cannot open) keeps the old ones and logs why. So a reload is answered when a child of the
//! master (from its pid file) appears that was not there before.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::ports::{ApiError, ApiErrorKind};

/// How long a reload may take to start new workers.
pub const RELOAD_TIMEOUT: Duration = Duration::from_secs(10);

/// The commands and files albflip uses to control one nginx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Control {
    /// Tests the configuration (default `nginx -t`), run by `sh -c`.
    pub test: String,
    /// Reloads nginx (default `nginx -s reload`), run by `sh -c`.
    pub reload: String,
    /// The master's pid file (default `/run/nginx.pid`).
    pub pid_file: PathBuf,
}

/// The default test command.
pub const DEFAULT_TEST: &str = "nginx -t";
/// The default reload command.
pub const DEFAULT_RELOAD: &str = "nginx -s reload";
/// The default pid file (Debian's).
pub const DEFAULT_PID_FILE: &str = "/run/nginx.pid";

impl Default for Control {
    fn default() -> Self {
        Control {
            test: DEFAULT_TEST.into(),
            reload: DEFAULT_RELOAD.into(),
            pid_file: DEFAULT_PID_FILE.into(),
        }
    }
}

/// A command's exit status and what it printed.
#[derive(Debug, Clone)]
pub struct Ran {
    /// Whether it exited 0.
    pub ok: bool,
    /// Its stderr and stdout, trimmed.
    pub said: String,
}

/// Runs `command` with `sh -c`, waiting at most a minute.
pub async fn run(operation: &str, command: &str) -> Result<Ran, ApiError> {
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), child)
        .await
        .map_err(|_| {
            ApiError::new(
                operation,
                ApiErrorKind::Timeout,
                format!("`{command}` did not finish within 60s"),
            )
        })?
        .map_err(|e| {
            ApiError::new(
                operation,
                ApiErrorKind::Unreachable,
                format!("cannot run `{command}`: {e}"),
            )
        })?;
    let said = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr).trim(),
        String::from_utf8_lossy(&out.stdout).trim()
    )
    .trim()
    .to_string();
    Ok(Ran {
        ok: out.status.success(),
        said,
    })
}

/// The master's pid from its pid file, if that process runs.
pub fn master(pid_file: &Path) -> Result<u32, String> {
    let text = std::fs::read_to_string(pid_file)
        .map_err(|e| format!("cannot read nginx's pid file {}: {e}", pid_file.display()))?;
    let pid: u32 = text
        .trim()
        .parse()
        .map_err(|_| format!("{} holds {:?}, not a pid", pid_file.display(), text.trim()))?;
    if !Path::new(&format!("/proc/{pid}")).exists() {
        return Err(format!(
            "no process {pid} runs (from {}): nginx is not running",
            pid_file.display()
        ));
    }
    Ok(pid)
}

/// The pids whose parent is `pid` (from `/proc/*/stat`).
pub fn children(pid: u32) -> BTreeSet<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return BTreeSet::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| parent(*child) == Some(pid))
        .collect()
}

/// The parent of `pid`: the fourth field of `/proc/PID/stat`, after the command in parentheses.
fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Waits until the master `pid` has a child not among `before` (a new worker generation), for at most
/// `timeout`.
pub async fn new_generation(pid: u32, before: &BTreeSet<u32>, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if children(pid).iter().any(|c| !before.contains(c)) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_command_reports_its_status_and_output_and_children_are_found() {
        let ran = run("test", "echo out; echo err >&2; exit 3").await.unwrap();
        assert!(!ran.ok);
        assert_eq!(ran.said, "err\nout");
        assert!(run("test", "true").await.unwrap().ok);
        let me = std::process::id();
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        assert!(children(me).contains(&child.id()));
        let _ = child.kill();
        let _ = child.wait();
        let e = master(Path::new("/nonexistent/nginx.pid")).unwrap_err();
        assert!(e.contains("/nonexistent/nginx.pid"), "{e}");
    }
}
