//! The engine's view of a provider: what the user named, resolved into the routes one run moves
//! together ([`Routes`]), and everything the engine does to their traffic and records.

use std::future::Future;

use serde::Serialize;

use crate::error::Error;
use crate::model::{Color, Split};
use crate::ports::{ApiError, Backend, HttpProbe, Tags, TargetHealth};

/// A provider as the engine drives it: it resolves what the user named into [`Routes`].
pub trait Provider: Send + Sync {
    /// What a user names (the ALB: a listener or rule by ARN, names or a naming convention).
    type Target: Send + Sync;
    /// The routes of one run, borrowing the provider's clients.
    type Routes<'a>: Routes
    where
        Self: 'a;

    /// Reads the route `target` names, works out its blue and green backends and finds the routes that
    /// move in lockstep with it. Writes nothing.
    fn resolve<'a>(
        &'a self,
        target: &'a Self::Target,
    ) -> impl Future<Output = Result<Self::Routes<'a>, Error>> + Send + 'a;
}

/// How the test route is named (the ALB: the test listener, on a port of the named route's load
/// balancer or by its ARN).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TestListener {
    /// The listener on this port of the named route's load balancer.
    Port(u16),
    /// The listener with this ARN (checked when the file is read, see
    /// [`crate::config::TestTrafficSection::listener_arn`]).
    Arn(String),
    /// Requests with this header on the production route's own listener (the ALB: a temporary
    /// listener rule with an `http-header` condition, created for the run and removed on every way
    /// out).
    Header(TestHeader),
}

/// A request header that marks test traffic: `NAME: VALUE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestHeader {
    /// The header's name, e.g. `X-Albflip-Test`.
    pub name: String,
    /// Its exact value.
    pub value: String,
}

impl TestHeader {
    /// Parses `NAME=VALUE`: a header name (letters, digits and `-`, at most 40 characters, as the ALB
    /// allows) and a value of printable characters without `*` and `?` (which the ALB reads as
    /// wildcards), at most 128 characters.
    pub fn parse(text: &str) -> Result<TestHeader, String> {
        let (name, value) = text
            .split_once('=')
            .ok_or_else(|| "it is not NAME=VALUE".to_string())?;
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() || name.len() > 40 {
            return Err("the header name must have 1 to 40 characters".into());
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(format!(
                "the header name holds {c:?} (letters, digits and - only)"
            ));
        }
        if value.is_empty() || value.chars().count() > 128 {
            return Err("the value must have 1 to 128 characters".into());
        }
        if let Some(c) = value
            .chars()
            .find(|c| c.is_control() || *c == '*' || *c == '?')
        {
            return Err(format!(
                "the value holds {c:?} (the load balancer reads * and ? as wildcards)"
            ));
        }
        Ok(TestHeader {
            name: name.to_string(),
            value: value.to_string(),
        })
    }
}

impl std::fmt::Display for TestHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.name, self.value)
    }
}

/// How a set of routes is named for people and for hooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteNames {
    /// The named route for people (the ALB: "default action of listener ARN").
    pub route: String,
    /// Its resource id in events (the ALB: the listener's or rule's ARN).
    pub id: String,
    /// Its listener's id for the hooks' `ALBFLIP_LISTENER_ARN` (the ALB: the listener ARN).
    pub listener: String,
}

/// The routes one run moves together, as a provider resolved them: the named route first, then the
/// routes that move in lockstep with it. The split, stable color and records are as read at
/// resolution; every write re-reads what it writes.
pub trait Routes: Send + Sync {
    /// How the provider holds a test route (the ALB: the test listener as read).
    type Test: Clone + Send + Sync;
    /// How the smoke check's requests reach the test route.
    type Probe: HttpProbe;

    /// The named route's names.
    fn names(&self) -> RouteNames;
    /// The live split, as resolved.
    fn split(&self) -> Split;
    /// The stable color, as recorded (blue when nothing is).
    fn stable(&self) -> Color;
    /// Everything stored next to the named route, as read, albflip's records among it (the ALB: all the
    /// listener's or rule's tags).
    fn records(&self) -> &Tags;
    /// Where a metric source finds `color`'s traffic.
    fn backend(&self, color: Color) -> Backend;
    /// Refuses unless every route carries the named route's split.
    fn check_agreement(&self) -> Result<(), Error>;
    /// Refuses a deployment of `new` while another is in flight or when `new` is already stable.
    fn check_can_start(&self, new: Color) -> Result<(), Error>;

