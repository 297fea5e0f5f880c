//! The sequential judge: anytime-valid tests of the new color against a ceiling and against the stable
//! color, fed one metric period at a time, that may be looked at after every poll while the chance of
//! failing a healthy step stays at most `alpha = 1 - confidence`.
//!
//! # Why sequential
//! A rule such as "fail when the window's error rate is over 1 %", checked at every poll, is a new test
//! at each look: its false-alarm rate grows with the number of looks, and at low traffic one stray 5XX
//! is already over the line. The tests here are *e-processes* (Lindon, Sanden, Shirikian, "Rapid
//! Regression Detection in Software Deployments through Sequential Testing", KDD 2022; Lindon and
//! Malek, "Anytime-Valid Inference for Multinomial Count Data", NeurIPS 2022): nonnegative
//! supermartingales `E_t` with `E_0 = 1` under the null hypothesis, so by Ville's inequality
//! `P(sup_t E_t >= 1/alpha) <= alpha`. The step fails the first time the evidence crosses `1/alpha`;
//! until then it is not failed, however often it is looked at.
//!
//! # The mixture
//! Every test here is about a rate `p` of a binomial count (`x` of `n`) against a boundary `p0`. For
//! one alternative `p1`, the likelihood ratio
//!
//! ```text
//!   LR(p1 : p0) = (p1 / p0)^x * ((1 - p1) / (1 - p0))^(n - x)
//! ```
//!
//! is a martingale under `p = p0`, and a supermartingale under every `p <= p0` when `p1 > p0`: the
//! expectation of one trial's factor, `p p1/p0 + (1 - p)(1 - p1)/(1 - p0)`, is increasing in `p` and
//! equals 1 at `p0` (the monotone likelihood ratio argument). Batches of trials multiply, so the
//! product over periods is the ratio of the pooled counts. A mixture of such ratios over alternatives
//! with prior weights `w_j` summing to 1 is again a supermartingale (Fubini), and has power against
//! every alternative it mixes over. Lindon and Malek mix with a conjugate Dirichlet (here beta) prior;
//! a one-sided test needs the prior on `p1 > p0` only, and a truncated beta has no closed form, so we
//! mix over a fixed grid of log-odds shifts `s_j` with equal weights (a discrete prior, for which the
//! mixture is exact):
//!
//! ```text
//!   E(x, n; p0) = 1/J * sum_j LR(sigma(logit(p0) + s_j) : p0),   s_j in SHIFTS
//! ```
//!
//! The small shifts find a release a little worse than the boundary in a long step; the large ones find
//! a total failure within two requests (`x = n = 2` against 1 % gives `E ~ 2700`).
//!
//! # The three tests
//! - **Ceiling** (`max_error_rate = c`): `H0: p_new <= c`, fail when `E(x_new, n_new; c) >= K/alpha`.
//! - **Against the stable color** (`max_error_rate_increase = d`, in percentage points):
//!   `H0: p_new - p_stable <= d`, a composite hypothesis about two rates. The numerator mixes each
//!   color's likelihood over a Beta(1/2, 1/2) prior (the Krichevsky-Trofimov mixture; Lindon and
//!   Malek's Dirichlet mixture for two categories); the denominator is the largest likelihood under
//!   `H0`:
//!
//!   ```text
//!     E = KT(x_n, n_n) KT(x_s, n_s) / sup { L(p_n; x_n, n_n) L(p_s; x_s, n_s) : p_n <= p_s + d }
//!     KT(x, n) = B(x + 1/2, n - x + 1/2) / B(1/2, 1/2),   L(p; x, n) = p^x (1 - p)^(n - x)
//!   ```
//!
//!   For every `(p_n, p_s)` in `H0` the denominator is at least `L(p_n) L(p_s)`, so `E` is at most the
//!   mixture's likelihood ratio against that point, a test martingale under it: `E` is an e-process
//!   for the whole of `H0` (the argument of universal inference, Wasserman, Ramdas and Balakrishnan,
//!   PNAS 2020). When the observed rates satisfy `H0` the denominator is the unconstrained maximum
//!   and `E <= 1`; otherwise the constraint binds (`p_n = p_s + d`) and the maximum is found by
//!   bisection of the concave log-likelihood. Fail when `E >= K/alpha`.
//! - **Latency against the stable color** (`max_latency_increase = r`): per period, paired by period,
//!   the sign `z_i = [lat_new_i > r * lat_stable_i]` (a sign test). `H0: P(z_i = 1) <= 1/2`: the new
//!   color's statistic is at most `r` times the stable one's in the median period, which holds whenever
//!   the two colors serve alike. Fail when `E(sum z, #periods; 1/2) >= K/alpha` over the grid
//!   `LATENCY_SHIFTS`. A period judges latency only when both colors served at least
//!   [`LATENCY_MIN_REQUESTS`] requests in it: a percentile of a handful of requests is noise. Each
//!   sign needs at least one period, so this test needs at least about `log2(J K / alpha)` periods
//!   (13 at the defaults with the latency test on): it finds a slow release over a long bake, not a short one.
//!
//! `K` is the number of tests in force (Bonferroni), so a healthy step fails with probability at most
//! `alpha` whichever test would cross. [`DEFAULT_CONFIDENCE`] is 99.8 %: a deployment of 5 steps rolls a
//! healthy release back at most `5 * 0.002 = 1 %` of the time.
//!
//! # Periods and late data
//! Evidence is kept per period, keyed by its start, so overlapping polls never count a period twice.
//! CloudWatch may publish a period's datapoints late and its sums only grow; the latest counts of a
//! period *replace* the earlier ones. For the error tests that is still valid: the ratio depends on the
//! pooled counts only, and more counts of a period are more trials, observed later. A latency sign is
//! different (a later datapoint can flip it), so a period's sign is taken once, the first time a newer
//! period is in the same poll, and never changed after.
//!
//! # Assumptions
//! Requests are independent trials with a rate fixed over the step (per color). Errors that come in
//! bursts (over-dispersion) make the tests less conservative than stated; the bench (`bench/judge`)
//! measures the false-rollback rate on a realistic model of ALB metrics.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

