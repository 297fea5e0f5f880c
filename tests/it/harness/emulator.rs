//! The emulator process: moto_server on a free loopback port, started once per test run and ended with
//! it; the repository's paths and the tokio runtime the tests' own SDK calls run on.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const REGION: &str = "us-east-1";

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A shared tokio runtime for SDK calls made by the tests themselves.
pub fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}

/// The emulator of this test run.
pub struct Emulator {
    pub endpoint: String,
    _process: Mutex<Child>,
}

pub(super) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

pub(super) fn venv_bin(name: &str) -> PathBuf {
    repo().join(".venv").join("bin").join(name)
}

const INSTALL_HINT: &str =
    "The emulator (moto_server, pinned in localstack/requirements.txt) is missing. \
Install it with `localstack/ensure-env` (needs python3 with venv and access to PyPI), \
or run the README's test command, which does this for you.";

/// Starts (once per test run) moto_server on a free loopback port. The server is started through a
/// shell that kills it when this process's end of its stdin pipe closes, so it never outlives the run.
pub fn emulator() -> &'static Emulator {
    static EMU: OnceLock<Emulator> = OnceLock::new();
    EMU.get_or_init(|| {
        if !venv_bin("moto_server").exists() {
            let status = Command::new(repo().join("localstack/ensure-env"))
                .stdout(Stdio::null())
                .status();
            assert!(
                matches!(status, Ok(s) if s.success()) && venv_bin("moto_server").exists(),
                "{INSTALL_HINT}"
            );
        }
        let port = free_port();
        let script = format!(
            "\"{}\" -H 127.0.0.1 -p {port} >/tmp/albflip-test-moto-{port}.log 2>&1 & pid=$!; cat >/dev/null; kill $pid",
            venv_bin("moto_server").display()
        );
        let child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the emulator: {e}. {INSTALL_HINT}"));
        let endpoint = format!("http://127.0.0.1:{port}");
        wait_until_up(&endpoint, port);
        Emulator { endpoint, _process: Mutex::new(child) }
    })
}

fn wait_until_up(endpoint: &str, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(40);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the emulator did not answer at {endpoint} within 40 s (log: /tmp/albflip-test-moto-{port}.log). {INSTALL_HINT}");
}
