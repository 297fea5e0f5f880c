//! `albflip check`: the pre-flight checks and one gate evaluation now, without changing anything.

use serde::Serialize;

use crate::error::Error;
use crate::model::Color;
use crate::plan::gates::{evaluate, GateReport, Observation, Verdict};
use crate::ports::{CapacityPool, Clock, MetricSource, Provider, Routes};
use crate::preflight::Check;

use super::{DeploySpec, Engine};

/// What `albflip check` found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The named route's id (the ALB: the listener's or rule's ARN).
    pub route: String,
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

impl<P: Provider, M: MetricSource, C: Clock, S: CapacityPool> Engine<'_, P, M, C, S> {
    /// Runs the pre-flight checks for `spec` and evaluates its gates once over the current window.
    /// Writes nothing.
    pub async fn check(&self, target: &P::Target, spec: &DeploySpec) -> Result<CheckReport, Error> {
        let mut routes = self.provider.resolve(target).await?;
        self.find_test_route(&mut routes, spec).await?;
        let new = spec.plan.target;
        let mut checks = routes.preflight(new, spec.min_healthy_hosts).await;
        self.allow_for_capacity(&routes, spec, &mut checks).await?;
        let query = self.query(&routes, spec, self.clock.now());
        // The new color's live health is the pre-flight's verdict (which allows for the capacity deploy
        // raises first); the gates here show the metrics as published.
        let (gates, metrics_error) = match self.observe_with_alarms(&query, spec).await {
            // The load balancer's own 5XX are judged as a rise since a step's write: no step here.
            Ok(observation) => {
                let observation = Observation {
                    load_balancer: None,
                    ..observation
                };
                (Some(evaluate(&spec.gates, &observation, new)), None)
            }
            Err(e) => (None, Some(e.to_string())),
        };
        Ok(CheckReport {
            route: routes.names().id,
            target: new,
            checks,
            gates,
            metrics_error,
        })
    }

    /// The new color's health is judged after its Auto Scaling group is raised: when `deploy` would
    /// raise it first, a short-handed new color is not a failure of `check`, and the verdict says so.
    async fn allow_for_capacity<R: Routes>(
        &self,
        routes: &R,
        spec: &DeploySpec,
        checks: &mut [Check],
    ) -> Result<(), Error> {
        let new = spec.plan.target;
        let name = format!("{new} health");
        let Some(check) = checks.iter_mut().find(|c| c.name == name && !c.passed) else {
            return Ok(());
        };
        if spec.lifecycle.capacity.match_capacity == Some(false) {
            return Ok(());
        }
        let new_asg = self.asg_of(routes, spec, new).await?;
        let stable_asg = self.asg_of(routes, spec, new.other()).await?;
        let (Some(asg), Some(stable_asg)) = (new_asg, stable_asg) else {
            return Ok(());
        };
        // Only a group deploy will raise gets the benefit of the doubt, and only when the stable color's
        // capacity would be enough; a group already at capacity with too few healthy targets fails.
        let stable = self
            .scaler
            .describe(&stable_asg)
            .await
            .map_err(Error::Read)?;
        let current = self.scaler.describe(&asg).await.map_err(Error::Read)?;
        let (Some(stable), Some(current)) = (stable, current) else {
            return Ok(());
        };
        if current.desired < stable.desired && stable.desired >= spec.min_healthy_hosts.max(1) {
            check.passed = true;
            check.detail = format!(
                "too few healthy targets now, but deploy first raises {asg} from {} to {} instances (the stable color's capacity) and waits up to {} for them",
                current.desired,
                stable.desired,
                humantime::format_duration(spec.lifecycle.capacity.ready_timeout)
            )
            .into();
        }
        Ok(())
    }
}
