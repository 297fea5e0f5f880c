//! Issue 21, `albflip watch`: a deployment run in one process, followed read-only from another through
//! a proxy that sees every request it makes: only reads, and watch exits with the deployment's outcome.

use crate::harness::*;
use crate::proxy::{Config, Proxy};

/// Every API action `watch` may call: reads.
fn is_read(action: &str) -> bool {
    ["Describe", "Get", "List"]
        .iter()
        .any(|p| action.starts_with(p))
}

/// Deploys green in two steps with `faults`, and watches it from another process through a proxy;
/// returns (deploy's exit code, watch's run, the actions watch called).
fn deploy_and_watch(faults: Faults) -> (Option<i32>, Run, Vec<String>) {
    let s = stack(None);
    let _metrics = Publisher::start(&s, faults);
    let deploy = gated(
        &s.by_arn(),
        &["deploy", "--target", "green", "--steps", "50,100"],
        "4s",
    );
    let (mut child, lines) = start_until_weights(&deploy);
    let proxy = Proxy::start(Config::only(crate::proxy::Fault::Rejected, 0.0));
    let mut watch = gated(&s.by_arn(), &["watch"], "4s");
    watch.extend(["--endpoint-url".to_string(), proxy.endpoint.clone()]);
    let watched = run(&watch);
    let deployed = child.wait().expect("wait for deploy").code();
    drop(lines);
    let actions = proxy.seen().into_iter().map(|s| s.action).collect();
    (deployed, watched, actions)
}

#[test]
fn watch_follows_a_deployment_read_only_and_exits_with_its_outcome() {
    let (deployed, watched, actions) = deploy_and_watch(Faults {
        blue: 0.0,
        green: 0.0,
    });
    assert_eq!(deployed, Some(0));
    assert_eq!(Some(watched.code), deployed, "{watched:?}");
    let out = &watched.stdout;
    assert!(out.contains("in progress, step 1/2"), "{out}");
    assert!(out.contains("step 1 at 50%"), "the bake's progress: {out}");
    assert!(
        out.contains("error_rate") && out.contains(" vs "),
        "every gate against its threshold: {out}"
    );
    assert!(out.contains("judge ") && out.contains("evidence"), "{out}");
    assert!(out.contains("completed, step 2/2"), "{out}");
    assert!(!actions.is_empty());
    let writes: Vec<&String> = actions.iter().filter(|a| !is_read(a)).collect();
    assert!(writes.is_empty(), "watch wrote: {writes:?}");
}

#[test]
fn watch_exits_3_when_the_deployment_it_follows_rolls_back() {
    let (deployed, watched, actions) = deploy_and_watch(Faults {
        blue: 0.0,
        green: 1.0,
    });
    assert_eq!(deployed, Some(3));
    assert_eq!(watched.code, 3, "{watched:?}");
    assert!(watched.stdout.contains("rolled back"), "{}", watched.stdout);
    // Whether a poll of watch itself saw the failing gate before the run rolled back depends on
    // timing (green fails at once): the outcome and the exit code do not.
    assert!(actions.iter().all(|a| is_read(a)), "{actions:?}");
}

#[test]
fn watch_without_a_recorded_deployment_says_so() {
    let s = stack(None);
    let r = run(&args(&[&s.by_arn()], &["watch", "--once"]));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("no deployment is recorded"),
        "{}",
        r.stderr
    );
}
