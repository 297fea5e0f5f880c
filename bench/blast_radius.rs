//! The blast radius of a bad green, measured (`bench/blast-radius` runs it; numbers in BENCHMARKS.md):
//! for each router (HAProxy, nginx), each judge and each share of 500s, `RUNS` deployments of a green
//! that fails that share of its requests, through the real proxy under a real client load. Each run
//! records the failed requests the client counted (all green's), albflip's blast radius (they must
//! agree), and the time from the first step's verified write to the verified rollback.
//!
//! A benchmark, not a test: it takes minutes, so it is its own target (`harness = false`, `test =
//! false`) that `cargo test --all-targets` leaves out; `cargo test --test blast-radius -- [haproxy|nginx]`
//! runs it. It shares the real-traffic tests' harness: their `Stack` of a `Router`, and how they read
//! albflip's events.

use std::time::{Duration, SystemTime};

#[allow(dead_code, unused_imports)] // the benchmark uses part of the real-traffic tests' harness
#[path = "../tests/traffic/harness/mod.rs"]
mod harness;

use harness::*;

const RUNS: usize = 10;

struct Measured {
    client_failed: u64,
    albflip_failed: u64,
    green_requests: u64,
    retried: u64,
    detect: Duration,
    rate: f64,
}

fn one(router: Router, judge: &str, fail_percent: u32) -> Measured {
    let mut s = Stack::start(router);
    s.green.fail_percent(fail_percent);
    std::thread::sleep(Duration::from_secs(1));
    let started = SystemTime::now();
    let run = s.run(&deploy(&[
        "--steps",
        "10,50,100",
        "--bake",
        "30s",
        "--judge",
        judge,
    ]));
    std::thread::sleep(Duration::from_millis(500));
    let total = s.load.stop();
    let elapsed = SystemTime::now()
        .duration_since(started)
        .unwrap_or_default();
    assert_eq!(run.code, 3, "a bad green is rolled back: {run:?}");
    let events = events(&run.stdout);
    let at = |name: &str| {
        events
            .iter()
            .find(|e| e["event"] == name)
            .map(ts)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    let detect = at("rolled_back")
        .duration_since(at("weights_applied"))
        .unwrap_or_default();
    Measured {
        client_failed: total.failed_green + total.failed_unknown + total.failed_blue,
        albflip_failed: summary(&events)["blast_radius"]["failed_requests"]
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
