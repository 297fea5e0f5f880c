//! `albflip status`: the route, its split, health and stickiness, and the deployment in progress.

use albflip::traffic;
use albflip::Error;

use super::common::{emit, Session};
use crate::args::{GlobalArgs, OutputFormat};
use crate::settings::Settings;
use crate::{exit, render};

/// Reads the route and prints it.
pub async fn run(settings: Settings, g: &GlobalArgs) -> Result<u8, Error> {
    let session = Session::open(None, &settings, g).await?;
    let status = traffic::status(&session.alb, &settings.target).await?;
    let out = match g.output {
        OutputFormat::Json => format!("{}\n", render::status_json(&status)),
        OutputFormat::Text => render::status_text(&status, g.verbose > 0),
    };
    emit(&out, g);
    Ok(exit::SUCCESS)
}
