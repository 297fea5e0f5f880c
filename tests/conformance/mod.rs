//! The provider conformance suite: what every implementation of the neutral ports
//! ([`Router`], [`StateStore`], [`CapacityPool`]) must do, as generic contracts. Each contract drives one
//! provider through the port only and asserts what the port promises; a test crate runs it against a
//! concrete provider (the in-memory router, the ALB over the in-memory load balancer, the ALB on the
//! emulator through the real SDK), so a new provider proves itself by passing the same functions.
//!
//! Shared by the `scenarios` and `it` test crates through `#[path]`; each contract panics on the first
//! broken promise, with the provider's own words in the message.

use albflip::model::{Color, Percent, Split};
use albflip::ports::{
    ApiErrorKind, Backend, Capacity, CapacityPool, Router, RouterError, StateStore,
};
use albflip::state::{DeploymentRecord, Phase};
use albflip::switch::{self, SwitchError};

/// `percent` to green, the rest to blue.
pub fn green(percent: u8) -> Split {
    Split::to(Color::Green, Percent::new(percent).expect("a percent"))
}

/// A split none of `taken` is on, so that a write of it really changes every route.
fn split_other_than(taken: &[Split]) -> Split {
    [30, 40, 60, 70, 80]
        .into_iter()
        .map(green)
        .find(|s| !taken.contains(s))
        .expect("five candidates cannot all be taken by the routes")
}

/// Reads the route, writes splits on it and reads them back:
/// - a read gives the route's live split and names the route;
/// - [`Router::write`] of 10 % green returns a [`albflip::ports::RouteRead`] carrying 10 % green, and a
///   fresh read shows exactly that;
/// - [`switch::write_verified`] (write, then read back) of 25 % green, all to blue and all to green each
///   succeed, return the split written, and a fresh read agrees;
/// - the route's split from before is written back (verified), and a fresh read shows it again.
pub async fn router_reads_and_writes_a_split<R: Router>(router: &R, route: &R::Route) {
    let before = router
        .read(route)
        .await
        .unwrap_or_else(|e| panic!("reading {route}: {e}"));
    assert_eq!(before.name, route.to_string(), "the read names the route");

    // A plain write: what it returns carries the new split, and so does a fresh read.
    let ten = if before.split == green(10) {
        green(20)
    } else {
        green(10)
    };
    let written = router
        .write(route, &before, ten)
        .await
        .unwrap_or_else(|e| panic!("writing {ten} on {route}: {e}"));
    assert_eq!(written.split, ten, "the write returns the split written");
    assert_eq!(written.name, route.to_string());
    let fresh = router.read(route).await.expect("read after the write");
    assert_eq!(fresh.split, ten, "a fresh read shows the split written");

    // Verified writes through the neutral path, from a share in between to both extremes.
    let mut current = fresh;
    for split in [
        green(25),
        Split::all_to(Color::Blue),
        Split::all_to(Color::Green),
    ] {
        let verified = switch::write_verified(router, route, &current, split)
            .await
            .unwrap_or_else(|e| panic!("verified write of {split} on {route}: {e}"));
        assert_eq!(verified.split, split, "the verified write returns {split}");
        current = router
            .read(route)
            .await
            .expect("read after a verified write");
        assert_eq!(current.split, split, "a fresh read shows {split}");
    }

    // Back to where it was.
    let back = switch::write_verified(router, route, &current, before.split)
        .await
        .unwrap_or_else(|e| panic!("writing {route} back to {}: {e}", before.split));
    assert_eq!(back.split, before.split);
    let end = router.read(route).await.expect("read after writing back");
    assert_eq!(end.split, before.split, "the route is back on its split");
}

/// A route that exists but cannot be shifted as found is refused: its read is
/// [`RouterError::Unshiftable`], naming the route and saying why, every time; and the neutral group
/// write refuses it before writing anything (nothing to put back).
pub async fn router_refuses_a_route_it_cannot_shift<R: Router>(router: &R, bad_route: &R::Route) {
    for _ in 0..2 {
        match router.read(bad_route).await {
            Err(RouterError::Unshiftable { route, reason }) => {
                assert_eq!(route, bad_route.to_string(), "the refusal names the route");
                assert!(!reason.trim().is_empty(), "the refusal says why");
            }
            other => panic!("{bad_route} must be refused as unshiftable, got {other:?}"),
        }
    }
    let refused = switch::write_group(router, std::slice::from_ref(bad_route), green(10))
        .await
        .expect_err("a group with an unshiftable route cannot be written");
    match refused {
        SwitchError::PutBack {
            cause,
            restored,
            not_restored,
        } => {
            assert!(
                matches!(
                    &*cause,
                    SwitchError::Write { source: RouterError::Unshiftable { .. }, route, .. }
                        if route == &bad_route.to_string()
                ),
                "the cause is the refusal: {cause:?}"
            );
            assert!(
                restored.is_empty() && not_restored.is_empty(),
                "nothing was written"
            );
        }
        other => panic!("expected a put-back report, got {other:?}"),
    }
}

