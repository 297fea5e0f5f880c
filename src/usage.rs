//! Which subcommand uses which global option. The route, AWS, router, lock and output options are
//! global (given before or after the subcommand), but no subcommand uses them all: `status` never
//! rolls back, so `--keep-stickiness` means nothing to it. One table, [`USES`], says what each
//! subcommand uses, by [`Group`]; from it:
//!
//! - [`command`]: the clap command whose subcommands' `--help` and man pages show only those options
//!   (the others are hidden, not removed: parsing is unchanged);
//! - [`for_completions`]: the same command with the others left out, for the completion scripts;
//! - [`forget_unused`]: before a subcommand runs, every option it does not use is put back to its
//!   default, so an option its help does not show cannot change what it does (a value given anyway,
//!   by a flag or an `ALBFLIP_*` variable a pipeline sets for every command, is accepted and ignored).
//!
//! `--router` is the one exception to the forgetting: it decides where a command runs, and a command
//! that runs on the ALB only refuses it (exit 2) rather than ignore it.

use clap::{Arg, Command, CommandFactory};

use crate::args::{Cli, OutputFormat};

/// A family of global options that subcommands use together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// The route: listener, rule, load balancer and port, the two colors, the naming convention.
    Route,
    /// The routes that move with it: `--include-route`, `--single-route`, `--pair`.
    Lockstep,
    /// `--keep-stickiness`: what a rollback does to group stickiness.
    Stickiness,
    /// The colors' capacity: Auto Scaling groups, ECS cluster and services.
    Capacity,
    /// `--lock-table`: the DynamoDB lock table (and the history in it).
    LockTable,
    /// `--lock-ttl`: the lease of a run that takes the lock.
    Lease,
    /// `--config`.
    Config,
    /// `--region`, `--profile`, `--endpoint-url`.
    Aws,
    /// `--output`, `--quiet`, `--verbose`.
    Output,
    /// `--router` and the HAProxy and nginx options, `--state-dir`.
    Router,
}

use Group::*;

/// Every group a deployment uses.
const ALL: &[Group] = &[
    Route, Lockstep, Stickiness, Capacity, LockTable, Lease, Config, Aws, Output, Router,
];

/// What each subcommand uses. `status`, `plan` and `check` read the capacity (holds, the plan's and
/// the pre-flight's capacity); only the runs that can roll back read `--keep-stickiness`; only the
/// runs that take the lock read its lease; `rollback` never waits for the lock.
pub const USES: &[(&str, &[Group])] = &[
    (
        "status",
        &[Route, Lockstep, Capacity, Config, Aws, Output, Router],
    ),
    ("shift", ALL),
    (
        "rollback",
        &[
            Route, Lockstep, Stickiness, Capacity, Config, Aws, Output, Router,
        ],
    ),
    (
        "cleanup",
        &[
            Route, Lockstep, Capacity, LockTable, Lease, Config, Aws, Output,
        ],
    ),
    ("deploy", ALL),
    ("promote", ALL),
    (
        "plan",
        &[Route, Lockstep, Capacity, Config, Aws, Output, Router],
    ),
    (
        "check",
        &[Route, Lockstep, Capacity, Config, Aws, Output, Router],
    ),
    ("config", &[Route, Capacity, LockTable, Config, Aws, Output]),
    ("unlock", &[Route, LockTable, Config, Aws, Output, Router]),
    ("watch", &[Route, Lockstep, Config, Aws, Output]),
    ("history", &[Route, LockTable, Config, Aws, Output, Router]),
    (
        "iam-policy",
        &[Route, Lockstep, Capacity, LockTable, Config, Aws, Output],
    ),
    ("completions", &[]),
    ("man", &[]),
];

/// The group of a global option, by its clap id; `None` for an id that is not a global option.
pub fn group(id: &str) -> Option<Group> {
    Some(match id {
        "listener_arn" | "rule_arn" | "load_balancer" | "port" | "blue" | "green"
        | "environment" | "application" => Route,
        "include_route" | "single_route" | "pair" => Lockstep,
        "keep_stickiness" => Stickiness,
        "blue_asg" | "green_asg" | "ecs_cluster" | "blue_service" | "green_service" => Capacity,
        "lock_table" => LockTable,
        "lock_ttl" => Lease,
        "config" => Config,
        "region" | "profile" | "endpoint_url" => Aws,
        "output" | "quiet" | "verbose" => Output,
        "router"
        | "haproxy_socket"
        | "haproxy_backend"
        | "nginx_upstream_file"
        | "nginx_upstream"
        | "nginx_access_log"
        | "nginx_reload_command"
        | "nginx_test_command"
        | "nginx_pid_file"
        | "health_path"
        | "state_dir" => Router,
        _ => return None,
    })
}

