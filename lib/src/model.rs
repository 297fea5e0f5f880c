//! The vocabulary of a blue/green switch: colors, percentages, ALB weights, splits, stickiness and ARNs.
//!
//! Every type here validates on construction, so an invalid value (a 101 % split, an ALB weight of 1000,
//! all-zero weights, a malformed ARN) cannot exist past the edge of the program.

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

/// A weight in an ALB weighted forward action: 0..=999, as AWS accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct AlbWeight(u16);

impl AlbWeight {
    /// The largest weight AWS accepts.
    pub const MAX: u16 = 999;
    /// Weight 0: the target group receives no traffic.
    pub const ZERO: AlbWeight = AlbWeight(0);

    /// A weight, or `None` outside 0..=999.
    pub fn new(value: i64) -> Option<AlbWeight> {
        u16::try_from(value)
            .ok()
            .filter(|v| *v <= Self::MAX)
            .map(AlbWeight)
    }

    /// The number, 0..=999.
    pub fn get(self) -> u16 {
        self.0
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
/// // Written to the ALB as weights 90 and 10.
/// assert_eq!(canary.weights().of(Color::Green).get(), 10);
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

    /// The ALB weights that express this split. Percentages are used as weights directly, so the two
    /// always add up to 100 and are never both zero.
    pub fn weights(self) -> Weights {
        Weights {
            blue: AlbWeight(u16::from(self.percent_of(Color::Blue).get())),
            green: AlbWeight(u16::from(self.green.get())),
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

/// The raw weights of the blue and green target groups, never both zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Weights {
    blue: AlbWeight,
    green: AlbWeight,
}

/// Two zero weights: an ALB with them would route nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("blue and green both have weight 0, which would route no traffic")]
pub struct AllZeroWeights;

impl Weights {
    /// Weights for blue and green; refuses all-zero.
    pub fn new(blue: AlbWeight, green: AlbWeight) -> Result<Weights, AllZeroWeights> {
        if blue.get() == 0 && green.get() == 0 {
            return Err(AllZeroWeights);
        }
        Ok(Weights { blue, green })
    }

    /// The weight of `color`.
    pub fn of(self, color: Color) -> AlbWeight {
        match color {
            Color::Blue => self.blue,
            Color::Green => self.green,
        }
    }

    /// The split these weights produce, rounded to whole percent. A non-zero weight never rounds to 0 %
    /// or 100 %, so a trickle of traffic is never reported as none.
    pub fn split(self) -> Split {
        let blue = u32::from(self.blue.get());
        let green = u32::from(self.green.get());
        let total = blue + green;
        let mut pct = (green * 100 + total / 2) / total;
        if green > 0 && pct == 0 {
            pct = 1;
        }
        if blue > 0 && pct == 100 {
            pct = 99;
        }
        // pct is within 0..=100 by construction.
        Split {
            green: Percent(pct as u8),
        }
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

/// A string that is not an ARN of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {kind} ARN (expected {example})")]
pub struct InvalidArn {
    /// What was given.
    pub value: String,
    /// Which kind of ARN was expected.
    pub kind: &'static str,
    /// An example of the expected shape.
    pub example: &'static str,
}

macro_rules! arn_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $marker:literal, $example:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Parses and validates the ARN.
            pub fn parse(value: &str) -> Result<Self, InvalidArn> {
                if arn_resource(value, $marker).is_some() {
                    Ok($name(value.to_string()))
                } else {
                    Err(InvalidArn { value: value.to_string(), kind: $kind, example: $example })
                }
            }

            /// The ARN as AWS spells it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = InvalidArn;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse(s)
            }
        }
    };
}

arn_type!(
    /// The ARN of an Application Load Balancer.
    LoadBalancerArn,
    "load balancer",
    "loadbalancer/app/",
    "arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID"
);
arn_type!(
    /// The ARN of an ALB listener.
    ListenerArn,
    "listener",
    "listener/app/",
    "arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener/app/LB/ID/ID"
);
arn_type!(
    /// The ARN of an ALB listener rule.
    RuleArn,
    "listener rule",
    "listener-rule/app/",
    "arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener-rule/app/LB/ID/ID/ID"
);
arn_type!(
    /// The ARN of a target group.
    TargetGroupArn,
    "target group",
    "targetgroup/",
    "arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID"
);

/// The resource part of an ELBv2 ARN when it starts with `marker` and has a non-empty tail.
fn arn_resource<'a>(value: &'a str, marker: &str) -> Option<&'a str> {
    let mut parts = value.splitn(6, ':');
    let (arn, partition, service) = (parts.next()?, parts.next()?, parts.next()?);
    let (_region, _account, resource) = (parts.next()?, parts.next()?, parts.next()?);
    let ok = arn == "arn"
        && partition.starts_with("aws")
        && service == "elasticloadbalancing"
        && resource.len() > marker.len()
        && resource.starts_with(marker)
        && !value.chars().any(char::is_whitespace);
    ok.then_some(resource)
}

impl TargetGroupArn {
    /// The target group's name, read from the ARN (`targetgroup/NAME/ID`).
    pub fn name(&self) -> &str {
        self.0
            .rsplit_once(":targetgroup/")
            .and_then(|(_, rest)| rest.split('/').next())
            .unwrap_or_default()
    }

