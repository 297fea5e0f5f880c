//! `albflip`: the command-line front end. It parses, calls the library, renders, and maps outcomes to
//! exit codes; it never calls the AWS SDK itself. This file parses, sets up logging and the runtime,
//! hands each subcommand to its function in `commands/`, and turns the result into the exit code.

mod args;
mod arn_names;
mod commands;
mod exit;
mod history_entry;
mod lifecycle;
mod live;
mod locking;
mod naming;
mod notify;
mod origins;
mod paint;
mod progress;
mod render;
mod report;
mod routers;
mod run_files;
mod scaling;
mod settings;
mod signals;
mod spec;
mod usage;

use std::future::Future;
use std::process::ExitCode;

use albflip::Error;
use clap::FromArgMatches;

use args::{Cli, Command};
use exit::Failed;
use settings::Settings;

fn main() -> ExitCode {
    let command = usage::command();
    let parsed = command
        .clone()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (mut cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return clap_error(e, &command),
    };
    // What the subcommand's help does not show cannot change what it does.
    usage::forget_unused(&mut cli);
    let origins = origins::Origins::new(&command, &matches);
    naming::init(origins.clone());
    ExitCode::from(dispatch(&cli, &origins))
}

/// The one match on the subcommand; returns the exit code. Shell integration and `config` need no
/// AWS: they run without logging and the runtime.
fn dispatch(cli: &Cli, origins: &origins::Origins) -> u8 {
    use commands::{
        check, cleanup, completions, config, deploy, history, iam_policy, man, plan, promote,
        rollback, shift, status, unlock, watch,
    };
    let g = &cli.global;
    let cwd = std::env::current_dir().unwrap_or_default();
    let router = match &cli.command {
        Command::Completions { .. } | Command::Man { .. } | Command::Config(_) => {
            args::RouterArg::Aws
        }
        _ => match routers::choose(g, &cwd) {
            Ok(r) => r,
            Err(e) => return finish(Err(Failed::from(e)), cli, origins),
        },
    };
    let name = usage::command_name(&cli.command);
    if router != args::RouterArg::Aws && !usage::uses(name, "router") {
        let flag = if router == args::RouterArg::Haproxy {
            "haproxy"
        } else {
            "nginx"
        };
        let e = Error::InvalidInput {
            what: format!("--router {flag}"),
            why: format!("albflip {name} is for the ALB only"),
            fix: format!(
                "Run it without --router {flag} (and without [target] router in albflip.toml)"
            ),
        };
        return finish(Err(Failed::from(e)), cli, origins);
    }
    match router {
        args::RouterArg::Haproxy => {
            return on_local(cli, origins, "haproxy", routers::haproxy::resolve)
        }
        args::RouterArg::Nginx => return on_local(cli, origins, "nginx", routers::nginx::resolve),
        args::RouterArg::Aws => {}
    }
    match &cli.command {
        Command::Completions { shell } => completions::run(*shell),
        Command::Man { dir } => man::run(dir.as_deref()),
        Command::Config(a) => finish(
            config::run(cli, a, origins).map_err(Failed::from),
            cli,
            origins,
        ),
        Command::Status => on_aws(cli, origins, |s| status::run(s, g)),
        Command::Shift(a) => on_aws(cli, origins, |s| shift::run(a, s, g)),
        Command::Rollback(a) => on_aws(cli, origins, |s| rollback::run(a, s, g)),
        Command::Cleanup(a) => on_aws(cli, origins, |s| cleanup::run(a, s, g)),
        Command::Deploy(a) => on_aws(cli, origins, |s| deploy::run(a, s, g)),
        Command::Promote(a) => on_aws(cli, origins, |s| promote::run(a, s, g)),
        Command::Plan(a) => on_aws(cli, origins, |s| plan::run(a, s, g)),
        Command::Check(a) => on_aws(cli, origins, |s| check::run(a, s, g)),
        Command::Unlock(a) => on_aws(cli, origins, |s| unlock::run(a, s, g)),
        Command::Watch(a) => on_aws(cli, origins, |s| watch::run(a, s, g)),
        Command::History(a) => on_aws(cli, origins, |s| history::run(a, s, g)),
        Command::IamPolicy => on_aws(cli, origins, |s| iam_policy::run(s, g)),
    }
}

/// Sets up logging and the async runtime, resolves the settings, and runs a command that talks to AWS.
/// An error is reported while the runtime still runs.
fn on_aws<F, Fut>(cli: &Cli, origins: &origins::Origins, command: F) -> u8
where
    F: FnOnce(Settings) -> Fut,
    Fut: Future<Output = Result<u8, Error>>,
{
    init_logging(cli.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("albflip: cannot start the async runtime: {e}");
            return exit::RUNTIME;
        }
    };
    let result = runtime.block_on(async {
        let cwd = std::env::current_dir().unwrap_or_default();
        let settings = Settings::resolve(&cli.global, &cli.target, &cwd)?;
        let endpoint = settings
            .aws
            .endpoint_url
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
        // The region as albflip's settings or the SDK's variables give it (a profile's own region is
        // not known here, and then not named).
        let region = settings
            .aws
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .filter(|r| !r.is_empty());
        command(settings)
            .await
            .map_err(|error| Failed::at(error, endpoint).in_region(region))
    });
    finish(result, cli, origins)
}

