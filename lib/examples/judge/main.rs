//! The judge's Monte Carlo benchmark (issue 16; `bench/judge`, results in BENCHMARKS.md).
//!
//! Whole gradual deployments (10, 25, 50, 75, 100 %, bake 3 m, polled every 30 s, 60 s periods read
//! 60 s late over a 5 m window, as albflip's defaults) in simulated time, each judged by five rules on
//! the same seeded traffic: albflip's sequential judge and threshold rules (the library's own code),
//! Flagger (a threshold checked every interval, rollback after `threshold` consecutive failed checks),
//! a CloudWatch alarm as CodeDeploy uses it (M of N periods over a threshold) and Kayenta (Mann-Whitney
//! at the end of each bake, 95 % confidence, the classifier's default). Traffic comes through the
//! [`Traffic`] trait: the realistic ALB metrics model of the `testing` feature ([`traffic::Model`]), or
//! a plain generator ([`traffic::Simple`]).
//!
//! ```text
//! cargo run --profile judge-bench --example judge --features testing -p albflip -- [--runs N] [--json]
//!     [--experiment]      # also the sequential judge keeping its evidence across steps
//!     [--traffic simple]  # the plain generator instead of the ALB metrics model
//! ```

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use albflip::model::Color;
use albflip::plan::decide::{BakeDecision, BakePolicy, BakeProgress, BakeTracker};
use albflip::plan::gates::evaluate;
use albflip::plan::{
    published_coverage, step_window, ColorMetrics, GateThresholds, JudgeKind, JudgeSettings,
    Observation, Period, PeriodCounts, SequentialJudge, Verdict,
};

mod judges;
mod traffic;

use traffic::{Behaviour, Drawn, Traffic};

const MINUTE: Duration = Duration::from_secs(60);
const STEPS: [f64; 5] = [0.10, 0.25, 0.50, 0.75, 1.0];
const BAKE: Duration = Duration::from_secs(180);
const POLL: Duration = Duration::from_secs(30);
const LAG: Duration = Duration::from_secs(60);
const WINDOW: Duration = Duration::from_secs(300);

/// What a judge says after a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// Keep baking.
    Continue,
    /// The step passed.
    Pass,
    /// Roll back.
    Fail,
}

/// What a judge sees at a poll: the step's write, now, and the periods as published by now.
pub struct Poll<'a> {
    /// When the step's weights were written.
    pub write: SystemTime,
    /// Now.
    pub now: SystemTime,
    /// The period starting at a time, as read now: `None` while it is unpublished.
    pub read: &'a dyn Fn(SystemTime) -> Option<Period>,
}

impl Poll<'_> {
    /// The step's window at this poll (albflip's `step_window` with the defaults).
    pub fn window(&self) -> Option<albflip::plan::StepWindow> {
        step_window(self.write, self.now, WINDOW, LAG, MINUTE)
    }

    /// How much of the step the periods actually published cover, as the engine counts it: from the
    /// first whole period after the write through every period published without a gap, at most the
    /// window's coverage.
    pub fn covered(&self) -> Duration {
        let Some(w) = self.window() else {
            return Duration::ZERO;
        };
        let first = albflip::plan::window::align_up(self.write, MINUTE);
        let mut published = Vec::new();
        let mut t = first;
        while t < w.end {
            if (self.read)(t).is_some() {
                published.push(t);
            }
            t += MINUTE;
        }
        published_coverage(self.write, &published, MINUTE).min(w.covered)
    }

    /// Whether published periods cover the bake.
    pub fn baked(&self) -> bool {
        self.covered() >= BAKE
    }

    /// The periods from `start` to `end` as read (unpublished ones with zero counts, no latency).
    pub fn periods(&self, start: SystemTime, end: SystemTime) -> Vec<Period> {
        let mut out = Vec::new();
        let mut t = start;
        while t < end {
            out.push((self.read)(t).unwrap_or(Period {
                start: t,
                new: PeriodCounts::default(),
                stable: PeriodCounts::default(),
            }));
            t += MINUTE;
        }
        out
    }
}

/// A rule that judges a step.
pub trait Judge {
    /// Its name in the table.
    fn name(&self) -> &'static str;
    /// A new step was written.
    fn start_step(&mut self);
    /// One poll.
    fn poll(&mut self, poll: &Poll<'_>) -> Call;
}

/// The limits every judge gets for a scenario: the ceiling a user would set above the baseline, and
/// the latency limit 1.5 times the healthy p99.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Highest error rate.
    pub max_error_rate: f64,
    /// Highest p99 in seconds (peers); albflip compares with the stable color at 1.5x.
    pub max_latency: f64,
}