/// Whether subcommand `sub` uses the global option `id`.
pub fn uses(sub: &str, id: &str) -> bool {
    let groups = USES
        .iter()
        .find(|(name, _)| *name == sub)
        .map_or(ALL, |(_, g)| *g);
    group(id).is_some_and(|g| groups.contains(&g))
}

/// The global options, as clap has them.
fn globals(cmd: &Command) -> Vec<Arg> {
    cmd.get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect()
}

/// The command line, with each subcommand's unused global options hidden from its help and man page.
/// A hidden copy placed in the subcommand takes the place of the one clap would propagate, so
/// parsing is exactly as before.
pub fn command() -> Command {
    let mut cmd = Cli::command();
    let globals = globals(&cmd);
    for (sub, _) in USES {
        cmd = cmd.mut_subcommand(*sub, |mut s| {
            for a in globals.iter().filter(|a| !uses(sub, a.get_id().as_str())) {
                s = s.arg(a.clone().hide(true));
            }
            s
        });
    }
    cmd
}

/// The command line for the completion scripts: the global options complete before the subcommand,
/// and after it only those the subcommand uses (clap's generators complete hidden options too, so
/// the others are left out).
pub fn for_completions() -> Command {
    let mut cmd = Cli::command();
    let globals = globals(&cmd);
    for a in &globals {
        cmd = cmd.mut_arg(a.get_id().clone(), |a| a.global(false));
    }
    for (sub, _) in USES {
        cmd = cmd.mut_subcommand(*sub, |mut s| {
            for a in globals.iter().filter(|a| uses(sub, a.get_id().as_str())) {
                s = s.arg(a.clone().global(false));
            }
            s
        });
    }
    cmd
}

/// Puts every global option the subcommand does not use back to its default (except `--router`,
/// which decides where the command runs): what its help does not show cannot change what it does.
pub fn forget_unused(cli: &mut Cli) {
    let sub = command_name(&cli.command);
    let ids: Vec<String> = globals(&Cli::command())
        .iter()
        .map(|a| a.get_id().to_string())
        .filter(|id| id != "router" && !uses(sub, id))
        .collect();
    for id in ids {
        forget(cli, &id);
    }
}

/// The subcommand's name, as clap spells it.
pub fn command_name(command: &crate::args::Command) -> &'static str {
    use crate::args::Command as C;
    match command {
        C::Status => "status",
        C::Shift(_) => "shift",
        C::Rollback(_) => "rollback",
        C::Cleanup(_) => "cleanup",
        C::Deploy(_) => "deploy",
        C::Promote(_) => "promote",
        C::Plan(_) => "plan",
        C::Check(_) => "check",
        C::Config(_) => "config",
        C::Unlock(_) => "unlock",
        C::Watch(_) => "watch",
        C::History(_) => "history",
        C::IamPolicy => "iam-policy",
        C::Completions { .. } => "completions",
        C::Man { .. } => "man",
    }
}