/// A route that does not exist is an API error of kind [`ApiErrorKind::NotFound`] (a refusal: nothing
/// changed), not an unshiftable route; and the neutral group write stops on it with nothing written.
pub async fn router_reports_a_missing_route<R: Router>(router: &R, missing: &R::Route) {
    match router.read(missing).await {
        Err(RouterError::Api(e)) => {
            assert_eq!(e.kind, ApiErrorKind::NotFound, "{e}");
            assert!(e.refused(), "a missing route changed nothing: {e}");
        }
        other => panic!("{missing} must be reported as not found, got {other:?}"),
    }
    match switch::write_group(router, std::slice::from_ref(missing), green(10)).await {
        Err(SwitchError::PutBack {
            cause,
            restored,
            not_restored,
        }) => {
            assert!(
                matches!(
                    &*cause,
                    SwitchError::Write { source: RouterError::Api(e), .. }
                        if e.kind == ApiErrorKind::NotFound
                ),
                "the cause is the missing route: {cause:?}"
            );
            assert!(restored.is_empty() && not_restored.is_empty());
        }
        other => panic!("expected a put-back report, got {other:?}"),
    }
}

/// A group write that fails on its last route puts the others back. `routes` holds two or more
/// shiftable routes; `fail` is called after their splits are read and before the group write, and the
/// caller arranges there (or before calling the contract) for the backend to refuse the write of the
/// last route, and only that one. Then [`switch::write_group`] returns [`SwitchError::PutBack`] whose
/// cause is the refused write of the last route, `restored` names every route before it (they were
/// written, then put back), `not_restored` is empty, and a fresh read of every route shows the split it
/// had before.
pub async fn group_write_puts_back_on_failure<R: Router>(
    router: &R,
    routes: &[R::Route],
    fail: impl FnOnce(),
) {
    assert!(routes.len() >= 2, "the contract needs two routes or more");
    let mut before = Vec::new();
    for route in routes {
        let read = router
            .read(route)
            .await
            .unwrap_or_else(|e| panic!("reading {route}: {e}"));
        before.push(read.split);
    }
    let target = split_other_than(&before);
    fail();

    let err = switch::write_group(router, routes, target)
        .await
        .expect_err("the last route's write was arranged to fail");
    let last = routes.last().expect("two routes").to_string();
    match err {
        SwitchError::PutBack {
            cause,
            restored,
            not_restored,
        } => {
            match &*cause {
                SwitchError::Write {
                    route,
                    split,
                    source: RouterError::Api(e),
                } => {
                    assert_eq!(route, &last, "the group stopped on the last route");
                    assert_eq!(split, &target);
                    assert!(e.refused(), "the backend refused the write: {e}");
                }
                other => panic!("the cause must be the refused write of {last}: {other:?}"),
            }
            let written: Vec<String> = routes[..routes.len() - 1]
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(restored, written, "every route written was put back");
            assert!(not_restored.is_empty(), "{not_restored:?}");
        }
        other => panic!("expected a put-back report, got {other:?}"),
    }
    for (route, split) in routes.iter().zip(before) {
        let live = router.read(route).await.expect("read after the put-back");
        assert_eq!(live.split, split, "{route} is back on its split");
    }
}

