//! SIGINT and SIGTERM: the first cancels the run (which then rolls back or holds), the second exits.

use tokio_util::sync::CancellationToken;

use crate::exit;

/// A token cancelled by the first SIGINT or SIGTERM; a second one exits at once with 130.
pub fn interrupts() -> CancellationToken {
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
            if seen > 1 {
                eprintln!("albflip: second interrupt: exiting now");
                std::process::exit(i32::from(exit::INTERRUPTED));
            }
            eprintln!("albflip: interrupted: stopping now (send the signal again to exit without waiting)");
            cancel.cancel();
        }
    });
    token
}
