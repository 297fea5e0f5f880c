//! Renders engine events: timestamped lines for people (and Jenkins logs), NDJSON for machines.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use albflip::events::{Event, Observer, SplitView};
use albflip::plan::Verdict;

use crate::args::OutputFormat;

/// Prints each event as it happens, and in text mode a heartbeat line when nothing was printed for
/// [`Printer::heartbeat_every`] during a run, so a pipeline log shows albflip is alive.
pub struct Printer {
    pub format: OutputFormat,
    pub verbose: bool,
    pub quiet: bool,
    /// When the last line was printed, and the step being baked (number, percent, started).
    last: Mutex<(Instant, Option<Baking>)>,
    /// The deployment's id once the engine announced it: every NDJSON event carries it.
    deployment_id: Mutex<Option<String>>,
}

/// An event as one NDJSON object: the event, its time (`ts`), and the deployment's id when known.
pub fn json(at: SystemTime, event: &Event, deployment_id: Option<&str>) -> serde_json::Value {
    let mut v = serde_json::to_value(event).unwrap_or_default();
    crate::naming::json::event(&mut v, event);
    if let Some(obj) = v.as_object_mut() {
        if let Some(id) = deployment_id {
            obj.entry("deployment_id").or_insert_with(|| id.into());
        }
        obj.insert(
            "ts".into(),
            humantime::format_rfc3339_millis(at).to_string().into(),
        );
    }
    v
}

/// The step under way: number, percent, since when, and whether its weights are applied yet.
type Baking = (usize, u8, Instant, bool);

/// The heartbeat line: a step's weights are said to be applied only once they are; before, the write
/// is still under way (it may hang on a throttled API).
fn heartbeat_line(baking: Option<Baking>) -> String {
    match baking {
        Some((step, percent, since, true)) => format!(
            "step {step}: at {percent}%, {}s in; still watching the gates",
            since.elapsed().as_secs()
        ),
        Some((step, percent, since, false)) => format!(
            "step {step}: still writing the weights for {percent}%, {}s in; not applied yet",
            since.elapsed().as_secs()
        ),
        None => "still working".to_string(),
    }
}

impl Printer {
    pub fn new(format: OutputFormat, verbose: bool, quiet: bool) -> Printer {
        Printer {
            format,
            verbose,
            quiet,
            last: Mutex::new((Instant::now(), None)),
            deployment_id: Mutex::new(None),
        }
    }

    /// The longest silence in a text log: 30 s (ALBFLIP_HEARTBEAT_SECONDS lowers it, for tests).
    pub fn heartbeat_every() -> Duration {
        std::env::var("ALBFLIP_HEARTBEAT_SECONDS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|s| (1..=30).contains(s))
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(30))
    }

    /// Prints a heartbeat when the log has been silent for `every` (text mode only). Call it
    /// periodically from a background task.
    pub fn beat(&self, every: Duration) {
        if self.format != OutputFormat::Text || self.quiet {
            return;
        }
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        if last.0.elapsed() < every {
            return;
        }
        let line = heartbeat_line(last.1);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{} {line}", clock(SystemTime::now()));
        let _ = out.flush();
        last.0 = Instant::now();
    }

    fn note(&self, event: &Event) {
        if let Ok(mut last) = self.last.lock() {
            last.0 = Instant::now();
            match event {
                Event::StepStarted { step, percent, .. } => {
                    last.1 = Some((*step, *percent, Instant::now(), false))
                }
                Event::WeightsApplied { .. } => {
                    if let Some(baking) = last.1.as_mut() {
                        baking.3 = true;
                    }
                }
                Event::StepPassed { .. }
                | Event::RolledBack { .. }
                | Event::Completed { .. }
                | Event::Interrupted { .. } => last.1 = None,
                _ => {}
            }
        }
    }
}

/// `HH:MM:SS` (UTC) of a line's time.
pub fn clock(at: SystemTime) -> String {
    let full = humantime::format_rfc3339_seconds(at).to_string();
    full.get(11..19).unwrap_or(&full).to_string()
}

fn split(s: &SplitView) -> String {
    format!("blue {}% / green {}%", s.blue, s.green)
}

/// One line for people, or `None` to stay silent. Resources by name, as `status` shows them; `-v`
/// keeps the ARNs.
pub fn line(event: &Event, verbose: bool) -> Option<String> {
    Some(crate::arn_names::for_people(
        words(event, verbose)?,
        verbose,
    ))
}

