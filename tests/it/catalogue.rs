//! The bad-input catalogue (issue 6): one table of bad inputs given as flags, `ALBFLIP_*` environment
//! variables and `albflip.toml`, each run through the real binary. For every case: the documented exit
//! code, a message that names the input AND the fix, and the listener, its rules and its tags
//! byte-identical before and after (`fingerprint`).
//!
//! Naming rule: a value that fails validation must be named as the user gave it: the flag for a flag,
//! the `ALBFLIP_*` variable for an environment variable, the key (and `albflip.toml` or its section)
//! for the file. A resource that does not fit (not found, another load balancer's, not in the action)
//! is named by its ARN or name.
//!
//! The driver runs every case and reports all failures at once. AccessDenied and bad credentials need
//! a second emulator with IAM enforcement; they are a second table driven by the same driver.

use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, RedirectActionConfig,
    RedirectActionStatusCodeEnum,
};

use crate::harness::*;

/// How the bad input reaches albflip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Flag,
    Env,
    Toml,
}

/// One row of the catalogue.
#[derive(Debug, Clone)]
struct Case {
    name: &'static str,
    via: Via,
    /// Environment variables set for the run (on top of the hermetic test environment).
    env: Vec<(String, String)>,
    /// Environment variables removed from the test environment.
    unset: Vec<&'static str>,
    /// The `albflip.toml` in the working directory.
    toml: Option<String>,
    argv: Vec<String>,
    code: i32,
    /// Fragments of stderr that name the input.
    input: Vec<String>,
    /// Fragments of stderr that name the fix.
    fix: Vec<String>,
    /// Fragments that must not be in stderr (a wrong diagnosis).
    absent: Vec<String>,
    /// The listener that must not change.
    listener: String,
    /// The longest the run may take.
    max: Duration,
}

