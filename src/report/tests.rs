use std::time::Duration;

use albflip::aws::resolve::Target;
use albflip::events::{BackendName, Backends, ObservedPeriod, SplitView, WindowCounts};
use albflip::plan::decide::Failure;
use albflip::plan::judge::{Evidence, Judgement};
use albflip::plan::{BakePolicy, GateKind, GateResult, GateThresholds, Plan, Strategy, Verdict};

use super::*;

const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/prod-shop-alb/50dc6c495c0c9188/f2f7dc8efc522ab2";
const BLUE_TG: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/prod-shop-blue-tg/73e2d6bc24d8a067";
const GREEN_TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/prod-shop-green-tg/8a0e2d6bc24d8a06";

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

fn ctx() -> Context {
    Context {
        named: None,
        route: "default action of listener (not read)".into(),
        runner: "ops@laptop".into(),
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

fn counts(new: (f64, f64, f64), stable: (f64, f64, f64)) -> WindowCounts {
    WindowCounts {
        window_start: "2023-11-14T22:13:15Z".into(),
        window_end: "2023-11-14T22:13:20Z".into(),
        new_requests: new.0,
        new_errors: new.1,
        new_latency_seconds: Some(new.2),
        stable_requests: stable.0,
        stable_errors: stable.1,
        stable_latency_seconds: Some(stable.2),
    }
}

fn poll(
    step: usize,
    results: Vec<GateResult>,
    judgements: Vec<Judgement>,
    counts: Option<WindowCounts>,
    decision: &str,
) -> Event {
    Event::GateEvaluated {
        counts,
        step,
        elapsed_seconds: 1.0,
        bake_seconds: 4.0,
        covered_seconds: 1.0,
        step_seconds: 6.0,
        results,
        judgements,
        decision: decision.into(),
    }
}

/// A gradual run that passes step 1 and rolls back at step 2: the sequential judge's evidence on the
/// failing poll, counts for both colors on every poll after the write, a `<script>` in the green
/// target group's name and in a gate's message.
fn rolled_back() -> (Vec<(SystemTime, Event)>, Result<Outcome, Error>) {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let at = |s: u64| t0 + Duration::from_secs(s);
    let failing = gate(
        GateKind::ErrorRate,
        Verdict::Fail,
        2735.0,
        1000.0,
        "green 5XX 20% (8 of 40): above 1% with 99.9% confidence <script>",
    );
    let judged = Judgement {
        gate: GateKind::ErrorRate,
        verdict: Verdict::Fail,
        evidence: Evidence {
            new_errors: 8.0,
            new_requests: 40.0,
            stable_errors: 2.0,
            stable_requests: 360.0,
            statistic: 2735.0,
            threshold: 1000.0,
            tolerance: 0.01,
            confidence: 99.9,
            periods: 4,
        },
        message: failing.message.clone(),
    };
    let failure = Failure::Gate {
        result: failing.clone(),
        polls: 1,
    };
    let fast = || {
        gate(
            GateKind::Latency,
            Verdict::Pass,
            0.05,
            1.0,
            "green latency 50 ms",
        )
    };
    let events = vec![
        (
            at(0),
            Event::DeploymentStarted {
                deployment_id: Some("20231114T221320Z-00ab".into()),
                started_by: Some("jenkins-shop-42".into()),
                route: LISTENER.into(),
                target: Color::Green,
                stable: Color::Blue,
                strategy: "gradual/10/25/50/75/100".into(),
                steps: vec![10, 25, 50, 75, 100],
                split: split(100, 0),
                backends: Backends {
                    blue: BackendName {
                        name: "prod-shop-blue-tg".into(),
                        id: BLUE_TG.into(),
                    },
                    green: BackendName {
                        name: "green<script>alert(1)</script>".into(),
                        id: GREEN_TG.into(),
                    },
                },
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
                1,
                vec![
                    gate(
                        GateKind::ErrorRate,
                        Verdict::Pass,
                        0.0,
                        0.01,
                        "green 5XX 0%",
                    ),
                    fast(),
                ],
                Vec::new(),
                Some(counts((37.0, 0.0, 0.05), (333.0, 1.0, 0.04))),
                "passed",
            ),
        ),
        (
            at(2),
            Event::StepPassed {
                step: 1,
                percent: 10,
            },
        ),
        (
            at(2),
            Event::StepStarted {
                step: 2,
                of: 5,
                percent: 25,
            },
        ),
        (
            at(3),
            Event::WeightsApplied {
                step: 2,
                split: split(75, 25),
            },
        ),
        (
            at(4),
            Event::Observed {
                step: 2,
                color: Color::Green,
                periods: vec![ObservedPeriod {
                    start: 1_700_000_003.0,
                    seconds: 1.0,
                    requests: 40.0,
                    errors: 8.0,
                }],
            },
        ),
        (
            at(4),
            poll(
                2,
                vec![failing, fast()],
                vec![judged],
                Some(counts((40.0, 8.0, 0.06), (360.0, 2.0, 0.04))),
                "failed",
            ),
        ),
        (
            at(4),
            Event::RollingBack {
                failure: failure.clone(),
            },
        ),
        (
            at(5),
            Event::RolledBack {
                to: Color::Blue,
                split: split(100, 0),
            },
        ),
        (
            at(5),
            Event::RecordFailed {
                route: LISTENER.into(),
                error: "throttled".into(),
            },
        ),
    ];
    let outcome = Outcome::RolledBack {
        failure,
        to: Color::Blue,
        step: 2,
        percent: 25,
    };
    (events, Ok(outcome))
}

/// The report's text outside the places ARNs may be: `title` attributes and the resource list.
fn outside_ids(html: &str) -> String {
    let mut text = html.to_string();
    if let (Some(a), Some(b)) = (
        text.find("<details id=\"resources\">"),
        text.find("</details>"),
    ) {
        text.replace_range(a..b, "");
    }
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find(" title=\"") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 8..];
        rest = after.find('"').map_or("", |j| &after[j + 1..]);
    }
    out.push_str(rest);
    out
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
    let f = facts::gather(&spec(), &events);
    assert_eq!(f.stable, Color::Blue);
    assert_eq!(f.deployment_id.as_deref(), Some("20231114T221320Z-00ab"));
    assert_eq!(f.started_by.as_deref(), Some("jenkins-shop-42"));
    assert_eq!(
        f.chart.share,
        vec![(0.0, 0.0), (1.0, 10.0), (3.0, 25.0), (5.0, 0.0)]
    );
    // Rates from the counts of both colors: 8/40 = 20 %, 2/360 ≈ 0.56 %.
    assert_eq!(f.chart.error_rate.runs, vec![vec![(2.0, 0.0), (4.0, 20.0)]]);
    let stable = &f.chart.stable_error_rate.runs[0];
    assert_eq!(stable.len(), 2);
    assert!((stable[0].1 - 100.0 / 333.0).abs() < 1e-9, "{stable:?}");
    assert!((stable[1].1 - 200.0 / 360.0).abs() < 1e-9, "{stable:?}");
    assert_eq!(
        f.chart
            .error_rate
            .marks
            .iter()
            .map(|m| m.1)
            .collect::<Vec<_>>(),
        vec![false, true],
        "the failing poll is marked"
    );
    assert_eq!(f.chart.requests.runs, vec![vec![(2.0, 37.0), (4.0, 40.0)]]);
    assert_eq!(
        f.chart.stable_requests.runs,
        vec![vec![(2.0, 333.0), (4.0, 360.0)]]
    );
    assert_eq!(
        f.chart.stable_latency.runs,
        vec![vec![(2.0, 0.04), (4.0, 0.04)]]
    );
    assert_eq!(f.samples.len(), 2);
    assert_eq!(f.chart.max_error_rate, 1.0);
    assert_eq!(f.chart.span, 5.0);
    assert_eq!(f.steps.len(), 2);
    assert_eq!(f.steps[1].split, Some(split(75, 25)));
    assert_eq!(f.steps[1].polls, 1);
    assert_eq!(f.steps[1].expected, Some(6.0), "bake + lag + one period");
    assert_eq!(f.steps[0].end.map(|e| e.0), Some("passed"));
    assert_eq!(f.steps[1].end.map(|e| e.0), Some("failed"));
    assert_eq!(
        f.steps[1].last.as_ref().map(|p| p.judgements.len()),
        Some(1)
    );
    assert_eq!(f.chart.markers.iter().filter(|m| m.alarm).count(), 1);
}

