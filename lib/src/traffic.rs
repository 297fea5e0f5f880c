//! The traffic operations: `status`, `shift` and `rollback`. Each resolves the route, decides, writes at
//! most once, and verifies what it wrote. The functions here are the ALB's (over its own route types);
//! [`neutral`] has the same operations over any [`crate::ports::Provider`].

pub mod neutral;

use serde::Serialize;

use crate::error::Error;
use crate::input::Text;
use crate::model::{Color, Percent, Split, Stickiness};
use crate::ports::Clock;
use crate::providers::aws::api::Alb;
use crate::providers::aws::arn::{LoadBalancerArn, TargetGroupArn};
use crate::providers::aws::checks;
use crate::providers::aws::known_health::KnownHealth;
use crate::providers::aws::lockstep::LeftAlone;
use crate::providers::aws::resolve::{self, Resolved, StableSource, Target};
use crate::providers::aws::route::{self, ForwardAction, RouteId, RouteSnapshot};
use crate::providers::aws::sticky;
use crate::providers::aws::write::{self, unwritable};
use crate::state::{self, DeploymentRecord, Phase, STATE_TAG, UPDATED_TAG};

pub use crate::providers::aws::write::Verification;

/// One color of a route, as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ColorStatus {
    /// The target group's ARN.
    pub target_group_arn: TargetGroupArn,
    /// The target group's name.
    pub target_group_name: String,
    /// Its share of traffic.
    pub percent: u8,
    /// Its raw ALB weight; `None` when the route forwards to one group without weights or not to it.
    pub weight: Option<i64>,
    /// Healthy targets.
    pub healthy: u32,
    /// Registered targets.
    pub total: u32,
}

/// The state of a route.
#[derive(Debug, Clone, Serialize)]
pub struct RouteStatus {
    /// The route.
    pub route: RouteId,
    /// The listener of the route.
    pub listener_arn: String,
    /// The load balancer.
    pub load_balancer_arn: LoadBalancerArn,
    /// Blue.
    pub blue: ColorStatus,
    /// Green.
    pub green: ColorStatus,
    /// Group stickiness (off when the action has none).
    pub stickiness: Stickiness,
    /// The group stickiness a rollback turned off on the route and recorded, which the next shift or
    /// deployment turns back on.
    pub stickiness_recorded: Option<Stickiness>,
    /// The stable color.
    pub stable: Color,
    /// Where the stable color came from.
    pub stable_source: StableSource,
    /// Whether the route still forwards to a single group (converted on the first shift).
    pub single_target_group: bool,
    /// The deployment recorded on the route, if any.
    pub deployment: Option<DeploymentRecord>,
    /// While a run waits for promotion with the gates on: until when (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_until: Option<String>,
    /// The test header's rules albflip created on the route's listener, while they exist.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub test_rules: Vec<TestRule>,
    /// Every route that moves in lockstep, the named one first, each with its split.
    pub routes: Vec<LockstepRoute>,
    /// Routes that forward to blue or green and are left alone, with why.
    pub left_alone: Vec<LeftAlone>,
}

/// A test header's rule on the route's listener, as `status` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct TestRule {
    /// The rule.
    pub rule_arn: String,
    /// The header, `NAME=VALUE`.
    pub header: String,
    /// Its priority.
    pub priority: Option<u32>,
    /// The color it sends the header's requests to, if blue or green.
    pub to: Option<Color>,
}

/// One route of the lockstep group, as `status` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct LockstepRoute {
    /// The route.
    pub route: RouteId,
    /// Its load balancer.
    pub load_balancer_arn: LoadBalancerArn,
    /// Blue's share.
    pub blue_percent: u8,
    /// Green's share.
    pub green_percent: u8,
}

