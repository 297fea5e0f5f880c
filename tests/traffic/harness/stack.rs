//! The router abstraction of the real-traffic scenarios: a [`Stack`] is blue and green servers, the
//! real proxy of a [`Router`] in front of them (blue at 256, green at 0), a client load through it and
//! a state directory; it runs the real `albflip` with the flags that name its route. A scenario written
//! once over a `Stack` runs against HAProxy and against nginx.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::{
    albflip, run, strings, temp_dir, BackendSpec, ColorServer, Haproxy, Load, Nginx, Run, Server,
    Upstreamed,
};

/// The proxy a stack puts in front of blue and green.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Router {
    Haproxy,
    Nginx,
}

impl Router {
    /// Its name as `--router` takes it (and the history's route starts with).
    pub fn name(self) -> &'static str {
        match self {
            Router::Haproxy => "haproxy",
            Router::Nginx => "nginx",
        }
    }
}

/// A running proxy in front of blue and green.
pub enum Proxy {
    /// HAProxy with the backend `app` of the servers `blue1` and `green1`.
    Haproxy(Haproxy),
    /// nginx with the upstream `app` of blue's and green's addresses.
    Nginx {
        nginx: Nginx,
        blue: Upstreamed,
        green: Upstreamed,
    },
}

impl Proxy {
    /// Starts `router`'s proxy in front of `blue` (weight 256) and `green` (weight 0); HAProxy's
    /// checks see both up before it returns.
    pub fn start(router: Router, blue: &ColorServer, green: &ColorServer) -> Proxy {
        match router {
            Router::Haproxy => {
                let haproxy = Haproxy::start(&[BackendSpec::new(
                    "app",
                    vec![
                        Server::new("blue1", blue.port(), 256),
                        Server::new("green1", green.port(), 0),
                    ],
                )]);
                haproxy.wait_status("app", "blue1", "UP");
                haproxy.wait_status("app", "green1", "UP");
                Proxy::Haproxy(haproxy)
            }
            Router::Nginx => {
                let (b, g) = (
                    Upstreamed::new("blue1", blue.port(), 256),
                    Upstreamed::new("green1", green.port(), 0),
                );
                let nginx = Nginx::start(&[
                    Upstreamed::new("blue1", blue.port(), 256),
                    Upstreamed::new("green1", green.port(), 0),
                ]);
                Proxy::Nginx {
                    nginx,
                    blue: b,
                    green: g,
                }
            }
        }
    }

    /// The port the client sends its requests to.
    pub fn port(&self) -> u16 {
        match self {
            Proxy::Haproxy(h) => h.port,
            Proxy::Nginx { nginx, .. } => nginx.port,
        }
    }

    /// `--router …` and the flags that name the route (blue and green included).
    pub fn route_flags(&self) -> Vec<String> {
        match self {
            Proxy::Haproxy(h) => strings(&[
                "--router",
                "haproxy",
                "--haproxy-socket",
                &h.socket_arg(),
                "--haproxy-backend",
                "app",
                "--blue",
                "blue1",
                "--green",
                "green1",
            ]),
            Proxy::Nginx { nginx, blue, green } => strings(&[
                "--router",
                "nginx",
                "--nginx-upstream-file",
                &nginx.upstream_file.display().to_string(),
                "--nginx-upstream",
                "app",
                "--nginx-access-log",
                &nginx.access_log.display().to_string(),
                "--nginx-reload-command",
                &nginx.reload_command(),
                "--nginx-test-command",
                &nginx.test_command(),
                "--nginx-pid-file",
                &nginx.pid_file().display().to_string(),
                "--health-path",
                "/health",
                "--blue",
                &blue.address(),
                "--green",
                &green.address(),
            ]),
        }
    }

    /// Blue's and green's weights: HAProxy's live ones, nginx's effective ones in the upstream file
    /// (0: `down`).
    pub fn weights(&self) -> (u32, u32) {
        match self {
            Proxy::Haproxy(h) => (
                h.weight("app", "blue1").into(),
                h.weight("app", "green1").into(),
            ),
            Proxy::Nginx { nginx, blue, green } => {
                let w = nginx.weights(&[blue, green]);
                (w[0], w[1])
            }
        }
    }

    /// Whether [`weights`](Self::weights) is what the proxy routes by the moment it reads so
    /// (HAProxy's runtime API), rather than a file the proxy takes up at the reload albflip returns
    /// after (nginx).
    pub fn weights_are_live(&self) -> bool {
        matches!(self, Proxy::Haproxy(_))
    }

