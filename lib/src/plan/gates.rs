//! Gates: what a poll of the metrics says about the new color.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::model::Color;

/// The CloudWatch statistic used for `TargetResponseTime`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(into = "String")]
#[non_exhaustive]
pub enum LatencyStatistic {
    /// `Average`.
    Average,
    /// `Maximum`.
    Maximum,
    /// A percentile such as `p99` or `p99.9`.
    Percentile(f64),
}

impl From<LatencyStatistic> for String {
    fn from(s: LatencyStatistic) -> String {
        s.to_string()
    }
}

impl fmt::Display for LatencyStatistic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LatencyStatistic::Average => f.write_str("Average"),
            LatencyStatistic::Maximum => f.write_str("Maximum"),
            LatencyStatistic::Percentile(p) => write!(f, "p{p}"),
        }
    }
}

/// A string that is not a latency statistic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a latency statistic: use p50..p99.9 (e.g. p99), Average or Maximum")]
pub struct InvalidStatistic(pub String);

impl FromStr for LatencyStatistic {
    type Err = InvalidStatistic;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "average" | "avg" => Ok(LatencyStatistic::Average),
            "maximum" | "max" => Ok(LatencyStatistic::Maximum),
            other => other
                .strip_prefix('p')
                .and_then(|n| n.parse::<f64>().ok())
                .filter(|p| *p > 0.0 && *p < 100.0)
                .map(LatencyStatistic::Percentile)
                .ok_or_else(|| InvalidStatistic(s.to_string())),
        }
    }
}

/// The comparison of the two colors' latency is off unless a ratio is given: a new version warming up is
/// often slower in its first minutes, and comparing worst periods would roll it back on a fluke.
pub const DEFAULT_MAX_LATENCY_INCREASE: Option<f64> = None;

/// Gate thresholds: what must hold for the new color while a step bakes. Rates are fractions here
/// (0.01 = 1 %); [`crate::engine::DeploySpec::builder`] and `albflip.toml` take percent.
///
/// ```
/// use std::time::Duration;
/// use albflip::plan::{GateThresholds, LatencyStatistic};
///
/// let gates = GateThresholds {
///     max_error_rate: 0.005,
///     latency_statistic: LatencyStatistic::Percentile(95.0),
///     max_latency: Duration::from_millis(300),
///     alarms: vec!["shop-p99-latency".into()],
///     ..GateThresholds::default()
/// };
/// assert_eq!(gates.min_requests, 50);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateThresholds {
    /// Highest acceptable 5XX / requests of the new color, as a fraction (0.01 = 1 %).
    pub max_error_rate: f64,
    /// Requests the window must hold before the error rate is judged.
    pub min_requests: u64,
    /// The latency statistic.
    pub latency_statistic: LatencyStatistic,
    /// Highest acceptable latency.
    #[serde(with = "crate::plan::strategy::secs")]
    pub max_latency: Duration,
    /// Fewest healthy hosts.
    pub min_healthy_hosts: u32,
    /// Most unhealthy hosts.
    pub max_unhealthy_hosts: u32,
    /// Most the new color's error rate may exceed the stable color's, as a fraction (0.005 = 0.5 pp).
    pub max_error_rate_increase: f64,
    /// Most the new color's latency statistic may be as a multiple of the stable color's in the same
    /// window (1.5 = at most 1.5 times); `None` turns the comparison off.
    pub max_latency_increase: Option<f64>,
    /// CloudWatch alarms that must not be in ALARM.
    pub alarms: Vec<String>,
    /// Which judge decides the error rate, its increase over the stable color and the latency
    /// against the stable color: sequential (the default) or threshold (the window against the
    /// thresholds at every poll, with `min_requests` and the failure threshold).
    pub judge: crate::plan::judge_choice::JudgeKind,
    /// The sequential judge's confidence in percent (default 99.8: a healthy step fails at most 0.2 %
    /// of the time, a 5-step deployment at most 1 %).
    pub confidence: f64,
}

