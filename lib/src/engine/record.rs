//! The deployment record on the named route (the ALB: in its tags), written as a run goes.

use crate::error::Error;
use crate::events::Event;
use crate::ports::{ApiError, CapacityPool, Clock, MetricSource, Provider, Routes};
use crate::state::{self, DeploymentRecord, Phase};

use super::context::Run;
use super::{DeploySpec, Engine};

impl<P: Provider, M: MetricSource, C: Clock, S: CapacityPool> Engine<'_, P, M, C, S> {
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
            gated: !spec.ungated,
        }
    }

    /// Writes the record (all its tags in one call), plus `extra` tags.
    pub(super) async fn record_with<R: Routes>(
        &self,
        routes: &R,
        record: &mut DeploymentRecord,
        extra: &[(&str, &str)],
    ) -> Result<(), ApiError> {
        record.updated = state::timestamp(self.clock.now());
        let tags = record.to_tags();
        let mut pairs: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (*k, v.as_str())).collect();
        pairs.extend_from_slice(extra);
        routes.save(&pairs).await
    }

    /// Writes the record.
    pub(super) async fn record<R: Routes>(
        &self,
        routes: &R,
        record: &mut DeploymentRecord,
    ) -> Result<(), ApiError> {
        self.record_with(routes, record, &[]).await
    }

    /// Records that step `n` runs (nothing to record in a gated `shift`).
    pub(super) async fn record_step<R: Routes>(
        &self,
        run: &mut Run<'_, R>,
        n: usize,
    ) -> Result<(), Error> {
        let routes = run.routes;
        match run.record.as_mut() {
            Some(r) => {
                r.step = n;
                self.record(routes, r).await.map_err(Error::Read)
            }
            None => Ok(()),
        }
    }

    /// Records the run's `phase` after traffic already reached a safe place; a failure is reported
    /// ([`Event::RecordFailed`]), not fatal.
    pub(super) async fn record_best_effort<R: Routes>(&self, run: &mut Run<'_, R>, phase: Phase) {
        let routes = run.routes;
        let Some(r) = run.record.as_mut() else {
            return;
        };
        r.phase = phase;
        if let Err(e) = self.record(routes, r).await {
            tracing::warn!(error = %e, "traffic is safe, but recording the deployment state failed");
            self.emit(Event::RecordFailed {
                route: routes.names().id,
                error: e.to_string(),
            });
        }
    }

    /// Records the run's final `phase` with `extra` tags; traffic is already where it should be, so a
    /// failure says so ([`Error::TagFailed`]).
    pub(super) async fn record_final<R: Routes>(
        &self,
        run: &mut Run<'_, R>,
        phase: Phase,
        extra: &[(&str, &str)],
    ) -> Result<(), Error> {
        let routes = run.routes;
        let Some(r) = run.record.as_mut() else {
            return Ok(());
        };
        r.phase = phase;
        let written = self.record_with(routes, r, extra).await;
        written.map_err(|e| run.tag_failed(e))
    }
}
