//! `albflip status`, text and JSON.

use crate::harness::*;

#[test]
fn status_text_shows_both_colors_their_share_health_and_the_stable_color() {
    let s = stack(None);
    // Issue 21: names by default; -v shows the ARNs.
    let r = run(&args(&[&s.convention()], &["status"])).ok();
    let listener_id = s.listener_arn.rsplit('/').next().unwrap();
    assert!(
        r.stdout.contains(&format!(
            "default action of listener {listener_id} on {}",
            s.lb_name()
        )),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("arn:aws"),
        "no ARN without -v: {}",
        r.stdout
    );
    assert!(
        r.stdout.lines().all(|l| l.chars().count() <= 100),
        "fits 100 columns: {}",
        r.stdout
    );
    let verbose = run(&args(&[&s.convention()], &["-v", "status"])).ok();
    assert!(
        verbose
            .stdout
            .contains(&format!("default action of listener {}", s.listener_arn))
            && verbose.stdout.contains(&s.blue_tg),
        "{}",
        verbose.stdout
    );
    assert!(
        r.stdout
            .contains("Stable      blue (no albflip:stable tag: blue by default)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("Stickiness  disabled"), "{}", r.stdout);
    let blue = r
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("blue "))
        .expect("blue line");
    assert!(
        blue.contains("100%") && blue.contains("2/2") && blue.contains("-blue-tg"),
        "{blue}"
    );
    let green = r
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("green "))
        .expect("green line");
    assert!(
        green.contains(" 0%") && green.contains("2/2") && green.contains("-green-tg"),
        "{green}"
    );
}

#[test]
fn status_json_has_the_documented_fields() {
    let s = stack(Some(300));
    let v = run(&args(&[&s.by_arn()], &["status", "--output", "json"]))
        .ok()
        .json();
    assert_eq!(v["listener_arn"], s.listener_arn.as_str());
    assert_eq!(v["blue"]["percent"], 100);
    assert_eq!(v["green"]["percent"], 0);
    assert_eq!(v["blue"]["weight"], 100);
    assert_eq!(v["green"]["weight"], 0);
    assert_eq!(v["blue"]["target_group_arn"], s.blue_tg.as_str());
    assert_eq!(v["green"]["target_group_arn"], s.green_tg.as_str());
    assert_eq!(v["stable"], "blue");
    assert_eq!(v["stickiness"]["enabled"], true);
    assert_eq!(v["stickiness"]["duration_seconds"], 300);
    assert_eq!(v["blue"]["healthy"], 2);
    assert_eq!(v["green"]["healthy"], 2);
}

#[test]
fn the_route_can_be_named_by_arn_by_load_balancer_and_port_by_convention_env_and_config_file() {
    let s = stack(None);
    let by_lb = vec![
        "--load-balancer".to_string(),
        s.lb_name(),
        "--port".into(),
        "80".into(),
    ];
    for route in [s.by_arn(), by_lb, s.convention()] {
        let v = run(&args(&[&route], &["status", "--output", "json"]))
            .ok()
            .json();
        assert_eq!(v["listener_arn"], s.listener_arn.as_str(), "{route:?}");
        assert_eq!(
            v["green"]["target_group_arn"],
            s.green_tg.as_str(),
            "{route:?}"
        );
    }
    // Environment variables.
    let mut cmd = albflip();
    cmd.env("ALBFLIP_ENVIRONMENT", &s.environment)
        .env("ALBFLIP_APPLICATION", &s.application);
    let v = run_in(cmd, &["status", "--output", "json"]).ok().json();
    assert_eq!(v["listener_arn"], s.listener_arn.as_str());
    // albflip.toml in the working directory.
    let dir = dir_with_file(
        "albflip.toml",
        &format!(
            "[target]\nenvironment = \"{}\"\napplication = \"{}\"\n",
            s.environment, s.application
        ),
    );
    let mut cmd = albflip();
    cmd.current_dir(&dir);
    let v = run_in(cmd, &["status", "--output", "json"]).ok().json();
    assert_eq!(v["listener_arn"], s.listener_arn.as_str());
    // Flags beat the file: a file naming a listener that does not exist is overridden.
    let dir = dir_with_file(
        "albflip.toml",
        "[target]\nlistener-arn = \"arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/nope/1/2\"\n",
    );
    let mut cmd = albflip();
    cmd.current_dir(&dir);
    let v = run_in(cmd, &args(&[&s.by_arn()], &["status", "--output", "json"]))
        .ok()
        .json();
    assert_eq!(v["listener_arn"], s.listener_arn.as_str());
}
