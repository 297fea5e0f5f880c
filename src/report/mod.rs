//! `--report FILE.html`: a self-contained HTML report of a run (no external CSS, JS, fonts or images).
//! The header says which deployment (its id, who started it, albflip's version) on which route (its
//! names: load balancer, listener, target groups; the ARNs only in a resource list and in `title`
//! attributes), with the outcome and its duration; then a timeline of the steps, each step's gates at
//! its deciding poll (with the judge's evidence), a chart of the new color's share and both colors' 5XX
//! rate, latency and requests (`chart.rs`), every poll's counts, and every event as a sentence.
//!
//! `facts.rs` gathers what the events say, `text.rs` words it (ARNs turned into names by
//! `crate::arn_names`), `sections.rs` writes the tables. Everything that comes from outside (names, messages, reasons) is
//! escaped.

mod chart;
mod facts;

mod sections;
mod text;

use std::fmt::Write;
use std::time::SystemTime;

use albflip::engine::{DeploySpec, Outcome};
use albflip::events::Event;
use albflip::model::Color;
use albflip::Error;

use facts::{since, Facts};

/// albflip's version, as the report states it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

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

/// What the command knows of the run beyond its events.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// The route as the user named it, when by names (`listener on port 80 of load balancer x`);
    /// otherwise its name is read from its id.
    pub named: Option<String>,
    /// The route's id (the ALB: the listener's or rule's ARN), for a run that stopped before its first
    /// event named it.
    pub route: String,
    /// Who ran the command: shown when no deployment record names who started it (a gated shift).
    pub runner: String,
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

