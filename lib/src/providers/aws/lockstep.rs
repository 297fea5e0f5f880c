//! Every route in lockstep: the listeners' default actions and the listener rules that forward to the
//! same blue and green target groups move together.
//!
//! Given the route the user named and its colors, [`discover`] finds every other route that forwards to
//! both groups, on the route's own load balancer and the load balancers the user named. On AWS a target
//! group belongs to one load balancer at most ("Load balancers per target group: 1", not adjustable), so
//! by default only the route's own load balancer is searched, and nothing is called to find others. Routes that forward to only one of the two groups, or to a third group too, are
//! reported and left alone unless the user includes them explicitly. Writing them together is
//! [`crate::providers::aws::write`]'s job.

use crate::input::{Input, Text};
use crate::text;
use std::fmt;

use serde::Serialize;

use crate::error::Error;
use crate::model::{Color, Split};
use crate::ports::ApiErrorKind;
use crate::providers::aws::api::Alb;
use crate::providers::aws::arn::LoadBalancerArn;
use crate::providers::aws::route::{self, ColorGroups, RouteId, RouteSnapshot};
use crate::providers::aws::unsupported::unsupported;

/// Which routes move together with the one the user named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lockstep {
    /// Only the named route (`--single-route`): no discovery.
    pub single_route: bool,
    /// More load balancers to search, by name (`--load-balancer`, repeatable), besides the route's own
    /// (the only one AWS lets blue and green belong to; an emulator may allow more).
    pub load_balancers: Vec<String>,
    /// Routes to move although they forward to only one of the two groups (`--include-route`).
    pub include: Vec<RouteId>,
    /// Other load balancers' blue/green pairs whose routes move with the named one (`--pair`).
    pub pairs: Vec<Pair>,
}

/// Another load balancer with its own blue and green target groups (on AWS a target group belongs to
/// one load balancer): an internal and an internet-facing ALB in front of the same two versions. Every
/// route of that load balancer that forwards to the pair's groups moves with the named route, the
/// gates read the pair's metrics too, and a rollback puts them all back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The load balancer's name.
    pub load_balancer: String,
    /// Its blue target group (name or ARN).
    pub blue: String,
    /// Its green target group (name or ARN).
    pub green: String,
}

impl std::str::FromStr for Pair {
    type Err = String;

    /// `LOAD_BALANCER,BLUE,GREEN`.
    fn from_str(s: &str) -> Result<Pair, String> {
        match s.split(',').map(str::trim).collect::<Vec<_>>().as_slice() {
            [lb, blue, green] if !lb.is_empty() && !blue.is_empty() && !green.is_empty() => {
                Ok(Pair {
                    load_balancer: lb.to_string(),
                    blue: blue.to_string(),
                    green: green.to_string(),
                })
            }
            _ => Err(format!(
                "{s:?} is not LOAD_BALANCER,BLUE,GREEN (a load balancer name and its blue and green target groups, by name or ARN)"
            )),
        }
    }
}

/// Another route that moves in lockstep with the named one.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The route as read.
    pub snapshot: RouteSnapshot,
    /// Its live split.
    pub split: Split,
}

/// A route that forwards to blue or green but is not moved, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftAlone {
    /// The route.
    pub route: RouteId,
    /// Why albflip leaves it alone.
    pub reason: Text,
}

impl fmt::Display for LeftAlone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.route, self.reason)
    }
}

/// What discovery found besides the named route.
#[derive(Debug, Clone, Default)]
pub struct Discovered {
    /// Routes that move in lockstep with the named one.
    pub peers: Vec<Peer>,
    /// Routes that forward to blue or green and are left alone.
    pub left_alone: Vec<LeftAlone>,
}

/// How one route relates to blue and green.
enum Fit {
    /// Forwards to neither: not albflip's business.
    Unrelated,
    /// Moves in lockstep.
    Peer(Split),
    /// Reported and left alone.
    LeftAlone(Text),
}

impl Lockstep {
    /// Whether the routes of the named route's load balancer are read (everything but `--single-route`).
    pub fn searches(&self) -> bool {
        !self.single_route
    }
}

