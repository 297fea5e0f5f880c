//! How the CLI names the library's inputs and next steps: an input as its flag, or as the `ALBFLIP_*`
//! variable or `albflip.toml` key its value came from; a next step as the command to run.

use std::sync::OnceLock;

use albflip::aws::lockstep::LeftAlone;
use albflip::engine::Outcome;
use albflip::error::{Input, Namer, Next, Text};
use albflip::events::Event;
use albflip::plan::decide::Failure;
use albflip::ports::ApiErrorKind;
use albflip::Error;

use crate::origins::Origins;

/// The flag that sets an input.
pub fn flag(input: &Input) -> &'static str {
    use Input::*;
    match input {
        TargetColor => "--target",
        BlueTargetGroup => "--blue",
        GreenTargetGroup => "--green",
        LoadBalancer => "--load-balancer",
        Port => "--port",
        Environment => "--environment",
        Application => "--application",
        ListenerArn => "--listener-arn",
        RuleArn => "--rule-arn",
        IncludeRoute => "--include-route",
        Pair => "--pair",
        SingleRoute => "--single-route",
        Region => "--region",
        Profile => "--profile",
        EndpointUrl => "--endpoint-url",
        ConfigFile => "--config",
        Strategy => "--strategy",
        Steps => "--steps",
        CanaryPercentage => "--canary-percentage",
        PollInterval => "--poll-interval",
        MetricWindow => "--metric-window",
        MetricPeriod => "--metric-period",
        MaxErrorRate => "--max-error-rate",
        MaxErrorRateIncrease => "--max-error-rate-increase",
        MaxLatencyIncrease => "--max-latency-increase",
        Judge => "--judge",
        Confidence => "--confidence",
        OnNoData => "--on-no-data",
        Alarm => "--alarm",
        MinHealthyHosts => "--min-healthy-hosts",
        BlueAsg => "--blue-asg",
        GreenAsg => "--green-asg",
        WaitForPromotion => "--wait-for-promotion",
        OnTimeout => "--on-timeout",
        EcsCluster => "--ecs-cluster",
        BlueService => "--blue-service",
        GreenService => "--green-service",
        MatchCapacity => "--match-capacity",
        NoMatchCapacity => "--no-match-capacity",
        ReadyTimeout => "--ready-timeout",
        ScaleDownDelay => "--scale-down-delay",
        TestListenerPort => "--test-listener-port",
        TestListenerArn => "--test-listener-arn",
        TestHeader => "--test-header",
        SmokeUrl => "--smoke-url",
        SmokeTimeout => "--smoke-timeout",
        Hook => "--hook",
        HookTimeout => "--hook-timeout",
        Force => "--force",
        Resume => "--resume",
        AdoptDrift => "--adopt-drift",
        Bake => "--bake",
        NoGates => "--no-gates",
        TakeOver => "--take-over",
        FailureThreshold => "--failure-threshold",
        DeploymentId => "--deployment-id",
        _ => "",
    }
}

/// The command that runs a next step, in backticks.
pub fn command(next: &Next) -> String {
    match next {
        Next::Status => "`albflip status`".into(),
        Next::Rollback => "`albflip rollback`".into(),
        Next::Resume => "`albflip deploy --resume`".into(),
        Next::Deploy => "`albflip deploy`".into(),
        Next::DeployCanary => "`albflip deploy --strategy canary`".into(),
        Next::DeployTo(color) => format!("`albflip deploy --target {color}`"),
        Next::Promote => "`albflip promote`".into(),
        Next::Cleanup => "`albflip cleanup`".into(),
        Next::ForceUnlock => "`albflip unlock --force`".into(),
        Next::Shift => "`albflip shift`".into(),
        _ => format!("{next}"),
    }
}

/// Names inputs after this run's origins: advice names the flag, a given value names where it came from.
pub struct CliNamer<'a> {
    /// Where each flag's value came from; `None` names every input by its flag.
    pub origins: Option<&'a Origins>,
}

impl Namer for CliNamer<'_> {
    fn input(&self, input: &Input) -> Option<String> {
        Some(flag(input))
            .filter(|f| !f.is_empty())
            .map(String::from)
    }
    fn given(&self, input: &Input) -> Option<String> {
        let f = self.input(input)?;
        Some(match self.origins {
            Some(o) => o.name(&f),
            None => f,
        })
    }
    fn next(&self, next: &Next) -> Option<String> {
        Some(command(next))
    }
}

