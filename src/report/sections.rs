//! The report's tables: the timeline, each step's gates, every poll's counts and the events.

use std::fmt::Write;
use std::time::SystemTime;

use albflip::engine::DeploySpec;
use albflip::events::Event;
use albflip::plan::GateResult;

use super::chart::{seconds_label, trim};
use super::facts::{since, Facts, Poll, StepRow};
use super::text::{self, count, gate_bound, gate_name, gate_value, rate, verdict_cell};
use super::{clock, duration, escape};

/// `14:02:03 (+4.0s)`, or `—`.
fn offset(f: &Facts, t: Option<SystemTime>) -> String {
    match (f.start, t) {
        (Some(t0), Some(t)) => format!("{} (+{:.1}s)", clock(t), since(t0, t)),
        _ => "—".into(),
    }
}

/// How long a step ran: from its start to its end, or to the run's last event when it did not end.
fn time_in_step(f: &Facts, r: &StepRow) -> String {
    match (r.started, r.end.map(|e| e.1).or(f.end)) {
        (Some(a), Some(b)) => duration(since(a, b)),
        _ => "—".into(),
    }
}

/// `passed`, `failed`… with its CSS class.
fn step_result(f: &Facts, r: &StepRow) -> (&'static str, String) {
    match r.end {
        Some((what, t)) => (
            match what {
                "passed" => "pass",
                "failed" | "interrupted" => "fail",
                _ => "",
            },
            format!("{what} at {}", offset(f, Some(t))),
        ),
        None => ("fail", "did not finish".into()),
    }
}

/// The timeline: one row per step.
pub fn timeline(h: &mut String, f: &Facts) {
    h.push_str("<h2>Timeline</h2>\n<table id=\"timeline\"><tr><th>Step</th><th>Share</th><th>Started</th><th>Weights applied</th><th>Expected length</th><th>Time in step</th><th>Polls</th><th>Result</th></tr>\n");
    if f.steps.is_empty() {
        h.push_str("<tr><td colspan=\"8\" class=\"muted\">no step started</td></tr>\n");
    }
    for r in &f.steps {
        let (end_class, end) = step_result(f, r);
        let _ = writeln!(
            h,
            "<tr><td class=\"num\">{}</td><td class=\"num\">{}%</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"{end_class}\">{}</td></tr>",
            r.step,
            r.percent,
            offset(f, r.started),
            offset(f, r.applied),
            r.expected
                .map_or_else(|| "–".to_string(), |s| format!("~{}", duration(s.round()))),
            time_in_step(f, r),
            r.polls,
            escape(&end)
        );
    }
    h.push_str("</table>\n");
}

/// A gate's evidence: the judge's numbers when it judged the gate, the gate's own sentence otherwise.
fn evidence(f: &Facts, poll: &Poll, r: &GateResult) -> String {
    match poll.judgement(&r.gate) {
        Some(j) => format!(
            "{} <span class=\"muted\">({})</span>",
            escape(&text::evidence(j, f.target, f.stable)),
            escape(&j.message)
        ),
        None => escape(&r.message),
    }
}

