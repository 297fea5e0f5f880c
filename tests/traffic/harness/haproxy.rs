//! A real HAProxy (Debian's `haproxy`, which `test.sh` installs) in the foreground on a free loopback
//! port, with its own configuration and a runtime API socket at level admin in a fresh directory.
//! Every response carries `x-served-by: SERVER` (its own 503s included, through
//! `http-after-response`), so the client can name the color behind a failure HAProxy answered.
//! Dropping it stops it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, sbin, temp_dir};

/// One server line of a backend.
pub struct Server {
    pub name: String,
    pub port: u16,
    pub weight: u16,
}

impl Server {
    pub fn new(name: &str, port: u16, weight: u16) -> Server {
        Server {
            name: name.into(),
            port,
            weight,
        }
    }
}

/// One backend: its name, its algorithm and its servers.
pub struct BackendSpec {
    pub name: String,
    pub balance: String,
    pub servers: Vec<Server>,
}

impl BackendSpec {
    /// A round-robin backend.
    pub fn new(name: &str, servers: Vec<Server>) -> BackendSpec {
        BackendSpec {
            name: name.into(),
            balance: "roundrobin".into(),
            servers,
        }
    }
}

/// A running HAProxy.
pub struct Haproxy {
    /// The frontend's port (to the first backend).
    pub port: u16,
    /// The runtime API socket.
    pub socket: PathBuf,
    /// Its directory (configuration, socket).
    pub dir: PathBuf,
    child: Child,
}

impl Haproxy {
    /// Starts HAProxy with `backends`; the frontend on a free port sends everything to the first.
    pub fn start(backends: &[BackendSpec]) -> Haproxy {
        let dir = temp_dir("haproxy");
        let socket = dir.join("admin.sock");
        let port = free_port();
        let mut cfg = format!(
            "global\n    stats socket {} mode 600 level admin\n    nbthread 2\n\
             defaults\n    mode http\n    timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n\
             frontend fe\n    bind 127.0.0.1:{port}\n    http-after-response set-header x-served-by %s\n    default_backend {}\n",
            socket.display(),
            backends[0].name
        );
        for b in backends {
            cfg.push_str(&format!(
                "backend {}\n    balance {}\n    option httpchk GET /health\n    default-server check inter 200ms fall 2 rise 2\n",
                b.name, b.balance
            ));
            for s in &b.servers {
                cfg.push_str(&format!(
                    "    server {} 127.0.0.1:{} weight {}\n",
                    s.name, s.port, s.weight
                ));
            }
        }
        let path = dir.join("haproxy.cfg");
        std::fs::write(&path, cfg).expect("write haproxy.cfg");
        let child = Command::new(sbin("haproxy"))
            .args(["-db", "-f"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start haproxy");
        let haproxy = Haproxy {
            port,
            socket,
            dir,
            child,
        };
        haproxy.wait_ready();
        haproxy
    }

    /// The socket as albflip takes it.
    pub fn socket_arg(&self) -> String {
        self.socket.display().to_string()
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::os::unix::net::UnixStream::connect(&self.socket).is_ok()
                && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "haproxy did not come up on port {} (config in {})",
            self.port,
            self.dir.display()
        );
    }

    /// Sends a runtime API command and returns the answer.
    pub fn command(&self, command: &str) -> String {
        use std::io::{Read, Write};
        let mut stream = std::os::unix::net::UnixStream::connect(&self.socket).expect("socket");
        stream
            .write_all(format!("{command}\n").as_bytes())
            .expect("write");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read");
        answer
    }

    /// The weight of `backend/server` now.
    pub fn weight(&self, backend: &str, server: &str) -> u16 {
        let answer = self.command(&format!("get weight {backend}/{server}"));
        answer
            .split_whitespace()
            .next()
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("get weight {backend}/{server}: {answer:?}"))
    }

    /// Waits until HAProxy's checks see `server` of `backend` with `status` (e.g. `UP`, `DOWN`).
    pub fn wait_status(&self, backend: &str, server: &str, status: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let stat = self.command("show stat");
            let up = stat.lines().any(|l| {
                let f: Vec<&str> = l.split(',').collect();
                f.len() > 17 && f[0] == backend && f[1] == server && f[17] == status
            });
            if up {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{backend}/{server} never became {status}");
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