static ORIGINS: OnceLock<Origins> = OnceLock::new();

/// Records this run's origins for [`render`].
pub fn init(origins: Origins) {
    let _ = ORIGINS.set(origins);
}

/// An error as the CLI prints it.
pub fn render(e: &Error) -> String {
    let out = e.render(&CliNamer {
        origins: ORIGINS.get(),
    });
    match e.api_error() {
        Some(api) => credentials_hint(out, &api.kind),
        None => out,
    }
}

/// The library's credential advice names the AWS profile neutrally; the CLI names its flag.
fn credentials_hint(message: String, kind: &ApiErrorKind) -> String {
    let cli = match kind {
        ApiErrorKind::NoCredentials => "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, use --profile or AWS_PROFILE, or run with an instance or task role",
        ApiErrorKind::InvalidCredentials => "the AWS credentials were refused as invalid or expired: check the access keys, AWS_PROFILE/--profile, or refresh the session",
        _ => return message,
    };
    message.replace(&kind.to_string(), cli)
}

/// A library text (a warning) as the CLI prints it.
pub fn text(t: &albflip::error::Text) -> String {
    t.render(&CliNamer {
        origins: ORIGINS.get(),
    })
}

/// Why a step failed, as the CLI prints it.
pub fn failure(f: &Failure) -> String {
    text(&f.text())
}

/// A route left alone, as the CLI prints it: `ROUTE: REASON`.
pub fn left_alone(l: &LeftAlone) -> String {
    format!("{}: {}", l.route, text(&l.reason))
}

/// The library serializes its texts neutrally; these put the CLI's names into the JSON the CLI prints.
pub mod json {
    use super::*;
    use serde_json::Value;

    /// A serialized [`Failure`]: its message with the CLI's names.
    pub fn failure(v: &mut Value, f: &Failure) {
        if let Some(m) = v.get_mut("message") {
            *m = super::failure(f).into();
        }
    }

    /// A serialized event.
    pub fn event(v: &mut Value, e: &Event) {
        match e {
            Event::Warning { message } => {
                if let Some(m) = v.get_mut("message") {
                    *m = text(message).into();
                }
            }
            Event::RollingBack { failure: f } => {
                if let Some(fv) = v.get_mut("failure") {
                    failure(fv, f);
                }
            }
            _ => {}
        }
    }

    /// A serialized deployment outcome.
    pub fn outcome(v: &mut Value, o: &Outcome) {
        if let Outcome::RolledBack { failure: f, .. } = o {
            if let Some(fv) = v.get_mut("failure") {
                failure(fv, f);
            }
        }
    }

    /// A serialized list of routes left alone.
    pub fn left_alone(v: &mut Value, routes: &[LeftAlone]) {
        if let Some(items) = v.as_array_mut() {
            for (item, l) in items.iter_mut().zip(routes) {
                if let Some(r) = item.get_mut("reason") {
                    *r = text(&l.reason).into();
                }
            }
        }
    }

    /// A serialized list of texts (warnings).
    pub fn texts(texts: &[Text]) -> Value {
        texts.iter().map(text).collect::<Vec<_>>().into()
    }

