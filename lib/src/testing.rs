//! In-memory stand-ins for the ports (feature `testing`): a load balancer with one listener forwarding
//! to blue and green, and a metric source driven by a script. With `tokio::time::pause()` and
//! [`crate::ports::TokioClock`] whole deployments run in simulated time.
//!
//! [`alb_model`] is a realistic model of the metrics an ALB publishes (periods, publication lag, the
//! load balancer's own 5XX, per-node host counts) and [`model_source`] serves it as a metric source.
//!
//! ```
//! use albflip::testing::InMemoryAlb;
//! use albflip::model::{Color, Split};
//! let alb = InMemoryAlb::new();
//! assert_eq!(alb.split(), Split::all_to(Color::Blue));
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use crate::model::{Color, Split, Stickiness};
use crate::plan::{ColorMetrics, Observation};
use crate::ports::{
    ApiError, ApiErrorKind, Clock, MetricQuery, MetricSource, Tags, TargetHealth, TokioClock,
};
use crate::providers::aws::api::{AlbInventory, TargetGroupInfo, TrafficRouter};
use crate::providers::aws::arn::{ListenerArn, LoadBalancerArn, TargetGroupArn};
use crate::providers::aws::route::{
    self, ColorGroups, ForwardAction, ForwardTarget, Preserved, RouteId, RouteSnapshot,
};

pub mod alb_model;
pub mod model_source;

use alb_model::WeightHistory;

const LB: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/sim-shop-alb/0000000000000001";
const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/sim-shop-alb/0000000000000001/0000000000000002";
const BLUE: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/sim-shop-blue-tg/0000000000000003";
const GREEN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/sim-shop-green-tg/0000000000000004";

#[derive(Debug)]
struct State {
    forward: ForwardAction,
    tags: BTreeMap<String, Tags>,
    health: BTreeMap<String, TargetHealth>,
    written: Vec<Split>,
    failing_writes: u32,
    sticky_groups: std::collections::BTreeSet<String>,
    history: WeightHistory,
    health_source: Option<HealthSource>,
}

/// Where a color's live health comes from instead of [`InMemoryAlb::set_health`].
#[derive(Clone)]
struct HealthSource(Arc<dyn Fn(Color) -> TargetHealth + Send + Sync>);

impl std::fmt::Debug for HealthSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HealthSource(..)")
    }
}

/// An in-memory load balancer: one listener whose default action forwards to blue and green.
#[derive(Debug)]
pub struct InMemoryAlb {
    state: Mutex<State>,
    groups: ColorGroups,
    clock: Option<TokioClock>,
}

fn arn<T, E: std::fmt::Debug>(parsed: Result<T, E>) -> T {
    match parsed {
        Ok(v) => v,
        Err(e) => panic!("constant ARN is invalid: {e:?}"),
    }
}

impl Default for InMemoryAlb {
    fn default() -> Self {
        InMemoryAlb::new()
    }
}

impl InMemoryAlb {
    /// Blue 100 %, green 0 %, two healthy targets each, stickiness off.
    pub fn new() -> InMemoryAlb {
        let groups = ColorGroups::new(
            arn(TargetGroupArn::parse(BLUE)),
            arn(TargetGroupArn::parse(GREEN)),
        );
        let forward = ForwardAction {
            targets: vec![
                ForwardTarget {
                    target_group: groups.blue.clone(),
                    weight: Some(100),
                },
                ForwardTarget {
                    target_group: groups.green.clone(),
                    weight: Some(0),
                },
            ],
            stickiness: Some(Stickiness::OFF),
        };
        let health = [BLUE, GREEN]
            .iter()
            .map(|a| (a.to_string(), TargetHealth::of(2, 2)))
            .collect();
        InMemoryAlb {
            state: Mutex::new(State {
                forward,
                tags: BTreeMap::new(),
                health,
                written: Vec::new(),
                failing_writes: 0,
                sticky_groups: Default::default(),
                history: WeightHistory::default(),
                health_source: None,
            }),
            groups,
            clock: None,
        }
    }

