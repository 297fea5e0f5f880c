//! Capacity against the in-memory load balancer and Auto Scaling, in simulated time.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::*;
use crate::model::{Color, Split};
use crate::ports::{Clock, TargetHealth, TokioClock};
use crate::providers::aws::api::{AlbInventory, AsgInfo, TrafficRouter};
use crate::providers::aws::resolve::{resolve, RouteSpec, Target};
use crate::providers::aws::route::{ForwardAction, ForwardTarget, RouteId};
use crate::providers::aws::routes::AlbRoutes;
use crate::testing::{InMemoryAlb, InMemoryScaler, BLUE_ASG, GREEN_ASG};
use crate::ErrorKind;

const MINUTE: Duration = Duration::from_secs(60);

fn linked() -> (Arc<InMemoryAlb>, InMemoryScaler) {
    let alb = Arc::new(InMemoryAlb::new());
    let scaler = InMemoryScaler::blue_green(Arc::clone(&alb));
    (alb, scaler)
}

/// Blue (2) and green (0) groups whose targets come up only when the test says so.
fn unlinked(alb: &InMemoryAlb) -> InMemoryScaler {
    let scaler = InMemoryScaler::new();
    for (name, desired, color) in [(BLUE_ASG, 2, Color::Blue), (GREEN_ASG, 0, Color::Green)] {
        scaler.add(AsgInfo {
            name: name.into(),
            min: 0,
            max: 4,
            desired,
            in_service: desired,
            target_groups: vec![alb.groups().of(color).clone()],
            held_min: None,
        });
    }
    alb.set_health(Color::Green, TargetHealth::default());
    scaler
}

fn green() -> ColorPool<'static> {
    ColorPool {
        pool: GREEN_ASG,
        color: Color::Green,
    }
}

fn blue() -> ColorPool<'static> {
    ColorPool {
        pool: BLUE_ASG,
        color: Color::Blue,
    }
}

/// The in-memory ALB's route, resolved as the engine sees it.
async fn routes(alb: &InMemoryAlb) -> AlbRoutes<'_, InMemoryAlb> {
    let target = Target::new(RouteSpec::Listener(alb.listener_arn()));
    AlbRoutes::new(alb, resolve(alb, &target).await.unwrap())
}

fn wait(timeout: Duration) -> Wait {
    Wait {
        timeout,
        poll: Duration::from_secs(10),
    }
}

fn seconds_since(clock: &TokioClock, start: SystemTime) -> u64 {
    clock
        .now()
        .duration_since(start)
        .unwrap_or_default()
        .as_secs()
}

#[tokio::test(start_paused = true)]
async fn the_new_color_is_raised_to_the_stable_capacity_and_becomes_healthy() {
    let (alb, scaler) = linked();
    let clock = TokioClock::new();
    let m = match_capacity(
        &scaler,
        &routes(&alb).await,
        &clock,
        green(),
        BLUE_ASG,
        wait(MINUTE),
        |_| {},
    )
    .await
    .unwrap();
    assert!(m.raised);
    assert_eq!((m.new.desired, m.healthy, m.new_before.desired), (2, 2, 0));
    assert_eq!(
        m.stable,
        CapacityRecord {
            asg: BLUE_ASG.into(),
            desired: 2,
            min: 0,
            max: 4
        }
    );
    assert_eq!(
        scaler.writes(),
        vec![(
            GREEN_ASG.to_string(),
            Capacity {
                min: 0,
                max: 4,
                desired: 2
            }
        )]
    );
}

#[tokio::test(start_paused = true)]
async fn a_larger_new_color_is_never_lowered() {
    let (alb, scaler) = linked();
    let mut bigger = scaler.group(GREEN_ASG).unwrap();
    (bigger.desired, bigger.in_service) = (3, 3);
    scaler.add(bigger);
    alb.set_health(Color::Green, TargetHealth::of(3, 3));
    let clock = TokioClock::new();
    let m = match_capacity(
        &scaler,
        &routes(&alb).await,
        &clock,
        green(),
        BLUE_ASG,
        wait(MINUTE),
        |_| {},
    )
    .await
    .unwrap();
    assert!(!m.raised);
    assert_eq!(m.new.desired, 3);
    assert!(scaler.writes().is_empty(), "{:?}", scaler.writes());
}

#[test]
fn raising_lifts_the_maximum_when_it_must_and_never_lowers() {
    let small = Capacity {
        min: 1,
        max: 2,
        desired: 1,
    };
    assert_eq!(
        raised_to(small, 5),
        Some(Capacity {
            min: 1,
            max: 5,
            desired: 5
        })
    );
    assert_eq!(
        raised_to(small, 2),
        Some(Capacity {
            min: 1,
            max: 2,
            desired: 2
        })
    );
    assert_eq!(raised_to(small, 1), None);
    assert_eq!(raised_to(small, 0), None);
}

