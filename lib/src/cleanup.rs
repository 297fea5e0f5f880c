//! After a deployment: [`cleanup`] scales the old color's Auto Scaling group to zero (its own pipeline
//! stage, like CodeDeploy's "terminate the original instances after an hour"), and [`rollback`] scales a
//! color that was cleaned up back to its recorded capacity, waits for its targets, and only then moves
//! traffic to it.
//!
//! The capacity a group had before it was scaled down is kept in a tag on the route
//! ([`CapacityRecord`], key `albflip:capacity:COLOR`), so the rollback works from any machine. The
//! scale-down itself is [`capacity::scale_down`], which re-reads every route right before the write.
//!
//! ```no_run
//! # use albflip::{aws, cleanup, engine::lifecycle::CapacityPolicy, aws::resolve::Target};
//! # async fn run() -> Result<(), albflip::Error> {
//! let config = aws::load_config(&aws::AwsSettings::default()).await?;
//! let calls = aws::CallCounter::default();
//! let (alb, asgs) = (aws::ElbV2::new(&config, calls.clone()), aws::AutoScaling::new(&config, calls));
//! let target = Target::from_convention("prod", "shop", 80);
//! let done = cleanup::cleanup(&alb, &asgs, &target, &CapacityPolicy::default(), false).await?;
//! println!("{} ({}) desired {} -> 0", done.old, done.asg, done.before.desired);
//! # Ok(()) }
//! ```

use crate::input::{Input, Next, Text};
use crate::text;
use serde::Serialize;

use crate::capacity::{self, CapacityRecord, ColorPool, Progress, Restored, Wait};
use crate::engine::lifecycle::CapacityPolicy;
use crate::error::Error;
use crate::model::Color;
use crate::ports::CapacityPool;
use crate::ports::Clock;
use crate::ports::PoolInfo;
use crate::providers::aws::api::Alb;
use crate::providers::aws::known_health::KnownHealth;
use crate::providers::aws::resolve::{self, Resolved, Target};
use crate::providers::aws::route::RouteId;
use crate::providers::aws::routes::AlbRoutes;
use crate::providers::aws::sticky;
use crate::providers::aws::test_header;
use crate::state::{DeploymentRecord, Phase};
use crate::traffic::{self, ChangeOptions, ChangeOutcome};

#[cfg(test)]
mod tests;

/// What [`cleanup`] did (or, on a dry run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct CleanupOutcome {
    /// The named route, which carries the capacity record.
    pub route: RouteId,
    /// The color scaled down: the one that is not stable.
    pub old: Color,
    /// The stable color, which has all the traffic.
    pub stable: Color,
    /// The old color's Auto Scaling group (or ECS service).
    pub asg: String,
    /// What `asg` is, as people name it: "Auto Scaling group", "ECS service".
    pub pool: &'static str,
    /// The old color's target group, found at weight 0 on every route.
    pub target_group: String,
    /// The group as it was before.
    pub before: PoolInfo,
    /// The group afterwards; `None` on a dry run.
    pub after: Option<PoolInfo>,
    /// The record written (or that would be) before scaling down; `None` when the group was already at
    /// zero, so that a second cleanup keeps the first one's record instead of recording zeros.
    pub record: Option<CapacityRecord>,
    /// Whether the group was (or would be) resized: `false` when it was already at zero.
    pub scaled_down: bool,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Every route checked for traffic, the named one first.
    pub routes: Vec<RouteId>,
}

