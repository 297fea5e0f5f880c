//! The ALB behind the provider-neutral ports: [`AlbRouter`] ([`Router`]: a listener's default action or
//! a rule, percent written as weights 0..=999 in its forward action), [`AlbState`] ([`StateStore`]: tags
//! on the listener or rule) and every Auto Scaling API as a [`CapacityPool`] (the groups registered with
//! a backend's target group).

use crate::model::Split;
use crate::ports::{
    ApiError, ApiErrorKind, Backend, Capacity, CapacityPool, PoolInfo, Preserved, RouteRead,
    Router, RouterError, StateStore, Tags,
};
use crate::providers::aws::api::{Alb, AlbInventory, AsgInfo, Scaler};
use crate::providers::aws::arn::TargetGroupArn;
use crate::providers::aws::route::{self, ColorGroups, RouteId, RouteProblem, RouteSnapshot};

/// An ALB route between the blue and green target groups `groups`, as a [`Router`].
#[derive(Debug, Clone)]
pub struct AlbRouter<'a, A> {
    alb: &'a A,
    groups: ColorGroups,
}

impl<'a, A: Alb> AlbRouter<'a, A> {
    /// Routes over `alb` that forward to `groups`.
    pub fn new(alb: &'a A, groups: ColorGroups) -> Self {
        AlbRouter { alb, groups }
    }

    /// The route as read, checked and split, or why it cannot be shifted.
    fn view(&self, snapshot: RouteSnapshot) -> Result<RouteRead, RouterError> {
        let unshiftable = |problem: RouteProblem| RouterError::Unshiftable {
            route: snapshot.route.to_string(),
            reason: problem.to_string(),
        };
        let forward = route::forward_of(&snapshot).map_err(unshiftable)?;
        route::check_forward(forward).map_err(unshiftable)?;
        let split = route::live_split(forward, &self.groups).map_err(unshiftable)?;
        Ok(RouteRead {
            name: snapshot.route.to_string(),
            split,
            preserved: Preserved::new(snapshot),
        })
    }
}

impl<A: Alb> Router for AlbRouter<'_, A> {
    type Route = RouteId;

    async fn read(&self, route: &RouteId) -> Result<RouteRead, RouterError> {
        let snapshot = self.alb.read(route).await?;
        self.view(snapshot)
    }

    async fn write(
        &self,
        route: &RouteId,
        current: &RouteRead,
        split: Split,
    ) -> Result<RouteRead, RouterError> {
        let snapshot = match current.preserved.get::<RouteSnapshot>() {
            Some(s) if &s.route == route => s.clone(),
            // Read by another router or for another route: read it again rather than guess.
            _ => self.alb.read(route).await?,
        };
        let unshiftable = |problem: RouteProblem| RouterError::Unshiftable {
            route: route.to_string(),
            reason: problem.to_string(),
        };
        let forward = route::forward_of(&snapshot).map_err(unshiftable)?;
        let desired =
            route::forward_with_split(forward, &self.groups, split).map_err(unshiftable)?;
        let after = self.alb.write(&snapshot, &desired).await?;
        self.view(after)
    }
}

/// albflip's records as tags on ALB listeners and rules, as a [`StateStore`].
#[derive(Debug, Clone, Copy)]
pub struct AlbState<'a, A> {
    alb: &'a A,
}

impl<'a, A: AlbInventory> AlbState<'a, A> {
    /// Records kept through `alb`.
    pub fn new(alb: &'a A) -> Self {
        AlbState { alb }
    }
}

impl<A: AlbInventory> StateStore for AlbState<'_, A> {
    type Route = RouteId;

    async fn load(&self, route: &RouteId) -> Result<Tags, ApiError> {
        let resource = route.resource_arn();
        let mut all = self.alb.tags(&[resource]).await?;
        Ok(all.remove(resource).unwrap_or_default())
    }

    async fn save(&self, route: &RouteId, records: &[(&str, &str)]) -> Result<(), ApiError> {
        self.alb.set_tags(route.resource_arn(), records).await
    }
}

/// Auto Scaling groups as [`CapacityPool`]s: a backend's pools are the groups registered with its
/// target group (the backend's id is the target group's ARN).
impl<S: Scaler> CapacityPool for S {
    async fn find(&self, backend: &Backend) -> Result<Vec<PoolInfo>, ApiError> {
        let group = TargetGroupArn::parse(&backend.id).map_err(|e| {
            // Not an ALB backend: Auto Scaling cannot say what serves it, and "nothing" would skip
            // capacity matching and the scale-down without a word.
            let kind = ApiErrorKind::Rejected {
                code: "NotATargetGroup".into(),
            };
            ApiError::new("autoscaling:DescribeAutoScalingGroups", kind, e.to_string())
        })?;
        let groups = self.groups_for_target_group(&group).await?;
        Ok(groups.iter().map(pool).collect())
    }

    async fn describe(&self, name: &str) -> Result<Option<PoolInfo>, ApiError> {
        Ok(Scaler::describe(self, name).await?.as_ref().map(pool))
    }

    async fn set_capacity(&self, name: &str, capacity: Capacity) -> Result<PoolInfo, ApiError> {
        Scaler::set_capacity(self, name, capacity)
            .await
            .map(|info| pool(&info))
    }

    async fn set_hold(&self, name: &str, held_min: Option<u32>) -> Result<(), ApiError> {
        Scaler::set_hold(self, name, held_min).await
    }
}

/// An Auto Scaling group as a pool.
pub fn pool(info: &AsgInfo) -> PoolInfo {
    PoolInfo {
        name: info.name.clone(),
        min: info.min,
        max: info.max,
        desired: info.desired,
        in_service: info.in_service,
        serves: info
            .target_groups
            .iter()
            .map(|g| g.as_str().to_string())
            .collect(),
        held_min: info.held_min,
    }
}
