//! What the Auto Scaling side of the end of a deployment prints: `albflip cleanup`, and `albflip
//! rollback`, which scales a cleaned-up color back up (with a countdown on stderr) before it moves
//! traffic. The commands themselves are `commands/cleanup.rs` and `commands/rollback.rs`.

use std::collections::BTreeMap;

use albflip::capacity::{CapacityRecord, Progress};
use albflip::cleanup::{CapacityRestore, CleanupOutcome, RollbackOutcome};
use albflip::model::Color;
use albflip::ports::PoolInfo;
use serde_json::json;

use crate::args::{GlobalArgs, OutputFormat};
use crate::render;

/// `albflip cleanup` in the chosen output format.
pub fn cleanup_output(
    outcome: &CleanupOutcome,
    calls: &BTreeMap<String, u64>,
    g: &GlobalArgs,
) -> String {
    match g.output {
        OutputFormat::Json => format!("{}\n", cleanup_json(outcome, calls)),
        OutputFormat::Text => cleanup_text(outcome, calls, g.verbose > 0),
    }
}

/// `albflip rollback` in the chosen output format: the capacity restored, then the traffic change.
pub fn rollback_output(
    outcome: &RollbackOutcome,
    calls: &BTreeMap<String, u64>,
    force: bool,
    g: &GlobalArgs,
) -> String {
    let capacity = outcome.capacity.as_ref();
    match g.output {
        OutputFormat::Json => {
            let mut v = render::change_json("rollback", &outcome.change, calls);
            if let Some(obj) = v.as_object_mut() {
                obj.insert("capacity".into(), json!(capacity));
                obj.insert("released_holds".into(), json!(outcome.released));
                obj.insert(
                    "removed_test_rules".into(),
                    json!(outcome.removed_test_rules),
                );
            }
            format!("{v}\n")
        }
        OutputFormat::Text => {
            let restored = capacity.map(|c| restore_text(c, force)).unwrap_or_default();
            let change = render::change_text("Rolled back", &outcome.change, calls, g.verbose > 0);
            let holds: String = outcome
                .released
                .iter()
                .map(|h| {
                    format!(
                        "  capacity hold ended: {} min {} -> {}, as before the deployment\n",
                        h.pool, h.min_before, h.min_after
                    )
                })
                .collect();
            let rules: String = outcome
                .removed_test_rules
                .iter()
                .map(|r| format!("  test header rule removed: {r}\n"))
                .collect();
            format!("{restored}{change}{holds}{rules}")
        }
    }
}

/// One look while waiting: `waiting for blue (prod-shop-blue-asg): 1/2 healthy, 540 s left`.
pub fn countdown(color: Color, p: &Progress) -> String {
    format!(
        "waiting for {color} ({}): {}/{} healthy, {} s left",
        p.asg, p.healthy, p.wanted, p.seconds_left
    )
}

/// The scale-up before a rollback, for people.
fn restore_text(c: &CapacityRestore, force: bool) -> String {
    let (color, asg, want, pool) = (c.color, &c.record.asg, c.record.desired, c.pool);
    let Some(r) = &c.restored else {
        let then = if force {
            "then move traffic WITHOUT waiting for healthy targets (--force)".to_string()
        } else {
            format!("then wait for {want} healthy targets before moving traffic")
        };
        return format!(
            "Dry run: would scale {color}'s {pool} {asg} back up from desired {} to its recorded desired {want} (min {}, max {}), {then}\n",
            c.before.desired, c.record.min, c.record.max
        );
    };
    let health = match r.healthy {
        Some(h) => format!("{h}/{want} healthy targets before traffic moved"),
        None => "not waited for healthy targets (--force)".to_string(),
    };
    format!(
        "Scaled {color}'s {pool} {asg} back up to its recorded capacity: desired {} -> {} (min {}, max {})\n  {health}\n",
        c.before.desired, r.asg.desired, r.asg.min, r.asg.max
    )
}

/// `albflip cleanup` for people.
pub fn cleanup_text(o: &CleanupOutcome, calls: &BTreeMap<String, u64>, verbose: bool) -> String {
    let (old, asg, pool) = (o.old, &o.asg, o.pool);
    let mut out = String::new();
    if !o.scaled_down {
        out.push_str(&format!(
            "{old}'s {pool} {asg} is already at zero; nothing to do.\n"
        ));
    } else {
        let lead = if o.dry_run {
            format!("Dry run: would scale {old}'s {pool} {asg} to zero")
        } else {
            format!("Scaled {old}'s {pool} {asg} to zero")
        };
        let b = &o.before;
        let min = if b.min > 0 {
            format!("min {} -> 0", b.min)
        } else {
            "min 0".to_string()
        };
        out.push_str(&format!(
            "{lead}: desired {} -> 0 ({min}, max {} kept)\n",
            b.desired, b.max
        ));
        out.push_str(&format!(
            "  {old} ({}) has weight 0 on {}; {} is stable{}\n",
            o.target_group,
            routes_phrase(o.routes.len()),
            o.stable,
            if o.dry_run {
                ""
            } else {
                " (read back right before the resize)"
            }
        ));
        if let Some(r) = &o.record {
            out.push_str(&format!(
                "  {} {}={} on the {}; `albflip rollback --to {old}` scales it back up\n",
                if o.dry_run {
                    "would record"
                } else {
                    "recorded"
                },
                CapacityRecord::tag_key(old),
                r.to_tag().unwrap_or_default(),
                o.route
            ));
        }
    }
    if o.dry_run {
        out.push_str("Nothing was written.\n");
    }
    out.push_str(&calls_line(calls, verbose));
    crate::arn_names::for_people(out, verbose)
}

fn routes_phrase(n: usize) -> String {
    if n == 1 {
        "the route".to_string()
    } else {
        format!("all {n} routes")
    }
}

fn calls_line(calls: &BTreeMap<String, u64>, verbose: bool) -> String {
    let total: u64 = calls.values().sum();
    let mut out = format!("  {total} API call{}", if total == 1 { "" } else { "s" });
    if verbose {
        let list: Vec<String> = calls.iter().map(|(k, v)| format!("{k} x{v}")).collect();
        out.push_str(&format!(": {}", list.join(", ")));
    }
    out.push('\n');
    out
}

/// `albflip cleanup --output json`.
pub fn cleanup_json(o: &CleanupOutcome, calls: &BTreeMap<String, u64>) -> serde_json::Value {
    let sizes = |g: &PoolInfo| json!({"desired": g.desired, "min": g.min, "max": g.max});
    json!({
        "command": "cleanup",
        "route": o.route.resource_arn(),
        "old": o.old,
        "stable": o.stable,
        "asg": o.asg,
        "target_group": o.target_group,
        "before": sizes(&o.before),
        "after": o.after.as_ref().map(sizes),
        "scaled_down": o.scaled_down,
        "record": o.record.as_ref().map(|r| json!({
            "tag": CapacityRecord::tag_key(o.old),
            "value": r.to_tag().unwrap_or_default(),
        })),
        "dry_run": o.dry_run,
        "routes": o.routes.iter().map(|r| r.resource_arn()).collect::<Vec<_>>(),
        "api_calls": calls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_countdown_names_the_color_the_group_and_the_time_left() {
        let p = Progress {
            asg: "prod-shop-blue-asg".into(),
            target_group: "prod-shop-blue-tg".into(),
            healthy: 1,
            total: 2,
            wanted: 2,
            seconds_left: 540,
        };
        assert_eq!(
            countdown(Color::Blue, &p),
            "waiting for blue (prod-shop-blue-asg): 1/2 healthy, 540 s left"
        );
    }
}
