//! Resolving what to act on: from what the user named (a listener ARN, a load balancer and port, target
//! group names or ARNs, or nothing) to a live route with known blue and green target groups.

use crate::input::{Input, Text};
use crate::text;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::error::Error;
use crate::model::{Color, Split, Stickiness};
use crate::ports::{ApiError, ApiErrorKind, Backend, Labels, Tags};
use crate::providers::aws::api::{listener_arns, Alb};
use crate::providers::aws::arn::{ListenerArn, LoadBalancerArn, RuleArn, TargetGroupArn};
use crate::providers::aws::cloudwatch::{LOAD_BALANCER_DIMENSION, TARGET_GROUP_DIMENSION};
use crate::providers::aws::known_health::KnownHealth;
use crate::providers::aws::lockstep::{self, LeftAlone, Lockstep, Peer};
use crate::providers::aws::route::{self, ColorGroups, ForwardAction, RouteId, RouteSnapshot};
use crate::providers::aws::sticky;
use crate::providers::aws::unsupported::unsupported;
use crate::state::{self, DeploymentRecord, RouteState};

/// The tag on a listener (or rule) naming its stable color.
pub const STABLE_TAG: &str = "albflip:stable";
/// The tag on a target group naming its color.
pub const COLOR_TAG: &str = "albflip:color";

/// How the user named the route.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteSpec {
    /// A listener's default action, by ARN.
    Listener(ListenerArn),
    /// A listener rule, by ARN.
    Rule(RuleArn),
    /// The default action of the listener on `port` of the load balancer named `name`.
    LoadBalancer {
        /// The load balancer's name.
        name: String,
        /// The listener port.
        port: u16,
    },
}

impl fmt::Display for RouteSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteSpec::Listener(arn) => write!(f, "default action of listener {arn}"),
            RouteSpec::Rule(arn) => write!(f, "listener rule {arn}"),
            RouteSpec::LoadBalancer { name, port } => {
                write!(f, "listener on port {port} of load balancer {name}")
            }
        }
    }
}

impl RouteSpec {
    /// The route, when it is named by ARN; `None` when it must be looked up by load balancer and port.
    pub fn route_id(&self) -> Option<RouteId> {
        match self {
            RouteSpec::Listener(arn) => Some(RouteId::Listener(arn.clone())),
            RouteSpec::Rule(arn) => Some(RouteId::Rule(arn.clone())),
            RouteSpec::LoadBalancer { .. } => None,
        }
    }

    /// The route's load balancer, when the route is named by ARN (its ARN names the load balancer).
    pub fn load_balancer(&self) -> Option<LoadBalancerArn> {
        match self {
            RouteSpec::Listener(arn) => Some(arn.load_balancer()),
            RouteSpec::Rule(arn) => Some(arn.listener().load_balancer()),
            RouteSpec::LoadBalancer { .. } => None,
        }
    }
}

/// How the user named a target group.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupRef {
    /// By ARN.
    Arn(TargetGroupArn),
    /// By name.
    Name(String),
}

impl FromStr for GroupRef {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.starts_with("arn:") {
            return TargetGroupArn::parse(s).map(GroupRef::Arn).map_err(|e| {
                Error::invalid_text(
                    "target group",
                    e.to_string(),
                    "Pass a target group name or its full ARN",
                )
            });
        }
        let valid = !s.is_empty()
            && s.len() <= 32
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if valid {
            Ok(GroupRef::Name(s.to_string()))
        } else {
            Err(Error::invalid_text(
                format!("target group {s:?}"),
                "not a valid target group name (1-32 letters, digits and hyphens, not starting or ending with a hyphen) nor an ARN",
                "Pass a target group name or its full ARN",
            ))
        }
    }
}

impl fmt::Display for GroupRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupRef::Arn(a) => write!(f, "{a}"),
            GroupRef::Name(n) => f.write_str(n),
        }
    }
}

/// What to act on, as the user said it. Build it with [`Target::new`] or [`Target::from_convention`],
/// then set the fields you need:
///
/// ```
/// use albflip::aws::arn::ListenerArn;
/// use albflip::aws::resolve::{GroupRef, RouteSpec, Target};
/// let arn = ListenerArn::parse("arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2").unwrap();
/// let mut target = Target::new(RouteSpec::Listener(arn));
/// target.green = Some(GroupRef::Name("shop-green-tg".into()));
/// target.lockstep.single_route = true;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Target {
    /// The route.
    pub route: RouteSpec,
    /// The blue target group, when named.
    pub blue: Option<GroupRef>,
    /// The green target group, when named.
    pub green: Option<GroupRef>,
    /// Which other routes move in lockstep with this one.
    pub lockstep: Lockstep,
    /// Whether a rollback leaves group stickiness as it is, instead of releasing it so that sticky
    /// clients leave the color rolled back from ([`crate::providers::aws::sticky`]).
    pub keep_stickiness: bool,
}

impl Target {
    /// The route `route`, with its colors detected and the routes that forward to the same groups
    /// moving in lockstep.
    pub fn new(route: RouteSpec) -> Target {
        Target {
            route,
            blue: None,
            green: None,
            lockstep: Lockstep::default(),
            keep_stickiness: false,
        }
    }

