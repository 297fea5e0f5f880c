//! One gate in one short line: its name, its value against its threshold and its verdict's mark, for
//! the live view. The sequential judge's gates show the counts and the evidence against what it needs.

use albflip::events::WindowCounts;
use albflip::model::Color;
use albflip::plan::judge::Judgement;
use albflip::plan::{GateKind, GateResult, Verdict};

use crate::paint::{pad, Paint};

/// The width of the gate names' column.
const NAME_WIDTH: usize = 18;

/// What a gate line is made of besides the result: the judge's verdict on the same gate, the counts
/// of the poll, and the stable color (the comparisons' other side).
pub struct Context<'a> {
    /// The sequential judge's verdicts of the poll (empty under the threshold judge).
    pub judgements: &'a [Judgement],
    /// The counts the poll read.
    pub counts: Option<&'a WindowCounts>,
    /// The stable color.
    pub stable: Color,
}

/// `✓ error rate         0.2% (3 of 1500) ≤ 1%`: one line per gate, marked and colored by verdict.
pub fn line(r: &GateResult, cx: &Context<'_>, paint: Paint) -> String {
    let judged = cx.judgements.iter().find(|j| j.gate == r.gate);
    let text = match (r.verdict, judged) {
        (Verdict::Pass | Verdict::Fail, Some(j)) => judged_text(j, cx.stable),
        (Verdict::NoData | Verdict::Skipped, _) => short(&r.message),
        _ => measured_text(r, cx),
    };
    format!(
        "{} {} {}",
        paint.verdict(r.verdict, mark(r.verdict)),
        pad(&name(&r.gate, cx.stable), NAME_WIDTH),
        paint.verdict(r.verdict, text)
    )
}

/// A verdict's mark: `✓`, `✗`, `…` (no data), `-` (skipped).
pub fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✓",
        Verdict::Fail => "✗",
        Verdict::NoData => "…",
        _ => "-",
    }
}

/// The gate's name for people.
fn name(gate: &GateKind, stable: Color) -> String {
    match gate {
        GateKind::ErrorRate => "error rate".into(),
        GateKind::Latency => "latency".into(),
        GateKind::HealthyHosts => "healthy hosts".into(),
        GateKind::UnhealthyHosts => "unhealthy hosts".into(),
        GateKind::Alarm(alarm) => format!("alarm {alarm}"),
        GateKind::ErrorRateIncrease => format!("5XX vs {stable}"),
        GateKind::LatencyIncrease => format!("latency vs {stable}"),
        GateKind::LoadBalancerErrors => "load balancer 5XX".into(),
        other => other.as_str().replace('_', " "),
    }
}

/// A gate judged against its threshold on the poll's window.
fn measured_text(r: &GateResult, cx: &Context<'_>) -> String {
    if let GateKind::Alarm(alarm) = &r.gate {
        // `alarm NAME is OK`, `alarm NAME is in ALARM`: the name is in the name's column.
        let prefix = format!("alarm {alarm} ");
        return r.message.strip_prefix(&prefix).unwrap_or(&r.message).into();
    }
    let Some(v) = r.value else {
        return short(&r.message);
    };
    let t = r.threshold;
    let pass = r.verdict == Verdict::Pass;
    let (at_most, at_least) = if pass { ("≤", "≥") } else { (">", "<") };
    match &r.gate {
        GateKind::ErrorRate => {
            let counts = cx
                .counts
                .map(|c| format!(" ({} of {})", c.new_errors, c.new_requests))
                .unwrap_or_default();
            format!("{}{counts} {at_most} {}", percent(v), percent(t))
        }
        GateKind::Latency => format!("{} {at_most} {}", seconds(v), seconds(t)),
        GateKind::HealthyHosts => format!("{v} {at_least} {t}"),
        GateKind::UnhealthyHosts => format!("{v} {at_most} {t}"),
        GateKind::ErrorRateIncrease | GateKind::LoadBalancerErrors => {
            format!("{} {at_most} {}", points(v), points(t))
        }
        GateKind::LatencyIncrease => format!("{}x {at_most} {}x", ratio(v), ratio(t)),
        _ => short(&r.message),
    }
}

