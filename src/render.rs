//! What albflip prints: lines for people, one JSON object for machines.

use std::collections::BTreeMap;

use albflip::aws::resolve::StableSource;
use albflip::aws::write::describe_forward;
use albflip::model::Color;
use albflip::state::Phase;
use albflip::traffic::{ChangeOutcome, RouteStatus, Verification};
use serde_json::json;

use crate::paint::Paint;

/// Renders `status` for people, colored with `paint` (blue and green in their colors, health and the
/// deployment's phase by what they say, warnings yellow).
pub fn status_text(s: &RouteStatus, verbose: bool, paint: Paint) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "Route       {}\n",
        crate::arn_names::route_name(&s.route, verbose)
    ));
    out.push_str(&format!(
        "Stable      {}{}\n",
        paint.color_name(s.stable),
        paint.dim(match s.stable_source {
            StableSource::Tag => " (albflip:stable tag)",
            StableSource::Default => " (no albflip:stable tag: blue by default)",
            _ => "",
        })
    ));
    out.push_str(&format!("Stickiness  {}", s.stickiness));
    if let Some(recorded) = s.stickiness_recorded {
        out.push_str(&paint.warn(format!(
            " (a rollback turned off {recorded}; the next shift or deploy turns it back on)"
        )));
    }
    out.push('\n');
    if let Some(d) = &s.deployment {
        let steps: Vec<String> = d.steps.iter().map(|p| format!("{p}%")).collect();
        out.push_str(&format!(
            "Deployment  {} of {} ({}{} {}), step {} of {}, {}; started by {}, updated {}\n",
            d.id,
            paint.color_name(d.target),
            d.strategy,
            if d.gated {
                String::new()
            } else {
                paint.warn(", UNGATED")
            },
            steps.join("→"),
            d.step,
            d.steps.len(),
            paint.phase(d.phase, d.phase.as_str()),
            if d.started_by.is_empty() {
                "?"
            } else {
                &d.started_by
            },
            d.updated
        ));
    }
    for t in &s.test_rules {
        out.push_str(&format!(
            "Test header {} -> {} (listener rule {}, priority {}; removed when the deployment ends)\n",
            t.header,
            t.to.map_or("?", |c| c.as_str()),
            t.rule_arn,
            t.priority.map_or_else(|| "?".to_string(), |p| p.to_string())
        ));
    }
    if let Some(until) = &s.waiting_until {
        out.push_str(&format!(
            "Waiting     {}\n",
            paint.warn(format!("for promotion until {until}, gates on (`albflip promote` goes on, `albflip rollback` stops)"))
        ));
    }
    if s.single_target_group {
        out.push_str("Forward     single target group (converted to a weighted forward on the first shift)\n");
    }
    out.push_str(&format!(
        "\n  {:<6} {:>7} {:>6} {:>8}  {}\n",
        "COLOR", "TRAFFIC", "WEIGHT", "HEALTHY", "TARGET GROUP"
    ));
    for (color, c) in [(Color::Blue, &s.blue), (Color::Green, &s.green)] {
        let weight = c
            .weight
            .map(|w| w.to_string())
            .unwrap_or_else(|| "-".into());
        let group = if verbose {
            format!("{}  {}", c.target_group_name, c.target_group_arn)
        } else {
            c.target_group_name.to_string()
        };
        let health = format!("{:>8}", format!("{}/{}", c.healthy, c.total));
        out.push_str(&format!(
            "  {} {:>6}% {:>6} {}  {group}\n",
            paint.color(color, format!("{:<6}", color.as_str())),
            c.percent,
            weight,
            paint.health(c.healthy, c.total, c.percent, health),
        ));
    }
    out.push_str(&routes_text(s, verbose, paint));
    if !verbose {
        out.push_str("\n(names; -v shows the ARNs)\n");
    }
    out
}