pub use crate::plan::judge_choice::{InvalidJudge, JudgeKind, DEFAULT_CONFIDENCE};

use crate::model::Color;
use crate::plan::gates::{
    ColorMetrics, GateKind, GateReport, GateResult, GateThresholds, Observation, Period,
    PeriodCounts, Verdict,
};

/// Fewest requests of each color in a period for that period to compare latency percentiles.
pub const LATENCY_MIN_REQUESTS: f64 = 50.0;

/// Log-odds shifts the error-rate mixtures put equal weight on.
pub const SHIFTS: [f64; 10] = [0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0];

/// Log-odds shifts of the latency sign test, from `q = 1/2` (`q` = 0.62 to 0.993).
pub const LATENCY_SHIFTS: [f64; 5] = [0.5, 1.0, 2.0, 3.0, 5.0];

/// What the sequential judge tests. Rates are fractions (0.01 = 1 %).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct JudgeSettings {
    /// Confidence in percent (99.8 = `alpha` 0.002 per step).
    pub confidence: f64,
    /// The ceiling of the new color's error rate; 1 or more turns the test off.
    pub max_error_rate: f64,
    /// The most the new color's error rate may exceed the stable color's.
    pub max_error_rate_increase: f64,
    /// The most the new color's latency statistic may be as a multiple of the stable one's; `None` off.
    pub max_latency_increase: Option<f64>,
}

impl JudgeSettings {
    /// The judge's settings from the gates and a confidence in percent.
    pub fn new(gates: &GateThresholds, confidence: f64) -> JudgeSettings {
        JudgeSettings {
            confidence,
            max_error_rate: gates.max_error_rate,
            max_error_rate_increase: gates.max_error_rate_increase,
            max_latency_increase: gates.max_latency_increase,
        }
    }

