//! The CLI runner: the real `albflip` binary in a hermetic environment, its result ([`Run`]), argument
//! helpers, working directories, and starting, signalling and interrupting a running deployment.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::emulator::{emulator, REGION};

/// A command for the real binary, hermetic: test credentials, the emulator's endpoint, no ambient
/// albflip or AWS profile settings, run in an empty directory.
pub fn albflip() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("albflip"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ALBFLIP_") || k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_ENDPOINT_URL", &emulator().endpoint)
        .env("NO_COLOR", "1")
        .current_dir(empty_dir());
    cmd
}

/// A fresh empty directory.
pub fn empty_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "albflip-it-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The result of one run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "albflip failed: {self:?}");
        self
    }
}

/// Runs the binary with `args`.
pub fn run<S: AsRef<str>>(args: &[S]) -> Run {
    run_in(albflip(), args)
}

/// Runs a prepared command with `args`.
pub fn run_in<S: AsRef<str>>(mut cmd: Command, args: &[S]) -> Run {
    let out: Output = cmd
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .expect("run albflip");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    // Every event a test sees on stdout matches the published schema.
    super::schema::check_events(&stdout);
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Concatenates argument lists.
pub fn args(parts: &[&[String]], tail: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = parts.iter().flat_map(|p| p.iter().cloned()).collect();
    v.extend(tail.iter().map(|s| s.to_string()));
    v
}

/// Short timings so a deployment takes seconds: 1 s polls over a 5 s window with no lag.
pub fn fast(bake: &str) -> Vec<String> {
    [
        "--bake",
        bake,
        "--poll-interval",
        "1s",
        "--metric-lag",
        "0s",
        "--metric-window",
        "5s",
        "--metric-period",
        "1s",
        "--latency-statistic",
        "Average",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The route flags, the command, then the fast timings.
pub fn gated(route: &[String], command: &[&str], bake: &str) -> Vec<String> {
    let mut v = route.to_vec();
    v.extend(command.iter().map(|s| s.to_string()));
    v.extend(fast(bake));
    v
}

/// Writes a file into a directory and returns the directory.
pub fn dir_with_file(name: &str, contents: &str) -> PathBuf {
    let dir = empty_dir();
    std::fs::write(dir.join(name), contents).expect("write file");
    dir
}

/// Starts albflip with `argv` and waits until the first step's weights are live (the
/// "weights applied and verified" line); returns the running child and the rest of its stdout.
pub fn start_until_weights(
    argv: &[String],
) -> (
    std::process::Child,
    std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
) {
    use std::io::BufRead;
    let mut cmd = albflip();
    cmd.args(argv).stdout(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn albflip");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("line");
        seen.push(line.clone());
        if line.contains("weights applied and verified") {
            return (child, lines);
        }
    }
    let _ = child.kill();
    let status = child.wait();
    panic!("albflip ended ({status:?}) before applying weights: {seen:?}");
}

/// Sends `signal` (`INT`, `TERM`) to a running albflip.
pub fn signal(child: &std::process::Child, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{signal} failed");
}

/// Interrupts a running albflip (SIGINT) and waits for it: its exit code, how long it took after the
/// signal, and the rest of its output.
pub fn interrupt(
    mut child: std::process::Child,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
) -> (Option<i32>, Duration, Vec<String>) {
    let signalled = Instant::now();
    signal(&child, "INT");
    let code = child.wait().expect("wait").code();
    let took = signalled.elapsed();
    (code, took, lines.map_while(Result::ok).collect())
}
