//! `albflip shift`: weights, conversion, stickiness, dry runs and the stable tag.

use crate::harness::*;

#[test]
fn shift_to_10_50_100_and_back_writes_the_weights_and_tags_the_stable_color() {
    let s = stack(None);
    let base = s.convention();
    for (pct, blue, green) in [(10, 90, 10), (50, 50, 50), (100, 0, 100)] {
        let r = run(&args(
            &[&base],
            &[
                "shift",
                "--target",
                "green",
                "--percentage",
                &pct.to_string(),
            ],
        ))
        .ok();
        assert!(r.stdout.contains("verified by read-back"), "{}", r.stdout);
        assert_eq!(
            weights(&s),
            (Some(blue), Some(green)),
            "after shift to {pct}"
        );
    }
    assert_eq!(
        tag(&s.listener_arn, "albflip:stable").as_deref(),
        Some("green")
    );
    let r = run(&args(
        &[&base],
        &["shift", "--target", "blue", "--percentage", "100"],
    ))
    .ok();
    assert!(
        r.stdout
            .contains("blue 0% / green 100% -> blue 100% / green 0%"),
        "{}",
        r.stdout
    );
    assert_eq!(weights(&s), (Some(100), Some(0)));
    assert_eq!(
        tag(&s.listener_arn, "albflip:stable").as_deref(),
        Some("blue")
    );
    // The route by name, as status shows it; -v shows its ARN.
    let id = s.listener_arn.rsplit('/').next().unwrap_or_default();
    assert!(
        r.stdout.contains(&format!(
            "on the default action of listener {id} on {}\n",
            s.lb_name()
        )) && !r.stdout.contains("arn:aws"),
        "{}",
        r.stdout
    );
    let r = run(&args(
        &[&base],
        &["-v", "shift", "--target", "blue", "--percentage", "100"],
    ))
    .ok();
    assert!(r.stdout.contains(&s.listener_arn), "{}", r.stdout);
}

#[test]
fn a_single_target_group_forward_is_converted_to_a_weighted_forward() {
    let s = stack(None);
    let (groups, _) = forward(&s.listener_arn);
    assert_eq!(
        groups,
        vec![(s.blue_tg.clone(), None)],
        "the stack starts with a single-group forward"
    );
    let v = run(&args(&[&s.by_arn()], &["status", "--output", "json"]))
        .ok()
        .json();
    assert_eq!(v["single_target_group"], true);
    run(&args(
        &[&s.by_arn()],
        &["shift", "--target", "green", "--percentage", "10"],
    ))
    .ok();
    let (groups, sticky) = forward(&s.listener_arn);
    assert_eq!(
        groups,
        vec![
            (s.blue_tg.clone(), Some(90)),
            (s.green_tg.clone(), Some(10))
        ]
    );
    assert_eq!(sticky.map(|s| s.0), Some(false));
}

#[test]
fn stickiness_is_kept_through_shifts() {
    let s = stack(Some(300));
    assert_eq!(forward(&s.listener_arn).1, Some((true, Some(300))));
    for pct in ["10", "50", "100", "0"] {
        run(&args(
            &[&s.by_arn()],
            &["shift", "--target", "green", "--percentage", pct],
        ))
        .ok();
        assert_eq!(
            forward(&s.listener_arn).1,
            Some((true, Some(300))),
            "after shift to {pct}"
        );
    }
    let v = run(&args(&[&s.by_arn()], &["status", "--output", "json"]))
        .ok()
        .json();
    assert_eq!(v["stickiness"]["enabled"], true);
    assert_eq!(v["stickiness"]["duration_seconds"], 300);
}