/// Finds the routes that forward to `groups` besides `primary`. `own` is what the caller already read of
/// the routes of a load balancer (its [`crate::providers::aws::api::AlbInventory::routes`]), alongside
/// the route itself: used when it is `primary`'s, so the search costs no round trip of its own.
pub async fn discover<A: Alb>(
    alb: &A,
    lockstep: &Lockstep,
    primary: &RouteSnapshot,
    groups: &ColorGroups,
    own: Option<(LoadBalancerArn, Vec<RouteSnapshot>)>,
    pairs: &[LoadBalancerArn],
) -> Result<Discovered, Error> {
    let mut found = Vec::new();
    if lockstep.searches() || !pairs.is_empty() {
        found = search(alb, lockstep, primary, own, pairs).await?;
        found.retain(|r| r.route != primary.route);
    }
    for id in &lockstep.include {
        if id != &primary.route && !found.iter().any(|r| &r.route == id) {
            found.push(read_included(alb, id).await?);
        }
    }
    let mut discovered = Discovered::default();
    for snapshot in found {
        // A pair's route that forwards to one of its groups alone (a single-group forward, as the named
        // route may be) moves too: the first shift makes it weighted.
        let included = lockstep.include.contains(&snapshot.route);
        let pair = pairs.contains(&snapshot.load_balancer);
        match fit(&snapshot, groups, included, pair)? {
            Fit::Unrelated => {}
            Fit::Peer(split) => discovered.peers.push(Peer { snapshot, split }),
            Fit::LeftAlone(reason) => discovered.left_alone.push(LeftAlone {
                route: snapshot.route,
                reason,
            }),
        }
    }
    Ok(discovered)
}

/// Every route of the route's own load balancer (`own` when it was read ahead) and of the load
/// balancers named with `--load-balancer`.
async fn search<A: Alb>(
    alb: &A,
    lockstep: &Lockstep,
    primary: &RouteSnapshot,
    own: Option<(LoadBalancerArn, Vec<RouteSnapshot>)>,
    pairs: &[LoadBalancerArn],
) -> Result<Vec<RouteSnapshot>, Error> {
    let own_lb = &primary.load_balancer;
    let mut found = match own {
        _ if !lockstep.searches() => Vec::new(),
        Some((lb, routes)) if &lb == own_lb => routes,
        _ => alb.routes(own_lb).await.map_err(Error::Read)?,
    };
    let mut named: Vec<LoadBalancerArn> =
        pairs.iter().filter(|lb| *lb != own_lb).cloned().collect();
    let searched = if lockstep.searches() {
        lockstep.load_balancers.as_slice()
    } else {
        &[]
    };
    for name in searched {
        let lb = named_load_balancer(alb, name).await?;
        if &lb != own_lb && !named.contains(&lb) {
            named.push(lb);
        }
    }
    let more = futures_util::future::try_join_all(named.iter().map(|lb| alb.routes(lb)))
        .await
        .map_err(Error::Read)?;
    found.extend(more.into_iter().flatten());
    Ok(found)
}

pub(crate) async fn named_load_balancer<A: Alb>(
    alb: &A,
    name: &str,
) -> Result<LoadBalancerArn, Error> {
    alb.find_load_balancer(name)
        .await
        .map_err(Error::Read)?
        .ok_or_else(|| Error::NotFound {
            what: format!("load balancer {name:?}").into(),
            fix: text!(
                "Check ",
                {input Input::LoadBalancer},
                format!(" (a load balancer name in this region); `aws elbv2 describe-load-balancers --names {name}` shows whether it exists")
            ),
        })
}

async fn read_included<A: Alb>(alb: &A, id: &RouteId) -> Result<RouteSnapshot, Error> {
    alb.read(id).await.map_err(|e| {
        if e.kind == ApiErrorKind::NotFound {
            Error::NotFound {
                what: text!({input Input::IncludeRoute}, format!(" {}", id.resource_arn())),
                fix: "Pass the ARN of a listener or a listener rule in this region".into(),
            }
        } else {
            Error::Read(e)
        }
    })
}