    /// The naming convention of the pipelines albflip replaces: load balancer `{E}-{A}-alb`, target
    /// groups `{E}-{A}-blue-tg` and `{E}-{A}-green-tg`.
    pub fn from_convention(environment: &str, application: &str, port: u16) -> Target {
        let base = format!("{environment}-{application}");
        Target {
            route: RouteSpec::LoadBalancer {
                name: format!("{base}-alb"),
                port,
            },
            blue: Some(GroupRef::Name(format!("{base}-blue-tg"))),
            green: Some(GroupRef::Name(format!("{base}-green-tg"))),
            lockstep: Lockstep::default(),
            keep_stickiness: false,
        }
    }

    fn named(&self, color: Color) -> Option<&GroupRef> {
        match color {
            Color::Blue => self.blue.as_ref(),
            Color::Green => self.green.as_ref(),
        }
    }
}

/// Where the stable color came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StableSource {
    /// The `albflip:stable` tag.
    Tag,
    /// No tag: blue by default.
    Default,
}

/// A live route with its colors resolved.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The route as read.
    pub snapshot: RouteSnapshot,
    /// Blue and green.
    pub groups: ColorGroups,
    /// The live split.
    pub split: Split,
    /// The stable color.
    pub stable: Color,
    /// Where the stable color came from.
    pub stable_source: StableSource,
    /// The tags of the route's resource (listener or rule).
    pub tags: Tags,
    /// The other routes that forward to blue and green and move in lockstep with this one.
    pub peers: Vec<Peer>,
    /// Routes that forward to blue or green and are left alone, with why.
    pub left_alone: Vec<LeftAlone>,
    /// The group stickiness a rollback released on each route that records one, which the next write
    /// puts back (read for a shift or deployment, not for a rollback).
    pub sticky_records: Vec<(RouteId, Stickiness)>,
    /// Whether a rollback keeps group stickiness as it is (see [`Target::keep_stickiness`]).
    pub keep_stickiness: bool,
}

impl Resolved {
    /// The forward action (present by construction).
    pub fn forward(&self) -> Result<&ForwardAction, Error> {
        route::forward_of(&self.snapshot)
            .map_err(|problem| unsupported(&self.snapshot.route, problem))
    }

    /// The group stickiness a rollback released on `route` and recorded, if any.
    pub fn sticky_record(&self, route: &RouteId) -> Option<Stickiness> {
        self.sticky_records
            .iter()
            .find(|(r, _)| r == route)
            .map(|(_, s)| *s)
    }

    /// Every route that moves: the named one first, then its peers.
    pub fn routes(&self) -> Vec<&RouteSnapshot> {
        std::iter::once(&self.snapshot)
            .chain(self.peers.iter().map(|p| &p.snapshot))
            .collect()
    }

    /// Refuses unless every route carries the named route's split.
    pub fn check_agreement(&self) -> Result<(), Error> {
        lockstep::check_agreement(&self.snapshot, self.split, &self.peers)
    }

    /// The backend of `color` for metric sources: its target group on the named route's load balancer,
    /// then on every other load balancer of the routes in lockstep, as CloudWatch dimensions.
    pub fn backend(&self, color: Color) -> Backend {
        let group = self.groups.of(color);
        // Each load balancer with the group of `color` its routes forward to: the named route's pair on
        // its own load balancer (and, on an emulator, on the others searched), each `--pair` on its own.
        let mut places: Vec<(&LoadBalancerArn, &TargetGroupArn)> = Vec::new();
        for snapshot in self.routes() {
            // The route's own group of `color`, or, on a single-group forward, its pair's.
            let own = snapshot
                .forward
                .iter()
                .flat_map(|f| &f.targets)
                .find_map(|t| self.groups.in_pair_of(&t.target_group, color));
            let place = (&snapshot.load_balancer, own.unwrap_or(group));
            if !places.contains(&place) {
                places.push(place);
            }
        }
        let scopes = places
            .into_iter()
            .map(|(lb, group)| {
                Labels::from([
                    (
                        LOAD_BALANCER_DIMENSION.to_string(),
                        lb.metric_dimension().to_string(),
                    ),
                    (
                        TARGET_GROUP_DIMENSION.to_string(),
                        group.metric_dimension().to_string(),
                    ),
                ])
            })
            .collect();
        Backend {
            color,
            name: group.name().to_string(),
            id: group.as_str().to_string(),
            scopes,
        }
    }

    /// The route's deployment record, parsed from its tags.
    pub fn record(&self) -> Option<DeploymentRecord> {
        DeploymentRecord::from_tags(&self.tags)
    }

    /// A deployment of `new` may start on this route (see [`state::check_can_start`]).
    pub fn check_can_start(&self, new: Color) -> Result<(), Error> {
        let record = self.record();
        let live = RouteState {
            route: &self.snapshot.route,
            record: record.as_ref(),
            split: self.split,
            stable: self.stable,
        };
        state::check_can_start(live, new)
    }

