//! The ALB metrics model ([`super::alb_model`]) as a [`MetricSource`] for simulated-time deployments:
//! `GetMetricData` answers hold only the periods published by the clock's now, read through the
//! CloudWatch adapter's own fold; `DescribeAlarms` answers from alarms evaluated on the published
//! periods; the in-memory load balancer's `DescribeTargetHealth` follows the model's targets.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::{Duration, SystemTime};
//! use albflip::model::Color;
//! use albflip::ports::TokioClock;
//! use albflip::testing::alb_model::{AlbModel, Behaviour, Course};
//! use albflip::testing::model_source::{ModelAlarm, ModelMetrics};
//! use albflip::testing::InMemoryAlb;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let clock = TokioClock::starting_at(SystemTime::UNIX_EPOCH + Duration::from_secs(1_740_000_000));
//! let alb = Arc::new(InMemoryAlb::with_clock(clock)); // its writes are timestamped
//! let model = AlbModel::new(1, 100.0)
//!     .with_course(Color::Green, Course::steady(Behaviour::healthy().with_target_5xx(0.05)));
//! let metrics = ModelMetrics::new(model, alb.clone(), clock)
//!     .with_alarm(ModelAlarm::error_rate("shop-green-5xx", Color::Green, 0.02));
//! // Hand `alb`, `metrics` and `clock` to `albflip::engine::Engine::new`.
//! # let _ = metrics; }
//! ```

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::model::Color;
use crate::plan::window::{align_down, align_up};
use crate::plan::Observation;
use crate::ports::{ApiError, Clock, MetricQuery, MetricSource, TokioClock};

use super::alb_model::{fold, AlbModel, PeriodData};
use super::InMemoryAlb;

/// Alarm states as `DescribeAlarms` spells them.
const ALARM: &str = "ALARM";
const OK: &str = "OK";
const INSUFFICIENT_DATA: &str = "INSUFFICIENT_DATA";

/// How far back a metric alarm looks for a published period.
const ALARM_LOOKBACK_PERIODS: u32 = 30;
/// How deep composite alarms may nest.
const MAX_COMPOSITE_DEPTH: u32 = 8;

/// An alarm the model's `DescribeAlarms` knows.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelAlarm {
    /// A metric alarm on a color's errors (target 5XX and refused connections over `RequestCount`)
    /// in its latest published period, evaluated `delay` after that period is published: `ALARM`
    /// above `threshold`, else `OK` (missing data treated as not breaching); `INSUFFICIENT_DATA`
    /// before any period is published.
    ErrorRate {
        /// The alarm's name.
        name: String,
        /// The color whose target group it watches.
        color: Color,
        /// The error rate above which it alarms, as a fraction.
        threshold: f64,
        /// How long after a period is published the alarm's state reflects it.
        delay: Duration,
    },
    /// A composite alarm: `ALARM` when any child is, `OK` when all are, else `INSUFFICIENT_DATA`
    /// (a child it does not know counts as insufficient data).
    Composite {
        /// The alarm's name.
        name: String,
        /// The names of its children.
        children: Vec<String>,
    },
}

impl ModelAlarm {
    /// A metric alarm on `color`'s error rate above `threshold`, evaluated a minute after each period
    /// is published.
    pub fn error_rate(name: &str, color: Color, threshold: f64) -> ModelAlarm {
        ModelAlarm::ErrorRate {
            name: name.to_string(),
            color,
            threshold,
            delay: Duration::from_secs(60),
        }
    }

    /// A composite alarm over `children`.
    pub fn composite(name: &str, children: &[&str]) -> ModelAlarm {
        ModelAlarm::Composite {
            name: name.to_string(),
            children: children.iter().map(|c| c.to_string()).collect(),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        match self {
            ModelAlarm::ErrorRate { name, .. } | ModelAlarm::Composite { name, .. } => name,
        }
    }
}

/// The model as a [`MetricSource`] over an [`InMemoryAlb`] whose weight history it reads.
#[derive(Debug)]
pub struct ModelMetrics {
    model: Arc<AlbModel>,
    alb: Arc<InMemoryAlb>,
    clock: TokioClock,
    alarms: Vec<ModelAlarm>,
}

impl ModelMetrics {
    /// Serves `model` for the route of `alb` at `clock`'s now. `alb` should be made
    /// [`InMemoryAlb::with_clock`] the same clock, so that its weight history is timestamped as the
    /// run sees time; from now on its `DescribeTargetHealth` lists the model's targets.
    pub fn new(model: AlbModel, alb: Arc<InMemoryAlb>, clock: TokioClock) -> ModelMetrics {
        let model = Arc::new(model);
        let health = Arc::clone(&model);
        alb.follow_health(move |color| health.health(color, clock.now()));
        ModelMetrics {
            model,
            alb,
            clock,
            alarms: Vec::new(),
        }
    }

