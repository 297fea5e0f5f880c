//! From flags, `ALBFLIP_*` and `albflip.toml` `[strategy]`/`[gates]` to the engine's `DeploySpec`.

use std::time::Duration;

use albflip::config::{GatesSection, StrategySection};
use albflip::engine::{DeploySpec, MetricWindow};
use albflip::model::{Color, Percent};
use albflip::plan::{
    BakePolicy, GateThresholds, LatencyStatistic, NoDataPolicy, Plan, Step, Steps, Strategy,
};
use albflip::Error;

use crate::args::{BakeArgs, DeployArgs, GateArgs, StrategyArgs, StrategyName};

/// The default bake.
const DEFAULT_BAKE: Duration = Duration::from_secs(180);

fn invalid(what: &str, why: impl Into<String>, fix: &str) -> Error {
    Error::InvalidInput {
        what: what.into(),
        why: why.into(),
        fix: fix.into(),
    }
}

fn file_duration(value: &Option<String>, key: &str) -> Result<Option<Duration>, Error> {
    value
        .as_deref()
        .map(|v| {
            humantime::parse_duration(v).map_err(|e| {
                invalid(
                    &format!("albflip.toml {key} = {v:?}"),
                    e.to_string(),
                    "Use a duration such as \"30s\" or \"3m\"",
                )
            })
        })
        .transpose()
}

/// The bake: flag/env, else `[strategy] bake`, else 3 minutes.
pub fn bake(args: &BakeArgs, file: &StrategySection) -> Result<Duration, Error> {
    match args.duration() {
        Some(d) => Ok(d),
        None => Ok(file_duration(&file.bake, "[strategy] bake")?.unwrap_or(DEFAULT_BAKE)),
    }
}

/// Gates, the bake policy and the metrics window.
pub fn gates(
    args: &GateArgs,
    file: &GatesSection,
    bake: Duration,
) -> Result<(GateThresholds, BakePolicy, MetricWindow), Error> {
    let d = GateThresholds::default();
    let statistic = match args
        .latency_statistic
        .as_ref()
        .or(file.latency_statistic.as_ref())
    {
        Some(s) => s.parse::<LatencyStatistic>().map_err(|e| {
            invalid(
                "--latency-statistic",
                e.to_string(),
                "Use p99, p95, p99.9, Average or Maximum",
            )
        })?,
        None => d.latency_statistic,
    };
    let max_error_rate = args
        .max_error_rate
        .or(file.max_error_rate)
        .map(|p| p / 100.0)
        .unwrap_or(d.max_error_rate);
    let increase = args
        .max_error_rate_increase
        .or(file.max_error_rate_increase)
        .map(|p| p / 100.0)
        .unwrap_or(d.max_error_rate_increase);
    for (name, v) in [
        ("max-error-rate", max_error_rate),
        ("max-error-rate-increase", increase),
    ] {
        if !(0.0..=1.0).contains(&v) {
            return Err(invalid(
                &format!("[gates] {name}"),
                format!("{} is outside 0..=100 percent", v * 100.0),
                "Give a percentage from 0 to 100",
            ));
        }
    }
    let alarms = if args.alarms.is_empty() {
        file.alarms.clone().unwrap_or_default()
    } else {
        args.alarms.clone()
    };
    let thresholds = GateThresholds {
        max_error_rate,
        min_requests: args
            .min_requests
            .or(file.min_requests)
            .unwrap_or(d.min_requests),
        latency_statistic: statistic,
        max_latency: args
            .max_latency
            .or(file_duration(&file.max_latency, "[gates] max-latency")?)
            .unwrap_or(d.max_latency),
        min_healthy_hosts: args
            .min_healthy_hosts
            .or(file.min_healthy_hosts)
            .unwrap_or(d.min_healthy_hosts),
        max_unhealthy_hosts: args
            .max_unhealthy_hosts
            .or(file.max_unhealthy_hosts)
            .unwrap_or(d.max_unhealthy_hosts),
        max_error_rate_increase: increase,
        alarms: alarms
            .into_iter()
            .filter(|a| !a.trim().is_empty())
            .collect(),
    };
    let on_no_data = match args.on_no_data.as_ref().or(file.on_no_data.as_ref()) {
        Some(v) => v
            .parse::<NoDataPolicy>()
            .map_err(|e| invalid("--on-no-data", e, "Use wait, fail or pass"))?,
        None => NoDataPolicy::Wait,
    };
    let poll_interval = args
        .poll_interval
        .or(file_duration(&file.poll_interval, "[gates] poll-interval")?)
        .unwrap_or(Duration::from_secs(30));
    if poll_interval.is_zero() {
        return Err(invalid(
            "--poll-interval",
            "must be above zero",
            "Use e.g. 30s",
        ));
    }
    let policy = BakePolicy {
        bake,
        poll_interval,
        failure_threshold: args
            .failure_threshold
            .or(file.failure_threshold)
            .unwrap_or(1)
            .max(1),
        on_no_data,
        max_bake_extension: args
            .max_bake_extension
            .or(file_duration(
                &file.max_bake_extension,
                "[gates] max-bake-extension",
            )?)
            .unwrap_or(bake),
    };
    let d = MetricWindow::default();
    let window = MetricWindow {
        window: args
            .metric_window
            .or(file_duration(&file.metric_window, "[gates] metric-window")?)
            .unwrap_or(d.window),
        lag: args
            .metric_lag
            .or(file_duration(&file.metric_lag, "[gates] metric-lag")?)
            .unwrap_or(d.lag),
        period: args
            .metric_period
            .or(file_duration(&file.metric_period, "[gates] metric-period")?)
            .unwrap_or(d.period),
    };
    if window.period.is_zero() || window.window < window.period {
        return Err(invalid(
            "--metric-window/--metric-period",
            "the window must hold at least one period above zero",
            "Use e.g. --metric-window 5m --metric-period 60s",
        ));
    }
    Ok((thresholds, policy, window))
}

