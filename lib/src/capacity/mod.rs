//! Capacity around a deployment: before the first step the new color's Auto Scaling group is raised to
//! the stable color's capacity (never lowered) and albflip waits until its target group reports that many
//! healthy targets; after a completed deployment the old color is scaled to zero, but only after a
//! read-back of every route shows it at weight 0; a rollback scales the stable color back up to what it
//! had when the deployment started ([`CapacityRecord`]).
//!
//! Everything here goes through the ports ([`Scaler`], [`AlbInventory`], [`TrafficRouter`], [`Clock`]),
//! so it runs in simulated time against the in-memory fakes of the `testing` module (feature `testing`).
//!
//! ```no_run
//! # use albflip::{aws, capacity::{self, ColorAsg, Wait}, ports::TokioClock, aws::arn::TargetGroupArn};
//! # async fn run(green_tg: TargetGroupArn) -> Result<(), albflip::Error> {
//! let config = aws::load_config(&aws::AwsSettings::default()).await?;
//! let (alb, asgs) = (
//!     aws::ElbV2::new(&config, aws::CallCounter::default()),
//!     aws::AutoScaling::new(&config, aws::CallCounter::default()),
//! );
//! let green = ColorAsg { asg: "prod-shop-green-asg", target_group: &green_tg };
//! let wait = Wait::new(std::time::Duration::from_secs(600));
//! let matched = capacity::match_capacity(&asgs, &alb, &TokioClock::new(), green, "prod-shop-blue-asg", wait, |p| {
//!     println!("{}/{} healthy, {} s left", p.healthy, p.wanted, p.seconds_left)
//! })
//! .await?;
//! // Keep `matched.stable` (as a tag) for a later rollback.
//! # Ok(()) }
//! ```

mod record;
#[cfg(test)]
mod tests;

use crate::input::Input;
use crate::text;
use std::time::Duration;

use serde::Serialize;

use crate::error::Error;
use crate::ports::{Capacity, Clock};
use crate::providers::aws::api::{AlbInventory, AsgInfo, Scaler, TrafficRouter};
use crate::providers::aws::arn::TargetGroupArn;
use crate::providers::aws::route::RouteId;

pub(crate) use record::write as write_record;
pub use record::{CapacityRecord, MAX_TAG_VALUE};

/// The [`Scaler`] of deployments without Auto Scaling: it knows no group, so discovery finds nothing
/// and the engine never resizes anything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoScaler;

impl Scaler for NoScaler {
    async fn groups_for_target_group(
        &self,
        _target_group: &TargetGroupArn,
    ) -> Result<Vec<AsgInfo>, crate::ports::ApiError> {
        Ok(Vec::new())
    }

    async fn describe(&self, _name: &str) -> Result<Option<AsgInfo>, crate::ports::ApiError> {
        Ok(None)
    }

    async fn set_capacity(
        &self,
        name: &str,
        _capacity: Capacity,
    ) -> Result<AsgInfo, crate::ports::ApiError> {
        Err(crate::ports::ApiError::new(
            "autoscaling:UpdateAutoScalingGroup",
            crate::ports::ApiErrorKind::NotFound,
            format!("no Auto Scaling is configured, so there is no group {name}"),
        ))
    }
}

/// The shortest pause between two health reads, whatever the caller asks.
pub const MIN_POLL: Duration = Duration::from_secs(1);

/// How long to wait for healthy targets and how often to look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    /// Give up after this long (`--ready-timeout`).
    pub timeout: Duration,
    /// Read the target group's health this often (at least [`MIN_POLL`]).
    pub poll: Duration,
}

impl Wait {
    /// The default pause between two health reads.
    pub const DEFAULT_POLL: Duration = Duration::from_secs(10);

    /// A wait of `timeout`, reading health every [`Wait::DEFAULT_POLL`].
    pub fn new(timeout: Duration) -> Wait {
        Wait {
            timeout,
            poll: Wait::DEFAULT_POLL,
        }
    }
}

/// One color's Auto Scaling group and the target group its instances serve the route through.
#[derive(Debug, Clone, Copy)]
pub struct ColorAsg<'a> {
    /// The group's name.
    pub asg: &'a str,
    /// The color's target group on the route.
    pub target_group: &'a TargetGroupArn,
}

/// One look at the targets while waiting, for a countdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// The Auto Scaling group.
    pub asg: String,
    /// The target group watched.
    pub target_group: String,
    /// Healthy targets now.
    pub healthy: u32,
    /// All registered targets now.
    pub total: u32,
    /// Healthy targets wanted.
    pub wanted: u32,
    /// Whole seconds left before giving up.
    pub seconds_left: u64,
}

