//! Strategies and the step plans they produce.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::model::{Color, Percent};

/// Validated steps: strictly increasing percentages of the new color, each 1..=100, ending at 100; some
/// may be marked to pause after them for promotion (`25:pause`). Serialized as the list of percentages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "Vec<Percent>")]
pub struct Steps(Vec<Percent>, Vec<Percent>);

impl From<Steps> for Vec<Percent> {
    fn from(steps: Steps) -> Vec<Percent> {
        steps.0
    }
}

/// Why a list of steps is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidSteps {
    /// No steps.
    #[error("no steps given")]
    Empty,
    /// A step is not a whole number 1..=100.
    #[error("step {0:?} is not a whole number from 1 to 100")]
    OutOfRange(String),
    /// The steps do not strictly increase.
    #[error("steps must strictly increase ({0} is not above {1})")]
    NotIncreasing(u8, u8),
    /// The last step is not 100.
    #[error("the last step must be 100 (got {0})")]
    LastNot100(u8),
    /// A pause after the last step: there is nothing left to wait for.
    #[error("a pause after the last step waits for nothing (pause after a step below 100)")]
    PauseAtEnd,
}

impl Steps {
    /// The default gradual steps: 10, 25, 50, 75, 100.
    pub fn gradual() -> Steps {
        Steps(
            [10, 25, 50, 75, 100]
                .iter()
                .filter_map(|p| Percent::new(*p))
                .collect(),
            Vec::new(),
        )
    }

    /// Validates a list of percentages.
    pub fn new(percents: &[u8]) -> Result<Steps, InvalidSteps> {
        let last = *percents.last().ok_or(InvalidSteps::Empty)?;
        let mut out = Vec::with_capacity(percents.len());
        let mut previous = 0u8;
        for &p in percents {
            if p == 0 || p > 100 {
                return Err(InvalidSteps::OutOfRange(p.to_string()));
            }
            if p <= previous {
                return Err(InvalidSteps::NotIncreasing(p, previous));
            }
            previous = p;
            out.extend(Percent::new(p));
        }
        if last != 100 {
            return Err(InvalidSteps::LastNot100(last));
        }
        Ok(Steps(out, Vec::new()))
    }

    /// Parses `5,20,50,100`; a step written `25:pause` pauses the deployment after it for promotion.
    pub fn parse(list: &str) -> Result<Steps, InvalidSteps> {
        let mut values = Vec::new();
        let mut pauses = Vec::new();
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (number, pause) = match part.split_once(':') {
                Some((n, "pause")) => (n.trim(), true),
                Some(_) => return Err(InvalidSteps::OutOfRange(part.to_string())),
                None => (part, false),
            };
            let v = number
                .parse::<u8>()
                .map_err(|_| InvalidSteps::OutOfRange(part.to_string()))?;
            values.push(v);
            if pause {
                pauses.push(v);
            }
        }
        let steps = Steps::new(&values)?;
        if pauses.contains(&100) {
            return Err(InvalidSteps::PauseAtEnd);
        }
        let pauses = pauses.into_iter().filter_map(Percent::new).collect();
        Ok(Steps(steps.0, pauses))
    }

    /// The percentages.
    pub fn percents(&self) -> &[Percent] {
        &self.0
    }

    /// The steps after which the deployment pauses for promotion.
    pub fn pauses(&self) -> &[Percent] {
        &self.1
    }
}

/// How to move traffic to the new color.
///
/// ```
/// use albflip::plan::{Steps, Strategy};
/// let gradual = Strategy::Gradual { steps: Steps::parse("5,20,50,100").unwrap() };
/// assert_eq!(gradual.to_string(), "gradual 5→20→50→100");
/// assert!(Steps::parse("50,20,100").is_err()); // steps strictly increase and end at 100
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Strategy {
    /// Step by step (10, 25, 50, 75, 100 by default, or custom steps).
    Gradual {
        /// The steps.
        steps: Steps,
    },
    /// 0 -> 100 in one step, then one bake.
    Immediate,
    /// One canary step and a bake, then wait for `promote` (or promote at once with `auto_promote`).
    Canary {
        /// The canary share.
        percentage: Percent,
        /// Promote without waiting.
        auto_promote: bool,
    },
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strategy::Gradual { steps } => {
                let list: Vec<String> = steps
                    .percents()
                    .iter()
                    .map(|p| match steps.pauses().contains(p) {
                        true => format!("{}:pause", p.get()),
                        false => p.get().to_string(),
                    })
                    .collect();
                write!(f, "gradual {}", list.join("→"))
            }
            Strategy::Immediate => f.write_str("immediate"),
            Strategy::Canary {
                percentage,
                auto_promote,
            } => {
                write!(
                    f,
                    "canary {percentage}{}",
                    if *auto_promote {
                        " with auto-promote"
                    } else {
                        ""
                    }
                )
            }
        }
    }
}

/// One step of a plan: the new color's share and how long it bakes under the gates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The new color's share.
    pub percent: Percent,
    /// How long the step bakes.
    #[serde(with = "crate::plan::strategy::secs")]
    pub bake: Duration,
}

