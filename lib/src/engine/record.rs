//! The deployment record in the route's tags, written as a run goes.

use crate::error::Error;
use crate::model::{Color, Split};
use crate::ports::{ApiError, Clock, MetricSource};
use crate::providers::aws::api::{Alb, Scaler};
use crate::providers::aws::route::RouteId;
use crate::state::{self, DeploymentRecord, Phase};

use super::{DeploySpec, Engine};

impl<A: Alb, M: MetricSource, C: Clock, S: Scaler> Engine<'_, A, M, C, S> {
    pub(super) fn new_record(&self, spec: &DeploySpec, kind: &str) -> DeploymentRecord {
        let now = self.clock.now();
        DeploymentRecord {
            id: state::new_id(now),
            target: spec.plan.target,
            strategy: kind.to_string(),
            steps: spec.plan.steps.iter().map(|s| s.percent.get()).collect(),
            step: 0,
            phase: Phase::InProgress,
            started_by: self.identity.clone(),
            updated: state::timestamp(now),
        }
    }

    /// Writes the record (all its tags in one call), plus `extra` tags.
    pub(super) async fn record_with(
        &self,
        route: &RouteId,
        record: &mut DeploymentRecord,
        extra: &[(&str, &str)],
    ) -> Result<(), ApiError> {
        record.updated = state::timestamp(self.clock.now());
        let tags = record.to_tags();
        let mut pairs: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (*k, v.as_str())).collect();
        pairs.extend_from_slice(extra);
        self.alb.set_tags(route.resource_arn(), &pairs).await
    }

    /// Writes the record.
    pub(super) async fn record(
        &self,
        route: &RouteId,
        record: &mut DeploymentRecord,
    ) -> Result<(), ApiError> {
        self.record_with(route, record, &[]).await
    }

    /// Records that step `n` runs.
    pub(super) async fn record_step(
        &self,
        route: &RouteId,
        record: Option<&mut DeploymentRecord>,
        n: usize,
    ) -> Result<(), Error> {
        match record {
            Some(r) => {
                r.step = n;
                self.record(route, r).await.map_err(Error::Read)
            }
            None => Ok(()),
        }
    }

    /// Writes the record after traffic already reached a safe place; a failure is logged, not fatal.
    pub(super) async fn record_best_effort(&self, route: &RouteId, record: &mut DeploymentRecord) {
        if let Err(e) = self.record(route, record).await {
            tracing::warn!(error = %e, "traffic is safe, but recording the deployment state failed");
            eprintln!("albflip: warning: traffic is safe, but recording the deployment state on {route} failed: {e}; `albflip status` may show a stale state");
        }
    }

    /// Traffic is where it should be but its record could not be written.
    pub(super) fn tag_failed(
        route: &RouteId,
        split: Split,
        color: Color,
        source: ApiError,
    ) -> Error {
        Error::TagFailed {
            split: split.to_string(),
            resource: route.resource_arn().to_string(),
            color,
            source: Box::new(source),
        }
    }
}
