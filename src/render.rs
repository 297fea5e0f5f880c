//! What albflip prints: lines for people, one JSON object for machines.

use std::collections::BTreeMap;

use albflip::model::Color;
use albflip::resolve::StableSource;
use albflip::traffic::{describe_forward, ChangeOutcome, RouteStatus, Verification};
use serde_json::json;

/// Renders `status` for people.
pub fn status_text(s: &RouteStatus) -> String {
    let mut out = String::new();
    out.push_str(&format!("Route       {}\n", s.route));
    out.push_str(&format!(
        "Stable      {}{}\n",
        s.stable,
        match s.stable_source {
            StableSource::Tag => " (albflip:stable tag)",
            StableSource::Default => " (no albflip:stable tag: blue by default)",
        }
    ));
    out.push_str(&format!("Stickiness  {}\n", s.stickiness));
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
        out.push_str(&format!(
            "  {:<6} {:>6}% {:>6} {:>8}  {}  {}\n",
            color.as_str(),
            c.percent,
            weight,
            format!("{}/{}", c.healthy, c.total),
            c.target_group_name,
            c.target_group_arn
        ));
    }
    out
}

/// Renders `status` as one JSON object.
pub fn status_json(s: &RouteStatus) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("route".into(), json!(s.route.resource_arn()));
        obj.insert(
            "route_kind".into(),
            json!(match s.route {
                albflip::route::RouteId::Listener(_) => "listener",
                albflip::route::RouteId::Rule(_) => "rule",
            }),
        );
    }
    v
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
        out.push_str(&format!("{w}\n"));
    }
    let route = &o.route;
    if o.dry_run {
        out.push_str(&format!(
            "Dry run: would {verb} the {route}\n  {} -> {}\n",
            o.before, o.after
        ));
        out.push_str(&format!(
            "  would write: {}\n",
            describe_forward(&o.forward)
        ));
        if o.stable_tag_written {
            out.push_str(&format!("  would tag albflip:stable={}\n", o.stable));
        }
        out.push_str("Nothing was written.\n");
    } else if !o.written {
        out.push_str(&format!(
            "Already at {} on the {route}; nothing to write.\n",
            o.after
        ));
    } else {
        let how = match o.verification {
            Verification::ReadBack => "verified by read-back",
            Verification::Response => "verified from the write's response",
            Verification::NotNeeded => "no write",
        };
        out.push_str(&format!(
            "{verb}: {} -> {}\n  on the {route}\n  {how}; stickiness {} kept\n",
            o.before, o.after, o.stickiness
        ));
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
    out
}

/// Renders a shift or rollback as one JSON object.
pub fn change_json(
    command: &str,
    o: &ChangeOutcome,
    calls: &BTreeMap<String, u64>,
) -> serde_json::Value {
    let split = |s: albflip::model::Split| json!({"blue": s.percent_of(Color::Blue).get(), "green": s.percent_of(Color::Green).get()});
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
        "warnings": o.warnings,
        "api_calls": calls,
    })
}
