//! Every route in lockstep: the listeners' default actions and the listener rules that forward to the
//! same blue and green target groups move together.
//!
//! Given the route the user named and its colors, [`discover`] finds every other route that forwards to
//! both groups, on the load balancers the user named or, by default, on every load balancer the groups
//! are attached to. Routes that forward to only one of the two groups, or to a third group too, are
//! reported and left alone unless the user includes them explicitly. [`write_group`] writes a split on
//! all routes, then verifies all of them, and puts the routes already written back when one fails;
//! [`write_each`] is the rollback's variant, which writes every route it can.

use std::fmt;

use serde::Serialize;

use crate::error::Error;
use crate::model::{Color, LoadBalancerArn, Split};
use crate::ports::{Alb, ApiErrorKind, Tags, TrafficRouter};
use crate::resolve::unsupported;
use crate::route::{self, ColorGroups, ForwardAction, RouteId, RouteSnapshot};

/// Which routes move together with the one the user named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lockstep {
    /// Only the named route (`--single-route`): no discovery.
    pub single_route: bool,
    /// The load balancers to search, by name (`--load-balancer`, repeatable). Empty: every load
    /// balancer the blue and green target groups are attached to.
    pub load_balancers: Vec<String>,
    /// Routes to move although they forward to only one of the two groups (`--include-route`).
    pub include: Vec<RouteId>,
}

/// Another route that moves in lockstep with the named one.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The route as read.
    pub snapshot: RouteSnapshot,
    /// Its live split.
    pub split: Split,
    /// The tags of its listener or rule.
    pub tags: Tags,
}

/// A route that forwards to blue or green but is not moved, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftAlone {
    /// The route.
    pub route: RouteId,
    /// Why albflip leaves it alone.
    pub reason: String,
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
    LeftAlone(String),
}

/// Finds the routes that forward to `groups` besides `primary`.
pub async fn discover<A: Alb>(
    alb: &A,
    lockstep: &Lockstep,
    primary: &RouteSnapshot,
    groups: &ColorGroups,
) -> Result<Discovered, Error> {
    let mut found = Vec::new();
    if !lockstep.single_route {
        found = search(alb, lockstep, primary, groups).await?;
        found.retain(|r| r.route != primary.route);
    }
    for id in &lockstep.include {
        if id != &primary.route && !found.iter().any(|r| &r.route == id) {
            found.push(read_included(alb, id).await?);
        }
    }
    let mut discovered = Discovered::default();
    let mut peers = Vec::new();
    for snapshot in found {
        let included = lockstep.include.contains(&snapshot.route);
        match fit(&snapshot, groups, included)? {
            Fit::Unrelated => {}
            Fit::Peer(split) => peers.push((snapshot, split)),
            Fit::LeftAlone(reason) => discovered.left_alone.push(LeftAlone {
                route: snapshot.route,
                reason,
            }),
        }
    }
    discovered.peers = with_tags(alb, peers).await?;
    Ok(discovered)
}

/// Every route of the load balancers to search: the named ones, or the route's own and every one the
/// groups are attached to. By default the route's own load balancer is read while the groups are looked
/// up, so that the common case (one load balancer) costs one round trip more than no discovery.
async fn search<A: Alb>(
    alb: &A,
    lockstep: &Lockstep,
    primary: &RouteSnapshot,
    groups: &ColorGroups,
) -> Result<Vec<RouteSnapshot>, Error> {
    let mut lbs = Vec::new();
    let mut found = Vec::new();
    if lockstep.load_balancers.is_empty() {
        let own = &primary.load_balancer;
        let (blue, green, routes) = tokio::join!(
            alb.target_group(&groups.blue),
            alb.target_group(&groups.green),
            alb.routes(own)
        );
        found = routes.map_err(Error::Read)?;
        lbs.push(own.clone());
        for info in [blue, green] {
            let attached = info.map_err(Error::Read)?.map(|i| i.load_balancers);
            lbs.extend(attached.unwrap_or_default());
        }
    } else {
        // The named route's own load balancer is always searched: its other listeners and rules are
        // the likeliest peers.
        lbs.push(primary.load_balancer.clone());
        for name in &lockstep.load_balancers {
            lbs.push(named_load_balancer(alb, name).await?);
        }
    }
    let mut unique: Vec<LoadBalancerArn> = Vec::new();
    for lb in lbs {
        if !unique.contains(&lb) {
            unique.push(lb);
        }
    }
    let rest = unique
        .iter()
        .filter(|lb| found.is_empty() || *lb != &primary.load_balancer);
    let more = futures_util::future::try_join_all(rest.map(|lb| alb.routes(lb)))
        .await
        .map_err(Error::Read)?;
    found.extend(more.into_iter().flatten());
    Ok(found)
}