#[test]
fn the_header_names_the_deployment_who_the_version_and_the_route_by_names() {
    let (events, result) = rolled_back();
    let html = render(&ctx(), &spec(), &events, &result);
    assert!(
        html.contains("<span id=\"deployment-id\">20231114T221320Z-00ab</span>"),
        "{html}"
    );
    assert!(
        html.contains("<dd id=\"started-by\">jenkins-shop-42</dd>"),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "<dd id=\"version\">{}</dd>",
            env!("CARGO_PKG_VERSION")
        )),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "<dd id=\"route\"><span title=\"{LISTENER}\">default action of listener f2f7dc8efc522ab2 on prod-shop-alb</span></dd>"
        )),
        "the route by its names, the ARN in the title: {html}"
    );
    assert!(
        html.contains(&format!(
            "blue <b><span title=\"{BLUE_TG}\">prod-shop-blue-tg</span></b>"
        )),
        "{html}"
    );
    assert!(html.contains("<dt>Target groups</dt>"), "{html}");
    assert!(html.contains("<dd id=\"duration\">5s</dd>"), "{html}");
    assert!(
        html.contains("<dt>Outcome</dt><dd>ROLLED BACK</dd>"),
        "{html}"
    );
    // The ARNs are in the resource list, and nowhere else but titles.
    let resources = &html[html.find("<details id=\"resources\">").unwrap()..];
    assert!(resources.contains(LISTENER) && resources.contains(GREEN_TG));
    let rest = outside_ids(&html);
    assert!(
        !rest.contains("arn:aws"),
        "an ARN outside the resource list and titles: {rest}"
    );
    assert!(
        rest.contains("recording the deployment state on default action of listener f2f7dc8efc522ab2 on prod-shop-alb failed"),
        "events name the route by its names: {rest}"
    );
}

