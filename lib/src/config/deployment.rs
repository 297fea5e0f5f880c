//! A whole deployment from `albflip.toml` alone, for programs that embed the library: the route of
//! `[target]`, the AWS settings of `[aws]`, the spec of `[strategy]`, `[gates]`, `[autoscaling]`,
//! `[hooks]` and `[test-traffic]`, the lock table of
//! `[lock]`. (The CLI lays its flags and `ALBFLIP_*` variables over the same file.)
//!
//! ```
//! use albflip::config::FileConfig;
//! use albflip::model::Color;
//! use albflip::aws::resolve::RouteSpec;
//!
//! # fn main() -> Result<(), albflip::Error> {
//! let text = "[target]\nload-balancer = \"prod-shop-alb\"\nport = 443\n[strategy]\nstrategy = \"immediate\"\n";
//! let deployment = FileConfig::parse(text, "albflip.toml".as_ref())?.deployment(Color::Green)?;
//! assert_eq!(deployment.target.route, RouteSpec::LoadBalancer { name: "prod-shop-alb".into(), port: 443 });
//! assert_eq!(deployment.spec.strategy, "immediate");
//! # Ok(())
//! # }
//! ```

use std::path::Path;

use crate::config::{AwsSection, FileConfig, TargetSection};
use crate::engine::DeploySpec;
use crate::error::Error;
use crate::model::Color;
use crate::providers::aws::arn::{InvalidArn, ListenerArn, RuleArn};
use crate::providers::aws::resolve::{GroupRef, RouteSpec, Target};
use crate::providers::aws::AwsSettings;

/// The listener port when `[target]` names a load balancer without one.
pub const DEFAULT_PORT: u16 = 80;

/// A deployment as a configuration file describes it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Deployment {
    /// The route (`[target]`).
    pub target: Target,
    /// How to reach AWS (`[aws]`); empty fields fall back to the SDK's chain.
    pub aws: AwsSettings,
    /// The steps, gates and timings (`[strategy]`, `[gates]`).
    pub spec: DeploySpec,
    /// The DynamoDB lock table (`[lock] table`), when runs are to be locked.
    pub lock_table: Option<String>,
}

/// Reads the configuration file at `path` and returns the deployment to `to` it describes.
pub fn load_deployment(path: &Path, to: Color) -> Result<Deployment, Error> {
    let cwd = path.parent().unwrap_or(Path::new("."));
    FileConfig::load(Some(path), cwd)?.0.deployment(to)
}

impl FileConfig {
    /// The deployment to `to` this file describes, with the library's defaults for what it leaves out.
    pub fn deployment(&self, to: Color) -> Result<Deployment, Error> {
        let mut lifecycle = crate::engine::lifecycle::Lifecycle::from_config(
            &self.autoscaling,
            &self.hooks,
            &self.test_traffic,
        )?;
        lifecycle.capacity = lifecycle.capacity.with_ecs(&self.ecs)?;
        Ok(Deployment {
            target: self.target.target()?,
            aws: self.aws.settings(),
            spec: DeploySpec {
                lifecycle,
                ..DeploySpec::from_config(to, &self.strategy, &self.gates)?
            },
            lock_table: self.lock.table.clone().filter(|t| !t.trim().is_empty()),
        })
    }
}

impl AwsSection {
    /// These settings for [`crate::providers::aws::load_config`].
    pub fn settings(&self) -> AwsSettings {
        AwsSettings {
            region: self.region.clone(),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
        }
    }
}

impl TargetSection {
    /// The route this section names: exactly one of `listener-arn`, `rule-arn`, `load-balancer` (with
    /// `port`, 80 by default) or `environment` with `application`; `blue` and `green` when given.
    pub fn target(&self) -> Result<Target, Error> {
        let mut target = self.route()?;
        target.lockstep = self.lockstep()?;
        if let Some(blue) = &self.blue {
            target.blue = Some(group(blue, "blue")?);
        }
        if let Some(green) = &self.green {
            target.green = Some(group(green, "green")?);
        }
        Ok(target)
    }

