//! Which judge decides a step, and its default confidence: the choice a deployment's settings make,
//! apart from the judge itself (`plan::judge`), so that the gates' settings can name it without the
//! judge and the gates depending on each other.

use serde::Serialize;

/// The default confidence in percent: 99.8 %, so a deployment of 5 steps rolls back a healthy release
/// at most 1 % of the time (`alpha = 0.002` per step).
pub const DEFAULT_CONFIDENCE: f64 = 99.8;

/// Which judge decides a step's error rate and latency against the stable color.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum JudgeKind {
    /// Anytime-valid sequential tests over the step's periods (`plan::judge`).
    #[default]
    Sequential,
    /// The window's rates against the thresholds at every poll (`plan::gates::evaluate`).
    Threshold,
}

/// A string that is not a judge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a judge: use sequential or threshold")]
pub struct InvalidJudge(pub String);

impl std::str::FromStr for JudgeKind {
    type Err = InvalidJudge;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sequential" => Ok(JudgeKind::Sequential),
            "threshold" => Ok(JudgeKind::Threshold),
            _ => Err(InvalidJudge(s.to_string())),
        }
    }
}

impl std::fmt::Display for JudgeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JudgeKind::Sequential => "sequential",
            JudgeKind::Threshold => "threshold",
        })
    }
}
