//! Baking a step: poll the gates until the step passes, fails, or the run is cancelled.

use crate::input::Input;
use crate::text;
use std::time::SystemTime;

use crate::error::Error;
use crate::events::Event;
use crate::plan::decide::Failure;
use crate::plan::gates::evaluate;
use crate::plan::gates::{GateKind, GateReport, Verdict};
use crate::plan::judge::{JudgeKind, JudgeSettings, SequentialJudge};
use crate::plan::window::align_down;
use crate::plan::{
    published_coverage, step_length, step_window, BakeDecision, BakePolicy, BakeProgress,
    BakeTracker, ColorMetrics, Step,
};
use crate::plan::{LoadBalancerCounts, Observation};
use crate::ports::{ApiError, CapacityPool, Clock, MetricQuery, MetricSource, Provider, Routes};

use super::context::Run;
use super::{DeploySpec, Engine};

/// Consecutive failed metric fetches that fail a step.
pub const MAX_METRIC_ERRORS: u32 = 3;

/// How a bake ended.
pub(super) enum Baked {
    /// The step baked under the gates for its whole bake.
    Passed,
    /// A gate (or the metric source) failed the step.
    Failed(Failure),
    /// The run was cancelled while baking.
    Cancelled,
}

impl<P: Provider, M: MetricSource, C: Clock, S: CapacityPool> Engine<'_, P, M, C, S> {
    /// A named alarm that does not exist would never fail its gate: refuse to start instead.
    pub(super) async fn check_alarms<R: Routes>(
        &self,
        routes: &R,
        spec: &DeploySpec,
    ) -> Result<(), Error> {
        if spec.gates.alarms.is_empty() {
            return Ok(());
        }
        let observation = self
            .observe_with_alarms(&self.query(routes, spec, self.clock.now()), spec)
            .await
            .map_err(Error::Read)?;
        let missing: Vec<&str> = spec
            .gates
            .alarms
            .iter()
            .filter(|name| !observation.alarms.iter().any(|(n, _)| n == *name))
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(Error::invalid(
            Input::Alarm,
            text!({given Input::Alarm}, format!(" {}", missing.join(", "))),
            "no such CloudWatch alarm in this account and region, so its gate could never fail",
            "Check the alarm name (`aws cloudwatch describe-alarms --alarm-names NAME`)",
        ))
    }

    /// Bakes one step: polls until it passes, fails or the run is cancelled.
    pub(super) async fn bake<R: Routes>(
        &self,
        run: &Run<'_, R>,
        step: &Step,
        n: usize,
    ) -> Result<Baked, Error> {
        let (routes, spec) = (run.routes, run.spec);
        if step.bake.is_zero() {
            return Ok(Baked::Passed);
        }
        let policy = BakePolicy {
            bake: step.bake,
            ..spec.policy
        };
        let new = spec.plan.target;
        let started = self.clock.now();
        let mut tracker = BakeTracker::default();
        let mut judge = (spec.gates.judge == JudgeKind::Sequential)
            .then(|| SequentialJudge::new(JudgeSettings::new(&spec.gates, spec.gates.confidence)));
        let mut errors = 0u32;
        let mut baseline = None;
        let mut seen = std::collections::BTreeSet::new();
        let w = spec.window;
        // When the step's bake should be covered by published periods, and when waiting for them ends.
        let length = step_length(policy.bake, w.lag, w.period);
        let limit = length + policy.max_bake_extension;
        loop {
            tokio::select! {
                _ = self.clock.sleep(policy.poll_interval) => {}
                _ = self.cancel.cancelled() => return Ok(Baked::Cancelled),
            }
            let now = self.clock.now();
            let elapsed = now.duration_since(started).unwrap_or_default();
            // Only periods that start after the write judge the step (see `plan::window`).
            let Some(window) = step_window(started, now, w.window, w.lag, w.period) else {
                // No period after the write is published yet: the alarms and the live host counts
                // are judged meanwhile.
                if let Some(failure) = self
                    .early_poll(routes, spec, (n, &policy, elapsed, length), &mut tracker)
                    .await
                {
                    return Ok(Baked::Failed(failure));
                }
                if elapsed >= limit {
                    return Ok(Baked::Failed(Failure::NoData {
                        message: format!(
                            "no metric period after the step's write was published within {}",
                            crate::duration::human(elapsed)
                        )
                        .into(),
                    }));
                }
                self.emit(Event::WaitingForData {
                    step: n,
                    elapsed_seconds: elapsed.as_secs_f64(),
                    step_seconds: length.as_secs_f64(),
                    gives_up_seconds: limit.as_secs_f64(),
                    reason: "no metric period after the step's write is published yet".into(),
                });
                continue;
            };
            let query = self.query_between(routes, spec, window.start, window.end);
            let observed = match self.observe_step(routes, &query, spec).await {
                Ok(o) => {
                    self.with_baseline(routes, spec, started, o, &mut baseline)
                        .await
                }
                Err(e) => Err(e),
            };
            let observation = match observed {
                Ok(o) => {
                    errors = 0;
                    self.emit_periods(n, new, &o, w.period);
                    o
                }
                Err(e) => {
                    errors += 1;
                    self.emit(Event::MetricsUnavailable {
                        step: n,
                        error: e.to_string(),
                    });
                    if errors >= MAX_METRIC_ERRORS {
                        return Ok(Baked::Failed(Failure::NoData {
                            message: format!(
                                "metrics unavailable for {errors} consecutive polls: {e}"
                            )
                            .into(),
                        }));
                    }
                    continue;
                }
            };
            let mut report = evaluate(&spec.gates, &observation, new);
            let judgements = judge
                .as_mut()
                .map(|j| j.poll(&observation, &mut report, new))
                .unwrap_or_default();
            let covered = if observation.by_period {
                // Every period seen published in this step's polls: a bake longer than
                // `--metric-window` is covered by periods read by earlier polls.
                seen.extend(observation.periods.iter().map(|p| p.start));
                let published: Vec<SystemTime> = seen.iter().copied().collect();
                published_coverage(started, &published, w.period).min(window.covered)
            } else {
                window.covered
            };
            // Periods that never come (a source that publishes nothing for this backend) are no data:
            // after the step's expected length and the extension, the no-data policy decides.
            let covered = match unpublished(&policy, covered, elapsed, limit) {
                Some(Ok(c)) => c,
                Some(Err(failure)) => return Ok(Baked::Failed(failure)),
                None => covered,
            };
            let progress = BakeProgress {
                elapsed,
                covered,
                period_end: Some(window.end),
            };
            // The sequential judge's crossing is a decision of its own: no consecutive polls needed.
            let decision = match judgements.iter().find(|j| j.verdict == Verdict::Fail) {
                Some(j) => BakeDecision::Failed(Failure::Gate {
                    result: j.gate_result(),
                    polls: 1,
                }),
                None => tracker.judge_step(&policy, &report, progress),
            };
            let waits_for_data = matches!(decision, BakeDecision::Continue)
                && !report.has_data
                && policy.on_no_data == crate::plan::NoDataPolicy::Wait;
            self.emit(Event::GateEvaluated {
                step: n,
                elapsed_seconds: elapsed.as_secs_f64(),
                bake_seconds: policy.bake.as_secs_f64(),
                covered_seconds: covered.as_secs_f64(),
                step_seconds: length.as_secs_f64(),
                counts: Some(crate::events::WindowCounts::of(&observation)),
                results: report.results,
                judgements,
                decision: match &decision {
                    BakeDecision::Continue => "continue",
                    BakeDecision::Passed => "passed",
                    BakeDecision::Failed(_) => "failed",
                }
                .into(),
            });
            if waits_for_data {
                // `BakeTracker::judge_step` gives up waiting at the bake plus the extension.
                self.emit(Event::WaitingForData {
                    step: n,
                    elapsed_seconds: elapsed.as_secs_f64(),
                    step_seconds: length.as_secs_f64(),
                    gives_up_seconds: (policy.bake + policy.max_bake_extension).as_secs_f64(),
                    reason: no_data_reason(spec, &observation),
                });
            }
            match decision {
                BakeDecision::Continue => {}
                BakeDecision::Passed => return Ok(Baked::Passed),
                BakeDecision::Failed(f) => return Ok(Baked::Failed(f)),
            }
        }
    }

    /// A poll before any period after the step's write is published: the spec's alarms and the new
    /// color's live host counts, which need no period. A failing one counts towards the failure
    /// threshold like any poll's; the step's failure when it reaches it. A read that fails is left to
    /// the next poll.
    async fn early_poll<R: Routes>(
        &self,
        routes: &R,
        spec: &DeploySpec,
        (n, policy, elapsed, length): (
            usize,
            &BakePolicy,
            std::time::Duration,
            std::time::Duration,
        ),
        tracker: &mut BakeTracker,
    ) -> Option<Failure> {
        let now = self.clock.now();
        let alarms = async {
            if spec.gates.alarms.is_empty() {
                Ok(Vec::new())
            } else {
                self.metrics.alarm_states(&spec.gates.alarms).await
            }
        };
        let (alarms, health) = tokio::join!(alarms, routes.health(spec.plan.target));
        let (Ok(alarms), Ok(health)) = (alarms, health) else {
            return None;
        };
        let new = ColorMetrics {
            healthy_hosts: Some(f64::from(health.healthy)),
            unhealthy_hosts: Some(f64::from(health.unhealthy)),
            ..ColorMetrics::default()
        };
        let mut observation = Observation::totals(new, ColorMetrics::default(), now, now);
        observation.alarms = alarms;
        let report = evaluate(&spec.gates, &observation, spec.plan.target);
        let failed = report.results.iter().find(|r| {
            r.verdict == Verdict::Fail
                && matches!(
                    r.gate,
                    GateKind::HealthyHosts | GateKind::UnhealthyHosts | GateKind::Alarm(_)
                )
        })?;
        let report = GateReport {
            results: vec![failed.clone()],
            has_data: true,
        };
        let progress = BakeProgress {
            elapsed,
            covered: std::time::Duration::ZERO,
            period_end: None,
        };
        let decision = tracker.judge_step(policy, &report, progress);
        let failure = match decision {
            BakeDecision::Failed(f) => Some(f),
            _ => None,
        };
        self.emit(Event::GateEvaluated {
            step: n,
            elapsed_seconds: elapsed.as_secs_f64(),
            bake_seconds: policy.bake.as_secs_f64(),
            covered_seconds: 0.0,
            step_seconds: length.as_secs_f64(),
            results: report.results,
            judgements: Vec::new(),
            counts: None,
            decision: if failure.is_some() {
                "failed"
            } else {
                "continue"
            }
            .into(),
        });
        failure
    }

    /// One poll of a step: the metrics and alarms for `query` and, issued at the same time, the new
    /// color's members as the router's health checks see them now. The host gates judge those live
    /// counts: CloudWatch's `HealthyHostCount` is a per-load-balancer-node statistic, one period late,
    /// and while the new color's capacity is being raised it can read 0 for a backend that is healthy.
    pub(super) async fn observe_step<R: Routes>(
        &self,
        routes: &R,
        query: &MetricQuery,
        spec: &DeploySpec,
    ) -> Result<Observation, ApiError> {
        let (observed, health) = tokio::join!(
            self.observe_with_alarms(query, spec),
            routes.health(spec.plan.target)
        );
        let (mut observation, health) = (observed?, health?);
        observation.new.healthy_hosts = Some(f64::from(health.healthy));
        observation.new.unhealthy_hosts = Some(f64::from(health.unhealthy));
        Ok(observation)
    }

    /// `observation` with the load balancer's own counts before the step (the periods up to its write),
    /// read once per step and kept in `baseline`, when the source reports the load balancer's counts.
    pub(super) async fn with_baseline<R: Routes>(
        &self,
        routes: &R,
        spec: &DeploySpec,
        written: SystemTime,
        mut observation: Observation,
        baseline: &mut Option<Option<LoadBalancerCounts>>,
    ) -> Result<Observation, ApiError> {
        if observation.load_balancer.is_none() {
            return Ok(observation);
        }
        if baseline.is_none() {
            let w = spec.window;
            let end = align_down(written, w.period);
            let start = end.checked_sub(w.window.max(w.period)).unwrap_or(end);
            let query = self.query_between(routes, spec, start, end);
            *baseline = Some(self.metrics.observe(&query).await?.load_balancer);
        }
        observation.load_balancer_before = baseline.flatten();
        Ok(observation)
    }

    /// Reports the new color's periods of `observation`, when its source reports periods.
    pub(super) fn emit_periods(
        &self,
        step: usize,
        color: crate::model::Color,
        observation: &Observation,
        period: std::time::Duration,
    ) {
        if !observation.by_period {
            return;
        }
        let periods = observation
            .periods
            .iter()
            .map(|p| crate::events::ObservedPeriod {
                start: p
                    .start
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs_f64(),
                seconds: period.as_secs_f64(),
                requests: p.new.requests,
                errors: p.new.errors,
            })
            .collect();
        self.emit(Event::Observed {
            step,
            color,
            periods,
        });
    }

    /// After a failed step's rollback, from a live source ([`MetricSource::live`]): waits for the period
    /// that holds the rollback and the requests still in flight then to end
    /// ([`crate::plan::window::after_rollback_end`]), then reads the latest window once more and reports its periods,
    /// so that the run's blast radius counts the requests the new color failed between the last poll
    /// and the rollback. A source that publishes late (CloudWatch) is not waited for. Best effort.
    pub(super) async fn observe_after_rollback<R: Routes>(
        &self,
        routes: &R,
        spec: &DeploySpec,
        step: usize,
    ) {
        let w = spec.window;
        if !self.metrics.live() {
            return;
        }
        let now = self.clock.now();
        let end = crate::plan::window::after_rollback_end(now, w.period);
        // The boundary's sample is read right after it: a little margin.
        let margin = (w.period / 4).min(std::time::Duration::from_millis(500));
        self.clock
            .sleep(end.duration_since(now).unwrap_or_default() + margin)
            .await;
        let start = end.checked_sub(w.window.max(w.period)).unwrap_or(end);
        let query = self.query_between(routes, spec, start, end);
        if let Ok(o) = self.metrics.observe(&query).await {
            self.emit_periods(step, spec.plan.target, &o, w.period);
        }
    }

    /// One observation for `query`, with the states of the spec's alarms from the alarm source.
    pub(super) async fn observe_with_alarms(
        &self,
        query: &MetricQuery,
        spec: &DeploySpec,
    ) -> Result<Observation, ApiError> {
        let mut observation = self.metrics.observe(query).await?;
        if !spec.gates.alarms.is_empty() {
            let states = self.metrics.alarm_states(&spec.gates.alarms).await?;
            observation.alarms.extend(states);
        }
        Ok(observation)
    }

    /// The query for the latest `--metric-window` published at `now` (outside a step: the alarm check
    /// before a start, `albflip check`).
    pub(super) fn query<R: Routes>(
        &self,
        routes: &R,
        spec: &DeploySpec,
        now: SystemTime,
    ) -> MetricQuery {
        let end = now.checked_sub(spec.window.lag).unwrap_or(now);
        let start = end.checked_sub(spec.window.window).unwrap_or(end);
        self.query_between(routes, spec, start, end)
    }

    /// The query for both colors' backends from `start` to `end`.
    pub(super) fn query_between<R: Routes>(
        &self,
        routes: &R,
        spec: &DeploySpec,
        start: SystemTime,
        end: SystemTime,
    ) -> MetricQuery {
        let new = spec.plan.target;
        MetricQuery {
            new: routes.backend(new),
            stable: routes.backend(new.other()),
            start,
            end,
            period: spec.window.period,
            latency_statistic: spec.gates.latency_statistic,
        }
    }
}

