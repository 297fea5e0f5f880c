//! The deployment lock around runs, and `albflip unlock`.

use albflip::aws::{CallCounter, DynamoLock, ElbV2, SdkConfig};
use albflip::ports::TokioClock;
use albflip::Error;

use crate::args;
use crate::exit;
use crate::settings::Settings;

type Held = albflip::lock::Held<DynamoLock>;

/// Takes the route's lock when a lock table is configured; otherwise warns that the run is protected
/// only by the state tags.
pub async fn take_lock(
    alb: &ElbV2,
    config: &SdkConfig,
    settings: &Settings,
    g: &args::GlobalArgs,
) -> Result<Option<Held>, Error> {
    let Some(table) = &settings.lock_table else {
        if !g.quiet {
            eprintln!("albflip: warning: no lock table configured (--lock-table, ALBFLIP_LOCK_TABLE or [lock] table): this run is not protected against a concurrent albflip on the same listener; only the deployment state tags guard it");
        }
        return Ok(None);
    };
    let key = lock_key(alb, settings).await?;
    let lock = std::sync::Arc::new(DynamoLock::new(config, table, alb.calls().clone()));
    let holder = format!(
        "{} (pid {})",
        albflip::state::identity_from_env(),
        std::process::id()
    );
    albflip::lock::acquire(lock, &key, &holder, settings.lock_ttl, TokioClock::new())
        .await
        .map(Some)
}

/// The lock key: the ARN of the route's resource (listener or rule).
async fn lock_key(alb: &ElbV2, settings: &Settings) -> Result<String, Error> {
    let route = albflip::aws::resolve::locate(alb, &settings.target.route).await?;
    Ok(route.resource_arn().to_string())
}

pub async fn release(held: Option<Held>) {
    if let Some(h) = held {
        if let Err(e) = h.release().await {
            eprintln!("albflip: warning: could not release the deployment lock ({e}); it expires by itself");
        }
    }
}

/// `albflip unlock --force`: breaks a stale lock after confirmation.
pub async fn unlock(
    alb: &ElbV2,
    config: &SdkConfig,
    settings: &Settings,
    a: &args::UnlockArgs,
    calls: &CallCounter,
    g: &args::GlobalArgs,
) -> Result<u8, Error> {
    let Some(table) = &settings.lock_table else {
        return Err(Error::InvalidInput {
            what: "unlock".into(),
            why: "no lock table is configured".into(),
            fix: "Pass --lock-table NAME (or ALBFLIP_LOCK_TABLE, or [lock] table in albflip.toml)"
                .into(),
        });
    };
    let key = lock_key(alb, settings).await?;
    let lock = DynamoLock::new(config, table, calls.clone());
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
    use albflip::ports::Lock;
    lock.force_release(&key).await.map_err(Error::Read)?;
    if !g.quiet {
        println!("Broke the lock on {key} held by {who}.");
    }
    Ok(exit::SUCCESS)
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
