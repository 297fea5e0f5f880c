//! SIGINT and SIGTERM: the first cancels the run (which then rolls back or holds), the second only says
//! that albflip is still putting traffic back (a rollback is one read and one write: cutting it short is
//! what would leave traffic on the new color), the third exits at once, saying plainly that traffic
//! may be on the new color and how to put it back.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::exit;

/// Where the lines of an interruption go: stderr ([`to_stderr`]), or the live view, which clears its
/// bar before printing them so that no half-drawn bar is left above the rollback's lines.
pub type Say = Arc<dyn Fn(&str) + Send + Sync>;

/// The lines of an interruption on stderr.
pub fn to_stderr() -> Say {
    Arc::new(|line: &str| eprintln!("{line}"))
}

/// What the `seen`-th signal does.
#[derive(Debug, PartialEq, Eq)]
enum OnSignal {
    /// Cancel the run, with a line on stderr.
    Cancel(&'static str),
    /// Keep going (the run is putting traffic back), with a line on stderr.
    Wait(&'static str),
    /// Exit at once with 130, with a line on stderr.
    Exit(&'static str),
}

fn on_signal(seen: u32) -> OnSignal {
    match seen {
        1 => OnSignal::Cancel(
            "albflip: interrupted: stopping now and putting traffic back on the stable color (or holding it with --on-interrupt hold)",
        ),
        2 => OnSignal::Wait(
            "albflip: interrupted again: still putting traffic back on the stable color before exiting; a third signal exits at once WITHOUT it",
        ),
        _ => OnSignal::Exit(
            "albflip: exiting at once: traffic may still be on the new color and the deployment record and lock may be stale. Run `albflip rollback` to put all traffic back on the stable color (and `albflip unlock --force` if a lock table is used); `albflip status` shows the live split",
        ),
    }
}

/// A token cancelled by the first SIGINT or SIGTERM; the second is reported, the third exits at once
/// with 130. Each says so through `say`.
pub fn interrupts(say: Say) -> CancellationToken {
    use tokio::signal::unix::{signal, SignalKind};
    let token = CancellationToken::new();
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::warn!(
            "cannot listen for SIGINT/SIGTERM: an interrupt will stop albflip without a rollback"
        );
        return token;
    };
    let cancel = token.clone();
    tokio::spawn(async move {
        for seen in 1.. {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            match on_signal(seen) {
                OnSignal::Cancel(line) => {
                    say(line);
                    cancel.cancel();
                }
                OnSignal::Wait(line) => say(line),
                OnSignal::Exit(line) => {
                    say(line);
                    std::process::exit(i32::from(exit::INTERRUPTED));
                }
            }
        }
    });
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_second_signal_does_not_skip_the_rollback_and_the_third_says_how_to_fix_it() {
        assert!(matches!(on_signal(1), OnSignal::Cancel(_)));
        assert!(matches!(on_signal(2), OnSignal::Wait(l) if l.contains("putting traffic back")));
        let OnSignal::Exit(line) = on_signal(3) else {
            panic!("the third signal exits");
        };
        assert!(
            line.contains("traffic may still be on the new color")
                && line.contains("`albflip rollback`"),
            "{line}"
        );
    }
}
