//! The step engine: observe → decide → act → verify, through the ports. Each step re-reads the live
//! split (drift check), writes once, reads back, then bakes while polling the gates; the first failing
//! verdict puts traffic back on the stable color at once, traffic first.
//!
//! - [`spec`]: what a run needs ([`DeploySpec`], [`MetricWindow`]) and how it ended ([`Outcome`]).
//! - [`builder`]: building a [`DeploySpec`] in code ([`DeploySpec::builder`]) or from `albflip.toml`
//!   ([`DeploySpec::from_config`]).
//! - [`options`]: the settings of a deployment, set in code over the file's ([`DeployOptions`]), and
//!   their defaults.
//! - this module: the [`Engine`], its entry points (`deploy`, `resume`, `shift`, `promote`) and the step
//!   loop with the deployment record.
//! - `act`: one step's write (drift check, write, read-back) and the rollback.
//! - `bake`: polling the gates while a step bakes.

mod act;
mod bake;
pub mod builder;
pub mod check;
pub mod lifecycle;
pub mod options;
pub mod spec;
mod stages;

use serde::Serialize;

use crate::capacity::NoScaler;
use crate::error::Error;
use crate::events::{Event, Observer, SplitView};
use crate::hooks::Stage;
use crate::model::{Color, Percent, Split};
use crate::plan::decide::Failure;
use crate::plan::{Plan, Step};
use crate::ports::{Alb, ApiError, Clock, MetricSource, Scaler};
use crate::resolve::{self, Resolved, Target};
use crate::route::{self, RouteId, RouteSnapshot};
use crate::state::{self, DeploymentRecord, Phase, STABLE_TAG};
use crate::traffic::{self, ChangeOptions};

pub use crate::state::{STATE_TAG, TARGET_TAG};
pub use bake::MAX_METRIC_ERRORS;
pub use builder::DeploySpecBuilder;
pub use check::CheckReport;
pub use options::{DeployOptions, StrategyKind};
pub use spec::{DeploySpec, MetricWindow, Outcome};
/// The token that cancels a run from another task ([`Engine::with_cancellation`]), re-exported so an
/// embedding program needs no direct `tokio-util` dependency.
pub use tokio_util::sync::CancellationToken;

use bake::Baked;
use stages::At;

/// A failed step: which, at what share, and why.
struct Failed {
    step: usize,
    percent: u8,
    failure: Failure,
}

/// What kind of run the engine is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A deployment to 100 %.
    Deploy,
    /// A canary that pauses for promotion.
    Canary,
    /// One gated `shift` step; no deployment state.
    Shift,
}

/// Drives deployments through the ports: a load balancer ([`Alb`]), a [`MetricSource`] and a
/// [`Clock`], reporting to an [`Observer`]. One engine can run many deployments, one after the other
/// or concurrently (each call resolves its own route); `deploy`, `resume`, `shift` and `promote`
/// return an [`Outcome`], or an [`Error`] whose kind says whether traffic may have moved.
///
/// ```no_run
/// use albflip::aws::{self, AwsSettings, CallCounter, CloudWatch, ElbV2};
/// use albflip::engine::{CancellationToken, DeploySpec, Engine, OnInterrupt};
/// use albflip::events::Ignore;
/// use albflip::model::Color;
/// use albflip::ports::TokioClock;
/// use albflip::resolve::Target;
///
/// # async fn run() -> Result<(), albflip::Error> {
/// let config = aws::load_config(&AwsSettings::default()).await?;
/// let calls = CallCounter::default();
/// let (alb, metrics) = (ElbV2::new(&config, calls.clone()), CloudWatch::new(&config, calls));
/// let clock = TokioClock::new();
/// let cancel = CancellationToken::new(); // cancel() it from another task to stop and roll back
/// let engine = Engine::new(&alb, &metrics, &clock, &Ignore)
///     .with_cancellation(cancel.clone(), OnInterrupt::Rollback)
///     .with_identity("release-bot");
/// let spec = DeploySpec::builder(Color::Green).build()?;
/// let outcome = engine.deploy(&Target::from_convention("prod", "shop", 443), &spec).await?;
/// println!("{outcome:?}");
/// # Ok(())
/// # }
/// ```
///
/// `S` resizes Auto Scaling groups ([`Engine::with_scaler`]); without one the engine never touches
/// capacity.
pub struct Engine<'a, A, M, C, S = NoScaler> {
    alb: &'a A,
    metrics: &'a M,
    clock: &'a C,
    scaler: &'a S,
    observer: &'a dyn Observer,
    cancel: CancellationToken,
    on_interrupt: OnInterrupt,
    identity: String,
}

