//! From parsed flags (with their `ALBFLIP_*` environment fallbacks) and the config file to the
//! library's inputs, in that order of precedence. Validation errors here are usage errors (exit 2).

use std::path::Path;

use albflip::aws::arn::{ListenerArn, RuleArn};
use albflip::aws::lockstep::Lockstep;
use albflip::aws::resolve::{GroupRef, RouteSpec, Target};
use albflip::aws::route::RouteId;
use albflip::aws::AwsSettings;
use albflip::config::{FileConfig, TargetSection};
use albflip::Error;

use crate::args::{GlobalArgs, TargetArgs};

/// The default listener port.
const DEFAULT_PORT: u16 = 80;

/// Everything a command needs to know about where to act.
pub struct Settings {
    pub aws: AwsSettings,
    pub target: Target,
    pub file: FileConfig,
    /// The DynamoDB lock table, when configured.
    pub lock_table: Option<String>,
    /// The naming convention's lock table (`E-A-albflip-locks`) when the route is named by environment
    /// and application and no table is configured: used when it exists.
    pub convention_lock_table: Option<String>,
    /// The lock's lease.
    pub lock_ttl: std::time::Duration,
}

impl Settings {
    /// Merges flags/env over the config file.
    pub fn resolve(global: &GlobalArgs, flags: &TargetArgs, cwd: &Path) -> Result<Settings, Error> {
        let (file, path) = FileConfig::load(global.config.as_deref(), cwd)?;
        tracing::debug!(config_file = ?path, "settings read");
        let cli = TargetSection {
            listener_arn: flags.listener_arn.clone(),
            rule_arn: flags.rule_arn.clone(),
            load_balancer: flags.load_balancer.first().cloned(),
            port: flags.port,
            blue: flags.blue.clone(),
            green: flags.green.clone(),
            environment: flags.environment.clone(),
            application: flags.application.clone(),
            ..TargetSection::default()
        };
        let mut target = target_from(&cli, &file.target)?;
        let environment = cli
            .environment
            .as_ref()
            .or(file.target.environment.as_ref());
        let application = cli
            .application
            .as_ref()
            .or(file.target.application.as_ref());
        let convention_lock_table = environment
            .zip(application)
            .map(|(e, a)| format!("{e}-{a}-albflip-locks"));
        target.lockstep = lockstep_from(flags, &file.target)?;
        target.keep_stickiness = flags.keep_stickiness;
        let aws = AwsSettings {
            region: global.region.clone().or(file.aws.region.clone()),
            profile: global.profile.clone().or(file.aws.profile.clone()),
            endpoint_url: global
                .endpoint_url
                .clone()
                .or(file.aws.endpoint_url.clone()),
        };
        let lock_table = global
            .lock_table
            .clone()
            .or(file.lock.table.clone())
            .filter(|t| !t.trim().is_empty());
        let lock_ttl = match (global.lock_ttl, &file.lock.ttl) {
            (Some(d), _) => d,
            (None, Some(text)) => {
                humantime::parse_duration(text).map_err(|e| Error::InvalidInput {
                    what: format!("albflip.toml [lock] ttl = {text:?}"),
                    why: e.to_string(),
                    fix: "Use a duration such as \"2m\"".into(),
                })?
            }
            (None, None) => albflip::lock::DEFAULT_TTL,
        };
        if lock_ttl < std::time::Duration::from_secs(3) {
            return Err(Error::InvalidInput {
                what: "--lock-ttl".into(),
                why: format!(
                    "{} is too short to renew",
                    humantime::format_duration(lock_ttl)
                ),
                fix: "Use at least 3s (default 2m)".into(),
            });
        }
        Ok(Settings {
            aws,
            target,
            file,
            convention_lock_table: convention_lock_table.filter(|_| lock_table.is_none()),
            lock_table,
            lock_ttl,
        })
    }
}