/// albflip's own rules: the library's `evaluate`, `BakeTracker` and `SequentialJudge`.
pub struct Albflip {
    gates: GateThresholds,
    policy: BakePolicy,
    tracker: BakeTracker,
    sequential: Option<SequentialJudge>,
    across_steps: bool,
}

impl Albflip {
    /// albflip with `kind` and the scenario's limits (else the defaults).
    pub fn new(kind: JudgeKind, limits: Limits) -> Albflip {
        let gates = GateThresholds {
            max_error_rate: limits.max_error_rate,
            max_latency_increase: Some(1.5),
            judge: kind,
            ..GateThresholds::default()
        };
        Albflip {
            policy: BakePolicy {
                bake: BAKE,
                poll_interval: POLL,
                ..BakePolicy::default()
            },
            tracker: BakeTracker::default(),
            sequential: None,
            across_steps: false,
            gates,
        }
    }

    /// The sequential judge keeping its evidence across the steps of a deployment, at 99 % for the
    /// whole deployment (an experiment of this bench, not an option of albflip).
    pub fn across_steps(limits: Limits) -> Albflip {
        let mut a = Albflip::new(JudgeKind::Sequential, limits);
        a.gates.confidence = 99.0;
        a.across_steps = true;
        a
    }
}

/// The observation albflip reads for a window: totals, the worst period's latency, the periods.
fn observation(periods: Vec<Period>, start: SystemTime, end: SystemTime) -> Observation {
    let total = |pick: fn(&Period) -> PeriodCounts| {
        let mut m = ColorMetrics {
            healthy_hosts: Some(2.0),
            unhealthy_hosts: Some(0.0),
            ..ColorMetrics::default()
        };
        for p in &periods {
            let c = pick(p);
            m.requests += c.requests;
            m.errors += c.errors;
            m.latency_seconds = match (m.latency_seconds, c.latency_seconds) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        m
    };
    let mut o = Observation::totals(total(|p| p.new), total(|p| p.stable), start, end);
    o.periods = periods;
    o
}

impl Judge for Albflip {
    fn name(&self) -> &'static str {
        match self.gates.judge {
            JudgeKind::Threshold => "albflip threshold",
            _ if self.across_steps => "albflip sequential across steps (experiment)",
            _ => "albflip sequential",
        }
    }

    fn start_step(&mut self) {
        self.tracker = BakeTracker::default();
        if self.across_steps && self.sequential.is_some() {
            return;
        }
        self.sequential = (self.gates.judge == JudgeKind::Sequential)
            .then(|| SequentialJudge::new(JudgeSettings::new(&self.gates, self.gates.confidence)));
    }

    fn poll(&mut self, poll: &Poll<'_>) -> Call {
        let elapsed = poll.now.duration_since(poll.write).unwrap_or_default();
        let Some(window) = poll.window() else {
            let limit = BAKE + LAG + MINUTE + self.policy.max_bake_extension;
            return if elapsed >= limit {
                Call::Fail
            } else {
                Call::Continue
            };
        };
        let obs = observation(
            poll.periods(window.start, window.end),
            window.start,
            window.end,
        );
        let mut report = evaluate(&self.gates, &obs, Color::Green);
        if let Some(j) = self.sequential.as_mut() {
            let judged = j.poll(&obs, &mut report, Color::Green);
            if judged.iter().any(|j| j.verdict == Verdict::Fail) {
                return Call::Fail;
            }
        }
        let progress = BakeProgress {
            elapsed,
            covered: poll.covered(),
            period_end: Some(window.end),
        };
        match self.tracker.judge_step(&self.policy, &report, progress) {
            BakeDecision::Passed => Call::Pass,
            BakeDecision::Failed(_) => Call::Fail,
            _ => Call::Continue,
        }
    }
}

/// A scenario: the route's traffic and each color's behaviour over time.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Its name in the table.
    pub name: String,
    /// Requests a minute to the whole route.
    pub per_minute: f64,
    /// The stable color.
    pub stable: Behaviour,
    /// The new color from the first write (`t` = seconds since it).
    pub new: fn(f64, &Behaviour) -> Behaviour,
    /// Whether the new color is healthy.
    pub healthy: bool,
    /// The limits the judges get.
    pub limits: Limits,
}

