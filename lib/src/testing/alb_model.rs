//! A realistic model of the metrics an Application Load Balancer publishes to CloudWatch, for tests and
//! the judge's Monte Carlo benchmark (feature `testing`). Seeded and deterministic.
//!
//! Given a request rate for the whole route, the share of each color in a period (time-weighted from the
//! weight history) and each color's [`Course`] (its [`Behaviour`] over time: target 5XX, refused
//! connections, timeouts, a log-normal latency, healthy and unhealthy targets), [`AlbModel::period`]
//! draws one metric period as AWS counts it:
//! - a target group's `RequestCount` holds every request the load balancer chose one of its targets
//!   for: served, refused and timed out alike (not those it had no target for, which get a 503);
//! - `HTTPCode_Target_5XX_Count` counts the 5XX its targets returned; `TargetConnectionErrorCount` the
//!   refused connections, which the load balancer answers with a 502; both are absent when zero;
//! - `TargetResponseTime` is a statistic of the requests served only (no datapoint without one);
//! - `HealthyHostCount` and `UnHealthyHostCount` are per load balancer node: each node sees a change of
//!   its targets' health a little later than the one before, so the Minimum over nodes lags while a
//!   color is being raised ([`ModelConfig::node_lag`]);
//! - the load balancer's own `HTTPCode_ELB_5XX_Count` (502 refused, 503 no target, 504 timed out;
//!   absent when zero) and `RequestCount` have no `TargetGroup` dimension.
//!
//! Each period becomes visible [`AlbModel::published_at`]: its end plus a lag drawn between
//! [`ModelConfig::lag_min`] and [`ModelConfig::lag_max`]. The core is pure and reads no clock: a period
//! is a function of the seed, its start and the shares, whatever order periods are drawn in.
//! [`fold`] reads periods into an [`Observation`] through the CloudWatch adapter's own
//! [`SeriesFold`], so a test reads the model exactly as albflip reads CloudWatch.
//! [`super::model_source::ModelMetrics`] serves it as a [`crate::ports::MetricSource`] in simulated time.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use albflip::model::Color;
//! use albflip::plan::LatencyStatistic;
//! use albflip::testing::alb_model::{fold, AlbModel, Behaviour, Course, Shares};
//!
//! let minute = Duration::from_secs(60);
//! let t0 = UNIX_EPOCH + 29_000_000 * minute; // periods start on whole minutes
//! // 200 requests a second; green fine until t0, then one request in five fails.
//! let bad = Behaviour::healthy().with_target_5xx(0.2);
//! let model = AlbModel::new(7, 200.0)
//!     .with_course(Color::Green, Course::steady(Behaviour::healthy()).then(t0, bad));
//! let before = model.period(t0 - minute, Shares::to(Color::Green, 0.1));
//! let after = model.period(t0, Shares::to(Color::Green, 0.1));
//! assert_eq!(before.green.target_5xx, 0);
//! assert!(after.green.target_5xx > 100, "about 20 % of some 1200 requests");
//! assert_eq!(after, model.period(t0, Shares::to(Color::Green, 0.1)), "the same draw every time");
//! assert!(model.published_at(t0) >= t0 + 2 * minute, "visible a period end plus the lag later");
//!
//! let p99 = LatencyStatistic::Percentile(99.0);
//! let seen = fold(&[after], Color::Green, p99, t0, t0 + minute);
//! assert!(seen.new.error_rate().is_some_and(|r| r > 0.15 && r < 0.25));
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::model::{Color, Split};
use crate::plan::{LatencyStatistic, Observation};
use crate::ports::TargetHealth;
use crate::providers::aws::cloudwatch::SeriesFold;

mod sample;
use sample::Rng;

/// The model's timing and resolution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelConfig {
    /// The metric period (CloudWatch's ALB metrics: 60 s).
    pub period: Duration,
    /// The shortest time after a period's end before its datapoints are visible.
    pub lag_min: Duration,
    /// The longest time after a period's end before its datapoints are visible.
    pub lag_max: Duration,
    /// Load balancer nodes (one per Availability Zone) that each publish host counts.
    pub nodes: u32,
    /// How much later than the first node the last one sees a target's health change.
    pub node_lag: Duration,
    /// Slices a period is cut into to follow a behaviour that changes within it.
    pub slices: u32,
    /// Most latencies drawn per color and period; beyond, the statistic is read from a sample.
    pub latency_samples: usize,
}