/// What [`match_capacity`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Matched {
    /// The stable color's group at the start: record it to restore it on rollback.
    pub stable: CapacityRecord,
    /// The new color's group before albflip touched it.
    pub new_before: CapacityRecord,
    /// The new color's group afterwards.
    pub new: AsgInfo,
    /// Whether albflip raised the new color's capacity.
    pub raised: bool,
    /// Healthy targets found at the end (at least the stable color's desired capacity).
    pub healthy: u32,
}

/// What [`restore_capacity`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Restored {
    /// The group afterwards.
    pub asg: AsgInfo,
    /// Whether albflip resized it (it was already at or above the record otherwise).
    pub resized: bool,
    /// Healthy targets found, or `None` when the wait was skipped (`--force`).
    pub healthy: Option<u32>,
}

/// Finds the Auto Scaling group that registers its instances with `target_group`: `None` when there is
/// none, an error naming them when there are several (the user must pick one).
pub async fn discover<S: Scaler>(
    scaler: &S,
    target_group: &TargetGroupArn,
) -> Result<Option<AsgInfo>, Error> {
    let mut groups = scaler
        .groups_for_target_group(target_group)
        .await
        .map_err(Error::Read)?;
    if groups.len() > 1 {
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        return Err(Error::invalid(
            Input::BlueAsg,
            format!(
                "the Auto Scaling group of target group {}",
                target_group.name()
            ),
            format!(
                "{} groups register with it: {}",
                groups.len(),
                names.join(", ")
            ),
            text!("Name the group with ", {input Input::BlueAsg}, "/", {input Input::GreenAsg}, " or in albflip.toml"),
        ));
    }
    Ok(groups.pop())
}

/// The sizes that raise `current` to `desired`: the maximum goes up when it must, the minimum stays.
/// `None` when the group already wants `desired` or more (albflip never lowers it).
pub fn raised_to(current: Capacity, desired: u32) -> Option<Capacity> {
    (current.desired < desired).then(|| Capacity {
        min: current.min,
        max: current.max.max(desired),
        desired,
    })
}

/// Before the first step: raises the new color's group to the stable color's desired capacity (never
/// lowers it), then waits until the new color's target group has that many healthy targets, calling
/// `on_progress` after each look. A timeout is [`Error::NotReady`]; no traffic has moved then.
pub async fn match_capacity<S, A, C>(
    scaler: &S,
    alb: &A,
    clock: &C,
    new: ColorAsg<'_>,
    stable_asg: &str,
    wait: Wait,
    on_progress: impl FnMut(&Progress) + Send,
) -> Result<Matched, Error>
where
    S: Scaler,
    A: AlbInventory,
    C: Clock,
{
    let stable = CapacityRecord::of(&describe(scaler, stable_asg).await?);
    let before = describe(scaler, new.asg).await?;
    let wanted = stable.desired;
    let (after, raised) = match raised_to(before.capacity(), wanted) {
        Some(capacity) => (resize(scaler, new.asg, capacity).await?, true),
        None => (before.clone(), false),
    };
    let healthy = wait_healthy(alb, clock, new, wanted, wait, raised, on_progress).await?;
    Ok(Matched {
        stable,
        new_before: CapacityRecord::of(&before),
        new: after,
        raised,
        healthy,
    })
}

/// On rollback: raises the group of `record` back to the recorded sizes (never lowering what is there
/// now), then, unless `wait` is `None` (`--force`), waits until `target_group` has the recorded number of
/// healthy targets, calling `on_progress` after each look.
pub async fn restore_capacity<S, A, C>(
    scaler: &S,
    alb: &A,
    clock: &C,
    record: &CapacityRecord,
    target_group: &TargetGroupArn,
    wait: Option<Wait>,
    on_progress: impl FnMut(&Progress) + Send,
) -> Result<Restored, Error>
where
    S: Scaler,
    A: AlbInventory,
    C: Clock,
{
    let current = describe(scaler, &record.asg).await?;
    let target = restored(current.capacity(), record.capacity());
    let resized = target != current.capacity();
    let asg = if resized {
        resize(scaler, &record.asg, target).await?
    } else {
        current
    };
    let color = ColorAsg {
        asg: &record.asg,
        target_group,
    };
    let healthy = match wait {
        Some(w) => {
            Some(wait_healthy(alb, clock, color, record.desired, w, resized, on_progress).await?)
        }
        None => None,
    };
    Ok(Restored {
        asg,
        resized,
        healthy,
    })
}

