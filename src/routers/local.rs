//! The commands on a router that runs on this host (HAProxy, nginx): `status`, `shift`, `rollback`,
//! `deploy`, `promote`, `plan`, `check`, `unlock` and `history`, the same for every such router. The
//! library does the work: [`albflip::traffic::neutral`] for the traffic operations, the [`Engine`] for
//! the gated runs, [`albflip::local`] for the state file, the file lock and the counters. A router
//! plugs in through [`LocalRouter`].

use std::sync::Arc;
use std::time::Duration;

use albflip::config::FileConfig;
use albflip::engine::{DeploySpec, Engine, OnInterrupt, Outcome};
use albflip::events::{Collect, Observer};
use albflip::history::HistoryStore;
use albflip::local::{
    CounterMetrics, CounterSource, FileLock, HistoryFile, StateDir, LOCAL_WINDOW,
};
use albflip::model::Color;
use albflip::ports::{Lock, Provider, Routes, TokioClock};
use albflip::traffic::neutral::{self, Change, Status};
use albflip::traffic::ChangeOptions;
use albflip::Error;
use serde_json::json;

use crate::args::{
    BakeArgs, DeployArgs, GateArgs, GlobalArgs, HistoryArgs, InterruptArg, OutputFormat,
    PromoteArgs, RollbackArgs, ShiftArgs, UnlockArgs,
};
use crate::commands::common::{emit, heartbeat, stop_when_lost, warn_when_quiet, write_report};
use crate::paint::Paint;
use crate::{exit, lifecycle, live, progress, render, signals, spec};

/// A router on this host, as the commands drive it.
pub trait LocalRouter {
    /// Its provider.
    type Provider: Provider;
    /// Where its counters come from.
    type Counters: CounterSource;
    /// The provider.
    fn provider(&self) -> &Self::Provider;
    /// The route the user named.
    fn target(&self) -> &<Self::Provider as Provider>::Target;
    /// Its counters, for the metrics of a gated run.
    fn counters(&self) -> Self::Counters;
    /// The key of the route's lock.
    fn lock_key(&self) -> String;
    /// What to check when the router cannot be reached.
    fn hint(&self) -> String;
}

/// What every local router's commands share: the file, the state directory and the lock's lease.
pub struct LocalSettings {
    pub file: FileConfig,
    pub state_dir: StateDir,
    pub lock_ttl: Duration,
}

impl LocalSettings {
    /// The lease from `--lock-ttl` or `[lock] ttl` (default 2m).
    pub fn resolve(g: &GlobalArgs, file: FileConfig, state_dir: StateDir) -> Result<Self, Error> {
        let lock_ttl = match (g.lock_ttl, &file.lock.ttl) {
            (Some(d), _) => d,
            (None, Some(text)) => {
                humantime::parse_duration(text).map_err(|e| Error::InvalidInput {
                    what: format!("albflip.toml [lock] ttl = {text:?}"),
                    why: e.to_string(),
                    fix: "Use a duration such as \"2m\"".into(),
                })?
            }
            (None, None) => albflip::lock::DEFAULT_TTL,
        };
        if lock_ttl < Duration::from_secs(3) {
            return Err(Error::InvalidInput {
                what: "--lock-ttl".into(),
                why: "is too short to renew".into(),
                fix: "Use at least 3s (default 2m)".into(),
            });
        }
        Ok(LocalSettings {
            file,
            state_dir,
            lock_ttl,
        })
    }
}

/// The metric window of a local router: what the flags and the file set, the rest from
/// [`LOCAL_WINDOW`] (no publication lag, short periods), checked again.
pub fn local_window(
    spec: &mut DeploySpec,
    args: &GateArgs,
    file: &FileConfig,
) -> Result<(), Error> {
    let g = &file.gates;
    let w = &mut spec.window;
    if args.metric_window.is_none() && g.metric_window.is_none() {
        w.window = LOCAL_WINDOW.window;
    }
    if args.metric_lag.is_none() && g.metric_lag.is_none() {
        w.lag = LOCAL_WINDOW.lag;
    }
    if args.metric_period.is_none() && g.metric_period.is_none() {
        w.period = LOCAL_WINDOW.period;
    }
    if w.window < w.period {
        return Err(Error::InvalidInput {
            what: "--metric-window/--metric-period".into(),
            why: "the window must hold at least one period".into(),
            fix: format!(
                "Use a window of at least the period ({})",
                humantime::format_duration(w.period)
            ),
        });
    }
    Ok(())
}