    fn route(&self) -> Result<Target, Error> {
        let port = self.port.unwrap_or(DEFAULT_PORT);
        let route = match (
            &self.listener_arn,
            &self.rule_arn,
            &self.load_balancer,
            &self.environment,
        ) {
            (Some(arn), None, None, None) => {
                RouteSpec::Listener(ListenerArn::parse(arn).map_err(|e| bad_arn("listener-arn", e))?)
            }
            (None, Some(arn), None, None) => {
                RouteSpec::Rule(RuleArn::parse(arn).map_err(|e| bad_arn("rule-arn", e))?)
            }
            (None, None, Some(name), None) => RouteSpec::LoadBalancer {
                name: name.clone(),
                port,
            },
            (None, None, None, Some(environment)) => {
                return self.convention(environment, port);
            }
            (None, None, None, None) => {
                return Err(Error::invalid_text(
                    "albflip.toml [target]",
                    "no route named",
                    "Set listener-arn, rule-arn, load-balancer (and port), or environment and application",
                ))
            }
            _ => {
                return Err(Error::invalid_text(
                    "albflip.toml [target]",
                    "more than one of listener-arn, rule-arn, load-balancer and environment/application is set",
                    "Name the route one way only",
                ))
            }
        };
        Ok(Target::new(route))
    }

    fn convention(&self, environment: &str, port: u16) -> Result<Target, Error> {
        match &self.application {
            Some(application) => Ok(Target::from_convention(environment, application, port)),
            None => Err(Error::invalid_text(
                "albflip.toml [target] environment",
                "application is missing; both are needed for the naming convention",
                "Set application too, or name the listener with listener-arn",
            )),
        }
    }
}

fn bad_arn(key: &str, e: InvalidArn) -> Error {
    Error::invalid_text(
        format!("albflip.toml [target] {key}"),
        e.to_string(),
        "Copy the ARN from `aws elbv2 describe-listeners` or the stack outputs",
    )
}

fn group(value: &str, key: &str) -> Result<GroupRef, Error> {
    value.parse::<GroupRef>().map_err(|e| match e {
        Error::InvalidInput { why, fix, .. } => Error::InvalidInput {
            what: format!("albflip.toml [target] {key} = {value:?}"),
            why,
            fix,
        },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> FileConfig {
        FileConfig::parse(text, Path::new("albflip.toml")).unwrap()
    }

    #[test]
    fn the_annotated_example_file_is_a_whole_deployment() {
        let text = include_str!("../../../albflip.example.toml");
        let d = parse(text).deployment(Color::Green).unwrap();
        assert_eq!(
            d.target.blue,
            Some(GroupRef::Name("prod-shop-blue-tg".into()))
        );
        assert_eq!(d.lock_table.as_deref(), Some("prod-shop-albflip-locks"));
        assert_eq!(d.spec.plan.target, Color::Green);
    }

    #[test]
    fn a_route_named_twice_or_not_at_all_is_refused() {
        let both =
            parse("[target]\nload-balancer = \"a\"\nenvironment = \"e\"\napplication = \"x\"\n");
        assert!(both.deployment(Color::Green).is_err());
        let none = parse("[strategy]\nbake = \"1m\"\n");
        let err = none.deployment(Color::Green).unwrap_err();
        assert!(err.to_string().contains("no route named"), "{err}");
        let half = parse("[target]\nenvironment = \"e\"\n");
        assert!(half.deployment(Color::Green).is_err());
    }

    #[test]
    fn bad_values_name_their_key() {
        let err = parse("[target]\nlistener-arn = \"nope\"\n")
            .deployment(Color::Green)
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("albflip.toml [target] listener-arn:"),
            "{err}"
        );
        let err = parse("[target]\nload-balancer = \"a\"\ngreen = \"-x\"\n")
            .deployment(Color::Green)
            .unwrap_err();
        assert!(err.to_string().contains("[target] green = \"-x\""), "{err}");
    }
}
