//! Whole deployments in simulated time: the in-memory load balancer, scripted metrics and tokio's paused
//! clock. Each scenario asserts the exact sequence of splits written and the outcome. The gate scenarios
//! of issue 15 run through the realistic ALB metrics model instead (`alb_model.rs`).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use albflip::aws::resolve::{RouteSpec, Target};
use albflip::engine::{DeploySpec, Engine, MetricWindow, Outcome};
use albflip::events::{Collect, Event};
use albflip::model::{Color, Percent, Split};
use albflip::plan::decide::Failure;
use albflip::plan::{
    BakePolicy, GateKind, GateThresholds, JudgeKind, NoDataPolicy, Plan, Steps, Strategy,
};
use albflip::ports::{TargetHealth, TokioClock};
use albflip::testing::{traffic, InMemoryAlb, MetricContext, Sample, ScriptedMetrics};
use albflip::traffic::{rollback, ChangeOptions};
use albflip::Error;

mod alb_model;
mod conformance;
mod judge;
mod wait;

const BAKE: Duration = Duration::from_secs(180);
const POLL: Duration = Duration::from_secs(30);
const PERIOD: Duration = Duration::from_secs(60);

fn spec(strategy: Strategy, policy: BakePolicy, gates: GateThresholds) -> DeploySpec {
    DeploySpec {
        plan: Plan::new(&strategy, Color::Green, policy.bake),
        strategy: strategy.to_string(),
        policy,
        gates,
        window: MetricWindow {
            window: Duration::from_secs(60),
            lag: Duration::ZERO,
            period: Duration::from_secs(60),
        },
        force: false,
        adopt_drift: false,
        ungated: false,
        take_over: false,
        min_healthy_hosts: 1,
        lifecycle: Default::default(),
    }
}

fn policy() -> BakePolicy {
    BakePolicy {
        bake: BAKE,
        poll_interval: POLL,
        ..BakePolicy::default()
    }
}

fn gradual() -> Strategy {
    Strategy::Gradual {
        steps: Steps::gradual(),
    }
}

fn target(alb: &InMemoryAlb) -> Target {
    Target::new(RouteSpec::Listener(alb.listener_arn()))
}

/// Requests in proportion to the split: 10 per percent on each color.
fn proportional(ctx: &MetricContext, new_error_rate: f64) -> Sample {
    let new = f64::from(ctx.new_percent) * 10.0;
    let stable = f64::from(100 - ctx.new_percent) * 10.0;
    (
        traffic(new, (new * new_error_rate).round()),
        traffic(stable, 0.0),
    )
        .into()
}

fn greens(alb: &InMemoryAlb) -> Vec<u8> {
    alb.written()
        .iter()
        .map(|s: &Split| s.percent_of(Color::Green).get())
        .collect()
}

struct Run {
    result: Result<Outcome, Error>,
    events: Vec<(SystemTime, Event)>,
}

/// A clock on a whole minute, so that the scenarios' 60 s metric periods start at the first write and a
/// step's length does not depend on the second the test happens to start in.
fn minute_clock() -> TokioClock {
    TokioClock::starting_at(albflip::plan::window::align_up(
        SystemTime::now(),
        Duration::from_secs(60),
    ))
}

async fn deploy<F>(alb: &Arc<InMemoryAlb>, spec: &DeploySpec, script: F) -> Run
where
    F: Fn(&MetricContext) -> Sample + Send + Sync,
{
    let metrics = ScriptedMetrics::new(alb.clone(), Color::Green, script);
    let clock = minute_clock();
    let observer = Collect::default();
    let engine = Engine::new(alb.as_ref(), &metrics, &clock, &observer);
    let result = engine.deploy(&target(alb), spec).await;
    Run {
        result,
        events: observer.events(),
    }
}

fn failed_gate(outcome: &Outcome) -> (GateKind, usize) {
    match outcome {
        Outcome::RolledBack {
            failure: Failure::Gate { result, .. },
            step,
            to: Color::Blue,
            ..
        } => (result.gate.clone(), *step),
        other => panic!("expected a gate rollback, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_healthy_gradual_deployment_reaches_100_and_makes_green_stable() {
    let alb = Arc::new(InMemoryAlb::new());
    let run = deploy(
        &alb,
        &spec(gradual(), policy(), GateThresholds::default()),
        |c| proportional(c, 0.0),
    )
    .await;
    assert_eq!(
        run.result.unwrap(),
        Outcome::Completed {
            stable: Color::Green
        }
    );
    assert_eq!(greens(&alb), vec![10, 25, 50, 75, 100]);
    assert_eq!(alb.tag("albflip:stable").as_deref(), Some("green"));
    assert_eq!(alb.tag("albflip:state").as_deref(), Some("complete"));
    let passed = run
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::StepPassed { .. }))
        .count();
    assert_eq!(passed, 5);
}

