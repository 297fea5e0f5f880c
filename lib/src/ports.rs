//! The traits the operations and the engine need from the outside world. Nothing AWS-shaped leaks
//! through them: the AWS adapters in [`crate::providers::aws`] implement them, and so can an in-memory fake or a
//! different cloud.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use serde::Serialize;

use crate::model::Split;

mod routes;
pub use routes::{Member, Provider, RouteNames, Routes, TestHeader, TestListener};

/// What went wrong talking to a backend (AWS or a fake), classified for the person reading it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed: {kind}{}", detail(.message))]
pub struct ApiError {
    /// The API operation, e.g. `elasticloadbalancing:ModifyListener`.
    pub operation: String,
    /// What kind of failure it was.
    pub kind: ApiErrorKind,
    /// The backend's own words, if any.
    pub message: String,
}

fn detail(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(" ({message})")
    }
}

impl ApiError {
    /// Whether the backend refused the request outright, so a write with this error changed nothing.
    pub fn refused(&self) -> bool {
        matches!(
            self.kind,
            ApiErrorKind::AccessDenied { .. }
                | ApiErrorKind::NoCredentials
                | ApiErrorKind::InvalidCredentials
                | ApiErrorKind::NotFound
                | ApiErrorKind::Rejected { .. }
        )
    }

    /// A new error.
    pub fn new(
        operation: impl Into<String>,
        kind: ApiErrorKind,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            operation: operation.into(),
            kind,
            message: message.into(),
        }
    }
}

/// The kinds of backend failure albflip tells apart.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiErrorKind {
    /// The resource does not exist.
    NotFound,
    /// The caller lacks a permission; names the IAM action.
    AccessDenied {
        /// The IAM action refused, e.g. `elasticloadbalancing:ModifyListener`.
        action: String,
    },
    /// No credentials were found (environment, profile, instance or task role).
    NoCredentials,
    /// The credentials were refused as invalid or expired.
    InvalidCredentials,
    /// Rate limited even after retries.
    Throttled,
    /// The endpoint could not be reached.
    Unreachable,
    /// No answer in time.
    Timeout,
    /// The backend refused the request as invalid.
    Rejected {
        /// The error code, e.g. `InvalidLoadBalancerAction`.
        code: String,
    },
    /// Anything else.
    Other,
}

impl fmt::Display for ApiErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiErrorKind::NotFound => f.write_str("not found"),
            ApiErrorKind::AccessDenied { action } => write!(f, "missing permission {action}"),
            ApiErrorKind::NoCredentials => f.write_str(
                "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, use an AWS profile (AWS_PROFILE), or run with an instance or task role",
            ),
            ApiErrorKind::InvalidCredentials => f.write_str(
                "the AWS credentials were refused as invalid or expired: check the access keys, the AWS profile (AWS_PROFILE), or refresh the session",
            ),
            ApiErrorKind::Throttled => f.write_str("throttled by AWS after retries"),
            ApiErrorKind::Unreachable => f.write_str("endpoint unreachable"),
            ApiErrorKind::Timeout => f.write_str("timed out"),
            ApiErrorKind::Rejected { code } => write!(f, "rejected ({code})"),
            ApiErrorKind::Other => f.write_str("error"),
        }
    }
}

/// A route as a [`Router`] read it: its live split and, opaque, everything else the router found, to
/// write back unchanged.
#[derive(Debug, Clone)]
pub struct RouteRead {
    /// The route, as people read it.
    pub name: String,
    /// The live split between the two backends.
    pub split: Split,
    /// Everything else the router needs to write the route back unchanged (the ALB: the whole action,
    /// its other target groups' order, stickiness, conditions).
    pub preserved: Preserved,
}

/// Data a router keeps with a snapshot so that it can write back everything it found unchanged. Opaque to
/// everyone but the router that produced it.
#[derive(Clone)]
pub struct Preserved(Arc<dyn Any + Send + Sync>);

impl Preserved {
    /// Wraps router-private data.
    pub fn new<T: Any + Send + Sync>(value: T) -> Preserved {
        Preserved(Arc::new(value))
    }

    /// The router-private data, if it is of type `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.downcast_ref::<T>()
    }
}

impl fmt::Debug for Preserved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Preserved(..)")
    }
}

/// Why a router did not read or write a route.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouterError {
    /// The backend failed or refused the call.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The route exists but cannot be shifted as found (not a split of exactly the two backends, a
    /// value out of the router's range, a setting it would have to drop).
    #[error("{route} cannot be shifted as found: {reason}")]
    Unshiftable {
        /// The route.
        route: String,
        /// Why, in the router's words.
        reason: String,
    },
}