/// Records kept for a route round-trip: saving records adds them to what was there, a load returns
/// everything, overwriting a key changes that key alone, and a deployment record written with
/// [`DeploymentRecord::to_tags`] loads back equal through [`DeploymentRecord::from_tags`], the other
/// records untouched.
pub async fn state_store_round_trips<S: StateStore>(store: &S, route: &S::Route) {
    const A: &str = "conformance:a";
    const B: &str = "conformance:b";
    let mut expected = store
        .load(route)
        .await
        .unwrap_or_else(|e| panic!("loading the records of {route}: {e}"));
    assert!(
        !expected.contains_key(A) && !expected.contains_key(B),
        "the contract needs a route without its keys: {expected:?}"
    );

    store
        .save(route, &[(A, "1"), (B, "2")])
        .await
        .expect("save two records");
    expected.insert(A.into(), "1".into());
    expected.insert(B.into(), "2".into());
    assert_eq!(
        store.load(route).await.expect("load"),
        expected,
        "saved, and nothing lost"
    );

    store.save(route, &[(A, "3")]).await.expect("overwrite one");
    expected.insert(A.into(), "3".into());
    assert_eq!(
        store.load(route).await.expect("load"),
        expected,
        "only the key overwritten changed"
    );

    let record = DeploymentRecord {
        id: "conformance-20250102T030405Z".into(),
        target: Color::Green,
        strategy: "gradual".into(),
        steps: vec![10, 50, 100],
        step: 2,
        phase: Phase::InProgress,
        started_by: "ci@build-7".into(),
        updated: "2025-01-02T03:04:05Z".into(),
        gated: true,
    };
    let tags = record.to_tags();
    let pairs: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (*k, v.as_str())).collect();
    store
        .save(route, &pairs)
        .await
        .expect("save the deployment record");
    for (k, v) in &pairs {
        expected.insert((*k).into(), (*v).into());
    }
    let loaded = store.load(route).await.expect("load the deployment record");
    assert_eq!(
        loaded, expected,
        "the record is added, the other records untouched"
    );
    assert_eq!(
        DeploymentRecord::from_tags(&loaded),
        Some(record),
        "the deployment record round-trips"
    );
}

/// The capacity behind `backend`: [`CapacityPool::find`] gives its pools (at least one, none of them
/// also `other`'s); [`CapacityPool::describe`] agrees with each and knows no pool by a made-up name;
/// [`CapacityPool::set_capacity`] sets minimum, maximum and desired as given (one more desired, one more
/// maximum), returns them, and `describe` and `find` read them back. The original sizes are restored at
/// the end, verified.
pub async fn capacity_pool_finds_and_sets<P: CapacityPool>(
    pool: &P,
    backend: &Backend,
    other: &Backend,
) {
    let color = backend.color;
    let found = pool
        .find(backend)
        .await
        .unwrap_or_else(|e| panic!("finding the {color} pools: {e}"));
    assert!(!found.is_empty(), "{color} has a pool");
    let others = pool.find(other).await.expect("find the other color");
    for p in &found {
        assert!(
            others.iter().all(|o| o.name != p.name),
            "{} serves {color} only",
            p.name
        );
        let described = pool
            .describe(&p.name)
            .await
            .expect("describe")
            .unwrap_or_else(|| panic!("{} is found but not described", p.name));
        assert_eq!(
            (&described.name, described.capacity()),
            (&p.name, p.capacity())
        );
    }
    let made_up = pool
        .describe("albflip-conformance-no-such-pool")
        .await
        .expect("describe a pool that does not exist");
    assert_eq!(made_up, None);

    let name = found[0].name.clone();
    let original = found[0].capacity();
    let wanted = Capacity {
        min: original.min,
        max: original.max + 1,
        desired: original.desired + 1,
    };
    let set = pool
        .set_capacity(&name, wanted)
        .await
        .unwrap_or_else(|e| panic!("setting {name} to {wanted:?}: {e}"));
    assert_eq!(
        (&set.name, set.capacity()),
        (&name, wanted),
        "the write returns the sizes set"
    );
    let described = pool
        .describe(&name)
        .await
        .expect("describe")
        .expect("still there");
    assert_eq!(
        described.capacity(),
        wanted,
        "describe reads the sizes back"
    );
    let refound = pool.find(backend).await.expect("find again");
    assert_eq!(
        refound
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.capacity()),
        Some(wanted),
        "find reads the sizes back"
    );

    let restored = pool
        .set_capacity(&name, original)
        .await
        .unwrap_or_else(|e| panic!("restoring {name} to {original:?}: {e}"));
    assert_eq!(restored.capacity(), original);
    let end = pool
        .describe(&name)
        .await
        .expect("describe")
        .expect("still there");
    assert_eq!(end.capacity(), original, "{name} is back on its sizes");
}
