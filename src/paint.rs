//! Colors for people at a terminal, one palette for every command: blue and green in their colors,
//! passing verdicts green, failures red, warnings and waits yellow, details dim. Only on a terminal
//! that supports colors, never with `NO_COLOR` set, never in `--output json`.
//!
//! A [`Paint`] is chosen once per command and passed to the renderers, which stay pure functions of
//! what they render (their tests render with colors off and on).

use albflip::model::Color;
use albflip::plan::Verdict;
use console::style;

use crate::args::OutputFormat;

/// Whether to color, and the palette.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paint {
    on: bool,
}

impl Paint {
    /// No colors: every method returns its text unchanged.
    #[cfg(test)]
    pub const PLAIN: Paint = Paint { on: false };
    /// Colors, whatever the terminal (for tests).
    #[cfg(test)]
    pub const COLORED: Paint = Paint { on: true };

    /// The paint for stdout in `format`: colors only for text on a color terminal without `NO_COLOR`.
    pub fn stdout(format: OutputFormat) -> Paint {
        Paint::when(
            format,
            std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
            console::Term::stdout().features().colors_supported(),
        )
    }

    /// The rule itself: text output, no `NO_COLOR` (set and not empty, as no-color.org says), a
    /// terminal with colors.
    fn when(format: OutputFormat, no_color: bool, color_terminal: bool) -> Paint {
        Paint {
            on: format == OutputFormat::Text && !no_color && color_terminal,
        }
    }

    /// Whether this paint colors.
    #[cfg(test)]
    pub fn colors(self) -> bool {
        self.on
    }

    /// A good outcome: a pass, a completed deployment.
    pub fn good(self, text: impl AsRef<str>) -> String {
        style(text.as_ref())
            .green()
            .force_styling(self.on)
            .to_string()
    }

    /// A failure: a failed gate or check, a rollback.
    pub fn bad(self, text: impl AsRef<str>) -> String {
        style(text.as_ref())
            .red()
            .bold()
            .force_styling(self.on)
            .to_string()
    }

    /// A warning or a wait: no data yet, an interruption, an ungated run.
    pub fn warn(self, text: impl AsRef<str>) -> String {
        style(text.as_ref())
            .yellow()
            .force_styling(self.on)
            .to_string()
    }

    /// A detail: timestamps, skipped gates, hints.
    pub fn dim(self, text: impl AsRef<str>) -> String {
        style(text.as_ref())
            .dim()
            .force_styling(self.on)
            .to_string()
    }

    /// Text in a color's own color (blue or green).
    pub fn color(self, color: Color, text: impl AsRef<str>) -> String {
        let styled = style(text.as_ref()).force_styling(self.on);
        match color {
            Color::Blue => styled.blue().bold(),
            _ => styled.green().bold(),
        }
        .to_string()
    }

    /// A color's name in its color.
    pub fn color_name(self, color: Color) -> String {
        self.color(color, color.as_str())
    }

    /// Text in the color of a gate's verdict: pass green, fail red, no data yellow, skipped dim.
    pub fn verdict(self, verdict: Verdict, text: impl AsRef<str>) -> String {
        match verdict {
            Verdict::Pass => self.good(text),
            Verdict::Fail => self.bad(text),
            Verdict::NoData => self.warn(text),
            _ => self.dim(text),
        }
    }
}

impl Paint {
    /// A color's healthy/total targets: all healthy green, none healthy while it has traffic red, some
    /// unhealthy yellow; a color without targets and without traffic (scaled down) dim.
    pub fn health(self, healthy: u32, total: u32, percent: u8, text: impl AsRef<str>) -> String {
        match (healthy, total) {
            (0, 0) if percent == 0 => self.dim(text),
            (h, t) if h == t && t > 0 => self.good(text),
            (0, _) if percent > 0 => self.bad(text),
            _ => self.warn(text),
        }
    }

    /// A deployment's phase: complete green, rolled back red, in flight or interrupted yellow.
    pub fn phase(self, phase: albflip::state::Phase, text: impl AsRef<str>) -> String {
        use albflip::state::Phase;
        match phase {
            Phase::Complete => self.good(text),
            Phase::RolledBack => self.bad(text),
            _ => self.warn(text),
        }
    }
}

/// Left-aligns `text` (which may hold color codes) to `width` visible columns: `format!("{:<6}")`
/// would count the codes.
pub fn pad(text: &str, width: usize) -> String {
    console::pad_str(text, width, console::Alignment::Left, None).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colors_only_for_text_on_a_color_terminal_without_no_color() {
        assert!(Paint::when(OutputFormat::Text, false, true).colors());
        assert!(
            !Paint::when(OutputFormat::Text, true, true).colors(),
            "NO_COLOR"
        );
        assert!(
            !Paint::when(OutputFormat::Text, false, false).colors(),
            "no tty"
        );
        assert!(
            !Paint::when(OutputFormat::Json, false, true).colors(),
            "json"
        );
    }

    #[test]
    fn plain_paint_returns_the_text_and_colored_paint_wraps_it() {
        assert_eq!(Paint::PLAIN.bad("FAIL"), "FAIL");
        assert_eq!(Paint::PLAIN.color_name(Color::Blue), "blue");
        assert_eq!(Paint::COLORED.good("PASS"), "\u{1b}[32mPASS\u{1b}[0m");
        assert!(Paint::COLORED.bad("FAIL").contains("\u{1b}[31m"));
        assert!(Paint::COLORED
            .color_name(Color::Blue)
            .contains("\u{1b}[34m"));
        assert!(Paint::COLORED
            .color_name(Color::Green)
            .contains("\u{1b}[32m"));
        assert!(Paint::COLORED
            .verdict(Verdict::NoData, "NO DATA")
            .contains("\u{1b}[33m"));
        assert_eq!(
            console::strip_ansi_codes(&Paint::COLORED.verdict(Verdict::Skipped, "SKIPPED")),
            "SKIPPED"
        );
    }

    #[test]
    fn health_is_green_when_whole_red_when_none_serves_traffic_yellow_in_between() {
        let c = Paint::COLORED;
        assert_eq!(c.health(2, 2, 10, "2/2"), c.good("2/2"));
        assert_eq!(c.health(0, 2, 10, "0/2"), c.bad("0/2"));
        assert_eq!(c.health(1, 2, 10, "1/2"), c.warn("1/2"));
        assert_eq!(c.health(0, 2, 0, "0/2"), c.warn("0/2"));
        assert_eq!(c.health(0, 0, 0, "0/0"), c.dim("0/0"));
        assert_eq!(c.health(0, 0, 50, "0/0"), c.bad("0/0"));
        assert_eq!(Paint::PLAIN.health(0, 2, 10, "0/2"), "0/2");
    }

    #[test]
    fn padding_counts_the_visible_columns_only() {
        let padded = pad(&Paint::COLORED.color_name(Color::Blue), 6);
        assert_eq!(console::measure_text_width(&padded), 6);
        assert_eq!(console::strip_ansi_codes(&padded), "blue  ");
    }
}
