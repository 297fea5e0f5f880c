//! [`HaproxyRouter`]: a backend's split between its blue and its green servers, read and written through
//! the runtime API. It changes nothing but the weights of the servers it was told are blue and green
//! (`set server BACKEND/SERVER weight N`), and returns what HAProxy reports after every write.

use std::fmt;

use super::runtime::RuntimeApi;
use super::stat::{self, ServerStat, ServerWeight, ServersState, Stats};
use super::weights::{self, Servers};
use crate::model::{Color, Split};
use crate::ports::{
    ApiError, ApiErrorKind, Preserved, RouteRead, Router, RouterError, TargetHealth,
};

/// A HAProxy route: one backend.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HaproxyRoute {
    /// The backend's name.
    pub backend: String,
}

impl HaproxyRoute {
    /// The backend `name`.
    pub fn new(name: impl Into<String>) -> HaproxyRoute {
        HaproxyRoute {
            backend: name.into(),
        }
    }
}

impl fmt::Display for HaproxyRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HAProxy backend {}", self.backend)
    }
}

/// Which servers of a backend are blue and which are green.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerColors {
    /// Blue's servers.
    pub blue: Vec<String>,
    /// Green's servers.
    pub green: Vec<String>,
}

impl ServerColors {
    /// `color`'s servers.
    pub fn of(&self, color: Color) -> &[String] {
        match color {
            Color::Blue => &self.blue,
            Color::Green => &self.green,
        }
    }

    /// The color of `server`, if it is one of them.
    pub fn color_of(&self, server: &str) -> Option<Color> {
        Color::ALL
            .into_iter()
            .find(|c| self.of(*c).iter().any(|s| s == server))
    }
}

/// The weights read with a route, kept in its [`RouteRead`] to order the next write.
#[derive(Debug, Clone)]
pub struct LiveWeights(pub Vec<ServerWeight>);

/// Reads and writes the split of a backend's blue and green servers through HAProxy's runtime API.
#[derive(Debug, Clone)]
pub struct HaproxyRouter {
    api: RuntimeApi,
    colors: ServerColors,
}

impl HaproxyRouter {
    /// A router over `api` with the colors' servers.
    pub fn new(api: RuntimeApi, colors: ServerColors) -> HaproxyRouter {
        HaproxyRouter { api, colors }
    }

    /// The runtime API.
    pub fn api(&self) -> &RuntimeApi {
        &self.api
    }

    /// The colors' servers.
    pub fn colors(&self) -> &ServerColors {
        &self.colors
    }

    /// Every server's weights in `route`'s backend (`show servers state`).
    pub async fn weights(&self, route: &HaproxyRoute) -> Result<Vec<ServerWeight>, ApiError> {
        const OP: &str = "haproxy:show servers state";
        let answer = self
            .api
            .command(OP, &format!("show servers state {}", route.backend))
            .await?;
        match stat::parse_servers_state(&answer) {
            ServersState::Servers(servers) => Ok(servers),
            ServersState::NoBackend => Err(ApiError::new(
                OP,
                ApiErrorKind::NotFound,
                format!("HAProxy has no backend {:?}", route.backend),
            )),
            ServersState::Unexpected(text) => Err(ApiError::new(OP, ApiErrorKind::Other, text)),
        }
    }

    /// `show stat`: every server's counters and status.
    pub async fn stats(&self) -> Result<Stats, ApiError> {
        const OP: &str = "haproxy:show stat";
        let answer = self.api.command(OP, "show stat").await?;
        stat::parse_stat(&answer)
            .ok_or_else(|| ApiError::new(OP, ApiErrorKind::Other, answer.trim().to_string()))
    }

    /// The members of `color` in `route`'s backend as HAProxy's checks see them now.
    pub async fn health(
        &self,
        route: &HaproxyRoute,
        color: Color,
    ) -> Result<TargetHealth, ApiError> {
        let stats = self.stats().await?;
        Ok(health_of(
            &stats.servers,
            &route.backend,
            self.colors.of(color),
        ))
    }

