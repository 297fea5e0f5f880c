//! Pre-flight: `albflip check` prints every verdict and changes nothing; `--min-healthy-hosts` gates
//! every mutating command.

use crate::harness::*;

#[test]
fn check_passes_on_a_healthy_stack_and_changes_nothing() {
    let s = stack(Some(300));
    let before = fingerprint(&s.listener_arn);
    let r = run(&gated(&s.by_arn(), &["check", "--target", "green"], "1s"));
    assert_eq!(r.code, 0, "{r:?}");
    for name in [
        "route",
        "routes agree",
        "green health",
        "blue health",
        "stickiness",
        "tags",
        "deployment state",
    ] {
        assert!(
            r.stdout.contains(&format!("PASS  {name}")),
            "{name}: {}",
            r.stdout
        );
    }
    assert!(
        r.stdout.contains("Gates now:") && r.stdout.contains("Result: ready"),
        "{}",
        r.stdout
    );
    let json = run(&gated(
        &s.by_arn(),
        &["--output", "json", "check", "--target", "green"],
        "1s",
    ))
    .ok()
    .json();
    assert_eq!(json["checks"].as_array().map(Vec::len), Some(9), "{json}");
    // Issue 21: the verdict at the top.
    assert_eq!(
        (&json["passed"], &json["verdict"]),
        (&true.into(), &"ready".into()),
        "{json}"
    );
    let failing = run(&gated(
        &s.by_arn(),
        &[
            "--output",
            "json",
            "check",
            "--target",
            "green",
            "--min-healthy-hosts",
            "3",
        ],
        "1s",
    ));
    assert_eq!(failing.code, 1, "{failing:?}");
    let json = failing.json();
    assert_eq!(
        (&json["passed"], &json["verdict"]),
        (&false.into(), &"not_ready".into()),
        "{json}"
    );
    assert_eq!(fingerprint(&s.listener_arn), before, "check writes nothing");
}

#[test]
fn check_fails_naming_the_unhealthy_color_and_min_healthy_hosts_gates_shifts() {
    let s = stack(Some(300));
    let before = fingerprint(&s.listener_arn);
    // The reference stack runs 2 instances per color: asking for 3 fails every mutating command.
    let r = run(&args(
        &[&s.by_arn()],
        &[
            "shift",
            "--target",
            "green",
            "--percentage",
            "10",
            "--min-healthy-hosts",
            "3",
        ],
    ));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("fewer than the 3 --min-healthy-hosts")
            && r.stderr.contains("Nothing was changed"),
        "{}",
        r.stderr
    );
    let r = run(&gated(
        &s.by_arn(),
        &["check", "--target", "green", "--min-healthy-hosts", "3"],
        "1s",
    ));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.contains("FAIL  green health") && r.stdout.contains("NOT READY"),
        "{}",
        r.stdout
    );

    deregister_all(&s.green_tg);
    let r = run(&gated(&s.by_arn(), &["check", "--target", "green"], "1s"));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.contains("FAIL  green health") && r.stdout.contains("0 healthy of 0"),
        "{}",
        r.stdout
    );
    // deploy waits for green's group to report healthy targets (none will), then gives up.
    let r = run(&args(
        &[&s.by_arn()],
        &["deploy", "--target", "green", "--ready-timeout", "2s"],
    ));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("is not ready") && r.stderr.contains("no traffic was moved"),
        "{}",
        r.stderr
    );
    assert_eq!(fingerprint(&s.listener_arn), before, "nothing written");
}

/// Issue 21: the emulator answers a percentile statistic with an HTML 500 page once the new color has
/// data; albflip never shows the raw page, and says the statistic is not supported there.
#[test]
fn an_html_error_page_is_never_shown_and_a_percentile_the_endpoint_refuses_is_named() {
    let s = stack(None);
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let argv: Vec<String> = gated(
        &s.by_arn(),
        &["deploy", "--target", "green", "--strategy", "immediate"],
        "3s",
    )
    .into_iter()
    .map(|a| if a == "Average" { "p99".into() } else { a })
    .collect();
    let r = run(&argv);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        !all.to_ascii_lowercase().contains("<html"),
        "raw HTML shown: {all}"
    );
    assert!(
        !all.to_ascii_lowercase().contains("<!doctype"),
        "raw HTML shown: {all}"
    );
    assert!(
        all.contains("p99") && all.contains("not supported"),
        "{all}"
    );
    assert!(all.contains("Average"), "the way out: {all}");
    assert_eq!(
        r.code, 3,
        "no data: the step fails and rolls back, as before: {r:?}"
    );
}
