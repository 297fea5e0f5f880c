//! `cleanup` and the capacity-aware `rollback` against the in-memory load balancer and Auto Scaling, in
//! simulated time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::model::{Percent, Split};
use crate::ports::{ApiError, Capacity, TargetHealth, TokioClock};
use crate::providers::aws::api::{AlbInventory, AsgInfo};
use crate::providers::aws::arn::TargetGroupArn;
use crate::providers::aws::resolve::RouteSpec;
use crate::state::STATE_TAG;
use crate::testing::{InMemoryAlb, InMemoryScaler, BLUE_ASG, GREEN_ASG};
use crate::ErrorKind;

const WAIT: Wait = Wait {
    timeout: Duration::from_secs(120),
    poll: Duration::from_secs(10),
};

fn target(alb: &InMemoryAlb) -> Target {
    Target::new(RouteSpec::Listener(alb.listener_arn()))
}

async fn tag(alb: &InMemoryAlb, key: &str, value: &str) {
    let listener = alb.listener_arn();
    alb.set_tags(listener.as_str(), &[(key, value)])
        .await
        .unwrap();
}

/// Green has all the traffic and is stable; blue's group (desired 2) and green's (raised to 2) are
/// linked to the load balancer, so a resize brings targets up or down at once.
async fn after_deployment() -> (Arc<InMemoryAlb>, InMemoryScaler) {
    let alb = Arc::new(InMemoryAlb::new());
    let scaler = InMemoryScaler::blue_green(Arc::clone(&alb));
    scaler
        .set_capacity(
            GREEN_ASG,
            Capacity {
                min: 0,
                max: 4,
                desired: 2,
            },
        )
        .await
        .unwrap();
    alb.set_split(Split::all_to(Color::Green));
    tag(&alb, "albflip:stable", "green").await;
    (alb, scaler)
}

fn zero() -> Capacity {
    Capacity {
        min: 0,
        max: 4,
        desired: 0,
    }
}

#[tokio::test]
async fn cleanup_scales_the_old_color_to_zero_after_recording_its_capacity() {
    let (alb, scaler) = after_deployment().await;
    let writes_before = scaler.writes().len();
    let done = cleanup(
        &*alb,
        &scaler,
        &target(&alb),
        &CapacityPolicy::default(),
        false,
    )
    .await
    .unwrap();
    assert_eq!((done.old, done.stable), (Color::Blue, Color::Green));
    assert_eq!(done.asg, BLUE_ASG);
    assert!(done.scaled_down);
    assert_eq!(done.after.as_ref().map(|a| a.desired), Some(0));
    assert_eq!(
        scaler.writes()[writes_before..],
        [(BLUE_ASG.to_string(), zero())]
    );
    assert_eq!(
        alb.tag("albflip:capacity:blue").as_deref(),
        Some("2/0/4/sim-shop-blue-asg")
    );
    // Traffic is untouched.
    assert_eq!(alb.split(), Split::all_to(Color::Green));
}

#[tokio::test]
async fn a_second_cleanup_writes_nothing_and_keeps_the_record() {
    let (alb, scaler) = after_deployment().await;
    let policy = CapacityPolicy::default();
    cleanup(&*alb, &scaler, &target(&alb), &policy, false)
        .await
        .unwrap();
    let writes = scaler.writes().len();
    let again = cleanup(&*alb, &scaler, &target(&alb), &policy, false)
        .await
        .unwrap();
    assert!(!again.scaled_down);
    assert_eq!(again.record, None);
    assert_eq!(scaler.writes().len(), writes, "no resize");
    assert_eq!(
        alb.tag("albflip:capacity:blue").as_deref(),
        Some("2/0/4/sim-shop-blue-asg"),
        "the record of the first cleanup is kept"
    );
}