#[test]
fn a_route_named_by_load_balancer_and_port_keeps_that_name_and_a_shift_shows_who_ran_it() {
    let (mut events, result) = rolled_back();
    if let Event::DeploymentStarted {
        deployment_id,
        started_by,
        ..
    } = &mut events[0].1
    {
        *deployment_id = None;
        *started_by = None;
    }
    let named = Context {
        named: Some(
            Target::from_convention("prod", "shop", 80)
                .route
                .to_string(),
        ),
        ..ctx()
    };
    let html = render(&named, &spec(), &events, &result);
    assert!(
        html.contains(&format!(
            "<span title=\"{LISTENER}\">listener on port 80 of load balancer prod-shop-alb</span>"
        )),
        "{html}"
    );
    assert!(
        html.contains("<dd>none: a gated shift records no deployment</dd>"),
        "{html}"
    );
    assert!(
        html.contains("<dd id=\"started-by\">ops@laptop (ran this command)</dd>"),
        "{html}"
    );
}

#[test]
fn each_step_has_its_shares_time_and_every_gate_with_value_threshold_verdict_and_evidence() {
    let (events, result) = rolled_back();
    let html = render(&ctx(), &spec(), &events, &result);
    let steps = &html[html.find("<table id=\"steps\">").unwrap()..];
    let steps = &steps[..steps.find("</table>").unwrap()];
    assert!(
        steps.contains("<td rowspan=\"2\">blue 90% / green 10%</td><td rowspan=\"2\">2s<br><span class=\"pass\">passed at"),
        "step 1: its shares, its 2 s, passed: {steps}"
    );
    assert!(
        steps.contains("<td rowspan=\"2\">blue 75% / green 25%</td><td rowspan=\"2\">2s<br><span class=\"fail\">failed at"),
        "{steps}"
    );
    assert_eq!(steps.matches("<td>5XX rate</td>").count(), 2, "{steps}");
    assert_eq!(
        steps.matches("<td>latency (p99)</td>").count(),
        2,
        "{steps}"
    );
    assert!(
        steps.contains("<td>5XX rate</td><td class=\"num\">0.00%</td><td>≤ 1.00%</td><td class=\"pass\">PASS</td><td>green 5XX 0%</td>"),
        "{steps}"
    );
    assert!(
        steps.contains("<td>5XX rate</td><td class=\"num\">evidence 2735</td><td>fails at ≥ 1000</td><td class=\"fail\">FAIL</td><td>green 8 of 40 failed, blue 2 of 360 over 4 periods; evidence 2735 of 1000 needed (tolerance 1%, 99.9% confidence)"),
        "the judge's evidence on the failing gate: {steps}"
    );
    assert!(steps.contains("<td>≤ 1 s</td>"), "{steps}");
}

#[test]
fn both_colors_series_and_request_volume_are_in_the_chart_and_the_samples() {
    let (events, result) = rolled_back();
    let html = render(&ctx(), &spec(), &events, &result);
    for line in [
        "<polyline class=\"series error-rate\"",
        "<polyline class=\"series stable error-rate-stable\"",
        "<polyline class=\"series latency\"",
        "<polyline class=\"series stable latency-stable\"",
        "<polyline class=\"series requests\"",
        "<polyline class=\"series stable requests-stable\"",
    ] {
        assert!(html.contains(line), "no {line} in {html}");
    }
    let samples = &html[html.find("<table id=\"samples\">").unwrap()..];
    let samples = &samples[..samples.find("</table>").unwrap()];
    assert!(
        samples.contains("<th colspan=\"4\">green (new)</th><th colspan=\"4\">blue (stable)</th>"),
        "{samples}"
    );
    assert!(
        samples.contains("<td>+4s</td><td class=\"num\">2</td><td>22:13:15–22:13:20</td><td class=\"num\">40</td><td class=\"num\">8</td><td class=\"num\">20.00%</td><td class=\"num\">60 ms</td><td class=\"num\">360</td><td class=\"num\">2</td><td class=\"num\">0.56%</td><td class=\"num\">40 ms</td>"),
        "{samples}"
    );
}

