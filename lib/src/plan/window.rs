//! Which published metric periods judge a step.
//!
//! CloudWatch aggregates ALB metrics into periods aligned to the epoch and publishes each one late. A
//! step is judged only on periods that start at or after its write (the first whole period after it),
//! up to the latest period that has ended `lag` ago (published), and at most `window` back from there:
//!
//! ```text
//!   write      first                                   end = floor((now - lag) / period) * period
//!     |          |<------------- judged periods -------------->|
//!   --+------+---+------+--------+--------+--------+-----------+---- now - lag ---- now
//!     |<---->| part of a period that also holds pre-step traffic: never judged
//! ```
//!
//! A step has baked once the periods judged cover `bake` (`end - first >= bake`), so its real length is
//! about `bake + lag + one period`. Pure: every time comes in as an argument.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The part of the published data a poll of a step reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepWindow {
    /// The start of the first period read (never before the first whole period after the write).
    pub start: SystemTime,
    /// The end of the last published period read.
    pub end: SystemTime,
    /// How much of the step the published periods cover: from the first whole period after the write
    /// to `end`.
    pub covered: Duration,
}

/// The periods a poll at `now` judges for a step written at `write`, with metric `period` (at least 1 s),
/// publication `lag` and at most `window` read back; `None` while no whole period after the write is
/// published.
pub fn step_window(
    write: SystemTime,
    now: SystemTime,
    window: Duration,
    lag: Duration,
    period: Duration,
) -> Option<StepWindow> {
    let period = period.max(Duration::from_secs(1));
    let first = align_up(write, period);
    let end = align_down(now.checked_sub(lag)?, period);
    let covered = end.duration_since(first).ok().filter(|d| !d.is_zero())?;
    let back = window.max(period);
    let start = end.checked_sub(back).map_or(first, |s| s.max(first));
    Some(StepWindow {
        start,
        end,
        covered,
    })
}

/// How much of a step written at `write` the periods actually published cover, given their starts: from
/// the first whole period after the write, through every period published without a gap. CloudWatch
/// publishes late, not always within `--metric-lag` and not always in order: a step's coverage is read
/// from what is there, never assumed from the lag.
pub fn published_coverage(
    write: SystemTime,
    published: &[SystemTime],
    period: Duration,
) -> Duration {
    let period = period.max(Duration::from_secs(1));
    let first = align_up(write, period);
    let mut next = first;
    while published.contains(&next) {
        next += period;
    }
    next.duration_since(first).unwrap_or_default()
}

/// How long after its write a step's bake is covered by published data, at the latest (before the
/// next poll sees it): the bake, the publication lag and one period.
pub fn step_length(bake: Duration, lag: Duration, period: Duration) -> Duration {
    bake + lag + period.max(Duration::from_secs(1))
}

/// `t` rounded down to a whole `period` since the epoch.
pub fn align_down(t: SystemTime, period: Duration) -> SystemTime {
    let nanos = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    let p = period.as_nanos().max(1);
    let floored = nanos - nanos % p;
    UNIX_EPOCH + Duration::from_nanos(u64::try_from(floored).unwrap_or(u64::MAX))
}

/// `t` rounded up to a whole `period` since the epoch.
pub fn align_up(t: SystemTime, period: Duration) -> SystemTime {
    let down = align_down(t, period);
    if down == t {
        t
    } else {
        down + period
    }
}

/// Requests in flight when a rollback's write lands finish within this much, as far as the blast
/// radius is concerned (a live source counts a request in the period it completes in).
pub const IN_FLIGHT_GRACE: Duration = Duration::from_secs(1);