#[tokio::test(start_paused = true)]
async fn errors_at_the_first_step_roll_back_at_once() {
    let alb = Arc::new(InMemoryAlb::new());
    let run = deploy(
        &alb,
        &spec(gradual(), policy(), GateThresholds::default()),
        |c| proportional(c, 0.2),
    )
    .await;
    let outcome = run.result.unwrap();
    assert_eq!(failed_gate(&outcome), (GateKind::ErrorRate, 1));
    assert_eq!(greens(&alb), vec![10, 0]);
    assert_eq!(alb.tag("albflip:state").as_deref(), Some("rolled-back"));
    assert_eq!(
        alb.tag("albflip:stable"),
        None,
        "blue stays stable by default"
    );
}

#[tokio::test(start_paused = true)]
async fn fine_at_10_and_25_failing_at_50() {
    let alb = Arc::new(InMemoryAlb::new());
    let run = deploy(
        &alb,
        &spec(gradual(), policy(), GateThresholds::default()),
        |c| proportional(c, if c.new_percent >= 50 { 0.05 } else { 0.0 }),
    )
    .await;
    let outcome = run.result.unwrap();
    assert_eq!(failed_gate(&outcome), (GateKind::ErrorRate, 3));
    assert_eq!(greens(&alb), vec![10, 25, 50, 0]);
    match outcome {
        Outcome::RolledBack { failure, .. } => {
            assert!(
                failure.message().starts_with(
                    "green 5XX 5% (25 of 500): above 1% with 99.8% confidence (evidence "
                ),
                "{}",
                failure.message()
            )
        }
        _ => unreachable!(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_latency_breach_rolls_back() {
    let alb = Arc::new(InMemoryAlb::new());
    let run = deploy(
        &alb,
        &spec(gradual(), policy(), GateThresholds::default()),
        |c| {
            let mut s = proportional(c, 0.0);
            if c.new_percent >= 25 {
                s.new.latency_seconds = Some(2.5);
            }
            s
        },
    )
    .await;
    assert_eq!(failed_gate(&run.result.unwrap()), (GateKind::Latency, 2));
    assert_eq!(greens(&alb), vec![10, 25, 0]);
}

#[tokio::test(start_paused = true)]
async fn healthy_hosts_dropping_to_zero_rolls_back() {
    let alb = Arc::new(InMemoryAlb::new());
    // The host gates read the router's health checks live: green's targets fail them at 75 %.
    let health = alb.clone();
    let run = deploy(
        &alb,
        &spec(gradual(), policy(), GateThresholds::default()),
        move |c| {
            if c.new_percent >= 75 {
                health.set_health(Color::Green, TargetHealth::of(0, 2));
            }
            proportional(c, 0.0)
        },
    )
    .await;
    assert_eq!(
        failed_gate(&run.result.unwrap()),
        (GateKind::HealthyHosts, 4)
    );
    assert_eq!(greens(&alb), vec![10, 25, 50, 75, 0]);
}

/// Unhealthy targets counted live by the router's health checks fail the step, whatever CloudWatch's
/// per-node statistic says.
#[tokio::test(start_paused = true)]
async fn unhealthy_targets_counted_live_roll_back() {
    let alb = Arc::new(InMemoryAlb::new());
    alb.set_health(
        Color::Green,
        TargetHealth {
            unhealthy: 1,
            ..TargetHealth::of(2, 3)
        },
    );
    let run = deploy(
        &alb,
        &spec(gradual(), policy(), GateThresholds::default()),
        |c| proportional(c, 0.0),
    )
    .await;
    assert_eq!(
        failed_gate(&run.result.unwrap()),
        (GateKind::UnhealthyHosts, 1)
    );
    assert_eq!(greens(&alb), vec![10, 0]);
}

#[tokio::test(start_paused = true)]
async fn an_alarm_in_alarm_rolls_back() {
    let alb = Arc::new(InMemoryAlb::new());
    let gates = GateThresholds {
        alarms: vec!["shop-p99".into()],
        ..Default::default()
    };
    let run = deploy(&alb, &spec(gradual(), policy(), gates), |c| {
        let mut s = proportional(c, 0.0);
        let state = if c.new_percent >= 50 { "ALARM" } else { "OK" };
        s.alarms = vec![("shop-p99".into(), state.into())];
        s
    })
    .await;
    assert_eq!(
        failed_gate(&run.result.unwrap()),
        (GateKind::Alarm("shop-p99".into()), 3)
    );
    assert_eq!(greens(&alb), vec![10, 25, 50, 0]);
}

#[tokio::test(start_paused = true)]
async fn no_traffic_under_each_no_data_policy() {
    let none = |_: &MetricContext| -> Sample { (traffic(0.0, 0.0), traffic(0.0, 0.0)).into() };
    let extension = Duration::from_secs(60);
    // wait: bakes through the bake and the extension, then fails the step.
    let alb = Arc::new(InMemoryAlb::new());
    let p = BakePolicy {
        on_no_data: NoDataPolicy::Wait,
        max_bake_extension: extension,
        ..policy()
    };
    let start = tokio::time::Instant::now();
    let run = deploy(&alb, &spec(gradual(), p, GateThresholds::default()), none).await;
    assert!(matches!(
        run.result.unwrap(),
        Outcome::RolledBack {
            failure: Failure::NoData { .. },
            step: 1,
            ..
        }
    ));
    assert_eq!(greens(&alb), vec![10, 0]);
    assert_eq!(
        start.elapsed(),
        BAKE + extension,
        "waited exactly the bake plus the extension"
    );
    // fail: the first judged poll fails.
    let alb = Arc::new(InMemoryAlb::new());
    let p = BakePolicy {
        on_no_data: NoDataPolicy::Fail,
        ..policy()
    };
    let start = tokio::time::Instant::now();
    let run = deploy(&alb, &spec(gradual(), p, GateThresholds::default()), none).await;
    assert!(matches!(
        run.result.unwrap(),
        Outcome::RolledBack {
            failure: Failure::NoData { .. },
            step: 1,
            ..
        }
    ));
    // The first poll that reads a whole period after the write (60 s periods, polls every 30 s).
    assert_eq!(start.elapsed(), 2 * POLL);
    assert_eq!(greens(&alb), vec![10, 0]);
    // pass: completes.
    let alb = Arc::new(InMemoryAlb::new());
    let p = BakePolicy {
        on_no_data: NoDataPolicy::Pass,
        ..policy()
    };
    let run = deploy(&alb, &spec(gradual(), p, GateThresholds::default()), none).await;
    assert_eq!(
        run.result.unwrap(),
        Outcome::Completed {
            stable: Color::Green
        }
    );
    assert_eq!(greens(&alb), vec![10, 25, 50, 75, 100]);
}

/// The wait for data is announced at each poll with when it ends, and the step fails for want of data
/// exactly then: what the live view counts down ("waiting for data, gives up in 20 s") is the engine's
/// own limit, from the run's settings (the bake, `max_bake_extension`, the lag and period).
#[tokio::test(start_paused = true)]
async fn the_wait_for_data_says_when_it_gives_up_and_gives_up_then() {
    let none = |_: &MetricContext| -> Sample { (traffic(0.0, 0.0), traffic(0.0, 0.0)).into() };
    let extension = Duration::from_secs(60);
    for judge in [JudgeKind::Sequential, JudgeKind::Threshold] {
        let alb = Arc::new(InMemoryAlb::new());
        let p = BakePolicy {
            on_no_data: NoDataPolicy::Wait,
            max_bake_extension: extension,
            ..policy()
        };
        let gates = GateThresholds {
            judge,
            ..GateThresholds::default()
        };
        let run = deploy(&alb, &spec(gradual(), p, gates), none).await;
        let at = |wanted: fn(&Event) -> bool| {
            run.events
                .iter()
                .find(|(_, e)| wanted(e))
                .map(|(t, _)| *t)
                .unwrap()
        };
        let written = at(|e| matches!(e, Event::WeightsApplied { .. }));
        let failed = at(|e| matches!(e, Event::RollingBack { .. }));
        let waits: Vec<(f64, f64, &str)> = run
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::WaitingForData {
                    elapsed_seconds,
                    gives_up_seconds,
                    reason,
                    ..
                } => Some((*elapsed_seconds, *gives_up_seconds, reason.as_str())),
                _ => None,
            })
            .collect();
        // The first poll (30 s) comes before the first 60 s period after the write is published: the
        // wait for it ends at the step's expected length plus the extension.
        let length = albflip::plan::step_length(BAKE, Duration::ZERO, PERIOD);
        assert_eq!(
            waits.first().copied(),
            Some((
                30.0,
                (length + extension).as_secs_f64(),
                "no metric period after the step's write is published yet"
            )),
            "{judge:?}"
        );
        // Then the periods hold no request: the wait ends at the bake plus the extension, when the
        // step fails.
        let last = waits.last().unwrap();
        assert_eq!(last.1, (BAKE + extension).as_secs_f64(), "{judge:?}");
        assert!(last.0 < last.1 && last.2.contains("green"), "{last:?}");
        assert_eq!(
            failed.duration_since(written).unwrap(),
            BAKE + extension,
            "{judge:?}: failed when announced"
        );
        assert!(matches!(
            run.result.unwrap(),
            Outcome::RolledBack {
                failure: Failure::NoData { .. },
                ..
            }
        ));
    }
}

#[tokio::test(start_paused = true)]
async fn a_breach_shorter_than_the_failure_threshold_does_not_roll_back() {
    let alb = Arc::new(InMemoryAlb::new());
    let p = BakePolicy {
        failure_threshold: 2,
        ..policy()
    };
    let polls = std::sync::atomic::AtomicU32::new(0);
    // The failure threshold is the threshold judge's (the sequential judge fails on evidence).
    let gates = GateThresholds {
        judge: JudgeKind::Threshold,
        ..GateThresholds::default()
    };
    let run = deploy(&alb, &spec(gradual(), p, gates), |c| {
        // One bad poll (the second), then healthy again.
        let n = polls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        proportional(c, if n == 1 { 0.5 } else { 0.0 })
    })
    .await;
    assert_eq!(
        run.result.unwrap(),
        Outcome::Completed {
            stable: Color::Green
        }
    );
    assert_eq!(greens(&alb), vec![10, 25, 50, 75, 100]);
    let failed_polls = run
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::GateEvaluated { results, .. } if results.iter().any(|r| r.verdict == albflip::plan::Verdict::Fail)))
        .count();
    assert_eq!(failed_polls, 1);
}

