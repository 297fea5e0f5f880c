//! The `albflip.toml` configuration file: everything that says *what* to act on and *how to reach AWS*,
//! so that a pipeline can keep it next to its Jenkinsfile. Flags and `ALBFLIP_*` environment variables
//! override it (the CLI applies that precedence). [`deployment`] turns a whole file into a deployment
//! for programs that embed the library.

pub mod deployment;

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Error;

pub use deployment::{load_deployment, Deployment};

/// The file albflip reads from the working directory when `--config` is not given.
pub const DEFAULT_FILE: &str = "albflip.toml";

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `[target]`: what to act on.
    #[serde(default)]
    pub target: TargetSection,
    /// `[aws]`: how to reach AWS.
    #[serde(default)]
    pub aws: AwsSection,
    /// `[strategy]`: how to move traffic.
    #[serde(default)]
    pub strategy: StrategySection,
    /// `[gates]`: what must hold while a step bakes.
    #[serde(default)]
    pub gates: GatesSection,
    /// `[lock]`: the deployment lock.
    #[serde(default)]
    pub lock: LockSection,
    /// `[autoscaling]`: each color's Auto Scaling group and what albflip does with it.
    #[serde(default)]
    pub autoscaling: AutoscalingSection,
    /// `[ecs]`: each color's ECS service, instead of Auto Scaling groups.
    #[serde(default)]
    pub ecs: EcsSection,
    /// `[hooks]`: commands run at lifecycle stages.
    #[serde(default)]
    pub hooks: HooksSection,
    /// `[test-traffic]`: the test listener and its smoke check.
    #[serde(default, rename = "test-traffic")]
    pub test_traffic: TestTrafficSection,
    /// `[notify]`: webhooks told of a deployment's progress.
    #[serde(default)]
    pub notify: NotifySection,
    /// `[haproxy]`: the HAProxy route (with `[target] router = "haproxy"`).
    #[serde(default)]
    pub haproxy: HaproxySection,
    /// `[nginx]`: the nginx route (with `[target] router = "nginx"`).
    #[serde(default)]
    pub nginx: NginxSection,
}

/// `[nginx]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NginxSection {
    /// The upstream file albflip owns (included by nginx.conf).
    pub upstream_file: Option<PathBuf>,
    /// The upstream block's name in it.
    pub upstream: Option<String>,
    /// Blue's servers (`HOST:PORT` as in the upstream).
    pub blue: Option<Vec<String>>,
    /// Green's servers.
    pub green: Option<Vec<String>>,
    /// The access log written in albflip's JSON `log_format`.
    pub access_log: Option<PathBuf>,
    /// The reload command [default: `nginx -s reload`].
    pub reload_command: Option<String>,
    /// The configuration test command [default: `nginx -t`].
    pub test_command: Option<String>,
    /// nginx's pid file [default: `/run/nginx.pid`].
    pub pid_file: Option<PathBuf>,
    /// The path each server answers health probes on [default: `/`].
    pub health_path: Option<String>,
    /// Where albflip keeps its state file and lock on this host [default: `/var/lib/albflip`].
    pub state_dir: Option<PathBuf>,
}

/// `[notify]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NotifySection {
    /// The URLs each notification is POSTed to (a Slack incoming webhook, or any JSON receiver).
    pub urls: Option<Vec<String>>,
}

/// `[haproxy]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HaproxySection {
    /// The runtime API socket: a unix socket path or `tcp:HOST:PORT`.
    pub socket: Option<String>,
    /// The backend.
    pub backend: Option<String>,
    /// Blue's servers in the backend.
    pub blue: Option<Vec<String>>,
    /// Green's servers in the backend.
    pub green: Option<Vec<String>>,
    /// Where albflip keeps its state file and lock on this host [default: `/var/lib/albflip`].
    pub state_dir: Option<PathBuf>,
}

/// `[autoscaling]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AutoscalingSection {
    /// Blue's Auto Scaling group [default: the group registered with blue's target group].
    pub blue_asg: Option<String>,
    /// Green's Auto Scaling group.
    pub green_asg: Option<String>,
    /// Raise the new color to the stable color's capacity before the first step [default: on when
    /// both groups are known].
    pub match_capacity: Option<bool>,
    /// How long to wait for the new color's healthy targets, e.g. `"10m"`.
    pub ready_timeout: Option<String>,
    /// Scale the old color to zero this long after a completed deployment (`"0s"`: at once) [default:
    /// never; `albflip cleanup` does it later].
    pub scale_down_delay: Option<String>,
}