impl Default for GateThresholds {
    fn default() -> Self {
        GateThresholds {
            max_error_rate: 0.01,
            min_requests: 50,
            latency_statistic: LatencyStatistic::Percentile(99.0),
            max_latency: Duration::from_secs(1),
            min_healthy_hosts: 1,
            max_unhealthy_hosts: 0,
            max_error_rate_increase: 0.005,
            max_latency_increase: DEFAULT_MAX_LATENCY_INCREASE,
            alarms: Vec::new(),
            judge: crate::plan::judge_choice::JudgeKind::Sequential,
            confidence: crate::plan::judge_choice::DEFAULT_CONFIDENCE,
        }
    }
}

/// One color's metrics over a window.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct ColorMetrics {
    /// Sum of `RequestCount`.
    pub requests: f64,
    /// Sum of `HTTPCode_Target_5XX_Count` (missing datapoints mean zero).
    pub errors: f64,
    /// The worst period's latency statistic, in seconds; `None` without datapoints.
    pub latency_seconds: Option<f64>,
    /// The lowest `HealthyHostCount`; `None` without datapoints.
    pub healthy_hosts: Option<f64>,
    /// The highest `UnHealthyHostCount`; `None` without datapoints.
    pub unhealthy_hosts: Option<f64>,
}

impl ColorMetrics {
    /// Errors per request, when there were requests.
    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0.0).then(|| self.errors / self.requests)
    }
}

/// One color's counts in one metric period.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct PeriodCounts {
    /// Requests served (never fewer than `errors`).
    pub requests: f64,
    /// Requests the color failed (5XX from its members, failed connections to them).
    pub errors: f64,
    /// The period's latency statistic in seconds; `None` without a datapoint.
    pub latency_seconds: Option<f64>,
}

/// One metric period of both colors: the unit the sequential judge adds evidence in. Both colors'
/// counts come from the same period, so a comparison is never skewed by traffic that changed between
/// windows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Period {
    /// When the period starts.
    pub start: SystemTime,
    /// The new color in that period.
    pub new: PeriodCounts,
    /// The stable color in that period.
    pub stable: PeriodCounts,
}

/// The load balancer's own responses over a window: what it answered itself (502, 503, 504 when a
/// target refused, failed or timed out) is in no backend's counts.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct LoadBalancerCounts {
    /// Every request the load balancer received.
    pub requests: f64,
    /// The 5XX the load balancer generated itself.
    pub errors: f64,
}

impl LoadBalancerCounts {
    /// Errors per request, when there were requests.
    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0.0).then(|| self.errors / self.requests)
    }
}

/// What one poll saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observation {
    /// The new color's metrics.
    pub new: ColorMetrics,
    /// The stable color's metrics in the same window.
    pub stable: ColorMetrics,
    /// Alarm states by name (`OK`, `ALARM`, `INSUFFICIENT_DATA`); a named alarm missing here was not found.
    pub alarms: Vec<(String, String)>,
    /// Window start.
    pub window_start: SystemTime,
    /// Window end.
    pub window_end: SystemTime,
    /// The window period by period, oldest first (empty from a source that reports totals only).
    pub periods: Vec<Period>,
    /// Whether the source reports its data period by period: then `periods` holds every period
    /// published so far in the window, and a step's coverage is read from them, not assumed from the
    /// publication lag.
    pub by_period: bool,
    /// The load balancer's own 5XX over the window, from a source that reports them.
    pub load_balancer: Option<LoadBalancerCounts>,
    /// The load balancer's own 5XX in the periods before the step's write: what its rise since the step
    /// is measured against. The engine fills it in; a source leaves it `None`.
    pub load_balancer_before: Option<LoadBalancerCounts>,
}

