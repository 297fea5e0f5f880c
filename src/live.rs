//! The live view on a terminal: one progress bar per step for the bake, the latest gate values against
//! their thresholds, colored verdicts (plain when `NO_COLOR` is set). Pipelines (no terminal) get the
//! plain lines of `progress.rs` instead.

use std::sync::Mutex;
use std::time::SystemTime;

use albflip::events::{Event, Observer};
use albflip::plan::{GateResult, Verdict};
use console::style;
use indicatif::{ProgressBar, ProgressStyle};

use crate::progress::{line, stderr_line};

/// Renders events for a person at a terminal.
pub struct LiveView {
    verbose: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl LiveView {
    /// A live view; colors follow `NO_COLOR` and what the terminal supports.
    pub fn new(verbose: bool) -> LiveView {
        let colors = std::env::var_os("NO_COLOR").is_none()
            && console::Term::stdout().features().colors_supported();
        console::set_colors_enabled(colors);
        LiveView {
            verbose,
            bar: Mutex::new(None),
        }
    }

    /// Whether stdout is a terminal that can show the live view.
    pub fn wanted() -> bool {
        console::Term::stdout().is_term()
    }
}

fn verdict_mark(r: &GateResult) -> String {
    match r.verdict {
        Verdict::Pass => style("✓").green().to_string(),
        Verdict::Fail => style("✗").red().bold().to_string(),
        Verdict::NoData => style("…").yellow().to_string(),
        _ => style("-").dim().to_string(),
    }
}

fn new_bar(step: usize, of: usize, percent: u8) -> ProgressBar {
    let bar = ProgressBar::new(1);
    let template = "{prefix} [{bar:30.cyan/blue}] {pos:>4}/{len}s {msg}";
    if let Ok(s) = ProgressStyle::with_template(template) {
        bar.set_style(s.progress_chars("█▓░"));
    }
    bar.set_prefix(format!("step {step}/{of} {percent:>3}%"));
    bar.set_message("applying weights");
    bar.enable_steady_tick(std::time::Duration::from_millis(250));
    bar
}

impl Observer for LiveView {
    fn on_event(&self, at: SystemTime, event: &Event) {
        if let Some(l) = stderr_line(event) {
            eprintln!("{l}");
        }
        let Ok(mut current) = self.bar.lock() else {
            return;
        };
        let stamp = {
            let full = humantime::format_rfc3339_seconds(at).to_string();
            style(full.get(11..19).unwrap_or(&full).to_string())
                .dim()
                .to_string()
        };
        match event {
            Event::StepStarted { step, of, percent } => {
                if let Some(old) = current.take() {
                    old.finish_and_clear();
                }
                *current = Some(new_bar(*step, *of, *percent));
            }
            Event::WaitingForPromotion {
                step,
                percent,
                seconds_left,
                on_timeout,
                ..
            } => {
                // One bar for the wait, its prefix the time left; the gates' polls fill its message.
                let bar = current.get_or_insert_with(|| {
                    let bar = new_bar(*step, *step, *percent);
                    bar.set_message("`albflip promote` goes on, `albflip rollback` stops");
                    bar
                });
                bar.set_prefix(format!(
                    "step {step} {percent:>3}% · waiting for promotion, {} left (then {on_timeout})",
                    crate::progress::wait_left(*seconds_left)
                ));
            }
            Event::WeightsApplied { split, .. } => {
                if let Some(bar) = current.as_ref() {
                    bar.set_message(format!(
                        "blue {}% / green {}% verified; baking",
                        split.blue, split.green
                    ));
                }
            }
            Event::GateEvaluated {
                elapsed_seconds,
                bake_seconds,
                covered_seconds,
                step_seconds,
                results,
                ..
            } => {
                if let Some(bar) = current.as_ref() {
                    // The bar runs to the step's expected end (bake + lag + one period); the prefix
                    // says how much of the bake published data covers.
                    bar.set_length(step_seconds.max(*bake_seconds).round().max(1.0) as u64);
                    bar.set_position(elapsed_seconds.round() as u64);

                    let shown: Vec<String> = results
                        .iter()
                        .filter(|r| self.verbose || r.verdict != Verdict::Skipped)
                        .map(|r| format!("{} {}", verdict_mark(r), r.message))
                        .collect();
                    bar.set_message(format!(
                        "bake {covered_seconds:.0}s/{bake_seconds:.0}s published · {}",
                        shown.first().cloned().unwrap_or_default()
                    ));
                    if self.verbose || results.iter().any(|r| r.verdict == Verdict::Fail) {
                        for s in shown {
                            bar.println(format!("{stamp}   {s}"));
                        }
                    }
                }
            }
            other => {
                let Some(text) = line(other, self.verbose) else {
                    return;
                };
                let text = match other {
                    Event::RollingBack { .. } | Event::Warning { .. } => {
                        style(text).red().bold().to_string()
                    }
                    Event::RolledBack { .. } | Event::Interrupted { .. } => {
                        style(text).yellow().to_string()
                    }
                    Event::StepPassed { .. }
                    | Event::Completed { .. }
                    | Event::AwaitingPromotion { .. } => style(text).green().to_string(),
                    _ => text,
                };
                let ends_bar = matches!(
                    other,
                    Event::StepPassed { .. }
                        | Event::RollingBack { .. }
                        | Event::Completed { .. }
                        | Event::Interrupted { .. }
                        | Event::AwaitingPromotion { .. }
                        | Event::Promoted { .. }
                );
                match current.as_ref() {
                    Some(bar) if ends_bar => {
                        bar.finish_and_clear();
                        *current = None;
                        println!("{stamp} {text}");
                    }
                    Some(bar) => bar.println(format!("{stamp} {text}")),
                    None => println!("{stamp} {text}"),
                }
            }
        }
    }
}
