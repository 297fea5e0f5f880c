//! The provider-neutral write path over a [`Router`]: write a split, verify it by reading the route back,
//! and put every route already written back when one of a group fails. The guarantees every router gets
//! for free, and that the conformance suite checks against each of them.

use crate::model::Split;
use crate::ports::{RouteRead, Router, RouterError};

/// Why a verified write did not end on the split asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SwitchError {
    /// The read before the write, or the write itself, failed.
    #[error("writing {split} on {route} failed: {source}")]
    Write {
        /// The route.
        route: String,
        /// The split that was to be written.
        split: Split,
        /// What failed.
        #[source]
        source: RouterError,
    },
    /// The route read back does not carry what was written.
    #[error("{route} does not show what was written: wrote {expected}, found {found}")]
    Verification {
        /// The route.
        route: String,
        /// The split written.
        expected: Split,
        /// What the read-back found, or why it failed.
        found: String,
    },
    /// A write of a group failed part-way; the routes written before it were put back.
    #[error("{cause}; put back: {}; NOT put back: {}", list(.restored), list(.not_restored))]
    PutBack {
        /// The failure that stopped the group.
        cause: Box<SwitchError>,
        /// Routes put back to the split they had.
        restored: Vec<String>,
        /// Routes that could not be put back, with why.
        not_restored: Vec<String>,
    },
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// Writes `split` on `route` (read as `current`), then reads it back and checks the live split.
pub async fn write_verified<R: Router>(
    router: &R,
    route: &R::Route,
    current: &RouteRead,
    split: Split,
) -> Result<RouteRead, SwitchError> {
    router
        .write(route, current, split)
        .await
        .map_err(|source| SwitchError::Write {
            route: route.to_string(),
            split,
            source,
        })?;
    // The write went through: a read-back that fails is a verification failure, never "nothing changed".
    match router.read(route).await {
        Ok(live) if live.split == split => Ok(live),
        Ok(live) => Err(SwitchError::Verification {
            route: route.to_string(),
            expected: split,
            found: live.split.to_string(),
        }),
        Err(e) => Err(SwitchError::Verification {
            route: route.to_string(),
            expected: split,
            found: format!("nothing: the read-back failed ({e})"),
        }),
    }
}

/// Writes `split` on every route of `routes` (each read fresh first) and verifies each. When one fails,
/// the routes already written are put back to the split they had (each put-back itself verified), and
/// the error says which were and which were not.
pub async fn write_group<R: Router>(
    router: &R,
    routes: &[R::Route],
    split: Split,
) -> Result<Vec<RouteRead>, SwitchError> {
    let mut done: Vec<(&R::Route, RouteRead)> = Vec::new();
    let mut verified = Vec::new();
    for route in routes {
        let step = async {
            let before = router
                .read(route)
                .await
                .map_err(|source| SwitchError::Write {
                    route: route.to_string(),
                    split,
                    source,
                })?;
            let after = write_verified(router, route, &before, split).await;
            Ok::<_, SwitchError>((before, after))
        }
        .await;
        match step {
            Ok((before, Ok(after))) => {
                done.push((route, before));
                verified.push(after);
            }
            Ok((before, Err(e))) => {
                // The failed route may have changed too: it is put back with the others.
                done.push((route, before));
                return Err(put_back(router, &done, e).await);
            }
            Err(e) => return Err(put_back(router, &done, e).await),
        }
    }
    Ok(verified)
}

/// Puts each of `done` back to the split it had before, then reports `cause` with what was restored.
async fn put_back<R: Router>(
    router: &R,
    done: &[(&R::Route, RouteRead)],
    cause: SwitchError,
) -> SwitchError {
    let mut restored = Vec::new();
    let mut not_restored = Vec::new();
    for (route, before) in done {
        let result = match router.read(route).await {
            Ok(live) if live.split == before.split => Ok(false),
            Ok(live) => write_verified(router, *route, &live, before.split)
                .await
                .map(|_| true),
            Err(source) => Err(SwitchError::Write {
                route: route.to_string(),
                split: before.split,
                source,
            }),
        };
        match result {
            Ok(true) => restored.push(route.to_string()),
            Ok(false) => {}
            Err(e) => not_restored.push(format!("{route} ({e})")),
        }
    }
    SwitchError::PutBack {
        cause: Box::new(cause),
        restored,
        not_restored,
    }
}