/// How `snapshot` relates to blue and green. An included route must be shiftable.
fn fit(
    snapshot: &RouteSnapshot,
    groups: &ColorGroups,
    included: bool,
    pair: bool,
) -> Result<Fit, Error> {
    let route = &snapshot.route;
    let Some(forward) = snapshot.forward.as_ref() else {
        return match included {
            true => Err(unsupported(
                route,
                route::RouteProblem::NotAForward {
                    found: snapshot.action_types.join(" + "),
                },
            )),
            false => Ok(Fit::Unrelated),
        };
    };
    let mut colors: Vec<Color> = forward
        .targets
        .iter()
        .filter_map(|t| groups.color_of(&t.target_group))
        .collect();
    colors.dedup();
    let foreign: Vec<&str> = forward
        .targets
        .iter()
        .filter(|t| groups.color_of(&t.target_group).is_none())
        .map(|t| t.target_group.name())
        .collect();
    if colors.is_empty() {
        return match included {
            true => Err(unsupported(
                route,
                route::RouteProblem::ForeignTargetGroup(foreign.join(", ")),
            )),
            false => Ok(Fit::Unrelated),
        };
    }
    if !foreign.is_empty() {
        let reason = format!("it also forwards to {}", foreign.join(", "));
        return match included {
            true => Err(unsupported(
                route,
                route::RouteProblem::ForeignTargetGroup(foreign.join(", ")),
            )),
            false => Ok(Fit::LeftAlone(reason.into())),
        };
    }
    if colors.len() == 1 && !included && !pair {
        let color = colors[0];
        return Ok(Fit::LeftAlone(text!(
            format!(
                "it forwards to {color} ({}) only; include it with ",
                groups.of(color).name()
            ),
            {input Input::IncludeRoute},
            format!(" {} to move it too", route.resource_arn())
        )));
    }
    // A route AWS itself would refuse (only an emulator holds one) is reported, not moved: refusing
    // every command because of it would leave the healthy routes without a rollback.
    match route::live_split(forward, groups) {
        Ok(split) => Ok(Fit::Peer(split)),
        Err(problem) if included => Err(unsupported(route, problem)),
        Err(problem) => Ok(Fit::LeftAlone(
            format!("it cannot be shifted: {problem}").into(),
        )),
    }
}

/// Refuses when the routes do not all carry `split` (someone changed one, or a deployment stopped
/// part-way): albflip writes them in lockstep and will not pick one of the splits.
pub fn check_agreement(primary: &RouteSnapshot, split: Split, peers: &[Peer]) -> Result<(), Error> {
    if peers.iter().all(|p| p.split == split) {
        return Ok(());
    }
    let mut listed = vec![format!("{}: {split}", primary.route)];
    listed.extend(
        peers
            .iter()
            .map(|p| format!("{}: {}", p.snapshot.route, p.split)),
    );
    Err(Error::RoutesDisagree {
        routes: listed.join("; "),
    })
}

/// Every route that forwards to `target_group` at all, on the load balancers it is attached to and on
/// `primary`'s, plus `also` (the routes albflip moves, the test listener): what a scale-down must find
/// at weight 0, whether albflip moves those routes or not (routes left alone, routes outside
/// `--load-balancer`, everything with `--single-route`).
pub async fn routes_to<A: Alb>(
    alb: &A,
    target_group: &crate::providers::aws::arn::TargetGroupArn,
    primary: &RouteSnapshot,
    also: &[RouteId],
) -> Result<Vec<RouteId>, Error> {
    let info = alb.target_group(target_group).await.map_err(Error::Read)?;
    let mut lbs = vec![primary.load_balancer.clone()];
    for lb in info.map(|i| i.load_balancers).unwrap_or_default() {
        if !lbs.contains(&lb) {
            lbs.push(lb);
        }
    }
    let found = futures_util::future::try_join_all(lbs.iter().map(|lb| alb.routes(lb)))
        .await
        .map_err(Error::Read)?;
    let mut routes = vec![primary.route.clone()];
    for route in also {
        if !routes.contains(route) {
            routes.push(route.clone());
        }
    }
    for snapshot in found.into_iter().flatten() {
        let forwards = snapshot
            .forward
            .iter()
            .flat_map(|f| &f.targets)
            .any(|t| &t.target_group == target_group);
        if forwards && !routes.contains(&snapshot.route) {
            routes.push(snapshot.route);
        }
    }
    Ok(routes)
}
