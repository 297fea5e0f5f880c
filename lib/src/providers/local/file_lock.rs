//! The deployment lock of a local router: leases in `locks.json` in the state directory, each changed
//! only under the directory lock, so that two albflip processes on the host see one another's leases as
//! DynamoDB's conditional writes make them see them on AWS. The port's rules hold as they are: a lease
//! carries its holder, since, expiry and a version every renewal bumps; it is taken when nobody holds
//! it, or when it is exactly the lease the caller watched unchanged for a whole ttl
//! ([`crate::lock`]); a holder that dies leaves a lease that expires by itself.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::state_dir::{corrupt, StateDir};
use crate::ports::{ApiError, LeaseHolder, Lock};

/// The lock file's name in the state directory.
pub const LOCK_FILE: &str = "locks.json";

/// One lease as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Lease {
    holder: String,
    since: String,
    /// Expiry, seconds since the epoch, by the holder's clock.
    expires_at: f64,
    version: u64,
}

impl Lease {
    fn view(&self) -> LeaseHolder {
        let expires_at =
            SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs_f64(self.expires_at.max(0.0)));
        LeaseHolder {
            holder: self.holder.clone(),
            since: self.since.clone(),
            expires: expires_at.map_or_else(String::new, crate::state::timestamp),
            expires_at,
            version: self.version,
        }
    }

    fn same_as(&self, watched: &LeaseHolder) -> bool {
        self.holder == watched.holder
            && self.since == watched.since
            && self.version == watched.version
    }
}

fn seconds(at: SystemTime) -> f64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

type Leases = BTreeMap<String, Lease>;

/// Leases in `locks.json` in a [`StateDir`].
#[derive(Debug, Clone)]
pub struct FileLock {
    dir: StateDir,
}

impl FileLock {
    /// The lock file in `dir`.
    pub fn new(dir: StateDir) -> FileLock {
        FileLock { dir }
    }

    /// Runs `change` on the leases under the directory lock and writes them back when it says so
    /// (`writes`: the call may write, and creates the directory).
    async fn change<T, F>(
        &self,
        operation: &'static str,
        writes: bool,
        change: F,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Leases) -> (T, bool) + Send + 'static,
    {
        self.dir
            .locked(operation, writes, move |dir| {
                let mut leases: Leases = match dir.read(operation, LOCK_FILE)? {
                    None => Leases::new(),
                    Some(text) => serde_json::from_str(&text)
                        .map_err(|e| corrupt(operation, &dir.file(LOCK_FILE), &e))?,
                };
                let (result, changed) = change(&mut leases);
                if changed {
                    let text = serde_json::to_string_pretty(&leases)
                        .map_err(|e| corrupt(operation, &dir.file(LOCK_FILE), &e))?;
                    dir.write(operation, LOCK_FILE, &text)?;
                }
                Ok(result)
            })
            .await
    }
}

impl Lock for FileLock {
    async fn acquire(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
        now: SystemTime,
        stale: Option<&LeaseHolder>,
    ) -> Result<Result<u64, LeaseHolder>, ApiError> {
        let (key, holder, stale) = (key.to_string(), holder.to_string(), stale.cloned());
        self.change("file-lock:Acquire", true, move |leases| {
            if let Some(current) = leases.get(&key) {
                if !stale.as_ref().is_some_and(|s| current.same_as(s)) {
                    return (Err(current.view()), false);
                }
            }
            let lease = Lease {
                holder,
                since: crate::state::timestamp(now),
                expires_at: seconds(now + ttl),
                version: 1,
            };
            leases.insert(key, lease);
            (Ok(1), true)
        })
        .await
    }

    async fn renew(
        &self,
        key: &str,
        holder: &str,
        version: u64,
        ttl: Duration,
        now: SystemTime,
    ) -> Result<Option<u64>, ApiError> {
        let (key, holder) = (key.to_string(), holder.to_string());
        self.change("file-lock:Renew", true, move |leases| {
            match leases.get_mut(&key) {
                Some(l) if l.holder == holder && l.version == version => {
                    l.expires_at = seconds(now + ttl);
                    l.version += 1;
                    (Some(l.version), true)
                }
                _ => (None, false),
            }
        })
        .await
    }

    async fn release(&self, key: &str, holder: &str) -> Result<(), ApiError> {
        let (key, holder) = (key.to_string(), holder.to_string());
        self.change("file-lock:Release", true, move |leases| {
            let ours = leases.get(&key).is_some_and(|l| l.holder == holder);
            if ours {
                leases.remove(&key);
            }
            ((), ours)
        })
        .await
    }

    async fn holder(&self, key: &str) -> Result<Option<LeaseHolder>, ApiError> {
        let key = key.to_string();
        self.change("file-lock:Holder", false, move |leases| {
            (leases.get(&key).map(Lease::view), false)
        })
        .await
    }