    /// A serialized `albflip check` report.
    pub fn check(v: &mut Value, checks: &[albflip::preflight::Check]) {
        if let Some(items) = v.get_mut("checks").and_then(Value::as_array_mut) {
            for (item, c) in items.iter_mut().zip(checks) {
                if let Some(d) = item.get_mut("detail") {
                    *d = text(&c.detail).into();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Cli;
    use clap::CommandFactory;

    /// Every long flag and subcommand name of the CLI.
    fn cli_names() -> (Vec<String>, Vec<String>) {
        let command = Cli::command();
        let mut flags: Vec<String> = Vec::new();
        let mut subs = Vec::new();
        let mut add = |cmd: &clap::Command| {
            for a in cmd.get_arguments() {
                if let Some(long) = a.get_long() {
                    flags.push(format!("--{long}"));
                }
            }
        };
        add(&command);
        for sub in command.get_subcommands() {
            subs.push(sub.get_name().to_string());
            add(sub);
        }
        (flags, subs)
    }

    fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// Lines of `lib/src` outside comments and test code that name a CLI flag or subcommand.
    fn offenders() -> Vec<String> {
        let (flags, subs) = cli_names();
        let lib = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("lib/src");
        let mut files = Vec::new();
        rust_files(&lib, &mut files);
        let mut found = Vec::new();
        for file in files {
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name == "tests.rs" || name == "testing.rs" {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            for (n, line) in text.lines().enumerate() {
                if line.trim_start().starts_with("#[cfg(test)]") {
                    break;
                }
                if line.trim_start().starts_with("//") {
                    continue;
                }
                let flag = flags.iter().find(|f| {
                    line.match_indices(f.as_str()).any(|(i, _)| {
                        let after = line[i + f.len()..].chars().next();
                        let before = line[..i].chars().last();
                        !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
                            && !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
                    })
                });
                let sub = subs
                    .iter()
                    .find(|s| line.contains(&format!("`albflip {s}")));
                if flag.is_some() || sub.is_some() {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
        found
    }

    #[test]
    fn no_flag_or_subcommand_is_named_in_library_code() {
        let found = offenders();
        // Texts not yet typed (see issue 14); the list may only shrink.
        let known: [&str; 0] = [];
        let new: Vec<&String> = found
            .iter()
            .filter(|l| !known.iter().any(|k| l.contains(k)))
            .collect();
        assert!(
            new.is_empty(),
            "flag or subcommand named in lib/src:\n{new:#?}"
        );
    }

    #[test]
    fn a_typed_input_renders_as_its_flag_and_a_next_step_as_its_command() {
        let namer = CliNamer { origins: None };
        let t = albflip::text!("Name them with ", {input Input::BlueAsg}, "; run ", {next Next::Resume});
        assert_eq!(
            t.render(&namer),
            "Name them with --blue-asg; run `albflip deploy --resume`"
        );
        assert_eq!(
            t.to_string(),
            "Name them with the blue Auto Scaling group; run a resumed deployment"
        );
    }

    #[test]
    fn a_nested_error_renders_its_inner_steps_as_commands() {
        let namer = CliNamer { origins: None };
        // Why the rollback started: an error of its own, naming a setting and a next step.
        let cause = Error::State {
            what: albflip::text!("the run was interrupted during ", {input Input::ScaleDownDelay}),
            fix: albflip::text!("Run ", {next Next::Cleanup}),
        };
        let e = Error::RollbackFailed {
            cause: cause.text(),
            rollback: Box::new(Error::State {
                what: "the write failed".into(),
                fix: albflip::text!("Run ", {next Next::Status}),
            }),
        };
        assert_eq!(
            e.render(&namer),
            "ROLLBACK FAILED: the write failed. Run `albflip status`; it was started because: \
             the run was interrupted during --scale-down-delay. Run `albflip cleanup`"
        );
        assert!(e.to_string().ends_with("Run a cleanup"), "{e}");
        // A failed step that carries an error's text keeps its references too.
        let failure = Failure::Hook {
            message: albflip::text!("stopped; ", {next Next::Rollback}, " restores"),
        };
        assert_eq!(
            failure.text().render(&namer),
            "stopped; `albflip rollback` restores"
        );
    }

    #[test]
    fn credential_advice_names_the_profile_flag() {
        let kind = ApiErrorKind::NoCredentials;
        let e = Error::Read(albflip::ports::ApiError::new(
            "elasticloadbalancing:DescribeRules",
            kind,
            "",
        ));
        assert_eq!(
            render(&e),
            "elasticloadbalancing:DescribeRules failed: no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, use --profile or AWS_PROFILE, or run with an instance or task role"
        );
        assert!(!e.to_string().contains("--profile"), "{e}");
    }

    #[test]
    fn a_given_input_renders_as_the_env_var_or_file_key_it_came_from() {
        let command = Cli::command();
        let matches = command
            .clone()
            .try_get_matches_from(["albflip", "--steps", "10,5", "status"])
            .or_else(|_| {
                command.clone().try_get_matches_from([
                    "albflip", "deploy", "--target", "green", "--steps", "10,5",
                ])
            });
        let Ok(matches) = matches else { return };
        let origins = Origins::new(&command, &matches);
        let namer = CliNamer {
            origins: Some(&origins),
        };
        assert_eq!(namer.given(&Input::Steps).as_deref(), Some("--steps"));
        // Not given on the command line or in the environment: named by its albflip.toml key.
        assert_eq!(
            namer.given(&Input::PollInterval).as_deref(),
            Some("albflip.toml [gates] poll-interval")
        );
        // Advice always names the flag.
        assert_eq!(
            namer.input(&Input::PollInterval).as_deref(),
            Some("--poll-interval")
        );
    }
}
