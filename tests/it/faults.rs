//! API faults (issue 6): 50 deployments and 50 rollbacks through the fault-injecting proxy, 20 % of the
//! calls faulted (503s, throttling, slow answers, dropped connections, writes applied but unanswered).
//! Every run must end in a valid, reported state; the listener is checked through the SDK directly on
//! the emulator (not through the proxy) after each run.
//!
//! What each exit code guarantees (from `lib/src/engine.rs`, `lib/src/traffic.rs`, `src/main.rs`):
//!
//! `deploy`
//! - 0, gradual: all traffic on the new color; tags stable = state's target = new, state = complete.
//! - 0, canary: the canary split (new 20 %); stable unchanged; state = awaiting-promotion.
//! - 3: a gate (here: metrics unavailable on 3 polls) rolled back: all traffic on the stable color,
//!   state = rolled-back.
//! - 1: either nothing changed (the error says "Nothing was changed"; weights as before), or the run was
//!   aborted and traffic returned to the stable color (verified), or traffic moved and verified but the
//!   final tagging failed (the message names the live split).
//! - 4: conflict or drift: nothing written by this run.
//! - 5: the rollback failed: weights anywhere on the plan's path (reported), never invalid.
//!
//! `rollback`
//! - 0: all traffic on the requested color, albflip:stable names it, no deployment left in flight.
//! - 1: a read failed before any write: nothing changed.
//! - 5: the write, its verification or the tagging failed: weights either as before or on the color.
//!
//! Always: the forward action names exactly blue and green in their order, weights within 0..=999 and
//! not all zero, stickiness, rules, conditions and every other field and tag as before.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::*;
use crate::proxy::{Config, Counts, Proxy};

const STACKS: usize = 5;
const CYCLES: usize = 10;
const FAULT_RATE: f64 = 0.2;

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn other(c: &str) -> &'static str {
    if c == "blue" {
        "green"
    } else {
        "blue"
    }
}

