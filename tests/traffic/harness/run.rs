//! What every real-traffic scenario does with albflip's output: the arguments of a deployment with
//! short bakes, its NDJSON events, their times, the summary, the deployment's id, and the end of a run
//! started in the background.

use std::process::Child;
use std::time::SystemTime;

use serde_json::Value;

use super::Run;

/// Short bakes: 1 s polls and periods over a 10 s window, NDJSON output.
pub const FAST: &[&str] = &[
    "--poll-interval",
    "1s",
    "--metric-period",
    "1s",
    "--metric-window",
    "10s",
    "--output",
    "json",
];

/// `deploy --target green` with [`FAST`] bakes, then `extra`.
pub fn deploy<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["deploy", "--target", "green"];
    a.extend_from_slice(FAST);
    a.extend_from_slice(extra);
    a
}

/// The NDJSON lines of a run's stdout.
pub fn events(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// An event's time.
pub fn ts(v: &Value) -> SystemTime {
    let text = v["ts"].as_str().expect("ts");
    humantime::parse_rfc3339(text).unwrap_or_else(|e| panic!("ts {text}: {e}"))
}

/// The run's summary event.
pub fn summary(events: &[Value]) -> &Value {
    events
        .iter()
        .find(|e| e["event"] == "summary")
        .unwrap_or_else(|| panic!("no summary in {events:?}"))
}

/// The id of the deployment a run started, from its NDJSON.
pub fn deployment_id(events: &[Value]) -> String {
    events
        .iter()
        .find_map(|e| {
            e["deployment_id"]
                .as_str()
                .filter(|_| e["event"] == "deployment_started")
        })
        .unwrap_or_else(|| panic!("no deployment started in {events:?}"))
        .to_string()
}

/// Waits for a binary started in the background to end.
pub fn wait_exit(child: Child) -> Run {
    Run::from(child.wait_with_output().expect("albflip ran"))
}