/// A gate the sequential judge decides: the counts it saw, the tolerance, and its evidence against
/// what it needs to fail the step.
fn judged_text(j: &Judgement, stable: Color) -> String {
    let e = &j.evidence;
    let evidence = format!("evidence {} of {}", ratio(e.statistic), ratio(e.threshold));
    let rate = |errors: f64, requests: f64| {
        if requests > 0.0 {
            percent(errors / requests)
        } else {
            "-".into()
        }
    };
    match &j.gate {
        GateKind::ErrorRate => format!(
            "{} ({} of {}), limit {}; {evidence}",
            rate(e.new_errors, e.new_requests),
            e.new_errors,
            e.new_requests,
            percent(e.tolerance)
        ),
        GateKind::ErrorRateIncrease => format!(
            "{} vs {stable} {}, limit {}; {evidence}",
            rate(e.new_errors, e.new_requests),
            rate(e.stable_errors, e.stable_requests),
            points(e.tolerance)
        ),
        GateKind::LatencyIncrease => format!(
            "over {}x in {} of {} periods; {evidence}",
            ratio(e.tolerance),
            e.new_errors,
            e.new_requests
        ),
        _ => format!("{}; {evidence}", short(&j.message)),
    }
}

/// A gate's message without the window it ends with (`… (14:02:00–14:07:00 UTC)`, `… (3 of 50
/// requests, 14:02:00–14:07:00 UTC)`): the view shows the time elsewhere.
pub fn short(message: &str) -> String {
    let Some(body) = message.strip_suffix(" UTC)") else {
        return message.to_string();
    };
    match (body.rfind(" ("), body.rfind(", ")) {
        (Some(open), Some(comma)) if comma > open => format!("{})", &body[..comma]),
        (Some(open), _) => body[..open].to_string(),
        _ => message.to_string(),
    }
}

fn percent(fraction: f64) -> String {
    format!("{}%", ratio(fraction * 100.0))
}

fn points(fraction: f64) -> String {
    format!("{:+.1} pp", fraction * 100.0)
}

fn seconds(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else {
        format!("{} s", ratio(s))
    }
}