/// What a cancelled deployment does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OnInterrupt {
    /// Put all traffic back on the stable color (verified), then stop.
    #[default]
    Rollback,
    /// Leave the weights as they are and record that.
    Hold,
}

impl<'a, A: Alb, M: MetricSource, C: Clock> Engine<'a, A, M, C> {
    /// An engine over the given ports. It runs until done unless cancelled through
    /// [`Engine::with_cancellation`], and leaves Auto Scaling alone unless given a scaler through
    /// [`Engine::with_scaler`].
    pub fn new(alb: &'a A, metrics: &'a M, clock: &'a C, observer: &'a dyn Observer) -> Self {
        Engine {
            alb,
            metrics,
            clock,
            scaler: &NoScaler,
            observer,
            cancel: CancellationToken::new(),
            on_interrupt: OnInterrupt::Rollback,
            identity: "albflip".into(),
        }
    }
}

impl<'a, A: Alb, M: MetricSource, C: Clock, S: Scaler> Engine<'a, A, M, C, S> {
    /// Resizes the colors' Auto Scaling groups through `scaler` (matching capacity before the first
    /// step, scaling the old color down after a completed deployment), as the spec's
    /// [`lifecycle::CapacityPolicy`] says.
    pub fn with_scaler<T: Scaler>(self, scaler: &'a T) -> Engine<'a, A, M, C, T> {
        Engine {
            alb: self.alb,
            metrics: self.metrics,
            clock: self.clock,
            scaler,
            observer: self.observer,
            cancel: self.cancel,
            on_interrupt: self.on_interrupt,
            identity: self.identity,
        }
    }

    /// Records `identity` as who started the deployments this engine runs (the CLI passes `$BUILD_TAG`
    /// or user@host, see [`state::identity_from_env`]).
    pub fn with_identity(mut self, identity: impl Into<String>) -> Self {
        self.identity = state::tag_safe(&identity.into());
        self
    }

    /// Stops the run when `token` is cancelled (from another task, or a signal handler): at the next
    /// poll or step boundary, never in the middle of an API call; then does what `on_interrupt` says and
    /// returns [`Outcome::Interrupted`].
    pub fn with_cancellation(
        mut self,
        token: CancellationToken,
        on_interrupt: OnInterrupt,
    ) -> Self {
        self.cancel = token;
        self.on_interrupt = on_interrupt;
        self
    }
}

impl<A: Alb, M: MetricSource, C: Clock, S: Scaler> Engine<'_, A, M, C, S> {
    fn emit(&self, event: Event) {
        self.observer.on_event(self.clock.now(), &event);
    }

    /// Runs a deployment: the plan's steps, each baked under the gates.
    ///
    /// Around the steps, as `spec.lifecycle` says: the before-deploy hooks, the new color's capacity
    /// (raised to the stable one's, then its healthy targets awaited), the test listener pointed at the
    /// new color with its smoke check and after-test-traffic hooks; before-step and after-step hooks at
    /// each step; after a completed deployment the after-deploy hooks and, after `scale_down_delay`, the
    /// old color scaled to zero.
    pub async fn deploy(&self, target: &Target, spec: &DeploySpec) -> Result<Outcome, Error> {
        let mut resolved = resolve::resolve(self.alb, target).await?;
        let test = self.find_test_listener(&resolved, spec).await?;
        if let Some(t) = &test {
            // The test listener follows its own path: never a lockstep peer.
            resolved.peers.retain(|p| p.snapshot.route != t.route);
            resolved.left_alone.retain(|l| l.route != t.route);
        }
        let new = spec.plan.target;
        state::check_can_start(&resolved, new)?;
        resolved.check_agreement()?;
        self.check_alarms(&resolved, spec).await?;
        self.check_conversion(&resolved).await?;
        let mode = if spec.plan.pause_after.is_some() {
            Mode::Canary
        } else {
            Mode::Deploy
        };
        if let Err(failure) = self
            .run_hooks(Stage::BeforeDeploy, &resolved, spec, At::default())
            .await
        {
            return Err(Error::State {
                what: format!("the deployment did not start: {}", failure.message()),
                fix: "Nothing was changed; fix what the hook reports and run it again".into(),
            });
        }
        // Capacity first: the new color's health is judged once its group had the chance to grow.
        self.match_capacity(&resolved, spec).await?;
        self.check_new_health(&resolved, spec, new).await?;
        if let Some(t) = &test {
            if let Some(failure) = self.test_traffic(&resolved, spec, t).await? {
                return self
                    .failed_before_production(&resolved, spec, t, failure)
                    .await;
            }
        }
        let record = self.new_record(spec, kind_of(spec));
        self.run(
            &resolved,
            spec,
            spec.plan.steps_to_run(),
            1,
            mode,
            Some(record),
            test.as_ref(),
        )
        .await
    }