/// Scales the old color (the one that is not stable) to zero once a deployment is over.
///
/// Refuses while a deployment is in flight on the route ([`Error::Conflict`]) and while the old color
/// still has traffic on any route ([`Error::State`]). The old color's group is the one named in
/// `asgs`, else the one registered with its target group (none: [`Error::NotFound`] naming
/// `--blue-asg`/`--green-asg`). Its capacity is recorded in the tag [`CapacityRecord::tag_key`] on the
/// named route before the resize, unless it is already at zero; then [`capacity::scale_down`] reads every
/// route again and scales it to zero. Idempotent: a group already at zero is neither written nor
/// recorded. With `dry_run` nothing is written.
pub async fn cleanup<A: Alb, S: CapacityPool>(
    alb: &A,
    scaler: &S,
    target: &Target,
    asgs: &CapacityPolicy,
    dry_run: bool,
) -> Result<CleanupOutcome, Error> {
    let resolved = resolve::resolve(alb, target).await?;
    check_settled(&resolved)?;
    check_unstuck(&resolved, std::time::SystemTime::now())?;
    let old = resolved.stable.other();
    let before = find_asg(scaler, &resolved, asgs, old).await?;
    let record = (before.desired > 0).then(|| CapacityRecord::of(&before));
    // A record that cannot be a tag is refused before anything, dry run included.
    record.as_ref().map(CapacityRecord::to_tag).transpose()?;
    let mut outcome = CleanupOutcome {
        route: resolved.snapshot.route.clone(),
        old,
        stable: resolved.stable,
        asg: before.name.clone(),
        pool: scaler.kind().noun(),
        target_group: resolved.groups.of(old).name().to_string(),
        scaled_down: record.is_some(),
        before,
        after: None,
        record,
        dry_run,
        routes: resolved.routes().iter().map(|s| s.route.clone()).collect(),
    };
    if dry_run {
        return Ok(outcome);
    }
    let routes = AlbRoutes::new(alb, resolved);
    if let Some(record) = &outcome.record {
        capacity::write_record(&routes, old, record).await?;
    }
    let group = ColorPool {
        pool: &outcome.asg,
        color: old,
    };
    // Every route that forwards to the old group is read back at weight 0 first: albflip's own and any
    // other (left alone, on a load balancer outside the search, the test listener).
    outcome.after = Some(capacity::scale_down(scaler, &routes, None, group).await?);
    Ok(outcome)
}

/// Refuses while a deployment is in flight or the old color still has traffic on some route.
fn check_settled(resolved: &Resolved) -> Result<(), Error> {
    let route = &resolved.snapshot.route;
    if let Some(r) = DeploymentRecord::from_tags(&resolved.tags) {
        if matches!(r.phase, Phase::InProgress | Phase::AwaitingPromotion) {
            return Err(Error::conflict(
                format!(
                    "a deployment of {} is recorded as {} on the {route}",
                    r.target,
                    r.phase.as_str()
                ),
                text!("Let it finish (or ", {next Next::Promote}, " / ", {next Next::Rollback}, " it), then run ", {next Next::Cleanup}),
            ));
        }
    }
    let (stable, old) = (resolved.stable, resolved.stable.other());
    let serving: Vec<String> = std::iter::once((route, resolved.split))
        .chain(resolved.peers.iter().map(|p| (&p.snapshot.route, p.split)))
        .filter(|(_, split)| split.percent_of(old).get() > 0)
        .map(|(r, split)| format!("{split} on the {r}"))
        .collect();
    if serving.is_empty() {
        return Ok(());
    }
    Err(Error::State {
        what: format!(
            "{old} still has traffic ({}); the stable color is {stable}",
            serving.join("; ")
        )
        .into(),
        fix: text!(
            format!("albflip scales {old} down only once {stable} has all the traffic on every route: finish the deployment, or "),
            {next Next::Rollback},
            ", then run ",
            {next Next::Cleanup},
            " again"
        ),
    })
}

/// Refuses while sticky clients may still reach the old color: group stickiness keeps a client on its
/// target group even at weight 0 until its cookie expires, so the old color is scaled down only once its
/// weight has been 0 for the longest stickiness duration of the routes (from the drain recorded on the
/// named route, [`sticky::DRAINED_PREFIX`] in [`sticky::STICKINESS_TAG`]). Without a record (drained by hand, or by an older albflip)
/// there is nothing to wait from.
fn check_unstuck(resolved: &Resolved, now: std::time::SystemTime) -> Result<(), Error> {
    let old = resolved.stable.other();
    let Some(duration) = sticky::longest(&resolved.routes()) else {
        return Ok(());
    };
    let Some(drained) = sticky::drained_at(&resolved.tags, old) else {
        return Ok(());
    };
    let allowed = drained + duration;
    let Ok(left) = allowed.duration_since(now) else {
        return Ok(());
    };
    Err(Error::State {
        what: format!(
            "clients with a stickiness cookie can still reach {old}: its weight went to 0 at {}, and group stickiness keeps them for {} (until {})",
            crate::state::timestamp(drained),
            crate::duration::human(duration),
            crate::state::timestamp(allowed),
        )
        .into(),
        fix: text!(
            format!("Run "),
            {next Next::Cleanup},
            format!(" again in {} (from {}), or turn group stickiness off on the route first", crate::duration::human(left), crate::state::timestamp(allowed))
        ),
    })
}

