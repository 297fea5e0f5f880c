//! What a run needs and how it ended.

use std::time::Duration;

use serde::Serialize;

use crate::error::Error;
use crate::events::SplitView;
use crate::input::{Input, Text};
use crate::model::Color;
use crate::plan::decide::Failure;
use crate::plan::{BakePolicy, GateThresholds, Plan};
use crate::text;

/// Where the metrics window sits relative to now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MetricWindow {
    /// Window length.
    #[serde(with = "crate::plan::strategy::secs")]
    pub window: Duration,
    /// How far before now the window ends (CloudWatch publishes ALB data late).
    #[serde(with = "crate::plan::strategy::secs")]
    pub lag: Duration,
    /// The metric period.
    #[serde(with = "crate::plan::strategy::secs")]
    pub period: Duration,
}

impl Default for MetricWindow {
    fn default() -> Self {
        MetricWindow {
            window: Duration::from_secs(300),
            lag: Duration::from_secs(60),
            period: Duration::from_secs(60),
        }
    }
}

/// Everything a deployment needs besides the route.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploySpec {
    /// The steps.
    pub plan: Plan,
    /// The strategy, for people.
    pub strategy: String,
    /// How steps bake.
    pub policy: BakePolicy,
    /// The gates.
    pub gates: GateThresholds,
    /// The metrics window.
    pub window: MetricWindow,
    /// Shift even to a color without healthy targets.
    pub force: bool,
    /// Continue from the live split when it differs from what albflip last wrote, instead of stopping.
    pub adopt_drift: bool,
    /// Deliberately ungated: steps do not bake and no gate is read; the run says so and records it.
    /// Without it, a step with a zero bake is refused ([`DeploySpec::check_judged`]).
    pub ungated: bool,
    /// A gated shift only: write even though a deployment is in flight on the route, taking it over.
    pub take_over: bool,
    /// Healthy targets the new color needs before traffic moves to it (at least 1). Built specs take it
    /// from the gate `min_healthy_hosts`: one setting for the pre-flight and the bake.
    pub min_healthy_hosts: u32,
    /// Auto Scaling, hooks and the test listener around the steps.
    pub lifecycle: super::lifecycle::Lifecycle,
}

/// How a deployment ended (errors aside).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// All steps passed; the new color is stable.
    Completed {
        /// The new stable color.
        stable: Color,
    },
    /// The canary passed; `promote` finishes it.
    AwaitingPromotion {
        /// The new color.
        target: Color,
        /// Its share.
        percent: u8,
    },
    /// A gated shift passed its bake.
    Shifted {
        /// The live split.
        split: SplitView,
        /// The stable color afterwards.
        stable: Color,
    },
    /// The run was cancelled.
    Interrupted {
        /// Whether traffic was put back on the stable color.
        rolled_back: bool,
        /// The live split afterwards.
        split: SplitView,
        /// The step that was running (1-based).
        step: usize,
    },
    /// A canary (or a paused deployment) waited for promotion in another run: `albflip promote` asked
    /// that run to go on, and it did; this call moved no traffic.
    PromotionHandedOver {
        /// The new color.
        target: Color,
        /// Who started the waiting run.
        waiting_run: String,
    },
    /// A gate failed and traffic is back on the stable color.
    RolledBack {
        /// Why.
        failure: Failure,
        /// The stable color.
        to: Color,
        /// The step that failed (1-based).
        step: usize,
        /// That step's share.
        percent: u8,
    },
}

impl DeploySpec {
    /// Every step of a gated spec bakes: a zero bake would pass it without one judged period. An
    /// ungated spec ([`DeploySpec::ungated`]) may have zero bakes.
    pub fn check_judged(&self) -> Result<(), crate::Error> {
        let zero = self.plan.steps.iter().any(|s| s.bake.is_zero()) || self.policy.bake.is_zero();
        if zero && !self.ungated {
            return Err(zero_bake(crate::text!(
                {given crate::input::Input::Bake},
                " 0s"
            )));
        }
        Ok(())
    }
}

/// The refusal of a zero bake for a gated run; `what` names the value where it was given.
pub(crate) fn zero_bake(what: Text) -> Error {
    Error::invalid(
        Input::Bake,
        what,
        "a zero bake passes every step at once without a single judged period: the gates would be off",
        text!(
            "Give a bake of at least one metric period (e.g. ",
            {input Input::Bake},
            " 3m), or ",
            {input Input::NoGates},
            " for a deliberately ungated deployment"
        ),
    )
}
