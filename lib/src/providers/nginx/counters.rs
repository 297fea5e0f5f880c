//! nginx's access log as a [`CounterSource`]: open-source nginx has no per-server counters to ask for,
//! so albflip reads the access log, written in the JSON `log_format` the README gives, and keeps running
//! totals per upstream server address. Each read goes on from where the last stopped (the offset in an
//! open file): a log rotated away (a new file at the path) is read to its end and then the new one from
//! its start; a log truncated in place is read again from its start. The first read starts at the end
//! of the log: the counts are from then on.
//!
//! A line names every server nginx tried for the request (`upstream_addr` `"A, B"`, with their
//! `upstream_status` `"502, 200"`): each counts one request for its server, failed when its status is
//! 5xx or missing, so a server that refuses connections counts its failures even when nginx passed
//! the request on to another. Latency is the server's mean `upstream_response_time` over the lines of
//! the read.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use crate::ports::{ApiError, ApiErrorKind};
use crate::providers::local::{CounterSource, Cumulative};

const OP: &str = "nginx:read access log";

/// One access log line, as the README's `log_format albflip` writes it (every field a string).
#[derive(Debug, Deserialize)]
struct Line {
    #[serde(default)]
    upstream_addr: String,
    #[serde(default)]
    upstream_status: String,
    #[serde(default)]
    upstream_response_time: String,
}

/// The entries of an nginx upstream variable: `, ` between servers tried, ` : ` between internal
/// redirects.
fn entries(value: &str) -> Vec<&str> {
    value.split([',', ':']).map(str::trim).collect()
}

/// The addresses of `upstream_addr` (`HOST:PORT` keeps its colon: entries are split at `, ` and ` : `).
fn addresses(value: &str) -> Vec<&str> {
    value
        .split(", ")
        .flat_map(|v| v.split(" : "))
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .collect()
}

/// Running totals per server and the latency seen in the current read.
#[derive(Debug, Default)]
struct Totals {
    counters: BTreeMap<String, Cumulative>,
    latency: BTreeMap<String, (f64, u64)>,
    /// The logged address (`IP:PORT`) of each server named by host name, to the name.
    aliases: BTreeMap<String, String>,
}

impl Totals {
    /// Counts one line.
    fn count(&mut self, line: &Line) {
        let addrs = addresses(&line.upstream_addr);
        let statuses = entries(&line.upstream_status);
        let times = entries(&line.upstream_response_time);
        for (i, logged) in addrs.iter().enumerate() {
            if logged.starts_with('/') || !logged.contains(':') {
                continue;
            }
            let addr = self.aliases.get(*logged).map_or(*logged, String::as_str);
            let status: Option<u16> = statuses.get(i).and_then(|s| s.parse().ok());
            let c = self.counters.entry(addr.to_string()).or_default();
            c.requests += 1;
            if status.is_none_or(|s| s >= 500) {
                c.errors += 1;
            }
            if let Some(t) = times.get(i).and_then(|t| t.parse::<f64>().ok()) {
                let l = self.latency.entry(addr.to_string()).or_default();
                l.0 += t;
                l.1 += 1;
            }
        }
    }
}

/// Where the reading stands.
#[derive(Debug, Default)]
struct Tail {
    file: Option<File>,
    inode: u64,
    offset: u64,
    /// A line not yet ended.
    partial: Vec<u8>,
    totals: Totals,
}

/// Running totals per upstream server address from one access log.
#[derive(Debug, Clone)]
pub struct AccessLog {
    path: PathBuf,
    tail: Arc<Mutex<Tail>>,
}

impl AccessLog {
    /// The log at `path` (read from its end at the first read).
    pub fn new(path: impl Into<PathBuf>) -> AccessLog {
        AccessLog {
            path: path.into(),
            tail: Arc::default(),
        }
    }

