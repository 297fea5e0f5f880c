//! The AWS provider's own API seam: the ALB calls and the Auto Scaling calls its logic needs, which the
//! SDK adapters ([`crate::providers::aws::ElbV2`], [`crate::providers::aws::AutoScaling`]) and the
//! in-memory fakes of the `testing` feature implement. These are not ports: they name ARNs and forward
//! actions. The provider-neutral ports are in [`crate::ports`].

use std::collections::BTreeMap;
use std::future::Future;

use serde::Serialize;

use crate::ports::{ApiError, Capacity, Tags, TargetHealth, TestHeader};
use crate::providers::aws::arn::{ListenerArn, LoadBalancerArn, RuleArn, TargetGroupArn};
use crate::providers::aws::route::{ForwardAction, RouteId, RouteSnapshot};

/// Reads and writes the forward action of an ALB route: the AWS provider's own seam between its logic
/// and the API (ElbV2, or the in-memory ALB).
pub trait TrafficRouter: Send + Sync {
    /// Reads the route as it is live now.
    fn read(&self, route: &RouteId)
        -> impl Future<Output = Result<RouteSnapshot, ApiError>> + Send;

    /// Replaces the forward action of `current` with `forward`, keeping every other action and field as
    /// found in `current`, in one API call. Returns the route as the backend reports it after the write.
    fn write(
        &self,
        current: &RouteSnapshot,
        forward: &ForwardAction,
    ) -> impl Future<Output = Result<RouteSnapshot, ApiError>> + Send;
}

/// A target group as the load balancer API describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetGroupInfo {
    /// Its ARN.
    pub arn: TargetGroupArn,
    /// Its name.
    pub name: String,
    /// The load balancers that forward to it.
    pub load_balancers: Vec<LoadBalancerArn>,
}

/// Look-ups and tags around ALB routes: finding listeners and target groups, their tags and health (the
/// AWS provider's own seam).
pub trait AlbInventory: Send + Sync {
    /// The default action of the listener on `port` of the load balancer named `load_balancer`, read in
    /// the same call that finds it.
    fn find_listener(
        &self,
        load_balancer: &str,
        port: u16,
    ) -> impl Future<Output = Result<RouteSnapshot, ApiError>> + Send;

