//! The settings of a deployment and where each comes from: a value set in code ([`DeployOptions`]; in
//! the CLI, its flags and `ALBFLIP_*` variables) wins over the `[strategy]`/`[gates]` value of
//! `albflip.toml`, which wins over the library's default. The defaults live here.
//!
//! A bad value is an [`Error::InvalidInput`] that names it: a file value by its key
//! (`albflip.toml [gates] poll-interval`), a value set in code by the CLI flag of the same name
//! (`--poll-interval`).

use crate::input::{Input, Text};
use crate::text;
use std::str::FromStr;
use std::time::Duration;

use crate::config::{GatesSection, StrategySection};
use crate::engine::spec::{zero_bake, DeploySpec, MetricWindow};
use crate::error::Error;
use crate::model::{Color, Percent};
use crate::plan::judge::{InvalidJudge, JudgeKind, DEFAULT_CONFIDENCE};
use crate::plan::{
    BakePolicy, GateThresholds, LatencyStatistic, NoDataPolicy, Plan, Step, Steps, Strategy,
};

/// How long each step bakes unless told otherwise: 3 minutes.
pub const DEFAULT_BAKE: Duration = Duration::from_secs(180);
/// How often the gates are polled unless told otherwise: every 30 s.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(30);
/// The canary's share unless told otherwise: 10 %.
pub const DEFAULT_CANARY_PERCENT: u8 = 10;

/// A strategy by name, as `[strategy] strategy` (or `--strategy`) gives it; its parameters (steps,
/// canary share) come separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StrategyKind {
    /// Step by step.
    Gradual,
    /// 0 → 100 in one step.
    Immediate,
    /// One canary step, then a pause for `promote`.
    Canary,
}

impl FromStr for StrategyKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "gradual" => Ok(StrategyKind::Gradual),
            "immediate" => Ok(StrategyKind::Immediate),
            "canary" => Ok(StrategyKind::Canary),
            other => Err(format!("{other:?} is not a strategy")),
        }
    }
}

