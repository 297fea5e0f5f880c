//! `albflip cleanup` and the capacity-aware `albflip rollback` against the reference stack's two Auto
//! Scaling groups: green takes all the traffic, cleanup scales blue to zero only once every route reads
//! blue at weight 0, and a rollback to blue scales it back up (and waits for its targets) before moving
//! traffic. The groups are read through the Auto Scaling SDK here, not through albflip's adapter.

use std::sync::OnceLock;

use aws_sdk_autoscaling as asg;
use serde_json::Value;

use crate::harness::*;

/// An Auto Scaling client on the emulator.
fn autoscaling() -> asg::Client {
    static CLIENT: OnceLock<asg::Client> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let conf = asg::Config::builder()
                .behavior_version(asg::config::BehaviorVersion::latest())
                .region(asg::config::Region::new(REGION))
                .endpoint_url(&emulator().endpoint)
                .credentials_provider(asg::config::Credentials::new(
                    "testing", "testing", None, None, "tests",
                ))
                .http_client(albflip::aws::sdk::http_client())
                .build();
            asg::Client::from_conf(conf)
        })
        .clone()
}

/// (min, max, desired) of a group, from DescribeAutoScalingGroups.
fn sizes(name: &str) -> (i32, i32, i32) {
    rt().block_on(async {
        let out = autoscaling()
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .expect("describe auto scaling groups");
        let g = &out.auto_scaling_groups()[0];
        (
            g.min_size().unwrap_or(-1),
            g.max_size().unwrap_or(-1),
            g.desired_capacity().unwrap_or(-1),
        )
    })
}

fn blue_asg(s: &Stack) -> String {
    format!("{}-{}-blue-asg", s.environment, s.application)
}

/// The binary with fast health polls (1 s instead of 10 s).
fn albflip_fast() -> std::process::Command {
    let mut cmd = albflip();
    cmd.env("ALBFLIP_READY_POLL", "1s");
    cmd
}

fn cli(s: &Stack, tail: &[&str]) -> Run {
    run_in(albflip_fast(), &args(&[&s.by_arn()], tail))
}

fn shift(s: &Stack, color: &str, percent: &str) {
    cli(s, &["shift", "--target", color, "--percentage", percent]).ok();
}

/// The stack after a deployment to green: green has all the traffic and is stable; blue still runs its
/// 2 instances.
fn deployed_to_green() -> Stack {
    // Without stickiness: cleanup's wait for sticky clients has its own test.
    let s = stack(None);
    shift(&s, "green", "100");
    assert_eq!(
        tag(&s.listener_arn, "albflip:stable").as_deref(),
        Some("green")
    );
    assert_eq!(sizes(&blue_asg(&s)), (0, 4, 2));
    s
}

/// Cleaned up: blue at zero, its capacity recorded, no targets left in its target group.
fn cleaned_up() -> Stack {
    let s = deployed_to_green();
    cli(&s, &["cleanup"]).ok();
    assert_eq!(sizes(&blue_asg(&s)), (0, 4, 0));
    // AWS deregisters the instances of a group scaled in; moto leaves them registered and healthy, so
    // the test does it, or the wait for blue's targets would pass on the old ones.
    deregister_all(&s.blue_tg);
    assert_eq!(healthy(&s, "blue"), 0);
    s
}

fn healthy(s: &Stack, color: &str) -> u64 {
    let v = cli(s, &["status", "--output", "json"]).ok().json();
    v[color]["healthy"].as_u64().expect("healthy")
}

