//! `albflip promote`: a canary awaiting promotion to 100 %, with a final bake under the gates;
//! `--dry-run` prints the plan.

use albflip::aws::resolve::{self, Resolved};
use albflip::aws::CloudWatch;
use albflip::engine::{DeploySpec, Engine, Outcome};
use albflip::ports::TokioClock;
use albflip::Error;

use super::common::{run_engine, Run, Session};
use super::plan;
use crate::args::{GlobalArgs, PromoteArgs};
use crate::settings::Settings;
use crate::{exit, spec};

/// Validates the spec, then promotes (or prints the plan of a dry run).
pub async fn run(a: &PromoteArgs, settings: Settings, g: &GlobalArgs) -> Result<u8, Error> {
    let spec = spec::promote(a, &settings.file.strategy, &settings.file.gates)?;
    let session = Session::open(Some(&a.lifecycle), &settings, g).await?;
    let spec = session.with_lifecycle(spec);
    if a.dry_run {
        let resolved = resolve::resolve(&session.alb, &settings.target).await?;
        let spec = promotion(spec, &resolved);
        plan::print(&spec, &resolved, g);
        return Ok(exit::SUCCESS);
    }
    // A run that waits for promotion (`--wait-for-promotion`) takes the request and goes on itself;
    // only when none does (or none answers) does this run promote, under the lock.
    if let Some(outcome) = hand_over(&session, &settings).await? {
        crate::render::summary(
            &outcome,
            Some(&session.calls),
            None,
            g.output,
            g.quiet,
            g.verbose > 0,
        );
        return Ok(exit::SUCCESS);
    }
    run_engine(Run::Promote, &session, &settings, &spec, &a.bake, g).await
}

/// Asks the run waiting for promotion on the route, if any, to go on.
async fn hand_over(session: &Session, settings: &Settings) -> Result<Option<Outcome>, Error> {
    let metrics = CloudWatch::new(&session.config, session.calls.clone());
    let clock = TokioClock::new();
    let engine = Engine::new(&session.alb, &metrics, &clock, &albflip::events::Ignore)
        .with_identity(albflip::state::identity_from_env());
    engine.request_promotion(&settings.target).await
}

/// The plan of the promotion: the color being promoted is the one the canary recorded.
fn promotion(mut spec: DeploySpec, resolved: &Resolved) -> DeploySpec {
    let recorded = resolved
        .tags
        .get(albflip::state::TARGET_TAG)
        .and_then(|c| c.parse().ok());
    spec.plan = albflip::plan::Plan::promotion(
        recorded.unwrap_or(resolved.stable.other()),
        spec.policy.bake,
    );
    spec
}