/// The settings of a deployment given in code. Every `None` falls back to the configuration file's
/// `[strategy]`/`[gates]` value, then to the library's default (the README's tables list them).
///
/// ```
/// use std::time::Duration;
/// use albflip::config::FileConfig;
/// use albflip::engine::DeployOptions;
/// use albflip::model::Color;
///
/// # fn main() -> Result<(), albflip::Error> {
/// let file = FileConfig::parse("[gates]\nmax-error-rate = 2.0\n", "albflip.toml".as_ref())?;
/// let mut options = DeployOptions::default();
/// options.bake = Some(Duration::from_secs(60));
/// let spec = options.deploy_spec(Color::Green, &file.strategy, &file.gates)?;
/// assert_eq!(spec.policy.bake, Duration::from_secs(60)); // from code
/// assert_eq!(spec.gates.max_error_rate, 0.02); // from the file
/// assert_eq!(spec.gates.min_requests, 50); // the default
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct DeployOptions {
    /// The strategy (`[strategy] strategy`; default gradual).
    pub strategy: Option<StrategyKind>,
    /// A gradual deployment's steps (`[strategy] steps`; default 10, 25, 50, 75, 100).
    pub steps: Option<Steps>,
    /// A canary's share (`[strategy] canary-percentage`; default 10).
    pub canary_percentage: Option<Percent>,
    /// Promote a canary at once instead of pausing (`[strategy] auto-promote`; default no).
    pub auto_promote: Option<bool>,
    /// How long each step bakes (`[strategy] bake`; default 3 minutes).
    pub bake: Option<Duration>,
    /// Highest error rate (5XX and failed target connections) of the new color, in percent (`[gates] max-error-rate`; default 1).
    pub max_error_rate: Option<f64>,
    /// Requests the window must hold before the error rate is judged (default 50).
    pub min_requests: Option<u64>,
    /// The `TargetResponseTime` statistic (default p99).
    pub latency_statistic: Option<LatencyStatistic>,
    /// Highest latency (default 1 s).
    pub max_latency: Option<Duration>,
    /// Fewest healthy hosts of the new color (default 1).
    pub min_healthy_hosts: Option<u32>,
    /// Most unhealthy hosts of the new color (default 0).
    pub max_unhealthy_hosts: Option<u32>,
    /// CloudWatch alarms that must not be in ALARM (default none); blank names are ignored.
    pub alarms: Option<Vec<String>>,
    /// Most the new color's error rate may exceed the stable one's, in percentage points (default 0.5).
    pub max_error_rate_increase: Option<f64>,
    /// Most the new color's latency statistic may be as a multiple of the stable one's in the same
    /// window, a ratio above 1 (`[gates] max-latency-increase`; off by default).
    pub max_latency_increase: Option<f64>,
    /// What a poll without enough requests means (default wait).
    pub on_no_data: Option<NoDataPolicy>,
    /// How long `wait` may extend a bake (default: the bake).
    pub max_bake_extension: Option<Duration>,
    /// How often the gates are polled (default 30 s).
    pub poll_interval: Option<Duration>,
    /// The metrics window (default 5 minutes).
    pub metric_window: Option<Duration>,
    /// How far before now the window ends (default 60 s).
    pub metric_lag: Option<Duration>,
    /// The metric period (default 60 s).
    pub metric_period: Option<Duration>,
    /// Consecutive failing polls that fail a step (default 1; 0 is refused). Under the sequential
    /// judge it counts only for the latency limit, host and alarm gates.
    pub failure_threshold: Option<u32>,
    /// Which judge decides the error rate and the comparisons with the stable color (`[gates] judge`;
    /// default sequential).
    pub judge: Option<JudgeKind>,
    /// The sequential judge's confidence in percent, above 0 and below 100 (`[gates] confidence`;
    /// default 99.8).
    pub confidence: Option<f64>,
    /// Start even when the new color has no healthy targets.
    pub force: bool,
    /// Continue from the live split when someone else changed it, instead of stopping.
    pub adopt_drift: bool,
    /// A deliberately ungated deployment: no step bakes and no gate is read (the bake is zero whatever
    /// it is set to). The only way to a zero bake: without it, a zero bake is refused.
    pub no_gates: bool,
    /// A gated shift only: shift even though a deployment is in flight on the route, taking it over.
    pub take_over: bool,
}

/// The gates, how steps bake, and the metrics window: what every gated run needs.
struct Gating {
    gates: GateThresholds,
    policy: BakePolicy,
    window: MetricWindow,
}

impl DeployOptions {
    /// The strategy: from code, else `[strategy]`, else gradual 10, 25, 50, 75, 100.
    pub fn strategy(&self, file: &StrategySection) -> Result<Strategy, Error> {
        Ok(match self.strategy_kind(file)? {
            StrategyKind::Gradual => Strategy::Gradual {
                steps: self.steps_or(file)?,
            },
            StrategyKind::Immediate => Strategy::Immediate,
            StrategyKind::Canary => Strategy::Canary {
                percentage: self.canary_or(file)?,
                auto_promote: self.auto_promote.or(file.auto_promote).unwrap_or(false),
            },
        })
    }

    /// The strategy's name alone: from code, else `[strategy] strategy`, else gradual.
    pub fn strategy_kind(&self, file: &StrategySection) -> Result<StrategyKind, Error> {
        match (self.strategy, file.strategy.as_deref()) {
            (Some(kind), _) => Ok(kind),
            (None, None) => Ok(StrategyKind::Gradual),
            (None, Some(name)) => name.parse().map_err(|_| {
                Error::invalid_text(
                    format!("albflip.toml [strategy] strategy = {name:?}"),
                    "unknown strategy",
                    "Use gradual, immediate or canary",
                )
            }),
        }
    }

