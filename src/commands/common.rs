//! What the subcommands share: the AWS session (lifecycle validated first, then the clients), printing
//! a result, and the engine runner of `deploy`, `promote` and a gated `shift`.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use albflip::aws::{self, AwsPools, CallCounter, CloudWatch, ElbV2, SdkConfig};
use albflip::engine::lifecycle::Lifecycle;
use albflip::engine::{DeploySpec, Engine, OnInterrupt, Outcome};
use albflip::events::{Collect, Event, Observer};
use albflip::ports::TokioClock;
use albflip::Error;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::args::{BakeArgs, GlobalArgs, InterruptArg, LifecycleArgs, OutputFormat};
use crate::locking;
use crate::settings::Settings;
use crate::{exit, lifecycle, live, progress, report, signals};

/// The AWS side of a command: its lifecycle, the SDK config, the load balancer client and the counter
/// of every API call made.
pub struct Session {
    pub lifecycle: Lifecycle,
    pub config: SdkConfig,
    pub calls: CallCounter,
    pub alb: ElbV2,
}

impl Session {
    /// Validates the lifecycle (`flags` over the file) before it builds any client: bad input never
    /// reaches AWS.
    pub async fn open(
        flags: Option<&LifecycleArgs>,
        settings: &Settings,
        g: &GlobalArgs,
    ) -> Result<Session, Error> {
        let lifecycle = lifecycle::lifecycle(flags, g, &settings.file)?;
        let config = aws::load_config(&settings.aws).await?;
        let calls = CallCounter::default();
        let alb = ElbV2::new(&config, calls.clone());
        Ok(Session {
            lifecycle,
            config,
            calls,
            alb,
        })
    }

    /// A deployment's spec with this session's lifecycle.
    pub fn with_lifecycle(&self, spec: DeploySpec) -> DeploySpec {
        DeploySpec {
            lifecycle: self.lifecycle.clone(),
            ..spec
        }
    }
}

/// Prints a command's output on stdout, unless `--quiet` (JSON is always printed).
pub fn emit(out: &str, g: &GlobalArgs) {
    if !g.quiet || g.output == OutputFormat::Json {
        let _ = std::io::stdout().lock().write_all(out.as_bytes());
    }
}

/// With `--quiet` in text mode the output is not printed, but its warnings (traffic forced to a color
/// without healthy targets, a deployment taken over) still are, on stderr.
pub fn warn_when_quiet(warnings: &[albflip::error::Text], g: &GlobalArgs) {
    if g.quiet && g.output == OutputFormat::Text {
        for w in warnings {
            eprintln!("albflip: {}", crate::naming::text(w));
        }
    }
}

/// Which of the engine's runs to make.
#[derive(Debug, Clone, Copy)]
pub enum Run {
    Deploy,
    Resume,
    Promote,
    Shift,
}