/// The lockstep group: each route with its split, then the routes left alone.
fn routes_text(s: &RouteStatus, verbose: bool, paint: Paint) -> String {
    let mut out = format!(
        "
  Routes moved together ({}):
",
        s.routes.len()
    );
    for r in &s.routes {
        // Without -v the route's name already holds its load balancer's.
        let lb = if verbose {
            format!("  [{}]", r.load_balancer_arn.name())
        } else {
            String::new()
        };
        out.push_str(&format!(
            "  {} {:>3}% / {} {:>3}%  {}{lb}\n",
            paint.color_name(Color::Blue),
            r.blue_percent,
            paint.color_name(Color::Green),
            r.green_percent,
            crate::arn_names::route_name(&r.route, verbose),
        ));
    }
    if !s.left_alone.is_empty() {
        out.push_str(&format!(
            "
  Left alone ({}):
",
            s.left_alone.len()
        ));
        for l in &s.left_alone {
            out.push_str(&format!(
                "  {}
",
                crate::naming::left_alone(l)
            ));
        }
    }
    out
}

/// Renders `status` as one JSON object.
pub fn status_json(s: &RouteStatus) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    if let Some(l) = v.get_mut("left_alone") {
        crate::naming::json::left_alone(l, &s.left_alone);
    }
    if let Some(obj) = v.as_object_mut() {
        obj.insert("route".into(), json!(s.route.resource_arn()));
        obj.insert(
            "route_kind".into(),
            json!(match s.route {
                albflip::aws::route::RouteId::Listener(_) => "listener",
                albflip::aws::route::RouteId::Rule(_) => "rule",
            }),
        );
    }
    v
}

/// The capacity holds albflip keeps on the colors' Auto Scaling groups, one line each.
pub fn holds_text(holds: &[albflip::cleanup::HeldGroup], paint: Paint) -> String {
    holds
        .iter()
        .map(|h| {
            format!(
                "Hold        {} {}: minimum {} held by albflip (albflip:held-min; {} when the deployment ends)\n",
                paint.color_name(h.color), h.group, h.min, h.held_min
            )
        })
        .collect()
}

/// Renders a shift or rollback for people.
pub fn change_text(
    verb: &str,
    o: &ChangeOutcome,
    calls: &BTreeMap<String, u64>,
    verbose: bool,
) -> String {
    let mut out = String::new();
    for w in &o.warnings {
        out.push_str(&format!("{}\n", crate::naming::text(w)));
    }
    let route = &o.route;
    if o.dry_run {
        let action = if verb == "Rolled back" {
            "roll back"
        } else {
            "shift"
        };
        out.push_str(&format!(
            "Dry run: would {action} the {route}\n  {} -> {}\n",
            o.before, o.after
        ));
        out.push_str(&format!(
            "  would write: {}\n",
            describe_forward(&o.forward)
        ));
        out.push_str(&others_text(o));
        if o.stable_tag_written {
            out.push_str(&format!("  would tag albflip:stable={}\n", o.stable));
        }
        out.push_str("Nothing was written.\n");
    } else if !o.written {
        out.push_str(&format!(
            "Already at {} on the {route}; nothing to write.\n",
            o.after
        ));
        out.push_str(&others_text(o));
    } else {
        let how = match o.verification {
            Verification::ReadBack => "verified by read-back",
            Verification::Response => "verified from the write's response",
            Verification::NotNeeded => "no write",
            _ => "verified",
        };
        if named_written(o) {
            out.push_str(&format!(
                "{verb}: {} -> {}\n  on the {route}\n",
                o.before, o.after
            ));
        } else {
            out.push_str(&format!("{verb}: already at {} on the {route}\n", o.after));
        }
        out.push_str(&others_text(o));
        out.push_str(&stickiness_text(how, o));
    }
    if !o.dry_run && o.stable_tag_written {
        out.push_str(&format!(
            "  stable color is now {} (albflip:stable tag)\n",
            o.stable
        ));
    }
    let total: u64 = calls.values().sum();
    out.push_str(&format!(
        "  {total} API call{}",
        if total == 1 { "" } else { "s" }
    ));
    if verbose {
        let list: Vec<String> = calls.iter().map(|(k, v)| format!("{k} x{v}")).collect();
        out.push_str(&format!(": {}", list.join(", ")));
    }
    out.push('\n');
    crate::arn_names::for_people(out, verbose)
}