/// Reads and writes the split of a route between its two backends (blue and green): the one read and the
/// one write Flagger's router has. The router converts percent to its own weights (the ALB: 0..=999;
/// HAProxy: 0..=256) and writes back everything else it found.
pub trait Router: Send + Sync {
    /// How the router names a route (the ALB: a listener's default action or a rule).
    type Route: Clone + fmt::Display + Send + Sync;

    /// Reads the route as it is live now. A route that cannot be shifted as found is refused.
    fn read(
        &self,
        route: &Self::Route,
    ) -> impl Future<Output = Result<RouteRead, RouterError>> + Send;

    /// Writes `split` on the route read as `current`, in one call, keeping everything else as found.
    /// Returns the route as the backend reports it after the write (not a separate read).
    fn write(
        &self,
        route: &Self::Route,
        current: &RouteRead,
        split: Split,
    ) -> impl Future<Output = Result<RouteRead, RouterError>> + Send;
}

/// albflip's records kept next to a route (the deployment record, the stable color, capacity records),
/// as keys and values; the record codecs in [`crate::state`] give them meaning. The ALB keeps them as
/// tags on the listener or rule.
pub trait StateStore: Send + Sync {
    /// How the store names the route whose records it keeps.
    type Route: Clone + fmt::Display + Send + Sync;

    /// Every record kept for `route`.
    fn load(&self, route: &Self::Route) -> impl Future<Output = Result<Tags, ApiError>> + Send;

    /// Adds or overwrites records for `route`, leaving the others as they are.
    fn save(
        &self,
        route: &Self::Route,
        records: &[(&str, &str)],
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
}

/// The capacity behind one color's backend (an Auto Scaling group, an ECS service): found from the
/// backend, read and resized. Health is the router's ([`Routes::health`]): what counts is what the
/// route's health checks see. The policy (never lower, raise the maximum, scale to zero only when no
/// route sends traffic) lives in [`crate::capacity`]; an implementation writes what it is given.
pub trait CapacityPool: Send + Sync {
    /// The pools that serve `backend`: usually one; the caller decides what several mean.
    fn find(
        &self,
        backend: &Backend,
    ) -> impl Future<Output = Result<Vec<PoolInfo>, ApiError>> + Send;

    /// The pool named `name`, if it exists.
    fn describe(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<PoolInfo>, ApiError>> + Send;

    /// Sets the pool's minimum, maximum and desired size in one call and returns it as it is afterwards.
    fn set_capacity(
        &self,
        name: &str,
        capacity: Capacity,
    ) -> impl Future<Output = Result<PoolInfo, ApiError>> + Send;

    /// What its pools are, so that messages name them and the settings that name one.
    fn kind(&self) -> PoolKind {
        PoolKind::AutoScalingGroup
    }

    /// Records on the pool the minimum it had before albflip raised it for a deployment (`Some`), or
    /// removes that record (`None`); [`PoolInfo::held_min`] reads it back. A pool that cannot keep such a
    /// record refuses, and albflip then leaves its minimum alone.
    fn set_hold(
        &self,
        name: &str,
        held_min: Option<u32>,
    ) -> impl Future<Output = Result<(), ApiError>> + Send {
        let _ = held_min;
        let message = format!("pool {name} cannot record a hold");
        async move {
            Err(ApiError::new(
                "capacity:SetHold",
                ApiErrorKind::Rejected {
                    code: "NotSupported".into(),
                },
                message,
            ))
        }
    }
}

/// What a [`CapacityPool`]'s pools are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PoolKind {
    /// Auto Scaling groups (the default).
    #[default]
    AutoScalingGroup,
    /// ECS services.
    EcsService,
}

impl PoolKind {
    /// The pool as people name it: "Auto Scaling group", "ECS service".
    pub fn noun(self) -> &'static str {
        match self {
            PoolKind::AutoScalingGroup => "Auto Scaling group",
            PoolKind::EcsService => "ECS service",
        }
    }

    /// The setting that names `color`'s pool.
    pub fn input(self, color: crate::model::Color) -> crate::input::Input {
        use crate::input::Input;
        use crate::model::Color;
        match (self, color) {
            (PoolKind::AutoScalingGroup, Color::Blue) => Input::BlueAsg,
            (PoolKind::AutoScalingGroup, Color::Green) => Input::GreenAsg,
            (PoolKind::EcsService, Color::Blue) => Input::BlueService,
            (PoolKind::EcsService, Color::Green) => Input::GreenService,
        }
    }
}

