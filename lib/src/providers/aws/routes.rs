//! The ALB as the engine drives it: [`AlbRoutes`] is a resolved route (a listener's default action or a
//! rule) with its lockstep peers, implementing [`Routes`]; any ALB API implements [`Provider`] by
//! resolving a [`Target`] into it. The engine's traffic and records go through here, into the ALB's
//! own write path ([`crate::providers::aws::write`]) and checks.

use crate::engine::lifecycle::TestListener;
use crate::error::Error;
use crate::input::{Input, Text};
use crate::model::{Color, Split};
use crate::ports::{
    ApiError, ApiErrorKind, Backend, Provider, RouteNames, Routes, Tags, TargetHealth,
};
use crate::preflight::Check;
use crate::providers::aws::api::Alb;
use crate::providers::aws::arn;
use crate::providers::aws::checks;
use crate::providers::aws::http::SdkHttp;
use crate::providers::aws::lockstep;
use crate::providers::aws::preflight;
use crate::providers::aws::resolve::{self, Resolved, Target};
use crate::providers::aws::route::{self, RouteId, RouteSnapshot};
use crate::providers::aws::sticky;
use crate::providers::aws::test_header::{self, HeaderRoute, TestRoute};
use crate::providers::aws::unsupported::unsupported;
use crate::providers::aws::write::{self, Verification};
use crate::text;
use std::sync::atomic::{AtomicBool, Ordering};

/// A resolved ALB route and the routes that move in lockstep with it, over the ALB API `A`.
#[derive(Debug)]
pub struct AlbRoutes<'a, A> {
    alb: &'a A,
    resolved: Resolved,
    /// Whether the stickiness records were removed after their settings were written back.
    sticky_cleared: AtomicBool,
}

impl<'a, A: Alb> AlbRoutes<'a, A> {
    /// Routes already resolved over `alb`.
    pub fn new(alb: &'a A, resolved: Resolved) -> Self {
        AlbRoutes {
            alb,
            resolved,
            sticky_cleared: AtomicBool::new(false),
        }
    }

    /// The resolved route, for the ALB's own operations.
    pub fn resolved(&self) -> &Resolved {
        &self.resolved
    }
}

impl<A: Alb> Provider for A {
    type Target = Target;
    type Routes<'a>
        = AlbRoutes<'a, A>
    where
        A: 'a;

    async fn resolve<'a>(&'a self, target: &'a Target) -> Result<AlbRoutes<'a, A>, Error> {
        let resolved = resolve::resolve(self, target).await?;
        Ok(AlbRoutes::new(self, resolved))
    }
}

impl<A: Alb> AlbRoutes<'_, A> {
    /// When `split` takes the last traffic off a color that `before` gave some, and the named route (in
    /// `written`) keeps clients sticky: records when, for `cleanup`'s wait. A failure is only logged.
    async fn record_drained(&self, written: &[RouteSnapshot], before: Split, split: Split) {
        let Some(drained) = split.whole_color().map(Color::other) else {
            return;
        };
        let route = &self.resolved.snapshot.route;
        let named = written.iter().find(|w| &w.route == route);
        let Some(forward) = named.and_then(|w| w.forward.as_ref()) else {
            return;
        };
        if before.percent_of(drained).get() == 0 {
            return;
        }
        if let Err(e) = sticky::record_drained(self.alb, route, forward, drained).await {
            tracing::warn!(error = %e, "recording when {drained} was drained failed; cleanup will not wait for its sticky clients");
        }
    }

    /// Removes the stickiness records once a verified write put their settings back (once per run). A
    /// record left behind is harmless (a setting is only written back over a released one): a failure is
    /// logged, not a failed step.
    async fn clear_sticky_records(&self) {
        let records = &self.resolved.sticky_records;
        if records.is_empty() || self.sticky_cleared.swap(true, Ordering::SeqCst) {
            return;
        }
        let routes: Vec<RouteId> = records.iter().map(|(r, _)| r.clone()).collect();
        if let Err(e) = sticky::clear(self.alb, &routes).await {
            tracing::warn!(error = %e, "the stickiness record could not be removed after its setting was written back");
        }
    }
}

