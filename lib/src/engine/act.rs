//! One step's write (re-read, drift check, write, read-back) and putting traffic back.

use crate::error::Error;
use crate::events::Event;
use crate::input::Text;
use crate::model::{Color, Split};
use crate::ports::{CapacityPool, Clock, MetricSource, Provider, Routes};
use crate::state::Phase;

use super::context::Run;
use super::Engine;

impl<P: Provider, M: MetricSource, C: Clock, S: CapacityPool> Engine<'_, P, M, C, S> {
    /// Reads every route live, refuses on drift, writes the step's split on all of them and reads them
    /// back; a failure part-way puts the routes already written back.
    pub(super) async fn apply_step<R: Routes>(
        &self,
        run: &Run<'_, R>,
        split: Split,
        step: usize,
    ) -> Result<(), Error> {
        let (expected, adopt_drift) = (run.expected, run.spec.adopt_drift);
        // One event per drifted route, as it is read, before anything is written.
        let adopted = |found: Split| {
            self.emit(Event::DriftAdopted {
                step,
                expected: expected.into(),
                found: found.into(),
            })
        };
        run.routes
            .write_step(expected, split, adopt_drift, &adopted)
            .await
    }

    /// Traffic back to `stable` on every route: fresh reads, one write per route that needs it,
    /// verified from its response; a route that fails does not stop the others.
    pub(super) async fn rollback_to<R: Routes>(
        &self,
        routes: &R,
        stable: Color,
        cause: Text,
    ) -> Result<(), Error> {
        match routes.rollback(stable).await {
            Ok(()) => {
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
    pub(super) async fn abort<R: Routes>(&self, run: &mut Run<'_, R>, e: Error) -> Error {
        if matches!(e, Error::Drift { .. }) {
            return e;
        }
        let (stable, routes) = (run.stable(), run.routes);
        match self.rollback_to(routes, stable, e.text()).await {
            Ok(()) => {
                if let Some(r) = run.record.as_mut() {
                    r.phase = Phase::RolledBack;
                    // Best effort: traffic is back and verified; a failed tag write must not hide the cause.
                    if let Err(tag_error) = self.record(routes, r).await {
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
