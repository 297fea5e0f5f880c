//! Longer patience for writes under throttling. The SDK's standard retry gives every call a few
//! attempts; a write that is still throttled after those (a fleet of deployments against the ELB API's
//! write quota) is retried here with exponential backoff and jitter for up to [`WRITE_BUDGET`] (5 minutes), because
//! giving up on a write mid-deployment is worse than waiting for it.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// Runs `call` again while it fails with [`ApiErrorKind::Throttled`], within [`WRITE_BUDGET`].
pub async fn retry_throttled<T, F, Fut>(mut call: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let started = tokio::time::Instant::now();
    let mut attempt = 0;
    loop {
        match call().await {
            Err(e) if e.kind == ApiErrorKind::Throttled && started.elapsed() < WRITE_BUDGET => {
                let noise = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.subsec_nanos())
                    .unwrap_or(0);
                let wait = backoff(attempt, noise);
                tracing::debug!(operation = %e.operation, ?wait, "throttled; retrying the write");
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
