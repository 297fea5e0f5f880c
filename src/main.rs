//! `albflip`: the command-line front end. It parses, calls the library, renders, and maps outcomes to
//! exit codes; it never calls the AWS SDK itself.

mod args;
mod lifecycle;
mod live;
mod locking;
mod naming;
mod origins;
mod progress;
mod render;
mod report;
mod scaling;
mod settings;
mod shell;
mod show_config;
mod signals;
mod spec;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use albflip::aws::{self, CallCounter, CloudWatch, ElbV2};
use albflip::engine::{DeploySpec, Engine, OnInterrupt, Outcome};
use albflip::ports::ApiErrorKind;
use albflip::ports::TokioClock;
use albflip::traffic::{self, ChangeOptions};
use albflip::{Error, ErrorKind};
use clap::{CommandFactory, FromArgMatches};

use args::{Cli, Command, OutputFormat};
use settings::Settings;

/// Exit codes (documented in the README and in `--help`).
pub(crate) mod exit {
    pub const SUCCESS: u8 = 0;
    pub const RUNTIME: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const GATE_ROLLED_BACK: u8 = 3;
    pub const CONFLICT: u8 = 4;
    pub const INTERRUPTED: u8 = 130;
    pub const ROLLBACK_FAILED: u8 = 5;
}

fn main() -> ExitCode {
    let command = Cli::command();
    let parsed = command
        .clone()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return clap_error(e, &command),
    };
    let origins = origins::Origins::new(&command, &matches);
    naming::init(origins.clone());
    // Shell integration needs no AWS, no config and no route.
    match &cli.command {
        Command::Completions { shell } => return shell::print_completions(*shell),
        Command::Man => return shell::print_man(),
        Command::Config(args) => {
            let cwd = std::env::current_dir().unwrap_or_default();
            return match show_config::show(&cli, args, &origins, &cwd) {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::from(exit::SUCCESS)
                }
                Err(e) => {
                    let e = relabel(e, &origins);
                    let code = exit_code(&e, false);
                    report_error(&e, code, cli.global.output, None);
                    ExitCode::from(code)
                }
            };
        }
        _ => {}
    }
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
        Err(failed) => {
            let e = relabel(failed.error, &origins);
            let code = exit_code(&e, is_rollback);
            report_error(&e, code, output, failed.endpoint.as_deref());
            ExitCode::from(code)
        }
    }
}

/// A clap error (or `--help`/`--version`), plus the `ALBFLIP_*` variable behind a bad value: clap names
/// the flag even when the value came from the environment.
fn clap_error(e: clap::Error, command: &clap::Command) -> ExitCode {
    let _ = e.print();
    if e.use_stderr() {
        for (env, value) in origins::Origins::env_behind(&e.to_string(), command) {
            eprintln!("albflip: that value ({value:?}) came from the environment variable {env}: fix or unset {env}");
        }
    }
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(exit::USAGE))
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

/// A failed run, with the endpoint it talked to (for the hint on an unreachable endpoint).
struct Failed {
    error: Error,
    endpoint: Option<String>,
}

impl From<Error> for Failed {
    fn from(error: Error) -> Failed {
        Failed {
            error,
            endpoint: None,
        }
    }
}

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

fn report_error(e: &Error, code: u8, output: OutputFormat, endpoint: Option<&str>) {
    let changed = if e.may_have_changed_aws() {
        ""
    } else {
        " Nothing was changed."
    };
    eprintln!("albflip: error: {}.{changed}", naming::render(e));
    let unreachable = e
        .api_error()
        .is_some_and(|a| matches!(a.kind, ApiErrorKind::Unreachable | ApiErrorKind::Timeout));
    if unreachable {
        match endpoint {
            Some(url) => eprintln!("albflip: hint: check that {url} is up and reachable; the endpoint comes from --endpoint-url, ALBFLIP_ENDPOINT_URL, AWS_ENDPOINT_URL or albflip.toml [aws] endpoint-url"),
            None => eprintln!("albflip: hint: check the network path to AWS (proxy, VPC endpoint, DNS) and the region (--region, AWS_REGION)"),
        }
    }
    if code == exit::ROLLBACK_FAILED {
        eprintln!("albflip: THE ROLLBACK DID NOT COMPLETE. A human must act: check `albflip status` and fix the listener by hand.");
    }
    if output == OutputFormat::Json {
        let v = serde_json::json!({"error": {"message": naming::render(e), "exit_code": code, "may_have_changed_aws": e.may_have_changed_aws()}});
        println!("{v}");
    }
}

