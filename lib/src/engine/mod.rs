//! The step engine: observe → decide → act → verify, through the ports. Each step re-reads the live
//! split (drift check), writes once, reads back, then bakes while polling the gates; the first failing
//! verdict puts traffic back on the stable color at once, traffic first.
//!
//! - [`spec`]: what a run needs ([`DeploySpec`], [`MetricWindow`]) and how it ended ([`Outcome`]).
//! - [`builder`]: building a [`DeploySpec`] in code ([`DeploySpec::builder`]) or from `albflip.toml`
//!   ([`DeploySpec::from_config`]).
//! - [`options`]: the settings of a deployment, set in code over the file's ([`DeployOptions`]), and
//!   their defaults.
//! - [`lifecycle`]: the settings around the steps: Auto Scaling, hooks, the test listener.
//! - [`check`]: `albflip check`: the pre-flight and one gate evaluation, read-only ([`CheckReport`]).
//! - [`watch`]: a deployment run elsewhere, followed read-only: its record, the baking step's gates
//!   ([`WatchReport`]).
//! - this module: the [`Engine`] and its entry points (`deploy`, `resume`, `shift`, `promote`, `check`).
//! - `context`: one run of the step loop (`Run`): what it acts on and where it stands.
//! - `run`: the step loop, and the way out on a failure, an interruption or completion.
//! - `record`: the deployment record in the route's tags; a failure to write it once traffic is safe is
//!   reported as [`Event::RecordFailed`] (the library prints nothing itself).
#![deny(clippy::print_stdout, clippy::print_stderr)]
//! - `stages`: hooks, the new color's capacity, the test listener and its smoke check, the scale-down.
//! - `act`: one step's write (drift check, write, read-back) and the rollback.
//! - `bake`: polling the gates while a step bakes.
//! - `wait`: waiting for promotion with the gates on (the canary's wait, a gradual pause), and
//!   `promote` handing its request to the run that waits.

mod act;
mod bake;
pub mod builder;
pub mod check;
mod context;
pub mod lifecycle;
pub mod options;
mod record;
mod run;
pub mod spec;
mod stages;
#[cfg(all(test, feature = "testing"))]
mod tests;
mod wait;
pub mod watch;

use crate::input::{Input, Next};
use crate::text;
use serde::Serialize;

use crate::capacity::NoScaler;
use crate::error::Error;
use crate::events::{Event, Observer};
use crate::hooks::Stage;
use crate::model::{Color, Percent, Split};
use crate::plan::decide::Failure;
use crate::plan::{Plan, Step};
use crate::ports::{CapacityPool, Clock, MetricSource, Provider, Routes};
use crate::state::{self, DeploymentRecord, Phase};

pub use crate::state::{STATE_TAG, TARGET_TAG};
pub use bake::MAX_METRIC_ERRORS;
pub use builder::DeploySpecBuilder;
pub use check::CheckReport;
pub use options::{DeployOptions, StrategyKind};
pub use spec::{DeploySpec, MetricWindow, Outcome};
/// The token that cancels a run from another task ([`Engine::with_cancellation`]), re-exported so an
/// embedding program needs no direct `tokio-util` dependency.
pub use tokio_util::sync::CancellationToken;
pub use watch::{WatchReport, WatchedStep};

use context::Run;
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

/// Drives deployments through the ports: a [`Provider`] (any ALB API is one: the route is resolved and
/// moved through [`Routes`]), a [`MetricSource`] and a [`Clock`], reporting to an [`Observer`]. One engine can run many deployments, one after the other
/// or concurrently (each call resolves its own route); `deploy`, `resume`, `shift` and `promote`
/// return an [`Outcome`], or an [`Error`] whose kind says whether traffic may have moved.
///
/// ```no_run
/// use albflip::aws::{self, AwsSettings, CallCounter, CloudWatch, ElbV2};
/// use albflip::engine::{CancellationToken, DeploySpec, Engine, OnInterrupt};
/// use albflip::events::Ignore;
/// use albflip::model::Color;
/// use albflip::ports::TokioClock;
/// use albflip::aws::resolve::Target;
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
/// `S` resizes the colors' capacity pools, Auto Scaling groups on AWS ([`Engine::with_scaler`]);
/// without one the engine never touches capacity.
pub struct Engine<'a, P, M, C, S = NoScaler> {
    provider: &'a P,
    metrics: &'a M,
    clock: &'a C,
    scaler: &'a S,
    observer: &'a dyn Observer,
    cancel: CancellationToken,
    on_interrupt: OnInterrupt,
    lease_lost: CancellationToken,
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