#[tokio::test]
async fn cleanup_is_refused_while_the_old_color_has_traffic() {
    let (alb, scaler) = after_deployment().await;
    alb.set_split(Split::to(Color::Green, Percent::new(75).unwrap()));
    let writes = scaler.writes().len();
    let e = cleanup(
        &*alb,
        &scaler,
        &target(&alb),
        &CapacityPolicy::default(),
        false,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, Error::State { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("blue still has traffic") && text.contains("blue 25% / green 75%"),
        "{text}"
    );
    assert_eq!(scaler.writes().len(), writes);
    assert_eq!(alb.tag("albflip:capacity:blue"), None);
    assert_eq!(scaler.group(BLUE_ASG).unwrap().desired, 2);
}

#[tokio::test]
async fn cleanup_is_refused_while_a_deployment_is_in_flight() {
    let (alb, scaler) = after_deployment().await;
    tag(&alb, STATE_TAG, "awaiting-promotion").await;
    tag(&alb, "albflip:target", "green").await;
    let e = cleanup(
        &*alb,
        &scaler,
        &target(&alb),
        &CapacityPolicy::default(),
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e:?}");
    assert!(e.to_string().contains("awaiting-promotion"), "{e}");
    assert_eq!(scaler.group(BLUE_ASG).unwrap().desired, 2);
}

#[tokio::test]
async fn without_a_group_cleanup_names_the_flag() {
    let (alb, _) = after_deployment().await;
    let none = InMemoryScaler::new();
    let e = cleanup(
        &*alb,
        &none,
        &target(&alb),
        &CapacityPolicy::default(),
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e:?}");
    assert!(
        e.text()
            .inputs()
            .any(|i| *i == crate::input::Input::BlueAsg),
        "{e}"
    );
    assert_eq!(alb.tag("albflip:capacity:blue"), None);
}

#[tokio::test]
async fn a_named_group_that_serves_the_stable_color_is_refused() {
    let (alb, scaler) = after_deployment().await;
    let policy = CapacityPolicy {
        blue_asg: Some(GREEN_ASG.into()),
        ..CapacityPolicy::default()
    };
    let writes = scaler.writes().len();
    let e = cleanup(&*alb, &scaler, &target(&alb), &policy, false)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e:?}");
    assert!(e.to_string().contains("serves the traffic"), "{e}");
    assert_eq!(scaler.writes().len(), writes);
}

#[tokio::test]
async fn a_dry_run_writes_nothing() {
    let (alb, scaler) = after_deployment().await;
    let writes = scaler.writes().len();
    let done = cleanup(
        &*alb,
        &scaler,
        &target(&alb),
        &CapacityPolicy::default(),
        true,
    )
    .await
    .unwrap();
    assert!(done.dry_run && done.scaled_down);
    assert_eq!(done.after, None);
    assert_eq!(done.record.map(|r| r.desired), Some(2));
    assert_eq!(scaler.writes().len(), writes);
    assert_eq!(alb.tag("albflip:capacity:blue"), None);
}

/// After a deployment to green and a cleanup of blue.
async fn cleaned_up() -> (Arc<InMemoryAlb>, InMemoryScaler) {
    let (alb, scaler) = after_deployment().await;
    cleanup(
        &*alb,
        &scaler,
        &target(&alb),
        &CapacityPolicy::default(),
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        alb.health(&alb.groups().blue).await.unwrap(),
        TargetHealth::default()
    );
    (alb, scaler)
}

fn to_blue(wait: Option<Wait>) -> RollbackOptions {
    RollbackOptions {
        to: Some(Color::Blue),
        change: ChangeOptions {
            force: wait.is_none(),
            ..ChangeOptions::default()
        },
        wait,
        deployment_id: None,
    }
}

#[tokio::test(start_paused = true)]
async fn rollback_after_cleanup_scales_blue_up_and_waits_before_moving_traffic() {
    let (alb, scaler) = cleaned_up().await;
    let splits = Mutex::new(Vec::new());
    let done = rollback(
        &*alb,
        &scaler,
        &TokioClock::new(),
        &target(&alb),
        to_blue(Some(WAIT)),
        |c, p| splits.lock().unwrap().push((c, alb.split(), p.healthy)),
    )
    .await
    .unwrap();
    let looks = splits.into_inner().unwrap();
    assert!(!looks.is_empty());
    assert!(
        looks
            .iter()
            .all(|(c, split, _)| *c == Color::Blue && *split == Split::all_to(Color::Green)),
        "traffic moved before the health wait ended: {looks:?}"
    );
    assert_eq!(alb.split(), Split::all_to(Color::Blue));
    assert_eq!(scaler.group(BLUE_ASG).unwrap().desired, 2);
    let restored = done.capacity.unwrap().restored.unwrap();
    assert!(restored.resized);
    assert_eq!(restored.healthy, Some(2));
    assert!(done.change.written);
    assert_eq!(done.change.stable, Color::Blue);
}

/// Blue's targets never come up: the rollback gives up at the timeout and moves no traffic.
#[tokio::test(start_paused = true)]
async fn a_color_that_does_not_come_up_gets_no_traffic() {
    let (alb, scaler) = cleaned_up().await;
    let unlinked = InMemoryScaler::new();
    unlinked.add(scaler.group(BLUE_ASG).unwrap());
    let clock = TokioClock::new();
    let mut looks = 0;
    let e = rollback(
        &*alb,
        &unlinked,
        &clock,
        &target(&alb),
        to_blue(Some(WAIT)),
        |_, _| looks += 1,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, Error::NotReady { raised: true, .. }), "{e:?}");
    assert!(looks >= 12, "{looks} looks");
    assert_eq!(alb.split(), Split::all_to(Color::Green));
    assert_eq!(alb.written().len(), 0);
    assert_eq!(unlinked.group(BLUE_ASG).unwrap().desired, 2);
}

