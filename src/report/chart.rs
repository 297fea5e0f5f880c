//! The report's chart: an inline SVG with four panels on one time axis (the new color's share; both
//! colors' 5XX rate, latency and requests per poll, the stable color's dashed), thresholds as dashed
//! red lines and step/rollback markers. Pure: data in, markup out.

use std::fmt::Write;

use super::escape;

/// A value at a time (seconds since the start of the run).
pub type Point = (f64, f64);

/// A metric series: runs of consecutive polls with a value (a poll without one breaks the line), and
/// each poll's value with whether its gate failed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Series {
    /// Runs of points joined by a line.
    pub runs: Vec<Vec<Point>>,
    /// Every point, with whether that poll's gate failed.
    pub marks: Vec<(Point, bool)>,
}

impl Series {
    /// Adds a poll: `Some` extends the current run, `None` ends it.
    pub fn push(&mut self, t: f64, value: Option<f64>, failed: bool) {
        match value {
            Some(v) => {
                if self.runs.is_empty() {
                    self.runs.push(Vec::new());
                }
                if let Some(run) = self.runs.last_mut() {
                    run.push((t, v));
                }
                self.marks.push(((t, v), failed));
            }
            None => {
                if self.runs.last().is_some_and(|r| !r.is_empty()) {
                    self.runs.push(Vec::new());
                }
            }
        }
    }

    fn max(&self) -> f64 {
        self.marks.iter().map(|((_, v), _)| *v).fold(0.0, f64::max)
    }
}

/// A vertical marker across all panels.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    /// When.
    pub t: f64,
    /// A short label.
    pub label: String,
    /// A rollback or interruption (drawn red) rather than a step.
    pub alarm: bool,
}

/// Everything the chart shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartData {
    /// The new color (`green`/`blue`), for labels and the share line's color.
    pub color: String,
    /// The stable color, for labels.
    pub stable_color: String,
    /// Seconds from the start to the end of the run.
    pub span: f64,
    /// The new color's share in percent, at each change.
    pub share: Vec<Point>,
    /// The new color's 5XX rate in percent, per poll.
    pub error_rate: Series,
    /// The stable color's 5XX rate in percent, per poll.
    pub stable_error_rate: Series,
    /// The error rate threshold in percent.
    pub max_error_rate: f64,
    /// The new color's latency in seconds, per poll.
    pub latency: Series,
    /// The stable color's latency in seconds, per poll.
    pub stable_latency: Series,
    /// The latency threshold in seconds.
    pub max_latency: f64,
    /// The latency statistic (`p99`, `Average`).
    pub latency_statistic: String,
    /// The new color's requests in the window each poll read.
    pub requests: Series,
    /// The stable color's requests in the same windows.
    pub stable_requests: Series,
    /// Step and rollback markers.
    pub markers: Vec<Marker>,
}

const WIDTH: f64 = 1000.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 34.0;
const PANEL: f64 = 150.0;
const GAP: f64 = 46.0;

/// Maps a value range onto a pixel range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    domain: (f64, f64),
    range: (f64, f64),
}

impl Scale {
    /// A linear map from `domain` onto `range` (either may be reversed); an empty domain maps to the
    /// range's start.
    pub fn new(domain: (f64, f64), range: (f64, f64)) -> Scale {
        Scale { domain, range }
    }

    /// The pixel of `v`, clamped to the range.
    pub fn at(&self, v: f64) -> f64 {
        let (d0, d1) = self.domain;
        let (r0, r1) = self.range;
        if (d1 - d0).abs() < f64::EPSILON || !v.is_finite() {
            return r0;
        }
        let f = ((v - d0) / (d1 - d0)).clamp(0.0, 1.0);
        r0 + f * (r1 - r0)
    }
}

/// The smallest of 1, 2, 2.5, 5 × 10ⁿ that is ≥ `x` (1 for zero or less).
pub fn nice_ceiling(x: f64) -> f64 {
    if !x.is_finite() || x <= 0.0 {
        return 1.0;
    }
    let base = 10f64.powf(x.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * base)
        .find(|c| *c >= x * (1.0 - 1e-9))
        .unwrap_or(10.0 * base)
}

