//! What the engine reports as it goes: the CLI renders these as lines or NDJSON, tests collect them.

use std::sync::Mutex;
use std::time::SystemTime;

use serde::Serialize;

use crate::input::Text;
use crate::model::{Color, Split};
use crate::plan::decide::Failure;
use crate::plan::GateResult;

/// A split as `{"blue": 90, "green": 10}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SplitView {
    /// Blue's share.
    pub blue: u8,
    /// Green's share.
    pub green: u8,
}

impl From<Split> for SplitView {
    fn from(s: Split) -> Self {
        SplitView {
            blue: s.percent_of(Color::Blue).get(),
            green: s.percent_of(Color::Green).get(),
        }
    }
}

/// The counts a poll judged: both colors' requests and errors over the window it read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowCounts {
    /// The window's start (RFC 3339, UTC).
    pub window_start: String,
    /// The window's end (RFC 3339, UTC).
    pub window_end: String,
    /// The new color's requests in the window.
    pub new_requests: f64,
    /// The new color's errors (5XX and failed target connections) in the window.
    pub new_errors: f64,
    /// The stable color's requests in the window.
    pub stable_requests: f64,
    /// The stable color's errors in the window.
    pub stable_errors: f64,
    /// The new color's latency statistic in the window (its worst period), in seconds; absent without
    /// datapoints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_latency_seconds: Option<f64>,
    /// The stable color's latency statistic in the same window, in seconds; absent without datapoints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stable_latency_seconds: Option<f64>,
}

impl WindowCounts {
    /// The counts of an observation.
    pub fn of(o: &crate::plan::Observation) -> WindowCounts {
        WindowCounts {
            window_start: crate::state::timestamp(o.window_start),
            window_end: crate::state::timestamp(o.window_end),
            new_requests: o.new.requests,
            new_errors: o.new.errors,
            stable_requests: o.stable.requests,
            stable_errors: o.stable.errors,
            new_latency_seconds: o.new.latency_seconds,
            stable_latency_seconds: o.stable.latency_seconds,
        }
    }
}

/// A color's backend as the provider names it, in [`Event::DeploymentStarted`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackendName {
    /// Its name for people (the ALB: the target group's name).
    pub name: String,
    /// The provider's id of it (the ALB: the target group's ARN).
    pub id: String,
}

impl From<&crate::ports::Backend> for BackendName {
    fn from(b: &crate::ports::Backend) -> Self {
        BackendName {
            name: b.name.clone(),
            id: b.id.clone(),
        }
    }
}

/// Both colors' backends, in [`Event::DeploymentStarted`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backends {
    /// Blue's.
    pub blue: BackendName,
    /// Green's.
    pub green: BackendName,
}

impl Backends {
    /// The backend of `color`.
    pub fn of(&self, color: Color) -> &BackendName {
        match color {
            Color::Blue => &self.blue,
            Color::Green => &self.green,
        }
    }
}

/// One metric period of the new color, as [`Event::Observed`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ObservedPeriod {
    /// When it starts, in seconds since the Unix epoch.
    pub start: f64,
    /// Its length in seconds.
    pub seconds: f64,
    /// Requests the new color served in it.
    pub requests: f64,
    /// Of those, the ones it failed.
    pub errors: f64,
}

/// What a run cost the new color's users: the requests it failed in the periods the run read, and the
/// stretch of time those periods cover.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BlastRadius {
    /// The new color.
    pub color: Color,
    /// Requests it failed.
    pub failed_requests: f64,
    /// Requests it served in all (failed or not) in the periods read.
    pub requests: f64,
    /// From the start of the first period with a failure to the end of the last, in seconds.
    pub seconds: f64,
}

/// The blast radius of a run from its events: every period [`Event::Observed`] reported (the last
/// report of each), summed. `None` when no event reported periods.
pub fn blast_radius<'a>(events: impl IntoIterator<Item = &'a Event>) -> Option<BlastRadius> {
    let mut color = None;
    let mut periods: std::collections::BTreeMap<u64, ObservedPeriod> = Default::default();
    for event in events {
        if let Event::Observed {
            color: c,
            periods: read,
            ..
        } = event
        {
            color = Some(*c);
            for p in read {
                // Keyed by the start in milliseconds: the same period read twice is counted once.
                periods.insert((p.start * 1000.0).round() as u64, *p);
            }
        }
    }
    let color = color?;
    let failing: Vec<&ObservedPeriod> = periods.values().filter(|p| p.errors > 0.0).collect();
    let seconds = match (failing.first(), failing.last()) {
        (Some(first), Some(last)) => last.start + last.seconds - first.start,
        _ => 0.0,
    };
    Some(BlastRadius {
        color,
        failed_requests: periods.values().map(|p| p.errors).sum(),
        requests: periods.values().map(|p| p.requests).sum(),
        seconds,
    })
}

