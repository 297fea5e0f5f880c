//! The deployment record in the route's tags, written as a run goes.

use crate::error::Error;
use crate::events::Event;
use crate::ports::{ApiError, Clock, MetricSource};
use crate::providers::aws::api::{Alb, Scaler};
use crate::providers::aws::route::RouteId;
use crate::state::{self, DeploymentRecord, Phase};

use super::context::Run;
use super::{DeploySpec, Engine};

impl<A: Alb, M: MetricSource, C: Clock, S: Scaler> Engine<'_, A, M, C, S> {
    /// A new deployment record for `spec`: in progress, no step yet, started now by this engine's
    /// identity.
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

    /// Records that step `n` runs (nothing to record in a gated `shift`).
    pub(super) async fn record_step(&self, run: &mut Run<'_>, n: usize) -> Result<(), Error> {
        let route = run.route();
        match run.record.as_mut() {
            Some(r) => {
                r.step = n;
                self.record(route, r).await.map_err(Error::Read)
            }
            None => Ok(()),
        }
    }

    /// Records the run's `phase` after traffic already reached a safe place; a failure is reported
    /// ([`Event::RecordFailed`]), not fatal.
    pub(super) async fn record_best_effort(&self, run: &mut Run<'_>, phase: Phase) {
        let route = run.route();
        let Some(r) = run.record.as_mut() else {
            return;
        };
        r.phase = phase;
        if let Err(e) = self.record(route, r).await {
            tracing::warn!(error = %e, "traffic is safe, but recording the deployment state failed");
            self.emit(Event::RecordFailed {
                route: route.resource_arn().to_string(),
                error: e.to_string(),
            });
        }
    }

    /// Records the run's final `phase` with `extra` tags; traffic is already where it should be, so a
    /// failure says so ([`Error::TagFailed`]).
    pub(super) async fn record_final(
        &self,
        run: &mut Run<'_>,
        phase: Phase,
        extra: &[(&str, &str)],
    ) -> Result<(), Error> {
        let route = run.route();
        let Some(r) = run.record.as_mut() else {
            return Ok(());
        };
        r.phase = phase;
        let written = self.record_with(route, r, extra).await;
        written.map_err(|e| run.tag_failed(e))
    }
}
