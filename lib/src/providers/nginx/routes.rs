//! An nginx upstream as the engine drives it: [`Nginx`] (how nginx is controlled, the health path and
//! the state file) resolves an [`NginxTarget`] (an upstream file, the upstream's name and its blue and
//! green servers) into [`NginxRoutes`]. One upstream is one route: there are no lockstep peers and no
//! test listener. The records (deployment, stable color) live in the state file under the key
//! [`NginxRoutes::names`] gives as `id`, which is also the lock's key. Open-source nginx has no active
//! health checks: a server is healthy when its health URL answers 2xx or 3xx.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::Error;
use crate::input::{Input, Text};
use crate::model::{Color, Split};
use crate::ports::{
    ApiError, ApiErrorKind, Backend, HttpProbe, Labels, Member, Provider, RouteNames, RouteRead,
    Router, RouterError, Routes, StateStore, Tags, TargetHealth, TestListener,
};
use crate::preflight::Check;
use crate::providers::aws::http::SdkHttp;
use crate::providers::haproxy::ServerColors;
use crate::providers::local::{single_route, StateFile, COUNTER_LABEL};
use crate::state::{self, DeploymentRecord, RouteState, STABLE_TAG};
use crate::switch::SwitchError;
use crate::text;

use super::control::Control;
use super::router::{LiveUpstream, NginxRoute, NginxRouter};

/// How long a health probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What a user names on nginx: the upstream file albflip owns, the upstream in it, and which of its
/// servers are blue and which green (`HOST:PORT` as written in the file and logged by nginx).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NginxTarget {
    /// The upstream file.
    pub file: PathBuf,
    /// The upstream's name.
    pub upstream: String,
    /// Its blue and green servers.
    pub colors: ServerColors,
}