    /// Counts the lines of each of `servers` given by host name (`app-green:8080`) under that name:
    /// nginx resolves the names when it loads its configuration and logs the addresses, so each is
    /// resolved here once too and its addresses are taken as its.
    pub fn naming(self, servers: &[String]) -> AccessLog {
        use std::net::ToSocketAddrs;
        {
            let mut tail = self.tail.lock().unwrap_or_else(|p| p.into_inner());
            for server in servers {
                if server.parse::<std::net::SocketAddr>().is_ok() {
                    continue;
                }
                for resolved in server.to_socket_addrs().into_iter().flatten() {
                    tail.totals
                        .aliases
                        .insert(resolved.to_string(), server.clone());
                }
            }
        }
        self
    }

    fn io(&self, e: &std::io::Error) -> ApiError {
        let kind = if e.kind() == std::io::ErrorKind::NotFound {
            ApiErrorKind::NotFound
        } else {
            ApiErrorKind::Other
        };
        ApiError::new(
            OP,
            kind,
            format!("nginx's access log {}: {e}", self.path.display()),
        )
    }

    /// Reads what was added since the last read and returns the totals.
    fn advance(&self) -> Result<BTreeMap<String, Cumulative>, ApiError> {
        let mut guard = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        let tail = &mut *guard;
        match &mut tail.file {
            None => {
                // The first read: from the end.
                let file = File::open(&self.path).map_err(|e| self.io(&e))?;
                let meta = file.metadata().map_err(|e| self.io(&e))?;
                tail.inode = meta.ino();
                tail.offset = meta.len();
                tail.file = Some(file);
            }
            Some(file) => {
                read_rest(file, tail.offset, &mut tail.partial, &mut tail.totals)
                    .map(|n| tail.offset += n)
                    .map_err(|e| self.io(&e))?;
                // The path is looked at only after the open file was read to its end: nginx only
                // appends, so a file at the path shorter than what was read was truncated, and one
                // with another inode replaced it.
                let meta = std::fs::metadata(&self.path).map_err(|e| self.io(&e))?;
                if meta.ino() != tail.inode {
                    // Rotated: the old file was read to its end; the new one from its start.
                    let mut new = File::open(&self.path).map_err(|e| self.io(&e))?;
                    tail.partial.clear();
                    tail.inode = new.metadata().map_err(|e| self.io(&e))?.ino();
                    tail.offset = read_rest(&mut new, 0, &mut tail.partial, &mut tail.totals)
                        .map_err(|e| self.io(&e))?;
                    tail.file = Some(new);
                } else if meta.len() < tail.offset {
                    // Truncated in place: from its start again.
                    tail.partial.clear();
                    tail.offset = read_rest(file, 0, &mut tail.partial, &mut tail.totals)
                        .map_err(|e| self.io(&e))?;
                }
            }
        }
        let mut out = tail.totals.counters.clone();
        for (addr, (sum, n)) in std::mem::take(&mut tail.totals.latency) {
            if let Some(c) = out.get_mut(&addr) {
                c.latency_seconds = (n > 0).then(|| sum / n as f64);
            }
        }
        Ok(out)
    }
}

/// Reads `file` from `offset` to its end, counting each complete line; returns the bytes read.
fn read_rest(
    file: &mut File,
    offset: u64,
    partial: &mut Vec<u8>,
    totals: &mut Totals,
) -> std::io::Result<u64> {
    file.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::new();
    let n = file.read_to_end(&mut bytes)? as u64;
    partial.extend_from_slice(&bytes);
    let Some(end) = partial.iter().rposition(|b| *b == b'\n') else {
        return Ok(n);
    };
    let complete: Vec<u8> = partial.drain(..=end).collect();
    for raw in complete.split(|b| *b == b'\n') {
        if let Ok(line) = serde_json::from_slice::<Line>(raw) {
            totals.count(&line);
        }
    }
    Ok(n)
}

