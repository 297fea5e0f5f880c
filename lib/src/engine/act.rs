//! One step's write (re-read, drift check, write, read-back) and putting traffic back.

use crate::error::Error;
use crate::events::Event;
use crate::input::Text;
use crate::model::{Color, Split};
use crate::ports::{Clock, MetricSource};
use crate::providers::aws::api::{Alb, Scaler};
use crate::providers::aws::resolve::Resolved;
use crate::providers::aws::route;
use crate::providers::aws::unsupported::unsupported;
use crate::providers::aws::write::{self, Verification};
use crate::state::Phase;
use crate::traffic;

use super::context::Run;
use super::Engine;

impl<A: Alb, M: MetricSource, C: Clock, S: Scaler> Engine<'_, A, M, C, S> {
    /// Reads every route live, refuses on drift, writes the step's split on all of them and reads them
    /// back; a failure part-way puts the routes already written back.
    pub(super) async fn apply_step(
        &self,
        run: &Run<'_>,
        split: Split,
        step: usize,
    ) -> Result<(), Error> {
        let (resolved, expected, adopt_drift) = (run.resolved, run.expected, run.spec.adopt_drift);
        let mut pending = Vec::new();
        for snapshot in resolved.routes() {
            let live = self.alb.read(&snapshot.route).await.map_err(Error::Read)?;
            let forward = route::forward_of(&live).map_err(|p| unsupported(&live.route, p))?;
            let live_split = route::live_split(forward, &resolved.groups)
                .map_err(|p| unsupported(&live.route, p))?;
            if live_split != expected && adopt_drift {
                self.emit(Event::DriftAdopted {
                    step,
                    expected: expected.into(),
                    found: live_split.into(),
                });
            } else if live_split != expected {
                return Err(Error::Drift {
                    route: live.route.clone(),
                    expected: expected.to_string(),
                    found: live_split.to_string(),
                });
            }
            if live_split != split || forward.targets.len() < 2 {
                traffic::check_conversion(self.alb, resolved, &live.route, forward).await?;
                pending.push(live);
            }
        }
        if !pending.is_empty() {
            write::write_group(
                self.alb,
                &pending,
                &resolved.groups,
                split,
                Verification::ReadBack,
            )
            .await?;
        }
        Ok(())
    }

    /// Traffic back to `stable` on every route: fresh reads, one write per route that needs it,
    /// verified from its response; a route that fails does not stop the others.
    pub(super) async fn rollback_to(
        &self,
        resolved: &Resolved,
        stable: Color,
        cause: Text,
    ) -> Result<(), Error> {
        let result =
            write::rollback_each(self.alb, &resolved.routes(), &resolved.groups, stable).await;
        match result {
            Ok(_) => {
                self.emit(Event::RolledBack {
                    to: stable,
                    split: Split::all_to(stable).into(),
                });
                Ok(())
            }
            Err(e) => Err(Error::RollbackFailed {
                cause,
                rollback: Box::new(e),
            }),
        }
    }

    /// After an unexpected error mid-deployment: traffic back to stable unless the error was drift (a
    /// human is changing the route; albflip stops without writing).
    pub(super) async fn abort(&self, run: &mut Run<'_>, e: Error) -> Error {
        if matches!(e, Error::Drift { .. }) {
            return e;
        }
        let (stable, route) = (run.stable(), run.route());
        match self.rollback_to(run.resolved, stable, e.text()).await {
            Ok(()) => {
                if let Some(r) = run.record.as_mut() {
                    r.phase = Phase::RolledBack;
                    // Best effort: traffic is back and verified; a failed tag write must not hide the cause.
                    if let Err(tag_error) = self.record(route, r).await {
                        tracing::warn!(%tag_error, "could not record the rolled-back state");
                    }
                }
                Error::Aborted {
                    cause: Box::new(e),
                    stable,
                }
            }
            Err(rollback_error) => rollback_error,
        }
    }
}