    /// What albflip writes, as it stands: HAProxy's weights, nginx's upstream file.
    pub fn written(&self) -> String {
        match self {
            Proxy::Haproxy(_) => format!("{:?}", self.weights()),
            Proxy::Nginx { nginx, .. } => nginx.upstream_text(),
        }
    }

    /// How `plan` names the route.
    pub fn plan_names(&self) -> &'static str {
        match self {
            Proxy::Haproxy(_) => "on the HAProxy backend app",
            Proxy::Nginx { .. } => "nginx upstream app",
        }
    }

    /// Asserts that all traffic is on green: HAProxy's blue at 0 and green at 256; nginx's blue
    /// marked `down` in the upstream file and green with a weight.
    pub fn assert_all_on_green(&self) {
        match self {
            Proxy::Haproxy(_) => assert_eq!(self.weights(), (0, 256), "all traffic on green"),
            Proxy::Nginx { nginx, blue, .. } => {
                assert_eq!(self.weights().0, 0, "blue marked down");
                assert!(self.weights().1 > 0, "all traffic on green");
                assert!(
                    nginx
                        .upstream_text()
                        .contains(&format!("server {} weight=1 down;", blue.address())),
                    "{}",
                    nginx.upstream_text()
                );
            }
        }
    }

    /// The nginx behind it (an nginx-only scenario).
    pub fn nginx(&self) -> &Nginx {
        match self {
            Proxy::Nginx { nginx, .. } => nginx,
            Proxy::Haproxy(_) => panic!("not an nginx stack"),
        }
    }
}

/// Blue and green servers, a router's proxy in front, a client load running, a state directory.
pub struct Stack {
    pub blue: ColorServer,
    pub green: ColorServer,
    pub proxy: Proxy,
    pub load: Load,
    pub state: PathBuf,
}

impl Stack {
    /// Starts the servers, `router`'s proxy and 4 clients sending a request every 5 ms each.
    pub fn start(router: Router) -> Stack {
        let (blue, green) = (ColorServer::start("blue"), ColorServer::start("green"));
        let proxy = Proxy::start(router, &blue, &green);
        let load = Load::start(
            &format!("http://127.0.0.1:{}/", proxy.port()),
            4,
            Duration::from_millis(5),
        );
        Stack {
            blue,
            green,
            proxy,
            load,
            state: temp_dir("state"),
        }
    }

    /// The flags that name the route, and the state directory.
    pub fn route(&self) -> Vec<String> {
        let mut a = self.proxy.route_flags();
        a.extend(strings(&["--state-dir", &self.state.display().to_string()]));
        a
    }

    /// [`route`](Self::route), then `tail`.
    pub fn args(&self, tail: &[&str]) -> Vec<String> {
        let mut a = self.route();
        a.extend(strings(tail));
        a
    }

    /// Runs albflip on the route to the end.
    pub fn run(&self, tail: &[&str]) -> Run {
        run(albflip(), &self.args(tail))
    }

    /// Runs albflip on the route on a terminal (util-linux `script` gives it a pseudo-terminal), typing
    /// `input`; what it printed comes back as stdout (the terminal merges both streams).
    pub fn run_on_terminal(&self, tail: &[&str], input: &str) -> Run {
        use std::io::Write;
        let albflip = albflip();
        let quoted = |a: &str| format!("'{}'", a.replace('\'', r"'\''"));
        let line = std::iter::once(albflip.get_program().to_string_lossy().into_owned())
            .chain(self.args(tail))
            .map(|a| quoted(&a))
            .collect::<Vec<_>>()
            .join(" ");
        let mut script = std::process::Command::new("script");
        for (k, v) in albflip.get_envs() {
            match v {
                Some(v) => script.env(k, v),
                None => script.env_remove(k),
            };
        }
        if let Some(dir) = albflip.get_current_dir() {
            script.current_dir(dir);
        }
        let mut child = script
            .args(["-qec", &line, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start script (util-linux)");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("type the answer");
        Run::from(child.wait_with_output().expect("run albflip on a terminal"))
    }

    /// Starts albflip on the route in the background.
    pub fn spawn(&self, tail: &[&str]) -> Child {
        albflip()
            .args(self.args(tail))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start albflip")
    }

    /// Blue's and green's weights (see [`Proxy::weights`]).
    pub fn weights(&self) -> (u32, u32) {
        self.proxy.weights()
    }

    /// Waits until green has a weight above zero (albflip's first step is live).
    pub fn wait_green_live(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.weights().1 == 0 {
            assert!(Instant::now() < deadline, "green never got traffic");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
