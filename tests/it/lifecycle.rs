//! Around the steps of `albflip deploy`: the new color's Auto Scaling group, lifecycle hooks, the test
//! listener with a smoke check, and the old color scaled down after a completed deployment.

use std::io::{Read, Write};
use std::net::TcpListener;

use albflip::aws::api::Scaler;
use albflip::aws::{AutoScaling, CallCounter};
use serde_json::Value;

use crate::harness::*;

/// An Auto Scaling group's desired capacity, read through the library's adapter.
fn desired(asg: &str) -> u32 {
    let config = sdk_config();
    let scaler = AutoScaling::new(&config, CallCounter::default());
    rt().block_on(scaler.describe(asg))
        .expect("describe the group")
        .expect("the group exists")
        .desired
}

fn no_faults() -> Faults {
    Faults {
        blue: 0.0,
        green: 0.0,
    }
}

/// The NDJSON events of a run, by name.
fn event_names(r: &Run) -> Vec<String> {
    r.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["event"].as_str().map(str::to_string))
        .collect()
}

fn position(names: &[String], event: &str) -> usize {
    names
        .iter()
        .position(|n| n == event)
        .unwrap_or_else(|| panic!("no {event} in {names:?}"))
}

/// A tiny HTTP server on loopback that answers every request with `status`; its URL.
fn http_server(status: u16) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            );
        }
    });
    format!("http://{addr}/health")
}

#[test]
fn green_at_zero_is_raised_to_blue_and_healthy_before_the_first_step_and_blue_is_scaled_down_after()
{
    // Group stickiness of 2 s: the scale-down waits that long, not the 0 s delay (issue 17).
    let (s, blue_asg, green_asg) = stack_with_empty_green(Some(2));
    assert_eq!(desired(&green_asg), 0);
    // `check` knows deploy raises green first: not a failure, and it says why.
    let r = run(&gated(&s.by_arn(), &["check", "--target", "green"], "1s"));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("deploy first raises"), "{}", r.stdout);
    let _metrics = Publisher::start(&s, no_faults());
    let mut cmd = albflip();
    cmd.env("ALBFLIP_READY_POLL", "1s");
    let r = run_in(
        cmd,
        &gated(
            &s.by_arn(),
            &[
                "--output",
                "json",
                "deploy",
                "--target",
                "green",
                "--steps",
                "50,100",
                "--scale-down-delay",
                "0s",
            ],
            "1s",
        ),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let names = event_names(&r);
    assert!(
        position(&names, "capacity_ready") < position(&names, "weights_applied"),
        "{names:?}"
    );
    assert_eq!(desired(&green_asg), 2, "green raised to blue's capacity");
    assert_eq!(weights(&s), (Some(0), Some(100)));
    assert!(names.contains(&"scaled_down".to_string()), "{names:?}");
    assert!(
        r.stdout
            .contains("group stickiness keeps clients on blue for 2s"),
        "the scale-down waits out sticky clients: {}",
        r.stdout
    );
    assert_eq!(
        desired(&blue_asg),
        0,
        "blue scaled down after the 0 % read-back"
    );
    let record = tag(&s.listener_arn, "albflip:capacity:blue").unwrap_or_default();
    assert!(
        record.starts_with("2/") && record.ends_with(&format!("/{blue_asg}")),
        "blue's capacity is recorded for a rollback: {record}"
    );
}

#[test]
fn a_green_that_never_becomes_healthy_times_out_with_nothing_shifted() {
    let (s, blue_asg, _green_asg) = stack_with_empty_green(Some(300));
    let before = fingerprint(&s.listener_arn);
    // Green's "group" is one whose instances register with blue's target group: green's target group
    // never gets a healthy target.
    let mut cmd = albflip();
    cmd.env("ALBFLIP_READY_POLL", "1s");
    let r = run_in(
        cmd,
        &gated(
            &s.by_arn(),
            &[
                "--green-asg",
                &blue_asg,
                "deploy",
                "--target",
                "green",
                "--ready-timeout",
                "3s",
                "--force",
            ],
            "1s",
        ),
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("is not ready") && r.stderr.contains("no traffic was moved"),
        "{}",
        r.stderr
    );
    assert_eq!(fingerprint(&s.listener_arn), before, "nothing shifted");
}

