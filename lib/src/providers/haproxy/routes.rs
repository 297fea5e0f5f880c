//! A HAProxy backend as the engine drives it: [`Haproxy`] (one HAProxy's runtime API and the state file)
//! resolves a [`HaproxyTarget`] (a backend and its blue and green servers) into [`HaproxyRoutes`]. One
//! backend is one route: there are no lockstep peers and no test listener. The records (deployment,
//! stable color) live in the state file under the key [`HaproxyRoutes::names`] gives as `id`, which
//! is also the lock's key.

use crate::error::Error;
use crate::input::{Input, Text};
use crate::model::{Color, Split};
use crate::ports::{
    ApiError, ApiErrorKind, Backend, Labels, Member, Provider, RouteNames, RouteRead, Router,
    RouterError, Routes, StateStore, Tags, TargetHealth, TestListener,
};
use crate::preflight::Check;
use crate::providers::local::{single_route, NoProbe, StateFile, COUNTER_LABEL};
use crate::state::{self, DeploymentRecord, RouteState, STABLE_TAG};
use crate::switch::SwitchError;
use crate::text;

use super::counters::key;
use super::router::{HaproxyRoute, HaproxyRouter, LiveWeights, ServerColors};
use super::runtime::RuntimeApi;
use super::stat::ServerWeight;

/// What a user names on HAProxy: a backend and which of its servers are blue and which green.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaproxyTarget {
    /// The backend.
    pub backend: String,
    /// Its blue and green servers.
    pub colors: ServerColors,
}

impl HaproxyTarget {
    /// Refuses a target albflip cannot act on: no backend, a color without servers, a server in both.
    pub fn check(&self) -> Result<(), Error> {
        if self.backend.trim().is_empty() {
            return Err(Error::invalid_text(
                "the HAProxy backend",
                "it is empty",
                "Name the backend whose blue and green servers albflip moves traffic between",
            ));
        }
        for color in Color::ALL {
            let servers = self.colors.of(color);
            if servers.is_empty() || servers.iter().any(|s| s.trim().is_empty()) {
                return Err(Error::invalid(
                    Input::target_group(color),
                    text!({given Input::target_group(color)}),
                    format!("{color} needs one or more HAProxy server names, none empty"),
                    "Give the servers of the color as named in the backend, comma-separated (e.g. blue1,blue2)",
                ));
            }
        }
        if let Some(both) = self
            .colors
            .blue
            .iter()
            .find(|s| self.colors.green.contains(s))
        {
            return Err(Error::invalid(
                Input::GreenTargetGroup,
                text!({given Input::BlueTargetGroup}, " and ", {given Input::GreenTargetGroup}),
                format!("the server {both} is in both colors"),
                "Give each server to one color only",
            ));
        }
        Ok(())
    }
}

/// One HAProxy (its runtime API) with albflip's state file.
#[derive(Debug, Clone)]
pub struct Haproxy {
    api: RuntimeApi,
    state: StateFile,
}

impl Haproxy {
    /// The HAProxy behind `api`, with its records in `state`.
    pub fn new(api: RuntimeApi, state: StateFile) -> Haproxy {
        Haproxy { api, state }
    }

    /// The runtime API.
    pub fn api(&self) -> &RuntimeApi {
        &self.api
    }

    /// The key of `backend`'s records and lock: the socket and the backend.
    pub fn route_key(&self, backend: &str) -> String {
        format!("haproxy {} {backend}", self.api.socket())
    }
}

/// A resolved HAProxy backend.
#[derive(Debug)]
pub struct HaproxyRoutes<'a> {
    provider: &'a Haproxy,
    router: HaproxyRouter,
    route: HaproxyRoute,
    read: RouteRead,
    records: Tags,
    stable: Color,
}

/// A read error as the engine reports it: a backend that does not exist is the user's to fix.
fn read_error(route: &HaproxyRoute, e: RouterError) -> Error {
    match e {
        RouterError::Api(e) if e.kind == ApiErrorKind::NotFound => Error::NotFound {
            what: format!("{route} ({})", e.message).into(),
            fix: "Name a backend of this HAProxy (`show stat` lists them), or the runtime API socket of the HAProxy that has it".into(),
        },
        RouterError::Api(e) => Error::Read(e),
        RouterError::Unshiftable { route, reason } => unshiftable(&route, &reason),
    }
}

fn unshiftable(route: &str, reason: &str) -> Error {
    Error::State {
        what: text!(format!("cannot shift the {route}: {reason}")),
        fix: text!(
            "Name every server of each color (",
            {input Input::BlueTargetGroup},
            ", ",
            {input Input::GreenTargetGroup},
            ") and give any other server of the backend weight 0"
        ),
    }
}

