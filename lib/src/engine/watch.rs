//! `albflip watch`: a deployment run elsewhere (by a pipeline), followed read-only. Each look resolves
//! the route, reads the deployment record on it and, while a step bakes, computes the same gates over
//! the same periods as the run does, from the step's recorded time on: the step, the bake's progress,
//! every gate's value against its threshold and the sequential judge's evidence. Nothing is written.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::error::Error;
use crate::events::SplitView;
use crate::model::Color;
use crate::plan::gates::{evaluate, GateResult};
use crate::plan::judge::{JudgeKind, JudgeSettings, Judgement, SequentialJudge};
use crate::plan::{published_coverage, step_length, step_window};
use crate::ports::{CapacityPool, Clock, MetricSource, Provider, Routes};
use crate::state::{DeploymentRecord, Phase};

use super::{DeploySpec, Engine};

/// One look at the route and the deployment it records.
#[derive(Debug, Clone, Serialize)]
pub struct WatchReport {
    /// The named route's id (the ALB: the listener's or rule's ARN).
    pub route: String,
    /// The deployment recorded on the route, if any.
    pub record: Option<DeploymentRecord>,
    /// The live split.
    pub split: SplitView,
    /// The stable color, as recorded.
    pub stable: Color,
    /// The step baking now, with its gates; `None` unless a step is in progress.
    pub step: Option<WatchedStep>,
}

/// The step a deployment in progress is baking, as a read-only observer sees it.
#[derive(Debug, Clone, Serialize)]
pub struct WatchedStep {
    /// The step (1-based).
    pub step: usize,
    /// Steps in the deployment.
    pub of: usize,
    /// The new color's share at this step.
    pub percent: u8,
    /// Seconds since the step was recorded (right after its weights were written).
    pub elapsed_seconds: f64,
    /// The bake, as the watcher's settings say (the record does not carry it).
    pub bake_seconds: f64,
    /// How much of the bake the published periods after the write cover.
    pub covered_seconds: f64,
    /// The step's expected length: bake + publication lag + one period.
    pub step_seconds: f64,
    /// Every gate's result over the step's periods; empty before the first period is published.
    pub results: Vec<GateResult>,
    /// The sequential judge's verdicts with their evidence (empty under the threshold judge).
    pub judgements: Vec<Judgement>,
    /// Why the metrics could not be read, if they could not.
    pub metrics_error: Option<String>,
}

impl WatchReport {
    /// The phase the recorded deployment ended in, or `None` while it runs (in progress).
    pub fn ended(&self) -> Option<Phase> {
        self.record
            .as_ref()
            .map(|r| r.phase)
            .filter(|p| *p != Phase::InProgress)
    }
}

impl<P: Provider, M: MetricSource, C: Clock, S: CapacityPool> Engine<'_, P, M, C, S> {
    /// Looks once at the deployment recorded on `target`'s route, computing the baking step's gates with
    /// `spec`'s gates, bake and metric window (its plan's color is replaced by the recorded one). Only
    /// reads: the route, its records, the new color's health, the metrics.
    pub async fn watch(&self, target: &P::Target, spec: &DeploySpec) -> Result<WatchReport, Error> {
        let routes = self.provider.resolve(target).await?;
        let record = DeploymentRecord::from_tags(routes.records());
        let step = match &record {
            Some(r) if r.phase == Phase::InProgress && r.step >= 1 => {
                Some(self.watch_step(&routes, spec, r).await)
            }
            _ => None,
        };
        Ok(WatchReport {
            route: routes.names().id,
            split: routes.split().into(),
            stable: routes.stable(),
            record,
            step,
        })
    }

    /// The recorded step's gates now, over the periods published since it was recorded.
    async fn watch_step<R: Routes>(
        &self,
        routes: &R,
        spec: &DeploySpec,
        record: &DeploymentRecord,
    ) -> WatchedStep {
        let new = record.target;
        let spec = DeploySpec {
            plan: crate::plan::Plan {
                target: new,
                ..spec.plan.clone()
            },
            ..spec.clone()
        };
        let now = self.clock.now();
        // The record is written right after the step's weights are verified: the step's start.
        let written = humantime::parse_rfc3339(&record.updated).unwrap_or(now);
        let elapsed = now.duration_since(written).unwrap_or_default();
        let (w, bake) = (spec.window, spec.policy.bake);
        let mut watched = WatchedStep {
            step: record.step,
            of: record.steps.len(),
            percent: record
                .steps
                .get(record.step.saturating_sub(1))
                .copied()
                .unwrap_or(0),
            elapsed_seconds: elapsed.as_secs_f64(),
            bake_seconds: bake.as_secs_f64(),
            covered_seconds: 0.0,
            step_seconds: step_length(bake, w.lag, w.period).as_secs_f64(),
            results: Vec::new(),
            judgements: Vec::new(),
            metrics_error: None,
        };
        let sequential = spec.gates.judge == JudgeKind::Sequential;
        // The sequential judge weighs every period of the step, as the run's accumulates them poll
        // after poll; the threshold judge the latest metric window, as the run's last poll did.
        let back = if sequential {
            elapsed.max(w.window)
        } else {
            w.window
        };
        let Some(window) = step_window(written, now, back, w.lag, w.period) else {
            return watched;
        };
        let query = self.query_between(routes, &spec, window.start, window.end);
        let observed = match self.observe_step(routes, &query, &spec).await {
            Ok(o) => {
                let mut baseline = None;
                self.with_baseline(routes, &spec, written, o, &mut baseline)
                    .await
            }
            Err(e) => Err(e),
        };
        let observation = match observed {
            Ok(o) => o,
            Err(e) => {
                watched.metrics_error = Some(e.to_string());
                return watched;
            }
        };
        let mut report = evaluate(&spec.gates, &observation, new);
        if sequential {
            let mut judge =
                SequentialJudge::new(JudgeSettings::new(&spec.gates, spec.gates.confidence));
            watched.judgements = judge.poll(&observation, &mut report, new);
        }
        let covered = if observation.by_period {
            let starts: Vec<SystemTime> = observation.periods.iter().map(|p| p.start).collect();
            published_coverage(written, &starts, w.period).min(window.covered)
        } else {
            window.covered
        };
        watched.covered_seconds = covered.min(bake.max(Duration::ZERO)).as_secs_f64();
        watched.results = report.results;
        watched
    }
}
