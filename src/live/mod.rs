//! The live view on a terminal: one progress bar per step for the bake, every gate's value against its
//! threshold under it, the wait for data with when it gives up, and colored lines above (plain when
//! `NO_COLOR` is set). Pipelines (no terminal) get the plain lines of `progress.rs` instead.
//!
//! What is shown is [`board::Board`], a pure function of the events; this module draws it with
//! indicatif (redrawn four times a second, so the countdowns run between polls) and clears the bar on
//! an interrupt before anything else is printed.

mod board;
mod gates;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use albflip::events::{Event, Observer};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::args::OutputFormat;
use crate::paint::Paint;
use board::{BarChange, Board, Update};

/// Renders events for a person at a terminal.
pub struct LiveView {
    paint: Paint,
    board: Arc<Mutex<Board>>,
    bar: Mutex<Option<ProgressBar>>,
}

impl LiveView {
    /// A live view; colors follow `NO_COLOR` and what the terminal supports.
    pub fn new(verbose: bool) -> LiveView {
        LiveView {
            paint: Paint::stdout(OutputFormat::Text),
            board: Arc::new(Mutex::new(Board::new(verbose))),
            bar: Mutex::new(None),
        }
    }

    /// Whether stdout is a terminal that can show the live view.
    pub fn wanted() -> bool {
        console::Term::stdout().is_term()
    }

    /// The run is being interrupted (SIGINT, SIGTERM, a lost lock): the bar is cleared before
    /// `message` is printed (on stderr), and no bar comes back while the run puts traffic back.
    pub fn interrupted(&self, message: &str) {
        let update = match self.board.lock() {
            Ok(mut board) => board.interrupt(message, self.paint),
            Err(_) => return eprintln!("{message}"),
        };
        self.show(update);
    }

    /// The run is over: the bar, if one is left, is cleared before the outcome is printed.
    pub fn finish(&self) {
        let update = match self.board.lock() {
            Ok(mut board) => board.finish(),
            Err(_) => return,
        };
        self.show(update);
    }

    /// A new bar, drawn on stdout (where the lines go) from the board at each tick.
    fn new_bar(&self) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
        let (board, paint) = (self.board.clone(), self.paint);
        let draw = move |_: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let width = usize::from(console::Term::stdout().size().1);
            if let Ok(board) = board.lock() {
                let _ = w.write_str(&board.frame(paint, SystemTime::now(), width));
            }
        };
        if let Ok(style) = ProgressStyle::with_template("{board}") {
            bar.set_style(style.with_key("board", draw));
        }
        bar.enable_steady_tick(Duration::from_millis(250));
        bar
    }

    /// Does what the board says: the bar first, then the lines (above the bar while there is one).
    /// The board's lock is not held here: the bar's drawing takes it.
    fn show(&self, update: Update) {
        let Ok(mut current) = self.bar.lock() else {
            return;
        };
        match update.bar {
            BarChange::New => {
                if let Some(old) = current.take() {
                    old.finish_and_clear();
                }
                *current = Some(self.new_bar());
            }
            BarChange::Clear => {
                if let Some(old) = current.take() {
                    old.finish_and_clear();
                }
            }
            BarChange::Keep => {}
        }
        match current.as_ref() {
            Some(bar) => {
                for line in &update.lines {
                    bar.println(line);
                }
                if !update.errors.is_empty() {
                    bar.suspend(|| update.errors.iter().for_each(|e| eprintln!("{e}")));
                }
                bar.tick();
            }
            None => {
                update.lines.iter().for_each(|l| println!("{l}"));
                update.errors.iter().for_each(|e| eprintln!("{e}"));
            }
        }
    }
}

impl Observer for LiveView {
    fn on_event(&self, at: SystemTime, event: &Event) {
        let update = match self.board.lock() {
            Ok(mut board) => board.apply(at, event, self.paint),
            Err(_) => return,
        };
        self.show(update);
    }
}

impl Drop for LiveView {
    /// A view that goes away leaves no half-drawn bar behind.
    fn drop(&mut self) {
        if let Ok(mut current) = self.bar.lock() {
            if let Some(bar) = current.take() {
                bar.finish_and_clear();
            }
        }
    }
}

/// Where the lines of an interruption go: through the live view when there is one (it clears its bar
/// first), else to stderr.
pub fn say(view: Option<&Arc<LiveView>>) -> crate::signals::Say {
    match view {
        Some(view) => {
            let view = view.clone();
            Arc::new(move |line: &str| view.interrupted(line))
        }
        None => crate::signals::to_stderr(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar_of(view: &LiveView) -> Option<ProgressBar> {
        view.bar.lock().unwrap().clone()
    }

    #[test]
    fn an_interrupt_finishes_and_clears_the_bar_and_no_bar_comes_back() {
        let view = LiveView::new(false);
        let now = SystemTime::now();
        let step = |step| Event::StepStarted {
            step,
            of: 2,
            percent: 50,
        };
        view.on_event(now, &step(1));
        let bar = bar_of(&view).expect("a bar for the step");
        assert!(!bar.is_finished());
        view.interrupted("albflip: interrupted: stopping now");
        assert!(bar.is_finished(), "finished and cleared");
        assert!(bar_of(&view).is_none());
        view.on_event(now, &step(2));
        assert!(bar_of(&view).is_none(), "no bar while traffic goes back");
    }

    #[test]
    fn the_end_of_a_run_leaves_no_bar() {
        let view = LiveView::new(false);
        view.on_event(
            SystemTime::now(),
            &Event::StepStarted {
                step: 1,
                of: 1,
                percent: 100,
            },
        );
        let bar = bar_of(&view).expect("a bar for the step");
        view.finish();
        assert!(bar.is_finished() && bar_of(&view).is_none());
    }
}
