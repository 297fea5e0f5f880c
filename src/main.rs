//! `albflip`: the command-line front end. It parses, calls the library, renders, and maps outcomes to
//! exit codes; it never calls the AWS SDK itself.

mod args;
mod render;
mod settings;

use std::io::Write;
use std::process::ExitCode;

use albflip::aws::{self, CallCounter, ElbV2};
use albflip::traffic::{self, ChangeOptions};
use albflip::{Error, ErrorKind};
use clap::Parser;

use args::{Cli, Command, OutputFormat};
use settings::Settings;

/// Exit codes (documented in the README and in `--help`).
mod exit {
    pub const SUCCESS: u8 = 0;
    pub const RUNTIME: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const ROLLBACK_FAILED: u8 = 5;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("albflip: cannot start the async runtime: {e}");
            return ExitCode::from(exit::RUNTIME);
        }
    };
    let output = cli.global.output;
    let is_rollback = matches!(cli.command, Command::Rollback(_));
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::from(exit::SUCCESS),
        Err(e) => {
            let code = exit_code(&e, is_rollback);
            report_error(&e, code, output);
            ExitCode::from(code)
        }
    }
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 | 1 => "warn",
        2 => "albflip=debug,warn",
        _ => "debug",
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ALBFLIP_LOG")
                .unwrap_or_else(|_| level.into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::env::var_os("NO_COLOR").is_none())
        .try_init();
}

fn exit_code(e: &Error, is_rollback: bool) -> u8 {
    match e.kind() {
        ErrorKind::InvalidInput => exit::USAGE,
        ErrorKind::WriteFailed if is_rollback => exit::ROLLBACK_FAILED,
        _ => exit::RUNTIME,
    }
}

fn report_error(e: &Error, code: u8, output: OutputFormat) {
    let changed = if e.may_have_changed_aws() {
        ""
    } else {
        " Nothing was changed."
    };
    eprintln!("albflip: error: {e}.{changed}");
    if code == exit::ROLLBACK_FAILED {
        eprintln!("albflip: THE ROLLBACK DID NOT COMPLETE. A human must act: check `albflip status` and fix the listener by hand.");
    }
    if output == OutputFormat::Json {
        let v = serde_json::json!({"error": {"message": e.to_string(), "exit_code": code, "may_have_changed_aws": e.may_have_changed_aws()}});
        println!("{v}");
    }
}

async fn run(cli: Cli) -> Result<(), Error> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let settings = Settings::resolve(&cli.global, &cli.target, &cwd)?;
    let config = aws::load_config(&settings.aws).await?;
    let calls = CallCounter::default();
    let alb = ElbV2::new(&config, calls.clone());
    let g = &cli.global;
    let out = match &cli.command {
        Command::Status => {
            let status = traffic::status(&alb, &settings.target).await?;
            match g.output {
                OutputFormat::Json => format!("{}\n", render::status_json(&status)),
                OutputFormat::Text => render::status_text(&status),
            }
        }
        Command::Shift(a) => {
            let options = ChangeOptions {
                dry_run: a.dry_run,
                force: a.force,
            };
            let outcome =
                traffic::shift(&alb, &settings.target, a.target, a.percentage, options).await?;
            render_change("shift", "Shifted", &outcome, &calls, g)
        }
        Command::Rollback(a) => {
            let options = ChangeOptions {
                dry_run: a.dry_run,
                force: a.force,
            };
            let outcome = traffic::rollback(&alb, &settings.target, a.to, options).await?;
            render_change("rollback", "Rolled back", &outcome, &calls, g)
        }
    };
    if !g.quiet || g.output == OutputFormat::Json {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(out.as_bytes());
    }
    Ok(())
}

fn render_change(
    command: &str,
    verb: &str,
    o: &traffic::ChangeOutcome,
    calls: &CallCounter,
    g: &args::GlobalArgs,
) -> String {
    let snapshot = calls.snapshot();
    match g.output {
        OutputFormat::Json => format!("{}\n", render::change_json(command, o, &snapshot)),
        OutputFormat::Text => render::change_text(verb, o, &snapshot, g.verbose > 0),
    }
}