    /// A manual shift may write on this route (see [`state::check_can_shift`]); returns the deployment
    /// taken over, if any.
    pub fn check_can_shift(&self, take_over: bool) -> Result<Option<DeploymentRecord>, Error> {
        let record = self.record();
        let live = RouteState {
            route: &self.snapshot.route,
            record: record.as_ref(),
            split: self.split,
            stable: self.stable,
        };
        state::check_can_shift(live, take_over)
    }
}

/// Reads the route the user named and works out blue and green.
pub async fn resolve<A: Alb>(alb: &A, target: &Target) -> Result<Resolved, Error> {
    Ok(resolve_ahead(alb, target, None).await?.0)
}

/// [`resolve`] for a rollback of all traffic to `to` (the stable color when `None`), which also reads
/// the health that rollback checks, in the round trips the route's discovery takes anyway:
///
/// 1. the route, its tags and the listeners of its load balancer (named in the route's ARN);
/// 2. the rules of those listeners, and the health of the color that receives the traffic (only when
///    the named route does not have it all yet: a route already there needs no health);
///
/// then the writes are the third. With `--single-route` and both colors named by ARN, both colors'
/// health (or `to`'s) is read with the route itself, so the write is the second round trip.
pub(crate) async fn resolve_for_rollback<A: Alb>(
    alb: &A,
    target: &Target,
    to: Option<Color>,
) -> Result<(Resolved, KnownHealth), Error> {
    resolve_ahead(alb, target, Some(to)).await
}

/// The named route resolved (no discovery), with the health read alongside.
struct Named {
    snapshot: RouteSnapshot,
    tags: Tags,
    groups: ColorGroups,
    split: Split,
    stable_tag: Option<Color>,
}

/// `rollback`: `Some(to)` for a rollback, whose health is read ahead (see [`resolve_for_rollback`]).
async fn resolve_ahead<A: Alb>(
    alb: &A,
    target: &Target,
    rollback: Option<Option<Color>>,
) -> Result<(Resolved, KnownHealth), Error> {
    let own_lb = target
        .route
        .load_balancer()
        .filter(|_| target.lockstep.searches());
    let (named, health, own) = match (&target.route, own_lb) {
        (RouteSpec::Listener(arn), Some(lb)) => {
            resolve_listener_with_its_load_balancer(alb, target, rollback, arn, lb).await?
        }
        (_, own_lb) => {
            let lb_routes = async {
                match &own_lb {
                    Some(lb) => Some(alb.routes(lb).await),
                    None => None,
                }
            };
            let (named, lb_routes) = tokio::join!(resolve_named(alb, target, rollback), lb_routes);
            let (named, health) = named?;
            let own = match (own_lb, lb_routes) {
                (Some(lb), Some(routes)) => Some((lb, routes.map_err(Error::Read)?)),
                _ => None,
            };
            (named, health, own)
        }
    };
    let pairs = &target.lockstep.pairs;
    let (groups, pair_lbs) = with_pairs(alb, pairs, named.groups, &named.snapshot).await?;
    let named = Named { groups, ..named };
    let discovered = lockstep::discover(
        alb,
        &target.lockstep,
        &named.snapshot,
        &named.groups,
        own,
        &pair_lbs,
    )
    .await?;
    check_pairs_moved(pairs, &pair_lbs, &discovered.peers)?;
    let resolved = Resolved {
        snapshot: named.snapshot,
        groups: named.groups,
        split: named.split,
        stable: named.stable_tag.unwrap_or(Color::Blue),
        stable_source: if named.stable_tag.is_some() {
            StableSource::Tag
        } else {
            StableSource::Default
        },
        tags: named.tags,
        peers: discovered.peers,
        left_alone: discovered.left_alone,
        sticky_records: Vec::new(),
        keep_stickiness: target.keep_stickiness,
    };
    let resolved = match rollback {
        Some(_) => resolved,
        None => with_sticky_records(alb, resolved).await?,
    };
    Ok((resolved, health))
}

/// A listener named by ARN whose load balancer is searched for lockstep routes: the listing of the load
/// balancer's listeners is the read of the named one too (no `DescribeListeners` of its own, issue 20).
///
/// 1. the load balancer's listeners (the named one among them) and the named one's tags;
/// 2. every listener's rules, and what the rest of the named route's resolution reads (the health a
///    rollback checks).
async fn resolve_listener_with_its_load_balancer<A: Alb>(
    alb: &A,
    target: &Target,
    rollback: Option<Option<Color>>,
    arn: &ListenerArn,
    lb: LoadBalancerArn,
) -> Result<
    (
        Named,
        KnownHealth,
        Option<(LoadBalancerArn, Vec<RouteSnapshot>)>,
    ),
    Error,
