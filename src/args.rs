//! The command line as clap parses it: low-level flags, not yet validated against each other or merged
//! with the config file (that is `settings.rs`).

use std::path::PathBuf;

use albflip::model::{Color, Percent};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Move ALB traffic between blue and green target groups, and back.
#[derive(Debug, Parser)]
#[command(name = "albflip", version = VERSION, about, long_about = None, after_help = MAIN_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// The version with the git commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("ALBFLIP_GIT_COMMIT"),
    ")"
);

/// The examples and the exit codes, under the main `--help`.
pub const MAIN_HELP: &str = concat!(
    "Examples:\n",
    "  albflip --environment prod --application shop status\n",
    "  albflip --environment prod --application shop deploy --target green --strategy canary --bake 10m\n",
    "  albflip --environment prod --application shop rollback\n",
    "  albflip --listener-arn ARN watch\n",
    "  albflip man --dir /usr/local/share/man/man1\n",
    "\n",
    "Exit codes: 0 success; 1 runtime error (AWS or state; nothing changed unless the message says so); ",
    "2 usage or invalid input (nothing changed); 3 rolled back because a gate failed; 4 conflict (lock held, drift); ",
    "5 rollback itself failed (a human must act); 130 interrupted."
);

/// `deploy --help`'s examples.
pub const DEPLOY_EXAMPLES: &str = "Examples:
  albflip --environment prod --application shop deploy --target green
  albflip --listener-arn ARN deploy --target green --strategy gradual --steps 5,25,50,100 --bake 5m
  albflip --environment prod --application shop deploy --target green --strategy canary \\
      --canary-percentage 10 --deployment-id-file deployment-id --events-file deploy.ndjson \\
      --report deploy.html --notify https://hooks.slack.com/services/…
  albflip --environment prod --application shop deploy --resume";

/// `rollback --help`'s examples.
pub const ROLLBACK_EXAMPLES: &str = "Examples:
  albflip --environment prod --application shop rollback
  albflip --environment prod --application shop rollback --to blue --dry-run
  albflip --environment prod --application shop rollback --deployment-id \"$(cat deployment-id)\"";

