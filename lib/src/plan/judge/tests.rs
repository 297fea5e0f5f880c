use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;

use super::*;

fn at(minute: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(36_000 + 60 * minute)
}

fn counts(requests: f64, errors: f64) -> PeriodCounts {
    PeriodCounts {
        requests,
        errors,
        latency_seconds: Some(0.1),
    }
}

fn period(minute: u64, new: PeriodCounts, stable: PeriodCounts) -> Period {
    Period {
        start: at(minute),
        new,
        stable,
    }
}

fn defaults() -> JudgeSettings {
    JudgeSettings::new(&GateThresholds::default(), DEFAULT_CONFIDENCE)
}

fn gate(judge: &SequentialJudge, gate: GateKind) -> Judgement {
    judge
        .judge(Color::Green)
        .into_iter()
        .find(|j| j.gate == gate)
        .unwrap()
}

#[test]
fn the_mixture_matches_hand_computed_likelihood_ratios() {
    // p0 = 1/2, alternatives 3/4 (logit shift ln 3) and 7/8 (ln 7); 2 errors of 2:
    // ((3/4 / 1/2)^2 + (7/8 / 1/2)^2) / 2 = (2.25 + 3.0625) / 2.
    let e = log_mixture(2.0, 2.0, 0.5, &[3f64.ln(), 7f64.ln()]).exp();
    assert!((e - 2.65625).abs() < 1e-12, "{e}");
    // p0 = 1 %, the alternative 1/2 (shift ln 99); 1 error of 3: 50 * (0.5 / 0.99)^2.
    let e = log_mixture(1.0, 3.0, 0.01, &[99f64.ln()]).exp();
    assert!((e - 50.0 * (0.5f64 / 0.99).powi(2)).abs() < 1e-9, "{e}");
    // The default grid against 1 %: 2 of 2 is strong evidence, 1 of 1 and 1 of 20 are not.
    let e = |x, n| log_mixture(x, n, 0.01, &SHIFTS).exp();
    assert!((e(2.0, 2.0) - 2735.204).abs() < 0.01, "{}", e(2.0, 2.0));
    assert!((e(1.0, 1.0) - 34.591).abs() < 0.01, "{}", e(1.0, 1.0));
    assert!((e(1.0, 20.0) - 0.9618).abs() < 1e-3, "{}", e(1.0, 20.0));
}

#[test]
fn defaults_are_99_8_percent_shared_by_two_tests() {
    let s = defaults();
    assert!((s.alpha() - 0.002).abs() < 1e-12);
    assert_eq!(s.tests(), 2, "ceiling and increase; latency off by default");
    assert!((s.threshold() - 1000.0).abs() < 1e-6);
}

#[test]
fn a_total_failure_fails_within_two_requests() {
    let mut j = SequentialJudge::new(defaults());
    j.ingest(&[period(0, counts(1.0, 1.0), counts(9.0, 0.0))]);
    assert_eq!(
        j.failed(Color::Green),
        None,
        "one failed request is not enough"
    );
    j.ingest(&[period(0, counts(2.0, 2.0), counts(18.0, 0.0))]);
    let f = j.failed(Color::Green).unwrap();
    assert_eq!(f.gate, GateKind::ErrorRate);
    assert!((f.evidence.statistic - 2735.204).abs() < 0.01);
    assert_eq!(
        f.message,
        "green 5XX 100% (2 of 2): above 1% with 99.8% confidence (evidence 2735 >= 1000)"
    );
}

#[test]
fn a_single_stray_5xx_at_low_traffic_does_not_fail() {
    let mut j = SequentialJudge::new(defaults());
    let mut seen = Vec::new();
    for m in 0..10 {
        let errors = if m == 3 { 1.0 } else { 0.0 };
        seen.push(period(m, counts(2.0, errors), counts(18.0, 0.0)));
        j.ingest(&seen);
        assert_eq!(j.failed(Color::Green), None, "minute {m}");
    }
    let ceiling = gate(&j, GateKind::ErrorRate);
    assert_eq!(ceiling.verdict, Verdict::Pass);
    assert_eq!(ceiling.evidence.new_requests, 20.0);
}

#[test]
fn a_period_seen_again_is_not_evidence_twice_and_late_counts_replace_it() {
    let p = period(0, counts(100.0, 3.0), counts(900.0, 0.0));
    let mut once = SequentialJudge::new(defaults());
    once.ingest(&[p]);
    let mut twice = once.clone();
    twice.ingest(&[p]);
    twice.ingest(&[p, period(1, counts(0.0, 0.0), counts(0.0, 0.0))]);
    assert_eq!(once.totals(), twice.totals());
    assert_eq!(
        gate(&once, GateKind::ErrorRate).evidence.statistic,
        gate(&twice, GateKind::ErrorRate).evidence.statistic
    );
    // CloudWatch published more of minute 0 later: the latest counts stand, not the sum.
    twice.ingest(&[period(0, counts(120.0, 4.0), counts(1000.0, 0.0))]);
    assert_eq!(twice.totals().0.requests, 120.0);
    assert_eq!(twice.totals().0.errors, 4.0);
}

