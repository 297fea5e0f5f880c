//! Capacity around a deployment: before the first step the new color's capacity pool (an Auto Scaling
//! group on AWS) is raised to the stable color's capacity (never lowered) and albflip waits until its
//! backend reports that many healthy members; after a completed deployment the old color is scaled to
//! zero, but only after a read-back of every route shows it without traffic; a rollback scales the
//! stable color back up to what it had when the deployment started ([`CapacityRecord`]).
//!
//! Everything here goes through the ports ([`CapacityPool`], [`Routes`], [`Clock`]), so it runs in
//! simulated time against the in-memory fakes of the `testing` module (feature `testing`), and works for
//! any provider's pools.
//!
//! ```no_run
//! # use albflip::{aws, capacity::{self, ColorPool, Wait}, model::Color, ports::{Provider, TokioClock}};
//! # async fn run(target: aws::resolve::Target) -> Result<(), albflip::Error> {
//! let config = aws::load_config(&aws::AwsSettings::default()).await?;
//! let (alb, asgs) = (
//!     aws::ElbV2::new(&config, aws::CallCounter::default()),
//!     aws::AutoScaling::new(&config, aws::CallCounter::default()),
//! );
//! let routes = alb.resolve(&target).await?;
//! let green = ColorPool { pool: "prod-shop-green-asg", color: Color::Green };
//! let wait = Wait::new(std::time::Duration::from_secs(600));
//! let matched = capacity::match_capacity(&asgs, &routes, &TokioClock::new(), green, "prod-shop-blue-asg", wait, |p| {
//!     println!("{}/{} healthy, {} s left", p.healthy, p.wanted, p.seconds_left)
//! })
//! .await?;
//! // Keep `matched.stable` (as a record) for a later rollback.
//! # Ok(()) }
//! ```

mod record;
#[cfg(test)]
mod tests;

use crate::text;
use std::time::Duration;

use serde::Serialize;

use crate::error::Error;
use crate::model::Color;
use crate::ports::{Backend, Capacity, CapacityPool, Clock, PoolInfo, Routes};

pub(crate) use record::write as write_record;
pub use record::{CapacityRecord, MAX_TAG_VALUE};

/// The capacity of deployments without Auto Scaling: it knows no group, so discovery finds nothing
/// and the engine never resizes anything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoScaler;

impl CapacityPool for NoScaler {
    async fn find(&self, _backend: &Backend) -> Result<Vec<PoolInfo>, crate::ports::ApiError> {
        Ok(Vec::new())
    }

    async fn describe(&self, _name: &str) -> Result<Option<PoolInfo>, crate::ports::ApiError> {
        Ok(None)
    }

    async fn set_capacity(
        &self,
        name: &str,
        _capacity: Capacity,
    ) -> Result<PoolInfo, crate::ports::ApiError> {
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

/// One color's capacity pool: its name and the color whose backend it serves.
#[derive(Debug, Clone, Copy)]
pub struct ColorPool<'a> {
    /// The pool's name (the Auto Scaling group's).
    pub pool: &'a str,
    /// The color it serves.
    pub color: Color,
}

/// One look at the targets while waiting, for a countdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// The capacity pool (the Auto Scaling group).
    pub asg: String,
    /// The backend watched (the target group).
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
    pub new: PoolInfo,
    /// Whether albflip raised the new color's capacity.
    pub raised: bool,
    /// Healthy targets found at the end (at least the stable color's desired capacity).
    pub healthy: u32,
}

/// What [`restore_capacity`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Restored {
    /// The group afterwards.
    pub asg: PoolInfo,
    /// Whether albflip resized it (it was already at or above the record otherwise).
    pub resized: bool,
    /// Healthy targets found, or `None` when the wait was skipped (`--force`).
    pub healthy: Option<u32>,
}