    /// A smoke check or after-test-traffic hook failed: the test listener goes back to the stable color
    /// and production traffic never moved.
    async fn failed_before_production(
        &self,
        resolved: &Resolved,
        spec: &DeploySpec,
        test: &RouteSnapshot,
        failure: Failure,
    ) -> Result<Outcome, Error> {
        let stable = resolved.stable;
        self.emit(Event::RollingBack {
            failure: failure.clone(),
        });
        self.point_test_listener(resolved, test, stable)
            .await
            .map_err(|e| Error::RollbackFailed {
                cause: failure.message(),
                rollback: Box::new(e),
            })?;
        self.run_hooks_after(Stage::AfterRollback, resolved, spec)
            .await;
        Ok(Outcome::RolledBack {
            failure,
            to: stable,
            step: 0,
            percent: 0,
        })
    }

    /// Continues a deployment recorded as in progress or interrupted (after `kill -9`, a lost agent or
    /// `--on-interrupt hold`): from the recorded step, re-running that step's bake, with the recorded
    /// target and steps and the gates of `spec`.
    pub async fn resume(&self, target: &Target, spec: &DeploySpec) -> Result<Outcome, Error> {
        let resolved = resolve::resolve(self.alb, target).await?;
        let record = DeploymentRecord::from_tags(&resolved.tags)
            .filter(|r| matches!(r.phase, Phase::InProgress | Phase::Interrupted) && !r.steps.is_empty())
            .ok_or_else(|| Error::State {
                what: format!("no interrupted or in-progress deployment is recorded on the {}", resolved.snapshot.route),
                fix: "Start a new one with `albflip deploy` (without --resume); `albflip status` shows the recorded state".into(),
            })?;
        let steps = record
            .steps
            .iter()
            .filter_map(|p| Percent::new(*p))
            .map(|percent| Step {
                percent,
                bake: spec.policy.bake,
            })
            .collect::<Vec<_>>();
        let pause = (record.strategy == "canary").then_some(1);
        let plan = Plan {
            target: record.target,
            steps,
            pause_after: pause,
        };
        let spec = DeploySpec {
            plan,
            strategy: format!("resume {} {}", record.strategy, record.id),
            ..spec.clone()
        };
        let from = record.step.clamp(1, spec.plan.steps.len().max(1));
        let mode = if pause.is_some() {
            Mode::Canary
        } else {
            Mode::Deploy
        };
        let to_run = &spec.plan.steps_to_run().get(from - 1..).unwrap_or_default();
        let record = DeploymentRecord {
            phase: Phase::InProgress,
            started_by: self.identity.clone(),
            ..record
        };
        self.run(&resolved, &spec, to_run, from, mode, Some(record), None)
            .await
    }

    /// One gated step (`albflip shift --bake`): the plan's single step, baked under the gates, rolled
    /// back to the stable color on failure. Records no deployment state, so pipelines can call it
    /// step after step.
    pub async fn shift(&self, target: &Target, spec: &DeploySpec) -> Result<Outcome, Error> {
        let resolved = resolve::resolve(self.alb, target).await?;
        resolved.check_agreement()?;
        self.check_alarms(&resolved, spec).await?;
        self.check_first_step(&resolved, spec, spec.plan.target)
            .await?;
        self.run(
            &resolved,
            spec,
            &spec.plan.steps,
            1,
            Mode::Shift,
            None,
            None,
        )
        .await
    }

    /// Finishes a canary awaiting promotion: the step to 100 % with a final bake.
    pub async fn promote(&self, target: &Target, spec: &DeploySpec) -> Result<Outcome, Error> {
        let resolved = resolve::resolve(self.alb, target).await?;
        resolved.check_agreement()?;
        let record = DeploymentRecord::from_tags(&resolved.tags)
            .filter(|r| r.phase == Phase::AwaitingPromotion)
            .ok_or_else(|| Error::State {
                what: format!("no canary is awaiting promotion on the {}", resolved.snapshot.route),
                fix: "Start one with `albflip deploy --strategy canary`; `albflip status` shows the route's state".into(),
            })?;
        let spec = DeploySpec {
            plan: Plan::promotion(record.target, spec.policy.bake),
            ..spec.clone()
        };
        self.check_alarms(&resolved, &spec).await?;
        let record = DeploymentRecord {
            phase: Phase::InProgress,
            steps: vec![100],
            step: 0,
            strategy: "promote".into(),
            ..record
        };
        self.run(
            &resolved,
            &spec,
            &spec.plan.steps,
            1,
            Mode::Deploy,
            Some(record),
            None,
        )
        .await
    }