impl Default for ModelConfig {
    /// 60 s periods published 60 to 150 s after they end, 3 nodes up to 90 s apart, 10 s slices, up to
    /// 2000 latencies a period.
    fn default() -> Self {
        ModelConfig {
            period: Duration::from_secs(60),
            lag_min: Duration::from_secs(60),
            lag_max: Duration::from_secs(150),
            nodes: 3,
            node_lag: Duration::from_secs(90),
            slices: 6,
            latency_samples: 2000,
        }
    }
}

/// A log-normal latency: half the requests take less than `median_seconds`; `sigma` is the standard
/// deviation of the logarithm (0.5: p99 is about 3.2 times the median).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogNormal {
    /// The median, in seconds.
    pub median_seconds: f64,
    /// The shape.
    pub sigma: f64,
}

/// How a color's targets behave at one moment. Probabilities are per request, in this order: the
/// connection is refused, else the target times out, else it answers, with a 5XX or not.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Behaviour {
    /// Chance a served request gets a 5XX from its target.
    pub target_5xx: f64,
    /// Chance the connection to the target is refused (`TargetConnectionErrorCount`, an ELB 502).
    pub refused: f64,
    /// Chance the target does not answer in time (an ELB 504).
    pub timeouts: f64,
    /// The served requests' response time.
    pub latency: LogNormal,
    /// Targets passing their health checks.
    pub healthy: u32,
    /// Targets failing them.
    pub unhealthy: u32,
}

impl Behaviour {
    /// No failures, 50 ms median latency (sigma 0.5), 2 healthy targets.
    pub fn healthy() -> Behaviour {
        Behaviour {
            target_5xx: 0.0,
            refused: 0.0,
            timeouts: 0.0,
            latency: LogNormal {
                median_seconds: 0.05,
                sigma: 0.5,
            },
            healthy: 2,
            unhealthy: 0,
        }
    }

    /// With this chance of a target 5XX.
    pub fn with_target_5xx(self, p: f64) -> Behaviour {
        Behaviour {
            target_5xx: p,
            ..self
        }
    }

    /// With this chance of a refused connection.
    pub fn with_refused(self, p: f64) -> Behaviour {
        Behaviour { refused: p, ..self }
    }

    /// With this chance of a timeout.
    pub fn with_timeouts(self, p: f64) -> Behaviour {
        Behaviour {
            timeouts: p,
            ..self
        }
    }

    /// With this median latency (the shape kept).
    pub fn with_median_latency(self, median: Duration) -> Behaviour {
        let latency = LogNormal {
            median_seconds: median.as_secs_f64(),
            ..self.latency
        };
        Behaviour { latency, ..self }
    }

    /// With these target counts.
    pub fn with_targets(self, healthy: u32, unhealthy: u32) -> Behaviour {
        Behaviour {
            healthy,
            unhealthy,
            ..self
        }
    }

    /// The way from `self` (at 0) to `to` (at 1): rates and latency linearly, targets rounded.
    fn toward(&self, to: &Behaviour, f: f64) -> Behaviour {
        let lerp = |a: f64, b: f64| a + (b - a) * f;
        let count = |a: u32, b: u32| lerp(f64::from(a), f64::from(b)).round() as u32;
        Behaviour {
            target_5xx: lerp(self.target_5xx, to.target_5xx),
            refused: lerp(self.refused, to.refused),
            timeouts: lerp(self.timeouts, to.timeouts),
            latency: LogNormal {
                median_seconds: lerp(self.latency.median_seconds, to.latency.median_seconds),
                sigma: lerp(self.latency.sigma, to.latency.sigma),
            },
            healthy: count(self.healthy, to.healthy),
            unhealthy: count(self.unhealthy, to.unhealthy),
        }
    }
}

/// A color's behaviour over time: where it starts, and changes at given times, at once ("fine before,
/// bad after") or over a while ("a leak rising over 10 minutes").
#[derive(Debug, Clone, PartialEq)]
pub struct Course {
    initial: Behaviour,
    changes: Vec<Change>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Change {
    at: SystemTime,
    over: Duration,
    to: Behaviour,
}

impl Course {
    /// The same behaviour all along.
    pub fn steady(behaviour: Behaviour) -> Course {
        Course {
            initial: behaviour,
            changes: Vec::new(),
        }
    }

