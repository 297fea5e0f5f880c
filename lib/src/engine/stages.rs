//! The stages around the steps: hooks, the new color's capacity, the test listener and its smoke check,
//! and scaling the old color down after a completed deployment.

use crate::capacity::{self, CapacityRecord, ColorAsg, Wait};
use crate::error::Error;
use crate::events::Event;
use crate::hooks::{self, HookContext, Stage};
use crate::input::{Input, Next};
use crate::model::{Color, Split};
use crate::plan::decide::Failure;
use crate::ports::{ApiErrorKind, Clock, MetricSource};
use crate::providers::aws::api::{Alb, Scaler};
use crate::providers::aws::lockstep;
use crate::providers::aws::resolve::Resolved;
use crate::providers::aws::route::{RouteId, RouteSnapshot};
use crate::providers::aws::write::{self, Verification};
use crate::smoke;
use crate::text;

use super::context::Run;
use super::lifecycle::{TestListener, TestTraffic};
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

impl<A: Alb, M: MetricSource, C: Clock, S: Scaler> Engine<'_, A, M, C, S> {
    /// Runs the hooks of `stage` in order; the first failure is returned as a step failure.
    pub(super) async fn run_hooks(
        &self,
        stage: Stage,
        resolved: &Resolved,
        spec: &DeploySpec,
        at: At,
    ) -> Result<(), Failure> {
        for hook in spec.lifecycle.hooks_at(stage) {
            let context = HookContext {
                stage: Some(stage),
                target: Some(spec.plan.target),
                stable: Some(resolved.stable),
                percent: at.percent,
                step: at.step,
                steps: at.steps,
                listener_arn: Some(resolved.snapshot.route.listener().to_string()),
                route_arn: Some(resolved.snapshot.route.resource_arn().to_string()),
                deployment_id: None,
            };
            let env = context.env();
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
    pub(super) async fn run_hooks_after(
        &self,
        stage: Stage,
        resolved: &Resolved,
        spec: &DeploySpec,
    ) {
        if let Err(failure) = self.run_hooks(stage, resolved, spec, At::default()).await {
            self.emit(Event::Warning {
                message: failure.text().lit("; traffic is unaffected"),
            });
        }
    }

    /// The Auto Scaling group of `color`: named in the spec, or the one registered with its target group.
    pub(super) async fn asg_of(
        &self,
        resolved: &Resolved,
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
        match capacity::discover(self.scaler, resolved.groups.of(color)).await {
            Ok(found) => Ok(found.map(|g| g.name)),
            // A pipeline without Auto Scaling permissions still deploys; it just cannot match capacity.
            Err(Error::Read(e)) if matches!(e.kind, ApiErrorKind::AccessDenied { .. }) => {
                self.emit(Event::Warning {
                    message: text!(format!("could not look for {color}'s Auto Scaling group ({e}); capacity is left alone. Name the groups with "), {input Input::BlueAsg}, "/", {input Input::GreenAsg}, ", or grant autoscaling:DescribeAutoScalingGroups"),
                });
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Before the first step: raises the new color's group to the stable one's capacity and waits for
    /// its healthy targets, when the spec asks for it (by default, when both groups are known).
    /// `Ok(false)` when the run was cancelled while waiting.
    pub(super) async fn match_capacity(
        &self,
        resolved: &Resolved,
        spec: &DeploySpec,
    ) -> Result<bool, Error> {
        let policy = &spec.lifecycle.capacity;
        if policy.match_capacity == Some(false) {
            return Ok(true);
        }
        let new = spec.plan.target;
        let new_asg = self.asg_of(resolved, spec, new).await?;
        let stable_asg = self.asg_of(resolved, spec, new.other()).await?;
        let (Some(new_asg), Some(stable_asg)) = (new_asg, stable_asg) else {
            if policy.match_capacity == Some(true) {
                return Err(Error::invalid(
                    Input::MatchCapacity,
                    text!({given Input::MatchCapacity}),
                    "it needs the Auto Scaling groups of both colors, and albflip found no group for one of them",
                    text!("Name them with ", {input Input::BlueAsg}, " and ", {input Input::GreenAsg}, " (or [autoscaling] in albflip.toml)"),
                ));
            }
            return Ok(true);
        };
        let wait = Wait {
            timeout: policy.ready_timeout,
            poll: policy.ready_poll,
        };
        let color = ColorAsg {
            asg: &new_asg,
            target_group: resolved.groups.of(new),
        };
        let matching = capacity::match_capacity(
            self.scaler,
            self.alb,
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

    /// The test listener named in the spec, read.
    pub(super) async fn find_test_listener(
        &self,
        resolved: &Resolved,
        spec: &DeploySpec,
    ) -> Result<Option<RouteSnapshot>, Error> {
        let Some(test) = &spec.lifecycle.test_traffic else {
            return Ok(None);
        };
        let found = match &test.listener {
            TestListener::Port(port) => {
                let lb = resolved.snapshot.load_balancer.name();
                self.alb.find_listener(lb, *port).await
            }
            TestListener::Arn(arn) => self.alb.read(&RouteId::Listener(arn.clone())).await,
        };
        let snapshot = found.map_err(|e| match e.kind {
            ApiErrorKind::NotFound => Error::NotFound {
                what: format!("the test listener ({})", describe(test)).into(),
                fix: text!("Create it, or fix ", {input Input::TestListenerPort}, "/", {input Input::TestListenerArn}),
            },
            _ => Error::Read(e),
        })?;
        if snapshot.route == resolved.snapshot.route {
            return Err(Error::invalid(
                Input::TestListenerPort,
                text!({given Input::TestListenerPort}),
                "it names the production route itself",
                "Name a second listener (e.g. port 9000) for test traffic",
            ));
        }
        Ok(Some(snapshot))
    }

    /// Points the test listener at `color` (one write, read back).
    pub(super) async fn point_test_listener(
        &self,
        resolved: &Resolved,
        test: &RouteSnapshot,
        color: Color,
    ) -> Result<(), Error> {
        let live = self.alb.read(&test.route).await.map_err(Error::Read)?;
        write::write_group(
            self.alb,
            std::slice::from_ref(&live),
            &resolved.groups,
            Split::all_to(color),
            Verification::ReadBack,
        )
        .await?;
        self.emit(Event::TestTrafficApplied {
            listener: test.route.resource_arn().to_string(),
            to: color,
        });
        Ok(())
    }

    /// Before production traffic moves: the test listener to the new color, then the smoke check and
    /// the after-test-traffic hooks. `Ok(Some(failure))` when a check failed (the caller puts the test
    /// listener back).
    pub(super) async fn test_traffic(
        &self,
        resolved: &Resolved,
        spec: &DeploySpec,
        test: &RouteSnapshot,
    ) -> Result<Option<Failure>, Error> {
        self.point_test_listener(resolved, test, spec.plan.target)
            .await?;
        if let Some(TestTraffic {
            smoke_url: Some(url),
            smoke_count,
            smoke_timeout,
            ..
        }) = &spec.lifecycle.test_traffic
        {
            match smoke::check(url, *smoke_count, *smoke_timeout).await {
                Ok(report) => self.emit(Event::SmokePassed {
                    url: url.clone(),
                    attempts: report.attempts.len(),
                }),
                Err(e) => return Ok(Some(Failure::Smoke { message: e.text() })),
            }
        }
        Ok(self
            .run_hooks(Stage::AfterTestTraffic, resolved, spec, At::default())
            .await
            .err())
    }

    /// After a completed deployment: waits `--scale-down-delay`, then scales the old color to zero once
    /// every route (and the test listener) reads back without traffic to it. Problems are warnings: the
    /// deployment stands.
    pub(super) async fn scale_down_old(&self, run: &Run<'_>) {
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
    async fn try_scale_down(
        &self,
        run: &Run<'_>,
        old: Color,
        delay: std::time::Duration,
    ) -> Result<(), Error> {
        let (resolved, spec, test) = (run.resolved, run.spec, run.test);
        let Some(asg) = self.asg_of(resolved, spec, old).await? else {
            return Ok(());
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
            capacity::write_record(
                self.alb,
                &resolved.snapshot.route,
                old,
                &CapacityRecord::of(&info),
            )
            .await?;
        }
        // Every route that forwards to the old group at all, not only albflip's lockstep group.
        let ours: Vec<RouteId> = resolved
            .routes()
            .into_iter()
            .chain(test)
            .map(|r| r.route.clone())
            .collect();
        let routes =
            lockstep::routes_to(self.alb, resolved.groups.of(old), &resolved.snapshot, &ours)
                .await?;
        let color = ColorAsg {
            asg: &asg,
            target_group: resolved.groups.of(old),
        };
        capacity::scale_down(self.scaler, self.alb, &routes, color).await?;
        self.emit(Event::ScaledDown { color: old, asg });
        Ok(())
    }
}

fn describe(test: &TestTraffic) -> String {
    match &test.listener {
        TestListener::Port(p) => format!("port {p}"),
        TestListener::Arn(a) => a.to_string(),
    }
}