/// A failed verified write as the engine's error.
fn switch_error(e: SwitchError) -> Error {
    match e {
        SwitchError::Write {
            route,
            source: RouterError::Api(source),
            ..
        } => Error::WriteFailed { route, source },
        SwitchError::Write {
            source: RouterError::Unshiftable { route, reason },
            ..
        } => unshiftable(&route, &reason),
        SwitchError::Verification {
            route,
            expected,
            found,
        } => Error::VerificationFailed {
            route,
            expected: expected.to_string(),
            found,
        },
        SwitchError::PutBack { cause, .. } => switch_error(*cause),
    }
}

impl Provider for Haproxy {
    type Target = HaproxyTarget;
    type Routes<'a> = HaproxyRoutes<'a>;

    async fn resolve<'a>(&'a self, target: &'a HaproxyTarget) -> Result<HaproxyRoutes<'a>, Error> {
        target.check()?;
        let router = HaproxyRouter::new(self.api.clone(), target.colors.clone());
        let route = HaproxyRoute::new(&target.backend);
        let key = self.route_key(&target.backend);
        let (read, records) = tokio::join!(router.read(&route), self.state.load(&key));
        let read = read.map_err(|e| read_error(&route, e))?;
        let records = records.map_err(Error::Read)?;
        let stable = records
            .get(STABLE_TAG)
            .and_then(|c| c.parse().ok())
            .unwrap_or(Color::Blue);
        Ok(HaproxyRoutes {
            provider: self,
            router,
            route,
            read,
            records,
            stable,
        })
    }
}

impl HaproxyRoutes<'_> {
    /// The weights as resolved.
    pub fn weights(&self) -> &[ServerWeight] {
        self.read
            .preserved
            .get::<LiveWeights>()
            .map_or(&[], |w| w.0.as_slice())
    }

    fn key(&self) -> String {
        self.provider.route_key(&self.route.backend)
    }

    fn record(&self) -> Option<DeploymentRecord> {
        DeploymentRecord::from_tags(&self.records)
    }

    fn live_state<'r>(&'r self, record: Option<&'r DeploymentRecord>) -> RouteState<'r> {
        RouteState {
            route: &self.route,
            record,
            split: self.read.split,
            stable: self.stable,
        }
    }

    /// The route read now; refused when it cannot be shifted.
    async fn read_live(&self) -> Result<RouteRead, Error> {
        self.router
            .read(&self.route)
            .await
            .map_err(|e| read_error(&self.route, e))
    }
}