    /// Behaves as `to` from `at` on.
    pub fn then(self, at: SystemTime, to: Behaviour) -> Course {
        self.ramp(at, Duration::ZERO, to)
    }

    /// Moves linearly from the behaviour at `at` to `to` over `over`.
    pub fn ramp(mut self, at: SystemTime, over: Duration, to: Behaviour) -> Course {
        let i = self.changes.partition_point(|c| c.at <= at);
        self.changes.insert(i, Change { at, over, to });
        self
    }

    /// The behaviour at `t`.
    pub fn at(&self, t: SystemTime) -> Behaviour {
        let mut now = self.initial;
        for c in self.changes.iter().take_while(|c| c.at <= t) {
            let into = t.duration_since(c.at).unwrap_or_default();
            let f = if into >= c.over {
                1.0
            } else {
                into.as_secs_f64() / c.over.as_secs_f64()
            };
            now = now.toward(&c.to, f);
        }
        now
    }

    /// The targets as `DescribeTargetHealth` lists them at `t`.
    pub fn health(&self, t: SystemTime) -> TargetHealth {
        let b = self.at(t);
        TargetHealth {
            unhealthy: b.unhealthy,
            ..TargetHealth::of(b.healthy, b.healthy + b.unhealthy)
        }
    }
}

/// The share of a period's requests each color gets, as fractions (time-weighted over the period).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Shares {
    /// Blue's share.
    pub blue: f64,
    /// Green's share.
    pub green: f64,
}

impl Shares {
    /// `share` to `color`, the rest to the other.
    pub fn to(color: Color, share: f64) -> Shares {
        let share = share.clamp(0.0, 1.0);
        match color {
            Color::Blue => Shares {
                blue: share,
                green: 1.0 - share,
            },
            Color::Green => Shares {
                blue: 1.0 - share,
                green: share,
            },
        }
    }

    /// The shares of a split.
    pub fn of_split(split: Split) -> Shares {
        Shares::to(
            Color::Green,
            f64::from(split.percent_of(Color::Green).get()) / 100.0,
        )
    }

    /// One color's share.
    pub fn of(&self, color: Color) -> f64 {
        match color {
            Color::Blue => self.blue,
            Color::Green => self.green,
        }
    }
}

/// The splits a route had and since when, oldest first. Before the first entry, the first split held.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WeightHistory(Vec<(SystemTime, Split)>);

impl WeightHistory {
    /// A route at `split` since `at`.
    pub fn starting(at: SystemTime, split: Split) -> WeightHistory {
        WeightHistory(vec![(at, split)])
    }

    /// The route is at `split` from `at` on (entries must come in time order).
    pub fn record(&mut self, at: SystemTime, split: Split) {
        self.0.push((at, split));
    }

    /// Every entry, oldest first.
    pub fn entries(&self) -> &[(SystemTime, Split)] {
        &self.0
    }

    /// The split at `t`.
    pub fn split_at(&self, t: SystemTime) -> Split {
        let first = self.0.first().map_or(Split::all_to(Color::Blue), |e| e.1);
        self.0
            .iter()
            .take_while(|(at, _)| *at <= t)
            .last()
            .map_or(first, |e| e.1)
    }

    /// The time-weighted shares over `[start, end)`.
    pub fn shares(&self, start: SystemTime, end: SystemTime) -> Shares {
        let Ok(length) = end.duration_since(start) else {
            return Shares::of_split(self.split_at(start));
        };
        if length.is_zero() {
            return Shares::of_split(self.split_at(start));
        }
        let mut cuts: Vec<SystemTime> = vec![start];
        cuts.extend(
            self.0
                .iter()
                .map(|e| e.0)
                .filter(|t| *t > start && *t < end),
        );
        cuts.push(end);
        let green: f64 = cuts
            .windows(2)
            .map(|w| {
                let span = w[1].duration_since(w[0]).unwrap_or_default().as_secs_f64();
                span * Shares::of_split(self.split_at(w[0])).green
            })
            .sum();
        Shares::to(Color::Green, green / length.as_secs_f64())
    }
}