impl<'a, P: Provider, M: MetricSource, C: Clock> Engine<'a, P, M, C> {
    /// An engine over the given ports. It runs until done unless cancelled through
    /// [`Engine::with_cancellation`], and leaves Auto Scaling alone unless given a scaler through
    /// [`Engine::with_scaler`].
    pub fn new(provider: &'a P, metrics: &'a M, clock: &'a C, observer: &'a dyn Observer) -> Self {
        Engine {
            provider,
            metrics,
            clock,
            scaler: &NoScaler,
            observer,
            cancel: CancellationToken::new(),
            on_interrupt: OnInterrupt::Rollback,
            lease_lost: CancellationToken::new(),
            identity: "albflip".into(),
        }
    }
}

impl<'a, P: Provider, M: MetricSource, C: Clock, S: CapacityPool> Engine<'a, P, M, C, S> {
    /// Resizes the colors' Auto Scaling groups through `scaler` (matching capacity before the first
    /// step, scaling the old color down after a completed deployment), as the spec's
    /// [`lifecycle::CapacityPolicy`] says.
    pub fn with_scaler<T: CapacityPool>(self, scaler: &'a T) -> Engine<'a, P, M, C, T> {
        Engine {
            provider: self.provider,
            metrics: self.metrics,
            clock: self.clock,
            scaler,
            observer: self.observer,
            cancel: self.cancel,
            on_interrupt: self.on_interrupt,
            lease_lost: self.lease_lost,
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

    /// Marks the run's deployment lease: when `lost` is cancelled (the lease was taken over or could not
    /// be renewed, see [`crate::lock::Held::lost`]) and the run is then stopped through
    /// [`Engine::with_cancellation`], the run holds traffic where it is and writes nothing more, neither
    /// weights nor records, whatever `on_interrupt` says: another run may own the route now. It returns
    /// [`Error::Conflict`] (exit 4 in the CLI). Cancel `lost` before the run's token.
    pub fn with_lease(mut self, lost: CancellationToken) -> Self {
        self.lease_lost = lost;
        self
    }
}

impl<P: Provider, M: MetricSource, C: Clock, S: CapacityPool> Engine<'_, P, M, C, S> {
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
    pub async fn deploy(&self, target: &P::Target, spec: &DeploySpec) -> Result<Outcome, Error> {
        let mut routes = self.provider.resolve(target).await?;
        let test = self.find_test_route(&mut routes, spec).await?;
        self.deploy_on(&routes, test.as_ref(), spec).await
    }

    async fn deploy_on<R: Routes>(
        &self,
        routes: &R,
        test: Option<&R::Test>,
        spec: &DeploySpec,
    ) -> Result<Outcome, Error> {
        let new = spec.plan.target;
        spec.check_judged()?;
        check_pauses(spec)?;
        routes.check_can_start(new)?;
        routes.check_agreement()?;
        self.check_alarms(routes, spec).await?;
        routes.check_writable().await?;
        let mode = if spec.plan.pause_after.is_some() {
            Mode::Canary
        } else {
            Mode::Deploy
        };
        if let Err(failure) = self
            .run_hooks(Stage::BeforeDeploy, routes, spec, At::default())
            .await
        {
            if self.cancel.is_cancelled() {
                return Ok(self.stopped_before_production(routes));
            }
            return Err(Error::State {
                what: text!("the deployment did not start: ").then(failure.text()),
                fix: "Nothing was changed; fix what the hook reports and run it again".into(),
            });
        }
        // Capacity first: the new color's health is judged once its group had the chance to grow.
        if !self.match_capacity(routes, spec).await? || self.cancel.is_cancelled() {
            return Ok(self.stopped_before_production(routes));
        }
        self.check_new_health(routes, spec, new).await?;
        if let Some(t) = test {
            let checked = self.test_traffic(routes, spec, t).await?;
            if checked.is_some() && self.cancel.is_cancelled() {
                self.put_test_back(routes, test).await;
                return Ok(self.stopped_before_production(routes));
            }
            if let Some(failure) = checked {
                return self
                    .failed_before_production(routes, spec, t, failure)
                    .await;
            }
            if self.cancel.is_cancelled() {
                self.put_test_back(routes, test).await;
                return Ok(self.stopped_before_production(routes));
            }
        }
        let record = self.new_record(spec, kind_of(spec));
        state::check_record_fits(&record)?;
        let run = Run::new(routes, spec, mode, test).recording(record);
        self.run(run, spec.plan.steps_to_run(), 1).await
    }

    /// Cancelled before production traffic moved: nothing to put back there.
    fn stopped_before_production<R: Routes>(&self, routes: &R) -> Outcome {
        let split = routes.split().into();
        self.emit(Event::Interrupted {
            rolled_back: false,
            split,
            step: 0,
        });
        Outcome::Interrupted {
            rolled_back: false,
            split,
            step: 0,
        }
    }

    /// A smoke check or after-test-traffic hook failed: the test listener goes back to the stable color
    /// and production traffic never moved.
    async fn failed_before_production<R: Routes>(
        &self,
        routes: &R,
        spec: &DeploySpec,
        test: &R::Test,
        failure: Failure,
    ) -> Result<Outcome, Error> {
        let stable = routes.stable();
        self.emit(Event::RollingBack {
            failure: failure.clone(),
        });
        self.point_test_route(routes, test, stable)
            .await
            .map_err(|e| Error::RollbackFailed {
                cause: failure.text(),
                rollback: Box::new(e),
            })?;
        self.run_hooks_after(Stage::AfterRollback, routes, spec)
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
    pub async fn resume(&self, target: &P::Target, spec: &DeploySpec) -> Result<Outcome, Error> {
        let mut routes = self.provider.resolve(target).await?;
        let test = self.find_test_route(&mut routes, spec).await?;
        self.resume_on(&routes, test.as_ref(), spec).await
    }

    async fn resume_on<R: Routes>(
        &self,
        routes: &R,
        test: Option<&R::Test>,
        spec: &DeploySpec,
    ) -> Result<Outcome, Error> {
        let names = routes.names();
        let live = state::RouteState {
            route: &names.route,
            record: None,
            split: routes.split(),
            stable: routes.stable(),
        };
        let resumed = resume_point(routes.records(), live, spec)?;
        let (record, spec, from, pause) =
            (resumed.record, resumed.spec, resumed.from, resumed.pause);
        if let Some(expected) = resumed.adopted {
            self.emit(Event::DriftAdopted {
                step: from,
                expected: expected.into(),
                found: routes.split().into(),
            });
        }
        let mode = if pause.is_some() {
            Mode::Canary
        } else {
            Mode::Deploy
        };
        let to_run = &spec.plan.steps_to_run().get(from - 1..).unwrap_or_default();
        let record = DeploymentRecord {
            phase: Phase::InProgress,
            started_by: self.identity.clone(),
            gated: !spec.ungated,
            ..record
        };
        let run = Run::new(routes, &spec, mode, test).recording(record);
        self.run(run, to_run, from).await
    }

    /// One gated step (`albflip shift --bake`): the plan's single step, baked under the gates, rolled
    /// back to the stable color on failure. Records no deployment state, so pipelines can call it
    /// step after step.
    pub async fn shift(&self, target: &P::Target, spec: &DeploySpec) -> Result<Outcome, Error> {
        spec.check_judged()?;
        let routes = self.provider.resolve(target).await?;
        let (names, record) = (
            routes.names(),
            DeploymentRecord::from_tags(routes.records()),
        );
        let live = state::RouteState {
            route: &names.route,
            record: record.as_ref(),
            split: routes.split(),
            stable: routes.stable(),
        };
        if let Some(record) = state::check_can_shift(live, spec.take_over)? {
            self.emit(Event::Warning {
                message: state::took_over(&record),
            });
        }
        routes.check_agreement()?;
        self.check_alarms(&routes, spec).await?;
        self.check_first_step(&routes, spec, spec.plan.target)
            .await?;
        let run = Run::new(&routes, spec, Mode::Shift, None);
        self.run(run, &spec.plan.steps, 1).await
    }

    /// Finishes a canary awaiting promotion: the step to 100 % with a final bake.
    pub async fn promote(&self, target: &P::Target, spec: &DeploySpec) -> Result<Outcome, Error> {
        let mut routes = self.provider.resolve(target).await?;
        let test = self.find_test_route(&mut routes, spec).await?;
        self.promote_on(&routes, test.as_ref(), spec).await
    }

    async fn promote_on<R: Routes>(
        &self,
        routes: &R,
        test: Option<&R::Test>,
        spec: &DeploySpec,
    ) -> Result<Outcome, Error> {
        routes.check_agreement()?;
        let record = DeploymentRecord::from_tags(routes.records())
            .filter(|r| r.phase == Phase::AwaitingPromotion)
            .ok_or_else(|| Error::State {
                what: format!("no canary is awaiting promotion on the {}", routes.names().route).into(),
                fix: text!("Start one with ", {next Next::DeployCanary}, "; ", {next Next::Status}, " shows the route's state"),
            })?;
        let spec = DeploySpec {
            plan: Plan::promotion(record.target, spec.policy.bake),
            ..spec.clone()
        };
        spec.check_judged()?;
        self.check_alarms(routes, &spec).await?;
        let record = DeploymentRecord {
            phase: Phase::InProgress,
            steps: vec![100],
            step: 0,
            strategy: "promote".into(),
            gated: !spec.ungated,
            ..record
        };
        let run = Run::new(routes, &spec, Mode::Deploy, test).recording(record);
        self.run(run, &spec.plan.steps, 1).await
    }

    async fn check_first_step<R: Routes>(
        &self,
        routes: &R,
        spec: &DeploySpec,
        new: Color,
    ) -> Result<(), Error> {
        self.check_new_health(routes, spec, new).await?;
        routes.check_writable().await
    }

    /// The new color has enough healthy targets for the first step (unless forced).
    async fn check_new_health<R: Routes>(
        &self,
        routes: &R,
        spec: &DeploySpec,
        new: Color,
    ) -> Result<(), Error> {
        let first = spec
            .plan
            .steps
            .first()
            .map(|s| s.percent)
            .unwrap_or(Percent::FULL);
        routes
            .check_health(Split::to(new, first), spec.force, spec.min_healthy_hosts)
            .await?;
        Ok(())
    }
}

/// A pause between steps waits for promotion as long as the wait allows: without one it is refused.
fn check_pauses(spec: &DeploySpec) -> Result<(), Error> {
    if spec.plan.pauses.is_empty() || spec.lifecycle.promotion_wait.is_some() {
        return Ok(());
    }
    Err(Error::invalid(
        Input::Steps,
        text!({given Input::Steps}),
        "a pause waits for promotion, and no wait is given",
        text!("Say how long it may wait with ", {input Input::WaitForPromotion}, " (e.g. 2h)"),
    ))
}

/// The strategy's name as recorded.
fn kind_of(spec: &DeploySpec) -> &'static str {
    match (spec.plan.pause_after, spec.plan.steps.len()) {
        (Some(_), _) => "canary",
        (None, 1) => "immediate",
        _ => "gradual",
    }
}

/// Where a resume would continue a recorded deployment: the record, the spec it runs (the recorded
/// target and steps with the gates of the given spec), the step it starts from (1-based), the canary's
/// pause, and the split it adopts on drift. The same decision `deploy --resume` makes, for its dry run.
#[derive(Debug, Clone)]
pub struct ResumePoint {
    /// The deployment as recorded.
    pub record: DeploymentRecord,
    /// What the resume runs.
    pub spec: DeploySpec,
    /// The step it starts from (1-based; that step's bake runs again).
    pub from: usize,
    /// The canary's pause after its first step.
    pub pause: Option<usize>,
    /// The split expected when drift is adopted.
    pub adopted: Option<Split>,
}

/// The [`ResumePoint`] of the deployment recorded in `records` on the route as read (`live`, whose
/// `record` is ignored); refuses as `deploy --resume` does.
pub fn resume_point(
    records: &crate::ports::Tags,
    live: state::RouteState<'_>,
    spec: &DeploySpec,
) -> Result<ResumePoint, Error> {
    let route = live.route;
    let record = DeploymentRecord::from_tags(records)
        .filter(|r| matches!(r.phase, Phase::InProgress | Phase::Interrupted | Phase::RolledBack) && !r.steps.is_empty())
        .ok_or_else(|| Error::State {
            what: format!("no interrupted or in-progress deployment is recorded on the {route}").into(),
            fix: text!("Start a new one with ", {next Next::Deploy}, " (without ", {input Input::Resume}, "); ", {next Next::Status}, " shows the recorded state"),
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
        pauses: Vec::new(),
    };
    let spec = DeploySpec {
        plan,
        strategy: format!("resume {} {}", record.strategy, record.id),
        ..spec.clone()
    };
    spec.check_judged()?;
    let live = state::RouteState {
        record: Some(&record),
        ..live
    };
    let point = state::check_can_resume(live, &record, spec.adopt_drift)?;
    let from = point.step.clamp(1, spec.plan.steps.len().max(1));
    Ok(ResumePoint {
        record,
        spec,
        from,
        pause,
        adopted: point.adopted,
    })
}
