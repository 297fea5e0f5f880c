//! The stages around the steps: hooks, the new color's capacity, the test listener and its smoke check,
//! and scaling the old color down after a completed deployment.

use crate::capacity::{self, CapacityRecord, ColorPool, Wait};
use crate::error::Error;
use crate::events::Event;
use crate::hooks::{self, HookContext, Stage};
use crate::input::{Input, Next};
use crate::model::Color;
use crate::plan::decide::Failure;
use crate::ports::{ApiErrorKind, CapacityPool, Clock, MetricSource, Provider, Routes};
use crate::smoke;
use crate::text;

use super::context::Run;
use super::lifecycle::TestTraffic;
use super::{DeploySpec, Engine};

/// Where a run stands, for the hooks' environment.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct At {
    /// 1-based step.
    pub step: Option<usize>,
    /// Steps in the run.
    pub steps: Option<usize>,
    /// The new color's share.
    pub percent: Option<u8>,
}

impl<P: Provider, M: MetricSource, C: Clock, S: CapacityPool> Engine<'_, P, M, C, S> {
    /// Runs the hooks of `stage` in order; the first failure is returned as a step failure.
    pub(super) async fn run_hooks<R: Routes>(
        &self,
        stage: Stage,
        routes: &R,
        spec: &DeploySpec,
        at: At,
    ) -> Result<(), Failure> {
        let names = routes.names();
        for hook in spec.lifecycle.hooks_at(stage) {
            let context = HookContext {
                stage: Some(stage),
                target: Some(spec.plan.target),
                stable: Some(routes.stable()),
                percent: at.percent,
                step: at.step,
                steps: at.steps,
                listener_arn: Some(names.listener.clone()),
                route_arn: Some(names.id.clone()),
                deployment_id: None,
            };
            let mut env = context.env();
            if let Some(header) = self.test_header(spec) {
                env.push(("ALBFLIP_TEST_HEADER".into(), header.to_string()));
                env.push(("ALBFLIP_TEST_HEADER_NAME".into(), header.name.clone()));
                env.push(("ALBFLIP_TEST_HEADER_VALUE".into(), header.value.clone()));
            }
            match hooks::run_until(hook, &env, spec.lifecycle.hook_timeout, &self.cancel).await {
                Ok(run) => self.emit(Event::HookPassed {
                    stage: stage.to_string(),
                    command: hook.command.clone(),
                    seconds: run.elapsed.as_secs_f64(),
                    output: run.output,
                }),
                Err(e) => {
                    return Err(Failure::Hook {
                        message: e.to_string().into(),
                    })
                }
            }
        }
        Ok(())
    }

    /// Runs hooks after traffic is already safe (after-deploy, after-rollback): a failure is a warning.
    pub(super) async fn run_hooks_after<R: Routes>(
        &self,
        stage: Stage,
        routes: &R,
        spec: &DeploySpec,
    ) {
        if let Err(failure) = self.run_hooks(stage, routes, spec, At::default()).await {
            self.emit(Event::Warning {
                message: failure.text().lit("; traffic is unaffected"),
            });
        }
    }

    /// The Auto Scaling group of `color`: named in the spec, or the one registered with its target group.
    pub(super) async fn asg_of<R: Routes>(
        &self,
        routes: &R,
        spec: &DeploySpec,
        color: Color,
    ) -> Result<Option<String>, Error> {
        let policy = &spec.lifecycle.capacity;
        if let Some(name) = policy.named(color) {
            return Ok(Some(name.to_string()));
        }
        if !policy.discover {
            return Ok(None);
        }
        match capacity::discover(self.scaler, &routes.backend(color)).await {
            Ok(found) => Ok(found.map(|g| g.name)),
            // A pipeline without Auto Scaling permissions still deploys; it just cannot match capacity.
            Err(Error::Read(e)) if matches!(e.kind, ApiErrorKind::AccessDenied { .. }) => {
                let kind = self.scaler.kind();
                self.emit(Event::Warning {
                    message: text!(format!("could not look for {color}'s {} ({e}); capacity is left alone. Name them with ", kind.noun()), {input kind.input(Color::Blue)}, "/", {input kind.input(Color::Green)}, format!(", or grant {}", e.operation)),
                });
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Before the first write of a run: holds both colors' Auto Scaling groups (see
    /// [`capacity::hold`]). A group that cannot be held is a warning, never a stop: the deployment goes
    /// on as it would have without the hold.
    pub(super) async fn hold_capacity<R: Routes>(&self, routes: &R, spec: &DeploySpec) {
        self.hold_or_release(routes, spec, true).await;
    }

    /// After a run: ends albflip's hold on both colors' groups (their minimums back as recorded). A
    /// failure is a warning: traffic is where the run left it.
    pub(super) async fn release_capacity<R: Routes>(&self, routes: &R, spec: &DeploySpec) {
        self.hold_or_release(routes, spec, false).await;
    }

    /// Holds (`hold`) or releases both colors' groups, each said as an event or a warning.
    async fn hold_or_release<R: Routes>(&self, routes: &R, spec: &DeploySpec, hold: bool) {
        let noun = self.scaler.kind().noun();
        for color in Color::ALL {
            let done = match self.asg_of(routes, spec, color).await {
                Ok(Some(asg)) if hold => capacity::hold(self.scaler, &asg).await,
                Ok(Some(asg)) => capacity::release(self.scaler, &asg).await,
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            };
            let event = match done {
                Ok(None) => continue,
                Ok(Some(h)) if hold => Event::CapacityHeld {
                    asg: h.pool,
                    min: h.min_after,
                    was: h.min_before,
                },
                Ok(Some(h)) => Event::CapacityReleased {
                    asg: h.pool,
                    min: h.min_after,
                    was: h.min_before,
                },
                Err(e) if hold => Event::Warning {
                    message: text!(format!("{color}'s {noun} is not held for the deployment (a scaling policy may scale it in while traffic moves): ")).then(e.text()),
                },
                Err(e) => Event::Warning {
                    message: text!(format!("albflip's hold on {color}'s {noun} could not be ended (its minimum stays raised; "), {next crate::input::Next::Rollback}, " or the next deployment ends it): ").then(e.text()),
                },
            };
            self.emit(event);
        }
    }

    /// Before the first step: raises the new color's group to the stable one's capacity and waits for
    /// its healthy targets, when the spec asks for it (by default, when both groups are known).
    /// `Ok(false)` when the run was cancelled while waiting.
    pub(super) async fn match_capacity<R: Routes>(
        &self,
        routes: &R,
        spec: &DeploySpec,
    ) -> Result<bool, Error> {
        let policy = &spec.lifecycle.capacity;
        if policy.match_capacity == Some(false) {
            return Ok(true);
        }
        let new = spec.plan.target;
        let new_asg = self.asg_of(routes, spec, new).await?;
        let stable_asg = self.asg_of(routes, spec, new.other()).await?;
        let (Some(new_asg), Some(stable_asg)) = (new_asg, stable_asg) else {
            if policy.match_capacity == Some(true) {
                let kind = self.scaler.kind();
                return Err(Error::invalid(
                    Input::MatchCapacity,
                    text!({given Input::MatchCapacity}),
                    format!(
                        "it needs the {}s of both colors, and albflip found none for one of them",
                        kind.noun()
                    ),
                    text!("Name them with ", {input kind.input(Color::Blue)}, " and ", {input kind.input(Color::Green)}, " (or in albflip.toml)"),
                ));
            }
            return Ok(true);
        };
        let wait = Wait {
            timeout: policy.ready_timeout,
            poll: policy.ready_poll,
        };
        let color = ColorPool {
            pool: &new_asg,
            color: new,
        };
        let matching = capacity::match_capacity(
            self.scaler,
            routes,
            self.clock,
            color,
            &stable_asg,
            wait,
            |p| {
                self.emit(Event::CapacityWaiting {
                    asg: p.asg.clone(),
                    target_group: p.target_group.clone(),
                    healthy: p.healthy,
                    wanted: p.wanted,
                    seconds_left: p.seconds_left,
                })
            },
        );
        let matched = tokio::select! {
            matched = matching => matched?,
            _ = self.cancel.cancelled() => return Ok(false),
        };
        self.emit(Event::CapacityReady {
            asg: new_asg,
            desired: matched.new.desired,
            raised: matched.raised,
            healthy: matched.healthy,
        });
        // The stable color's capacity is recorded when it is scaled down (here after a completed
        // deployment, or by `albflip cleanup`), not now: a refused first step must leave the route's
        // tags as they were, and until the scale-down the group itself holds its capacity.
        Ok(true)
    }

    /// The test header of the spec, if test traffic is marked by one.
    fn test_header<'s>(&self, spec: &'s DeploySpec) -> Option<&'s crate::ports::TestHeader> {
        match spec.lifecycle.test_traffic.as_ref().map(|t| &t.listener) {
            Some(crate::ports::TestListener::Header(h)) => Some(h),
            _ => None,
        }
    }

    /// At the end of a run: removes what the test route has only for the run (the test header's
    /// rule); a failure is a warning (production traffic is where the run left it).
    pub(super) async fn end_test_route<R: Routes>(&self, routes: &R, test: Option<&R::Test>) {
        let Some(t) = test else {
            return;
        };
        match routes.end_test_route(t).await {
            Ok(true) => self.emit(Event::TestRouteRemoved {
                route: routes.test_route_id(t),
            }),
            Ok(false) => {}
            Err(e) => self.emit(Event::Warning {
                message: text!("the test route could not be removed: ").then(e.text()),
            }),
        }
    }

    /// Finds the test route named in the spec and takes it out of the routes the run moves.
    pub(super) async fn find_test_route<R: Routes>(
        &self,
        routes: &mut R,
        spec: &DeploySpec,
    ) -> Result<Option<R::Test>, Error> {
        match &spec.lifecycle.test_traffic {
            Some(test) => routes.take_test_route(&test.listener).await,
            None => Ok(None),
        }
    }

    /// Points the test route at `color` (one write, read back).
    pub(super) async fn point_test_route<R: Routes>(
        &self,
        routes: &R,
        test: &R::Test,
        color: Color,
    ) -> Result<(), Error> {
        // Back on the stable color: a route that exists only for the run (the test header's rule) is
        // removed instead.
        if color == routes.stable() && routes.end_test_route(test).await? {
            self.emit(Event::TestRouteRemoved {
                route: routes.test_route_id(test),
            });
            return Ok(());
        }
        routes.point_test_route(test, color).await?;
        self.emit(Event::TestTrafficApplied {
            listener: routes.test_route_id(test),
            to: color,
        });
        Ok(())
    }

    /// Before production traffic moves: the test listener to the new color, then the smoke check and
    /// the after-test-traffic hooks. `Ok(Some(failure))` when a check failed (the caller puts the test
    /// listener back).
    pub(super) async fn test_traffic<R: Routes>(
        &self,
        routes: &R,
        spec: &DeploySpec,
        test: &R::Test,
    ) -> Result<Option<Failure>, Error> {
        self.point_test_route(routes, test, spec.plan.target)
            .await?;
        if let Some(TestTraffic {
            smoke_url: Some(url),
            smoke_count,
            smoke_timeout,
            ..
        }) = &spec.lifecycle.test_traffic
        {
            let probe = routes.probe();
            let checked = match self.test_header(spec) {
                Some(header) => {
                    let probe = crate::ports::WithHeader {
                        http: &probe,
                        header,
                    };
                    smoke::check(&probe, url, *smoke_count, *smoke_timeout).await
                }
                None => smoke::check(&probe, url, *smoke_count, *smoke_timeout).await,
            };
            match checked {
                Ok(report) => self.emit(Event::SmokePassed {
                    url: url.clone(),
                    attempts: report.attempts.len(),
                }),
                Err(e) => return Ok(Some(Failure::Smoke { message: e.text() })),
            }
        }
        Ok(self
            .run_hooks(Stage::AfterTestTraffic, routes, spec, At::default())
            .await
            .err())
    }

    /// After a completed deployment: waits `--scale-down-delay`, then scales the old color to zero once
    /// every route (and the test listener) reads back without traffic to it. Problems are warnings: the
    /// deployment stands.
    pub(super) async fn scale_down_old<R: Routes>(&self, run: &Run<'_, R>) {
        let Some(delay) = run.spec.lifecycle.capacity.scale_down_delay else {
            return;
        };
        let old = run.new_color().other();
        if let Err(e) = self.try_scale_down(run, old, delay).await {
            self.emit(Event::Warning {
                message: text!(format!("{old} was not scaled down: "))
                    .then(e.text())
                    .then(text!("; ", {next Next::Cleanup}, " does it later")),
            });
        }
    }

    /// Waits `delay`, records `old`'s capacity and scales its group to zero once no route forwards to it.
    async fn try_scale_down<R: Routes>(
        &self,
        run: &Run<'_, R>,
        old: Color,
        delay: std::time::Duration,
    ) -> Result<(), Error> {
        let (routes, spec, test) = (run.routes, run.spec, run.test);
        let Some(asg) = self.asg_of(routes, spec, old).await? else {
            return Ok(());
        };
        // Sticky clients keep reaching the old color for the stickiness duration after its weight went
        // to 0: the scale-down waits at least that long.
        let delay = match routes.sticky_for() {
            Some(sticky) if sticky > delay => {
                self.emit(Event::Warning {
                    message: text!(
                        format!("scaling {old} down in {} instead of after ", crate::duration::human(sticky)),
                        {input Input::ScaleDownDelay},
                        format!(" ({}): group stickiness keeps clients on {old} for {} after its weight went to 0", crate::duration::human(delay), crate::duration::human(sticky))
                    ),
                });
                sticky
            }
            _ => delay,
        };
        tokio::select! {
            _ = self.clock.sleep(delay) => {}
            _ = self.cancel.cancelled() => return Err(Error::State {
                what: text!("the run was interrupted during ", {input Input::ScaleDownDelay}),
                fix: text!("Run ", {next Next::Cleanup}),
            }),
        }
        let current = self.scaler.describe(&asg).await.map_err(Error::Read)?;
        if let Some(info) = current.filter(|i| i.desired > 0) {
            capacity::write_record(routes, old, &CapacityRecord::of(&info)).await?;
        }
        // Every route that forwards to the old color at all, not only albflip's lockstep group, reads
        // back without traffic to it right before the resize.
        let color = ColorPool {
            pool: &asg,
            color: old,
        };
        capacity::scale_down(self.scaler, routes, test, color).await?;
        self.emit(Event::ScaledDown { color: old, asg });
        Ok(())
    }
}
