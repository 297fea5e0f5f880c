//! One deployment per route: a lease taken before a run, renewed while it runs, released at the end,
//! and expiring on its own if the holder dies. The lease store is the [`Lock`] port (DynamoDB in
//! [`crate::providers::aws::DynamoLock`], memory in tests).

use crate::input::Next;
use crate::text;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::Error;
use crate::ports::{ApiError, Clock, LeaseHolder, Lock};

/// The default lease: two minutes, renewed every third of it.
pub const DEFAULT_TTL: Duration = Duration::from_secs(120);

/// A held lease; renewed in the background until [`Held::release`].
pub struct Held<L: Lock + 'static> {
    lock: Arc<L>,
    key: String,
    holder: String,
    renewer: JoinHandle<()>,
    lost: CancellationToken,
}

/// Takes the lease on `key` for `holder`, or fails with [`Error::Conflict`] naming who holds it and
/// since when. The lease's times, and the renewals' pace, come from `clock`.
///
/// A lease another run holds is never taken on the strength of its expiry time alone: that time was
/// written by the holder's clock, and two machines' clocks can disagree by minutes. When it looks expired
/// by this machine's clock, albflip watches it for a whole `ttl` on its own clock and takes it over only if
/// its version did not move in that time (a live holder renews, and so bumps it, every third of the ttl).
pub async fn acquire<L: Lock + 'static, C: Clock + Clone + 'static>(
    lock: Arc<L>,
    key: &str,
    holder: &str,
    ttl: Duration,
    clock: C,
) -> Result<Held<L>, Error> {
    let version = match lock
        .acquire(key, holder, ttl, clock.now(), None)
        .await
        .map_err(Error::Read)?
    {
        Ok(version) => version,
        Err(current) => take_over_if_abandoned(&*lock, key, holder, ttl, &clock, current).await?,
    };
    tracing::debug!(%key, %holder, version, ttl = %humantime::format_duration(ttl), "deployment lock taken");
    let lost = CancellationToken::new();
    let renewer = tokio::spawn(renew(
        clock,
        lock.clone(),
        Lease {
            key: key.to_string(),
            holder: holder.to_string(),
            version,
        },
        ttl,
        lost.clone(),
    ));
    Ok(Held {
        lock,
        key: key.to_string(),
        holder: holder.to_string(),
        renewer,
        lost,
    })
}

/// The conflict error for a lease `current` holds.
fn conflict(key: &str, current: &LeaseHolder) -> Error {
    Error::Conflict {
        what: format!(
            "another albflip holds the lock on {key}: {} since {} (expires {})",
            current.holder, current.since, current.expires
        ),
        fix: text!("Wait for it to finish; if it died, the lock expires by itself, or run ", {next Next::ForceUnlock}),
    }
}

/// Takes over `current` only when it looks expired by this machine's clock and then stays exactly the
/// same (holder, since, version) for a whole `ttl` on this machine's own clock.
async fn take_over_if_abandoned<L: Lock, C: Clock>(
    lock: &L,
    key: &str,
    holder: &str,
    ttl: Duration,
    clock: &C,
    current: LeaseHolder,
) -> Result<u64, Error> {
    let looks_expired = current.expires_at.is_some_and(|at| at < clock.now());
    if !looks_expired {
        return Err(conflict(key, &current));
    }
    tracing::warn!(
        %key,
        holder = %current.holder,
        "the deployment lock looks expired; watching it for {} before taking it over",
        humantime::format_duration(ttl)
    );
    clock.sleep(ttl).await;
    let seen = lock.holder(key).await.map_err(Error::Read)?;
    let stale = match &seen {
        None => None,
        Some(h) if same_lease(h, &current) => Some(h),
        Some(h) => return Err(conflict(key, h)),
    };
    lock.acquire(key, holder, ttl, clock.now(), stale)
        .await
        .map_err(Error::Read)?
        .map_err(|h| conflict(key, &h))
}

fn same_lease(a: &LeaseHolder, b: &LeaseHolder) -> bool {
    a.holder == b.holder && a.since == b.since && a.version == b.version
}