/// How one deployment ended.
#[derive(Debug, Clone, Copy)]
pub struct Ending {
    /// Rolled back.
    pub rolled_back: bool,
    /// Seconds from the first write (the fault's start) to the end.
    pub seconds: f64,
    /// Failed requests the new color served before the end.
    pub blast: f64,
}

/// Runs one deployment of `scenario` with traffic `traffic` under `judge`.
pub fn deploy(judge: &mut dyn Judge, traffic: &dyn Traffic, scenario: &Scenario) -> Ending {
    let cached = Cached {
        traffic,
        drawn: RefCell::new(HashMap::new()),
    };
    let traffic = &cached as &dyn Traffic;
    let t0 = UNIX_EPOCH + 29_000_000 * MINUTE;
    let mut shares: Vec<(SystemTime, f64)> = vec![(t0, STEPS[0])];
    let mut now = t0;
    for (i, share) in STEPS.iter().enumerate() {
        if i > 0 {
            shares.push((now, *share));
        }
        let write = now;
        judge.start_step();
        let call = loop {
            now += POLL;
            let read = |start: SystemTime| {
                let d = draw(traffic, scenario, &shares, t0, start);
                (d.published <= now).then_some(d.period)
            };
            let poll = Poll {
                write,
                now,
                read: &read,
            };
            match judge.poll(&poll) {
                Call::Continue => {}
                other => break other,
            }
        };
        if call == Call::Fail {
            return ending(traffic, scenario, &shares, t0, now, true);
        }
    }
    ending(traffic, scenario, &shares, t0, now, false)
}

/// Draws each (period, share, behaviour) once per deployment: judges read a period many times.
struct Cached<'a> {
    traffic: &'a dyn Traffic,
    drawn: RefCell<HashMap<(SystemTime, u64, u64), Drawn>>,
}

impl Traffic for Cached<'_> {
    fn period(
        &self,
        start: SystemTime,
        per_minute: f64,
        share: f64,
        new: &Behaviour,
        stable: &Behaviour,
    ) -> Drawn {
        let key = (start, share.to_bits(), new.target_5xx.to_bits());
        if let Some(d) = self.drawn.borrow().get(&key) {
            return *d;
        }
        let d = self.traffic.period(start, per_minute, share, new, stable);
        self.drawn.borrow_mut().insert(key, d);
        d
    }
}

/// The new color's share over the period starting at `start` (time-weighted).
fn share_of(shares: &[(SystemTime, f64)], start: SystemTime) -> f64 {
    let end = start + MINUTE;
    let mut total = 0.0;
    for (i, (from, share)) in shares.iter().enumerate() {
        let to = shares.get(i + 1).map_or(end, |n| n.0);
        let (a, b) = ((*from).max(start), to.min(end));
        if b > a {
            total += share * b.duration_since(a).unwrap_or_default().as_secs_f64();
        }
    }
    total / MINUTE.as_secs_f64()
}

fn draw(
    traffic: &dyn Traffic,
    scenario: &Scenario,
    shares: &[(SystemTime, f64)],
    t0: SystemTime,
    start: SystemTime,
) -> Drawn {
    let share = if start < t0 {
        0.0
    } else {
        share_of(shares, start)
    };
    let t = start
        .duration_since(t0)
        .map_or(0.0, |d| d.as_secs_f64() + 30.0);
    let new = (scenario.new)(t, &scenario.stable);
    traffic.period(start, scenario.per_minute, share, &new, &scenario.stable)
}

fn ending(
    traffic: &dyn Traffic,
    scenario: &Scenario,
    shares: &[(SystemTime, f64)],
    t0: SystemTime,
    end: SystemTime,
    rolled_back: bool,
) -> Ending {
    let mut blast = 0.0;
    let mut t = t0;
    while t < end {
        let d = draw(traffic, scenario, shares, t0, t);
        let part = end.duration_since(t).unwrap_or_default().min(MINUTE);
        blast += d.new_failed * part.as_secs_f64() / MINUTE.as_secs_f64();
        t += MINUTE;
    }
    Ending {
        rolled_back,
        seconds: end.duration_since(t0).unwrap_or_default().as_secs_f64(),
        blast,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(2000);
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let options = judges::Options {
        json: has("--json"),
        experiment: has("--experiment"),
        simple_traffic: args
            .windows(2)
            .any(|w| w[0] == "--traffic" && w[1] == "simple"),
    };
    judges::run_all(runs, options);
}
