//! The canary's wait against the emulator: `deploy --strategy canary --wait-for-promotion` keeps running
//! after the canary's bake; `albflip promote` from another process hands its request to it (the
//! deployment lock is held by the waiting run), and the waiting run takes traffic to 100 %.

use std::io::BufRead;
use std::process::Stdio;

use crate::harness::*;

fn waiting_canary(s: &Stack) -> Vec<String> {
    let mut v = s.by_arn();
    v.extend(
        [
            "deploy",
            "--target",
            "green",
            "--strategy",
            "canary",
            "--canary-percentage",
            "20",
            "--wait-for-promotion",
            "5m",
            "--on-no-data",
            "pass",
            "--lock-table",
            &s.lock_table,
        ]
        .iter()
        .map(|x| x.to_string()),
    );
    v.extend(fast("2s"));
    v
}

#[test]
fn a_waiting_canary_is_promoted_from_another_process_and_completes() {
    let s = stack(None);
    let mut cmd = albflip();
    cmd.args(waiting_canary(&s)).stdout(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn albflip");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("line");
        seen.push(line.clone());
        if line.contains("waiting for promotion at 20% with the gates on") {
            break;
        }
    }
    assert!(
        seen.iter().any(|l| l.contains("(then rollback)")),
        "{seen:?}"
    );
    assert_eq!(weights(&s), (Some(80), Some(20)));
    assert_eq!(
        tag(&s.listener_arn, "albflip:state").as_deref(),
        Some("awaiting-promotion")
    );
    assert!(tag(&s.listener_arn, "albflip:waiting").is_some_and(|v| !v.is_empty()));

    // `status` shows the wait, then promote from elsewhere: the waiting run (which holds the lock)
    // takes it.
    let r = run(&args(&[&s.by_arn()], &["status"])).ok();
    assert!(r.stdout.contains("for promotion until"), "{r:?}");
    let mut promote = s.by_arn();
    promote.extend(
        [
            "promote",
            "--lock-table",
            &s.lock_table,
            "--on-no-data",
            "pass",
        ]
        .iter()
        .map(|x| x.to_string()),
    );
    promote.extend(fast("2s"));
    let r = run(&promote).ok();
    assert!(
        r.stdout.contains("asked of the run waiting for it"),
        "{r:?}"
    );

    let status = child.wait().expect("wait");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(status.code(), Some(0), "{seen:?} {rest:?}");
    assert!(rest.iter().any(|l| l.contains("promoted by")), "{rest:?}");
    assert!(
        rest.iter()
            .any(|l| l.contains("deployment complete, green is stable")),
        "{rest:?}"
    );
    assert_eq!(weights(&s), (Some(0), Some(100)));
    assert_eq!(tag(&s.listener_arn, "albflip:waiting").as_deref(), Some(""));
}

/// The wait's and the test header's events, as NDJSON, match the published schema: a canary with a test
/// header that nobody promotes, promoted by its timeout (`--on-timeout promote`).
#[test]
fn the_waits_and_the_test_headers_events_match_the_schema() {
    let s = stack(None);
    let mut argv = s.by_arn();
    argv.extend(
        [
            "--output",
            "json",
            "deploy",
            "--target",
            "green",
            "--strategy",
            "canary",
            "--wait-for-promotion",
            "4s",
            "--on-timeout",
            "promote",
            "--test-header",
            "X-Albflip-Test=1",
            "--on-no-data",
            "pass",
        ]
        .iter()
        .map(|x| x.to_string()),
    );
    argv.extend(fast("2s"));
    let r = run(&argv).ok();
    let events: Vec<String> = r
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["event"].as_str().map(str::to_string))
        .collect();
    for e in [
        "waiting_for_promotion",
        "promoted",
        "test_traffic_applied",
        "test_route_removed",
        "completed",
    ] {
        assert!(events.iter().any(|x| x == e), "no {e} in {events:?}");
    }
    assert!(check_events(&r.stdout) >= 8, "{}", r.stdout);
    assert_eq!(weights(&s), (Some(0), Some(100)));
}