/// The larger of what is there and what was recorded, size by size.
fn restored(current: Capacity, recorded: Capacity) -> Capacity {
    let desired = current.desired.max(recorded.desired);
    Capacity {
        min: current.min.max(recorded.min).min(desired),
        max: current.max.max(recorded.max).max(desired),
        desired,
    }
}

/// Scales the old color's group to zero (minimum and desired 0, maximum kept), after re-reading every
/// route in `routes` and finding the old color's target group at weight 0 (or absent) on each.
///
/// The check is here, not in the caller, on purpose: the read-back happens right before the write, so a
/// proof taken before `--scale-down-delay` cannot go stale while the delay runs, and nobody can scale a
/// color down without it. A route that still sends the group traffic is [`Error::ScaleDownRefused`] and
/// nothing is written. `routes` must name every route that forwards to the group.
pub async fn scale_down<S, R>(
    scaler: &S,
    router: &R,
    routes: &[RouteId],
    old: ColorAsg<'_>,
) -> Result<AsgInfo, Error>
where
    S: Scaler,
    R: TrafficRouter,
{
    if routes.is_empty() {
        return Err(Error::invalid_text(
            format!("scaling down {}", old.asg),
            "no route was given to check for traffic",
            "Pass the routes that forward to its target group",
        ));
    }
    for route in routes {
        check_no_traffic(router, route, old).await?;
    }
    let current = describe(scaler, old.asg).await?;
    let zero = Capacity {
        min: 0,
        max: current.max,
        desired: 0,
    };
    if zero == current.capacity() {
        return Ok(current);
    }
    resize(scaler, old.asg, zero).await
}

/// Fails unless `route` gives `old`'s target group no traffic right now.
async fn check_no_traffic<R: TrafficRouter>(
    router: &R,
    route: &RouteId,
    old: ColorAsg<'_>,
) -> Result<(), Error> {
    let live = router.read(route).await.map_err(Error::Read)?;
    let serving = live
        .forward
        .iter()
        .flat_map(|f| &f.targets)
        .find(|t| &t.target_group == old.target_group && t.weight != Some(0));
    match serving {
        None => Ok(()),
        Some(t) => Err(Error::ScaleDownRefused {
            asg: old.asg.to_string(),
            target_group: old.target_group.name().to_string(),
            route: route.clone(),
            weight: t
                .weight
                .map_or_else(|| "unset (all traffic)".to_string(), |w| w.to_string()),
        }),
    }
}

/// Waits until `color`'s target group has `wanted` healthy targets or `wait.timeout` passes.
async fn wait_healthy<A: AlbInventory, C: Clock>(
    alb: &A,
    clock: &C,
    color: ColorAsg<'_>,
    wanted: u32,
    wait: Wait,
    raised: bool,
    mut on_progress: impl FnMut(&Progress) + Send,
) -> Result<u32, Error> {
    let start = clock.now();
    loop {
        let health = alb.health(color.target_group).await.map_err(Error::Read)?;
        let elapsed = clock.now().duration_since(start).unwrap_or_default();
        let left = wait.timeout.saturating_sub(elapsed);
        on_progress(&Progress {
            asg: color.asg.to_string(),
            target_group: color.target_group.name().to_string(),
            healthy: health.healthy,
            total: health.total,
            wanted,
            seconds_left: left.as_secs(),
        });
        if health.healthy >= wanted {
            return Ok(health.healthy);
        }
        if left.is_zero() {
            return Err(Error::NotReady {
                asg: color.asg.to_string(),
                target_group: color.target_group.name().to_string(),
                healthy: health.healthy,
                wanted,
                waited: humantime::format_duration(wait.timeout).to_string(),
                raised,
            });
        }
        clock.sleep(wait.poll.max(MIN_POLL).min(left)).await;
    }
}

async fn describe<S: Scaler>(scaler: &S, name: &str) -> Result<AsgInfo, Error> {
    scaler
        .describe(name)
        .await
        .map_err(Error::Read)?
        .ok_or_else(|| Error::NotFound {
            what: format!("Auto Scaling group {name:?}").into(),
            fix: text!(
                "Check the name given with ",
                {input Input::BlueAsg},
                "/",
                {input Input::GreenAsg},
                " or in albflip.toml, and the region"
            ),
        })
}

async fn resize<S: Scaler>(scaler: &S, name: &str, capacity: Capacity) -> Result<AsgInfo, Error> {
    scaler
        .set_capacity(name, capacity)
        .await
        .map_err(|e| Error::ScalingFailed {
            asg: name.to_string(),
            capacity: format!(
                "desired {} (min {}, max {})",
                capacity.desired, capacity.min, capacity.max
            ),
            source: Box::new(e),
        })
}
