//! Metrics from cumulative counters (HAProxy's `show stat`, an access log's running totals): a local
//! router can read how many requests each server answered and failed since it started, but not per
//! period. [`CounterMetrics`] reads its [`CounterSource`] at every period boundary (aligned to the epoch,
//! through the [`Clock`]) and answers each poll with the periods of the window as the differences of
//! consecutive samples: per-period counts with no publication lag, which the gates and the sequential
//! judge read as they read CloudWatch's.
//!
//! A counter that goes down between two samples was reset (the router restarted or reloaded): the
//! period then counts what the counter holds, the requests since the reset. A sample that could not be
//! read leaves its two periods out (a gap, as a period CloudWatch never published), and the error is
//! what the next poll returns.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::task::JoinHandle;

use crate::plan::window::{align_down, align_up};
use crate::plan::{ColorMetrics, Observation, Period, PeriodCounts};
use crate::ports::{ApiError, ApiErrorKind, Backend, Clock, MetricQuery, MetricSource};

/// The label of a [`Backend`] scope that names one server's counters (what the [`CounterSource`]
/// keys them by): a local router gives one scope per server of the color.
pub const COUNTER_LABEL: &str = "counter";

/// Samples kept: an hour of one-second periods.
const KEPT: usize = 3600;

/// One server's counters since the router started.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Cumulative {
    /// Requests sent to the server: answered, failed, or refused at connection.
    pub requests: u64,
    /// Of those, the ones the server failed: 5xx answers and failed connections.
    pub errors: u64,
    /// The server's recent response time in seconds, as the router reports it now (not cumulative).
    pub latency_seconds: Option<f64>,
}

/// Where cumulative counters come from: one read gives every server's, keyed the way the router's
/// [`Backend`] scopes name them ([`COUNTER_LABEL`]).
pub trait CounterSource: Send + Sync + 'static {
    /// Reads every server's counters now.
    fn read(&self) -> impl Future<Output = Result<BTreeMap<String, Cumulative>, ApiError>> + Send;
}

/// The counters read at one period boundary.
#[derive(Debug, Clone)]
struct Sample {
    at: SystemTime,
    counters: BTreeMap<String, Cumulative>,
}

#[derive(Debug, Default)]
struct Samples {
    kept: VecDeque<Sample>,
    /// The last read's failure, cleared by the next good read.
    failing: Option<ApiError>,
}

/// A [`MetricSource`] over a [`CounterSource`], sampled at every `period` boundary by a task of its own
/// (stopped when this is dropped).
#[derive(Debug)]
pub struct CounterMetrics {
    samples: Arc<Mutex<Samples>>,
    period: Duration,
    sampler: JoinHandle<()>,
}

impl Drop for CounterMetrics {
    fn drop(&mut self) {
        self.sampler.abort();
    }
}

fn locked(m: &Mutex<Samples>) -> MutexGuard<'_, Samples> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl CounterMetrics {
    /// Starts sampling `source` at every `period` boundary (at least one second) on `clock`. Must be
    /// called inside a tokio runtime.
    pub fn start<S: CounterSource, C: Clock + 'static>(
        source: S,
        clock: C,
        period: Duration,
    ) -> CounterMetrics {
        let period = period.max(Duration::from_secs(1));
        let samples = Arc::new(Mutex::new(Samples::default()));
        let shared = samples.clone();
        let sampler = tokio::spawn(async move {
            // A first sample now stands for the period it falls in: that period then counts from now
            // on, so that a step written before the next boundary has its first requests counted.
            let first = align_down(clock.now(), period);
            sample(&source, &shared, first).await;
            loop {
                let now = clock.now();
                let next = align_up(now + Duration::from_nanos(1), period);
                clock
                    .sleep(next.duration_since(now).unwrap_or_default())
                    .await;
                sample(&source, &shared, next).await;
            }
        });
        CounterMetrics {
            samples,
            period,
            sampler,
        }
    }

    /// The sampling period.
    pub fn period(&self) -> Duration {
        self.period
    }
}

