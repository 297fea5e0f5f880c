//! The report's words: each event as a sentence, each gate's name, value, threshold and evidence. No
//! debug formatting: an event kind this module does not know yet is shown as its JSON.

use albflip::events::{Event, SplitView};
use albflip::model::Color;
use albflip::plan::judge::Judgement;
use albflip::plan::{GateKind, GateResult, LatencyStatistic, Verdict};

use super::chart::{seconds_label, trim};
use super::names::without_arns;

/// `blue 90% / green 10%`.
pub fn split(s: &SplitView) -> String {
    format!("blue {}% / green {}%", s.blue, s.green)
}

/// A count of requests for people: `1200`, `12.5` (CloudWatch sums can be fractional over partial
/// periods).
pub fn count(v: f64) -> String {
    trim(v)
}

/// A rate in percent, two decimals: `1.25%`; `–` without requests.
pub fn rate(errors: f64, requests: f64) -> String {
    if requests > 0.0 {
        format!("{:.2}%", errors / requests * 100.0)
    } else {
        "–".into()
    }
}

/// A gate's name for people.
pub fn gate_name(g: &GateKind, statistic: &LatencyStatistic) -> String {
    match g {
        GateKind::ErrorRate => "5XX rate".into(),
        GateKind::Latency => format!("latency ({statistic})"),
        GateKind::HealthyHosts => "healthy hosts".into(),
        GateKind::UnhealthyHosts => "unhealthy hosts".into(),
        GateKind::Alarm(name) => format!("alarm {name}"),
        GateKind::ErrorRateIncrease => "5XX rate increase over stable".into(),
        GateKind::LatencyIncrease => format!("latency ({statistic}) against stable"),
        GateKind::LoadBalancerErrors => "load balancer's own 5XX rise since the step".into(),
        other => other.as_str().replace('_', " "),
    }
}

/// A gate's value or threshold in its unit.
pub fn gate_value(g: &GateKind, v: f64) -> String {
    match g {
        GateKind::ErrorRate => format!("{:.2}%", v * 100.0),
        GateKind::ErrorRateIncrease | GateKind::LoadBalancerErrors => {
            format!("{:+.2} pp", v * 100.0)
        }
        GateKind::Latency => seconds_label(v),
        GateKind::LatencyIncrease => format!("{}x", trim(v)),
        _ => trim(v),
    }
}

/// A gate's threshold as a bound: `≤ 1.00%`, `≥ 2`, `not in ALARM`.
pub fn gate_bound(g: &GateKind, v: f64) -> String {
    match g {
        GateKind::HealthyHosts => format!("≥ {}", gate_value(g, v)),
        GateKind::Alarm(_) => "not in ALARM".into(),
        GateKind::ErrorRateIncrease | GateKind::LoadBalancerErrors => {
            format!("≤ {:.2} pp", v * 100.0)
        }
        _ => format!("≤ {}", gate_value(g, v)),
    }
}

