//! The step loop: each step's hooks, write, bake and verdict; the way out on failure, interruption and
//! completion.

use std::ops::ControlFlow;

use crate::error::Error;
use crate::events::{Event, SplitView};
use crate::hooks::Stage;
use crate::model::{Color, Split};
use crate::plan::Step;
use crate::ports::{CapacityPool, Clock, MetricSource, Provider, Routes};
use crate::state::{Phase, STABLE_TAG};

use super::bake::Baked;
use super::context::Run;
use super::stages::At;
use super::wait::Waited;
use super::{Engine, Failed, Mode, OnInterrupt, Outcome};

/// How one step ended: on to the next one, or out of the run with its result.
type Next = ControlFlow<Result<Outcome, Error>>;

impl<P: Provider, M: MetricSource, C: Clock, S: CapacityPool> Engine<'_, P, M, C, S> {
    /// Runs `steps`, numbered from `first_step`, then ends the run as its mode says.
    pub(super) async fn run<R: Routes>(
        &self,
        run: Run<'_, R>,
        steps: &[Step],
        first_step: usize,
    ) -> Result<Outcome, Error> {
        let (routes, spec, test) = (run.routes, run.spec, run.test);
        self.hold_capacity(routes, spec).await;
        let result = self.run_steps(run, steps, first_step).await;
        if ends_the_hold(&result) {
            self.release_capacity(routes, spec).await;
        }
        // The test header's rule lives as long as the deployment: a canary that stops awaiting
        // promotion keeps it for `promote`.
        // After a lost lease the route is another run's: nothing more is written.
        if !matches!(
            result,
            Ok(Outcome::AwaitingPromotion { .. }) | Err(Error::LeaseLost { .. })
        ) {
            self.end_test_route(routes, test).await;
        }
        result
    }

    /// The steps of a run and its way out.
    async fn run_steps<R: Routes>(
        &self,
        mut run: Run<'_, R>,
        steps: &[Step],
        first_step: usize,
    ) -> Result<Outcome, Error> {
        run.total = first_step - 1 + steps.len();
        self.emit(Event::DeploymentStarted {
            deployment_id: run.record.as_ref().map(|r| r.id.clone()),
            started_by: run.record.as_ref().map(|r| r.started_by.clone()),
            route: run.routes.names().id,
            target: run.new_color(),
            stable: run.stable(),
            strategy: run.spec.strategy.clone(),
            steps: steps.iter().map(|s| s.percent.get()).collect(),
            split: run.routes.split().into(),
            backends: crate::events::Backends {
                blue: (&run.routes.backend(Color::Blue)).into(),
                green: (&run.routes.backend(Color::Green)).into(),
            },
        });
        if run.spec.ungated {
            self.emit(Event::Warning {
                message: crate::text!(
                    "UNGATED (",
                    {input crate::input::Input::NoGates},
                    format!(
                        "): no step is judged and no gate is read; traffic moves to {} without any check, and the deployment record says so",
                        run.new_color()
                    )
                ),
            });
        }
        // The record is first written with the first step (one write fewer per deployment, which
        // matters against the ELB write quota); a run with no steps records itself here.
        if steps.is_empty() {
            let routes = run.routes;
            if let Some(r) = run.record.as_mut() {
                self.record(routes, r).await.map_err(Error::Read)?;
            }
        }
        for (i, step) in steps.iter().enumerate() {
            let n = first_step + i;
            if let ControlFlow::Break(out) = self.step(&mut run, step, n, i == 0).await {
                return out;
            }
            // A gradual pause (`25:pause`) before the steps that remain.
            let paused = run.spec.plan.pauses.contains(&n) && i + 1 < steps.len();
            if let (true, true, Some(wait)) = (
                paused,
                run.record.is_some(),
                run.spec.lifecycle.promotion_wait,
            ) {
                if let Waited::Out(out) = self.wait_for_promotion(&mut run, step, n, wait).await {
                    return out;
                }
            }
        }
        let waits = run.spec.lifecycle.promotion_wait;
        match (run.mode, run.record.is_some(), waits) {
            (Mode::Canary, true, Some(wait)) => {
                self.wait_then_promote(run, steps, first_step, wait).await
            }
            (Mode::Canary, true, None) => self.await_promotion(&mut run).await,
            (Mode::Deploy, true, _) => self.complete(&mut run).await,
            _ => self.finish_shift(&run).await,
        }
    }

    /// Step `n`: its before-step hooks, the write, the bake and the after-step hooks.
    async fn step<R: Routes>(
        &self,
        run: &mut Run<'_, R>,
        step: &Step,
        n: usize,
        first: bool,
    ) -> Next {
        let percent = step.percent.get();
        let at = At {
            step: Some(n),
            steps: Some(run.total),
            percent: Some(percent),
        };
        if self.cancel.is_cancelled() {
            return ControlFlow::Break(self.interrupted(run, n).await);
        }
        self.emit(Event::StepStarted {
            step: n,
            of: run.total,
            percent,
        });
        if run.hooked() {
            let before = self
                .run_hooks(Stage::BeforeStep, run.routes, run.spec, at)
                .await;
            if let Err(failure) = before {
                return ControlFlow::Break(if self.cancel.is_cancelled() {
                    self.interrupted(run, n).await
                } else {
                    let failed = Failed {
                        step: n,
                        percent,
                        failure,
                    };
                    self.fail(run, failed).await
                });
            }
        }
        let split = Split::to(run.new_color(), step.percent);
        if let Err(e) = self.write_step(run, split, n, first).await {
            return ControlFlow::Break(Err(e));
        }
        // Announced once the weights are verified and the step is recorded.
        self.emit(Event::WeightsApplied {
            step: n,
            split: SplitView::from(split),
        });
        run.expected = split;
        self.verdict(run, step, n, at).await
    }

    /// Writes step `n`'s split and records the step; on an error, the way out of the run.
    ///
    /// Every step writes the weights before the record: the drift check comes with the write's own
    /// re-read, so a run that stops on drift (or on a refused write) leaves the route exactly as it
    /// was, tags included, and never records a step it did not apply. A failure to record counts like
    /// a failure of the step, and traffic, already moved, goes back. A run killed between the write
    /// and the record leaves the record one step behind the live split, which a resume accepts.
    async fn write_step<R: Routes>(
        &self,
        run: &mut Run<'_, R>,
        split: Split,
        n: usize,
        first: bool,
    ) -> Result<(), Error> {
        let applied = match self.apply_step(run, split, n).await {
            // Nothing moved yet in production: report the error; the route is as it was, and a
            // test listener goes back to the stable color.
            Err(e) if first && !e.may_have_changed_aws() => {
                self.put_test_back(run.routes, run.test).await;
                return Err(e);
            }
            Err(e) => Err(e),
            Ok(()) => self.record_step(run, n).await,
        };
        match applied {
            Err(e) => Err(self.abort_run(run, e).await),
            Ok(()) => Ok(()),
        }
    }

    /// Bakes step `n` and runs its after-step hooks; on, or out of the run on a failure, an error or
    /// an interruption.
    async fn verdict<R: Routes>(
        &self,
        run: &mut Run<'_, R>,
        step: &Step,
        n: usize,
        at: At,
    ) -> Next {
        let percent = step.percent.get();
        let baked = match self.bake(run, step, n).await {
            Ok(Baked::Passed) if run.hooked() => {
                let after = self
                    .run_hooks(Stage::AfterStep, run.routes, run.spec, at)
                    .await;
                match after {
                    Ok(()) => Ok(Baked::Passed),
                    Err(_) if self.cancel.is_cancelled() => Ok(Baked::Cancelled),
                    Err(failure) => Ok(Baked::Failed(failure)),
                }
            }
            other => other,
        };
        ControlFlow::Break(match baked {
            Ok(Baked::Passed) => {
                self.emit(Event::StepPassed { step: n, percent });
                return ControlFlow::Continue(());
            }
            Ok(Baked::Cancelled) => self.interrupted(run, n).await,
            Ok(Baked::Failed(failure)) => {
                let failed = Failed {
                    step: n,
                    percent,
                    failure,
                };
                self.fail(run, failed).await
            }
            Err(e) => Err(self.abort_run(run, e).await),
        })
    }

    /// The canary passed its bake and waits for promotion with the gates on; promoted, it runs the
    /// plan's remaining steps (to 100 %) and completes.
    async fn wait_then_promote<R: Routes>(
        &self,
        mut run: Run<'_, R>,
        steps: &[Step],
        first_step: usize,
        wait: super::lifecycle::PromotionWait,
    ) -> Result<Outcome, Error> {
        let Some(last) = steps.last() else {
            return self.await_promotion(&mut run).await;
        };
        let n = first_step + steps.len() - 1;
        if let Waited::Out(out) = self.wait_for_promotion(&mut run, last, n, wait).await {
            return out;
        }
        let rest: Vec<Step> = run.spec.plan.steps.get(n..).unwrap_or_default().to_vec();
        run.total = n + rest.len();
        for (i, step) in rest.iter().enumerate() {
            if let ControlFlow::Break(out) = self.step(&mut run, step, n + 1 + i, false).await {
                return out;
            }
        }
        self.complete(&mut run).await
    }

    /// The canary passed: recorded as awaiting promotion.
    async fn await_promotion<R: Routes>(&self, run: &mut Run<'_, R>) -> Result<Outcome, Error> {
        self.record_final(run, Phase::AwaitingPromotion, &[])
            .await?;
        let target = run.new_color();
        let percent = run.expected.percent_of(target).get();
        self.emit(Event::AwaitingPromotion { target, percent });
        Ok(Outcome::AwaitingPromotion { target, percent })
    }

    /// The deployment reached 100 %: the new color is stable (recorded on every route), then the
    /// after-deploy hooks and the scale-down of the old color.
    async fn complete<R: Routes>(&self, run: &mut Run<'_, R>) -> Result<Outcome, Error> {
        let new = run.new_color();
        // The stable color and the phase in one write.
        self.record_final(run, Phase::Complete, &[(STABLE_TAG, new.as_str())])
            .await?;
        // The named route has it with its record; the peers get it here.
        run.routes.mark_stable(new, run.expected, true).await?;
        self.emit(Event::Completed { stable: new });
        self.run_hooks_after(Stage::AfterDeploy, run.routes, run.spec)
            .await;
        self.scale_down_old(run).await;
        Ok(Outcome::Completed { stable: new })
    }

    /// A step failed (a gate or a hook): traffic back to the stable color at once, then the test
    /// listener, the record and the after-rollback hooks.
    pub(super) async fn fail<R: Routes>(
        &self,
        run: &mut Run<'_, R>,
        failed: Failed,
    ) -> Result<Outcome, Error> {
        let stable = run.stable();
        self.emit(Event::RollingBack {
            failure: failed.failure.clone(),
        });
        self.rollback_to(run.routes, stable, failed.failure.text())
            .await?;
        self.observe_after_rollback(run.routes, run.spec, failed.step)
            .await;
        self.record_best_effort(run, Phase::RolledBack).await;
        self.after_rollback(run).await;
        Ok(Outcome::RolledBack {
            failure: failed.failure,
            to: stable,
            step: failed.step,
            percent: failed.percent,
        })
    }

    /// An unexpected error mid-run: traffic back to stable (unless it was drift: a human is at work),
    /// and only after a real rollback the test listener and the after-rollback hooks.
    pub(super) async fn abort_run<R: Routes>(&self, run: &mut Run<'_, R>, e: Error) -> Error {
        let e = self.abort(run, e).await;
        if matches!(e, Error::Aborted { .. }) {
            self.after_rollback(run).await;
        }
        e
    }

    /// After traffic is back on the stable color: the test listener follows it, then the after-rollback
    /// hooks run. Problems here are warnings: production traffic is already safe.
    async fn after_rollback<R: Routes>(&self, run: &Run<'_, R>) {
        self.put_test_back(run.routes, run.test).await;
        self.run_hooks_after(Stage::AfterRollback, run.routes, run.spec)
            .await;
    }

    /// The test listener (if any) back on the stable color; a failure is a warning.
    pub(super) async fn put_test_back<R: Routes>(&self, routes: &R, test: Option<&R::Test>) {
        if let Some(t) = test {
            if let Err(e) = self.point_test_route(routes, t, routes.stable()).await {
                self.emit(Event::Warning {
                    message: crate::text!(format!(
                        "the test listener could not be put back on {}: ",
                        routes.stable()
                    ))
                    .then(e.text()),
                });
            }
        }
    }

    /// The run was cancelled at `step`: traffic back to stable (or held, per the policy), state
    /// recorded.
    pub(super) async fn interrupted<R: Routes>(
        &self,
        run: &mut Run<'_, R>,
        step: usize,
    ) -> Result<Outcome, Error> {
        let (stable, live) = (run.stable(), run.expected);
        if self.lease_lost.is_cancelled() {
            return Err(lease_lost(step, live));
        }
        let rollback = self.on_interrupt == OnInterrupt::Rollback;
        let rolled_back = rollback && live != Split::all_to(stable);
        if rolled_back {
            self.rollback_to(run.routes, stable, "the run was interrupted".into())
                .await?;
        }
        let split = if rollback {
            Split::all_to(stable)
        } else {
            live
        };
        self.record_best_effort(run, Phase::Interrupted).await;
        if rolled_back {
            self.after_rollback(run).await;
        } else if rollback {
            // Interrupted before production traffic moved: the test listener still follows stable.
            self.put_test_back(run.routes, run.test).await;
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

    /// A gated `shift` passed: the new split stays, and a color that now has all traffic is tagged
    /// stable.
    async fn finish_shift<R: Routes>(&self, run: &Run<'_, R>) -> Result<Outcome, Error> {
        let (routes, split) = (run.routes, run.expected);
        let whole = split.whole_color();
        if let Some(color) = whole.filter(|c| *c != routes.stable()) {
            routes.mark_stable(color, split, false).await?;
        }
        Ok(Outcome::Shifted {
            split: split.into(),
            stable: whole.unwrap_or(routes.stable()),
        })
    }
}

/// The run lost its deployment lease at `step` with `live` on the routes: it wrote nothing more.
fn lease_lost(step: usize, live: Split) -> Error {
    Error::LeaseLost {
        step,
        split: live.to_string(),
    }
}

/// Whether a run's result ends the capacity hold: every way out but a canary awaiting promotion (the
/// deployment goes on), a lost lease (another run owns the route and its hold) and a rollback that did
/// not complete (the capacity may be needed as it is).
fn ends_the_hold(result: &Result<Outcome, Error>) -> bool {
    !matches!(
        result,
        Ok(Outcome::AwaitingPromotion { .. })
            | Err(Error::LeaseLost { .. })
            | Err(Error::RollbackFailed { .. })
    )
}
