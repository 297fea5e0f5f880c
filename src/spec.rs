//! From flags (with their `ALBFLIP_*` fallbacks) to the library's `DeployOptions`; the library lays
//! them over `albflip.toml` `[strategy]`/`[gates]` and its defaults to build the `DeploySpec`.

use std::time::Duration;

use albflip::config::{GatesSection, StrategySection};
use albflip::engine::{DeployOptions, DeploySpec, StrategyKind};
use albflip::model::{Color, Percent};
use albflip::plan::{JudgeKind, Steps};
use albflip::Error;

use crate::args::{
    BakeArgs, DeployArgs, GateArgs, PromoteArgs, StrategyArgs, StrategyName, WatchArgs,
};

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
    if let Some(list) = args
        .steps
        .as_ref()
        .filter(|l| l.split(',').any(|p| p.trim().is_empty()))
    {
        return Err(invalid(
            &format!("--steps {list}"),
            "an empty step (two commas in a row, or a comma at an end) is not a percentage",
            "Give strictly increasing percentages from 1 to 100 ending at 100, separated by single commas, e.g. 5,20,50,100",
        ));
    }
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
    o.judge = match &args.judge {
        Some(v) => Some(v.parse().map_err(|e: albflip::plan::judge::InvalidJudge| {
            invalid("--judge", e.to_string(), "Use sequential or threshold")
        })?),
        None => None,
    };
    o.confidence = args.confidence;
    Ok(())
}

/// The settings that do not apply to the judge the spec uses, each as a warning: pipelines pass them
/// already, so they keep working and say so instead of failing.
pub fn judge_warnings(spec: &DeploySpec, args: &GateArgs, file: &GatesSection) -> Vec<String> {
    if spec.gates.judge != JudgeKind::Sequential {
        return Vec::new();
    }
    let mut out = Vec::new();
    if args.min_requests.is_some() || file.min_requests.is_some() {
        out.push("--min-requests (ALBFLIP_MIN_REQUESTS, [gates] min-requests) does not apply under --judge sequential: it judges from the first request, at the confidence of --confidence; use --judge threshold for the old rule".to_string());
    }
    if args.failure_threshold.is_some() || file.failure_threshold.is_some() {
        out.push("--failure-threshold (ALBFLIP_FAILURE_THRESHOLD, [gates] failure-threshold) applies under --judge sequential only to the latency limit, host and alarm gates: the sequential judge fails a step the moment its evidence crosses".to_string());
    }
    out
}

fn warn(spec: &DeploySpec, args: &GateArgs, file: &GatesSection) {
    for w in judge_warnings(spec, args, file) {
        eprintln!("albflip: warning: {w}");
    }
}

/// Steps given (flag or `ALBFLIP_STEPS`) with a strategy that is not gradual, from wherever it came
/// (flag, `ALBFLIP_STRATEGY` or `albflip.toml`), are refused: named by flag here, `main` renames both
/// after their real sources.
fn steps_need_gradual(args: &StrategyArgs, file: &StrategySection) -> Result<(), Error> {
    if args.steps.is_none() {
        return Ok(());
    }
    let kind = match args.strategy {
        Some(StrategyName::Gradual) => return Ok(()),
        Some(StrategyName::Immediate) => "immediate",
        Some(StrategyName::Canary) => "canary",
        None => match file.strategy.as_deref().map(str::parse::<StrategyKind>) {
            None | Some(Ok(StrategyKind::Gradual)) => return Ok(()),
            Some(Ok(StrategyKind::Immediate)) => "immediate",
            Some(Ok(StrategyKind::Canary)) => "canary",
            // An unknown name is reported by the strategy's own check.
            Some(Err(_)) | Some(Ok(_)) => return Ok(()),
        },
    };
    Err(invalid(
        "--steps/--strategy",
        format!("steps only apply to a gradual deployment, and the strategy is {kind}"),
        "Drop the steps, or make the strategy gradual",
    ))
}