/// The old color's group: named, else discovered by its target group; never one that also serves the
/// stable color.
async fn find_asg<S: CapacityPool>(
    scaler: &S,
    resolved: &Resolved,
    asgs: &CapacityPolicy,
    color: Color,
) -> Result<PoolInfo, Error> {
    let target_group = resolved.groups.of(color);
    let kind = asgs.pool_kind();
    let (noun, input) = (kind.noun(), kind.input(color));
    let section = match kind {
        crate::ports::PoolKind::EcsService => format!("{color}-service in albflip.toml [ecs]"),
        _ => format!("{color}-asg in albflip.toml [autoscaling]"),
    };
    let name_it = text!(
        "Name it with ",
        {input input},
        format!(" NAME (or {section})")
    );
    let found = match asgs.named(color) {
        Some(name) => CapacityPool::describe(scaler, name)
            .await
            .map_err(Error::Read)?
            .ok_or_else(|| Error::NotFound {
                what: format!("{color}'s {noun} {name:?}").into(),
                fix: text!(
                    "Check ",
                    {input input},
                    format!(" (or {section}) and the region")
                ),
            })?,
        None if asgs.discover => {
            let backend = resolved.backend(color);
            capacity::discover(scaler, &backend)
                .await?
                .ok_or_else(|| Error::NotFound {
                    what: format!(
                        "an {noun} registered with {color}'s target group {}",
                        target_group.name()
                    )
                    .into(),
                    fix: name_it.clone(),
                })?
        }
        None => {
            return Err(Error::NotFound {
                what: format!("{color}'s {noun}").into(),
                fix: name_it,
            })
        }
    };
    check_not_serving(&found, resolved, color, kind)?;
    Ok(found)
}

/// Refuses a group that registers with the other color's target group: scaling it down would take
/// capacity from the color that serves the traffic.
fn check_not_serving(
    group: &PoolInfo,
    resolved: &Resolved,
    color: Color,
    kind: crate::ports::PoolKind,
) -> Result<(), Error> {
    let live = resolved.groups.of(color.other());
    if !group.serves.iter().any(|id| id == live.as_str()) {
        return Ok(());
    }
    Err(Error::invalid(
        kind.input(color),
        format!("{color}'s {} {}", kind.noun(), group.name),
        format!(
            "it registers its members with {}'s target group {} too, which serves the traffic",
            color.other(),
            live.name()
        ),
        text!(format!("Name {color}'s own pool with "), {input kind.input(color)}),
    ))
}

/// How to roll back: where traffic goes, the traffic options, and how long to wait for a color that
/// must be scaled back up first.
#[derive(Debug, Clone, Default)]
pub struct RollbackOptions {
    /// Send all traffic to this color instead of the stable one.
    pub to: Option<Color>,
    /// Roll back only this deployment: when the route records another one (or none), refuse with
    /// [`Error::Conflict`] and write nothing. A pipeline passes the id its own deploy printed, so that
    /// its clean-up never touches another build's deployment.
    pub deployment_id: Option<String>,
    /// The traffic change: dry run, force, healthy hosts needed.
    pub change: ChangeOptions,
    /// How long to wait for the color's healthy targets after scaling it back up; `None` (`--force`):
    /// scale it up and move traffic at once.
    pub wait: Option<Wait>,
}

/// A color's group scaled back up (or, on a dry run, that would be) before traffic moved.
#[derive(Debug, Clone, Serialize)]
pub struct CapacityRestore {
    /// The color.
    pub color: Color,
    /// What its pool is, as people name it: "Auto Scaling group", "ECS service".
    pub pool: &'static str,
    /// What was recorded before it was scaled down.
    pub record: CapacityRecord,
    /// The group as found.
    pub before: PoolInfo,
    /// What the restore did; `None` on a dry run.
    pub restored: Option<Restored>,
}