/// `status`: the route, both colors and their members, the deployment recorded, the lock.
pub async fn status<L: LocalRouter>(r: &L, s: &LocalSettings, g: &GlobalArgs) -> Result<u8, Error> {
    let status = neutral::status(r.provider(), r.target()).await?;
    let lock = FileLock::new(s.state_dir.clone());
    let holder = lock.holder(&r.lock_key()).await.map_err(Error::Read)?;
    let out = match g.output {
        OutputFormat::Json => {
            let mut v = serde_json::to_value(&status).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("lock".into(), json!(holder));
                o.insert("state_dir".into(), json!(s.state_dir.path()));
            }
            format!("{v}\n")
        }
        OutputFormat::Text => status_text(
            &status,
            holder.as_ref(),
            &s.state_dir,
            Paint::stdout(g.output),
        ),
    };
    emit(&out, g);
    warn_when_quiet(&status.warnings, g);
    Ok(exit::SUCCESS)
}

fn status_text(
    s: &Status,
    holder: Option<&albflip::ports::LeaseHolder>,
    dir: &StateDir,
    paint: Paint,
) -> String {
    let mut out = format!(
        "Route       {}\nStable      {}\n",
        s.route,
        paint.color_name(s.stable)
    );
    if let Some(d) = &s.deployment {
        out.push_str(&format!(
            "Deployment  {} of {} ({}), step {} of {}, {}; started by {}, updated {}\n",
            d.id,
            paint.color_name(d.target),
            d.strategy,
            d.step,
            d.steps.len(),
            paint.phase(d.phase, d.phase.as_str()),
            d.started_by,
            d.updated
        ));
    }
    out.push_str(&match holder {
        Some(h) => format!(
            "Lock        held by {} since {} (expires {})\n",
            h.holder, h.since, h.expires
        ),
        None => "Lock        free\n".to_string(),
    });
    out.push_str(&format!("State       {}\n", dir.path().display()));
    out.push_str(&format!(
        "\n  {:<6} {:>7} {:>8}  {}\n",
        "COLOR", "TRAFFIC", "HEALTHY", "SERVERS"
    ));
    for (color, c) in [(Color::Blue, &s.blue), (Color::Green, &s.green)] {
        let health = format!("{:>8}", format!("{}/{}", c.health.healthy, c.health.total));
        out.push_str(&format!(
            "  {} {:>6}% {}  {}\n",
            paint.color(color, format!("{:<6}", color.as_str())),
            c.percent,
            paint.health(c.health.healthy, c.health.total, c.percent, health),
            c.backend
        ));
    }
    if !s.members.is_empty() {
        out.push_str(&format!(
            "\n  {:<16} {:<6} {:>6} {:>10}\n",
            "SERVER", "COLOR", "WEIGHT", "CONFIGURED"
        ));
        for m in &s.members {
            out.push_str(&format!(
                "  {:<16} {} {:>6} {:>10}\n",
                m.name,
                paint.color(m.color, format!("{:<6}", m.color.as_str())),
                m.weight,
                m.configured_weight
                    .map_or_else(|| "-".into(), |w| w.to_string())
            ));
        }
    }
    for w in &s.warnings {
        out.push_str(&format!(
            "\n{}\n",
            paint.warn(format!("WARNING: {}", crate::naming::text(w)))
        ));
    }
    out
}

