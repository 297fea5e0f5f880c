//! A small seeded random source and the distributions the model draws from. Its own code rather than
//! `rand`: the streams stay the same whatever version of `rand` the tree resolves, so a seed names the
//! same scenario forever, and nothing is added to the build.

/// SplitMix64 (Steele, Lea and Flood, 2014): fast, 64 bits of state, good enough for simulation.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

/// One SplitMix64 finalization: a well-mixed 64-bit hash of `x`.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl Rng {
    /// The stream named by `seed`, a time `at` (e.g. a period's start in seconds) and a `stream` number,
    /// independent of every other (seed, at, stream).
    pub(crate) fn new(seed: u64, at: u64, stream: u64) -> Rng {
        Rng(mix(seed ^ mix(at ^ mix(stream))))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal (Box–Muller).
    pub(crate) fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]: ln is finite
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Log-normal with the given median and shape `sigma` (the standard deviation of its logarithm).
    pub(crate) fn log_normal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// Poisson with mean `mean`: exact (Knuth) below 30, the normal approximation above.
    pub(crate) fn poisson(&mut self, mean: f64) -> u64 {
        if mean.is_nan() || mean <= 0.0 {
            return 0;
        }
        if mean < 30.0 {
            let limit = (-mean).exp();
            let (mut k, mut p) = (0u64, self.uniform());
            while p > limit {
                k += 1;
                p *= self.uniform();
            }
            return k;
        }
        (mean + mean.sqrt() * self.normal()).round().max(0.0) as u64
    }

    /// Binomial: `n` trials of probability `p`. Exact for small `n`, Poisson for rare (or near-certain)
    /// events, normal otherwise; always within `0..=n`.
    pub(crate) fn binomial(&mut self, n: u64, p: f64) -> u64 {
        if n == 0 || p.is_nan() || p <= 0.0 {
            return 0;
        }
        if p >= 1.0 {
            return n;
        }
        let nf = n as f64;
        if n <= 40 {
            return (0..n).filter(|_| self.uniform() < p).count() as u64;
        }
        if nf * p < 20.0 {
            return self.poisson(nf * p).min(n);
        }
        if nf * (1.0 - p) < 20.0 {
            return n - self.poisson(nf * (1.0 - p)).min(n);
        }
        let sd = (nf * p * (1.0 - p)).sqrt();
        (nf * p + sd * self.normal()).round().clamp(0.0, nf) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_of(draws: impl Iterator<Item = f64>) -> (f64, f64) {
        let v: Vec<f64> = draws.collect();
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64;
        (m, var)
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| Rng::new(1, 60, 0).next_u64()).collect();
        assert!(
            a.windows(2).all(|w| w[0] == w[1]),
            "same stream, same draws"
        );
        assert_ne!(Rng::new(1, 60, 0).next_u64(), Rng::new(1, 60, 1).next_u64());
        assert_ne!(Rng::new(1, 60, 0).next_u64(), Rng::new(2, 60, 0).next_u64());
        assert_ne!(
            Rng::new(1, 60, 0).next_u64(),
            Rng::new(1, 120, 0).next_u64()
        );
    }

    #[test]
    fn distributions_have_their_means_and_variances() {
        let mut r = Rng::new(42, 0, 0);
        let (m, v) = mean_of((0..20_000).map(|_| r.normal()));
        assert!(m.abs() < 0.03 && (v - 1.0).abs() < 0.05, "normal {m} {v}");
        for mean in [0.5, 7.0, 400.0] {
            let (m, v) = mean_of((0..20_000).map(|_| r.poisson(mean) as f64));
            assert!((m / mean - 1.0).abs() < 0.05, "poisson({mean}) mean {m}");
            assert!((v / mean - 1.0).abs() < 0.1, "poisson({mean}) variance {v}");
        }
        for (n, p) in [(30, 0.3), (1000, 0.005), (1000, 0.995), (5000, 0.2)] {
            let (m, v) = mean_of((0..20_000).map(|_| r.binomial(n, p) as f64));
            let (em, ev) = (n as f64 * p, n as f64 * p * (1.0 - p));
            assert!((m / em - 1.0).abs() < 0.05, "binomial({n}, {p}) mean {m}");
            assert!(
                (v / ev - 1.0).abs() < 0.1,
                "binomial({n}, {p}) variance {v}"
            );
        }
        let mut ln: Vec<f64> = (0..20_001).map(|_| r.log_normal(0.1, 0.5)).collect();
        ln.sort_by(f64::total_cmp);
        assert!(
            (ln[10_000] / 0.1 - 1.0).abs() < 0.03,
            "median {}",
            ln[10_000]
        );
        assert_eq!(r.binomial(10, 0.0), 0);
        assert_eq!(r.binomial(10, 1.0), 10);
        assert_eq!(r.poisson(0.0), 0);
    }
}
