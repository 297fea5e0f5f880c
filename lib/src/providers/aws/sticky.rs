//! Sticky clients around a rollback. ALB group stickiness keeps a client on the target group its cookie
//! names, even at weight 0, until the cookie expires (up to 7 days): a rollback that only moves the
//! weights leaves every sticky client on the color it rolled back from. So a rollback to one color also
//! releases group stickiness in the same write (off, or a 1 s duration where a target group's own
//! stickiness requires it on), records the setting it found in a tag on each route it released
//! ([`STICKINESS_TAG`]), and the next shift or deployment writes the recorded setting back and removes
//! the record.

use std::collections::BTreeMap;

use crate::error::Error;
use crate::model::{Color, Stickiness};
use crate::ports::{ApiError, Tags};
use crate::providers::aws::api::Alb;
use crate::providers::aws::arn::TargetGroupArn;
use crate::providers::aws::route::{ColorGroups, RouteId, RouteSnapshot};
use std::time::SystemTime;

/// The tag that records a route's group stickiness while a rollback has it released: `enabled/SECONDS`.
pub const STICKINESS_TAG: &str = "albflip:stickiness";

/// The prefix of [`STICKINESS_TAG`]'s other form, `drained/COLOR/RFC3339`: when a color's weight last
/// went to 0 on a sticky route. Its sticky clients keep reaching it for the stickiness duration after
/// that, so `cleanup` waits. The two forms never matter at once (a drain is recorded while stickiness is
/// on, a released setting while it is off), so they share one tag: AWS allows 50 per listener, an
/// emulator 10.
pub const DRAINED_PREFIX: &str = "drained/";

/// The longest group stickiness duration among `routes` whose stickiness is on (more than 1 s).
pub fn longest(routes: &[&RouteSnapshot]) -> Option<std::time::Duration> {
    routes
        .iter()
        .filter_map(|r| r.forward.as_ref()?.stickiness)
        .filter(|s| s.enabled)
        .filter_map(|s| s.duration_seconds)
        .filter(|d| *d > 1)
        .max()
        .map(|d| std::time::Duration::from_secs(u64::from(d)))
}

/// The drained record's tag value.
pub fn drained_value(color: Color, at: SystemTime) -> String {
    format!("{DRAINED_PREFIX}{color}/{}", crate::state::timestamp(at))
}

/// When `color` last went to weight 0 on a sticky route, as recorded.
pub fn drained_at(tags: &Tags, color: Color) -> Option<SystemTime> {
    let value = tags.get(STICKINESS_TAG)?.strip_prefix(DRAINED_PREFIX)?;
    let (c, at) = value.split_once('/')?;
    (c.parse::<Color>().ok()? == color)
        .then(|| humantime::parse_rfc3339(at).ok())
        .flatten()
}

/// Records on `route` that `color` went to weight 0 now, when the `written` forward keeps clients sticky.
pub async fn record_drained<A: Alb>(
    alb: &A,
    route: &RouteId,
    written: &crate::providers::aws::route::ForwardAction,
    color: Color,
) -> Result<(), ApiError> {
    let sticky = written
        .stickiness
        .is_some_and(|s| s.enabled && s.duration_seconds.is_some_and(|d| d > 1));
    if !sticky {
        return Ok(());
    }
    let value = drained_value(color, SystemTime::now());
    alb.set_tags(route.resource_arn(), &[(STICKINESS_TAG, value.as_str())])
        .await
}

/// How a rollback treats the group stickiness of the routes it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Release {
    /// Stickiness off in the rollback's write.
    #[default]
    Off,
    /// A 1 s duration: a target group has its own stickiness on, and AWS refuses a weighted forward to
    /// it without group stickiness.
    OneSecond,
    /// Left as it is (the operator asked to keep it).
    Keep,
}

/// The setting a rollback writes instead of `found`, or `None` when there is nothing to release (off
/// already, already released to 1 s, or kept).
pub fn released(found: Option<Stickiness>, how: Release) -> Option<Stickiness> {
    let found = found?;
    if !found.enabled || found.duration_seconds.is_some_and(|d| d <= 1) {
        return None;
    }
    match how {
        Release::Off => Some(Stickiness::OFF),
        Release::OneSecond => Some(Stickiness {
            enabled: true,
            duration_seconds: Some(1),
        }),
        Release::Keep => None,
    }
}