async fn run(cli: Cli) -> Result<u8, Failed> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let settings = Settings::resolve(&cli.global, &cli.target, &cwd)?;
    let endpoint = settings
        .aws
        .endpoint_url
        .clone()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
    run_with(&cli, &settings)
        .await
        .map_err(|error| Failed { error, endpoint })
}

async fn run_with(cli: &Cli, settings: &Settings) -> Result<u8, Error> {
    let g = &cli.global;
    let file = &settings.file;
    // Specs are validated before any AWS client is built: bad input never reaches AWS.
    let deploy_spec = match &cli.command {
        Command::Deploy(a) | Command::Plan(a) | Command::Check(a) => {
            Some(spec::deploy(a, &file.strategy, &file.gates)?)
        }
        Command::Promote(a) => Some(spec::promote(a, &file.strategy, &file.gates)?),
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
    let rollback_flags;
    let lifecycle_flags = match &cli.command {
        Command::Deploy(a) | Command::Check(a) | Command::Plan(a) => Some(&a.lifecycle),
        Command::Promote(a) => Some(&a.lifecycle),
        Command::Rollback(a) => {
            rollback_flags = args::LifecycleArgs {
                ready_timeout: a.ready_timeout.clone(),
                ..args::LifecycleArgs::default()
            };
            Some(&rollback_flags)
        }
        _ => None,
    };
    let lifecycle = lifecycle::lifecycle(lifecycle_flags, g, file)?;
    let deploy_spec = deploy_spec.map(|s| DeploySpec {
        lifecycle: lifecycle.clone(),
        ..s
    });
    let config = aws::load_config(&settings.aws).await?;
    let calls = CallCounter::default();
    let alb = ElbV2::new(&config, calls.clone());
    let out = match &cli.command {
        // Handled in main before any AWS set-up.
        Command::Completions { .. } | Command::Man | Command::Config(_) => String::new(),
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
                // The gate's floor of healthy hosts is the shift's pre-flight minimum too.
                min_healthy_hosts: a
                    .gates
                    .min_healthy_hosts
                    .or(file.gates.min_healthy_hosts)
                    .unwrap_or(1),
            };
            let held = if a.dry_run {
                None
            } else {
                locking::take_lock(&alb, &config, settings, g).await?
            };
            let result =
                traffic::shift(&alb, &settings.target, a.target, a.percentage, options).await;
            locking::release(held).await;
            let outcome = result?;
            render_change("shift", "Shifted", &outcome, &calls, g)
        }
        Command::Rollback(a) => {
            scaling::run_rollback(a, &alb, &config, settings, &lifecycle.capacity, g).await?
        }
        Command::Cleanup(a) => {
            scaling::run_cleanup(a, &alb, &config, settings, &lifecycle.capacity, g).await?
        }
        Command::Plan(_)
        | Command::Deploy(args::DeployArgs { dry_run: true, .. })
        | Command::Promote(args::PromoteArgs { dry_run: true, .. }) => {
            let resolved = albflip::aws::resolve::resolve(&alb, &settings.target).await?;
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
        Command::IamPolicy => {
            let route = match settings.target.route.route_id() {
                Some(route) => route,
                None => {
                    albflip::aws::resolve::resolve(&alb, &settings.target)
                        .await?
                        .snapshot
                        .route
                }
            };
            // With one group unnamed, albflip may discover it: then every group of the account.
            let asgs: Vec<&str> =
                match (&lifecycle.capacity.blue_asg, &lifecycle.capacity.green_asg) {
                    (Some(blue), Some(green)) => vec![blue, green],
                    _ => Vec::new(),
                };
            let policy = albflip::aws::iam::policy(&route, settings.lock_table.as_deref(), &asgs);
            format!(
                "{}\n",
                serde_json::to_string_pretty(&policy).unwrap_or_default()
            )
        }
        Command::Check(_) => {
            let spec = deploy_spec.as_ref().ok_or_else(|| Error::InvalidInput {
                what: "check".into(),
                why: "no plan".into(),
                fix: String::new(),
            })?;
            let metrics = CloudWatch::new(&config, calls.clone());
            let clock = TokioClock::new();
            let scaler = albflip::aws::AutoScaling::new(&config, calls.clone());
            let engine =
                Engine::new(&alb, &metrics, &clock, &albflip::events::Ignore).with_scaler(&scaler);
            let report = engine.check(&settings.target, spec).await?;
            let text = match g.output {
                OutputFormat::Json => {
                    format!("{}\n", serde_json::to_value(&report).unwrap_or_default())
                }
                OutputFormat::Text => render::check_text(&report),
            };
            if !g.quiet || g.output == OutputFormat::Json {
                let _ = std::io::stdout().lock().write_all(text.as_bytes());
            }
            return Ok(if report.passed() {
                exit::SUCCESS
            } else {
                exit::RUNTIME
            });
        }
        Command::Unlock(a) => return locking::unlock(&alb, &config, settings, a, &calls, g).await,
        Command::Deploy(_) | Command::Promote(_) | Command::Shift(_) => {
            let spec = deploy_spec.as_ref().ok_or_else(|| Error::InvalidInput {
                what: "deploy".into(),
                why: "no plan".into(),
                fix: String::new(),
            })?;
            return run_engine(cli, settings, &config, &alb, spec, &calls).await;
        }
    };
    if !g.quiet || g.output == OutputFormat::Json {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(out.as_bytes());
    }
    Ok(exit::SUCCESS)
}

