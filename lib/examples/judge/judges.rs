//! The peers' rules as their documentation describes them, the scenarios, and the table.

use std::time::SystemTime;

use albflip::plan::{JudgeKind, Period};

use super::traffic::{Behaviour, Model, Simple, Traffic};
use super::{deploy, Albflip, Call, Ending, Judge, Limits, Poll, Scenario, MINUTE};

/// A period's error rate and p99 of the new (`new = true`) or the stable color, if it served any.
fn rate(p: &Period, new: bool) -> Option<(f64, Option<f64>)> {
    let c = if new { p.new } else { p.stable };
    (c.requests > 0.0).then(|| (c.errors / c.requests, c.latency_seconds))
}

fn breaches(p: &Period, limits: &Limits) -> Option<bool> {
    rate(p, true)
        .map(|(r, lat)| r > limits.max_error_rate || lat.is_some_and(|l| l > limits.max_latency))
}

/// The newest published period at or after `from`, by its start.
fn newest(poll: &Poll<'_>, from: SystemTime) -> Option<Period> {
    let mut t = albflip::plan::window::align_down(poll.now, MINUTE);
    while t >= from {
        if let Some(p) = (poll.read)(t) {
            return Some(p);
        }
        t -= MINUTE;
    }
    None
}

/// Flagger: every interval (1 m) the newest published minute is checked against the thresholds; a
/// minute without requests to the new color is not a check; `threshold` (5) consecutive failed checks
/// roll back; a step passes when its bake is covered.
pub struct Flagger {
    limits: Limits,
    threshold: u32,
    failed: u32,
    checked: Option<SystemTime>,
    first_write: Option<SystemTime>,
}

impl Flagger {
    /// With Flagger's documented example `threshold: 5`.
    pub fn new(limits: Limits) -> Flagger {
        Flagger {
            limits,
            threshold: 5,
            failed: 0,
            checked: None,
            first_write: None,
        }
    }
}

impl Judge for Flagger {
    fn name(&self) -> &'static str {
        "Flagger"
    }
    fn start_step(&mut self) {}
    fn poll(&mut self, poll: &Poll<'_>) -> Call {
        let first = *self.first_write.get_or_insert(poll.write);
        if let Some(p) = newest(poll, first).filter(|p| Some(p.start) > self.checked) {
            self.checked = Some(p.start);
            match breaches(&p, &self.limits) {
                Some(true) => self.failed += 1,
                Some(false) => self.failed = 0,
                None => {}
            }
            if self.failed >= self.threshold {
                return Call::Fail;
            }
        }
        if poll.baked() {
            Call::Pass
        } else {
            Call::Continue
        }
    }
}

/// A CloudWatch alarm on the new color's error rate and p99, as CodeDeploy watches one: 1-minute
/// periods, ALARM when 3 of the last 5 published periods breach (missing data not breaching).
pub struct Alarm {
    limits: Limits,
    first_write: Option<SystemTime>,
}

impl Alarm {
    /// M = 3 of N = 5.
    pub fn new(limits: Limits) -> Alarm {
        Alarm {
            limits,
            first_write: None,
        }
    }
}

impl Judge for Alarm {
    fn name(&self) -> &'static str {
        "CloudWatch alarm 3 of 5"
    }
    fn start_step(&mut self) {}
    fn poll(&mut self, poll: &Poll<'_>) -> Call {
        let first = *self.first_write.get_or_insert(poll.write);
        if let Some(last) = newest(poll, first) {
            let mut breaching = 0;
            for i in 0..5u32 {
                let Some(t) = last.start.checked_sub(MINUTE * i) else {
                    break;
                };
                if let Some(true) = (poll.read)(t).and_then(|p| breaches(&p, &self.limits)) {
                    breaching += 1;
                }
            }
            if breaching >= 3 {
                return Call::Fail;
            }
        }
        if poll.baked() {
            Call::Pass
        } else {
            Call::Continue
        }
    }
}

/// Kayenta: at the end of each bake, the Mann-Whitney classifier (confidence 95 %, fraction 0.25, its
/// defaults) on the step's published minutes, new color against stable: error rates, then p99s. A
/// metric classified High fails the step.
pub struct Kayenta;