impl CounterSource for AccessLog {
    async fn read(&self) -> Result<BTreeMap<String, Cumulative>, ApiError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.advance())
            .await
            .map_err(|e| ApiError::new(OP, ApiErrorKind::Other, e.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn line(addr: &str, status: &str, time: &str) -> String {
        format!(
            "{{\"status\":\"200\",\"upstream_addr\":\"{addr}\",\"upstream_status\":\"{status}\",\"request_time\":\"0.010\",\"upstream_response_time\":\"{time}\"}}\n"
        )
    }

    fn append(path: &std::path::Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    const B: &str = "127.0.0.1:8081";
    const G: &str = "127.0.0.1:8082";

    #[tokio::test]
    async fn a_server_named_by_host_name_counts_the_lines_of_its_addresses() {
        let dir = std::env::temp_dir().join(format!("albflip-nginx-alias-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("access.log");
        std::fs::write(&path, "").unwrap();
        let log = AccessLog::new(&path).naming(&["localhost:8082".to_string(), B.to_string()]);
        log.read().await.unwrap();
        append(&path, &line(G, "500", "0.010"));
        append(&path, &line(B, "200", "0.010"));
        let c = log.read().await.unwrap();
        assert_eq!(
            (c["localhost:8082"].requests, c["localhost:8082"].errors),
            (1, 1)
        );
        assert_eq!(c[B].requests, 1);
        assert!(!c.contains_key(G), "{c:?}");
    }

    #[tokio::test]
    async fn lines_count_per_server_from_the_first_read_on_through_rotation_and_truncation() {
        let dir = std::env::temp_dir().join(format!("albflip-nginx-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("access.log");
        let _ = std::fs::remove_file(&path);
        append(&path, &line(B, "200", "0.010"));
        let log = AccessLog::new(&path);
        assert!(
            log.read().await.unwrap().is_empty(),
            "from the end at first"
        );
        append(&path, &line(B, "200", "0.010"));
        append(&path, &line(G, "500", "0.030"));
        // nginx tried green (refused), then blue: one failure for green, one answer for blue.
        append(
            &path,
            &line(&format!("{G}, {B}"), "502, 200", "0.000, 0.020"),
        );
        append(&path, "not json\n");
        // A line not yet ended counts once it is.
        let half = line(G, "200", "0.010");
        append(&path, &half[..20]);
        let c = log.read().await.unwrap();
        assert_eq!((c[B].requests, c[B].errors), (2, 0));
        assert_eq!((c[G].requests, c[G].errors), (2, 2));
        assert_eq!(c[B].latency_seconds, Some(0.015));
        append(&path, &half[20..]);
        let c = log.read().await.unwrap();
        assert_eq!((c[G].requests, c[G].errors), (3, 2));
        // Rotation: the rest of the old file, then the new one from its start.
        append(&path, &line(B, "200", "0.010"));
        std::fs::rename(&path, dir.join("access.log.1")).unwrap();
        append(&path, &line(B, "200", "0.010"));
        let c = log.read().await.unwrap();
        assert_eq!(c[B].requests, 4);
        // Truncation in place: from the start again.
        std::fs::write(&path, "").unwrap();
        append(&path, &line(G, "-", ""));
        let c = log.read().await.unwrap();
        assert_eq!((c[G].requests, c[G].errors), (4, 3));
        std::fs::remove_file(&path).unwrap();
        let e = log.read().await.unwrap_err();
        assert_eq!(e.kind, ApiErrorKind::NotFound);
    }

    /// nginx appends while albflip reads: every line is counted once. (A check of the path's size
    /// taken before reading the open file saw a file that grew meanwhile as truncated and counted the
    /// whole log again: albflip's blast radius then exceeded the client's count in bench/blast-radius.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_log_growing_during_the_reads_is_counted_once() {
        let dir = std::env::temp_dir().join(format!("albflip-nginx-grow-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("access.log");
        std::fs::write(&path, "").unwrap();
        let log = AccessLog::new(&path);
        log.read().await.unwrap();
        let writer = {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .unwrap();
                for i in 0..4000 {
                    let status = if i % 10 == 0 { "500" } else { "200" };
                    f.write_all(line(G, status, "0.001").as_bytes()).unwrap();
                    if i % 50 == 0 {
                        std::thread::sleep(std::time::Duration::from_micros(200));
                    }
                }
            })
        };
        while !writer.is_finished() {
            log.read().await.unwrap();
        }
        writer.join().unwrap();
        let c = log.read().await.unwrap();
        assert_eq!((c[G].requests, c[G].errors), (4000, 400));
    }
}