/// `watch --help`'s examples.
pub const WATCH_EXAMPLES: &str = "Examples:
  albflip --environment prod --application shop watch
  albflip --environment prod --application shop watch --deployment-id \"$(cat deployment-id)\" --once";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the route: blue and green, their share, weights, health, stickiness and the stable color.
    Status,
    /// Put a percentage of traffic on one color and the rest on the other.
    Shift(ShiftArgs),
    /// Emergency: all traffic to the stable color (or --to), in one write, no metric queries. When
    /// `albflip cleanup` scaled that color down, it is scaled back up first and albflip waits for its
    /// healthy targets (--force: does not wait).
    #[command(after_help = ROLLBACK_EXAMPLES)]
    Rollback(RollbackArgs),
    /// After a completed deployment: scale the old color's Auto Scaling group to zero, once every route
    /// gives it weight 0 (read back right before the resize). Its capacity is recorded on the route
    /// first, for `albflip rollback`.
    Cleanup(CleanupArgs),
    /// Move traffic to the new color step by step, baking each step under the gates; roll back on failure.
    #[command(after_help = DEPLOY_EXAMPLES)]
    Deploy(DeployArgs),
    /// Finish a canary awaiting promotion: 100 % to the new color, with a final bake under the gates.
    Promote(PromoteArgs),
    /// Print what `deploy` would do (steps, gates, minimum duration, API calls) and write nothing.
    Plan(DeployArgs),
    /// Run the pre-flight checks (route, target groups, health, stickiness, deployment state) and
    /// evaluate the gates once now; print the verdicts and change nothing. Exit 0 when all pass, 1 when
    /// one fails.
    Check(DeployArgs),
    /// Print the resolved configuration and where each value came from (flag, environment,
    /// albflip.toml or default).
    Config(ConfigArgs),
    /// Show who holds the route's deployment lock; with --force, break a stale one.
    Unlock(UnlockArgs),
    /// Follow the deployment the route records (one run elsewhere, by a pipeline), read-only: its step,
    /// the bake's progress, every gate's value against its threshold and the judge's evidence, computed
    /// as the run computes them; exit with the deployment's outcome (0 completed or awaiting promotion,
    /// 3 rolled back, 130 interrupted). Writes nothing and takes no lock.
    #[command(after_help = WATCH_EXAMPLES)]
    Watch(WatchArgs),
    /// The route's last deployments (id, who, when, strategy, outcome, the reason, how long), newest
    /// first, from the lock table (HAProxy, nginx: the state directory's history.json); each finished
    /// deploy, resume and promote adds one.
    History(HistoryArgs),
    /// Print the least-privilege IAM policy (JSON) albflip needs for this route and lock table.
    IamPolicy,
    /// Print a shell completion script: `albflip completions bash > /etc/bash_completion.d/albflip`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `albflip man > /usr/local/share/man/man1/albflip.1`; with --dir, write
    /// a page per subcommand too (albflip.1, albflip-deploy.1, ...), the pages the main one names.
    Man {
        /// Write every page into DIR (e.g. /usr/local/share/man/man1) instead of printing the main one.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// `albflip watch`: the gates and bake to judge the watched step with (the record does not carry them:
/// give the run's own, or share its albflip.toml).
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The bake of each step, as the watched run has it [default: the file's, else 3m].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, env = "ALBFLIP_BAKE")]
    pub bake: Option<std::time::Duration>,
    #[command(flatten)]
    pub gates: GateArgs,
    /// Look once, print and exit (0 while the deployment runs; its outcome's code once it ended).
    #[arg(long)]
    pub once: bool,
    /// Follow this deployment: wait until the route records it (a pipeline's id file), then follow it;
    /// exit 4 when the route records a later one.
    #[arg(long, value_name = "ID", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub deployment_id: Option<String>,
}

/// `albflip history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// How many deployments to show.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// Break the lock shown, whoever holds it (after confirmation); one that changed meanwhile is
    /// left alone (exit 4).
    #[arg(long)]
    pub force: bool,
    /// Confirm without asking (for non-interactive runs).
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyName {
    /// Steps 10, 25, 50, 75, 100 (or --steps).
    Gradual,
    /// 0 -> 100 in one step, then one bake.
    Immediate,
    /// One canary step, one bake, then wait for `albflip promote`.
    Canary,
}

/// Auto Scaling, hooks and the test listener around a deployment.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Capacity, hooks and test traffic")]
pub struct LifecycleArgs {
    /// Raise the new color's Auto Scaling group to the stable color's capacity and wait for that many
    /// healthy targets before the first step [default: true when both groups are known].
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", env = "ALBFLIP_MATCH_CAPACITY")]
    pub match_capacity: Option<bool>,
    /// How long to wait for the new color's healthy targets before giving up (nothing moved) [default: 10m].
    #[arg(long, value_name = "DURATION", env = "ALBFLIP_READY_TIMEOUT")]
    pub ready_timeout: Option<String>,
    /// Scale the old color's group to zero this long after a completed deployment, once every route
    /// shows it at weight 0 (0s: at once) [default: never; see `albflip cleanup`].
    #[arg(long, value_name = "DURATION", env = "ALBFLIP_SCALE_DOWN_DELAY")]
    pub scale_down_delay: Option<String>,
    /// Run COMMAND at STAGE: before-deploy, after-test-traffic, before-step, after-step, after-deploy,
    /// after-rollback (repeatable). A failing hook before or during a step rolls back.
    #[arg(long = "hook", value_name = "STAGE=COMMAND")]
    pub hooks: Vec<String>,
    /// How long a hook may run before it is killed and counted as failed [default: 5m].
    #[arg(long, value_name = "DURATION", env = "ALBFLIP_HOOK_TIMEOUT")]
    pub hook_timeout: Option<String>,
    /// The test listener's port: pointed 100 % at the new color before production traffic moves.
    #[arg(long, value_name = "N", value_parser = parse_port, env = "ALBFLIP_TEST_LISTENER_PORT", conflicts_with = "test_listener_arn")]
    pub test_listener_port: Option<u16>,
    /// The test listener, by ARN.
    #[arg(long, value_name = "ARN", env = "ALBFLIP_TEST_LISTENER_ARN")]
    pub test_listener_arn: Option<String>,
    /// Test traffic on the production listener instead of a test listener: a temporary listener rule
    /// sends requests with this header (NAME=VALUE) to the new color for the whole deployment; the
    /// smoke check sends it, hooks get it as ALBFLIP_TEST_HEADER; removed on every way out.
    #[arg(long, value_name = "NAME=VALUE", env = "ALBFLIP_TEST_HEADER", conflicts_with_all = ["test_listener_port", "test_listener_arn"])]
    pub test_header: Option<String>,
    /// GET this URL through the test listener before production traffic moves; expect 2xx.
    #[arg(long, value_name = "URL", env = "ALBFLIP_SMOKE_URL")]
    pub smoke_url: Option<String>,
    /// After the canary's bake (and after a step written `25:pause` in --steps), keep running with the
    /// gates on for up to this long, until `albflip promote` (from anywhere) or `albflip rollback`;
    /// without it a canary stops awaiting promotion.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, env = "ALBFLIP_WAIT_FOR_PROMOTION")]
    pub wait_for_promotion: Option<std::time::Duration>,
    /// What the wait for promotion does when nobody promotes or rolls back in time.
    #[arg(
        long,
        value_name = "rollback|promote",
        requires = "wait_for_promotion",
        env = "ALBFLIP_ON_TIMEOUT"
    )]
    pub on_timeout: Option<albflip::engine::lifecycle::OnTimeout>,
    /// How many smoke GETs must answer 2xx [default: 1].
    #[arg(long, value_name = "N", env = "ALBFLIP_SMOKE_COUNT")]
    pub smoke_count: Option<u32>,
    /// How long each smoke GET may take [default: 5s].
    #[arg(long, value_name = "DURATION", env = "ALBFLIP_SMOKE_TIMEOUT")]
    pub smoke_timeout: Option<String>,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Timing")]