    fn steps_or(&self, file: &StrategySection) -> Result<Steps, Error> {
        match (&self.steps, &file.steps) {
            (Some(steps), _) => Ok(steps.clone()),
            (None, Some(list)) => Steps::new(list).map_err(|e| {
                Error::invalid_text(
                    "albflip.toml [strategy] steps",
                    e.to_string(),
                    "Give strictly increasing percentages from 1 to 100 ending at 100",
                )
            }),
            (None, None) => Ok(Steps::gradual()),
        }
    }

    fn canary_or(&self, file: &StrategySection) -> Result<Percent, Error> {
        let percent = match (self.canary_percentage, file.canary_percentage) {
            (Some(p), _) => p,
            (None, Some(p)) => Percent::new(p).ok_or_else(|| {
                Error::invalid_text(
                    "albflip.toml [strategy] canary-percentage",
                    format!("{p} is above 100"),
                    "Give 1..=99",
                )
            })?,
            (None, None) => Percent::new(DEFAULT_CANARY_PERCENT).unwrap_or(Percent::FULL),
        };
        if percent.get() == 0 || percent.get() == 100 {
            let what = named(
                self.canary_percentage.is_some(),
                Input::CanaryPercentage,
                "albflip.toml [strategy] canary-percentage",
            );
            return Err(Error::invalid(
                Input::CanaryPercentage,
                what,
                format!("{percent} is not a canary"),
                "Give 1..=99",
            ));
        }
        Ok(percent)
    }

    /// The bake: from code, else `[strategy] bake`, else [`DEFAULT_BAKE`]; zero with `no_gates`.
    ///
    /// A zero bake of a gated deployment is refused: every step would pass at once without one judged
    /// period, which is no gate at all. A deliberately ungated deployment says so with `no_gates`.
    pub fn bake(&self, file: &StrategySection) -> Result<Duration, Error> {
        if self.no_gates {
            return Ok(Duration::ZERO);
        }
        let bake = match self.bake {
            Some(bake) => bake,
            None => file_duration(&file.bake, "[strategy] bake")?.unwrap_or(DEFAULT_BAKE),
        };
        if bake.is_zero() {
            let what = named(
                self.bake.is_some(),
                Input::Bake,
                "albflip.toml [strategy] bake",
            );
            return Err(zero_bake(what.lit(" 0s")));
        }
        Ok(bake)
    }

    /// The spec of a deployment to `target` (`albflip deploy`).
    pub fn deploy_spec(
        &self,
        target: Color,
        strategy_file: &StrategySection,
        gates_file: &GatesSection,
    ) -> Result<DeploySpec, Error> {
        let strategy = self.strategy(strategy_file)?;
        let bake = self.bake(strategy_file)?;
        let gating = self.gating(gates_file, bake)?;
        let plan = Plan::new(&strategy, target, bake);
        check_record_fits(&plan, self.no_gates)?;
        Ok(self.spec(plan, strategy.to_string(), gating))
    }

    /// The spec of [`Engine::promote`](crate::engine::Engine::promote): the step to 100 % with a final
    /// bake (the engine takes the color from the canary's record).
    pub fn promote_spec(
        &self,
        strategy_file: &StrategySection,
        gates_file: &GatesSection,
    ) -> Result<DeploySpec, Error> {
        let bake = self.bake(strategy_file)?;
        let gating = self.gating(gates_file, bake)?;
        let plan = Plan::promotion(Color::Green, bake);
        Ok(DeploySpec {
            force: false,
            adopt_drift: false,
            ..self.spec(plan, "promote".into(), gating)
        })
    }

    /// The spec of one gated shift ([`Engine::shift`](crate::engine::Engine::shift)): `percent` to
    /// `target`, baked for `bake` under the gates.
    pub fn shift_spec(
        &self,
        target: Color,
        percent: Percent,
        bake: Duration,
        gates_file: &GatesSection,
    ) -> Result<DeploySpec, Error> {
        if bake.is_zero() {
            return Err(zero_bake(text!({given Input::Bake}, " 0s")));
        }
        let gating = self.gating(gates_file, bake)?;
        let plan = Plan {
            target,
            steps: vec![Step { percent, bake }],
            pause_after: None,
            pauses: Vec::new(),
        };
        Ok(DeploySpec {
            adopt_drift: false,
            ..self.spec(plan, format!("shift to {percent}"), gating)
        })
    }

