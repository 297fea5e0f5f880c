//! Operator experience: plain lines for Jenkins (timestamps, heartbeat, no control characters), shell
//! integration, the IAM policy command.

use crate::harness::*;

#[test]
fn jenkins_output_is_plain_timestamped_lines_with_a_heartbeat() {
    let s = stack(None);
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let mut cmd = albflip();
    // Polls every 5 s; the heartbeat (lowered from 30 s for the test) must fill the silence.
    cmd.env("ALBFLIP_HEARTBEAT_SECONDS", "2");
    let argv = args(
        &[&s.by_arn()],
        &[
            "deploy",
            "--target",
            "green",
            "--strategy",
            "immediate",
            "--bake",
            "5s",
            "--poll-interval",
            "5s",
            "--metric-lag",
            "0s",
            "--metric-window",
            "10s",
            "--metric-period",
            "1s",
            "--latency-statistic",
            "Average",
        ],
    );
    let r = run_in(cmd, &argv);
    assert_eq!(r.code, 0, "{r:?}");
    for byte in r.stdout.bytes() {
        assert!(
            byte == b'\n' || byte >= 0x20,
            "control character {byte:#x} in: {}",
            r.stdout
        );
    }
    let timestamped = r.stdout.lines().filter(|l| {
        let b = l.as_bytes();
        b.len() > 9 && b[2] == b':' && b[5] == b':' && b[8] == b' '
    });
    assert!(timestamped.count() >= 4, "{}", r.stdout);
    assert!(
        r.stdout.contains("still watching the gates"),
        "no heartbeat: {}",
        r.stdout
    );
}

#[test]
fn completions_man_page_and_version() {
    for shell in ["bash", "zsh", "fish"] {
        let r = run(&["completions", shell]).ok();
        assert!(
            r.stdout.contains("albflip") && r.stdout.contains("rollback"),
            "{shell}: {}",
            r.stdout
        );
    }
    let r = run(&["man"]).ok();
    assert!(
        r.stdout.contains(".TH albflip 1") && r.stdout.contains("rollback"),
        "{}",
        r.stdout
    );
    let r = run(&["--version"]).ok();
    let version = r.stdout.trim();
    assert!(version.starts_with("albflip 0."), "{version}");
    let commit = version.split(['(', ')']).nth(1).unwrap_or_default();
    assert!(
        commit.len() >= 12 && commit[..12].chars().all(|c| c.is_ascii_hexdigit()),
        "no git commit in {version}"
    );
}

#[test]
fn iam_policy_scopes_the_write_to_the_listener_and_the_lock_table() {
    let s = stack(None);
    let r = run(&args(
        &[&s.convention()],
        &["iam-policy", "--lock-table", &s.lock_table],
    ))
    .ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("policy JSON");
    let statements = v["Statement"].as_array().expect("statements");
    let write = statements
        .iter()
        .find(|st| st["Sid"] == "AlbflipWriteRoute")
        .expect("write statement");
    assert_eq!(write["Resource"], serde_json::json!([s.listener_arn]));
    assert!(write["Action"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "elasticloadbalancing:ModifyListener"));
    let lock = statements
        .iter()
        .find(|st| st["Sid"] == "AlbflipLock")
        .expect("lock statement");
    assert!(lock["Resource"][0]
        .as_str()
        .unwrap()
        .ends_with(&format!(":table/{}", s.lock_table)));
}