pub struct BakeArgs {
    /// How long each step bakes under the gates, e.g. 3m, 90s [default: 3m].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "validation_minutes", env = "ALBFLIP_BAKE")]
    pub bake: Option<std::time::Duration>,
    /// The bake in minutes (alias of --bake).
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub validation_minutes: Option<u64>,
    /// A deliberately ungated deployment: no step bakes and no gate is read; the output and the
    /// deployment record say so. A zero --bake is refused without it. (`shift` without --bake is
    /// already the ungated manual shift.)
    #[arg(long, conflicts_with_all = ["bake", "validation_minutes"])]
    pub no_gates: bool,
    /// Write a self-contained HTML report of the run (timeline, chart, gate verdicts, outcome).
    #[arg(
        long,
        value_name = "FILE.html",
        env = "ALBFLIP_REPORT",
        help_heading = "Output"
    )]
    pub report: Option<std::path::PathBuf>,
    /// Write the deployment's id to FILE as soon as it starts (it is printed too), for a pipeline's
    /// `albflip rollback --deployment-id`. Nothing is written when no deployment started.
    #[arg(
        long,
        value_name = "FILE",
        env = "ALBFLIP_DEPLOYMENT_ID_FILE",
        help_heading = "Output"
    )]
    pub deployment_id_file: Option<std::path::PathBuf>,
    /// Also write every event as NDJSON (as `--output json` prints them) to FILE, whatever the output
    /// format: the console keeps the lines for people, a machine reads the file.
    #[arg(
        long,
        value_name = "FILE.ndjson",
        env = "ALBFLIP_EVENTS_FILE",
        help_heading = "Output"
    )]
    pub events_file: Option<std::path::PathBuf>,
    /// POST a JSON notification (with a Slack-compatible `text`) to URL when the deployment starts,
    /// passes a step, rolls back, completes or awaits promotion (repeatable). A failed notification is
    /// a warning; URLs are never printed [default: albflip.toml [notify] urls].
    #[arg(
        long = "notify",
        value_name = "URL",
        env = "ALBFLIP_NOTIFY",
        value_delimiter = ',',
        hide_env_values = true,
        help_heading = "Output"
    )]
    pub notify: Vec<String>,
    /// On SIGINT/SIGTERM (a Jenkins abort): put traffic back on the stable color, or hold it where it is.
    /// Either way the state is recorded and albflip exits 130; a second signal does not cut the
    /// rollback short, a third exits at once (saying how to put traffic back).
    #[arg(
        long,
        value_enum,
        default_value = "rollback",
        env = "ALBFLIP_ON_INTERRUPT"
    )]
    pub on_interrupt: InterruptArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InterruptArg {
    /// Traffic back to the stable color.
    Rollback,
    /// Leave the weights as they are.
    Hold,
}

impl BakeArgs {
    pub fn duration(&self) -> Option<std::time::Duration> {
        self.bake.or(self
            .validation_minutes
            .map(|m| std::time::Duration::from_secs(m * 60)))
    }
}