    fn spec(&self, plan: Plan, strategy: String, gating: Gating) -> DeploySpec {
        let min_healthy_hosts = gating.gates.min_healthy_hosts.max(1);
        DeploySpec {
            plan,
            strategy,
            policy: gating.policy,
            gates: gating.gates,
            window: gating.window,
            force: self.force,
            adopt_drift: self.adopt_drift,
            ungated: self.no_gates,
            take_over: self.take_over,
            // One setting for both: the gate's HealthyHostCount floor is also the pre-flight's.
            min_healthy_hosts,
            lifecycle: super::lifecycle::Lifecycle::default(),
        }
    }

    fn gating(&self, file: &GatesSection, bake: Duration) -> Result<Gating, Error> {
        let gates = self.thresholds(file)?;
        let policy = self.policy(file, bake)?;
        let window = self.window(file)?;
        Ok(Gating {
            gates,
            policy,
            window,
        })
    }

    fn thresholds(&self, file: &GatesSection) -> Result<GateThresholds, Error> {
        let d = GateThresholds::default();
        let latency_statistic = match (self.latency_statistic, &file.latency_statistic) {
            (Some(s), _) => s,
            (None, Some(text)) => {
                text.parse()
                    .map_err(|e: crate::plan::gates::InvalidStatistic| {
                        Error::invalid_text(
                            "albflip.toml [gates] latency-statistic",
                            e.to_string(),
                            "Use p99, p95, p99.9, Average or Maximum",
                        )
                    })?
            }
            (None, None) => d.latency_statistic,
        };
        let max_error_rate = self.rate(
            self.max_error_rate,
            file.max_error_rate,
            (Input::MaxErrorRate, "max-error-rate"),
            d.max_error_rate,
        )?;
        let max_error_rate_increase = self.rate(
            self.max_error_rate_increase,
            file.max_error_rate_increase,
            (Input::MaxErrorRateIncrease, "max-error-rate-increase"),
            d.max_error_rate_increase,
        )?;
        let max_latency_increase = self.ratio(
            self.max_latency_increase,
            file.max_latency_increase,
            (Input::MaxLatencyIncrease, "max-latency-increase"),
            d.max_latency_increase,
        )?;
        let file_latency = file_duration(&file.max_latency, "[gates] max-latency")?;
        let alarms = self
            .alarms
            .clone()
            .or(file.alarms.clone())
            .unwrap_or_default();
        Ok(GateThresholds {
            max_error_rate,
            min_requests: self
                .min_requests
                .or(file.min_requests)
                .unwrap_or(d.min_requests),
            latency_statistic,
            max_latency: self.max_latency.or(file_latency).unwrap_or(d.max_latency),
            min_healthy_hosts: self
                .min_healthy_hosts
                .or(file.min_healthy_hosts)
                .unwrap_or(d.min_healthy_hosts),
            max_unhealthy_hosts: self
                .max_unhealthy_hosts
                .or(file.max_unhealthy_hosts)
                .unwrap_or(d.max_unhealthy_hosts),
            max_error_rate_increase,
            max_latency_increase,
            alarms: alarms
                .into_iter()
                .filter(|a| !a.trim().is_empty())
                .collect(),
            judge: self.judge_kind(file)?,
            confidence: self.confidence(file)?,
        })
    }

    /// The judge: from code, else `[gates] judge`, else sequential.
    fn judge_kind(&self, file: &GatesSection) -> Result<JudgeKind, Error> {
        match (self.judge, &file.judge) {
            (Some(kind), _) => Ok(kind),
            (None, Some(text)) => text.parse().map_err(|e: InvalidJudge| {
                Error::invalid_text(
                    "albflip.toml [gates] judge",
                    e.to_string(),
                    "Use sequential or threshold",
                )
            }),
            (None, None) => Ok(JudgeKind::default()),
        }
    }