    /// With an alarm `DescribeAlarms` knows.
    pub fn with_alarm(mut self, alarm: ModelAlarm) -> ModelMetrics {
        self.alarms.push(alarm);
        self
    }

    /// The model.
    pub fn model(&self) -> &AlbModel {
        &self.model
    }

    /// The periods starting in `[start, end)` published by `now`, oldest first, drawn with the shares
    /// of the load balancer's weight history.
    pub fn published(
        &self,
        start: SystemTime,
        end: SystemTime,
        now: SystemTime,
    ) -> Vec<PeriodData> {
        let period = self.model.period_length();
        let mut out = Vec::new();
        let mut p = align_up(start, period);
        while p < end {
            if self.model.published_at(p) <= now {
                out.push(self.period(p));
            }
            p += period;
        }
        out
    }

    fn period(&self, start: SystemTime) -> PeriodData {
        let end = start + self.model.period_length();
        let shares = self.alb.weight_history().shares(start, end);
        self.model.period(start, shares)
    }

    /// The state of the alarm named `name` at `at`, as `DescribeAlarms` would answer then; `None` for an
    /// alarm it does not know.
    pub fn alarm_state(&self, name: &str, at: SystemTime) -> Option<&'static str> {
        let alarm = self.alarms.iter().find(|a| a.name() == name)?;
        Some(self.state(alarm, at, 0))
    }

    /// The state of `alarm` at `now`.
    fn state(&self, alarm: &ModelAlarm, now: SystemTime, depth: u32) -> &'static str {
        match alarm {
            ModelAlarm::ErrorRate {
                color,
                threshold,
                delay,
                ..
            } => self.metric_alarm(*color, *threshold, *delay, now),
            ModelAlarm::Composite { children, .. } => {
                let states: Vec<&str> = children
                    .iter()
                    .map(|c| match self.alarms.iter().find(|a| a.name() == c) {
                        Some(a) if depth < MAX_COMPOSITE_DEPTH => self.state(a, now, depth + 1),
                        _ => INSUFFICIENT_DATA,
                    })
                    .collect();
                if states.contains(&ALARM) {
                    ALARM
                } else if states.iter().all(|s| *s == OK) {
                    OK
                } else {
                    INSUFFICIENT_DATA
                }
            }
        }
    }

    fn metric_alarm(
        &self,
        color: Color,
        threshold: f64,
        delay: Duration,
        now: SystemTime,
    ) -> &'static str {
        let period = self.model.period_length();
        let mut p = align_down(now, period);
        for _ in 0..ALARM_LOOKBACK_PERIODS {
            let Some(earlier) = p.checked_sub(period) else {
                break;
            };
            p = earlier;
            if self.model.published_at(p) + delay > now {
                continue;
            }
            let data = self.period(p);
            let c = data.of(color);
            let errors = (c.target_5xx + c.connection_errors) as f64;
            let breaching = c.requests > 0 && errors / c.requests as f64 > threshold;
            return if breaching { ALARM } else { OK };
        }
        INSUFFICIENT_DATA
    }
}

impl MetricSource for ModelMetrics {
    async fn observe(&self, q: &MetricQuery) -> Result<Observation, ApiError> {
        let periods = self.published(q.start, q.end, self.clock.now());
        Ok(fold(
            &periods,
            q.new.color,
            q.latency_statistic,
            q.start,
            q.end,
        ))
    }

    async fn alarm_states(&self, names: &[String]) -> Result<Vec<(String, String)>, ApiError> {
        let now = self.clock.now();
        Ok(self
            .alarms
            .iter()
            .filter(|a| names.iter().any(|n| n == a.name()))
            .map(|a| (a.name().to_string(), self.state(a, now, 0).to_string()))
            .collect())
    }
}
