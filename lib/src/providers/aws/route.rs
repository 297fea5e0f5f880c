//! A *route*: a listener's default action or one listener rule, and the weighted forward action it carries.
//!
//! This module is pure: it reads a [`RouteSnapshot`] (what a router found) and computes the forward action
//! that expresses a new [`Split`], keeping every target group, weight-independent field and the stickiness
//! setting that was found.

use std::fmt;

use serde::Serialize;

use crate::model::{Color, Split, Stickiness};
use crate::providers::aws::arn::{ListenerArn, LoadBalancerArn, RuleArn, TargetGroupArn};
use crate::providers::aws::weights::{AlbWeight, Weights};

/// Which route to act on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", content = "arn", rename_all = "snake_case")]
pub enum RouteId {
    /// The default action of a listener.
    Listener(ListenerArn),
    /// One listener rule.
    Rule(RuleArn),
}

impl RouteId {
    /// The listener the route belongs to.
    pub fn listener(&self) -> ListenerArn {
        match self {
            RouteId::Listener(arn) => arn.clone(),
            RouteId::Rule(rule) => rule.listener(),
        }
    }

    /// A route from its ARN: a listener rule's (`…:listener-rule/…`) or a listener's (`…:listener/…`,
    /// meaning its default action).
    pub fn parse(arn: &str) -> Result<RouteId, crate::providers::aws::arn::InvalidArn> {
        match RuleArn::parse(arn) {
            Ok(rule) => Ok(RouteId::Rule(rule)),
            Err(_) => ListenerArn::parse(arn).map(RouteId::Listener),
        }
    }

    /// The ARN of the resource that is modified and tagged (the listener or the rule).
    pub fn resource_arn(&self) -> &str {
        match self {
            RouteId::Listener(arn) => arn.as_str(),
            RouteId::Rule(arn) => arn.as_str(),
        }
    }
}

impl fmt::Display for RouteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteId::Listener(arn) => write!(f, "default action of listener {arn}"),
            RouteId::Rule(arn) => write!(f, "listener rule {arn}"),
        }
    }
}

/// One target group in a forward action, with the weight exactly as found (it may be out of range when
/// something other than albflip wrote it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForwardTarget {
    /// The target group.
    pub target_group: TargetGroupArn,
    /// The raw weight; `None` when the action names a single target group without weights.
    pub weight: Option<i64>,
}

/// A forward action: its target groups and group-level stickiness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForwardAction {
    /// The target groups in the order AWS lists them.
    pub targets: Vec<ForwardTarget>,
    /// Group-level stickiness; `None` when the action has no stickiness config.
    pub stickiness: Option<Stickiness>,
}

pub use crate::ports::Preserved;

/// A route as a router read it.
#[derive(Debug, Clone)]
pub struct RouteSnapshot {
    /// Which route this is.
    pub route: RouteId,
    /// The load balancer the route belongs to.
    pub load_balancer: LoadBalancerArn,
    /// The types of all actions of the route, in order (`forward`, `redirect`, `authenticate-oidc`...).
    pub action_types: Vec<String>,
    /// The forward action, when the route has one.
    pub forward: Option<ForwardAction>,
    /// The listener's protocol (`HTTP`, `HTTPS`; a Network Load Balancer's `TCP`, `TLS`, `UDP`,
    /// `TCP_UDP`); `None` for a rule (only an Application Load Balancer has rules) or when not reported.
    pub protocol: Option<String>,
    /// Everything else the router needs to write the route back unchanged.
    pub preserved: Preserved,
}

/// Which target group is blue and which is green on a route, and, for load balancer pairs (`--pair`:
/// an internal and an internet-facing ALB, each with its own blue and green groups, since on AWS a
/// target group belongs to one load balancer), the other pairs' groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColorGroups {
    /// The blue target group.
    pub blue: TargetGroupArn,
    /// The green target group.
    pub green: TargetGroupArn,
    /// The other pairs' groups, `(blue, green)` each; empty without `--pair`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pairs: Vec<(TargetGroupArn, TargetGroupArn)>,
}

impl ColorGroups {
    /// Blue and green, with no other pair.
    pub fn new(blue: TargetGroupArn, green: TargetGroupArn) -> ColorGroups {
        ColorGroups {
            blue,
            green,
            pairs: Vec::new(),
        }
    }

    /// The target group of `color` (of the named route's pair).
    pub fn of(&self, color: Color) -> &TargetGroupArn {
        match color {
            Color::Blue => &self.blue,
            Color::Green => &self.green,
        }
    }