impl Observation {
    /// An observation of totals only, as a simple [`crate::ports::MetricSource`] reports them: no
    /// periods, no load-balancer counts.
    pub fn totals(
        new: ColorMetrics,
        stable: ColorMetrics,
        window_start: SystemTime,
        window_end: SystemTime,
    ) -> Observation {
        Observation {
            new,
            stable,
            alarms: Vec::new(),
            window_start,
            window_end,
            periods: Vec::new(),
            by_period: false,
            load_balancer: None,
            load_balancer_before: None,
        }
    }
}

/// A gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "gate", content = "name", rename_all = "snake_case")]
#[non_exhaustive]
pub enum GateKind {
    /// 5XX / requests of the new color.
    ErrorRate,
    /// The latency statistic of the new color.
    Latency,
    /// Healthy hosts of the new color.
    HealthyHosts,
    /// Unhealthy hosts of the new color.
    UnhealthyHosts,
    /// A CloudWatch alarm.
    Alarm(String),
    /// The new color's error rate against the stable color's.
    ErrorRateIncrease,
    /// The new color's latency statistic as a multiple of the stable color's.
    LatencyIncrease,
    /// The load balancer's own 5XX rate (502/503/504 it answers itself) against its rate before the
    /// step.
    LoadBalancerErrors,
}

impl GateKind {
    /// The gate's name as the event stream spells it (`error_rate`, `alarm`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            GateKind::ErrorRate => "error_rate",
            GateKind::Latency => "latency",
            GateKind::HealthyHosts => "healthy_hosts",
            GateKind::UnhealthyHosts => "unhealthy_hosts",
            GateKind::Alarm(_) => "alarm",
            GateKind::ErrorRateIncrease => "error_rate_increase",
            GateKind::LatencyIncrease => "latency_increase",
            GateKind::LoadBalancerErrors => "load_balancer_errors",
        }
    }
}

/// A gate's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verdict {
    /// Within the threshold.
    Pass,
    /// Breached.
    Fail,
    /// Not enough data to judge.
    NoData,
    /// Not applicable in this window (for example the stable color has too little traffic to compare).
    Skipped,
}

/// A gate's verdict with the value measured and the threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateResult {
    /// Which gate: serialized as `"gate": "error_rate"` (and `"name"` for an alarm), as the event
    /// stream documents it.
    #[serde(flatten)]
    pub gate: GateKind,
    /// The verdict.
    pub verdict: Verdict,
    /// The measured value (a fraction for rates, seconds for latency, a count for hosts).
    pub value: Option<f64>,
    /// The threshold.
    pub threshold: f64,
    /// A sentence for people, e.g. `green error rate 12.3% > 1.0% (123 of 1000 requests, 14:02:00–14:07:00)`.
    pub message: String,
}

/// All gates of one poll.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateReport {
    /// Each gate's result.
    pub results: Vec<GateResult>,
    /// Whether the window held enough requests to judge the new color.
    pub has_data: bool,
}

impl GateReport {
    /// The first failing gate.
    pub fn first_failure(&self) -> Option<&GateResult> {
        self.results.iter().find(|r| r.verdict == Verdict::Fail)
    }
}

/// `HH:MM:SS–HH:MM:SS` (UTC) of a window.
pub fn window_text(start: SystemTime, end: SystemTime) -> String {
    let t = |s: SystemTime| {
        let full = humantime::format_rfc3339_seconds(s).to_string();
        full.get(11..19).unwrap_or(&full).to_string()
    };
    format!("{}–{} UTC", t(start), t(end))
}