/// The listener with its rules and non-albflip tags, weights masked: everything a run must not change.
fn shape(listener_arn: &str) -> String {
    let raw = fingerprint_parts(listener_arn);
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw.as_str();
    // Mask `weight: Some(N)`.
    while let Some(i) = rest.find("weight: Some(") {
        out.push_str(&rest[..i]);
        out.push_str("weight: _");
        let after = &rest[i + "weight: Some(".len()..];
        let close = after.find(')').unwrap_or(0);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Whether the listener's shape is as it was (`shape0`): exactly, or, while a rollback has its group
/// stickiness released (issue 17: the `albflip:stickiness` record holds the setting found), with the
/// stickiness config aside and the record holding the setting `shape0` had.
fn same_shape(listener_arn: &str, shape0: &str) -> bool {
    let now = shape(listener_arn);
    if now == shape0 {
        return true;
    }
    let Some(record) = tag(listener_arn, "albflip:stickiness") else {
        return false;
    };
    let seconds = record.trim_start_matches("enabled/");
    let had = format!("enabled: Some(true), duration_seconds: Some({seconds}) }})");
    mask_stickiness(&now) == mask_stickiness(shape0) && shape0.contains(&had)
}

/// `shape` with each forward's stickiness config replaced by `_`.
fn mask_stickiness(shape: &str) -> String {
    const KEY: &str = "target_group_stickiness_config: ";
    let mut out = String::with_capacity(shape.len());
    let mut rest = shape;
    while let Some(i) = rest.find(KEY) {
        out.push_str(&rest[..i + KEY.len()]);
        out.push('_');
        let after = &rest[i + KEY.len()..];
        let end = after.find("})").map_or(after.len(), |e| e + 2);
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn fingerprint_parts(listener_arn: &str) -> String {
    let (listeners, rules, tag_descriptions) = listener_state(&elb(), listener_arn);
    let tags: BTreeMap<String, String> = tag_descriptions
        .iter()
        .flat_map(|d| d.tags())
        .filter(|t| !t.key().unwrap_or_default().starts_with("albflip:"))
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    format!("{listeners:?}\n{rules:?}\n{tags:?}")
}

/// The albflip tags of a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    stable: String,
    state: Option<String>,
    target: Option<String>,
    /// (blue, green) weights.
    weights: (i32, i32),
}

impl State {
    fn read(s: &Stack) -> Result<State, String> {
        let (groups, _) = forward(&s.listener_arn);
        let arns: Vec<&str> = groups.iter().map(|(a, _)| a.as_str()).collect();
        if arns != [s.blue_tg.as_str(), s.green_tg.as_str()] {
            return Err(format!(
                "the forward action does not name exactly blue and green: {groups:?}"
            ));
        }
        let w = |i: usize| groups[i].1.ok_or_else(|| format!("no weight: {groups:?}"));
        let weights = (w(0)?, w(1)?);
        if !(0..=999).contains(&weights.0) || !(0..=999).contains(&weights.1) {
            return Err(format!("weight out of 0..=999: {weights:?}"));
        }
        if weights == (0, 0) {
            return Err("ALL-ZERO WEIGHTS".into());
        }
        let stable = tag(&s.listener_arn, "albflip:stable").unwrap_or_else(|| "blue".into());
        if stable != "blue" && stable != "green" {
            return Err(format!("albflip:stable={stable}"));
        }
        Ok(State {
            stable,
            state: tag(&s.listener_arn, "albflip:state"),
            target: tag(&s.listener_arn, "albflip:target"),
            weights,
        })
    }

    /// The percent of `color` (albflip writes percentages as weights).
    fn percent(&self, color: &str) -> i32 {
        let (b, g) = self.weights;
        let total = b + g;
        let w = if color == "blue" { b } else { g };
        (w * 100 + total / 2) / total
    }

    fn whole(&self) -> Option<&'static str> {
        match self.weights {
            (_, 0) => Some("blue"),
            (0, _) => Some("green"),
            _ => None,
        }
    }

    fn split(&self) -> String {
        format!(
            "blue {}% / green {}%",
            self.percent("blue"),
            self.percent("green")
        )
    }

    fn in_flight(&self) -> bool {
        matches!(
            self.state.as_deref(),
            Some("in-progress" | "awaiting-promotion" | "interrupted")
        )
    }
}

/// One run of albflip through the proxy, as recorded for the report.
#[derive(Debug, Clone)]
struct Record {
    stack: usize,
    cycle: usize,
    command: String,
    code: i32,
    outcome: String,
    after: String,
    took: Duration,
}

/// The deploy's last NDJSON object: the summary or the error.
fn last_json(r: &Run) -> Value {
    r.stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
        .unwrap_or(Value::Null)
}

/// Checks the state after a `deploy` from `s` to `n`; returns the outcome for the report.
fn check_deploy(
    r: &Run,
    before: &State,
    after: &State,
    s: &str,
    n: &str,
    canary: bool,
) -> Result<String, String> {
    let v = last_json(r);
    let err_msg = v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let on = |color: &str| after.whole() == Some(color);
    let fail = |why: &str| Err(format!("{why}; after: {after:?}"));
    match r.code {
        0 if !canary => {
            if v["outcome"] != "completed" || v["stable"] != n {
                return fail(&format!("exit 0 but summary {v}"));
            }
            if !on(n) {
                return fail("completed but traffic is not all on the new color");
            }
            if after.stable != n
                || after.state.as_deref() != Some("complete")
                || after.target.as_deref() != Some(n)
            {
                return fail("completed but the tags do not say so");
            }
            Ok("completed".into())
        }
        0 => {
            if v["outcome"] != "awaiting_promotion" {
                return fail(&format!("canary exit 0 but summary {v}"));
            }
            if after.percent(n) != 20 || after.percent(s) != 80 {
                return fail("canary awaiting promotion but not at 20 %");
            }
            if after.stable != s
                || after.state.as_deref() != Some("awaiting-promotion")
                || after.target.as_deref() != Some(n)
            {
                return fail("canary awaiting promotion but the tags do not say so");
            }
            Ok("awaiting_promotion".into())
        }
        3 => {
            if v["outcome"] != "rolled_back" || !r.stdout.contains("\"rolled_back\"") {
                return fail(&format!("exit 3 but summary {v}"));
            }
            if !on(s) || after.stable != s || after.state.as_deref() != Some("rolled-back") {
                return fail("gate rollback but traffic/tags not back on the stable color");
            }
            Ok("gate_rolled_back".into())
        }
        1 => {
            if v["error"]["exit_code"] != 1 || !r.stderr.contains("albflip: error:") {
                return fail(&format!("exit 1 without an error report: {r:?}"));
            }
            if v["error"]["may_have_changed_aws"] == false {
                // "Nothing was changed."
                if after.weights != before.weights || after.stable != before.stable {
                    return fail(&format!(
                        "exit 1 says nothing was changed, but the route changed from {before:?}: {err_msg}"
                    ));
                }
                return Ok("error_nothing_changed".into());
            }
            if err_msg.contains("Traffic was returned to") {
                if !on(s) || after.stable != s {
                    return fail(&format!(
                        "aborted, but traffic is not back on {s}: {err_msg}"
                    ));
                }
                return Ok("aborted_back_on_stable".into());
            }
            if err_msg.contains("but recording albflip's tags") {
                if !err_msg.contains(&format!("traffic is now {} (verified)", after.split())) {
                    return fail(&format!(
                        "tagging failed, message names another split: {err_msg}"
                    ));
                }
                return Ok("moved_tagging_failed".into());
            }
            fail(&format!("unexpected exit-1 error: {err_msg}"))
        }
        4 => {
            // Nothing written by this run: weights as before, or (drift) at a step albflip wrote.
            // Named by the convention, a run takes the convention's lock table, and a release that a
            // fault cut short leaves the lease to expire: the next run is refused by the lock.
            if !(err_msg.contains("drift")
                || err_msg.contains("in progress")
                || err_msg.contains("awaiting promotion")
                || err_msg.contains("holds the lock"))
            {
                return fail(&format!("exit 4 without a conflict message: {err_msg}"));
            }
            Ok(format!("conflict at {}", after.split()))
        }
        5 => {
            if !r.stderr.contains("ROLLBACK FAILED") || !r.stderr.contains("A human must act") {
                return fail(&format!("exit 5 without the loud report: {}", r.stderr));
            }
            let steps: &[i32] = if canary { &[0, 20] } else { &[0, 50, 100] };
            if !steps.contains(&after.percent(n)) {
                return fail("rollback failed and weights are off the plan's path");
            }
            Ok(format!("rollback_failed at {}", after.split()))
        }
        _ => fail(&format!("undocumented exit code: {r:?}")),
    }
}

/// Checks the state after `rollback` to `c`.
fn check_rollback(r: &Run, before: &State, after: &State, c: &str) -> Result<String, String> {
    let fail = |why: &str| Err(format!("{why}; before: {before:?}; after: {after:?}"));
    let on_c = after.whole() == Some(c);
    match r.code {
        0 => {
            let v = r.json();
            if v["after"][c] != 100 || v["stable"] != c {
                return fail(&format!("exit 0 but report {v}"));
            }
            if !on_c || after.stable != c || after.in_flight() {
                return fail("rolled back but traffic/tags do not say so");
            }
            Ok(if v["written"] == true {
                "rolled_back".into()
            } else {
                "already_there".into()
            })
        }
        1 => {
            if !r.stderr.contains("Nothing was changed") {
                return fail(&format!(
                    "exit 1 without 'Nothing was changed': {}",
                    r.stderr
                ));
            }
            if after.weights != before.weights || after.stable != before.stable {
                return fail("exit 1 says nothing was changed, but the route changed");
            }
            Ok("error_nothing_changed".into())
        }
        5 => {
            if !r.stderr.contains("A human must act") {
                return fail(&format!("exit 5 without the loud report: {}", r.stderr));
            }
            if after.weights != before.weights && !on_c {
                return fail("rollback failed and weights are neither as before nor on the color");
            }
            if r.stderr.contains("but recording albflip's tags") && !on_c {
                return fail("tagging failed but traffic is not on the color");
            }
            Ok(format!("failed at {}", after.split()))
        }
        _ => fail(&format!("undocumented exit code for rollback: {r:?}")),
    }
}

fn fast_deploy() -> Vec<String> {
    strs(&[
        "--bake",
        "1s",
        "--poll-interval",
        "500ms",
        "--metric-lag",
        "0s",
        "--metric-window",
        "5s",
        "--metric-period",
        "1s",
        "--latency-statistic",
        "Average",
        "--on-no-data",
        "pass",
    ])
}

struct Totals {
    records: Mutex<Vec<Record>>,
    violations: Mutex<Vec<String>>,
    repairs: Mutex<usize>,
}

/// Ten cycles on one stack: deploy the other color (gradual on even cycles, a canary on odd ones), then
/// roll back (`--to` the previous color after a gradual deploy, to the stable color after a canary).
fn exercise(i: usize, stack: &Stack, proxy_endpoint: &str, totals: &Totals) {
    let route = if i % 2 == 0 {
        stack.by_arn()
    } else {
        stack.convention()
    };
    let endpoint = vec!["--endpoint-url".to_string(), proxy_endpoint.to_string()];
    let violation = |cycle: usize, what: &str, e: String| {
        totals
            .violations
            .lock()
            .unwrap()
            .push(format!("stack {i} cycle {cycle} {what}: {e}"));
    };
    let shape0 = shape(&stack.listener_arn);
    for cycle in 0..CYCLES {
        let before = match State::read(stack) {
            Ok(s) => s,
            Err(e) => return violation(cycle, "before", e),
        };
        let s = before.stable.clone();
        let n = other(&s);
        let canary = cycle % 2 == 1;
        let mut deploy = args(
            &[&endpoint, &route],
            &["--output", "json", "deploy", "--target", n],
        );
        if canary {
            deploy.extend(strs(&["--strategy", "canary", "--canary-percentage", "20"]));
        } else {
            deploy.extend(strs(&["--steps", "50,100"]));
        }
        deploy.extend(fast_deploy());
        let started = Instant::now();
        let r = run(&deploy);
        let took = started.elapsed();
        let outcome = State::read(stack).and_then(|after| {
            if !same_shape(&stack.listener_arn, &shape0) {
                return Err("the listener, its rules, stickiness or tags changed".into());
            }
            let o = check_deploy(&r, &before, &after, &s, n, canary)?;
            Ok((o, after))
        });
        let after = match outcome {
            Ok((o, after)) => {
                totals.records.lock().unwrap().push(Record {
                    stack: i,
                    cycle,
                    command: format!("deploy{}", if canary { " canary" } else { "" }),
                    code: r.code,
                    outcome: o,
                    after: after.split(),
                    took,
                });
                after
            }
            Err(e) => return violation(cycle, "deploy", format!("{e}\n{r:?}")),
        };
        // Roll back.
        let mut rollback = args(&[&endpoint, &route], &["--output", "json", "rollback"]);
        if !canary {
            rollback.extend(strs(&["--to", &s]));
        }
        let to = if canary {
            after.stable.clone()
        } else {
            s.clone()
        };
        let started = Instant::now();
        let r = run(&rollback);
        let took = started.elapsed();
        let outcome = State::read(stack).and_then(|end| {
            if !same_shape(&stack.listener_arn, &shape0) {
                return Err("the listener, its rules, stickiness or tags changed".into());
            }
            let o = check_rollback(&r, &after, &end, &to)?;
            Ok((o, end))
        });
        match outcome {
            Ok((o, end)) => {
                totals.records.lock().unwrap().push(Record {
                    stack: i,
                    cycle,
                    command: "rollback".into(),
                    code: r.code,
                    outcome: o,
                    after: end.split(),
                    took,
                });
                // A failed rollback leaves work for a human: do it directly on the emulator.
                if end.in_flight() || end.whole() != Some(end.stable.as_str()) {
                    *totals.repairs.lock().unwrap() += 1;
                    let r = run(&args(&[&route], &["rollback", "--to", &to]));
                    if r.code != 0 {
                        return violation(cycle, "repair", format!("{r:?}"));
                    }
                }
            }
            Err(e) => return violation(cycle, "rollback", format!("{e}\n{r:?}")),
        }
    }
}

#[test]
fn deployments_and_rollbacks_end_in_a_valid_reported_state_under_api_faults() {
    let started = Instant::now();
    // Stacks 1 and 3 sticky; stacks 1 and 2 start with green stable.
    let stacks: Vec<Stack> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..STACKS)
            .map(|i| {
                scope.spawn(move || {
                    let s = stack(if i % 2 == 1 { Some(300) } else { None });
                    let start = if i == 1 || i == 2 { "green" } else { "blue" };
                    // Directly on the emulator: make the forward weighted and the start color stable.
                    run(&args(
                        &[&s.by_arn()],
                        &["shift", "--target", start, "--percentage", "100"],
                    ))
                    .ok();
                    if start == "green" {
                        assert_eq!(
                            tag(&s.listener_arn, "albflip:stable").as_deref(),
                            Some("green")
                        );
                    }
                    State::read(&s).expect("a weighted forward after setup");
                    s
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let setup = started.elapsed();
    let proxy = Proxy::start(Config::mixed(FAULT_RATE, 0x0A1B_F11B));
    let totals = Totals {
        records: Mutex::new(Vec::new()),
        violations: Mutex::new(Vec::new()),
        repairs: Mutex::new(0),
    };
    let endpoint = proxy.endpoint.clone();
    std::thread::scope(|scope| {
        for (i, s) in stacks.iter().enumerate() {
            let totals = &totals;
            let endpoint = &endpoint;
            scope.spawn(move || exercise(i, s, endpoint, totals));
        }
    });
    let counts: Counts = proxy.counts();
    let records = totals.records.into_inner().unwrap();
    let violations = totals.violations.into_inner().unwrap();
    let repairs = totals.repairs.into_inner().unwrap();
    // The report.
    let mut by: BTreeMap<(String, i32, String), usize> = BTreeMap::new();
    for r in &records {
        let outcome = r
            .outcome
            .split(" at ")
            .next()
            .unwrap_or_default()
            .to_string();
        *by.entry((r.command.clone(), r.code, outcome)).or_default() += 1;
    }
    eprintln!(
        "== API faults: {} runs in {:?} (stack setup {:?})",
        records.len(),
        started.elapsed(),
        setup
    );
    for ((command, code, outcome), n) in &by {
        eprintln!("  {command:<16} exit {code:<3} {outcome:<24} x{n}");
    }
    for r in records.iter().filter(|r| r.code != 0) {
        eprintln!(
            "  stack {} cycle {} {} exit {}: {} -> {} ({:?})",
            r.stack, r.cycle, r.command, r.code, r.outcome, r.after, r.took
        );
    }
    let slowest = records.iter().map(|r| r.took).max().unwrap_or_default();
    eprintln!("  proxy: {counts:?}; faults {:.1} % of {} requests; repairs {repairs}; slowest run {slowest:?}",
        100.0 * counts.faults() as f64 / counts.total().max(1) as f64, counts.total());
    assert!(
        violations.is_empty(),
        "{} violation(s):\n{}",
        violations.len(),
        violations.join("\n\n")
    );
    let deploys = records
        .iter()
        .filter(|r| r.command.starts_with("deploy"))
        .count();
    let rollbacks = records.iter().filter(|r| r.command == "rollback").count();
    assert_eq!((deploys, rollbacks), (STACKS * CYCLES, STACKS * CYCLES));
    // Not vacuous: every kind of fault was injected, at about the chosen rate.
    assert!(
        counts.unavailable > 0
            && counts.throttled > 0
            && counts.slow > 0
            && counts.dropped > 0
            && counts.dropped_after_write > 0,
        "{counts:?}"
    );
    let rate = counts.faults() as f64 / counts.total() as f64;
    assert!(
        (0.15..0.25).contains(&rate),
        "fault rate {rate}: {counts:?}"
    );
}

/// A tag write (AddTags) that fails for good — every call after the first `k` answers 503 — in a gradual
/// and in a canary deployment, for k = 0..=4, so the failure lands on each of the deployment's tag
/// writes in turn (the start, the steps, the end). Wherever it lands, the exit code and message must
/// tell the truth: "Nothing was changed" only when the weights are as before.
#[test]
fn a_tag_write_failing_after_traffic_moved_is_reported_truthfully() {
    use crate::proxy::Fault;
    let problems: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = [false, true]
            .into_iter()
            .map(|canary| {
                scope.spawn(move || {
                    let stack = stack(None);
                    run(&args(
                        &[&stack.by_arn()],
                        &["shift", "--target", "blue", "--percentage", "100"],
                    ))
                    .ok();
                    let mut problems = Vec::new();
                    for k in 0..=4u64 {
                        let before = State::read(&stack).expect("valid before");
                        let proxy = Proxy::start(Config {
                            only_actions: Some(vec!["AddTags".into()]),
                            pass_first: k,
                            ..Config::only(Fault::Unavailable, 1.0)
                        });
                        let endpoint = vec!["--endpoint-url".to_string(), proxy.endpoint.clone()];
                        let mut deploy = args(
                            &[&endpoint, &stack.by_arn()],
                            &["--output", "json", "deploy", "--target", "green"],
                        );
                        if canary {
                            deploy.extend(strs(&["--strategy", "canary", "--canary-percentage", "20"]));
                        } else {
                            deploy.extend(strs(&["--steps", "50,100"]));
                        }
                        deploy.extend(fast_deploy());
                        let r = run(&deploy);
                        let kind = if canary { "canary" } else { "gradual" };
                        match State::read(&stack)
                            .and_then(|after| check_deploy(&r, &before, &after, "blue", "green", canary))
                        {
                            Ok(o) => eprintln!("  {kind} deploy, AddTags failing after {k}: exit {} {o}", r.code),
                            Err(e) => problems.push(format!(
                                "{kind} deploy, AddTags failing after the first {k}: exit {}: {e}\nstderr: {}",
                                r.code, r.stderr
                            )),
                        }
                        // Back to blue, directly on the emulator, for the next round.
                        run(&args(&[&stack.by_arn()], &["rollback", "--to", "blue"])).ok();
                        let end = State::read(&stack).expect("valid after the repair");
                        assert!(end.whole() == Some("blue") && !end.in_flight(), "{end:?}");
                    }
                    problems
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        problems.is_empty(),
        "{} run(s) misreported what they changed:\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}
