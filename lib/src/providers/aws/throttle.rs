//! Longer patience for writes under throttling. The SDK's standard retry gives every call a few
//! attempts; a write that is still throttled after those (a fleet of deployments against the ELB API's
//! write quota) is retried here with exponential backoff and jitter for up to [`WRITE_BUDGET`] (5 minutes), because
//! giving up on a write mid-deployment is worse than waiting for it.

use std::future::Future;
use std::time::Duration;

use crate::ports::{ApiError, ApiErrorKind};

/// How long a throttled write keeps being retried.
pub const WRITE_BUDGET: Duration = Duration::from_secs(300);
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// The backoff before retry number `attempt` (0-based): exponential, capped, with up to 50 % jitter
/// taken from `noise` (any number; the clock's nanoseconds in practice).
pub fn backoff(attempt: u32, noise: u32) -> Duration {
    let base = FIRST_BACKOFF
        .saturating_mul(1u32 << attempt.min(10))
        .min(MAX_BACKOFF);
    let jitter = base.mul_f64(f64::from(noise % 1000) / 2000.0);
    base + jitter
}

/// Spaces the process's ELB writes when AWS throttles them: every write waits its turn in one FIFO
/// queue (tokio's mutex is fair), and the gap between writes doubles on each throttled write (up to
/// 2 s) and shrinks on each success. Without it, a fleet of deployments retrying independently lets
/// some writes lose the race over and over until their budget runs out (measured with bench/run).
struct Pacer {
    next: tokio::sync::Mutex<tokio::time::Instant>,
    gap: std::sync::Mutex<Duration>,
}

const MAX_GAP: Duration = Duration::from_secs(2);

fn pacer() -> &'static Pacer {
    static PACER: std::sync::OnceLock<Pacer> = std::sync::OnceLock::new();
    PACER.get_or_init(|| Pacer {
        next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
        gap: std::sync::Mutex::new(Duration::ZERO),
    })
}

impl Pacer {
    fn gap(&self) -> Duration {
        self.gap.lock().map(|g| *g).unwrap_or(Duration::ZERO)
    }

    fn adjust(&self, throttled: bool) {
        if let Ok(mut gap) = self.gap.lock() {
            *gap = if throttled {
                (*gap * 2).max(Duration::from_millis(100)).min(MAX_GAP)
            } else if *gap < Duration::from_millis(10) {
                Duration::ZERO
            } else {
                gap.mul_f64(0.8)
            };
        }
    }

    /// Waits for this write's turn.
    async fn turn(&self) {
        let mut next = self.next.lock().await;
        tokio::time::sleep_until(*next).await;
        *next = tokio::time::Instant::now() + self.gap();
    }
}

/// Runs `call` (a write) in its turn, and again while it fails with [`ApiErrorKind::Throttled`],
/// within [`WRITE_BUDGET`].
pub async fn retry_throttled<T, F, Fut>(call: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    retry(call, Some(pacer())).await
}

/// Runs `call` (a read), and again while it fails with [`ApiErrorKind::Throttled`], within
/// [`WRITE_BUDGET`]: a rollback's reads get the patience of its writes. Reads do not queue behind the
/// writes' pacer.
pub async fn retry_throttled_read<T, F, Fut>(call: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    retry(call, None).await
}

/// Runs `call`, in its turn in `pacer`'s queue when given, and again with backoff while it fails with
/// [`ApiErrorKind::Throttled`], within [`WRITE_BUDGET`].
async fn retry<T, F, Fut>(mut call: F, pacer: Option<&Pacer>) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let started = tokio::time::Instant::now();
    let mut attempt = 0;
    loop {
        if let Some(p) = pacer {
            p.turn().await;
        }
        let result = call().await;
        let throttled = matches!(&result, Err(e) if e.kind == ApiErrorKind::Throttled);
        if let Some(p) = pacer {
            p.adjust(throttled);
        }
        match result {
            Err(e) if throttled && started.elapsed() < WRITE_BUDGET => {
                // Jitter from the process's random hash keys: no clock read.
                let noise = {
                    use std::hash::BuildHasher;
                    let bits = std::collections::hash_map::RandomState::new().hash_one(attempt);
                    u32::try_from(bits % 1_000_000_000).unwrap_or(0)
                };
                let wait = backoff(attempt, noise);
                tracing::debug!(operation = %e.operation, ?wait, "throttled; retrying");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn backoff_grows_caps_and_jitters_up_to_half() {
        assert_eq!(backoff(0, 0), Duration::from_millis(500));
        assert_eq!(backoff(1, 0), Duration::from_secs(1));
        assert_eq!(backoff(10, 0), MAX_BACKOFF);
        assert_eq!(backoff(0, 999), Duration::from_micros(749_750));
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_is_retried_and_other_errors_are_not() {
        let calls = AtomicU32::new(0);
        let out = retry_throttled(|| async {
            if calls.fetch_add(1, Ordering::SeqCst) < 3 {
                Err(ApiError::new(
                    "x:ModifyListener",
                    ApiErrorKind::Throttled,
                    "Rate exceeded",
                ))
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(out, Ok(7));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        let calls = AtomicU32::new(0);
        let out: Result<(), _> = retry_throttled(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(ApiError::new(
                "x:ModifyListener",
                ApiErrorKind::Unreachable,
                "",
            ))
        })
        .await;
        assert!(out.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
