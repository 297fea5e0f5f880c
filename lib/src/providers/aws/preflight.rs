//! The ALB's pre-flight checks (`albflip check`): the route and its peers, the target groups' load
//! balancers, both colors' health, the stickiness conversion and the deployment state, as
//! [`Check`]s. Read-only.

use crate::error::Error;
use crate::input::Input;
use crate::model::Color;
use crate::preflight::Check;
use crate::providers::aws::api::Alb;
use crate::providers::aws::arn::LoadBalancerArn;
use crate::providers::aws::resolve::Resolved;
use crate::text;

/// Runs every pre-flight check for sending traffic to `new` on a resolved route: the route and its
/// peers, the target groups' load balancers, health of both colors (`min_healthy` on the new one), the
/// stickiness conversion and the deployment state. Read-only.
pub async fn checks<A: Alb>(
    alb: &A,
    resolved: &Resolved,
    new: Color,
    min_healthy: u32,
) -> Vec<Check> {
    let mut out = vec![route_check(resolved)];
    out.push(Check::new(
        "routes agree",
        resolved.check_agreement().map(|()| {
            format!(
                "{} route(s) at {}, {} left alone",
                resolved.routes().len(),
                resolved.split,
                resolved.left_alone.len()
            )
        }),
    ));
    for color in Color::ALL {
        out.push(Check::new(
            format!("{color} target group"),
            belongs(alb, resolved, color).await,
        ));
    }
    out.push(Check::new(
        format!("{new} health"),
        health(alb, resolved, new, min_healthy.max(1)).await,
    ));
    out.push(Check::new(
        format!("{} health", new.other()),
        health(alb, resolved, new.other(), 1)
            .await
            .map(|d| format!("{d} (where a rollback sends traffic)")),
    ));
    out.push(Check::new("stickiness", stickiness(alb, resolved).await));
    out.push(Check::new(
        "tags",
        crate::state::check_tag_room(
            &resolved.snapshot.route,
            &resolved.tags,
            &crate::state::DEPLOYMENT_TAGS,
        )
        .map(|()| {
            format!(
                "{} of {} tags, room for albflip's record",
                resolved.tags.len(),
                crate::state::MAX_TAGS
            )
        }),
    ));
    out.push(Check::new(
        "deployment state",
        resolved
            .check_can_start(new)
            .map(|()| "no deployment in flight".to_string()),
    ));
    out
}

fn route_check(resolved: &Resolved) -> Check {
    let single = resolved.forward().is_ok_and(|f| f.targets.len() == 1);
    let detail = format!(
        "forwards to blue ({}) and green ({}){}",
        resolved.groups.blue.name(),
        resolved.groups.green.name(),
        if single {
            "; a single-group forward, converted on the first shift"
        } else {
            ""
        }
    );
    Check::new("route", Ok(detail))
}

/// The group exists and is attached to no load balancer but those of the routes that move.
async fn belongs<A: Alb>(alb: &A, resolved: &Resolved, color: Color) -> Result<String, Error> {
    let arn = resolved.groups.of(color);
    let info = alb
        .target_group(arn)
        .await
        .map_err(Error::Read)?
        .ok_or_else(|| Error::NotFound {
            what: format!("{color} target group {}", arn.name()).into(),
            fix: text!("Create it, or name another with ", {input Input::target_group(color)}),
        })?;
    let ours: Vec<&LoadBalancerArn> = resolved.routes().iter().map(|r| &r.load_balancer).collect();
    match info.load_balancers.iter().find(|lb| !ours.contains(lb)) {
        Some(other) => Err(Error::invalid(
            Input::target_group(color),
            format!("{color} target group {}", arn.name()),
            format!(
                "it is also attached to load balancer {}, whose routes albflip does not move",
                other.name()
            ),
            text!(
                "Name that load balancer with ",
                {input Input::LoadBalancer},
                " too, or use a target group of this load balancer"
            ),
        )),
        None => Ok(format!("{} exists on this load balancer", arn.name())),
    }
}

async fn health<A: Alb>(
    alb: &A,
    resolved: &Resolved,
    color: Color,
    wanted: u32,
) -> Result<String, Error> {
    let arn = resolved.groups.of(color);
    let h = alb.health(arn).await.map_err(Error::Read)?;
    if h.healthy >= wanted {
        Ok(format!(
            "{} healthy of {} targets (need {wanted})",
            h.healthy, h.total
        ))
    } else {
        Err(Error::invalid(
            Input::MinHealthyHosts,
            format!("{color} ({})", arn.name()),
            format!(
                "{} healthy of {} targets, need at least {wanted}",
                h.healthy, h.total
            ),
            text!(
                "Bring its targets up (scale its Auto Scaling group, check the health check), or lower ",
                {input Input::MinHealthyHosts}
            ),
        ))
    }
}

async fn stickiness<A: Alb>(alb: &A, resolved: &Resolved) -> Result<String, Error> {
    crate::providers::aws::checks::check_conversions(alb, resolved, &resolved.routes()).await?;
    let s = resolved
        .forward()?
        .stickiness
        .unwrap_or(crate::model::Stickiness::OFF);
    Ok(format!("{s}, kept as found"))
}