impl Routes for HaproxyRoutes<'_> {
    type Test = ();
    type Probe = NoProbe;

    fn names(&self) -> RouteNames {
        RouteNames {
            route: self.route.to_string(),
            id: self.key(),
            listener: self.provider.api.socket().to_string(),
        }
    }

    fn split(&self) -> Split {
        self.read.split
    }

    fn stable(&self) -> Color {
        self.stable
    }

    fn records(&self) -> &Tags {
        &self.records
    }

    fn backend(&self, color: Color) -> Backend {
        let servers = self.router.colors().of(color);
        let backend = &self.route.backend;
        Backend {
            color,
            name: format!("{backend}/{}", servers.join(",")),
            id: format!("{backend}/{}", servers.join(",")),
            scopes: servers
                .iter()
                .map(|s| Labels::from([(COUNTER_LABEL.to_string(), key(backend, s))]))
                .collect(),
        }
    }

    fn check_agreement(&self) -> Result<(), Error> {
        Ok(())
    }

    fn check_can_start(&self, new: Color) -> Result<(), Error> {
        let record = self.record();
        state::check_can_start(self.live_state(record.as_ref()), new)
    }

    async fn health(&self, color: Color) -> Result<TargetHealth, ApiError> {
        self.router.health(&self.route, color).await
    }

    async fn check_health(
        &self,
        split: Split,
        force: bool,
        min_healthy: u32,
    ) -> Result<Vec<Text>, Error> {
        let mut warnings = Vec::new();
        for color in Color::ALL {
            let percent = split.percent_of(color);
            if percent <= self.read.split.percent_of(color) {
                continue;
            }
            let servers = self.router.colors().of(color).join(",");
            let health = self.health(color).await.map_err(Error::Read)?;
            let needed = min_healthy.max(1);
            if health.healthy >= needed {
                continue;
            }
            let error = Error::NoHealthyTargets {
                color,
                target_group: format!("{}/{servers}", self.route.backend),
                percent,
                healthy: health.healthy,
                total: health.total,
                needed,
            };
            if !force {
                return Err(error);
            }
            warnings.push(text!(
                format!(
                    "WARNING: {color} ({servers}) has {} healthy of {} servers; sending it {percent} anyway because of ",
                    health.healthy, health.total
                ),
                {input Input::Force}
            ));
        }
        Ok(warnings)
    }

    async fn check_writable(&self) -> Result<(), Error> {
        let stats = self.router.stats().await.map_err(Error::Read)?;
        match stats.algorithms.get(&self.route.backend).map(String::as_str) {
            Some("static-rr") => Err(unshiftable(
                &self.route.to_string(),
                "it balances with static-rr, whose weights HAProxy does not change at run time (only 0 % and 100 %)",
            )),
            _ => Ok(()),
        }
    }

    async fn write_step(
        &self,
        expected: Split,
        split: Split,
        adopt_drift: bool,
        on_adopted: &(dyn Fn(Split) + Sync),
    ) -> Result<(), Error> {
        let live = self.read_live().await?;
        single_route::write_step(
            &self.router,
            &self.route,
            live,
            expected,
            split,
            adopt_drift,
            on_adopted,
            switch_error,
        )
        .await
    }

    async fn rollback(&self, to: Color) -> Result<(), Error> {
        let live = self.read_live().await?;
        single_route::rollback(&self.router, &self.route, live, to, switch_error).await
    }

    async fn load_records(&self) -> Result<Tags, ApiError> {
        self.provider.state.load(&self.key()).await
    }

    async fn save(&self, records: &[(&str, &str)]) -> Result<(), ApiError> {
        self.provider.state.save(&self.key(), records).await
    }

    async fn mark_stable(&self, color: Color, split: Split, peers_only: bool) -> Result<(), Error> {
        if peers_only {
            return Ok(());
        }
        self.save(&[(STABLE_TAG, color.as_str())])
            .await
            .map_err(|source| Error::TagFailed {
                split: split.to_string(),
                resource: self.provider.state.dir().path().display().to_string(),
                color,
                source: Box::new(source),
            })
    }

    async fn check_unserved(
        &self,
        color: Color,
        _test: Option<&()>,
        pool: &str,
    ) -> Result<(), Error> {
        let live = self.read_live().await?;
        single_route::check_unserved(&self.route, &live, color, pool)
    }

    async fn take_test_route(&mut self, _spec: &TestListener) -> Result<Option<()>, Error> {
        Err(Error::invalid(
            Input::TestListenerPort,
            text!({given Input::TestListenerPort}),
            "a HAProxy backend has no test listener",
            "Leave the test listener out; point a second backend at the new color yourself to test it first",
        ))
    }

    async fn point_test_route(&self, _test: &(), _color: Color) -> Result<(), Error> {
        Ok(())
    }

    fn test_route_id(&self, _test: &()) -> String {
        String::new()
    }

    fn probe(&self) -> NoProbe {
        NoProbe
    }

    async fn preflight(&self, new: Color, min_healthy: u32) -> Vec<Check> {
        let mut checks = vec![Check::new(
            "route",
            Ok(format!(
                "{} is {} (read through {})",
                self.route,
                self.read.split,
                self.provider.api.socket()
            )),
        )];
        checks.push(Check::new(
            "writable",
            self.check_writable()
                .await
                .map(|()| "the backend's algorithm takes run-time weights".into()),
        ));
        let health = self.health(new).await;
        checks.push(Check::new(
            format!("{new} health"),
            match health {
                Ok(h) if h.healthy >= min_healthy.max(1) => {
                    Ok(format!("{} of {} servers up", h.healthy, h.total))
                }
                Ok(h) => Err(Error::NoHealthyTargets {
                    color: new,
                    target_group: self.backend(new).name,
                    percent: crate::model::Percent::FULL,
                    healthy: h.healthy,
                    total: h.total,
                    needed: min_healthy.max(1),
                }),
                Err(e) => Err(Error::Read(e)),
            },
        ));
        checks.push(Check::new(
            "deployment state",
            self.check_can_start(new)
                .map(|()| "no deployment in flight".into()),
        ));
        checks
    }

    fn members(&self) -> Vec<Member> {
        let colors = self.router.colors();
        self.weights()
            .iter()
            .filter_map(|w| {
                Some(Member {
                    color: colors.color_of(&w.server)?,
                    name: w.server.clone(),
                    weight: u32::from(w.weight),
                    configured_weight: Some(u32::from(w.initial)),
                })
            })
            .collect()
    }

    fn status_warnings(&self) -> Vec<Text> {
        let changed: Vec<String> = self
            .members()
            .iter()
            .filter(|m| m.configured_weight != Some(m.weight))
            .map(|m| {
                format!(
                    "{} {} (configured {})",
                    m.name,
                    m.weight,
                    m.configured_weight.unwrap_or(0)
                )
            })
            .collect();
        if changed.is_empty() {
            return Vec::new();
        }
        vec![text!(format!(
            "the live weights differ from the configuration's ({}): a reload or restart of HAProxy puts the configured weights back unless it keeps them in a server-state-file (see the README's HAProxy section)",
            changed.join(", ")
        ))]
    }
}
