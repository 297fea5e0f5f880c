//! `--report FILE.html`: a self-contained HTML report of a run (no external CSS, JS, fonts or images):
//! header and outcome, a timeline of the steps, a chart of the new color's share, 5XX rate and latency
//! against the thresholds (`chart.rs`), the last verdict of each gate, and every event.

mod chart;

use std::fmt::Write;
use std::time::SystemTime;

use albflip::engine::{DeploySpec, Outcome};
use albflip::events::{Event, SplitView};
use albflip::model::Color;
use albflip::plan::{GateKind, GateResult, Verdict};
use albflip::Error;

use chart::{ChartData, Marker, Series};

/// Escapes text for HTML and SVG content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `2024-05-01T14:02:03Z`.
fn timestamp(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// `14:02:03`.
fn clock(t: SystemTime) -> String {
    let full = timestamp(t);
    full.get(11..19).unwrap_or(&full).to_string()
}

fn since(t0: SystemTime, t: SystemTime) -> f64 {
    t.duration_since(t0).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

fn share_of(color: Color, s: &SplitView) -> f64 {
    f64::from(match color {
        Color::Blue => s.blue,
        Color::Green => s.green,
    })
}

fn split_text(s: &SplitView) -> String {
    format!("blue {}% / green {}%", s.blue, s.green)
}

/// One row of the timeline.
#[derive(Debug, Default, Clone, PartialEq)]
struct StepRow {
    step: usize,
    percent: u8,
    started: Option<SystemTime>,
    applied: Option<SystemTime>,
    polls: usize,
    /// The step's expected length in seconds (bake + lag + one period), from its polls.
    expected: Option<f64>,
    /// `passed`, `failed`, `interrupted`, … and when.
    end: Option<(&'static str, SystemTime)>,
}

/// What the events say, gathered for the report.
struct Facts {
    start: Option<SystemTime>,
    end: Option<SystemTime>,
    route: Option<String>,
    target: Color,
    stable: Color,
    steps: Vec<StepRow>,
    last_poll: Option<(usize, SystemTime, Vec<GateResult>)>,
    chart: ChartData,
}

/// The latest row of `step`.
fn row(f: &mut Facts, step: usize) -> Option<&mut StepRow> {
    f.steps.iter_mut().rev().find(|r| r.step == step)
}

fn gather(spec: &DeploySpec, events: &[(SystemTime, Event)]) -> Facts {
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
        target,
        stable: target.other(),
        steps: Vec::new(),
        last_poll: None,
        chart: ChartData {
            color: target.to_string(),
            span: events.last().map(|(t, _)| at(*t)).unwrap_or(0.0),
            share: Vec::new(),
            error_rate: Series::default(),
            max_error_rate: spec.gates.max_error_rate * 100.0,
            latency: Series::default(),
            max_latency: spec.gates.max_latency.as_secs_f64(),
            latency_statistic: spec.gates.latency_statistic.to_string(),
            markers: Vec::new(),
        },
    };
    let mut current: Option<usize> = None;
    for (t, e) in events {
        let x = at(*t);
        match e {
            Event::DeploymentStarted {
                route,
                stable,
                split,
                ..
            } => {
                f.route = Some(route.clone());
                f.stable = *stable;
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
                }
                f.chart.markers.push(Marker {
                    t: x,
                    label: format!("step {step}: {}%", share_of(target, split)),
                    alarm: false,
                });
            }
            Event::DriftAdopted { found, .. } => {
                f.chart.share.push((x, share_of(target, found)));
            }
            Event::GateEvaluated {
                step,
                results,
                step_seconds,
                ..
            } => {
                let find = |k: GateKind| results.iter().find(|r| r.gate == k);
                let mut push =
                    |s: fn(&mut ChartData) -> &mut Series, r: Option<&GateResult>, k: f64| {
                        let value = r.and_then(|r| r.value).map(|v| v * k);
                        let failed = r.is_some_and(|r| r.verdict == Verdict::Fail);
                        s(&mut f.chart).push(x, value, failed);
                    };
                push(|c| &mut c.error_rate, find(GateKind::ErrorRate), 100.0);
                push(|c| &mut c.latency, find(GateKind::Latency), 1.0);
                if let Some(r) = row(&mut f, *step) {
                    r.polls += 1;
                    r.expected = Some(*step_seconds).filter(|s| *s > 0.0);
                }
                f.last_poll = Some((*step, *t, results.clone()));
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
                    label: "gate failed: rolling back".into(),
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

/// The outcome's banner: the text (with `id="verdict"`), a CSS class, a sentence and the exit code.
fn verdict(result: &Result<Outcome, Error>) -> (&'static str, &'static str, String, u8) {
    match result {
        Ok(Outcome::Completed { stable }) => (
            "COMPLETED",
            "ok",
            format!("all steps passed; {stable} is now stable"),
            crate::exit::SUCCESS,
        ),
        Ok(Outcome::AwaitingPromotion { target, percent }) => (
            "AWAITING PROMOTION",
            "ok",
            format!("the canary passed with {percent}% on {target}; `albflip promote` finishes it, `albflip rollback` abandons it"),
            crate::exit::SUCCESS,
        ),
        Ok(Outcome::Shifted { split, stable }) => (
            "SHIFTED",
            "ok",
            format!("the shift passed its bake: {}; stable {stable}", split_text(split)),
            crate::exit::SUCCESS,
        ),
        Ok(Outcome::RolledBack {
            failure,
            to,
            step,
            percent,
        }) => (
            "ROLLED BACK",
            "fail",
            format!(
                "rolled back to {to} at step {step} ({percent}%): {}",
                crate::naming::failure(failure)
            ),
            crate::exit::GATE_ROLLED_BACK,
        ),
        Ok(Outcome::Interrupted {
            rolled_back,
            split,
            step,
        }) => (
            "INTERRUPTED",
            "warn",
            format!(
                "interrupted at step {step}; {}: {}",
                if *rolled_back {
                    "traffic put back on the stable color"
                } else {
                    "weights held where they were"
                },
                split_text(split)
            ),
            crate::exit::INTERRUPTED,
        ),
        Ok(other) => ("FINISHED", "ok", format!("{other:?}"), crate::exit::SUCCESS),
        Err(e) => {
            let changed = if e.may_have_changed_aws() {
                " AWS may have been changed: check `albflip status`."
            } else {
                " Nothing was changed."
            };
            ("ERROR", "fail", format!("{e}.{changed}"), crate::exit::for_error(e, false))
        }
    }
}

fn exit_meaning(code: u8) -> &'static str {
    match code {
        crate::exit::SUCCESS => "success",
        crate::exit::USAGE => "bad input; nothing changed",
        crate::exit::GATE_ROLLED_BACK => "a gate failed and traffic was rolled back",
        crate::exit::CONFLICT => "conflict: another deployment, a lock or drift is in the way",
        crate::exit::ROLLBACK_FAILED => "THE ROLLBACK DID NOT COMPLETE: a human must act",
        crate::exit::INTERRUPTED => "interrupted by a signal",
        _ => "runtime error",
    }
}

fn gate_name(g: &GateKind, spec: &DeploySpec) -> String {
    match g {
        GateKind::ErrorRate => "5XX rate".into(),
        GateKind::Latency => format!("latency ({})", spec.gates.latency_statistic),
        GateKind::HealthyHosts => "healthy hosts".into(),
        GateKind::UnhealthyHosts => "unhealthy hosts".into(),
        GateKind::Alarm(name) => format!("alarm {name}"),
        GateKind::ErrorRateIncrease => "5XX rate increase over stable".into(),
        GateKind::LatencyIncrease => {
            format!("latency ({}) against stable", spec.gates.latency_statistic)
        }
        GateKind::LoadBalancerErrors => "load balancer's own 5XX rise since the step".into(),
        other => format!("{other:?}"),
    }
}

/// A gate's value or threshold in its unit.
fn gate_value(g: &GateKind, v: f64) -> String {
    match g {
        GateKind::ErrorRate => format!("{:.2}%", v * 100.0),
        GateKind::ErrorRateIncrease | GateKind::LoadBalancerErrors => {
            format!("{:+.2} pp", v * 100.0)
        }
        GateKind::Latency => chart::seconds_label(v),
        GateKind::LatencyIncrease => format!("{}x", chart::trim(v)),
        _ => chart::trim(v),
    }
}

fn gate_bound(g: &GateKind, v: f64) -> String {
    match g {
        GateKind::HealthyHosts => format!("≥ {}", gate_value(g, v)),
        GateKind::Alarm(_) => "not in ALARM".into(),
        GateKind::ErrorRateIncrease | GateKind::LoadBalancerErrors => {
            format!("≤ {:.2} pp", v * 100.0)
        }
        _ => format!("≤ {}", gate_value(g, v)),
    }
}

fn verdict_cell(v: Verdict) -> (&'static str, &'static str) {
    match v {
        Verdict::Pass => ("pass", "PASS"),
        Verdict::Fail => ("fail", "FAIL"),
        Verdict::NoData => ("nodata", "NO DATA"),
        Verdict::Skipped => ("skipped", "SKIPPED"),
        _ => ("skipped", "?"),
    }
}

fn event_text(target: Color, e: &Event) -> String {
    match e {
        Event::DeploymentStarted {
            strategy, split, ..
        } => {
            format!(
                "deployment started ({strategy}); live {}",
                split_text(split)
            )
        }
        Event::StepStarted { step, of, percent } => {
            format!("step {step}/{of}: moving to {percent}%")
        }
        Event::WeightsApplied { step, split } => {
            format!(
                "step {step}: weights applied and verified: {}",
                split_text(split)
            )
        }
        Event::GateEvaluated {
            step,
            elapsed_seconds,
            bake_seconds,
            covered_seconds,
            step_seconds,
            results,
            decision,
            ..
        } => {
            let first = results
                .iter()
                .find(|r| r.verdict == Verdict::Fail)
                .or_else(|| results.first())
                .map(|r| r.message.as_str())
                .unwrap_or("no gates");
            format!("step {step}: gates at {elapsed_seconds:.0}s (bake {covered_seconds:.0}s/{bake_seconds:.0}s published, step ~{step_seconds:.0}s): {first} → {decision}")
        }
        Event::MetricsUnavailable { step, error } => {
            format!("step {step}: metrics unavailable: {error}")
        }
        Event::DriftAdopted {
            step,
            expected,
            found,
        } => format!(
            "step {step}: drift adopted: expected {}, found {}",
            split_text(expected),
            split_text(found)
        ),
        Event::StepPassed { step, percent } => format!("step {step} ({percent}%) passed"),
        Event::RollingBack { failure } => {
            format!(
                "GATE FAILED: {}; rolling back",
                crate::naming::failure(failure)
            )
        }
        Event::RolledBack { to, split } => {
            format!("rolled back: all traffic on {to} ({})", split_text(split))
        }
        Event::Completed { stable } => format!("completed: {stable} is now stable"),
        Event::Interrupted {
            rolled_back, split, ..
        } => format!(
            "interrupted; {} ({})",
            if *rolled_back {
                "rolled back"
            } else {
                "weights held"
            },
            split_text(split)
        ),
        Event::AwaitingPromotion { percent, .. } => {
            format!("awaiting promotion with {percent}% on {target}")
        }
        other => format!("{other:?}"),
    }
}

const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#111827;max-width:1100px;margin:24px auto;padding:0 16px}h1{font-size:22px;margin:0 0 12px}h2{font-size:17px;margin:28px 0 8px}table{border-collapse:collapse;width:100%}th,td{border:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f4f6}td.num{text-align:right;font-variant-numeric:tabular-nums}dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}dt{color:#4b5563}dd{margin:0;word-break:break-all}.banner{border-radius:6px;padding:12px 16px;margin:16px 0;border:2px solid}.banner-ok{background:#f0fdf4;border-color:#16a34a}.banner-fail{background:#fef2f2;border-color:#dc2626}.banner-warn{background:#fffbeb;border-color:#d97706}#verdict{font-size:24px;font-weight:bold;letter-spacing:.04em}.banner-ok #verdict{color:#15803d}.banner-fail #verdict{color:#b91c1c}.banner-warn #verdict{color:#b45309}.pass{color:#15803d;font-weight:bold}.fail{color:#b91c1c;font-weight:bold}.nodata,.skipped{color:#6b7280;font-weight:bold}tr.row-fail td{background:#fef2f2}.muted{color:#6b7280}.legend span{margin-right:16px}.swatch{display:inline-block;width:18px;height:3px;vertical-align:middle;margin-right:4px}";

/// Renders the report of a run from its events and result.
pub fn render(
    route: &str,
    spec: &DeploySpec,
    events: &[(SystemTime, Event)],
    result: &Result<Outcome, Error>,
) -> String {
    let f = gather(spec, events);
    let (word, class, sentence, code) = verdict(result);
    let when = |t: Option<SystemTime>| t.map(timestamp).unwrap_or_else(|| "—".into());
    let offset = |t: Option<SystemTime>| match (f.start, t) {
        (Some(t0), Some(t)) => format!("{} (+{:.1}s)", clock(t), since(t0, t)),
        _ => "—".into(),
    };
    let route = f.route.clone().unwrap_or_else(|| route.to_string());
    let duration = match (f.start, f.end) {
        (Some(a), Some(b)) => format!(" ({:.1}s)", since(a, b)),
        _ => String::new(),
    };
    let g = &spec.gates;
    let mut h = String::new();
    let _ = writeln!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>albflip report: {word}: {}</title><style>{STYLE}</style></head><body>",
        escape(&route)
    );
    let _ = writeln!(
        h,
        "<h1>albflip deployment report</h1>\n<dl><dt>Route</dt><dd>{}</dd><dt>Strategy</dt><dd>{}</dd><dt>Colors</dt><dd>target <b>{}</b>, stable <b>{}</b></dd><dt>Started</dt><dd>{}</dd><dt>Ended</dt><dd>{}{duration}</dd><dt>Gates</dt><dd>5XX rate ≤ {}% (judged from {} requests), latency {} ≤ {}, healthy hosts ≥ {}, unhealthy hosts ≤ {}, 5XX increase over stable ≤ {} pp{}{}</dd><dt>Bake</dt><dd>{} per step, polled every {} over {} ending {} ago</dd></dl>",
        escape(&route),
        escape(&spec.strategy),
        f.target,
        f.stable,
        when(f.start),
        when(f.end),
        chart::trim(g.max_error_rate * 100.0),
        g.min_requests,
        escape(&g.latency_statistic.to_string()),
        chart::seconds_label(g.max_latency.as_secs_f64()),
        g.min_healthy_hosts,
        g.max_unhealthy_hosts,
        chart::trim(g.max_error_rate_increase * 100.0),
        g.max_latency_increase.map_or(String::new(), |r| format!(
            ", latency ≤ {}x stable's",
            chart::trim(r)
        )),
        if g.alarms.is_empty() {
            String::new()
        } else {
            format!(", alarms not in ALARM: {}", escape(&g.alarms.join(", ")))
        },
        humantime::format_duration(spec.policy.bake),
        humantime::format_duration(spec.policy.poll_interval),
        humantime::format_duration(spec.window.window),
        humantime::format_duration(spec.window.lag),
    );
    if let Some(b) = albflip::events::blast_radius(events.iter().map(|(_, e)| e)) {
        let _ = writeln!(
            h,
            "<dl id=\"blast-radius\"><dt>Blast radius</dt><dd>{} failed requests on {} (of {} it served) over {:.0}s</dd></dl>",
            b.failed_requests, b.color, b.requests, b.seconds
        );
    }
    let _ = writeln!(
        h,
        "<div class=\"banner banner-{class}\"><div id=\"verdict\">{word}</div><div id=\"outcome\">{}</div><div class=\"muted\">exit code {code}: {}</div></div>",
        escape(&sentence),
        exit_meaning(code)
    );

    h.push_str("<h2>Timeline</h2>\n<table id=\"timeline\"><tr><th>Step</th><th>Share</th><th>Started</th><th>Weights applied</th><th>Expected length</th><th>Polls</th><th>Result</th></tr>\n");
    if f.steps.is_empty() {
        h.push_str("<tr><td colspan=\"7\" class=\"muted\">no step started</td></tr>\n");
    }
    for r in &f.steps {
        let (end_class, end) = match r.end {
            Some((what, t)) => (
                match what {
                    "passed" => "pass",
                    "failed" | "interrupted" => "fail",
                    _ => "",
                },
                format!("{what} at {}", offset(Some(t))),
            ),
            None => ("fail", "did not finish".into()),
        };
        let _ = writeln!(
            h,
            "<tr><td class=\"num\">{}</td><td class=\"num\">{}%</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"{end_class}\">{}</td></tr>",
            r.step,
            r.percent,
            offset(r.started),
            offset(r.applied),
            r.expected.map_or_else(
                || "–".to_string(),
                |s| format!("~{}", humantime::format_duration(std::time::Duration::from_secs_f64(s.round())))
            ),
            r.polls,
            escape(&end)
        );
    }
    h.push_str("</table>\n");

    let _ = writeln!(
        h,
        "<h2>Chart</h2>\n<p class=\"legend\"><span><i class=\"swatch\" style=\"background:{}\"></i>{} share</span><span><i class=\"swatch\" style=\"background:#ea580c\"></i>5XX rate</span><span><i class=\"swatch\" style=\"background:#7c3aed\"></i>latency</span><span><i class=\"swatch\" style=\"background:repeating-linear-gradient(90deg,#b91c1c 0 6px,transparent 6px 10px)\"></i>threshold</span><span class=\"pass\">● pass</span><span class=\"fail\">● fail</span></p>\n{}",
        if f.target == Color::Blue { "#2563eb" } else { "#16a34a" },
        f.target,
        chart::svg(&f.chart)
    );

    h.push_str("<h2>Gates</h2>\n");
    match &f.last_poll {
        None => h.push_str("<p class=\"muted\">the gates were never polled</p>\n"),
        Some((step, t, results)) => {
            let _ = writeln!(
                h,
                "<p class=\"muted\">last poll: step {step} at {}</p>",
                offset(Some(*t))
            );
            h.push_str("<table id=\"gates\"><tr><th>Gate</th><th>Value</th><th>Threshold</th><th>Verdict</th><th>Message</th></tr>\n");
            for r in results {
                let (vclass, vtext) = verdict_cell(r.verdict);
                let _ = writeln!(
                    h,
                    "<tr class=\"row-{vclass}\"><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"{vclass}\">{vtext}</td><td>{}</td></tr>",
                    escape(&gate_name(&r.gate, spec)),
                    r.value.map(|v| gate_value(&r.gate, v)).unwrap_or_else(|| "—".into()),
                    escape(&gate_bound(&r.gate, r.threshold)),
                    escape(&r.message)
                );
            }
            h.push_str("</table>\n");
        }
    }

    h.push_str("<h2>Events</h2>\n<table id=\"events\"><tr><th>Time (UTC)</th><th>Since start</th><th>Event</th></tr>\n");
    for (t, e) in events {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"num\">+{:.1}s</td><td>{}</td></tr>",
            clock(*t),
            f.start.map(|t0| since(t0, *t)).unwrap_or(0.0),
            escape(&event_text(f.target, e))
        );
    }
    h.push_str("</table>\n<p class=\"muted\">generated by albflip</p>\n</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use albflip::aws::resolve::Target;
    use albflip::plan::decide::Failure;
    use albflip::plan::{BakePolicy, GateThresholds, Plan, Strategy};

    use super::*;

    fn spec() -> DeploySpec {
        DeploySpec {
            plan: Plan::new(&Strategy::Immediate, Color::Green, Duration::from_secs(4)),
            strategy: "gradual/10/25/50/75/100".into(),
            policy: BakePolicy::default(),
            gates: GateThresholds::default(),
            window: Default::default(),
            force: false,
            adopt_drift: false,
            ungated: false,
            take_over: false,
            min_healthy_hosts: 1,
            lifecycle: Default::default(),
        }
    }

    fn gate(kind: GateKind, verdict: Verdict, value: f64, threshold: f64, msg: &str) -> GateResult {
        GateResult {
            gate: kind,
            verdict,
            value: Some(value),
            threshold,
            message: msg.into(),
        }
    }

    fn split(blue: u8, green: u8) -> SplitView {
        SplitView { blue, green }
    }

    /// A run that rolls back at step 1: two polls, the second failing.
    fn rolled_back() -> (Vec<(SystemTime, Event)>, Result<Outcome, Error>) {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let at = |s: u64| t0 + Duration::from_secs(s);
        let failing = gate(
            GateKind::ErrorRate,
            Verdict::Fail,
            0.2,
            0.01,
            "green error rate 20.0% > 1.0% <script>",
        );
        let poll = |results: Vec<GateResult>, decision: &str| Event::GateEvaluated {
            counts: None,
            step: 1,
            elapsed_seconds: 1.0,
            bake_seconds: 4.0,
            covered_seconds: 1.0,
            step_seconds: 6.0,
            results,
            judgements: Vec::new(),
            decision: decision.into(),
        };
        let failure = Failure::Gate {
            result: failing.clone(),
            polls: 1,
        };
        let events = vec![
            (
                at(0),
                Event::DeploymentStarted {
                    deployment_id: Some("20261129T170000Z-00ab".into()),
                    started_by: Some("jenkins-shop-42".into()),
                    route: "arn:aws:elasticloadbalancing:us-east-1:123:listener/app/x/1/2".into(),
                    target: Color::Green,
                    stable: Color::Blue,
                    strategy: "gradual/10/25/50/75/100".into(),
                    steps: vec![10, 25, 50, 75, 100],
                    split: split(100, 0),
                },
            ),
            (
                at(0),
                Event::StepStarted {
                    step: 1,
                    of: 5,
                    percent: 10,
                },
            ),
            (
                at(1),
                Event::WeightsApplied {
                    step: 1,
                    split: split(90, 10),
                },
            ),
            (
                at(2),
                poll(
                    vec![
                        gate(GateKind::ErrorRate, Verdict::Pass, 0.0, 0.01, "ok"),
                        gate(GateKind::Latency, Verdict::Pass, 0.05, 1.0, "fast"),
                    ],
                    "continue",
                ),
            ),
            (
                at(3),
                poll(
                    vec![
                        failing,
                        gate(GateKind::Latency, Verdict::Pass, 0.05, 1.0, "fast"),
                    ],
                    "failed",
                ),
            ),
            (
                at(3),
                Event::RollingBack {
                    failure: failure.clone(),
                },
            ),
            (
                at(4),
                Event::RolledBack {
                    to: Color::Blue,
                    split: split(100, 0),
                },
            ),
        ];
        let outcome = Outcome::RolledBack {
            failure,
            to: Color::Blue,
            step: 1,
            percent: 10,
        };
        (events, Ok(outcome))
    }

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn the_facts_follow_the_events() {
        let (events, _) = rolled_back();
        let f = gather(&spec(), &events);
        assert_eq!(f.stable, Color::Blue);
        assert_eq!(f.chart.share, vec![(0.0, 0.0), (1.0, 10.0), (4.0, 0.0)]);
        assert_eq!(f.chart.error_rate.runs, vec![vec![(2.0, 0.0), (3.0, 20.0)]]);
        assert_eq!(f.chart.latency.marks.len(), 2);
        assert_eq!(f.chart.max_error_rate, 1.0);
        assert_eq!(f.chart.max_latency, 1.0);
        assert_eq!(f.chart.span, 4.0);
        assert_eq!(f.steps.len(), 1);
        assert_eq!(f.steps[0].polls, 2);
        assert_eq!(f.steps[0].expected, Some(6.0), "bake + lag + one period");
        assert_eq!(f.steps[0].end.map(|e| e.0), Some("failed"));
        assert_eq!(f.chart.markers.iter().filter(|m| m.alarm).count(), 1);
    }

    #[test]
    fn a_rolled_back_report_has_the_verdict_chart_gates_and_escaped_messages() {
        let (events, result) = rolled_back();
        let target = Target::from_convention("prod", "shop", 80)
            .route
            .to_string();
        let html = render(&target, &spec(), &events, &result);
        assert!(html.starts_with("<!doctype html>"));
        assert!(
            html.contains("<div id=\"verdict\">ROLLED BACK</div>"),
            "{html}"
        );
        assert!(html.contains("exit code 3"), "{html}");
        assert!(html.contains("<svg id=\"chart\""));
        assert!(html.contains("listener/app/x/1/2"));
        assert!(html.contains("<td class=\"fail\">FAIL</td>"), "{html}");
        assert!(
            html.contains("<th>Expected length</th>") && html.contains("<td>~6s</td>"),
            "the timeline shows each step's expected length: {html}"
        );
        assert!(
            html.contains("20.00%") && html.contains("≤ 1.00%"),
            "{html}"
        );
        assert!(
            html.contains("&lt;script&gt;") && !html.contains("<script"),
            "{html}"
        );
        // Self-contained: nothing is fetched.
        for external in ["http://", "https://", "src=", "<link", "@import", "url("] {
            let outside_svg_ns = html.replace("http://www.w3.org/2000/svg", "");
            assert!(!outside_svg_ns.contains(external), "{external} in {html}");
        }
    }

    #[test]
    fn outcomes_and_errors_have_their_own_banner() {
        let target = Target::from_convention("prod", "shop", 80)
            .route
            .to_string();
        let ok = Ok(Outcome::Completed {
            stable: Color::Green,
        });
        let html = render(&target, &spec(), &[], &ok);
        assert!(html.contains("<div id=\"verdict\">COMPLETED</div>"));
        assert!(html.contains("listener on port 80 of load balancer prod-shop-alb"));
        assert!(html.contains("the gates were never polled"));
        let err: Result<Outcome, Error> = Err(Error::NotFound {
            what: "load balancer <x>".into(),
            fix: "check the name".into(),
        });
        let html = render(&target, &spec(), &[], &err);
        assert!(html.contains("<div id=\"verdict\">ERROR</div>"));
        assert!(html.contains("load balancer &lt;x&gt; not found"), "{html}");
        assert!(html.contains("exit code 2"), "{html}");
        let canary = Ok(Outcome::AwaitingPromotion {
            target: Color::Green,
            percent: 10,
        });
        assert!(render(&target, &spec(), &[], &canary).contains(">AWAITING PROMOTION<"));
    }
}