    /// Every target group of `color`, the named route's pair first.
    pub fn all_of(&self, color: Color) -> Vec<&TargetGroupArn> {
        std::iter::once(self.of(color))
            .chain(self.pairs.iter().map(|(b, g)| match color {
                Color::Blue => b,
                Color::Green => g,
            }))
            .collect()
    }

    /// The color of `arn`, if it is a blue or green group of any pair.
    pub fn color_of(&self, arn: &TargetGroupArn) -> Option<Color> {
        self.pair_of(arn).map(|(color, _)| color)
    }

    /// The group of `color` in the pair `arn` belongs to (`None` when `arn` is in no pair).
    pub fn in_pair_of(&self, arn: &TargetGroupArn, color: Color) -> Option<&TargetGroupArn> {
        let (own, other) = self.pair_of(arn)?;
        match own == color {
            true => self.all_of(color).into_iter().find(|g| *g == arn),
            false => Some(other),
        }
    }

    /// The color of `arn` and the other color's group of the same pair.
    fn pair_of(&self, arn: &TargetGroupArn) -> Option<(Color, &TargetGroupArn)> {
        std::iter::once((&self.blue, &self.green))
            .chain(self.pairs.iter().map(|(b, g)| (b, g)))
            .find_map(|(b, g)| match arn {
                a if a == b => Some((Color::Blue, g)),
                a if a == g => Some((Color::Green, b)),
                _ => None,
            })
    }
}

/// Why a route's action cannot be shifted as found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteProblem {
    /// The route has no forward action (a redirect or fixed response, for example).
    #[error("its action is {found}, not a forward to target groups; albflip only shifts forward actions")]
    NotAForward {
        /// The action types found.
        found: String,
    },
    /// The forward action names more target groups than blue and green.
    #[error("its forward action has {count} target groups; albflip shifts between exactly two (blue and green) and never drops one")]
    TooManyTargetGroups {
        /// How many there are.
        count: usize,
    },
    /// The forward action names the same target group twice.
    #[error("its forward action names target group {0} twice")]
    DuplicateTargetGroup(String),
    /// A weight is outside 0..=999.
    #[error(
        "target group {target_group} has weight {weight}, outside the 0..=999 that AWS accepts"
    )]
    WeightOutOfRange {
        /// The target group.
        target_group: String,
        /// The weight found.
        weight: i64,
    },
    /// Every weight is zero.
    #[error("all its target groups have weight 0, so it routes no traffic")]
    AllZeroWeights,
    /// The stickiness setting found would be refused by AWS if written back.
    #[error("its stickiness setting ({0:?}) is outside what AWS accepts (enabled needs 1..=604800 seconds)")]
    InvalidStickiness(Stickiness),
    /// A target group has target-group-level stickiness on, which AWS refuses in a weighted forward
    /// unless group stickiness is enabled too.
    #[error("target group {0} has target-group stickiness (stickiness.enabled) on, and AWS refuses a weighted forward to it unless the forward action's group stickiness is enabled (InvalidLoadBalancerAction)")]
    TargetGroupStickiness(String),
    /// The route is a Network (or Gateway) Load Balancer's listener.
    #[error("it is a listener of a Network Load Balancer (protocol {0}): albflip shifts Application Load Balancer routes only, and judges them on AWS/ApplicationELB metrics that a Network Load Balancer does not publish")]
    NotApplication(String),
    /// A target group in the action is neither blue nor green.
    #[error("its forward action includes target group {0}, which is neither blue nor green")]
    ForeignTargetGroup(String),
    /// Blue or green is missing from the action (and the action holds two groups already).
    #[error("{color} target group {target_group} is not in its forward action")]
    MissingColor {
        /// The color that is missing.
        color: Color,
        /// The target group named for it.
        target_group: String,
    },
}

/// The protocols of an Application Load Balancer's listeners; a Network Load Balancer's are `TCP`,
/// `TLS`, `UDP` and `TCP_UDP`, a Gateway Load Balancer's `GENEVE`.
const APPLICATION_PROTOCOLS: [&str; 2] = ["HTTP", "HTTPS"];