    /// `alpha = 1 - confidence`, kept in (0, 1).
    pub fn alpha(&self) -> f64 {
        (1.0 - self.confidence / 100.0).clamp(1e-12, 1.0 - 1e-12)
    }

    fn ceiling_on(&self) -> bool {
        self.max_error_rate < 1.0
    }

    /// How many tests share `alpha` (Bonferroni).
    pub fn tests(&self) -> u32 {
        1 + u32::from(self.ceiling_on()) + u32::from(self.max_latency_increase.is_some())
    }

    /// The evidence one test needs to fail: `K / alpha`.
    pub fn threshold(&self) -> f64 {
        f64::from(self.tests()) / self.alpha()
    }
}

/// The numbers behind a verdict, for events and for people to check.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Evidence {
    /// The new color's errors over the step's periods (latency: periods slower by more than the ratio).
    pub new_errors: f64,
    /// The new color's requests (latency: periods judged).
    pub new_requests: f64,
    /// The stable color's errors over the same periods.
    pub stable_errors: f64,
    /// The stable color's requests over the same periods.
    pub stable_requests: f64,
    /// The statistic: the e-value (ceiling, latency), or the lower confidence bound of the difference
    /// of the rates (against the stable color).
    pub statistic: f64,
    /// What the statistic must exceed to fail: `K / alpha`, or the tolerance.
    pub threshold: f64,
    /// The tolerance tested (a rate, a difference of rates, or a ratio).
    pub tolerance: f64,
    /// The confidence in percent.
    pub confidence: f64,
    /// The periods the evidence comes from.
    pub periods: usize,
}

/// One test's verdict with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    /// The gate it decides (`"gate": "error_rate"`, flattened like a [`GateResult`]'s).
    #[serde(flatten)]
    pub gate: GateKind,
    /// Fail once the evidence crossed; pass until then; no data without requests.
    pub verdict: Verdict,
    /// The numbers.
    pub evidence: Evidence,
    /// A sentence for people.
    pub message: String,
}

impl Judgement {
    /// As a gate result, the value being the statistic.
    pub fn gate_result(&self) -> GateResult {
        GateResult {
            gate: self.gate.clone(),
            verdict: self.verdict,
            value: Some(self.evidence.statistic),
            threshold: self.evidence.threshold,
            message: self.message.clone(),
        }
    }
}