/// Why a poll had nothing to judge: the sequential judge needs one request to the new color since the
/// step's write, the threshold judge `min_requests` in the window.
fn no_data_reason(spec: &DeploySpec, observation: &Observation) -> String {
    let new = spec.plan.target;
    match spec.gates.judge {
        JudgeKind::Threshold => format!(
            "{} of the {} requests to {new} needed in the window",
            observation.new.requests, spec.gates.min_requests
        ),
        _ => format!("no request to {new} since the step's write yet"),
    }
}

/// When the published periods still do not cover the bake after `limit`: with `--on-no-data pass` the
/// bake counts as covered (`Ok`), otherwise the step fails for want of data (`Err`). `None` while there
/// is time, or once the bake is covered.
fn unpublished(
    policy: &BakePolicy,
    covered: std::time::Duration,
    elapsed: std::time::Duration,
    limit: std::time::Duration,
) -> Option<Result<std::time::Duration, Failure>> {
    if covered >= policy.bake || elapsed < limit {
        return None;
    }
    Some(match policy.on_no_data {
        crate::plan::NoDataPolicy::Pass => Ok(policy.bake),
        _ => Err(Failure::NoData {
            message: format!(
                "the metric periods published after the step's write cover {} of its {} bake after {}",
                crate::duration::human(covered),
                crate::duration::human(policy.bake),
                crate::duration::human(elapsed)
            )
            .into(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::NoDataPolicy;
    use std::time::Duration;

    /// Periods that are never published (a backend CloudWatch has nothing for) do not keep a step
    /// baking forever: past its expected length and the extension, the no-data policy decides.
    #[test]
    fn periods_never_published_are_no_data_once_the_step_is_overdue() {
        let s = Duration::from_secs;
        let policy = |on_no_data| BakePolicy {
            bake: s(180),
            on_no_data,
            ..BakePolicy::default()
        };
        let wait = policy(NoDataPolicy::Wait);
        assert!(
            unpublished(&wait, s(0), s(100), s(480)).is_none(),
            "still time"
        );
        assert!(
            unpublished(&wait, s(180), s(900), s(480)).is_none(),
            "covered"
        );
        assert!(matches!(
            unpublished(&wait, s(60), s(480), s(480)),
            Some(Err(Failure::NoData { .. }))
        ));
        assert!(matches!(
            unpublished(&policy(NoDataPolicy::Fail), s(0), s(480), s(480)),
            Some(Err(Failure::NoData { .. }))
        ));
        assert_eq!(
            unpublished(&policy(NoDataPolicy::Pass), s(0), s(480), s(480)).map(|r| r.ok()),
            Some(Some(s(180)))
        );
    }
}