/// Puts one global option back to its default; false for an id it does not know.
fn forget(cli: &mut Cli, id: &str) -> bool {
    let (g, t) = (&mut cli.global, &mut cli.target);
    match id {
        "listener_arn" => t.listener_arn = None,
        "rule_arn" => t.rule_arn = None,
        "load_balancer" => t.load_balancer.clear(),
        "port" => t.port = None,
        "blue" => t.blue = None,
        "green" => t.green = None,
        "environment" => t.environment = None,
        "application" => t.application = None,
        "include_route" => t.include_route.clear(),
        "single_route" => t.single_route = false,
        "pair" => t.pair.clear(),
        "keep_stickiness" => t.keep_stickiness = false,
        "blue_asg" => g.blue_asg = None,
        "green_asg" => g.green_asg = None,
        "ecs_cluster" => g.ecs_cluster = None,
        "blue_service" => g.blue_service = None,
        "green_service" => g.green_service = None,
        "lock_table" => g.lock_table = None,
        "lock_ttl" => g.lock_ttl = None,
        "config" => g.config = None,
        "region" => g.region = None,
        "profile" => g.profile = None,
        "endpoint_url" => g.endpoint_url = None,
        "output" => g.output = OutputFormat::Text,
        "quiet" => g.quiet = false,
        "verbose" => g.verbose = 0,
        "router" => g.router = None,
        "haproxy_socket" => g.haproxy_socket = None,
        "haproxy_backend" => g.haproxy_backend = None,
        "nginx_upstream_file" => g.nginx_upstream_file = None,
        "nginx_upstream" => g.nginx_upstream = None,
        "nginx_access_log" => g.nginx_access_log = None,
        "nginx_reload_command" => g.nginx_reload_command = None,
        "nginx_test_command" => g.nginx_test_command = None,
        "nginx_pid_file" => g.nginx_pid_file = None,
        "health_path" => g.health_path = None,
        "state_dir" => g.state_dir = None,
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The long options a subcommand's help shows.
    fn shown(sub: &str) -> Vec<String> {
        let mut cmd = command();
        cmd.build();
        let s = cmd.find_subcommand(sub).expect("subcommand");
        s.get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect()
    }

    fn help(sub: &str) -> String {
        let mut cmd = command();
        cmd.build();
        cmd.find_subcommand_mut(sub)
            .expect("subcommand")
            .render_long_help()
            .to_string()
    }

    /// The lines under `heading`, up to the next heading.
    fn section(help: &str, heading: &str) -> String {
        help.lines()
            .skip_while(|l| *l != heading)
            .skip(1)
            .take_while(|l| !(l.ends_with(':') && l.starts_with(|c: char| c.is_ascii_uppercase())))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn every_subcommand_is_in_the_table_and_every_global_option_has_a_group() {
        let cmd = Cli::command();
        let subs: Vec<&str> = cmd.get_subcommands().map(|s| s.get_name()).collect();
        let table: Vec<&str> = USES.iter().map(|(s, _)| *s).collect();
        assert_eq!(subs, table);
        let mut cli = Cli::parse_from(["albflip", "status"]);
        for a in globals(&cmd) {
            let id = a.get_id().as_str();
            assert!(group(id).is_some(), "{id} has no group");
            assert!(forget(&mut cli, id), "{id} cannot be forgotten");
        }
    }

    /// Issue 21: each subcommand's help lists only the options it uses.
    #[test]
    fn each_subcommand_shows_only_the_options_it_uses() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            (
                "status",
                &[
                    "--listener-arn",
                    "--pair",
                    "--blue-asg",
                    "--region",
                    "--router",
                    "--state-dir",
                    "--output",
                ],
                &["--keep-stickiness", "--lock-table", "--lock-ttl"],
            ),
            (
                "unlock",
                &[
                    "--listener-arn",
                    "--environment",
                    "--lock-table",
                    "--region",
                    "--config",
                    "--haproxy-socket",
                    "--force",
                ],
                &[
                    "--keep-stickiness",
                    "--pair",
                    "--single-route",
                    "--blue-asg",
                    "--ecs-cluster",
                    "--lock-ttl",
                ],
            ),
            (
                "rollback",
                &[
                    "--keep-stickiness",
                    "--pair",
                    "--blue-asg",
                    "--router",
                    "--to",
                ],
                &["--steps", "--lock-table", "--lock-ttl", "--bake"],
            ),
            (
                "watch",
                &[
                    "--listener-arn",
                    "--pair",
                    "--region",
                    "--bake",
                    "--max-error-rate",
                ],
                &[
                    "--router",
                    "--haproxy-socket",
                    "--keep-stickiness",
                    "--lock-table",
                    "--blue-asg",
                ],
            ),
            (
                "history",
                &[
                    "--listener-arn",
                    "--lock-table",
                    "--router",
                    "--state-dir",
                    "--limit",
                ],
                &["--lock-ttl", "--keep-stickiness", "--pair", "--blue-asg"],
            ),
            (
                "deploy",
                &[
                    "--keep-stickiness",
                    "--lock-table",
                    "--lock-ttl",
                    "--router",
                    "--nginx-upstream",
                    "--steps",
                ],
                &[],
            ),
            (
                "cleanup",
                &["--blue-asg", "--lock-table", "--lock-ttl"],
                &["--router", "--haproxy-socket", "--keep-stickiness"],
            ),
            (
                "config",
                &["--listener-arn", "--lock-table", "--blue-asg", "--config"],
                &["--router", "--pair", "--keep-stickiness", "--lock-ttl"],
            ),
            (
                "completions",
                &[],
                &["--listener-arn", "--config", "--output", "--router"],
            ),
            ("man", &["--dir"], &["--listener-arn", "--output"]),
        ];
        for (sub, visible, hidden) in cases {
            let shown = shown(sub);
            for flag in *visible {
                assert!(
                    shown.iter().any(|s| s == flag),
                    "{sub} does not show {flag}: {shown:?}"
                );
            }
            for flag in *hidden {
                assert!(
                    !shown.iter().any(|s| s == flag),
                    "{sub} shows {flag}: {shown:?}"
                );
            }
        }
    }

    /// What the help shows is what the table says, for every subcommand and global option.
    #[test]
    fn the_help_of_every_subcommand_follows_the_table() {
        let cmd = Cli::command();
        for (sub, _) in USES {
            let shown = shown(sub);
            for a in globals(&cmd) {
                let long = format!("--{}", a.get_long().unwrap_or_default());
                let id = a.get_id().as_str();
                assert_eq!(shown.contains(&long), uses(sub, id), "{sub} {long}");
            }
        }
    }

    /// Issue 21: the router options have their own heading, not AWS's.
    #[test]
    fn the_router_options_sit_under_their_own_heading() {
        let help = help("deploy");
        let router = section(&help, "Router:");
        for flag in [
            "--router",
            "--haproxy-socket",
            "--nginx-upstream-file",
            "--health-path",
            "--state-dir",
        ] {
            assert!(router.contains(flag), "{flag} not under Router: {router}");
        }
        let aws = section(&help, "AWS:");
        assert!(
            !aws.contains("--haproxy") && !aws.contains("--nginx"),
            "{aws}"
        );
        for heading in [
            "Route:",
            "Strategy:",
            "Gates:",
            "Timing:",
            "Capacity, hooks and test traffic:",
            "Output:",
            "Examples:",
        ] {
            assert!(help.contains(heading), "no {heading}");
        }
    }

    /// Parsing is unchanged: an option the subcommand does not use is accepted (from a flag or its
    /// variable) and has no effect; one it uses is kept.
    #[test]
    fn an_unused_option_is_accepted_and_forgotten_and_a_used_one_kept() {
        let parse = |args: &[&str]| {
            let m = command().try_get_matches_from(args).expect("parses");
            let mut cli = <Cli as clap::FromArgMatches>::from_arg_matches(&m).expect("cli");
            forget_unused(&mut cli);
            cli
        };
        let cli = parse(&[
            "albflip",
            "status",
            "--keep-stickiness",
            "--lock-ttl",
            "1s",
            "--router",
            "haproxy",
        ]);
        assert!(!cli.target.keep_stickiness);
        assert_eq!(cli.global.lock_ttl, None);
        // --router is kept: it decides where the command runs.
        assert_eq!(cli.global.router, Some(crate::args::RouterArg::Haproxy));
        let cli = parse(&[
            "albflip",
            "--keep-stickiness",
            "rollback",
            "--lock-table",
            "t",
        ]);
        assert!(cli.target.keep_stickiness);
        assert_eq!(cli.global.lock_table, None);
        let cli = parse(&[
            "albflip",
            "cleanup",
            "--lock-table",
            "t",
            "--haproxy-socket",
            "/s",
        ]);
        assert_eq!(cli.global.lock_table.as_deref(), Some("t"));
        assert_eq!(cli.global.haproxy_socket, None);
    }

    /// Issue 21: completions after a subcommand offer only the options it uses.
    #[test]
    fn completions_follow_the_same_table() {
        let mut script = Vec::new();
        clap_complete::generate(
            clap_complete::Shell::Fish,
            &mut for_completions(),
            "albflip",
            &mut script,
        );
        let script = String::from_utf8_lossy(&script);
        let offers = |sub: &str, flag: &str| {
            script.lines().any(|l| {
                l.contains(&format!("__fish_albflip_using_subcommand {sub}\""))
                    && l.contains(&format!("-l {flag} "))
            })
        };
        assert!(offers("rollback", "keep-stickiness"));
        assert!(!offers("status", "keep-stickiness"));
        assert!(offers("unlock", "lock-table"));
        assert!(!offers("unlock", "pair"));
        assert!(!offers("completions", "listener-arn"));
        // Before the subcommand, every global option.
        assert!(script.lines().any(
            |l| l.contains("__fish_albflip_needs_command") && l.contains("-l keep-stickiness")
        ));
    }
}