/// How the write was verified, and what happened to group stickiness: kept, released by a rollback
/// (with the setting recorded), or written back from a rollback's record.
fn stickiness_text(how: &str, o: &ChangeOutcome) -> String {
    if o.stickiness_released.is_empty() && o.stickiness_restored.is_empty() {
        return format!("  {how}; stickiness {} kept\n", o.stickiness);
    }
    let mut out = format!("  {how}\n");
    for (route, had) in &o.stickiness_released {
        out.push_str(&format!(
            "  group stickiness ({had}) turned off on the {route} so that sticky clients leave the old color; recorded in albflip:stickiness, the next shift or deploy turns it back on (--keep-stickiness leaves it on)\n"
        ));
    }
    for (route, setting) in &o.stickiness_restored {
        out.push_str(&format!(
            "  group stickiness ({setting}) turned back on on the {route}, as recorded when a rollback turned it off\n"
        ));
    }
    out
}

/// Whether the named route itself was written (a lockstep write may move only its peers).
fn named_written(o: &ChangeOutcome) -> bool {
    o.changes.first().is_none_or(|c| c.written)
}

/// The other routes moved in lockstep, each with its own before and after, and the ones left alone.
fn others_text(o: &ChangeOutcome) -> String {
    let mut out = String::new();
    for c in o.changes.iter().skip(1) {
        let route = &c.route;
        if c.before == c.after {
            out.push_str(&format!(
                "  and in lockstep on the {route}: already at {}\n",
                c.after
            ));
        } else {
            out.push_str(&format!(
                "  and in lockstep on the {route}: {} -> {}\n",
                c.before, c.after
            ));
        }
    }
    for l in &o.left_alone {
        out.push_str(&format!("  left alone: {}\n", crate::naming::left_alone(l)));
    }
    out
}

/// Renders a shift or rollback as one JSON object.
pub fn change_json(
    command: &str,
    o: &ChangeOutcome,
    calls: &BTreeMap<String, u64>,
) -> serde_json::Value {
    let split = |s: albflip::model::Split| json!({"blue": s.percent_of(Color::Blue).get(), "green": s.percent_of(Color::Green).get()});
    let mut left_alone = json!(o.left_alone);
    crate::naming::json::left_alone(&mut left_alone, &o.left_alone);
    json!({
        "command": command,
        "route": o.route.resource_arn(),
        "before": split(o.before),
        "after": split(o.after),
        "written": o.written,
        "dry_run": o.dry_run,
        "verification": o.verification,
        "stable": o.stable,
        "stable_tag_written": o.stable_tag_written,
        "stickiness": o.stickiness,
        "stickiness_released": o.stickiness_released.iter().map(|(r, s)| json!({"route": r.resource_arn(), "had": s})).collect::<Vec<_>>(),
        "stickiness_restored": o.stickiness_restored.iter().map(|(r, s)| json!({"route": r.resource_arn(), "setting": s})).collect::<Vec<_>>(),
        "warnings": crate::naming::json::texts(&o.warnings),
        "routes": o.routes.iter().map(|r| r.resource_arn()).collect::<Vec<_>>(),
        "changes": o.changes.iter().map(|c| json!({
            "route": c.route.resource_arn(),
            "before": split(c.before),
            "after": split(c.after),
            "written": c.written,
        })).collect::<Vec<_>>(),
        "left_alone": left_alone,
        "api_calls": calls,
    })
}

