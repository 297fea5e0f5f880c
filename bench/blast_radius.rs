//! The blast radius of a bad green, measured (`bench/blast-radius` runs it; numbers in BENCHMARKS.md):
//! for each router (HAProxy, nginx), each judge and each share of 500s, `RUNS` deployments of a green
//! that fails that share of its requests, through the real proxy under a real client load. Each run
//! records the failed requests the client counted (all green's), albflip's blast radius (they must
//! agree), and the time from the first step's verified write to the verified rollback.
//!
//! A benchmark, not a test: it takes minutes, so it is its own target (`harness = false`, `test =
//! false`) that `cargo test --all-targets` leaves out; `cargo test --test blast-radius -- [haproxy|nginx]`
//! runs it. It shares the real-traffic tests' harness.

use std::time::{Duration, SystemTime};

use serde_json::Value;

#[allow(dead_code)] // the benchmark uses part of the real-traffic tests' harness
#[path = "../tests/traffic/harness/mod.rs"]
mod harness;

use harness::*;

const RUNS: usize = 10;

/// The proxy a run goes through.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Router {
    Haproxy,
    Nginx,
}

/// A proxy started in front of blue and green, and the flags that name its route to albflip.
enum Proxy {
    Haproxy(Haproxy),
    Nginx(Nginx),
}

impl Proxy {
    fn start(router: Router, blue: &ColorServer, green: &ColorServer) -> Proxy {
        match router {
            Router::Haproxy => {
                let haproxy = Haproxy::start(&[BackendSpec::new(
                    "app",
                    vec![
                        Server::new("blue1", blue.port(), 256),
                        Server::new("green1", green.port(), 0),
                    ],
                )]);
                haproxy.wait_status("app", "green1", "UP");
                Proxy::Haproxy(haproxy)
            }
            Router::Nginx => Proxy::Nginx(Nginx::start(&[
                Upstreamed::new("blue1", blue.port(), 256),
                Upstreamed::new("green1", green.port(), 0),
            ])),
        }
    }

    fn port(&self) -> u16 {
        match self {
            Proxy::Haproxy(h) => h.port,
            Proxy::Nginx(n) => n.port,
        }
    }

    /// `--router …` and the flags that name the route (blue and green included).
    fn route_flags(&self, blue: &ColorServer, green: &ColorServer) -> Vec<String> {
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
            Proxy::Nginx(n) => strings(&[
                "--router",
                "nginx",
                "--nginx-upstream-file",
                &n.upstream_file.display().to_string(),
                "--nginx-upstream",
                "app",
                "--nginx-access-log",
                &n.access_log.display().to_string(),
                "--nginx-reload-command",
                &n.reload_command(),
                "--nginx-test-command",
                &n.test_command(),
                "--nginx-pid-file",
                &n.pid_file().display().to_string(),
                "--health-path",
                "/health",
                "--blue",
                &Upstreamed::new("blue1", blue.port(), 256).address(),
                "--green",
                &Upstreamed::new("green1", green.port(), 0).address(),
            ]),
        }
    }
}

struct Measured {
    client_failed: u64,
    albflip_failed: u64,
    green_requests: u64,
    retried: u64,
    detect: Duration,
    rate: f64,
}

fn one(router: Router, judge: &str, fail_percent: u32) -> Measured {
    let (blue, green) = (ColorServer::start("blue"), ColorServer::start("green"));
    let proxy = Proxy::start(router, &blue, &green);
    let mut load = Load::start(
        &format!("http://127.0.0.1:{}/", proxy.port()),
        4,
        Duration::from_millis(5),
    );
    green.fail_percent(fail_percent);
    std::thread::sleep(Duration::from_secs(1));
    let state = temp_dir("bench-state");
    let started = SystemTime::now();
    let mut args = proxy.route_flags(&blue, &green);
    args.extend(strings(&[
        "--state-dir",
        &state.display().to_string(),
        "deploy",
        "--target",
        "green",
        "--steps",
        "10,50,100",
        "--bake",
        "30s",
        "--judge",
        judge,
        "--poll-interval",
        "1s",
        "--metric-period",
        "1s",
        "--metric-window",
        "10s",
        "--output",
        "json",
    ]));
    let run = run(albflip(), &args);
    std::thread::sleep(Duration::from_millis(500));
    let total = load.stop();
    let elapsed = SystemTime::now()
        .duration_since(started)
        .unwrap_or_default();
    assert_eq!(run.code, 3, "a bad green is rolled back: {run:?}");
    let events: Vec<Value> = run
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let at = |name: &str| {
        events
            .iter()
            .find(|e| e["event"] == name)
            .and_then(|e| e["ts"].as_str())
            .and_then(|t| humantime::parse_rfc3339(t).ok())
            .unwrap_or_else(|| panic!("no {name}"))
    };
    let detect = at("rolled_back")
        .duration_since(at("weights_applied"))
        .unwrap_or_default();
    let summary = events
        .iter()
        .find(|e| e["event"] == "summary")
        .expect("summary");
    Measured {
        client_failed: total.failed_green + total.failed_unknown + total.failed_blue,
        albflip_failed: summary["blast_radius"]["failed_requests"]
            .as_f64()
            .unwrap_or(-1.0) as u64,
        green_requests: total.green,
        retried: total.retried,
        detect,
        rate: total.total() as f64 / elapsed.as_secs_f64(),
    }
}

fn quantiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

/// The table of one router: nginx's has a column for the GETs the client sent again after a reload.
fn table(router: Router) {
    let nginx = router == Router::Nginx;
    let (extra, rule) = if nginx {
        (" GETs sent again (reloads) |", "---|")
    } else {
        ("", "")
    };
    println!("| judge | green fails | runs | failed client requests min / median / max | albflip's count equal | write to rollback min / median / max | client rate |{extra}");
    println!("|---|---|---|---|---|---|---|{rule}");
    for judge in ["sequential", "threshold"] {
        for fail in [30, 5] {
            let runs: Vec<Measured> = (0..RUNS).map(|_| one(router, judge, fail)).collect();
            let failed = quantiles(runs.iter().map(|m| m.client_failed as f64).collect());
            let detect = quantiles(runs.iter().map(|m| m.detect.as_secs_f64()).collect());
            let equal = runs
                .iter()
                .filter(|m| m.client_failed == m.albflip_failed)
                .count();
            let rate = runs.iter().map(|m| m.rate).sum::<f64>() / runs.len() as f64;
            let green = runs.iter().map(|m| m.green_requests).sum::<u64>() / runs.len() as u64;
            let retried = runs.iter().map(|m| m.retried).sum::<u64>();
            let extra = if nginx {
                format!(" {retried} in all |")
            } else {
                String::new()
            };
            println!(
                "| {judge} | {fail} % | {} | {:.0} / {:.0} / {:.0} (green served {green} on average) | {equal} of {} | {:.1} / {:.1} / {:.1} s | {rate:.0} req/s |{extra}",
                runs.len(), failed.0, failed.1, failed.2, runs.len(), detect.0, detect.1, detect.2
            );
        }
    }
}

/// `haproxy`, `nginx`, or both (no argument).
fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    for (name, router) in [("haproxy", Router::Haproxy), ("nginx", Router::Nginx)] {
        if which.is_empty() || which == name {
            println!("\n{name}:");
            table(router);
        }
    }
}
