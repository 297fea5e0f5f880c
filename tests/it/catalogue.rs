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
//! The catalogue is data: [`CATALOGUE`] and [`REFUSED_CREDENTIALS`] are static tables of [`Case`] rows.
//! What a row cannot know before the stacks exist (ARNs, names, ports) it writes as a `{placeholder}`,
//! filled from the [`Vars`] of its table. One driver ([`drive`]) runs every row and reports all failing
//! rows by name at once. AccessDenied and bad credentials need a second emulator with IAM enforcement;
//! they are the second table, run by the same driver.

use std::collections::HashMap;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, RedirectActionConfig, RedirectActionStatusCodeEnum,
};

use crate::harness::*;

/// How the bad input reaches albflip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Flag,
    Env,
    Toml,
}

/// The start of a row's command line; the row's `args` follow it.
#[derive(Debug, Clone, Copy)]
enum Cmd {
    /// Nothing: `args` is the whole command line.
    Argv,
    /// `--listener-arn={l}`.
    On,
    /// `On`, then `shift --target green --percentage 10`.
    Shift,
    /// `Shift`, then `--bake 1m`: a shift gated on metrics.
    Gated,
    /// `On`, then `deploy --target green --dry-run`.
    Plan,
    /// `shift --target green --percentage 10`, the route named elsewhere (environment, file).
    ShiftOnly,
    /// `deploy --target green --dry-run`, the route named elsewhere (environment, file).
    PlanOnly,
    /// `--listener-arn <listener>`, then `shift --target green --percentage 10`.
    ShiftBy(&'static str),
}

impl Cmd {
    fn words(self) -> Vec<&'static str> {
        const ON: &str = "--listener-arn={l}";
        const SHIFT: [&str; 4] = ["shift", "--target", "green", "--percentage"];
        const PLAN: [&str; 4] = ["deploy", "--target", "green", "--dry-run"];
        match self {
            Cmd::Argv => vec![],
            Cmd::On => vec![ON],
            Cmd::Shift => [&[ON][..], &SHIFT, &["10"]].concat(),
            Cmd::Gated => [&[ON][..], &SHIFT, &["10", "--bake", "1m"]].concat(),
            Cmd::Plan => [&[ON][..], &PLAN].concat(),
            Cmd::ShiftOnly => [&SHIFT[..], &["10"]].concat(),
            Cmd::PlanOnly => PLAN.to_vec(),
            Cmd::ShiftBy(listener) => [&["--listener-arn", listener][..], &SHIFT, &["10"]].concat(),
        }
    }
}

/// One row of the catalogue. Every string may hold `{placeholders}` (see [`Vars`]).
#[derive(Debug, Clone, Copy)]
struct Case {
    name: &'static str,
    via: Via,
    /// The command line: `cmd`'s words, then `args`.
    cmd: Cmd,
    args: &'static [&'static str],
    /// Environment variables set for the run (on top of the hermetic test environment).
    env: &'static [(&'static str, &'static str)],
    /// Environment variables removed from the test environment.
    unset: &'static [&'static str],
    /// The `albflip.toml` in the working directory.
    toml: Option<&'static str>,
    /// The exit code.
    code: i32,
    /// Fragments of stderr that name the input.
    input: &'static [&'static str],
    /// Fragments of stderr that name the fix.
    fix: &'static [&'static str],
    /// Fragments that must not be in stderr (a wrong diagnosis).
    absent: &'static [&'static str],
    /// The listener that must not change.
    listener: &'static str,
    /// The longest the run may take, in seconds.
    max_secs: u64,
}

/// A bad flag: exit 2 within 20 s, the main listener unchanged. Rows override what differs.
const FLAG: Case = Case {
    name: "",
    via: Via::Flag,
    cmd: Cmd::Argv,
    args: &[],
    env: &[],
    unset: &[],
    toml: None,
    code: 2,
    input: &[],
    fix: &[],
    absent: &[],
    listener: "{l}",
    max_secs: 20,
};
/// A bad `ALBFLIP_*` (or `AWS_*`) environment variable.
const ENV: Case = Case {
    via: Via::Env,
    ..FLAG
};
/// A bad `albflip.toml`.
const TOML: Case = Case {
    via: Via::Toml,
    ..FLAG
};