/// A capacity pool as albflip sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolInfo {
    /// Its name.
    pub name: String,
    /// Its minimum size.
    pub min: u32,
    /// Its maximum size.
    pub max: u32,
    /// Its desired size.
    pub desired: u32,
    /// Members in service (the Auto Scaling group's `InService` instances).
    pub in_service: u32,
    /// The ids of the backends it serves (the ALB: the target groups it registers its instances with).
    /// Serialized as `target_groups`, the name the CLI's JSON output has always used.
    #[serde(rename = "target_groups")]
    pub serves: Vec<String>,
    /// While albflip holds the pool for a deployment: the minimum it had before albflip raised it to
    /// the desired size (so nothing scales it in mid-deployment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_min: Option<u32>,
}

impl PoolInfo {
    /// Its sizes.
    pub fn capacity(&self) -> Capacity {
        Capacity {
            min: self.min,
            max: self.max,
            desired: self.desired,
        }
    }
}

/// How many members of a backend are healthy, as the router's health checks see them now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct TargetHealth {
    /// Members in state `healthy`.
    pub healthy: u32,
    /// All registered members.
    pub total: u32,
    /// Members failing their health checks (state `unhealthy`).
    pub unhealthy: u32,
    /// Members being deregistered (state `draining`): neither counted healthy nor held against the new
    /// color.
    pub draining: u32,
}

impl TargetHealth {
    /// `healthy` of `total` members healthy, the rest neither unhealthy nor draining (still starting).
    pub fn of(healthy: u32, total: u32) -> TargetHealth {
        TargetHealth {
            healthy,
            total,
            ..TargetHealth::default()
        }
    }
}

/// Tags of one resource.
pub type Tags = BTreeMap<String, String>;

/// One color's backend as a metric source finds it: the router names it, each source maps the labels to
/// its own query (the ALB provider gives CloudWatch's `LoadBalancer` and `TargetGroup` dimensions; a
/// HAProxy provider would give its backend and server names; a Prometheus source reads them as labels).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// The color this backend serves.
    pub color: crate::model::Color,
    /// Its name for people (the ALB target group's name).
    pub name: String,
    /// The provider's id of it (the ALB: the target group's ARN), which its capacity pools know it by.
    pub id: String,
    /// Where its traffic is counted: one set of labels per place it is served (the ALB provider: one per
    /// load balancer of the routes that move in lockstep, the named route's first). Counts add up over
    /// the scopes.
    pub scopes: Vec<Labels>,
}

/// Key/value labels that identify a backend to a metric source.
pub type Labels = BTreeMap<String, String>;

/// What to fetch for one poll: both colors' metrics over one window, and alarm states.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricQuery {
    /// The new color's backend.
    pub new: Backend,
    /// The stable color's backend.
    pub stable: Backend,
    /// Window start.
    pub start: std::time::SystemTime,
    /// Window end.
    pub end: std::time::SystemTime,
    /// The metric period.
    pub period: std::time::Duration,
    /// The latency statistic.
    pub latency_statistic: crate::plan::LatencyStatistic,
}

/// A source of gate observations (CloudWatch, or Prometheus, Datadog, a script in tests).
pub trait MetricSource: Send + Sync {
    /// Fetches one observation. No traffic yet is an observation with zero requests, not an error.
    fn observe(
        &self,
        query: &MetricQuery,
    ) -> impl Future<Output = Result<crate::plan::Observation, ApiError>> + Send;

    /// Whether the source reads its counts live, with no publication lag (the local routers' counters):
    /// then, after a failed step's rollback, the engine reads the latest period once more, so that the
    /// run's blast radius counts what the new color failed right up to the rollback. `false` by default
    /// (CloudWatch publishes a minute late; waiting for it would hold the run).
    fn live(&self) -> bool {
        false
    }

    /// Alarms, the optional second source: the state (`OK`, `ALARM`, `INSUFFICIENT_DATA`) of each named
    /// alarm this source knows (CloudWatch alarms for the AWS source). A source without alarms keeps
    /// this default and reports none, so a deployment gated on a named alarm refuses to start instead
    /// of never failing that gate.
    fn alarm_states(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<(String, String)>, ApiError>> + Send {
        let _ = names;
        std::future::ready(Ok(Vec::new()))
    }
}

/// Why a GET got no HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeError {
    /// The URL cannot be requested as it is.
    InvalidUrl(String),
    /// The request failed (connection refused, TLS, DNS...), with the whole chain of causes.
    Failed(String),
}

/// One HTTP GET, as the smoke check sends them through a provider's HTTP client (the AWS provider: the
/// SDK's own connector, so https works and no second HTTP stack is built).
pub trait HttpProbe: Send + Sync {
    /// GETs `url` once and returns the HTTP status. No proxy from the environment is used.
    fn get(&self, url: &str) -> impl Future<Output = Result<u16, ProbeError>> + Send;

