//! `albflip check`: the pre-flight checks and one gate evaluation now, without changing anything.

use serde::Serialize;

use crate::error::Error;
use crate::model::Color;
use crate::plan::gates::{evaluate, GateReport, Verdict};
use crate::ports::{Alb, Clock, MetricSource, Scaler};
use crate::preflight::{self, Check};
use crate::resolve::{self, Target};
use crate::route::RouteId;

use super::{DeploySpec, Engine};

/// What `albflip check` found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The named route.
    pub route: RouteId,
    /// The color that would receive traffic.
    pub target: Color,
    /// The pre-flight checks, in order.
    pub checks: Vec<Check>,
    /// The gates evaluated over the current metrics window, when the metrics could be read.
    pub gates: Option<GateReport>,
    /// Why the metrics could not be read, if they could not.
    pub metrics_error: Option<String>,
}

impl CheckReport {
    /// Whether every check passed and no gate failed (a gate without data yet is not a failure: the
    /// new color has no traffic before the first step).
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
            && self.metrics_error.is_none()
            && self
                .gates
                .as_ref()
                .is_none_or(|g| g.results.iter().all(|r| r.verdict != Verdict::Fail))
    }
}

impl<A: Alb, M: MetricSource, C: Clock, S: Scaler> Engine<'_, A, M, C, S> {
    /// Runs the pre-flight checks for `spec` and evaluates its gates once over the current window.
    /// Writes nothing.
    pub async fn check(&self, target: &Target, spec: &DeploySpec) -> Result<CheckReport, Error> {
        let resolved = resolve::resolve(self.alb, target).await?;
        let new = spec.plan.target;
        let checks = preflight::checks(self.alb, &resolved, new, spec.min_healthy_hosts).await;
        let query = self.query(&resolved, spec, self.clock.now());
        let (gates, metrics_error) = match self.metrics.observe(&query).await {
            Ok(observation) => (Some(evaluate(&spec.gates, &observation, new)), None),
            Err(e) => (None, Some(e.to_string())),
        };
        Ok(CheckReport {
            route: resolved.snapshot.route.clone(),
            target: new,
            checks,
            gates,
            metrics_error,
        })
    }
}