fn change_out(command: &str, verb: &str, c: &Change, g: &GlobalArgs) -> String {
    match g.output {
        OutputFormat::Json => {
            let mut v = serde_json::to_value(c).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("command".into(), json!(command));
                o.insert(
                    "warnings".into(),
                    json!(c
                        .warnings
                        .iter()
                        .map(crate::naming::text)
                        .collect::<Vec<_>>()),
                );
            }
            format!("{v}\n")
        }
        OutputFormat::Text => {
            let mut out = if c.dry_run {
                format!(
                    "Dry run: would move the {} from {} to {}; nothing was written.\n",
                    c.route, c.before, c.after
                )
            } else if c.written {
                format!(
                    "{verb} the {}: {} -> {} (read back and verified).\n",
                    c.route, c.before, c.after
                )
            } else {
                format!(
                    "The {} is already at {}: nothing to write.\n",
                    c.route, c.after
                )
            };
            if c.stable_recorded {
                out.push_str(&format!("Stable color: {} (recorded).\n", c.stable));
            }
            for w in &c.warnings {
                out.push_str(&format!("{}\n", crate::naming::text(w)));
            }
            out
        }
    }
}

/// The lease on the route, from the state directory's lock file.
async fn take_lock<L: LocalRouter>(
    r: &L,
    s: &LocalSettings,
) -> Result<albflip::lock::Held<FileLock>, Error> {
    let lock = Arc::new(FileLock::new(s.state_dir.clone()));
    let holder = format!(
        "{} (pid {})",
        albflip::state::identity_from_env(),
        std::process::id()
    );
    albflip::lock::acquire(lock, &r.lock_key(), &holder, s.lock_ttl, TokioClock::new()).await
}

async fn release(held: albflip::lock::Held<FileLock>) {
    if let Err(e) = held.release().await {
        eprintln!(
            "albflip: warning: could not release the deployment lock ({e}); it expires by itself"
        );
    }
}

/// `shift`: one verified write under the lock, or with `--bake` a gated step through the engine.
pub async fn shift<L: LocalRouter>(
    a: &ShiftArgs,
    r: &L,
    s: &LocalSettings,
    g: &GlobalArgs,
) -> Result<u8, Error> {
    if let Some(bake) = a.bake.duration().filter(|_| !a.dry_run) {
        spec::zero_minutes(&a.bake)?;
        let mut spec = spec::shift(
            a.target,
            a.percentage,
            bake,
            &a.gates,
            &s.file.gates,
            a.force,
            a.take_over,
        )?;
        local_window(&mut spec, &a.gates, &s.file)?;
        return run_engine(Run::Shift, r, s, spec, &a.bake, g).await;
    }
    let options = ChangeOptions {
        dry_run: a.dry_run,
        force: a.force,
        min_healthy_hosts: a
            .gates
            .min_healthy_hosts
            .or(s.file.gates.min_healthy_hosts)
            .unwrap_or(1),
        take_over: a.take_over,
    };
    let held = if a.dry_run {
        None
    } else {
        Some(take_lock(r, s).await?)
    };
    let result = neutral::shift(r.provider(), r.target(), a.target, a.percentage, options).await;
    if let Some(h) = held {
        release(h).await;
    }
    let change = result?;
    emit(&change_out("shift", "Shifted", &change, g), g);
    warn_when_quiet(&change.warnings, g);
    Ok(exit::SUCCESS)
}

/// `rollback`: all traffic to the stable color (or `--to`), verified; never waits for the lock.
pub async fn rollback<L: LocalRouter>(
    a: &RollbackArgs,
    r: &L,
    g: &GlobalArgs,
) -> Result<u8, Error> {
    let options = ChangeOptions {
        dry_run: a.dry_run,
        force: a.force,
        min_healthy_hosts: 1,
        take_over: false,
    };
    let clock = TokioClock::new();
    let change = neutral::rollback(r.provider(), &clock, r.target(), a.to, options).await?;
    emit(&change_out("rollback", "Rolled back", &change, g), g);
    warn_when_quiet(&change.warnings, g);
    Ok(exit::SUCCESS)
}