> {
    let route = RouteId::Listener(arn.clone());
    let resource = [route.resource_arn()];
    let (listeners, tags) = tokio::join!(alb.listeners(&lb), alb.tags(&resource));
    let listeners = listeners.map_err(|e| not_found_or_read(e, &route))?;
    let mut tags = tags.map_err(Error::Read)?;
    let snapshot = listeners
        .iter()
        .find(|l| l.route == route)
        .cloned()
        .ok_or_else(|| missing(&route))?;
    let own_tags = tags.remove(route.resource_arn()).unwrap_or_default();
    let arns = listener_arns(&listeners);
    // The health a rollback reads with the route itself is only ever `--single-route`'s: none here.
    let (named, rules) = tokio::join!(
        finish_named(
            alb,
            target,
            rollback,
            snapshot,
            own_tags,
            KnownHealth::default()
        ),
        alb.rules(&arns, &lb)
    );
    let (named, health) = named?;
    let mut routes = listeners;
    routes.extend(rules.map_err(Error::Read)?);
    Ok((named, health, Some((lb, routes))))
}

/// `resolved` with the stickiness records of its routes: the named route's from its tags, the peers'
/// read in one more call (only when there are peers).
async fn with_sticky_records<A: Alb>(alb: &A, mut resolved: Resolved) -> Result<Resolved, Error> {
    let mut tags = BTreeMap::new();
    tags.insert(
        resolved.snapshot.route.resource_arn().to_string(),
        resolved.tags.clone(),
    );
    let peers: Vec<&str> = resolved
        .peers
        .iter()
        .map(|p| p.snapshot.route.resource_arn())
        .collect();
    for chunk in peers.chunks(20) {
        tags.extend(alb.tags(chunk).await.map_err(Error::Read)?);
    }
    resolved.sticky_records = sticky::records_of(&resolved.routes(), &tags);
    Ok(resolved)
}

/// `groups` with the groups of each of `pairs` (`--pair`), and the pairs' load balancers. Refuses a pair
/// that names the route's own load balancer, a group named twice, or a group that is not the pair load
/// balancer's (on AWS a target group belongs to one load balancer).
async fn with_pairs<A: Alb>(
    alb: &A,
    pairs: &[lockstep::Pair],
    mut groups: ColorGroups,
    named: &RouteSnapshot,
) -> Result<(ColorGroups, Vec<LoadBalancerArn>), Error> {
    let mut lbs = Vec::new();
    for pair in pairs {
        let lb = pair_load_balancer(alb, pair).await?;
        if lb == named.load_balancer || lbs.contains(&lb) {
            return Err(bad_pair(pair, "its load balancer is the route's own or another pair's: every route there that forwards to the route's colors moves in lockstep already", "Name each other load balancer once"));
        }
        let blue = pair_group(alb, pair, &pair.blue, &lb).await?;
        let green = pair_group(alb, pair, &pair.green, &lb).await?;
        let taken = |arn: &TargetGroupArn| blue == green || groups.color_of(arn).is_some();
        if taken(&blue) || taken(&green) {
            return Err(bad_pair(
                pair,
                "it names a target group twice, or one of another pair",
                "Give each pair its own blue and green target groups",
            ));
        }
        groups.pairs.push((blue, green));
        lbs.push(lb);
    }
    Ok((groups, lbs))
}

fn bad_pair(pair: &lockstep::Pair, why: &str, fix: &str) -> Error {
    Error::invalid(
        Input::Pair,
        text!({input Input::Pair}, format!(" {},{},{}", pair.load_balancer, pair.blue, pair.green)),
        why,
        fix,
    )
}

async fn pair_load_balancer<A: Alb>(
    alb: &A,
    pair: &lockstep::Pair,
) -> Result<LoadBalancerArn, Error> {
    alb.find_load_balancer(&pair.load_balancer)
        .await
        .map_err(Error::Read)?
        .ok_or_else(|| Error::NotFound {
            what: text!({input Input::Pair}, format!(": load balancer {:?}", pair.load_balancer)),
            fix: "Give a load balancer name of this region (`aws elbv2 describe-load-balancers`)"
                .into(),
        })
}

/// A pair's target group that does not exist, with the closest names when it was given by name.
async fn pair_group_missing<A: Alb>(alb: &A, group: &GroupRef) -> Error {
    let suggestion = match group {
        GroupRef::Name(name) => did_you_mean(alb, name).await,
        GroupRef::Arn(_) => Text::new(),
    };
    Error::NotFound {
        what: text!({input Input::Pair}, format!(": target group {:?}", group.to_string())),
        fix: suggestion.lit("Give a target group name or ARN of this region"),
    }
}

/// A pair's target group (name or ARN), which must be attached to the pair's load balancer.
async fn pair_group<A: Alb>(
    alb: &A,
    pair: &lockstep::Pair,
    given: &str,
    lb: &LoadBalancerArn,
) -> Result<TargetGroupArn, Error> {
    let group = given.parse::<GroupRef>()?;
    let found = match &group {
        GroupRef::Arn(arn) => alb.target_group(arn).await,
        GroupRef::Name(name) => alb.find_target_group(name).await,
    };
    let info = match found {
        Ok(Some(info)) => info,
        Ok(None) => return Err(pair_group_missing(alb, &group).await),
        Err(e) if e.kind == ApiErrorKind::NotFound => {
            return Err(pair_group_missing(alb, &group).await)
        }
        Err(e) => return Err(Error::Read(e)),
    };
    // A group no route forwards to yet (green, before a single-group forward's first shift) belongs to
    // no load balancer; one that belongs to another is not this pair's.
    if !info.load_balancers.is_empty() && !info.load_balancers.contains(lb) {
        return Err(bad_pair(
            pair,
            &format!(
                "target group {} is not attached to load balancer {}",
                info.name, pair.load_balancer
            ),
            "Name the blue and green target groups that the pair's load balancer forwards to",
        ));
    }
    Ok(info.arn)
}