/// One color's datapoints in one period, as its target group's metrics count them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ColorPeriod {
    /// `RequestCount`: served, refused and timed-out requests.
    pub requests: u64,
    /// `HTTPCode_Target_5XX_Count`.
    pub target_5xx: u64,
    /// `TargetConnectionErrorCount`: refused connections (each an ELB 502).
    pub connection_errors: u64,
    /// Requests the target did not answer in time (each an ELB 504; no target metric counts them).
    pub timeouts: u64,
    /// Requests the load balancer had no target for (each an ELB 503; in no `RequestCount`).
    pub no_target: u64,
    /// `HealthyHostCount`, Minimum over the load balancer's nodes and the period.
    pub healthy_min: u32,
    /// `UnHealthyHostCount`, Maximum over the load balancer's nodes and the period.
    pub unhealthy_max: u32,
    /// Latencies of served requests (a sample of at most [`ModelConfig::latency_samples`]), sorted.
    latencies: Vec<f64>,
}

impl ColorPeriod {
    /// Requests its targets answered.
    pub fn served(&self) -> u64 {
        self.requests
            .saturating_sub(self.connection_errors)
            .saturating_sub(self.timeouts)
    }

    /// `TargetResponseTime` at `statistic` (nearest rank for percentiles); `None` without a served
    /// request, as CloudWatch publishes no datapoint then.
    pub fn latency(&self, statistic: LatencyStatistic) -> Option<f64> {
        let l = &self.latencies;
        let last = *l.last()?;
        Some(match statistic {
            LatencyStatistic::Maximum => last,
            LatencyStatistic::Average => l.iter().sum::<f64>() / l.len() as f64,
            LatencyStatistic::Percentile(p) => {
                let rank = (p / 100.0 * l.len() as f64).ceil() as usize;
                l[rank.clamp(1, l.len()) - 1]
            }
        })
    }

    /// The datapoints its target group publishes, by the CloudWatch adapter's query id suffix (`req`,
    /// `err`, `cerr`, `lat`, `hh`, `uh`): counts that are zero are absent, as are `RequestCount`
    /// without requests and `TargetResponseTime` without a served request.
    pub fn datapoints(&self, statistic: LatencyStatistic) -> Vec<(&'static str, f64)> {
        let counts = [
            ("req", self.requests),
            ("err", self.target_5xx),
            ("cerr", self.connection_errors),
        ];
        let mut out: Vec<(&'static str, f64)> = counts
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(id, n)| (id, n as f64))
            .collect();
        out.extend(self.latency(statistic).map(|l| ("lat", l)));
        out.push(("hh", f64::from(self.healthy_min)));
        out.push(("uh", f64::from(self.unhealthy_max)));
        out
    }
}

/// The load balancer's own datapoints in one period (only the `LoadBalancer` dimension).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LoadBalancerPeriod {
    /// `RequestCount`: every request a target was chosen for.
    pub requests: u64,
    /// 502s: refused connections.
    pub elb_502: u64,
    /// 503s: no target to send to.
    pub elb_503: u64,
    /// 504s: targets that timed out.
    pub elb_504: u64,
}

impl LoadBalancerPeriod {
    /// `HTTPCode_ELB_5XX_Count`.
    pub fn elb_5xx(&self) -> u64 {
        self.elb_502 + self.elb_503 + self.elb_504
    }

    /// Its datapoints by query id suffix (`req`, `elb5`), absent when zero.
    pub fn datapoints(&self) -> Vec<(&'static str, f64)> {
        [("req", self.requests), ("elb5", self.elb_5xx())]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(id, n)| (id, n as f64))
            .collect()
    }
}

/// One metric period of the route as AWS would publish it.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodData {
    /// When the period starts (its datapoints' timestamp).
    pub start: SystemTime,
    /// Blue's target group.
    pub blue: ColorPeriod,
    /// Green's target group.
    pub green: ColorPeriod,
    /// The load balancer.
    pub load_balancer: LoadBalancerPeriod,
}

impl PeriodData {
    /// One color's target group.
    pub fn of(&self, color: Color) -> &ColorPeriod {
        match color {
            Color::Blue => &self.blue,
            Color::Green => &self.green,
        }
    }

