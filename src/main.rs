//! `albflip`: the command-line front end. It parses, calls the library, renders, and maps outcomes to
//! exit codes; it never calls the AWS SDK itself.

mod args;
mod progress;
mod render;
mod settings;
mod spec;

use std::io::Write;
use std::process::ExitCode;

use albflip::aws::{self, CallCounter, CloudWatch, ElbV2};
use albflip::engine::{DeploySpec, Engine, OnInterrupt, Outcome};
use albflip::ports::TokioClock;
use albflip::traffic::{self, ChangeOptions};
use albflip::{Error, ErrorKind};
use clap::Parser;
use tokio_util::sync::CancellationToken;

use args::{Cli, Command, OutputFormat};
use settings::Settings;

/// Exit codes (documented in the README and in `--help`).
mod exit {
    pub const SUCCESS: u8 = 0;
    pub const RUNTIME: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const GATE_ROLLED_BACK: u8 = 3;
    pub const CONFLICT: u8 = 4;
    pub const INTERRUPTED: u8 = 130;
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
        Ok(code) => ExitCode::from(code),
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
        ErrorKind::RollbackFailed => exit::ROLLBACK_FAILED,
        ErrorKind::Conflict => exit::CONFLICT,
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

async fn run(cli: Cli) -> Result<u8, Error> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let settings = Settings::resolve(&cli.global, &cli.target, &cwd)?;
    let g = &cli.global;
    let file = &settings.file;
    // Specs are validated before any AWS client is built: bad input never reaches AWS.
    let deploy_spec = match &cli.command {
        Command::Deploy(a) | Command::Plan(a) => {
            Some(spec::deploy(a, &file.strategy, &file.gates)?)
        }
        Command::Promote(a) => {
            let bake = spec::bake(&a.bake, &file.strategy)?;
            let (gates, policy, window) = spec::gates(&a.gates, &file.gates, bake)?;
            let plan = albflip::plan::Plan::promotion(albflip::model::Color::Green, bake);
            Some(DeploySpec {
                plan,
                strategy: "promote".into(),
                policy,
                gates,
                window,
                force: false,
                adopt_drift: false,
            })
        }
        Command::Shift(a) => match a.bake.duration() {
            Some(bake) if !a.dry_run => Some(spec::shift(
                a.target,
                a.percentage,
                bake,
                &a.gates,
                &file.gates,
                a.force,
            )?),
            _ => None,
        },
        _ => None,
    };
    let config = aws::load_config(&settings.aws).await?;
    let calls = CallCounter::default();
    let alb = ElbV2::new(&config, calls.clone());
    let out = match &cli.command {
        Command::Status => {
            let status = traffic::status(&alb, &settings.target).await?;
            match g.output {
                OutputFormat::Json => format!("{}\n", render::status_json(&status)),
                OutputFormat::Text => render::status_text(&status),
            }
        }
        Command::Shift(a) if deploy_spec.is_none() => {
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
        Command::Plan(_)
        | Command::Deploy(args::DeployArgs { dry_run: true, .. })
        | Command::Promote(args::PromoteArgs { dry_run: true, .. }) => {
            let resolved = albflip::resolve::resolve(&alb, &settings.target).await?;
            let mut spec = deploy_spec.clone().ok_or_else(|| Error::InvalidInput {
                what: "plan".into(),
                why: "no plan".into(),
                fix: String::new(),
            })?;
            if matches!(cli.command, Command::Promote(_)) {
                // The color being promoted is the one the canary recorded.
                let recorded = resolved
                    .tags
                    .get(albflip::state::TARGET_TAG)
                    .and_then(|c| c.parse().ok());
                spec.plan = albflip::plan::Plan::promotion(
                    recorded.unwrap_or(resolved.stable.other()),
                    spec.policy.bake,
                );
            }
            let spec = &spec;
            match g.output {
                OutputFormat::Json => format!("{}\n", render::plan_json(spec, &resolved)),
                OutputFormat::Text => render::plan_text(spec, &resolved),
            }
        }
        Command::Deploy(_) | Command::Promote(_) | Command::Shift(_) => {
            let spec = deploy_spec.as_ref().ok_or_else(|| Error::InvalidInput {
                what: "deploy".into(),
                why: "no plan".into(),
                fix: String::new(),
            })?;
            let metrics = CloudWatch::new(&config, calls.clone());
            let clock = TokioClock::new();
            let bake_args = match &cli.command {
                Command::Deploy(a) => Some(&a.bake),
                Command::Promote(a) => Some(&a.bake),
                Command::Shift(a) => Some(&a.bake),
                _ => None,
            };
            let on_interrupt = match bake_args.map(|b| b.on_interrupt) {
                Some(args::InterruptArg::Hold) => OnInterrupt::Hold,
                _ => OnInterrupt::Rollback,
            };
            let printer = progress::Printer {
                format: g.output,
                verbose: g.verbose > 0,
                quiet: g.quiet,
            };
            let engine = Engine::new(&alb, &metrics, &clock, &printer)
                .with_cancellation(interrupts(), on_interrupt)
                .with_identity(albflip::state::identity_from_env());
            let outcome = match &cli.command {
                Command::Deploy(a) if a.resume => engine.resume(&settings.target, spec).await?,
                Command::Deploy(_) => engine.deploy(&settings.target, spec).await?,
                Command::Promote(_) => engine.promote(&settings.target, spec).await?,
                _ => engine.shift(&settings.target, spec).await?,
            };
            let code = match outcome {
                Outcome::RolledBack { .. } => exit::GATE_ROLLED_BACK,
                Outcome::Interrupted { .. } => exit::INTERRUPTED,
                _ => exit::SUCCESS,
            };
            render::summary(&outcome, &calls, g.output, g.quiet);
            return Ok(code);
        }
    };
    if !g.quiet || g.output == OutputFormat::Json {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(out.as_bytes());
    }
    Ok(exit::SUCCESS)
}

/// A token cancelled by the first SIGINT or SIGTERM; a second one exits at once with 130.
fn interrupts() -> CancellationToken {
    use tokio::signal::unix::{signal, SignalKind};
    let token = CancellationToken::new();
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::warn!(
            "cannot listen for SIGINT/SIGTERM: an interrupt will stop albflip without a rollback"
        );
        return token;
    };
    let cancel = token.clone();
    tokio::spawn(async move {
        for seen in 1.. {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            if seen > 1 {
                eprintln!("albflip: second interrupt: exiting now");
                std::process::exit(i32::from(exit::INTERRUPTED));
            }
            eprintln!("albflip: interrupted: stopping now (send the signal again to exit without waiting)");
            cancel.cancel();
        }
    });
    token
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
