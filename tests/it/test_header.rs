//! Test traffic on the production listener (`--test-header NAME=VALUE`): a temporary listener rule
//! with an `http-header` condition sends the header's requests to the new color for the whole
//! deployment; the smoke check sends the header and the after-test-traffic hooks get it; `status` shows
//! the rule while it exists; it is removed on every way out: completion, a rollback, an interruption,
//! and a resume after `kill -9`.
//!
//! moto does not route HTTP through its load balancers: the smoke check's URL is a local server that
//! answers 200 only to requests carrying the header, and the rule itself is checked through the API.

use std::io::{Read, Write};
use std::net::TcpListener;

use crate::harness::*;

const HEADER: &str = "X-Albflip-Test=canary";

/// albflip's test rules on the listener: (priority, forward target group, tag).
fn test_rules(listener: &str) -> Vec<(String, String, Option<String>)> {
    rt().block_on(async {
        let c = elb();
        let out = c
            .describe_rules()
            .listener_arn(listener)
            .send()
            .await
            .expect("describe rules");
        let mut found = Vec::new();
        for r in out.rules().iter().filter(|r| r.is_default() != Some(true)) {
            let arn = r.rule_arn().unwrap_or_default().to_string();
            let tags = c
                .describe_tags()
                .resource_arns(&arn)
                .send()
                .await
                .expect("describe tags");
            let tag = tags.tag_descriptions()[0]
                .tags()
                .iter()
                .find(|t| t.key() == Some("albflip:test-header"))
                .and_then(|t| t.value().map(str::to_string));
            let to = r.actions()[0]
                .target_group_arn()
                .unwrap_or_default()
                .to_string();
            found.push((r.priority().unwrap_or_default().to_string(), to, tag));
        }
        found
    })
}

/// A local HTTP server that answers 200 to requests with the test header, 404 to the others.
fn header_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
            let status = if request.contains("x-albflip-test: canary") {
                200
            } else {
                404
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            );
        }
    });
    format!("http://{addr}/health")
}

fn deploy(s: &Stack, extra: &[&str], bake: &str) -> Vec<String> {
    let mut tail = vec![
        "deploy",
        "--target",
        "green",
        "--steps",
        "50,100",
        "--test-header",
        HEADER,
        "--on-no-data",
        "pass",
    ];
    tail.extend(extra);
    gated(&s.by_arn(), &tail, bake)
}

#[test]
fn the_test_header_rule_lives_for_the_deployment_and_is_removed_when_it_completes() {
    let s = stack(None);
    let before = fingerprint(&s.listener_arn);
    let dir = empty_dir();
    let seen = dir.join("seen.txt");
    let status = dir.join("status.txt");
    let hook = format!(
        "after-test-traffic=echo \"$ALBFLIP_TEST_HEADER\" > {}",
        seen.display()
    );
    let during = format!(
        "before-step={} status >> {}",
        assert_cmd::cargo::cargo_bin("albflip").display(),
        status.display()
    );
    let url = header_server();
    let r = run(&deploy(
        &s,
        &["--smoke-url", &url, "--hook", &hook, "--hook", &during],
        "1s",
    ));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("smoke check passed"), "{r:?}");
    assert!(
        r.stdout
            .contains("test header: requests with X-Albflip-Test=canary"),
        "{r:?}"
    );
    assert!(r.stdout.contains("test header rule removed"), "{r:?}");
    // The hooks got the header, and `status` showed the rule to green while the steps ran.
    assert_eq!(std::fs::read_to_string(&seen).unwrap().trim(), HEADER);
    let shown = std::fs::read_to_string(&status).unwrap();
    assert!(
        shown.contains("Test header X-Albflip-Test=canary -> green"),
        "{shown}"
    );
    // Gone afterwards: the listener's rules are as they were.
    assert!(test_rules(&s.listener_arn).is_empty());
    assert_eq!(weights(&s), (Some(0), Some(100)));
    let after = fingerprint(&s.listener_arn);
    assert_ne!(before, after, "the weights and the record changed");
    let r = run(&args(&[&s.by_arn()], &["status"])).ok();
    assert!(!r.stdout.contains("Test header"), "{r:?}");
}

#[test]
fn a_smoke_check_without_the_header_fails_and_the_rule_is_removed_before_production_moves() {
    let s = stack(None);
    let before = fingerprint(&s.listener_arn);
    // The server wants the header, and a second test header is sent instead: 404.
    let url = header_server();
    let mut argv = deploy(&s, &["--smoke-url", &url], "1s");
    let at = argv.iter().position(|a| a == HEADER).expect("header");
    argv[at] = "X-Albflip-Test=other".to_string();
    let r = run(&argv);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stdout.contains("SMOKE CHECK FAILED") && r.stdout.contains("404"),
        "{r:?}"
    );
    assert!(test_rules(&s.listener_arn).is_empty());
    assert_eq!(
        fingerprint(&s.listener_arn),
        before,
        "production and its rules untouched"
    );
}

#[test]
fn the_rule_is_removed_when_a_step_fails_and_rolls_back() {
    let s = stack(None);
    let r = run(&deploy(&s, &["--hook", "after-step=exit 1"], "1s"));
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stdout.contains("HOOK FAILED"), "{r:?}");
    assert!(r.stdout.contains("test header rule removed"), "{r:?}");
    assert!(test_rules(&s.listener_arn).is_empty());
    assert_eq!(weights(&s), (Some(100), Some(0)));
}

#[test]
fn the_rule_is_removed_on_an_interrupt_and_after_kill_9_by_the_resume() {
    let s = stack(None);
    // Interrupted during the first bake: traffic back, the rule gone.
    let (child, lines) = start_until_weights(&deploy(&s, &[], "60s"));
    let rules = test_rules(&s.listener_arn);
    assert_eq!(rules.len(), 1, "{rules:?}");
    let (priority, to, tag) = &rules[0];
    assert_eq!(
        (priority.as_str(), to, tag.as_deref()),
        ("1", &s.green_tg, Some(HEADER))
    );
    let r = run(&args(&[&s.by_arn()], &["status"])).ok();
    assert!(
        r.stdout
            .contains("Test header X-Albflip-Test=canary -> green"),
        "{r:?}"
    );
    let (code, _, rest) = interrupt(child, lines);
    assert_eq!(code, Some(130), "{rest:?}");
    assert!(test_rules(&s.listener_arn).is_empty(), "{rest:?}");
    assert_eq!(weights(&s), (Some(100), Some(0)));

    // Killed with -9 during the bake: the rule stays, and the resumed run removes it at its end.
    let (mut child, _lines) = start_until_weights(&deploy(&s, &[], "60s"));
    child.kill().expect("kill -9");
    child.wait().expect("wait");
    assert_eq!(test_rules(&s.listener_arn).len(), 1);
    let r = run(&deploy(&s, &["--resume"], "1s"));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("test header rule removed"), "{r:?}");
    assert!(test_rules(&s.listener_arn).is_empty());
    assert_eq!(weights(&s), (Some(0), Some(100)));
}