/// Which routes move with the named one: `--single-route`, the `--load-balancer`s named, and
/// `--include-route`s.
fn lockstep_from(flags: &TargetArgs, file: &TargetSection) -> Result<Lockstep, Error> {
    let from_file = file.lockstep()?;
    let include = flags
        .include_route
        .iter()
        .map(|arn| {
            RouteId::parse(arn).map_err(|e| Error::InvalidInput {
                what: format!("--include-route {arn}"),
                why: e.to_string(),
                fix: "Pass a listener ARN or a listener rule ARN (`aws elbv2 describe-rules --listener-arn ...` lists the rules)".into(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Lockstep {
        single_route: flags.single_route || from_file.single_route,
        load_balancers: if flags.load_balancer.is_empty() {
            from_file.load_balancers
        } else {
            flags.load_balancer.clone()
        },
        include: if include.is_empty() {
            from_file.include
        } else {
            include
        },
        pairs: if flags.pair.is_empty() {
            from_file.pairs
        } else {
            flags.pair.clone()
        },
    })
}

fn names_route(t: &TargetSection) -> bool {
    t.listener_arn.is_some()
        || t.rule_arn.is_some()
        || t.load_balancer.is_some()
        || t.environment.is_some()
}

/// The route comes whole from the highest level that names one (flags/env, else the file); target
/// groups and the port fall through level by level.
fn target_from(cli: &TargetSection, file: &TargetSection) -> Result<Target, Error> {
    let route_level = if names_route(cli) { cli } else { file };
    if !names_route(route_level) {
        return Err(Error::InvalidInput {
            what: "target".into(),
            why: "no route named".into(),
            fix: "Pass --listener-arn ARN, --load-balancer NAME [--port N], or --environment E --application A (or set them in albflip.toml [target])".into(),
        });
    }
    let port = cli.port.or(file.port).unwrap_or(DEFAULT_PORT);
    let mut target = route_of(route_level, port)?;
    if let Some(b) = cli.blue.as_ref().or(file.blue.as_ref()) {
        target.blue = Some(parse_group(b, "--blue")?);
    }
    if let Some(g) = cli.green.as_ref().or(file.green.as_ref()) {
        target.green = Some(parse_group(g, "--green")?);
    }
    Ok(target)
}

fn route_of(t: &TargetSection, port: u16) -> Result<Target, Error> {
    let set: Vec<&str> = [
        ("--listener-arn", t.listener_arn.is_some()),
        ("--rule-arn", t.rule_arn.is_some()),
        ("--load-balancer", t.load_balancer.is_some()),
        ("--environment", t.environment.is_some()),
    ]
    .into_iter()
    .filter_map(|(flag, is_set)| is_set.then_some(flag))
    .collect();
    if set.len() > 1 {
        // Named by flag here; `main` renames each after where its value came from (flag, variable
        // or albflip.toml key), so the user sees which two sources disagree.
        return Err(Error::InvalidInput {
            what: set.join("/"),
            why: "each names the route, and the route is named one way only".into(),
            fix: "Keep one of them: a listener ARN, a rule ARN, a load balancer (with a port) or an environment and application".into(),
        });
    }
    let invalid = |flag: &str, e: albflip::aws::arn::InvalidArn| Error::InvalidInput {
        what: flag.to_string(),
        why: e.to_string(),
        fix: "Copy the ARN from `aws elbv2 describe-listeners` or the stack outputs".into(),
    };
    if let Some(arn) = &t.listener_arn {
        let arn = ListenerArn::parse(arn).map_err(|e| invalid("--listener-arn", e))?;
        return Ok(Target::new(RouteSpec::Listener(arn)));
    }
    if let Some(arn) = &t.rule_arn {
        let arn = RuleArn::parse(arn).map_err(|e| invalid("--rule-arn", e))?;
        return Ok(Target::new(RouteSpec::Rule(arn)));
    }
    if let Some(name) = &t.load_balancer {
        return Ok(Target::new(RouteSpec::LoadBalancer {
            name: name.clone(),
            port,
        }));
    }
    match (&t.environment, &t.application) {
        (Some(e), Some(a)) => Ok(Target::from_convention(e, a, port)),
        _ => Err(Error::InvalidInput {
            what: format!("--environment {}", t.environment.as_deref().unwrap_or_default()),
            why: "the naming convention needs the application too, and none is given".into(),
            fix: "Give the application next to it (--application, ALBFLIP_APPLICATION or albflip.toml [target] application), or name the listener with --listener-arn".into(),
        }),
    }
}

fn parse_group(value: &str, flag: &str) -> Result<GroupRef, Error> {
    value.parse::<GroupRef>().map_err(|e| match e {
        Error::InvalidInput { why, fix, .. } => Error::InvalidInput {
            what: format!("{flag} {value}"),
            why,
            fix,
        },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section() -> TargetSection {
        TargetSection::default()
    }

    #[test]
    fn flags_beat_the_file_and_the_route_comes_from_one_level() {
        let cli = TargetSection {
            load_balancer: Some("cli-alb".into()),
            ..section()
        };
        let file = TargetSection {
            listener_arn: Some(
                "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/x/1/2".into(),
            ),
            port: Some(8080),
            green: Some("file-green".into()),
            ..section()
        };
        let t = target_from(&cli, &file).unwrap();
        assert_eq!(
            t.route,
            RouteSpec::LoadBalancer {
                name: "cli-alb".into(),
                port: 8080
            }
        );
        assert_eq!(t.green, Some(GroupRef::Name("file-green".into())));
    }

    #[test]
    fn the_convention_and_errors() {
        let cli = TargetSection {
            environment: Some("prod".into()),
            application: Some("shop".into()),
            ..section()
        };
        let t = target_from(&cli, &section()).unwrap();
        assert_eq!(
            t.route,
            RouteSpec::LoadBalancer {
                name: "prod-shop-alb".into(),
                port: 80
            }
        );
        assert_eq!(t.blue, Some(GroupRef::Name("prod-shop-blue-tg".into())));
        assert!(target_from(&section(), &section()).is_err());
        let bad = TargetSection {
            listener_arn: Some("not-an-arn".into()),
            ..section()
        };
        assert!(target_from(&bad, &section())
            .unwrap_err()
            .to_string()
            .contains("--listener-arn"));
    }
    #[test]
    fn the_annotated_example_file_parses_and_sets_every_section() {
        let text = include_str!("../albflip.example.toml");
        let c = FileConfig::parse(text, std::path::Path::new("albflip.example.toml")).unwrap();
        assert_eq!(c.target.environment.as_deref(), Some("prod"));
        assert_eq!(c.lock.table.as_deref(), Some("prod-shop-albflip-locks"));
        assert_eq!(c.strategy.steps, Some(vec![10, 25, 50, 75, 100]));
        assert_eq!(c.gates.failure_threshold, Some(1));
        let lifecycle = albflip::engine::lifecycle::Lifecycle::from_config(
            &c.autoscaling,
            &c.hooks,
            &c.test_traffic,
        )
        .unwrap();
        assert_eq!(
            lifecycle.capacity.green_asg.as_deref(),
            Some("prod-shop-green-asg")
        );
        assert_eq!(
            lifecycle.capacity.scale_down_delay,
            Some(std::time::Duration::from_secs(3600))
        );
        assert_eq!(lifecycle.hooks.len(), 2);
        assert_eq!(lifecycle.test_traffic.map(|t| t.smoke_count), Some(3));
    }
}