#[test]
fn a_plain_regression_against_the_stable_color_fails_with_its_numbers() {
    let mut j = SequentialJudge::new(defaults());
    j.ingest(&[period(0, counts(4000.0, 84.0), counts(8000.0, 32.0))]);
    let f = gate(&j, GateKind::ErrorRateIncrease);
    assert_eq!(f.verdict, Verdict::Fail);
    assert!(f.evidence.statistic >= 1000.0, "{:?}", f.evidence);
    assert!(
        f.message.starts_with(
            "green 5XX 2.1% vs blue 0.4% (84 of 4000 vs 32 of 8000): worse by more than 0.5 pp with 99.8% confidence (evidence 3425 >= 1000)"
        ),
        "{}",
        f.message
    );
    // The same rates over half the requests are not yet enough evidence (E = 1.24, computed with
    // Python's lgamma and a grid search of the constrained maximum).
    let mut j = SequentialJudge::new(defaults());
    j.ingest(&[period(0, counts(2000.0, 42.0), counts(4000.0, 16.0))]);
    let e = gate(&j, GateKind::ErrorRateIncrease).evidence.statistic;
    assert!((e - 1.2383).abs() < 1e-3, "{e}");
    assert_eq!(gate(&j, GateKind::ErrorRateIncrease).verdict, Verdict::Pass);
}

#[test]
fn the_increase_e_value_matches_hand_computed_mixtures() {
    // KT(2 of 2) = B(5/2, 1/2) / B(1/2, 1/2) = 3/8; KT(1 of 2) = B(3/2, 3/2) / pi = 1/8.
    assert!((ln_kt(2.0, 2.0).exp() - 0.375).abs() < 1e-12);
    assert!((ln_kt(1.0, 2.0).exp() - 0.125).abs() < 1e-12);
    assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-10);
    // 2 of 2 against 0 of 2 with d = 0: KT 3/8 * 3/8 over the largest likelihood with equal rates,
    // p^2 (1 - p)^2 at p = 1/2 = 1/16: E = 9/64 * 16 = 2.25.
    assert!((ln_increase_e(2.0, 2.0, 0.0, 2.0, 0.0).exp() - 2.25).abs() < 1e-9);
    // Rates that satisfy the hypothesis give no evidence.
    assert!(ln_increase_e(1.0, 100.0, 5.0, 100.0, 0.0) <= 0.0);
    assert!(ln_increase_e(6.0, 100.0, 5.0, 100.0, 0.02) <= 0.0);
}

fn latency_settings() -> JudgeSettings {
    JudgeSettings {
        max_latency_increase: Some(1.5),
        ..defaults()
    }
}

fn slow(minute: u64, new_latency: f64, requests: f64) -> Period {
    let mut p = period(minute, counts(requests, 0.0), counts(requests, 0.0));
    p.new.latency_seconds = Some(new_latency);
    p.stable.latency_seconds = Some(0.2);
    p
}

#[test]
fn latency_fails_once_enough_periods_are_slower_and_never_on_the_newest() {
    let mut j = SequentialJudge::new(latency_settings());
    let mut seen = Vec::new();
    let mut failed_at = None;
    for m in 0..30 {
        seen.push(slow(m, 0.4, 100.0));
        j.ingest(&seen);
        if failed_at.is_none() && j.failed(Color::Green).is_some() {
            failed_at = Some(m);
        }
    }
    // K = 3 tests at alpha 0.002: 1500; the strongest alternative (q = 0.993) needs 2^n / 5 >= 1500,
    // so 13 signs, taken one poll late: minute 13 (signs of minutes 0..=12) at the earliest.
    let failed_at = failed_at.unwrap();
    assert!((13..=15).contains(&failed_at), "{failed_at}");
    let f = j.failed(Color::Green).unwrap();
    assert_eq!(f.gate, GateKind::LatencyIncrease);
    assert!(
        f.message
            .starts_with("green latency over 1.5x blue's in 29 of 29 periods judged"),
        "{}",
        f.message
    );
}

#[test]
fn latency_of_thin_or_alternating_periods_does_not_fail() {
    let mut thin = SequentialJudge::new(latency_settings());
    let mut mixed = SequentialJudge::new(latency_settings());
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for m in 0..60 {
        a.push(slow(m, 0.4, 49.0));
        b.push(slow(m, if m % 2 == 0 { 0.4 } else { 0.25 }, 100.0));
    }
    thin.ingest(&a);
    mixed.ingest(&b);
    assert_eq!(
        gate(&thin, GateKind::LatencyIncrease).verdict,
        Verdict::NoData
    );
    assert_eq!(
        gate(&mixed, GateKind::LatencyIncrease).verdict,
        Verdict::Pass
    );
    assert_eq!(
        gate(&mixed, GateKind::LatencyIncrease)
            .evidence
            .new_requests,
        59.0
    );
}

