//! `albflip cleanup`: after a completed deployment, the old color's Auto Scaling group to zero, holding
//! the route's lock (unless a dry run).

use albflip::aws::AwsPools;
use albflip::cleanup;
use albflip::Error;

use super::common::{emit, Session};
use crate::args::{CleanupArgs, GlobalArgs};
use crate::settings::Settings;
use crate::{exit, locking, scaling};

/// Scales the old color down (or says what it would do) and prints the result.
pub async fn run(a: &CleanupArgs, settings: Settings, g: &GlobalArgs) -> Result<u8, Error> {
    let Session {
        lifecycle,
        config,
        alb,
        ..
    } = Session::open(None, &settings, g).await?;
    let asgs = AwsPools::new(&config, alb.calls().clone(), &lifecycle.capacity);
    let held = if a.dry_run {
        None
    } else {
        locking::take_lock(&alb, &config, &settings, g).await?
    };
    let policy = &lifecycle.capacity;
    let result = cleanup::cleanup(&alb, &asgs, &settings.target, policy, a.dry_run).await;
    locking::release(held).await;
    let outcome = result?;
    let out = scaling::cleanup_output(&outcome, &alb.calls().snapshot(), g);
    emit(&out, g);
    Ok(exit::SUCCESS)
}
