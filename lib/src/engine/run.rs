//! The step loop: each step's hooks, write, bake and verdict; the way out on failure, interruption and
//! completion.

use crate::error::Error;
use crate::events::{Event, SplitView};
use crate::hooks::Stage;
use crate::model::Split;
use crate::plan::Step;
use crate::ports::{Clock, MetricSource};
use crate::providers::aws::api::{Alb, Scaler};
use crate::providers::aws::resolve::Resolved;
use crate::providers::aws::route::RouteSnapshot;
use crate::state::{DeploymentRecord, Phase, STABLE_TAG};
use crate::traffic;

use super::bake::Baked;
use super::stages::At;
use super::{DeploySpec, Engine, Failed, Mode, OnInterrupt, Outcome};

impl<A: Alb, M: MetricSource, C: Clock, S: Scaler> Engine<'_, A, M, C, S> {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn run(
        &self,
        resolved: &Resolved,
        spec: &DeploySpec,
        steps: &[Step],
        first_step: usize,
        mode: Mode,
        mut record: Option<DeploymentRecord>,
        test: Option<&RouteSnapshot>,
    ) -> Result<Outcome, Error> {
        let route = &resolved.snapshot.route;
        let new = spec.plan.target;
        let stable = resolved.stable;
        let total = first_step - 1 + steps.len();
        self.emit(Event::DeploymentStarted {
            route: route.resource_arn().to_string(),
            target: new,
            stable,
            strategy: spec.strategy.clone(),
            steps: steps.iter().map(|s| s.percent.get()).collect(),
            split: resolved.split.into(),
        });
        // The record is first written with the first step (one write fewer per deployment, which
        // matters against the ELB write quota); a run with no steps records itself here.
        if steps.is_empty() {
            if let Some(r) = record.as_mut() {
                self.record(route, r).await.map_err(Error::Read)?;
            }
        }
        // Hooks belong to deployments, not to a single gated `shift`.
        let hooked = mode != Mode::Shift;
        let mut expected = resolved.split;
        for (i, step) in steps.iter().enumerate() {
            let n = first_step + i;
            let at = At {
                step: Some(n),
                steps: Some(total),
                percent: Some(step.percent.get()),
            };
            if self.cancel.is_cancelled() {
                return self
                    .interrupted(resolved, spec, expected, n, record.as_mut(), test)
                    .await;
            }
            self.emit(Event::StepStarted {
                step: n,
                of: total,
                percent: step.percent.get(),
            });
            if hooked {
                let before = self.run_hooks(Stage::BeforeStep, resolved, spec, at).await;
                if before.is_err() && self.cancel.is_cancelled() {
                    return self
                        .interrupted(resolved, spec, expected, n, record.as_mut(), test)
                        .await;
                }
                if let Err(failure) = before {
                    let failed = Failed {
                        step: n,
                        percent: step.percent.get(),
                        failure,
                    };
                    return self
                        .fail(resolved, spec, failed, record.as_mut(), test)
                        .await;
                }
            }
            let split = Split::to(new, step.percent);
            // The first step writes the weights before the record, so a refused first write leaves
            // the route exactly as it was (tags included). Later steps record first: a failure to
            // record counts like a failure of the step, and traffic, already moved, goes back.
            let applied = if i == 0 {
                match self
                    .apply_step(resolved, expected, split, n, spec.adopt_drift)
                    .await
                {
                    // Nothing moved yet in production: report the error; the route is as it was, and
                    // a test listener goes back to the stable color.
                    Err(e) if !e.may_have_changed_aws() => {
                        self.put_test_back(resolved, test).await;
                        return Err(e);
                    }
                    Err(e) => Err(e),
                    Ok(()) => self.record_step(route, record.as_mut(), n).await,
                }
            } else {
                match self.record_step(route, record.as_mut(), n).await {
                    Ok(()) => {
                        self.apply_step(resolved, expected, split, n, spec.adopt_drift)
                            .await
                    }
                    Err(e) => Err(e),
                }
            };
            if let Err(e) = applied {
                return Err(self
                    .abort_run(resolved, spec, e, record.as_mut(), test)
                    .await);
            }
            // Announced once the weights are verified and the step is recorded.
            self.emit(Event::WeightsApplied {
                step: n,
                split: SplitView::from(split),
            });
            expected = split;
            let baked = match self.bake(resolved, spec, step, n).await {
                Ok(Baked::Passed) if hooked => {
                    match self.run_hooks(Stage::AfterStep, resolved, spec, at).await {
                        Ok(()) => Ok(Baked::Passed),
                        Err(_) if self.cancel.is_cancelled() => Ok(Baked::Cancelled),
                        Err(failure) => Ok(Baked::Failed(failure)),
                    }
                }
                other => other,
            };
            match baked {
                Ok(Baked::Passed) => self.emit(Event::StepPassed {
                    step: n,
                    percent: step.percent.get(),
                }),
                Ok(Baked::Cancelled) => {
                    return self
                        .interrupted(resolved, spec, expected, n, record.as_mut(), test)
                        .await
                }
                Ok(Baked::Failed(failure)) => {
                    let failed = Failed {
                        step: n,
                        percent: step.percent.get(),
                        failure,
                    };
                    return self
                        .fail(resolved, spec, failed, record.as_mut(), test)
                        .await;
                }
                Err(e) => {
                    return Err(self
                        .abort_run(resolved, spec, e, record.as_mut(), test)
                        .await)
                }
            }
        }
        match (mode, record.as_mut()) {
            (Mode::Canary, Some(r)) => {
                r.phase = Phase::AwaitingPromotion;
                self.record(route, r)
                    .await
                    .map_err(|e| Self::tag_failed(route, expected, new, e))?;
                let percent = expected.percent_of(new).get();
                self.emit(Event::AwaitingPromotion {
                    target: new,
                    percent,
                });
                Ok(Outcome::AwaitingPromotion {
                    target: new,
                    percent,
                })
            }
            (Mode::Deploy, Some(r)) => {
                r.phase = Phase::Complete;
                // The stable color and the phase in one write.
                self.record_with(route, r, &[(STABLE_TAG, new.as_str())])
                    .await
                    .map_err(|e| Self::tag_failed(route, expected, new, e))?;
                // The named route has it with its record; the peers get it here.
                let peers: Vec<_> = resolved.peers.iter().map(|p| &p.snapshot).collect();
                traffic::tag_stable(self.alb, &peers, expected, new).await?;
                self.emit(Event::Completed { stable: new });
                self.run_hooks_after(Stage::AfterDeploy, resolved, spec)
                    .await;
                self.scale_down_old(resolved, spec, test).await;
                Ok(Outcome::Completed { stable: new })
            }
            _ => self.finish_shift(resolved, expected).await,
        }
    }

    /// A step failed (a gate or a hook): traffic back to the stable color at once, then the test
    /// listener, the record and the after-rollback hooks.
    async fn fail(
        &self,
        resolved: &Resolved,
        spec: &DeploySpec,
        failed: Failed,
        record: Option<&mut DeploymentRecord>,
        test: Option<&RouteSnapshot>,
    ) -> Result<Outcome, Error> {
        let stable = resolved.stable;
        self.emit(Event::RollingBack {
            failure: failed.failure.clone(),
        });
        self.rollback_to(resolved, stable, &failed.failure.message())
            .await?;
        if let Some(r) = record {
            r.phase = Phase::RolledBack;
            self.record_best_effort(&resolved.snapshot.route, r).await;
        }
        self.after_rollback(resolved, spec, test).await;
        Ok(Outcome::RolledBack {
            failure: failed.failure,
            to: stable,
            step: failed.step,
            percent: failed.percent,
        })
    }

    /// An unexpected error mid-run: traffic back to stable (unless it was drift: a human is at work),
    /// and only after a real rollback the test listener and the after-rollback hooks.
    async fn abort_run(
        &self,
        resolved: &Resolved,
        spec: &DeploySpec,
        e: Error,
        record: Option<&mut DeploymentRecord>,
        test: Option<&RouteSnapshot>,
    ) -> Error {
        let e = self.abort(resolved, resolved.stable, e, record).await;
        if matches!(e, Error::Aborted { .. }) {
            self.after_rollback(resolved, spec, test).await;
        }
        e
    }

    /// After traffic is back on the stable color: the test listener follows it, then the after-rollback
    /// hooks run. Problems here are warnings: production traffic is already safe.
    pub(super) async fn after_rollback(
        &self,
        resolved: &Resolved,
        spec: &DeploySpec,
        test: Option<&RouteSnapshot>,
    ) {
        self.put_test_back(resolved, test).await;
        self.run_hooks_after(Stage::AfterRollback, resolved, spec)
            .await;
    }

    /// The test listener (if any) back on the stable color; a failure is a warning.
    pub(super) async fn put_test_back(&self, resolved: &Resolved, test: Option<&RouteSnapshot>) {
        if let Some(t) = test {
            if let Err(e) = self.point_test_listener(resolved, t, resolved.stable).await {
                self.emit(Event::Warning {
                    message: format!(
                        "the test listener could not be put back on {}: {e}",
                        resolved.stable
                    ),
                });
            }
        }
    }

    /// The run was cancelled: traffic back to stable (or held, per the policy), state recorded.
    async fn interrupted(
        &self,
        resolved: &Resolved,
        spec: &DeploySpec,
        live: Split,
        step: usize,
        record: Option<&mut DeploymentRecord>,
        test: Option<&RouteSnapshot>,
    ) -> Result<Outcome, Error> {
        let stable = resolved.stable;
        let rolled_back =
            self.on_interrupt == OnInterrupt::Rollback && live != Split::all_to(stable);
        if rolled_back {
            self.rollback_to(resolved, stable, "the run was interrupted")
                .await?;
        }
        let split = if self.on_interrupt == OnInterrupt::Rollback {
            Split::all_to(stable)
        } else {
            live
        };
        if let Some(r) = record {
            r.phase = Phase::Interrupted;
            self.record_best_effort(&resolved.snapshot.route, r).await;
        }
        if rolled_back {
            self.after_rollback(resolved, spec, test).await;
        } else if self.on_interrupt == OnInterrupt::Rollback {
            // Interrupted before production traffic moved: the test listener still follows stable.
            self.put_test_back(resolved, test).await;
        }
        self.emit(Event::Interrupted {
            rolled_back,
            split: split.into(),
            step,
        });
        Ok(Outcome::Interrupted {
            rolled_back,
            split: split.into(),
            step,
        })
    }

    async fn finish_shift(&self, resolved: &Resolved, split: Split) -> Result<Outcome, Error> {
        let whole = split.whole_color();
        if let Some(color) = whole.filter(|c| *c != resolved.stable) {
            traffic::tag_stable(self.alb, &resolved.routes(), split, color).await?;
        }
        Ok(Outcome::Shifted {
            split: split.into(),
            stable: whole.unwrap_or(resolved.stable),
        })
    }
}