/// `[ecs]`: the colors run as ECS services, one per color, each registered with its color's target
/// group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EcsSection {
    /// The cluster (name or ARN).
    pub cluster: Option<String>,
    /// Blue's service [default: the service of the cluster whose load balancers name blue's target
    /// group].
    pub blue_service: Option<String>,
    /// Green's service.
    pub green_service: Option<String>,
}

/// `[hooks]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HooksSection {
    /// Hooks as `STAGE=COMMAND`, like `--hook`.
    pub run: Option<Vec<String>>,
    /// How long a hook may run, e.g. `"5m"`.
    pub timeout: Option<String>,
}

/// `[test-traffic]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TestTrafficSection {
    /// The test listener's port on the route's load balancer.
    pub listener_port: Option<u16>,
    /// Or its ARN.
    pub listener_arn: Option<String>,
    /// Or no test listener: test traffic on the production listener, marked by this header
    /// (`NAME=VALUE`), through a temporary listener rule.
    pub header: Option<String>,
    /// The URL the smoke check GETs through the test listener.
    pub smoke_url: Option<String>,
    /// How many GETs must answer 2xx.
    pub smoke_count: Option<u32>,
    /// How long each GET may take, e.g. `"5s"`.
    pub smoke_timeout: Option<String>,
}

/// `[lock]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockSection {
    /// The DynamoDB table.
    pub table: Option<String>,
    /// The lease, e.g. `"2m"`.
    pub ttl: Option<String>,
}

/// `[strategy]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StrategySection {
    /// `gradual`, `immediate` or `canary`.
    pub strategy: Option<String>,
    /// Custom steps, e.g. `[5, 20, 50, 100]`.
    pub steps: Option<Vec<u8>>,
    /// The canary share.
    pub canary_percentage: Option<u8>,
    /// Promote a canary without waiting.
    pub auto_promote: Option<bool>,
    /// How long each step bakes, e.g. `"3m"`.
    pub bake: Option<String>,
}

/// `[gates]`. Durations are strings such as `"30s"`; rates are in percent.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GatesSection {
    /// Highest error rate (5XX and failed target connections) of the new color, in percent.
    pub max_error_rate: Option<f64>,
    /// Requests needed before the error rate is judged.
    pub min_requests: Option<u64>,
    /// `p99`, `p95`, `Average`...
    pub latency_statistic: Option<String>,
    /// Highest latency, e.g. `"1s"`.
    pub max_latency: Option<String>,
    /// Fewest healthy hosts.
    pub min_healthy_hosts: Option<u32>,
    /// Most unhealthy hosts.
    pub max_unhealthy_hosts: Option<u32>,
    /// CloudWatch alarms that must not be in ALARM.
    pub alarms: Option<Vec<String>>,
    /// Most the new color's error rate may exceed the stable one's, in percentage points.
    pub max_error_rate_increase: Option<f64>,
    /// Most the new color's latency may be as a multiple of the stable one's, e.g. 1.5.
    pub max_latency_increase: Option<f64>,
    /// `wait`, `fail` or `pass`.
    pub on_no_data: Option<String>,
    /// How long `wait` may extend a bake.
    pub max_bake_extension: Option<String>,
    /// How often gates are polled.
    pub poll_interval: Option<String>,
    /// The metrics window.
    pub metric_window: Option<String>,
    /// How far before now the window ends.
    pub metric_lag: Option<String>,
    /// The metric period.
    pub metric_period: Option<String>,
    /// Consecutive failing polls that fail a step.
    pub failure_threshold: Option<u32>,
    /// `sequential` or `threshold`.
    pub judge: Option<String>,
    /// The sequential judge's confidence in percent, e.g. 99.8.
    pub confidence: Option<f64>,
}

/// `[target]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TargetSection {
    /// What moves the traffic: `aws` (default), `haproxy` or `nginx`.
    pub router: Option<String>,
    /// Listener ARN.
    pub listener_arn: Option<String>,
    /// Rule ARN (act on a listener rule instead of the default action).
    pub rule_arn: Option<String>,
    /// Load balancer name (with `port`).
    pub load_balancer: Option<String>,
    /// Listener port.
    pub port: Option<u16>,
    /// Blue target group name or ARN.
    pub blue: Option<String>,
    /// Green target group name or ARN.
    pub green: Option<String>,
    /// Naming convention: environment.
    pub environment: Option<String>,
    /// Naming convention: application.
    pub application: Option<String>,
    /// Load balancers whose routes move in lockstep with this one (default: the route's own, the only
    /// one AWS lets a target group belong to).
    pub lockstep_load_balancers: Option<Vec<String>>,
    /// Routes (listener or rule ARNs) to move although they forward to one of the two groups only.
    pub include_routes: Option<Vec<String>>,
    /// Move only the named route.
    pub single_route: Option<bool>,
    /// Other load balancers' blue/green pairs that move with this route (`[[target.pairs]]`).
    pub pairs: Option<Vec<PairSection>>,
}

