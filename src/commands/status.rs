//! `albflip status`: the route, its split, health and stickiness, and the deployment in progress.

use albflip::aws::AwsPools;
use albflip::cleanup;
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
    let asgs = AwsPools::new(
        &session.config,
        session.alb.calls().clone(),
        &session.lifecycle.capacity,
    );
    // The capacity holds of a deployment in flight (or of one killed mid-run); status stays useful
    // without Auto Scaling permissions.
    let holds = cleanup::holds(&asgs, &status).await.unwrap_or_else(|e| {
        tracing::debug!(error = %e, "capacity holds not read");
        Vec::new()
    });
    let out = match g.output {
        OutputFormat::Json => {
            let mut v = render::status_json(&status);
            v["capacity_holds"] = serde_json::json!(holds);
            format!("{v}\n")
        }
        OutputFormat::Text => {
            let paint = crate::paint::Paint::stdout(g.output);
            render::status_text(&status, g.verbose > 0, paint) + &render::holds_text(&holds, paint)
        }
    };
    emit(&out, g);
    Ok(exit::SUCCESS)
}