/// A command on a router on this host: the same runtime as on AWS, the settings from the router's
/// flags and its albflip.toml section (`resolve`), and the commands every such router shares.
fn on_local<R, F>(cli: &Cli, origins: &origins::Origins, flag: &str, resolve: F) -> u8
where
    R: routers::local::LocalRouter,
    F: FnOnce(
        &args::GlobalArgs,
        &args::TargetArgs,
        &std::path::Path,
    ) -> Result<(routers::local::LocalSettings, R), Error>,
{
    use routers::local;
    init_logging(cli.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("albflip: cannot start the async runtime: {e}");
            return exit::RUNTIME;
        }
    };
    let g = &cli.global;
    let result = runtime.block_on(async {
        let cwd = std::env::current_dir().unwrap_or_default();
        let (s, r) = resolve(g, &cli.target, &cwd).map_err(Failed::from)?;
        let hint = Some(local::LocalRouter::hint(&r));
        let run = match &cli.command {
            Command::Status => local::status(&r, &s, g).await,
            Command::Shift(a) => local::shift(a, &r, &s, g).await,
            Command::Rollback(a) => local::rollback(a, &r, g).await,
            Command::Deploy(a) => local::deploy(a, &r, &s, g).await,
            Command::Promote(a) => local::promote(a, &r, &s, g).await,
            Command::Plan(a) => local::plan(a, &r, &s, g).await,
            Command::Check(a) => local::check(a, &r, &s, g).await,
            Command::Unlock(a) => local::unlock(a, &r, &s, g).await,
            Command::History(a) => local::history(a, &r, &s, g).await,
            _ => Err(Error::InvalidInput {
                what: format!("--router {flag}"),
                why: "this command is for the ALB only (Auto Scaling, IAM)".into(),
                fix: format!("Run it without --router {flag}"),
            }),
        };
        run.map_err(|e| Failed::on_router(e, hint))
    });
    finish(result, cli, origins)
}

/// The exit code of a run; a failure is reported first (named the way the user gave the bad input).
fn finish(result: Result<u8, Failed>, cli: &Cli, origins: &origins::Origins) -> u8 {
    match result {
        Ok(code) => code,
        Err(failed) => {
            let e = relabel(*failed.error, origins);
            let code = exit::for_error(&e, matches!(cli.command, Command::Rollback(_)));
            exit::report(
                &e,
                code,
                cli.global.output,
                failed.endpoint.as_deref(),
                failed.region.as_deref(),
                failed.hint.as_deref(),
            );
            code
        }
    }
}

/// A clap error (or `--help`/`--version`), plus the `ALBFLIP_*` variable behind a bad value: clap names
/// the flag even when the value came from the environment.
fn clap_error(e: clap::Error, command: &clap::Command) -> ExitCode {
    let _ = e.print();
    let code = u8::try_from(e.exit_code()).unwrap_or(exit::USAGE);
    if e.use_stderr() {
        for (env, value) in origins::Origins::env_behind(&e.to_string(), command) {
            eprintln!("albflip: that value ({value:?}) came from the environment variable {env}: fix or unset {env}");
        }
        let args: Vec<String> = std::env::args().skip(1).collect();
        let env = std::env::var("ALBFLIP_OUTPUT").ok();
        if wants_json(&args, env.as_deref()) {
            // The arguments did not parse, but the caller asked for JSON: the error as one object.
            let text = e.to_string();
            let message = text
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches("error: ");
            let v = serde_json::json!({"error": {"message": message, "exit_code": code, "may_have_changed_aws": false}});
            println!("{v}");
        }
    }
    ExitCode::from(code)
}

/// Whether the command line (which did not parse) or `ALBFLIP_OUTPUT` asked for JSON output.
fn wants_json(args: &[String], env: Option<&str>) -> bool {
    let mut from_args = None;
    for (i, a) in args.iter().enumerate() {
        if a == "--" {
            break;
        }
        if let Some(v) = a.strip_prefix("--output=") {
            from_args = Some(v.to_string());
        } else if a == "--output" {
            from_args = args.get(i + 1).cloned();
        }
    }
    from_args
        .as_deref()
        .or(env)
        .is_some_and(|v| v.eq_ignore_ascii_case("json"))
}

/// Names a bad input the way the user gave it (flag, `ALBFLIP_*` variable or `albflip.toml` key).
fn relabel(e: Error, origins: &origins::Origins) -> Error {
    match e {
        Error::InvalidInput { what, why, fix } => Error::InvalidInput {
            what: origins.relabel(&what),
            why,
            fix,
        },
        other => other,
    }
}

/// Logs on stderr: albflip's warnings by default, debug with `-vv`, everything with `-vvv`;
/// `ALBFLIP_LOG` overrides.
fn init_logging(verbose: u8) {
    let level = match verbose {
        // The SDK's own warnings (credential providers, config files) repeat what albflip reports.
        0 | 1 => "albflip=warn,error",
        2 => "albflip=debug,warn",
        _ => "debug",
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ALBFLIP_LOG")
                .unwrap_or_else(|_| level.into()),
        )
        .with_writer(std::io::stderr)
        // Colors only on a terminal: a Jenkins log or a file gets plain text.
        .with_ansi(
            std::env::var_os("NO_COLOR").is_none()
                && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        )
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::wants_json;

    #[test]
    fn json_is_wanted_from_the_flag_or_the_environment_even_when_parsing_failed() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(wants_json(
            &args(&["--output", "json", "shift", "--bogus"]),
            None
        ));
        assert!(wants_json(&args(&["shift", "--output=json"]), None));
        assert!(wants_json(&args(&["shift"]), Some("json")));
        assert!(!wants_json(&args(&["--output", "text"]), Some("json")));
        assert!(!wants_json(&args(&["shift", "--bogus"]), None));
    }
}