fn sv(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

impl Case {
    fn new(name: &'static str, via: Via, listener: &str, argv: Vec<String>) -> Case {
        Case {
            name,
            via,
            env: vec![],
            unset: vec![],
            toml: None,
            argv,
            code: 2,
            input: vec![],
            fix: vec![],
            absent: vec![],
            listener: listener.to_string(),
            max: Duration::from_secs(20),
        }
    }
    /// A bad flag.
    fn flag(name: &'static str, listener: &str, argv: Vec<String>) -> Case {
        Case::new(name, Via::Flag, listener, argv)
    }
    /// A bad `ALBFLIP_*` (or `AWS_*`) environment variable.
    fn env(name: &'static str, listener: &str, vars: &[(&str, &str)], argv: Vec<String>) -> Case {
        let mut c = Case::new(name, Via::Env, listener, argv);
        c.env = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        c
    }
    /// A bad `albflip.toml`.
    fn toml(name: &'static str, listener: &str, text: &str, argv: Vec<String>) -> Case {
        let mut c = Case::new(name, Via::Toml, listener, argv);
        c.toml = Some(text.to_string());
        c
    }
    fn code(mut self, code: i32) -> Case {
        self.code = code;
        self
    }
    fn input(mut self, f: &[&str]) -> Case {
        self.input = sv(f);
        self
    }
    fn fix(mut self, f: &[&str]) -> Case {
        self.fix = sv(f);
        self
    }
    fn absent(mut self, f: &[&str]) -> Case {
        self.absent = sv(f);
        self
    }
    fn unset(mut self, vars: &[&'static str]) -> Case {
        self.unset = vars.to_vec();
        self
    }
    fn within(mut self, max: Duration) -> Case {
        self.max = max;
        self
    }
}

/// Runs one case; returns what is wrong with albflip's answer, if anything.
fn check(
    case: &Case,
    base: &dyn Fn() -> Command,
    fingerprint: &dyn Fn(&str) -> String,
) -> Result<(), String> {
    let before = fingerprint(&case.listener);
    let mut cmd = base();
    for k in &case.unset {
        cmd.env_remove(k);
    }
    for (k, v) in &case.env {
        cmd.env(k, v);
    }
    if let Some(text) = &case.toml {
        cmd.current_dir(dir_with_file("albflip.toml", text));
    }
    let started = Instant::now();
    let r = run_in(cmd, &case.argv);
    let took = started.elapsed();
    let after = fingerprint(&case.listener);
    let mut problems = vec![];
    if r.code != case.code {
        problems.push(format!("exit code {} (expected {})", r.code, case.code));
    }
    for (kind, frags) in [("input", &case.input), ("fix", &case.fix)] {
        for f in frags.iter() {
            if !r.stderr.contains(f.as_str()) {
                problems.push(format!("does not name the {kind}: {f:?} missing"));
            }
        }
    }
    for f in &case.absent {
        if r.stderr.contains(f.as_str()) {
            problems.push(format!("wrong diagnosis: {f:?} present"));
        }
    }
    if took > case.max {
        problems.push(format!("took {took:?} (at most {:?})", case.max));
    }
    if after != before {
        problems.push(format!(
            "THE LISTENER CHANGED\n  before: {before}\n  after:  {after}"
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\n  argv: {:?}\n  env: {:?} unset: {:?}\n  toml: {:?}\n  stderr: {}",
            problems.join("; "),
            case.argv,
            case.env,
            case.unset,
            case.toml,
            r.stderr.trim_end().replace('\n', "\n          ")
        ))
    }
}

/// Runs every case and fails with the list of all cases albflip got wrong.
fn drive(cases: &[Case], base: &dyn Fn() -> Command, fingerprint: &dyn Fn(&str) -> String) {
    let mut failures = vec![];
    for c in cases {
        match check(c, base, fingerprint) {
            Ok(()) => eprintln!("catalogue: ok   {:?} {}", c.via, c.name),
            Err(e) => {
                eprintln!("catalogue: FAIL {:?} {}", c.via, c.name);
                failures.push(format!("[{:?}] {}: {e}", c.via, c.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad-input cases are wrong:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// The stacks and odd listeners the catalogue points at.
struct Fixtures {
    /// The main stack: a weighted 100/0 forward with stickiness.
    s: Stack,
    /// Another stack (another load balancer).
    other: Stack,
    /// A target group in the main stack's VPC that no action forwards to.
    loose_tg: String,
    redirect: String,
    fixed: String,
    three: String,
    twice: String,
    /// A loopback port that accepts connections and never answers (an instance metadata endpoint
    /// that hangs, as on a laptop where 169.254.169.254 is a black hole).
    hanging: std::net::TcpListener,
}

fn fixtures() -> Fixtures {
    let s = stack(Some(60));
    let other = stack(None);
    let loose_tg = extra_target_group(&s, "loose-tg");
    let third = extra_target_group(&s, "third-tg");
    let redirect = extra_listener(
        &s,
        8081,
        Action::builder()
            .r#type(ActionTypeEnum::Redirect)
            .redirect_config(
                RedirectActionConfig::builder()
                    .protocol("HTTPS")
                    .port("443")
                    .status_code(RedirectActionStatusCodeEnum::Http301)
                    .build(),
            )
            .build(),
    );
    let fixed = extra_listener(
        &s,
        8082,
        Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                FixedResponseActionConfig::builder()
                    .status_code("503")
                    .content_type("text/plain")
                    .message_body("maintenance")
                    .build(),
            )
            .build(),
    );
    let three = extra_listener(
        &s,
        8083,
        weighted(&[(&s.blue_tg, 50), (&s.green_tg, 50), (&third, 1)], None),
    );
    let twice = extra_listener(
        &s,
        8084,
        weighted(&[(&s.blue_tg, 50), (&s.blue_tg, 50)], None),
    );
    let hanging = std::net::TcpListener::bind("127.0.0.1:0").expect("hanging port");
    Fixtures {
        hanging,
        s,
        other,
        loose_tg,
        redirect,
        fixed,
        three,
        twice,
    }
}

/// A loopback URL where nothing listens.
fn closed_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    format!("http://127.0.0.1:{port}")
}

/// The name part of a target group ARN.
fn tg_name(arn: &str) -> String {
    arn.split('/').nth(1).unwrap_or(arn).to_string()
}

/// The catalogue.
fn catalogue(fx: &Fixtures) -> Vec<Case> {
    let l = fx.s.listener_arn.as_str();
    let la = format!("--listener-arn={l}");
    let la = la.as_str();
    // The main listener, by ARN, then the command.
    let on = |tail: &[&str]| -> Vec<String> {
        [&[la][..], tail]
            .concat()
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let shift = |tail: &[&str]| {
        on(&[
            &["shift", "--target", "green", "--percentage", "10"][..],
            tail,
        ]
        .concat())
    };
    let gated = |tail: &[&str]| shift(&[&["--bake", "1m"][..], tail].concat());
    let plan =
        |tail: &[&str]| on(&[&["deploy", "--target", "green", "--dry-run"][..], tail].concat());
    let missing = missing_listener(l);
    let other_green = fx.other.green_tg.as_str();
    let other_green_name = tg_name(other_green);
    let loose_name = tg_name(&fx.loose_tg);
    let blue_name = tg_name(&fx.s.blue_tg);
    let other_blue_name = tg_name(&fx.other.blue_tg);
    let lb = fx.s.lb_name();
    let imds = format!("http://{}", fx.hanging.local_addr().expect("hanging addr"));
    let unreachable_flag = closed_url();
    let unreachable_env = closed_url();
    let unreachable_toml = closed_url();
    let route_toml = format!("[target]\nlistener-arn = \"{l}\"\n");
    let shift_only = sv(&["shift", "--target", "green", "--percentage", "10"]);
    let plan_only = sv(&["deploy", "--target", "green", "--dry-run"]);
    let by = |arn: &str| -> Vec<String> {
        sv(&[
            "--listener-arn",
            arn,
            "shift",
            "--target",
            "green",
            "--percentage",
            "10",
        ])
    };
    const PCT: &str = "whole number from 0 to 100";
    const STEPS_FIX: &str = "strictly increasing percentages from 1 to 100 ending at 100";

    vec![
        // ---- percentages -------------------------------------------------------------------------
        Case::flag(
            "percentage above 100",
            l,
            on(&["shift", "--target", "green", "--percentage", "101"]),
        )
        .input(&["--percentage", "\"101\""])
        .fix(&[PCT]),
        Case::flag(
            "negative percentage",
            l,
            on(&["shift", "--target", "green", "--percentage", "-1"]),
        )
        .input(&["--percentage", "\"-1\""])
        .fix(&[PCT]),
        Case::flag(
            "percentage in words",
            l,
            on(&["shift", "--target", "green", "--percentage", "ten"]),
        )
        .input(&["--percentage", "\"ten\""])
        .fix(&[PCT]),
        Case::flag(
            "fractional percentage",
            l,
            on(&["shift", "--target", "green", "--percentage", "1.5"]),
        )
        .input(&["--percentage", "\"1.5\""])
        .fix(&[PCT]),
        Case::flag(
            "canary percentage 0",
            l,
            plan(&["--strategy", "canary", "--canary-percentage", "0"]),
        )
        .input(&["--canary-percentage", "0%"])
        .fix(&["1..=99"]),
        Case::env(
            "canary percentage 100",
            l,
            &[("ALBFLIP_CANARY_PERCENTAGE", "100")],
            plan(&["--strategy", "canary"]),
        )
        .input(&["ALBFLIP_CANARY_PERCENTAGE", "100"])
        .fix(&["1..=99"]),
        Case::toml(
            "canary percentage 150",
            l,
            &format!("{route_toml}[strategy]\nstrategy = \"canary\"\ncanary-percentage = 150\n"),
            plan_only.clone(),
        )
        .input(&["albflip.toml [strategy] canary-percentage", "150"])
        .fix(&["1..=99"]),
        // ---- steps -------------------------------------------------------------------------------
        Case::flag("steps not increasing", l, plan(&["--steps", "50,25,100"]))
            .input(&["--steps 50,25,100", "25 is not above 50"])
            .fix(&[STEPS_FIX]),
        Case::flag("last step not 100", l, plan(&["--steps", "10,50"]))
            .input(&["--steps 10,50", "last step must be 100"])
            .fix(&[STEPS_FIX]),
        Case::flag("step 0", l, plan(&["--steps", "0,100"]))
            .input(&["--steps 0,100", "\"0\""])
            .fix(&[STEPS_FIX]),
        Case::flag("junk steps", l, plan(&["--steps", "a,b"]))
            .input(&["--steps a,b", "\"a\""])
            .fix(&[STEPS_FIX]),
        Case::flag(
            "steps with another strategy",
            l,
            plan(&["--strategy", "immediate", "--steps", "10,100"]),
        )
        .input(&["--steps"])
        .fix(&["--strategy gradual"]),
        Case::env(
            "steps not increasing",
            l,
            &[("ALBFLIP_STEPS", "10,5,100")],
            plan(&[]),
        )
        .input(&["ALBFLIP_STEPS", "5 is not above 10"])
        .fix(&[STEPS_FIX]),
        Case::toml(
            "steps not increasing",
            l,
            &format!("{route_toml}[strategy]\nsteps = [50, 25, 100]\n"),
            plan_only.clone(),
        )
        .input(&["albflip.toml [strategy] steps", "25 is not above 50"])
        .fix(&[STEPS_FIX]),
        Case::toml(
            "step above 255",
            l,
            &format!("{route_toml}[strategy]\nsteps = [10, 300]\n"),
            plan_only.clone(),
        )
        .input(&["steps", "300"])
        .fix(&["1 to 100"]),
        Case::env(
            "unknown strategy",
            l,
            &[("ALBFLIP_STRATEGY", "bluegreen")],
            plan(&[]),
        )
        .input(&["ALBFLIP_STRATEGY", "bluegreen"])
        .fix(&["gradual, immediate, canary"]),
        Case::toml(
            "unknown strategy",
            l,
            &format!("{route_toml}[strategy]\nstrategy = \"bluegreen\"\n"),
            plan_only.clone(),
        )
        .input(&["albflip.toml [strategy] strategy", "bluegreen"])
        .fix(&["gradual, immediate or canary"]),
        // ---- durations ---------------------------------------------------------------------------
        Case::flag("bake in parsecs", l, shift(&["--bake", "3 parsecs"]))
            .input(&["--bake", "parsecs"])
            .fix(&["supported units"]),
        Case::flag("poll interval 0s", l, gated(&["--poll-interval", "0s"]))
            .input(&["--poll-interval"])
            .fix(&["30s"]),
        Case::env("bake soon", l, &[("ALBFLIP_BAKE", "soon")], shift(&[]))
            .input(&["ALBFLIP_BAKE", "soon"])
            .fix(&["3m"]),
        Case::env(
            "poll interval 0s",
            l,
            &[("ALBFLIP_POLL_INTERVAL", "0s")],
            gated(&[]),
        )
        .input(&["ALBFLIP_POLL_INTERVAL"])
        .fix(&["30s"]),
        Case::toml(
            "bake soon",
            l,
            &format!("{route_toml}[strategy]\nbake = \"soon\"\n"),
            plan_only.clone(),
        )
        .input(&["albflip.toml [strategy] bake", "soon"])
        .fix(&["\"3m\""]),
        Case::toml(
            "max latency fast",
            l,
            &format!("{route_toml}[gates]\nmax-latency = \"fast\"\n"),
            plan_only.clone(),
        )
        .input(&["albflip.toml [gates] max-latency", "fast"])
        .fix(&["\"30s\""]),
        Case::toml(
            "poll interval 0s",
            l,
            &format!("{route_toml}[gates]\npoll-interval = \"0s\"\n"),
            plan_only.clone(),
        )
        .input(&["albflip.toml", "poll-interval"])
        .fix(&["30s"]),
        // ---- thresholds --------------------------------------------------------------------------
        Case::flag("error rate 150%", l, gated(&["--max-error-rate", "150"]))
            .input(&["--max-error-rate", "150"])
            .fix(&["0..=100"]),
        Case::flag(
            "latency statistic median",
            l,
            gated(&["--latency-statistic", "median"]),
        )
        .input(&["--latency-statistic", "median"])
        .fix(&["p99", "Average"]),
        Case::flag("on-no-data maybe", l, gated(&["--on-no-data", "maybe"]))
            .input(&["--on-no-data", "maybe"])
            .fix(&["wait, fail or pass"]),
        Case::flag(
            "metric window below the period",
            l,
            gated(&["--metric-window", "30s", "--metric-period", "1m"]),
        )
        .input(&["--metric-window", "--metric-period"])
        .fix(&["--metric-window 5m --metric-period 60s"]),
        Case::flag("negative min requests", l, gated(&["--min-requests=-5"]))
            .input(&["--min-requests", "-5"])
            .fix(&["whole number"]),
        Case::env(
            "error rate abc",
            l,
            &[("ALBFLIP_MAX_ERROR_RATE", "abc")],
            gated(&[]),
        )
        .input(&["ALBFLIP_MAX_ERROR_RATE", "abc"])
        .fix(&["percent"]),
        Case::env(
            "latency statistic p200",
            l,
            &[("ALBFLIP_LATENCY_STATISTIC", "p200")],
            gated(&[]),
        )
        .input(&["ALBFLIP_LATENCY_STATISTIC", "p200"])
        .fix(&["p99"]),
        Case::env(
            "on-no-data ignore",
            l,
            &[("ALBFLIP_ON_NO_DATA", "ignore")],
            gated(&[]),
        )
        .input(&["ALBFLIP_ON_NO_DATA", "ignore"])
        .fix(&["wait, fail or pass"]),
        Case::env(
            "metric period 0s",
            l,
            &[("ALBFLIP_METRIC_PERIOD", "0s")],
            gated(&[]),
        )
        .input(&["ALBFLIP_METRIC_PERIOD"])
        .fix(&["--metric-period 60s"]),
        Case::toml(
            "error rate 150%",
            l,
            &format!("{route_toml}[gates]\nmax-error-rate = 150\n"),
            plan_only.clone(),
        )
        .input(&["[gates] max-error-rate", "150"])
        .fix(&["percentage from 0 to 100"]),
        Case::toml(
            "error rate as a string",
            l,
            &format!("{route_toml}[gates]\nmax-error-rate = \"abc\"\n"),
            plan_only.clone(),
        )
        .input(&["max-error-rate", "abc"])
        .fix(&["number"]),
        Case::toml(
            "latency statistic median",
            l,
            &format!("{route_toml}[gates]\nlatency-statistic = \"median\"\n"),
            plan_only.clone(),
        )
        .input(&["albflip.toml", "latency-statistic", "median"])
        .fix(&["p99"]),
        Case::toml(
            "on-no-data maybe",
            l,
            &format!("{route_toml}[gates]\non-no-data = \"maybe\"\n"),
            plan_only.clone(),
        )
        .input(&["albflip.toml", "on-no-data", "maybe"])
        .fix(&["wait, fail or pass"]),
        Case::toml(
            "metric window below the period",
            l,
            &format!("{route_toml}[gates]\nmetric-window = \"30s\"\nmetric-period = \"1m\"\n"),
            plan_only.clone(),
        )
        .input(&["albflip.toml", "metric-window", "metric-period"])
        .fix(&["5m"]),
        // ---- the config file itself --------------------------------------------------------------
        Case::toml(
            "misspelt gates key",
            l,
            &format!("{route_toml}[gates]\nmax-eror-rate = 1.0\n"),
            shift_only.clone(),
        )
        .input(&["max-eror-rate", "albflip.toml"])
        .fix(&["`max-error-rate`"]),
        Case::toml(
            "unknown section",
            l,
            &format!("{route_toml}[gatez]\nmax-error-rate = 1.0\n"),
            shift_only.clone(),
        )
        .input(&["gatez", "albflip.toml"])
        .fix(&["`gates`"]),
        Case::toml(
            "port above 65535",
            l,
            "[target]\nload-balancer = \"x\"\nport = 70000\n",
            shift_only.clone(),
        )
        .input(&["port", "70000"])
        .fix(&["65535"]),
        Case::env(
            "config file missing",
            l,
            &[("ALBFLIP_CONFIG", "/nonexistent/albflip.toml")],
            shift(&[]),
        )
        .input(&["ALBFLIP_CONFIG", "/nonexistent/albflip.toml"])
        .fix(&["existing albflip.toml"]),
        Case::env(
            "output yaml",
            l,
            &[("ALBFLIP_OUTPUT", "yaml")],
            on(&["status"]),
        )
        .input(&["ALBFLIP_OUTPUT", "yaml"])
        .fix(&["text, json"]),
        // ---- colors ------------------------------------------------------------------------------
        Case::flag(
            "shift to purple",
            l,
            on(&["shift", "--target", "purple", "--percentage", "10"]),
        )
        .input(&["--target", "unknown color \"purple\""])
        .fix(&["\"blue\" or \"green\""]),
        Case::flag("deploy purple", l, on(&["deploy", "--target", "purple"]))
            .input(&["--target", "\"purple\""])
            .fix(&["\"blue\" or \"green\""]),
        Case::flag("rollback to red", l, on(&["rollback", "--to", "red"]))
            .input(&["--to", "unknown color \"red\""])
            .fix(&["\"blue\" or \"green\""]),
        // ---- ARNs and routes ---------------------------------------------------------------------
        Case::flag("malformed listener ARN", l, by("arn:aws:nope"))
            .input(&["--listener-arn", "\"arn:aws:nope\""])
            .fix(&["describe-listeners"]),
        Case::flag(
            "listener ARN as rule ARN",
            l,
            sv(&["--rule-arn", l, "status"]),
        )
        .input(&["--rule-arn", "not a valid listener rule ARN"])
        .fix(&["listener-rule/app/"]),
        Case::env(
            "malformed listener ARN",
            l,
            &[("ALBFLIP_LISTENER_ARN", "arn:aws:nope")],
            shift_only.clone(),
        )
        .input(&["ALBFLIP_LISTENER_ARN", "\"arn:aws:nope\""])
        .fix(&["describe-listeners"]),
        Case::toml(
            "malformed listener ARN",
            l,
            "[target]\nlistener-arn = \"arn:aws:nope\"\n",
            shift_only.clone(),
        )
        .input(&["albflip.toml", "listener-arn", "\"arn:aws:nope\""])
        .fix(&["describe-listeners"]),
        Case::flag("missing listener", l, by(missing.as_str()))
            .input(&[missing.as_str(), "not found"])
            .fix(&["--region", "describe-listeners"]),
        Case::env(
            "missing listener",
            l,
            &[("ALBFLIP_LISTENER_ARN", missing.as_str())],
            shift_only.clone(),
        )
        .input(&[missing.as_str(), "not found"])
        .fix(&["--region", "describe-listeners"]),
        Case::toml(
            "missing listener",
            l,
            &format!("[target]\nlistener-arn = \"{missing}\"\n"),
            shift_only.clone(),
        )
        .input(&[missing.as_str(), "not found"])
        .fix(&["--region", "describe-listeners"]),
        Case::flag("load balancer and another's listener", l, {
            let mut v = sv(&[
                "--load-balancer",
                lb.as_str(),
                "--listener-arn",
                fx.other.listener_arn.as_str(),
            ]);
            v.extend(shift_only.clone());
            v
        })
        .input(&["--load-balancer", "--listener-arn"])
        .fix(&["cannot be used with"]),
        Case::env(
            "load balancer and another's listener",
            l,
            &[("ALBFLIP_LOAD_BALANCER", lb.as_str())],
            by(fx.other.listener_arn.as_str()),
        )
        .input(&["ALBFLIP_LOAD_BALANCER", "--listener-arn"])
        .fix(&["cannot be used with"]),
        Case::toml(
            "two routes",
            l,
            &format!(
                "[target]\nload-balancer = \"{}\"\nlistener-arn = \"{}\"\n",
                fx.s.lb_name(),
                fx.other.listener_arn
            ),
            shift_only.clone(),
        )
        .input(&["listener-arn", "load-balancer"])
        .fix(&["Name the route one way only"]),
        Case::flag(
            "green of another load balancer",
            l,
            shift(&["--green", other_green]),
        )
        .input(&[
            "--green",
            other_green_name.as_str(),
            "not in the forward action",
        ])
        .fix(&["Name a target group of that action"]),
        Case::env(
            "blue of another load balancer",
            l,
            &[("ALBFLIP_BLUE", other_blue_name.as_str())],
            shift(&[]),
        )
        .input(&[
            "ALBFLIP_BLUE",
            other_blue_name.as_str(),
            "not in the forward action",
        ])
        .fix(&["Name a target group of that action"]),
        Case::toml(
            "green of another load balancer",
            l,
            &format!("{route_toml}green = \"{other_green}\"\n"),
            shift_only.clone(),
        )
        .input(&[
            "albflip.toml",
            other_green_name.as_str(),
            "not in the forward action",
        ])
        .fix(&["Name a target group of that action"]),
        Case::flag(
            "group not in the action",
            l,
            shift(&["--green", loose_name.as_str()]),
        )
        .input(&["--green", loose_name.as_str(), "not in the forward action"])
        .fix(&["Name a target group of that action"]),
        Case::flag(
            "the same group as blue and green",
            l,
            shift(&["--blue", blue_name.as_str(), "--green", blue_name.as_str()]),
        )
        .input(&["same target group", blue_name.as_str()])
        .fix(&["two different target groups"]),
        Case::env(
            "the same group as blue and green",
            l,
            &[
                ("ALBFLIP_BLUE", fx.s.blue_tg.as_str()),
                ("ALBFLIP_GREEN", fx.s.blue_tg.as_str()),
            ],
            shift(&[]),
        )
        .input(&["ALBFLIP_BLUE", "ALBFLIP_GREEN", "same target group"])
        .fix(&["two different target groups"]),
        Case::env(
            "invalid group name",
            l,
            &[("ALBFLIP_GREEN", "bad name!")],
            shift(&[]),
        )
        .input(&["ALBFLIP_GREEN", "bad name!"])
        .fix(&["target group name or its full ARN"]),
        Case::env(
            "port 99999",
            l,
            &[
                ("ALBFLIP_LOAD_BALANCER", lb.as_str()),
                ("ALBFLIP_PORT", "99999"),
            ],
            shift_only.clone(),
        )
        .input(&["ALBFLIP_PORT", "99999"])
        .fix(&["65535"]),
        Case::flag(
            "redirect default action",
            fx.redirect.as_str(),
            by(fx.redirect.as_str()),
        )
        .code(1)
        .input(&[fx.redirect.as_str(), "its action is redirect"])
        .fix(&["only shifts forward actions"]),
        Case::flag(
            "fixed-response default action",
            fx.fixed.as_str(),
            by(fx.fixed.as_str()),
        )
        .code(1)
        .input(&[fx.fixed.as_str(), "fixed-response"])
        .fix(&["only shifts forward actions"]),
        Case::flag(
            "three target groups",
            fx.three.as_str(),
            by(fx.three.as_str()),
        )
        .code(1)
        .input(&[fx.three.as_str(), "3 target groups"])
        .fix(&["exactly two"]),
        Case::flag(
            "the same group twice in the action",
            fx.twice.as_str(),
            by(fx.twice.as_str()),
        )
        .code(1)
        .input(&[fx.twice.as_str(), "names target group", "twice"])
        .fix(&[blue_name.as_str()]),
        // ---- reaching AWS ------------------------------------------------------------------------
        Case::env("no region", l, &[], shift(&[]))
            .unset(&["AWS_REGION", "AWS_DEFAULT_REGION"])
            .input(&["AWS region"])
            .fix(&["--region", "AWS_REGION"]),
        Case::env("no credentials", l, &[], shift(&[]))
            .unset(&[
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN",
            ])
            .code(1)
            .input(&["credentials"])
            .fix(&["AWS_ACCESS_KEY_ID"])
            .absent(&["endpoint unreachable"])
            .within(Duration::from_secs(10)),
        Case::env(
            "no credentials, instance metadata hangs",
            l,
            &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.as_str())],
            shift(&[]),
        )
        .unset(&[
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        ])
        .code(1)
        .input(&["credentials"])
        .fix(&["AWS_ACCESS_KEY_ID"])
        .absent(&["endpoint unreachable"])
        .within(Duration::from_secs(10)),
        Case::flag(
            "unreachable endpoint",
            l,
            shift(&["--endpoint-url", unreachable_flag.as_str()]),
        )
        .code(1)
        .input(&[unreachable_flag.as_str()])
        .fix(&["--endpoint-url"]),
        Case::env(
            "unreachable endpoint",
            l,
            &[("ALBFLIP_ENDPOINT_URL", unreachable_env.as_str())],
            shift(&[]),
        )
        .code(1)
        .input(&[unreachable_env.as_str()])
        .fix(&["ALBFLIP_ENDPOINT_URL"]),
        Case::toml(
            "unreachable endpoint",
            l,
            &format!("{route_toml}[aws]\nendpoint-url = \"{unreachable_toml}\"\n"),
            shift_only.clone(),
        )
        .unset(&["AWS_ENDPOINT_URL"])
        .code(1)
        .input(&[unreachable_toml.as_str()])
        .fix(&["endpoint-url"]),
        Case::toml(
            "endpoint without a scheme",
            l,
            &format!("{route_toml}[aws]\nendpoint-url = \"localhost:4566\"\n"),
            shift_only.clone(),
        )
        .input(&["albflip.toml", "endpoint-url", "localhost:4566"])
        .fix(&["http://127.0.0.1:4566"]),
    ]
}

#[test]
fn catalogue_of_bad_inputs() {
    let fx = fixtures();
    let cases = catalogue(&fx);
    for via in [Via::Flag, Via::Env, Via::Toml] {
        let n = cases.iter().filter(|c| c.via == via).count();
        assert!(n >= 10, "only {n} {via:?} cases");
    }
    assert!(cases.len() >= 30);
    drive(&cases, &albflip, &|l: &str| fingerprint(l));
}

// ---- AccessDenied: a second emulator with IAM enforcement -------------------------------------------

/// The IAM-enforcing emulator (`harness::iam_emulator`, shared with iam.rs), its stack and a
/// Describe-only user's keys. iam.rs proves the other side: a principal with exactly the actions of
/// `albflip iam-policy` deploys and rolls back.
struct IamWorld {
    emu: &'static IamEmulator,
    reader: Keys,
    stack: Stack,
}

fn iam_world() -> &'static IamWorld {
    static WORLD: OnceLock<IamWorld> = OnceLock::new();
    WORLD.get_or_init(|| {
        let emu = iam_emulator();
        let reader = emu.user(
            "albflip-reader",
            &serde_json::json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow",
                "Action": ["elasticloadbalancing:Describe*", "cloudwatch:GetMetricData",
                           "cloudwatch:DescribeAlarms"],
                "Resource": "*"}]}),
        );
        let (stack, _) = emu.stack("iam", Some(60));
        IamWorld { emu, reader, stack }
    })
}