    /// Healthy and total members of `color`'s backend.
    fn health(&self, color: Color) -> impl Future<Output = Result<TargetHealth, ApiError>> + Send;

    /// Every color whose share goes up under `split` must have `min_healthy` healthy members; with
    /// `force`, a shortfall is a warning (returned) instead of an error.
    fn check_health(
        &self,
        split: Split,
        force: bool,
        min_healthy: u32,
    ) -> impl Future<Output = Result<Vec<crate::input::Text>, Error>> + Send;

    /// Refuses before any write when the backend would refuse a route's next write (the ALB: a
    /// single-group forward whose target group has stickiness on).
    fn check_writable(&self) -> impl Future<Output = Result<(), Error>> + Send;

    /// One step: re-reads every route, refuses on drift from `expected` (unless `adopt_drift`: then each
    /// drifted route's split is passed to `on_adopted` as it is read, before any write), writes `split`
    /// on the routes that need it and reads them back; a failure part-way puts the routes already
    /// written back.
    fn write_step(
        &self,
        expected: Split,
        split: Split,
        adopt_drift: bool,
        on_adopted: &(dyn Fn(Split) + Sync),
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// All traffic to `to` on every route: fresh reads, one write each where needed, verified; a route
    /// that fails does not stop the others.
    fn rollback(&self, to: Color) -> impl Future<Output = Result<(), Error>> + Send;

    /// Reads the named route's records again, as they are now (a run waiting for promotion watches them
    /// for `promote` and `rollback` from elsewhere).
    fn load_records(&self) -> impl Future<Output = Result<Tags, ApiError>> + Send;
    /// Adds or overwrites records on the named route.
    fn save(&self, records: &[(&str, &str)]) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// Records `color` as stable on every route (`peers_only`: on the others only, when the named
    /// route's record already says it), after `split` was verified.
    fn mark_stable(
        &self,
        color: Color,
        split: Split,
        peers_only: bool,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Right before scaling `color` down: re-reads every route that forwards to its backend at all (the
    /// ones this run moves, `test`, and any other) and refuses, naming the route, unless each gives it
    /// no traffic. `pool` names the capacity in the refusal.
    fn check_unserved(
        &self,
        color: Color,
        test: Option<&Self::Test>,
        pool: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Finds the test route `spec` names and takes it out of the routes this run moves.
    fn take_test_route(
        &mut self,
        spec: &TestListener,
    ) -> impl Future<Output = Result<Option<Self::Test>, Error>> + Send;

    /// Points the test route at `color` (one write, read back).
    fn point_test_route(
        &self,
        test: &Self::Test,
        color: Color,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// At the end of a run, whatever its way out: removes what exists only for the run (the ALB: the
    /// test header's listener rule), read back. `Ok(true)` when something was removed; a test route
    /// that is a standing listener stays as it is.
    fn end_test_route(
        &self,
        test: &Self::Test,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let _ = test;
        std::future::ready(Ok(false))
    }
    /// The test route's id in events.
    fn test_route_id(&self, test: &Self::Test) -> String;

    /// How long clients may keep reaching a color after its weight went to 0 (the ALB: the longest group
    /// stickiness duration of the routes), which a scale-down waits at least; `None` when nothing sticks.
    fn sticky_for(&self) -> Option<std::time::Duration> {
        None
    }

    /// The HTTP client the smoke check's GETs go through.
    fn probe(&self) -> Self::Probe;

    /// The pre-flight checks for sending traffic to `new` (see [`crate::preflight`]). Read-only.
    fn preflight(
        &self,
        new: Color,
        min_healthy: u32,
    ) -> impl Future<Output = Vec<crate::preflight::Check>> + Send;

    /// The members of both backends as the provider found them, for `status` (HAProxy: each server with
    /// its weight). None by default.
    fn members(&self) -> Vec<Member> {
        Vec::new()
    }

    /// What `status` should warn about on these routes as found (HAProxy: live weights that a reload
    /// would lose). None by default.
    fn status_warnings(&self) -> Vec<crate::input::Text> {
        Vec::new()
    }
}

/// One member of a color's backend as `status` lists it (a HAProxy server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    /// The color it serves.
    pub color: Color,
    /// Its name.
    pub name: String,
    /// Its weight now, in the router's units.
    pub weight: u32,
    /// Its weight in the router's configuration, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configured_weight: Option<u32>,
}
