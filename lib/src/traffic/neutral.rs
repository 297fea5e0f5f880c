//! `status`, `shift` and `rollback` over any [`Provider`]: the routers that are not the ALB (HAProxy, and
//! whatever implements the ports next) get the CLI's traffic operations through here, with the same
//! rules as the ALB's own ([`super::shift`], [`super::rollback`]): resolve, check, write at most once,
//! verify by reading back, record the stable color; the rollback moves traffic first and records the
//! deployment as rolled back after.

use serde::Serialize;

use crate::error::Error;
use crate::input::Text;
use crate::model::{Color, Percent, Split};
use crate::ports::{Clock, Member, Provider, Routes, TargetHealth};
use crate::state::{self, DeploymentRecord, Phase, RouteState, STATE_TAG, UPDATED_TAG};

use super::ChangeOptions;

/// One color of a route, as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ColorView {
    /// Its backend, for people (HAProxy: `BACKEND/SERVER,...`).
    pub backend: String,
    /// Its share of traffic.
    pub percent: u8,
    /// Its members' health as the router's checks see them now.
    pub health: TargetHealth,
}

/// A route as `status` shows it, whatever the router.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The route, for people.
    pub route: String,
    /// Its id (the key of its records and its lock).
    pub id: String,
    /// Blue.
    pub blue: ColorView,
    /// Green.
    pub green: ColorView,
    /// The stable color.
    pub stable: Color,
    /// The deployment recorded, if any.
    pub deployment: Option<DeploymentRecord>,
    /// Both colors' members (HAProxy: each server with its weight).
    pub members: Vec<Member>,
    /// What the router warns about (HAProxy: live weights a reload would lose).
    pub warnings: Vec<Text>,
}

/// Reads the route and both colors' health.
pub async fn status<P: Provider>(provider: &P, target: &P::Target) -> Result<Status, Error> {
    let routes = provider.resolve(target).await?;
    let (blue, green) = tokio::join!(routes.health(Color::Blue), routes.health(Color::Green));
    let view = |color: Color, health| ColorView {
        backend: routes.backend(color).name,
        percent: routes.split().percent_of(color).get(),
        health,
    };
    let names = routes.names();
    Ok(Status {
        route: names.route,
        id: names.id,
        blue: view(Color::Blue, blue.map_err(Error::Read)?),
        green: view(Color::Green, green.map_err(Error::Read)?),
        stable: routes.stable(),
        deployment: DeploymentRecord::from_tags(routes.records()),
        members: routes.members(),
        warnings: routes.status_warnings(),
    })
}

/// What a traffic change did (or would do, on a dry run).
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// The route, for people.
    pub route: String,
    /// The split before.
    pub before: Split,
    /// The split after.
    pub after: Split,
    /// Whether anything was written.
    pub written: bool,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// The stable color after the change.
    pub stable: Color,
    /// Whether the stable color was (or would be) recorded.
    pub stable_recorded: bool,
    /// Warnings for the operator.
    pub warnings: Vec<Text>,
}

/// Puts `percent` on `color` and the rest on the other color, verified by a read-back; records the
/// stable color when one color gets everything.
pub async fn shift<P: Provider>(
    provider: &P,
    target: &P::Target,
    color: Color,
    percent: Percent,
    options: ChangeOptions,
) -> Result<Change, Error> {
    let routes = provider.resolve(target).await?;
    let record = DeploymentRecord::from_tags(routes.records());
    let names = routes.names();
    let live = RouteState {
        route: &names.route,
        record: record.as_ref(),
        split: routes.split(),
        stable: routes.stable(),
    };
    let taken_over = state::check_can_shift(live, options.take_over)?;
    routes.check_agreement()?;
    let split = Split::to(color, percent);
    let mut change = apply(&routes, split, options, Write::Step).await?;
    if let Some(record) = taken_over {
        change
            .warnings
            .push(crate::text!("WARNING: ").then(state::took_over(&record)));
    }
    Ok(change)
}

/// The emergency path: all traffic to the stable color (or `to`), verified by a read-back; a deployment
/// in flight is then recorded as rolled back. Nothing is written on a route already there.
pub async fn rollback<P: Provider, C: Clock>(
    provider: &P,
    clock: &C,
    target: &P::Target,
    to: Option<Color>,
    options: ChangeOptions,
) -> Result<Change, Error> {
    let routes = provider.resolve(target).await?;
    let color = to.unwrap_or(routes.stable());
    let change = apply(
        &routes,
        Split::all_to(color),
        options,
        Write::Rollback(color),
    )
    .await?;
    let in_flight =
        DeploymentRecord::from_tags(routes.records()).is_some_and(|r| r.phase.is_unfinished());
    // Traffic first: the record after.
    if in_flight && !options.dry_run {
        routes
            .save(&[
                (STATE_TAG, Phase::RolledBack.as_str()),
                (UPDATED_TAG, &state::timestamp(clock.now())),
            ])
            .await
            .map_err(|source| Error::TagFailed {
                split: change.after.to_string(),
                resource: routes.names().id,
                color,
                source: Box::new(source),
            })?;
    }
    Ok(change)
}

/// How a change writes.
#[derive(Clone, Copy)]
enum Write {
    /// As a step: refused when the live split drifted from the one resolved.
    Step,
    /// As the emergency path: all traffic to the color, whatever is live.
    Rollback(Color),
}

/// Checks the health of every color that gains, writes `split` unless it is live (or a dry run),
/// verified, and records the stable color when it changes.
async fn apply<R: Routes>(
    routes: &R,
    split: Split,
    options: ChangeOptions,
    write: Write,
) -> Result<Change, Error> {
    let warnings = routes
        .check_health(split, options.force, options.min_healthy_hosts)
        .await?;
    let before = routes.split();
    let stable = split.whole_color().unwrap_or(routes.stable());
    let stable_recorded = split.whole_color().is_some() && stable != routes.stable();
    let mut change = Change {
        route: routes.names().route,
        before,
        after: split,
        written: false,
        dry_run: options.dry_run,
        stable,
        stable_recorded,
        warnings,
    };
    if options.dry_run {
        return Ok(change);
    }
    if before != split {
        match write {
            Write::Step => {
                routes.check_writable().await?;
                routes.write_step(before, split, false, &|_| {}).await?;
            }
            Write::Rollback(color) => routes.rollback(color).await?,
        }
        change.written = true;
    }
    if stable_recorded {
        routes.mark_stable(stable, split, false).await?;
    }
    Ok(change)
}