/// The final summary of a deployment: a line for people (with `verbose`, the API calls per
/// operation too), or a `summary` NDJSON object.
pub fn summary(
    outcome: &albflip::engine::Outcome,
    calls: Option<&albflip::aws::CallCounter>,
    blast: Option<&albflip::events::BlastRadius>,
    format: crate::args::OutputFormat,
    quiet: bool,
    verbose: bool,
) {
    use albflip::engine::Outcome;
    let text = match outcome {
        Outcome::Completed { stable } => format!("OK: deployment complete, {stable} is stable"),
        Outcome::AwaitingPromotion { target, percent } => {
            format!("OK: canary {target} at {percent}% awaits promotion")
        }
        Outcome::PromotionHandedOver {
            target,
            waiting_run,
        } => format!(
            "OK: promotion of {target} asked of the run waiting for it (started by {waiting_run}), which took it and goes on"
        ),
        Outcome::Shifted { split, stable } => format!(
            "OK: shift passed its bake: blue {}% / green {}% (stable {stable})",
            split.blue, split.green
        ),
        Outcome::Interrupted { rolled_back: true, split, step } => format!(
            "INTERRUPTED at step {step}: traffic put back on the stable color (blue {}% / green {}%, verified)",
            split.blue, split.green
        ),
        Outcome::Interrupted { split, step, .. } => format!(
            "INTERRUPTED at step {step}: weights held at blue {}% / green {}% (--on-interrupt hold); `albflip rollback` restores",
            split.blue, split.green
        ),
        Outcome::RolledBack {
            failure,
            to,
            step,
            percent,
        } => {
            format!(
                "ROLLED BACK to {to} at step {step} ({percent}%): {}",
                crate::naming::failure(failure)
            )
        }
        _ => "finished".to_string(),
    };
    match format {
        crate::args::OutputFormat::Json => {
            let mut v = serde_json::to_value(outcome).unwrap_or_default();
            crate::naming::json::outcome(&mut v, outcome);
            if let Some(obj) = v.as_object_mut() {
                obj.insert("event".into(), json!("summary"));
                obj.insert(
                    "ts".into(),
                    json!(
                        humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
                    ),
                );
                obj.insert("message".into(), json!(text));
                if let Some(calls) = calls {
                    obj.insert("api_calls".into(), json!(calls.per_service()));
                    obj.insert("api_calls_by_operation".into(), json!(calls.snapshot()));
                }
                if let Some(b) = blast {
                    obj.insert("blast_radius".into(), json!(b));
                }
            }
            println!("{v}");
        }
        crate::args::OutputFormat::Text => {
            if !quiet
                || matches!(
                    outcome,
                    Outcome::RolledBack { .. } | Outcome::Interrupted { .. }
                )
            {
                println!("{}", outcome_colored(outcome, &text, Paint::stdout(format)));
                if let Some(b) = blast {
                    println!("{}", blast_text(b));
                }
                if let Some(calls) = calls {
                    let per: Vec<String> = calls
                        .per_service()
                        .iter()
                        .map(|(k, v)| format!("{k} {v}"))
                        .collect();
                    println!("API calls: {}", per.join(", "));
                    if verbose {
                        let ops: Vec<String> = calls
                            .snapshot()
                            .iter()
                            .map(|(k, v)| format!("{k} x{v}"))
                            .collect();
                        println!("  by operation: {}", ops.join(", "));
                    }
                }
            }
        }
    }
}

/// The outcome's line in its color: rolled back red, interrupted yellow, the rest green.
fn outcome_colored(outcome: &albflip::engine::Outcome, text: &str, paint: Paint) -> String {
    use albflip::engine::Outcome;
    match outcome {
        Outcome::RolledBack { .. } => paint.bad(text),
        Outcome::Interrupted { .. } => paint.warn(text),
        _ => paint.good(text),
    }
}

/// The blast radius line: what the run cost the new color's users.
pub fn blast_text(b: &albflip::events::BlastRadius) -> String {
    format!(
        "blast radius: {} failed requests on {} (of {} it served) over {:.0}s",
        b.failed_requests, b.color, b.requests, b.seconds
    )
}

fn human(d: std::time::Duration) -> String {
    albflip::duration::human(d)
}

/// `albflip plan` for people.
pub fn plan_text(
    spec: &albflip::engine::DeploySpec,
    resolved: &albflip::aws::resolve::Resolved,
) -> String {
    let route = resolved.snapshot.route.to_string();
    let calls = api_call_estimate(spec);
    plan_text_on(spec, &route, resolved.split, resolved.stable, Some(&calls))
}