/// A length of time for people, rounded: `41s`, `2m 5s`.
fn duration(seconds: f64) -> String {
    albflip::duration::human(std::time::Duration::from_secs_f64(seconds.max(0.0)))
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
        Ok(Outcome::PromotionHandedOver {
            target,
            waiting_run,
        }) => (
            "PROMOTION HANDED OVER",
            "ok",
            format!("the promotion of {target} was handed to the run waiting for it (started by {waiting_run}), which goes on"),
            crate::exit::SUCCESS,
        ),
        Ok(Outcome::Shifted { split, stable }) => (
            "SHIFTED",
            "ok",
            format!(
                "the shift passed its bake: {}; stable {stable}",
                text::split(split)
            ),
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
                text::split(split)
            ),
            crate::exit::INTERRUPTED,
        ),
        Ok(other) => (
            "FINISHED",
            "ok",
            serde_json::to_string(other).unwrap_or_default(),
            crate::exit::for_outcome(other),
        ),
        Err(e) => {
            let changed = if e.may_have_changed_aws() {
                " AWS may have been changed: check `albflip status`."
            } else {
                " Nothing was changed."
            };
            (
                "ERROR",
                "fail",
                format!("{}.{changed}", crate::naming::render(e)),
                crate::exit::for_error(e, false),
            )
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

/// `<span title="ID">NAME</span>`, both escaped.
fn named(name: &str, id: &str) -> String {
    if name == id {
        escape(name)
    } else {
        format!("<span title=\"{}\">{}</span>", escape(id), escape(name))
    }
}

/// The route's name for people: as the user named it, else from its id.
fn route_name(ctx: &Context, route_id: &str) -> String {
    ctx.named
        .clone()
        .or_else(|| crate::arn_names::of_arn(route_id))
        .unwrap_or_else(|| crate::arn_names::without_arns(route_id))
}

/// The header: which deployment, who, which version, which route and target groups, when, the gates.
fn header(h: &mut String, ctx: &Context, spec: &DeploySpec, f: &Facts, word: &str) {
    let route_id = f.route.clone().unwrap_or_else(|| ctx.route.clone());
    let route = route_name(ctx, &route_id);
    let when = |t: Option<SystemTime>| t.map(timestamp).unwrap_or_else(|| "—".into());
    let took = match (f.start, f.end) {
        (Some(a), Some(b)) => duration(since(a, b)),
        _ => "—".into(),
    };
    let deployment = match &f.deployment_id {
        Some(id) => format!("<span id=\"deployment-id\">{}</span>", escape(id)),
        None if f.route.is_some() => "none: a gated shift records no deployment".into(),
        None => "none: the run stopped before it started".into(),
    };
    let who = match &f.started_by {
        Some(who) => escape(who),
        None => format!("{} (ran this command)", escape(&ctx.runner)),
    };
    let backends = f.backends.as_ref().map(|b| {
        let label = if b.blue.id.starts_with("arn:") {
            "Target groups"
        } else {
            "Backends"
        };
        let one = |c: Color| {
            let n = b.of(c);
            format!("{c} <b>{}</b>", named(&n.name, &n.id))
        };
        (label, one(Color::Blue), one(Color::Green))
    });
    let g = &spec.gates;
    let _ = writeln!(
        h,
        "<h1>albflip deployment report</h1>\n<dl id=\"header\"><dt>Deployment</dt><dd>{deployment}</dd><dt>Started by</dt><dd id=\"started-by\">{who}</dd><dt>albflip</dt><dd id=\"version\">{VERSION}</dd><dt>Route</dt><dd id=\"route\">{}</dd>{}<dt>Strategy</dt><dd>{}</dd><dt>Colors</dt><dd>target <b>{}</b>, stable <b>{}</b></dd><dt>Outcome</dt><dd>{word}</dd><dt>Started</dt><dd>{}</dd><dt>Ended</dt><dd>{}</dd><dt>Duration</dt><dd id=\"duration\">{took}</dd><dt>Gates</dt><dd>5XX rate ≤ {}% (judged from {} requests), latency {} ≤ {}, healthy hosts ≥ {}, unhealthy hosts ≤ {}, 5XX increase over stable ≤ {} pp{}{}</dd><dt>Bake</dt><dd>{} per step, polled every {} over {} ending {} ago</dd></dl>",
        named(&route, &route_id),
        backends
            .as_ref()
            .map(|(label, blue, green)| format!("<dt>{label}</dt><dd id=\"backends\">{blue}, {green}</dd>"))
            .unwrap_or_default(),
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
    // The ids behind the names, for whoever needs to look them up.
    let mut ids = format!("<dt>Route</dt><dd>{}</dd>", escape(&route_id));
    if let Some(b) = &f.backends {
        for c in [Color::Blue, Color::Green] {
            let _ = write!(ids, "<dt>{c}</dt><dd>{}</dd>", escape(&b.of(c).id));
        }
    }
    let _ = writeln!(
        h,
        "<details id=\"resources\"><summary>Resource ids</summary><dl>{ids}</dl></details>"
    );
}

const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#111827;max-width:1100px;margin:24px auto;padding:0 16px}h1{font-size:22px;margin:0 0 12px}h2{font-size:17px;margin:28px 0 8px}table{border-collapse:collapse;width:100%}th,td{border:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f4f6}td.num{text-align:right;font-variant-numeric:tabular-nums}dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}dt{color:#4b5563}dd{margin:0;word-break:break-word}details{margin:8px 0}summary{cursor:pointer;color:#4b5563}.banner{border-radius:6px;padding:12px 16px;margin:16px 0;border:2px solid}.banner-ok{background:#f0fdf4;border-color:#16a34a}.banner-fail{background:#fef2f2;border-color:#dc2626}.banner-warn{background:#fffbeb;border-color:#d97706}#verdict{font-size:24px;font-weight:bold;letter-spacing:.04em}.banner-ok #verdict{color:#15803d}.banner-fail #verdict{color:#b91c1c}.banner-warn #verdict{color:#b45309}.pass{color:#15803d;font-weight:bold}.fail{color:#b91c1c;font-weight:bold}.nodata,.skipped{color:#6b7280;font-weight:bold}tr.row-fail td{background:#fef2f2}.muted{color:#6b7280}.legend span{margin-right:16px}.swatch{display:inline-block;width:18px;height:3px;vertical-align:middle;margin-right:4px}";

/// Renders the report of a run from its events and result.
pub fn render(
    ctx: &Context,
    spec: &DeploySpec,
    events: &[(SystemTime, Event)],
    result: &Result<Outcome, Error>,
) -> String {
    let f = facts::gather(spec, events);
    let (word, class, sentence, code) = verdict(result);
    let route_id = f.route.clone().unwrap_or_else(|| ctx.route.clone());
    let route = route_name(ctx, &route_id);
    let mut h = String::new();
    let _ = writeln!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>albflip report: {word}: {}</title><style>{STYLE}</style></head><body>",
        escape(&route)
    );
    header(&mut h, ctx, spec, &f, word);
    if let Some(b) = albflip::events::blast_radius(events.iter().map(|(_, e)| e)) {
        let _ = writeln!(
            h,
            "<dl id=\"blast-radius\"><dt>Blast radius</dt><dd>{} failed requests on {} (of {} it served) over {}</dd></dl>",
            text::count(b.failed_requests),
            b.color,
            text::count(b.requests),
            duration(b.seconds)
        );
    }
    let _ = writeln!(
        h,
        "<div class=\"banner banner-{class}\"><div id=\"verdict\">{word}</div><div id=\"outcome\">{}</div><div class=\"muted\">exit code {code}: {}</div></div>",
        escape(&crate::arn_names::without_arns(&sentence)),
        exit_meaning(code)
    );
    sections::timeline(&mut h, &f);
    sections::steps(&mut h, spec, &f);
    let _ = writeln!(
        h,
        "<h2>Chart</h2>\n<p class=\"legend\"><span><i class=\"swatch\" style=\"background:{}\"></i>{} share</span><span><i class=\"swatch\" style=\"background:#ea580c\"></i>{} 5XX rate</span><span><i class=\"swatch\" style=\"background:#7c3aed\"></i>{} latency</span><span><i class=\"swatch\" style=\"background:#0891b2\"></i>{} requests</span><span><i class=\"swatch\" style=\"background:repeating-linear-gradient(90deg,#6b7280 0 5px,transparent 5px 8px)\"></i>{} (stable), same panels</span><span><i class=\"swatch\" style=\"background:repeating-linear-gradient(90deg,#b91c1c 0 6px,transparent 6px 10px)\"></i>threshold</span><span class=\"pass\">● pass</span><span class=\"fail\">● fail</span></p>\n{}",
        if f.target == Color::Blue { "#2563eb" } else { "#16a34a" },
        f.target,
        f.target,
        f.target,
        f.target,
        f.stable,
        chart::svg(&f.chart)
    );
    sections::samples(&mut h, spec, &f);
    sections::events(&mut h, spec, &f, &route, events);
    let _ = writeln!(
        h,
        "<p class=\"muted\">generated by albflip {VERSION}</p>\n</body></html>"
    );
    h
}

#[cfg(test)]
mod tests;