#[tokio::test(start_paused = true)]
async fn albflip_waits_until_the_targets_are_healthy_and_counts_down() {
    let alb = Arc::new(InMemoryAlb::new());
    let scaler = unlinked(&alb);
    let later = Arc::clone(&alb);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(35)).await;
        later.set_health(Color::Green, TargetHealth::of(2, 2));
    });
    let clock = TokioClock::new();
    let start = clock.now();
    let mut seen = Vec::new();
    let m = match_capacity(
        &scaler,
        &routes(&alb).await,
        &clock,
        green(),
        BLUE_ASG,
        wait(MINUTE * 10),
        |p| seen.push((p.healthy, p.wanted, p.seconds_left)),
    )
    .await
    .unwrap();
    assert_eq!(m.healthy, 2);
    assert_eq!(
        seconds_since(&clock, start),
        40,
        "polls at 0, 10, 20, 30 and 40 s"
    );
    assert_eq!(seen.first(), Some(&(0, 2, 600)));
    assert_eq!(seen.last(), Some(&(2, 2, 560)));
    assert_eq!(seen.len(), 5);
}

#[tokio::test(start_paused = true)]
async fn a_color_that_never_becomes_healthy_times_out_before_any_traffic_moves() {
    let alb = Arc::new(InMemoryAlb::new());
    let scaler = unlinked(&alb);
    let clock = TokioClock::new();
    let start = clock.now();
    let e = match_capacity(
        &scaler,
        &routes(&alb).await,
        &clock,
        green(),
        BLUE_ASG,
        wait(MINUTE),
        |_| {},
    )
    .await
    .unwrap_err();
    assert_eq!(seconds_since(&clock, start), 60);
    assert!(
        matches!(
            e,
            crate::Error::NotReady {
                healthy: 0,
                wanted: 2,
                raised: true,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.kind(), ErrorKind::Runtime);
    assert!(e.may_have_changed_aws(), "the capacity was raised");
    let text = e.to_string();
    for part in [
        GREEN_ASG,
        "sim-shop-green-tg",
        "0 of 2 healthy",
        "no traffic was moved",
    ] {
        assert!(text.contains(part), "{part:?} missing in: {text}");
    }
    assert!(
        e.text()
            .inputs()
            .any(|i| *i == crate::input::Input::ReadyTimeout),
        "{text}"
    );
    assert_eq!(alb.written(), vec![], "no traffic moved");
}

#[tokio::test(start_paused = true)]
async fn a_failed_resize_names_the_group_and_waits_for_nothing() {
    let (alb, scaler) = linked();
    scaler.fail_writes(1);
    let clock = TokioClock::new();
    let e = match_capacity(
        &scaler,
        &routes(&alb).await,
        &clock,
        green(),
        BLUE_ASG,
        wait(MINUTE),
        |_| {},
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, crate::Error::ScalingFailed { asg, .. } if asg == GREEN_ASG),
        "{e:?}"
    );
    assert!(e.to_string().contains("desired 2 (min 0, max 4)"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn an_unknown_group_is_not_found() {
    let (alb, scaler) = linked();
    let clock = TokioClock::new();
    let e = match_capacity(
        &scaler,
        &routes(&alb).await,
        &clock,
        green(),
        "nope-asg",
        wait(MINUTE),
        |_| {},
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("\"nope-asg\" not found"), "{e}");
    assert!(scaler.writes().is_empty());
}

#[tokio::test(start_paused = true)]
async fn rollback_restores_the_recorded_capacity_and_waits_for_it() {
    let (alb, scaler) = linked();
    alb.set_split(Split::all_to(Color::Green));
    scale_down(&scaler, &routes(&alb).await, None, blue())
        .await
        .unwrap();
    assert_eq!(alb.health(&alb.groups().blue).await.unwrap().healthy, 0);
    let record = CapacityRecord {
        asg: BLUE_ASG.into(),
        desired: 2,
        min: 1,
        max: 4,
    };
    let clock = TokioClock::new();
    let mut looks = 0;
    let r = restore_capacity(
        &scaler,
        &routes(&alb).await,
        &clock,
        &record,
        Color::Blue,
        Some(wait(MINUTE)),
        |_| looks += 1,
    )
    .await
    .unwrap();
    assert!(r.resized);
    assert_eq!(r.healthy, Some(2));
    assert_eq!(
        r.asg.capacity(),
        Capacity {
            min: 1,
            max: 4,
            desired: 2
        }
    );
    assert_eq!(looks, 1);
}

#[tokio::test(start_paused = true)]
async fn a_forced_restore_does_not_wait() {
    let alb = Arc::new(InMemoryAlb::new());
    let scaler = unlinked(&alb);
    let record = CapacityRecord {
        asg: GREEN_ASG.into(),
        desired: 5,
        min: 0,
        max: 2,
    };
    let clock = TokioClock::new();
    let start = clock.now();
    let r = restore_capacity(
        &scaler,
        &routes(&alb).await,
        &clock,
        &record,
        Color::Green,
        None,
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(r.healthy, None);
    assert_eq!(
        r.asg.capacity(),
        Capacity {
            min: 0,
            max: 5,
            desired: 5
        },
        "the maximum follows the desired capacity"
    );
    assert_eq!(seconds_since(&clock, start), 0);
}

#[tokio::test(start_paused = true)]
async fn a_restore_never_lowers_what_is_there() {
    let (alb, scaler) = linked();
    let record = CapacityRecord {
        asg: BLUE_ASG.into(),
        desired: 1,
        min: 0,
        max: 2,
    };
    let clock = TokioClock::new();
    let r = restore_capacity(
        &scaler,
        &routes(&alb).await,
        &clock,
        &record,
        Color::Blue,
        Some(wait(MINUTE)),
        |_| {},
    )
    .await
    .unwrap();
    assert!(!r.resized);
    assert_eq!(r.asg.desired, 2);
    assert!(scaler.writes().is_empty());
}

#[tokio::test]
async fn the_old_color_is_scaled_to_zero_once_it_has_no_traffic() {
    let (alb, scaler) = linked();
    alb.set_split(Split::all_to(Color::Green));
    let after = scale_down(&scaler, &routes(&alb).await, None, blue())
        .await
        .unwrap();
    assert_eq!(
        after.capacity(),
        Capacity {
            min: 0,
            max: 4,
            desired: 0
        }
    );
    assert_eq!(alb.health(&alb.groups().blue).await.unwrap().total, 0);
    let again = scale_down(&scaler, &routes(&alb).await, None, blue())
        .await
        .unwrap();
    assert_eq!(again.desired, 0);
    assert_eq!(
        scaler.writes().len(),
        1,
        "a group already at zero is not written again"
    );
}

#[tokio::test]
async fn a_color_with_traffic_is_not_scaled_down() {
    let (alb, scaler) = linked();
    let e = scale_down(&scaler, &routes(&alb).await, None, blue())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert!(e.to_string().contains("weight 100"), "{e}");
    assert!(scaler.writes().is_empty());
}

#[tokio::test]
async fn any_weight_above_zero_blocks_the_scale_down() {
    let (alb, scaler) = linked();
    let route = RouteId::Listener(alb.listener_arn());
    let live = alb.read(&route).await.unwrap();
    let weighted = |tg: &crate::providers::aws::arn::TargetGroupArn, w| ForwardTarget {
        target_group: tg.clone(),
        weight: Some(w),
    };
    let forward = ForwardAction {
        targets: vec![
            weighted(&alb.groups().blue, 1),
            weighted(&alb.groups().green, 999),
        ],
        stickiness: None,
    };
    alb.write(&live, &forward).await.unwrap();
    let e = scale_down(&scaler, &routes(&alb).await, None, blue())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, crate::Error::ScaleDownRefused { weight, .. } if weight == "1"),
        "{e:?}"
    );
    assert!(scaler.writes().is_empty());
}

#[tokio::test]
async fn discovery_finds_the_one_group_and_refuses_to_guess_between_two() {
    let (alb, scaler) = linked();
    let green_backend = routes(&alb).await.backend(Color::Green);
    let found = discover(&scaler, &green_backend).await.unwrap();
    assert_eq!(found.map(|g| g.name), Some(GREEN_ASG.to_string()));
    let mut twin = scaler.group(GREEN_ASG).unwrap();
    twin.name = "sim-shop-green-2-asg".into();
    scaler.add(twin);
    let err = discover(&scaler, &green_backend).await.unwrap_err();
    let e = err.to_string();
    assert!(
        e.contains(GREEN_ASG) && e.contains("sim-shop-green-2-asg"),
        "{e}"
    );
    assert!(
        err.text()
            .inputs()
            .any(|i| *i == crate::input::Input::GreenAsg),
        "{e}"
    );
    let other = crate::providers::aws::arn::TargetGroupArn::parse(
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/other-tg/0000000000000009",
    )
    .unwrap();
    let other = crate::ports::Backend {
        id: other.as_str().to_string(),
        ..green_backend
    };
    assert_eq!(discover(&scaler, &other).await.unwrap(), None);
}