/// The plan of `spec` on a route named `route` that is at `split` with `stable` stable, and the API
/// calls it will make when they are known.
pub fn plan_text_on(
    spec: &albflip::engine::DeploySpec,
    route: &str,
    split: albflip::model::Split,
    stable: Color,
    calls: Option<&str>,
) -> String {
    let p = &spec.plan;
    let g = &spec.gates;
    let mut out = format!(
        "Plan: {} to {} on the {}\n  now {}; stable {}\n",
        spec.strategy, p.target, route, split, stable
    );
    let w = &spec.window;
    let step_length = |bake| albflip::plan::step_length(bake, w.lag, w.period);
    for (i, s) in p.steps_to_run().iter().enumerate() {
        out.push_str(&format!(
            "  step {}: {} {}, bake {} (about {} with publication: judged on the periods after its write)\n",
            i + 1,
            p.target,
            s.percent,
            human(s.bake),
            human(step_length(s.bake))
        ));
    }
    if p.pause_after.is_some() {
        out.push_str(
            "  then: wait for `albflip promote` (100% with a final bake) or `albflip rollback`\n",
        );
    }
    out.push_str(&format!(
        "  gates: error rate <= {:.1}% ({}), latency {} <= {}{}, healthy hosts >= {}, unhealthy hosts <= {}, error rate <= stable + {:.1} pp, alarms: {}\n",
        g.max_error_rate * 100.0,
        match g.judge {
            albflip::plan::JudgeKind::Threshold => format!("threshold judge, from {} requests", g.min_requests),
            _ => format!("sequential judge, {}% confidence", g.confidence),
        },
        g.latency_statistic, human(g.max_latency),
        g.max_latency_increase.map_or(String::new(), |r| format!(" and <= {r}x stable's")),
        g.min_healthy_hosts, g.max_unhealthy_hosts,
        g.max_error_rate_increase * 100.0, if g.alarms.is_empty() { "none".to_string() } else { g.alarms.join(", ") }
    ));
    let pol = &spec.policy;
    out.push_str(&format!(
        "  polling every {} over the last {} ending {} ago (period {}); {} failing poll(s) fail a step; no data: {:?} (up to +{})\n",
        human(pol.poll_interval), human(spec.window.window), human(spec.window.lag), human(spec.window.period), pol.failure_threshold, pol.on_no_data, human(pol.max_bake_extension)
    ));
    let expected: std::time::Duration = p.steps_to_run().iter().map(|s| step_length(s.bake)).sum();
    out.push_str(&format!(
        "  minimum duration: {} of bakes; expected about {} (each step: bake + lag {} + a period {})\n",
        human(p.minimum_duration()),
        human(expected),
        human(w.lag),
        human(w.period)
    ));
    if let Some(calls) = calls {
        out.push_str(&format!("  API calls: {calls}\n"));
    }
    out.push_str("Nothing was written.\n");
    out
}

/// What the run will call, per phase.
fn api_call_estimate(spec: &albflip::engine::DeploySpec) -> String {
    let steps = spec.plan.steps_to_run();
    let polls: u64 = steps
        .iter()
        .map(|s| {
            (s.bake.as_secs_f64() / spec.policy.poll_interval.as_secs_f64().max(0.001)).ceil()
                as u64
        })
        .sum();
    let alarm_calls = if spec.gates.alarms.is_empty() {
        0
    } else {
        polls
    };
    let elb = 3 + 1 + steps.len() as u64 * 3 + 1;
    format!(
        "start: DescribeListeners + DescribeTags + DescribeTargetHealth, AddTags (state); per step: DescribeListeners (drift check), ModifyListener, DescribeListeners (read-back); per poll: 1 GetMetricData for every metric of both colors{}; end: AddTags. At least {} elasticloadbalancing and {} cloudwatch calls ({} polls) when every gate passes",
        if alarm_calls > 0 { " + 1 DescribeAlarms" } else { "" },
        elb,
        polls + alarm_calls,
        polls
    )
}