/// An engine event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// The deployment started.
    DeploymentStarted {
        /// The deployment's id, as recorded on the route (none for a gated shift, which records
        /// nothing). A pipeline keeps it to roll back only its own deployment.
        #[serde(skip_serializing_if = "Option::is_none")]
        deployment_id: Option<String>,
        /// Who started it, as recorded.
        #[serde(skip_serializing_if = "Option::is_none")]
        started_by: Option<String>,
        /// The route (listener or rule ARN).
        route: String,
        /// The new color.
        target: Color,
        /// The stable color.
        stable: Color,
        /// The strategy, for people.
        strategy: String,
        /// The new color's share at each step.
        steps: Vec<u8>,
        /// The live split at the start.
        split: SplitView,
        /// Both colors' backends, named (the ALB: the target groups' names and ARNs).
        backends: Backends,
    },
    /// A step started.
    StepStarted {
        /// 1-based step number.
        step: usize,
        /// Steps in this run.
        of: usize,
        /// The new color's share.
        percent: u8,
    },
    /// The step's weights were written and verified by a read-back.
    WeightsApplied {
        /// Step number.
        step: usize,
        /// The live split.
        split: SplitView,
    },
    /// One poll of the gates.
    GateEvaluated {
        /// Step number.
        step: usize,
        /// Seconds since the weights were verified.
        elapsed_seconds: f64,
        /// The bake length.
        bake_seconds: f64,
        /// How much of the bake the published metric periods after the write cover: the step passes
        /// when this reaches the bake.
        #[serde(default)]
        covered_seconds: f64,
        /// The step's expected length: bake + publication lag + one period (when the last period of its
        /// bake is published).
        #[serde(default)]
        step_seconds: f64,
        /// Every gate's result.
        results: Vec<GateResult>,
        /// The sequential judge's verdicts with their numbers (counts of both colors, the statistic,
        /// the threshold, the confidence); empty under the threshold judge.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        judgements: Vec<crate::plan::judge::Judgement>,
        /// `continue`, `passed` or `failed`.
        decision: String,
        /// The requests and errors of both colors over the window this poll read; none before the
        /// first period after the write is published.
        #[serde(skip_serializing_if = "Option::is_none")]
        counts: Option<WindowCounts>,
    },
    /// The step has nothing to judge yet and waits for data: no metric period after its write is
    /// published yet, or the new color served too few requests to judge (the no-data policy `wait`). Said at
    /// each poll of the wait, with when the wait ends: the step then fails for want of data.
    WaitingForData {
        /// Step number.
        step: usize,
        /// Seconds since the weights were verified.
        elapsed_seconds: f64,
        /// The step's expected length, as in [`Event::GateEvaluated`].
        step_seconds: f64,
        /// The seconds since the weights were verified at which the wait ends (the no-data limit of
        /// this run: the bake plus `max_bake_extension`, or, while no period is published, the step's
        /// expected length plus the extension).
        gives_up_seconds: f64,
        /// What is missing, for people.
        reason: String,
    },
    /// The new color's counts in each metric period one poll read (from a source that reports its data
    /// period by period). A period read by several polls is reported by each, with the same start:
    /// keep the last. What the run cost the new color's users (its failed requests, and for how long)
    /// is read from these: [`blast_radius`].
    Observed {
        /// Step number.
        step: usize,
        /// The new color.
        color: Color,
        /// The periods, oldest first.
        periods: Vec<ObservedPeriod>,
    },
    /// The metric source failed for one poll.
    MetricsUnavailable {
        /// Step number.
        step: usize,
        /// The error.
        error: String,
    },
    /// The live split differed from what albflip expected and `adopt_drift` continued from it.
    DriftAdopted {
        /// Step number.
        step: usize,
        /// What albflip expected.
        expected: SplitView,
        /// What was live.
        found: SplitView,
    },
    /// The step passed its bake.
    StepPassed {
        /// Step number.
        step: usize,
        /// The new color's share.
        percent: u8,
    },
    /// A gate failed: traffic is going back to the stable color.
    RollingBack {
        /// Why.
        failure: Failure,
    },
    /// Traffic is back on the stable color (verified).
    RolledBack {
        /// The stable color.
        to: Color,
        /// The live split.
        split: SplitView,
    },
    /// The deployment completed: the new color is stable.
    Completed {
        /// The new stable color.
        stable: Color,
    },
    /// The run was cancelled (a signal, or the embedding program).
    Interrupted {
        /// Whether traffic was put back on the stable color.
        rolled_back: bool,
        /// The live split afterwards.
        split: SplitView,
        /// The step that was running.
        step: usize,
    },
    /// The canary passed; waiting for `albflip promote`.
    AwaitingPromotion {
        /// The new color.
        target: Color,
        /// Its share.
        percent: u8,
    },
    /// The run waits for promotion with the gates on (the canary's wait, a gradual pause): said when the
    /// wait starts and at each read of the record.
    WaitingForPromotion {
        /// The step after which the run waits (1-based).
        step: usize,
        /// The new color's share.
        percent: u8,
        /// When the wait times out (RFC 3339).
        until: String,
        /// Whole seconds left.
        seconds_left: u64,
        /// What happens then: `rollback` or `promote`.
        on_timeout: String,
    },
    /// What existed of the test route only for the run (the test header's rule) was removed and read
    /// back gone.
    TestRouteRemoved {
        /// The test route.
        route: String,
    },
    /// The wait for promotion ended in a promotion: asked by `by`, or the timeout with
    /// `--on-timeout promote` (`by` is then `timeout`).
    Promoted {
        /// Who asked for it.
        by: String,
    },
    /// A lifecycle hook ran and succeeded.
    HookPassed {
        /// The stage.
        stage: String,
        /// The command.
        command: String,
        /// How long it ran, in seconds.
        seconds: f64,
        /// The last lines of its output.
        output: String,
    },
    /// The new color's Auto Scaling group was raised (or already had enough capacity) and albflip is
    /// waiting for its healthy targets.
    CapacityWaiting {
        /// The Auto Scaling group.
        asg: String,
        /// Its target group.
        target_group: String,
        /// Healthy targets now.
        healthy: u32,
        /// Healthy targets wanted.
        wanted: u32,
        /// Seconds left before giving up.
        seconds_left: u64,
    },
    /// The new color has as many healthy targets as the stable one's desired capacity.
    CapacityReady {
        /// The Auto Scaling group.
        asg: String,
        /// Its desired capacity now.
        desired: u32,
        /// Whether albflip raised it.
        raised: bool,
        /// Healthy targets found.
        healthy: u32,
    },
    /// A color's Auto Scaling group is held for the deployment: its minimum raised to its desired size
    /// so that nothing scales it in while traffic moves (the minimum it had is recorded on the group).
    CapacityHeld {
        /// The Auto Scaling group.
        asg: String,
        /// Its minimum now.
        min: u32,
        /// Its minimum before.
        was: u32,
    },
    /// albflip's hold on a group ended: its minimum is back to the one recorded.
    CapacityReleased {
        /// The Auto Scaling group.
        asg: String,
        /// Its minimum now.
        min: u32,
        /// Its minimum during the hold.
        was: u32,
    },
    /// The test listener was pointed at a color (verified by a read-back).
    TestTrafficApplied {
        /// The test listener's ARN.
        listener: String,
        /// The color it now forwards to.
        to: Color,
    },
    /// The smoke check through the test listener passed.
    SmokePassed {
        /// The URL.
        url: String,
        /// GETs that answered 2xx.
        attempts: usize,
    },
    /// The old color's Auto Scaling group was scaled to zero after a read-back showed it at weight 0 on
    /// every route.
    ScaledDown {
        /// The color.
        color: Color,
        /// The Auto Scaling group.
        asg: String,
    },
    /// Something went wrong after traffic reached a safe place; the run's outcome stands.
    Warning {
        /// What, for people.
        message: Text,
    },
    /// Traffic reached a safe place (rolled back, or held after an interruption) but the deployment
    /// record could not be written to the route's tags, so `albflip status` may show a stale state.
    /// The run's outcome stands.
    RecordFailed {
        /// The route that carries the record (listener or rule ARN).
        route: String,
        /// Why the write failed.
        error: String,
    },
}

