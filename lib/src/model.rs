//! The vocabulary of a blue/green switch, the same for every router: colors, percentages, splits and
//! stickiness. Provider units (ALB weights, ARNs, HAProxy weights) live with their provider.
//!
//! Every type here validates on construction, so an invalid value (a 101 % split) cannot exist past the
//! edge of the program.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One of the two sides of a blue/green deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    /// The blue target group.
    Blue,
    /// The green target group.
    Green,
}

impl Color {
    /// Both colors, blue first.
    pub const ALL: [Color; 2] = [Color::Blue, Color::Green];

    /// The other color.
    pub fn other(self) -> Color {
        match self {
            Color::Blue => Color::Green,
            Color::Green => Color::Blue,
        }
    }

    /// The lowercase name used in flags, tags and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Color::Blue => "blue",
            Color::Green => "green",
        }
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a color.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown color {0:?}: use \"blue\" or \"green\"")]
pub struct UnknownColor(pub String);

impl FromStr for Color {
    type Err = UnknownColor;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "blue" => Ok(Color::Blue),
            "green" => Ok(Color::Green),
            _ => Err(UnknownColor(s.to_string())),
        }
    }
}

/// A whole percentage, 0..=100.
///
/// ```
/// use albflip::model::Percent;
/// let ten = Percent::new(10).unwrap();
/// assert_eq!(ten.complement().get(), 90);
/// assert_eq!(ten.to_string(), "10%");
/// assert!(Percent::new(101).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Percent(u8);

/// A value outside 0..=100 given as a percentage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("percentage {0:?} is not a whole number from 0 to 100")]
pub struct InvalidPercent(pub String);

impl Percent {
    /// 0 %.
    pub const ZERO: Percent = Percent(0);
    /// 100 %.
    pub const FULL: Percent = Percent(100);

    /// A percentage, or `None` above 100.
    pub fn new(value: u8) -> Option<Percent> {
        (value <= 100).then_some(Percent(value))
    }

    /// The number, 0..=100.
    pub fn get(self) -> u8 {
        self.0
    }

    /// What is left to the other side: `100 - self`.
    pub fn complement(self) -> Percent {
        Percent(100 - self.0)
    }
}

impl FromStr for Percent {
    type Err = InvalidPercent;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim().trim_end_matches('%');
        trimmed
            .parse::<u8>()
            .ok()
            .and_then(Percent::new)
            .ok_or_else(|| InvalidPercent(s.to_string()))
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

/// How traffic is divided between blue and green, in whole percent that add up to 100.
///
/// ```
/// use albflip::model::{Color, Percent, Split};
/// let canary = Split::to(Color::Green, Percent::new(10).unwrap());
/// assert_eq!(canary.percent_of(Color::Blue).get(), 90);
/// assert_eq!(canary.to_string(), "blue 90% / green 10%");
/// assert_eq!(canary.whole_color(), None);
/// assert_eq!(Split::all_to(Color::Blue).whole_color(), Some(Color::Blue));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Split {
    green: Percent,
}

impl Split {
    /// All traffic on `color`.
    pub fn all_to(color: Color) -> Split {
        Split::to(color, Percent::FULL)
    }

    /// `percent` on `color`, the rest on the other color.
    pub fn to(color: Color, percent: Percent) -> Split {
        match color {
            Color::Green => Split { green: percent },
            Color::Blue => Split {
                green: percent.complement(),
            },
        }
    }

    /// The share of `color`.
    pub fn percent_of(self, color: Color) -> Percent {
        match color {
            Color::Green => self.green,
            Color::Blue => self.green.complement(),
        }
    }

    /// The color that receives all traffic, if one does.
    pub fn whole_color(self) -> Option<Color> {
        match self.green.get() {
            0 => Some(Color::Blue),
            100 => Some(Color::Green),
            _ => None,
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "blue {} / green {}",
            self.percent_of(Color::Blue),
            self.percent_of(Color::Green)
        )
    }
}

/// Group-level stickiness of a weighted forward action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stickiness {
    /// Whether requests from one client stick to one target group.
    pub enabled: bool,
    /// How long, in seconds (AWS accepts 1..=604800); `None` when AWS reports none.
    pub duration_seconds: Option<u32>,
}

impl Stickiness {
    /// Stickiness switched off, as AWS treats a forward action without a stickiness config.
    pub const OFF: Stickiness = Stickiness {
        enabled: false,
        duration_seconds: None,
    };

    /// The longest duration AWS accepts: 7 days.
    pub const MAX_DURATION_SECONDS: u32 = 604_800;

    /// Whether AWS would accept this setting: an enabled stickiness needs a duration of 1..=604800 s.
    pub fn is_valid_for_aws(self) -> bool {
        match (self.enabled, self.duration_seconds) {
            (true, Some(d)) => (1..=Self::MAX_DURATION_SECONDS).contains(&d),
            (true, None) => false,
            (false, Some(d)) => d <= Self::MAX_DURATION_SECONDS,
            (false, None) => true,
        }
    }
}

impl fmt::Display for Stickiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.enabled, self.duration_seconds) {
            (true, Some(d)) => write!(f, "enabled, {d} s"),
            (true, None) => f.write_str("enabled"),
            (false, _) => f.write_str("disabled"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn percent_parses_whole_numbers_only() {
        assert_eq!("10".parse::<Percent>().unwrap().get(), 10);
        assert_eq!("100%".parse::<Percent>().unwrap().get(), 100);
        for bad in ["101", "-1", "ten", "", "1.5", "256"] {
            assert!(bad.parse::<Percent>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn colors_parse_case_insensitively_and_reject_others() {
        assert_eq!("Green".parse::<Color>().unwrap(), Color::Green);
        assert_eq!(
            "purple".parse::<Color>().unwrap_err().to_string(),
            "unknown color \"purple\": use \"blue\" or \"green\""
        );
    }

    fn any_color() -> impl Strategy<Value = Color> {
        prop_oneof![Just(Color::Blue), Just(Color::Green)]
    }

    proptest! {
        #[test]
        fn every_split_adds_up_to_100(color in any_color(), pct in 0u8..=100) {
            let split = Split::to(color, Percent::new(pct).unwrap());
            prop_assert_eq!(split.percent_of(color).get(), pct);
            prop_assert_eq!(
                split.percent_of(Color::Blue).get() + split.percent_of(Color::Green).get(),
                100
            );
        }
    }
}