/// Reads the route and the health of both colors.
pub async fn status<A: Alb>(alb: &A, target: &Target) -> Result<RouteStatus, Error> {
    let resolved = resolve::resolve(alb, target).await?;
    let (blue, green) = tokio::join!(
        alb.health(&resolved.groups.blue),
        alb.health(&resolved.groups.green)
    );
    let health = [blue.map_err(Error::Read)?, green.map_err(Error::Read)?];
    let forward = resolved.forward()?;
    let color_status = |color: Color| {
        let arn = resolved.groups.of(color).clone();
        let h = health[color as usize];
        ColorStatus {
            target_group_name: arn.name().to_string(),
            percent: resolved.split.percent_of(color).get(),
            weight: forward
                .targets
                .iter()
                .find(|t| t.target_group == arn)
                .and_then(|t| t.weight),
            healthy: h.healthy,
            total: h.total,
            target_group_arn: arn,
        }
    };
    Ok(RouteStatus {
        listener_arn: resolved.snapshot.route.listener().to_string(),
        route: resolved.snapshot.route.clone(),
        load_balancer_arn: resolved.snapshot.load_balancer.clone(),
        blue: color_status(Color::Blue),
        green: color_status(Color::Green),
        stickiness: forward.stickiness.unwrap_or(Stickiness::OFF),
        // Only while the live setting is still the released one (a record left behind says nothing).
        stickiness_recorded: resolved
            .sticky_record(&resolved.snapshot.route)
            .filter(|_| sticky::released(forward.stickiness, sticky::Release::Off).is_none()),
        stable: resolved.stable,
        stable_source: resolved.stable_source,
        single_target_group: forward.targets.len() == 1,
        deployment: DeploymentRecord::from_tags(&resolved.tags),
        waiting_until: waiting_until(&resolved.tags),
        test_rules: test_rules(alb, &resolved).await,
        routes: lockstep_routes(&resolved),
        left_alone: resolved.left_alone.clone(),
    })
}

/// albflip's test header rules on the route's listener; none when the rules cannot be read (status
/// reads, it does not fail on this).
async fn test_rules<A: Alb>(alb: &A, resolved: &Resolved) -> Vec<TestRule> {
    let listener = resolved.snapshot.route.listener();
    let Ok(rules) = alb.listener_rules(&listener).await else {
        return Vec::new();
    };
    crate::providers::aws::test_header::any_ours(&rules)
        .into_iter()
        .map(|r| TestRule {
            rule_arn: r.arn.as_str().to_string(),
            header: r
                .tags
                .get(crate::providers::aws::test_header::TEST_RULE_TAG)
                .cloned()
                .unwrap_or_default(),
            priority: r.priority,
            to: r
                .forward
                .first()
                .and_then(|tg| resolved.groups.color_of(tg)),
        })
        .collect()
}

/// When the wait for promotion recorded on the route ends, while the deployment awaits promotion.
fn waiting_until(tags: &crate::ports::Tags) -> Option<String> {
    let record = DeploymentRecord::from_tags(tags)?;
    let waiting = crate::state::Waiting::from_tags(tags)?;
    (record.phase == Phase::AwaitingPromotion && waiting.id == record.id)
        .then(|| crate::state::timestamp(waiting.until))
}

fn lockstep_routes(resolved: &Resolved) -> Vec<LockstepRoute> {
    let line = |snapshot: &RouteSnapshot, split: Split| LockstepRoute {
        route: snapshot.route.clone(),
        load_balancer_arn: snapshot.load_balancer.clone(),
        blue_percent: split.percent_of(Color::Blue).get(),
        green_percent: split.percent_of(Color::Green).get(),
    };
    std::iter::once(line(&resolved.snapshot, resolved.split))
        .chain(resolved.peers.iter().map(|p| line(&p.snapshot, p.split)))
        .collect()
}

/// Options of a traffic change.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChangeOptions {
    /// Compute and report, write nothing.
    pub dry_run: bool,
    /// Send traffic to a color even if it has no healthy targets.
    pub force: bool,
    /// Healthy targets a color needs before its share goes up (0 counts as 1).
    pub min_healthy_hosts: u32,
    /// `shift` only: write even though a deployment is in flight on the route (taking it over).
    pub take_over: bool,
}