/// `albflip plan --output json`.
pub fn plan_json(
    spec: &albflip::engine::DeploySpec,
    resolved: &albflip::aws::resolve::Resolved,
) -> serde_json::Value {
    json!({
        "route": resolved.snapshot.route.resource_arn(),
        "current": {"blue": resolved.split.percent_of(Color::Blue).get(), "green": resolved.split.percent_of(Color::Green).get()},
        "stable": resolved.stable,
        "spec": spec,
        "steps_to_run": spec.plan.steps_to_run(),
        "minimum_duration_seconds": spec.plan.minimum_duration().as_secs_f64(),
        "api_calls": api_call_estimate(spec),
        "written": false,
    })
}

/// `albflip check`: each pre-flight verdict, then the gates evaluated now, colored with `paint` (PASS
/// green, FAIL red, no data yet yellow).
pub fn check_text(r: &albflip::engine::CheckReport, paint: Paint) -> String {
    let mut out = format!(
        "Pre-flight for {} on the {}\n",
        paint.color_name(r.target),
        r.route
    );
    for c in &r.checks {
        let mark = if c.passed {
            paint.good("PASS")
        } else {
            paint.bad("FAIL")
        };
        out.push_str(&format!(
            "  {mark}  {:<20} {}\n",
            c.name,
            crate::naming::text(&c.detail)
        ));
    }
    match (&r.gates, &r.metrics_error) {
        (_, Some(e)) => out.push_str(&format!(
            "Gates now: {}  metrics unavailable: {e}\n",
            paint.bad("FAIL")
        )),
        (Some(g), None) => {
            out.push_str("Gates now:\n");
            for result in &g.results {
                let verdict = format!("{:<7}", format!("{:?}", result.verdict).to_uppercase());
                out.push_str(&format!(
                    "  {} {}\n",
                    paint.verdict(result.verdict, verdict),
                    result.message
                ));
            }
        }
        (None, None) => {}
    }
    let failed = r.checks.iter().filter(|c| !c.passed).count();
    out.push_str(&if r.passed() {
        format!("Result: {}; nothing was changed.\n", paint.good("ready"))
    } else {
        format!(
            "Result: {} ({failed} check(s) failed{}); nothing was changed.\n",
            paint.bad("NOT READY"),
            if r.metrics_error.is_some()
                || r.gates
                    .as_ref()
                    .is_some_and(|g| g.first_failure().is_some())
            {
                ", gates failing"
            } else {
                ""
            }
        )
    });
    out
}

/// A shift or rollback in the chosen output format, with the API calls made.
pub fn change(
    command: &str,
    verb: &str,
    o: &ChangeOutcome,
    calls: &albflip::aws::CallCounter,
    g: &crate::args::GlobalArgs,
) -> String {
    let snapshot = calls.snapshot();
    match g.output {
        crate::args::OutputFormat::Json => format!("{}\n", change_json(command, o, &snapshot)),
        crate::args::OutputFormat::Text => change_text(verb, o, &snapshot, g.verbose > 0),
    }
}