/// Runs deploy, promote or a gated shift through the engine, holding the route's lock.
pub async fn run_engine(
    run: Run,
    session: &Session,
    settings: &Settings,
    spec: &DeploySpec,
    bake: &BakeArgs,
    g: &GlobalArgs,
) -> Result<u8, Error> {
    let on_interrupt = match bake.on_interrupt {
        InterruptArg::Hold => OnInterrupt::Hold,
        InterruptArg::Rollback => OnInterrupt::Rollback,
    };
    let notifier = crate::notify::Notifier::new(crate::notify::urls(
        &bake.notify,
        settings.file.notify.urls.as_ref(),
    )?);
    // On a terminal, a live view; in a pipeline (or with -q or JSON), plain lines with a heartbeat.
    let live = (g.output == OutputFormat::Text && !g.quiet && live::LiveView::wanted())
        .then(|| Arc::new(live::LiveView::new(g.verbose > 0)));
    let say = live::say(live.as_ref());
    let cancel = signals::interrupts(say.clone());
    let Session {
        config, calls, alb, ..
    } = session;
    let table = locking::lock_table(alb, config, settings).await;
    let held = locking::take_lock_in(table.as_deref(), alb, config, settings, g).await?;
    stop_when_lost(held.as_ref(), &cancel, say);
    let metrics = CloudWatch::new(config, calls.clone());
    let clock = TokioClock::new();
    let printer = Arc::new(progress::Printer::new(g.output, g.verbose > 0, g.quiet));
    let collected = Collect::default();
    let heartbeat = live.is_none().then(|| heartbeat(printer.clone()));
    let screen: &dyn Observer = match &live {
        Some(view) => view.as_ref(),
        None => printer.as_ref(),
    };
    let files = crate::run_files::RunFiles::open(
        bake.deployment_id_file.as_deref(),
        bake.events_file.as_deref(),
    );
    let notified: &dyn Observer = match &notifier {
        Some(n) => n,
        None => &albflip::events::Ignore,
    };
    let recorded = albflip::events::Both(&collected, &files);
    let told = albflip::events::Both(&recorded, notified);
    let observer = albflip::events::Both(screen, &told);
    let scaler = AwsPools::new(config, calls.clone(), &spec.lifecycle.capacity);
    let mut engine = Engine::new(alb, &metrics, &clock, &observer);
    if let Some(h) = held.as_ref() {
        engine = engine.with_lease(h.lost());
    }
    let engine = engine
        .with_cancellation(cancel, on_interrupt)
        .with_identity(albflip::state::identity_from_env())
        .with_scaler(&scaler);
    let target = &settings.target;
    let result = match run {
        Run::Resume => engine.resume(target, spec).await,
        Run::Deploy => engine.deploy(target, spec).await,
        Run::Promote => engine.promote(target, spec).await,
        Run::Shift => engine.shift(target, spec).await,
    };
    if let Some(view) = &live {
        view.finish();
    }
    if let Some(h) = heartbeat {
        h.abort();
    }
    // The history is written while the lease is still held, so that the next run sees it.
    if let Some(table) = table.as_deref().filter(|_| held.is_some()) {
        let store = albflip::aws::DynamoLock::new(config, table, calls.clone());
        crate::history_entry::record(&store, &collected.events(), &result).await;
    }
    if let Some(n) = &notifier {
        n.finish().await;
    }
    locking::say_who_holds_it_now(held.as_ref()).await;
    locking::release(held).await;
    let events = collected.events();
    if let Some(path) = &bake.report {
        write_report(
            path,
            &report_context(&settings.target),
            spec,
            &events,
            &result,
            g,
        );
    }
    let outcome = result?;
    let code = exit::for_outcome(&outcome);
    let blast = albflip::events::blast_radius(events.iter().map(|(_, e)| e));
    crate::render::summary(
        &outcome,
        Some(calls),
        blast.as_ref(),
        g.output,
        g.quiet,
        g.verbose > 0,
    );
    if spec.ungated && g.output == OutputFormat::Text {
        println!("UNGATED: no step of this run was judged by the gates (--no-gates)");
    }
    Ok(code)
}

/// Losing the lease (taken over, or not renewable before it expired) stops the run like a signal, and
/// says so through `say`.
pub fn stop_when_lost<L: albflip::ports::Lock + 'static>(
    held: Option<&albflip::lock::Held<L>>,
    cancel: &CancellationToken,
    say: signals::Say,
) {
    if let Some(h) = held {
        let (lost, cancel) = (h.lost(), cancel.clone());
        tokio::spawn(async move {
            lost.cancelled().await;
            say("albflip: the deployment lock was lost: stopping without writing anything more");
            cancel.cancel();
        });
    }
}

/// The heartbeat of plain output: a line now and then while nothing else is printed.
pub fn heartbeat(printer: Arc<progress::Printer>) -> JoinHandle<()> {
    let every = progress::Printer::heartbeat_every();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1).min(every)).await;
            printer.beat(every);
        }
    })
}

/// What the report knows of an ALB route beyond the events: its name when the user named it by load
/// balancer and port (the port is not in the listener's ARN), and who runs this command.
fn report_context(target: &albflip::aws::resolve::Target) -> report::Context {
    use albflip::aws::resolve::RouteSpec;
    let (named, route) = match &target.route {
        RouteSpec::Listener(arn) => (None, arn.to_string()),
        RouteSpec::Rule(arn) => (None, arn.to_string()),
        other => (Some(other.to_string()), other.to_string()),
    };
    report::Context {
        named,
        route,
        runner: albflip::state::identity_from_env(),
    }
}

/// Writes the HTML report of the run (`--report`); a failure to write it is a warning.
pub fn write_report(
    path: &std::path::Path,
    ctx: &report::Context,
    spec: &DeploySpec,
    events: &[(std::time::SystemTime, Event)],
    result: &Result<Outcome, Error>,
    g: &GlobalArgs,
) {
    // The report's timeline holds the polls, not the waits for data between them (one per poll,
    // shown live on a terminal and in the NDJSON).
    let events: Vec<(std::time::SystemTime, Event)> = events
        .iter()
        .filter(|(_, e)| !matches!(e, Event::WaitingForData { .. }))
        .cloned()
        .collect();
    let html = report::render(ctx, spec, &events, result);
    if let Err(e) = std::fs::write(path, html) {
        eprintln!(
            "albflip: warning: could not write the report {}: {e}",
            path.display()
        );
    } else if !g.quiet && g.output == OutputFormat::Text {
        println!("report: {}", path.display());
    }
}
