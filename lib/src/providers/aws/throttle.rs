//! Longer patience for writes under throttling, and one queue for them. An ELB write that AWS throttles
//! comes straight back here (the SDK does not retry it: [`super::sdk::queued_write`]), waits with
//! exponential backoff and jitter, and takes a new turn in the process's write queue, for up to
//! [`WRITE_BUDGET`] (5 minutes), because giving up on a write mid-deployment is worse than waiting for it.
//! A fleet of deployments against the ELB API's write quota is the case this is for.

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
/// queue (tokio's mutex is fair), and the gap between turns widens by [`WIDEN`] on a throttled write (at
/// least [`FIRST_GAP`], at most [`MAX_GAP`]) and narrows by [`NARROW`] on each success. Without it, a
/// fleet of deployments retrying independently lets some writes lose the race over and over until their
/// budget runs out (measured with bench/run).
///
/// The gap widens once per throttling episode: a throttled write that took its turn before the last
/// widening was sent at the old pace and says nothing about the new one (the writes in flight together
/// come back throttled together). A small widening and a slow narrowing keep the pace close to the
/// quota: issue 20 measured 68 % of the write floor with a doubling gap that narrowed by 20 % per
/// success; `bench/run --only fleet` measures this one.
struct Pacer {
    next: tokio::sync::Mutex<tokio::time::Instant>,
    pace: std::sync::Mutex<Pace>,
}

/// The gap between turns, and when it last widened.
#[derive(Debug, Clone, Copy)]
struct Pace {
    gap: Duration,
    widened_at: Option<tokio::time::Instant>,
}

/// The gap after the first throttled write.
const FIRST_GAP: Duration = Duration::from_millis(20);
const MAX_GAP: Duration = Duration::from_secs(2);
/// Widening factor on a throttled write.
const WIDEN: f64 = 1.2;
/// Narrowing factor on a write that succeeds.
const NARROW: f64 = 0.99;

fn pacer() -> &'static Pacer {
    static PACER: std::sync::OnceLock<Pacer> = std::sync::OnceLock::new();
    PACER.get_or_init(Pacer::new)
}

impl Pacer {
    fn new() -> Pacer {
        Pacer {
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
            pace: std::sync::Mutex::new(Pace {
                gap: Duration::ZERO,
                widened_at: None,
            }),
        }
    }

    fn gap(&self) -> Duration {
        self.pace.lock().map(|p| p.gap).unwrap_or(Duration::ZERO)
    }

    /// Adjusts the gap to the outcome of a write that took its turn at `turn`.
    fn adjust(&self, turn: tokio::time::Instant, throttled: bool) {
        let Ok(mut pace) = self.pace.lock() else {
            return;
        };
        if throttled {
            if pace.widened_at.is_some_and(|at| turn <= at) {
                return;
            }
            pace.gap = pace.gap.mul_f64(WIDEN).clamp(FIRST_GAP, MAX_GAP);
            pace.widened_at = Some(tokio::time::Instant::now());
        } else {
            pace.gap = pace.gap.mul_f64(NARROW);
            if pace.gap < Duration::from_millis(1) {
                pace.gap = Duration::ZERO;
            }
        }
    }

    /// Waits for this write's turn; returns when the turn came.
    async fn turn(&self) -> tokio::time::Instant {
        let mut next = self.next.lock().await;
        tokio::time::sleep_until(*next).await;
        let now = tokio::time::Instant::now();
        *next = now + self.gap();
        now
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
        let turn = match pacer {
            Some(p) => Some(p.turn().await),
            None => None,
        };
        let result = call().await;
        let throttled = matches!(&result, Err(e) if e.kind == ApiErrorKind::Throttled);
        if let (Some(p), Some(turn)) = (pacer, turn) {
            p.adjust(turn, throttled);
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

    /// Issue 20: writes in flight together come back throttled together; only the first of them widens
    /// the gap, and successes narrow it slowly.
    #[tokio::test(start_paused = true)]
    async fn the_gap_widens_once_per_throttling_episode_and_narrows_slowly() {
        let pacer = Pacer::new();
        let turns = [pacer.turn().await, pacer.turn().await, pacer.turn().await];
        assert_eq!(pacer.gap(), Duration::ZERO);
        for turn in turns {
            pacer.adjust(turn, true);
        }
        assert_eq!(
            pacer.gap(),
            FIRST_GAP,
            "three throttled answers, one widening"
        );
        tokio::time::advance(Duration::from_millis(5)).await;
        let later = pacer.turn().await;
        pacer.adjust(later, true);
        assert_eq!(pacer.gap(), FIRST_GAP.mul_f64(WIDEN));
        let wide = pacer.gap();
        let turn = pacer.turn().await;
        pacer.adjust(turn, false);
        assert_eq!(pacer.gap(), wide.mul_f64(NARROW));
        // The next turn waits the gap.
        let before = tokio::time::Instant::now();
        pacer.turn().await;
        assert!(tokio::time::Instant::now() - before >= wide.mul_f64(NARROW));
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
