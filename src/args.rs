//! The command line as clap parses it: low-level flags, not yet validated against each other or merged
//! with the config file (that is `settings.rs`).

use std::path::PathBuf;

use albflip::model::{Color, Percent};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Move ALB traffic between blue and green target groups, and back.
#[derive(Debug, Parser)]
#[command(name = "albflip", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// The exit codes, shown under `--help`.
pub const EXIT_CODES: &str = "Exit codes: 0 success; 1 runtime error (AWS or state; nothing changed unless the message says so); \
2 usage or invalid input (nothing changed); 3 rolled back because a gate failed; 4 conflict (lock held, drift); \
5 rollback itself failed (a human must act); 130 interrupted.";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the route: blue and green, their share, weights, health, stickiness and the stable color.
    Status,
    /// Put a percentage of traffic on one color and the rest on the other.
    Shift(ShiftArgs),
    /// Emergency: all traffic to the stable color (or --to), in one read and one write.
    Rollback(RollbackArgs),
}

#[derive(Debug, Args)]
pub struct ShiftArgs {
    /// The color to shift traffic to.
    #[arg(long, value_name = "blue|green")]
    pub target: Color,
    /// The share of traffic the target color gets (0-100); the other color gets the rest.
    #[arg(long, value_name = "P", allow_negative_numbers = true)]
    pub percentage: Percent,
    /// How long the step bakes under the gates (the gate window), e.g. 3m, 90s.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, conflicts_with = "validation_minutes")]
    pub bake: Option<std::time::Duration>,
    /// The gate window in minutes (alias of --bake).
    #[arg(long, value_name = "N")]
    pub validation_minutes: Option<u64>,
    /// Print the change and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Shift even if the color that gains traffic has no healthy targets.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Send all traffic to this color instead of the stable one.
    #[arg(long, value_name = "blue|green")]
    pub to: Option<Color>,
    /// Roll back even if that color has no healthy targets.
    #[arg(long)]
    pub force: bool,
    /// Print the change and write nothing.
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
pub struct GlobalArgs {
    /// Configuration file [default: ./albflip.toml when present].
    #[arg(long, global = true, value_name = "FILE", env = "ALBFLIP_CONFIG")]
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
        env = "ALBFLIP_OUTPUT"
    )]
    pub output: OutputFormat,
    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more: API calls made, debug logs (-vv).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Args)]
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
    /// The load balancer, by name (with --port).
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        env = "ALBFLIP_LOAD_BALANCER"
    )]
    pub load_balancer: Option<String>,
    /// The listener port [default: 80].
    #[arg(long, global = true, value_name = "N", env = "ALBFLIP_PORT")]
    pub port: Option<u16>,
    /// The blue target group (name or ARN) [default: detected].
    #[arg(long, global = true, value_name = "NAME|ARN", env = "ALBFLIP_BLUE")]
    pub blue: Option<String>,
    /// The green target group (name or ARN) [default: detected].
    #[arg(long, global = true, value_name = "NAME|ARN", env = "ALBFLIP_GREEN")]
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