/// The values of a table's placeholders, by name.
struct Vars(HashMap<&'static str, String>);

impl Vars {
    /// `template` with each `{name}` replaced by its value; a `{` not followed by `name}` stays.
    /// Panics on an unknown name, so a misspelt placeholder cannot pass unnoticed.
    fn fill(&self, template: &str) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let name = after
                .find('}')
                .map(|close| &after[..close])
                .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            match name {
                Some(name) => {
                    let value = self.0.get(name).unwrap_or_else(|| {
                        panic!("unknown placeholder {{{name}}} in {template:?}")
                    });
                    out.push_str(value);
                    rest = &after[name.len() + 1..];
                }
                None => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }

    fn all(&self, templates: &[&str]) -> Vec<String> {
        templates.iter().map(|t| self.fill(t)).collect()
    }
}

/// A row with its placeholders filled: what is run and what is expected.
#[derive(Debug)]
struct Filled {
    argv: Vec<String>,
    env: Vec<(String, String)>,
    toml: Option<String>,
    input: Vec<String>,
    fix: Vec<String>,
    absent: Vec<String>,
    listener: String,
}

impl Case {
    fn fill(&self, vars: &Vars) -> Filled {
        Filled {
            argv: vars.all(&[self.cmd.words(), self.args.to_vec()].concat()),
            env: self
                .env
                .iter()
                .map(|(k, v)| (k.to_string(), vars.fill(v)))
                .collect(),
            toml: self.toml.map(|t| vars.fill(t)),
            input: vars.all(self.input),
            fix: vars.all(self.fix),
            absent: vars.all(self.absent),
            listener: vars.fill(self.listener),
        }
    }
}

/// Runs one row; returns what is wrong with albflip's answer, if anything.
fn check(
    case: &Case,
    vars: &Vars,
    base: &dyn Fn() -> Command,
    fingerprint: &dyn Fn(&str) -> String,
) -> Result<(), String> {
    let f = case.fill(vars);
    let max = Duration::from_secs(case.max_secs);
    let before = fingerprint(&f.listener);
    let mut cmd = base();
    for k in case.unset {
        cmd.env_remove(k);
    }
    for (k, v) in &f.env {
        cmd.env(k, v);
    }
    if let Some(text) = &f.toml {
        cmd.current_dir(dir_with_file("albflip.toml", text));
    }
    let started = Instant::now();
    let r = run_in(cmd, &f.argv);
    let took = started.elapsed();
    let after = fingerprint(&f.listener);
    let mut problems = vec![];
    if r.code != case.code {
        problems.push(format!("exit code {} (expected {})", r.code, case.code));
    }
    for (kind, frags) in [("input", &f.input), ("fix", &f.fix)] {
        for frag in frags.iter() {
            if !r.stderr.contains(frag.as_str()) {
                problems.push(format!("does not name the {kind}: {frag:?} missing"));
            }
        }
    }
    for frag in &f.absent {
        if r.stderr.contains(frag.as_str()) {
            problems.push(format!("wrong diagnosis: {frag:?} present"));
        }
    }
    if took > max {
        problems.push(format!("took {took:?} (at most {max:?})"));
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
            f.argv,
            f.env,
            case.unset,
            f.toml,
            r.stderr.trim_end().replace('\n', "\n          ")
        ))
    }
}