/// The strategy of `deploy`/`plan`.
pub fn strategy(args: &StrategyArgs, file: &StrategySection) -> Result<Strategy, Error> {
    let name = match (args.strategy, file.strategy.as_deref()) {
        (Some(s), _) => s,
        (None, Some("gradual")) | (None, None) => StrategyName::Gradual,
        (None, Some("immediate")) => StrategyName::Immediate,
        (None, Some("canary")) => StrategyName::Canary,
        (None, Some(other)) => {
            return Err(invalid(
                &format!("albflip.toml [strategy] strategy = {other:?}"),
                "unknown strategy",
                "Use gradual, immediate or canary",
            ))
        }
    };
    Ok(match name {
        StrategyName::Gradual => {
            let steps = match (&args.steps, &file.steps) {
                (Some(list), _) => Steps::parse(list).map_err(|e| invalid(&format!("--steps {list}"), e.to_string(), "Give strictly increasing percentages from 1 to 100 ending at 100, e.g. 5,20,50,100"))?,
                (None, Some(list)) => Steps::new(list).map_err(|e| invalid("albflip.toml [strategy] steps", e.to_string(), "Give strictly increasing percentages from 1 to 100 ending at 100"))?,
                (None, None) => Steps::gradual(),
            };
            Strategy::Gradual { steps }
        }
        StrategyName::Immediate => Strategy::Immediate,
        StrategyName::Canary => {
            let pct = match (args.canary_percentage, file.canary_percentage) {
                (Some(p), _) => p,
                (None, Some(p)) => Percent::new(p).ok_or_else(|| {
                    invalid(
                        "albflip.toml [strategy] canary-percentage",
                        format!("{p} is above 100"),
                        "Give 1..=99",
                    )
                })?,
                (None, None) => Percent::new(10).unwrap_or(Percent::FULL),
            };
            if pct.get() == 0 || pct.get() == 100 {
                return Err(invalid(
                    "--canary-percentage",
                    format!("{pct} is not a canary"),
                    "Give 1..=99",
                ));
            }
            Strategy::Canary {
                percentage: pct,
                auto_promote: args.auto_promote || file.auto_promote.unwrap_or(false),
            }
        }
    })
}

/// The spec of `deploy`/`plan`.
pub fn deploy(
    args: &DeployArgs,
    strategy_file: &StrategySection,
    gates_file: &GatesSection,
) -> Result<DeploySpec, Error> {
    if args.strategy.steps.is_some()
        && !matches!(args.strategy.strategy, None | Some(StrategyName::Gradual))
    {
        return Err(invalid(
            "--steps",
            "only applies to --strategy gradual",
            "Drop --steps or use --strategy gradual",
        ));
    }
    let strategy = strategy(&args.strategy, strategy_file)?;
    let bake = bake(&args.bake, strategy_file)?;
    let (gates, policy, window) = gates(&args.gates, gates_file, bake)?;
    Ok(DeploySpec {
        // With --resume the target and steps come from the recorded deployment and replace this plan.
        plan: Plan::new(&strategy, args.target.unwrap_or(Color::Green), bake),
        strategy: strategy.to_string(),
        policy,
        gates,
        window,
        force: args.force,
        adopt_drift: args.adopt_drift,
        min_healthy_hosts: 1,
        lifecycle: Default::default(),
    })
}

/// The spec of a gated `shift`: one step.
pub fn shift(
    target: Color,
    percent: Percent,
    bake: Duration,
    args: &GateArgs,
    gates_file: &GatesSection,
    force: bool,
) -> Result<DeploySpec, Error> {
    let (gates, policy, window) = gates(args, gates_file, bake)?;
    Ok(DeploySpec {
        plan: Plan {
            target,
            steps: vec![Step { percent, bake }],
            pause_after: None,
        },
        strategy: format!("shift to {percent}"),
        policy,
        gates,
        window,
        force,
        adopt_drift: false,
        min_healthy_hosts: 1,
        lifecycle: Default::default(),
    })
}