/// One look of `albflip watch`: the recorded deployment, the live split and, while a step bakes, every
/// gate's value against its threshold and the judge's evidence.
pub fn watch_text(r: &albflip::engine::WatchReport, now: std::time::SystemTime) -> String {
    let stamp = humantime::format_rfc3339_seconds(now).to_string();
    let stamp = stamp.get(11..19).unwrap_or(&stamp).to_string();
    let live = format!("blue {}% / green {}%", r.split.blue, r.split.green);
    let Some(rec) = &r.record else {
        return format!("{stamp} no deployment recorded; live {live}\n");
    };
    let who = if rec.started_by.is_empty() {
        String::new()
    } else {
        format!(" by {}", rec.started_by)
    };
    let mut out = format!(
        "{stamp} deployment {} ({} to {}{who}): {}, step {}/{}; live {live}\n",
        rec.id,
        rec.strategy,
        rec.target,
        phase_words(rec.phase),
        rec.step,
        rec.steps.len()
    );
    let Some(step) = &r.step else {
        return out;
    };
    let secs = |s: f64| albflip::duration::human(std::time::Duration::from_secs_f64(s.max(0.0)));
    out.push_str(&format!(
        "  step {} at {}%: {} in; bake {}/{} published (step ~{})\n",
        step.step,
        step.percent,
        secs(step.elapsed_seconds),
        secs(step.covered_seconds),
        secs(step.bake_seconds),
        secs(step.step_seconds)
    ));
    if let Some(e) = &step.metrics_error {
        out.push_str(&format!("  metrics unavailable: {e}\n"));
    }
    if step.results.is_empty() && step.metrics_error.is_none() {
        out.push_str("  waiting for the first metric period after the step's write\n");
    }
    for g in &step.results {
        let value = g.value.map_or("no data".to_string(), number);
        out.push_str(&format!(
            "  {:<7} {:<21} {value:>8} vs {:<8} {}\n",
            format!("{:?}", g.verdict).to_uppercase(),
            g.gate.as_str(),
            number(g.threshold),
            g.message
        ));
    }
    for j in &step.judgements {
        let e = &j.evidence;
        out.push_str(&format!(
            "  judge   {:<21} evidence {:.2} of {:.0} needed ({}% confidence): new {}/{} errors, stable {}/{}, {} period(s)\n",
            j.gate.as_str(),
            e.statistic,
            e.threshold,
            e.confidence,
            e.new_errors,
            e.new_requests,
            e.stable_errors,
            e.stable_requests,
            e.periods
        ));
    }
    out
}

/// A gate's value or threshold, with as many decimals as its size needs.
fn number(v: f64) -> String {
    match v.abs() {
        a if a >= 100.0 => format!("{v:.0}"),
        a if a >= 1.0 => format!("{v:.2}"),
        _ => format!("{v:.4}"),
    }
}

/// The phase as the person reads it.
pub fn phase_words(phase: Phase) -> &'static str {
    match phase {
        Phase::InProgress => "in progress",
        Phase::AwaitingPromotion => "awaiting promotion",
        Phase::Complete => "completed",
        Phase::RolledBack => "rolled back",
        Phase::Interrupted => "interrupted",
        _ => "in an unknown phase",
    }
}

#[cfg(test)]
mod colored_tests {
    use super::*;
    use albflip::aws::arn::{LoadBalancerArn, TargetGroupArn};
    use albflip::aws::route::RouteId;
    use albflip::engine::CheckReport;
    use albflip::model::Stickiness;
    use albflip::plan::{GateKind, GateReport, GateResult, Verdict};
    use albflip::preflight::Check;
    use albflip::state::{DeploymentRecord, Phase};
    use albflip::traffic::{ColorStatus, LockstepRoute};

    const LB: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop/50dc6c495c0c9188";
    const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2";

    fn color(name: &str, percent: u8, healthy: u32, total: u32) -> ColorStatus {
        let arn = format!("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{name}/73e2d6bc24d8a067");
        ColorStatus {
            target_group_arn: TargetGroupArn::parse(&arn).unwrap(),
            target_group_name: name.into(),
            percent,
            weight: Some(i64::from(percent)),
            healthy,
            total,
        }
    }

    fn status(phase: Phase) -> RouteStatus {
        let route = RouteId::parse(LISTENER).unwrap();
        let lb = LoadBalancerArn::parse(LB).unwrap();
        RouteStatus {
            route: route.clone(),
            listener_arn: LISTENER.into(),
            load_balancer_arn: lb.clone(),
            blue: color("shop-blue", 75, 2, 2),
            green: color("shop-green", 25, 0, 2),
            stickiness: Stickiness::OFF,
            stickiness_recorded: None,
            stable: Color::Blue,
            stable_source: StableSource::Tag,
            single_target_group: false,
            deployment: Some(DeploymentRecord {
                id: "20261129T200000Z-abcd".into(),
                target: Color::Green,
                strategy: "gradual".into(),
                steps: vec![25, 100],
                step: 1,
                phase,
                started_by: "jenkins-shop-42".into(),
                updated: "2026-11-29T20:00:00Z".into(),
                gated: true,
            }),
            waiting_until: None,
            test_rules: Vec::new(),
            routes: vec![LockstepRoute {
                route,
                load_balancer_arn: lb,
                blue_percent: 75,
                green_percent: 25,
            }],
            left_alone: Vec::new(),
        }
    }