#[test]
fn config_prints_each_resolved_value_and_where_it_came_from() {
    let dir = dir_with_file("albflip.toml", "[target]\nenvironment = \"prod\"\napplication = \"shop\"\n[gates]\nmax-error-rate = 2.5\n[strategy]\nbake = \"5m\"\n");
    let mut cmd = albflip();
    cmd.current_dir(&dir).env("ALBFLIP_POLL_INTERVAL", "10s");
    let r = run_in(cmd, &["config", "--min-requests", "80", "--output", "json"]).ok();
    let v = r.json();
    let source = |k: &str| {
        v["settings"][k]["source"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let value = |k: &str| {
        v["settings"][k]["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        (value("min-requests"), source("min-requests")),
        ("80".into(), "flag --min-requests".into())
    );
    assert_eq!(
        (value("poll-interval"), source("poll-interval")),
        ("10s".into(), "env ALBFLIP_POLL_INTERVAL".into())
    );
    assert_eq!(
        (value("max-error-rate"), source("max-error-rate")),
        ("2.5%".into(), "albflip.toml [gates] max-error-rate".into())
    );
    assert_eq!(
        (value("bake"), source("bake")),
        ("5m".into(), "albflip.toml [strategy] bake".into())
    );
    assert_eq!(
        (value("latency-statistic"), source("latency-statistic")),
        ("p99".into(), "default".into())
    );
    assert_eq!(
        value("route"),
        "listener on port 80 of load balancer prod-shop-alb"
    );
    assert_eq!(value("green"), "prod-shop-green-tg");
    // A misspelt key names the file, the line and the closest valid key.
    let dir = dir_with_file("albflip.toml", "[gates]\nmax-eror-rate = 2\n");
    let mut cmd = albflip();
    cmd.current_dir(&dir);
    let r = run_in(cmd, &["config"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("unknown key `max-eror-rate`")
            && r.stderr.contains("Did you mean `max-error-rate`?"),
        "{}",
        r.stderr
    );
}

/// Runs albflip under a pseudo-terminal (`script`) and returns everything it drew.
fn on_a_terminal(argv: &[String], no_color: bool) -> (i32, String) {
    let bin = assert_cmd::cargo::cargo_bin("albflip");
    let quoted: Vec<String> = argv
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect();
    let command = format!("{} {}", bin.display(), quoted.join(" "));
    let mut script = std::process::Command::new("script");
    for (k, v) in albflip().get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    script.env("TERM", "xterm-256color");
    if no_color {
        script.env("NO_COLOR", "1");
    } else {
        script.env_remove("NO_COLOR");
    }
    let out = script
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .current_dir(empty_dir())
        .output()
        .expect("script(1)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn on_a_terminal_each_step_gets_a_live_bake_bar_with_colored_verdicts_and_no_color_is_respected() {
    let s = stack(None);
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let deploy = |target: &str| {
        args(
            &[&s.by_arn()],
            &[
                "deploy",
                "--target",
                target,
                "--strategy",
                "immediate",
                "--bake",
                "3s",
                "--poll-interval",
                "1s",
                "--metric-lag",
                "0s",
                "--metric-window",
                "5s",
                "--metric-period",
                "1s",
                "--latency-statistic",
                "Average",
                "-v",
            ],
        )
    };
    let (code, screen) = on_a_terminal(&deploy("green"), false);
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("step 1/1 100%"),
        "no progress bar: {screen}"
    );
    assert!(
        screen.contains('█') || screen.contains('░'),
        "no bar: {screen}"
    );
    assert!(
        screen.contains("\u{1b}[32m"),
        "no green verdicts: {screen:?}"
    );
    assert!(screen.contains("green 5XX 0%"), "{screen}");
    let (code, screen) = on_a_terminal(&deploy("blue"), true);
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("step 1/1 100%"), "{screen}");
    for sgr in ["\u{1b}[31m", "\u{1b}[32m", "\u{1b}[33m", "\u{1b}[36m"] {
        assert!(
            !screen.contains(sgr),
            "color with NO_COLOR ({sgr:?}): {screen:?}"
        );
    }
}

/// Issue 21: a reader that stops early (`albflip completions bash | head -1`) is not a crash: exit 0,
/// no panic on stderr, for the completion script and the man page alike.
#[test]
fn completions_and_the_man_page_end_quietly_when_the_reader_stops() {
    use std::io::{BufRead, BufReader};
    for argv in [&["completions", "bash"][..], &["man"]] {
        let mut child = albflip()
            .args(argv)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("first line");
        // The reader is gone: the rest of the output goes to a closed pipe.
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{argv:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{argv:?}: {stderr}");
        assert!(!first.is_empty());
    }
}

/// Issue 21: `-v` lists API calls and every gate, `-vv` adds debug logs (albflip's: settings, each API
/// call, the lock), `-vvv` everything, the SDK's own included. Without `-vv` no debug line is printed.
#[test]
fn verbosity_levels_log_as_documented() {
    let s = stack(None);
    let shift = |v: &str, pct: &str| {
        run(&args(
            &[&s.by_arn()],
            &[v, "shift", "--target", "green", "--percentage", pct],
        ))
        .ok()
    };
    let one = shift("-v", "10");
    assert!(
        one.stdout
            .contains("elasticloadbalancing:ModifyListener x1"),
        "-v lists the API calls: {}",
        one.stdout
    );
    assert!(
        !one.stderr.contains("DEBUG"),
        "no debug line with -v: {}",
        one.stderr
    );
    let two = shift("-vv", "20");
    let debug: Vec<&str> = two
        .stderr
        .lines()
        .filter(|l| l.contains(" DEBUG "))
        .collect();
    assert!(
        debug
            .iter()
            .any(|l| l.contains("API call") && l.contains("elasticloadbalancing:ModifyListener")),
        "-vv logs each API call: {}",
        two.stderr
    );
    assert!(
        debug.iter().any(|l| l.contains("AWS SDK configured")),
        "-vv logs the SDK set-up: {}",
        two.stderr
    );
    assert!(
        debug.iter().all(|l| l.contains(" albflip::")),
        "-vv logs albflip's own debug lines, not the SDK's: {}",
        two.stderr
    );
    let three = run(&args(&[&s.by_arn()], &["-vvv", "status"])).ok();
    assert!(
        three
            .stderr
            .lines()
            .any(|l| l.contains(" DEBUG ") && l.contains("aws_")),
        "-vvv adds the SDK's own debug logs: {}",
        three.stderr
    );
}