impl Judge for Kayenta {
    fn name(&self) -> &'static str {
        "Kayenta Mann-Whitney"
    }
    fn start_step(&mut self) {}
    fn poll(&mut self, poll: &Poll<'_>) -> Call {
        let Some(w) = poll.window().filter(|_| poll.baked()) else {
            return Call::Continue;
        };
        let first = albflip::plan::window::align_up(poll.write, MINUTE);
        let periods: Vec<Period> = poll.periods(first, w.end);
        let series = |new: bool, latency: bool| -> Vec<f64> {
            periods
                .iter()
                .filter_map(|p| rate(p, new))
                .filter_map(|(r, l)| if latency { l } else { Some(r) })
                .collect()
        };
        for latency in [false, true] {
            if high(&series(true, latency), &series(false, latency)) {
                return Call::Fail;
            }
        }
        Call::Pass
    }
}

/// Kayenta's `MannWhitneyClassifier`: the Hodges-Lehmann estimate of the shift and its confidence
/// interval (normal approximation at 95 %); High when the interval's lower end is above
/// `0.25 * |estimate|`.
fn high(experiment: &[f64], control: &[f64]) -> bool {
    if experiment.is_empty() || control.is_empty() || experiment == control {
        return false;
    }
    let mut d: Vec<f64> = experiment
        .iter()
        .flat_map(|x| control.iter().map(move |y| x - y))
        .collect();
    d.sort_by(f64::total_cmp);
    let (m, n) = (experiment.len() as f64, control.len() as f64);
    let mn = d.len();
    let estimate = if mn % 2 == 1 {
        d[mn / 2]
    } else {
        (d[mn / 2 - 1] + d[mn / 2]) / 2.0
    };
    let c = (m * n / 2.0 - 1.96 * (m * n * (m + n + 1.0) / 12.0).sqrt()).floor();
    let k = (c.max(0.0) as usize).min(mn - 1);
    d[k] > 0.25 * estimate.abs()
}

/// The new color's behaviour `t` seconds after the first write, from the stable one's.
type Course = fn(f64, &Behaviour) -> Behaviour;

/// The scenarios of issue 16.
pub fn scenarios() -> Vec<Scenario> {
    let levels = [("low", 20.0), ("medium", 200.0), ("high", 5000.0)];
    let limits = |base: f64| Limits {
        max_error_rate: if base >= 0.02 { 0.05 } else { 0.01 },
        max_latency: 1.5 * Behaviour::healthy(base).p99(),
    };
    let mut out = Vec::new();
    for base in [0.001, 0.02] {
        for (level, per_minute) in levels {
            out.push(Scenario {
                name: format!("healthy-{level}-{}%", base * 100.0),
                per_minute,
                stable: Behaviour::healthy(base),
                new: |_, s| *s,
                healthy: true,
                limits: limits(base),
            });
        }
    }
    let bad: [(&str, f64, Course); 6] = [
        ("plus-1pp", 0.001, |_, s| Behaviour {
            target_5xx: s.target_5xx + 0.01,
            ..*s
        }),
        ("3x", 0.02, |_, s| Behaviour {
            target_5xx: 3.0 * s.target_5xx,
            ..*s
        }),
        ("total-failure", 0.001, |_, s| Behaviour {
            target_5xx: 1.0,
            ..*s
        }),
        ("conn-refused", 0.001, |_, s| Behaviour {
            refused: 0.2,
            ..*s
        }),
        ("latency-2x", 0.001, |_, s| Behaviour {
            median_seconds: 2.0 * s.median_seconds,
            ..*s
        }),
        ("slow-leak", 0.001, |t, s| Behaviour {
            target_5xx: s.target_5xx + 0.1 * (t / 600.0).min(1.0),
            ..*s
        }),
    ];
    for (name, base, new) in bad {
        for (level, per_minute) in levels {
            out.push(Scenario {
                name: format!("{name}-{level}"),
                per_minute,
                stable: Behaviour::healthy(base),
                new,
                healthy: false,
                limits: limits(base),
            });
        }
    }
    out
}

fn judges(limits: Limits, experiment: bool) -> Vec<Box<dyn Judge>> {
    let mut out: Vec<Box<dyn Judge>> = vec![
        Box::new(Albflip::new(JudgeKind::Sequential, limits)),
        Box::new(Albflip::new(JudgeKind::Threshold, limits)),
        Box::new(Flagger::new(limits)),
        Box::new(Alarm::new(limits)),
        Box::new(Kayenta),
    ];
    if experiment {
        out.push(Box::new(Albflip::across_steps(limits)));
    }
    out
}

/// What the command line asks for.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// One JSON object a line instead of a table.
    pub json: bool,
    /// Also the sequential judge keeping its evidence across steps.
    pub experiment: bool,
    /// The plain generator instead of the ALB model.
    pub simple_traffic: bool,
}

