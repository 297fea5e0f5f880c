//! The blast radius of a bad green, measured (`bench/blast-radius` runs it; numbers in BENCHMARKS.md):
//! for each judge and each share of 500s, `RUNS` deployments of a green that fails that share of its
//! requests, through a real HAProxy under a real client load. Each run records the failed requests the
//! client counted (all green's), albflip's blast radius (they must agree), and the time from the first
//! step's verified write to the verified rollback. Ignored in the normal test run (it takes minutes);
//! `cargo test --test traffic bench_ -- --ignored --nocapture` prints the table.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::harness::*;

const RUNS: usize = 10;

struct Measured {
    client_failed: u64,
    albflip_failed: u64,
    green_requests: u64,
    detect: Duration,
    rate: f64,
}

fn one(judge: &str, fail_percent: u32) -> Measured {
    let (blue, green) = (ColorServer::start("blue"), ColorServer::start("green"));
    let haproxy = Haproxy::start(&[BackendSpec::new(
        "app",
        vec![
            Server::new("blue1", blue.port(), 256),
            Server::new("green1", green.port(), 0),
        ],
    )]);
    haproxy.wait_status("app", "green1", "UP");
    let mut load = Load::start(
        &format!("http://127.0.0.1:{}/", haproxy.port),
        4,
        Duration::from_millis(5),
    );
    green.fail_percent(fail_percent);
    std::thread::sleep(Duration::from_secs(1));
    let state = temp_dir("bench-state");
    let started = SystemTime::now();
    let run = run(
        albflip(),
        &strings(&[
            "--router",
            "haproxy",
            "--haproxy-socket",
            &haproxy.socket_arg(),
            "--haproxy-backend",
            "app",
            "--blue",
            "blue1",
            "--green",
            "green1",
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
        ]),
    );
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
        detect,
        rate: total.total() as f64 / elapsed.as_secs_f64(),
    }
}

fn quantiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

#[test]
#[ignore = "a benchmark: minutes; bench/blast-radius runs it"]
fn bench_blast_radius_of_a_bad_green_on_haproxy() {
    println!("| judge | green fails | runs | failed client requests min / median / max | albflip's count equal | write to rollback min / median / max | client rate |");
    println!("|---|---|---|---|---|---|---|");
    for judge in ["sequential", "threshold"] {
        for fail in [30, 5] {
            let runs: Vec<Measured> = (0..RUNS).map(|_| one(judge, fail)).collect();
            let failed = quantiles(runs.iter().map(|m| m.client_failed as f64).collect());
            let detect = quantiles(runs.iter().map(|m| m.detect.as_secs_f64()).collect());
            let equal = runs
                .iter()
                .filter(|m| m.client_failed == m.albflip_failed)
                .count();
            let rate = runs.iter().map(|m| m.rate).sum::<f64>() / runs.len() as f64;
            let green = runs.iter().map(|m| m.green_requests).sum::<u64>() / runs.len() as u64;
            println!(
                "| {judge} | {fail} % | {} | {:.0} / {:.0} / {:.0} (green served {green} on average) | {equal} of {} | {:.1} / {:.1} / {:.1} s | {rate:.0} req/s |",
                runs.len(), failed.0, failed.1, failed.2, runs.len(), detect.0, detect.1, detect.2
            );
        }
    }
}
