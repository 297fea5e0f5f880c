//! `albflip unlock`: who holds the route's deployment lock; with `--force`, break a stale one (after
//! confirmation).

use albflip::aws::DynamoLock;
use albflip::ports::Lock;
use albflip::Error;

use super::common::Session;
use crate::args::{GlobalArgs, UnlockArgs};
use crate::settings::Settings;
use crate::{exit, locking};

/// Shows the lock's holder, or breaks the lock with `--force`.
pub async fn run(a: &UnlockArgs, settings: Settings, g: &GlobalArgs) -> Result<u8, Error> {
    let session = Session::open(None, &settings, g).await?;
    let Some(table) = &settings.lock_table else {
        return Err(Error::InvalidInput {
            what: "unlock".into(),
            why: "no lock table is configured".into(),
            fix: "Pass --lock-table NAME (or ALBFLIP_LOCK_TABLE, or [lock] table in albflip.toml)"
                .into(),
        });
    };
    let key = locking::lock_key(&session.alb, &settings).await?;
    let lock = DynamoLock::new(&session.config, table, session.calls.clone());
    let Some(current) = albflip::lock::holder(&lock, &key).await? else {
        if !g.quiet {
            println!("No lock is held on {key}.");
        }
        return Ok(exit::SUCCESS);
    };
    let who = format!(
        "{} since {} (expires {})",
        current.holder, current.since, current.expires
    );
    confirmed(a, &key, &who)?;
    lock.force_release(&key).await.map_err(Error::Read)?;
    if !g.quiet {
        println!("Broke the lock on {key} held by {who}.");
    }
    Ok(exit::SUCCESS)
}

/// Breaking the lock needs `--force`, then `--yes` or a `y` at the prompt.
fn confirmed(a: &UnlockArgs, key: &str, who: &str) -> Result<(), Error> {
    if !a.force {
        return Err(Error::InvalidInput {
            what: "unlock".into(),
            why: format!("the lock on {key} is held by {who}"),
            fix: "If that run is dead, pass --force to break the lock".into(),
        });
    }
    if !a.yes && !confirm(&format!("Break the lock on {key} held by {who}? [y/N] ")) {
        return Err(Error::InvalidInput {
            what: "unlock --force".into(),
            why: "not confirmed".into(),
            fix: "Answer y at the prompt, or pass --yes in a non-interactive run".into(),
        });
    }
    Ok(())
}

/// Asks on the terminal; false when stdin is not a terminal.
fn confirm(question: &str) -> bool {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("{question}");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok() && matches!(answer.trim(), "y" | "Y" | "yes")
}