/// What a traffic change did.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeOutcome {
    /// The route.
    pub route: RouteId,
    /// The split before.
    pub before: Split,
    /// The split after (or that would be, on a dry run).
    pub after: Split,
    /// Whether anything was written.
    pub written: bool,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// How the write was verified.
    pub verification: Verification,
    /// The stable color after the change.
    pub stable: Color,
    /// Whether the `albflip:stable` tag was (or on a dry run, would be) written.
    pub stable_tag_written: bool,
    /// Stickiness as found and kept.
    pub stickiness: Stickiness,
    /// Warnings for the operator (for example, forced traffic to a color without healthy targets).
    pub warnings: Vec<Text>,
    /// The forward action written (or that would be) on the named route.
    pub forward: ForwardAction,
    /// Every route that moved in lockstep (or would), the named one first.
    pub routes: Vec<RouteId>,
    /// Each of those routes with its own split before and after, and whether it was written.
    pub changes: Vec<RouteChange>,
    /// Routes that forward to blue or green and were left alone, with why.
    pub left_alone: Vec<LeftAlone>,
    /// Routes whose group stickiness this rollback released (off, or 1 s) so that sticky clients leave
    /// the old color, with the setting each had (recorded; the next shift or deployment writes it back).
    pub stickiness_released: Vec<(RouteId, Stickiness)>,
    /// Routes whose group stickiness this change wrote back from a rollback's record.
    pub stickiness_restored: Vec<(RouteId, Stickiness)>,
}

/// One route of a traffic change: its own split before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteChange {
    /// The route.
    pub route: RouteId,
    /// Its split before.
    pub before: Split,
    /// Its split after (or that would be, on a dry run).
    pub after: Split,
    /// Whether it was written (false when it already carried `after`, and on a dry run).
    pub written: bool,
}

/// Puts `percent` of traffic on `color` and the rest on the other color, then reads the route back to
/// verify it.
pub async fn shift<A: Alb>(
    alb: &A,
    target: &Target,
    color: Color,
    percent: Percent,
    options: ChangeOptions,
) -> Result<ChangeOutcome, Error> {
    let resolved = resolve::resolve(alb, target).await?;
    let taken_over = resolved.check_can_shift(options.take_over)?;
    let route = &resolved.snapshot.route;
    state::check_tag_room(route, &resolved.tags, &[state::STABLE_TAG])?;
    let mut outcome = apply(
        alb,
        &resolved,
        Split::to(color, percent),
        options,
        Verification::ReadBack,
    )
    .await?;
    if let Some(record) = taken_over {
        let warning = crate::text!("WARNING: ").then(state::took_over(&record));
        outcome.warnings.push(warning);
    }
    Ok(outcome)
}

/// The emergency path: all traffic to the stable color (or `to`), verified from the write's response.
/// Idempotent: nothing is written on a route already there. Its reads take two round trips (one with
/// `--single-route` and both colors named by ARN), and the writes of every route one more, made at
/// once.
pub async fn rollback<A: Alb, C: Clock>(
    alb: &A,
    clock: &C,
    target: &Target,
    to: Option<Color>,
    options: ChangeOptions,
) -> Result<ChangeOutcome, Error> {
    let (resolved, health) = resolve::resolve_for_rollback(alb, target, to).await?;
    rollback_checked(alb, clock, &resolved, to, options, &health).await
}

/// [`rollback`] on a route already resolved (so a caller that needed the route first, such as
/// [`crate::cleanup::rollback`], does not read it twice): all traffic to `to` or the stable color,
/// verified from the write's response, and a deployment in flight recorded as rolled back.
pub async fn rollback_resolved<A: Alb, C: Clock>(
    alb: &A,
    clock: &C,
    resolved: &Resolved,
    to: Option<Color>,
    options: ChangeOptions,
) -> Result<ChangeOutcome, Error> {
    rollback_checked(alb, clock, resolved, to, options, &KnownHealth::default()).await
}

/// [`rollback_resolved`] with the health already read for it (`known`).
pub(crate) async fn rollback_checked<A: Alb, C: Clock>(
    alb: &A,
    clock: &C,
    resolved: &Resolved,
    to: Option<Color>,
    options: ChangeOptions,
    known: &KnownHealth,
) -> Result<ChangeOutcome, Error> {
    let color = to.unwrap_or(resolved.stable);
    let outcome = apply_checked(
        alb,
        resolved,
        Split::all_to(color),
        options,
        Verification::Response,
        known,
    )
    .await?;
    let in_flight =
        DeploymentRecord::from_tags(&resolved.tags).is_some_and(|r| r.phase.is_unfinished());
    // Traffic first: the record is written after the routes, as its own round trip.
    if in_flight && !options.dry_run {
        let resource = resolved.snapshot.route.resource_arn();
        alb.set_tags(
            resource,
            &[
                (STATE_TAG, Phase::RolledBack.as_str()),
                (UPDATED_TAG, &state::timestamp(clock.now())),
            ],
        )
        .await
        .map_err(|source| Error::TagFailed {
            split: outcome.after.to_string(),
            resource: resource.to_string(),
            color,
            source: Box::new(source),
        })?;
    }
    Ok(outcome)
}