/// Refuses a pair none of whose load balancer's routes forwards to its groups: nothing of it would move.
fn check_pairs_moved(
    pairs: &[lockstep::Pair],
    lbs: &[LoadBalancerArn],
    peers: &[Peer],
) -> Result<(), Error> {
    for (pair, lb) in pairs.iter().zip(lbs) {
        if !peers.iter().any(|p| &p.snapshot.load_balancer == lb) {
            return Err(bad_pair(
                pair,
                "no listener or rule of that load balancer forwards to its blue and green target groups",
                "Point a listener or rule there at both groups (a weighted forward, or the blue group alone), or leave the pair out",
            ));
        }
    }
    Ok(())
}

/// Reads the named route and its tags, works out its colors and, for a rollback, reads the health it
/// will check (see [`resolve_for_rollback`]).
async fn resolve_named<A: Alb>(
    alb: &A,
    target: &Target,
    rollback: Option<Option<Color>>,
) -> Result<(Named, KnownHealth), Error> {
    let early = rollback
        .map(|to| early_health(target, to))
        .unwrap_or_default();
    // With both colors named by ARN, how a sticky route's rollback releases stickiness is read with
    // the route too: nothing is left to read between the route and the write.
    let ahead = async {
        match (&target.blue, &target.green) {
            (Some(GroupRef::Arn(blue)), Some(GroupRef::Arn(green)))
                if !early.is_empty() && !target.keep_stickiness =>
            {
                KnownHealth::read_for_rollback(alb, &early, blue, green).await
            }
            _ => KnownHealth::read(alb, &early).await,
        }
    };
    let (read, health) = tokio::join!(read_route(alb, &target.route), ahead);
    let (snapshot, tags) = read?;
    finish_named(alb, target, rollback, snapshot, tags, health).await
}

/// The named route as read (`snapshot`, `tags`): its colors, its split and, for a rollback, the health
/// it will check that `health` does not hold yet.
async fn finish_named<A: Alb>(
    alb: &A,
    target: &Target,
    rollback: Option<Option<Color>>,
    snapshot: RouteSnapshot,
    tags: Tags,
    mut health: KnownHealth,
) -> Result<(Named, KnownHealth), Error> {
    let route = snapshot.route.clone();
    let forward = route::forward_of(&snapshot).map_err(|p| unsupported(&route, p))?;
    route::check_forward(forward).map_err(|p| unsupported(&route, p))?;
    let groups = resolve_groups(alb, &snapshot, forward, target).await?;
    let split = route::live_split(forward, &groups).map_err(|p| unsupported(&route, p))?;
    let stable_tag = tags.get(STABLE_TAG).and_then(|v| v.parse::<Color>().ok());
    if let Some(to) = rollback {
        let color = to.or(stable_tag).unwrap_or(Color::Blue);
        let arn = groups.of(color);
        let sticky = sticky::release(&snapshot, sticky::Release::Off).1.is_some();
        if split.percent_of(color).get() < 100 && !health.has(arn) {
            let more = match sticky && !target.keep_stickiness {
                true => {
                    KnownHealth::read_for_rollback(alb, &[arn], &groups.blue, &groups.green).await
                }
                false => KnownHealth::read(alb, &[arn]).await,
            };
            health = health.merge(more);
        }
    }
    let named = Named {
        snapshot,
        tags,
        groups,
        split,
        stable_tag,
    };
    Ok((named, health))
}

/// The groups whose health a rollback reads with the route itself: with `--single-route` (nothing to
/// discover, so no second round trip to hide it in) and both colors named by ARN, `to`'s or, when the
/// stable color is not known yet, both.
fn early_health(target: &Target, to: Option<Color>) -> Vec<&TargetGroupArn> {
    let single = !target.lockstep.searches() && target.lockstep.include.is_empty();
    let (Some(GroupRef::Arn(blue)), Some(GroupRef::Arn(green)), true) =
        (&target.blue, &target.green, single)
    else {
        return Vec::new();
    };
    match to {
        Some(Color::Blue) => vec![blue],
        Some(Color::Green) => vec![green],
        None => vec![blue, green],
    }
}

/// The route the user named, found but not resolved (no colors, no discovery): what a lock key needs.
pub async fn locate<A: Alb>(alb: &A, spec: &RouteSpec) -> Result<RouteId, Error> {
    match spec.route_id() {
        // A rule may be its listener's default rule, which is the listener's default action: read it
        // to know (the lock of a route must not depend on how it was named).
        Some(rule @ RouteId::Rule(_)) => match alb.read(&rule).await {
            Ok(snapshot) => Ok(snapshot.route),
            Err(e) => Err(not_found_or_read(e, &rule)),
        },
        Some(route) => Ok(route),
        None => Ok(read_route(alb, spec).await?.0.route),
    }
}