/// `harness::fingerprint`, on the IAM emulator as its admin.
fn iam_fingerprint(listener_arn: &str) -> String {
    iam_world().emu.fingerprint(listener_arn)
}

#[test]
fn catalogue_of_refused_credentials() {
    let w = iam_world();
    let l = w.stack.listener_arn.clone();
    let by = |tail: &[&str]| -> Vec<String> { sv(&[&["--listener-arn", &l][..], tail].concat()) };
    let reader = |c: Case| -> Case {
        let mut c = c;
        c.env.push(("AWS_ACCESS_KEY_ID".into(), w.reader.0.clone()));
        c.env
            .push(("AWS_SECRET_ACCESS_KEY".into(), w.reader.1.clone()));
        c
    };
    let cases = vec![
        reader(Case::env(
            "Describe-only user shifts",
            &l,
            &[],
            by(&["shift", "--target", "green", "--percentage", "10"]),
        ))
        .code(1)
        .input(&["elasticloadbalancing:ModifyListener", l.as_str()])
        .fix(&["missing permission elasticloadbalancing:ModifyListener"]),
        reader(Case::env(
            "Describe-only user shifts to 100",
            &l,
            &[],
            by(&["shift", "--target", "green", "--percentage", "100"]),
        ))
        .code(1)
        .input(&["elasticloadbalancing:ModifyListener"])
        .fix(&["missing permission elasticloadbalancing:ModifyListener"]),
        Case::env(
            "unknown access key",
            &l,
            &[
                ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "nope"),
            ],
            by(&["shift", "--target", "green", "--percentage", "10"]),
        )
        .code(1)
        .input(&["security token included in the request is invalid"])
        .fix(&["credentials"])
        .absent(&["missing permission"]),
    ];
    let endpoint = w.emu.endpoint.clone();
    drive(
        &cases,
        &move || {
            let mut c = albflip();
            c.env("AWS_ENDPOINT_URL", &endpoint);
            c
        },
        &iam_fingerprint,
    );
}