/// Writes `split` on a resolved route and its lockstep peers (unless it is already live or this is a
/// dry run), verifies it and records the stable color when one color now has all traffic.
///
/// With [`Verification::ReadBack`] (a shift) the routes must agree on their split before, and a failure
/// part-way puts the routes already written back ([`crate::providers::aws::write::write_group`]). With
/// [`Verification::Response`] (the rollback) every route that can be written is written
/// ([`crate::providers::aws::write::write_each`]).
pub async fn apply<A: Alb>(
    alb: &A,
    resolved: &Resolved,
    split: Split,
    options: ChangeOptions,
    verification: Verification,
) -> Result<ChangeOutcome, Error> {
    let known = KnownHealth::default();
    apply_checked(alb, resolved, split, options, verification, &known).await
}

/// [`apply`] with health already read (`known`), which the health check does not read again.
///
/// A shift ([`Verification::ReadBack`]) writes back the group stickiness a rollback released and
/// recorded ([`sticky`]), then removes the records; a rollback ([`Verification::Response`]) releases
/// the group stickiness of every route it writes, in the same write, and records what it found.
async fn apply_checked<A: Alb>(
    alb: &A,
    resolved: &Resolved,
    split: Split,
    options: ChangeOptions,
    verification: Verification,
    known: &KnownHealth,
) -> Result<ChangeOutcome, Error> {
    let route = resolved.snapshot.route.clone();
    let rollback = verification == Verification::Response;
    let current = resolved.forward()?;
    if verification == Verification::ReadBack {
        resolved.check_agreement()?;
    }
    let (pending, restored) = match rollback {
        true => (pending_routes(resolved, split)?, Vec::new()),
        false => restoring(resolved, pending_routes(resolved, split)?),
    };
    let (pending, released) = match rollback {
        true => releasing(alb, resolved, pending, known.release()).await,
        false => (pending, Vec::new()),
    };
    let named = pending
        .iter()
        .find(|p| p.route == route)
        .unwrap_or(&resolved.snapshot);
    let desired = route::forward_with_split(
        route::forward_of(named).unwrap_or(current),
        &resolved.groups,
        split,
    )
    .map_err(|p| unwritable(&route, p))?;
    let already = pending.is_empty();
    let warnings = checks::check_health(
        alb,
        resolved,
        split,
        options.force,
        options.min_healthy_hosts,
        known,
    )
    .await?;
    let new_stable = split.whole_color().unwrap_or(resolved.stable);
    // Only a change of the stable color is recorded: an untagged route is blue-stable by default, so
    // confirming blue needs no write (and keeps the rollback path at one write).
    let tag_needed = split.whole_color().is_some() && new_stable != resolved.stable;
    let mut outcome = ChangeOutcome {
        route: route.clone(),
        before: resolved.split,
        after: split,
        written: false,
        dry_run: options.dry_run,
        verification: Verification::NotNeeded,
        stable: new_stable,
        stable_tag_written: tag_needed,
        stickiness: current.stickiness.unwrap_or(Stickiness::OFF),
        warnings,
        forward: desired.clone(),
        routes: resolved.routes().iter().map(|r| r.route.clone()).collect(),
        changes: changes(resolved, split, &pending, false),
        left_alone: resolved.left_alone.clone(),
        stickiness_released: released,
        stickiness_restored: restored,
    };
    if options.dry_run {
        return Ok(outcome);
    }
    if !already {
        checks::check_conversions(alb, resolved, &pending.iter().collect::<Vec<_>>()).await?;
        if rollback {
            // The record is written with the traffic: should a write fail, a record of a setting still
            // live is harmless (only a released setting is ever written back from it).
            let (written, recorded) = tokio::join!(
                write::write_each(alb, &pending, &resolved.groups, split),
                sticky::record(alb, &outcome.stickiness_released)
            );
            written?;
            // Traffic is back: a record that could not be written is a warning with the fix.
            if let Err(e) = recorded {
                outcome
                    .warnings
                    .push(crate::text!("WARNING: ").then(e.text()));
            }
        } else {
            write::write_group(alb, &pending, &resolved.groups, split, verification).await?;
        }
        outcome.written = true;
        outcome.verification = verification;
        outcome.changes = changes(resolved, split, &pending, true);
    }
    if !rollback && !outcome.stickiness_restored.is_empty() {
        let routes: Vec<RouteId> = resolved
            .sticky_records
            .iter()
            .map(|(r, _)| r.clone())
            .collect();
        // A record left behind is harmless: a setting is only ever written back over a released one.
        if let Err(e) = sticky::clear(alb, &routes).await {
            tracing::warn!(error = %e, "the stickiness record could not be removed after its setting was written back");
        }
    }
    if let (Some(color), true) = (split.whole_color(), named_written(&outcome)) {
        let drained = color.other();
        if resolved.split.percent_of(drained).get() > 0 {
            if let Err(e) = sticky::record_drained(alb, &route, &desired, drained).await {
                tracing::warn!(error = %e, "recording when {drained} was drained failed; cleanup will not wait for its sticky clients");
            }
        }
    }
    if tag_needed {
        checks::tag_stable(alb, &resolved.routes(), split, new_stable).await?;
    }
    Ok(outcome)
}