#[test]
fn a_failing_hook_rolls_back_and_shows_its_output() {
    let s = stack(Some(300));
    let _metrics = Publisher::start(&s, no_faults());
    let r = run(&gated(
        &s.by_arn(),
        &[
            "deploy",
            "--target",
            "green",
            "--steps",
            "50,100",
            "--hook",
            "before-step=test \"$ALBFLIP_PERCENT\" -lt 100 || { echo \"refusing $ALBFLIP_TARGET at $ALBFLIP_PERCENT\"; exit 7; }",
            "--hook",
            "after-rollback=echo rolled back to $ALBFLIP_STABLE",
        ],
        "1s",
    ));
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stdout.contains("HOOK FAILED")
            && r.stdout.contains("exit status 7")
            && r.stdout.contains("refusing green at 100"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("hook after-rollback"), "{}", r.stdout);
    assert_eq!(weights(&s), (Some(100), Some(0)));
}

#[test]
fn the_test_listener_gets_green_and_passes_the_smoke_check_before_production_moves() {
    let s = stack(Some(300));
    let test = extra_listener(&s, 9000, weighted(&[(&s.blue_tg, 1)], None));
    let _metrics = Publisher::start(&s, no_faults());
    let url = http_server(200);
    let r = run(&gated(
        &s.by_arn(),
        &[
            "--output",
            "json",
            "deploy",
            "--target",
            "green",
            "--steps",
            "100",
            "--test-listener-port",
            "9000",
            "--smoke-url",
            &url,
            "--smoke-count",
            "3",
        ],
        "1s",
    ));
    assert_eq!(r.code, 0, "{r:?}");
    let names = event_names(&r);
    let first_step = position(&names, "weights_applied");
    assert!(
        position(&names, "test_traffic_applied") < first_step
            && position(&names, "smoke_passed") < first_step,
        "{names:?}"
    );
    let (groups, _) = forward(&test);
    let green = groups
        .iter()
        .find(|(a, _)| a == &s.green_tg)
        .and_then(|(_, w)| *w);
    assert_eq!(
        green,
        Some(100),
        "the test listener follows the new stable color"
    );
}

#[test]
fn a_failing_smoke_check_puts_the_test_listener_back_and_never_moves_production() {
    let s = stack(Some(300));
    let test = extra_listener(&s, 9000, weighted(&[(&s.blue_tg, 1)], None));
    let before = fingerprint(&s.listener_arn);
    let url = http_server(503);
    let r = run(&gated(
        &s.by_arn(),
        &[
            "deploy",
            "--target",
            "green",
            "--test-listener-port",
            "9000",
            "--smoke-url",
            &url,
        ],
        "1s",
    ));
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stdout.contains("SMOKE CHECK FAILED") && r.stdout.contains("HTTP 503"),
        "{}",
        r.stdout
    );
    assert_eq!(fingerprint(&s.listener_arn), before, "production untouched");
    let (groups, _) = forward(&test);
    let blue = groups
        .iter()
        .find(|(a, _)| a == &s.blue_tg)
        .and_then(|(_, w)| *w);
    assert_eq!(blue, Some(100), "the test listener is back on blue");
}

#[test]
fn a_route_albflip_leaves_alone_still_forwarding_to_blue_keeps_blue_from_being_scaled_down() {
    let (s, blue_asg, _green_asg) = stack_with_empty_green(Some(1));
    // A listener that forwards to blue only: reported and left alone, but it still sends blue traffic.
    let blue_only = extra_listener(&s, 8081, weighted(&[(&s.blue_tg, 1)], None));
    let _metrics = Publisher::start(&s, no_faults());
    let mut cmd = albflip();
    cmd.env("ALBFLIP_READY_POLL", "1s");
    let r = run_in(
        cmd,
        &gated(
            &s.by_arn(),
            &[
                "deploy",
                "--target",
                "green",
                "--steps",
                "100",
                "--scale-down-delay",
                "0s",
            ],
            "1s",
        ),
    );
    assert_eq!(r.code, 0, "the deployment itself completes: {r:?}");
    assert!(
        r.stdout.contains("blue was not scaled down")
            && r.stdout.contains(&route_named(&blue_only)),
        "{}",
        r.stdout
    );
    assert_eq!(desired(&blue_asg), 2, "blue keeps its capacity");
}

#[test]
fn sigint_during_a_long_hook_kills_it_rolls_back_and_exits_130_within_2_seconds() {
    let s = stack(Some(300));
    let _metrics = Publisher::start(&s, no_faults());
    let (child, lines) = start_until_weights(&gated(
        &s.by_arn(),
        &[
            "deploy",
            "--target",
            "green",
            "--steps",
            "50,100",
            "--hook",
            "after-step=sleep 30",
        ],
        "1s",
    ));
    // The 1 s bake passes, then the after-step hook sleeps: interrupt it there.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let (code, took, rest) = interrupt(child, lines);
    assert_eq!(code, Some(130), "{rest:?}");
    assert!(took < std::time::Duration::from_secs(2), "took {took:?}");
    assert_eq!(weights(&s), (Some(100), Some(0)));
}
