//! `albflip shift`: a plain shift (one write, under the lock unless a dry run), or with `--bake` a gated
//! step through the engine that rolls back when a gate fails.

use albflip::traffic::{self, ChangeOptions};
use albflip::Error;

use super::common::{emit, run_engine, Run, Session};
use crate::args::{GlobalArgs, ShiftArgs};
use crate::settings::Settings;
use crate::{exit, locking, render, spec};

/// A gated shift with a bake (unless a dry run), otherwise a plain one.
pub async fn run(a: &ShiftArgs, settings: Settings, g: &GlobalArgs) -> Result<u8, Error> {
    match a.bake.duration() {
        Some(bake) if !a.dry_run => gated(a, bake, settings, g).await,
        _ => plain(a, settings, g).await,
    }
}

/// One step baked under the gates, through the engine.
async fn gated(
    a: &ShiftArgs,
    bake: std::time::Duration,
    settings: Settings,
    g: &GlobalArgs,
) -> Result<u8, Error> {
    // The spec is validated before any AWS client is built: bad input never reaches AWS.
    spec::zero_minutes(&a.bake)?;
    let spec = spec::shift(
        a.target,
        a.percentage,
        bake,
        &a.gates,
        &settings.file.gates,
        a.force,
        a.take_over,
    )?;
    let session = Session::open(None, &settings, g).await?;
    let spec = session.with_lifecycle(spec);
    run_engine(Run::Shift, &session, &settings, &spec, &a.bake, g).await
}

/// One write of the weights, verified, without gates.
async fn plain(a: &ShiftArgs, settings: Settings, g: &GlobalArgs) -> Result<u8, Error> {
    let session = Session::open(None, &settings, g).await?;
    let options = ChangeOptions {
        dry_run: a.dry_run,
        force: a.force,
        // The gate's floor of healthy hosts is the shift's pre-flight minimum too.
        min_healthy_hosts: a
            .gates
            .min_healthy_hosts
            .or(settings.file.gates.min_healthy_hosts)
            .unwrap_or(1),
        take_over: a.take_over,
    };
    let held = if a.dry_run {
        None
    } else {
        locking::take_lock(&session.alb, &session.config, &settings, g).await?
    };
    let result = traffic::shift(
        &session.alb,
        &settings.target,
        a.target,
        a.percentage,
        options,
    )
    .await;
    locking::release(held).await;
    let outcome = result?;
    let out = render::change("shift", "Shifted", &outcome, &session.calls, g);
    emit(&out, g);
    Ok(exit::SUCCESS)
}