    /// Every datapoint of the period as `GetMetricData` would return it for albflip's query of a
    /// deployment to `new` (ids `n_req`, `s_lat`, `lb_elb5`...; see
    /// [`crate::providers::aws::cloudwatch::metric_queries`]).
    pub fn series(&self, new: Color, statistic: LatencyStatistic) -> Vec<(String, f64)> {
        let color = |prefix: &str, c: Color| {
            self.of(c)
                .datapoints(statistic)
                .into_iter()
                .map(move |(id, v)| (format!("{prefix}_{id}"), v))
                .collect::<Vec<_>>()
        };
        let mut out = color("n", new);
        out.extend(color("s", new.other()));
        out.extend(
            self.load_balancer
                .datapoints()
                .into_iter()
                .map(|(id, v)| (format!("lb_{id}"), v)),
        );
        out
    }
}

/// The CloudWatch metric a datapoint's id suffix ([`ColorPeriod::datapoints`],
/// [`LoadBalancerPeriod::datapoints`]) stands for, to publish it with `PutMetricData`.
pub fn metric_name(suffix: &str) -> Option<&'static str> {
    Some(match suffix {
        "req" => "RequestCount",
        "err" => "HTTPCode_Target_5XX_Count",
        "cerr" => "TargetConnectionErrorCount",
        "lat" => "TargetResponseTime",
        "hh" => "HealthyHostCount",
        "uh" => "UnHealthyHostCount",
        "elb5" => "HTTPCode_ELB_5XX_Count",
        _ => return None,
    })
}

/// Reads `periods` into the observation albflip's CloudWatch adapter would make of them for a
/// deployment to `new` over `[start, end)`: through the same [`SeriesFold`].
pub fn fold(
    periods: &[PeriodData],
    new: Color,
    statistic: LatencyStatistic,
    start: SystemTime,
    end: SystemTime,
) -> Observation {
    let mut folded = SeriesFold::default();
    for p in periods {
        for (id, value) in p.series(new, statistic) {
            folded.add(&id, &[p.start], &[value]);
        }
    }
    folded.finish(start, end)
}

/// The model: a route's request rate and each color's course, drawn from one seed.
#[derive(Debug, Clone, PartialEq)]
pub struct AlbModel {
    seed: u64,
    config: ModelConfig,
    requests_per_second: f64,
    blue: Course,
    green: Course,
}

/// The random streams of a period: one per color, one for its publication.
const BLUE_STREAM: u64 = 1;
const GREEN_STREAM: u64 = 2;
const LAG_STREAM: u64 = 3;

impl AlbModel {
    /// A route serving `requests_per_second` on average (Poisson), both colors healthy
    /// ([`Behaviour::healthy`]), with [`ModelConfig::default`].
    pub fn new(seed: u64, requests_per_second: f64) -> AlbModel {
        AlbModel {
            seed,
            config: ModelConfig::default(),
            requests_per_second,
            blue: Course::steady(Behaviour::healthy()),
            green: Course::steady(Behaviour::healthy()),
        }
    }

    /// With this timing.
    pub fn with_config(self, config: ModelConfig) -> AlbModel {
        AlbModel { config, ..self }
    }

    /// With `color` following `course`.
    pub fn with_course(mut self, color: Color, course: Course) -> AlbModel {
        match color {
            Color::Blue => self.blue = course,
            Color::Green => self.green = course,
        }
        self
    }

    /// Its timing.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// A color's course.
    pub fn course(&self, color: Color) -> &Course {
        match color {
            Color::Blue => &self.blue,
            Color::Green => &self.green,
        }
    }

    /// The metric period (at least 1 s).
    pub fn period_length(&self) -> Duration {
        self.config.period.max(Duration::from_secs(1))
    }

    /// When the datapoints of the period starting at `start` become visible: its end plus a lag drawn
    /// between the configured bounds (the same for every metric of the period).
    pub fn published_at(&self, start: SystemTime) -> SystemTime {
        let (lo, hi) = (
            self.config.lag_min,
            self.config.lag_max.max(self.config.lag_min),
        );
        let u = Rng::new(self.seed, secs(start), LAG_STREAM).uniform();
        start + self.period_length() + lo + (hi - lo).mul_f64(u)
    }