/// The end of the last period a live source must have sampled for a run's blast radius to hold every
/// request the new color served up to a rollback written at `rolled_back`: the boundary after the
/// rollback and the requests still in flight then ([`IN_FLIGHT_GRACE`], at most one period).
pub fn after_rollback_end(rolled_back: SystemTime, period: Duration) -> SystemTime {
    align_up(rolled_back + IN_FLIGHT_GRACE.min(period), period)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_blast_radius_waits_for_the_period_the_requests_in_flight_end_in() {
        let at = |ms: u64| UNIX_EPOCH + Duration::from_millis(ms);
        let five = Duration::from_secs(5);
        // Early in a period: its own end.
        assert_eq!(after_rollback_end(at(101_000), five), at(105_000));
        // Within the grace of its end: a request in flight then completes in the next period.
        assert_eq!(after_rollback_end(at(104_500), five), at(110_000));
        // Never more than one period of grace.
        let half = Duration::from_millis(500);
        assert_eq!(after_rollback_end(at(100_100), half), at(101_000));
    }

    #[test]
    fn coverage_is_read_from_the_periods_published() {
        let at = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
        let minute = Duration::from_secs(60);
        // Written at 10:00:30: the first whole period starts at 10:01:00.
        let write = at(36_030);
        assert_eq!(published_coverage(write, &[], minute), Duration::ZERO);
        assert_eq!(
            published_coverage(write, &[at(36_000)], minute),
            Duration::ZERO,
            "the period the write fell in"
        );
        assert_eq!(
            published_coverage(write, &[at(36_000), at(36_060)], minute),
            minute
        );
        assert_eq!(
            published_coverage(write, &[at(36_060), at(36_120), at(36_180)], minute),
            3 * minute
        );
        assert_eq!(
            published_coverage(write, &[at(36_060), at(36_180)], minute),
            minute,
            "a period published out of order covers nothing until the one before it is there"
        );
    }

    const MIN: Duration = Duration::from_secs(60);

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn nothing_is_judged_before_a_whole_period_after_the_write_is_published() {
        // Written at 10:00:20; the first whole period is 10:01–10:02, published after lag 60 s at 10:03.
        let write = at(36_020);
        for now in [36_020, 36_080, 36_150, 36_179] {
            assert_eq!(
                step_window(write, at(now), 5 * MIN, MIN, MIN),
                None,
                "at {now}"
            );
        }
        let w = step_window(write, at(36_180), 5 * MIN, MIN, MIN).unwrap();
        assert_eq!((w.start, w.end, w.covered), (at(36_060), at(36_120), MIN));
    }

    #[test]
    fn the_window_never_reaches_back_before_the_write_and_grows_to_its_length() {
        let write = at(36_060); // on a period boundary: that period is whole
        let w = step_window(write, at(36_060 + 4 * 60), 5 * MIN, MIN, MIN).unwrap();
        assert_eq!((w.start, w.end), (at(36_060), at(36_240)));
        assert_eq!(w.covered, 3 * MIN);
        // Much later: at most the window back, and coverage keeps counting from the first period.
        let w = step_window(write, at(36_060 + 20 * 60), 5 * MIN, MIN, MIN).unwrap();
        assert_eq!(w.end, at(36_060 + 19 * 60));
        assert_eq!(w.start, at(36_060 + 14 * 60));
        assert_eq!(w.covered, 19 * MIN);
    }

    #[test]
    fn a_step_is_baked_only_once_published_periods_cover_the_bake() {
        // Bake 3 m, lag 60 s, period 60 s, written mid-period: covered from 10:01, enough at 10:05.
        let write = at(36_030);
        let bake = 3 * MIN;
        let covered_at = |now| step_window(write, at(now), 5 * MIN, MIN, MIN).map(|w| w.covered);
        assert!(covered_at(36_000 + 5 * 60 - 1).is_none_or(|c| c < bake));
        assert_eq!(covered_at(36_000 + 5 * 60), Some(bake));
        assert!(step_length(bake, MIN, MIN) >= Duration::from_secs(36_300 - 36_030));
    }

    #[test]
    fn sub_second_and_zero_periods_are_read_as_one_second() {
        let w = step_window(
            at(100),
            at(103),
            Duration::ZERO,
            Duration::ZERO,
            Duration::ZERO,
        );
        let w = w.unwrap();
        assert_eq!(
            (w.start, w.end, w.covered),
            (at(102), at(103), Duration::from_secs(3))
        );
    }
}
