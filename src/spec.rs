//! From flags (with their `ALBFLIP_*` fallbacks) to the library's `DeployOptions`; the library lays
//! them over `albflip.toml` `[strategy]`/`[gates]` and its defaults to build the `DeploySpec`.

use std::time::Duration;

use albflip::config::{GatesSection, StrategySection};
use albflip::engine::{DeployOptions, DeploySpec, StrategyKind};
use albflip::model::{Color, Percent};
use albflip::plan::Steps;
use albflip::Error;

use crate::args::{BakeArgs, DeployArgs, GateArgs, PromoteArgs, StrategyArgs, StrategyName};

fn invalid(what: &str, why: impl Into<String>, fix: &str) -> Error {
    Error::InvalidInput {
        what: what.into(),
        why: why.into(),
        fix: fix.into(),
    }
}

/// The options the flags set: the strategy's (with the file's `[strategy]`, when the command has
/// them), the bake's and the gates'.
pub fn options(
    strategy: Option<(&StrategyArgs, &StrategySection)>,
    bake: &BakeArgs,
    gates: &GateArgs,
) -> Result<DeployOptions, Error> {
    let mut o = DeployOptions::default();
    if let Some((args, file)) = strategy {
        strategy_options(&mut o, args, file)?;
    }
    o.bake = bake.duration();
    o.no_gates = bake.no_gates;
    zero_minutes(bake)?;
    gate_options(&mut o, gates)?;
    Ok(o)
}

/// `--validation-minutes 0` refused by its own name (the library names a zero bake by `--bake`).
pub fn zero_minutes(bake: &BakeArgs) -> Result<(), Error> {
    if bake.validation_minutes == Some(0) && !bake.no_gates {
        return Err(invalid(
            "--validation-minutes 0",
            "a zero bake passes every step at once without a single judged period: the gates would be off",
            "Give a bake of at least one metric period (e.g. --validation-minutes 3), or --no-gates for a deliberately ungated deployment",
        ));
    }
    Ok(())
}

fn strategy_options(
    o: &mut DeployOptions,
    args: &StrategyArgs,
    file: &StrategySection,
) -> Result<(), Error> {
    o.strategy = args.strategy.map(|s| match s {
        StrategyName::Gradual => StrategyKind::Gradual,
        StrategyName::Immediate => StrategyKind::Immediate,
        StrategyName::Canary => StrategyKind::Canary,
    });
    // `--steps` counts only for a gradual deployment (the file may name another strategy).
    let gradual = o.strategy_kind(file)? == StrategyKind::Gradual;
    o.steps = match &args.steps {
        Some(list) if gradual => Some(Steps::parse(list).map_err(|e| invalid(&format!("--steps {list}"), e.to_string(), "Give strictly increasing percentages from 1 to 100 ending at 100, e.g. 5,20,50,100"))?),
        _ => None,
    };
    o.canary_percentage = args.canary_percentage;
    o.auto_promote = args.auto_promote.then_some(true);
    Ok(())
}

fn gate_options(o: &mut DeployOptions, args: &GateArgs) -> Result<(), Error> {
    o.latency_statistic = match &args.latency_statistic {
        Some(s) => Some(
            s.parse()
                .map_err(|e: albflip::plan::gates::InvalidStatistic| {
                    invalid(
                        "--latency-statistic",
                        e.to_string(),
                        "Use p99, p95, p99.9, Average or Maximum",
                    )
                })?,
        ),
        None => None,
    };
    o.on_no_data = match &args.on_no_data {
        Some(v) => Some(
            v.parse()
                .map_err(|e: String| invalid("--on-no-data", e, "Use wait, fail or pass"))?,
        ),
        None => None,
    };
    o.max_error_rate = args.max_error_rate;
    o.max_error_rate_increase = args.max_error_rate_increase;
    o.max_latency_increase = args.max_latency_increase;
    o.min_requests = args.min_requests;
    o.max_latency = args.max_latency;
    o.min_healthy_hosts = args.min_healthy_hosts;
    o.max_unhealthy_hosts = args.max_unhealthy_hosts;
    o.alarms = (!args.alarms.is_empty()).then(|| args.alarms.clone());
    o.max_bake_extension = args.max_bake_extension;
    o.poll_interval = args.poll_interval;
    o.metric_window = args.metric_window;
    o.metric_lag = args.metric_lag;
    o.metric_period = args.metric_period;
    o.failure_threshold = args.failure_threshold;
    Ok(())
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
    let mut o = options(
        Some((&args.strategy, strategy_file)),
        &args.bake,
        &args.gates,
    )?;
    o.force = args.force;
    o.adopt_drift = args.adopt_drift;
    // With --resume the target and steps come from the recorded deployment and replace this plan.
    o.deploy_spec(
        args.target.unwrap_or(Color::Green),
        strategy_file,
        gates_file,
    )
}

/// The spec of `promote`: the step to 100 % (the engine takes the color from the canary's record).
pub fn promote(
    args: &PromoteArgs,
    strategy_file: &StrategySection,
    gates_file: &GatesSection,
) -> Result<DeploySpec, Error> {
    options(None, &args.bake, &args.gates)?.promote_spec(strategy_file, gates_file)
}

/// The spec of a gated `shift`: one step.
pub fn shift(
    target: Color,
    percent: Percent,
    bake: Duration,
    args: &GateArgs,
    gates_file: &GatesSection,
    force: bool,
    take_over: bool,
) -> Result<DeploySpec, Error> {
    let mut o = DeployOptions::default();
    gate_options(&mut o, args)?;
    o.force = force;
    o.take_over = take_over;
    o.shift_spec(target, percent, bake, gates_file)
}