/// Gate thresholds and polling; each also comes from `ALBFLIP_*` and `albflip.toml` `[gates]`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Gates")]
pub struct GateArgs {
    /// Highest error rate (5XX and failed target connections) of the new color, in percent [default: 1].
    #[arg(long, value_name = "PCT", env = "ALBFLIP_MAX_ERROR_RATE", value_parser = parse_percent_value)]
    pub max_error_rate: Option<f64>,
    /// Requests the window must hold before the error rate is judged [default: 50].
    #[arg(long, value_name = "N", env = "ALBFLIP_MIN_REQUESTS", value_parser = parse_count)]
    pub min_requests: Option<u64>,
    /// TargetResponseTime statistic: p99, p95, p99.9, Average, Maximum [default: p99].
    #[arg(long, value_name = "STAT", env = "ALBFLIP_LATENCY_STATISTIC")]
    pub latency_statistic: Option<String>,
    /// Highest latency [default: 1s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, env = "ALBFLIP_MAX_LATENCY")]
    pub max_latency: Option<std::time::Duration>,
    /// Fewest healthy targets of the new color: before traffic moves to it (pre-flight) and its
    /// HealthyHostCount while each step bakes [default: 1].
    #[arg(long, value_name = "N", env = "ALBFLIP_MIN_HEALTHY_HOSTS", value_parser = parse_count32)]
    pub min_healthy_hosts: Option<u32>,
    /// Most UnHealthyHostCount of the new color [default: 0].
    #[arg(long, value_name = "N", env = "ALBFLIP_MAX_UNHEALTHY_HOSTS", value_parser = parse_count32)]
    pub max_unhealthy_hosts: Option<u32>,
    /// A CloudWatch alarm that must not be in ALARM (repeatable).
    #[arg(
        long = "alarm",
        value_name = "NAME",
        env = "ALBFLIP_ALARMS",
        value_delimiter = ','
    )]
    pub alarms: Vec<String>,
    /// Most the new color's error rate may exceed the stable color's, in percentage points [default: 0.5].
    #[arg(long, value_name = "PP", env = "ALBFLIP_MAX_ERROR_RATE_INCREASE", value_parser = parse_percent_value)]
    pub max_error_rate_increase: Option<f64>,
    /// Most the new color's latency statistic may be as a multiple of the stable color's in the same
    /// window, a ratio above 1 such as 1.5 or 1.5x [default: 2].
    #[arg(long, value_name = "RATIO", env = "ALBFLIP_MAX_LATENCY_INCREASE", value_parser = parse_ratio)]
    pub max_latency_increase: Option<f64>,
    /// Which judge decides the error rate and the comparisons with the stable color: sequential
    /// (anytime-valid tests over the step's periods) or threshold (the window against the thresholds
    /// at every poll) [default: sequential].
    #[arg(long, value_name = "sequential|threshold", env = "ALBFLIP_JUDGE")]
    pub judge: Option<String>,
    /// The sequential judge's confidence in percent; a healthy step fails at most 100 minus this
    /// percent of the time [default: 99.8].
    #[arg(long, value_name = "PERCENT", env = "ALBFLIP_CONFIDENCE", value_parser = parse_percent_value)]
    pub confidence: Option<f64>,
    /// Without enough requests: keep baking (wait), fail the step, or pass it [default: wait].
    #[arg(long, value_name = "wait|fail|pass", env = "ALBFLIP_ON_NO_DATA")]
    pub on_no_data: Option<String>,
    /// How long `wait` may extend a bake for data [default: the bake].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, env = "ALBFLIP_MAX_BAKE_EXTENSION", help_heading = "Timing")]
    pub max_bake_extension: Option<std::time::Duration>,
    /// How often the gates are polled [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, env = "ALBFLIP_POLL_INTERVAL", help_heading = "Timing")]
    pub poll_interval: Option<std::time::Duration>,
    /// The metrics window [default: 5m].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, env = "ALBFLIP_METRIC_WINDOW", help_heading = "Timing")]
    pub metric_window: Option<std::time::Duration>,
    /// How far before now the window ends; CloudWatch publishes ALB data late [default: 60s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, env = "ALBFLIP_METRIC_LAG", help_heading = "Timing")]
    pub metric_lag: Option<std::time::Duration>,
    /// The metric period [default: 60s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, env = "ALBFLIP_METRIC_PERIOD", help_heading = "Timing")]
    pub metric_period: Option<std::time::Duration>,
    /// Consecutive failing polls that fail a step [default: 1].
    #[arg(long, value_name = "N", env = "ALBFLIP_FAILURE_THRESHOLD", value_parser = parse_count32)]
    pub failure_threshold: Option<u32>,
}