#[tokio::test(start_paused = true)]
async fn canary_waits_for_promotion_then_promote_completes() {
    let alb = Arc::new(InMemoryAlb::new());
    let canary = Strategy::Canary {
        percentage: Percent::new(10).unwrap(),
        auto_promote: false,
    };
    let s = spec(canary, policy(), GateThresholds::default());
    let run = deploy(&alb, &s, |c| proportional(c, 0.0)).await;
    assert_eq!(
        run.result.unwrap(),
        Outcome::AwaitingPromotion {
            target: Color::Green,
            percent: 10
        }
    );
    assert_eq!(greens(&alb), vec![10]);
    assert_eq!(
        alb.tag("albflip:state").as_deref(),
        Some("awaiting-promotion")
    );
    // A new deployment is refused while the canary waits.
    let again = deploy(&alb, &s, |c| proportional(c, 0.0)).await;
    assert!(
        matches!(again.result, Err(Error::Conflict { .. })),
        "{:?}",
        again.result
    );
    // Promote.
    let metrics = ScriptedMetrics::new(alb.clone(), Color::Green, |c: &MetricContext| {
        proportional(c, 0.0)
    });
    let clock = minute_clock();
    let observer = Collect::default();
    let engine = Engine::new(alb.as_ref(), &metrics, &clock, &observer);
    let start = tokio::time::Instant::now();
    assert_eq!(
        engine.promote(&target(&alb), &s).await.unwrap(),
        Outcome::Completed {
            stable: Color::Green
        }
    );
    assert_eq!(start.elapsed(), BAKE, "the promotion bakes under the gates");
    assert_eq!(greens(&alb), vec![10, 100]);
    assert_eq!(alb.tag("albflip:stable").as_deref(), Some("green"));
}