async fn named_load_balancer<A: Alb>(alb: &A, name: &str) -> Result<LoadBalancerArn, Error> {
    alb.find_load_balancer(name)
        .await
        .map_err(Error::Read)?
        .ok_or_else(|| Error::NotFound {
            what: format!("load balancer {name:?}"),
            fix: format!("Check --load-balancer (a load balancer name in this region); `aws elbv2 describe-load-balancers --names {name}` shows whether it exists"),
        })
}

async fn read_included<A: Alb>(alb: &A, id: &RouteId) -> Result<RouteSnapshot, Error> {
    alb.read(id).await.map_err(|e| {
        if e.kind == ApiErrorKind::NotFound {
            Error::NotFound {
                what: format!("--include-route {}", id.resource_arn()),
                fix: "Pass the ARN of a listener or a listener rule in this region".into(),
            }
        } else {
            Error::Read(e)
        }
    })
}

/// How `snapshot` relates to blue and green. An included route must be shiftable.
fn fit(snapshot: &RouteSnapshot, groups: &ColorGroups, included: bool) -> Result<Fit, Error> {
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
            false => Ok(Fit::LeftAlone(reason)),
        };
    }
    if colors.len() == 1 && !included {
        let color = colors[0];
        return Ok(Fit::LeftAlone(format!(
            "it forwards to {color} ({}) only; include it with --include-route {} to move it too",
            groups.of(color).name(),
            route.resource_arn()
        )));
    }
    // A route AWS itself would refuse (only an emulator holds one) is reported, not moved: refusing
    // every command because of it would leave the healthy routes without a rollback.
    match route::live_split(forward, groups) {
        Ok(split) => Ok(Fit::Peer(split)),
        Err(problem) if included => Err(unsupported(route, problem)),
        Err(problem) => Ok(Fit::LeftAlone(format!("it cannot be shifted: {problem}"))),
    }
}

/// Reads the tags of the peers (20 resources per call).
async fn with_tags<A: Alb>(
    alb: &A,
    peers: Vec<(RouteSnapshot, Split)>,
) -> Result<Vec<Peer>, Error> {
    let mut tags = std::collections::BTreeMap::new();
    let arns: Vec<&str> = peers.iter().map(|(s, _)| s.route.resource_arn()).collect();
    for chunk in arns.chunks(20) {
        tags.extend(alb.tags(chunk).await.map_err(Error::Read)?);
    }
    Ok(peers
        .into_iter()
        .map(|(snapshot, split)| Peer {
            tags: tags
                .remove(snapshot.route.resource_arn())
                .unwrap_or_default(),
            snapshot,
            split,
        })
        .collect())
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

/// A route before and after a write, for putting it back.
struct Written<'a> {
    before: &'a RouteSnapshot,
}

/// Writes `split` on every route in `current` (each read just before), then verifies all of them: from
/// the writes' responses or by reading each back. When a write or a verification fails, the routes
/// already written are put back to the forward action they had, and the error names the route that
/// failed and what was put back. Returns the routes as verified.
pub async fn write_group<R: TrafficRouter>(
    router: &R,
    current: &[RouteSnapshot],
    groups: &ColorGroups,
    split: Split,
    verification: crate::traffic::Verification,
) -> Result<Vec<RouteSnapshot>, Error> {
    if let [single] = current {
        return crate::traffic::write_verified(router, single, groups, split, verification)
            .await
            .map(|live| vec![live]);
    }
    let desired = current
        .iter()
        .map(|before| desired_forward(before, groups, split))
        .collect::<Result<Vec<_>, _>>()?;
    let mut written: Vec<Written<'_>> = Vec::new();
    for (before, wanted) in current.iter().zip(&desired) {
        written.push(Written { before });
        if let Err(source) = router.write(before, wanted).await {
            let failed = Error::WriteFailed {
                route: before.route.clone(),
                source,
            };
            return Err(restore(router, &written, failed).await);
        }
    }
    let mut verified = Vec::new();
    for (before, wanted) in current.iter().zip(&desired) {
        match crate::traffic::verify(router, &before.route, wanted).await {
            Ok(live) => verified.push(live),
            Err(failed) => return Err(restore(router, &written, failed).await),
        }
    }
    Ok(verified)
}

fn desired_forward(
    current: &RouteSnapshot,
    groups: &ColorGroups,
    split: Split,
) -> Result<ForwardAction, Error> {
    let route = &current.route;
    let forward = route::forward_of(current).map_err(|p| unsupported(route, p))?;
    route::forward_with_split(forward, groups, split).map_err(|p| unsupported(route, p))
}