/// Receives engine events.
pub trait Observer: Send + Sync {
    /// Called for each event, with the engine clock's time.
    fn on_event(&self, at: SystemTime, event: &Event);
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Ignore;

impl Observer for Ignore {
    fn on_event(&self, _: SystemTime, _: &Event) {}
}

/// An observer that keeps every event (for tests and reports).
#[derive(Debug, Default)]
pub struct Collect(Mutex<Vec<(SystemTime, Event)>>);

impl Collect {
    /// The events so far.
    pub fn events(&self) -> Vec<(SystemTime, Event)> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Observer for Collect {
    fn on_event(&self, at: SystemTime, event: &Event) {
        if let Ok(mut v) = self.0.lock() {
            v.push((at, event.clone()));
        }
    }
}

/// Sends every event to two observers (for example the terminal and a report).
pub struct Both<'a>(pub &'a dyn Observer, pub &'a dyn Observer);

impl Observer for Both<'_> {
    fn on_event(&self, at: SystemTime, event: &Event) {
        self.0.on_event(at, event);
        self.1.on_event(at, event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period(start: f64, requests: f64, errors: f64) -> ObservedPeriod {
        ObservedPeriod {
            start,
            seconds: 1.0,
            requests,
            errors,
        }
    }

    #[test]
    fn a_period_read_twice_counts_once_and_the_span_runs_from_the_first_failing_period_to_the_last()
    {
        let observed = |periods| Event::Observed {
            step: 1,
            color: Color::Green,
            periods,
        };
        let events = [
            observed(vec![period(100.0, 10.0, 0.0), period(101.0, 10.0, 3.0)]),
            observed(vec![period(101.0, 10.0, 3.0), period(102.0, 12.0, 0.0)]),
            observed(vec![period(103.0, 9.0, 2.0)]),
        ];
        let blast = blast_radius(&events).unwrap();
        assert_eq!(blast.color, Color::Green);
        assert_eq!(blast.failed_requests, 5.0);
        assert_eq!(blast.requests, 41.0);
        assert_eq!(blast.seconds, 3.0, "101 to the end of 103");
        assert_eq!(
            blast_radius(&[Event::Completed {
                stable: Color::Green
            }]),
            None
        );
    }

    #[test]
    fn deployment_started_names_both_backends_and_counts_carry_both_latencies_when_read() {
        let backend = |name: &str| BackendName {
            name: name.into(),
            id: format!("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/{name}/1"),
        };
        let started = Event::DeploymentStarted {
            deployment_id: None,
            started_by: None,
            route: "r".into(),
            target: Color::Green,
            stable: Color::Blue,
            strategy: "canary".into(),
            steps: vec![10],
            split: SplitView {
                blue: 100,
                green: 0,
            },
            backends: Backends {
                blue: backend("shop-blue-tg"),
                green: backend("shop-green-tg"),
            },
        };
        let v = serde_json::to_value(&started).unwrap();
        assert_eq!(v["backends"]["green"]["name"], "shop-green-tg");
        assert_eq!(
            v["backends"]["blue"]["id"],
            "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/shop-blue-tg/1"
        );
        let t = SystemTime::UNIX_EPOCH;
        let color = |requests: f64, latency: Option<f64>| crate::plan::ColorMetrics {
            requests,
            latency_seconds: latency,
            ..Default::default()
        };
        let read = WindowCounts::of(&crate::plan::Observation::totals(
            color(10.0, Some(0.2)),
            color(90.0, Some(0.1)),
            t,
            t,
        ));
        assert_eq!(
            (read.new_latency_seconds, read.stable_latency_seconds),
            (Some(0.2), Some(0.1))
        );
        let none = WindowCounts::of(&crate::plan::Observation::totals(
            color(0.0, None),
            color(0.0, None),
            t,
            t,
        ));
        let v = serde_json::to_value(&none).unwrap();
        assert!(
            v.get("new_latency_seconds").is_none() && v.get("stable_latency_seconds").is_none(),
            "absent without datapoints: {v}"
        );
    }
}
