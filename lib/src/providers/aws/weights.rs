//! ALB weights: 0..=999 per target group, never all zero, and their conversion to and from a [`Split`].

use serde::Serialize;

use crate::model::{Color, Percent, Split};

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
    /// The ALB weights that express `split`. Percentages are used as weights directly, so the two
    /// always add up to 100 and are never both zero.
    pub fn from_split(split: Split) -> Weights {
        Weights {
            blue: AlbWeight(u16::from(split.percent_of(Color::Blue).get())),
            green: AlbWeight(u16::from(split.percent_of(Color::Green).get())),
        }
    }

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
        let green = Percent::new(u8::try_from(pct).unwrap_or(100)).unwrap_or(Percent::FULL);
        Split::to(Color::Green, green)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
    fn a_canary_is_written_as_weights_90_and_10() {
        let canary = Split::to(Color::Green, Percent::new(10).unwrap());
        assert_eq!(Weights::from_split(canary).of(Color::Green).get(), 10);
        assert_eq!(Weights::from_split(canary).of(Color::Blue).get(), 90);
    }

    fn any_color() -> impl Strategy<Value = Color> {
        prop_oneof![Just(Color::Blue), Just(Color::Green)]
    }

    proptest! {
        #[test]
        fn every_split_maps_to_valid_weights_and_back(color in any_color(), pct in 0u8..=100) {
            let split = Split::to(color, Percent::new(pct).unwrap());
            let w = Weights::from_split(split);
            prop_assert!(w.of(Color::Blue).get() <= AlbWeight::MAX);
            prop_assert!(w.of(Color::Green).get() <= AlbWeight::MAX);
            prop_assert!(Weights::new(w.of(Color::Blue), w.of(Color::Green)).is_ok());
            prop_assert_eq!(w.split(), split);
            prop_assert_eq!(split.percent_of(color).get(), pct);
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