/// Runs deploy, promote or a gated shift through the engine, holding the route's lock.
async fn run_engine(
    cli: &Cli,
    settings: &Settings,
    config: &albflip::aws::SdkConfig,
    alb: &ElbV2,
    spec: &DeploySpec,
    calls: &CallCounter,
) -> Result<u8, Error> {
    let g = &cli.global;
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
    let cancel = signals::interrupts();
    let held = locking::take_lock(alb, config, settings, g).await?;
    if let Some(h) = &held {
        // Losing the lease (taken over, or not renewable before it expired) stops the run like a signal.
        let (lost, cancel) = (h.lost(), cancel.clone());
        tokio::spawn(async move {
            lost.cancelled().await;
            eprintln!("albflip: the deployment lock was lost: stopping");
            cancel.cancel();
        });
    }
    let metrics = CloudWatch::new(config, calls.clone());
    let clock = TokioClock::new();
    let printer = std::sync::Arc::new(progress::Printer::new(g.output, g.verbose > 0, g.quiet));
    let collected = albflip::events::Collect::default();
    // On a terminal, a live view; in a pipeline (or with -q or JSON), plain lines with a heartbeat.
    let live = (g.output == OutputFormat::Text && !g.quiet && live::LiveView::wanted())
        .then(|| live::LiveView::new(g.verbose > 0));
    let heartbeat = live.is_none().then(|| {
        let printer = printer.clone();
        let every = progress::Printer::heartbeat_every();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1).min(every)).await;
                printer.beat(every);
            }
        })
    });
    let screen: &dyn albflip::events::Observer = match &live {
        Some(view) => view,
        None => printer.as_ref(),
    };
    let observer = albflip::events::Both(screen, &collected);
    let scaler = albflip::aws::AutoScaling::new(config, calls.clone());
    let engine = Engine::new(alb, &metrics, &clock, &observer)
        .with_cancellation(cancel, on_interrupt)
        .with_identity(albflip::state::identity_from_env())
        .with_scaler(&scaler);
    let target = &settings.target;
    let result = match &cli.command {
        Command::Deploy(a) if a.resume => engine.resume(target, spec).await,
        Command::Deploy(_) => engine.deploy(target, spec).await,
        Command::Promote(_) => engine.promote(target, spec).await,
        _ => engine.shift(target, spec).await,
    };
    if let Some(h) = heartbeat {
        h.abort();
    }
    locking::release(held).await;
    if let Some(path) = bake_args.and_then(|b| b.report.as_ref()) {
        let html = report::render(&settings.target, spec, &collected.events(), &result);
        if let Err(e) = std::fs::write(path, html) {
            eprintln!(
                "albflip: warning: could not write the report {}: {e}",
                path.display()
            );
        } else if !g.quiet && g.output == OutputFormat::Text {
            println!("report: {}", path.display());
        }
    }
    let outcome = result?;
    let code = match outcome {
        Outcome::RolledBack { .. } => exit::GATE_ROLLED_BACK,
        Outcome::Interrupted { .. } => exit::INTERRUPTED,
        _ => exit::SUCCESS,
    };
    render::summary(&outcome, calls, g.output, g.quiet);
    Ok(code)
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