/// Reads `source` and keeps what it read as the sample at `at`, or its failure.
async fn sample<S: CounterSource>(source: &S, shared: &Mutex<Samples>, at: SystemTime) {
    let read = source.read().await;
    let mut s = locked(shared);
    match read {
        Ok(counters) => {
            s.failing = None;
            s.kept.push_back(Sample { at, counters });
            if s.kept.len() > KEPT {
                s.kept.pop_front();
            }
        }
        Err(e) => s.failing = Some(e),
    }
}

/// The counter keys of a backend's scopes.
fn keys(backend: &Backend) -> Vec<&str> {
    backend
        .scopes
        .iter()
        .filter_map(|labels| labels.get(COUNTER_LABEL).map(String::as_str))
        .collect()
}

/// One color's counts between two samples.
fn delta(before: &Sample, after: &Sample, keys: &[&str]) -> PeriodCounts {
    let mut counts = PeriodCounts::default();
    for key in keys {
        let Some(now) = after.counters.get(*key) else {
            continue;
        };
        let then = before.counters.get(*key).copied().unwrap_or_default();
        // A counter below its last value was reset: it holds the requests since.
        let reset = now.requests < then.requests || now.errors < then.errors;
        let (requests, errors) = if reset {
            (now.requests, now.errors)
        } else {
            (now.requests - then.requests, now.errors - then.errors)
        };
        counts.requests += requests as f64;
        counts.errors += errors.min(requests) as f64;
        if requests > 0 {
            if let Some(l) = now.latency_seconds {
                counts.latency_seconds = Some(counts.latency_seconds.map_or(l, |w: f64| w.max(l)));
            }
        }
    }
    counts
}

fn add(total: &mut ColorMetrics, period: &PeriodCounts) {
    total.requests += period.requests;
    total.errors += period.errors;
    if let Some(l) = period.latency_seconds {
        total.latency_seconds = Some(total.latency_seconds.map_or(l, |w| w.max(l)));
    }
}

/// The periods of `[start, end)` both of whose boundaries were sampled, oldest first.
fn periods(kept: &VecDeque<Sample>, query: &MetricQuery, period: Duration) -> Vec<Period> {
    let (new, stable) = (keys(&query.new), keys(&query.stable));
    let start = align_up(query.start, period);
    let end = align_down(query.end, period);
    kept.iter()
        .zip(kept.iter().skip(1))
        .filter(|(a, b)| {
            b.at.duration_since(a.at).ok() == Some(period) && a.at >= start && b.at <= end
        })
        .map(|(a, b)| Period {
            start: a.at,
            new: delta(a, b, &new),
            stable: delta(a, b, &stable),
        })
        .collect()
}

impl MetricSource for CounterMetrics {
    fn live(&self) -> bool {
        true
    }

