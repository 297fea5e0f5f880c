//! What the live view shows, as a pure function of the engine's events: the step under way with its
//! bake's progress bar, every gate's value against its threshold, the wait for data with when it gives
//! up, and the lines printed above. `live/mod.rs` only draws it (with indicatif) and prints the lines.

use std::time::SystemTime;

use albflip::events::{Event, WindowCounts};
use albflip::model::Color;
use albflip::plan::judge::Judgement;
use albflip::plan::{GateResult, Verdict};

use super::gates;
use crate::paint::Paint;
use crate::progress::{line, stderr_line, wait_left};

/// Whole seconds for people: `20s`, `1m`, `4m 10s`.
fn human(seconds: f64) -> String {
    albflip::duration::human(std::time::Duration::from_secs(
        seconds.max(0.0).round() as u64
    ))
}

/// The bar's width in cells.
const BAR_CELLS: usize = 30;

/// The state of the view, changed by each event ([`Board::apply`]).
#[derive(Debug)]
pub struct Board {
    verbose: bool,
    stable: Color,
    step: Option<StepView>,
    interrupted: bool,
}

/// What an event does to the bar on the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarChange {
    /// Leave it (redrawn from the board).
    Keep,
    /// Clear the old bar, if any, and show a new one.
    New,
    /// Clear it for good: what follows is printed below where it was.
    Clear,
}

/// What the terminal must do after an event: the bar, then lines to print (above the bar while there is
/// one) on stdout and on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// The bar.
    pub bar: BarChange,
    /// Lines for stdout.
    pub lines: Vec<String>,
    /// Lines for stderr.
    pub errors: Vec<String>,
}

impl Update {
    fn keep(lines: Vec<String>) -> Update {
        Update {
            bar: BarChange::Keep,
            lines,
            errors: Vec::new(),
        }
    }
}

/// The step under way, as the events told it.
#[derive(Debug, Clone)]
struct StepView {
    step: usize,
    of: usize,
    percent: u8,
    /// What the step is doing, for people: applying weights, baking, ...
    status: String,
    /// When the weights were verified: the bar runs from then.
    applied: Option<SystemTime>,
    /// The step's expected length in seconds (0 until an event says it).
    length: f64,
    /// How much of the bake published periods cover, and the bake, in seconds (once a poll judged).
    covered: Option<(f64, f64)>,
    gates: Vec<GateResult>,
    judgements: Vec<Judgement>,
    counts: Option<WindowCounts>,
    waiting: Option<Waiting>,
    /// The wait for promotion: seconds left and what happens then, as of `at`.
    promotion: Option<(u64, String, SystemTime)>,
}

/// The wait for data: why, and when (seconds after the write) the step fails for want of it.
#[derive(Debug, Clone)]
struct Waiting {
    reason: String,
    gives_up: f64,
}

impl StepView {
    fn new(step: usize, of: usize, percent: u8, status: &str) -> StepView {
        StepView {
            step,
            of,
            percent,
            status: status.into(),
            applied: None,
            length: 0.0,
            covered: None,
            gates: Vec::new(),
            judgements: Vec::new(),
            counts: None,
            waiting: None,
            promotion: None,
        }
    }
}

fn secs(at: SystemTime, since: SystemTime) -> f64 {
    at.duration_since(since).unwrap_or_default().as_secs_f64()
}

impl Board {
    /// An empty board; `verbose` prints every gate of every poll above the bar too.
    pub fn new(verbose: bool) -> Board {
        Board {
            verbose,
            stable: Color::Blue,
            step: None,
            interrupted: false,
        }
    }

    /// Whether a bar is shown.
    #[cfg(test)]
    pub fn has_bar(&self) -> bool {
        self.step.is_some()
    }

    /// The run was interrupted (a signal): the bar goes at once, before the line that says so and
    /// the rollback's lines, and no bar comes back.
    pub fn interrupt(&mut self, message: &str, paint: Paint) -> Update {
        self.interrupted = true;
        self.step = None;
        Update {
            bar: BarChange::Clear,
            lines: Vec::new(),
            errors: vec![paint.warn(message)],
        }
    }