/// `ln` of one likelihood ratio `LR(p1 : p0)` of `x` errors in `n` requests.
fn log_lr(x: f64, n: f64, p0: f64, p1: f64) -> f64 {
    let hit = if x > 0.0 { x * (p1 / p0).ln() } else { 0.0 };
    let miss = if n > x {
        (n - x) * ((1.0 - p1) / (1.0 - p0)).ln()
    } else {
        0.0
    };
    hit + miss
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Rates are kept off 0 and 1 so that logits are finite.
fn clamp_rate(p: f64) -> f64 {
    p.clamp(1e-12, 1.0 - 1e-12)
}

/// `ln` of the mixture e-value of `x` errors in `n` requests against the rate `p0`, with equal weights
/// on the alternatives `sigma(logit(p0) + s)` for `s` in `shifts` (positive shifts test "above `p0`",
/// negative ones "below").
pub fn log_mixture(x: f64, n: f64, p0: f64, shifts: &[f64]) -> f64 {
    let p0 = clamp_rate(p0);
    let terms: Vec<f64> = shifts
        .iter()
        .map(|s| log_lr(x, n, p0, clamp_rate(sigmoid(logit(p0) + s))))
        .collect();
    let top = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !top.is_finite() {
        return top;
    }
    let sum: f64 = terms.iter().map(|t| (t - top).exp()).sum();
    top + (sum / shifts.len().max(1) as f64).ln()
}

/// `ln Gamma(x)` for `x > 0` (Lanczos, g = 7, 9 terms: about 15 significant digits).
pub fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Gamma(x) Gamma(1 - x) = pi / sin(pi x).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let sum = G[1..]
        .iter()
        .enumerate()
        .fold(G[0], |acc, (i, g)| acc + g / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// `ln` of the Krichevsky-Trofimov mixture (a Beta(1/2, 1/2) prior) of `x` errors in `n` requests:
/// `ln B(x + 1/2, n - x + 1/2) - ln B(1/2, 1/2)`.
pub fn ln_kt(x: f64, n: f64) -> f64 {
    let ln_beta = |a: f64, b: f64| ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b);
    ln_beta(x + 0.5, n - x + 0.5) - std::f64::consts::PI.ln()
}

/// `ln` of the binomial likelihood `p^x (1 - p)^(n - x)` (0 ln 0 = 0).
fn ln_lik(x: f64, n: f64, p: f64) -> f64 {
    let hit = if x > 0.0 { x * p.ln() } else { 0.0 };
    let miss = if n > x { (n - x) * (1.0 - p).ln() } else { 0.0 };
    hit + miss
}

/// `ln` of the largest likelihood of both colors' counts under `p_new <= p_stable + d`.
fn ln_null_max(x: f64, n: f64, y: f64, m: f64, d: f64) -> f64 {
    let (rate_new, rate_stable) = (x / n.max(1e-300), y / m.max(1e-300));
    if n <= 0.0 || rate_new <= rate_stable + d {
        return ln_lik(x, n, rate_new) + ln_lik(y, m, rate_stable);
    }
    // The constraint binds: p_new = p + d, and the log-likelihood is concave in p on (0, 1 - d).
    let slope = |p: f64| {
        let q = p + d;
        x / q - (n - x) / (1.0 - q) + if y > 0.0 { y / p } else { 0.0 } - (m - y) / (1.0 - p)
    };
    let (mut lo, mut hi) = (1e-15, (1.0 - d - 1e-15).max(1e-15));
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        if slope(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let p = (lo + hi) / 2.0;
    ln_lik(x, n, clamp_rate(p + d)) + ln_lik(y, m, clamp_rate(p))
}

/// `ln` of the e-value against "the new color's rate exceeds the stable one's by at most `d`" from
/// `x` of `n` (new) and `y` of `m` (stable): the two colors' Krichevsky-Trofimov mixtures over the
/// largest likelihood under that hypothesis,
/// `E = KT(x, n) KT(y, m) / sup { L(p_n) L(p_s) : p_n <= p_s + d }`.
pub fn ln_increase_e(x: f64, n: f64, y: f64, m: f64, d: f64) -> f64 {
    if n <= 0.0 {
        return 0.0;
    }
    (ln_kt(x, n) + ln_kt(y, m.max(0.0)) - ln_null_max(x, n, y, m.max(0.0), d)).min(700.0)
}

/// The memory of one step: the periods seen (latest counts per period) and the latency signs taken.
#[derive(Debug, Clone, PartialEq)]
pub struct SequentialJudge {
    settings: JudgeSettings,
    periods: BTreeMap<SystemTime, Period>,
    latency_signs: BTreeMap<SystemTime, bool>,
}

impl SequentialJudge {
    /// A judge for one step, with no evidence yet.
    pub fn new(settings: JudgeSettings) -> SequentialJudge {
        SequentialJudge {
            settings,
            periods: BTreeMap::new(),
            latency_signs: BTreeMap::new(),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &JudgeSettings {
        &self.settings
    }

    /// Takes in one poll's periods: a period seen before is replaced by its latest counts (never added
    /// twice); the latency sign of every period older than the poll's newest is taken, once.
    pub fn ingest(&mut self, periods: &[Period]) {
        let newest = periods.iter().map(|p| p.start).max();
        for p in periods {
            self.periods.insert(p.start, *p);
            if Some(p.start) < newest {
                self.take_latency_sign(p);
            }
        }
    }

    fn take_latency_sign(&mut self, p: &Period) {
        let Some(ratio) = self.settings.max_latency_increase else {
            return;
        };
        if self.latency_signs.contains_key(&p.start)
            || p.new.requests < LATENCY_MIN_REQUESTS
            || p.stable.requests < LATENCY_MIN_REQUESTS
        {
            return;
        }
        if let (Some(new), Some(stable)) = (p.new.latency_seconds, p.stable.latency_seconds) {
            self.latency_signs.insert(p.start, new > ratio * stable);
        }
    }

    /// The new and the stable color's counts summed over the periods seen.
    pub fn totals(&self) -> (PeriodCounts, PeriodCounts) {
        let mut new = PeriodCounts::default();
        let mut stable = PeriodCounts::default();
        for p in self.periods.values() {
            new.requests += p.new.requests;
            new.errors += p.new.errors.min(p.new.requests);
            stable.requests += p.stable.requests;
            stable.errors += p.stable.errors.min(p.stable.requests);
        }
        (new, stable)
    }

    /// Every test in force, judged on the evidence so far.
    pub fn judge(&self, new_color: Color) -> Vec<Judgement> {
        let mut out = Vec::new();
        if self.settings.ceiling_on() {
            out.push(self.ceiling(new_color));
        }
        out.push(self.increase(new_color));
        if let Some(ratio) = self.settings.max_latency_increase {
            out.push(self.latency(new_color, ratio));
        }
        out
    }

    /// Takes in one poll's [`Observation`] and puts the judge's verdicts in `report` in place of the
    /// threshold rules' error-rate, increase and latency-increase results; returns the judgements. A
    /// source that reports totals only (no periods) stands for one period that each poll replaces: the
    /// latest window's totals are the evidence, nothing accumulates across windows.
    pub fn poll(
        &mut self,
        observation: &Observation,
        report: &mut GateReport,
        new_color: Color,
    ) -> Vec<Judgement> {
        if observation.periods.is_empty() {
            let total = |m: &ColorMetrics| PeriodCounts {
                requests: m.requests,
                errors: m.errors,
                latency_seconds: m.latency_seconds,
            };
            self.ingest(&[Period {
                start: SystemTime::UNIX_EPOCH,
                new: total(&observation.new),
                stable: total(&observation.stable),
            }]);
        } else {
            self.ingest(&observation.periods);
        }
        let judgements = self.judge(new_color);
        let replaced = [
            GateKind::ErrorRate,
            GateKind::ErrorRateIncrease,
            GateKind::LatencyIncrease,
        ];
        let rest = std::mem::take(&mut report.results)
            .into_iter()
            .filter(|r| !replaced.contains(&r.gate));
        report.results = judgements
            .iter()
            .map(Judgement::gate_result)
            .chain(rest)
            .collect();
        report.has_data = self.totals().0.requests > 0.0;
        judgements
    }

    /// Whether any test has crossed.
    pub fn failed(&self, new_color: Color) -> Option<Judgement> {
        self.judge(new_color)
            .into_iter()
            .find(|j| j.verdict == Verdict::Fail)
    }

    fn evidence(&self, statistic: f64, threshold: f64, tolerance: f64) -> Evidence {
        let (new, stable) = self.totals();
        Evidence {
            new_errors: new.errors,
            new_requests: new.requests,
            stable_errors: stable.errors,
            stable_requests: stable.requests,
            statistic,
            threshold,
            tolerance,
            confidence: self.settings.confidence,
            periods: self.periods.len(),
        }
    }

    fn verdict(&self, crossed: bool, requests: f64) -> Verdict {
        if crossed {
            Verdict::Fail
        } else if requests > 0.0 {
            Verdict::Pass
        } else {
            Verdict::NoData
        }
    }

    fn ceiling(&self, color: Color) -> Judgement {
        let s = &self.settings;
        let (new, _) = self.totals();
        let c = s.max_error_rate;
        let bar = s.threshold();
        let e = log_mixture(new.errors, new.requests, c, &SHIFTS).exp();
        let crossed = new.requests > 0.0 && e >= bar;
        let rate = rate_text(new.errors, new.requests);
        let conf = confidence_text(s.confidence);
        let message = if crossed {
            format!(
                "{color} 5XX {rate} ({} of {}): above {} with {conf} confidence (evidence {} >= {})",
                count(new.errors), count(new.requests), pct(c), sci(e), sci(bar)
            )
        } else {
            format!(
                "{color} 5XX {rate} ({} of {}): not shown above {} (evidence {} of {} needed for {conf} confidence)",
                count(new.errors), count(new.requests), pct(c), sci(e), sci(bar)
            )
        };
        Judgement {
            gate: GateKind::ErrorRate,
            verdict: self.verdict(crossed, new.requests),
            evidence: self.evidence(e, bar, c),
            message,
        }
    }

    fn increase(&self, color: Color) -> Judgement {
        let s = &self.settings;
        let (new, stable) = self.totals();
        let d = s.max_error_rate_increase;
        let bar = s.threshold();
        let e = ln_increase_e(new.errors, new.requests, stable.errors, stable.requests, d).exp();
        let crossed = new.requests > 0.0 && e >= bar;
        let counts = format!(
            "{color} 5XX {} vs {} {} ({} of {} vs {} of {})",
            rate_text(new.errors, new.requests),
            color.other(),
            rate_text(stable.errors, stable.requests),
            count(new.errors),
            count(new.requests),
            count(stable.errors),
            count(stable.requests)
        );
        let conf = confidence_text(s.confidence);
        let message = if crossed {
            format!(
                "{counts}: worse by more than {} with {conf} confidence (evidence {} >= {})",
                pp(d),
                sci(e),
                sci(bar)
            )
        } else {
            format!(
                "{counts}: not shown worse by more than {} (evidence {} of {} needed for {conf} confidence)",
                pp(d),
                sci(e),
                sci(bar)
            )
        };
        Judgement {
            gate: GateKind::ErrorRateIncrease,
            verdict: self.verdict(crossed, new.requests),
            evidence: self.evidence(e, bar, d),
            message,
        }
    }

    fn latency(&self, color: Color, ratio: f64) -> Judgement {
        let s = &self.settings;
        let judged = self.latency_signs.len() as f64;
        let slower = self.latency_signs.values().filter(|z| **z).count() as f64;
        let bar = s.threshold();
        let e = log_mixture(slower, judged, 0.5, &LATENCY_SHIFTS).exp();
        let crossed = judged > 0.0 && e >= bar;
        let conf = confidence_text(s.confidence);
        let head = format!(
            "{color} latency over {}x {}'s in {} of {} periods judged",
            trim(ratio),
            color.other(),
            count(slower),
            count(judged)
        );
        let message = if crossed {
            format!(
                "{head}: slower by more than {}x with {conf} confidence (evidence {} >= {})",
                trim(ratio),
                sci(e),
                sci(bar)
            )
        } else {
            format!(
                "{head}: not shown slower by more than {}x (evidence {} of {} needed; periods of fewer than {} requests are not judged)",
                trim(ratio),
                sci(e),
                sci(bar),
                LATENCY_MIN_REQUESTS
            )
        };
        let mut evidence = self.evidence(e, bar, ratio);
        evidence.new_errors = slower;
        evidence.new_requests = judged;
        Judgement {
            gate: GateKind::LatencyIncrease,
            verdict: self.verdict(crossed, judged),
            evidence,
            message,
        }
    }
}

fn count(x: f64) -> String {
    format!("{}", x.round())
}

fn rate_text(x: f64, n: f64) -> String {
    if n > 0.0 {
        pct(x / n)
    } else {
        "-".into()
    }
}

fn pct(x: f64) -> String {
    format!("{}%", trim(x * 100.0))
}

fn pp(x: f64) -> String {
    format!("{} pp", trim(x * 100.0))
}

fn trim(x: f64) -> String {
    let text = format!("{x:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

fn confidence_text(c: f64) -> String {
    format!("{}%", trim(c))
}

/// An e-value as people read it: `3.2`, `1500`, `2.1e6`.
fn sci(x: f64) -> String {
    if x.is_finite() && x >= 1e5 {
        format!("{x:.1e}")
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

#[cfg(test)]
mod tests;
