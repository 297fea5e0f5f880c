//! Durations for people: a measured time printed as `41s`, not `40s 685ms 900us 955ns`.

use std::time::Duration;

/// `d` rounded for a message: to the whole second from one second up, to the millisecond below it,
/// then written as humantime does (`2m 5s`, `40s`, `250ms`).
///
/// ```
/// use std::time::Duration;
/// use albflip::duration::human;
/// assert_eq!(human(Duration::from_nanos(40_685_900_955)), "41s");
/// assert_eq!(human(Duration::from_millis(125_600)), "2m 6s");
/// assert_eq!(human(Duration::from_micros(250_400)), "250ms");
/// ```
pub fn human(d: Duration) -> String {
    let millis = (d.as_micros() + 500) / 1000;
    let rounded = if millis >= 1000 {
        Duration::from_secs(d.as_secs() + u64::from(d.subsec_millis() >= 500))
    } else {
        Duration::from_millis(u64::try_from(millis).unwrap_or(0))
    };
    humantime::format_duration(rounded).to_string()
}