/// A ratio with up to two decimals and no trailing zeros: `2.1`, `1.96`, `2`.
fn times(x: f64) -> String {
    let text = format!("{x:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// Judges an observation of `new_color` against the thresholds.
pub fn evaluate(t: &GateThresholds, obs: &Observation, new_color: Color) -> GateReport {
    let window = window_text(obs.window_start, obs.window_end);
    let stable_color = new_color.other();
    let n = &obs.new;
    let enough = n.requests >= t.min_requests as f64;
    let mut results = Vec::new();

    results.push(match n.error_rate().filter(|_| enough) {
        Some(rate) => {
            let verdict = if rate > t.max_error_rate {
                Verdict::Fail
            } else {
                Verdict::Pass
            };
            let op = if verdict == Verdict::Fail { ">" } else { "≤" };
            GateResult {
                gate: GateKind::ErrorRate,
                verdict,
                value: Some(rate),
                threshold: t.max_error_rate,
                message: format!(
                    "{new_color} error rate {} {op} {} ({} of {} requests, {window})",
                    pct(rate),
                    pct(t.max_error_rate),
                    n.errors,
                    n.requests
                ),
            }
        }
        None => GateResult {
            gate: GateKind::ErrorRate,
            verdict: Verdict::NoData,
            value: None,
            threshold: t.max_error_rate,
            message: format!(
                "{new_color} error rate not judged: {} of {} required requests ({window})",
                n.requests, t.min_requests
            ),
        },
    });

    let max_latency = t.max_latency.as_secs_f64();
    results.push(threshold_gate(
        GateKind::Latency,
        n.latency_seconds,
        max_latency,
        |v| v > max_latency,
        |v, ok| {
            format!(
                "{new_color} latency {} {:.3}s {} {:.3}s ({window})",
                t.latency_statistic,
                v,
                if ok { "≤" } else { ">" },
                max_latency
            )
        },
        format!("{new_color} latency: no datapoints ({window})"),
    ));

    if let Some(max_ratio) = t.max_latency_increase {
        results.push(latency_increase(
            t, max_ratio, obs, new_color, enough, &window,
        ));
    }

    let min_h = f64::from(t.min_healthy_hosts);
    results.push(threshold_gate(
        GateKind::HealthyHosts,
        n.healthy_hosts,
        min_h,
        |v| v < min_h,
        |v, ok| {
            format!(
                "{new_color} healthy hosts {v} {} {min_h} ({window})",
                if ok { "≥" } else { "<" }
            )
        },
        format!("{new_color} healthy hosts: no datapoints ({window})"),
    ));

    let max_u = f64::from(t.max_unhealthy_hosts);
    results.push(threshold_gate(
        GateKind::UnhealthyHosts,
        n.unhealthy_hosts,
        max_u,
        |v| v > max_u,
        |v, ok| {
            format!(
                "{new_color} unhealthy hosts {v} {} {max_u} ({window})",
                if ok { "≤" } else { ">" }
            )
        },
        format!("{new_color} unhealthy hosts: no datapoints ({window})"),
    ));

    for name in &t.alarms {
        let state = obs
            .alarms
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s.as_str());
        let (verdict, message) = match state {
            Some("ALARM") => (Verdict::Fail, format!("alarm {name} is in ALARM")),
            Some(s) => (Verdict::Pass, format!("alarm {name} is {s}")),
            None => (Verdict::NoData, format!("alarm {name} not found")),
        };
        results.push(GateResult {
            gate: GateKind::Alarm(name.clone()),
            verdict,
            value: None,
            threshold: 0.0,
            message,
        });
    }

    let s = &obs.stable;
    let increase = match (n.error_rate().filter(|_| enough), s.error_rate()) {
        (Some(new_rate), Some(stable_rate)) if s.requests >= t.min_requests as f64 => {
            let diff = new_rate - stable_rate;
            let fail = diff > t.max_error_rate_increase;
            GateResult {
                gate: GateKind::ErrorRateIncrease,
                verdict: if fail { Verdict::Fail } else { Verdict::Pass },
                value: Some(diff),
                threshold: t.max_error_rate_increase,
                message: format!(
                    "{new_color} error rate {} vs {stable_color} {}: {:+.1} pp {} {:.1} pp ({window})",
                    pct(new_rate), pct(stable_rate), diff * 100.0, if fail { ">" } else { "≤" }, t.max_error_rate_increase * 100.0
                ),
            }
        }
        _ => GateResult {
            gate: GateKind::ErrorRateIncrease,
            verdict: Verdict::Skipped,
            value: None,
            threshold: t.max_error_rate_increase,
            message: format!("comparison with {stable_color} skipped: too little traffic ({} and {} requests, {window})", n.requests, s.requests),
        },
    };
    results.push(increase);
    results.extend(load_balancer_errors(t, obs, &window));

    GateReport {
        results,
        has_data: enough,
    }
}

/// The load balancer's own 5XX rate since the step against its rate in the periods before it. A color
/// that refuses connections or times out makes the load balancer answer 502 or 504, which no target
/// group's metrics count (`HTTPCode_ELB_5XX_Count` has no TargetGroup dimension): a rise after the step
/// beyond `max_error_rate_increase` fails the step. Nothing when the source does not report the load
/// balancer's counts; skipped with too few requests since the step.
fn load_balancer_errors(t: &GateThresholds, obs: &Observation, window: &str) -> Option<GateResult> {
    let after = obs.load_balancer?;
    let before = obs.load_balancer_before.unwrap_or_default();
    let gate = |verdict, value, message| GateResult {
        gate: GateKind::LoadBalancerErrors,
        verdict,
        value,
        threshold: t.max_error_rate_increase,
        message,
    };
    let Some(rate) = after
        .error_rate()
        .filter(|_| after.requests >= t.min_requests as f64)
    else {
        return Some(gate(
            Verdict::Skipped,
            None,
            format!(
                "load balancer's own 5XX not judged: {} of {} required requests since the step ({window})",
                after.requests, t.min_requests
            ),
        ));
    };
    let was = before.error_rate().unwrap_or(0.0);
    let rise = rate - was;
    let fail = rise > t.max_error_rate_increase;
    let message = if fail {
        format!(
            "the load balancer's own 5XX rose from {} to {} since the step: {:+.1} pp > {:.1} pp ({} of {} requests, {window})",
            pct(was), pct(rate), rise * 100.0, t.max_error_rate_increase * 100.0, after.errors, after.requests
        )
    } else {
        format!(
            "load balancer's own 5XX {} since the step, {} before: {:+.1} pp ≤ {:.1} pp ({window})",
            pct(rate),
            pct(was),
            rise * 100.0,
            t.max_error_rate_increase * 100.0
        )
    };
    Some(gate(
        if fail { Verdict::Fail } else { Verdict::Pass },
        Some(rise),
        message,
    ))
}

/// The new color's latency statistic against the stable color's over the same window: no data when
/// either has no datapoints or the new color has fewer than `min_requests` requests (a percentile of a
/// handful of requests is noise); skipped when the stable color has too few to compare with.
fn latency_increase(
    t: &GateThresholds,
    max_ratio: f64,
    obs: &Observation,
    new_color: Color,
    enough: bool,
    window: &str,
) -> GateResult {
    let stable_color = new_color.other();
    let stat = t.latency_statistic;
    let (n, s) = (&obs.new, &obs.stable);
    let result = |verdict, value, message| GateResult {
        gate: GateKind::LatencyIncrease,
        verdict,
        value,
        threshold: max_ratio,
        message,
    };
    let (Some(new_latency), Some(stable_latency)) = (n.latency_seconds, s.latency_seconds) else {
        let missing = if n.latency_seconds.is_none() {
            new_color
        } else {
            stable_color
        };
        return result(
            Verdict::NoData,
            None,
            format!(
                "{new_color} {stat} latency against {stable_color}'s not judged: no {missing} datapoints ({window})"
            ),
        );
    };
    if !enough {
        return result(
            Verdict::NoData,
            None,
            format!(
                "{new_color} {stat} latency against {stable_color}'s not judged: {} of {} required requests ({window})",
                n.requests, t.min_requests
            ),
        );
    }
    if s.requests < t.min_requests as f64 || stable_latency <= 0.0 {
        return result(
            Verdict::Skipped,
            None,
            format!(
                "{stat} latency comparison with {stable_color} skipped: too little traffic ({} requests, {window})",
                s.requests
            ),
        );
    }
    let ratio = new_latency / stable_latency;
    let fail = ratio > max_ratio;
    result(
        if fail { Verdict::Fail } else { Verdict::Pass },
        Some(ratio),
        format!(
            "{new_color} {stat} latency {new_latency:.3} s is {}x {stable_color}'s {stable_latency:.3} s {} {max_ratio}x ({window})",
            times(ratio),
            if fail { ">" } else { "≤" }
        ),
    )
}

fn threshold_gate(
    gate: GateKind,
    value: Option<f64>,
    threshold: f64,
    breached: impl Fn(f64) -> bool,
    message: impl Fn(f64, bool) -> String,
    no_data: String,
) -> GateResult {
    match value {
        Some(v) => {
            let fail = breached(v);
            GateResult {
                gate,
                verdict: if fail { Verdict::Fail } else { Verdict::Pass },
                value: Some(v),
                threshold,
                message: message(v, !fail),
            }
        }
        None => GateResult {
            gate,
            verdict: Verdict::NoData,
            value: None,
            threshold,
            message: no_data,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(new: ColorMetrics, stable: ColorMetrics) -> Observation {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(14 * 3600 + 2 * 60);
        Observation::totals(new, stable, start, start + Duration::from_secs(300))
    }

    fn lb(requests: f64, errors: f64) -> Option<LoadBalancerCounts> {
        Some(LoadBalancerCounts { requests, errors })
    }

    fn lb_gate(o: &Observation) -> Option<GateResult> {
        evaluate(&GateThresholds::default(), o, Color::Green)
            .results
            .into_iter()
            .find(|r| r.gate == GateKind::LoadBalancerErrors)
    }

    #[test]
    fn the_load_balancers_own_5xx_rising_after_the_step_fails_it() {
        let mut o = obs(healthy(100.0, 0.0), healthy(900.0, 0.0));
        assert_eq!(lb_gate(&o), None, "a source without load-balancer counts");
        o.load_balancer_before = lb(5000.0, 5.0);
        o.load_balancer = lb(1000.0, 101.0);
        let r = lb_gate(&o).unwrap();
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(
            r.message,
            "the load balancer's own 5XX rose from 0.1% to 10.1% since the step: +10.0 pp > 0.5 pp (101 of 1000 requests, 14:02:00–14:07:00 UTC)"
        );
        assert_eq!(
            evaluate(&GateThresholds::default(), &o, Color::Green)
                .first_failure()
                .map(|f| f.gate.clone()),
            Some(GateKind::LoadBalancerErrors),
            "green's own metrics are clean: only the load balancer saw its timeouts"
        );
        o.load_balancer = lb(1000.0, 4.0);
        assert_eq!(lb_gate(&o).unwrap().verdict, Verdict::Pass);
        o.load_balancer_before = lb(5000.0, 150.0);
        o.load_balancer = lb(1000.0, 33.0);
        assert_eq!(
            lb_gate(&o).unwrap().verdict,
            Verdict::Pass,
            "a load balancer as bad before the step as after it is not the step's doing"
        );
        o.load_balancer = lb(10.0, 10.0);
        assert_eq!(lb_gate(&o).unwrap().verdict, Verdict::Skipped);
        o.load_balancer_before = None;
        o.load_balancer = lb(1000.0, 20.0);
        assert_eq!(
            lb_gate(&o).unwrap().verdict,
            Verdict::Fail,
            "no traffic before the step: measured against 0 %"
        );
    }

    fn healthy(requests: f64, errors: f64) -> ColorMetrics {
        ColorMetrics {
            requests,
            errors,
            latency_seconds: Some(0.1),
            healthy_hosts: Some(2.0),
            unhealthy_hosts: Some(0.0),
        }
    }

    #[test]
    fn the_error_rate_message_names_value_threshold_sample_and_window() {
        let r = evaluate(
            &GateThresholds::default(),
            &obs(healthy(1000.0, 123.0), healthy(1000.0, 0.0)),
            Color::Green,
        );
        let f = r.first_failure().unwrap();
        assert_eq!(f.gate, GateKind::ErrorRate);
        assert_eq!(
            f.message,
            "green error rate 12.3% > 1.0% (123 of 1000 requests, 14:02:00–14:07:00 UTC)"
        );
    }

    #[test]
    fn too_few_requests_is_no_data_not_a_pass() {
        let r = evaluate(
            &GateThresholds::default(),
            &obs(healthy(10.0, 10.0), healthy(0.0, 0.0)),
            Color::Green,
        );
        assert!(!r.has_data);
        assert!(r.first_failure().is_none());
        assert_eq!(r.results[0].verdict, Verdict::NoData);
    }

    #[test]
    fn latency_hosts_alarms_and_the_relative_check() {
        let mut t = GateThresholds {
            alarms: vec!["db".into(), "missing".into()],
            ..Default::default()
        };
        let mut new = healthy(1000.0, 9.0);
        new.latency_seconds = Some(1.5);
        let mut o = obs(new, healthy(1000.0, 0.0));
        o.alarms = vec![("db".into(), "ALARM".into())];
        let r = evaluate(&t, &o, Color::Blue);
        let verdict = |g: GateKind| r.results.iter().find(|x| x.gate == g).unwrap().verdict;
        assert_eq!(verdict(GateKind::ErrorRate), Verdict::Pass);
        assert_eq!(verdict(GateKind::Latency), Verdict::Fail);
        assert_eq!(verdict(GateKind::Alarm("db".into())), Verdict::Fail);
        assert_eq!(verdict(GateKind::Alarm("missing".into())), Verdict::NoData);
        assert_eq!(verdict(GateKind::ErrorRateIncrease), Verdict::Fail);
        t.alarms.clear();
        let mut o = obs(
            ColorMetrics {
                healthy_hosts: Some(0.0),
                ..healthy(1000.0, 0.0)
            },
            healthy(10.0, 0.0),
        );
        o.new.latency_seconds = Some(0.2);
        let r = evaluate(&t, &o, Color::Green);
        assert_eq!(r.first_failure().unwrap().gate, GateKind::HealthyHosts);
        assert_eq!(r.results.last().unwrap().verdict, Verdict::Skipped);
    }

    fn latencies(new: f64, stable: f64) -> Observation {
        let mut o = obs(healthy(1000.0, 0.0), healthy(1000.0, 0.0));
        o.new.latency_seconds = Some(new);
        o.stable.latency_seconds = Some(stable);
        o
    }

    fn latency_increase_of(t: &GateThresholds, o: &Observation) -> GateResult {
        let r = evaluate(t, o, Color::Green);
        r.results
            .into_iter()
            .find(|x| x.gate == GateKind::LatencyIncrease)
            .unwrap()
    }

    fn at_most(ratio: f64) -> GateThresholds {
        GateThresholds {
            max_latency_increase: Some(ratio),
            ..GateThresholds::default()
        }
    }

    #[test]
    fn latency_at_twice_the_stable_colors_fails_at_1_5x_even_under_the_absolute_limit() {
        let t = at_most(1.5);
        let r = evaluate(&t, &latencies(0.412, 0.196), Color::Green);
        let f = r.first_failure().unwrap();
        assert_eq!(f.gate, GateKind::LatencyIncrease);
        assert_eq!(f.threshold, 1.5);
        assert!((f.value.unwrap() - 0.412 / 0.196).abs() < 1e-9);
        assert_eq!(
            f.message,
            "green p99 latency 0.412 s is 2.1x blue's 0.196 s > 1.5x (14:02:00–14:07:00 UTC)"
        );
        let latency = r
            .results
            .iter()
            .find(|x| x.gate == GateKind::Latency)
            .unwrap();
        assert_eq!(latency.verdict, Verdict::Pass, "under the absolute limit");
    }

    #[test]
    fn latency_at_1_2x_the_stable_colors_passes_at_1_5x() {
        let g = latency_increase_of(&at_most(1.5), &latencies(0.24, 0.2));
        assert_eq!(g.verdict, Verdict::Pass);
        assert_eq!(
            g.message,
            "green p99 latency 0.240 s is 1.2x blue's 0.200 s ≤ 1.5x (14:02:00–14:07:00 UTC)"
        );
        // Twice the stable color's latency passes at 2x, a hair more fails.
        let two = at_most(2.0);
        assert_eq!(
            latency_increase_of(&two, &latencies(0.4, 0.2)).verdict,
            Verdict::Pass
        );
        assert_eq!(
            latency_increase_of(&two, &latencies(0.41, 0.2)).verdict,
            Verdict::Fail
        );
        // Off by default.
        assert_eq!(GateThresholds::default().max_latency_increase, None);
    }

    #[test]
    fn latency_against_the_stable_color_without_its_datapoints_is_no_data() {
        let mut o = latencies(0.4, 0.2);
        o.stable.latency_seconds = None;
        let g = latency_increase_of(&at_most(1.5), &o);
        assert_eq!(g.verdict, Verdict::NoData);
        assert_eq!(g.value, None);
        assert!(g.message.contains("no blue datapoints"), "{}", g.message);
        let mut o = latencies(0.4, 0.2);
        o.new.latency_seconds = None;
        assert_eq!(
            latency_increase_of(&at_most(1.5), &o).verdict,
            Verdict::NoData
        );
    }

    #[test]
    fn latency_of_too_few_new_color_requests_is_no_data_not_a_failure() {
        let mut o = latencies(0.4, 0.2);
        o.new.requests = 10.0;
        let g = latency_increase_of(&at_most(1.5), &o);
        assert_eq!(g.verdict, Verdict::NoData);
        assert!(
            g.message.contains("10 of 50 required requests"),
            "{}",
            g.message
        );
        // Too little stable traffic to compare with: skipped, like the error-rate comparison.
        let mut o = latencies(0.4, 0.2);
        o.stable.requests = 10.0;
        assert_eq!(
            latency_increase_of(&at_most(1.5), &o).verdict,
            Verdict::Skipped
        );
        // Off: no such gate.
        let t = GateThresholds {
            max_latency_increase: None,
            ..GateThresholds::default()
        };
        let r = evaluate(&t, &latencies(4.0, 0.2), Color::Green);
        assert!(r
            .results
            .iter()
            .all(|x| x.gate != GateKind::LatencyIncrease));
    }

    #[test]
    fn statistics_parse() {
        assert_eq!(
            "p99".parse::<LatencyStatistic>().unwrap(),
            LatencyStatistic::Percentile(99.0)
        );
        assert_eq!(
            "p99.9".parse::<LatencyStatistic>().unwrap().to_string(),
            "p99.9"
        );
        assert_eq!(
            "Average".parse::<LatencyStatistic>().unwrap(),
            LatencyStatistic::Average
        );
        assert!("p100".parse::<LatencyStatistic>().is_err());
        assert!("median".parse::<LatencyStatistic>().is_err());
    }
}

#[cfg(test)]
mod serialized {
    use super::*;

    /// Issue 21: `gate` is a string in the event stream, an alarm's name beside it.
    #[test]
    fn a_gate_result_names_its_gate_as_a_string() {
        let result = |gate| GateResult {
            gate,
            verdict: Verdict::Pass,
            value: Some(0.0),
            threshold: 0.01,
            message: "ok".into(),
        };
        let v = serde_json::to_value(result(GateKind::ErrorRate)).unwrap();
        assert_eq!(v["gate"], "error_rate", "{v}");
        assert!(v.get("name").is_none(), "{v}");
        let v = serde_json::to_value(result(GateKind::Alarm("p99".into()))).unwrap();
        assert_eq!(
            (&v["gate"], &v["name"]),
            (&"alarm".into(), &"p99".into()),
            "{v}"
        );
    }
}