    /// The run is over (its outcome is printed next): no bar is left behind.
    pub fn finish(&mut self) -> Update {
        self.step = None;
        Update {
            bar: BarChange::Clear,
            lines: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Takes `event` (at the engine's time `at`) into the board and says what to print.
    pub fn apply(&mut self, at: SystemTime, event: &Event, paint: Paint) -> Update {
        let stamp = paint.dim(crate::progress::clock(at));
        let errors: Vec<String> = stderr_line(event).into_iter().collect();
        let mut update = match event {
            Event::DeploymentStarted { stable, .. } => {
                self.stable = *stable;
                self.printed(at, event, paint)
            }
            Event::StepStarted { step, of, percent } => {
                let lines = self.printed(at, event, paint).lines;
                if self.interrupted {
                    return Update::keep(lines);
                }
                self.step = Some(StepView::new(*step, *of, *percent, "applying weights"));
                Update {
                    bar: BarChange::New,
                    lines,
                    errors: Vec::new(),
                }
            }
            Event::WeightsApplied { split, .. } => {
                if let Some(s) = self.step.as_mut() {
                    s.status = format!(
                        "{} {}% / {} {}% verified; baking",
                        paint.color_name(Color::Blue),
                        split.blue,
                        paint.color_name(Color::Green),
                        split.green
                    );
                    s.applied = Some(at);
                }
                Update::keep(Vec::new())
            }
            Event::GateEvaluated {
                bake_seconds,
                covered_seconds,
                step_seconds,
                results,
                judgements,
                counts,
                ..
            } => {
                let verbose = self.verbose;
                let Some(s) = self.step.as_mut() else {
                    return Update::keep(Vec::new());
                };
                s.length = *step_seconds;
                s.covered = Some((*covered_seconds, *bake_seconds));
                s.gates = results.clone();
                s.judgements = judgements.clone();
                s.counts = counts.clone();
                // A poll that judged: no wait for data unless the event after it says so again.
                s.waiting = None;
                // Printed above the bar, to stay once it is gone: every gate with -v, else the
                // failing ones, in full (with their window).
                let failed = results.iter().any(|r| r.verdict == Verdict::Fail);
                let lines = results
                    .iter()
                    .filter(|r| verbose || (failed && r.verdict == Verdict::Fail))
                    .map(|r| {
                        let text = format!("{} {}", gates::mark(r.verdict), r.message);
                        format!("{stamp}   {}", paint.verdict(r.verdict, text))
                    })
                    .collect();
                Update::keep(lines)
            }
            Event::WaitingForData {
                step_seconds,
                gives_up_seconds,
                reason,
                ..
            } => {
                if let Some(s) = self.step.as_mut() {
                    s.length = *step_seconds;
                    s.waiting = Some(Waiting {
                        reason: reason.clone(),
                        gives_up: *gives_up_seconds,
                    });
                }
                Update::keep(Vec::new())
            }
            Event::WaitingForPromotion {
                step,
                percent,
                seconds_left,
                on_timeout,
                ..
            } => {
                if self.interrupted {
                    return Update::keep(Vec::new());
                }
                let new = self.step.is_none();
                let s = self.step.get_or_insert_with(|| {
                    let mut s = StepView::new(
                        *step,
                        *step,
                        *percent,
                        "`albflip promote` goes on, `albflip rollback` stops",
                    );
                    s.applied = Some(at);
                    s
                });
                s.promotion = Some((*seconds_left, on_timeout.clone(), at));
                Update {
                    bar: if new { BarChange::New } else { BarChange::Keep },
                    lines: Vec::new(),
                    errors: Vec::new(),
                }
            }
            other => {
                let mut update = self.printed(at, other, paint);
                if ends_bar(other) {
                    self.step = None;
                    update.bar = BarChange::Clear;
                }
                update
            }
        };
        update.errors.extend(errors);
        update
    }

    /// The event's line (as `progress::line` words it), colored by what it says.
    fn printed(&self, at: SystemTime, event: &Event, paint: Paint) -> Update {
        let Some(text) = line(event, self.verbose) else {
            return Update::keep(Vec::new());
        };
        let text = match event {
            Event::RollingBack { .. } | Event::Warning { .. } => paint.bad(text),
            Event::RolledBack { .. } | Event::Interrupted { .. } => paint.warn(text),
            Event::StepPassed { .. }
            | Event::Completed { .. }
            | Event::AwaitingPromotion { .. } => paint.good(text),
            _ => text,
        };
        Update::keep(vec![format!(
            "{} {text}",
            paint.dim(crate::progress::clock(at))
        )])
    }

    /// The bar and what is under it at `now`, each line cut to `width` columns; empty without a step.
    pub fn frame(&self, paint: Paint, now: SystemTime, width: usize) -> String {
        let Some(s) = &self.step else {
            return String::new();
        };
        let elapsed = s.applied.map(|t| secs(now, t));
        let mut lines = vec![head(s, elapsed, paint)];
        let cx = gates::Context {
            judgements: &s.judgements,
            counts: s.counts.as_ref(),
            stable: self.stable,
        };
        lines.extend(
            s.gates
                .iter()
                .map(|r| format!("  {}", gates::line(r, &cx, paint))),
        );
        if let Some(w) = &s.waiting {
            lines.push(format!("  {}", waiting_line(w, s, elapsed, paint)));
        }
        lines
            .iter()
            .map(|l| console::truncate_str(l, width.max(20), "…").into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The events after which a step's bar is gone: its end, or the run's.
fn ends_bar(event: &Event) -> bool {
    matches!(
        event,
        Event::StepPassed { .. }
            | Event::RollingBack { .. }
            | Event::RolledBack { .. }
            | Event::Completed { .. }
            | Event::Interrupted { .. }
            | Event::AwaitingPromotion { .. }
            | Event::Promoted { .. }
    )
}

/// `step 2/4  25% [███▓░░░]  42s/1m 30s · bake 30s/1m published`.
fn head(s: &StepView, elapsed: Option<f64>, paint: Paint) -> String {
    let prefix = match &s.promotion {
        Some((left, on_timeout, since)) => {
            let gone = elapsed
                .zip(s.applied)
                .map(|(e, applied)| e - secs(*since, applied))
                .unwrap_or(0.0);
            let left = (*left as f64 - gone).max(0.0).ceil() as u64;
            format!(
                "step {} {:>3}% · {}",
                s.step,
                s.percent,
                paint.warn(format!(
                    "waiting for promotion, {} left (then {on_timeout})",
                    wait_left(left)
                ))
            )
        }
        None => format!("step {}/{} {:>3}%", s.step, s.of, s.percent),
    };
    let Some(elapsed) = elapsed else {
        return format!("{prefix} {} {}", bar(0.0, paint), s.status);
    };
    let fill = if s.length > 0.0 {
        elapsed / s.length
    } else {
        0.0
    };
    let time = if s.length > 0.0 {
        format!("{}/{}", human(elapsed.floor()), human(s.length))
    } else {
        format!("{} in", human(elapsed.floor()))
    };
    let status = match (s.covered, &s.promotion) {
        (Some((covered, bake)), None) => {
            format!("bake {}/{} published", human(covered), human(bake))
        }
        _ => s.status.clone(),
    };
    format!("{prefix} {} {time} · {status}", bar(fill, paint))
}

/// `[██████▓░░░░]`, `fill` of it done.
fn bar(fill: f64, paint: Paint) -> String {
    let done = ((fill.clamp(0.0, 1.0)) * BAR_CELLS as f64).floor() as usize;
    let head = usize::from(done < BAR_CELLS && fill > 0.0);
    let rest = BAR_CELLS - done - head;
    format!(
        "[{}{}]",
        paint.color(Color::Blue, "█".repeat(done) + &"▓".repeat(head)),
        paint.dim("░".repeat(rest))
    )
}

/// `… waiting for data (no metric period …), gives up in 20s`: the countdown from the step's own limit.
fn waiting_line(w: &Waiting, s: &StepView, elapsed: Option<f64>, paint: Paint) -> String {
    let text = if s.promotion.is_some() {
        // The wait for promotion ends first: the gates' own limit says nothing useful.
        format!("no data yet: {}", w.reason)
    } else {
        let left = (w.gives_up - elapsed.unwrap_or(0.0)).ceil();
        format!(
            "waiting for data ({}), gives up in {}",
            w.reason,
            human(left)
        )
    };
    paint.warn(format!("… {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use albflip::events::SplitView;
    use albflip::plan::decide::Failure;
    use albflip::plan::GateKind;
    use std::time::Duration;

    fn t(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + seconds)
    }

    fn gate(
        gate: GateKind,
        verdict: Verdict,
        value: Option<f64>,
        threshold: f64,
        message: &str,
    ) -> GateResult {
        GateResult {
            gate,
            verdict,
            value,
            threshold,
            message: message.into(),
        }
    }

    /// A board at step 1 of 4 (10 %), its weights verified at `t(0)`.
    fn baking(paint: Paint) -> Board {
        let mut b = Board::new(false);
        let split = SplitView {
            blue: 100,
            green: 0,
        };
        b.apply(
            t(0),
            &Event::DeploymentStarted {
                deployment_id: None,
                started_by: None,
                route: "listener".into(),
                target: Color::Green,
                stable: Color::Blue,
                strategy: "gradual".into(),
                steps: vec![10, 50, 75, 100],
                split,
                backends: albflip::events::Backends {
                    blue: albflip::events::BackendName {
                        name: "blue-tg".into(),
                        id: "blue-tg".into(),
                    },
                    green: albflip::events::BackendName {
                        name: "green-tg".into(),
                        id: "green-tg".into(),
                    },
                },
            },
            paint,
        );
        let started = b.apply(
            t(0),
            &Event::StepStarted {
                step: 1,
                of: 4,
                percent: 10,
            },
            paint,
        );
        assert_eq!(started.bar, BarChange::New);
        b.apply(
            t(0),
            &Event::WeightsApplied {
                step: 1,
                split: SplitView {
                    blue: 90,
                    green: 10,
                },
            },
            paint,
        );
        b
    }

    fn every_gate() -> Vec<GateResult> {
        vec![
            gate(GateKind::ErrorRate, Verdict::Pass, Some(0.002), 0.01, "green error rate 0.2% ≤ 1.0% (3 of 1500 requests, 14:02:00–14:03:00 UTC)"),
            gate(GateKind::Latency, Verdict::Pass, Some(0.212), 1.0, "green latency p99 0.212s ≤ 1.000s (14:02:00–14:03:00 UTC)"),
            gate(GateKind::HealthyHosts, Verdict::Pass, Some(2.0), 1.0, "green healthy hosts 2 ≥ 1"),
            gate(GateKind::UnhealthyHosts, Verdict::Pass, Some(0.0), 0.0, "green unhealthy hosts 0 ≤ 0"),
            gate(GateKind::Alarm("shop-5xx".into()), Verdict::Pass, None, 0.0, "alarm shop-5xx is OK"),
            gate(GateKind::ErrorRateIncrease, Verdict::Skipped, None, 0.005, "comparison with blue skipped: too little traffic (1500 and 20 requests, 14:02:00–14:03:00 UTC)"),
            gate(GateKind::LoadBalancerErrors, Verdict::Pass, Some(0.0), 0.005, "load balancer's own 5XX 0.0% since the step, 0.0% before: +0.0 pp ≤ 0.5 pp"),
        ]
    }

    fn poll(elapsed: u64, results: Vec<GateResult>) -> Event {
        Event::GateEvaluated {
            step: 1,
            elapsed_seconds: elapsed as f64,
            bake_seconds: 60.0,
            covered_seconds: 30.0,
            step_seconds: 90.0,
            results,
            judgements: Vec::new(),
            decision: "continue".into(),
            counts: Some(WindowCounts {
                window_start: String::new(),
                window_end: String::new(),
                new_requests: 1500.0,
                new_errors: 3.0,
                stable_requests: 20.0,
                stable_errors: 0.0,
                new_latency_seconds: None,
                stable_latency_seconds: None,
            }),
        }
    }

    #[test]
    fn every_gate_of_the_last_poll_is_shown_against_its_threshold_under_the_bar() {
        let mut b = baking(Paint::PLAIN);
        let update = b.apply(t(40), &poll(40, every_gate()), Paint::PLAIN);
        assert_eq!(
            update,
            Update::keep(Vec::new()),
            "a passing poll prints nothing"
        );
        let frame = b.frame(Paint::PLAIN, t(45), 200);
        let lines: Vec<&str> = frame.lines().collect();
        assert_eq!(
            lines,
            [
                "step 1/4  10% [███████████████▓░░░░░░░░░░░░░░] 45s/1m 30s · bake 30s/1m published",
                "  ✓ error rate         0.2% (3 of 1500) ≤ 1%",
                "  ✓ latency            212 ms ≤ 1 s",
                "  ✓ healthy hosts      2 ≥ 1",
                "  ✓ unhealthy hosts    0 ≤ 0",
                "  ✓ alarm shop-5xx     is OK",
                "  - 5XX vs blue        comparison with blue skipped: too little traffic (1500 and 20 requests)",
                "  ✓ load balancer 5XX  +0.0 pp ≤ +0.5 pp",
            ],
            "{frame}"
        );
        // Cut to the terminal's width.
        let narrow = b.frame(Paint::PLAIN, t(45), 40);
        assert!(
            narrow.lines().all(|l| console::measure_text_width(l) <= 40),
            "{narrow}"
        );
    }

    #[test]
    fn a_failing_gate_is_printed_above_the_bar_in_full_and_marked_in_it() {
        let mut b = baking(Paint::PLAIN);
        let mut results = every_gate();
        results[1] = gate(
            GateKind::Latency,
            Verdict::Fail,
            Some(1.5),
            1.0,
            "green latency p99 1.500s > 1.000s (14:02:00–14:03:00 UTC)",
        );
        let update = b.apply(t(40), &poll(40, results), Paint::PLAIN);
        assert_eq!(update.bar, BarChange::Keep);
        assert_eq!(update.lines.len(), 1, "{update:?}");
        assert!(
            update.lines[0]
                .ends_with("   ✗ green latency p99 1.500s > 1.000s (14:02:00–14:03:00 UTC)"),
            "{update:?}"
        );
        assert!(b
            .frame(Paint::PLAIN, t(40), 200)
            .contains("  ✗ latency            1.5 s > 1 s"));
    }

    #[test]
    fn the_wait_for_data_counts_down_to_the_runs_own_limit_and_goes_once_a_poll_judges() {
        let mut b = baking(Paint::PLAIN);
        let waiting = Event::WaitingForData {
            step: 1,
            elapsed_seconds: 30.0,
            step_seconds: 90.0,
            gives_up_seconds: 270.0,
            reason: "no metric period after the step's write is published yet".into(),
        };
        assert_eq!(
            b.apply(t(30), &waiting, Paint::PLAIN),
            Update::keep(Vec::new())
        );
        let at = |b: &Board, seconds| b.frame(Paint::PLAIN, t(seconds), 200);
        assert!(
            at(&b, 30).ends_with("  … waiting for data (no metric period after the step's write is published yet), gives up in 4m"),
            "{}",
            at(&b, 30)
        );
        // Between polls the countdown runs on (the bar is redrawn from the board at each tick).
        assert!(at(&b, 250).ends_with("gives up in 20s"), "{}", at(&b, 250));
        assert!(
            at(&b, 250).starts_with("step 1/4  10% [██████████████████████████████] 4m 10s/1m 30s"),
            "{}",
            at(&b, 250)
        );
        assert!(at(&b, 300).ends_with("gives up in 0s"));
        b.apply(t(60), &poll(60, every_gate()), Paint::PLAIN);
        assert!(!at(&b, 61).contains("waiting for data"), "{}", at(&b, 61));
    }

    #[test]
    fn before_the_first_poll_the_bar_runs_from_the_write() {
        let b = baking(Paint::PLAIN);
        assert_eq!(
            b.frame(Paint::PLAIN, t(12), 200),
            "step 1/4  10% [░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░] 12s in · blue 90% / green 10% verified; baking"
        );
    }

    #[test]
    fn an_interrupt_clears_the_bar_before_its_line_and_no_bar_comes_back() {
        let mut b = baking(Paint::PLAIN);
        b.apply(t(40), &poll(40, every_gate()), Paint::PLAIN);
        let message = "albflip: interrupted: stopping now and putting traffic back";
        let update = b.interrupt(message, Paint::PLAIN);
        assert_eq!(
            update,
            Update {
                bar: BarChange::Clear,
                lines: Vec::new(),
                errors: vec![message.to_string()],
            }
        );
        assert!(!b.has_bar());
        assert_eq!(b.frame(Paint::PLAIN, t(41), 200), "");
        // What the run prints while it puts traffic back comes below, with no bar.
        let rolling = b.apply(
            t(41),
            &Event::RollingBack {
                failure: Failure::NoData {
                    message: "the run was interrupted".into(),
                },
            },
            Paint::PLAIN,
        );
        assert_eq!(rolling.bar, BarChange::Clear);
        assert_eq!(rolling.lines.len(), 1);
        let later = [
            Event::StepStarted {
                step: 2,
                of: 4,
                percent: 50,
            },
            Event::WaitingForPromotion {
                step: 1,
                percent: 10,
                until: String::new(),
                seconds_left: 60,
                on_timeout: "rollback".into(),
            },
        ];
        for event in later {
            assert_ne!(
                b.apply(t(42), &event, Paint::PLAIN).bar,
                BarChange::New,
                "{event:?}"
            );
            assert!(!b.has_bar());
        }
        let interrupted = b.apply(
            t(43),
            &Event::Interrupted {
                rolled_back: true,
                split: SplitView {
                    blue: 100,
                    green: 0,
                },
                step: 1,
            },
            Paint::PLAIN,
        );
        assert!(
            interrupted.lines[0].contains("interrupted at step 1: rolled back"),
            "{interrupted:?}"
        );
    }

    #[test]
    fn a_steps_end_clears_its_bar_and_its_line_follows() {
        let mut b = baking(Paint::PLAIN);
        let update = b.apply(
            t(90),
            &Event::StepPassed {
                step: 1,
                percent: 10,
            },
            Paint::PLAIN,
        );
        assert_eq!(update.bar, BarChange::Clear);
        assert!(
            update.lines[0].ends_with(" step 1: passed at 10%"),
            "{update:?}"
        );
        assert!(!b.has_bar());
        assert_eq!(b.finish().bar, BarChange::Clear);
    }

    #[test]
    fn colors_only_when_the_paint_has_them() {
        let mut plain = baking(Paint::PLAIN);
        let mut colored = baking(Paint::COLORED);
        let mut results = every_gate();
        results[0] = gate(
            GateKind::ErrorRate,
            Verdict::Fail,
            Some(0.2),
            0.01,
            "green error rate 20.0% > 1.0%",
        );
        let p = plain.apply(t(40), &poll(40, results.clone()), Paint::PLAIN);
        let c = colored.apply(t(40), &poll(40, results), Paint::COLORED);
        assert!(!p.lines[0].contains('\u{1b}') && c.lines[0].contains("\u{1b}[31m"));
        assert_eq!(console::strip_ansi_codes(&c.lines[0]), p.lines[0]);
        let (p, c) = (
            plain.frame(Paint::PLAIN, t(41), 200),
            colored.frame(Paint::COLORED, t(41), 200),
        );
        assert!(!p.contains('\u{1b}') && c.contains("\u{1b}[31m") && c.contains("\u{1b}[32m"));
        assert_eq!(console::strip_ansi_codes(&c), p);
    }
}