    /// The split the weights give, or why they are not a split of blue and green.
    fn split_of(&self, weights: &[ServerWeight]) -> Result<Split, String> {
        for server in self.colors.blue.iter().chain(&self.colors.green) {
            if !weights.iter().any(|w| &w.server == server) {
                return Err(format!("it has no server {server:?}"));
            }
        }
        if let Some(other) = weights
            .iter()
            .find(|w| w.weight > 0 && self.colors.color_of(&w.server).is_none())
        {
            return Err(format!(
                "its server {} is neither blue nor green and has weight {}: albflip would take its traffic away",
                other.server, other.weight
            ));
        }
        let total = |color: Color| -> u64 {
            weights
                .iter()
                .filter(|w| self.colors.color_of(&w.server) == Some(color))
                .map(|w| u64::from(w.weight))
                .sum()
        };
        weights::split_of(total(Color::Blue), total(Color::Green))
            .ok_or_else(|| "every blue and green server has weight 0".to_string())
    }

    fn route_read(
        &self,
        route: &HaproxyRoute,
        weights: Vec<ServerWeight>,
    ) -> Result<RouteRead, RouterError> {
        let split = self
            .split_of(&weights)
            .map_err(|reason| RouterError::Unshiftable {
                route: route.to_string(),
                reason,
            })?;
        Ok(RouteRead {
            name: route.to_string(),
            split,
            preserved: Preserved::new(LiveWeights(weights)),
        })
    }

    /// One `set server` command; HAProxy answers nothing when it took it.
    async fn set_weight(&self, backend: &str, server: &str, weight: u16) -> Result<(), ApiError> {
        const OP: &str = "haproxy:set server weight";
        let answer = self
            .api
            .command(
                OP,
                &format!("set server {backend}/{server} weight {weight}"),
            )
            .await?;
        let said = answer.trim();
        if said.is_empty() {
            return Ok(());
        }
        let kind = if said.starts_with("No such") {
            ApiErrorKind::NotFound
        } else {
            ApiErrorKind::Rejected {
                code: "HAProxyRefused".into(),
            }
        };
        Err(ApiError::new(
            OP,
            kind,
            format!("{backend}/{server} weight {weight}: {said}"),
        ))
    }
}

/// Healthy, unhealthy and all members among `servers` of `backend`.
pub fn health_of(stats: &[ServerStat], backend: &str, servers: &[String]) -> TargetHealth {
    let mut health = TargetHealth::default();
    for s in stats
        .iter()
        .filter(|s| s.backend == backend && servers.contains(&s.server))
    {
        health.total += 1;
        if s.healthy() {
            health.healthy += 1;
        } else if s.unhealthy() {
            health.unhealthy += 1;
        } else if s.maintenance() {
            health.draining += 1;
        }
    }
    health
}

impl Router for HaproxyRouter {
    type Route = HaproxyRoute;

    async fn read(&self, route: &HaproxyRoute) -> Result<RouteRead, RouterError> {
        let weights = self.weights(route).await?;
        self.route_read(route, weights)
    }

    /// Sets each blue and green server's weight, those that go up first so that the backend never has
    /// all its weight at zero in between, then reads the weights back. A refusal of the first command
    /// changed nothing and is reported as HAProxy's; one after others were taken may have changed the
    /// split and says so.
    async fn write(
        &self,
        route: &HaproxyRoute,
        current: &RouteRead,
        split: Split,
    ) -> Result<RouteRead, RouterError> {
        let before = current
            .preserved
            .get::<LiveWeights>()
            .map(|w| w.0.clone())
            .unwrap_or_default();
        let servers = Servers {
            blue: self.colors.blue.len(),
            green: self.colors.green.len(),
        };
        let wanted = weights::weights_for(split, servers);
        let mut changes: Vec<(&String, u16, u16)> = Color::ALL
            .into_iter()
            .flat_map(|c| self.colors.of(c).iter().map(move |s| (s, c)))
            .map(|(server, color)| {
                let was = before
                    .iter()
                    .find(|w| &w.server == server)
                    .map_or(0, |w| w.weight);
                (server, was, wanted.of(color))
            })
            .filter(|(_, was, want)| was != want)
            .collect();
        // Raises before lowerings: the backend's total weight never passes through zero.
        changes.sort_by_key(|(_, was, want)| *want < *was);
        for (done, (server, _, weight)) in changes.iter().enumerate() {
            if let Err(e) = self.set_weight(&route.backend, server, *weight).await {
                if done == 0 {
                    return Err(e.into());
                }
                return Err(ApiError::new(
                    e.operation.clone(),
                    ApiErrorKind::Other,
                    format!(
                        "{} (after {done} of {} servers were set: the split may have changed)",
                        e.message,
                        changes.len()
                    ),
                )
                .into());
            }
        }
        self.read(route).await
    }
}