/// The lease a run holds: its key, holder and the version of its last renewal.
struct Lease {
    key: String,
    holder: String,
    version: u64,
}

/// Renews every third of `ttl`; cancels `lost` when the lease was taken over or could not be renewed
/// before it expired.
async fn renew<L: Lock, C: Clock>(
    clock: C,
    lock: Arc<L>,
    mut lease: Lease,
    ttl: Duration,
    lost: CancellationToken,
) {
    let mut last_ok = clock.now();
    loop {
        clock.sleep(ttl / 3).await;
        let now = clock.now();
        let key = lease.key.clone();
        match lock
            .renew(&lease.key, &lease.holder, lease.version, ttl, now)
            .await
        {
            Ok(Some(version)) => {
                tracing::debug!(%key, version, "deployment lock renewed");
                lease.version = version;
                last_ok = now;
            }
            Ok(None) if still_ours(&*lock, &mut lease).await => {}
            Ok(None) => {
                tracing::error!(%key, "the deployment lock was taken over by another holder");
                lost.cancel();
                return;
            }
            // Measured after the failed call returned: its own retries and timeouts count.
            Err(e) if clock.now().duration_since(last_ok).unwrap_or_default() >= ttl => {
                tracing::error!(%key, error = %e, "could not renew the deployment lock before it expired");
                lost.cancel();
                return;
            }
            Err(e) => {
                tracing::warn!(%key, error = %e, "renewing the deployment lock failed; retrying")
            }
        }
    }
}

/// After a refused renewal: whether the lease is still ours at another version (a renewal whose answer
/// was lost did bump it); if so, its version is taken up.
async fn still_ours<L: Lock>(lock: &L, lease: &mut Lease) -> bool {
    match lock.holder(&lease.key).await {
        Ok(Some(h)) if h.holder == lease.holder => {
            lease.version = h.version;
            true
        }
        _ => false,
    }
}

impl<L: Lock + 'static> Held<L> {
    /// Cancelled when the lease is lost; stop the run when it fires.
    pub fn lost(&self) -> CancellationToken {
        self.lost.clone()
    }

    /// Who holds the lease now (after [`Held::lost`] fired: who took it over, if anyone).
    pub async fn current_holder(&self) -> Result<Option<LeaseHolder>, ApiError> {
        self.lock.holder(&self.key).await
    }

    /// Stops renewing and deletes the lease (only if still ours).
    pub async fn release(self) -> Result<(), ApiError> {
        self.renewer.abort();
        tracing::debug!(key = %self.key, "deployment lock released");
        self.lock.release(&self.key, &self.holder).await
    }
}

/// Who holds the lease on `key`, if anyone.
pub async fn holder<L: Lock>(lock: &L, key: &str) -> Result<Option<LeaseHolder>, Error> {
    lock.holder(key).await.map_err(Error::Read)
}

/// Breaks the lease on `key` that was `shown` to the person breaking it, and only that one: when it
/// changed in between (its run renewed it, or it expired and a new run took the lock), nothing is
/// deleted and the error is a conflict naming who holds it now. `Ok(false)`: nobody holds it any more
/// (released in between), so there was nothing to break.
pub async fn force_release<L: Lock>(
    lock: &L,
    key: &str,
    shown: &LeaseHolder,
) -> Result<bool, Error> {
    match lock.force_release(key, shown).await.map_err(Error::Read)? {
        Ok(()) => {
            tracing::debug!(%key, holder = %shown.holder, version = shown.version, "deployment lock broken");
            Ok(true)
        }
        Err(None) => Ok(false),
        Err(Some(now)) => Err(changed(key, shown, &now)),
    }
}