/// `snapshot` with its group stickiness released as `how` says, and the setting it had when one was
/// released. A rollback computes its write from the released snapshot, so the same write moves the
/// weights and the stickiness.
pub fn release(snapshot: &RouteSnapshot, how: Release) -> (RouteSnapshot, Option<Stickiness>) {
    let mut out = snapshot.clone();
    let Some(forward) = out.forward.as_mut() else {
        return (out, None);
    };
    let found = forward.stickiness;
    match released(found, how) {
        Some(setting) => {
            forward.stickiness = Some(setting);
            (out, found)
        }
        None => (out, None),
    }
}

/// The record's tag value for a setting: `enabled/3600`.
pub fn record_value(setting: Stickiness) -> String {
    match setting.duration_seconds {
        Some(d) => format!("enabled/{d}"),
        None => "enabled".to_string(),
    }
}

/// The setting a route's tags record, if any.
pub fn recorded(tags: &Tags) -> Option<Stickiness> {
    let value = tags.get(STICKINESS_TAG)?;
    let seconds = value.strip_prefix("enabled/")?.parse::<u32>().ok()?;
    let setting = Stickiness {
        enabled: true,
        duration_seconds: Some(seconds),
    };
    setting.is_valid_for_aws().then_some(setting)
}

/// Puts the `recorded` setting on a freshly read `snapshot` whose stickiness is still the released one
/// (off, or 1 s), so that the write computed from it writes the setting back. A route whose stickiness
/// someone turned back on by hand keeps theirs. Returns whether the snapshot changed.
pub fn restore(snapshot: &mut RouteSnapshot, recorded: Option<Stickiness>) -> bool {
    let (Some(recorded), Some(forward)) = (recorded, snapshot.forward.as_mut()) else {
        return false;
    };
    let live = forward.stickiness.unwrap_or(Stickiness::OFF);
    let still_released = !live.enabled || live.duration_seconds.is_some_and(|d| d <= 1);
    if still_released && live != recorded {
        forward.stickiness = Some(recorded);
        return true;
    }
    false
}

/// How a rollback of `routes` releases stickiness: `Keep` when asked to; a 1 s duration when a route is
/// sticky and a color's target group has its own stickiness on (or that cannot be read: a 1 s duration is
/// accepted either way); off otherwise. Reads the target groups only when a route is sticky.
pub async fn how_to_release<A: Alb>(
    alb: &A,
    groups: &ColorGroups,
    routes: &[&RouteSnapshot],
    keep: bool,
) -> Release {
    if keep {
        return Release::Keep;
    }
    let sticky = routes.iter().any(|r| {
        let found = r.forward.as_ref().and_then(|f| f.stickiness);
        released(found, Release::Off).is_some()
    });
    if !sticky {
        return Release::Off;
    }
    let mut how = target_groups_release(alb, &groups.blue, &groups.green).await;
    for (blue, green) in &groups.pairs {
        if how == Release::OneSecond {
            break;
        }
        how = target_groups_release(alb, blue, green).await;
    }
    how
}

/// How a sticky route between `blue` and `green` is released: a 1 s duration when either target group
/// has its own stickiness on (or that cannot be read: a 1 s duration is accepted either way), else off.
pub async fn target_groups_release<A: Alb>(
    alb: &A,
    blue: &TargetGroupArn,
    green: &TargetGroupArn,
) -> Release {
    let (blue, green) = tokio::join!(
        alb.target_group_stickiness(blue),
        alb.target_group_stickiness(green)
    );
    match (blue, green) {
        (Ok(false), Ok(false)) => Release::Off,
        _ => Release::OneSecond,
    }
}

/// Records the setting each route had before a rollback released it, one tag write per route, at once.
/// A record that cannot be written is an error naming the route and the setting, so that a person can
/// put it back by hand.
pub async fn record<A: Alb>(alb: &A, released: &[(RouteId, Stickiness)]) -> Result<(), Error> {
    let writes = released.iter().map(|(route, setting)| async move {
        let value = record_value(*setting);
        let tags = [(STICKINESS_TAG, value.as_str())];
        patiently(|| alb.set_tags(route.resource_arn(), &tags))
            .await
            .map_err(|source| Error::StickinessRecordFailed {
                route: route.clone(),
                setting: *setting,
                source: Box::new(source),
            })
    });
    futures_util::future::join_all(writes)
        .await
        .into_iter()
        .collect::<Result<Vec<()>, Error>>()
        .map(|_| ())
}