    async fn force_release(
        &self,
        key: &str,
        shown: &LeaseHolder,
    ) -> Result<Result<(), Option<LeaseHolder>>, ApiError> {
        let (key, shown) = (key.to_string(), shown.clone());
        self.change("file-lock:ForceRelease", true, move |leases| {
            match leases.get(&key) {
                Some(current) if current.same_as(&shown) => {
                    leases.remove(&key);
                    (Ok(()), true)
                }
                current => (Err(current.map(Lease::view)), false),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::state_dir::tests::tempdir;
    use super::*;

    const TTL: Duration = Duration::from_secs(120);

    #[tokio::test]
    async fn a_second_holder_is_refused_and_told_who_holds_it() {
        let dir = StateDir::new(tempdir());
        let (a, b) = (FileLock::new(dir.clone()), FileLock::new(dir));
        let now = SystemTime::now();
        assert_eq!(
            a.acquire("haproxy:web", "ci (pid 1)", TTL, now, None)
                .await
                .unwrap(),
            Ok(1)
        );
        let held = b
            .acquire("haproxy:web", "me (pid 2)", TTL, now, None)
            .await
            .unwrap();
        let holder = held.expect_err("held by the first");
        assert_eq!(holder.holder, "ci (pid 1)");
        assert_eq!(holder.version, 1);
        assert!(holder.expires_at.is_some_and(|e| e > now));
        // Another key is free.
        assert_eq!(
            b.acquire("haproxy:api", "me (pid 2)", TTL, now, None)
                .await
                .unwrap(),
            Ok(1)
        );
    }

    #[tokio::test]
    async fn renewals_bump_the_version_and_only_the_holder_at_that_version_renews() {
        let lock = FileLock::new(StateDir::new(tempdir()));
        let now = SystemTime::now();
        lock.acquire("k", "a", TTL, now, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(lock.renew("k", "a", 1, TTL, now).await.unwrap(), Some(2));
        assert_eq!(
            lock.renew("k", "a", 1, TTL, now).await.unwrap(),
            None,
            "stale version"
        );
        assert_eq!(
            lock.renew("k", "b", 2, TTL, now).await.unwrap(),
            None,
            "not the holder"
        );
        assert_eq!(lock.holder("k").await.unwrap().map(|h| h.version), Some(2));
    }

    #[tokio::test]
    async fn a_watched_lease_is_taken_over_only_while_it_is_unchanged() {
        let lock = FileLock::new(StateDir::new(tempdir()));
        let now = SystemTime::now();
        lock.acquire("k", "dead", TTL, now, None)
            .await
            .unwrap()
            .unwrap();
        let watched = lock.holder("k").await.unwrap().unwrap();
        lock.renew("k", "dead", 1, TTL, now).await.unwrap();
        let moved = lock
            .acquire("k", "me", TTL, now, Some(&watched))
            .await
            .unwrap();
        assert!(moved.is_err(), "the version moved: still held");
        let watched = lock.holder("k").await.unwrap().unwrap();
        assert_eq!(
            lock.acquire("k", "me", TTL, now, Some(&watched))
                .await
                .unwrap(),
            Ok(1)
        );
        assert_eq!(lock.holder("k").await.unwrap().unwrap().holder, "me");
    }

    #[tokio::test]
    async fn release_is_the_holders_and_force_release_anyones() {
        let lock = FileLock::new(StateDir::new(tempdir()));
        let now = SystemTime::now();
        lock.acquire("k", "a", TTL, now, None)
            .await
            .unwrap()
            .unwrap();
        lock.release("k", "b").await.unwrap();
        assert!(
            lock.holder("k").await.unwrap().is_some(),
            "b does not hold it"
        );
        lock.release("k", "a").await.unwrap();
        assert!(lock.holder("k").await.unwrap().is_none());
        lock.acquire("k", "a", TTL, now, None)
            .await
            .unwrap()
            .unwrap();
        let shown = lock.holder("k").await.unwrap().unwrap();
        assert_eq!(lock.force_release("k", &shown).await.unwrap(), Ok(()));
        assert!(lock.holder("k").await.unwrap().is_none());
        assert_eq!(
            lock.force_release("k", &shown).await.unwrap(),
            Err(None),
            "nothing left to break"
        );
    }

    /// Review of issue 21: `unlock --force` breaks only the lease it showed, compared under the
    /// directory lock: not one its run renewed since, nor a new run's lease at the same version 1.
    #[tokio::test]
    async fn force_release_breaks_only_the_lease_that_was_shown() {
        let lock = FileLock::new(StateDir::new(tempdir()));
        let now = SystemTime::now();
        lock.acquire("k", "dead", TTL, now, None)
            .await
            .unwrap()
            .unwrap();
        let shown = lock.holder("k").await.unwrap().unwrap();

        lock.renew("k", "dead", 1, TTL, now).await.unwrap();
        let refused = lock.force_release("k", &shown).await.unwrap();
        let now_held = refused.expect_err("renewed since it was shown").unwrap();
        assert_eq!((now_held.holder.as_str(), now_held.version), ("dead", 2));
        assert!(lock.holder("k").await.unwrap().is_some(), "not broken");

        lock.release("k", "dead").await.unwrap();
        let later = now + Duration::from_secs(5);
        lock.acquire("k", "new", TTL, later, None)
            .await
            .unwrap()
            .unwrap();
        let refused = lock.force_release("k", &shown).await.unwrap();
        let now_held = refused.expect_err("a new run's lease").unwrap();
        assert_eq!((now_held.holder.as_str(), now_held.version), ("new", 1));
        assert_eq!(lock.holder("k").await.unwrap().unwrap().holder, "new");
    }

    /// The lease module's own acquire, renew and release over the file: the whole lifecycle a run goes
    /// through.
    #[tokio::test]
    async fn the_lease_lifecycle_runs_over_the_file() {
        let dir = StateDir::new(tempdir());
        let lock = std::sync::Arc::new(FileLock::new(dir.clone()));
        let clock = crate::ports::TokioClock::new();
        let held = crate::lock::acquire(
            lock.clone(),
            "haproxy:web",
            "run 1",
            Duration::from_secs(3),
            clock,
        )
        .await
        .unwrap();
        let other = crate::lock::acquire(lock.clone(), "haproxy:web", "run 2", TTL, clock).await;
        assert!(matches!(other, Err(crate::Error::Conflict { .. })));
        held.release().await.unwrap();
        assert!(FileLock::new(dir)
            .holder("haproxy:web")
            .await
            .unwrap()
            .is_none());
    }
}