/// The `pending` routes with the stickiness their records hold put back (so the write restores it), and
/// the routes restored. A route whose only change is its stickiness is pending too.
fn restoring(
    resolved: &Resolved,
    pending: Vec<RouteSnapshot>,
) -> (Vec<RouteSnapshot>, Vec<(RouteId, Stickiness)>) {
    let mut restored = Vec::new();
    let mut out = pending;
    for snapshot in resolved.routes() {
        let record = resolved.sticky_record(&snapshot.route);
        let mut patched = snapshot.clone();
        if !sticky::restore(&mut patched, record) {
            continue;
        }
        restored.extend(record.map(|r| (snapshot.route.clone(), r)));
        match out.iter_mut().find(|p| p.route == snapshot.route) {
            Some(p) => *p = patched,
            None => out.push(patched),
        }
    }
    (out, restored)
}

/// The `pending` routes of a rollback with their group stickiness released (see [`sticky`]), and the
/// setting each released route had.
async fn releasing<A: Alb>(
    alb: &A,
    resolved: &Resolved,
    pending: Vec<RouteSnapshot>,
    read_ahead: Option<sticky::Release>,
) -> (Vec<RouteSnapshot>, Vec<(RouteId, Stickiness)>) {
    let refs: Vec<&RouteSnapshot> = pending.iter().collect();
    let keep = resolved.keep_stickiness;
    let how = match read_ahead.filter(|_| !keep) {
        Some(how) => how,
        None => sticky::how_to_release(alb, &resolved.groups, &refs, keep).await,
    };
    let mut released = Vec::new();
    let routes = pending
        .iter()
        .map(|p| {
            let (out, had) = sticky::release(p, how);
            released.extend(had.map(|h| (p.route.clone(), h)));
            out
        })
        .collect();
    (routes, released)
}

/// Each route's own split before and `split` after; `written` marks the `pending` ones.
fn changes(
    resolved: &Resolved,
    split: Split,
    pending: &[RouteSnapshot],
    written: bool,
) -> Vec<RouteChange> {
    std::iter::once((&resolved.snapshot, resolved.split))
        .chain(resolved.peers.iter().map(|p| (&p.snapshot, p.split)))
        .map(|(snapshot, before)| RouteChange {
            route: snapshot.route.clone(),
            before,
            after: split,
            written: written && pending.iter().any(|p| p.route == snapshot.route),
        })
        .collect()
}

/// Whether the named route was written.
fn named_written(outcome: &ChangeOutcome) -> bool {
    outcome.written && outcome.changes.first().is_some_and(|c| c.written)
}

/// The routes (the named one and its peers) that do not carry `split` yet.
fn pending_routes(resolved: &Resolved, split: Split) -> Result<Vec<RouteSnapshot>, Error> {
    let mut pending = Vec::new();
    for snapshot in resolved.routes() {
        let current = route::forward_of(snapshot).map_err(|p| unwritable(&snapshot.route, p))?;
        let desired = route::forward_with_split(current, &resolved.groups, split)
            .map_err(|p| unwritable(&snapshot.route, p))?;
        if !route::matches_written(current, &desired) {
            pending.push(snapshot.clone());
        }
    }
    Ok(pending)
}
