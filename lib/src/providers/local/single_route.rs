//! The step, the rollback and the scale-down's check of a router whose route stands alone (HAProxy's
//! backend, nginx's upstream: no lockstep peers), over the neutral [`switch`] write path. Each router
//! reads its route live and says how a failed write reads to people (`to_error`); the rest is shared.

use crate::error::Error;
use crate::input::Next;
use crate::model::{Color, Split};
use crate::ports::{RouteRead, Router};
use crate::switch::{self, SwitchError};
use crate::text;

/// One step: refuses on drift from `expected` (unless `adopt_drift`: then the live split is passed to
/// `on_adopted`), writes `split` when the route does not carry it yet, and reads it back.
#[allow(clippy::too_many_arguments)]
pub async fn write_step<R: Router>(
    router: &R,
    route: &R::Route,
    live: RouteRead,
    expected: Split,
    split: Split,
    adopt_drift: bool,
    on_adopted: &(dyn Fn(Split) + Sync),
    to_error: fn(SwitchError) -> Error,
) -> Result<(), Error> {
    if live.split != expected {
        if !adopt_drift {
            return Err(Error::Drift {
                route: route.to_string(),
                expected: expected.to_string(),
                found: live.split.to_string(),
            });
        }
        on_adopted(live.split);
    }
    write_unless_there(router, route, live, split, to_error).await
}

/// All traffic to `to`: one verified write, none when the route is there already.
pub async fn rollback<R: Router>(
    router: &R,
    route: &R::Route,
    live: RouteRead,
    to: Color,
    to_error: fn(SwitchError) -> Error,
) -> Result<(), Error> {
    write_unless_there(router, route, live, Split::all_to(to), to_error).await
}

async fn write_unless_there<R: Router>(
    router: &R,
    route: &R::Route,
    live: RouteRead,
    split: Split,
    to_error: fn(SwitchError) -> Error,
) -> Result<(), Error> {
    if live.split == split {
        return Ok(());
    }
    switch::write_verified(router, route, &live, split)
        .await
        .map(|_| ())
        .map_err(to_error)
}

/// Right before scaling `color`'s `pool` down: refuses unless the route, read live, gives it nothing.
pub fn check_unserved(
    route: &impl std::fmt::Display,
    live: &RouteRead,
    color: Color,
    pool: &str,
) -> Result<(), Error> {
    let percent = live.split.percent_of(color);
    if percent.get() == 0 {
        return Ok(());
    }
    Err(Error::State {
        what: text!(format!(
            "refusing to scale {pool} down: the {route} still gives {color} {percent}"
        )),
        fix: text!("Run ", {next Next::Status}, "; scale down only once the color has weight 0"),
    })
}