/// Runs every row and fails with the list of all rows albflip got wrong. `vars` gives each row its
/// placeholders' values (called once per row, so a row may get fresh ones, e.g. a closed port).
fn drive(
    cases: &[Case],
    vars: &dyn Fn() -> Vars,
    base: &dyn Fn() -> Command,
    fingerprint: &dyn Fn(&str) -> String,
) {
    let mut failures = vec![];
    for c in cases {
        match check(c, &vars(), base, fingerprint) {
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
    /// AWS config and credentials files with the profiles `default`, `staging` and `production`.
    aws_files: std::path::PathBuf,
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
    let fixed = extra_listener(&s, 8082, maintenance_response());
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
    let aws_files = dir_with_file(
        "config",
        "[default]\nregion = us-east-1\n[profile staging]\nregion = us-east-1\n",
    );
    std::fs::write(
        aws_files.join("credentials"),
        "[production]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    )
    .expect("credentials file");
    Fixtures {
        hanging,
        aws_files,
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

/// The placeholders of [`CATALOGUE`].
fn vars(fx: &Fixtures) -> Vars {
    let l = fx.s.listener_arn.clone();
    Vars(HashMap::from([
        // The main listener; `{route}` names it in `albflip.toml`.
        ("route", format!("[target]\nlistener-arn = \"{l}\"\n")),
        ("missing", missing_listener(&l)),
        ("l", l),
        ("lb", fx.s.lb_name()),
        ("blue_tg", fx.s.blue_tg.clone()),
        ("blue_name", tg_name(&fx.s.blue_tg)),
        // The blue target group's name misspelt.
        (
            "blue_typo",
            tg_name(&fx.s.blue_tg).replace("-blue-", "-bleu-"),
        ),
        // The AWS profile files.
        (
            "aws_config",
            fx.aws_files.join("config").display().to_string(),
        ),
        (
            "aws_credentials",
            fx.aws_files.join("credentials").display().to_string(),
        ),
        ("loose_name", tg_name(&fx.loose_tg)),
        // The other stack (another load balancer).
        ("other_listener", fx.other.listener_arn.clone()),
        ("other_green", fx.other.green_tg.clone()),
        ("other_green_name", tg_name(&fx.other.green_tg)),
        ("other_blue_name", tg_name(&fx.other.blue_tg)),
        // Listeners albflip cannot shift.
        ("redirect", fx.redirect.clone()),
        ("fixed", fx.fixed.clone()),
        ("three", fx.three.clone()),
        ("twice", fx.twice.clone()),
        // Endpoints: an instance metadata service that hangs, and (fresh per row) nothing at all.
        (
            "imds",
            format!("http://{}", fx.hanging.local_addr().expect("hanging addr")),
        ),
        ("closed", closed_url()),
    ]))
}

const PCT: &str = "whole number from 0 to 100";
const STEPS_FIX: &str = "strictly increasing percentages from 1 to 100 ending at 100";
const NO_KEYS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// The catalogue.
static CATALOGUE: &[Case] = &[
    // ---- percentages -----------------------------------------------------------------------------
    Case {
        name: "percentage above 100",
        cmd: Cmd::On,
        args: &["shift", "--target", "green", "--percentage", "101"],
        input: &["--percentage", "\"101\""],
        fix: &[PCT],
        ..FLAG
    },
    Case {
        name: "negative percentage",
        cmd: Cmd::On,
        args: &["shift", "--target", "green", "--percentage", "-1"],
        input: &["--percentage", "\"-1\""],
        fix: &[PCT],
        ..FLAG
    },
    Case {
        name: "percentage in words",
        cmd: Cmd::On,
        args: &["shift", "--target", "green", "--percentage", "ten"],
        input: &["--percentage", "\"ten\""],
        fix: &[PCT],
        ..FLAG
    },
    Case {
        name: "fractional percentage",
        cmd: Cmd::On,
        args: &["shift", "--target", "green", "--percentage", "1.5"],
        input: &["--percentage", "\"1.5\""],
        fix: &[PCT],
        ..FLAG
    },
    Case {
        name: "canary percentage 0",
        cmd: Cmd::Plan,
        args: &["--strategy", "canary", "--canary-percentage", "0"],
        input: &["--canary-percentage", "0%"],
        fix: &["1..=99"],
        ..FLAG
    },
    Case {
        name: "canary percentage 100",
        env: &[("ALBFLIP_CANARY_PERCENTAGE", "100")],
        cmd: Cmd::Plan,
        args: &["--strategy", "canary"],
        input: &["ALBFLIP_CANARY_PERCENTAGE", "100"],
        fix: &["1..=99"],
        ..ENV
    },
    Case {
        name: "canary percentage 150",
        toml: Some("{route}[strategy]\nstrategy = \"canary\"\ncanary-percentage = 150\n"),
        cmd: Cmd::PlanOnly,
        input: &["albflip.toml [strategy] canary-percentage", "150"],
        fix: &["1..=99"],
        ..TOML
    },
    // ---- steps -----------------------------------------------------------------------------------
    Case {
        name: "steps not increasing",
        cmd: Cmd::Plan,
        args: &["--steps", "50,25,100"],
        input: &["--steps 50,25,100", "25 is not above 50"],
        fix: &[STEPS_FIX],
        ..FLAG
    },
    Case {
        name: "last step not 100",
        cmd: Cmd::Plan,
        args: &["--steps", "10,50"],
        input: &["--steps 10,50", "last step must be 100"],
        fix: &[STEPS_FIX],
        ..FLAG
    },
    Case {
        name: "step 0",
        cmd: Cmd::Plan,
        args: &["--steps", "0,100"],
        input: &["--steps 0,100", "\"0\""],
        fix: &[STEPS_FIX],
        ..FLAG
    },
    Case {
        name: "junk steps",
        cmd: Cmd::Plan,
        args: &["--steps", "a,b"],
        input: &["--steps a,b", "\"a\""],
        fix: &[STEPS_FIX],
        ..FLAG
    },
    Case {
        name: "steps with another strategy",
        cmd: Cmd::Plan,
        args: &["--strategy", "immediate", "--steps", "10,100"],
        input: &["--steps / --strategy", "the strategy is immediate"],
        fix: &["make the strategy gradual"],
        ..FLAG
    },
    // Issue 21: a conflict is named by the real source of each value.
    Case {
        name: "steps with another strategy",
        env: &[("ALBFLIP_STRATEGY", "canary")],
        cmd: Cmd::Plan,
        args: &["--steps", "10,100"],
        input: &["--steps / ALBFLIP_STRATEGY", "the strategy is canary"],
        fix: &["make the strategy gradual"],
        ..ENV
    },
    Case {
        name: "steps with another strategy",
        toml: Some("{route}[strategy]\nstrategy = \"immediate\"\n"),
        env: &[("ALBFLIP_STEPS", "10,100")],
        cmd: Cmd::PlanOnly,
        input: &[
            "ALBFLIP_STEPS / albflip.toml [strategy] strategy",
            "the strategy is immediate",
        ],
        fix: &["make the strategy gradual"],
        ..TOML
    },
    Case {
        name: "the route named two ways",
        env: &[
            ("ALBFLIP_ENVIRONMENT", "prod"),
            ("ALBFLIP_APPLICATION", "shop"),
        ],
        cmd: Cmd::Shift,
        input: &[
            "--listener-arn / ALBFLIP_ENVIRONMENT",
            "each names the route",
        ],
        fix: &["Keep one of them"],
        ..ENV
    },
    Case {
        name: "environment without application",
        env: &[("ALBFLIP_ENVIRONMENT", "prod")],
        args: &["status"],
        input: &["--application", "ALBFLIP_ENVIRONMENT"],
        fix: &["fix or unset ALBFLIP_ENVIRONMENT"],
        ..ENV
    },
    Case {
        name: "test header and test listener",
        toml: Some("{route}[test-traffic]\nheader = \"X-Test=1\"\nlistener-port = 8080\n"),
        cmd: Cmd::PlanOnly,
        input: &[
            "albflip.toml [test-traffic] header and albflip.toml [test-traffic] listener-port",
        ],
        fix: &["Name one of them only"],
        ..TOML
    },
    Case {
        name: "steps not increasing",
        env: &[("ALBFLIP_STEPS", "10,5,100")],
        cmd: Cmd::Plan,
        input: &["ALBFLIP_STEPS", "5 is not above 10"],
        fix: &[STEPS_FIX],
        ..ENV
    },
    Case {
        name: "steps not increasing",
        toml: Some("{route}[strategy]\nsteps = [50, 25, 100]\n"),
        cmd: Cmd::PlanOnly,
        input: &["albflip.toml [strategy] steps", "25 is not above 50"],
        fix: &[STEPS_FIX],
        ..TOML
    },
    Case {
        name: "step above 255",
        toml: Some("{route}[strategy]\nsteps = [10, 300]\n"),
        cmd: Cmd::PlanOnly,
        input: &["steps", "300"],
        fix: &["1 to 100"],
        ..TOML
    },
    Case {
        name: "unknown strategy",
        env: &[("ALBFLIP_STRATEGY", "bluegreen")],
        cmd: Cmd::Plan,
        input: &["ALBFLIP_STRATEGY", "bluegreen"],
        fix: &["gradual, immediate, canary"],
        ..ENV
    },
    Case {
        name: "unknown strategy",
        toml: Some("{route}[strategy]\nstrategy = \"bluegreen\"\n"),
        cmd: Cmd::PlanOnly,
        input: &["albflip.toml [strategy] strategy", "bluegreen"],
        fix: &["gradual, immediate or canary"],
        ..TOML
    },
    // ---- durations -------------------------------------------------------------------------------
    Case {
        name: "bake in parsecs",
        cmd: Cmd::Shift,
        args: &["--bake", "3 parsecs"],
        input: &["--bake", "parsecs"],
        fix: &["supported units"],
        ..FLAG
    },
    // Issue 17, item 9: an empty step and a failure threshold of 0 are refused, not reinterpreted.
    Case {
        name: "steps with an empty item",
        cmd: Cmd::Plan,
        args: &["--steps", "10,,100"],
        input: &["--steps 10,,100", "empty step"],
        fix: &["5,20,50,100"],
        ..FLAG
    },
    Case {
        name: "failure threshold 0",
        cmd: Cmd::Plan,
        args: &["--failure-threshold", "0"],
        input: &["--failure-threshold 0"],
        fix: &["Use 1"],
        ..FLAG
    },
    // A zero bake would turn every gate off (issue 17, item 1): refused unless --no-gates.
    Case {
        name: "deploy bake 0s",
        cmd: Cmd::Plan,
        args: &["--bake", "0s"],
        input: &["--bake 0s", "gates would be off"],
        fix: &["--no-gates"],
        ..FLAG
    },
    Case {
        name: "deploy validation minutes 0",
        cmd: Cmd::Plan,
        args: &["--validation-minutes", "0"],
        input: &["--validation-minutes 0"],
        fix: &["--no-gates"],
        ..FLAG
    },
    Case {
        name: "gated shift bake 0s",
        cmd: Cmd::Shift,
        args: &["--bake", "0s"],
        input: &["--bake 0s"],
        fix: &["--no-gates"],
        ..FLAG
    },
    Case {
        name: "no gates with a bake",
        cmd: Cmd::Plan,
        args: &["--no-gates", "--bake", "3m"],
        input: &["--no-gates", "--bake"],
        ..FLAG
    },
    Case {
        name: "poll interval 0s",
        cmd: Cmd::Gated,
        args: &["--poll-interval", "0s"],
        input: &["--poll-interval"],
        fix: &["30s"],
        ..FLAG
    },
    Case {
        name: "bake soon",
        env: &[("ALBFLIP_BAKE", "soon")],
        cmd: Cmd::Shift,
        input: &["ALBFLIP_BAKE", "soon"],
        fix: &["3m"],
        ..ENV
    },
    Case {
        name: "bake 0s",
        env: &[("ALBFLIP_BAKE", "0s")],
        cmd: Cmd::Plan,
        input: &["ALBFLIP_BAKE"],
        fix: &["--no-gates"],
        ..ENV
    },
    Case {
        name: "poll interval 0s",
        env: &[("ALBFLIP_POLL_INTERVAL", "0s")],
        cmd: Cmd::Gated,
        input: &["ALBFLIP_POLL_INTERVAL"],
        fix: &["30s"],
        ..ENV
    },
    Case {
        name: "bake soon",
        toml: Some("{route}[strategy]\nbake = \"soon\"\n"),
        cmd: Cmd::PlanOnly,
        input: &["albflip.toml [strategy] bake", "soon"],
        fix: &["\"3m\""],
        ..TOML
    },
    Case {
        name: "failure threshold 0",
        toml: Some("{route}[gates]\nfailure-threshold = 0\n"),
        cmd: Cmd::PlanOnly,
        input: &["albflip.toml [gates] failure-threshold 0"],
        fix: &["Use 1"],
        ..TOML
    },
    Case {
        name: "bake 0s",
        toml: Some("{route}[strategy]\nbake = \"0s\"\n"),
        cmd: Cmd::PlanOnly,
        input: &["albflip.toml [strategy] bake"],
        fix: &["--no-gates"],
        ..TOML
    },
    Case {
        name: "max latency fast",
        toml: Some("{route}[gates]\nmax-latency = \"fast\"\n"),
        cmd: Cmd::PlanOnly,
        input: &["albflip.toml [gates] max-latency", "fast"],
        fix: &["\"30s\""],
        ..TOML
    },
    Case {
        name: "poll interval 0s",
        toml: Some("{route}[gates]\npoll-interval = \"0s\"\n"),
        cmd: Cmd::PlanOnly,
        input: &["albflip.toml", "poll-interval"],
        fix: &["30s"],
        ..TOML
    },
    // ---- thresholds ------------------------------------------------------------------------------
    Case {
        name: "error rate 150%",
        cmd: Cmd::Gated,
        args: &["--max-error-rate", "150"],
        input: &["--max-error-rate", "150"],
        fix: &["0..=100"],
        ..FLAG
    },
    Case {
        name: "latency increase 0.9",
        cmd: Cmd::Gated,
        args: &["--max-latency-increase", "0.9"],
        input: &["--max-latency-increase", "0.9"],
        fix: &["above 1", "1.5"],
        ..FLAG
    },
    Case {
        name: "latency increase fast",
        cmd: Cmd::Gated,
        args: &["--max-latency-increase", "fast"],
        input: &["--max-latency-increase", "fast"],
        fix: &["1.5x"],
        ..FLAG
    },
    Case {
        name: "latency statistic median",
        cmd: Cmd::Gated,
        args: &["--latency-statistic", "median"],
        input: &["--latency-statistic", "median"],
        fix: &["p99", "Average"],
        ..FLAG
    },
    Case {
        name: "on-no-data maybe",
        cmd: Cmd::Gated,
        args: &["--on-no-data", "maybe"],
        input: &["--on-no-data", "maybe"],
        fix: &["wait, fail or pass"],
        ..FLAG
    },
    Case {
        name: "metric window below the period",
        cmd: Cmd::Gated,
        args: &["--metric-window", "30s", "--metric-period", "1m"],
        input: &["--metric-window", "--metric-period"],
        fix: &["--metric-window 5m --metric-period 60s"],
        ..FLAG
    },
    Case {
        name: "negative min requests",
        cmd: Cmd::Gated,
        args: &["--min-requests=-5"],
        input: &["--min-requests", "-5"],
        fix: &["whole number"],
        ..FLAG
    },
    Case {
        name: "error rate abc",
        env: &[("ALBFLIP_MAX_ERROR_RATE", "abc")],
        cmd: Cmd::Gated,
        input: &["ALBFLIP_MAX_ERROR_RATE", "abc"],
        fix: &["percent"],
        ..ENV
    },
    Case {
        name: "latency statistic p200",
        env: &[("ALBFLIP_LATENCY_STATISTIC", "p200")],
        cmd: Cmd::Gated,
        input: &["ALBFLIP_LATENCY_STATISTIC", "p200"],
        fix: &["p99"],
        ..ENV
    },
    Case {
        name: "latency increase 1",
        env: &[("ALBFLIP_MAX_LATENCY_INCREASE", "1")],
        cmd: Cmd::Gated,
        input: &["ALBFLIP_MAX_LATENCY_INCREASE", "1"],
        fix: &["above 1"],
        ..ENV
    },
    Case {
        name: "on-no-data ignore",
        env: &[("ALBFLIP_ON_NO_DATA", "ignore")],
        cmd: Cmd::Gated,
        input: &["ALBFLIP_ON_NO_DATA", "ignore"],
        fix: &["wait, fail or pass"],
        ..ENV
    },
    Case {
        name: "metric period 0s",
        env: &[("ALBFLIP_METRIC_PERIOD", "0s")],
        cmd: Cmd::Gated,
        input: &["ALBFLIP_METRIC_PERIOD"],
        fix: &["--metric-period 60s"],
        ..ENV
    },
    Case {
        name: "error rate 150%",
        toml: Some("{route}[gates]\nmax-error-rate = 150\n"),
        cmd: Cmd::PlanOnly,
        input: &["[gates] max-error-rate", "150"],
        fix: &["percentage from 0 to 100"],
        ..TOML
    },
    Case {
        name: "latency increase 0.5",
        toml: Some("{route}[gates]\nmax-latency-increase = 0.5\n"),
        cmd: Cmd::PlanOnly,
        input: &["albflip.toml [gates] max-latency-increase", "0.5"],
        fix: &["above 1"],
        ..TOML
    },
    Case {
        name: "error rate as a string",
        toml: Some("{route}[gates]\nmax-error-rate = \"abc\"\n"),
        cmd: Cmd::PlanOnly,
        input: &["max-error-rate", "abc"],
        fix: &["number"],
        ..TOML
    },
    Case {
        name: "latency statistic median",
        toml: Some("{route}[gates]\nlatency-statistic = \"median\"\n"),
        cmd: Cmd::PlanOnly,
        input: &["albflip.toml", "latency-statistic", "median"],
        fix: &["p99"],
        ..TOML
    },
    Case {
        name: "on-no-data maybe",
        toml: Some("{route}[gates]\non-no-data = \"maybe\"\n"),
        cmd: Cmd::PlanOnly,
        input: &["albflip.toml", "on-no-data", "maybe"],
        fix: &["wait, fail or pass"],
        ..TOML
    },
    Case {
        name: "metric window below the period",
        toml: Some("{route}[gates]\nmetric-window = \"30s\"\nmetric-period = \"1m\"\n"),
        cmd: Cmd::PlanOnly,
        input: &["albflip.toml", "metric-window", "metric-period"],
        fix: &["5m"],
        ..TOML
    },
    // ---- the config file itself ------------------------------------------------------------------
    Case {
        name: "misspelt gates key",
        toml: Some("{route}[gates]\nmax-eror-rate = 1.0\n"),
        cmd: Cmd::ShiftOnly,
        input: &["max-eror-rate", "albflip.toml"],
        fix: &["`max-error-rate`"],
        ..TOML
    },
    Case {
        name: "unknown section",
        toml: Some("{route}[gatez]\nmax-error-rate = 1.0\n"),
        cmd: Cmd::ShiftOnly,
        input: &["gatez", "albflip.toml"],
        fix: &["`gates`"],
        ..TOML
    },
    Case {
        name: "port above 65535",
        toml: Some("[target]\nload-balancer = \"x\"\nport = 70000\n"),
        cmd: Cmd::ShiftOnly,
        input: &["port", "70000"],
        fix: &["65535"],
        ..TOML
    },
    Case {
        name: "config file missing",
        env: &[("ALBFLIP_CONFIG", "/nonexistent/albflip.toml")],
        cmd: Cmd::Shift,
        input: &["ALBFLIP_CONFIG", "/nonexistent/albflip.toml"],
        fix: &["existing albflip.toml"],
        ..ENV
    },
    Case {
        name: "output yaml",
        env: &[("ALBFLIP_OUTPUT", "yaml")],
        cmd: Cmd::On,
        args: &["status"],
        input: &["ALBFLIP_OUTPUT", "yaml"],
        fix: &["text, json"],
        ..ENV
    },
    // ---- colors ----------------------------------------------------------------------------------
    Case {
        name: "shift to purple",
        cmd: Cmd::On,
        args: &["shift", "--target", "purple", "--percentage", "10"],
        input: &["--target", "unknown color \"purple\""],
        fix: &["\"blue\" or \"green\""],
        ..FLAG
    },
    Case {
        name: "deploy purple",
        cmd: Cmd::On,
        args: &["deploy", "--target", "purple"],
        input: &["--target", "\"purple\""],
        fix: &["\"blue\" or \"green\""],
        ..FLAG
    },
    Case {
        name: "rollback to red",
        cmd: Cmd::On,
        args: &["rollback", "--to", "red"],
        input: &["--to", "unknown color \"red\""],
        fix: &["\"blue\" or \"green\""],
        ..FLAG
    },
    // ---- ARNs and routes -------------------------------------------------------------------------
    Case {
        name: "malformed listener ARN",
        cmd: Cmd::ShiftBy("arn:aws:nope"),
        input: &["--listener-arn", "\"arn:aws:nope\""],
        fix: &["describe-listeners"],
        ..FLAG
    },
    Case {
        name: "listener ARN as rule ARN",
        args: &["--rule-arn", "{l}", "status"],
        input: &["--rule-arn", "not a valid listener rule ARN"],
        fix: &["listener-rule/app/"],
        ..FLAG
    },
    Case {
        name: "malformed listener ARN",
        env: &[("ALBFLIP_LISTENER_ARN", "arn:aws:nope")],
        cmd: Cmd::ShiftOnly,
        input: &["ALBFLIP_LISTENER_ARN", "\"arn:aws:nope\""],
        fix: &["describe-listeners"],
        ..ENV
    },
    Case {
        name: "malformed listener ARN",
        toml: Some("[target]\nlistener-arn = \"arn:aws:nope\"\n"),
        cmd: Cmd::ShiftOnly,
        input: &["albflip.toml", "listener-arn", "\"arn:aws:nope\""],
        fix: &["describe-listeners"],
        ..TOML
    },
    Case {
        name: "missing listener",
        cmd: Cmd::ShiftBy("{missing}"),
        // Issue 21: the region searched is named.
        input: &["{missing}", "not found", "(searched in region us-east-1)"],
        fix: &["--region", "describe-listeners"],
        ..FLAG
    },
    Case {
        name: "missing listener",
        env: &[("ALBFLIP_LISTENER_ARN", "{missing}")],
        cmd: Cmd::ShiftOnly,
        input: &["{missing}", "not found"],
        fix: &["--region", "describe-listeners"],
        ..ENV
    },
    Case {
        name: "missing listener",
        toml: Some("[target]\nlistener-arn = \"{missing}\"\n"),
        cmd: Cmd::ShiftOnly,
        input: &["{missing}", "not found"],
        fix: &["--region", "describe-listeners"],
        ..TOML
    },
    Case {
        name: "load balancer and another's listener",
        args: &[
            "--load-balancer",
            "{lb}",
            "--listener-arn",
            "{other_listener}",
            "shift",
            "--target",
            "green",
            "--percentage",
            "10",
        ],
        input: &["--load-balancer", "--listener-arn"],
        fix: &["cannot be used with"],
        ..FLAG
    },
    Case {
        name: "load balancer and another's listener",
        env: &[("ALBFLIP_LOAD_BALANCER", "{lb}")],
        cmd: Cmd::ShiftBy("{other_listener}"),
        input: &["ALBFLIP_LOAD_BALANCER", "--listener-arn"],
        fix: &["cannot be used with"],
        ..ENV
    },
    Case {
        name: "two routes",
        toml: Some("[target]\nload-balancer = \"{lb}\"\nlistener-arn = \"{other_listener}\"\n"),
        cmd: Cmd::ShiftOnly,
        input: &[
            "albflip.toml [target] listener-arn / albflip.toml [target] load-balancer",
            "each names the route",
        ],
        fix: &["Keep one of them"],
        ..TOML
    },
    Case {
        name: "green of another load balancer",
        cmd: Cmd::Shift,
        args: &["--green", "{other_green}"],
        input: &["--green", "{other_green_name}", "not in the forward action"],
        fix: &["Name a target group of that action"],
        ..FLAG
    },
    Case {
        name: "blue of another load balancer",
        env: &[("ALBFLIP_BLUE", "{other_blue_name}")],
        cmd: Cmd::Shift,
        input: &[
            "ALBFLIP_BLUE",
            "{other_blue_name}",
            "not in the forward action",
        ],
        fix: &["Name a target group of that action"],
        ..ENV
    },
    Case {
        name: "green of another load balancer",
        toml: Some("{route}green = \"{other_green}\"\n"),
        cmd: Cmd::ShiftOnly,
        input: &[
            "albflip.toml",
            "{other_green_name}",
            "not in the forward action",
        ],
        fix: &["Name a target group of that action"],
        ..TOML
    },
    Case {
        name: "group not in the action",
        cmd: Cmd::Shift,
        args: &["--green", "{loose_name}"],
        input: &["--green", "{loose_name}", "not in the forward action"],
        fix: &["Name a target group of that action"],
        ..FLAG
    },
    // Issue 21: a target group name not found comes with the closest names of the region.
    Case {
        name: "misspelt target group",
        cmd: Cmd::Shift,
        args: &["--blue", "{blue_typo}"],
        input: &["blue target group \"{blue_typo}\" not found"],
        fix: &["Did you mean \"{blue_name}\"", "--blue"],
        ..FLAG
    },
    Case {
        name: "misspelt target group",
        env: &[("ALBFLIP_BLUE", "{blue_typo}")],
        cmd: Cmd::Shift,
        input: &["blue target group \"{blue_typo}\" not found"],
        fix: &["Did you mean \"{blue_name}\""],
        ..ENV
    },
    Case {
        name: "the same group as blue and green",
        cmd: Cmd::Shift,
        args: &["--blue", "{blue_name}", "--green", "{blue_name}"],
        input: &["same target group", "{blue_name}"],
        fix: &["two different target groups"],
        ..FLAG
    },
    Case {
        name: "the same group as blue and green",
        env: &[
            ("ALBFLIP_BLUE", "{blue_tg}"),
            ("ALBFLIP_GREEN", "{blue_tg}"),
        ],
        cmd: Cmd::Shift,
        input: &["ALBFLIP_BLUE", "ALBFLIP_GREEN", "same target group"],
        fix: &["two different target groups"],
        ..ENV
    },
    Case {
        name: "invalid group name",
        env: &[("ALBFLIP_GREEN", "bad name!")],
        cmd: Cmd::Shift,
        input: &["ALBFLIP_GREEN", "bad name!"],
        fix: &["target group name or its full ARN"],
        ..ENV
    },
    Case {
        name: "port 99999",
        env: &[("ALBFLIP_LOAD_BALANCER", "{lb}"), ("ALBFLIP_PORT", "99999")],
        cmd: Cmd::ShiftOnly,
        input: &["ALBFLIP_PORT", "99999"],
        fix: &["65535"],
        ..ENV
    },
    Case {
        name: "redirect default action",
        listener: "{redirect}",
        cmd: Cmd::ShiftBy("{redirect}"),
        code: 1,
        input: &["{redirect}", "its action is redirect"],
        fix: &["only shifts forward actions"],
        ..FLAG
    },
    Case {
        name: "fixed-response default action",
        listener: "{fixed}",
        cmd: Cmd::ShiftBy("{fixed}"),
        code: 1,
        input: &["{fixed}", "fixed-response"],
        fix: &["only shifts forward actions"],
        ..FLAG
    },
    Case {
        name: "three target groups",
        listener: "{three}",
        cmd: Cmd::ShiftBy("{three}"),
        code: 1,
        input: &["{three}", "3 target groups"],
        fix: &["exactly two"],
        ..FLAG
    },
    Case {
        name: "the same group twice in the action",
        listener: "{twice}",
        cmd: Cmd::ShiftBy("{twice}"),
        code: 1,
        input: &["{twice}", "names target group", "twice"],
        fix: &["{blue_name}"],
        ..FLAG
    },
    // ---- reaching AWS ----------------------------------------------------------------------------
    Case {
        name: "no region",
        unset: &["AWS_REGION", "AWS_DEFAULT_REGION"],
        cmd: Cmd::Shift,
        input: &["AWS region"],
        fix: &["--region", "AWS_REGION"],
        ..ENV
    },
    Case {
        name: "no credentials",
        unset: NO_KEYS,
        cmd: Cmd::Shift,
        code: 1,
        input: &["credentials"],
        fix: &["AWS_ACCESS_KEY_ID"],
        absent: &["endpoint unreachable"],
        max_secs: 10,
        ..ENV
    },
    Case {
        name: "no credentials, instance metadata hangs",
        env: &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", "{imds}")],
        unset: NO_KEYS,
        cmd: Cmd::Shift,
        code: 1,
        input: &["credentials"],
        fix: &["AWS_ACCESS_KEY_ID"],
        absent: &["endpoint unreachable"],
        max_secs: 10,
        ..ENV
    },
    // Issue 21: a profile that does not exist is refused even with keys in the environment (the SDK
    // would take the keys and ignore the profile). The harness sets AWS_ACCESS_KEY_ID for every row.
    Case {
        name: "profile that does not exist, keys in the environment",
        env: &[
            ("AWS_CONFIG_FILE", "{aws_config}"),
            ("AWS_SHARED_CREDENTIALS_FILE", "{aws_credentials}"),
        ],
        cmd: Cmd::Shift,
        args: &["--profile", "stagign"],
        input: &[
            "--profile \"stagign\"",
            "no such AWS profile in {aws_config} or {aws_credentials}",
        ],
        fix: &["Did you mean \"staging\"", "default, production, staging"],
        ..FLAG
    },
    Case {
        name: "profile that does not exist, keys in the environment",
        env: &[
            ("ALBFLIP_PROFILE", "nope"),
            ("AWS_CONFIG_FILE", "{aws_config}"),
            ("AWS_SHARED_CREDENTIALS_FILE", "{aws_credentials}"),
        ],
        cmd: Cmd::Shift,
        input: &["ALBFLIP_PROFILE \"nope\"", "no such AWS profile"],
        fix: &["default, production, staging"],
        ..ENV
    },
    Case {
        name: "profile that does not exist, keys in the environment",
        toml: Some("{route}[aws]\nprofile = \"nope\"\n"),
        cmd: Cmd::ShiftOnly,
        input: &[
            "albflip.toml [aws] profile \"nope\"",
            "no such AWS profile in /dev/null",
        ],
        fix: &["Create it", "albflip.toml [aws] profile unset"],
        ..TOML
    },
    Case {
        name: "unreachable endpoint",
        cmd: Cmd::Shift,
        args: &["--endpoint-url", "{closed}"],
        code: 1,
        input: &["{closed}"],
        fix: &["--endpoint-url"],
        ..FLAG
    },
    Case {
        name: "unreachable endpoint",
        env: &[("ALBFLIP_ENDPOINT_URL", "{closed}")],
        cmd: Cmd::Shift,
        code: 1,
        input: &["{closed}"],
        fix: &["ALBFLIP_ENDPOINT_URL"],
        ..ENV
    },
    Case {
        name: "unreachable endpoint",
        toml: Some("{route}[aws]\nendpoint-url = \"{closed}\"\n"),
        unset: &["AWS_ENDPOINT_URL"],
        cmd: Cmd::ShiftOnly,
        code: 1,
        input: &["{closed}"],
        fix: &["endpoint-url"],
        ..TOML
    },
    Case {
        name: "endpoint without a scheme",
        toml: Some("{route}[aws]\nendpoint-url = \"localhost:4566\"\n"),
        cmd: Cmd::ShiftOnly,
        input: &["albflip.toml", "endpoint-url", "localhost:4566"],
        fix: &["http://127.0.0.1:4566"],
        ..TOML
    },
];

#[test]
fn catalogue_of_bad_inputs() {
    for via in [Via::Flag, Via::Env, Via::Toml] {
        let n = CATALOGUE.iter().filter(|c| c.via == via).count();
        assert!(n >= 10, "only {n} {via:?} cases");
    }
    assert!(CATALOGUE.len() >= 30);
    let fx = fixtures();
    drive(CATALOGUE, &|| vars(&fx), &albflip, &|l: &str| {
        fingerprint(l)
    });
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

/// The Describe-only user's keys.
const READER: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "{reader_key}"),
    ("AWS_SECRET_ACCESS_KEY", "{reader_secret}"),
];

/// Credentials the IAM emulator refuses; `{l}` is its stack's listener.
static REFUSED_CREDENTIALS: &[Case] = &[
    Case {
        name: "Describe-only user shifts",
        env: READER,
        cmd: Cmd::ShiftBy("{l}"),
        code: 1,
        input: &["elasticloadbalancing:ModifyListener", "{l}"],
        fix: &["missing permission elasticloadbalancing:ModifyListener"],
        ..ENV
    },
    Case {
        name: "Describe-only user shifts to 100",
        env: READER,
        args: &[
            "--listener-arn",
            "{l}",
            "shift",
            "--target",
            "green",
            "--percentage",
            "100",
        ],
        code: 1,
        input: &["elasticloadbalancing:ModifyListener"],
        fix: &["missing permission elasticloadbalancing:ModifyListener"],
        ..ENV
    },
    Case {
        name: "unknown access key",
        env: &[
            ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "nope"),
        ],
        cmd: Cmd::ShiftBy("{l}"),
        code: 1,
        input: &["security token included in the request is invalid"],
        fix: &["credentials"],
        absent: &["missing permission"],
        ..ENV
    },
];

#[test]
fn catalogue_of_refused_credentials() {
    let w = iam_world();
    let vars = || {
        Vars(HashMap::from([
            ("l", w.stack.listener_arn.clone()),
            ("reader_key", w.reader.0.clone()),
            ("reader_secret", w.reader.1.clone()),
        ]))
    };
    let endpoint = w.emu.endpoint.clone();
    drive(
        REFUSED_CREDENTIALS,
        &vars,
        &move || {
            let mut c = albflip();
            c.env("AWS_ENDPOINT_URL", &endpoint);
            c
        },
        &iam_fingerprint,
    );
}