    /// The confidence in percent, checked to be above 0 and below 100.
    fn confidence(&self, file: &GatesSection) -> Result<f64, Error> {
        let Some(c) = self.confidence.or(file.confidence) else {
            return Ok(DEFAULT_CONFIDENCE);
        };
        if c.is_finite() && c > 0.0 && c < 100.0 {
            return Ok(c);
        }
        Err(Error::invalid(
            Input::Confidence,
            named(
                self.confidence.is_some(),
                Input::Confidence,
                "albflip.toml [gates] confidence",
            ),
            format!("{c} is not a percentage above 0 and below 100"),
            "Give a confidence in percent, e.g. 99.8",
        ))
    }

    /// A rate given in percent, as a fraction, checked to be within 0..=100 %.
    fn rate(
        &self,
        code: Option<f64>,
        file: Option<f64>,
        (input, key): (Input, &str),
        default: f64,
    ) -> Result<f64, Error> {
        let fraction = code.or(file).map(|p| p / 100.0).unwrap_or(default);
        if (0.0..=1.0).contains(&fraction) {
            return Ok(fraction);
        }
        Err(Error::invalid(
            input,
            named(code.is_some(), input, &format!("[gates] {key}")),
            format!("{} is outside 0..=100 percent", fraction * 100.0),
            "Give a percentage from 0 to 100",
        ))
    }

    /// A ratio of the stable color's value, checked to be a number above 1.
    fn ratio(
        &self,
        code: Option<f64>,
        file: Option<f64>,
        (input, key): (Input, &str),
        default: Option<f64>,
    ) -> Result<Option<f64>, Error> {
        let Some(ratio) = code.or(file) else {
            return Ok(default);
        };
        if ratio.is_finite() && ratio > 1.0 {
            return Ok(Some(ratio));
        }
        Err(Error::invalid(
            input,
            named(
                code.is_some(),
                input,
                &format!("albflip.toml [gates] {key}"),
            ),
            format!("{ratio} is not a ratio above 1"),
            "Give a multiple of the stable color's value above 1, e.g. 1.5",
        ))
    }

    fn policy(&self, file: &GatesSection, bake: Duration) -> Result<BakePolicy, Error> {
        let on_no_data = match (self.on_no_data, &file.on_no_data) {
            (Some(policy), _) => policy,
            (None, Some(text)) => text.parse::<NoDataPolicy>().map_err(|e| {
                Error::invalid_text(
                    "albflip.toml [gates] on-no-data",
                    e,
                    "Use wait, fail or pass",
                )
            })?,
            (None, None) => NoDataPolicy::Wait,
        };
        let file_poll = file_duration(&file.poll_interval, "[gates] poll-interval")?;
        let poll_interval = self
            .poll_interval
            .or(file_poll)
            .unwrap_or(DEFAULT_POLL_INTERVAL);
        if poll_interval.is_zero() {
            let what = named(
                self.poll_interval.is_some(),
                Input::PollInterval,
                "albflip.toml [gates] poll-interval",
            );
            return Err(Error::invalid(
                Input::PollInterval,
                what,
                "must be above zero",
                "Use e.g. 30s",
            ));
        }
        let file_extension = file_duration(&file.max_bake_extension, "[gates] max-bake-extension")?;
        let failure_threshold = self
            .failure_threshold
            .or(file.failure_threshold)
            .unwrap_or(1);
        if failure_threshold == 0 {
            let what = named(
                self.failure_threshold.is_some(),
                Input::FailureThreshold,
                "albflip.toml [gates] failure-threshold",
            );
            return Err(Error::invalid(
                Input::FailureThreshold,
                what.lit(" 0"),
                "a step fails after this many consecutive failing periods, so it must be at least 1",
                "Use 1 (the default: the first failing period rolls back) or more",
            ));
        }
        Ok(BakePolicy {
            bake,
            poll_interval,
            failure_threshold,
            on_no_data,
            max_bake_extension: self.max_bake_extension.or(file_extension).unwrap_or(bake),
        })
    }

