//! The one write path of the ALB provider: the forward action for a desired split, one write per route,
//! verification (from the write's response or a read-back), and putting routes back when a write of a
//! group fails part-way. `traffic`, the engine and discovery all write through here.

use crate::input::Next;
use crate::text;
use serde::Serialize;

use crate::error::Error;
use crate::model::{Color, Split, Stickiness};
use crate::providers::aws::api::TrafficRouter;
use crate::providers::aws::route::{self, ColorGroups, ForwardAction, RouteId, RouteSnapshot};
use crate::providers::aws::sticky;
use crate::providers::aws::throttle::retry_throttled_read;
use crate::providers::aws::unsupported::unsupported;

/// How a change was verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verification {
    /// Nothing was written (dry run, or already at the requested split).
    NotNeeded,
    /// The write's response showed the written action.
    Response,
    /// A separate read after the write showed the written action.
    ReadBack,
}

/// A route that cannot take the split it was about to be written (it changed since it was read).
pub(crate) fn unwritable(route: &RouteId, problem: route::RouteProblem) -> Error {
    Error::UnsupportedRoute {
        route: route.clone(),
        problem,
        fix: text!("See ", {next Next::Status}),
    }
}

/// Writes `split` on the route read as `current` (one write), then verifies it from the write's response
/// or from a separate read. Returns the route as verified.
pub async fn write_verified<R: TrafficRouter>(
    router: &R,
    current: &RouteSnapshot,
    groups: &ColorGroups,
    split: Split,
    verification: Verification,
) -> Result<RouteSnapshot, Error> {
    let route = &current.route;
    let forward = route::forward_of(current).map_err(|problem| unwritable(route, problem))?;
    let desired = route::forward_with_split(forward, groups, split)
        .map_err(|problem| unwritable(route, problem))?;
    let after = router
        .write(current, &desired)
        .await
        .map_err(|source| Error::WriteFailed {
            route: route.to_string(),
            source,
        })?;
    if verification == Verification::ReadBack {
        verify(router, route, &desired).await
    } else {
        check_written(after, &desired)
    }
}

/// Read-backs of a write before a disagreement counts as a failure: ELB's reads are eventually
/// consistent, and a read right after a write can still show the action before it.
pub const READ_BACK_ATTEMPTS: u32 = 3;
/// The wait before the second read-back; it doubles before each further one.
const READ_BACK_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