/// The conflict error for a lease that changed between being shown and being broken.
fn changed(key: &str, shown: &LeaseHolder, now: &LeaseHolder) -> Error {
    let what = if now.holder == shown.holder && now.since == shown.since {
        format!(
            "the lock on {key} was renewed since it was shown (version {} is now {}): its run is alive; nothing was broken. It is held by {} since {} (expires {})",
            shown.version, now.version, now.holder, now.since, now.expires
        )
    } else {
        format!(
            "the lock on {key} changed hands since it was shown: it is now held by {} since {} (expires {}); nothing was broken",
            now.holder, now.since, now.expires
        )
    };
    Error::Conflict {
        what,
        fix: text!("Look again before breaking it: if that run is dead too, run ", {next Next::ForceUnlock}, " again"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::SystemTime;

    use super::*;
    use crate::ports::{ApiErrorKind, TokioClock};

    /// A lease store that renews once, then fails every renewal after `slow` (a call that retries and
    /// times out).
    struct FailingAfterOne {
        renewals: AtomicU32,
        slow: Duration,
    }

    impl Lock for FailingAfterOne {
        async fn acquire(
            &self,
            _: &str,
            _: &str,
            _: Duration,
            _: SystemTime,
            _: Option<&LeaseHolder>,
        ) -> Result<Result<u64, LeaseHolder>, ApiError> {
            Ok(Ok(1))
        }

        async fn renew(
            &self,
            _: &str,
            _: &str,
            version: u64,
            _: Duration,
            _: SystemTime,
        ) -> Result<Option<u64>, ApiError> {
            if self.renewals.fetch_add(1, Ordering::SeqCst) == 0 {
                return Ok(Some(version + 1));
            }
            tokio::time::sleep(self.slow).await;
            Err(ApiError::new(
                "dynamodb:UpdateItem",
                ApiErrorKind::Timeout,
                "",
            ))
        }

        async fn release(&self, _: &str, _: &str) -> Result<(), ApiError> {
            Ok(())
        }

        async fn holder(&self, _: &str) -> Result<Option<LeaseHolder>, ApiError> {
            Ok(None)
        }

        async fn force_release(
            &self,
            _: &str,
            _: &LeaseHolder,
        ) -> Result<Result<(), Option<LeaseHolder>>, ApiError> {
            Ok(Ok(()))
        }
    }

    /// ttl 90 s, renewed at 30 s; the renewal at 60 s fails after 70 s, at 130 s, when the lease has
    /// been unrenewed for 100 s: the run must learn it then, not one more renewal (100 s) later.
    #[tokio::test(start_paused = true)]
    async fn a_lease_lost_during_a_slow_failing_renewal_is_reported_when_that_renewal_fails() {
        let lock = Arc::new(FailingAfterOne {
            renewals: AtomicU32::new(0),
            slow: Duration::from_secs(70),
        });
        let ttl = Duration::from_secs(90);
        let held = acquire(lock, "listener-1", "test (pid 1)", ttl, TokioClock::new())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(129)).await;
        assert!(!held.lost().is_cancelled(), "still within the lease");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(
            held.lost().is_cancelled(),
            "lost once the failed renewal returned"
        );
    }

    /// Review of issue 21: the conflict says whether the shown lease was renewed (its run is alive) or
    /// changed hands, names who holds it now and is exit 4's kind; a lease gone is nothing to break.
    #[tokio::test]
    async fn breaking_a_lease_that_changed_is_a_conflict_naming_the_holder_now() {
        let lock = crate::testing::InMemoryLock::default();
        let (t0, ttl) = (
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_000),
            Duration::from_secs(90),
        );
        lock.put("k", "dead (pid 1)", t0, ttl);
        let shown = holder(&lock, "k").await.unwrap().unwrap();
        lock.renew("k", "dead (pid 1)", 1, ttl, t0).await.unwrap();
        let e = force_release(&lock, "k", &shown).await.unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Conflict);
        let text = e.to_string();
        assert!(
            text.contains("renewed") && text.contains("version 1 is now 2"),
            "{text}"
        );

        lock.put("k", "new (pid 2)", t0 + ttl, ttl);
        let e = force_release(&lock, "k", &shown).await.unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Conflict);
        let text = e.to_string();
        assert!(
            text.contains("changed hands") && text.contains("held by new (pid 2)"),
            "{text}"
        );
        assert!(
            holder(&lock, "k").await.unwrap().is_some(),
            "nothing broken"
        );

        let now = holder(&lock, "k").await.unwrap().unwrap();
        assert!(force_release(&lock, "k", &now).await.unwrap());
        assert!(
            !force_release(&lock, "k", &now).await.unwrap(),
            "gone: nothing to break"
        );
    }
}