#[test]
fn judges_parse() {
    assert_eq!("Sequential".parse::<JudgeKind>(), Ok(JudgeKind::Sequential));
    assert_eq!("threshold".parse::<JudgeKind>(), Ok(JudgeKind::Threshold));
    assert!("kayenta".parse::<JudgeKind>().is_err());
    assert_eq!(JudgeKind::default(), JudgeKind::Sequential);
}

/// A small seeded generator for the simulations (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn binomial(&mut self, n: u32, p: f64) -> f64 {
        (0..n).filter(|_| self.next() < p).count() as f64
    }
}

/// The share of `sims` simulated steps of `minutes` periods, looked at after every period, in which
/// the judge failed although the data came from the null hypothesis's boundary.
fn false_alarms(settings: JudgeSettings, seed: u64, draw: impl Fn(&mut Rng, u64) -> Period) -> f64 {
    let (sims, minutes) = (300, 15);
    let mut rng = Rng(seed);
    let mut alarms = 0;
    for _ in 0..sims {
        let mut j = SequentialJudge::new(settings);
        let mut seen = Vec::new();
        for m in 0..minutes {
            seen.push(draw(&mut rng, m));
            j.ingest(&seen);
            if j.failed(Color::Green).is_some() {
                alarms += 1;
                break;
            }
        }
    }
    f64::from(alarms) / f64::from(sims)
}

/// Three standard errors over `alpha` for 300 simulations.
fn allowed(alpha: f64) -> f64 {
    alpha + 3.0 * (alpha * (1.0 - alpha) / 300.0).sqrt()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn at_the_ceiling_false_alarms_stay_under_alpha(
        seed in any::<u64>(), c in 0.005f64..0.2, n in 5u32..80,
    ) {
        // Confidence 80 %: alpha large enough for 300 simulations to see a broken test.
        let settings = JudgeSettings {
            confidence: 80.0,
            max_error_rate: c,
            max_error_rate_increase: 1.0,
            max_latency_increase: None,
        };
        let rate = false_alarms(settings, seed, |r, m| {
            period(m, counts(f64::from(n), r.binomial(n, c)), counts(0.0, 0.0))
        });
        prop_assert!(rate <= allowed(settings.alpha() / 2.0), "{rate}");
    }

    #[test]
    fn at_the_tolerance_false_alarms_stay_under_alpha(
        seed in any::<u64>(), base in 0.0f64..0.05, d in 0.0f64..0.02, n in 10u32..80,
    ) {
        let settings = JudgeSettings {
            confidence: 80.0,
            max_error_rate: 1.0,
            max_error_rate_increase: d,
            max_latency_increase: None,
        };
        let rate = false_alarms(settings, seed, |r, m| {
            period(m, counts(f64::from(n), r.binomial(n, base + d)), counts(f64::from(4 * n), r.binomial(4 * n, base)))
        });
        prop_assert!(rate <= allowed(settings.alpha()), "{rate}");
    }

    #[test]
    fn latency_alike_false_alarms_stay_under_alpha(seed in any::<u64>()) {
        let settings = JudgeSettings {
            confidence: 80.0,
            max_error_rate: 1.0,
            max_error_rate_increase: 1.0,
            max_latency_increase: Some(1.0001),
        };
        // Both colors' statistic from the same distribution: the sign is a fair coin at ratio ~1.
        let rate = false_alarms(settings, seed, |r, m| {
            let mut p = period(m, counts(100.0, 0.0), counts(100.0, 0.0));
            p.new.latency_seconds = Some(0.1 + r.next());
            p.stable.latency_seconds = Some(0.1 + r.next());
            p
        });
        prop_assert!(rate <= allowed(settings.alpha() / 2.0), "{rate}");
    }
}

#[test]
fn the_window_rule_of_the_threshold_judge_would_not_hold_alpha() {
    // The check the property tests make can fail: a judge that fails whenever the window's rate is
    // over the ceiling (today's threshold rule) at the boundary rate raises far more than alpha.
    let mut rng = Rng(7);
    let mut alarms = 0;
    for _ in 0..300 {
        let mut x = 0.0;
        let mut n = 0.0;
        for _ in 0..15 {
            x += rng.binomial(20, 0.05);
            n += 20.0;
            if x / n > 0.05 {
                alarms += 1;
                break;
            }
        }
    }
    assert!(f64::from(alarms) / 300.0 > allowed(0.1));
}
