//! The real-traffic harness: real blue and green HTTP servers ([`servers`]), a real HAProxy or nginx
//! in front of them ([`haproxy`], [`nginx`]), a client load that counts every response by color
//! ([`load`]), the real `albflip` binary ([`albflip`]), and what a scenario reads of its output
//! ([`run`]). Shared by every router's scenarios through a [`Stack`] of a [`Router`] ([`stack`]): how
//! it starts its proxy, the flags that name its route, how its weights read.

pub mod haproxy;
pub mod load;
pub mod nginx;
pub mod run;
pub mod servers;
pub mod stack;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

pub use haproxy::{BackendSpec, Haproxy, Server};
pub use load::Load;
pub use nginx::{Nginx, Upstreamed};
pub use run::{deploy, deployment_id, events, summary, ts, wait_exit, FAST};
pub use servers::ColorServer;
pub use stack::{Router, Stack};

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The binary of Debian's package `name` (`haproxy`, `nginx`): on PATH or in /usr/sbin.
pub fn sbin(name: &str) -> PathBuf {
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/usr/local/sbin"])
    {
        let path = PathBuf::from(dir).join(name);
        if path.is_file() {
            return path;
        }
    }
    panic!("{name} is not installed: run ./test.sh as root (it installs Debian's {name}) or `apt-get install {name}`");
}

/// A fresh directory under the system's temporary directory.
pub fn temp_dir(what: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "albflip-traffic-{what}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The real binary, hermetic: no ambient albflip or AWS settings, run in an empty directory.
pub fn albflip() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("albflip"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ALBFLIP_") || k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("NO_COLOR", "1").current_dir(temp_dir("cwd"));
    cmd
}

/// The result of one run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` with `args` to the end.
pub fn run(mut cmd: Command, args: &[String]) -> Run {
    Run::from(cmd.args(args).output().expect("run albflip"))
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// `&[&str]` as owned arguments.
pub fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}
