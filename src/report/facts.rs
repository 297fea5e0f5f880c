//! What a run's events say, gathered for the report: who, which deployment, the steps with their last
//! poll, every poll's counts for both colors and the chart's series. Pure: events in, facts out.

use std::time::SystemTime;

use albflip::engine::DeploySpec;
use albflip::events::{Backends, Event, SplitView, WindowCounts};
use albflip::model::Color;
use albflip::plan::judge::Judgement;
use albflip::plan::{GateKind, GateResult, Verdict};

use super::chart::{ChartData, Marker, Series};

/// Seconds from `t0` to `t` (0 when `t` is earlier).
pub fn since(t0: SystemTime, t: SystemTime) -> f64 {
    t.duration_since(t0).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

fn share_of(color: Color, s: &SplitView) -> f64 {
    f64::from(match color {
        Color::Blue => s.blue,
        Color::Green => s.green,
    })
}

/// One poll of the gates: when, what each gate said and the judge's evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Poll {
    /// When.
    pub at: SystemTime,
    /// Every gate's result.
    pub results: Vec<GateResult>,
    /// The sequential judge's verdicts with their numbers (empty under the threshold judge).
    pub judgements: Vec<Judgement>,
    /// `continue`, `passed` or `failed`.
    pub decision: String,
}

impl Poll {
    /// The judge's verdict on `gate` in this poll, if it judged it.
    pub fn judgement(&self, gate: &GateKind) -> Option<&Judgement> {
        self.judgements.iter().find(|j| &j.gate == gate)
    }
}

/// One step of the run.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct StepRow {
    /// 1-based.
    pub step: usize,
    /// The new color's share the step moves to.
    pub percent: u8,
    /// The split written and read back.
    pub split: Option<SplitView>,
    /// When the step started.
    pub started: Option<SystemTime>,
    /// When its weights were read back.
    pub applied: Option<SystemTime>,
    /// Polls of the gates in the step.
    pub polls: usize,
    /// The step's expected length in seconds (bake + lag + one period), from its polls.
    pub expected: Option<f64>,
    /// `passed`, `failed`, `interrupted`, … and when.
    pub end: Option<(&'static str, SystemTime)>,
    /// The step's last poll: the one that decided it.
    pub last: Option<Poll>,
}

/// One poll's counts of both colors, for the samples table and the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// When, in seconds since the start.
    pub t: f64,
    /// When.
    pub at: SystemTime,
    /// The step.
    pub step: usize,
    /// Both colors' requests, errors and latency over the window the poll read.
    pub counts: WindowCounts,
}

/// Everything the report shows that the events say.
pub struct Facts {
    /// The first event's time.
    pub start: Option<SystemTime>,
    /// The last event's time.
    pub end: Option<SystemTime>,
    /// The route's id, as the events name it (the ALB: the listener's or rule's ARN).
    pub route: Option<String>,
    /// The deployment's id (none for a gated shift).
    pub deployment_id: Option<String>,
    /// Who started it, as recorded.
    pub started_by: Option<String>,
    /// Both colors' backends, named.
    pub backends: Option<Backends>,
    /// The new color.
    pub target: Color,
    /// The stable color.
    pub stable: Color,
    /// The steps, in order (a step resumed twice has two rows).
    pub steps: Vec<StepRow>,
    /// Every poll with counts.
    pub samples: Vec<Sample>,
    /// The chart's series.
    pub chart: ChartData,
}

/// The latest row of `step`.
fn row(f: &mut Facts, step: usize) -> Option<&mut StepRow> {
    f.steps.iter_mut().rev().find(|r| r.step == step)
}

/// The rate in percent of `errors` in `requests`, when there were requests.
fn percent(errors: f64, requests: f64) -> Option<f64> {
    (requests > 0.0).then(|| errors / requests * 100.0)
}