/// The spec of `deploy`/`plan`.
pub fn deploy(
    args: &DeployArgs,
    strategy_file: &StrategySection,
    gates_file: &GatesSection,
) -> Result<DeploySpec, Error> {
    steps_need_gradual(&args.strategy, strategy_file)?;
    let mut o = options(
        Some((&args.strategy, strategy_file)),
        &args.bake,
        &args.gates,
    )?;
    o.force = args.force;
    o.adopt_drift = args.adopt_drift;
    // With --resume the target and steps come from the recorded deployment and replace this plan.
    let spec = o.deploy_spec(
        args.target.unwrap_or(Color::Green),
        strategy_file,
        gates_file,
    )?;
    warn(&spec, &args.gates, gates_file);
    Ok(spec)
}

/// The spec of `promote`: the step to 100 % (the engine takes the color from the canary's record).
pub fn promote(
    args: &PromoteArgs,
    strategy_file: &StrategySection,
    gates_file: &GatesSection,
) -> Result<DeploySpec, Error> {
    let spec = options(None, &args.bake, &args.gates)?.promote_spec(strategy_file, gates_file)?;
    warn(&spec, &args.gates, gates_file);
    Ok(spec)
}

/// The spec `watch` judges a watched step with: the gates and the bake (the color and steps come from
/// the record).
pub fn watch(
    args: &WatchArgs,
    strategy_file: &StrategySection,
    gates_file: &GatesSection,
) -> Result<DeploySpec, Error> {
    let mut o = DeployOptions::default();
    o.bake = args.bake;
    gate_options(&mut o, &args.gates)?;
    o.deploy_spec(Color::Green, strategy_file, gates_file)
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
    let spec = o.shift_spec(target, percent, bake, gates_file)?;
    warn(&spec, args, gates_file);
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    fn deploy_args(extra: &[&str]) -> DeployArgs {
        let mut argv = vec!["albflip", "deploy", "--target", "green"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Deploy(args) => args,
            other => panic!("not a deploy: {other:?}"),
        }
    }

    fn warnings(extra: &[&str], file: &GatesSection) -> Vec<String> {
        let args = deploy_args(extra);
        let spec = deploy(&args, &StrategySection::default(), file).unwrap();
        judge_warnings(&spec, &args.gates, file)
    }

    #[test]
    fn settings_the_sequential_judge_does_not_use_say_so_and_still_work() {
        let w = warnings(
            &["--min-requests", "10", "--failure-threshold", "2"],
            &GatesSection::default(),
        );
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("--min-requests"), "{w:?}");
        assert!(w[1].starts_with("--failure-threshold"), "{w:?}");
        let file = GatesSection {
            min_requests: Some(10),
            ..GatesSection::default()
        };
        assert_eq!(warnings(&[], &file).len(), 1);
        assert!(warnings(&[], &GatesSection::default()).is_empty());
        // Under the threshold judge they apply: no warning, and the values are taken.
        let argv = [
            "--judge",
            "threshold",
            "--min-requests",
            "10",
            "--failure-threshold",
            "2",
        ];
        assert!(warnings(&argv, &GatesSection::default()).is_empty());
        let spec = deploy(
            &deploy_args(&argv),
            &StrategySection::default(),
            &GatesSection::default(),
        )
        .unwrap();
        assert_eq!(
            (spec.gates.min_requests, spec.policy.failure_threshold),
            (10, 2)
        );
        assert_eq!(spec.gates.judge, JudgeKind::Threshold);
    }

    #[test]
    fn the_judge_and_the_confidence_come_from_flags_and_a_bad_one_names_the_flag() {
        let spec = deploy(
            &deploy_args(&["--confidence", "99"]),
            &StrategySection::default(),
            &GatesSection::default(),
        )
        .unwrap();
        assert_eq!(
            (spec.gates.judge, spec.gates.confidence),
            (JudgeKind::Sequential, 99.0)
        );
        let err = deploy(
            &deploy_args(&["--judge", "kayenta"]),
            &StrategySection::default(),
            &GatesSection::default(),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("--judge"), "{err}");
        let err = deploy(
            &deploy_args(&["--confidence", "100"]),
            &StrategySection::default(),
            &GatesSection::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("not a percentage above 0 and below 100"),
            "{err}"
        );
    }
}