/// Each step: its shares, how long it ran and every gate of the poll that decided it (value,
/// threshold, verdict, evidence).
pub fn steps(h: &mut String, spec: &DeploySpec, f: &Facts) {
    let statistic = &spec.gates.latency_statistic;
    h.push_str("<h2>Steps and their gates</h2>\n<p class=\"muted\">Each step's gates as its last poll (the one that decided it) read them.</p>\n<table id=\"steps\"><tr><th>Step</th><th>Shares</th><th>Time in step</th><th>Gate</th><th>Value</th><th>Threshold</th><th>Verdict</th><th>Evidence</th></tr>\n");
    if f.steps.is_empty() {
        h.push_str("<tr><td colspan=\"8\" class=\"muted\">no step started</td></tr>\n");
    }
    for r in &f.steps {
        let shares = r.split.as_ref().map_or_else(
            || format!("{} {}% (not applied)", f.target, r.percent),
            text::split,
        );
        let results = r.last.as_ref().map(|p| (p, &p.results[..]));
        let rows = results.map_or(1, |(_, rs)| rs.len().max(1));
        let (end_class, end) = step_result(f, r);
        let _ = write!(
            h,
            "<tr class=\"step\"><td class=\"num\" rowspan=\"{rows}\">{}</td><td rowspan=\"{rows}\">{}</td><td rowspan=\"{rows}\">{}<br><span class=\"{end_class}\">{}</span></td>",
            r.step,
            escape(&shares),
            time_in_step(f, r),
            escape(&end)
        );
        match results {
            None => h.push_str("<td colspan=\"5\" class=\"muted\">the gates were never polled in this step</td></tr>\n"),
            Some((_, [])) => h.push_str("<td colspan=\"5\" class=\"muted\">no gate was read</td></tr>\n"),
            Some((poll, results)) => {
                for (i, g) in results.iter().enumerate() {
                    if i > 0 {
                        h.push_str("<tr>");
                    }
                    let (vclass, vtext) = verdict_cell(g.verdict);
                    // Under the sequential judge a gate's value is its evidence, not a rate.
                    let (value, bound) = match poll.judgement(&g.gate) {
                        Some(j) => (text::judged_value(j), text::judged_bound(j)),
                        None => (
                            g.value
                                .map(|v| gate_value(&g.gate, v))
                                .unwrap_or_else(|| "—".into()),
                            gate_bound(&g.gate, g.threshold),
                        ),
                    };
                    let _ = writeln!(
                        h,
                        "<td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"{vclass}\">{vtext}</td><td>{}</td></tr>",
                        escape(&gate_name(&g.gate, statistic)),
                        escape(&value),
                        escape(&bound),
                        evidence(f, poll, g)
                    );
                }
            }
        }
    }
    h.push_str("</table>\n");
}

/// The time of day of an RFC 3339 timestamp: `14:02:03`.
fn time_of(rfc3339: &str) -> &str {
    rfc3339.get(11..19).unwrap_or(rfc3339)
}

/// Every poll's counts of both colors: requests, errors, 5XX rate and latency over its window.
pub fn samples(h: &mut String, spec: &DeploySpec, f: &Facts) {
    let (new, stable) = (f.target, f.stable);
    let _ = writeln!(
        h,
        "<h2>Samples</h2>\n<p class=\"muted\">Each poll's numbers for both colors over the window it read (latency: {} of the window's worst period).</p>\n<details id=\"samples-details\"{}><summary>{} polls with counts</summary>\n<table id=\"samples\"><tr><th rowspan=\"2\">Time</th><th rowspan=\"2\">Step</th><th rowspan=\"2\">Window (UTC)</th><th colspan=\"4\">{new} (new)</th><th colspan=\"4\">{stable} (stable)</th></tr><tr><th>Requests</th><th>5XX</th><th>5XX rate</th><th>Latency</th><th>Requests</th><th>5XX</th><th>5XX rate</th><th>Latency</th></tr>",
        escape(&spec.gates.latency_statistic.to_string()),
        if f.samples.len() <= 40 { " open" } else { "" },
        f.samples.len()
    );
    if f.samples.is_empty() {
        h.push_str("<tr><td colspan=\"11\" class=\"muted\">no poll read any counts</td></tr>\n");
    }
    let latency = |v: Option<f64>| v.map_or_else(|| "–".to_string(), seconds_label);
    for s in &f.samples {
        let c = &s.counts;
        let _ = writeln!(
            h,
            "<tr><td>+{}s</td><td class=\"num\">{}</td><td>{}–{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            trim((s.t * 10.0).round() / 10.0),
            s.step,
            escape(time_of(&c.window_start)),
            escape(time_of(&c.window_end)),
            count(c.new_requests),
            count(c.new_errors),
            rate(c.new_errors, c.new_requests),
            latency(c.new_latency_seconds),
            count(c.stable_requests),
            count(c.stable_errors),
            rate(c.stable_errors, c.stable_requests),
            latency(c.stable_latency_seconds),
        );
    }
    h.push_str("</table></details>\n");
}

/// Every event, as a sentence.
pub fn events(
    h: &mut String,
    spec: &DeploySpec,
    f: &Facts,
    route: &str,
    events: &[(SystemTime, Event)],
) {
    let words = text::Words {
        route,
        statistic: &spec.gates.latency_statistic,
    };
    h.push_str("<h2>Events</h2>\n<table id=\"events\"><tr><th>Time (UTC)</th><th>Since start</th><th>Event</th></tr>\n");
    for (t, e) in events {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"num\">+{:.1}s</td><td>{}</td></tr>",
            clock(*t),
            f.start.map(|t0| since(t0, *t)).unwrap_or(0.0),
            escape(&text::event(e, &words))
        );
    }
    h.push_str("</table>\n");
}
