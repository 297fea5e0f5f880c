//! The wait for promotion in simulated time (issue 19): a canary, or a gradual deployment's pause
//! (`25:pause`), keeps running with the gates on until `promote` (from another run, which hands its
//! request over), a rollback from elsewhere, a failing gate or its timeout.

use std::sync::Arc;
use std::time::Duration;

use albflip::engine::lifecycle::{OnTimeout, PromotionWait};
use albflip::engine::{DeploySpec, Engine, Outcome};
use albflip::events::{Collect, Event};
use albflip::model::{Color, Percent, Split};
use albflip::plan::decide::Failure;
use albflip::plan::{GateThresholds, Steps, Strategy};
use albflip::testing::{InMemoryAlb, MetricContext, ScriptedMetrics};
use albflip::traffic::{rollback, ChangeOptions};

use super::{deploy, greens, minute_clock, policy, proportional, spec, target, BAKE, POLL};

const WAIT: Duration = Duration::from_secs(2 * 3600);

fn canary_waiting(on_timeout: OnTimeout) -> DeploySpec {
    let canary = Strategy::Canary {
        percentage: Percent::new(10).unwrap(),
        auto_promote: false,
    };
    let mut s = spec(canary, policy(), GateThresholds::default());
    s.lifecycle.promotion_wait = Some(PromotionWait::new(WAIT, on_timeout).unwrap());
    s
}

/// `albflip promote` from another process: its own engine on the same load balancer, `after` from now.
async fn promote_after(alb: &Arc<InMemoryAlb>, s: &DeploySpec, after: Duration) -> Outcome {
    tokio::time::sleep(after).await;
    let metrics = ScriptedMetrics::new(alb.clone(), Color::Green, |c: &MetricContext| {
        proportional(c, 0.0)
    });
    let clock = minute_clock();
    let engine = Engine::new(alb.as_ref(), &metrics, &clock, &albflip::events::Ignore)
        .with_identity("release-manager");
    match engine.request_promotion(&target(alb)).await.unwrap() {
        Some(outcome) => outcome,
        None => engine.promote(&target(alb), s).await.unwrap(),
    }
}

