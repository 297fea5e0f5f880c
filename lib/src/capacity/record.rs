//! The capacity of a color's Auto Scaling group at deployment start, kept in a tag so that a later
//! `albflip rollback` (from any machine) can scale it back up to what it was.

use serde::Serialize;

use crate::error::Error;
use crate::model::Color;
use crate::ports::Capacity;
use crate::ports::{PoolInfo, Routes};

/// Writes `record` as `color`'s capacity record on the named route of `routes` (the ALB: a tag on the
/// listener or rule that carries albflip's state), for a rollback after the color is scaled down.
pub(crate) async fn write<R: Routes>(
    routes: &R,
    color: Color,
    record: &CapacityRecord,
) -> Result<(), Error> {
    let value = record.to_tag()?;
    let key = CapacityRecord::tag_key(color);
    routes
        .save(&[(key.as_str(), value.as_str())])
        .await
        .map_err(|source| Error::CapacityRecordFailed {
            asg: record.asg.clone(),
            record: format!("{key}={value}"),
            resource: routes.names().id,
            source: Box::new(source),
        })
}

/// The longest tag value AWS accepts.
pub const MAX_TAG_VALUE: usize = 256;

/// What a group's sizes were when a deployment started. As a tag value: `DESIRED/MIN/MAX/NAME`, e.g.
/// `2/0/4/prod-shop-blue-asg` (the name last, so it may itself hold `/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapacityRecord {
    /// The Auto Scaling group's name.
    pub asg: String,
    /// Its desired capacity.
    pub desired: u32,
    /// Its minimum size.
    pub min: u32,
    /// Its maximum size.
    pub max: u32,
}

impl CapacityRecord {
    /// The record of a group as described now.
    pub fn of(info: &PoolInfo) -> CapacityRecord {
        CapacityRecord {
            asg: info.name.clone(),
            desired: info.desired,
            min: info.min,
            max: info.max,
        }
    }

    /// The recorded sizes.
    pub fn capacity(&self) -> Capacity {
        Capacity {
            min: self.min,
            max: self.max,
            desired: self.desired,
        }
    }

    /// The tag key that holds the record of `color`'s group, e.g. `albflip:capacity:blue`.
    pub fn tag_key(color: Color) -> String {
        format!("albflip:capacity:{}", color.as_str())
    }

    /// The tag value. Fails when the group's name has characters a tag value may not hold (anything but
    /// letters, digits, spaces and `_ . : / = + - @`) or the value would pass 256 characters.
    pub fn to_tag(&self) -> Result<String, Error> {
        let value = format!("{}/{}/{}/{}", self.desired, self.min, self.max, self.asg);
        if let Some(c) = self.asg.chars().find(|c| !tag_char(*c)) {
            return Err(untaggable(&self.asg, &format!("it holds {c:?}")));
        }
        if value.chars().count() > MAX_TAG_VALUE {
            return Err(untaggable(
                &self.asg,
                &format!("the record would pass {MAX_TAG_VALUE} characters"),
            ));
        }
        Ok(value)
    }

    /// Parses a tag value written by [`CapacityRecord::to_tag`]; `None` when it is not one.
    pub fn from_tag(value: &str) -> Option<CapacityRecord> {
        let mut parts = value.splitn(4, '/');
        let mut number = || parts.next()?.parse::<u32>().ok();
        let (desired, min, max) = (number()?, number()?, number()?);
        let asg = parts.next().filter(|n| !n.is_empty())?.to_string();
        Some(CapacityRecord {
            asg,
            desired,
            min,
            max,
        })
    }
}

fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c)
}

fn untaggable(asg: &str, why: &str) -> Error {
    Error::invalid(
        crate::input::Input::NoMatchCapacity,
        format!("Auto Scaling group name {asg:?}"),
        format!("its capacity cannot be recorded in a tag: {why}"),
        crate::text!(
            "Rename the group, or pass ",
            {input crate::input::Input::NoMatchCapacity},
            " and manage its capacity yourself"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(asg: &str) -> CapacityRecord {
        CapacityRecord {
            asg: asg.into(),
            desired: 3,
            min: 1,
            max: 6,
        }
    }

    #[test]
    fn a_record_round_trips_through_its_tag() {
        let r = record("prod-shop/blue asg");
        let tag = r.to_tag().unwrap();
        assert_eq!(tag, "3/1/6/prod-shop/blue asg");
        assert_eq!(CapacityRecord::from_tag(&tag), Some(r));
    }

    #[test]
    fn names_a_tag_cannot_hold_are_refused() {
        let e = record("shop#blue").to_tag().unwrap_err().to_string();
        assert!(e.contains("'#'"), "{e}");
        let long = record(&"a".repeat(251)).to_tag().unwrap_err().to_string();
        assert!(long.contains("256"), "{long}");
        assert!(record(&"a".repeat(250)).to_tag().is_ok());
    }

    #[test]
    fn other_values_are_not_records() {
        for v in ["", "2/0/4/", "2/0/x/name", "2/0/name", "-1/0/4/name"] {
            assert_eq!(CapacityRecord::from_tag(v), None, "{v}");
        }
    }

    #[test]
    fn each_color_has_its_own_key() {
        assert_eq!(
            CapacityRecord::tag_key(Color::Blue),
            "albflip:capacity:blue"
        );
        assert_ne!(
            CapacityRecord::tag_key(Color::Blue),
            CapacityRecord::tag_key(Color::Green)
        );
    }
}
