//! The step decision: given a poll's gate report and how long the step has baked, continue, pass or fail.

use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;

use crate::input::Text;
use crate::plan::gates::{GateReport, GateResult};

/// What to do when a poll has too few requests to judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum NoDataPolicy {
    /// Keep baking until data arrives or the bake extension runs out, then fail.
    Wait,
    /// Fail the step.
    Fail,
    /// Count the poll as passing.
    Pass,
}

impl FromStr for NoDataPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "wait" => Ok(NoDataPolicy::Wait),
            "fail" => Ok(NoDataPolicy::Fail),
            "pass" => Ok(NoDataPolicy::Pass),
            _ => Err(format!(
                "{s:?} is not a no-data policy: use wait, fail or pass"
            )),
        }
    }
}

/// How a step bakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BakePolicy {
    /// How long each step bakes.
    #[serde(with = "crate::plan::strategy::secs")]
    pub bake: Duration,
    /// How often the gates are polled.
    #[serde(with = "crate::plan::strategy::secs")]
    pub poll_interval: Duration,
    /// Consecutive failing polls that fail the step.
    pub failure_threshold: u32,
    /// What to do without data.
    pub on_no_data: NoDataPolicy,
    /// How long past the bake `wait` may wait for data.
    #[serde(with = "crate::plan::strategy::secs")]
    pub max_bake_extension: Duration,
}

impl Default for BakePolicy {
    fn default() -> Self {
        BakePolicy {
            bake: Duration::from_secs(180),
            poll_interval: Duration::from_secs(30),
            failure_threshold: 1,
            on_no_data: NoDataPolicy::Wait,
            max_bake_extension: Duration::from_secs(180),
        }
    }
}

/// Why a step failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Failure {
    /// A gate breached its threshold on enough consecutive polls.
    Gate {
        /// The breaching gate.
        result: GateResult,
        /// Consecutive failing polls.
        polls: u32,
    },
    /// No data to judge.
    NoData {
        /// What the last poll said.
        message: Text,
    },
    /// A lifecycle hook failed (non-zero exit or timeout) before or during a step.
    Hook {
        /// The hook's error, with its output.
        message: Text,
    },
    /// The smoke check through the test listener failed.
    Smoke {
        /// What failed.
        message: Text,
    },
    /// A wait for promotion ended without one: it timed out (with a rollback on timeout), or the
    /// deployment was rolled back from elsewhere.
    Wait {
        /// What happened.
        message: Text,
    },
}

impl Failure {
    /// A sentence for people, naming inputs neutrally (see [`Failure::text`]).
    pub fn message(&self) -> String {
        self.text().to_string()
    }

    /// A sentence for people, with its inputs and next steps as references.
    pub fn text(&self) -> Text {
        match self {
            Failure::Gate { result, polls } if *polls > 1 => {
                Text::from(format!("{} ({polls} consecutive polls)", result.message))
            }
            Failure::Gate { result, .. } => Text::from(&result.message),
            Failure::NoData { message }
            | Failure::Hook { message }
            | Failure::Smoke { message }
            | Failure::Wait { message } => message.clone(),
        }
    }
}

/// The decision after a poll.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
#[non_exhaustive]
pub enum BakeDecision {
    /// Keep baking.
    Continue,
    /// The step passed.
    Passed,
    /// The step failed: roll back.
    Failed(Failure),
}

/// The memory of one step's bake: consecutive failures, and the period the last one was counted in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BakeTracker {
    consecutive_failures: u32,
    last_failed_period: Option<std::time::SystemTime>,
}

/// Where a poll of a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BakeProgress {
    /// Wall time since the step's weights were verified (it limits the wait for data).
    pub elapsed: Duration,
    /// How much of the step the judged periods cover: the step has baked when this reaches the bake.
    pub covered: Duration,
    /// The end of the latest period judged: a failure counts again only in a newer period, since
    /// overlapping windows add no new evidence.
    pub period_end: Option<std::time::SystemTime>,
}

impl BakeTracker {
    /// Judges one poll taken `elapsed` after the step's weights were verified, all of it counted as
    /// covered (a source without publication delay, every poll a new period).
    pub fn judge(
        &mut self,
        policy: &BakePolicy,
        report: &GateReport,
        elapsed: Duration,
    ) -> BakeDecision {
        let progress = BakeProgress {
            elapsed,
            covered: elapsed,
            period_end: None,
        };
        self.judge_step(policy, report, progress)
    }