/// Reads `route` back and checks that it carries the `desired` forward action, reading again (up to
/// [`READ_BACK_ATTEMPTS`] reads) while it shows something else or the read fails.
pub async fn verify<R: TrafficRouter>(
    router: &R,
    route: &RouteId,
    desired: &ForwardAction,
) -> Result<RouteSnapshot, Error> {
    let mut wait = READ_BACK_WAIT;
    let mut attempt = 1;
    loop {
        match read_back(router, route, desired).await {
            Err(_) if attempt < READ_BACK_ATTEMPTS => {
                tokio::time::sleep(wait).await;
                wait *= 2;
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// One read-back of `route` against the `desired` forward action.
async fn read_back<R: TrafficRouter>(
    router: &R,
    route: &RouteId,
    desired: &ForwardAction,
) -> Result<RouteSnapshot, Error> {
    // The write went through: a read-back that fails is a verification failure, never "nothing changed".
    let live = retry_throttled_read(|| router.read(route))
        .await
        .map_err(|e| Error::VerificationFailed {
            route: route.to_string(),
            expected: describe_forward(desired),
            found: format!("nothing: the read-back failed ({e})"),
        })?;
    check_written(live, desired)
}

fn check_written(live: RouteSnapshot, desired: &ForwardAction) -> Result<RouteSnapshot, Error> {
    match live.forward.as_ref() {
        Some(found) if route::matches_written(found, desired) => Ok(live),
        found => Err(Error::VerificationFailed {
            route: live.route.to_string(),
            expected: describe_forward(desired),
            found: found
                .map(describe_forward)
                .unwrap_or_else(|| live.action_types.join(" + ")),
        }),
    }
}

/// A one-line description of a forward action: `name=weight, name=weight; stickiness`.
pub fn describe_forward(forward: &ForwardAction) -> String {
    let groups: Vec<String> = forward
        .targets
        .iter()
        .map(|t| match t.weight {
            Some(w) => format!("{}={w}", t.target_group.name()),
            None => t.target_group.name().to_string(),
        })
        .collect();
    format!(
        "{}; stickiness {}",
        groups.join(", "),
        forward.stickiness.unwrap_or(Stickiness::OFF)
    )
}

/// A route before and after a write, for putting it back.
struct Written<'a> {
    before: &'a RouteSnapshot,
}

/// Writes `split` on every route in `current` (each read just before), then verifies all of them: from
/// the writes' responses or by reading each back. When a write or a verification fails, the routes
/// already written are put back to the forward action they had, and the error names the route that
/// failed and what was put back. Returns the routes as verified.
pub async fn write_group<R: TrafficRouter>(
    router: &R,
    current: &[RouteSnapshot],
    groups: &ColorGroups,
    split: Split,
    verification: Verification,
) -> Result<Vec<RouteSnapshot>, Error> {
    if let [single] = current {
        return write_verified(router, single, groups, split, verification)
            .await
            .map(|live| vec![live]);
    }
    let desired = current
        .iter()
        .map(|before| desired_forward(before, groups, split))
        .collect::<Result<Vec<_>, _>>()?;
    let mut written: Vec<Written<'_>> = Vec::new();
    for (before, wanted) in current.iter().zip(&desired) {
        written.push(Written { before });
        if let Err(source) = router.write(before, wanted).await {
            let failed = Error::WriteFailed {
                route: before.route.to_string(),
                source,
            };
            return Err(restore(router, &written, failed).await);
        }
    }
    let mut verified = Vec::new();
    for (before, wanted) in current.iter().zip(&desired) {
        match verify(router, &before.route, wanted).await {
            Ok(live) => verified.push(live),
            Err(failed) => return Err(restore(router, &written, failed).await),
        }
    }
    Ok(verified)
}

fn desired_forward(
    current: &RouteSnapshot,
    groups: &ColorGroups,
    split: Split,
) -> Result<ForwardAction, Error> {
    let route = &current.route;
    let forward = route::forward_of(current).map_err(|p| unsupported(route, p))?;
    route::forward_with_split(forward, groups, split).map_err(|p| unsupported(route, p))
}

/// Puts each written route back to the forward action it had (re-reading it first, so a route whose
/// write never landed is not written again), then reports `failed` with what was restored.
async fn restore<R: TrafficRouter>(router: &R, written: &[Written<'_>], failed: Error) -> Error {
    let mut restored = Vec::new();
    let mut not_restored = Vec::new();
    for w in written {
        let route = &w.before.route;
        let Some(before) = w.before.forward.as_ref() else {
            continue;
        };
        let result = async {
            let live = router.read(route).await?;
            match live.forward.as_ref() {
                Some(found) if route::matches_written(found, before) => Ok(None),
                _ => router.write(&live, before).await.map(Some),
            }
        }
        .await;
        match result {
            Ok(None) => {}
            // Verified from the write's response, like every other write.
            Ok(Some(after))
                if after
                    .forward
                    .as_ref()
                    .is_some_and(|f| route::matches_written(f, before)) =>
            {
                restored.push(route.to_string())
            }
            Ok(Some(_)) => not_restored.push(format!(
                "{route} (the put-back did not show in the response)"
            )),
            Err(e) => not_restored.push(format!("{route} ({e})")),
        }
    }
    Error::LockstepFailed {
        cause: Box::new(failed),
        restored,
        not_restored,
    }
}

/// Writes `split` on every route that does not carry it yet, verified from each write's response, and
/// goes on past a failure so that as many routes as possible get there (the rollback's way). The writes
/// are made at once (one round trip for any number of routes; under throttling they still take turns in
/// the process's write queue). Returns the routes written; an error lists the routes that failed and the
/// ones that were written.
pub async fn write_each<R: TrafficRouter>(
    router: &R,
    current: &[RouteSnapshot],
    groups: &ColorGroups,
    split: Split,
) -> Result<Vec<RouteId>, Error> {
    let results = futures_util::future::join_all(
        current
            .iter()
            .map(|snapshot| write_if_needed(router, snapshot, groups, split)),
    )
    .await;
    let mut written = Vec::new();
    let mut failed: Vec<Error> = Vec::new();
    for result in results {
        match result {
            Ok(Some(route)) => written.push(route),
            Ok(None) => {}
            Err(e) => failed.push(e),
        }
    }
    match failed.len() {
        0 => Ok(written),
        1 if current.len() == 1 => Err(failed.remove(0)),
        _ => Err(Error::RoutesFailed {
            split: split.to_string(),
            written: written.iter().map(ToString::to_string).collect(),
            failed: failed.iter().map(Error::text).collect(),
        }),
    }
}

/// [`write_each`] for one route: the route written, `None` when it already carries `split`.
async fn write_if_needed<R: TrafficRouter>(
    router: &R,
    snapshot: &RouteSnapshot,
    groups: &ColorGroups,
    split: Split,
) -> Result<Option<RouteId>, Error> {
    // A route that cannot take the split (someone made it a redirect mid-run) is a failure of its own:
    // the others are still written.
    let forward = route::forward_of(snapshot).map_err(|p| unsupported(&snapshot.route, p))?;
    let wanted = desired_forward(snapshot, groups, split)?;
    if route::matches_written(forward, &wanted) {
        return Ok(None);
    }
    write_verified(router, snapshot, groups, split, Verification::Response).await?;
    Ok(Some(snapshot.route.clone()))
}

/// What a rollback wrote.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RolledBack {
    /// The routes written (the others carried the split already).
    pub written: Vec<RouteId>,
    /// The group stickiness each written route had, where the same write released it.
    pub released: Vec<(RouteId, Stickiness)>,
}

/// Puts all traffic on `stable` on every route: each read fresh (with the patience of a write under
/// throttling) and written when it needs it, verified from the write's response. A route whose fresh read
/// fails is written from the last snapshot the run has of it, whatever that snapshot shows: traffic
/// first. A route that cannot be read or written does not stop the others. Each written route's group
/// stickiness is released as `how` says ([`sticky::release`]), in the same write.
pub async fn rollback_each<R: TrafficRouter>(
    router: &R,
    routes: &[&RouteSnapshot],
    groups: &ColorGroups,
    stable: Color,
    how: sticky::Release,
) -> Result<RolledBack, Error> {
    let split = Split::all_to(stable);
    let mut live = Vec::new();
    let mut last_known = Vec::new();
    let mut found_stickiness = Vec::new();
    for snapshot in routes {
        let read = retry_throttled_read(|| router.read(&snapshot.route)).await;
        let found = read.unwrap_or_else(|e| {
            tracing::warn!(route = %snapshot.route, error = %e, "the route could not be read; rolling it back from the last snapshot");
            last_known.push(snapshot.route.clone());
            (*snapshot).clone()
        });
        // Stickiness is released in the same write; a route already on `stable` is not written at all.
        let (released, had) = sticky::release(&found, how);
        if let Some(had) = had {
            found_stickiness.push((found.route.clone(), had));
        }
        live.push(released);
    }
    let (last_known, live): (Vec<RouteSnapshot>, Vec<RouteSnapshot>) = live
        .into_iter()
        .partition(|s| last_known.contains(&s.route));
    // Failures as errors (one route's own error is returned as it is) and, from a group write that
    // failed part-way, as the text it already made of them and of the routes it wrote.
    let (mut done, mut written, mut failed, mut errors) =
        match write_each(router, &live, groups, split).await {
            Ok(w) => (w, Vec::new(), Vec::new(), Vec::new()),
            Err(Error::RoutesFailed {
                written, failed, ..
            }) => (Vec::new(), written, failed, Vec::new()),
            Err(e) => (Vec::new(), Vec::new(), Vec::new(), vec![e]),
        };
    for snapshot in &last_known {
        match write_verified(router, snapshot, groups, split, Verification::Response).await {
            Ok(_) => done.push(snapshot.route.clone()),
            Err(e) => errors.push(e),
        }
    }
    if failed.is_empty() && errors.is_empty() {
        let released = found_stickiness
            .into_iter()
            .filter(|(route, _)| done.contains(route))
            .collect();
        return Ok(RolledBack {
            written: done,
            released,
        });
    }
    if routes.len() == 1 && failed.is_empty() && errors.len() == 1 {
        return Err(errors.remove(0));
    }
    written.extend(done.iter().map(ToString::to_string));
    failed.extend(errors.iter().map(Error::text));
    Err(Error::RoutesFailed {
        split: split.to_string(),
        written,
        failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{ApiError, ApiErrorKind};
    use crate::testing::InMemoryAlb;
    use std::sync::Mutex;

    /// The in-memory load balancer with faults on its reads: the next `failing` reads fail with `kind`,
    /// and the next `stale` reads after a write show the route as it was before the write.
    struct Faulty {
        alb: InMemoryAlb,
        faults: Mutex<(u32, ApiErrorKind, u32, Option<RouteSnapshot>)>,
    }

    impl Faulty {
        fn new(failing: u32, kind: ApiErrorKind, stale: u32) -> Faulty {
            Faulty {
                alb: InMemoryAlb::new(),
                faults: Mutex::new((failing, kind, stale, None)),
            }
        }
    }

    impl TrafficRouter for Faulty {
        async fn read(&self, route: &RouteId) -> Result<RouteSnapshot, ApiError> {
            {
                let mut f = self.faults.lock().unwrap();
                if f.0 > 0 {
                    f.0 -= 1;
                    return Err(ApiError::new("memory:Read", f.1.clone(), "injected"));
                }
                if f.2 > 0 {
                    if let Some(before) = f.3.clone() {
                        f.2 -= 1;
                        return Ok(before);
                    }
                }
            }
            self.alb.read(route).await
        }

        async fn write(
            &self,
            current: &RouteSnapshot,
            forward: &ForwardAction,
        ) -> Result<RouteSnapshot, ApiError> {
            let before = self.alb.read(&current.route).await?;
            self.faults.lock().unwrap().3 = Some(before);
            self.alb.write(current, forward).await
        }
    }

    fn snapshot(f: &Faulty) -> RouteSnapshot {
        futures_util::FutureExt::now_or_never(f.alb.read(&RouteId::Listener(f.alb.listener_arn())))
            .unwrap()
            .unwrap()
    }

    /// Issue 17: a rollback whose fresh read of a route fails writes it from the last snapshot the run
    /// has, even when that snapshot shows the stable color already (it is stale: traffic first).
    #[tokio::test(start_paused = true)]
    async fn a_route_that_cannot_be_read_is_rolled_back_from_its_last_snapshot() {
        let f = Faulty::new(1, ApiErrorKind::Unreachable, 0);
        let last = snapshot(&f);
        f.alb.set_split(Split::to(
            Color::Green,
            crate::model::Percent::new(50).unwrap(),
        ));
        let groups = f.alb.groups().clone();
        let rolled = rollback_each(&f, &[&last], &groups, Color::Blue, sticky::Release::Off)
            .await
            .unwrap();
        assert_eq!(rolled.written, vec![last.route.clone()]);
        assert_eq!(f.alb.split(), Split::all_to(Color::Blue));
    }

    /// Issue 17: the rollback's reads are as patient with throttling as its writes.
    #[tokio::test(start_paused = true)]
    async fn a_rollbacks_reads_wait_out_throttling() {
        let f = Faulty::new(6, ApiErrorKind::Throttled, 0);
        let last = snapshot(&f);
        f.alb.set_split(Split::to(
            Color::Green,
            crate::model::Percent::new(50).unwrap(),
        ));
        let groups = f.alb.groups().clone();
        rollback_each(&f, &[&last], &groups, Color::Blue, sticky::Release::Off)
            .await
            .unwrap();
        assert_eq!(f.alb.split(), Split::all_to(Color::Blue));
        assert_eq!(
            f.faults.lock().unwrap().0,
            0,
            "every throttled read was retried"
        );
    }

    /// Issue 17: a read-back that still shows the route before the write (eventual consistency) is
    /// read again before it counts as a failure; one that never shows it fails.
    #[tokio::test(start_paused = true)]
    async fn a_stale_read_back_is_read_again_before_it_fails() {
        let half = Split::to(Color::Green, crate::model::Percent::new(50).unwrap());
        let f = Faulty::new(0, ApiErrorKind::Other, READ_BACK_ATTEMPTS - 1);
        let current = snapshot(&f);
        let groups = f.alb.groups().clone();
        let verified = write_verified(&f, &current, &groups, half, Verification::ReadBack).await;
        assert!(verified.is_ok(), "{verified:?}");

        let f = Faulty::new(0, ApiErrorKind::Other, READ_BACK_ATTEMPTS);
        let current = snapshot(&f);
        let verified = write_verified(&f, &current, &groups, half, Verification::ReadBack).await;
        assert!(
            matches!(verified, Err(Error::VerificationFailed { .. })),
            "{verified:?}"
        );
    }
}
