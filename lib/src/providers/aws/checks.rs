//! The ALB's checks around a write, shared by the operations and the engine's routes: each color whose
//! share goes up has healthy targets, AWS will accept a single-group forward becoming weighted, and the
//! stable color recorded on every route.

use crate::error::Error;
use crate::input::{Input, Text};
use crate::model::{Color, Split};
use crate::ports::{ApiErrorKind, TargetHealth};
use crate::providers::aws::api::Alb;
use crate::providers::aws::arn::TargetGroupArn;
use crate::providers::aws::known_health::KnownHealth;
use crate::providers::aws::resolve::{Resolved, STABLE_TAG};
use crate::providers::aws::route::{self, ForwardAction, RouteId, RouteSnapshot};
use crate::providers::aws::write::unwritable;

/// Records `stable` as the stable color on each of `routes`.
pub(crate) async fn tag_stable<A: Alb>(
    alb: &A,
    routes: &[&RouteSnapshot],
    split: Split,
    stable: Color,
) -> Result<(), Error> {
    for snapshot in routes {
        let resource = snapshot.route.resource_arn();
        alb.set_tags(resource, &[(STABLE_TAG, stable.as_str())])
            .await
            .map_err(|source| Error::TagFailed {
                split: split.to_string(),
                resource: resource.to_string(),
                color: stable,
                source: Box::new(source),
            })?;
    }
    Ok(())
}

/// [`check_conversion`] for each of `routes`.
pub(crate) async fn check_conversions<A: Alb>(
    alb: &A,
    resolved: &Resolved,
    routes: &[&RouteSnapshot],
) -> Result<(), Error> {
    for snapshot in routes {
        let forward = route::forward_of(snapshot).map_err(|p| unwritable(&snapshot.route, p))?;
        check_conversion(alb, resolved, &snapshot.route, forward).await?;
    }
    Ok(())
}

/// Before a single-group forward becomes a weighted one: AWS refuses the weighted forward when a group
/// has target-group stickiness on and the forward's group stickiness is off (argo-rollouts #1572). The
/// emulator accepts it, so albflip checks it itself.
pub(crate) async fn check_conversion<A: Alb>(
    alb: &A,
    resolved: &Resolved,
    route: &RouteId,
    current: &ForwardAction,
) -> Result<(), Error> {
    let group_sticky = current.stickiness.is_some_and(|s| s.enabled);
    if current.targets.len() >= 2 || group_sticky {
        return Ok(());
    }
    for color in Color::ALL {
        let arn = resolved.groups.of(color);
        if alb
            .target_group_stickiness(arn)
            .await
            .map_err(Error::Read)?
        {
            let problem = route::RouteProblem::TargetGroupStickiness(arn.name().to_string());
            return Err(crate::providers::aws::unsupported::unsupported(
                route, problem,
            ));
        }
    }
    Ok(())
}

/// Every color whose share goes up must have `min_healthy_hosts` healthy targets (0 counts as 1),
/// unless `force` (then it is a warning, returned). Health in `known` is not read again.
pub(crate) async fn check_health<A: Alb>(
    alb: &A,
    resolved: &Resolved,
    split: Split,
    force: bool,
    min_healthy_hosts: u32,
    known: &KnownHealth,
) -> Result<Vec<Text>, Error> {
    let mut warnings = Vec::new();
    for color in Color::ALL {
        let percent = split.percent_of(color);
        // The color's lowest share on any route of the group: a rise anywhere needs healthy targets.
        let lowest = std::iter::once(resolved.split)
            .chain(resolved.peers.iter().map(|p| p.split))
            .map(|s| s.percent_of(color).get())
            .min()
            .unwrap_or(0);
        if percent.get() <= lowest {
            continue;
        }
        // Every pair's group of the color (`--pair`), each on its own.
        for arn in resolved.groups.all_of(color) {
            if let Some(w) =
                check_group(alb, arn, color, percent, force, min_healthy_hosts, known).await?
            {
                warnings.push(w);
            }
        }
    }
    Ok(warnings)
}

/// [`check_health`] for one target group of `color`: an error, a warning (with `force`), or nothing.
async fn check_group<A: Alb>(
    alb: &A,
    arn: &TargetGroupArn,
    color: Color,
    percent: crate::model::Percent,
    force: bool,
    min_healthy_hosts: u32,
    known: &KnownHealth,
) -> Result<Option<Text>, Error> {
    let health: TargetHealth = match known.of(alb, arn).await {
        Ok(h) => h,
        Err(e) if force && e.kind != ApiErrorKind::NotFound => {
            return Ok(Some(crate::text!(
                format!(
                    "could not read the health of {color} ({}): {e}; shifting anyway (",
                    arn.name()
                ),
                {input Input::Force},
                ")"
            )));
        }
        Err(e) => return Err(Error::Read(e)),
    };
    if health.healthy >= min_healthy_hosts.max(1) {
        return Ok(None);
    }
    let error = Error::NoHealthyTargets {
        color,
        target_group: arn.name().to_string(),
        percent,
        healthy: health.healthy,
        total: health.total,
        needed: min_healthy_hosts.max(1),
    };
    if !force {
        return Err(error);
    }
    Ok(Some(crate::text!(
        format!(
            "WARNING: {color} ({}) has {} healthy of {} targets; sending it {percent} anyway because of ",
            arn.name(),
            health.healthy,
            health.total
        ),
        {input Input::Force}
    )))
}
