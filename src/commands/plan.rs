//! `albflip plan`: what `deploy` would do (steps, gates, minimum duration, API calls); writes nothing.
//! Also the output of `deploy --dry-run` and `promote --dry-run`.

use albflip::aws::resolve::{self, Resolved};
use albflip::engine::DeploySpec;
use albflip::Error;

use super::common::{emit, Session};
use crate::args::{DeployArgs, GlobalArgs, OutputFormat};
use crate::settings::Settings;
use crate::{exit, render, spec};

/// Validates the spec and prints the plan.
pub async fn run(a: &DeployArgs, settings: Settings, g: &GlobalArgs) -> Result<u8, Error> {
    let spec = spec::deploy(a, &settings.file.strategy, &settings.file.gates)?;
    let session = Session::open(Some(&a.lifecycle), &settings, g).await?;
    let spec = session.with_lifecycle(spec);
    show(&session, &settings, spec, g).await
}

/// Reads the route and prints the plan of `spec` on it.
pub async fn show(
    session: &Session,
    settings: &Settings,
    spec: DeploySpec,
    g: &GlobalArgs,
) -> Result<u8, Error> {
    let resolved = resolve::resolve(&session.alb, &settings.target).await?;
    print(&spec, &resolved, g);
    Ok(exit::SUCCESS)
}

/// Prints the plan of `spec` on the route as read.
pub fn print(spec: &DeploySpec, resolved: &Resolved, g: &GlobalArgs) {
    let out = match g.output {
        OutputFormat::Json => format!("{}\n", render::plan_json(spec, resolved)),
        OutputFormat::Text => render::plan_text(spec, resolved),
    };
    emit(&out, g);
}