    async fn observe(&self, query: &MetricQuery) -> Result<Observation, ApiError> {
        if query.period != self.period {
            return Err(ApiError::new(
                "counters:Observe",
                ApiErrorKind::Rejected {
                    code: "PeriodMismatch".into(),
                },
                format!(
                    "the counters are sampled every {}, not every {}",
                    humantime::format_duration(self.period),
                    humantime::format_duration(query.period)
                ),
            ));
        }
        let s = locked(&self.samples);
        if let Some(e) = &s.failing {
            return Err(e.clone());
        }
        let periods = periods(&s.kept, query, self.period);
        let (mut new, mut stable) = (ColorMetrics::default(), ColorMetrics::default());
        for p in &periods {
            add(&mut new, &p.new);
            add(&mut stable, &p.stable);
        }
        let mut observation = Observation::totals(new, stable, query.start, query.end);
        observation.periods = periods;
        observation.by_period = true;
        Ok(observation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Color;
    use crate::ports::{Labels, TokioClock};
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A router whose green server answers 10 requests a second, one of them failed, and whose blue
    /// server answers 30, none failed; `reset_at` resets green's counters once.
    struct Ticking {
        reads: Arc<AtomicU64>,
        reset_at: u64,
        fail_at: u64,
    }

    impl CounterSource for Ticking {
        async fn read(&self) -> Result<BTreeMap<String, Cumulative>, ApiError> {
            let n = self.reads.fetch_add(1, Ordering::SeqCst) + 1;
            if n == self.fail_at {
                return Err(ApiError::new("test:Read", ApiErrorKind::Unreachable, ""));
            }
            let green_n = if n >= self.reset_at {
                n - self.reset_at + 1
            } else {
                n
            };
            let server = |requests, errors| Cumulative {
                requests,
                errors,
                latency_seconds: Some(0.02),
            };
            Ok(BTreeMap::from([
                ("web/green1".to_string(), server(10 * green_n, green_n)),
                ("web/blue1".to_string(), server(30 * n, 0)),
            ]))
        }
    }

    fn backend(color: Color, server: &str) -> Backend {
        Backend {
            color,
            name: server.into(),
            id: server.into(),
            scopes: vec![Labels::from([(
                COUNTER_LABEL.to_string(),
                server.to_string(),
            )])],
        }
    }

    fn query(start: SystemTime, end: SystemTime) -> MetricQuery {
        MetricQuery {
            new: backend(Color::Green, "web/green1"),
            stable: backend(Color::Blue, "web/blue1"),
            start,
            end,
            period: Duration::from_secs(1),
            latency_statistic: crate::plan::LatencyStatistic::Average,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn each_period_is_the_difference_of_its_two_boundary_samples() {
        let clock =
            TokioClock::starting_at(SystemTime::UNIX_EPOCH + Duration::from_millis(1_000_500));
        let source = Ticking {
            reads: Arc::default(),
            reset_at: u64::MAX,
            fail_at: 0,
        };
        let metrics = CounterMetrics::start(source, clock, Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(5_600)).await;
        let now = clock.now();
        let o = metrics
            .observe(&query(now - Duration::from_secs(60), now))
            .await
            .unwrap();
        // A first sample at the start (standing for the period 1000 it falls in), then the boundaries
        // 1001..=1006: six periods.
        assert_eq!(o.periods.len(), 6, "{:?}", o.periods);
        assert!(o.by_period);
        assert_eq!(
            o.periods[0].start,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1000)
        );
        for p in &o.periods {
            assert_eq!((p.new.requests, p.new.errors), (10.0, 1.0));
            assert_eq!((p.stable.requests, p.stable.errors), (30.0, 0.0));
            assert_eq!(p.new.latency_seconds, Some(0.02));
        }
        assert_eq!((o.new.requests, o.new.errors), (60.0, 6.0));
        // A window that starts after a boundary reads only the periods wholly inside it.
        let late = metrics
            .observe(&query(now - Duration::from_millis(2_500), now))
            .await
            .unwrap();
        assert_eq!(late.periods.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_reset_counts_from_zero_and_a_failed_read_is_a_gap_and_an_error() {
        let clock = TokioClock::starting_at(SystemTime::UNIX_EPOCH + Duration::from_secs(2_000));
        let reads = Arc::new(AtomicU64::new(0));
        let source = Ticking {
            reads: reads.clone(),
            reset_at: 3,
            fail_at: 6,
        };
        let metrics = CounterMetrics::start(source, clock, Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(5_500)).await;
        let now = clock.now();
        let e = metrics
            .observe(&query(now - Duration::from_secs(60), now))
            .await
            .unwrap_err();
        assert_eq!(
            e.kind,
            ApiErrorKind::Unreachable,
            "the failing read is reported"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = clock.now();
        let o = metrics
            .observe(&query(now - Duration::from_secs(60), now))
            .await
            .unwrap();
        // Samples at 2000, 2001, 2002 (reset), 2003, 2004, [2005 failed], 2006: periods 2000 to 2003;
        // 2004 and 2005 missing.
        let starts: Vec<u64> = o
            .periods
            .iter()
            .map(|p| {
                p.start
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap()
                    .as_secs()
            })
            .collect();
        assert_eq!(starts, vec![2000, 2001, 2002, 2003]);
        assert_eq!(
            o.periods[1].new.requests, 10.0,
            "the reset period counts since the reset"
        );
        assert!(o.periods.iter().all(|p| p.new.requests == 10.0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_query_of_another_period_is_refused() {
        let clock = TokioClock::new();
        let source = Ticking {
            reads: Arc::default(),
            reset_at: u64::MAX,
            fail_at: 0,
        };
        let metrics = CounterMetrics::start(source, clock, Duration::from_secs(5));
        let now = clock.now();
        let e = metrics.observe(&query(now, now)).await.unwrap_err();
        assert!(e.to_string().contains("every 5s"), "{e}");
    }
}