/// `[[target.pairs]]`: another load balancer and its own blue and green target groups.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PairSection {
    /// The load balancer's name.
    pub load_balancer: String,
    /// Its blue target group (name or ARN).
    pub blue: String,
    /// Its green target group (name or ARN).
    pub green: String,
}

impl TargetSection {
    /// Which routes move with the named one, from `lockstep-load-balancers`, `include-routes` and
    /// `single-route`.
    pub fn lockstep(&self) -> Result<crate::providers::aws::lockstep::Lockstep, crate::Error> {
        let include = self
            .include_routes
            .iter()
            .flatten()
            .map(|arn| {
                crate::providers::aws::route::RouteId::parse(arn).map_err(|e| {
                    crate::Error::invalid_text(
                        format!("include-routes {arn:?}"),
                        e.to_string(),
                        "Give listener ARNs or listener rule ARNs",
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(crate::providers::aws::lockstep::Lockstep {
            single_route: self.single_route.unwrap_or(false),
            load_balancers: self.lockstep_load_balancers.clone().unwrap_or_default(),
            include,
            pairs: self
                .pairs
                .iter()
                .flatten()
                .map(|p| crate::providers::aws::lockstep::Pair {
                    load_balancer: p.load_balancer.clone(),
                    blue: p.blue.clone(),
                    green: p.green.clone(),
                })
                .collect(),
        })
    }
}

/// `[aws]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AwsSection {
    /// Region.
    pub region: Option<String>,
    /// Shared-config profile.
    pub profile: Option<String>,
    /// Endpoint URL (a local emulator, a VPC endpoint).
    pub endpoint_url: Option<String>,
}

impl FileConfig {
    /// Parses a configuration file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<FileConfig, Error> {
        toml::from_str(text).map_err(|e| file_error(text, origin, &e))
    }

    /// Loads `explicit` (which must exist), or `albflip.toml` in `cwd` when present, or nothing.
    pub fn load(
        explicit: Option<&Path>,
        cwd: &Path,
    ) -> Result<(FileConfig, Option<PathBuf>), Error> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => {
                let p = cwd.join(DEFAULT_FILE);
                if !p.exists() {
                    return Ok((FileConfig::default(), None));
                }
                p
            }
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::invalid(
                crate::input::Input::ConfigFile,
                crate::text!({given crate::input::Input::ConfigFile}, format!(" {}", path.display())),
                format!("cannot read it: {e}"),
                "Pass the path of an existing albflip.toml",
            )
        })?;
        Ok((FileConfig::parse(&text, &path)?, Some(path)))
    }
}

/// A parse error named by file, line, section and key, in the user's terms, with the closest valid key
/// for a misspelt one.
fn file_error(text: &str, origin: &Path, e: &toml::de::Error) -> Error {
    let message = e.message().trim_end();
    let (line_no, line, section) = match e.span() {
        Some(span) => locate(text, span.start),
        None => (0, String::new(), String::new()),
    };
    let key = line
        .split('=')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let place = match (section.is_empty(), key.is_empty() || key.starts_with('[')) {
        (_, true) if !section.is_empty() => format!("{} [{section}]", origin.display()),
        (true, _) => origin.display().to_string(),
        (false, _) => format!("{} [{section}] {key}", origin.display()),
    };
    let at = if line_no > 0 {
        format!(" (line {line_no}: {})", line.trim())
    } else {
        String::new()
    };
    let (why, fix) = match unknown_field(message) {
        Some((bad, valid)) => {
            let fix = match crate::suggest::closest(&bad, &valid).first() {
                Some(c) => format!("Did you mean `{c}`? Valid keys here: {}", valid.join(", ")),
                None => format!("Valid keys here: {}", valid.join(", ")),
            };
            (format!("unknown key `{bad}`{at}"), fix)
        }
        None => (
            format!("{}{at}", plain_types(message)),
            format!("Fix that value: {}", key_hint(&key)),
        ),
    };
    Error::invalid_text(place, why, fix)
}