#[tokio::test(start_paused = true)]
async fn canary_then_rollback_abandons_it() {
    let alb = Arc::new(InMemoryAlb::new());
    let canary = Strategy::Canary {
        percentage: Percent::new(20).unwrap(),
        auto_promote: false,
    };
    let run = deploy(
        &alb,
        &spec(canary, policy(), GateThresholds::default()),
        |c| proportional(c, 0.0),
    )
    .await;
    assert!(matches!(
        run.result.unwrap(),
        Outcome::AwaitingPromotion { percent: 20, .. }
    ));
    let outcome = rollback(
        alb.as_ref(),
        &TokioClock::new(),
        &target(&alb),
        None,
        ChangeOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(outcome.after, Split::all_to(Color::Blue));
    assert_eq!(greens(&alb), vec![20, 0]);
    assert_eq!(alb.tag("albflip:state").as_deref(), Some("rolled-back"));
}

#[tokio::test(start_paused = true)]
async fn canary_with_auto_promote_runs_to_100() {
    let alb = Arc::new(InMemoryAlb::new());
    let canary = Strategy::Canary {
        percentage: Percent::new(10).unwrap(),
        auto_promote: true,
    };
    let run = deploy(
        &alb,
        &spec(canary, policy(), GateThresholds::default()),
        |c| proportional(c, 0.0),
    )
    .await;
    assert_eq!(
        run.result.unwrap(),
        Outcome::Completed {
            stable: Color::Green
        }
    );
    assert_eq!(greens(&alb), vec![10, 100]);
}

#[tokio::test(start_paused = true)]
async fn detection_happens_at_the_first_poll_after_the_breach_is_visible() {
    let alb = Arc::new(InMemoryAlb::new());
    // The deployment's clock starts on a whole minute (`minute_clock`); the first step is written then.
    let t0 = albflip::plan::window::align_up(SystemTime::now(), PERIOD);
    // The breach becomes visible in the metrics 100 s into the first step's bake.
    let breach = t0 + Duration::from_secs(100);
    let run = deploy(
        &alb,
        &spec(gradual(), policy(), GateThresholds::default()),
        move |c| proportional(c, if c.end >= breach { 0.3 } else { 0.0 }),
    )
    .await;
    assert_eq!(failed_gate(&run.result.unwrap()), (GateKind::ErrorRate, 1));
    let rolled_at = run
        .events
        .iter()
        .find(|(_, e)| matches!(e, Event::RolledBack { .. }))
        .map(|(at, _)| *at)
        .expect("rolled back");
    let delay = rolled_at.duration_since(breach).unwrap();
    // It shows in the first period that ends after it, and the next poll reads that period.
    assert!(
        delay <= PERIOD + POLL,
        "detected {delay:?} after the breach; the period is {PERIOD:?}, the poll interval {POLL:?}"
    );
    assert!(
        rolled_at.duration_since(t0).unwrap() < BAKE,
        "not at the end of the bake"
    );
    assert_eq!(greens(&alb), vec![10, 0]);
}

#[tokio::test(start_paused = true)]
async fn drift_stops_the_deployment_without_writing() {
    let alb = Arc::new(InMemoryAlb::new());
    let alb2 = alb.clone();
    let run = deploy(
        &alb,
        &spec(gradual(), policy(), GateThresholds::default()),
        move |c| {
            if c.new_percent == 25 {
                // Someone sets 40 % by hand while step 2 bakes.
                alb2.set_split(Split::to(Color::Green, Percent::new(40).unwrap()));
            }
            proportional(c, 0.0)
        },
    )
    .await;
    assert!(
        matches!(run.result, Err(Error::Drift { .. })),
        "{:?}",
        run.result.as_ref().err()
    );
    assert_eq!(
        greens(&alb),
        vec![10, 25],
        "nothing written after the drift"
    );
    assert_eq!(alb.split().percent_of(Color::Green).get(), 40);
    assert_eq!(
        alb.tag("albflip:step").as_deref(),
        Some("2"),
        "no tag written after the drift either: the record is at the last step applied"
    );
    assert_eq!(alb.tag("albflip:state").as_deref(), Some("in-progress"));
}

#[tokio::test(start_paused = true)]
async fn a_failed_write_mid_deployment_returns_traffic_to_stable() {
    let alb = Arc::new(InMemoryAlb::new());
    let alb2 = alb.clone();
    let run = deploy(
        &alb,
        &spec(gradual(), policy(), GateThresholds::default()),
        move |c| {
            if c.new_percent == 25 {
                alb2.fail_writes(1);
            }
            proportional(c, 0.0)
        },
    )
    .await;
    assert!(
        matches!(
            run.result,
            Err(Error::Aborted {
                stable: Color::Blue,
                ..
            })
        ),
        "{:?}",
        run.result
    );
    assert_eq!(greens(&alb), vec![10, 25, 0]);
}

#[tokio::test(start_paused = true)]
async fn no_healthy_targets_on_the_new_color_refuses_to_start() {
    let alb = Arc::new(InMemoryAlb::new());
    alb.set_health(Color::Green, TargetHealth::of(0, 2));
    let run = deploy(
        &alb,
        &spec(gradual(), policy(), GateThresholds::default()),
        |c| proportional(c, 0.0),
    )
    .await;
    assert!(
        matches!(
            run.result,
            Err(Error::NoHealthyTargets {
                color: Color::Green,
                ..
            })
        ),
        "{:?}",
        run.result
    );
    assert!(greens(&alb).is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_unknown_alarm_refuses_to_start() {
    let alb = Arc::new(InMemoryAlb::new());
    let gates = GateThresholds {
        alarms: vec!["shop-p99".into(), "typo".into()],
        ..Default::default()
    };
    let run = deploy(&alb, &spec(gradual(), policy(), gates), |c| {
        let mut s = proportional(c, 0.0);
        s.alarms = vec![("shop-p99".into(), "OK".into())];
        s
    })
    .await;
    match run.result {
        Err(e @ Error::Invalid { .. }) => {
            assert_eq!(e.input(), Some(albflip::error::Input::Alarm), "{e}");
            assert!(e.to_string().contains(" typo"), "{e}")
        }
        other => panic!("expected an invalid-input error, got {other:?}"),
    }
    assert!(greens(&alb).is_empty(), "nothing written");
}

async fn cancelled_run(
    on_interrupt: albflip::engine::OnInterrupt,
) -> (Arc<InMemoryAlb>, Result<Outcome, Error>) {
    let alb = Arc::new(InMemoryAlb::new());
    let metrics = ScriptedMetrics::new(alb.clone(), Color::Green, |c: &MetricContext| {
        proportional(c, 0.0)
    });
    let clock = minute_clock();
    let observer = Collect::default();
    let token = tokio_util::sync::CancellationToken::new();
    let engine = Engine::new(alb.as_ref(), &metrics, &clock, &observer)
        .with_cancellation(token.clone(), on_interrupt);
    let s = spec(gradual(), policy(), GateThresholds::default());
    // Cancel from another task 200 s in: during the second step's bake.
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(200)).await;
        token.cancel();
    });
    let result = engine.deploy(&target(&alb), &s).await;
    canceller.await.unwrap();
    (alb, result)
}

