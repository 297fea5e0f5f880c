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

/// `deploy --resume --dry-run`: reads the route and prints what the resume would run (the recorded
/// deployment's steps, from the step it would start at), refusing as the resume would. Writes nothing.
pub async fn show_resume(
    session: &Session,
    settings: &Settings,
    spec: DeploySpec,
    g: &GlobalArgs,
) -> Result<u8, Error> {
    let resolved = resolve::resolve(&session.alb, &settings.target).await?;
    let live = albflip::state::RouteState {
        route: &resolved.snapshot.route,
        record: None,
        split: resolved.split,
        stable: resolved.stable,
    };
    let point = albflip::engine::resume_point(&resolved.tags, live, &spec)?;
    let steps = point.spec.plan.steps.len();
    match g.output {
        OutputFormat::Json => {
            let mut v = render::plan_json(&point.spec, &resolved);
            v["resume"] = serde_json::json!({
                "deployment_id": point.record.id,
                "from_step": point.from,
                "steps": steps,
                "phase": point.record.phase,
            });
            emit(&format!("{v}\n"), g);
        }
        OutputFormat::Text => {
            let head = format!(
                "Dry run of a resume: deployment {} of {} ({}) would continue from step {} of {} (that step's bake runs again); recorded as {}.\n",
                point.record.id,
                point.record.target,
                point.record.strategy,
                point.from,
                steps,
                point.record.phase.as_str()
            );
            emit(&(head + &render::plan_text(&point.spec, &resolved)), g);
        }
    }
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