#[test]
fn no_event_is_debug_formatted_and_outside_text_is_escaped() {
    let (events, result) = rolled_back();
    let html = render(&ctx(), &spec(), &events, &result);
    for artefact in [
        "Some(",
        "None",
        "Evaluated {",
        "Observed {",
        "RecordFailed",
        "SplitView",
        "GateKind",
        " { step",
    ] {
        assert!(!html.contains(artefact), "{artefact} in {html}");
    }
    let rows = &html[html.find("<table id=\"events\">").unwrap()..];
    assert_eq!(rows.matches("<tr><td>").count(), events.len(), "{rows}");
    assert!(
        rows.contains("step 2: green served 40 requests, 8 failed, in the 1 metric periods read"),
        "{rows}"
    );
    assert!(
        rows.contains("5XX rate evidence 2735 (fail), latency (p99) 50 ms (pass) → failed"),
        "a gate the judge decided shows its evidence, not a rate: {rows}"
    );
    assert!(
        rows.contains("5XX rate 0.00% (pass), latency (p99) 50 ms (pass) → passed"),
        "{rows}"
    );
    assert!(
        rows.contains("deployment 20231114T221320Z-00ab of green (gradual/10/25/50/75/100) started by jenkins-shop-42"),
        "{rows}"
    );
    assert!(
        !html.contains("<script") && html.contains("green&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(html.contains("99.9% confidence &lt;script&gt;"), "{html}");
    // Self-contained: nothing is fetched.
    let outside_svg_ns = html.replace("http://www.w3.org/2000/svg", "");
    for external in ["http://", "https://", "src=", "<link", "@import", "url("] {
        assert!(!outside_svg_ns.contains(external), "{external} in {html}");
    }
}

#[test]
fn a_rolled_back_report_has_the_verdict_chart_and_exit_code() {
    let (events, result) = rolled_back();
    let html = render(&ctx(), &spec(), &events, &result);
    assert!(html.starts_with("<!doctype html>"));
    assert!(
        html.contains("<div id=\"verdict\">ROLLED BACK</div>"),
        "{html}"
    );
    assert!(html.contains("exit code 3"), "{html}");
    assert!(html.contains("<svg id=\"chart\""));
    assert!(
        html.contains("<th>Expected length</th>") && html.contains("<td>~6s</td>"),
        "the timeline shows each step's expected length: {html}"
    );
    assert!(
        html.contains("<dl id=\"blast-radius\"><dt>Blast radius</dt><dd>8 failed requests on green (of 40 it served) over 1s</dd></dl>"),
        "{html}"
    );
}

#[test]
fn outcomes_and_errors_have_their_own_banner() {
    let ctx = Context {
        named: Some(
            Target::from_convention("prod", "shop", 80)
                .route
                .to_string(),
        ),
        ..ctx()
    };
    let ok = Ok(Outcome::Completed {
        stable: Color::Green,
    });
    let html = render(&ctx, &spec(), &[], &ok);
    assert!(html.contains("<div id=\"verdict\">COMPLETED</div>"));
    assert!(html.contains("listener on port 80 of load balancer prod-shop-alb"));
    assert!(html.contains("none: the run stopped before it started"));
    assert!(html.contains("the gates were never polled") || html.contains("no step started"));
    let err: Result<Outcome, Error> = Err(Error::NotFound {
        what: "load balancer <x>".into(),
        fix: "check the name".into(),
    });
    let html = render(&ctx, &spec(), &[], &err);
    assert!(html.contains("<div id=\"verdict\">ERROR</div>"));
    let by_arn = Context {
        named: None,
        route: LISTENER.into(),
        ..ctx.clone()
    };
    let early = render(&by_arn, &spec(), &[], &err);
    assert!(
        early.contains(&format!(
            "<dd id=\"route\"><span title=\"{LISTENER}\">default action of listener f2f7dc8efc522ab2 on prod-shop-alb</span></dd>"
        )),
        "a run that stopped before its first event names its route from the ARN it was given: {early}"
    );
    assert!(html.contains("load balancer &lt;x&gt; not found"), "{html}");
    assert!(html.contains("exit code 2"), "{html}");
    let canary = Ok(Outcome::AwaitingPromotion {
        target: Color::Green,
        percent: 10,
    });
    assert!(render(&ctx, &spec(), &[], &canary).contains(">AWAITING PROMOTION<"));
}
