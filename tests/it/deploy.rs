//! `albflip deploy`, `promote`, `plan` and gated `shift` against the emulator, with a metrics publisher
//! that writes ALB metrics in proportion to the live weights.

use crate::harness::*;
use albflip::model::Color;
use albflip::testing::alb_model::{Behaviour, Course};

fn events(r: &Run) -> Vec<serde_json::Value> {
    r.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not NDJSON ({e}): {l}")))
        .collect()
}

#[test]
fn a_healthy_gradual_deployment_completes_with_green_stable() {
    let s = stack(Some(60));
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let argv = gated(
        &s.by_arn(),
        &[
            "deploy", "--target", "green", "--steps", "50,100", "--output", "json",
        ],
        "3s",
    );
    let r = run(&argv);
    assert_eq!(r.code, 0, "{r:?}");
    let ev = events(&r);
    let kinds: Vec<&str> = ev.iter().filter_map(|e| e["event"].as_str()).collect();
    assert!(
        kinds.contains(&"weights_applied") && kinds.contains(&"gate_evaluated"),
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "step_passed").count(),
        2,
        "{kinds:?}"
    );
    let last = ev.last().unwrap();
    assert_eq!(last["event"], "summary");
    assert_eq!(last["outcome"], "completed");
    assert_eq!(last["stable"], "green");
    assert!(
        last["api_calls"]["cloudwatch"].as_u64().unwrap() >= 2,
        "{last}"
    );
    // Every poll is one GetMetricData for all metrics of both colors (and the load balancer's own), and
    // each step reads the load balancer's own 5XX before its write once.
    let polls = kinds.iter().filter(|k| **k == "gate_evaluated").count() as u64;
    let steps = kinds.iter().filter(|k| **k == "step_started").count() as u64;
    assert_eq!(
        last["api_calls_by_operation"]["cloudwatch:GetMetricData"]
            .as_u64()
            .unwrap(),
        polls + steps,
        "{last}"
    );
    // The gates judged real traffic: the passing polls saw requests.
    let judged = ev
        .iter()
        .filter(|e| e["event"] == "gate_evaluated")
        .any(|e| e["results"][0]["verdict"] == "pass");
    assert!(judged, "no poll judged the error rate: {}", r.stdout);
    assert_completed_on_green(&s, Some((true, Some(60))));
}