/// A color, parsed as the library parses it, with `blue` and `green` as its possible values for shell
/// completions.
#[derive(Debug, Clone, Copy)]
pub struct ColorParser;

impl clap::builder::TypedValueParser for ColorParser {
    type Value = Color;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Color, clap::Error> {
        clap::builder::StringValueParser::new()
            .try_map(|s| s.parse::<Color>())
            .parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            Color::ALL
                .into_iter()
                .map(|c| clap::builder::PossibleValue::new(c.as_str())),
        ))
    }
}

/// A duration such as `30s`, `3m` or `1h30m`.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("{s:?} is not a duration ({e}): use e.g. 30s, 3m or 1h30m"))
}

/// A whole number of zero or more.
fn parse_count(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<u64>()
        .map_err(|_| format!("{s:?} is not a whole number of zero or more"))
}

/// A whole number of zero or more that fits 32 bits.
fn parse_count32(s: &str) -> Result<u32, String> {
    parse_count(s).and_then(|v| u32::try_from(v).map_err(|_| format!("{s:?} is too large")))
}

/// A TCP port, 1..=65535.
fn parse_pair(s: &str) -> Result<albflip::aws::lockstep::Pair, String> {
    s.parse()
}

fn parse_port(s: &str) -> Result<u16, String> {
    s.trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("{s:?} is not a port number from 1 to 65535"))
}

/// A number of percent, with or without a trailing `%`, 0..=100.
fn parse_percent_value(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("{s:?} is not a number of percent"))?;
    if (0.0..=100.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{s:?} is outside 0..=100 percent"))
    }
}

/// A ratio such as `1.5`, with or without a trailing `x`; whether it is above 1 is checked with the
/// other settings, so the message names where the value came from.
fn parse_ratio(s: &str) -> Result<f64, String> {
    let t = s.trim();
    t.strip_suffix(['x', 'X'])
        .unwrap_or(t)
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("{s:?} is not a ratio: use e.g. 1.5 or 1.5x"))
}

/// How to move traffic; also from `ALBFLIP_*` and `albflip.toml` `[strategy]`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Strategy")]
pub struct StrategyArgs {
    /// How to move traffic [default: gradual].
    #[arg(long, value_enum, env = "ALBFLIP_STRATEGY")]
    pub strategy: Option<StrategyName>,
    /// Custom steps for gradual, e.g. 5,20,50,100 (strictly increasing, 1-100, last 100).
    #[arg(long, value_name = "LIST", env = "ALBFLIP_STEPS")]
    pub steps: Option<String>,
    /// The canary share [default: 10].
    #[arg(long, value_name = "P", env = "ALBFLIP_CANARY_PERCENTAGE")]
    pub canary_percentage: Option<Percent>,
    /// Promote a canary without waiting for `albflip promote`.
    #[arg(long)]
    pub auto_promote: bool,
}