/// An e-value for people, written as the judge's own messages write it: `2.8e6`, `2735`, `0.35`.
fn evidence_number(v: f64) -> String {
    if v.is_finite() && v >= 1e5 {
        format!("{v:.1e}")
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// The value of a gate the sequential judge decided: its evidence (an e-value), not a rate.
pub fn judged_value(j: &Judgement) -> String {
    format!("evidence {}", evidence_number(j.evidence.statistic))
}

/// What the judge's evidence must reach to fail the gate.
pub fn judged_bound(j: &Judgement) -> String {
    format!("fails at ≥ {}", evidence_number(j.evidence.threshold))
}

/// The CSS class and the word of a verdict.
pub fn verdict_cell(v: Verdict) -> (&'static str, &'static str) {
    match v {
        Verdict::Pass => ("pass", "PASS"),
        Verdict::Fail => ("fail", "FAIL"),
        Verdict::NoData => ("nodata", "NO DATA"),
        Verdict::Skipped => ("skipped", "SKIPPED"),
        _ => ("skipped", "UNKNOWN"),
    }
}

/// The sequential judge's numbers behind a verdict, in a sentence: the counts of both colors over the
/// step's periods, the statistic against what it must reach, the tolerance and the confidence.
pub fn evidence(j: &Judgement, new: Color, stable: Color) -> String {
    let e = &j.evidence;
    let what = if j.gate == GateKind::LatencyIncrease {
        "periods slower than the ratio"
    } else {
        "failed"
    };
    let tolerance = match j.gate {
        GateKind::LatencyIncrease => format!("{}x", trim(e.tolerance)),
        GateKind::ErrorRateIncrease => format!("{:+.2} pp", e.tolerance * 100.0),
        _ => format!("{}%", trim(e.tolerance * 100.0)),
    };
    format!(
        "{new} {} of {} {what}, {stable} {} of {} over {} periods; evidence {} of {} needed (tolerance {tolerance}, {}% confidence)",
        count(e.new_errors),
        count(e.new_requests),
        count(e.stable_errors),
        count(e.stable_requests),
        e.periods,
        evidence_number(e.statistic),
        evidence_number(e.threshold),
        trim(e.confidence)
    )
}

/// What an event says, for the report's event list.
pub struct Words<'a> {
    /// The route's name.
    pub route: &'a str,
    /// The latency statistic, for gate names.
    pub statistic: &'a LatencyStatistic,
}

/// A poll's gates in a line: each gate's value (the judge's evidence where it decided the gate) and
/// verdict.
fn results_text(
    results: &[GateResult],
    judgements: &[Judgement],
    statistic: &LatencyStatistic,
) -> String {
    if results.is_empty() {
        return "no gate read".into();
    }
    results
        .iter()
        .map(|r| {
            let value = match judgements.iter().find(|j| j.gate == r.gate) {
                Some(j) => judged_value(j),
                None => r
                    .value
                    .map(|v| gate_value(&r.gate, v))
                    .unwrap_or_else(|| "no value".into()),
            };
            format!(
                "{} {value} ({})",
                gate_name(&r.gate, statistic),
                verdict_cell(r.verdict).1.to_lowercase()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One event as a sentence for people (names, not ARNs); an event kind without a sentence here is its
/// JSON.
pub fn event(e: &Event, w: &Words) -> String {
    let text = match e {
        Event::DeploymentStarted {
            deployment_id,
            started_by,
            target,
            stable,
            strategy,
            split: s,
            ..
        } => format!(
            "{} of {target} ({strategy}) started{} on the {}; stable {stable}; live {}",
            deployment_id
                .as_ref()
                .map_or_else(|| "gated shift".to_string(), |id| format!("deployment {id}")),
            started_by
                .as_ref()
                .map(|who| format!(" by {who}"))
                .unwrap_or_default(),
            w.route,
            split(s)
        ),
        Event::StepStarted { step, of, percent } => {
            format!("step {step} of {of}: moving to {percent}%")
        }
        Event::WeightsApplied { step, split: s } => {
            format!("step {step}: weights written and read back: {}", split(s))
        }
        Event::GateEvaluated {
            step,
            elapsed_seconds,
            bake_seconds,
            covered_seconds,
            results,
            judgements,
            decision,
            ..
        } => format!(
            "step {step}: gates read {elapsed_seconds:.0}s into the step ({covered_seconds:.0}s of the {bake_seconds:.0}s bake published): {} → {decision}",
            results_text(results, judgements, w.statistic)
        ),
        Event::Observed {
            step,
            color,
            periods,
        } => format!(
            "step {step}: {color} served {} requests, {} failed, in the {} metric periods read",
            count(periods.iter().map(|p| p.requests).sum()),
            count(periods.iter().map(|p| p.errors).sum()),
            periods.len()
        ),
        Event::MetricsUnavailable { step, error } => {
            format!("step {step}: metrics unavailable for this poll: {error}")
        }
        Event::DriftAdopted {
            step,
            expected,
            found,
        } => format!(
            "step {step}: drift adopted: expected {}, found {}; continuing from the live split",
            split(expected),
            split(found)
        ),
        Event::StepPassed { step, percent } => format!("step {step} passed at {percent}%"),
        Event::RollingBack { failure } => {
            format!("FAILED: {}; rolling back", crate::naming::failure(failure))
        }
        Event::RolledBack { to, split: s } => {
            format!("rolled back: all traffic on {to} ({}, read back)", split(s))
        }
        Event::Completed { stable } => format!("completed: {stable} is now stable"),
        Event::Interrupted {
            rolled_back,
            split: s,
            step,
        } => format!(
            "interrupted at step {step}; {} ({})",
            if *rolled_back {
                "traffic put back on the stable color"
            } else {
                "weights held where they were"
            },
            split(s)
        ),
        Event::AwaitingPromotion { target, percent } => {
            format!("the canary passed: {target} at {percent}%, awaiting promotion")
        }
        Event::WaitingForPromotion {
            step,
            percent,
            until,
            on_timeout,
            ..
        } => format!(
            "step {step}: waiting for promotion at {percent}% with the gates on until {until} (then {on_timeout})"
        ),
        Event::TestRouteRemoved { route } => {
            format!("test route removed and read back gone: {route}")
        }
        Event::Promoted { by } if by == "timeout" => {
            "promoted: the wait for promotion timed out and the run goes on".into()
        }
        Event::Promoted { by } => format!("promoted by {by}; the run goes on"),
        Event::HookPassed {
            stage,
            command,
            seconds,
            ..
        } => format!(
            "hook {stage} `{command}` passed in {}",
            albflip::duration::human(std::time::Duration::from_secs_f64(seconds.max(0.0)))
        ),
        Event::CapacityWaiting {
            asg,
            target_group,
            healthy,
            wanted,
            seconds_left,
        } => format!(
            "waiting for {asg}: {healthy} of {wanted} healthy in {target_group}, {seconds_left}s left"
        ),
        Event::CapacityReady {
            asg,
            desired,
            raised,
            healthy,
        } => format!(
            "capacity ready: {asg} {} {desired}, {healthy} healthy",
            if *raised { "raised to" } else { "already at" }
        ),
        Event::CapacityHeld { asg, min, was } => {
            format!("capacity held: {asg} minimum {was} → {min} while traffic moves")
        }
        Event::CapacityReleased { asg, min, was } => {
            format!("capacity hold ended: {asg} minimum {was} → {min}")
        }
        Event::TestTrafficApplied { listener, to } => {
            format!("test traffic ({listener}) now goes to {to}, read back")
        }
        Event::SmokePassed { url, attempts } => {
            format!("smoke check passed: {attempts} GET {url} answered 2xx")
        }
        Event::ScaledDown { color, asg } => {
            format!("{color} ({asg}) scaled to 0 after a read-back showed it at weight 0 everywhere")
        }
        Event::Warning { message } => format!("WARNING: {}", crate::naming::text(message)),
        Event::RecordFailed { route, error } => format!(
            "WARNING: traffic is safe, but recording the deployment state on {route} failed: {error}"
        ),
        other => serde_json::to_string(other).unwrap_or_else(|e| format!("(an event: {e})")),
    };
    without_arns(&text)
}