/// Finds the capacity pool that serves `backend` (the Auto Scaling group that registers its instances
/// with the target group): `None` when there is none, an error naming them when there are several (the
/// user must pick one).
pub async fn discover<S: CapacityPool>(
    pools: &S,
    backend: &Backend,
) -> Result<Option<PoolInfo>, Error> {
    let mut groups = pools.find(backend).await.map_err(Error::Read)?;
    if groups.len() > 1 {
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        let kind = pools.kind();
        let (blue, green) = (kind.input(Color::Blue), kind.input(Color::Green));
        return Err(Error::invalid(
            blue,
            format!("the {} of target group {}", kind.noun(), backend.name),
            format!(
                "{} of them register with it: {}",
                groups.len(),
                names.join(", ")
            ),
            text!("Name it with ", {input blue}, "/", {input green}, " or in albflip.toml"),
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

/// Before the first step: raises the new color's pool to the stable color's desired capacity (never
/// lowers it), then waits until the new color's backend has that many healthy members, calling
/// `on_progress` after each look. A timeout is [`Error::NotReady`]; no traffic has moved then.
pub async fn match_capacity<S, R, C>(
    pools: &S,
    routes: &R,
    clock: &C,
    new: ColorPool<'_>,
    stable_pool: &str,
    wait: Wait,
    on_progress: impl FnMut(&Progress) + Send,
) -> Result<Matched, Error>
where
    S: CapacityPool,
    R: Routes,
    C: Clock,
{
    let stable = CapacityRecord::of(&describe(pools, stable_pool).await?);
    let before = describe(pools, new.pool).await?;
    let wanted = stable.desired;
    let (after, raised) = match raised_to(before.capacity(), wanted) {
        Some(capacity) => (resize(pools, new.pool, capacity).await?, true),
        None => (before.clone(), false),
    };
    let healthy = wait_healthy(routes, clock, new, wanted, wait, raised, on_progress).await?;
    Ok(Matched {
        stable,
        new_before: CapacityRecord::of(&before),
        new: after,
        raised,
        healthy,
    })
}

/// On rollback: raises the pool of `record` back to the recorded sizes (never lowering what is there
/// now), then, unless `wait` is `None` (`--force`), waits until `color`'s backend has the recorded number
/// of healthy members, calling `on_progress` after each look.
pub async fn restore_capacity<S, R, C>(
    pools: &S,
    routes: &R,
    clock: &C,
    record: &CapacityRecord,
    color: Color,
    wait: Option<Wait>,
    on_progress: impl FnMut(&Progress) + Send,
) -> Result<Restored, Error>
where
    S: CapacityPool,
    R: Routes,
    C: Clock,
{
    let current = describe(pools, &record.asg).await?;
    let target = restored(current.capacity(), record.capacity());
    let resized = target != current.capacity();
    let asg = if resized {
        resize(pools, &record.asg, target).await?
    } else {
        current
    };
    let color = ColorPool {
        pool: &record.asg,
        color,
    };
    let healthy = match wait {
        Some(w) => Some(
            wait_healthy(
                routes,
                clock,
                color,
                record.desired,
                w,
                resized,
                on_progress,
            )
            .await?,
        ),
        None => None,
    };
    Ok(Restored {
        asg,
        resized,
        healthy,
    })
}

/// What [`hold`] or [`release`] did to a pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hold {
    /// The pool.
    pub pool: String,
    /// Its minimum before.
    pub min_before: u32,
    /// Its minimum after.
    pub min_after: u32,
}

/// For the length of a deployment: raises the pool's minimum to its desired size, so that no scaling
/// policy or schedule scales it in while traffic moves (a rollback then finds the stable color as large
/// as it was). The minimum it had is recorded on the pool first, so that every way out, a resume after
/// `kill -9` or an `albflip rollback` included, puts it back exactly. `None` when there is nothing to
/// hold (the minimum is already the desired size) or the pool is held already (a resumed deployment).
pub async fn hold<S: CapacityPool>(pools: &S, name: &str) -> Result<Option<Hold>, Error> {
    let current = describe(pools, name).await?;
    if current.held_min.is_some() || current.min >= current.desired {
        return Ok(None);
    }
    pools
        .set_hold(name, Some(current.min))
        .await
        .map_err(|e| hold_failed(name, Some(current.min), e))?;
    let held = Capacity {
        min: current.desired,
        ..current.capacity()
    };
    let after = resize(pools, name, held).await?;
    Ok(Some(Hold {
        pool: name.to_string(),
        min_before: current.min,
        min_after: after.min,
    }))
}

/// Ends albflip's hold on the pool: its minimum back to the one recorded by [`hold`] (never above the
/// desired size), then the record removed. `None` when albflip does not hold it.
pub async fn release<S: CapacityPool>(pools: &S, name: &str) -> Result<Option<Hold>, Error> {
    let current = describe(pools, name).await?;
    let Some(min) = current.held_min else {
        return Ok(None);
    };
    let restored = Capacity {
        min: min.min(current.desired),
        ..current.capacity()
    };
    if restored != current.capacity() {
        resize(pools, name, restored).await?;
    }
    pools
        .set_hold(name, None)
        .await
        .map_err(|e| hold_failed(name, None, e))?;
    Ok(Some(Hold {
        pool: name.to_string(),
        min_before: current.min,
        min_after: restored.min,
    }))
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

/// Scales the old color's pool to zero (minimum and desired 0, maximum kept), after every route that
/// forwards to its backend (the run's routes, `test`, and any other) reads back without traffic to it.
///
/// The check is here, not in the caller, on purpose: the read-back ([`Routes::check_unserved`]) happens
/// right before the write, so a proof taken before `--scale-down-delay` cannot go stale while the delay
/// runs, and nobody can scale a color down without it. A route that still sends the backend traffic is
/// [`Error::ScaleDownRefused`] and nothing is written.
pub async fn scale_down<S, R>(
    pools: &S,
    routes: &R,
    test: Option<&R::Test>,
    old: ColorPool<'_>,
) -> Result<PoolInfo, Error>
where
    S: CapacityPool,
    R: Routes,
{
    routes.check_unserved(old.color, test, old.pool).await?;
    let current = describe(pools, old.pool).await?;
    let zero = Capacity {
        min: 0,
        max: current.max,
        desired: 0,
    };
    if zero == current.capacity() {
        return Ok(current);
    }
    resize(pools, old.pool, zero).await
}

/// Waits until `color`'s backend has `wanted` healthy members or `wait.timeout` passes.
async fn wait_healthy<R: Routes, C: Clock>(
    routes: &R,
    clock: &C,
    color: ColorPool<'_>,
    wanted: u32,
    wait: Wait,
    raised: bool,
    mut on_progress: impl FnMut(&Progress) + Send,
) -> Result<u32, Error> {
    let start = clock.now();
    let backend = routes.backend(color.color).name;
    loop {
        let health = routes.health(color.color).await.map_err(Error::Read)?;
        let elapsed = clock.now().duration_since(start).unwrap_or_default();
        let left = wait.timeout.saturating_sub(elapsed);
        on_progress(&Progress {
            asg: color.pool.to_string(),
            target_group: backend.clone(),
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
                asg: color.pool.to_string(),
                target_group: backend,
                healthy: health.healthy,
                wanted,
                waited: humantime::format_duration(wait.timeout).to_string(),
                raised,
            });
        }
        clock.sleep(wait.poll.max(MIN_POLL).min(left)).await;
    }
}

async fn describe<S: CapacityPool>(pools: &S, name: &str) -> Result<PoolInfo, Error> {
    pools
        .describe(name)
        .await
        .map_err(Error::Read)?
        .ok_or_else(|| {
            let kind = pools.kind();
            Error::NotFound {
                what: format!("{} {name:?}", kind.noun()).into(),
                fix: text!(
                    "Check the name given with ",
                    {input kind.input(Color::Blue)},
                    "/",
                    {input kind.input(Color::Green)},
                    " or in albflip.toml, and the region"
                ),
            }
        })
}

/// A hold record that could not be written or removed.
fn hold_failed(name: &str, held_min: Option<u32>, e: crate::ports::ApiError) -> Error {
    Error::ScalingFailed {
        asg: name.to_string(),
        capacity: match held_min {
            Some(min) => format!("the record of its minimum {min} before albflip's hold"),
            None => "the removal of albflip's hold record".to_string(),
        },
        source: Box::new(e),
    }
}

async fn resize<S: CapacityPool>(
    pools: &S,
    name: &str,
    capacity: Capacity,
) -> Result<PoolInfo, Error> {
    pools
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