/// Reads the route and its tags: by ARN both at once; by load balancer and port, the call that finds
/// the listener also reads it, then its tags.
async fn read_route<A: Alb>(alb: &A, spec: &RouteSpec) -> Result<(RouteSnapshot, Tags), Error> {
    let (snapshot, mut tags) = match spec {
        RouteSpec::Listener(arn) => read_by_id(alb, RouteId::Listener(arn.clone())).await?,
        RouteSpec::Rule(arn) => {
            let rule = RouteId::Rule(arn.clone());
            let (snapshot, tags) = read_by_id(alb, rule.clone()).await?;
            if snapshot.route == rule {
                (snapshot, tags)
            } else {
                // A default rule is read as its listener's default action, whose tags are the
                // listener's.
                let resource = [snapshot.route.resource_arn()];
                let tags = alb.tags(&resource).await.map_err(Error::Read)?;
                (snapshot, tags)
            }
        }
        RouteSpec::LoadBalancer { name, port } => {
            let snapshot = alb.find_listener(name, *port).await.map_err(|e| match e.kind {
                ApiErrorKind::NotFound => Error::NotFound {
                    what: format!("listener on port {port} of load balancer {name:?}").into(),
                    fix: text!(
                        "Check ",
                        {input Input::LoadBalancer},
                        "/",
                        {input Input::Port},
                        " (or ",
                        {input Input::Environment},
                        "/",
                        {input Input::Application},
                        format!("); `aws elbv2 describe-load-balancers --names {name}` lists what exists ({})", e.message)
                    ),
                },
                _ => Error::Read(e),
            })?;
            let tags = alb
                .tags(&[snapshot.route.resource_arn()])
                .await
                .map_err(Error::Read)?;
            (snapshot, tags)
        }
    };
    let own = tags
        .remove(snapshot.route.resource_arn())
        .unwrap_or_default();
    Ok((snapshot, own))
}

async fn read_by_id<A: Alb>(
    alb: &A,
    route: RouteId,
) -> Result<(RouteSnapshot, BTreeMap<String, Tags>), Error> {
    let resource = [route.resource_arn()];
    let (snapshot, tags) = tokio::join!(alb.read(&route), alb.tags(&resource));
    Ok((
        snapshot.map_err(|e| not_found_or_read(e, &route))?,
        tags.map_err(Error::Read)?,
    ))
}

fn not_found_or_read(e: ApiError, route: &RouteId) -> Error {
    if e.kind == ApiErrorKind::NotFound {
        missing(route)
    } else {
        Error::Read(e)
    }
}

/// The route the user named does not exist.
fn missing(route: &RouteId) -> Error {
    Error::NotFound {
        what: route.to_string().into(),
        fix: text!(
            "Check the ARN and the region (",
            {input Input::Region},
            "); `aws elbv2 describe-listeners --load-balancer-arn ...` lists the listeners"
        ),
    }
}

/// The color a target group's name suggests: a `-blue`/`-green` suffix, optionally followed by `-tg`.
pub fn color_from_name(name: &str) -> Option<Color> {
    let stem = name.strip_suffix("-tg").unwrap_or(name);
    Color::ALL
        .into_iter()
        .find(|c| stem.ends_with(&format!("-{}", c.as_str())))
}

/// The name of the other color's target group under the same naming scheme.
fn sibling_name(name: &str, color: Color) -> Option<String> {
    let (stem, tail) = match name.strip_suffix("-tg") {
        Some(stem) => (stem, "-tg"),
        None => (name, ""),
    };
    let base = stem.strip_suffix(&format!("-{}", color.as_str()))?;
    Some(format!("{base}-{}{tail}", color.other().as_str()))
}

async fn resolve_groups<A: Alb>(
    alb: &A,
    snapshot: &RouteSnapshot,
    forward: &ForwardAction,
    target: &Target,
) -> Result<ColorGroups, Error> {
    let in_forward: Vec<&TargetGroupArn> =
        forward.targets.iter().map(|t| &t.target_group).collect();
    let mut named: [Option<TargetGroupArn>; 2] = [None, None];
    for color in Color::ALL {
        if let Some(r) = target.named(color) {
            named[color as usize] = Some(lookup(alb, r, &in_forward, color).await?);
        }
    }
    let groups = match named {
        [Some(blue), Some(green)] => ColorGroups::new(blue, green),
        [Some(blue), None] => complete(alb, snapshot, &in_forward, Color::Blue, blue).await?,
        [None, Some(green)] => complete(alb, snapshot, &in_forward, Color::Green, green).await?,
        [None, None] => detect(alb, &in_forward).await?,
    };
    if groups.blue == groups.green {
        return Err(Error::invalid(
            Input::BlueTargetGroup,
            text!({given Input::BlueTargetGroup}, "/", {given Input::GreenTargetGroup}),
            format!(
                "blue and green are the same target group ({})",
                groups.blue.name()
            ),
            "Name two different target groups",
        ));
    }
    check_membership(alb, snapshot, &in_forward, &groups, target).await?;
    Ok(groups)
}