    /// GETs `url` once with the request header `header` (the test header). A client that cannot send
    /// headers keeps this default and fails the request rather than send it without the header.
    fn get_with_header(
        &self,
        url: &str,
        header: &TestHeader,
    ) -> impl Future<Output = Result<u16, ProbeError>> + Send {
        let _ = (url, header);
        std::future::ready(Err(ProbeError::Failed(
            "this HTTP client cannot send the test header".into(),
        )))
    }
}

/// An [`HttpProbe`] that sends a header with every GET (the smoke check through the test header).
#[derive(Debug)]
pub struct WithHeader<'a, H> {
    /// The client.
    pub http: &'a H,
    /// The header.
    pub header: &'a TestHeader,
}

impl<H: HttpProbe> HttpProbe for WithHeader<'_, H> {
    fn get(&self, url: &str) -> impl Future<Output = Result<u16, ProbeError>> + Send {
        self.http.get_with_header(url, self.header)
    }
}

/// Wall-clock time and sleeping, behind a trait so simulated runs stay consistent.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> std::time::SystemTime;
    /// Sleeps for `duration`.
    fn sleep(&self, duration: std::time::Duration) -> impl Future<Output = ()> + Send;
}

/// The real clock, measured through tokio's clock so that `tokio::time::pause()` simulates it: the wall
/// time at creation plus tokio's elapsed time.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    wall: std::time::SystemTime,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock starting now.
    pub fn new() -> TokioClock {
        TokioClock::starting_at(std::time::SystemTime::now())
    }

    /// A clock that reads `wall` now and runs with tokio's clock from there (simulated runs that need a
    /// known wall time, e.g. one aligned to a metric period).
    pub fn starting_at(wall: std::time::SystemTime) -> TokioClock {
        TokioClock {
            wall,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        TokioClock::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> std::time::SystemTime {
        self.wall + self.start.elapsed()
    }

    fn sleep(&self, duration: std::time::Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }
}

/// Who holds a lease, for people, and the version a watcher compares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaseHolder {
    /// The holder (who started the run, and its process id).
    pub holder: String,
    /// When it was taken (RFC 3339).
    pub since: String,
    /// When it expires unless renewed (RFC 3339), by the holder's clock.
    pub expires: String,
    /// When it expires unless renewed, by the holder's clock; `None` when unreadable.
    #[serde(skip)]
    pub expires_at: Option<std::time::SystemTime>,
    /// Bumped by every renewal: a lease whose version stays the same for a whole ttl, watched on the
    /// watcher's own clock, has been abandoned, whatever the holders' clocks say.
    pub version: u64,
}

/// A store of leases with conditional writes (DynamoDB, or memory in tests). Every lease carries a
/// version its holder bumps at each renewal, so a takeover never depends on two machines' clocks
/// agreeing (see [`crate::lock`]).
pub trait Lock: Send + Sync {
    /// Takes the lease on `key`: when nobody holds it, or, with `stale`, when it is still exactly the
    /// lease the caller watched unchanged for a whole ttl (same holder, since and version). Returns the
    /// new lease's version, or who holds it.
    fn acquire(
        &self,
        key: &str,
        holder: &str,
        ttl: std::time::Duration,
        now: std::time::SystemTime,
        stale: Option<&LeaseHolder>,
    ) -> impl Future<Output = Result<Result<u64, LeaseHolder>, ApiError>> + Send;

    /// Extends the lease if `holder` still holds it at `version`; returns the new version, or `None`
    /// when it does not (taken over).
    fn renew(
        &self,
        key: &str,
        holder: &str,
        version: u64,
        ttl: std::time::Duration,
        now: std::time::SystemTime,
    ) -> impl Future<Output = Result<Option<u64>, ApiError>> + Send;

    /// Deletes the lease if `holder` holds it.
    fn release(&self, key: &str, holder: &str)
        -> impl Future<Output = Result<(), ApiError>> + Send;

    /// Who holds the lease on `key`.
    fn holder(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<LeaseHolder>, ApiError>> + Send;

    /// Deletes the lease whoever holds it, but only while it is still exactly the lease `shown` to the
    /// person breaking it (same holder, since and version, as [`Lock::acquire`]'s `stale`): a renewal,
    /// or a new run's lease taken since, is never broken. Returns `Ok(())` when deleted, or the lease
    /// that holds the key now instead (`None`: nobody's) and deletes nothing.
    fn force_release(
        &self,
        key: &str,
        shown: &LeaseHolder,
    ) -> impl Future<Output = Result<Result<(), Option<LeaseHolder>>, ApiError>> + Send;
}

/// The three sizes of an Auto Scaling group, written together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capacity {
    /// The minimum size.
    pub min: u32,
    /// The maximum size.
    pub max: u32,
    /// The desired capacity (`min <= desired <= max`).
    pub desired: u32,
}
