//! Issue 21, Jenkins: a pipeline rolls back only its own deployment. `deploy` prints its id and writes
//! it to `--deployment-id-file`; `rollback --deployment-id` refuses (exit 4, nothing written) when the
//! route records another deployment; `--events-file` keeps the NDJSON while the console keeps lines.

use crate::harness::*;

/// A canary to 20 % on green that waits for promotion, with the pipeline's files in `dir`.
fn canary(s: &Stack, dir: &std::path::Path) -> Run {
    let id_file = dir.join("deployment-id");
    let events = dir.join("events.ndjson");
    let mut argv = gated(
        &s.by_arn(),
        &[
            "deploy",
            "--target",
            "green",
            "--strategy",
            "canary",
            "--canary-percentage",
            "20",
        ],
        "2s",
    );
    argv.extend(
        [
            "--deployment-id-file",
            id_file.to_str().unwrap(),
            "--events-file",
            events.to_str().unwrap(),
        ]
        .map(String::from),
    );
    run(&argv)
}

#[test]
fn a_pipeline_rolls_back_its_own_deployment_and_never_another_ones() {
    let s = stack(None);
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let dir = empty_dir();
    // A stale id file from an earlier build is never taken for this run's.
    std::fs::write(dir.join("deployment-id"), "stale\n").unwrap();
    let r = canary(&s, &dir);
    assert_eq!(r.code, 0, "{r:?}");
    let id = std::fs::read_to_string(dir.join("deployment-id")).expect("id file");
    let id = id.trim();
    assert_eq!(
        Some(id),
        tag(&s.listener_arn, "albflip:deployment-id").as_deref(),
        "the file holds the recorded id"
    );
    assert!(
        r.stdout
            .contains(&format!("deployment {id}: deploying green")),
        "the id is printed at the start: {}",
        r.stdout
    );
    // The console kept its lines; the events file holds NDJSON, each event with the id.
    assert!(r.stdout.contains("awaiting promotion"), "{}", r.stdout);
    let events = std::fs::read_to_string(dir.join("events.ndjson")).expect("events file");
    assert!(check_events(&events) >= 4, "{events}");
    let lines: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON line"))
        .collect();
    assert!(lines.len() >= 4, "{events}");
    // Capacity is matched before the deployment is recorded; from its start on, every event has the id.
    let started = lines
        .iter()
        .position(|e| e["event"] == "deployment_started")
        .expect("deployment_started");
    assert!(
        lines[started..].iter().all(|e| e["deployment_id"] == id),
        "{events}"
    );
    assert_eq!(lines.last().unwrap()["event"], "awaiting_promotion");

    // Another build's clean-up names its own (other) deployment: refused, nothing written.
    let before = fingerprint(&s.listener_arn);
    let r = run(&args(
        &[&s.by_arn()],
        &["rollback", "--deployment-id", "20200101T000000Z-beef"],
    ));
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.stderr.contains(id) && r.stderr.contains("20200101T000000Z-beef"),
        "names both deployments: {}",
        r.stderr
    );
    assert!(r.stderr.contains("--deployment-id"), "{}", r.stderr);
    assert_eq!(fingerprint(&s.listener_arn), before, "nothing written");
    assert_eq!(weights(&s), (Some(80), Some(20)));

    // Its own id: traffic back on blue, the deployment recorded as rolled back.
    let r = run(&args(&[&s.by_arn()], &["rollback", "--deployment-id", id]));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(weights(&s), (Some(100), Some(0)));
    assert_eq!(
        tag(&s.listener_arn, "albflip:state").as_deref(),
        Some("rolled-back")
    );
}

#[test]
fn a_rollback_naming_a_deployment_refuses_a_route_that_records_none() {
    let s = stack(None);
    run(&args(
        &[&s.by_arn()],
        &["shift", "--target", "green", "--percentage", "30"],
    ))
    .ok();
    let before = fingerprint(&s.listener_arn);
    let r = run(&args(
        &[&s.by_arn()],
        &["rollback", "--deployment-id", "20200101T000000Z-beef"],
    ));
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.contains("records no deployment"), "{}", r.stderr);
    assert_eq!(fingerprint(&s.listener_arn), before);
    // An empty id (an empty file read by a pipeline) is bad input, not a rollback of anything.
    let r = run(&args(&[&s.by_arn()], &["rollback", "--deployment-id", ""]));
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(fingerprint(&s.listener_arn), before);
}

#[test]
fn no_id_file_is_left_when_no_deployment_started() {
    let s = stack(None);
    // A canary already waits: a second deploy is refused (exit 4) before it starts, and must leave no
    // id behind for the pipeline's clean-up to roll back.
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let first = empty_dir();
    canary(&s, &first).ok();
    let second = empty_dir();
    let r = canary(&s, &second);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(!second.join("deployment-id").exists());
}

/// The example pipeline and the shared-library steps roll back only their own deployment: every
/// `rollback` they run names it, and the status is shown in `cleanup`, after the rollback.
#[test]
fn the_jenkins_examples_roll_back_only_their_own_deployment() {
    let root = repo();
    for file in [
        "examples/Jenkinsfile",
        "examples/jenkins/vars/albflipDeploy.groovy",
        "examples/jenkins/vars/albflipRollback.groovy",
    ] {
        let text = std::fs::read_to_string(root.join(file)).expect(file);
        let code: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect();
        let runs_rollback = |l: &&&str| {
            l.contains("albflip rollback") || l.contains("\"rollback ") || l.contains("'rollback'")
        };
        for line in code.iter().filter(runs_rollback) {
            let named = line.contains("--deployment-id") || line.contains("'rollback'");
            assert!(
                named,
                "{file}: a rollback that does not name its deployment: {line}"
            );
        }
        assert!(
            !code.iter().any(|l| l.contains("agent any")),
            "{file}: holds an executor"
        );
    }
    let jenkinsfile = std::fs::read_to_string(root.join("examples/Jenkinsfile")).unwrap();
    let post = jenkinsfile.split("post {").nth(1).expect("a post section");
    let cleanup = post.split("cleanup {").nth(1).expect("a cleanup section");
    assert!(cleanup.contains("albflip('status')"), "status runs last");
    assert!(
        !post.contains("always {"),
        "status must not run before the rollback"
    );
    assert!(jenkinsfile.contains("--events-file") && !jenkinsfile.contains("--output json >"));
    assert!(jenkinsfile.contains("withCredentials") && jenkinsfile.contains("cargo install"));
}

/// The schema check can fail: the nested `{"gate": {"gate": …}}` of before issue 21 is refused, as is an
/// event without its time.
#[test]
fn the_event_schema_refuses_a_nested_gate_and_a_missing_ts() {
    let good = r#"{"event":"step_passed","step":1,"percent":10,"ts":"2026-11-29T17:11:43.693Z"}"#;
    assert_eq!(check_events(good), 1);
    let nested = r#"{"event":"rolling_back","failure":{"reason":"gate","polls":1,"result":{"gate":{"gate":"error_rate"},"verdict":"fail","value":0.5,"threshold":0.01,"message":"m"}},"ts":"2026-11-29T17:11:43.693Z"}"#;
    let no_ts = r#"{"event":"step_passed","step":1,"percent":10}"#;
    for bad in [nested, no_ts] {
        let refused = std::panic::catch_unwind(|| check_events(bad));
        assert!(refused.is_err(), "accepted: {bad}");
    }
}