#[test]
fn a_faulty_green_is_rolled_back_with_exit_3() {
    let s = stack(None);
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.2,
        },
    );
    let argv = gated(&s.convention(), &["deploy", "--target", "green"], "30s");
    let started = std::time::Instant::now();
    let r = run(&argv);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "rolled back at once, not after the bake"
    );
    assert!(
        r.stdout.contains("GATE FAILED: green 5XX 20%"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("above 1% with 99.8% confidence"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("ROLLED BACK to blue at step 1 (10%)"),
        "{}",
        r.stdout
    );
    assert_eq!(weights(&s), (Some(100), Some(0)));
    assert_eq!(
        tag(&s.listener_arn, "albflip:state").as_deref(),
        Some("rolled-back")
    );
}

/// `gated`, with `--metric-lag` covering the model's publication lag.
fn gated_late(route: &[String], command: &[&str], bake: &str) -> Vec<String> {
    let mut v = gated(route, command, bake);
    if let Some(i) = v.iter().position(|a| a == "--metric-lag") {
        v[i + 1] = MODEL_LAG.into();
    }
    v
}

/// A healthy deployment on metrics published per period and late (the ALB metrics model, with
/// `--metric-lag` covering its lag): each step passes only once the periods the model published after
/// its write cover the bake.
#[test]
fn a_healthy_deployment_on_periods_published_late_completes() {
    let s = stack(None);
    let model = emulator_model(21, 200.0);
    let _metrics = ModelPublisher::start(&s, model.clone());
    let argv = gated_late(
        &s.by_arn(),
        &[
            "deploy", "--target", "green", "--steps", "50,100", "--output", "json",
        ],
        "3s",
    );
    let r = run(&argv);
    assert_eq!(r.code, 0, "{r:?}");
    let ev = events(&r);
    let at = |e: &serde_json::Value| humantime::parse_rfc3339(e["ts"].as_str().unwrap()).unwrap();
    let second = std::time::Duration::from_secs(1);
    let mut written = None;
    let mut passed = 0;
    for e in &ev {
        match e["event"].as_str() {
            Some("weights_applied") => written = Some(at(e)),
            Some("step_passed") => {
                let first = albflip::plan::window::align_up(written.unwrap(), second);
                let mut p = first;
                while model.published_at(p) <= at(e) {
                    p += second;
                }
                let covered = p.duration_since(first).unwrap();
                assert!(
                    covered >= 3 * second,
                    "passed on {covered:?} of published periods: {e}"
                );
                passed += 1;
            }
            _ => {}
        }
    }
    assert_eq!(passed, 2, "{}", r.stdout);
    let judged = ev
        .iter()
        .filter(|e| e["event"] == "gate_evaluated")
        .any(|e| e["results"][0]["verdict"] == "pass");
    assert!(judged, "no poll judged the error rate: {}", r.stdout);
    // Before each step's first period is published (3 s late), the run says it waits for data and
    // when it gives up: the step's expected length plus the extension (by default the bake, 3 s).
    let waits: Vec<&serde_json::Value> = ev
        .iter()
        .filter(|e| e["event"] == "waiting_for_data")
        .collect();
    assert!(!waits.is_empty(), "no wait for data said: {}", r.stdout);
    for w in waits {
        let (elapsed, length, gives_up) = (
            w["elapsed_seconds"].as_f64().unwrap(),
            w["step_seconds"].as_f64().unwrap(),
            w["gives_up_seconds"].as_f64().unwrap(),
        );
        assert_eq!(gives_up, length + 3.0, "{w}");
        assert!(elapsed < gives_up, "{w}");
        assert_eq!(
            w["reason"], "no metric period after the step's write is published yet",
            "{w}"
        );
    }
    assert_completed_on_green(&s, Some((false, None)));
}

/// Issue 15, scenario 2 on the emulator, on the model's periods: green refuses a fifth of its
/// connections; its targets return no 5XX, only `TargetConnectionErrorCount` and the load balancer's 502s.
/// At 1000 requests a second, green's first published period holds enough requests to judge its error
/// rate, which the report names first (the load balancer's 502s fail the same poll).
#[test]
fn a_green_failing_to_connect_to_its_targets_is_rolled_back_without_any_5xx() {
    let s = stack(None);
    let refusing = Course::steady(Behaviour::healthy().with_refused(0.2));
    let model = emulator_model(22, 1000.0).with_course(Color::Green, refusing);
    let _metrics = ModelPublisher::start(&s, model);
    let r = run(&gated_late(
        &s.by_arn(),
        &["deploy", "--target", "green"],
        "30s",
    ));
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stdout.contains("GATE FAILED: green 5XX "), "{}", r.stdout);
    assert!(
        r.stdout.contains("above 1% with 99.8% confidence"),
        "{}",
        r.stdout
    );
    assert_eq!(weights(&s), (Some(100), Some(0)));
}

/// Issue 15, scenario 3 on the emulator, on the model's periods: green times out on half its requests,
/// so the load balancer answers them with 504s that only its own `HTTPCode_ELB_5XX_Count` (no
/// TargetGroup dimension) counts, against blue's stray 504s before the step. Green's target group
/// metrics stay clean; the rise since the step rolls it back.
#[test]
fn a_green_that_times_out_is_rolled_back_on_the_load_balancers_own_5xx() {
    let s = stack(None);
    let stray = Course::steady(Behaviour::healthy().with_timeouts(0.001));
    let timing_out = Course::steady(Behaviour::healthy().with_timeouts(0.5));
    let model = emulator_model(23, 200.0)
        .with_course(Color::Blue, stray)
        .with_course(Color::Green, timing_out);
    let _metrics = ModelPublisher::start(&s, model);
    let r = run(&gated_late(
        &s.by_arn(),
        &["deploy", "--target", "green"],
        "30s",
    ));
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stdout
            .contains("GATE FAILED: the load balancer's own 5XX rose from "),
        "{}",
        r.stdout
    );
    assert_eq!(weights(&s), (Some(100), Some(0)));
}