#[test]
fn dry_run_prints_the_change_and_writes_nothing() {
    let s = stack(Some(120));
    let before = fingerprint(&s.listener_arn);
    let r = run(&args(
        &[&s.by_arn()],
        &[
            "shift",
            "--target",
            "green",
            "--percentage",
            "100",
            "--dry-run",
        ],
    ))
    .ok();
    assert!(
        r.stdout
            .contains("blue 100% / green 0% -> blue 0% / green 100%"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("would tag albflip:stable=green"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("Nothing was written."), "{}", r.stdout);
    let r = run(&args(
        &[&s.by_arn()],
        &["rollback", "--to", "green", "--dry-run", "--output", "json"],
    ))
    .ok();
    assert_eq!(r.json()["written"], false);
    assert_eq!(r.json()["dry_run"], true);
    assert_eq!(fingerprint(&s.listener_arn), before);
}

#[test]
fn bake_and_validation_minutes_are_accepted() {
    let s = stack(None);
    // A zero bake would be a gated shift with no gate (issue 17, item 1): refused, nothing written.
    let before = fingerprint(&s.listener_arn);
    let r = run(&args(
        &[&s.by_arn()],
        &[
            "shift",
            "--target",
            "green",
            "--percentage",
            "25",
            "--bake",
            "0s",
        ],
    ));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("--no-gates"), "{}", r.stderr);
    assert_eq!(fingerprint(&s.listener_arn), before);
    let r = run(&args(
        &[&s.by_arn()],
        &[
            "shift",
            "--target",
            "green",
            "--percentage",
            "25",
            "--bake",
            "1m",
            "--validation-minutes",
            "2",
        ],
    ));
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn shift_refuses_a_route_with_a_deployment_in_flight_unless_told_to_take_over() {
    let s = stack(None);
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let shift = |extra: &[&str]| {
        run(&args(
            &[&s.by_arn()],
            &[
                &["shift", "--target", "green", "--percentage", "50"][..],
                extra,
            ]
            .concat(),
        ))
    };
    // A deployment in progress (its albflip still baking step 1).
    let (mut child, _lines) = start_until_weights(&gated(
        &s.by_arn(),
        &["deploy", "--target", "green", "--steps", "10,100"],
        "60s",
    ));
    let before = fingerprint(&s.listener_arn);
    for extra in [&[][..], &["--bake", "2s"][..]] {
        let r = shift(extra);
        assert_eq!(r.code, 4, "{extra:?}: {r:?}");
        assert!(
            r.stderr.contains("recorded as in progress at step 1")
                && r.stderr.contains("--take-over"),
            "{}",
            r.stderr
        );
        assert_eq!(
            fingerprint(&s.listener_arn),
            before,
            "{extra:?}: nothing written"
        );
    }
    let _ = child.kill();
    let _ = child.wait();
    run(&args(&[&s.by_arn()], &["rollback"])).ok();

    // A canary awaiting promotion.
    let r = run(&gated(
        &s.by_arn(),
        &[
            "deploy",
            "--target",
            "green",
            "--strategy",
            "canary",
            "--canary-percentage",
            "20",
            "--on-no-data",
            "pass",
        ],
        "2s",
    ));
    assert_eq!(r.code, 0, "{r:?}");
    let before = fingerprint(&s.listener_arn);
    let r = shift(&[]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.stderr.contains("awaiting promotion") && r.stderr.contains("--take-over"),
        "{}",
        r.stderr
    );
    assert_eq!(fingerprint(&s.listener_arn), before, "nothing written");
    // Taking over is explicit, and said.
    let r = shift(&["--take-over"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("took over"), "{}", r.stdout);
    assert_eq!(weights(&s), (Some(50), Some(50)));
}

#[test]
fn a_default_rule_arn_is_the_listeners_default_action() {
    let s = stack(None);
    let default_rule = rt().block_on(async {
        let out = elb()
            .describe_rules()
            .listener_arn(&s.listener_arn)
            .send()
            .await
            .expect("describe rules");
        out.rules()
            .iter()
            .find(|r| r.is_default() == Some(true))
            .and_then(|r| r.rule_arn().map(str::to_string))
            .expect("a default rule")
    });
    let route = [format!("--rule-arn={default_rule}")];
    let r = run(&args(
        &[&route],
        &["shift", "--target", "green", "--percentage", "10"],
    ));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("on the default action of listener"),
        "{}",
        r.stdout
    );
    assert_eq!(
        weights(&s),
        (Some(90), Some(10)),
        "the listener's default action moved"
    );
    let v = run(&args(&[&route], &["status", "--output", "json"]))
        .ok()
        .json();
    assert_eq!(v["listener_arn"], s.listener_arn.as_str(), "{v}");
    assert_eq!(v["green"]["percent"], 10, "{v}");

    // One route, one lock, however it is named.
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let lock = ["--lock-table", s.lock_table.as_str()];
    let (mut child, _lines) = start_until_weights(&gated(
        &s.by_arn(),
        &[
            &["deploy", "--target", "green", "--steps", "50,100"][..],
            &lock[..],
        ]
        .concat(),
        "60s",
    ));
    let r = run(&args(
        &[&route],
        &[
            &[
                "shift",
                "--target",
                "green",
                "--percentage",
                "10",
                "--take-over",
            ][..],
            &lock[..],
        ]
        .concat(),
    ));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.stderr.contains("another albflip holds the lock"),
        "{}",
        r.stderr
    );
}