/// Up to two decimals, no trailing zeros; large numbers in scientific notation.
fn ratio(x: f64) -> String {
    if x.abs() >= 1e5 {
        return format!("{x:.1e}");
    }
    let text = format!("{x:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use albflip::plan::judge::Evidence;

    fn result(gate: GateKind, verdict: Verdict, value: Option<f64>, threshold: f64) -> GateResult {
        GateResult {
            gate,
            verdict,
            value,
            threshold,
            message:
                "green something not judged: 12 of 50 required requests (14:02:00–14:07:00 UTC)"
                    .into(),
        }
    }

    fn plain(r: &GateResult, judgements: &[Judgement]) -> String {
        let cx = Context {
            judgements,
            counts: None,
            stable: Color::Blue,
        };
        line(r, &cx, Paint::PLAIN)
    }

    #[test]
    fn each_gate_shows_its_value_against_its_threshold() {
        let cases = [
            (
                result(GateKind::Latency, Verdict::Pass, Some(0.212), 1.0),
                "✓ latency            212 ms ≤ 1 s",
            ),
            (
                result(GateKind::Latency, Verdict::Fail, Some(1.5), 1.0),
                "✗ latency            1.5 s > 1 s",
            ),
            (
                result(GateKind::HealthyHosts, Verdict::Pass, Some(2.0), 1.0),
                "✓ healthy hosts      2 ≥ 1",
            ),
            (
                result(GateKind::UnhealthyHosts, Verdict::Fail, Some(1.0), 0.0),
                "✗ unhealthy hosts    1 > 0",
            ),
            (
                result(
                    GateKind::LoadBalancerErrors,
                    Verdict::Pass,
                    Some(0.0),
                    0.005,
                ),
                "✓ load balancer 5XX  +0.0 pp ≤ +0.5 pp",
            ),
            (
                result(GateKind::LatencyIncrease, Verdict::Pass, Some(1.2), 1.5),
                "✓ latency vs blue    1.2x ≤ 1.5x",
            ),
            (
                GateResult {
                    message: "alarm shop-5xx is in ALARM".into(),
                    ..result(GateKind::Alarm("shop-5xx".into()), Verdict::Fail, None, 0.0)
                },
                "✗ alarm shop-5xx     is in ALARM",
            ),
            (
                result(GateKind::ErrorRate, Verdict::NoData, None, 0.01),
                "… error rate         green something not judged: 12 of 50 required requests",
            ),
        ];
        for (r, want) in cases {
            assert_eq!(plain(&r, &[]), want);
        }
    }

    #[test]
    fn the_threshold_judges_error_rate_shows_the_counts_of_the_window() {
        let counts = WindowCounts {
            window_start: String::new(),
            window_end: String::new(),
            new_requests: 1500.0,
            new_errors: 3.0,
            stable_requests: 0.0,
            stable_errors: 0.0,
            new_latency_seconds: None,
            stable_latency_seconds: None,
        };
        let cx = Context {
            judgements: &[],
            counts: Some(&counts),
            stable: Color::Blue,
        };
        let r = result(GateKind::ErrorRate, Verdict::Pass, Some(0.002), 0.01);
        assert_eq!(
            line(&r, &cx, Paint::PLAIN),
            "✓ error rate         0.2% (3 of 1500) ≤ 1%"
        );
    }

    #[test]
    fn the_sequential_judges_gates_show_the_counts_and_the_evidence_needed() {
        let evidence = Evidence {
            new_errors: 3.0,
            new_requests: 1500.0,
            stable_errors: 1.0,
            stable_requests: 9000.0,
            statistic: 0.02,
            threshold: 1500.0,
            tolerance: 0.01,
            confidence: 99.8,
            periods: 4,
        };
        let judgement = |gate: GateKind, tolerance: f64| Judgement {
            gate,
            verdict: Verdict::Pass,
            evidence: Evidence {
                tolerance,
                ..evidence
            },
            message: String::new(),
        };
        let judged = [
            judgement(GateKind::ErrorRate, 0.01),
            judgement(GateKind::ErrorRateIncrease, 0.005),
        ];
        let r = |gate| result(gate, Verdict::Pass, Some(0.02), 1500.0);
        assert_eq!(
            plain(&r(GateKind::ErrorRate), &judged),
            "✓ error rate         0.2% (3 of 1500), limit 1%; evidence 0.02 of 1500"
        );
        assert_eq!(
            plain(&r(GateKind::ErrorRateIncrease), &judged),
            "✓ 5XX vs blue        0.2% vs blue 0.01%, limit +0.5 pp; evidence 0.02 of 1500"
        );
    }

    #[test]
    fn a_message_loses_its_window_only() {
        assert_eq!(
            short("green latency: no datapoints (14:02:00–14:07:00 UTC)"),
            "green latency: no datapoints"
        );
        assert_eq!(
            short("skipped: too little traffic (12 and 3 requests, 14:02:00–14:07:00 UTC)"),
            "skipped: too little traffic (12 and 3 requests)"
        );
        assert_eq!(short("alarm x is OK"), "alarm x is OK");
    }

    #[test]
    fn verdicts_are_colored_only_when_asked() {
        let r = result(GateKind::Latency, Verdict::Fail, Some(1.5), 1.0);
        let cx = Context {
            judgements: &[],
            counts: None,
            stable: Color::Blue,
        };
        let colored = line(&r, &cx, Paint::COLORED);
        assert!(colored.contains("\u{1b}[31m"), "{colored:?}");
        assert_eq!(
            console::strip_ansi_codes(&colored),
            line(&r, &cx, Paint::PLAIN)
        );
    }
}