/// `albflip config`: the settings a deployment would use.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub strategy: StrategyArgs,
    #[command(flatten)]
    pub bake: BakeArgs,
    #[command(flatten)]
    pub gates: GateArgs,
    #[command(flatten)]
    pub lifecycle: LifecycleArgs,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The new color: the one that receives traffic (with --resume: taken from the record).
    #[arg(long, value_name = "blue|green", value_parser = ColorParser, required_unless_present = "resume")]
    pub target: Option<Color>,
    #[command(flatten)]
    pub strategy: StrategyArgs,
    #[command(flatten)]
    pub bake: BakeArgs,
    #[command(flatten)]
    pub gates: GateArgs,
    /// Print the plan and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Start even if the new color has no healthy targets.
    #[arg(long)]
    pub force: bool,
    /// Continue the deployment recorded as in progress or interrupted (after kill -9 or a lost agent),
    /// from its recorded step, re-running that step's bake. --target and the strategy come from the record.
    #[arg(long)]
    pub resume: bool,
    /// When the live split is not what albflip last wrote (someone changed it), continue from the live
    /// value instead of stopping with exit 4.
    #[arg(long, env = "ALBFLIP_ADOPT_DRIFT")]
    pub adopt_drift: bool,
    #[command(flatten)]
    pub lifecycle: LifecycleArgs,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    #[command(flatten)]
    pub bake: BakeArgs,
    #[command(flatten)]
    pub gates: GateArgs,
    #[command(flatten)]
    pub lifecycle: LifecycleArgs,
    /// Print the plan and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ShiftArgs {
    /// The color to shift traffic to.
    #[arg(long, value_name = "blue|green", value_parser = ColorParser)]
    pub target: Color,
    /// The share of traffic the target color gets (0-100); the other color gets the rest.
    #[arg(long, value_name = "P", allow_negative_numbers = true)]
    pub percentage: Percent,
    /// With --bake (or --validation-minutes) the shift is a gated step: it bakes under the gates and
    /// rolls back to the stable color if one fails. Without, it is a plain shift.
    #[command(flatten)]
    pub bake: BakeArgs,
    #[command(flatten)]
    pub gates: GateArgs,
    /// Print the change and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Shift even if the color that gains traffic has no healthy targets.
    #[arg(long)]
    pub force: bool,
    /// Shift even though a deployment is in flight on the route (in progress, a canary awaiting
    /// promotion, interrupted with traffic held), taking the route over from it; without it such a
    /// shift is refused with exit 4.
    #[arg(long)]
    pub take_over: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Send all traffic to this color instead of the stable one.
    #[arg(long, value_name = "blue|green", value_parser = ColorParser)]
    pub to: Option<Color>,
    /// Roll back only this deployment (the id `deploy` printed and wrote to --deployment-id-file):
    /// when the route records another one, or none, refuse with exit 4 and write nothing.
    #[arg(long, value_name = "ID", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub deployment_id: Option<String>,
    /// Roll back even if that color has no healthy targets; when its Auto Scaling group was scaled
    /// down, scale it back up but move traffic without waiting for healthy targets.
    #[arg(long)]
    pub force: bool,
    /// Print the change and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How long to wait for the healthy targets of a color scaled back up before giving up (no traffic
    /// moved) [default: 10m].
    #[arg(long, value_name = "DURATION", env = "ALBFLIP_READY_TIMEOUT")]
    pub ready_timeout: Option<String>,
}

#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Print what would be scaled and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Lines for people.
    Text,
    /// One JSON object (errors too) on stdout.
    Json,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "AWS")]