/// Puts each written route back to the forward action it had (re-reading it first, so a route whose
/// write never landed is not written again), then reports `failed` with what was restored.
async fn restore<R: TrafficRouter>(router: &R, written: &[Written<'_>], failed: Error) -> Error {
    let mut restored = Vec::new();
    let mut not_restored = Vec::new();
    for w in written {
        let route = &w.before.route;
        let Some(before) = w.before.forward.as_ref() else {
            continue;
        };
        let result = async {
            let live = router.read(route).await?;
            match live.forward.as_ref() {
                Some(found) if route::matches_written(found, before) => Ok(None),
                _ => router.write(&live, before).await.map(Some),
            }
        }
        .await;
        match result {
            Ok(None) => {}
            // Verified from the write's response, like every other write.
            Ok(Some(after))
                if after
                    .forward
                    .as_ref()
                    .is_some_and(|f| route::matches_written(f, before)) =>
            {
                restored.push(route.to_string())
            }
            Ok(Some(_)) => not_restored.push(format!(
                "{route} (the put-back did not show in the response)"
            )),
            Err(e) => not_restored.push(format!("{route} ({e})")),
        }
    }
    Error::LockstepFailed {
        cause: Box::new(failed),
        restored,
        not_restored,
    }
}

/// Writes `split` on every route that does not carry it yet, verified from each write's response, and
/// goes on past a failure so that as many routes as possible get there (the rollback's way). Returns the
/// routes written; an error lists the routes that failed and the ones that were written.
pub async fn write_each<R: TrafficRouter>(
    router: &R,
    current: &[RouteSnapshot],
    groups: &ColorGroups,
    split: Split,
) -> Result<Vec<RouteId>, Error> {
    let mut written = Vec::new();
    let mut failed: Vec<Error> = Vec::new();
    for snapshot in current {
        // A route that cannot take the split (someone made it a redirect mid-run) is a failure of its
        // own: the others are still written.
        let planned = route::forward_of(snapshot)
            .map_err(|p| unsupported(&snapshot.route, p))
            .and_then(|forward| Ok((forward, desired_forward(snapshot, groups, split)?)));
        let (forward, wanted) = match planned {
            Ok(p) => p,
            Err(e) => {
                failed.push(e);
                continue;
            }
        };
        if route::matches_written(forward, &wanted) {
            continue;
        }
        match crate::traffic::write_verified(
            router,
            snapshot,
            groups,
            split,
            crate::traffic::Verification::Response,
        )
        .await
        {
            Ok(_) => written.push(snapshot.route.clone()),
            Err(e) => failed.push(e),
        }
    }
    match failed.len() {
        0 => Ok(written),
        1 if current.len() == 1 => Err(failed.remove(0)),
        _ => Err(Error::RoutesFailed {
            split: split.to_string(),
            written: written.iter().map(ToString::to_string).collect(),
            failed: failed.iter().map(ToString::to_string).collect(),
        }),
    }
}

/// Puts all traffic on `stable` on every route: each read fresh and written when it needs it, verified
/// from the write's response. A route that cannot be read or written does not stop the others.
pub async fn rollback_each<R: TrafficRouter>(
    router: &R,
    routes: &[&RouteSnapshot],
    groups: &ColorGroups,
    stable: Color,
) -> Result<Vec<RouteId>, Error> {
    let mut live = Vec::new();
    let mut unread = Vec::new();
    for snapshot in routes {
        match router.read(&snapshot.route).await {
            Ok(found) => live.push(found),
            Err(e) => unread.push(Error::Read(e)),
        }
    }
    let written = write_each(router, &live, groups, Split::all_to(stable)).await;
    match (written, unread.len()) {
        (Ok(written), 0) => Ok(written),
        (Err(e), 0) => Err(e),
        (Ok(_), 1) if routes.len() == 1 => Err(unread.remove(0)),
        (result, _) => {
            let mut failed: Vec<String> = unread.iter().map(ToString::to_string).collect();
            let written = match result {
                Ok(w) => w.iter().map(ToString::to_string).collect(),
                Err(Error::RoutesFailed {
                    written,
                    failed: more,
                    ..
                }) => {
                    failed.extend(more);
                    written
                }
                Err(e) => {
                    failed.push(e.to_string());
                    Vec::new()
                }
            };
            Err(Error::RoutesFailed {
                split: Split::all_to(stable).to_string(),
                written,
                failed,
            })
        }
    }
}

/// Every route that forwards to `target_group` at all, on the load balancers it is attached to and on
/// `primary`'s, plus `also` (the routes albflip moves, the test listener): what a scale-down must find
/// at weight 0, whether albflip moves those routes or not (routes left alone, routes outside
/// `--load-balancer`, everything with `--single-route`).
pub async fn routes_to<A: Alb>(
    alb: &A,
    target_group: &crate::model::TargetGroupArn,
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
