//! `--report FILE.html`: a self-contained HTML report of a run.

use std::time::SystemTime;

use albflip::engine::{DeploySpec, Outcome};
use albflip::events::Event;
use albflip::resolve::Target;
use albflip::Error;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders the report of a run from its events and result.
pub fn render(
    target: &Target,
    spec: &DeploySpec,
    events: &[(SystemTime, Event)],
    result: &Result<Outcome, Error>,
) -> String {
    let outcome = match result {
        Ok(o) => format!("{o:?}"),
        Err(e) => format!("error: {e}"),
    };
    let rows: String = events
        .iter()
        .map(|(at, e)| {
            format!(
                "<tr><td>{}</td><td>{}</td></tr>\n",
                humantime::format_rfc3339_seconds(*at),
                escape(&format!("{e:?}"))
            )
        })
        .collect();
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>albflip report</title></head><body><h1>albflip: {}</h1><p>route: {}</p><p id=\"outcome\">{}</p><table>{rows}</table></body></html>\n",
        escape(&spec.strategy),
        escape(&format!("{:?}", target.route)),
        escape(&outcome)
    )
}