    async fn check_first_step(
        &self,
        resolved: &Resolved,
        spec: &DeploySpec,
        new: Color,
    ) -> Result<(), Error> {
        self.check_new_health(resolved, spec, new).await?;
        self.check_conversion(resolved).await
    }

    /// The new color has enough healthy targets for the first step (unless forced).
    async fn check_new_health(
        &self,
        resolved: &Resolved,
        spec: &DeploySpec,
        new: Color,
    ) -> Result<(), Error> {
        let first = spec
            .plan
            .steps
            .first()
            .map(|s| s.percent)
            .unwrap_or(Percent::FULL);
        let options = ChangeOptions {
            dry_run: false,
            force: spec.force,
            min_healthy_hosts: spec.min_healthy_hosts,
        };
        traffic::check_health(self.alb, resolved, Split::to(new, first), options).await?;
        Ok(())
    }

    /// AWS accepts the weighted forward each single-group route becomes.
    async fn check_conversion(&self, resolved: &Resolved) -> Result<(), Error> {
        for snapshot in resolved.routes() {
            let forward = route::forward_of(snapshot)
                .map_err(|p| resolve::unsupported(&snapshot.route, p))?;
            traffic::check_conversion(self.alb, resolved, forward).await?;
        }
        Ok(())
    }

    fn new_record(&self, spec: &DeploySpec, kind: &str) -> DeploymentRecord {
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
    async fn record_with(
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
    async fn record(&self, route: &RouteId, record: &mut DeploymentRecord) -> Result<(), ApiError> {
        self.record_with(route, record, &[]).await
    }

    /// Records that step `n` runs.
    async fn record_step(
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
    async fn record_best_effort(&self, route: &RouteId, record: &mut DeploymentRecord) {
        if let Err(e) = self.record(route, record).await {
            tracing::warn!(error = %e, "traffic is safe, but recording the deployment state failed");
            eprintln!("albflip: warning: traffic is safe, but recording the deployment state on {route} failed: {e}; `albflip status` may show a stale state");
        }
    }

    /// Traffic is where it should be but its record could not be written.
    fn tag_failed(route: &RouteId, split: Split, color: Color, source: ApiError) -> Error {
        Error::TagFailed {
            split: split.to_string(),
            resource: route.resource_arn().to_string(),
            color,
            source: Box::new(source),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn run(
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
                if let Err(failure) = self.run_hooks(Stage::BeforeStep, resolved, spec, at).await {
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
                    // Nothing moved yet in this run: report the error; the route is as it was.
                    Err(e) if !e.may_have_changed_aws() => return Err(e),
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
                let e = self.abort(resolved, stable, e, record.as_mut()).await;
                self.after_rollback(resolved, spec, test).await;
                return Err(e);
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
                    let e = self.abort(resolved, stable, e, record.as_mut()).await;
                    self.after_rollback(resolved, spec, test).await;
                    return Err(e);
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
                self.tag_peers_stable(resolved, expected, new).await?;
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

    /// After traffic is back on the stable color: the test listener follows it, then the after-rollback
    /// hooks run. Problems here are warnings: production traffic is already safe.
    async fn after_rollback(
        &self,
        resolved: &Resolved,
        spec: &DeploySpec,
        test: Option<&RouteSnapshot>,
    ) {
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
        self.run_hooks_after(Stage::AfterRollback, resolved, spec)
            .await;
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

    /// Records the stable color on the peers (the named route has it with its record).
    async fn tag_peers_stable(
        &self,
        resolved: &Resolved,
        split: Split,
        stable: Color,
    ) -> Result<(), Error> {
        for peer in &resolved.peers {
            let resource = peer.snapshot.route.resource_arn();
            self.alb
                .set_tags(resource, &[(STABLE_TAG, stable.as_str())])
                .await
                .map_err(|source| Error::TagFailed {
                    split: split.to_string(),
                    resource: resource.to_string(),
                    color: stable,
                    source: Box::new(source),
                })?;
        }
        Ok(())
    }

    async fn finish_shift(&self, resolved: &Resolved, split: Split) -> Result<Outcome, Error> {
        let whole = split.whole_color();
        if let Some(color) = whole.filter(|c| *c != resolved.stable) {
            traffic::tag_stable(self.alb, resolved, split, color).await?;
        }
        Ok(Outcome::Shifted {
            split: split.into(),
            stable: whole.unwrap_or(resolved.stable),
        })
    }
}

/// The strategy's name as recorded.
fn kind_of(spec: &DeploySpec) -> &'static str {
    match (spec.plan.pause_after, spec.plan.steps.len()) {
        (Some(_), _) => "canary",
        (None, 1) => "immediate",
        _ => "gradual",
    }
}