/// `deploy` (also `--resume`, `--dry-run`).
pub async fn deploy<L: LocalRouter>(
    a: &DeployArgs,
    r: &L,
    s: &LocalSettings,
    g: &GlobalArgs,
) -> Result<u8, Error> {
    let spec = deploy_spec(a, s, g)?;
    if a.dry_run {
        return plan_of(r, &spec, g).await;
    }
    let run = if a.resume { Run::Resume } else { Run::Deploy };
    run_engine(run, r, s, spec, &a.bake, g).await
}

fn deploy_spec(a: &DeployArgs, s: &LocalSettings, g: &GlobalArgs) -> Result<DeploySpec, Error> {
    let mut spec = spec::deploy(a, &s.file.strategy, &s.file.gates)?;
    local_window(&mut spec, &a.gates, &s.file)?;
    spec.lifecycle = lifecycle::lifecycle(Some(&a.lifecycle), g, &s.file)?;
    Ok(spec)
}

/// `plan`.
pub async fn plan<L: LocalRouter>(
    a: &DeployArgs,
    r: &L,
    s: &LocalSettings,
    g: &GlobalArgs,
) -> Result<u8, Error> {
    let spec = deploy_spec(a, s, g)?;
    plan_of(r, &spec, g).await
}

async fn plan_of<L: LocalRouter>(r: &L, spec: &DeploySpec, g: &GlobalArgs) -> Result<u8, Error> {
    let routes = r.provider().resolve(r.target()).await?;
    let out = match g.output {
        OutputFormat::Json => format!(
            "{}\n",
            json!({
                "route": routes.names().id,
                "current": albflip::events::SplitView::from(routes.split()),
                "stable": routes.stable(),
                "spec": spec,
                "steps_to_run": spec.plan.steps_to_run(),
                "minimum_duration_seconds": spec.plan.minimum_duration().as_secs_f64(),
                "written": false,
            })
        ),
        OutputFormat::Text => render::plan_text_on(
            spec,
            &routes.names().route,
            routes.split(),
            routes.stable(),
            None,
        ),
    };
    emit(&out, g);
    Ok(exit::SUCCESS)
}

/// `promote` (also `--dry-run`).
pub async fn promote<L: LocalRouter>(
    a: &PromoteArgs,
    r: &L,
    s: &LocalSettings,
    g: &GlobalArgs,
) -> Result<u8, Error> {
    let mut spec = spec::promote(a, &s.file.strategy, &s.file.gates)?;
    local_window(&mut spec, &a.gates, &s.file)?;
    spec.lifecycle = lifecycle::lifecycle(Some(&a.lifecycle), g, &s.file)?;
    if a.dry_run {
        let routes = r.provider().resolve(r.target()).await?;
        let recorded = routes
            .records()
            .get(albflip::state::TARGET_TAG)
            .and_then(|c| c.parse().ok())
            .unwrap_or(routes.stable().other());
        spec.plan = albflip::plan::Plan::promotion(recorded, spec.policy.bake);
        return plan_of(r, &spec, g).await;
    }
    run_engine(Run::Promote, r, s, spec, &a.bake, g).await
}

/// `check`: the pre-flight and the gates now; changes nothing.
pub async fn check<L: LocalRouter>(
    a: &DeployArgs,
    r: &L,
    s: &LocalSettings,
    g: &GlobalArgs,
) -> Result<u8, Error> {
    let spec = deploy_spec(a, s, g)?;
    let clock = TokioClock::new();
    let metrics = CounterMetrics::start(r.counters(), clock, spec.window.period);
    let engine = Engine::new(r.provider(), &metrics, &clock, &albflip::events::Ignore);
    let report = engine.check(r.target(), &spec).await?;
    let text = match g.output {
        OutputFormat::Json => {
            let mut v = serde_json::to_value(&report).unwrap_or_default();
            crate::naming::json::check(&mut v, &report.checks);
            format!("{v}\n")
        }
        OutputFormat::Text => render::check_text(&report, Paint::stdout(g.output)),
    };
    emit(&text, g);
    Ok(exit::for_check(report.passed()))
}