fn waits(events: &[(std::time::SystemTime, Event)]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::WaitingForPromotion { seconds_left, .. } => Some(*seconds_left),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_waiting_canary_goes_on_when_promote_is_run_elsewhere() {
    let alb = Arc::new(InMemoryAlb::new());
    let s = canary_waiting(OnTimeout::Rollback);
    let start = tokio::time::Instant::now();
    let (run, promoted) = tokio::join!(
        deploy(&alb, &s, |c| proportional(c, 0.0)),
        promote_after(&alb, &s, BAKE + Duration::from_secs(20 * 60)),
    );
    assert_eq!(
        promoted,
        Outcome::PromotionHandedOver {
            target: Color::Green,
            waiting_run: "albflip".to_string(),
        }
    );
    assert_eq!(
        run.result.unwrap(),
        Outcome::Completed {
            stable: Color::Green
        }
    );
    // The canary, then 100 % written by the waiting run itself (the promote wrote no traffic).
    assert_eq!(greens(&alb), vec![10, 100]);
    assert_eq!(alb.tag("albflip:stable").as_deref(), Some("green"));
    assert_eq!(alb.tag("albflip:waiting").as_deref(), Some(""));
    assert_eq!(alb.tag("albflip:promote-requested").as_deref(), Some(""));
    // It went on within one read of the record, then baked 100 %: far less than the two hours.
    let took = start.elapsed();
    assert!(
        took < BAKE * 2 + Duration::from_secs(21 * 60) + POLL,
        "{took:?}"
    );
    // The time left was said at each read of the record, counting down.
    let left = waits(&run.events);
    assert!(left.len() >= 20, "{left:?}");
    assert!(left.windows(2).all(|w| w[1] < w[0]), "{left:?}");
    assert_eq!(left[0], WAIT.as_secs());
    assert!(run
        .events
        .iter()
        .any(|(_, e)| matches!(e, Event::Promoted { by } if by.starts_with("release-manager"))));
}

#[tokio::test(start_paused = true)]
async fn a_waiting_canary_stops_without_writing_when_rolled_back_elsewhere() {
    let alb = Arc::new(InMemoryAlb::new());
    let s = canary_waiting(OnTimeout::Promote);
    let rollback_later = async {
        tokio::time::sleep(BAKE + Duration::from_secs(600)).await;
        rollback(
            alb.as_ref(),
            &minute_clock(),
            &target(&alb),
            None,
            ChangeOptions::default(),
        )
        .await
        .unwrap()
    };
    let (run, rolled) = tokio::join!(deploy(&alb, &s, |c| proportional(c, 0.0)), rollback_later);
    assert_eq!(rolled.after, Split::all_to(Color::Blue));
    match run.result.unwrap() {
        Outcome::RolledBack {
            failure: Failure::Wait { message },
            to: Color::Blue,
            step: 1,
            percent: 10,
        } => assert!(message.to_string().contains("rolled-back"), "{message}"),
        other => panic!("{other:?}"),
    }
    // Only the rollback's write after the canary: the waiting run wrote nothing more.
    assert_eq!(greens(&alb), vec![10, 0]);
    assert_eq!(alb.tag("albflip:state").as_deref(), Some("rolled-back"));
}

#[tokio::test(start_paused = true)]
async fn on_timeout_the_canary_is_rolled_back_by_default_or_promoted_when_asked() {
    let alb = Arc::new(InMemoryAlb::new());
    let start = tokio::time::Instant::now();
    let run = deploy(&alb, &canary_waiting(OnTimeout::Rollback), |c| {
        proportional(c, 0.0)
    })
    .await;
    match run.result.unwrap() {
        Outcome::RolledBack {
            failure: Failure::Wait { message },
            to: Color::Blue,
            ..
        } => assert!(message.to_string().contains("2h"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert!(start.elapsed() >= BAKE + WAIT, "{:?}", start.elapsed());
    assert_eq!(greens(&alb), vec![10, 0]);

    let alb = Arc::new(InMemoryAlb::new());
    let run = deploy(&alb, &canary_waiting(OnTimeout::Promote), |c| {
        proportional(c, 0.0)
    })
    .await;
    assert_eq!(
        run.result.unwrap(),
        Outcome::Completed {
            stable: Color::Green
        }
    );
    assert_eq!(greens(&alb), vec![10, 100]);
    assert!(run
        .events
        .iter()
        .any(|(_, e)| matches!(e, Event::Promoted { by } if by == "timeout")));
}

#[tokio::test(start_paused = true)]
async fn a_canary_that_breaks_while_waiting_is_rolled_back_by_its_gates() {
    let alb = Arc::new(InMemoryAlb::new());
    let breaks_at = tokio::time::Instant::now() + BAKE + Duration::from_secs(40 * 60);
    let run = deploy(&alb, &canary_waiting(OnTimeout::Promote), move |c| {
        let rate = if tokio::time::Instant::now() >= breaks_at {
            0.5
        } else {
            0.0
        };
        proportional(c, rate)
    })
    .await;
    match run.result.unwrap() {
        Outcome::RolledBack {
            failure: Failure::Gate { .. },
            to: Color::Blue,
            step: 1,
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(greens(&alb), vec![10, 0]);
}

#[tokio::test(start_paused = true)]
async fn a_gradual_pause_waits_after_its_step_and_goes_on_when_promoted() {
    let alb = Arc::new(InMemoryAlb::new());
    let steps = Steps::parse("10,25:pause,50,100").unwrap();
    let mut s = spec(
        Strategy::Gradual { steps },
        policy(),
        GateThresholds::default(),
    );
    s.lifecycle.promotion_wait = Some(PromotionWait::new(WAIT, OnTimeout::Rollback).unwrap());
    let (run, promoted) = tokio::join!(
        deploy(&alb, &s, |c| proportional(c, 0.0)),
        promote_after(&alb, &s, BAKE * 2 + Duration::from_secs(15 * 60)),
    );
    assert!(
        matches!(promoted, Outcome::PromotionHandedOver { .. }),
        "{promoted:?}"
    );
    assert_eq!(
        run.result.unwrap(),
        Outcome::Completed {
            stable: Color::Green
        }
    );
    assert_eq!(greens(&alb), vec![10, 25, 50, 100]);
    let paused_at: Vec<usize> = run
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::WaitingForPromotion {
                step, percent: 25, ..
            } => Some(*step),
            _ => None,
        })
        .collect();
    assert!(!paused_at.is_empty() && paused_at.iter().all(|s| *s == 2));

    // A pause with no wait given is refused before anything is written.
    let alb = Arc::new(InMemoryAlb::new());
    let steps = Steps::parse("10,25:pause,50,100").unwrap();
    let s = spec(
        Strategy::Gradual { steps },
        policy(),
        GateThresholds::default(),
    );
    let run = deploy(&alb, &s, |c| proportional(c, 0.0)).await;
    let e = run.result.unwrap_err();
    assert!(e.to_string().contains("no wait is given"), "{e}");
    assert!(greens(&alb).is_empty());
}

#[tokio::test(start_paused = true)]
async fn promote_promotes_itself_when_the_waiting_run_is_gone() {
    let alb = Arc::new(InMemoryAlb::new());
    let s = canary_waiting(OnTimeout::Rollback);
    // The waiting run dies (dropped) an hour into its wait: its record still says it waits.
    let metrics = ScriptedMetrics::new(alb.clone(), Color::Green, |c: &MetricContext| {
        proportional(c, 0.0)
    });
    let clock = minute_clock();
    let observer = Collect::default();
    let engine = Engine::new(alb.as_ref(), &metrics, &clock, &observer);
    let died = tokio::time::timeout(
        BAKE + Duration::from_secs(3600),
        engine.deploy(&target(&alb), &s),
    )
    .await;
    assert!(died.is_err(), "the run was still waiting");
    assert_eq!(
        alb.tag("albflip:state").as_deref(),
        Some("awaiting-promotion")
    );
    // `promote` asks, nobody answers within three of its reads, so it withdraws and promotes itself.
    let start = tokio::time::Instant::now();
    let outcome = promote_after(&alb, &s, Duration::ZERO).await;
    assert_eq!(
        outcome,
        Outcome::Completed {
            stable: Color::Green
        }
    );
    assert!(start.elapsed() >= POLL * 3, "{:?}", start.elapsed());
    assert_eq!(alb.tag("albflip:promote-requested").as_deref(), Some(""));
    assert_eq!(greens(&alb), vec![10, 100]);
}

#[tokio::test(start_paused = true)]
async fn a_wait_left_by_an_earlier_deployment_does_not_delay_the_next_canarys_promote() {
    use albflip::aws::api::AlbInventory;
    let alb = Arc::new(InMemoryAlb::new());
    let canary = Strategy::Canary {
        percentage: Percent::new(10).unwrap(),
        auto_promote: false,
    };
    let plain = spec(canary, policy(), GateThresholds::default());
    let second = deploy(&alb, &plain, |c| proportional(c, 0.0)).await;
    assert!(matches!(
        second.result,
        Ok(Outcome::AwaitingPromotion { .. })
    ));
    // A wait an earlier deployment left (rolled back from elsewhere): its deadline is still to come.
    let listener = alb.listener_arn();
    let stale = format!(
        "{}/30/20261129T000000Z-0abc",
        albflip::state::timestamp(std::time::SystemTime::now() + Duration::from_secs(7200))
    );
    alb.set_tags(listener.as_str(), &[("albflip:waiting", stale.as_str())])
        .await
        .unwrap();
    let metrics = ScriptedMetrics::new(alb.clone(), Color::Green, |c: &MetricContext| {
        proportional(c, 0.0)
    });
    let clock = minute_clock();
    let engine = Engine::new(alb.as_ref(), &metrics, &clock, &albflip::events::Ignore);
    let start = tokio::time::Instant::now();
    let asked = engine.request_promotion(&target(&alb)).await.unwrap();
    assert_eq!(asked, None);
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "no run was asked, nothing waited for"
    );
    assert_eq!(
        alb.tag("albflip:promote-requested"),
        None,
        "nothing written"
    );
    assert_eq!(
        engine.promote(&target(&alb), &plain).await.unwrap(),
        Outcome::Completed {
            stable: Color::Green
        }
    );
}