#[test]
fn cleanup_scales_blue_to_zero_only_once_every_route_reads_it_at_zero() {
    let s = deployed_to_green();
    let name = blue_asg(&s);
    // Blue gets some traffic back: cleanup refuses and changes nothing.
    shift(&s, "blue", "10");
    let r = cli(&s, &["cleanup"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("blue still has traffic") && r.stderr.contains("blue 10% / green 90%"),
        "{r:?}"
    );
    assert!(r.stderr.contains("Nothing was changed"), "{r:?}");
    assert_eq!(sizes(&name), (0, 4, 2));
    assert_eq!(tag(&s.listener_arn, "albflip:capacity:blue"), None);

    // All traffic on green again: blue goes to zero, its capacity recorded first.
    shift(&s, "green", "100");
    let r = cli(&s, &["cleanup"]).ok();
    assert!(
        r.stdout.contains(&format!(
            "Scaled blue's Auto Scaling group {name} to zero: desired 2 -> 0"
        )),
        "{r:?}"
    );
    assert_eq!(sizes(&name), (0, 4, 0));
    assert_eq!(
        tag(&s.listener_arn, "albflip:capacity:blue"),
        Some(format!("2/0/4/{name}"))
    );
    assert_eq!(weights(&s), (Some(0), Some(100)), "traffic untouched");

    // Again: nothing to do, and the record is kept.
    let v = cli(&s, &["cleanup", "--output", "json"]).ok().json();
    assert_eq!(v["scaled_down"], false, "{v}");
    assert_eq!(
        v["api_calls"]["autoscaling:UpdateAutoScalingGroup"],
        Value::Null
    );
    assert_eq!(
        tag(&s.listener_arn, "albflip:capacity:blue"),
        Some(format!("2/0/4/{name}"))
    );
}

#[test]
fn a_dry_run_cleanup_prints_what_it_would_scale_and_writes_nothing() {
    let s = deployed_to_green();
    let before = fingerprint(&s.listener_arn);
    let r = cli(&s, &["cleanup", "--dry-run"]).ok();
    assert!(
        r.stdout
            .contains("Dry run: would scale blue's Auto Scaling group")
            && r.stdout
                .contains("would record albflip:capacity:blue=2/0/4/")
            && r.stdout.contains("Nothing was written."),
        "{r:?}"
    );
    let v = cli(&s, &["cleanup", "--dry-run", "--output", "json"])
        .ok()
        .json();
    assert_eq!(
        (v["dry_run"].clone(), v["scaled_down"].clone()),
        (true.into(), true.into())
    );
    assert_eq!(v["before"]["desired"], 2, "{v}");
    assert_eq!(v["after"], Value::Null, "{v}");
    assert_eq!(sizes(&blue_asg(&s)), (0, 4, 2));
    assert_eq!(fingerprint(&s.listener_arn), before);
}

#[test]
fn a_group_that_does_not_exist_is_named_and_nothing_changes() {
    let s = deployed_to_green();
    let r = cli(&s, &["cleanup", "--blue-asg", "no-such-asg"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("\"no-such-asg\" not found"), "{r:?}");
    assert_eq!(sizes(&blue_asg(&s)), (0, 4, 2));
}

#[test]
fn rollback_after_cleanup_scales_blue_up_and_waits_for_its_targets_before_moving_traffic() {
    let s = cleaned_up();
    let name = blue_asg(&s);
    let r = cli(&s, &["rollback", "--to", "blue"]).ok();
    // moto registers the new instances at once: one look finds them.
    assert!(
        r.stderr
            .contains(&format!("waiting for blue ({name}): 2/2 healthy, ")),
        "the countdown: {r:?}"
    );
    assert!(
        r.stdout.contains(&format!(
            "Scaled blue's Auto Scaling group {name} back up to its recorded capacity: desired 0 -> 2 (min 0, max 4)"
        )) && r.stdout.contains("2/2 healthy targets before traffic moved"),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("Rolled back: blue 0% / green 100% -> blue 100% / green 0%"),
        "{r:?}"
    );
    assert_eq!(weights(&s), (Some(100), Some(0)));
    assert_eq!(sizes(&name), (0, 4, 2));
    assert_eq!(healthy(&s, "blue"), 2);
    assert_eq!(
        tag(&s.listener_arn, "albflip:stable").as_deref(),
        Some("blue")
    );
}

/// The record is what makes the rollback scale blue up: without it blue has no targets, and the
/// rollback refuses and changes nothing.
#[test]
fn without_the_record_a_rollback_to_a_cleaned_up_color_is_refused() {
    let s = cleaned_up();
    rt().block_on(async {
        elb()
            .remove_tags()
            .resource_arns(&s.listener_arn)
            .tag_keys("albflip:capacity:blue")
            .send()
            .await
            .expect("remove tag");
    });
    let r = cli(&s, &["rollback", "--to", "blue"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("refusing to send 100% to blue"), "{r:?}");
    assert_eq!(weights(&s), (Some(0), Some(100)));
    assert_eq!(sizes(&blue_asg(&s)), (0, 4, 0));
}

#[test]
fn rollback_force_after_cleanup_scales_blue_up_without_waiting_and_warns() {
    let s = cleaned_up();
    let v = cli(
        &s,
        &["rollback", "--to", "blue", "--force", "--output", "json"],
    )
    .ok()
    .json();
    assert_eq!(v["capacity"]["restored"]["resized"], true, "{v}");
    assert_eq!(
        v["capacity"]["restored"]["healthy"],
        Value::Null,
        "not waited for: {v}"
    );
    let warnings = v["warnings"].to_string();
    assert!(warnings.contains("WITHOUT waiting"), "{v}");
    assert_eq!(v["after"]["blue"], 100);
    assert_eq!(weights(&s), (Some(100), Some(0)));
    assert_eq!(sizes(&blue_asg(&s)), (0, 4, 2));
}

#[test]
fn a_dry_run_rollback_after_cleanup_says_it_would_scale_up_first() {
    let s = cleaned_up();
    let r = cli(&s, &["rollback", "--to", "blue", "--dry-run"]).ok();
    assert!(
        r.stdout
            .contains("Dry run: would scale blue's Auto Scaling group")
            && r.stdout
                .contains("then wait for 2 healthy targets before moving traffic")
            && r.stdout.contains("Nothing was written."),
        "{r:?}"
    );
    assert!(!r.stderr.contains("waiting for"), "{r:?}");
    assert_eq!(sizes(&blue_asg(&s)), (0, 4, 0));
    assert_eq!(weights(&s), (Some(0), Some(100)));
}

fn green_asg(s: &Stack) -> String {
    format!("{}-{}-green-asg", s.environment, s.application)
}

/// albflip's hold record on a group (`albflip:held-min`), if any.
fn held_min(name: &str) -> Option<String> {
    rt().block_on(async {
        let out = autoscaling()
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .expect("describe auto scaling groups");
        out.auto_scaling_groups()[0]
            .tags()
            .iter()
            .find(|t| t.key() == Some("albflip:held-min"))
            .and_then(|t| t.value().map(str::to_string))
    })
}

fn deploy_green(s: &Stack, bake: &str) -> Vec<String> {
    let mut v = s.by_arn();
    v.extend(["deploy", "--target", "green", "--steps", "50,100"].map(String::from));
    v.extend(fast(bake));
    v
}

/// Issue 17, capacity during a deployment: while it runs, neither color's group can be scaled in (each
/// group's minimum raised to its desired size, the minimum it had recorded on the group), and both are
/// restored exactly when it completes.
#[test]
fn both_groups_are_held_during_a_deployment_and_restored_when_it_completes() {
    let s = stack(None);
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let (blue, green) = (blue_asg(&s), green_asg(&s));
    let (blue_before, green_before) = (sizes(&blue), sizes(&green));
    let mut cmd = albflip_fast();
    cmd.args(deploy_green(&s, "3s"))
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(
        child.stdout.take().expect("stdout"),
    ));
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("line");
        seen.push(line.clone());
        if line.contains("weights applied and verified") {
            break;
        }
    }
    // Mid-deployment: both held at their desired size.
    let (b, g) = (sizes(&blue), sizes(&green));
    assert_eq!(
        b.0, b.2,
        "blue's minimum raised to its desired size: {b:?} {seen:?}"
    );
    assert_eq!(
        g.0, g.2,
        "green's minimum raised to its desired size: {g:?}"
    );
    assert_eq!(held_min(&blue), Some(blue_before.0.to_string()));
    assert_eq!(child.wait().expect("wait").code(), Some(0));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        seen.iter()
            .chain(&rest)
            .any(|l| l.contains("capacity held: ")),
        "{seen:?} {rest:?}"
    );
    // Done: each minimum exactly as before, no hold record left.
    assert_eq!(sizes(&blue).0, blue_before.0);
    assert_eq!(sizes(&green).0, green_before.0);
    assert_eq!((held_min(&blue), held_min(&green)), (None, None));
}

