//! The deployment lock around runs (`albflip unlock` is `commands/unlock.rs`).

use albflip::aws::{DynamoLock, ElbV2, SdkConfig};
use albflip::ports::TokioClock;
use albflip::Error;

use crate::args;
use crate::settings::Settings;

/// The lease held during a run.
pub type Held = albflip::lock::Held<DynamoLock>;

/// Takes the route's lock when a lock table is configured; otherwise warns that the run is protected
/// only by the state tags.
pub async fn take_lock(
    alb: &ElbV2,
    config: &SdkConfig,
    settings: &Settings,
    g: &args::GlobalArgs,
) -> Result<Option<Held>, Error> {
    let table = lock_table(alb, config, settings).await;
    take_lock_in(table.as_deref(), alb, config, settings, g).await
}

/// The lock table: the one named, else the naming convention's when it exists.
pub async fn lock_table(alb: &ElbV2, config: &SdkConfig, settings: &Settings) -> Option<String> {
    match (&settings.lock_table, &settings.convention_lock_table) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(t)) => convention_table(config, alb, t).await,
        (None, None) => None,
    }
}

/// [`take_lock`] in a table already found.
pub async fn take_lock_in(
    table: Option<&str>,
    alb: &ElbV2,
    config: &SdkConfig,
    settings: &Settings,
    g: &args::GlobalArgs,
) -> Result<Option<Held>, Error> {
    let Some(table) = table else {
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
        .map_err(|e| missing_table(e, table))
}

/// A lock table that does not exist, named, instead of the bare "PutItem failed: not found".
pub fn missing_table(e: Error, table: &str) -> Error {
    match e {
        Error::Read(api) if api.kind == albflip::ports::ApiErrorKind::NotFound => Error::NotFound {
            what: format!("lock table {table:?} ({api})").into(),
            fix: "Create it (a DynamoDB table with the string partition key `lock_id`; the reference stack creates E-A-albflip-locks) or name the right one with --lock-table (ALBFLIP_LOCK_TABLE, albflip.toml [lock] table)".into(),
        },
        other => other,
    }
}

/// The naming convention's table when it exists; a failure to look is a warning, and no table.
async fn convention_table(config: &SdkConfig, alb: &ElbV2, table: &str) -> Option<String> {
    let lock = DynamoLock::new(config, table, alb.calls().clone());
    match lock.table_exists().await {
        Ok(true) => Some(table.to_string()),
        Ok(false) => None,
        Err(e) => {
            eprintln!("albflip: warning: could not look for the lock table {table} ({e})");
            None
        }
    }
}

/// The lock key: the ARN of the route's resource (listener or rule).
pub async fn lock_key(alb: &ElbV2, settings: &Settings) -> Result<String, Error> {
    let route = albflip::aws::resolve::locate(alb, &settings.target.route).await?;
    Ok(route.resource_arn().to_string())
}

/// After a run that lost its lease: who holds it now, on stderr.
pub async fn say_who_holds_it_now(held: Option<&Held>) {
    let Some(h) = held.filter(|h| h.lost().is_cancelled()) else {
        return;
    };
    match h.current_holder().await {
        Ok(Some(now)) => eprintln!(
            "albflip: the deployment lock is now held by {} since {}",
            now.holder, now.since
        ),
        Ok(None) => eprintln!("albflip: nobody holds the deployment lock now"),
        Err(e) => eprintln!("albflip: could not read who holds the deployment lock now: {e}"),
    }
}

/// Releases the lease; a failure to release is a warning (the lease expires by itself).
pub async fn release(held: Option<Held>) {
    if let Some(h) = held {
        if let Err(e) = h.release().await {
            eprintln!("albflip: warning: could not release the deployment lock ({e}); it expires by itself");
        }
    }
}