    fn window(&self, file: &GatesSection) -> Result<MetricWindow, Error> {
        let d = MetricWindow::default();
        let window = MetricWindow {
            window: self
                .metric_window
                .or(file_duration(&file.metric_window, "[gates] metric-window")?)
                .unwrap_or(d.window),
            lag: self
                .metric_lag
                .or(file_duration(&file.metric_lag, "[gates] metric-lag")?)
                .unwrap_or(d.lag),
            period: self
                .metric_period
                .or(file_duration(&file.metric_period, "[gates] metric-period")?)
                .unwrap_or(d.period),
        };
        if window.period.is_zero() || window.window < window.period {
            return Err(Error::invalid(
                Input::MetricWindow,
                text!({given Input::MetricWindow}, "/", {given Input::MetricPeriod}),
                "the window must hold at least one period above zero",
                text!("Use e.g. ", {input Input::MetricWindow}, " 5m ", {input Input::MetricPeriod}, " 60s"),
            ));
        }
        Ok(window)
    }
}

/// How to name a value: as the setting when it was set in code, else by its file key.
/// The deployment record of `plan` fits AWS's tags (its steps are its one long value); checked
/// before any write so that a long `--steps` is refused as input, not found out after traffic moved.
fn check_record_fits(plan: &Plan, ungated: bool) -> Result<(), Error> {
    let record = crate::state::DeploymentRecord {
        id: crate::state::new_id(std::time::SystemTime::UNIX_EPOCH),
        target: plan.target,
        // The longest name a deployment records.
        strategy: "immediate".into(),
        steps: plan.steps.iter().map(|s| s.percent.get()).collect(),
        step: 0,
        phase: crate::state::Phase::AwaitingPromotion,
        started_by: String::new(),
        updated: String::new(),
        gated: !ungated,
    };
    crate::state::check_record_fits(&record)
}

fn named(in_code: bool, input: Input, key: &str) -> Text {
    if in_code {
        text!({given input})
    } else {
        text!(key)
    }
}