    /// The CloudWatch dimension value for this group: `targetgroup/NAME/ID`.
    pub fn metric_dimension(&self) -> &str {
        self.0
            .rsplit_once(':')
            .map(|(_, resource)| resource)
            .unwrap_or_default()
    }
}

impl ListenerArn {
    /// The ARN of the load balancer this listener belongs to.
    pub fn load_balancer(&self) -> LoadBalancerArn {
        // listener/app/NAME/LBID/LISTENERID -> loadbalancer/app/NAME/LBID
        let lb = self
            .0
            .rsplit_once('/')
            .map(|(head, _)| head.replacen(":listener/app/", ":loadbalancer/app/", 1))
            .unwrap_or_default();
        LoadBalancerArn(lb)
    }
}

impl RuleArn {
    /// The ARN of the listener this rule belongs to.
    pub fn listener(&self) -> ListenerArn {
        let listener = self
            .0
            .rsplit_once('/')
            .map(|(head, _)| head.replacen(":listener-rule/app/", ":listener/app/", 1))
            .unwrap_or_default();
        ListenerArn(listener)
    }
}

impl LoadBalancerArn {
    /// The load balancer's name, read from the ARN.
    pub fn name(&self) -> &str {
        self.0
            .rsplit_once(":loadbalancer/app/")
            .and_then(|(_, rest)| rest.split('/').next())
            .unwrap_or_default()
    }

    /// The CloudWatch dimension value for this load balancer: `app/NAME/ID`.
    pub fn metric_dimension(&self) -> &str {
        self.0
            .rsplit_once(":loadbalancer/")
            .map(|(_, resource)| resource)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/demo-shop-blue-tg/50dc6c495c0c9188";
    const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/demo-shop-alb/50dc6c495c0c9188/f2f7dc8efc522ab2";

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

    #[test]
    fn all_zero_weights_are_unrepresentable() {
        let zero = AlbWeight::new(0).unwrap();
        assert_eq!(Weights::new(zero, zero), Err(AllZeroWeights));
        assert!(AlbWeight::new(1000).is_none());
        assert!(AlbWeight::new(-1).is_none());
    }

    #[test]
    fn a_trickle_is_never_rounded_away() {
        let w = Weights::new(AlbWeight::new(999).unwrap(), AlbWeight::new(1).unwrap()).unwrap();
        assert_eq!(w.split().percent_of(Color::Green).get(), 1);
        let w = Weights::new(AlbWeight::new(1).unwrap(), AlbWeight::new(999).unwrap()).unwrap();
        assert_eq!(w.split().percent_of(Color::Green).get(), 99);
    }

    #[test]
    fn arns_are_validated_and_read() {
        let tg = TargetGroupArn::parse(TG).unwrap();
        assert_eq!(tg.name(), "demo-shop-blue-tg");
        assert_eq!(
            tg.metric_dimension(),
            "targetgroup/demo-shop-blue-tg/50dc6c495c0c9188"
        );
        let listener = ListenerArn::parse(LISTENER).unwrap();
        let lb = listener.load_balancer();
        assert_eq!(lb.name(), "demo-shop-alb");
        assert_eq!(lb.metric_dimension(), "app/demo-shop-alb/50dc6c495c0c9188");
        assert!(ListenerArn::parse(TG).is_err());
        assert!(ListenerArn::parse("arn:aws:elasticloadbalancing:listener").is_err());
        assert!(TargetGroupArn::parse("demo-shop-blue-tg").is_err());
    }

    fn any_color() -> impl Strategy<Value = Color> {
        prop_oneof![Just(Color::Blue), Just(Color::Green)]
    }

    proptest! {
        #[test]
        fn every_split_maps_to_valid_weights_and_back(color in any_color(), pct in 0u8..=100) {
            let split = Split::to(color, Percent::new(pct).unwrap());
            let w = split.weights();
            prop_assert!(w.of(Color::Blue).get() <= AlbWeight::MAX);
            prop_assert!(w.of(Color::Green).get() <= AlbWeight::MAX);
            prop_assert!(Weights::new(w.of(Color::Blue), w.of(Color::Green)).is_ok());
            prop_assert_eq!(w.split(), split);
            prop_assert_eq!(split.percent_of(color).get(), pct);
            prop_assert_eq!(
                split.percent_of(Color::Blue).get() + split.percent_of(Color::Green).get(),
                100
            );
        }

        #[test]
        fn any_valid_weights_give_a_close_split(blue in 0u16..=999, green in 0u16..=999) {
            prop_assume!(blue + green > 0);
            let w = Weights::new(AlbWeight::new(blue.into()).unwrap(), AlbWeight::new(green.into()).unwrap()).unwrap();
            let exact = f64::from(green) * 100.0 / f64::from(blue + green);
            let got = f64::from(w.split().percent_of(Color::Green).get());
            prop_assert!((got - exact).abs() <= 1.0, "{} vs {}", got, exact);
            prop_assert_eq!(green == 0, got == 0.0);
            prop_assert_eq!(blue == 0, got == 100.0);
        }
    }
}