impl<A: Alb> Routes for AlbRoutes<'_, A> {
    type Test = TestRoute;
    type Probe = SdkHttp;

    fn names(&self) -> RouteNames {
        let route = &self.resolved.snapshot.route;
        RouteNames {
            route: route.to_string(),
            id: route.resource_arn().to_string(),
            listener: route.listener().to_string(),
        }
    }

    fn split(&self) -> Split {
        self.resolved.split
    }

    fn stable(&self) -> Color {
        self.resolved.stable
    }

    fn records(&self) -> &Tags {
        &self.resolved.tags
    }

    fn backend(&self, color: Color) -> Backend {
        self.resolved.backend(color)
    }

    fn check_agreement(&self) -> Result<(), Error> {
        self.resolved.check_agreement()
    }

    fn sticky_for(&self) -> Option<std::time::Duration> {
        sticky::longest(&self.resolved.routes())
    }

    fn check_can_start(&self, new: Color) -> Result<(), Error> {
        self.resolved.check_can_start(new)
    }

    async fn health(&self, color: Color) -> Result<TargetHealth, ApiError> {
        // Every pair's group of the color (`--pair`), summed.
        let groups = self.resolved.groups.all_of(color);
        let answers =
            futures_util::future::try_join_all(groups.iter().map(|g| self.alb.health(g))).await?;
        Ok(answers
            .into_iter()
            .fold(TargetHealth::default(), |sum, h| TargetHealth {
                healthy: sum.healthy + h.healthy,
                total: sum.total + h.total,
                unhealthy: sum.unhealthy + h.unhealthy,
                draining: sum.draining + h.draining,
            }))
    }

    async fn check_health(
        &self,
        split: Split,
        force: bool,
        min_healthy: u32,
    ) -> Result<Vec<Text>, Error> {
        checks::check_health(
            self.alb,
            &self.resolved,
            split,
            force,
            min_healthy,
            &crate::providers::aws::known_health::KnownHealth::default(),
        )
        .await
    }

    async fn check_writable(&self) -> Result<(), Error> {
        let route = &self.resolved.snapshot.route;
        let keys = crate::state::DEPLOYMENT_TAGS;
        crate::state::check_tag_room(route, &self.resolved.tags, &keys)?;
        checks::check_conversions(self.alb, &self.resolved, &self.resolved.routes()).await
    }

    async fn write_step(
        &self,
        expected: Split,
        split: Split,
        adopt_drift: bool,
        on_adopted: &(dyn Fn(Split) + Sync),
    ) -> Result<(), Error> {
        let groups = &self.resolved.groups;
        let mut pending = Vec::new();
        for snapshot in self.resolved.routes() {
            let mut live = self.alb.read(&snapshot.route).await.map_err(Error::Read)?;
            // Group stickiness a rollback released goes back on with this write.
            let record = self.resolved.sticky_record(&live.route);
            let restoring = sticky::restore(&mut live, record);
            let forward = route::forward_of(&live).map_err(|p| unsupported(&live.route, p))?;
            let live_split =
                route::live_split(forward, groups).map_err(|p| unsupported(&live.route, p))?;
            if live_split != expected && adopt_drift {
                on_adopted(live_split);
            } else if live_split != expected {
                return Err(Error::Drift {
                    route: live.route.to_string(),
                    expected: expected.to_string(),
                    found: live_split.to_string(),
                });
            }
            if live_split != split || forward.targets.len() < 2 || restoring {
                checks::check_conversion(self.alb, &self.resolved, &live.route, forward).await?;
                pending.push(live);
            }
        }
        if !pending.is_empty() {
            let verified =
                write::write_group(self.alb, &pending, groups, split, Verification::ReadBack)
                    .await?;
            // The released setting's record goes first: the drain's record shares its tag.
            self.clear_sticky_records().await;
            self.record_drained(&verified, expected, split).await;
        }
        self.clear_sticky_records().await;
        Ok(())
    }

    async fn rollback(&self, to: Color) -> Result<(), Error> {
        let routes = self.resolved.routes();
        let groups = &self.resolved.groups;
        let keep = self.resolved.keep_stickiness;
        let how = sticky::how_to_release(self.alb, groups, &routes, keep).await;
        let rolled = write::rollback_each(self.alb, &routes, groups, to, how).await?;
        if how == sticky::Release::Keep && rolled.written.contains(&self.resolved.snapshot.route) {
            let kept = [self.resolved.snapshot.clone()];
            self.record_drained(&kept, self.resolved.split, Split::all_to(to))
                .await;
        }
        // Traffic is back: a record that cannot be written is said, not a failed rollback.
        if let Err(e) = sticky::record(self.alb, &rolled.released).await {
            tracing::warn!("{}", e.text());
        }
        Ok(())
    }

    async fn load_records(&self) -> Result<Tags, ApiError> {
        let resource = self.resolved.snapshot.route.resource_arn();
        let mut all = self.alb.tags(&[resource]).await?;
        Ok(all.remove(resource).unwrap_or_default())
    }

    async fn save(&self, records: &[(&str, &str)]) -> Result<(), ApiError> {
        let resource = self.resolved.snapshot.route.resource_arn();
        self.alb.set_tags(resource, records).await
    }

    async fn mark_stable(&self, color: Color, split: Split, peers_only: bool) -> Result<(), Error> {
        let routes: Vec<&RouteSnapshot> = if peers_only {
            self.resolved.peers.iter().map(|p| &p.snapshot).collect()
        } else {
            self.resolved.routes()
        };
        checks::tag_stable(self.alb, &routes, split, color).await
    }

    async fn check_unserved(
        &self,
        color: Color,
        test: Option<&TestRoute>,
        pool: &str,
    ) -> Result<(), Error> {
        // The test header's rule, if any, is found with the listener's other rules below.
        let test = test.and_then(|t| match t {
            TestRoute::Listener(snapshot) => Some(snapshot),
            TestRoute::Header(_) => None,
        });
        let group = self.resolved.groups.of(color);
        // Every route that forwards to the group at all, not only albflip's lockstep group.
        let ours: Vec<RouteId> = self
            .resolved
            .routes()
            .into_iter()
            .chain(test)
            .map(|r| r.route.clone())
            .collect();
        let routes = lockstep::routes_to(self.alb, group, &self.resolved.snapshot, &ours).await?;
        for route in &routes {
            let live = self.alb.read(route).await.map_err(Error::Read)?;
            let serving = live
                .forward
                .iter()
                .flat_map(|f| &f.targets)
                .find(|t| &t.target_group == group && t.weight != Some(0));
            if let Some(t) = serving {
                return Err(Error::ScaleDownRefused {
                    asg: pool.to_string(),
                    target_group: group.name().to_string(),
                    route: route.clone(),
                    weight: t
                        .weight
                        .map_or_else(|| "unset (all traffic)".to_string(), |w| w.to_string()),
                });
            }
        }
        Ok(())
    }

    async fn take_test_route(&mut self, spec: &TestListener) -> Result<Option<TestRoute>, Error> {
        let found = match spec {
            TestListener::Header(header) => {
                let route = HeaderRoute::on(&self.resolved.snapshot.route, header)?;
                return Ok(Some(TestRoute::Header(route)));
            }
            TestListener::Port(port) => {
                let lb = self.resolved.snapshot.load_balancer.name();
                self.alb.find_listener(lb, *port).await
            }
            TestListener::Arn(arn) => {
                let arn = arn::test_listener(arn)?;
                self.alb.read(&RouteId::Listener(arn)).await
            }
        };
        let test = found.map_err(|e| match e.kind {
            ApiErrorKind::NotFound => Error::NotFound {
                what: format!("the test listener ({})", describe(spec)).into(),
                fix: text!(
                    "Create it, or fix ",
                    {input Input::TestListenerPort},
                    "/",
                    {input Input::TestListenerArn}
                ),
            },
            _ => Error::Read(e),
        })?;
        if test.route == self.resolved.snapshot.route {
            return Err(Error::invalid(
                Input::TestListenerPort,
                text!({given Input::TestListenerPort}),
                "it names the production route itself",
                "Name a second listener (e.g. port 9000) for test traffic",
            ));
        }
        // The test listener follows its own path: never a lockstep peer, even when it forwards to both
        // colors.
        self.resolved
            .peers
            .retain(|p| p.snapshot.route != test.route);
        self.resolved.left_alone.retain(|l| l.route != test.route);
        Ok(Some(TestRoute::Listener(test)))
    }

    async fn point_test_route(&self, test: &TestRoute, color: Color) -> Result<(), Error> {
        let test = match test {
            TestRoute::Listener(snapshot) => snapshot,
            // The header's requests go to the new color; "back on the stable color" is without the
            // rule: the production route serves them like any other request.
            TestRoute::Header(route) if color == self.resolved.stable => {
                return test_header::remove(self.alb, route).await.map(|_| ())
            }
            TestRoute::Header(route) => {
                let to = self.resolved.groups.of(color);
                return test_header::point(self.alb, route, to).await.map(|_| ());
            }
        };
        let live = self.alb.read(&test.route).await.map_err(Error::Read)?;
        write::write_group(
            self.alb,
            std::slice::from_ref(&live),
            &self.resolved.groups,
            Split::all_to(color),
            Verification::ReadBack,
        )
        .await
        .map(|_| ())
    }

    async fn end_test_route(&self, test: &TestRoute) -> Result<bool, Error> {
        match test {
            TestRoute::Listener(_) => Ok(false),
            TestRoute::Header(route) => test_header::remove(self.alb, route).await,
        }
    }

    fn test_route_id(&self, test: &TestRoute) -> String {
        match test {
            TestRoute::Listener(snapshot) => snapshot.route.resource_arn().to_string(),
            TestRoute::Header(route) => {
                format!("requests with {} on {}", route.header, route.listener)
            }
        }
    }

    fn probe(&self) -> SdkHttp {
        SdkHttp::new()
    }

    async fn preflight(&self, new: Color, min_healthy: u32) -> Vec<Check> {
        preflight::checks(self.alb, &self.resolved, new, min_healthy).await
    }
}

fn describe(spec: &TestListener) -> String {
    match spec {
        TestListener::Port(p) => format!("port {p}"),
        TestListener::Arn(a) => a.to_string(),
        TestListener::Header(h) => format!("header {h}"),
    }
}