/// One row of the table.
struct Row {
    judge: &'static str,
    scenario: String,
    runs: u64,
    healthy: bool,
    rollback_rate: f64,
    median_detection: Option<f64>,
    p90_detection: Option<f64>,
    median_blast: f64,
    median_duration: f64,
}

fn quantile(xs: &mut [f64], q: f64) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let i = ((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len()) - 1;
    Some(xs[i])
}

fn measure(index: usize, runs: u64, scenario: &Scenario, options: Options) -> Row {
    let Options {
        experiment,
        simple_traffic,
        ..
    } = options;
    let mut endings: Vec<Ending> = Vec::new();
    let mut name = "";
    for run in 0..runs {
        let seed = run.wrapping_mul(1_000_003) ^ 0xA1B;
        let (model, simple) = (Model { seed }, Simple { seed });
        let traffic: &dyn Traffic = if simple_traffic { &simple } else { &model };
        let mut judge = judges(scenario.limits, experiment).swap_remove(index);
        name = judge.name();
        endings.push(deploy(judge.as_mut(), traffic, scenario));
    }
    let rolled: Vec<&Ending> = endings.iter().filter(|e| e.rolled_back).collect();
    let mut detection: Vec<f64> = rolled.iter().map(|e| e.seconds).collect();
    let mut blast: Vec<f64> = endings.iter().map(|e| e.blast).collect();
    let mut duration: Vec<f64> = endings.iter().map(|e| e.seconds).collect();
    Row {
        judge: name,
        scenario: scenario.name.clone(),
        runs,
        healthy: scenario.healthy,
        rollback_rate: rolled.len() as f64 / runs.max(1) as f64,
        median_detection: quantile(&mut detection.clone(), 0.5),
        p90_detection: quantile(&mut detection, 0.9),
        median_blast: quantile(&mut blast, 0.5).unwrap_or(0.0),
        median_duration: quantile(&mut duration, 0.5).unwrap_or(0.0),
    }
}

fn num(x: Option<f64>) -> String {
    x.map_or("null".into(), |v| format!("{v:.1}"))
}

fn cell(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.0}"))
}

/// Every judge on every scenario; a Markdown table, or one JSON object a line.
pub fn run_all(runs: u64, options: Options) {
    let Options {
        json, experiment, ..
    } = options;
    let started = std::time::Instant::now();
    if !json {
        println!("| judge | scenario | runs | false rollback | detection | median s | p90 s | median blast radius | median duration s |");
        println!("|---|---|---|---|---|---|---|---|---|");
    }
    let limits = Limits {
        max_error_rate: 0.01,
        max_latency: 1.0,
    };
    let count = judges(limits, experiment).len();
    let only = std::env::var("JUDGE_ONLY").ok();
    for scenario in scenarios()
        .into_iter()
        .filter(|s| only.as_ref().is_none_or(|o| s.name.contains(o.as_str())))
    {
        for index in 0..count {
            let r = measure(index, runs, &scenario, options);
            let (false_rate, detect) = if r.healthy {
                (Some(r.rollback_rate), None)
            } else {
                (None, Some(r.rollback_rate))
            };
            if json {
                println!(
                    "{{\"judge\":\"{}\",\"scenario\":\"{}\",\"runs\":{},\"false_rollback_rate\":{},\"detection_rate\":{},\"median_detection_s\":{},\"p90_detection_s\":{},\"median_blast_radius\":{:.1},\"median_duration_s\":{:.1}}}",
                    r.judge,
                    r.scenario,
                    r.runs,
                    false_rate.map_or("null".into(), |v| format!("{v:.4}")),
                    detect.map_or("null".into(), |v| format!("{v:.4}")),
                    num(r.median_detection.filter(|_| !r.healthy)),
                    num(r.p90_detection.filter(|_| !r.healthy)),
                    r.median_blast,
                    r.median_duration
                );
            } else {
                let pct = |x: Option<f64>| x.map_or("-".into(), |v| format!("{:.1}%", v * 100.0));
                println!(
                    "| {} | {} | {} | {} | {} | {} | {} | {:.0} | {:.0} |",
                    r.judge,
                    r.scenario,
                    r.runs,
                    pct(false_rate),
                    pct(detect),
                    cell(r.median_detection.filter(|_| !r.healthy)),
                    cell(r.p90_detection.filter(|_| !r.healthy)),
                    r.median_blast,
                    r.median_duration
                );
            }
        }
    }
    eprintln!(
        "judge bench: {runs} runs per row in {:.0?}",
        started.elapsed()
    );
}