    const ESC: char = '\u{1b}';

    #[test]
    fn status_is_colored_only_with_colors_and_reads_the_same_without_them() {
        let s = status(Phase::RolledBack);
        let plain = status_text(&s, false, Paint::PLAIN);
        let colored = status_text(&s, false, Paint::COLORED);
        assert!(!plain.contains(ESC), "{plain}");
        assert_eq!(console::strip_ansi_codes(&colored), plain);
        // The columns stay aligned: the codes wrap padded text.
        assert!(
            plain.contains("  blue       75%     75      2/2  shop-blue\n"),
            "{plain}"
        );
        assert!(
            plain.contains("  green      25%     25      0/2  shop-green\n"),
            "{plain}"
        );
        let line = |text: &str, start: &str| {
            text.lines()
                .find(|l| console::strip_ansi_codes(l).starts_with(start))
                .unwrap()
                .to_string()
        };
        // Blue and green in their colors, a color without healthy targets while it has traffic red,
        // a rolled-back deployment red.
        assert!(line(&colored, "Stable").contains(&Paint::COLORED.color_name(Color::Blue)));
        let green = line(&colored, "  green");
        assert!(
            green.contains(&Paint::COLORED.color(Color::Green, "green ")),
            "{green:?}"
        );
        assert!(green.contains(&Paint::COLORED.bad("     0/2")), "{green:?}");
        assert!(line(&colored, "  blue ").contains(&Paint::COLORED.good("     2/2")));
        assert!(line(&colored, "Deployment").contains(&Paint::COLORED.bad("rolled-back")));
        let in_flight = status_text(&status(Phase::InProgress), false, Paint::COLORED);
        assert!(line(&in_flight, "Deployment").contains(&Paint::COLORED.warn("in-progress")));
        let done = status_text(&status(Phase::Complete), false, Paint::COLORED);
        assert!(line(&done, "Deployment").contains(&Paint::COLORED.good("complete")));
    }

    fn report(passed: bool, verdicts: &[Verdict]) -> CheckReport {
        CheckReport {
            route: LISTENER.into(),
            target: Color::Green,
            checks: vec![Check {
                name: "green health".into(),
                passed,
                detail: "2 of 2 targets healthy".into(),
            }],
            gates: Some(GateReport {
                results: verdicts
                    .iter()
                    .map(|v| GateResult {
                        gate: GateKind::ErrorRate,
                        verdict: *v,
                        value: None,
                        threshold: 0.01,
                        message: "green error rate".into(),
                    })
                    .collect(),
                has_data: false,
            }),
            metrics_error: None,
        }
    }

    #[test]
    fn check_colors_pass_green_fail_red_and_no_data_yellow() {
        let ready = report(true, &[Verdict::Pass, Verdict::NoData]);
        let plain = check_text(&ready, Paint::PLAIN);
        let colored = check_text(&ready, Paint::COLORED);
        assert!(!plain.contains(ESC));
        assert_eq!(console::strip_ansi_codes(&colored), plain);
        assert!(plain.contains("  PASS  green health"), "{plain}");
        assert!(plain.contains("  NODATA  green error rate"), "{plain}");
        assert!(colored.contains(&Paint::COLORED.good("PASS")));
        assert!(colored.contains(&Paint::COLORED.warn("NODATA ")));
        assert!(colored.contains(&Paint::COLORED.good("ready")));
        let failing = check_text(&report(false, &[Verdict::Fail]), Paint::COLORED);
        assert!(failing.contains(&Paint::COLORED.bad("FAIL")), "{failing}");
        assert!(
            failing.contains(&Paint::COLORED.bad("FAIL   ")),
            "{failing}"
        );
        assert!(
            failing.contains(&Paint::COLORED.bad("NOT READY")),
            "{failing}"
        );
    }
}