pub struct GlobalArgs {
    /// Blue's Auto Scaling group [default: the group registered with blue's target group].
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        env = "ALBFLIP_BLUE_ASG",
        help_heading = "Capacity, hooks and test traffic"
    )]
    pub blue_asg: Option<String>,
    /// Green's Auto Scaling group [default: the group registered with green's target group].
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        env = "ALBFLIP_GREEN_ASG",
        help_heading = "Capacity, hooks and test traffic"
    )]
    pub green_asg: Option<String>,
    /// The ECS cluster whose services are the colors' capacity, instead of Auto Scaling groups.
    #[arg(
        long,
        global = true,
        value_name = "NAME|ARN",
        env = "ALBFLIP_ECS_CLUSTER",
        help_heading = "Capacity, hooks and test traffic"
    )]
    pub ecs_cluster: Option<String>,
    /// Blue's ECS service (with --ecs-cluster) [default: the service whose load balancers name blue's
    /// target group].
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        env = "ALBFLIP_BLUE_SERVICE",
        help_heading = "Capacity, hooks and test traffic"
    )]
    pub blue_service: Option<String>,
    /// Green's ECS service (with --ecs-cluster) [default: the service whose load balancers name
    /// green's target group].
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        env = "ALBFLIP_GREEN_SERVICE",
        help_heading = "Capacity, hooks and test traffic"
    )]
    pub green_service: Option<String>,
    /// Configuration file [default: ./albflip.toml when present].
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "ALBFLIP_CONFIG",
        help_heading = "Lock and configuration"
    )]
    pub config: Option<PathBuf>,
    /// AWS region.
    #[arg(long, global = true, env = "ALBFLIP_REGION")]
    pub region: Option<String>,
    /// AWS shared-config profile.
    #[arg(long, global = true, env = "ALBFLIP_PROFILE")]
    pub profile: Option<String>,
    /// AWS endpoint URL (a local emulator); AWS_ENDPOINT_URL works too.
    #[arg(long, global = true, value_name = "URL", env = "ALBFLIP_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Output format.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "ALBFLIP_OUTPUT",
        help_heading = "Output"
    )]
    pub output: OutputFormat,
    /// Print only errors.
    #[arg(
        short,
        long,
        global = true,
        conflicts_with = "verbose",
        help_heading = "Output"
    )]
    pub quiet: bool,
    /// DynamoDB table for the deployment lock (one run per listener at a time).
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        env = "ALBFLIP_LOCK_TABLE",
        help_heading = "Lock and configuration"
    )]
    pub lock_table: Option<String>,
    /// How long the lock lasts unless renewed (it is renewed every third of this) [default: 2m].
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration, env = "ALBFLIP_LOCK_TTL", help_heading = "Lock and configuration")]
    pub lock_ttl: Option<std::time::Duration>,
    /// Print more: API calls made, debug logs (-vv).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = "Output")]
    pub verbose: u8,
    /// What moves the traffic: an AWS Application Load Balancer, or HAProxy through its runtime API
    /// [default: aws; albflip.toml [target] router].
    #[arg(
        long,
        global = true,
        value_enum,
        env = "ALBFLIP_ROUTER",
        help_heading = "Router"
    )]
    pub router: Option<RouterArg>,
    /// HAProxy's runtime API: a unix socket (`stats socket PATH level admin`) or tcp:HOST:PORT.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        env = "ALBFLIP_HAPROXY_SOCKET",
        help_heading = "Router"
    )]
    pub haproxy_socket: Option<String>,
    /// The HAProxy backend whose blue and green servers share the traffic.
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        env = "ALBFLIP_HAPROXY_BACKEND",
        help_heading = "Router"
    )]
    pub haproxy_backend: Option<String>,
    /// The nginx upstream file albflip owns and rewrites (your nginx.conf includes it).
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "ALBFLIP_NGINX_UPSTREAM_FILE",
        help_heading = "Router"
    )]
    pub nginx_upstream_file: Option<PathBuf>,
    /// The upstream block in that file whose blue and green servers share the traffic.
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        env = "ALBFLIP_NGINX_UPSTREAM",
        help_heading = "Router"
    )]
    pub nginx_upstream: Option<String>,
    /// nginx's access log, written in albflip's JSON log_format (the README's nginx section).
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "ALBFLIP_NGINX_ACCESS_LOG",
        help_heading = "Router"
    )]
    pub nginx_access_log: Option<PathBuf>,
    /// The command that reloads nginx, run by sh -c [default: nginx -s reload].
    #[arg(
        long,
        global = true,
        value_name = "CMD",
        env = "ALBFLIP_NGINX_RELOAD_COMMAND",
        help_heading = "Router"
    )]
    pub nginx_reload_command: Option<String>,
    /// The command that tests nginx's configuration, run by sh -c [default: nginx -t].
    #[arg(
        long,
        global = true,
        value_name = "CMD",
        env = "ALBFLIP_NGINX_TEST_COMMAND",
        help_heading = "Router"
    )]
    pub nginx_test_command: Option<String>,
    /// nginx's pid file, to check that a reload started new workers [default: /run/nginx.pid].
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "ALBFLIP_NGINX_PID_FILE",
        help_heading = "Router"
    )]
    pub nginx_pid_file: Option<PathBuf>,
    /// With --router nginx, the path each server answers health probes on [default: /].
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        env = "ALBFLIP_HEALTH_PATH",
        help_heading = "Router"
    )]
    pub health_path: Option<String>,
    /// Where a router on this host (HAProxy, nginx) keeps albflip's state file, lock and history
    /// [default: /var/lib/albflip].
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        env = "ALBFLIP_STATE_DIR",
        help_heading = "Router"
    )]
    pub state_dir: Option<PathBuf>,
}

/// What moves the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RouterArg {
    /// An AWS Application Load Balancer.
    Aws,
    /// HAProxy, through its runtime API.
    Haproxy,
    /// nginx, through the upstream file albflip owns and a reload.
    Nginx,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Route")]