/// A duration from the file, e.g. `"30s"`; `key` names it (`[gates] poll-interval`).
fn file_duration(value: &Option<String>, key: &str) -> Result<Option<Duration>, Error> {
    value
        .as_deref()
        .map(|v| {
            humantime::parse_duration(v).map_err(|e| {
                Error::invalid_text(
                    format!("albflip.toml {key} = {v:?}"),
                    e.to_string(),
                    "Use a duration such as \"30s\" or \"3m\"",
                )
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sections(strategy: &str, gates: &str) -> (StrategySection, GatesSection) {
        let text = format!("[strategy]\n{strategy}\n[gates]\n{gates}\n");
        let file = crate::config::FileConfig::parse(&text, "albflip.toml".as_ref()).unwrap();
        (file.strategy, file.gates)
    }

    #[test]
    fn defaults_live_here() {
        let spec = DeployOptions::default()
            .deploy_spec(Color::Blue, &Default::default(), &Default::default())
            .unwrap();
        assert_eq!(spec.strategy, "gradual 10→25→50→75→100");
        assert_eq!(spec.plan.target, Color::Blue);
        assert_eq!(spec.policy, BakePolicy::default());
        assert_eq!(spec.gates, GateThresholds::default());
        assert_eq!(spec.window, MetricWindow::default());
    }

    #[test]
    fn code_beats_the_file_which_beats_the_defaults() {
        let (s, g) = sections(
            "strategy = \"canary\"\nbake = \"5m\"",
            "poll-interval = \"10s\"\nmin-requests = 7",
        );
        let o = DeployOptions {
            bake: Some(Duration::from_secs(1)),
            min_requests: Some(3),
            ..DeployOptions::default()
        };
        let spec = o.deploy_spec(Color::Green, &s, &g).unwrap();
        assert_eq!(spec.strategy, "canary 10%");
        assert_eq!(spec.plan.pause_after, Some(1));
        assert_eq!(spec.policy.bake, Duration::from_secs(1));
        assert_eq!(spec.policy.max_bake_extension, Duration::from_secs(1));
        assert_eq!(spec.policy.poll_interval, Duration::from_secs(10));
        assert_eq!(spec.gates.min_requests, 3);
    }

    #[test]
    fn the_judge_and_its_confidence_come_from_code_else_the_file_else_sequential_at_99_8() {
        let spec = DeployOptions::default()
            .deploy_spec(Color::Green, &Default::default(), &Default::default())
            .unwrap();
        assert_eq!(spec.gates.judge, JudgeKind::Sequential);
        assert_eq!(spec.gates.confidence, 99.8);
        let (s, g) = sections("", "judge = \"threshold\"\nconfidence = 99");
        let spec = DeployOptions::default()
            .deploy_spec(Color::Green, &s, &g)
            .unwrap();
        assert_eq!(
            (spec.gates.judge, spec.gates.confidence),
            (JudgeKind::Threshold, 99.0)
        );
        let o = DeployOptions {
            judge: Some(JudgeKind::Sequential),
            confidence: Some(95.0),
            ..DeployOptions::default()
        };
        let spec = o.deploy_spec(Color::Green, &s, &g).unwrap();
        assert_eq!(
            (spec.gates.judge, spec.gates.confidence),
            (JudgeKind::Sequential, 95.0)
        );
        let (s, g) = sections("", "judge = \"kayenta\"");
        let err = DeployOptions::default()
            .deploy_spec(Color::Green, &s, &g)
            .unwrap_err();
        assert!(
            err.to_string().starts_with("albflip.toml [gates] judge"),
            "{err}"
        );
        let (s, g) = sections("", "confidence = 100");
        let err = DeployOptions::default()
            .deploy_spec(Color::Green, &s, &g)
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("albflip.toml [gates] confidence: 100 is not a percentage"),
            "{err}"
        );
    }

    #[test]
    fn the_latency_increase_is_a_ratio_above_1_from_code_else_the_file() {
        let (s, g) = sections("", "max-latency-increase = 1.5");
        let spec = DeployOptions::default()
            .deploy_spec(Color::Green, &s, &g)
            .unwrap();
        assert_eq!(spec.gates.max_latency_increase, Some(1.5));
        let o = DeployOptions {
            max_latency_increase: Some(3.0),
            ..DeployOptions::default()
        };
        let spec = o.deploy_spec(Color::Green, &s, &g).unwrap();
        assert_eq!(spec.gates.max_latency_increase, Some(3.0));
        let (s, g) = sections("", "max-latency-increase = 0.9");
        let err = DeployOptions::default()
            .deploy_spec(Color::Green, &s, &g)
            .unwrap_err();
        assert!(
            err.to_string().starts_with(
                "albflip.toml [gates] max-latency-increase: 0.9 is not a ratio above 1"
            ),
            "{err}"
        );
        let o = DeployOptions {
            max_latency_increase: Some(1.0),
            ..DeployOptions::default()
        };
        let err = o
            .deploy_spec(Color::Green, &Default::default(), &Default::default())
            .unwrap_err();
        assert_eq!(err.input(), Some(Input::MaxLatencyIncrease), "{err}");
    }

    #[test]
    fn shift_and_promote_specs_have_one_step() {
        let o = DeployOptions::default();
        let bake = Duration::from_secs(9);
        let shift = o
            .shift_spec(
                Color::Blue,
                Percent::new(40).unwrap(),
                bake,
                &Default::default(),
            )
            .unwrap();
        assert_eq!(shift.strategy, "shift to 40%");
        assert_eq!(
            shift.plan.steps,
            vec![Step {
                percent: Percent::new(40).unwrap(),
                bake
            }]
        );
        let promote = o
            .promote_spec(&Default::default(), &Default::default())
            .unwrap();
        assert_eq!(promote.strategy, "promote");
        assert_eq!(promote.plan.steps[0].percent, Percent::FULL);
    }
}