/// How many intervals divide `0..=ymax` (a nice ceiling) into round values: 4 for 1 and 2 (× 10ⁿ),
/// 5 for 2.5 and 5.
pub fn ticks(ymax: f64) -> u32 {
    let mantissa = ymax / 10f64.powf(ymax.log10().floor());
    if (mantissa - 2.5).abs() < 1e-6 || (mantissa - 5.0).abs() < 1e-6 {
        5
    } else {
        4
    }
}

/// A tick spacing for a time axis of `span` seconds: at most about ten ticks.
pub fn time_step(span: f64) -> f64 {
    const STEPS: [f64; 14] = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
    ];
    STEPS
        .iter()
        .copied()
        .find(|s| span / s <= 10.0)
        .unwrap_or_else(|| (span / 10.0 / 3600.0).ceil() * 3600.0)
}

/// `90s` → `1m30s`.
pub fn time_label(secs: f64) -> String {
    let s = secs.round() as u64;
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

/// Seconds for people: `50 ms`, `1.5 s`.
pub fn seconds_label(v: f64) -> String {
    if v < 1.0 {
        format!("{} ms", trim(v * 1000.0))
    } else {
        format!("{} s", trim(v))
    }
}

/// A number without trailing zeros (at most 3 decimals).
pub fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// The points of a step line: each value holds until the next, the last until `end`.
pub fn step_points(changes: &[Point], end: f64) -> Vec<Point> {
    let mut out: Vec<Point> = Vec::new();
    for (i, &(t, v)) in changes.iter().enumerate() {
        if i > 0 {
            out.push((t, changes[i - 1].1));
        }
        out.push((t, v));
    }
    if let Some(&(t, v)) = changes.last() {
        if end > t {
            out.push((end, v));
        }
    }
    out
}

fn points(pts: &[Point], x: Scale, y: Scale) -> String {
    pts.iter()
        .map(|&(t, v)| format!("{:.1},{:.1}", x.at(t), y.at(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn share_stroke(color: &str) -> &'static str {
    match color {
        "blue" => "#2563eb",
        _ => "#16a34a",
    }
}

/// One panel's frame, horizontal grid and y tick labels; returns its y scale.
fn panel(
    svg: &mut String,
    top: f64,
    title: &str,
    ymax: f64,
    tick: impl Fn(f64) -> String,
) -> Scale {
    let right = WIDTH - RIGHT;
    let y = Scale::new((0.0, ymax), (top + PANEL, top));
    let _ = write!(
        svg,
        r##"<text class="panel-title" x="{LEFT}" y="{:.1}">{}</text>"##,
        top - 8.0,
        escape(title)
    );
    let n = ticks(ymax);
    for i in 0..=n {
        let v = ymax * f64::from(i) / f64::from(n);
        let py = y.at(v);
        let _ = write!(
            svg,
            r##"<line class="grid" x1="{LEFT}" x2="{right}" y1="{py:.1}" y2="{py:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT - 6.0,
            py + 4.0,
            escape(&tick(v))
        );
    }
    let _ = write!(
        svg,
        r##"<rect class="frame" x="{LEFT}" y="{top}" width="{:.1}" height="{PANEL}"/>"##,
        right - LEFT
    );
    y
}

fn threshold(svg: &mut String, y: Scale, value: f64, label: &str) {
    let py = y.at(value);
    let _ = write!(
        svg,
        r##"<line class="threshold" x1="{LEFT}" x2="{:.1}" y1="{py:.1}" y2="{py:.1}" stroke-dasharray="6 4"/><text class="threshold-label" x="{:.1}" y="{:.1}">{}</text>"##,
        WIDTH - RIGHT,
        LEFT + 4.0,
        py - 4.0,
        escape(label)
    );
}

fn series(svg: &mut String, s: &Series, class: &str, x: Scale, y: Scale) {
    for run in s.runs.iter().filter(|r| !r.is_empty()) {
        let _ = write!(
            svg,
            r##"<polyline class="series {class}" points="{}"/>"##,
            points(run, x, y)
        );
    }
    for &((t, v), failed) in &s.marks {
        let _ = write!(
            svg,
            r##"<circle class="poll {}" cx="{:.1}" cy="{:.1}" r="3.5"/>"##,
            if failed { "fail" } else { "pass" },
            x.at(t),
            y.at(v)
        );
    }
}

/// A series nothing is judged on (the stable color's, dashed grey; the request volume): its line and
/// small marks.
fn plain_series(svg: &mut String, s: &Series, class: &str, x: Scale, y: Scale) {
    for run in s.runs.iter().filter(|r| !r.is_empty()) {
        let _ = write!(
            svg,
            r##"<polyline class="series {class}" points="{}"/>"##,
            points(run, x, y)
        );
    }
    for &((t, v), _) in &s.marks {
        let _ = write!(
            svg,
            r##"<circle class="poll {class}" cx="{:.1}" cy="{:.1}" r="2.5"/>"##,
            x.at(t),
            y.at(v)
        );
    }
}

/// The y range of a panel: the largest value of either series or the threshold, with room above.
fn ymax(a: &Series, b: &Series, threshold: f64) -> f64 {
    nice_ceiling(a.max().max(b.max()).max(threshold) * 1.15)
}

/// The chart as an inline `<svg id="chart">`.
pub fn svg(d: &ChartData) -> String {
    let height = TOP + 4.0 * PANEL + 3.0 * GAP + 40.0;
    let span = d.span.max(1.0);
    // A little room after the last event so a final rollback shows.
    let x = Scale::new((0.0, span * 1.03), (LEFT, WIDTH - RIGHT));
    let tops = [0.0, 1.0, 2.0, 3.0].map(|i| TOP + i * (PANEL + GAP));
    let (new, stable) = (&d.color, &d.stable_color);
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg id="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-labelledby="chart-title"><title id="chart-title">{} share; {} and {} 5XX rate, latency and requests over time</title>"##,
        escape(new),
        escape(new),
        escape(stable)
    );
    s.push_str(
        "<style>.grid{stroke:#e5e7eb}.frame{fill:none;stroke:#9ca3af}.tick,.threshold-label,.marker-label{font:11px sans-serif;fill:#4b5563}.panel-title{font:bold 13px sans-serif;fill:#111827}.threshold{stroke:#b91c1c;stroke-width:1.5}.threshold-label{fill:#b91c1c}.series{fill:none;stroke-width:2}.error-rate{stroke:#ea580c}.latency{stroke:#7c3aed}.requests{stroke:#0891b2}.series.stable{stroke:#6b7280;stroke-dasharray:5 3;stroke-width:1.5}.poll.pass{fill:#16a34a}.poll.fail{fill:#dc2626}.poll.stable{fill:#6b7280}.poll.requests{fill:#0891b2}.marker{stroke:#6b7280;stroke-dasharray:2 3}.marker.alarm{stroke:#dc2626;stroke-dasharray:none;stroke-width:1.5}.marker-label.alarm{fill:#dc2626;font-weight:bold}.empty{font:italic 12px sans-serif;fill:#6b7280}</style>",
    );

    // Share of the new color: a step line.
    let y = panel(
        &mut s,
        tops[0],
        &format!("{new} share of traffic (%)"),
        100.0,
        |v| format!("{v:.0}%"),
    );
    let share = step_points(&d.share, span);
    if !share.is_empty() {
        let _ = write!(
            s,
            r##"<polyline class="series share" stroke="{}" points="{}"/>"##,
            share_stroke(new),
            points(&share, x, y)
        );
    }

    // Error rate (percent) of both colors against the threshold.
    let y = panel(
        &mut s,
        tops[1],
        &format!("5XX rate (%) per poll: {new} solid, {stable} dashed"),
        ymax(&d.error_rate, &d.stable_error_rate, d.max_error_rate),
        |v| format!("{}%", trim(v)),
    );
    threshold(
        &mut s,
        y,
        d.max_error_rate,
        &format!("max {}%", trim(d.max_error_rate)),
    );
    plain_series(
        &mut s,
        &d.stable_error_rate,
        "stable error-rate-stable",
        x,
        y,
    );
    series(&mut s, &d.error_rate, "error-rate", x, y);
    if d.error_rate.marks.is_empty() {
        empty(&mut s, tops[1], "no requests counted (no polls with data)");
    }

    // Latency (seconds) of both colors against the threshold.
    let y = panel(
        &mut s,
        tops[2],
        &format!(
            "latency ({}) per poll: {new} solid, {stable} dashed",
            d.latency_statistic
        ),
        ymax(&d.latency, &d.stable_latency, d.max_latency),
        seconds_label,
    );
    threshold(
        &mut s,
        y,
        d.max_latency,
        &format!("max {}", seconds_label(d.max_latency)),
    );
    plain_series(&mut s, &d.stable_latency, "stable latency-stable", x, y);
    series(&mut s, &d.latency, "latency", x, y);
    if d.latency.marks.is_empty() {
        empty(&mut s, tops[2], "no latency datapoints");
    }

    // Request volume of both colors: what each poll's numbers rest on.
    let y = panel(
        &mut s,
        tops[3],
        &format!("requests in each poll's window: {new} solid, {stable} dashed"),
        ymax(&d.requests, &d.stable_requests, 0.0),
        trim,
    );
    plain_series(&mut s, &d.stable_requests, "stable requests-stable", x, y);
    plain_series(&mut s, &d.requests, "requests", x, y);
    if d.requests.marks.is_empty() && d.stable_requests.marks.is_empty() {
        empty(&mut s, tops[3], "no requests counted");
    }

    // Time axis under the last panel, with vertical grid lines through all panels.
    let bottom = tops[3] + PANEL;
    let step = time_step(span);
    let mut t = 0.0;
    while t <= span + 1e-9 {
        let px = x.at(t);
        for top in tops {
            let _ = write!(
                s,
                r##"<line class="grid" x1="{px:.1}" x2="{px:.1}" y1="{top}" y2="{:.1}"/>"##,
                top + PANEL
            );
        }
        let _ = write!(
            s,
            r##"<text class="tick" x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            bottom + 16.0,
            escape(&time_label(t))
        );
        t += step;
    }
    let _ = write!(
        s,
        r##"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle">time since the start</text>"##,
        (LEFT + WIDTH - RIGHT) / 2.0,
        bottom + 34.0
    );

    // Step and rollback markers.
    for m in &d.markers {
        let px = x.at(m.t);
        let class = if m.alarm { "marker alarm" } else { "marker" };
        // Labels right of the line, or left of it near the right edge.
        let (lx, anchor) = if px > WIDTH - RIGHT - 200.0 {
            (px - 3.0, "end")
        } else {
            (px + 3.0, "start")
        };
        let _ = write!(
            s,
            r##"<line class="{class}" x1="{px:.1}" x2="{px:.1}" y1="{TOP}" y2="{bottom:.1}"/><text class="marker-label{}" x="{lx:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"##,
            if m.alarm { " alarm" } else { "" },
            if m.alarm { TOP + 24.0 } else { TOP + 12.0 },
            escape(&m.label)
        );
    }
    s.push_str("</svg>");
    s
}

fn empty(svg: &mut String, top: f64, text: &str) {
    let _ = write!(
        svg,
        r##"<text class="empty" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
        (LEFT + WIDTH - RIGHT) / 2.0,
        top + PANEL / 2.0,
        escape(text)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> ChartData {
        let mut error_rate = Series::default();
        error_rate.push(4.0, Some(0.0), false);
        error_rate.push(5.0, None, false);
        error_rate.push(6.0, Some(20.0), true);
        error_rate.push(7.0, Some(20.0), true);
        let mut latency = Series::default();
        latency.push(4.0, Some(0.05), false);
        let mut stable_error_rate = Series::default();
        stable_error_rate.push(4.0, Some(0.5), false);
        stable_error_rate.push(6.0, Some(0.4), false);
        let mut requests = Series::default();
        requests.push(4.0, Some(40.0), false);
        let mut stable_requests = Series::default();
        stable_requests.push(4.0, Some(360.0), false);
        ChartData {
            color: "green".into(),
            stable_color: "blue".into(),
            span: 10.0,
            share: vec![(0.0, 0.0), (1.0, 10.0), (8.0, 0.0)],
            error_rate,
            stable_error_rate,
            max_error_rate: 1.0,
            latency,
            stable_latency: Series::default(),
            max_latency: 1.0,
            latency_statistic: "Average".into(),
            requests,
            stable_requests,
            markers: vec![Marker {
                t: 8.0,
                label: "rollback <now>".into(),
                alarm: true,
            }],
        }
    }

    #[test]
    fn scales_map_linearly_clamp_and_survive_an_empty_domain() {
        let y = Scale::new((0.0, 100.0), (200.0, 50.0));
        assert_eq!(y.at(0.0), 200.0);
        assert_eq!(y.at(100.0), 50.0);
        assert_eq!(y.at(50.0), 125.0);
        assert_eq!(y.at(150.0), 50.0, "clamped");
        assert_eq!(Scale::new((3.0, 3.0), (10.0, 20.0)).at(3.0), 10.0);
        assert_eq!(Scale::new((0.0, 1.0), (10.0, 20.0)).at(f64::NAN), 10.0);
    }

    #[test]
    fn nice_ceilings_and_time_ticks() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(1.15), 2.0);
        assert_eq!(nice_ceiling(23.0), 25.0);
        assert_eq!(nice_ceiling(0.0115), 0.02);
        assert_eq!(nice_ceiling(5.0), 5.0);
        assert_eq!(time_step(9.0), 1.0);
        assert_eq!(time_step(40.0), 5.0);
        assert_eq!(time_step(900.0), 120.0);
        assert_eq!(
            (ticks(1.0), ticks(2.0), ticks(25.0), ticks(0.5)),
            (4, 4, 5, 5)
        );
        assert_eq!(time_label(0.0), "0s");
        assert_eq!(time_label(90.0), "1m30s");
        assert_eq!(time_label(120.0), "2m");
        assert_eq!(time_label(3720.0), "1h02m");
        assert_eq!(seconds_label(0.05), "50 ms");
        assert_eq!(seconds_label(1.0), "1 s");
        assert_eq!(trim(1.2500), "1.25");
    }

    #[test]
    fn a_step_line_holds_each_value_until_the_next() {
        assert_eq!(
            step_points(&[(0.0, 0.0), (1.0, 10.0), (8.0, 0.0)], 10.0),
            vec![
                (0.0, 0.0),
                (1.0, 0.0),
                (1.0, 10.0),
                (8.0, 10.0),
                (8.0, 0.0),
                (10.0, 0.0)
            ]
        );
        assert!(step_points(&[], 10.0).is_empty());
    }

    #[test]
    fn a_poll_without_a_value_breaks_the_line() {
        let d = data();
        assert_eq!(
            d.error_rate.runs,
            vec![vec![(4.0, 0.0)], vec![(6.0, 20.0), (7.0, 20.0)]]
        );
        assert_eq!(d.error_rate.marks.len(), 3);
    }

    #[test]
    fn the_svg_holds_the_share_metric_lines_thresholds_and_escaped_markers() {
        let svg = svg(&data());
        assert!(svg.starts_with("<svg id=\"chart\""), "{svg}");
        assert!(svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline class=\"series share\"").count(), 1);
        assert_eq!(
            svg.matches("<polyline class=\"series error-rate\"").count(),
            2
        );
        assert_eq!(svg.matches("<polyline class=\"series latency\"").count(), 1);
        assert_eq!(
            svg.matches("<polyline class=\"series stable error-rate-stable\"")
                .count(),
            1,
            "the stable color's 5XX rate beside the new one's: {svg}"
        );
        assert_eq!(
            svg.matches("<polyline class=\"series stable latency-stable\"")
                .count(),
            0,
            "no stable latency line without stable latency data"
        );
        assert!(
            svg.contains("<polyline class=\"series requests\"")
                && svg.contains("<polyline class=\"series stable requests-stable\""),
            "both colors' request volume: {svg}"
        );
        assert!(svg.contains("green solid, blue dashed"), "{svg}");
        assert_eq!(svg.matches("class=\"threshold\"").count(), 2);
        assert!(
            svg.contains(">max 1%<") && svg.contains(">max 1 s<"),
            "{svg}"
        );
        assert_eq!(svg.matches("class=\"poll fail\"").count(), 2);
        assert!(svg.contains("rollback &lt;now&gt;") && !svg.contains("<now>"));
        // Error rate panel: 0..25 % (20 × 1.15 → 25); the 1 % threshold sits 1/25 up from its bottom.
        let top = TOP + PANEL + GAP;
        let y = top + PANEL - PANEL / 25.0;
        assert!(
            svg.contains(&format!("y1=\"{y:.1}\" y2=\"{y:.1}\" stroke-dasharray")),
            "{svg}"
        );
    }
}