/// Issue 17, capacity during a deployment: a run killed mid-deployment leaves its holds; `albflip
/// rollback` moves traffic first, then ends them and says so.
#[test]
fn a_rollback_after_kill_9_ends_the_holds_the_deployment_left() {
    let s = stack(None);
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let blue = blue_asg(&s);
    let blue_before = sizes(&blue);
    let mut cmd = albflip_fast();
    cmd.args(deploy_green(&s, "60s"))
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    for line in std::io::BufRead::lines(std::io::BufReader::new(
        child.stdout.take().expect("stdout"),
    )) {
        if line.expect("line").contains("weights applied and verified") {
            break;
        }
    }
    child.kill().expect("kill -9");
    child.wait().expect("wait");
    assert_eq!(
        held_min(&blue),
        Some(blue_before.0.to_string()),
        "the hold outlives the run"
    );
    let status = cli(&s, &["status"]).ok();
    assert!(
        status.stdout.contains(&format!(
            "Hold        blue {blue}: minimum {} held by albflip",
            blue_before.2
        )),
        "status shows the hold: {}",
        status.stdout
    );
    let r = cli(&s, &["rollback"]).ok();
    assert_eq!(weights(&s), (Some(100), Some(0)));
    assert!(
        r.stdout.contains(&format!(
            "capacity hold ended: {blue} min {} -> {}",
            blue_before.2, blue_before.0
        )),
        "{r:?}"
    );
    assert_eq!(sizes(&blue), blue_before);
    assert_eq!(held_min(&blue), None);
    let status = cli(&s, &["status", "--output", "json"]).ok().json();
    assert_eq!(status["capacity_holds"], serde_json::json!([]), "{status}");
}

/// Issue 17: group stickiness keeps a client on blue even at weight 0 until its cookie expires, so
/// cleanup refuses until blue's weight has been 0 for the stickiness duration, says when it will be
/// allowed, changes nothing, and scales down once that time has passed.
#[test]
fn cleanup_waits_out_the_stickiness_duration_after_the_drain() {
    let s = stack(Some(3));
    shift(&s, "green", "100");
    assert!(
        tag(&s.listener_arn, "albflip:stickiness").is_some_and(|v| v.starts_with("drained/blue/")),
        "the drain is recorded"
    );
    let name = blue_asg(&s);
    let r = cli(&s, &["cleanup"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("clients with a stickiness cookie can still reach blue")
            && r.stderr.contains("again in"),
        "{r:?}"
    );
    assert_eq!(sizes(&name), (0, 4, 2), "nothing scaled");
    assert_eq!(tag(&s.listener_arn, "albflip:capacity:blue"), None);
    std::thread::sleep(std::time::Duration::from_millis(3200));
    cli(&s, &["cleanup"]).ok();
    assert_eq!(sizes(&name), (0, 4, 0));
}
