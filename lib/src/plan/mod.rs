//! The pure decision core: strategies become step plans, observations become gate verdicts, verdicts
//! become the next action. No I/O, no clock reads, no AWS types: everything time-related comes in as
//! arguments, so whole deployments run in simulated time.

pub mod decide;
pub mod gates;
pub mod judge;
pub mod judge_choice;
pub mod strategy;
pub mod window;

pub use decide::{BakeDecision, BakePolicy, BakeProgress, BakeTracker, NoDataPolicy};
pub use gates::{
    ColorMetrics, GateKind, GateReport, GateResult, GateThresholds, LatencyStatistic,
    LoadBalancerCounts, Observation, Period, PeriodCounts, Verdict, DEFAULT_MAX_LATENCY_INCREASE,
};
pub use judge::{
    Evidence, JudgeKind, JudgeSettings, Judgement, SequentialJudge, DEFAULT_CONFIDENCE,
};
pub use strategy::{Plan, Step, Steps, Strategy};
pub use window::{published_coverage, step_length, step_window, StepWindow};