async fn lookup<A: Alb>(
    alb: &A,
    r: &GroupRef,
    in_forward: &[&TargetGroupArn],
    color: Color,
) -> Result<TargetGroupArn, Error> {
    let hint = text!(
        "Check ",
        {input Input::target_group(color)},
        " (a target group name or ARN in this region)"
    );
    match r {
        GroupRef::Arn(arn) => {
            if in_forward.contains(&arn) {
                return Ok(arn.clone());
            }
            match alb.target_group(arn).await {
                Ok(Some(info)) => Ok(info.arn),
                Ok(None) => Err(Error::NotFound {
                    what: format!("{color} target group {arn}").into(),
                    fix: hint,
                }),
                Err(e) if e.kind == ApiErrorKind::NotFound => Err(Error::NotFound {
                    what: format!("{color} target group {arn}").into(),
                    fix: hint,
                }),
                Err(e) => Err(Error::Read(e)),
            }
        }
        GroupRef::Name(name) => {
            if let Some(arn) = in_forward.iter().find(|a| a.name() == name) {
                return Ok((*arn).clone());
            }
            match alb.find_target_group(name).await {
                Ok(Some(info)) => Ok(info.arn),
                Ok(None) => Err(Error::NotFound {
                    what: format!("{color} target group {name:?}").into(),
                    fix: did_you_mean(alb, name).await.then(hint),
                }),
                Err(e) if e.kind == ApiErrorKind::NotFound => Err(Error::NotFound {
                    what: format!("{color} target group {name:?}").into(),
                    fix: did_you_mean(alb, name).await.then(hint),
                }),
                Err(e) => Err(Error::Read(e)),
            }
        }
    }
}

/// The target groups of the region whose names are closest to a `name` that was not found, as "Did you
/// mean ...? ", or nothing. One more read, on this error path only; when it fails, no suggestion.
async fn did_you_mean<A: Alb>(alb: &A, name: &str) -> Text {
    let known = alb.target_group_names().await.unwrap_or_default();
    let close: Vec<String> = crate::suggest::closest(name, &known)
        .iter()
        .map(|n| format!("{n:?}"))
        .collect();
    match close.as_slice() {
        [] => Text::new(),
        [one] => text!(format!("Did you mean {one}? ")),
        [init @ .., last] => text!(format!("Did you mean {} or {last}? ", init.join(", "))),
    }
}

/// One color named: the other is the remaining group of a two-group forward.
async fn complete<A: Alb>(
    alb: &A,
    snapshot: &RouteSnapshot,
    in_forward: &[&TargetGroupArn],
    color: Color,
    arn: TargetGroupArn,
) -> Result<ColorGroups, Error> {
    let other = match in_forward {
        [a, b] if *a == &arn => (*b).clone(),
        [a, b] if *b == &arn => (*a).clone(),
        [single] if *single == &arn => sibling_by_name(alb, single, color).await?,
        _ if !in_forward.contains(&&arn) => {
            return Err(not_in_forward(snapshot, in_forward, color, &arn, true))
        }
        _ => {
            return Err(Error::invalid(
                Input::target_group(color),
                text!({given Input::target_group(color)}),
                format!("cannot tell which target group is {}", color.other()),
                text!(
                    "Name both with ",
                    {input Input::BlueTargetGroup},
                    " and ",
                    {input Input::GreenTargetGroup}
                ),
            ))
        }
    };
    Ok(match color {
        Color::Blue => ColorGroups::new(arn, other),
        Color::Green => ColorGroups::new(other, arn),
    })
}

/// Nothing named: detect colors from names (`-blue`/`-green`, optionally `-tg`) or `albflip:color` tags.
async fn detect<A: Alb>(alb: &A, in_forward: &[&TargetGroupArn]) -> Result<ColorGroups, Error> {
    let fix = text!(
        "Name them with ",
        {input Input::BlueTargetGroup},
        " and ",
        {input Input::GreenTargetGroup},
        ", use ",
        {input Input::Environment},
        "/",
        {input Input::Application},
        ", or tag the target groups albflip:color=blue|green"
    );
    match in_forward {
        [a, b] => {
            if let (Some(ca), Some(cb)) = (color_from_name(a.name()), color_from_name(b.name())) {
                if ca != cb {
                    return Ok(pair(ca, (*a).clone(), (*b).clone()));
                }
            }
            let tags = alb
                .tags(&[a.as_str(), b.as_str()])
                .await
                .map_err(Error::Read)?;
            let tag_color = |arn: &TargetGroupArn| {
                tags.get(arn.as_str())
                    .and_then(|t: &Tags| t.get(COLOR_TAG))
                    .and_then(|v| v.parse::<Color>().ok())
            };
            match (tag_color(a), tag_color(b)) {
                (Some(ca), Some(cb)) if ca != cb => Ok(pair(ca, (*a).clone(), (*b).clone())),
                _ => Err(Error::invalid_text(
                    "target groups",
                    format!("cannot tell which of {} and {} is blue", a.name(), b.name()),
                    fix,
                )),
            }
        }
        [single] => {
            let color = color_from_name(single.name()).ok_or_else(|| {
                Error::invalid_text(
                    "target groups",
                    format!(
                        "the route forwards to {} only, and its name does not say its color",
                        single.name()
                    ),
                    fix,
                )
            })?;
            let other = sibling_by_name(alb, single, color).await?;
            Ok(pair(color, (*single).clone(), other))
        }
        _ => Err(Error::invalid_text(
            "target groups",
            "the route forwards to no target group",
            fix,
        )),
    }
}