    /// The target group named `name`, if it exists.
    fn find_target_group(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<TargetGroupInfo>, ApiError>> + Send;

    /// The names of every target group in the region, for a "did you mean" when a name is not found. A
    /// backend that cannot list them keeps this default: none.
    fn target_group_names(&self) -> impl Future<Output = Result<Vec<String>, ApiError>> + Send {
        std::future::ready(Ok(Vec::new()))
    }

    /// The target group with ARN `arn`, if it exists.
    fn target_group(
        &self,
        arn: &TargetGroupArn,
    ) -> impl Future<Output = Result<Option<TargetGroupInfo>, ApiError>> + Send;

    /// The tags of each resource in `arns` (at most 20), in one call.
    fn tags(
        &self,
        arns: &[&str],
    ) -> impl Future<Output = Result<BTreeMap<String, Tags>, ApiError>> + Send;

    /// Adds or overwrites tags on one resource.
    fn set_tags(
        &self,
        arn: &str,
        tags: &[(&str, &str)],
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// Removes tags (by key) from one resource; keys it does not carry are no error.
    fn remove_tags(
        &self,
        arn: &str,
        keys: &[&str],
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// Whether target-group-level stickiness (the `stickiness.enabled` attribute) is on for a group.
    fn target_group_stickiness(
        &self,
        target_group: &TargetGroupArn,
    ) -> impl Future<Output = Result<bool, ApiError>> + Send;

    /// The ARN of the load balancer named `name`, if it exists.
    fn find_load_balancer(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<LoadBalancerArn>, ApiError>> + Send;

    /// Every listener of a load balancer, each read in full (its default action), in one call.
    fn listeners(
        &self,
        load_balancer: &LoadBalancerArn,
    ) -> impl Future<Output = Result<Vec<RouteSnapshot>, ApiError>> + Send;

    /// The rules of each of `listeners` (of `load_balancer`) other than its default rule, read in full,
    /// all listeners at once.
    fn rules(
        &self,
        listeners: &[ListenerArn],
        load_balancer: &LoadBalancerArn,
    ) -> impl Future<Output = Result<Vec<RouteSnapshot>, ApiError>> + Send;

    /// Every route of a load balancer, read in full: its [`Self::listeners`], then their
    /// [`Self::rules`] (two round trips).
    fn routes(
        &self,
        load_balancer: &LoadBalancerArn,
    ) -> impl Future<Output = Result<Vec<RouteSnapshot>, ApiError>> + Send {
        async move {
            let mut routes = self.listeners(load_balancer).await?;
            let rules = self.rules(&listener_arns(&routes), load_balancer).await?;
            routes.extend(rules);
            Ok(routes)
        }
    }

    /// Healthy and total targets of a target group.
    fn health(
        &self,
        target_group: &TargetGroupArn,
    ) -> impl Future<Output = Result<TargetHealth, ApiError>> + Send;

    /// The rules of a listener other than its default rule, with their header conditions, forward
    /// targets and (for rules with a header condition) tags. A backend without listener rules keeps
    /// this default and refuses.
    fn listener_rules(
        &self,
        listener: &ListenerArn,
    ) -> impl Future<Output = Result<Vec<ListenerRule>, ApiError>> + Send {
        let _ = listener;
        std::future::ready(Err(not_supported("elasticloadbalancing:DescribeRules")))
    }

    /// Creates a rule at `priority` on `listener` that forwards requests carrying `header` (exactly) to
    /// `to`, tagged with `tags`; returns its ARN.
    fn create_header_rule(
        &self,
        listener: &ListenerArn,
        priority: u32,
        header: &TestHeader,
        to: &TargetGroupArn,
        tags: &[(&str, &str)],
    ) -> impl Future<Output = Result<RuleArn, ApiError>> + Send {
        let _ = (listener, priority, header, to, tags);
        std::future::ready(Err(not_supported("elasticloadbalancing:CreateRule")))
    }

    /// Deletes a listener rule.
    fn delete_rule(&self, rule: &RuleArn) -> impl Future<Output = Result<(), ApiError>> + Send {
        let _ = rule;
        std::future::ready(Err(not_supported("elasticloadbalancing:DeleteRule")))
    }
}

fn not_supported(operation: &str) -> ApiError {
    ApiError::new(
        operation,
        crate::ports::ApiErrorKind::Rejected {
            code: "NotSupported".into(),
        },
        "this load balancer API cannot create or delete listener rules",
    )
}

/// A listener rule as the test header sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListenerRule {
    /// Its ARN.
    pub arn: RuleArn,
    /// Its priority.
    pub priority: Option<u32>,
    /// Its `http-header` conditions: each header's name and values.
    pub headers: Vec<(String, Vec<String>)>,
    /// How many conditions of other kinds it has.
    pub other_conditions: usize,
    /// The target groups its forward action sends to.
    pub forward: Vec<TargetGroupArn>,
    /// Its tags (read for rules with a header condition only).
    pub tags: Tags,
}

/// The listeners among `routes`.
pub fn listener_arns(routes: &[RouteSnapshot]) -> Vec<ListenerArn> {
    routes
        .iter()
        .filter_map(|r| match &r.route {
            RouteId::Listener(arn) => Some(arn.clone()),
            RouteId::Rule(_) => None,
        })
        .collect()
}

/// Everything the ALB provider needs from a load balancer API.
pub trait Alb: TrafficRouter + AlbInventory {}

impl<T: TrafficRouter + AlbInventory> Alb for T {}

/// An Auto Scaling group as albflip sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AsgInfo {
    /// Its name.
    pub name: String,
    /// Its minimum size.
    pub min: u32,
    /// Its maximum size.
    pub max: u32,
    /// Its desired capacity.
    pub desired: u32,
    /// Instances in the `InService` lifecycle state.
    pub in_service: u32,
    /// The target groups it registers its instances with.
    pub target_groups: Vec<TargetGroupArn>,
    /// The minimum it had before albflip raised it for a deployment (its `albflip:held-min` tag), while
    /// albflip holds it.
    pub held_min: Option<u32>,
}

impl AsgInfo {
    /// Its sizes.
    pub fn capacity(&self) -> Capacity {
        Capacity {
            min: self.min,
            max: self.max,
            desired: self.desired,
        }
    }
}

/// Reads and resizes Auto Scaling groups. The policy (never lower, raise the maximum, scale to zero only
/// when no route sends traffic) lives in [`crate::capacity`]; an implementation writes what it is given.
pub trait Scaler: Send + Sync {
    /// The groups whose target groups include `target_group` (discovery of a color's group). Usually one;
    /// the caller decides what several mean.
    fn groups_for_target_group(
        &self,
        target_group: &TargetGroupArn,
    ) -> impl Future<Output = Result<Vec<AsgInfo>, ApiError>> + Send;

    /// The group named `name`, if it exists.
    fn describe(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<AsgInfo>, ApiError>> + Send;

    /// Sets the group's minimum, maximum and desired capacity in one call and returns the group as it is
    /// afterwards.
    fn set_capacity(
        &self,
        name: &str,
        capacity: Capacity,
    ) -> impl Future<Output = Result<AsgInfo, ApiError>> + Send;

    /// Records on the group the minimum it had before albflip raised it (`Some`), or removes that record
    /// (`None`).
    fn set_hold(
        &self,
        name: &str,
        held_min: Option<u32>,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
}