/// Checks a found forward action for things albflip refuses to work with.
pub fn check_forward(forward: &ForwardAction) -> Result<(), RouteProblem> {
    if forward.targets.len() > 2 {
        return Err(RouteProblem::TooManyTargetGroups {
            count: forward.targets.len(),
        });
    }
    if let [a, b] = forward.targets.as_slice() {
        if a.target_group == b.target_group {
            return Err(RouteProblem::DuplicateTargetGroup(
                a.target_group.to_string(),
            ));
        }
    }
    for t in &forward.targets {
        if let Some(w) = t.weight {
            if AlbWeight::new(w).is_none() {
                return Err(RouteProblem::WeightOutOfRange {
                    target_group: t.target_group.to_string(),
                    weight: w,
                });
            }
        }
    }
    if forward.targets.len() == 2 && forward.targets.iter().all(|t| t.weight == Some(0)) {
        return Err(RouteProblem::AllZeroWeights);
    }
    if let Some(s) = forward.stickiness {
        if !s.is_valid_for_aws() {
            return Err(RouteProblem::InvalidStickiness(s));
        }
    }
    Ok(())
}

/// The forward action of a snapshot, or why there is none to shift.
pub fn forward_of(snapshot: &RouteSnapshot) -> Result<&ForwardAction, RouteProblem> {
    if let Some(protocol) = snapshot
        .protocol
        .as_deref()
        .filter(|p| !APPLICATION_PROTOCOLS.contains(p))
    {
        return Err(RouteProblem::NotApplication(protocol.to_string()));
    }
    snapshot
        .forward
        .as_ref()
        .ok_or_else(|| RouteProblem::NotAForward {
            found: if snapshot.action_types.is_empty() {
                "empty".to_string()
            } else {
                snapshot.action_types.join(" + ")
            },
        })
}

/// The live split of a forward action between `groups`.
pub fn live_split(forward: &ForwardAction, groups: &ColorGroups) -> Result<Split, RouteProblem> {
    check_forward(forward)?;
    let mut weights = [AlbWeight::ZERO; 2];
    for t in &forward.targets {
        let color = groups
            .color_of(&t.target_group)
            .ok_or_else(|| RouteProblem::ForeignTargetGroup(t.target_group.to_string()))?;
        // A forward without weights (a single target group) sends it everything; AWS treats a missing
        // weight in a ForwardConfig as 1.
        let raw = t.weight.unwrap_or(1);
        weights[color as usize] = AlbWeight::new(raw).ok_or(RouteProblem::WeightOutOfRange {
            target_group: t.target_group.to_string(),
            weight: raw,
        })?;
    }
    Weights::new(weights[0], weights[1])
        .map(Weights::split)
        .map_err(|_| RouteProblem::AllZeroWeights)
}

/// The forward action that puts `split` on `groups`, built from the `current` one: the same target
/// groups in the same order (the missing color appended when the route forwarded to one group only), the
/// same stickiness (off when none was set), new weights.
pub fn forward_with_split(
    current: &ForwardAction,
    groups: &ColorGroups,
    split: Split,
) -> Result<ForwardAction, RouteProblem> {
    check_forward(current)?;
    let weights = Weights::from_split(split);
    let mut colors: Vec<Color> = Vec::with_capacity(2);
    for t in &current.targets {
        let color = groups
            .color_of(&t.target_group)
            .ok_or_else(|| RouteProblem::ForeignTargetGroup(t.target_group.to_string()))?;
        colors.push(color);
    }
    if current.targets.len() == 2 {
        for color in Color::ALL {
            if !colors.contains(&color) {
                return Err(RouteProblem::MissingColor {
                    color,
                    target_group: groups.of(color).to_string(),
                });
            }
        }
    }
    // The route's own groups, in their order; a single-group forward gets its pair's other group.
    let mut arns: Vec<TargetGroupArn> = current
        .targets
        .iter()
        .map(|t| t.target_group.clone())
        .collect();
    if let ([color], [only]) = (colors.as_slice(), arns.as_slice()) {
        let partner = groups
            .pair_of(only)
            .map(|(_, other)| other.clone())
            .unwrap_or_else(|| groups.of(color.other()).clone());
        colors.push(color.other());
        arns.push(partner);
    }
    let targets = colors
        .into_iter()
        .zip(arns)
        .map(|(c, target_group)| ForwardTarget {
            target_group,
            weight: Some(i64::from(weights.of(c).get())),
        })
        .collect();
    Ok(ForwardAction {
        targets,
        stickiness: Some(current.stickiness.unwrap_or(Stickiness::OFF)),
    })
}

