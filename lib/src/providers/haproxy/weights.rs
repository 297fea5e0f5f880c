//! Percent to HAProxy weights and back. HAProxy weights are 0..=256 per server and a server's share is
//! its weight over the sum of its backend's; a color with several servers gets its share spread evenly
//! over them. With several servers on one side a few extreme shares cannot be expressed (four green
//! servers at weight 1 against one blue at 256 are already 1.5 %); those are the nearest weights and
//! the read-back says so. Pure.

use crate::model::{Color, Percent, Split};

/// The largest weight HAProxy takes.
pub const MAX_WEIGHT: u16 = 256;

/// Each color's number of servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Servers {
    /// Blue's servers (at least one).
    pub blue: usize,
    /// Green's servers (at least one).
    pub green: usize,
}

/// The weight of each of a color's servers for a split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColorWeights {
    /// The weight of each blue server.
    pub blue: u16,
    /// The weight of each green server.
    pub green: u16,
}

impl ColorWeights {
    /// The weight of each of `color`'s servers.
    pub fn of(&self, color: Color) -> u16 {
        match color {
            Color::Blue => self.blue,
            Color::Green => self.green,
        }
    }
}

/// The split that per-color weight totals give, rounded to whole percent; `None` when both are zero.
pub fn split_of(blue_total: u64, green_total: u64) -> Option<Split> {
    let total = blue_total + green_total;
    if total == 0 {
        return None;
    }
    // Round half up, in integers.
    let green = (green_total * 200 + total) / (total * 2);
    let green = u8::try_from(green).ok().and_then(Percent::new)?;
    // A color with weight keeps at least 1 %, one without has 0 %: rounding never hides a color.
    let green = match (blue_total, green_total) {
        (_, 0) => Percent::ZERO,
        (0, _) => Percent::FULL,
        _ => Percent::new(green.get().clamp(1, 99)).unwrap_or(green),
    };
    Some(Split::to(Color::Green, green))
}

/// The weights that put `split` on the colors' servers: the largest that read back as exactly `split`
/// (per-server weights at most [`MAX_WEIGHT`], a color with a share never at 0, a color without at 0).
pub fn weights_for(split: Split, servers: Servers) -> ColorWeights {
    let (pb, pg) = (
        u64::from(split.percent_of(Color::Blue).get()),
        u64::from(split.percent_of(Color::Green).get()),
    );
    let (nb, ng) = (servers.blue.max(1) as u64, servers.green.max(1) as u64);
    // At `scale`, a color's servers together weigh `percent * scale / 100`, spread evenly, rounded,
    // at least 1.
    let at = |scale: u64| {
        let per = |p: u64, n: u64| -> u16 {
            if p == 0 {
                return 0;
            }
            let w = (p * scale * 2 + 100 * n) / (200 * n);
            u16::try_from(w.max(1)).unwrap_or(u16::MAX)
        };
        ColorWeights {
            blue: per(pb, nb),
            green: per(pg, ng),
        }
    };
    let fits = |w: ColorWeights| {
        w.blue <= MAX_WEIGHT
            && w.green <= MAX_WEIGHT
            && split_of(nb * u64::from(w.blue), ng * u64::from(w.green)) == Some(split)
    };
    // The largest scale at which no server exceeds the maximum, then down until it reads back exactly.
    let cap = |p: u64, n: u64| (u64::from(MAX_WEIGHT) * 100 * n).checked_div(p);
    let top = [cap(pb, nb), cap(pg, ng)]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(u64::from(MAX_WEIGHT));
    (1..=top)
        .rev()
        .map(at)
        .find(|w| fits(*w))
        .unwrap_or_else(|| at(top))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_split_reads_back_as_written_for_any_number_of_servers() {
        for nb in 1..=5 {
            for ng in 1..=5 {
                let servers = Servers {
                    blue: nb,
                    green: ng,
                };
                for g in 0..=100u8 {
                    let split = Split::to(Color::Green, Percent::new(g).unwrap());
                    let w = weights_for(split, servers);
                    assert!(w.blue <= MAX_WEIGHT && w.green <= MAX_WEIGHT);
                    assert_eq!(w.blue == 0, g == 100, "{nb}/{ng} at {g}%: {w:?}");
                    assert_eq!(w.green == 0, g == 0, "{nb}/{ng} at {g}%: {w:?}");
                    let read = split_of(
                        nb as u64 * u64::from(w.blue),
                        ng as u64 * u64::from(w.green),
                    );
                    if read != Some(split) {
                        // Only when no weights at all give it (four green servers at weight 1
                        // against one blue at 256 are already 1.5 %).
                        let reachable = (0..=MAX_WEIGHT).any(|b| {
                            (0..=MAX_WEIGHT).any(|gw| {
                                split_of(nb as u64 * u64::from(b), ng as u64 * u64::from(gw))
                                    == Some(split)
                            })
                        });
                        assert!(
                            !reachable,
                            "{nb} blue, {ng} green at {g}%: {w:?} reads {read:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn one_server_each_uses_the_whole_range_and_all_zero_is_no_split() {
        let one = Servers { blue: 1, green: 1 };
        assert_eq!(
            weights_for(Split::all_to(Color::Blue), one),
            ColorWeights {
                blue: 256,
                green: 0
            }
        );
        let half = weights_for(Split::to(Color::Green, Percent::new(50).unwrap()), one);
        assert_eq!(
            half,
            ColorWeights {
                blue: 256,
                green: 256
            }
        );
        let ten = weights_for(Split::to(Color::Green, Percent::new(10).unwrap()), one);
        assert!(ten.blue > 200, "{ten:?}");
        assert_eq!(split_of(0, 0), None);
        assert_eq!(
            split_of(1, 1000).map(|s| s.percent_of(Color::Blue).get()),
            Some(1)
        );
    }
}
