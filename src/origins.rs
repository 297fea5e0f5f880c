//! Naming an input the way the user gave it. Validation code names a value by its flag (`--steps`);
//! when the value really came from an `ALBFLIP_*` variable or from `albflip.toml`, the message must say
//! that instead, or the user looks for a flag they never typed.

use clap::parser::ValueSource;
use clap::{ArgMatches, Command};

/// Where each flag's value came from in this run.
#[derive(Clone)]
pub struct Origins {
    /// (long flag, env var, source) for every argument of the top-level and the used subcommand.
    args: Vec<(String, Option<String>, Option<ValueSource>)>,
}

/// The `albflip.toml` section of a flag's key (the key is the flag without `--`).
fn file_key(long: &str) -> Option<String> {
    let section = match long {
        "listener-arn" | "rule-arn" | "load-balancer" | "port" | "blue" | "green"
        | "environment" | "application" => "target",
        "region" | "profile" | "endpoint-url" => "aws",
        "strategy" | "steps" | "canary-percentage" | "auto-promote" | "bake" => "strategy",
        "lock-table" => return Some("albflip.toml [lock] table".into()),
        "lock-ttl" => return Some("albflip.toml [lock] ttl".into()),
        "max-error-rate"
        | "min-requests"
        | "latency-statistic"
        | "max-latency"
        | "min-healthy-hosts"
        | "max-unhealthy-hosts"
        | "max-error-rate-increase"
        | "max-latency-increase"
        | "judge"
        | "confidence"
        | "on-no-data"
        | "max-bake-extension"
        | "poll-interval"
        | "metric-window"
        | "metric-lag"
        | "metric-period"
        | "failure-threshold" => "gates",
        "alarm" => return Some("albflip.toml [gates] alarms".into()),
        "blue-asg" | "green-asg" | "match-capacity" | "ready-timeout" | "scale-down-delay" => {
            "autoscaling"
        }
        "ecs-cluster" => return Some("albflip.toml [ecs] cluster".into()),
        "blue-service" | "green-service" => "ecs",
        "hook" => return Some("albflip.toml [hooks] run".into()),
        "hook-timeout" => return Some("albflip.toml [hooks] timeout".into()),
        "test-listener-port" => return Some("albflip.toml [test-traffic] listener-port".into()),
        "test-listener-arn" => return Some("albflip.toml [test-traffic] listener-arn".into()),
        "test-header" => return Some("albflip.toml [test-traffic] header".into()),
        "smoke-url" | "smoke-count" | "smoke-timeout" => "test-traffic",
        _ => return None,
    };
    Some(format!("albflip.toml [{section}] {long}"))
}

impl Origins {
    /// Reads the sources from parsed matches.
    pub fn new(command: &Command, matches: &ArgMatches) -> Origins {
        let mut args = Vec::new();
        let mut collect = |cmd: &Command, m: &ArgMatches| {
            for arg in cmd.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                let id = arg.get_id().as_str();
                let source = m.try_contains_id(id).ok().and_then(|_| m.value_source(id));
                let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
                args.push((long.to_string(), env, source));
            }
        };
        if let Some((name, sub)) = matches.subcommand() {
            if let Some(sub_cmd) = command.find_subcommand(name) {
                collect(sub_cmd, sub);
            }
        }
        collect(command, matches);
        Origins { args }
    }

    /// How to name `--long` in a message: the flag, its environment variable, or its config key.
    pub fn name(&self, long: &str) -> String {
        let flag = long.trim_start_matches('-');
        let Some((_, env, source)) = self.args.iter().find(|(l, _, _)| l == flag) else {
            return long.to_string();
        };
        match source {
            Some(ValueSource::EnvVariable) => env.clone().unwrap_or_else(|| long.to_string()),
            Some(ValueSource::CommandLine) => long.to_string(),
            _ => file_key(flag).unwrap_or_else(|| long.to_string()),
        }
    }

    /// Where a setting's value came from: `flag --x`, `env ALBFLIP_X`, its `albflip.toml` key (when
    /// `in_file`) or `default`.
    pub fn source(&self, long: &str, in_file: bool) -> String {
        let flag = long.trim_start_matches('-');
        let found = self.args.iter().find(|(l, _, _)| l == flag);
        match found {
            Some((_, _, Some(ValueSource::CommandLine))) => format!("flag --{flag}"),
            Some((_, Some(env), Some(ValueSource::EnvVariable))) => format!("env {env}"),
            _ if in_file => file_key(flag).unwrap_or_else(|| "albflip.toml".into()),
            _ => "default".into(),
        }
    }

    /// Renames the flags at the start of an error's `what` (`--blue/--green`, `--steps 10,5`) after
    /// their real origin.
    pub fn relabel(&self, what: &str) -> String {
        let (head, tail) = what.split_once(' ').unwrap_or((what, ""));
        if !head.starts_with("--") {
            return what.to_string();
        }
        let renamed: Vec<String> = head
            .split('/')
            .map(|f| {
                if f.starts_with("--") {
                    self.name(f)
                } else {
                    f.to_string()
                }
            })
            .collect();
        let head = renamed.join(" / ");
        if tail.is_empty() {
            head
        } else {
            format!("{head} {tail}")
        }
    }

    /// The `ALBFLIP_*` variables (set in this process) that feed a flag named in `message`, for clap's
    /// own errors, which always name the flag. A missing required argument is required by a flag
    /// named only in the usage line (`--environment` needs `--application`): there, that line counts.
    pub fn env_behind(message: &str, command: &Command) -> Vec<(String, String)> {
        let usage = message
            .contains("required arguments were not provided")
            .then(|| message.lines().find(|l| l.starts_with("Usage: ")))
            .flatten()
            .map(|l| format!("{l} "))
            .unwrap_or_default();
        let mut out = Vec::new();
        let mut scan = |cmd: &Command| {
            for arg in cmd.get_arguments() {
                let (Some(long), Some(env)) = (arg.get_long(), arg.get_env()) else {
                    continue;
                };
                let env = env.to_string_lossy().into_owned();
                let flag = format!("--{long}");
                let on_argv =
                    std::env::args().any(|a| a == flag || a.starts_with(&format!("{flag}=")));
                if message.contains(&format!("'{flag} "))
                    || message.contains(&format!("'{flag}'"))
                    || usage.contains(&format!(" {flag} "))
                {
                    if let (Ok(value), false) = (std::env::var(&env), on_argv) {
                        if !out.iter().any(|(e, _): &(String, String)| e == &env) {
                            out.push((env, value));
                        }
                    }
                }
            }
        };
        scan(command);
        for sub in command.get_subcommands() {
            scan(sub);
        }
        out
    }
}