/// Attempts of a record's write: the setting it holds exists nowhere else once the stickiness is
/// released, so a failure that may pass (not a refusal) is tried again, 200 ms, 400 ms, 800 ms apart.
const RECORD_ATTEMPTS: u32 = 4;

async fn patiently<F, Fut>(mut call: F) -> Result<(), ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), ApiError>>,
{
    let mut wait = std::time::Duration::from_millis(200);
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e) if attempt < RECORD_ATTEMPTS && !e.refused() => {
                tokio::time::sleep(wait).await;
                wait *= 2;
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// Removes the records of `routes` once their setting is written back.
pub async fn clear<A: Alb>(alb: &A, routes: &[RouteId]) -> Result<(), Error> {
    let removals = routes.iter().map(|route| async move {
        alb.remove_tags(route.resource_arn(), &[STICKINESS_TAG])
            .await
            .map_err(Error::Read)
    });
    futures_util::future::join_all(removals)
        .await
        .into_iter()
        .collect::<Result<Vec<()>, Error>>()
        .map(|_| ())
}

/// The recorded setting of each route in `tags` (by resource ARN), keyed by route.
pub fn records_of(
    routes: &[&RouteSnapshot],
    tags: &BTreeMap<String, Tags>,
) -> Vec<(RouteId, Stickiness)> {
    routes
        .iter()
        .filter_map(|r| {
            let setting = recorded(tags.get(r.route.resource_arn())?)?;
            Some((r.route.clone(), setting))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sticky(seconds: u32) -> Stickiness {
        Stickiness {
            enabled: true,
            duration_seconds: Some(seconds),
        }
    }

    #[test]
    fn only_a_sticky_setting_is_released() {
        assert_eq!(
            released(Some(sticky(3600)), Release::Off),
            Some(Stickiness::OFF)
        );
        assert_eq!(
            released(Some(sticky(3600)), Release::OneSecond),
            Some(sticky(1))
        );
        assert_eq!(released(Some(sticky(3600)), Release::Keep), None);
        assert_eq!(released(Some(sticky(1)), Release::Off), None);
        assert_eq!(released(Some(Stickiness::OFF), Release::Off), None);
        assert_eq!(released(None, Release::Off), None);
    }

    #[test]
    fn a_record_round_trips_and_refuses_what_aws_would() {
        let mut tags = Tags::new();
        tags.insert(STICKINESS_TAG.into(), record_value(sticky(86_400)));
        assert_eq!(recorded(&tags), Some(sticky(86_400)));
        for bad in ["enabled/0", "enabled/999999", "on/60", "enabled/x", ""] {
            tags.insert(STICKINESS_TAG.into(), bad.into());
            assert_eq!(recorded(&tags), None, "{bad}");
        }
    }

    mod through_traffic {
        use crate::model::{Color, Percent, Split, Stickiness};
        use crate::ports::{Routes, TokioClock};
        use crate::providers::aws::resolve::{self, RouteSpec, Target};
        use crate::providers::aws::routes::AlbRoutes;
        use crate::providers::aws::sticky::STICKINESS_TAG;
        use crate::testing::InMemoryAlb;
        use crate::traffic::{self, ChangeOptions};

        const HOUR: Stickiness = Stickiness {
            enabled: true,
            duration_seconds: Some(3600),
        };

        fn sticky_alb_at(green: u8) -> InMemoryAlb {
            let alb = InMemoryAlb::new();
            alb.set_stickiness(HOUR);
            alb.set_split(Split::to(Color::Green, Percent::new(green).unwrap()));
            alb
        }

        fn target(alb: &InMemoryAlb, keep: bool) -> Target {
            let mut t = Target::new(RouteSpec::Listener(alb.listener_arn()));
            t.keep_stickiness = keep;
            t
        }

        /// Issue 17: `albflip rollback` turns group stickiness off in the same write, records what it
        /// found, and the next shift writes it back and removes the record.
        #[tokio::test]
        async fn a_rollback_releases_stickiness_and_the_next_shift_restores_it() {
            let alb = sticky_alb_at(40);
            let clock = TokioClock::default();
            let out = traffic::rollback(
                &alb,
                &clock,
                &target(&alb, false),
                None,
                ChangeOptions::default(),
            )
            .await
            .unwrap();
            assert_eq!(alb.split(), Split::all_to(Color::Blue));
            assert_eq!(alb.stickiness(), Stickiness::OFF);
            assert_eq!(
                alb.written().len(),
                1,
                "one write moves weights and stickiness"
            );
            assert_eq!(out.stickiness_released, vec![(out.route.clone(), HOUR)]);
            assert_eq!(alb.tag(STICKINESS_TAG).as_deref(), Some("enabled/3600"));

            // A second rollback has nothing to write, and keeps the record.
            let again = traffic::rollback(
                &alb,
                &clock,
                &target(&alb, false),
                None,
                ChangeOptions::default(),
            )
            .await
            .unwrap();
            assert!(!again.written && again.stickiness_released.is_empty());
            assert_eq!(alb.tag(STICKINESS_TAG).as_deref(), Some("enabled/3600"));

            let status = traffic::status(&alb, &target(&alb, false)).await.unwrap();
            assert_eq!(status.stickiness_recorded, Some(HOUR));

            let shifted = traffic::shift(
                &alb,
                &target(&alb, false),
                Color::Green,
                Percent::new(10).unwrap(),
                ChangeOptions::default(),
            )
            .await
            .unwrap();
            assert_eq!(alb.stickiness(), HOUR);
            assert_eq!(
                shifted.stickiness_restored,
                vec![(shifted.route.clone(), HOUR)]
            );
            assert_eq!(
                alb.tag(STICKINESS_TAG),
                None,
                "the record is removed once written back"
            );
        }

        /// Issue 17: where a target group has its own stickiness on, AWS refuses a weighted forward
        /// without group stickiness: the rollback writes a 1 s duration instead of off.
        #[tokio::test]
        async fn target_group_stickiness_releases_to_one_second() {
            let alb = sticky_alb_at(40);
            alb.set_target_group_stickiness(Color::Green);
            let clock = TokioClock::default();
            traffic::rollback(
                &alb,
                &clock,
                &target(&alb, false),
                None,
                ChangeOptions::default(),
            )
            .await
            .unwrap();
            assert_eq!(
                alb.stickiness(),
                Stickiness {
                    enabled: true,
                    duration_seconds: Some(1)
                }
            );
            assert_eq!(alb.tag(STICKINESS_TAG).as_deref(), Some("enabled/3600"));
        }

        /// Issue 17: with `keep_stickiness` the rollback leaves stickiness and records nothing.
        #[tokio::test]
        async fn keep_stickiness_leaves_it_on() {
            let alb = sticky_alb_at(40);
            let clock = TokioClock::default();
            traffic::rollback(
                &alb,
                &clock,
                &target(&alb, true),
                None,
                ChangeOptions::default(),
            )
            .await
            .unwrap();
            assert_eq!(alb.split(), Split::all_to(Color::Blue));
            assert_eq!(alb.stickiness(), HOUR);
            // No released setting is recorded; the tag holds when green was drained, for cleanup.
            let tag = alb.tag(STICKINESS_TAG).unwrap_or_default();
            assert!(tag.starts_with("drained/green/"), "{tag}");
        }

        /// Issue 17: the engine's rollback (a gate failure, an interrupt) releases and records too, and
        /// the next step of a later deployment writes the setting back.
        #[tokio::test]
        async fn the_engines_rollback_and_next_step_release_and_restore() {
            let alb = sticky_alb_at(25);
            let t = target(&alb, false);
            let routes = AlbRoutes::new(&alb, resolve::resolve(&alb, &t).await.unwrap());
            routes.rollback(Color::Blue).await.unwrap();
            assert_eq!(alb.split(), Split::all_to(Color::Blue));
            assert_eq!(alb.stickiness(), Stickiness::OFF);
            assert_eq!(alb.tag(STICKINESS_TAG).as_deref(), Some("enabled/3600"));

            let routes = AlbRoutes::new(&alb, resolve::resolve(&alb, &t).await.unwrap());
            let ten = Split::to(Color::Green, Percent::new(10).unwrap());
            routes
                .write_step(Split::all_to(Color::Blue), ten, false, &|_| {})
                .await
                .unwrap();
            assert_eq!(alb.split(), ten);
            assert_eq!(alb.stickiness(), HOUR);
            assert_eq!(alb.tag(STICKINESS_TAG), None);
        }
    }
}