/// Whether the `live` forward action is the one that was `written`: the same groups, weights and
/// stickiness. A missing stickiness config reads as "off".
pub fn matches_written(live: &ForwardAction, written: &ForwardAction) -> bool {
    let norm = |f: &ForwardAction| {
        let mut t: Vec<(String, Option<i64>)> = f
            .targets
            .iter()
            .map(|t| (t.target_group.to_string(), t.weight))
            .collect();
        t.sort();
        let s = f.stickiness.unwrap_or(Stickiness::OFF);
        let s = (s.enabled, if s.enabled { s.duration_seconds } else { None });
        (t, s)
    };
    norm(live) == norm(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Percent;

    fn tg(name: &str) -> TargetGroupArn {
        TargetGroupArn::parse(&format!(
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{name}/0123456789abcdef"
        ))
        .unwrap()
    }

    fn groups() -> ColorGroups {
        ColorGroups::new(tg("b-blue-tg"), tg("b-green-tg"))
    }

    fn forward(targets: &[(&str, Option<i64>)], stickiness: Option<Stickiness>) -> ForwardAction {
        ForwardAction {
            targets: targets
                .iter()
                .map(|(n, w)| ForwardTarget {
                    target_group: tg(n),
                    weight: *w,
                })
                .collect(),
            stickiness,
        }
    }

    #[test]
    fn a_single_group_forward_is_converted_to_both_groups_keeping_order() {
        let current = forward(&[("b-blue-tg", None)], None);
        assert_eq!(
            live_split(&current, &groups()).unwrap(),
            Split::all_to(Color::Blue)
        );
        let next = forward_with_split(
            &current,
            &groups(),
            Split::to(Color::Green, Percent::new(10).unwrap()),
        )
        .unwrap();
        assert_eq!(
            next,
            forward(
                &[("b-blue-tg", Some(90)), ("b-green-tg", Some(10))],
                Some(Stickiness::OFF)
            )
        );
    }

    #[test]
    fn stickiness_is_kept() {
        let sticky = Stickiness {
            enabled: true,
            duration_seconds: Some(300),
        };
        let current = forward(
            &[("b-green-tg", Some(0)), ("b-blue-tg", Some(100))],
            Some(sticky),
        );
        let next = forward_with_split(&current, &groups(), Split::all_to(Color::Green)).unwrap();
        assert_eq!(next.stickiness, Some(sticky));
        assert_eq!(next.targets[0].target_group, tg("b-green-tg"));
        assert_eq!(next.targets[0].weight, Some(100));
    }

    #[test]
    fn refuses_what_aws_would_refuse_or_albflip_would_drop() {
        let three = forward(
            &[
                ("b-blue-tg", Some(1)),
                ("b-green-tg", Some(1)),
                ("x", Some(1)),
            ],
            None,
        );
        assert!(matches!(
            check_forward(&three),
            Err(RouteProblem::TooManyTargetGroups { count: 3 })
        ));
        let twice = forward(&[("b-blue-tg", Some(1)), ("b-blue-tg", Some(1))], None);
        assert!(matches!(
            check_forward(&twice),
            Err(RouteProblem::DuplicateTargetGroup(_))
        ));
        let heavy = forward(&[("b-blue-tg", Some(1000)), ("b-green-tg", Some(1))], None);
        assert!(matches!(
            check_forward(&heavy),
            Err(RouteProblem::WeightOutOfRange { weight: 1000, .. })
        ));
        let zero = forward(&[("b-blue-tg", Some(0)), ("b-green-tg", Some(0))], None);
        assert_eq!(check_forward(&zero), Err(RouteProblem::AllZeroWeights));
        let bad_sticky = forward(
            &[("b-blue-tg", Some(1))],
            Some(Stickiness {
                enabled: true,
                duration_seconds: Some(0),
            }),
        );
        assert!(matches!(
            check_forward(&bad_sticky),
            Err(RouteProblem::InvalidStickiness(_))
        ));
        let foreign = forward(&[("b-blue-tg", Some(1)), ("other", Some(1))], None);
        assert!(matches!(
            forward_with_split(&foreign, &groups(), Split::all_to(Color::Blue)),
            Err(RouteProblem::ForeignTargetGroup(_))
        ));
    }

    #[test]
    fn written_and_live_compare_ignoring_order() {
        let a = forward(
            &[("b-blue-tg", Some(90)), ("b-green-tg", Some(10))],
            Some(Stickiness::OFF),
        );
        let b = forward(&[("b-green-tg", Some(10)), ("b-blue-tg", Some(90))], None);
        assert!(matches_written(&b, &a));
        let c = forward(&[("b-green-tg", Some(11)), ("b-blue-tg", Some(89))], None);
        assert!(!matches_written(&c, &a));
    }
}