/// The 1-based line number, the line and the `[section]` above a byte offset.
fn locate(text: &str, offset: usize) -> (usize, String, String) {
    let before = &text[..offset.min(text.len())];
    let line_no = before.matches('\n').count() + 1;
    let line = text
        .lines()
        .nth(line_no - 1)
        .unwrap_or_default()
        .to_string();
    let section = before
        .lines()
        .rev()
        .find_map(|l| {
            l.trim()
                .strip_prefix('[')
                .and_then(|r| r.split(']').next())
                .map(str::to_string)
        })
        .unwrap_or_default();
    (line_no, line, section)
}

/// `unknown field `x`, expected one of `a`, `b`` -> ("x", ["a", "b"]).
fn unknown_field(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (bad, rest) = rest.split_once('`')?;
    let valid = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some((bad.to_string(), valid))
}

/// What a key takes, in words.
fn key_hint(key: &str) -> &'static str {
    match key {
        "steps" => "steps are whole percentages from 1 to 100, strictly increasing, ending at 100, e.g. [10, 25, 50, 100]",
        "canary-percentage" => "a whole percentage from 1 to 99",
        "port" => "a port number from 1 to 65535",
        "max-error-rate" | "max-error-rate-increase" => "a percentage from 0 to 100, e.g. 1.0",
        "max-latency-increase" => "a ratio above 1, e.g. 1.5",
        "judge" => "sequential or threshold",
        "confidence" => "a percentage above 0 and below 100, e.g. 99.8",
        "min-requests" | "min-healthy-hosts" | "max-unhealthy-hosts" | "failure-threshold" => "a whole number of zero or more",
        "auto-promote" => "true or false",
        "alarms" => "a list of alarm names, e.g. [\"shop-p99\"]",
        "bake" | "max-latency" | "max-bake-extension" | "poll-interval" | "metric-window" | "metric-lag" | "metric-period" | "ttl" => {
            "a duration in quotes, e.g. \"30s\" or \"3m\""
        }
        _ => "see the README for every key and its type",
    }
}

/// serde's Rust type names in words.
fn plain_types(message: &str) -> String {
    message
        .replace("expected f64", "expected a number")
        .replace("expected u8", "expected a whole number from 0 to 255")
        .replace("expected u16", "expected a whole number from 0 to 65535")
        .replace("expected u32", "expected a whole number of zero or more")
        .replace("expected u64", "expected a whole number of zero or more")
        .replace("expected a boolean", "expected true or false")
}

/// The test listener's ARN from the file, checked: the file names ALB resources, the engine only carries
/// the id to the provider.
pub(crate) fn checked_listener_arn(arn: &str) -> Result<String, Error> {
    crate::providers::aws::arn::test_listener(arn).map(|a| a.as_str().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sections_and_rejects_unknown_keys() {
        let c = FileConfig::parse(
            "[target]\nenvironment = \"prod\"\napplication = \"shop\"\nport = 8080\n[aws]\nregion = \"eu-west-1\"\n",
            Path::new("albflip.toml"),
        )
        .unwrap();
        assert_eq!(c.target.environment.as_deref(), Some("prod"));
        assert_eq!(c.target.port, Some(8080));
        assert_eq!(c.aws.region.as_deref(), Some("eu-west-1"));
        let c = FileConfig::parse(
            "[strategy]\nstrategy = \"canary\"\nbake = \"5m\"\n[gates]\nmax-error-rate = 0.5\nalarms = [\"a\"]\n",
            Path::new("albflip.toml"),
        )
        .unwrap();
        assert_eq!(c.strategy.strategy.as_deref(), Some("canary"));
        assert_eq!(c.gates.max_error_rate, Some(0.5));
        let err =
            FileConfig::parse("[target]\nlistner-arn = \"x\"\n", Path::new("a.toml")).unwrap_err();
        assert!(err.to_string().contains("listner-arn"), "{err}");
    }

    /// Issue 17: `[[target.pairs]]` gives the lockstep its load balancer pairs.
    #[test]
    fn target_pairs_become_lockstep_pairs() {
        let c = FileConfig::parse(
            "[target]\nenvironment = \"prod\"\napplication = \"shop\"\n[[target.pairs]]\nload-balancer = \"prod-shop-internal-alb\"\nblue = \"i-blue-tg\"\ngreen = \"i-green-tg\"\n",
            Path::new("albflip.toml"),
        )
        .unwrap();
        let lockstep = c.target.lockstep().unwrap();
        assert_eq!(
            lockstep.pairs,
            vec![crate::providers::aws::lockstep::Pair {
                load_balancer: "prod-shop-internal-alb".into(),
                blue: "i-blue-tg".into(),
                green: "i-green-tg".into(),
            }]
        );
    }
}