#[test]
fn canary_then_promote() {
    let s = stack(None);
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
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
        ],
        "2s",
    ));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("awaiting promotion"), "{}", r.stdout);
    assert_eq!(weights(&s), (Some(80), Some(20)));
    assert_eq!(
        tag(&s.listener_arn, "albflip:state").as_deref(),
        Some("awaiting-promotion")
    );
    // A second deploy is a conflict while the canary waits.
    let r = run(&gated(&s.by_arn(), &["deploy", "--target", "green"], "2s"));
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.stderr.contains("awaiting promotion") && r.stderr.contains("albflip promote"),
        "{}",
        r.stderr
    );
    let r = run(&gated(&s.by_arn(), &["promote"], "2s"));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("completed: green is now stable"),
        "{}",
        r.stdout
    );
    assert_eq!(weights(&s), (Some(0), Some(100)));
    assert_eq!(
        tag(&s.listener_arn, "albflip:stable").as_deref(),
        Some("green")
    );
    // Nothing left to promote.
    let r = run(&gated(&s.by_arn(), &["promote"], "2s"));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("no canary is awaiting promotion"),
        "{}",
        r.stderr
    );
}

#[test]
fn plan_and_dry_run_write_nothing() {
    let s = stack(Some(300));
    let before = fingerprint(&s.listener_arn);
    let r = run(&args(
        &[&s.by_arn()],
        &[
            "plan",
            "--target",
            "green",
            "--strategy",
            "gradual",
            "--bake",
            "3m",
        ],
    ))
    .ok();
    for want in [
        "step 1: green 10%, bake 3m",
        "step 5: green 100%, bake 3m",
        "minimum duration: 15m",
        "GetMetricData",
        "Nothing was written.",
    ] {
        assert!(r.stdout.contains(want), "missing {want:?}:\n{}", r.stdout);
    }
    let v = run(&args(
        &[&s.by_arn()],
        &[
            "deploy",
            "--target",
            "green",
            "--strategy",
            "canary",
            "--dry-run",
            "--output",
            "json",
        ],
    ))
    .ok()
    .json();
    assert_eq!(v["written"], false);
    assert_eq!(v["steps_to_run"].as_array().unwrap().len(), 1);
    assert_eq!(fingerprint(&s.listener_arn), before);
}

#[test]
fn a_gated_shift_rolls_back_on_a_failing_gate() {
    let s = stack(None);
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.5,
        },
    );
    let r = run(&gated(
        &s.by_arn(),
        &["shift", "--target", "green", "--percentage", "30"],
        "20s",
    ));
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(weights(&s), (Some(100), Some(0)));
}

#[test]
fn bad_deploy_input_is_refused_before_any_aws_call() {
    let s = stack(None);
    let l = &s.listener_arn;
    let before = fingerprint(l);
    for (argv, fragment) in [
        (
            vec!["deploy", "--target", "green", "--steps", "10,5,100"],
            "strictly increase",
        ),
        (
            vec!["deploy", "--target", "green", "--steps", "10,50"],
            "last step must be 100",
        ),
        (
            vec![
                "deploy",
                "--target",
                "green",
                "--latency-statistic",
                "median",
            ],
            "not a latency statistic",
        ),
        (
            vec!["deploy", "--target", "green", "--on-no-data", "maybe"],
            "not a no-data policy",
        ),
        (
            vec!["deploy", "--target", "green", "--max-error-rate", "150"],
            "outside 0..=100",
        ),
        (
            vec!["deploy", "--target", "blue"],
            "already the stable color",
        ),
    ] {
        let r = run(&args(&[&s.by_arn()], &argv));
        assert_eq!(r.code, 2, "{argv:?}: {r:?}");
        assert!(r.stderr.contains(fragment), "{argv:?}: {}", r.stderr);
    }
    assert_eq!(fingerprint(l), before);
}

#[test]
fn an_alarm_going_to_alarm_rolls_back_and_an_unknown_alarm_is_refused() {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
    let s = stack(None);
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let name = format!("{}-shop-errors", s.environment);
    rt().block_on(async {
        cloudwatch()
            .put_metric_alarm()
            .alarm_name(&name)
            .namespace("AWS/ApplicationELB")
            .metric_name("HTTPCode_Target_5XX_Count")
            .statistic(Statistic::Sum)
            .period(60)
            .evaluation_periods(1)
            .threshold(10.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .send()
            .await
            .expect("put alarm");
    });
    let r = run(&gated(
        &s.by_arn(),
        &["deploy", "--target", "green", "--alarm", "no-such-alarm"],
        "2s",
    ));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("--alarm no-such-alarm") && r.stderr.contains("no such CloudWatch alarm"),
        "{}",
        r.stderr
    );
    assert_eq!(
        weights(&s),
        (None, None),
        "nothing written: still the single-group forward"
    );

    let argv = gated(
        &s.by_arn(),
        &["deploy", "--target", "green", "--alarm", &name],
        "60s",
    );
    let deploy = std::thread::spawn(move || run(&argv));
    std::thread::sleep(std::time::Duration::from_secs(4));
    rt().block_on(async {
        cloudwatch()
            .set_alarm_state()
            .alarm_name(&name)
            .state_value(StateValue::Alarm)
            .state_reason("test")
            .send()
            .await
            .expect("set alarm state");
    });
    let r = deploy.join().expect("deploy thread");
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stdout
            .contains(&format!("GATE FAILED: alarm {name} is in ALARM")),
        "{}",
        r.stdout
    );
    assert_eq!(weights(&s), (Some(100), Some(0)));
}