/// What [`rollback`] did.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackOutcome {
    /// The capacity restored before traffic moved; `None` when the color had no record or was at (or
    /// above) its recorded desired capacity.
    pub capacity: Option<CapacityRestore>,
    /// The traffic change (capacity warnings first among its warnings).
    pub change: ChangeOutcome,
    /// albflip's capacity holds ended after traffic moved (a deployment in flight, killed, had left
    /// them).
    pub released: Vec<capacity::Hold>,
    /// The test header rules (ARNs) a deployment in flight left, deleted after traffic moved.
    pub removed_test_rules: Vec<String>,
}

/// `albflip rollback`, capacity-aware: all traffic to the stable color (or `options.to`), but when that
/// color's group was scaled down since its capacity was recorded ([`CapacityRecord`] tag on the route),
/// it is first scaled back up to the record and, unless `options.wait` is `None`, albflip waits until its
/// target group has that many healthy targets, calling `on_progress` (with the color) after each look;
/// only then does
/// traffic move ([`traffic::rollback_resolved`]). A timeout is [`Error::NotReady`] with no traffic moved.
///
/// The route is resolved once. Without a record for the color this is exactly [`traffic::rollback`]:
/// no Auto Scaling call is made. A group that cannot be read is a warning, not an error (the emergency
/// path goes on; the health check before the write still guards the color).
pub async fn rollback<A, S, C>(
    alb: &A,
    scaler: &S,
    clock: &C,
    target: &Target,
    options: RollbackOptions,
    on_progress: impl FnMut(Color, &Progress) + Send,
) -> Result<RollbackOutcome, Error>
where
    A: Alb,
    S: CapacityPool,
    C: Clock,
{
    let (resolved, health) = resolve::resolve_for_rollback(alb, target, options.to).await?;
    if let Some(id) = &options.deployment_id {
        check_own_deployment(&resolved, id)?;
    }
    let color = options.to.unwrap_or(resolved.stable);
    let mut warnings = Vec::new();
    let capacity = match pending_restore(scaler, &resolved, color, &mut warnings).await {
        Some(step) => {
            Some(restore(alb, scaler, clock, &resolved, step, &options, on_progress).await?)
        }
        None => None,
    };
    if let Some(c) = capacity.as_ref().filter(|_| options.wait.is_none()) {
        warnings.push(forced_warning(c, options.change.dry_run));
    }
    // A dry run does not scale up, so the color's health now says nothing about it after the restore.
    let judge_health = !(options.change.dry_run && capacity.is_some());
    let change_options = ChangeOptions {
        force: options.change.force || !judge_health,
        ..options.change
    };
    // After a wait for the restored group, decide from the routes (and health) as they are now, not as
    // they were.
    let (resolved, health) = match &capacity {
        Some(_) if !options.change.dry_run => {
            (resolve::resolve(alb, target).await?, KnownHealth::default())
        }
        _ => (resolved, health),
    };
    let mut change =
        traffic::rollback_checked(alb, clock, &resolved, options.to, change_options, &health)
            .await?;
    if judge_health {
        warnings.append(&mut change.warnings);
    }
    // Traffic first; then the holds a deployment in flight left (a killed run's): only then, so that
    // the emergency path reads no Auto Scaling group when no deployment was running.
    let (released, removed_test_rules) = if in_flight(&resolved) && !options.change.dry_run {
        (
            release_holds(scaler, &resolved, &mut warnings).await,
            remove_test_rules(alb, &resolved, &mut warnings).await,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    change.warnings = warnings;
    Ok(RollbackOutcome {
        capacity,
        change,
        released,
        removed_test_rules,
    })
}

/// Deletes the test header rules a deployment in flight left on the route's listener (a killed run's:
/// a run that ends any other way removes its own), after traffic moved, and reads back that they are
/// gone. Returns the rules deleted; a rule that cannot be read or deleted is a warning.
async fn remove_test_rules<A: Alb>(
    alb: &A,
    resolved: &Resolved,
    warnings: &mut Vec<Text>,
) -> Vec<String> {
    let listener = resolved.snapshot.route.listener();
    let rules = match alb.listener_rules(&listener).await {
        Ok(rules) => rules,
        Err(e) => {
            warnings.push(text!(format!(
                "could not look for albflip's test header rules on {listener} ({e})"
            )));
            return Vec::new();
        }
    };
    let mut removed = Vec::new();
    for rule in test_header::any_ours(&rules) {
        match alb.delete_rule(&rule.arn).await {
            Ok(()) => removed.push(rule.arn.as_str().to_string()),
            Err(e) => warnings.push(text!(format!(
                "albflip's test header rule {} could not be deleted ({e}): requests with the header still reach its color; delete it with `aws elbv2 delete-rule --rule-arn {}`",
                rule.arn.as_str(),
                rule.arn.as_str()
            ))),
        }
    }
    if removed.is_empty() {
        return removed;
    }
    match alb.listener_rules(&listener).await {
        Ok(after) if test_header::any_ours(&after).is_empty() => {}
        Ok(_) => warnings.push(text!("a deleted test header rule still reads back on the listener; check it with ", {next Next::Status})),
        Err(e) => warnings.push(text!(format!("the deleted test header rules could not be read back ({e})"))),
    }
    removed
}

/// An Auto Scaling group albflip holds (its minimum raised to its desired size for a deployment).
#[derive(Debug, Clone, Serialize)]
pub struct HeldGroup {
    /// The color whose target group it registers with.
    pub color: Color,
    /// The group's name.
    pub group: String,
    /// Its minimum now (raised by albflip).
    pub min: u32,
    /// The minimum the hold puts back.
    pub held_min: u32,
}

/// The capacity holds on the pools (Auto Scaling groups, ECS services) of `status`'s colors, for
/// `status`. Read-only.
pub async fn holds<S: CapacityPool>(
    scaler: &S,
    status: &traffic::RouteStatus,
) -> Result<Vec<HeldGroup>, Error> {
    let mut held = Vec::new();
    for (color, c) in [(Color::Blue, &status.blue), (Color::Green, &status.green)] {
        let backend = crate::ports::Backend {
            color,
            name: c.target_group_name.clone(),
            id: c.target_group_arn.as_str().to_string(),
            scopes: Vec::new(),
        };
        let groups = scaler.find(&backend).await.map_err(Error::Read)?;
        held.extend(groups.into_iter().filter_map(|g| {
            Some(HeldGroup {
                color,
                held_min: g.held_min?,
                min: g.min,
                group: g.name,
            })
        }));
    }
    Ok(held)
}

/// The route records deployment `id`: a rollback that names its deployment never touches another
/// one's (a pipeline's clean-up after its own deploy was refused, for example because another build
/// held the lock).
pub fn check_own_deployment(resolved: &Resolved, id: &str) -> Result<(), Error> {
    let route = &resolved.snapshot.route;
    let recorded = DeploymentRecord::from_tags(&resolved.tags);
    match recorded {
        Some(r) if r.id == id => Ok(()),
        Some(r) => Err(Error::Conflict {
            what: format!(
                "the {route} records deployment {} ({}, {} by {}), not {id}",
                r.id,
                r.phase.as_str(),
                r.target,
                if r.started_by.is_empty() {
                    "?"
                } else {
                    &r.started_by
                }
            ),
            fix: text!(
                "Nothing was written: that deployment is not the one named by ",
                {given Input::DeploymentId},
                ". Leave it to whoever runs it; ",
                {next Next::Status},
                " shows it, and a rollback without ",
                {input Input::DeploymentId},
                " moves traffic whatever runs"
            ),
        }),
        None => Err(Error::Conflict {
            what: format!("the {route} records no deployment, so not {id}"),
            fix: text!(
                "Nothing was written. ",
                {next Next::Status},
                " shows the route; a rollback without ",
                {input Input::DeploymentId},
                " moves traffic to the stable color"
            ),
        }),
    }
}

/// Whether the route records a deployment that did not finish.
fn in_flight(resolved: &Resolved) -> bool {
    DeploymentRecord::from_tags(&resolved.tags).is_some_and(|r| r.phase.is_unfinished())
}

/// Ends albflip's holds on both colors' groups; a group that cannot be read or released is a warning.
async fn release_holds<S: CapacityPool>(
    scaler: &S,
    resolved: &Resolved,
    warnings: &mut Vec<Text>,
) -> Vec<capacity::Hold> {
    let mut released = Vec::new();
    for color in Color::ALL {
        let groups = match scaler.find(&resolved.backend(color)).await {
            Ok(g) => g,
            Err(e) => {
                warnings.push(text!(format!(
                    "could not look for {color}'s {} to end albflip's capacity hold ({e})",
                    scaler.kind().noun()
                )));
                continue;
            }
        };
        for group in groups.iter().filter(|g| g.held_min.is_some()) {
            match capacity::release(scaler, &group.name).await {
                Ok(Some(h)) => released.push(h),
                Ok(None) => {}
                Err(e) => warnings.push(
                    text!(format!(
                        "albflip's hold on {} could not be ended (its minimum stays raised): ",
                        group.name
                    ))
                    .then(e.text()),
                ),
            }
        }
    }
    released
}

/// The capacity record of `color`'s group on the named route, if any.
fn recorded(resolved: &Resolved, color: Color) -> Option<CapacityRecord> {
    resolved
        .tags
        .get(&CapacityRecord::tag_key(color))
        .and_then(|v| CapacityRecord::from_tag(v))
}

/// The restore `color` needs: its group has a record and wants fewer instances than recorded.
async fn pending_restore<S: CapacityPool>(
    scaler: &S,
    resolved: &Resolved,
    color: Color,
    warnings: &mut Vec<Text>,
) -> Option<CapacityRestore> {
    let record = recorded(resolved, color)?;
    let before = current_group(scaler, &record, color, warnings).await?;
    (before.desired < record.desired).then_some(CapacityRestore {
        color,
        pool: scaler.kind().noun(),
        record,
        before,
        restored: None,
    })
}

/// The recorded group as it is now; a warning instead when it cannot be read.
async fn current_group<S: CapacityPool>(
    scaler: &S,
    record: &CapacityRecord,
    color: Color,
    warnings: &mut Vec<Text>,
) -> Option<PoolInfo> {
    let why = match CapacityPool::describe(scaler, &record.asg).await {
        Ok(Some(group)) => return Some(group),
        Ok(None) => "it was not found".to_string(),
        Err(e) => e.to_string(),
    };
    warnings.push(
        format!(
            "WARNING: could not read {color}'s {} {} ({why}); its capacity was not restored, moving traffic if {color} has healthy targets",
            scaler.kind().noun(),
            record.asg
        )
        .into(),
    );
    None
}

/// Scales the group back up to its record and waits (unless `--force`), on a dry run nothing.
async fn restore<A: Alb, S: CapacityPool, C: Clock>(
    alb: &A,
    scaler: &S,
    clock: &C,
    resolved: &Resolved,
    mut step: CapacityRestore,
    options: &RollbackOptions,
    mut on_progress: impl FnMut(Color, &Progress) + Send,
) -> Result<CapacityRestore, Error> {
    if options.change.dry_run {
        return Ok(step);
    }
    let routes = AlbRoutes::new(alb, resolved.clone());
    let restored = capacity::restore_capacity(
        scaler,
        &routes,
        clock,
        &step.record,
        step.color,
        options.wait,
        |p| on_progress(step.color, p),
    )
    .await?;
    step.restored = Some(restored);
    Ok(step)
}

fn forced_warning(c: &CapacityRestore, dry_run: bool) -> Text {
    let verb = if dry_run {
        "would be raised"
    } else {
        "was raised"
    };
    text!(
        format!(
            "WARNING: {color}'s {pool} {asg} was scaled down (desired {from}); it {verb} back to {to}, and traffic moves WITHOUT waiting for healthy targets (",
            color = c.color,
            pool = c.pool,
            asg = c.record.asg,
            from = c.before.desired,
            to = c.record.desired,
        ),
        {input Input::Force},
        format!(
            "): requests to {color} may fail until its instances pass health checks",
            color = c.color
        )
    )
}