    /// Draws the period starting at `start`, with each color getting its share of the route's requests.
    /// Pure: the same seed, start and shares give the same period.
    pub fn period(&self, start: SystemTime, shares: Shares) -> PeriodData {
        let blue = self.color_period(Color::Blue, start, shares.blue);
        let green = self.color_period(Color::Green, start, shares.green);
        let load_balancer = LoadBalancerPeriod {
            requests: blue.requests + green.requests,
            elb_502: blue.connection_errors + green.connection_errors,
            elb_503: blue.no_target + green.no_target,
            elb_504: blue.timeouts + green.timeouts,
        };
        PeriodData {
            start,
            blue,
            green,
            load_balancer,
        }
    }

    /// A color's targets as `DescribeTargetHealth` lists them at `t`.
    pub fn health(&self, color: Color, t: SystemTime) -> TargetHealth {
        self.course(color).health(t)
    }

    fn color_period(&self, color: Color, start: SystemTime, share: f64) -> ColorPeriod {
        let stream = match color {
            Color::Blue => BLUE_STREAM,
            Color::Green => GREEN_STREAM,
        };
        let mut rng = Rng::new(self.seed, secs(start), stream);
        let course = self.course(color);
        let slices = self.config.slices.max(1);
        let slice = self.period_length() / slices;
        let mean = self.requests_per_second * slice.as_secs_f64() * share.clamp(0.0, 1.0);
        let mut out = ColorPeriod::default();
        let mut served = Vec::with_capacity(slices as usize);
        for i in 0..slices {
            let mid = start + slice * i + slice / 2;
            let b = course.at(mid);
            served.push((b, self.slice_requests(&mut rng, &b, mean, &mut out)));
        }
        out.latencies = self.latencies(&mut rng, &served);
        (out.healthy_min, out.unhealthy_max) = self.host_counts(course, start, slice, slices);
        out
    }

    /// Draws one slice's requests into `out` and returns how many were served.
    fn slice_requests(
        &self,
        rng: &mut Rng,
        b: &Behaviour,
        mean: f64,
        out: &mut ColorPeriod,
    ) -> u64 {
        let n = rng.poisson(mean);
        if b.healthy + b.unhealthy == 0 {
            out.no_target += n;
            return 0;
        }
        let refused = rng.binomial(n, b.refused);
        let timeouts = rng.binomial(n - refused, b.timeouts);
        let served = n - refused - timeouts;
        out.requests += n;
        out.connection_errors += refused;
        out.timeouts += timeouts;
        out.target_5xx += rng.binomial(served, b.target_5xx);
        served
    }

    /// The served requests' latencies, sorted: all of them, or a sample in proportion to each slice.
    fn latencies(&self, rng: &mut Rng, served: &[(Behaviour, u64)]) -> Vec<f64> {
        let total: u64 = served.iter().map(|s| s.1).sum();
        let keep = (self.config.latency_samples.max(1) as f64 / total.max(1) as f64).min(1.0);
        let mut out = Vec::new();
        for (b, n) in served {
            let k = (*n as f64 * keep).round() as u64;
            let l = b.latency;
            out.extend((0..k).map(|_| rng.log_normal(l.median_seconds, l.sigma)));
        }
        out.sort_by(f64::total_cmp);
        out
    }

    /// Minimum healthy and maximum unhealthy targets over the nodes and the period: node `i` sees the
    /// targets' health `i / (nodes - 1)` of [`ModelConfig::node_lag`] late.
    fn host_counts(
        &self,
        course: &Course,
        start: SystemTime,
        slice: Duration,
        slices: u32,
    ) -> (u32, u32) {
        let nodes = self.config.nodes.max(1);
        let (mut healthy, mut unhealthy) = (u32::MAX, 0);
        for node in 0..nodes {
            let late = if nodes == 1 {
                Duration::ZERO
            } else {
                self.config.node_lag * node / (nodes - 1)
            };
            for i in 0..slices {
                let seen = start + slice * i + slice / 2;
                let b = course.at(seen.checked_sub(late).unwrap_or(seen));
                healthy = healthy.min(b.healthy);
                unhealthy = unhealthy.max(b.unhealthy);
            }
        }
        (healthy, unhealthy)
    }
}

/// Whole seconds since the epoch: a period's name in the random streams.
fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

#[cfg(test)]
mod tests;
