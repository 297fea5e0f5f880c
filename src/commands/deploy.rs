//! `albflip deploy`: traffic to the new color step by step under the gates; `--resume` continues a
//! recorded deployment, `--dry-run` prints the plan (as `albflip plan`).

use albflip::Error;

use super::common::{run_engine, Run, Session};
use super::plan;
use crate::args::{DeployArgs, GlobalArgs};
use crate::settings::Settings;
use crate::spec;

/// Validates the spec, then deploys (or resumes, or prints the plan of a dry run).
pub async fn run(a: &DeployArgs, settings: Settings, g: &GlobalArgs) -> Result<u8, Error> {
    let spec = spec::deploy(a, &settings.file.strategy, &settings.file.gates)?;
    let session = Session::open(Some(&a.lifecycle), &settings, g).await?;
    let spec = session.with_lifecycle(spec);
    if a.dry_run && a.resume {
        return plan::show_resume(&session, &settings, spec, g).await;
    }
    if a.dry_run {
        return plan::show(&session, &settings, spec, g).await;
    }
    let run = if a.resume { Run::Resume } else { Run::Deploy };
    run_engine(run, &session, &settings, &spec, &a.bake, g).await
}