#[test]
fn sigint_during_a_deployment_rolls_back_and_exits_130_within_2_seconds() {
    let s = stack(None);
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    // Interrupt during the first step's bake, once its weights are live.
    let (child, lines) =
        start_until_weights(&gated(&s.by_arn(), &["deploy", "--target", "green"], "60s"));
    assert_eq!(weights(&s), (Some(90), Some(10)));
    let (code, took, rest) = interrupt(child, lines);
    assert_eq!(code, Some(130), "{rest:?}");
    assert!(took < std::time::Duration::from_secs(2), "took {took:?}");
    assert!(
        rest.iter().any(|l| l.contains("INTERRUPTED at step 1")),
        "{rest:?}"
    );
    assert_eq!(weights(&s), (Some(100), Some(0)));
    assert_eq!(
        tag(&s.listener_arn, "albflip:state").as_deref(),
        Some("interrupted")
    );
}

#[test]
fn a_zero_bake_is_refused_and_no_gates_is_said_out_loud() {
    let s = stack(None);
    // Half of green's requests fail: any gate would stop it.
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.5,
        },
    );
    let before = fingerprint(&s.listener_arn);
    for bake in [&["--bake", "0s"][..], &["--validation-minutes", "0"][..]] {
        let argv = args(
            &[&s.by_arn()],
            &[
                &["deploy", "--target", "green", "--steps", "10,100"][..],
                bake,
            ]
            .concat(),
        );
        let r = run(&argv);
        assert_eq!(r.code, 2, "{r:?}");
        assert!(
            r.stderr.contains(&format!("{} 0", bake[0])) && r.stderr.contains("--no-gates"),
            "{}",
            r.stderr
        );
        assert_eq!(fingerprint(&s.listener_arn), before, "nothing written");
    }

    // A deliberate ungated deployment: said in the output, the summary and the record.
    let r = run(&args(
        &[&s.by_arn()],
        &[
            "deploy",
            "--target",
            "green",
            "--steps",
            "10,100",
            "--no-gates",
        ],
    ));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("WARNING: UNGATED (--no-gates)")
            && r.stdout.contains("UNGATED: no step of this run was judged"),
        "{}",
        r.stdout
    );
    assert_eq!(
        tag(&s.listener_arn, "albflip:strategy").as_deref(),
        Some("gradual/10/100/ungated")
    );
    let status = run(&args(&[&s.by_arn()], &["status"])).ok().stdout;
    assert!(status.contains("(gradual, UNGATED 10%→100%)"), "{status}");
    let v = run(&args(&[&s.by_arn()], &["status", "--output", "json"]))
        .ok()
        .json();
    assert_eq!(v["deployment"]["gated"], false, "{v}");
}

#[test]
fn steps_whose_record_would_not_fit_a_tag_value_are_refused_before_any_write() {
    let s = stack(None);
    let steps: Vec<String> = (1..=100).map(|p| p.to_string()).collect();
    let steps = steps.join(",");
    let before = fingerprint(&s.listener_arn);
    for dry in [&["--dry-run"][..], &[][..]] {
        let r = run(&args(
            &[&s.by_arn()],
            &[&["deploy", "--target", "green", "--steps", &steps][..], dry].concat(),
        ));
        assert_eq!(r.code, 2, "{r:?}");
        assert!(
            r.stderr.contains("--steps 1,2,3") && r.stderr.contains("at most 256"),
            "{}",
            r.stderr
        );
        assert_eq!(fingerprint(&s.listener_arn), before, "nothing written");
    }
}