#[tokio::test(start_paused = true)]
async fn cancelling_rolls_traffic_back_and_records_the_interruption() {
    let (alb, result) = cancelled_run(albflip::engine::OnInterrupt::Rollback).await;
    match result.unwrap() {
        Outcome::Interrupted {
            rolled_back: true,
            step: 2,
            split,
        } => assert_eq!((split.blue, split.green), (100, 0)),
        other => panic!("expected an interrupted rollback, got {other:?}"),
    }
    assert_eq!(greens(&alb), vec![10, 25, 0]);
    assert_eq!(alb.tag("albflip:state").as_deref(), Some("interrupted"));
}

#[tokio::test(start_paused = true)]
async fn cancelling_with_hold_leaves_the_weights_and_blocks_a_new_deploy() {
    let (alb, result) = cancelled_run(albflip::engine::OnInterrupt::Hold).await;
    assert!(matches!(
        result.unwrap(),
        Outcome::Interrupted {
            rolled_back: false,
            step: 2,
            ..
        }
    ));
    assert_eq!(greens(&alb), vec![10, 25]);
    let again = deploy(
        &alb,
        &spec(gradual(), policy(), GateThresholds::default()),
        |c| proportional(c, 0.0),
    )
    .await;
    assert!(
        matches!(again.result, Err(Error::Conflict { .. })),
        "{:?}",
        again.result
    );
    rollback(
        alb.as_ref(),
        &TokioClock::new(),
        &target(&alb),
        None,
        ChangeOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(alb.tag("albflip:state").as_deref(), Some("rolled-back"));
}

/// Issue 17, the lease: a second run whose clock is ten minutes ahead sees the live holder's lease as
/// expired. It must not take it over: it watches the lease's version for a whole ttl on its own clock,
/// sees the holder renew it, and is refused.
#[tokio::test(start_paused = true)]
async fn a_run_with_a_clock_ahead_never_takes_a_live_holders_lease() {
    use albflip::lock;
    use albflip::testing::InMemoryLock;
    let store = Arc::new(InMemoryLock::default());
    let ttl = Duration::from_secs(120);
    let now = SystemTime::now();
    let first = lock::acquire(
        store.clone(),
        "listener-1",
        "jenkins-1 (pid 1)",
        ttl,
        TokioClock::starting_at(now),
    )
    .await
    .unwrap();
    let ahead = TokioClock::starting_at(now + Duration::from_secs(600));
    let started = tokio::time::Instant::now();
    let second = lock::acquire(store.clone(), "listener-1", "jenkins-2 (pid 2)", ttl, ahead).await;
    assert!(
        matches!(second, Err(Error::Conflict { .. })),
        "a live holder's lease was taken over by a skewed clock"
    );
    assert!(
        started.elapsed() >= ttl,
        "it watched the lease for a whole ttl first"
    );
    assert!(!first.lost().is_cancelled(), "the first run still holds it");
    first.release().await.unwrap();
}

/// Issue 17, the lease: a holder that died (its lease never renewed again) is taken over, but only after
/// the new run has seen its version unchanged for a whole ttl on its own clock.
#[tokio::test(start_paused = true)]
async fn a_dead_holders_lease_is_taken_over_after_a_whole_ttl_unchanged() {
    use albflip::lock;
    use albflip::ports::Lock;
    use albflip::testing::InMemoryLock;
    let store = Arc::new(InMemoryLock::default());
    let ttl = Duration::from_secs(120);
    let now = SystemTime::now();
    store.put(
        "listener-1",
        "killed (pid 3)",
        now - Duration::from_secs(600),
        ttl,
    );
    let started = tokio::time::Instant::now();
    let held = lock::acquire(
        store.clone(),
        "listener-1",
        "jenkins-2 (pid 2)",
        ttl,
        TokioClock::starting_at(now),
    )
    .await
    .unwrap();
    assert!(
        started.elapsed() >= ttl,
        "taken over only after a whole ttl unchanged"
    );
    let holder = store.holder("listener-1").await.unwrap().unwrap();
    assert_eq!(holder.holder, "jenkins-2 (pid 2)");
    held.release().await.unwrap();
}

#[tokio::test]
async fn a_second_holder_is_refused_with_who_and_since_and_the_lease_is_renewed_and_released() {
    use albflip::lock;
    use albflip::testing::InMemoryLock;
    let store = Arc::new(InMemoryLock::default());
    let ttl = Duration::from_millis(300);
    let first = lock::acquire(
        store.clone(),
        "listener-1",
        "jenkins-1 (pid 1)",
        ttl,
        TokioClock::new(),
    )
    .await
    .unwrap();
    match lock::acquire(
        store.clone(),
        "listener-1",
        "jenkins-2 (pid 2)",
        ttl,
        TokioClock::new(),
    )
    .await
    {
        Err(e @ Error::Conflict { .. }) => {
            let text = e.to_string();
            assert!(text.contains("jenkins-1 (pid 1) since"), "{text}");
            assert!(
                e.text().0.contains(&albflip::error::Segment::Next(
                    albflip::error::Next::ForceUnlock
                )),
                "{text}"
            );
        }
        other => panic!("expected a conflict, got {:?}", other.err()),
    }
    // Renewal keeps the lease alive well past its ttl.
    tokio::time::sleep(ttl * 3).await;
    assert!(lock::acquire(
        store.clone(),
        "listener-1",
        "jenkins-2 (pid 2)",
        ttl,
        TokioClock::new()
    )
    .await
    .is_err());
    assert!(!first.lost().is_cancelled());
    first.release().await.unwrap();
    let second = lock::acquire(
        store.clone(),
        "listener-1",
        "jenkins-2 (pid 2)",
        ttl,
        TokioClock::new(),
    )
    .await
    .unwrap();
    second.release().await.unwrap();
    // A holder that dies (never renews) loses the lease once it expires.
    use albflip::ports::Lock;
    store
        .acquire("listener-2", "killed (pid 3)", ttl, SystemTime::now(), None)
        .await
        .unwrap()
        .unwrap();
    assert!(lock::acquire(
        store.clone(),
        "listener-2",
        "jenkins-3 (pid 4)",
        ttl,
        TokioClock::new()
    )
    .await
    .is_err());
    tokio::time::sleep(ttl + Duration::from_millis(1100)).await;
    let third = lock::acquire(
        store.clone(),
        "listener-2",
        "jenkins-3 (pid 4)",
        ttl,
        TokioClock::new(),
    )
    .await
    .unwrap();
    third.release().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn adopt_drift_continues_from_the_live_split() {
    let alb = Arc::new(InMemoryAlb::new());
    let alb2 = alb.clone();
    let mut s = spec(gradual(), policy(), GateThresholds::default());
    s.adopt_drift = true;
    let run = deploy(&alb, &s, move |c| {
        if c.new_percent == 25 {
            alb2.set_split(Split::to(Color::Green, Percent::new(40).unwrap()));
        }
        proportional(c, 0.0)
    })
    .await;
    assert_eq!(
        run.result.unwrap(),
        Outcome::Completed {
            stable: Color::Green
        }
    );
    assert_eq!(
        greens(&alb),
        vec![10, 25, 50, 75, 100],
        "continued from 40 % to the next step"
    );
    let adopted = run.events.iter().find_map(|(_, e)| match e {
        Event::DriftAdopted {
            expected, found, ..
        } => Some((expected.green, found.green)),
        _ => None,
    });
    assert_eq!(adopted, Some((25, 40)));
}

#[tokio::test(start_paused = true)]
async fn target_group_stickiness_blocks_the_conversion_aws_would_refuse() {
    let alb = Arc::new(InMemoryAlb::new());
    alb.set_single_group();
    alb.set_target_group_stickiness(Color::Green);
    let run = deploy(
        &alb,
        &spec(gradual(), policy(), GateThresholds::default()),
        |c| proportional(c, 0.0),
    )
    .await;
    match run.result {
        Err(e @ Error::UnsupportedRoute { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("sim-shop-green-tg has target-group stickiness"),
                "{text}"
            );
            assert!(text.contains("stickiness.enabled,Value=false"), "{text}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(greens(&alb).is_empty(), "nothing written");
    assert_eq!(alb.tag("albflip:state"), None, "not even a state tag");
}

/// The custom metric source example (lib/examples/custom_metrics.rs), run as it is.
#[allow(dead_code)]
#[path = "../../lib/examples/custom_metrics.rs"]
mod custom_metrics_example;

#[tokio::test(start_paused = true)]
async fn the_custom_metric_source_example_completes_on_clean_counts_and_rolls_back_on_errors() {
    let clean = custom_metrics_example::deploy(0.0).await;
    assert!(matches!(clean, Ok(Outcome::Completed { .. })), "{clean:?}");
    let faulty = custom_metrics_example::deploy(0.05).await;
    assert!(
        matches!(faulty, Ok(Outcome::RolledBack { .. })),
        "{faulty:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_route_without_room_for_the_record_tags_is_refused_before_any_write() {
    use albflip::aws::api::AlbInventory;
    let alb = Arc::new(InMemoryAlb::new());
    let owned: Vec<(String, String)> = (0..45)
        .map(|i| (format!("team:tag-{i:02}"), "x".to_string()))
        .collect();
    let pairs: Vec<(&str, &str)> = owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    alb.set_tags(alb.listener_arn().as_str(), &pairs)
        .await
        .unwrap();
    let run = deploy(
        &alb,
        &spec(gradual(), policy(), GateThresholds::default()),
        |c| proportional(c, 0.0),
    )
    .await;
    let err = run.result.unwrap_err();
    assert_eq!(err.kind(), albflip::ErrorKind::Runtime, "{err}");
    let message = err.to_string();
    assert!(
        message.contains("carries 45 tags") && message.contains("team:tag-00, team:tag-01"),
        "{message}"
    );
    assert!(alb.written().is_empty(), "nothing written");
    assert_eq!(alb.tag("albflip:state"), None);
}
