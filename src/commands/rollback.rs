//! `albflip rollback`: all traffic to the stable color (or `--to`) in one write. When `albflip cleanup`
//! scaled that color down, it is scaled back up first and albflip waits for its healthy targets
//! (`--force`: does not wait). Never waits for the lock: the emergency path must always work.

use albflip::aws::AwsPools;
use albflip::capacity::Wait;
use albflip::cleanup::{self, RollbackOptions};
use albflip::ports::TokioClock;
use albflip::traffic::ChangeOptions;
use albflip::Error;

use super::common::{emit, warn_when_quiet, Session};
use crate::args::{GlobalArgs, LifecycleArgs, RollbackArgs};
use crate::settings::Settings;
use crate::{exit, scaling};

/// Scales the color back up when it was cleaned up, waits, moves traffic and prints the result.
pub async fn run(a: &RollbackArgs, settings: Settings, g: &GlobalArgs) -> Result<u8, Error> {
    let flags = LifecycleArgs {
        ready_timeout: a.ready_timeout.clone(),
        ..LifecycleArgs::default()
    };
    let session = Session::open(Some(&flags), &settings, g).await?;
    let (alb, policy) = (&session.alb, &session.lifecycle.capacity);
    let asgs = AwsPools::new(&session.config, alb.calls().clone(), policy);
    let wait = Wait {
        timeout: policy.ready_timeout,
        poll: policy.ready_poll,
    };
    let quiet = g.quiet;
    let clock = TokioClock::new();
    let outcome = cleanup::rollback(
        alb,
        &asgs,
        &clock,
        &settings.target,
        options(a, wait),
        |c, p| {
            if !quiet {
                eprintln!("{}", scaling::countdown(c, p));
            }
        },
    )
    .await?;
    let out = scaling::rollback_output(&outcome, &alb.calls().snapshot(), a.force, g);
    emit(&out, g);
    warn_when_quiet(&outcome.change.warnings, g);
    Ok(exit::SUCCESS)
}

/// The options of the rollback: a dry run, `--force` (no wait, no healthy target needed).
fn options(a: &RollbackArgs, wait: Wait) -> RollbackOptions {
    RollbackOptions {
        to: a.to,
        deployment_id: a.deployment_id.clone(),
        change: ChangeOptions {
            dry_run: a.dry_run,
            force: a.force,
            // A rollback needs one healthy target: it is the way out.
            min_healthy_hosts: 1,
            // The emergency path never asks: a deployment in flight is what it is there to stop.
            take_over: false,
        },
        wait: (!a.force).then_some(wait),
    }
}
