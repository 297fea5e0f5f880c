//! Issue 21, `--notify URL`: JSON POSTs to a real HTTP server as a deployment goes, each with a
//! Slack-compatible `text`; a notification that fails is a warning; no URL is ever printed.

use crate::harness::*;

fn deploy_notifying(s: &Stack, urls: &[&str]) -> Run {
    let mut argv = gated(
        &s.by_arn(),
        &["deploy", "--target", "green", "--steps", "50,100"],
        "2s",
    );
    for url in urls {
        argv.extend(["--notify".to_string(), url.to_string()]);
    }
    run(&argv)
}

#[test]
fn a_deployment_notifies_each_webhook_of_its_start_steps_and_completion() {
    let s = stack(None);
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let (first, second) = (Webhook::start(200), Webhook::start(204));
    let r = deploy_notifying(&s, &[&first.url, &second.url]);
    assert_eq!(r.code, 0, "{r:?}");
    for hook in [&first, &second] {
        let got = hook.received();
        let kinds: Vec<&str> = got.iter().map(|v| v["event"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            ["started", "step_passed", "step_passed", "completed"],
            "{got:?}"
        );
        let id = tag(&s.listener_arn, "albflip:deployment-id").unwrap();
        for v in &got {
            assert!(
                v["text"]
                    .as_str()
                    .unwrap()
                    .starts_with("albflip: deployment"),
                "{v}"
            );
            assert_eq!(v["deployment_id"], id.as_str(), "{v}");
            assert!(v["details"]["event"].is_string(), "{v}");
        }
        assert!(got[3]["text"]
            .as_str()
            .unwrap()
            .contains("green is now stable"));
    }
    assert!(
        !r.stdout.contains("secret") && !r.stderr.contains("secret"),
        "{r:?}"
    );
}

#[test]
fn a_failed_notification_is_a_warning_that_never_shows_the_url() {
    let s = stack(None);
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 1.0,
        },
    );
    let (refusing, working) = (Webhook::start(500), Webhook::start(200));
    let closed = closed_url();
    let r = deploy_notifying(&s, &[&refusing.url, &closed, &working.url]);
    assert_eq!(r.code, 3, "rolled back, as without notifications: {r:?}");
    assert!(
        r.stderr
            .contains("notification 1 (started) was not delivered: it answered HTTP 500"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("notification 2 (started) was not delivered"),
        "{}",
        r.stderr
    );
    for secret in ["secret", &closed, "127.0.0.1"] {
        assert!(
            !r.stdout.contains(secret) && !r.stderr.contains(secret),
            "{secret} printed: {r:?}"
        );
    }
    let got = working.received();
    let last = got.last().expect("notifications");
    assert_eq!(last["event"], "rolled_back", "{got:?}");
    let text = last["text"].as_str().unwrap();
    assert!(
        text.contains("ROLLED BACK") && text.contains("5XX"),
        "with its reason: {text}"
    );
}

#[test]
fn a_notify_url_that_is_not_http_is_refused_without_showing_it() {
    let s = stack(None);
    let before = fingerprint(&s.listener_arn);
    let r = deploy_notifying(&s, &["hooks.example/T/B/secret"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("--notify"), "{}", r.stderr);
    assert!(!r.stderr.contains("secret"), "{}", r.stderr);
    assert_eq!(fingerprint(&s.listener_arn), before);
}