/// Gathers the facts of a run from its events.
pub fn gather(spec: &DeploySpec, events: &[(SystemTime, Event)]) -> Facts {
    let target = events
        .iter()
        .find_map(|(_, e)| match e {
            Event::DeploymentStarted { target, .. } => Some(*target),
            _ => None,
        })
        .unwrap_or(spec.plan.target);
    let t0 = events.first().map(|(t, _)| *t);
    let at = |t: SystemTime| t0.map(|t0| since(t0, t)).unwrap_or(0.0);
    let mut f = Facts {
        start: t0,
        end: events.last().map(|(t, _)| *t),
        route: None,
        deployment_id: None,
        started_by: None,
        backends: None,
        target,
        stable: target.other(),
        steps: Vec::new(),
        samples: Vec::new(),
        chart: ChartData {
            color: target.to_string(),
            stable_color: target.other().to_string(),
            span: events.last().map(|(t, _)| at(*t)).unwrap_or(0.0),
            share: Vec::new(),
            error_rate: Series::default(),
            stable_error_rate: Series::default(),
            max_error_rate: spec.gates.max_error_rate * 100.0,
            latency: Series::default(),
            stable_latency: Series::default(),
            max_latency: spec.gates.max_latency.as_secs_f64(),
            latency_statistic: spec.gates.latency_statistic.to_string(),
            requests: Series::default(),
            stable_requests: Series::default(),
            markers: Vec::new(),
        },
    };
    let mut current: Option<usize> = None;
    for (t, e) in events {
        let x = at(*t);
        match e {
            Event::DeploymentStarted {
                deployment_id,
                started_by,
                route,
                stable,
                split,
                backends,
                ..
            } => {
                f.route = Some(route.clone());
                f.deployment_id.clone_from(deployment_id);
                f.started_by.clone_from(started_by);
                f.backends = Some(backends.clone());
                f.stable = *stable;
                f.chart.stable_color = stable.to_string();
                f.chart.share.push((x, share_of(target, split)));
            }
            Event::StepStarted { step, percent, .. } => {
                current = Some(*step);
                f.steps.push(StepRow {
                    step: *step,
                    percent: *percent,
                    started: Some(*t),
                    ..StepRow::default()
                });
            }
            Event::WeightsApplied { step, split } => {
                f.chart.share.push((x, share_of(target, split)));
                if let Some(r) = row(&mut f, *step) {
                    r.applied = Some(*t);
                    r.split = Some(*split);
                }
                f.chart.markers.push(Marker {
                    t: x,
                    label: format!("step {step}: {}%", share_of(target, split)),
                    alarm: false,
                });
            }
            Event::DriftAdopted { step, found, .. } => {
                f.chart.share.push((x, share_of(target, found)));
                if let Some(r) = row(&mut f, *step) {
                    r.split = Some(*found);
                }
            }
            Event::GateEvaluated {
                step,
                results,
                judgements,
                step_seconds,
                counts,
                decision,
                ..
            } => {
                poll(&mut f, x, results, counts.as_ref());
                if let Some(c) = counts {
                    f.samples.push(Sample {
                        t: x,
                        at: *t,
                        step: *step,
                        counts: c.clone(),
                    });
                }
                if let Some(r) = row(&mut f, *step) {
                    r.polls += 1;
                    r.expected = Some(*step_seconds).filter(|s| *s > 0.0);
                    r.last = Some(Poll {
                        at: *t,
                        results: results.clone(),
                        judgements: judgements.clone(),
                        decision: decision.clone(),
                    });
                }
            }
            Event::StepPassed { step, .. } => {
                if let Some(r) = row(&mut f, *step) {
                    r.end = Some(("passed", *t));
                }
            }
            Event::RollingBack { .. } => {
                if let Some(r) = current.and_then(|s| row(&mut f, s)) {
                    r.end = Some(("failed", *t));
                }
                f.chart.markers.push(Marker {
                    t: x,
                    label: "failed: rolling back".into(),
                    alarm: true,
                });
            }
            Event::RolledBack { split, .. } => {
                f.chart.share.push((x, share_of(target, split)));
            }
            Event::Interrupted { split, step, .. } => {
                f.chart.share.push((x, share_of(target, split)));
                if let Some(r) = row(&mut f, *step) {
                    r.end.get_or_insert(("interrupted", *t));
                }
                f.chart.markers.push(Marker {
                    t: x,
                    label: "interrupted".into(),
                    alarm: true,
                });
            }
            Event::AwaitingPromotion { .. } => {
                if let Some(r) = current.and_then(|s| row(&mut f, s)) {
                    r.end.get_or_insert(("awaiting promotion", *t));
                }
            }
            _ => {}
        }
    }
    f
}

/// One poll's points on the chart: both colors' 5XX rate, latency and requests. The rates and
/// latencies are the counts the poll read (the same for both colors, whichever judge ran); without
/// counts (a poll before the first period after the write), the new color's gate values, and a break
/// in each line. A point is marked failed when its gate failed.
fn poll(f: &mut Facts, x: f64, results: &[GateResult], counts: Option<&WindowCounts>) {
    let gate = |k: GateKind| results.iter().find(|r| r.gate == k);
    let failed = |k: GateKind| gate(k).is_some_and(|r| r.verdict == Verdict::Fail);
    let error_failed = failed(GateKind::ErrorRate) || failed(GateKind::ErrorRateIncrease);
    let latency_failed = failed(GateKind::Latency) || failed(GateKind::LatencyIncrease);
    let c = &mut f.chart;
    match counts {
        Some(n) => {
            c.error_rate
                .push(x, percent(n.new_errors, n.new_requests), error_failed);
            c.stable_error_rate
                .push(x, percent(n.stable_errors, n.stable_requests), false);
            let latency = n
                .new_latency_seconds
                .or_else(|| gate(GateKind::Latency).and_then(|r| r.value));
            c.latency.push(x, latency, latency_failed);
            c.stable_latency.push(x, n.stable_latency_seconds, false);
            c.requests.push(x, Some(n.new_requests), false);
            c.stable_requests.push(x, Some(n.stable_requests), false);
        }
        None => {
            let value = |k: GateKind, scale: f64| gate(k).and_then(|r| r.value).map(|v| v * scale);
            c.error_rate
                .push(x, value(GateKind::ErrorRate, 100.0), error_failed);
            c.latency
                .push(x, value(GateKind::Latency, 1.0), latency_failed);
            for s in [
                &mut c.stable_error_rate,
                &mut c.stable_latency,
                &mut c.requests,
                &mut c.stable_requests,
            ] {
                s.push(x, None, false);
            }
        }
    }
}
