//! The bench's traffic, behind a small trait: the realistic ALB metrics model ([`Model`], the default)
//! or a plain generator ([`Simple`], `--traffic simple`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use albflip::model::Color;
use albflip::plan::{LatencyStatistic, Period, PeriodCounts};
use albflip::testing::alb_model;

/// How a color's targets behave: per request, a refused connection, else a 5XX; the p99 latency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Behaviour {
    /// Chance a served request gets a 5XX.
    pub target_5xx: f64,
    /// Chance the connection is refused (a `TargetConnectionErrorCount`, an ELB 502).
    pub refused: f64,
    /// The median latency in seconds (log-normal, sigma 0.5: p99 = 3.2 times the median).
    pub median_seconds: f64,
}

impl Behaviour {
    /// Healthy with `rate` 5XX, 50 ms median.
    pub fn healthy(rate: f64) -> Behaviour {
        Behaviour {
            target_5xx: rate,
            refused: 0.0,
            median_seconds: 0.05,
        }
    }

    /// The p99 of the latency distribution.
    pub fn p99(&self) -> f64 {
        self.median_seconds * (2.326 * SIGMA).exp()
    }
}

/// The log-normal shape of latencies.
pub const SIGMA: f64 = 0.5;

/// One period as drawn: as CloudWatch publishes it, when, and what the new color failed in truth.
#[derive(Debug, Clone, Copy)]
pub struct Drawn {
    /// The period as read once published (the new color's errors: 5XX and refused connections).
    pub period: Period,
    /// When its datapoints are visible.
    pub published: SystemTime,
    /// Requests the new color failed (5XX and refused).
    pub new_failed: f64,
}

/// A source of periods: a function of its seed, the period's start, the share and the behaviours.
pub trait Traffic {
    /// The period starting at `start` with `per_minute` requests to the route, the new color at
    /// `share` (0..=1) behaving as `new`, the stable one as `stable`.
    fn period(
        &self,
        start: SystemTime,
        per_minute: f64,
        share: f64,
        new: &Behaviour,
        stable: &Behaviour,
    ) -> Drawn;
}

/// A plain generator: Poisson arrivals, binomial failures, a p99 read from a sample, published 60 to
/// 150 s after the period ends (as the ALB model's defaults).
#[derive(Debug, Clone, Copy)]
pub struct Simple {
    /// The seed.
    pub seed: u64,
}

impl Traffic for Simple {
    fn period(
        &self,
        start: SystemTime,
        per_minute: f64,
        share: f64,
        new: &Behaviour,
        stable: &Behaviour,
    ) -> Drawn {
        let secs = start
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let mut rng = Rng::new(self.seed, secs);
        let (n, n_failed) = color(&mut rng, per_minute * share, new);
        let (s, _) = color(&mut rng, per_minute * (1.0 - share), stable);
        let lag = 60.0 + 90.0 * rng.uniform();
        Drawn {
            period: Period {
                start,
                new: n,
                stable: s,
            },
            published: start + Duration::from_secs(60) + Duration::from_secs_f64(lag),
            new_failed: n_failed,
        }
    }
}

fn color(rng: &mut Rng, mean: f64, b: &Behaviour) -> (PeriodCounts, f64) {
    let requests = rng.poisson(mean);
    let refused = rng.binomial(requests, b.refused);
    let served = requests - refused;
    let errors = rng.binomial(served, b.target_5xx);
    let latency = (served > 0.0).then(|| rng.p99(served, b.median_seconds));
    let counts = PeriodCounts {
        requests,
        errors: errors + refused,
        latency_seconds: latency,
    };
    (counts, errors + refused)
}

/// splitmix64 seeded by the seed and the period.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, period: u64) -> Rng {
        let mut r = Rng(seed ^ period.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.next();
        r
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-300), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    fn poisson(&mut self, mean: f64) -> f64 {
        if mean <= 0.0 {
            return 0.0;
        }
        if mean > 50.0 {
            return (mean + mean.sqrt() * self.normal()).round().max(0.0);
        }
        let (limit, mut k, mut p) = ((-mean).exp(), 0.0, 1.0);
        loop {
            p *= self.uniform();
            if p <= limit {
                return k;
            }
            k += 1.0;
        }
    }

    fn binomial(&mut self, n: f64, p: f64) -> f64 {
        if n <= 0.0 || p <= 0.0 {
            return 0.0;
        }
        if p >= 1.0 {
            return n;
        }
        let mean = n * p;
        if n > 200.0 && mean > 20.0 && n * (1.0 - p) > 20.0 {
            let sd = (mean * (1.0 - p)).sqrt();
            return (mean + sd * self.normal()).round().clamp(0.0, n);
        }
        if n > 200.0 {
            // Rare events in many trials: Poisson.
            return self.poisson(mean).min(n);
        }
        (0..n as u64).filter(|_| self.uniform() < p).count() as f64
    }

    /// The nearest-rank p99 of `n` log-normal latencies (from a sample of at most 200).
    fn p99(&mut self, n: f64, median: f64) -> f64 {
        let k = (n as usize).clamp(1, 200);
        let mut xs: Vec<f64> = (0..k)
            .map(|_| median * (super::traffic::SIGMA * self.normal()).exp())
            .collect();
        xs.sort_by(f64::total_cmp);
        let rank = (0.99 * k as f64).ceil() as usize;
        xs[rank.clamp(1, k) - 1]
    }
}

/// The realistic ALB metrics model (`albflip::testing::alb_model`): each period drawn by the model from
/// the seed, the period's start and the shares, read through the CloudWatch adapter's own fold, visible
/// when the model publishes it.
#[derive(Debug, Clone, Copy)]
pub struct Model {
    /// The seed.
    pub seed: u64,
}

/// Latencies the model draws per color and period (its default is 2000): 200 keeps 2000 runs a row
/// within minutes; a p99 read from at most 200 latencies is noisier than CloudWatch's at high traffic,
/// for every judge alike.
const LATENCY_SAMPLES: usize = 200;

impl Model {
    fn behaviour(b: &Behaviour) -> alb_model::Behaviour {
        alb_model::Behaviour::healthy()
            .with_target_5xx(b.target_5xx)
            .with_refused(b.refused)
            .with_median_latency(Duration::from_secs_f64(b.median_seconds))
    }
}

impl Traffic for Model {
    fn period(
        &self,
        start: SystemTime,
        per_minute: f64,
        share: f64,
        new: &Behaviour,
        stable: &Behaviour,
    ) -> Drawn {
        let config = alb_model::ModelConfig {
            latency_samples: LATENCY_SAMPLES,
            ..alb_model::ModelConfig::default()
        };
        let model = alb_model::AlbModel::new(self.seed, per_minute / 60.0)
            .with_config(config)
            .with_course(
                Color::Green,
                alb_model::Course::steady(Model::behaviour(new)),
            )
            .with_course(
                Color::Blue,
                alb_model::Course::steady(Model::behaviour(stable)),
            );
        let drawn = model.period(start, alb_model::Shares::to(Color::Green, share));
        let p99 = LatencyStatistic::Percentile(99.0);
        let end = start + Duration::from_secs(60);
        let seen = alb_model::fold(std::slice::from_ref(&drawn), Color::Green, p99, start, end);
        let period = seen.periods.first().copied().unwrap_or(Period {
            start,
            new: PeriodCounts::default(),
            stable: PeriodCounts::default(),
        });
        let green = &drawn.green;
        Drawn {
            period,
            published: model.published_at(start),
            new_failed: (green.target_5xx + green.connection_errors + green.timeouts) as f64,
        }
    }
}
