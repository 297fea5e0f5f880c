//! The ALB behind the provider-neutral ports: [`AlbRouter`] ([`Router`]: a listener's default action or
//! a rule, percent written as weights 0..=999 in its forward action), [`AlbState`] ([`StateStore`]: tags
//! on the listener or rule) and [`AlbCapacity`] ([`CapacityPool`]: the Auto Scaling group registered
//! with a color's target group, health from the target group).

use crate::model::{Color, Split};
use crate::ports::{
    ApiError, Capacity, CapacityPool, PoolInfo, Preserved, RouteRead, Router, RouterError,
    StateStore, Tags, TargetHealth,
};
use crate::providers::aws::api::{Alb, AlbInventory, Scaler};
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

/// The Auto Scaling groups behind blue and green, as a [`CapacityPool`]: a color's pools are the groups
/// registered with its target group; its health is its target group's.
#[derive(Debug, Clone)]
pub struct AlbCapacity<'a, A, S> {
    alb: &'a A,
    scaler: &'a S,
    groups: ColorGroups,
}

impl<'a, A: AlbInventory, S: Scaler> AlbCapacity<'a, A, S> {
    /// The pools behind `groups`, read through `alb` and resized through `scaler`.
    pub fn new(alb: &'a A, scaler: &'a S, groups: ColorGroups) -> Self {
        AlbCapacity {
            alb,
            scaler,
            groups,
        }
    }
}

fn pool(info: crate::providers::aws::api::AsgInfo) -> PoolInfo {
    PoolInfo {
        name: info.name.clone(),
        capacity: info.capacity(),
        in_service: info.in_service,
    }
}

impl<A: AlbInventory, S: Scaler> CapacityPool for AlbCapacity<'_, A, S> {
    async fn find(&self, backend: Color) -> Result<Vec<PoolInfo>, ApiError> {
        let groups = self
            .scaler
            .groups_for_target_group(self.groups.of(backend))
            .await?;
        Ok(groups.into_iter().map(pool).collect())
    }

    async fn describe(&self, name: &str) -> Result<Option<PoolInfo>, ApiError> {
        Ok(self.scaler.describe(name).await?.map(pool))
    }

    async fn set_capacity(&self, name: &str, capacity: Capacity) -> Result<PoolInfo, ApiError> {
        self.scaler.set_capacity(name, capacity).await.map(pool)
    }

    async fn healthy(&self, backend: Color) -> Result<TargetHealth, ApiError> {
        self.alb.health(self.groups.of(backend)).await
    }
}