    /// As [`InMemoryAlb::new`], and every change of the split is timestamped by `clock` in the
    /// [`InMemoryAlb::weight_history`], starting with blue at 100 % now.
    pub fn with_clock(clock: TokioClock) -> InMemoryAlb {
        let alb = InMemoryAlb {
            clock: Some(clock),
            ..InMemoryAlb::new()
        };
        alb.lock().history = WeightHistory::starting(clock.now(), Split::all_to(Color::Blue));
        alb
    }

    /// The split over time, as [`InMemoryAlb::with_clock`]'s clock saw it change (empty without a clock).
    pub fn weight_history(&self) -> WeightHistory {
        self.lock().history.clone()
    }

    /// From now on, `DescribeTargetHealth` of a color answers `health(color)` (e.g. a model's targets
    /// at the clock's now) and [`InMemoryAlb::set_health`] no longer counts.
    pub fn follow_health(&self, health: impl Fn(Color) -> TargetHealth + Send + Sync + 'static) {
        self.lock().health_source = Some(HealthSource(Arc::new(health)));
    }

    /// Records the live split in the weight history, when there is a clock.
    fn record(&self, s: &mut State) {
        if let Some(clock) = &self.clock {
            let split =
                route::live_split(&s.forward, &self.groups).unwrap_or(Split::all_to(Color::Blue));
            s.history.record(clock.now(), split);
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The listener's ARN.
    pub fn listener_arn(&self) -> ListenerArn {
        arn(ListenerArn::parse(LISTENER))
    }

    /// Blue and green.
    pub fn groups(&self) -> &ColorGroups {
        &self.groups
    }

    /// The live split.
    pub fn split(&self) -> Split {
        route::live_split(&self.lock().forward, &self.groups).unwrap_or(Split::all_to(Color::Blue))
    }

    /// Every split written so far, in order.
    pub fn written(&self) -> Vec<Split> {
        self.lock().written.clone()
    }

    /// A tag of the listener.
    pub fn tag(&self, key: &str) -> Option<String> {
        self.lock()
            .tags
            .get(LISTENER)
            .and_then(|t| t.get(key).cloned())
    }

    /// Sets the live split behind albflip's back (drift).
    pub fn set_split(&self, split: Split) {
        let mut s = self.lock();
        if let Ok(f) = route::forward_with_split(&s.forward.clone(), &self.groups, split) {
            s.forward = f;
            self.record(&mut s);
        }
    }

    /// Sets the health of a color.
    pub fn set_health(&self, color: Color, health: TargetHealth) {
        self.lock()
            .health
            .insert(self.groups.of(color).to_string(), health);
    }

    /// Sets the forward action's group stickiness behind albflip's back.
    pub fn set_stickiness(&self, stickiness: Stickiness) {
        self.lock().forward.stickiness = Some(stickiness);
    }

    /// The forward action's group stickiness (off when it has none).
    pub fn stickiness(&self) -> Stickiness {
        self.lock().forward.stickiness.unwrap_or(Stickiness::OFF)
    }

    /// Turns target-group-level stickiness on for a color.
    pub fn set_target_group_stickiness(&self, color: Color) {
        let arn = self.groups.of(color).to_string();
        self.lock().sticky_groups.insert(arn);
    }

    /// Makes the route forward to blue alone (no weights), as the reference stack does in the emulator.
    pub fn set_single_group(&self) {
        let blue = self.groups.blue.clone();
        self.lock().forward = ForwardAction {
            targets: vec![ForwardTarget {
                target_group: blue,
                weight: None,
            }],
            stickiness: None,
        };
    }

    /// Makes the next `n` writes fail.
    pub fn fail_writes(&self, n: u32) {
        self.lock().failing_writes = n;
    }

    fn snapshot(&self, s: &State) -> RouteSnapshot {
        RouteSnapshot {
            route: RouteId::Listener(self.listener_arn()),
            load_balancer: arn(LoadBalancerArn::parse(LB)),
            action_types: vec!["forward".into()],
            forward: Some(s.forward.clone()),
            protocol: Some("HTTP".into()),
            preserved: Preserved::new(()),
        }
    }
}

impl TrafficRouter for InMemoryAlb {
    async fn read(&self, route: &RouteId) -> Result<RouteSnapshot, ApiError> {
        if route.resource_arn() != LISTENER {
            return Err(ApiError::new(
                "memory:Read",
                ApiErrorKind::NotFound,
                route.to_string(),
            ));
        }
        let s = self.lock();
        Ok(self.snapshot(&s))
    }

    async fn write(
        &self,
        _current: &RouteSnapshot,
        forward: &ForwardAction,
    ) -> Result<RouteSnapshot, ApiError> {
        let mut s = self.lock();
        if s.failing_writes > 0 {
            s.failing_writes -= 1;
            return Err(ApiError::new(
                "memory:Write",
                ApiErrorKind::Unreachable,
                "injected failure",
            ));
        }
        s.forward = forward.clone();
        let split = route::live_split(forward, &self.groups).map_err(|e| {
            ApiError::new(
                "memory:Write",
                ApiErrorKind::Rejected {
                    code: "Invalid".into(),
                },
                e.to_string(),
            )
        })?;
        s.written.push(split);
        self.record(&mut s);
        Ok(self.snapshot(&s))
    }
}

impl AlbInventory for InMemoryAlb {
    async fn find_listener(
        &self,
        _load_balancer: &str,
        _port: u16,
    ) -> Result<RouteSnapshot, ApiError> {
        let s = self.lock();
        Ok(self.snapshot(&s))
    }

    async fn find_target_group(&self, name: &str) -> Result<Option<TargetGroupInfo>, ApiError> {
        let lb = arn(LoadBalancerArn::parse(LB));
        Ok([&self.groups.blue, &self.groups.green]
            .into_iter()
            .find(|a| a.name() == name)
            .map(|a| TargetGroupInfo {
                arn: a.clone(),
                name: name.to_string(),
                load_balancers: vec![lb],
            }))
    }

    async fn target_group(
        &self,
        arn_: &TargetGroupArn,
    ) -> Result<Option<TargetGroupInfo>, ApiError> {
        self.find_target_group(arn_.name()).await
    }

    async fn target_group_names(&self) -> Result<Vec<String>, ApiError> {
        Ok([&self.groups.blue, &self.groups.green]
            .into_iter()
            .map(|a| a.name().to_string())
            .collect())
    }

    async fn tags(&self, arns: &[&str]) -> Result<BTreeMap<String, Tags>, ApiError> {
        let s = self.lock();
        Ok(arns
            .iter()
            .map(|a| (a.to_string(), s.tags.get(*a).cloned().unwrap_or_default()))
            .collect())
    }

    async fn set_tags(&self, arn_: &str, tags: &[(&str, &str)]) -> Result<(), ApiError> {
        let mut s = self.lock();
        let entry = s.tags.entry(arn_.to_string()).or_default();
        for (k, v) in tags {
            entry.insert(k.to_string(), v.to_string());
        }
        Ok(())
    }

    async fn remove_tags(&self, arn_: &str, keys: &[&str]) -> Result<(), ApiError> {
        if let Some(entry) = self.lock().tags.get_mut(arn_) {
            for k in keys {
                entry.remove(*k);
            }
        }
        Ok(())
    }

    async fn target_group_stickiness(
        &self,
        target_group: &TargetGroupArn,
    ) -> Result<bool, ApiError> {
        Ok(self.lock().sticky_groups.contains(target_group.as_str()))
    }

    async fn find_load_balancer(&self, name: &str) -> Result<Option<LoadBalancerArn>, ApiError> {
        let lb = arn(LoadBalancerArn::parse(LB));
        Ok((lb.name() == name).then_some(lb))
    }

    async fn rules(
        &self,
        _listeners: &[ListenerArn],
        _load_balancer: &LoadBalancerArn,
    ) -> Result<Vec<RouteSnapshot>, ApiError> {
        // The in-memory load balancer has one route, its listener's default action.
        Ok(Vec::new())
    }

    async fn listeners(
        &self,
        load_balancer: &LoadBalancerArn,
    ) -> Result<Vec<RouteSnapshot>, ApiError> {
        let s = self.lock();
        let snapshot = self.snapshot(&s);
        Ok(if &snapshot.load_balancer == load_balancer {
            vec![snapshot]
        } else {
            Vec::new()
        })
    }

    async fn health(&self, target_group: &TargetGroupArn) -> Result<TargetHealth, ApiError> {
        let source = self.lock().health_source.clone();
        if let (Some(HealthSource(health)), Some(color)) =
            (source, self.groups.color_of(target_group))
        {
            return Ok(health(color));
        }
        Ok(self
            .lock()
            .health
            .get(target_group.as_str())
            .copied()
            .unwrap_or_default())
    }
}

/// What a script sees when asked for metrics.
#[derive(Debug, Clone, Copy)]
pub struct MetricContext {
    /// The new color's live share at the time of the poll.
    pub new_percent: u8,
    /// The window's start.
    pub start: SystemTime,
    /// The window's end.
    pub end: SystemTime,
}

/// What a script returns for one poll.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// The new color's metrics.
    pub new: ColorMetrics,
    /// The stable color's metrics.
    pub stable: ColorMetrics,
    /// Alarm states by name.
    pub alarms: Vec<(String, String)>,
    /// The load balancer's own counts, when the script reports them.
    pub load_balancer: Option<crate::plan::LoadBalancerCounts>,
}

impl From<(ColorMetrics, ColorMetrics)> for Sample {
    fn from((new, stable): (ColorMetrics, ColorMetrics)) -> Sample {
        Sample {
            new,
            stable,
            alarms: Vec::new(),
            load_balancer: None,
        }
    }
}

/// Metrics computed by a script from the live split and the window.
pub struct ScriptedMetrics<F> {
    alb: Arc<InMemoryAlb>,
    new: Color,
    script: F,
    polls: Mutex<Vec<MetricContext>>,
}

impl<F> ScriptedMetrics<F>
where
    F: Fn(&MetricContext) -> Sample + Send + Sync,
{
    /// A source that returns `script(context)` for each poll.
    pub fn new(alb: Arc<InMemoryAlb>, new: Color, script: F) -> Self {
        ScriptedMetrics {
            alb,
            new,
            script,
            polls: Mutex::new(Vec::new()),
        }
    }

    /// Every poll so far.
    pub fn polls(&self) -> Vec<MetricContext> {
        self.polls.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

impl<F> MetricSource for ScriptedMetrics<F>
where
    F: Fn(&MetricContext) -> Sample + Send + Sync,
{
    async fn observe(&self, q: &MetricQuery) -> Result<Observation, ApiError> {
        let ctx = MetricContext {
            new_percent: self.alb.split().percent_of(self.new).get(),
            start: q.start,
            end: q.end,
        };
        if let Ok(mut p) = self.polls.lock() {
            p.push(ctx);
        }
        let sample = (self.script)(&ctx);
        let mut observation = Observation::totals(sample.new, sample.stable, q.start, q.end);
        observation.alarms = sample.alarms;
        observation.load_balancer = sample.load_balancer;
        Ok(observation)
    }
}

/// Healthy traffic: `requests` requests with `errors` 5XX, 100 ms latency, 2 healthy hosts.
pub fn traffic(requests: f64, errors: f64) -> ColorMetrics {
    ColorMetrics {
        requests,
        errors,
        latency_seconds: Some(0.1),
        healthy_hosts: Some(2.0),
        unhealthy_hosts: Some(0.0),
    }
}

/// An in-memory lease store with the same conditional semantics as the DynamoDB one.
#[derive(Debug, Default)]
pub struct InMemoryLock {
    leases: Mutex<BTreeMap<String, MemoryLease>>,
}

/// One lease in an [`InMemoryLock`].
#[derive(Debug, Clone)]
struct MemoryLease {
    holder: String,
    since: SystemTime,
    expires: SystemTime,
    version: u64,
}

impl MemoryLease {
    fn view(&self) -> crate::ports::LeaseHolder {
        crate::ports::LeaseHolder {
            holder: self.holder.clone(),
            since: crate::state::timestamp(self.since),
            expires: crate::state::timestamp(self.expires),
            expires_at: Some(self.expires),
            version: self.version,
        }
    }
}

impl InMemoryLock {
    /// Writes a lease as another process would have (a holder that dies right after), for tests.
    pub fn put(&self, key: &str, holder: &str, since: SystemTime, ttl: std::time::Duration) {
        let lease = MemoryLease {
            holder: holder.to_string(),
            since,
            expires: since + ttl,
            version: 1,
        };
        self.leases
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string(), lease);
    }
}

impl crate::ports::Lock for InMemoryLock {
    async fn acquire(
        &self,
        key: &str,
        holder: &str,
        ttl: std::time::Duration,
        now: SystemTime,
        stale: Option<&crate::ports::LeaseHolder>,
    ) -> Result<Result<u64, crate::ports::LeaseHolder>, ApiError> {
        let mut leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(current) = leases.get(key) {
            let view = current.view();
            let watched = stale.is_some_and(|s| {
                s.holder == view.holder && s.since == view.since && s.version == view.version
            });
            if !watched {
                return Ok(Err(view));
            }
        }
        let lease = MemoryLease {
            holder: holder.to_string(),
            since: now,
            expires: now + ttl,
            version: 1,
        };
        leases.insert(key.to_string(), lease);
        Ok(Ok(1))
    }

    async fn renew(
        &self,
        key: &str,
        holder: &str,
        version: u64,
        ttl: std::time::Duration,
        now: SystemTime,
    ) -> Result<Option<u64>, ApiError> {
        let mut leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        match leases.get_mut(key) {
            Some(l) if l.holder == holder && l.version == version => {
                l.expires = now + ttl;
                l.version += 1;
                Ok(Some(l.version))
            }
            _ => Ok(None),
        }
    }

    async fn release(&self, key: &str, holder: &str) -> Result<(), ApiError> {
        let mut leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        if leases.get(key).is_some_and(|l| l.holder == holder) {
            leases.remove(key);
        }
        Ok(())
    }

    async fn holder(&self, key: &str) -> Result<Option<crate::ports::LeaseHolder>, ApiError> {
        let leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        Ok(leases.get(key).map(MemoryLease::view))
    }

    async fn force_release(
        &self,
        key: &str,
        shown: &crate::ports::LeaseHolder,
    ) -> Result<Result<(), Option<crate::ports::LeaseHolder>>, ApiError> {
        let mut leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        let current = leases.get(key).map(MemoryLease::view);
        match current {
            Some(v)
                if v.holder == shown.holder
                    && v.since == shown.since
                    && v.version == shown.version =>
            {
                leases.remove(key);
                Ok(Ok(()))
            }
            other => Ok(Err(other)),
        }
    }
}

/// The blue group of [`InMemoryScaler::blue_green`].
pub const BLUE_ASG: &str = "sim-shop-blue-asg";
/// The green group of [`InMemoryScaler::blue_green`].
pub const GREEN_ASG: &str = "sim-shop-green-asg";

/// An in-memory Auto Scaling API. Linked to an [`InMemoryAlb`] (see [`InMemoryScaler::blue_green`]), a
/// resize brings up (or removes) that many healthy targets in the group's target groups at once, as the
/// emulator does; unlinked, health stays whatever the test sets on the load balancer.
#[derive(Debug, Default)]
pub struct InMemoryScaler {
    groups: Mutex<BTreeMap<String, crate::providers::aws::api::AsgInfo>>,
    writes: Mutex<Vec<(String, crate::ports::Capacity)>>,
    failing_writes: Mutex<u32>,
    alb: Option<Arc<InMemoryAlb>>,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl InMemoryScaler {
    /// No groups, not linked to a load balancer.
    pub fn new() -> InMemoryScaler {
        InMemoryScaler::default()
    }

    /// [`BLUE_ASG`] (desired 2, min 0, max 4) and [`GREEN_ASG`] (desired 0) registered with `alb`'s blue
    /// and green target groups, whose health is set to match (2 healthy blue, no green targets).
    pub fn blue_green(alb: Arc<InMemoryAlb>) -> InMemoryScaler {
        let group = |name: &str, desired: u32, color: Color| crate::providers::aws::api::AsgInfo {
            name: name.to_string(),
            min: 0,
            max: 4,
            desired,
            in_service: desired,
            target_groups: vec![alb.groups().of(color).clone()],
            held_min: None,
        };
        let scaler = InMemoryScaler {
            alb: Some(Arc::clone(&alb)),
            ..InMemoryScaler::default()
        };
        scaler.add(group(BLUE_ASG, 2, Color::Blue));
        scaler.add(group(GREEN_ASG, 0, Color::Green));
        alb.set_health(Color::Green, TargetHealth::default());
        scaler
    }

    /// Adds or replaces a group.
    pub fn add(&self, group: crate::providers::aws::api::AsgInfo) {
        locked(&self.groups).insert(group.name.clone(), group);
    }

    /// A group as it is now.
    pub fn group(&self, name: &str) -> Option<crate::providers::aws::api::AsgInfo> {
        locked(&self.groups).get(name).cloned()
    }

    /// Every resize so far, in order.
    pub fn writes(&self) -> Vec<(String, crate::ports::Capacity)> {
        locked(&self.writes).clone()
    }

    /// Makes the next `n` resizes fail.
    pub fn fail_writes(&self, n: u32) {
        *locked(&self.failing_writes) = n;
    }

    fn bring_up(&self, group: &crate::providers::aws::api::AsgInfo) {
        let Some(alb) = &self.alb else { return };
        let health = TargetHealth::of(group.desired, group.desired);
        for tg in &group.target_groups {
            if let Some(color) = alb.groups().color_of(tg) {
                alb.set_health(color, health);
            }
        }
    }
}

impl crate::providers::aws::api::Scaler for InMemoryScaler {
    async fn groups_for_target_group(
        &self,
        target_group: &TargetGroupArn,
    ) -> Result<Vec<crate::providers::aws::api::AsgInfo>, ApiError> {
        Ok(locked(&self.groups)
            .values()
            .filter(|g| g.target_groups.contains(target_group))
            .cloned()
            .collect())
    }

    async fn describe(
        &self,
        name: &str,
    ) -> Result<Option<crate::providers::aws::api::AsgInfo>, ApiError> {
        Ok(self.group(name))
    }

    async fn set_capacity(
        &self,
        name: &str,
        capacity: crate::ports::Capacity,
    ) -> Result<crate::providers::aws::api::AsgInfo, ApiError> {
        const OP: &str = "memory:UpdateAutoScalingGroup";
        {
            let mut failing = locked(&self.failing_writes);
            if *failing > 0 {
                *failing -= 1;
                return Err(ApiError::new(
                    OP,
                    ApiErrorKind::Unreachable,
                    "injected failure",
                ));
            }
        }
        if capacity.min > capacity.desired || capacity.desired > capacity.max {
            let code = "ValidationError".to_string();
            let why = format!(
                "min {} <= desired {} <= max {} does not hold",
                capacity.min, capacity.desired, capacity.max
            );
            return Err(ApiError::new(OP, ApiErrorKind::Rejected { code }, why));
        }
        let updated = {
            let mut groups = locked(&self.groups);
            let group = groups
                .get_mut(name)
                .ok_or_else(|| ApiError::new(OP, ApiErrorKind::NotFound, name))?;
            (group.min, group.max, group.desired) = (capacity.min, capacity.max, capacity.desired);
            group.in_service = capacity.desired;
            group.clone()
        };
        locked(&self.writes).push((name.to_string(), capacity));
        self.bring_up(&updated);
        Ok(updated)
    }

    async fn set_hold(&self, name: &str, held_min: Option<u32>) -> Result<(), ApiError> {
        let mut groups = locked(&self.groups);
        let group = groups.get_mut(name).ok_or_else(|| {
            ApiError::new("memory:CreateOrUpdateTags", ApiErrorKind::NotFound, name)
        })?;
        group.held_min = held_min;
        Ok(())
    }
}

/// The smallest provider: routes that are nothing but a split each, and records in a map. It implements
/// the neutral [`crate::ports::Router`] and [`crate::ports::StateStore`] directly, as a HAProxy or nginx
/// provider would, and passes the same conformance suite as the ALB. Routes are named by strings; a
/// route named `"broken"` cannot be shifted, and [`InMemoryRouter::refuse_writes_to`] makes the backend
/// refuse the writes of one route.
#[derive(Debug, Default)]
pub struct InMemoryRouter {
    routes: Mutex<BTreeMap<String, Split>>,
    records: Mutex<BTreeMap<String, Tags>>,
    refused: Mutex<Option<String>>,
}

impl InMemoryRouter {
    /// A router holding `routes`, each at `split`.
    pub fn with_routes(routes: &[&str], split: Split) -> InMemoryRouter {
        let router = InMemoryRouter::default();
        if let Ok(mut r) = router.routes.lock() {
            for name in routes {
                r.insert((*name).to_string(), split);
            }
        }
        router
    }

    /// The backend refuses every write to `route` from now on.
    pub fn refuse_writes_to(&self, route: &str) {
        if let Ok(mut r) = self.refused.lock() {
            *r = Some(route.to_string());
        }
    }

    /// The live split of `route`.
    pub fn split_of(&self, route: &str) -> Option<Split> {
        self.routes.lock().ok()?.get(route).copied()
    }
}

impl crate::ports::Router for InMemoryRouter {
    type Route = String;

    async fn read(
        &self,
        route: &String,
    ) -> Result<crate::ports::RouteRead, crate::ports::RouterError> {
        if route == "broken" {
            return Err(crate::ports::RouterError::Unshiftable {
                route: route.clone(),
                reason: "it does not split between blue and green".into(),
            });
        }
        let split = self.split_of(route).ok_or_else(|| {
            ApiError::new(
                "memory:Read",
                ApiErrorKind::NotFound,
                format!("no route {route}"),
            )
        })?;
        Ok(crate::ports::RouteRead {
            name: route.clone(),
            split,
            preserved: crate::ports::Preserved::new(()),
        })
    }

    async fn write(
        &self,
        route: &String,
        _current: &crate::ports::RouteRead,
        split: Split,
    ) -> Result<crate::ports::RouteRead, crate::ports::RouterError> {
        let refused = self.refused.lock().ok().and_then(|r| r.clone());
        if refused.as_deref() == Some(route.as_str()) {
            let kind = ApiErrorKind::Rejected {
                code: "Refused".into(),
            };
            return Err(ApiError::new("memory:Write", kind, "refused by the test").into());
        }
        if let Ok(mut r) = self.routes.lock() {
            r.insert(route.clone(), split);
        }
        self.read(route).await
    }
}

impl crate::ports::StateStore for InMemoryRouter {
    type Route = String;

    async fn load(&self, route: &String) -> Result<Tags, ApiError> {
        Ok(self
            .records
            .lock()
            .ok()
            .and_then(|r| r.get(route).cloned())
            .unwrap_or_default())
    }

    async fn save(&self, route: &String, records: &[(&str, &str)]) -> Result<(), ApiError> {
        if let Ok(mut r) = self.records.lock() {
            let entry = r.entry(route.clone()).or_default();
            for (k, v) in records {
                entry.insert((*k).to_string(), (*v).to_string());
            }
        }
        Ok(())
    }
}
