//! `albflip rollback`: the emergency path.

use crate::harness::*;

#[test]
fn rollback_returns_all_traffic_to_the_stable_tag_color_in_one_write() {
    let s = stack(Some(300));
    // Green at 100 % but the stable tag still says blue (a deployment that went bad after the switch).
    run(&args(
        &[&s.by_arn()],
        &["shift", "--target", "green", "--percentage", "60"],
    ))
    .ok();
    set_default_actions(
        &s.listener_arn,
        vec![weighted(
            &[(&s.blue_tg, 0), (&s.green_tg, 100)],
            Some((true, 300)),
        )],
    );
    rt().block_on(async {
        elb()
            .add_tags()
            .resource_arns(&s.listener_arn)
            .tags(
                aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                    .key("albflip:stable")
                    .value("blue")
                    .build(),
            )
            .send()
            .await
            .expect("tag");
    });
    let v = run(&args(&[&s.by_arn()], &["rollback", "--output", "json"]))
        .ok()
        .json();
    assert_eq!(v["after"]["blue"], 100);
    assert_eq!(v["before"]["green"], 100);
    assert_eq!(v["verification"], "response");
    assert_eq!(v["api_calls"]["elasticloadbalancing:ModifyListener"], 1);
    assert!(
        v["api_calls"]
            .as_object()
            .unwrap()
            .keys()
            .all(|k| k.starts_with("elasticloadbalancing:")),
        "{v}"
    );
    assert_eq!(weights(&s), (Some(100), Some(0)));
    // Sticky clients are let go in the same write (issue 17), and the setting is recorded.
    assert_eq!(
        forward(&s.listener_arn).1.map(|s| s.0),
        Some(false),
        "group stickiness off"
    );
    assert_eq!(
        tag(&s.listener_arn, "albflip:stickiness").as_deref(),
        Some("enabled/300")
    );
    assert_eq!(v["stickiness_released"][0]["had"]["duration_seconds"], 300);
    // Idempotent: a second rollback writes nothing.
    let before = fingerprint(&s.listener_arn);
    let v = run(&args(&[&s.by_arn()], &["rollback", "--output", "json"]))
        .ok()
        .json();
    assert_eq!(v["written"], false);
    assert!(
        v["api_calls"]
            .get("elasticloadbalancing:ModifyListener")
            .is_none(),
        "{v}"
    );
    assert_eq!(fingerprint(&s.listener_arn), before);
}

#[test]
fn rollback_to_overrides_the_stable_color_and_records_it() {
    let s = stack(None);
    run(&args(
        &[&s.convention()],
        &["shift", "--target", "green", "--percentage", "30"],
    ))
    .ok();
    let r = run(&args(&[&s.convention()], &["rollback", "--to", "green"])).ok();
    assert!(
        r.stdout
            .contains("Rolled back: blue 70% / green 30% -> blue 0% / green 100%"),
        "{}",
        r.stdout
    );
    assert_eq!(weights(&s), (Some(0), Some(100)));
    assert_eq!(
        tag(&s.listener_arn, "albflip:stable").as_deref(),
        Some("green")
    );
    // Now the stable color is green: a plain rollback keeps traffic there.
    let v = run(&args(&[&s.convention()], &["rollback", "--output", "json"]))
        .ok()
        .json();
    assert_eq!(v["after"]["green"], 100);
    assert_eq!(v["written"], false);
}

#[test]
fn rollback_refuses_a_color_without_healthy_targets_unless_forced() {
    let s = stack(None);
    run(&args(
        &[&s.by_arn()],
        &["shift", "--target", "green", "--percentage", "100"],
    ))
    .ok();
    deregister_all(&s.blue_tg);
    let before = fingerprint(&s.listener_arn);
    let r = run(&args(&[&s.by_arn()], &["rollback", "--to", "blue"]));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("refusing to send 100% to blue"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("0 healthy of 0"), "{}", r.stderr);
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    assert_eq!(fingerprint(&s.listener_arn), before);
    let r = run(&args(
        &[&s.by_arn()],
        &["rollback", "--to", "blue", "--force"],
    ))
    .ok();
    assert!(r.stdout.contains("WARNING: blue"), "{}", r.stdout);
    assert_eq!(weights(&s), (Some(100), Some(0)));
    // -q hides the output, not the warning (issue 17, item 9).
    run(&args(
        &[&s.by_arn()],
        &["shift", "--target", "green", "--percentage", "100"],
    ))
    .ok();
    let r = run(&args(
        &[&s.by_arn()],
        &["-q", "rollback", "--to", "blue", "--force"],
    ))
    .ok();
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(r.stderr.contains("WARNING: blue"), "{}", r.stderr);
}

/// Issue 17: group stickiness keeps a client on its target group even at weight 0, so a rollback turns
/// it off in the same write and records it; `status` shows the record, the next shift turns it back on
/// and removes the record, and `--keep-stickiness` leaves it alone.
#[test]
fn a_rollback_lets_sticky_clients_go_and_the_next_shift_brings_stickiness_back() {
    let s = stack(Some(600));
    run(&args(
        &[&s.by_arn()],
        &["shift", "--target", "green", "--percentage", "50"],
    ))
    .ok();
    let r = run(&args(&[&s.by_arn()], &["rollback"])).ok();
    assert!(
        r.stdout
            .contains("group stickiness (enabled, 600 s) turned off"),
        "{}",
        r.stdout
    );
    assert_eq!(forward(&s.listener_arn).1.map(|s| s.0), Some(false));
    let status = run(&args(&[&s.by_arn()], &["status"])).ok();
    assert!(
        status
            .stdout
            .contains("a rollback turned off enabled, 600 s"),
        "{}",
        status.stdout
    );
    let r = run(&args(
        &[&s.by_arn()],
        &["shift", "--target", "green", "--percentage", "10"],
    ))
    .ok();
    assert!(r.stdout.contains("turned back on"), "{}", r.stdout);
    assert_eq!(forward(&s.listener_arn).1, Some((true, Some(600))));
    assert_eq!(tag(&s.listener_arn, "albflip:stickiness"), None);

    run(&args(&[&s.by_arn()], &["rollback", "--keep-stickiness"])).ok();
    assert_eq!(weights(&s), (Some(100), Some(0)));
    assert_eq!(forward(&s.listener_arn).1, Some((true, Some(600))));
    // No released setting is recorded; the tag holds when green was drained, for cleanup's wait.
    let record = tag(&s.listener_arn, "albflip:stickiness").unwrap_or_default();
    assert!(record.starts_with("drained/green/"), "{record}");
}