pub struct TargetArgs {
    /// The listener whose default action to shift.
    #[arg(long, global = true, value_name = "ARN", env = "ALBFLIP_LISTENER_ARN", conflicts_with_all = ["load_balancer", "rule_arn"])]
    pub listener_arn: Option<String>,
    /// A listener rule to shift instead of a default action.
    #[arg(
        long,
        global = true,
        value_name = "ARN",
        env = "ALBFLIP_RULE_ARN",
        conflicts_with = "load_balancer"
    )]
    pub rule_arn: Option<String>,
    /// The load balancer, by name (with --port). Repeat it to move the routes of several load balancers
    /// in lockstep: the first names the route, all are searched for routes to blue and green [default:
    /// the route's own load balancer, the only one AWS lets a target group belong to].
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        env = "ALBFLIP_LOAD_BALANCER",
        value_delimiter = ','
    )]
    pub load_balancer: Vec<String>,
    /// Move this route (listener or rule ARN) in lockstep too, although it forwards to only one of the
    /// two target groups (repeatable).
    #[arg(
        long,
        global = true,
        value_name = "ARN",
        env = "ALBFLIP_INCLUDE_ROUTE",
        value_delimiter = ','
    )]
    pub include_route: Vec<String>,
    /// Move only the named route, not the other listeners and rules that forward to the same target
    /// groups.
    #[arg(long, global = true, env = "ALBFLIP_SINGLE_ROUTE")]
    pub single_route: bool,
    /// Another load balancer with its own blue and green target groups (an internal and an
    /// internet-facing ALB in front of the same versions): its routes to them move with this one, the
    /// gates read its metrics too, and a rollback puts it back (repeatable).
    #[arg(
        long,
        global = true,
        value_name = "LOAD_BALANCER,BLUE,GREEN",
        value_parser = parse_pair
    )]
    pub pair: Vec<albflip::aws::lockstep::Pair>,
    /// Leave group stickiness on when rolling back. By default a rollback turns it off in the same
    /// write (sticky clients would stay on the old color until their cookie expires), records the
    /// setting, and the next shift or deploy turns it back on.
    #[arg(long, global = true, env = "ALBFLIP_KEEP_STICKINESS")]
    pub keep_stickiness: bool,
    /// The listener port [default: 80].
    #[arg(long, global = true, value_name = "N", env = "ALBFLIP_PORT", value_parser = parse_port)]
    pub port: Option<u16>,
    /// The blue target group (name or ARN) [default: detected]; with --router haproxy, blue's servers
    /// in the backend, comma-separated (--router nginx: HOST:PORT as in the upstream).
    #[arg(
        long,
        global = true,
        value_name = "NAME|ARN|SERVERS",
        env = "ALBFLIP_BLUE"
    )]
    pub blue: Option<String>,
    /// The green target group (name or ARN) [default: detected]; with --router haproxy, green's
    /// servers in the backend, comma-separated (--router nginx: HOST:PORT as in the upstream).
    #[arg(
        long,
        global = true,
        value_name = "NAME|ARN|SERVERS",
        env = "ALBFLIP_GREEN"
    )]
    pub green: Option<String>,
    /// Naming convention: load balancer {E}-{A}-alb, target groups {E}-{A}-blue-tg / -green-tg.
    #[arg(
        long,
        global = true,
        value_name = "E",
        env = "ALBFLIP_ENVIRONMENT",
        requires = "application"
    )]
    pub environment: Option<String>,
    /// Naming convention: the application (with --environment).
    #[arg(
        long,
        global = true,
        value_name = "A",
        env = "ALBFLIP_APPLICATION",
        requires = "environment"
    )]
    pub application: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Issue 21: `--help` groups the options under headings and shows examples.
    #[test]
    fn help_groups_options_and_shows_examples() {
        let mut cmd = Cli::command();
        // Global options reach the subcommands once the command is built, as when parsing.
        cmd.build();
        let help = cmd
            .find_subcommand_mut("deploy")
            .expect("deploy")
            .render_long_help()
            .to_string();
        for heading in [
            "Route:",
            "Strategy:",
            "Gates:",
            "Timing:",
            "Output:",
            "AWS:",
        ] {
            assert!(help.contains(heading), "no {heading} in: {help}");
        }
        assert!(help.contains("Examples:\n  albflip"), "{help}");
        let gates = help.split("Gates:").nth(1).unwrap_or_default();
        let gates = gates.split("\n\n").next().unwrap_or_default();
        assert!(gates.contains("--max-error-rate"), "{gates}");
        let main = Cli::command().render_long_help().to_string();
        assert!(
            main.contains("Examples:") && main.contains("Exit codes:"),
            "{main}"
        );
    }
}