impl NginxTarget {
    /// Refuses a target albflip cannot act on: no upstream name, a color without servers, a server
    /// that is not `HOST:PORT`, a server in both colors.
    pub fn check(&self) -> Result<(), Error> {
        if self.upstream.trim().is_empty() || self.upstream.contains(char::is_whitespace) {
            return Err(Error::invalid_text(
                "the nginx upstream",
                "it is empty or has spaces",
                "Name the upstream block whose blue and green servers albflip moves traffic between",
            ));
        }
        for color in Color::ALL {
            let servers = self.colors.of(color);
            let bad = servers.iter().find(|s| {
                s.rsplit_once(':')
                    .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
            });
            if servers.is_empty() || bad.is_some() {
                return Err(Error::invalid(
                    Input::target_group(color),
                    text!({given Input::target_group(color)}),
                    format!(
                        "{color} needs one or more servers as HOST:PORT{}",
                        bad.map_or(String::new(), |b| format!(" ({b:?} is not)"))
                    ),
                    "Give the color's servers as written in the upstream, comma-separated (e.g. 127.0.0.1:8081,127.0.0.1:8082)",
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

    /// The route.
    pub fn route(&self) -> NginxRoute {
        NginxRoute::new(&self.file, &self.upstream)
    }
}

/// One nginx: how it is tested and reloaded, each server's health path, and albflip's state file.
#[derive(Debug, Clone)]
pub struct Nginx {
    control: Control,
    health_path: String,
    state: StateFile,
}

impl Nginx {
    /// The nginx controlled by `control`, its servers probed at `health_path`, records in `state`.
    pub fn new(control: Control, health_path: impl Into<String>, state: StateFile) -> Nginx {
        Nginx {
            control,
            health_path: health_path.into(),
            state,
        }
    }

    /// The key of an upstream's records and lock: the file and the upstream.
    pub fn route_key(route: &NginxRoute) -> String {
        format!("nginx {} {}", route.file.display(), route.upstream)
    }
}

/// A resolved nginx upstream.
#[derive(Debug)]
pub struct NginxRoutes<'a> {
    provider: &'a Nginx,
    router: NginxRouter,
    route: NginxRoute,
    read: RouteRead,
    records: Tags,
    stable: Color,
}

/// A read error as the engine reports it: a file or upstream that does not exist is the user's to fix.
fn read_error(route: &NginxRoute, e: RouterError) -> Error {
    match e {
        RouterError::Api(e) if e.kind == ApiErrorKind::NotFound => Error::NotFound {
            what: format!("{route} ({})", e.message).into(),
            fix: "Point albflip at the upstream file your nginx.conf includes and the upstream block in it (see the README's nginx section for the file albflip expects)".into(),
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
            ") and mark any other server of the upstream down"
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

impl Provider for Nginx {
    type Target = NginxTarget;
    type Routes<'a> = NginxRoutes<'a>;

    async fn resolve<'a>(&'a self, target: &'a NginxTarget) -> Result<NginxRoutes<'a>, Error> {
        target.check()?;
        let router = NginxRouter::new(self.control.clone(), target.colors.clone());
        let route = target.route();
        let key = Nginx::route_key(&route);
        let (read, records) = tokio::join!(router.read(&route), self.state.load(&key));
        let read = read.map_err(|e| read_error(&route, e))?;
        let records = records.map_err(Error::Read)?;
        let stable = records
            .get(STABLE_TAG)
            .and_then(|c| c.parse().ok())
            .unwrap_or(Color::Blue);
        Ok(NginxRoutes {
            provider: self,
            router,
            route,
            read,
            records,
            stable,
        })
    }
}

impl NginxRoutes<'_> {
    fn key(&self) -> String {
        Nginx::route_key(&self.route)
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

    async fn read_live(&self) -> Result<RouteRead, Error> {
        self.router
            .read(&self.route)
            .await
            .map_err(|e| read_error(&self.route, e))
    }

    /// Whether `server`'s health URL answers 2xx or 3xx now.
    async fn probe_server(&self, http: &SdkHttp, server: &str) -> bool {
        let path = &self.provider.health_path;
        let slash = if path.starts_with('/') { "" } else { "/" };
        let url = format!("http://{server}{slash}{path}");
        matches!(
            tokio::time::timeout(PROBE_TIMEOUT, http.get(&url)).await,
            Ok(Ok(status)) if (200..400).contains(&status)
        )
    }
}

impl Routes for NginxRoutes<'_> {
    type Test = ();
    type Probe = SdkHttp;

    fn names(&self) -> RouteNames {
        RouteNames {
            route: self.route.to_string(),
            id: self.key(),
            listener: self.route.file.display().to_string(),
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
        Backend {
            color,
            name: format!("{}/{}", self.route.upstream, servers.join(",")),
            id: format!("{}/{}", self.route.upstream, servers.join(",")),
            scopes: servers
                .iter()
                .map(|s| Labels::from([(COUNTER_LABEL.to_string(), s.clone())]))
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
        let http = SdkHttp::new();
        let mut health = TargetHealth::default();
        for server in self.router.colors().of(color) {
            health.total += 1;
            if self.probe_server(&http, server).await {
                health.healthy += 1;
            } else {
                health.unhealthy += 1;
            }
        }
        Ok(health)
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
                target_group: format!("{}/{servers}", self.route.upstream),
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

    /// nginx's configuration passes its test as it is now, and nginx runs.
    async fn check_writable(&self) -> Result<(), Error> {
        let control = self.router.control();
        super::control::master(&control.pid_file).map_err(|why| {
            Error::Read(ApiError::new(
                "nginx:reload",
                ApiErrorKind::Unreachable,
                why,
            ))
        })?;
        self.router.test_config().await.map_err(|e| Error::State {
            what: text!(format!(
                "nginx's configuration fails its test before albflip changed anything: {}",
                e.message
            )),
            fix: text!("Fix nginx's configuration until its test passes, then run albflip again"),
        })
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
            "an nginx upstream has no test listener",
            "Leave the test listener out; point a second server block at the new color yourself to test it first",
        ))
    }

    async fn point_test_route(&self, _test: &(), _color: Color) -> Result<(), Error> {
        Ok(())
    }

    fn test_route_id(&self, _test: &()) -> String {
        String::new()
    }

    fn probe(&self) -> SdkHttp {
        SdkHttp::new()
    }

    async fn preflight(&self, new: Color, min_healthy: u32) -> Vec<Check> {
        let mut checks = vec![Check::new(
            "route",
            Ok(format!("{} is {}", self.route, self.read.split)),
        )];
        checks.push(Check::new(
            "writable",
            self.check_writable()
                .await
                .map(|()| "nginx runs and its configuration test passes".into()),
        ));
        let health = self.health(new).await;
        checks.push(Check::new(
            format!("{new} health"),
            match health {
                Ok(h) if h.healthy >= min_healthy.max(1) => Ok(format!(
                    "{} of {} servers answer {}",
                    h.healthy, h.total, self.provider.health_path
                )),
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
        let Some(live) = self.read.preserved.get::<LiveUpstream>() else {
            return Vec::new();
        };
        live.upstream
            .servers()
            .filter_map(|s| {
                Some(Member {
                    color: colors.color_of(&s.address)?,
                    name: s.address.clone(),
                    weight: s.effective(),
                    configured_weight: None,
                })
            })
            .collect()
    }

    fn status_warnings(&self) -> Vec<Text> {
        Vec::new()
    }
}