/// `unlock`: who holds the route's lock; with `--force`, break it after confirmation (as on the ALB).
pub async fn unlock<L: LocalRouter>(
    a: &UnlockArgs,
    r: &L,
    s: &LocalSettings,
    g: &GlobalArgs,
) -> Result<u8, Error> {
    let lock = FileLock::new(s.state_dir.clone());
    crate::commands::unlock::show_or_break(&lock, &r.lock_key(), a, g).await
}

/// `history`: the route's last deployments, from the state directory's history file, newest first.
pub async fn history<L: LocalRouter>(
    a: &HistoryArgs,
    r: &L,
    s: &LocalSettings,
    g: &GlobalArgs,
) -> Result<u8, Error> {
    let key = r.lock_key();
    let entries = HistoryFile::new(s.state_dir.clone())
        .recent(&key, a.limit)
        .await
        .map_err(Error::Read)?;
    emit(
        &crate::commands::history::render(&key, &entries, g.output),
        g,
    );
    Ok(exit::SUCCESS)
}

/// Which of the engine's runs to make.
#[derive(Debug, Clone, Copy)]
enum Run {
    Deploy,
    Resume,
    Promote,
    Shift,
}

/// Runs deploy, promote or a gated shift through the engine, holding the route's file lock, with the
/// router's counters as the metric source.
async fn run_engine<L: LocalRouter>(
    run: Run,
    r: &L,
    s: &LocalSettings,
    spec: DeploySpec,
    bake: &BakeArgs,
    g: &GlobalArgs,
) -> Result<u8, Error> {
    let on_interrupt = match bake.on_interrupt {
        InterruptArg::Hold => OnInterrupt::Hold,
        InterruptArg::Rollback => OnInterrupt::Rollback,
    };
    let live = (g.output == OutputFormat::Text && !g.quiet && live::LiveView::wanted())
        .then(|| Arc::new(live::LiveView::new(g.verbose > 0)));
    let say = live::say(live.as_ref());
    let cancel = signals::interrupts(say.clone());
    let held = take_lock(r, s).await?;
    stop_when_lost(Some(&held), &cancel, say);
    let clock = TokioClock::new();
    let metrics = CounterMetrics::start(r.counters(), clock, spec.window.period);
    let printer = Arc::new(progress::Printer::new(g.output, g.verbose > 0, g.quiet));
    let collected = Collect::default();
    let beat = live.is_none().then(|| heartbeat(printer.clone()));
    let screen: &dyn Observer = match &live {
        Some(view) => view.as_ref(),
        None => printer.as_ref(),
    };
    let observer = albflip::events::Both(screen, &collected);
    let engine = Engine::new(r.provider(), &metrics, &clock, &observer)
        .with_lease(held.lost())
        .with_cancellation(cancel, on_interrupt)
        .with_identity(albflip::state::identity_from_env());
    let target = r.target();
    let result: Result<Outcome, Error> = match run {
        Run::Resume => engine.resume(target, &spec).await,
        Run::Deploy => engine.deploy(target, &spec).await,
        Run::Promote => engine.promote(target, &spec).await,
        Run::Shift => engine.shift(target, &spec).await,
    };
    if let Some(view) = &live {
        view.finish();
    }
    if let Some(h) = beat {
        h.abort();
    }
    // The history is written while the lease is still held, so that the next run sees it.
    let history = HistoryFile::new(s.state_dir.clone());
    crate::history_entry::record(&history, &collected.events(), &result).await;
    release(held).await;
    let events = collected.events();
    if let Some(path) = &bake.report {
        let ctx = crate::report::Context {
            named: None,
            route: r.lock_key(),
            runner: albflip::state::identity_from_env(),
        };
        write_report(path, &ctx, &spec, &events, &result, g);
    }
    let outcome = result?;
    let blast = albflip::events::blast_radius(events.iter().map(|(_, e)| e));
    render::summary(
        &outcome,
        None,
        blast.as_ref(),
        g.output,
        g.quiet,
        g.verbose > 0,
    );
    if spec.ungated && g.output == OutputFormat::Text {
        println!("UNGATED: no step of this run was judged by the gates (--no-gates)");
    }
    Ok(exit::for_outcome(&outcome))
}