/// [`line`] as the event says it, ARNs and all.
fn words(event: &Event, verbose: bool) -> Option<String> {
    Some(match event {
        Event::DeploymentStarted {
            deployment_id,
            route,
            target,
            stable,
            strategy,
            split: s,
            ..
        } => {
            let id = deployment_id
                .as_ref()
                .map(|id| format!("deployment {id}: "))
                .unwrap_or_default();
            format!(
                "{id}deploying {target} ({strategy}) on {route}; stable {stable}; now {}",
                split(s)
            )
        }
        Event::StepStarted { step, of, percent } => {
            format!("step {step}/{of}: moving to {percent}%")
        }
        Event::WeightsApplied { step, split: s } => {
            format!("step {step}: weights applied and verified: {}", split(s))
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
            let shown: Vec<&str> = results
                .iter()
                .filter(|r| {
                    verbose
                        || r.verdict == Verdict::Fail
                        || r.verdict == Verdict::NoData
                        || matches!(r.gate, albflip::plan::GateKind::ErrorRate)
                })
                .map(|r| r.message.as_str())
                .collect();
            format!(
                "step {step}: gates at {elapsed_seconds:.0}s (bake {covered_seconds:.0}s/{bake_seconds:.0}s published, step ~{step_seconds:.0}s): {} -> {decision}",
                shown.join("; ")
            )
        }
        Event::WaitingForData {
            step,
            elapsed_seconds,
            gives_up_seconds,
            reason,
            ..
        } if verbose => format!(
            "step {step}: waiting for data ({reason}), gives up in {}",
            albflip::duration::human(std::time::Duration::from_secs(
                (gives_up_seconds - elapsed_seconds).max(0.0).ceil() as u64
            ))
        ),
        Event::DriftAdopted {
            step,
            expected,
            found,
        } => format!(
            "step {step}: DRIFT ADOPTED: expected {}, found {} (changed outside this run); continuing from the live split",
            split(expected),
            split(found)
        ),
        Event::MetricsUnavailable { step, error } => {
            format!("step {step}: metrics unavailable: {error}")
        }
        Event::StepPassed { step, percent } => format!("step {step}: passed at {percent}%"),
        Event::RollingBack { failure } => {
            let what = match failure {
                albflip::plan::decide::Failure::Hook { .. } => "HOOK FAILED",
                albflip::plan::decide::Failure::Smoke { .. } => "SMOKE CHECK FAILED",
                albflip::plan::decide::Failure::Wait { .. } => "NOT PROMOTED",
                _ => "GATE FAILED",
            };
            format!("{what}: {}; rolling back", crate::naming::failure(failure))
        }
        Event::RolledBack { to, split: s } => {
            format!("rolled back: all traffic on {to} ({}, verified)", split(s))
        }
        Event::Completed { stable } => format!("completed: {stable} is now stable"),
        Event::Interrupted {
            rolled_back,
            split: s,
            step,
        } => {
            format!(
                "interrupted at step {step}: {}",
                if *rolled_back {
                    format!("rolled back, {}", split(s))
                } else {
                    format!("weights held at {}", split(s))
                }
            )
        }
        Event::HookPassed {
            stage,
            command,
            seconds,
            ..
        } => format!("hook {stage} `{command}` passed ({seconds:.1}s)"),
        Event::CapacityWaiting {
            asg,
            target_group,
            healthy,
            wanted,
            seconds_left,
        } => format!(
            "waiting for {asg}: {healthy}/{wanted} healthy in {target_group}, {seconds_left}s left"
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
        Event::CapacityHeld { asg, min, was } => format!(
            "capacity held: {asg} min {was} -> {min} for the deployment (nothing scales it in while traffic moves)"
        ),
        Event::CapacityReleased { asg, min, was } => {
            format!("capacity hold ended: {asg} min {was} -> {min}, as it was")
        }
        Event::TestTrafficApplied { listener, to } if listener.starts_with("requests with") => {
            format!("test header: {listener} now go to {to} (rule created, read back)")
        }
        Event::TestTrafficApplied { listener, to } => {
            format!("test listener {listener}: all test traffic on {to} (verified)")
        }
        Event::TestRouteRemoved { route } => {
            format!("test header rule removed ({route}), read back gone")
        }
        Event::SmokePassed { url, attempts } => {
            format!("smoke check passed: {attempts} GET {url} answered 2xx")
        }
        Event::ScaledDown { color, asg } => {
            format!("scaled {color} ({asg}) to 0 after a read-back showed it at weight 0 on every route")
        }
        Event::Warning { message } => format!("WARNING: {}", crate::naming::text(message)),
        Event::AwaitingPromotion { target, percent } => {
            format!("canary passed: {target} at {percent}%, awaiting promotion (`albflip promote` or `albflip rollback`)")
        }
        Event::WaitingForPromotion {
            step,
            percent,
            seconds_left,
            on_timeout,
            ..
        } => format!(
            "step {step}: waiting for promotion at {percent}% with the gates on, {} left (then {on_timeout})",
            wait_left(*seconds_left)
        ),
        Event::Promoted { by } if by == "timeout" => {
            "promoted: the wait timed out (--on-timeout promote); going on".to_string()
        }
        Event::Promoted { by } => format!("promoted by {by}; going on"),
        _ => return None,
    })
}

/// The line an event puts on stderr whatever the output format, or `None`: a deployment record that
/// could not be written once traffic was safe.
pub fn stderr_line(event: &Event) -> Option<String> {
    let Event::RecordFailed { route, error } = event else {
        return None;
    };
    let route = albflip::aws::route::RouteId::parse(route)
        .map(|r| r.to_string())
        .unwrap_or_else(|_| route.clone());
    Some(format!("albflip: warning: traffic is safe, but recording the deployment state on {route} failed: {error}; `albflip status` may show a stale state"))
}

impl Observer for Printer {
    fn on_event(&self, at: SystemTime, event: &Event) {
        let mut out = std::io::stdout().lock();
        match self.format {
            OutputFormat::Json => {
                let Ok(mut id) = self.deployment_id.lock() else {
                    return;
                };
                if let Event::DeploymentStarted {
                    deployment_id: Some(started),
                    ..
                } = event
                {
                    *id = Some(started.clone());
                }
                let _ = writeln!(out, "{}", json(at, event, id.as_deref()));
            }
            OutputFormat::Text if !self.quiet => {
                if let Some(l) = line(event, self.verbose) {
                    let _ = writeln!(out, "{} {l}", clock(at));
                }
            }
            OutputFormat::Text => {}
        }
        let _ = out.flush();
        drop(out);
        if let Some(l) = stderr_line(event) {
            eprintln!("{l}");
        }
        self.note(event);
    }
}

/// Time left of a wait, for people: `1h 59m`, `4m 10s`, `12s`.
pub fn wait_left(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_time_left_of_a_wait_reads_in_the_largest_units() {
        assert_eq!(super::wait_left(7140), "1h 59m");
        assert_eq!(super::wait_left(250), "4m 10s");
        assert_eq!(super::wait_left(12), "12s");
    }

    use super::*;

    #[test]
    fn the_wait_for_data_is_a_line_with_v_only() {
        let waiting = Event::WaitingForData {
            step: 2,
            elapsed_seconds: 250.0,
            step_seconds: 90.0,
            gives_up_seconds: 270.0,
            reason: "12 of the 50 requests to green needed in the window".into(),
        };
        assert_eq!(line(&waiting, false), None);
        assert_eq!(
            line(&waiting, true).as_deref(),
            Some("step 2: waiting for data (12 of the 50 requests to green needed in the window), gives up in 20s")
        );
    }

    #[test]
    fn the_start_names_the_route_and_v_shows_its_arn() {
        let arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/prod-shop-alb/50dc6c495c0c9188/f2f7dc8efc522ab2";
        let group = |name: &str| albflip::events::BackendName {
            name: name.into(),
            id: name.into(),
        };
        let started = Event::DeploymentStarted {
            deployment_id: Some("d-1".into()),
            started_by: None,
            route: format!("default action of listener {arn}"),
            target: albflip::model::Color::Green,
            stable: albflip::model::Color::Blue,
            strategy: "canary".into(),
            steps: vec![10, 100],
            split: albflip::events::SplitView {
                blue: 100,
                green: 0,
            },
            backends: albflip::events::Backends {
                blue: group("blue-tg"),
                green: group("green-tg"),
            },
        };
        let plain = line(&started, false).unwrap_or_default();
        assert!(
            plain.contains("on default action of listener f2f7dc8efc522ab2 on prod-shop-alb;"),
            "{plain}"
        );
        assert!(!plain.contains("arn:aws"), "{plain}");
        let verbose = line(&started, true).unwrap_or_default();
        assert!(verbose.contains(arn), "{verbose}");
    }

    #[test]
    fn the_heartbeat_says_applied_only_once_the_weights_are() {
        let now = Instant::now();
        assert!(
            heartbeat_line(Some((1, 10, now, false))).contains("still writing the weights for 10%")
        );
        assert!(!heartbeat_line(Some((1, 10, now, false))).contains("at 10%"));
        assert!(heartbeat_line(Some((1, 10, now, true))).contains("at 10%"));
    }
}