/// A deployment plan: the steps a [`Strategy`] gives for one target color.
///
/// ```
/// use std::time::Duration;
/// use albflip::model::{Color, Percent};
/// use albflip::plan::{Plan, Strategy};
///
/// let canary = Strategy::Canary { percentage: Percent::new(5).unwrap(), auto_promote: false };
/// let plan = Plan::new(&canary, Color::Green, Duration::from_secs(300));
/// // One 5 % step runs, then the deployment waits for `promote` (the step to 100 %).
/// assert_eq!(plan.steps_to_run().len(), 1);
/// assert_eq!(plan.steps.len(), 2);
/// assert_eq!(plan.minimum_duration(), Duration::from_secs(300));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The color that receives traffic.
    pub target: Color,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// After this many steps the deployment stops and waits for `promote` (canary without auto-promote).
    pub pause_after: Option<usize>,
    /// The steps (1-based) after which a gradual deployment pauses for promotion (`25:pause`): the run
    /// waits with the gates on until `promote`, a rollback or its timeout.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pauses: Vec<usize>,
}

impl Plan {
    /// The plan of `strategy` moving traffic to `target`, each step baking for `bake`.
    pub fn new(strategy: &Strategy, target: Color, bake: Duration) -> Plan {
        let step = |p: Percent| Step { percent: p, bake };
        match strategy {
            Strategy::Gradual { steps } => Plan {
                target,
                steps: steps.percents().iter().copied().map(step).collect(),
                pause_after: None,
                pauses: steps
                    .percents()
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| steps.pauses().contains(p))
                    .map(|(i, _)| i + 1)
                    .collect(),
            },
            Strategy::Immediate => Plan {
                target,
                steps: vec![step(Percent::FULL)],
                pause_after: None,
                pauses: Vec::new(),
            },
            Strategy::Canary {
                percentage,
                auto_promote,
            } => Plan {
                target,
                steps: vec![step(*percentage), step(Percent::FULL)],
                pause_after: (!auto_promote).then_some(1),
                pauses: Vec::new(),
            },
        }
    }

    /// The plan of `promote`: the remaining step to 100 %.
    pub fn promotion(target: Color, bake: Duration) -> Plan {
        Plan {
            target,
            steps: vec![Step {
                percent: Percent::FULL,
                bake,
            }],
            pause_after: None,
            pauses: Vec::new(),
        }
    }

    /// The steps run before the deployment pauses or completes.
    pub fn steps_to_run(&self) -> &[Step] {
        match self.pause_after {
            Some(n) => &self.steps[..n.min(self.steps.len())],
            None => &self.steps,
        }
    }

    /// The least time the run takes: the sum of the bakes of the steps it runs.
    pub fn minimum_duration(&self) -> Duration {
        self.steps_to_run().iter().map(|s| s.bake).sum()
    }
}

pub(crate) mod secs {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_validated() {
        assert_eq!(Steps::parse("5,20,50,100").unwrap().percents().len(), 4);
        assert_eq!(
            Steps::parse("10,10,100"),
            Err(InvalidSteps::NotIncreasing(10, 10))
        );
        assert_eq!(Steps::parse("10,50"), Err(InvalidSteps::LastNot100(50)));
        assert_eq!(
            Steps::parse("0,100"),
            Err(InvalidSteps::OutOfRange("0".into()))
        );
        assert_eq!(
            Steps::parse("10,x,100"),
            Err(InvalidSteps::OutOfRange("x".into()))
        );
        assert_eq!(Steps::parse(""), Err(InvalidSteps::Empty));
        let paused = Steps::parse("10,25:pause,50,100").unwrap();
        assert_eq!(paused.pauses(), &[Percent::new(25).unwrap()]);
        assert_eq!(
            Strategy::Gradual {
                steps: paused.clone()
            }
            .to_string(),
            "gradual 10→25:pause→50→100"
        );
        let plan = Plan::new(
            &Strategy::Gradual { steps: paused },
            Color::Green,
            Duration::from_secs(60),
        );
        assert_eq!(plan.pauses, vec![2]);
        assert_eq!(Steps::parse("10,100:pause"), Err(InvalidSteps::PauseAtEnd));
        assert_eq!(
            Steps::parse("10,25:wait,100"),
            Err(InvalidSteps::OutOfRange("25:wait".into()))
        );
        assert_eq!(
            Steps::parse("50,101"),
            Err(InvalidSteps::OutOfRange("101".into()))
        );
    }

    #[test]
    fn plans_of_each_strategy() {
        let bake = Duration::from_secs(60);
        let g = Plan::new(
            &Strategy::Gradual {
                steps: Steps::gradual(),
            },
            Color::Green,
            bake,
        );
        assert_eq!(
            g.steps.iter().map(|s| s.percent.get()).collect::<Vec<_>>(),
            vec![10, 25, 50, 75, 100]
        );
        assert_eq!(g.minimum_duration(), Duration::from_secs(300));
        let c = Plan::new(
            &Strategy::Canary {
                percentage: Percent::new(10).unwrap(),
                auto_promote: false,
            },
            Color::Green,
            bake,
        );
        assert_eq!(c.steps_to_run().len(), 1);
        let i = Plan::new(&Strategy::Immediate, Color::Blue, bake);
        assert_eq!(i.steps.len(), 1);
        assert_eq!(i.steps[0].percent, Percent::FULL);
    }
}
