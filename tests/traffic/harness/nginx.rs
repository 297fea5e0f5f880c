//! A real nginx (Debian's `nginx`, which `test.sh` installs) with its own prefix, configuration, pid
//! file, error log and temporary paths in a fresh directory, in the foreground (`daemon off`, one
//! worker) on a free loopback port. nginx.conf includes the upstream file albflip owns and writes the
//! access log in albflip's JSON `log_format`. Every response carries `x-served-by: SERVER` (`blue1`,
//! `green1`, ... from the address of the last server nginx tried, its own 502 included), so the client
//! can name the color behind it. Dropping it stops it (SIGQUIT to the master, then SIGKILL).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use albflip::nginx::upstream;

use super::{free_port, sbin, temp_dir};

/// The JSON log format albflip reads (the README's, verbatim).
pub const LOG_FORMAT: &str = r#"log_format albflip escape=json '{"time":"$time_iso8601","status":"$status","upstream_addr":"$upstream_addr","upstream_status":"$upstream_status","request_time":"$request_time","upstream_response_time":"$upstream_response_time"}';"#;

/// One server of the upstream: its name for `x-served-by`, its port, its weight (0: `down`).
pub struct Upstreamed {
    pub name: String,
    pub port: u16,
    pub weight: u32,
}

impl Upstreamed {
    pub fn new(name: &str, port: u16, weight: u32) -> Upstreamed {
        Upstreamed {
            name: name.into(),
            port,
            weight,
        }
    }

    /// Its address as the upstream and the access log write it.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// A running nginx.
pub struct Nginx {
    /// The server's port.
    pub port: u16,
    /// Its prefix directory (configuration, pid file, logs).
    pub dir: PathBuf,
    /// The upstream file albflip owns.
    pub upstream_file: PathBuf,
    /// The access log in albflip's format.
    pub access_log: PathBuf,
    /// nginx.conf.
    pub conf: PathBuf,
    child: Child,
}

/// The upstream file for `servers` under `name`.
pub fn upstream_text(name: &str, servers: &[Upstreamed]) -> String {
    let mut text = format!("upstream {name} {{\n");
    for s in servers {
        if s.weight == 0 {
            text.push_str(&format!("    server {} weight=1 down;\n", s.address()));
        } else {
            text.push_str(&format!(
                "    server {} weight={};\n",
                s.address(),
                s.weight
            ));
        }
    }
    text.push_str("}\n");
    text
}

impl Nginx {
    /// Starts nginx proxying everything to the upstream `app` of `servers`.
    pub fn start(servers: &[Upstreamed]) -> Nginx {
        let dir = temp_dir("nginx");
        std::fs::create_dir_all(dir.join("tmp")).expect("tmp dir");
        let port = free_port();
        let upstream_file = dir.join("app-upstream.conf");
        std::fs::write(&upstream_file, upstream_text("app", servers)).expect("upstream file");
        let access_log = dir.join("access.log");
        let d = dir.display();
        let mut map = String::from("    map $upstream_addr $served_by {\n        default \"\";\n");
        for s in servers {
            map.push_str(&format!("        \"~:{}$\" {};\n", s.port, s.name));
        }
        map.push_str("    }\n");
        let conf = format!(
            "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log notice;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n    access_log off;\n    client_body_temp_path {d}/tmp/body;\n    proxy_temp_path {d}/tmp/proxy;\n    fastcgi_temp_path {d}/tmp/fastcgi;\n    uwsgi_temp_path {d}/tmp/uwsgi;\n    scgi_temp_path {d}/tmp/scgi;\n\
             \x20   {LOG_FORMAT}\n{map}    include {d}/extra/*.conf;\n    include {};\n\
             \x20   server {{\n        listen 127.0.0.1:{port};\n        access_log {} albflip;\n\
             \x20       location / {{\n            proxy_pass http://app;\n            proxy_connect_timeout 1s;\n            add_header x-served-by $served_by always;\n        }}\n    }}\n}}\n",
            upstream_file.display(),
            access_log.display(),
        );
        std::fs::create_dir_all(dir.join("extra")).expect("extra dir");
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("nginx.conf");
        let child = Command::new(sbin("nginx"))
            .args(["-p"])
            .arg(&dir)
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let nginx = Nginx {
            port,
            upstream_file,
            access_log,
            conf: conf_path,
            dir,
            child,
        };
        nginx.wait_ready();
        nginx
    }

    /// nginx with this instance's prefix, configuration and error log, then `tail`.
    fn command(&self, tail: &str) -> String {
        format!(
            "{} -p {} -c {} -e {} {tail}",
            sbin("nginx").display(),
            self.dir.display(),
            self.conf.display(),
            self.dir.join("error.log").display()
        )
    }

    /// The reload command albflip takes.
    pub fn reload_command(&self) -> String {
        self.command("-s reload")
    }

    /// The test command albflip takes.
    pub fn test_command(&self) -> String {
        self.command("-t -q")
    }

    /// The pid file.
    pub fn pid_file(&self) -> PathBuf {
        self.dir.join("nginx.pid")
    }

    /// Breaks nginx's configuration outside the upstream file (a file of garbage it includes).
    pub fn break_config(&self) {
        std::fs::write(self.dir.join("extra/broken.conf"), "this is not nginx;\n").expect("write");
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.pid_file().is_file()
                && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "nginx did not come up on port {} (see {})",
            self.port,
            self.dir.join("error.log").display()
        );
    }

    /// The upstream file's text.
    pub fn upstream_text(&self) -> String {
        std::fs::read_to_string(&self.upstream_file).expect("upstream file")
    }

    /// The effective weight (0 when `down`) of each server of `app`, in the order given.
    pub fn weights(&self, servers: &[&Upstreamed]) -> Vec<u32> {
        let u = upstream::parse(&self.upstream_text(), "app").expect("the upstream parses");
        servers
            .iter()
            .map(|s| u.server(&s.address()).expect("server").effective())
            .collect()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-QUIT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