fn pair(color_of_first: Color, first: TargetGroupArn, second: TargetGroupArn) -> ColorGroups {
    match color_of_first {
        Color::Blue => ColorGroups::new(first, second),
        Color::Green => ColorGroups::new(second, first),
    }
}

async fn sibling_by_name<A: Alb>(
    alb: &A,
    single: &TargetGroupArn,
    color: Color,
) -> Result<TargetGroupArn, Error> {
    let other = color.other();
    let name = sibling_name(single.name(), color).ok_or_else(|| {
        Error::invalid(
            Input::target_group(other),
            text!({input Input::target_group(other)}),
            format!("the route forwards to {} only and the {other} target group cannot be derived from its name", single.name()),
            text!(format!("Name the {other} target group with "), {input Input::target_group(other)}),
        )
    })?;
    match alb.find_target_group(&name).await.map_err(Error::Read)? {
        Some(info) => Ok(info.arn),
        None => Err(Error::NotFound {
            what: format!("{other} target group {name:?}").into(),
            fix: text!(
                format!("Create it, or name the {other} target group with "),
                {input Input::target_group(other)}
            ),
        }),
    }
}

fn not_in_forward(
    snapshot: &RouteSnapshot,
    in_forward: &[&TargetGroupArn],
    color: Color,
    arn: &TargetGroupArn,
    explicit: bool,
) -> Error {
    let listed = in_forward
        .iter()
        .map(|a| a.name())
        .collect::<Vec<_>>()
        .join(", ");
    let what = if explicit {
        format!("--{color} {}", arn.name())
    } else {
        format!("{color} target group {}", arn.name())
    };
    Error::invalid_text(
        what,
        format!(
            "it is not in the forward action of the {} (which forwards to {listed})",
            snapshot.route
        ),
        "Name a target group of that action, or point albflip at the route that forwards to it",
    )
}

/// Named groups must be in the forward action; when the route forwards to one group, the group to add
/// must not belong to another load balancer.
async fn check_membership<A: Alb>(
    alb: &A,
    snapshot: &RouteSnapshot,
    in_forward: &[&TargetGroupArn],
    groups: &ColorGroups,
    target: &Target,
) -> Result<(), Error> {
    let listed = in_forward
        .iter()
        .map(|a| a.name())
        .collect::<Vec<_>>()
        .join(", ");
    for color in Color::ALL {
        let arn = groups.of(color);
        if in_forward.contains(&arn) {
            continue;
        }
        let explicit = target.named(color).is_some();
        if in_forward.len() == 2
            || (in_forward.len() == 1 && !in_forward.iter().any(|a| groups.color_of(a).is_some()))
        {
            let what = if explicit {
                format!("--{color} {}", arn.name())
            } else {
                format!("{color} target group {}", arn.name())
            };
            return Err(Error::invalid_text(
                what,
                format!("it is not in the forward action of the {} (which forwards to {listed})", snapshot.route),
                "Name a target group of that action, or point albflip at the route that forwards to it",
            ));
        }
        let info = alb.target_group(arn).await.map_err(Error::Read)?;
        let foreign = info
            .map(|i| {
                i.load_balancers
                    .into_iter()
                    .find(|lb| lb != &snapshot.load_balancer)
            })
            .unwrap_or(None);
        if let Some(lb) = foreign {
            return Err(Error::invalid_text(
                format!("--{color} {}", arn.name()),
                format!("it belongs to another load balancer ({})", lb.name()),
                "Use a target group of this load balancer",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colors_come_from_name_suffixes() {
        assert_eq!(color_from_name("prod-shop-blue-tg"), Some(Color::Blue));
        assert_eq!(color_from_name("shop-green"), Some(Color::Green));
        assert_eq!(color_from_name("shop-greenish"), None);
        assert_eq!(
            sibling_name("prod-shop-blue-tg", Color::Blue).as_deref(),
            Some("prod-shop-green-tg")
        );
        assert_eq!(
            sibling_name("shop-green", Color::Green).as_deref(),
            Some("shop-blue")
        );
    }

    #[test]
    fn group_refs_are_validated() {
        assert!(matches!(
            "demo-shop-blue-tg".parse::<GroupRef>(),
            Ok(GroupRef::Name(_))
        ));
        assert!("arn:aws:elasticloadbalancing:x"
            .parse::<GroupRef>()
            .is_err());
        assert!("has space".parse::<GroupRef>().is_err());
    }
}