    /// Judges one poll of a step: a failure counts once per period; the step passes once the judged
    /// periods cover the bake; waiting for data is limited by wall time (bake + extension).
    pub fn judge_step(
        &mut self,
        policy: &BakePolicy,
        report: &GateReport,
        progress: BakeProgress,
    ) -> BakeDecision {
        let elapsed = progress.elapsed;
        if let Some(failure) = report.first_failure() {
            if progress.period_end.is_none() || progress.period_end != self.last_failed_period {
                self.consecutive_failures += 1;
                self.last_failed_period = progress.period_end;
            }
            if self.consecutive_failures >= policy.failure_threshold.max(1) {
                return BakeDecision::Failed(Failure::Gate {
                    result: failure.clone(),
                    polls: self.consecutive_failures,
                });
            }
            return BakeDecision::Continue;
        }
        self.consecutive_failures = 0;
        self.last_failed_period = None;
        if !report.has_data {
            let message = report
                .results
                .first()
                .map(|r| r.message.clone())
                .unwrap_or_default();
            match policy.on_no_data {
                NoDataPolicy::Fail => {
                    return BakeDecision::Failed(Failure::NoData {
                        message: crate::text!("no data (", {input crate::input::Input::OnNoData}, format!(" fail): {message}")),
                    })
                }
                NoDataPolicy::Wait if elapsed >= policy.bake + policy.max_bake_extension => {
                    return BakeDecision::Failed(Failure::NoData {
                        message: format!(
                            "no data after baking {} (bake {} + extension {}): {message}",
                            crate::duration::human(elapsed),
                            humantime::format_duration(policy.bake),
                            humantime::format_duration(policy.max_bake_extension)
                        )
                        .into(),
                    })
                }
                NoDataPolicy::Wait => return BakeDecision::Continue,
                NoDataPolicy::Pass => {}
            }
        }
        if progress.covered >= policy.bake {
            BakeDecision::Passed
        } else {
            BakeDecision::Continue
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::gates::{GateKind, Verdict};

    fn report(verdict: Verdict, has_data: bool) -> GateReport {
        GateReport {
            results: vec![GateResult {
                gate: GateKind::ErrorRate,
                verdict,
                value: None,
                threshold: 0.01,
                message: "m".into(),
            }],
            has_data,
        }
    }

    #[test]
    fn a_breach_shorter_than_the_threshold_does_not_fail() {
        let policy = BakePolicy {
            failure_threshold: 2,
            bake: Duration::from_secs(60),
            ..Default::default()
        };
        let mut t = BakeTracker::default();
        assert_eq!(
            t.judge(
                &policy,
                &report(Verdict::Fail, true),
                Duration::from_secs(10)
            ),
            BakeDecision::Continue
        );
        assert_eq!(
            t.judge(
                &policy,
                &report(Verdict::Pass, true),
                Duration::from_secs(20)
            ),
            BakeDecision::Continue
        );
        assert_eq!(
            t.judge(
                &policy,
                &report(Verdict::Fail, true),
                Duration::from_secs(30)
            ),
            BakeDecision::Continue
        );
        assert!(matches!(
            t.judge(
                &policy,
                &report(Verdict::Fail, true),
                Duration::from_secs(40)
            ),
            BakeDecision::Failed(_)
        ));
    }

    #[test]
    fn no_data_policies() {
        let base = BakePolicy {
            bake: Duration::from_secs(60),
            max_bake_extension: Duration::from_secs(30),
            ..Default::default()
        };
        let none = report(Verdict::NoData, false);
        let mut t = BakeTracker::default();
        let wait = BakePolicy {
            on_no_data: NoDataPolicy::Wait,
            ..base
        };
        assert_eq!(
            t.judge(&wait, &none, Duration::from_secs(60)),
            BakeDecision::Continue
        );
        assert!(matches!(
            t.judge(&wait, &none, Duration::from_secs(90)),
            BakeDecision::Failed(Failure::NoData { .. })
        ));
        let fail = BakePolicy {
            on_no_data: NoDataPolicy::Fail,
            ..base
        };
        assert!(matches!(
            t.judge(&fail, &none, Duration::from_secs(1)),
            BakeDecision::Failed(_)
        ));
        let pass = BakePolicy {
            on_no_data: NoDataPolicy::Pass,
            ..base
        };
        assert_eq!(
            t.judge(&pass, &none, Duration::from_secs(30)),
            BakeDecision::Continue
        );
        assert_eq!(
            t.judge(&pass, &none, Duration::from_secs(60)),
            BakeDecision::Passed
        );
    }
}
