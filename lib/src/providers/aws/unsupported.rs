//! The error for a route albflip will not shift as found: the ALB's problem with it and how to fix it.

use crate::error::Error;
use crate::input::{Input, Next};
use crate::providers::aws::route::{RouteId, RouteProblem};
use crate::text;

/// A route albflip will not shift as found, with the fix for its problem.
pub fn unsupported(route: &RouteId, problem: RouteProblem) -> Error {
    use RouteProblem as P;
    let fix = match &problem {
        P::NotAForward { .. } => text!("Point albflip at a route that forwards to the blue and green target groups (", {input Input::RuleArn}, " for a rule)"),
        P::TooManyTargetGroups { .. } | P::ForeignTargetGroup(_) => text!("Remove the extra target groups from the action first, or use a route that forwards only to blue and green"),
        P::DuplicateTargetGroup(_) => text!("Fix the action so each target group appears once"),
        P::WeightOutOfRange { .. } | P::AllZeroWeights => text!("Fix the weights (0..=999, not all zero) with `aws elbv2 modify-listener`, or use ", {next Next::Shift}, " without ", {input Input::Force}, " after fixing"),
        P::InvalidStickiness(_) => text!("Set a stickiness duration of 1..=604800 seconds, or disable stickiness"),
        P::MissingColor { .. } => text!("Name the target groups the action forwards to with ", {input Input::BlueTargetGroup}, "/", {input Input::GreenTargetGroup}),
        P::NotApplication(_) => text!("Shift a Network Load Balancer's weighted target groups with `aws elbv2 modify-listener`; albflip does not judge them yet"),
        P::TargetGroupStickiness(_) => text!("Enable group stickiness on the forward action, or turn stickiness off on the target group (`aws elbv2 modify-target-group-attributes --attributes Key=stickiness.enabled,Value=false`)"),
    };
    Error::UnsupportedRoute {
        route: route.clone(),
        problem,
        fix,
    }
}