#[tokio::test(start_paused = true)]
async fn force_scales_up_and_moves_traffic_without_waiting_and_says_so() {
    let (alb, scaler) = cleaned_up().await;
    let unlinked = InMemoryScaler::new();
    unlinked.add(scaler.group(BLUE_ASG).unwrap());
    let mut looks = 0;
    let done = rollback(
        &*alb,
        &unlinked,
        &TokioClock::new(),
        &target(&alb),
        to_blue(None),
        |_, _| looks += 1,
    )
    .await
    .unwrap();
    assert_eq!(looks, 0, "no health wait with --force");
    assert_eq!(alb.split(), Split::all_to(Color::Blue));
    assert_eq!(unlinked.group(BLUE_ASG).unwrap().desired, 2);
    assert_eq!(
        done.capacity.unwrap().restored.unwrap().healthy,
        None,
        "not waited for"
    );
    let warnings: Vec<String> = done.change.warnings.iter().map(|w| w.to_string()).collect();
    let warnings = warnings.join("\n");
    assert!(warnings.contains("WITHOUT waiting"), "{warnings}");
    assert!(
        done.change.warnings[0]
            .inputs()
            .any(|i| *i == crate::input::Input::Force),
        "{warnings}"
    );
    assert!(
        done.change.warnings[0].to_string().contains(BLUE_ASG),
        "capacity warning first: {warnings}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_rollback_scales_nothing_and_moves_nothing() {
    let (alb, scaler) = cleaned_up().await;
    let writes = scaler.writes().len();
    let mut opts = to_blue(Some(WAIT));
    opts.change.dry_run = true;
    let done = rollback(
        &*alb,
        &scaler,
        &TokioClock::new(),
        &target(&alb),
        opts,
        |_, _| {},
    )
    .await
    .unwrap();
    let c = done.capacity.unwrap();
    assert_eq!((c.before.desired, c.record.desired), (0, 2));
    assert!(c.restored.is_none());
    assert_eq!(scaler.writes().len(), writes);
    assert_eq!(alb.split(), Split::all_to(Color::Green));
}

/// A scaler that fails the test on any call.
struct NoScaler;

impl crate::providers::aws::api::Scaler for NoScaler {
    async fn groups_for_target_group(&self, _: &TargetGroupArn) -> Result<Vec<AsgInfo>, ApiError> {
        panic!("no Auto Scaling call expected")
    }
    async fn describe(&self, _: &str) -> Result<Option<AsgInfo>, ApiError> {
        panic!("no Auto Scaling call expected")
    }
    async fn set_capacity(&self, _: &str, _: Capacity) -> Result<AsgInfo, ApiError> {
        panic!("no Auto Scaling call expected")
    }
    async fn set_hold(&self, _: &str, _: Option<u32>) -> Result<(), ApiError> {
        panic!("no Auto Scaling call expected")
    }
}

#[tokio::test]
async fn without_a_record_rollback_is_the_plain_traffic_rollback() {
    let (alb, _) = after_deployment().await;
    let done = rollback(
        &*alb,
        &NoScaler,
        &TokioClock::new(),
        &target(&alb),
        to_blue(Some(WAIT)),
        |_, _| {},
    )
    .await
    .unwrap();
    assert!(done.capacity.is_none());
    assert_eq!(alb.split(), Split::all_to(Color::Blue));
    assert_eq!(alb.written(), vec![Split::all_to(Color::Blue)]);
}

#[tokio::test]
async fn a_group_at_its_record_is_not_resized() {
    let (alb, scaler) = after_deployment().await;
    tag(&alb, "albflip:capacity:blue", "2/0/4/sim-shop-blue-asg").await;
    let writes = scaler.writes().len();
    let done = rollback(
        &*alb,
        &scaler,
        &TokioClock::new(),
        &target(&alb),
        to_blue(Some(WAIT)),
        |_, _| panic!("no wait for a group at its record"),
    )
    .await
    .unwrap();
    assert!(done.capacity.is_none());
    assert_eq!(scaler.writes().len(), writes);
    assert_eq!(alb.split(), Split::all_to(Color::Blue));
}

#[tokio::test]
async fn an_unreadable_group_is_a_warning_and_the_health_check_still_guards() {
    let (alb, _) = cleaned_up().await;
    let empty = InMemoryScaler::new();
    let e = rollback(
        &*alb,
        &empty,
        &TokioClock::new(),
        &target(&alb),
        to_blue(Some(WAIT)),
        |_, _| {},
    )
    .await
    .unwrap_err();
    // Blue has no healthy targets: the traffic path refuses without --force.
    assert!(matches!(e, Error::NoHealthyTargets { .. }), "{e:?}");
    assert_eq!(alb.split(), Split::all_to(Color::Green));
}
