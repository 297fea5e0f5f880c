//! Issue 15's scenarios through the realistic ALB metrics model (`albflip::testing::alb_model`): metric
//! periods drawn from each color's behaviour and the timestamped weight history, published 60 to 150 s
//! after they end, the load balancer's own 5XX apart, per-node host counts, alarms evaluated on what is
//! published. The engine reads them through the CloudWatch adapter's fold, as on AWS.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use albflip::engine::{DeploySpec, Engine, MetricWindow, Outcome};
use albflip::events::{Collect, Event};
use albflip::model::{Color, Percent, Split};
use albflip::plan::{GateKind, GateThresholds, LatencyStatistic};
use albflip::ports::TokioClock;
use albflip::testing::alb_model::{AlbModel, Behaviour, Course};
use albflip::testing::model_source::{ModelAlarm, ModelMetrics};
use albflip::testing::InMemoryAlb;
use albflip::Error;

use super::{failed_gate, gradual, greens, policy, spec, target, BAKE, PERIOD};

/// Requests a second on the whole route.
const RATE: f64 = 100.0;

/// A deployment through the model, and what it left to assert on.
struct ModelRun {
    alb: Arc<InMemoryAlb>,
    metrics: ModelMetrics,
    result: Result<Outcome, Error>,
    events: Vec<(SystemTime, Event)>,
}

/// The first whole minute from now: the scenarios' clocks start there.
fn start() -> SystemTime {
    albflip::plan::window::align_up(SystemTime::now(), PERIOD)
}

/// ALB-like settings: a 5 min window read 60 s late in 60 s periods.
fn aws(gates: GateThresholds) -> DeploySpec {
    DeploySpec {
        window: MetricWindow {
            window: Duration::from_secs(300),
            lag: Duration::from_secs(60),
            period: PERIOD,
        },
        ..spec(gradual(), policy(), gates)
    }
}

/// Runs `spec` on a load balancer timestamped by a clock that starts at `t0`, with `model`'s metrics and
/// `alarms`; `before` runs first, on that load balancer, in simulated time (e.g. an earlier canary).
async fn deploy_through(
    t0: SystemTime,
    model: AlbModel,
    alarms: Vec<ModelAlarm>,
    spec: &DeploySpec,
    before: impl AsyncFnOnce(&InMemoryAlb),
) -> ModelRun {
    let clock = TokioClock::starting_at(t0);
    let alb = Arc::new(InMemoryAlb::with_clock(clock));
    let metrics = alarms.into_iter().fold(
        ModelMetrics::new(model, alb.clone(), clock),
        ModelMetrics::with_alarm,
    );
    before(&alb).await;
    let observer = Collect::default();
    let engine = Engine::new(alb.as_ref(), &metrics, &clock, &observer);
    let result = engine.deploy(&target(&alb), spec).await;
    ModelRun {
        alb,
        metrics,
        result,
        events: observer.events(),
    }
}

fn nothing() -> impl AsyncFnOnce(&InMemoryAlb) {
    async |_: &InMemoryAlb| {}
}

fn green_course(course: Course) -> AlbModel {
    AlbModel::new(15, RATE).with_course(Color::Green, course)
}

fn rolled_back_message(outcome: &Outcome) -> String {
    match outcome {
        Outcome::RolledBack { failure, .. } => failure.message(),
        other => panic!("expected a rollback, got {other:?}"),
    }
}

fn when(run: &ModelRun, pick: impl Fn(&Event) -> bool) -> SystemTime {
    run.events
        .iter()
        .find(|(_, e)| pick(e))
        .map(|(at, _)| *at)
        .expect("the event happened")
}

#[tokio::test(start_paused = true)]
async fn a_healthy_deployment_through_the_model_completes_in_bake_plus_lag_per_step() {
    let t0 = start();
    let run = deploy_through(
        t0,
        AlbModel::new(1, RATE),
        vec![],
        &aws(GateThresholds::default()),
        nothing(),
    )
    .await;
    assert_eq!(
        run.result.as_ref().unwrap(),
        &Outcome::Completed {
            stable: Color::Green
        }
    );
    assert_eq!(greens(&run.alb), vec![10, 25, 50, 75, 100]);
    let history = run.alb.weight_history();
    let written: Vec<u8> = history.entries()[1..]
        .iter()
        .map(|(_, s)| s.percent_of(Color::Green).get())
        .collect();
    assert_eq!(written, [10, 25, 50, 75, 100], "every write timestamped");
    let took = when(&run, |e| matches!(e, Event::Completed { .. }))
        .duration_since(t0)
        .unwrap();
    assert!(took >= 5 * (BAKE + PERIOD), "{took:?}");
}

/// Issue 15, scenario 1: a canary at 50 % served healthy green traffic for six minutes and was put back
/// by hand a moment ago, so the first windows of the new deployment are full of healthy green periods.
/// Green fails 5 % of its requests from the write on: judged only on the periods after the write, it is
/// rolled back at step 1 and never reaches 25 %. (Read over the last 5 minutes, the pre-step periods would
/// dilute that 5 % to well under the 1 % limit.)
#[tokio::test(start_paused = true)]
async fn a_green_bad_only_after_the_write_is_rolled_back_at_step_1_despite_healthy_pre_step_data() {
    let canary_at = start();
    let t0 = canary_at + 6 * PERIOD;
    let green =
        Course::steady(Behaviour::healthy()).then(t0, Behaviour::healthy().with_target_5xx(0.05));
    let earlier_canary = async |alb: &InMemoryAlb| {
        alb.set_split(Split::to(Color::Green, Percent::new(50).unwrap()));
        tokio::time::sleep(6 * PERIOD).await;
        alb.set_split(Split::all_to(Color::Blue));
    };
    let run = deploy_through(
        canary_at,
        green_course(green),
        vec![],
        &aws(GateThresholds::default()),
        earlier_canary,
    )
    .await;
    let outcome = run.result.unwrap();
    assert_eq!(failed_gate(&outcome), (GateKind::ErrorRate, 1));
    assert_eq!(greens(&run.alb), vec![10, 0]);
    let history: Vec<(SystemTime, u8)> = run
        .alb
        .weight_history()
        .entries()
        .iter()
        .map(|(at, s)| (*at, s.percent_of(Color::Green).get()))
        .collect();
    assert_eq!(
        history[..4],
        [(canary_at, 0), (canary_at, 50), (t0, 0), (t0, 10)],
        "the canary, its put-back and step 1"
    );
    let (rolled_at, green) = history[4];
    let bake_covered = t0 + BAKE + 2 * PERIOD;
    assert!(
        green == 0 && rolled_at > t0 && rolled_at < bake_covered,
        "{history:?}"
    );
    // The pre-step data is there and healthy: the last 5 minutes before the write hold thousands of
    // green requests without an error.
    let far = t0 + 60 * PERIOD;
    let before = run.metrics.published(t0 - 5 * PERIOD, t0, far);
    let green_before: u64 = before.iter().map(|p| p.green.requests).sum();
    assert!(green_before > 10_000, "{green_before}");
    assert_eq!(before.iter().map(|p| p.green.target_5xx).sum::<u64>(), 0);
}

/// Issue 15, scenario 2: green refuses a fifth of its connections. Its targets return no 5XX at all:
/// the failures are only `TargetConnectionErrorCount` and the load balancer's 502s. Rolled back at step 1.
#[tokio::test(start_paused = true)]
async fn a_green_that_refuses_connections_is_rolled_back() {
    let t0 = start();
    let refusing = Course::steady(Behaviour::healthy().with_refused(0.2));
    let run = deploy_through(
        t0,
        green_course(refusing),
        vec![],
        &aws(GateThresholds::default()),
        nothing(),
    )
    .await;
    let outcome = run.result.unwrap();
    assert_eq!(failed_gate(&outcome), (GateKind::ErrorRate, 1));
    assert!(
        rolled_back_message(&outcome).starts_with("green error rate "),
        "{outcome:?}"
    );
    assert_eq!(greens(&run.alb), vec![10, 0]);
    let served = run.metrics.published(t0, t0 + 5 * PERIOD, t0 + 60 * PERIOD);
    assert!(
        served.iter().all(|p| p.green.target_5xx == 0),
        "no target 5XX"
    );
    assert!(served.iter().any(|p| p.green.connection_errors > 0));
    assert!(served
        .iter()
        .all(|p| p.load_balancer.elb_502 == p.green.connection_errors));
}

/// Issue 15, scenario 3: green times out on a fifth of its requests from the write on. No target metric
/// counts a timeout (no 5XX, no connection error, no response time): only the load balancer's own 504s
/// rise, from blue's stray 0.1 % before the step, and the step is rolled back on them.
#[tokio::test(start_paused = true)]
async fn a_green_that_times_out_is_rolled_back_on_the_load_balancers_504s() {
    let t0 = start();
    let timing_out =
        Course::steady(Behaviour::healthy()).then(t0, Behaviour::healthy().with_timeouts(0.2));
    let stray = Course::steady(Behaviour::healthy().with_timeouts(0.001));
    let model = green_course(timing_out).with_course(Color::Blue, stray);
    let run = deploy_through(
        t0,
        model,
        vec![],
        &aws(GateThresholds::default()),
        nothing(),
    )
    .await;
    let outcome = run.result.unwrap();
    assert_eq!(failed_gate(&outcome), (GateKind::LoadBalancerErrors, 1));
    let message = rolled_back_message(&outcome);
    assert!(
        message.starts_with("the load balancer's own 5XX rose from 0.")
            && message.contains("% since the step"),
        "{message}"
    );
    assert_eq!(greens(&run.alb), vec![10, 0]);
    let served = run.metrics.published(t0, t0 + 5 * PERIOD, t0 + 60 * PERIOD);
    assert!(served
        .iter()
        .all(|p| p.green.target_5xx + p.green.connection_errors == 0));
    assert!(served.iter().any(|p| p.load_balancer.elb_504 > 0));
    let before = run.metrics.published(t0 - 5 * PERIOD, t0, t0 + 60 * PERIOD);
    assert!(
        before.iter().any(|p| p.load_balancer.elb_504 > 0),
        "blue's stray 504s"
    );
}

/// Issue 15, scenario 4: polled every 5 s, with periods published 60 to 150 s after they end and the
/// lag configured for that (`--metric-lag 150s`), no step passes before the periods published after its
/// write cover its bake.
#[tokio::test(start_paused = true)]
async fn no_step_passes_before_published_periods_after_its_write_cover_the_bake() {
    steps_pass_only_on_published_periods(Duration::from_secs(150)).await;
}

/// Scenario 4 with the default lag of 60 s, shorter than AWS's worst: the engine takes a period as
/// published `lag` after it ends, and passes a step whose last periods are not published yet.
#[tokio::test(start_paused = true)]
async fn no_step_passes_before_published_periods_cover_the_bake_even_when_aws_is_later_than_the_lag(
) {
    steps_pass_only_on_published_periods(Duration::from_secs(60)).await;
}

async fn steps_pass_only_on_published_periods(lag: Duration) {
    let t0 = start();
    let mut s = aws(GateThresholds::default());
    s.policy.poll_interval = Duration::from_secs(5);
    s.window.lag = lag;
    let run = deploy_through(t0, AlbModel::new(4, RATE), vec![], &s, nothing()).await;
    assert_eq!(
        run.result.as_ref().unwrap(),
        &Outcome::Completed {
            stable: Color::Green
        }
    );
    let model = run.metrics.model();
    let mut written = std::collections::BTreeMap::new();
    let mut passed = 0;
    for (at, e) in &run.events {
        match e {
            Event::WeightsApplied { step, .. } => {
                written.insert(*step, *at);
            }
            Event::StepPassed { step, .. } => {
                // The periods after the write published by then, without a gap.
                let first = albflip::plan::window::align_up(written[step], PERIOD);
                let mut p = first;
                while model.published_at(p) <= *at {
                    p += PERIOD;
                }
                let covered = p.duration_since(first).unwrap();
                assert!(
                    covered >= BAKE,
                    "step {step} passed on {covered:?} of published periods"
                );
                passed += 1;
            }
            _ => {}
        }
    }
    assert_eq!(passed, 5);
}

/// Issue 15, scenario 6: a composite alarm over green's 5XX alarm goes to ALARM once green's failing
/// periods are published and evaluated (minutes after the write); gated on the composite alarm alone
/// (the error-rate gates set out of reach), the step baking then fails on it, and nothing passes after
/// it went off. A step's first poll comes once a whole period after its write is published, so the
/// rollback comes within that (lag + period) and a poll.
#[tokio::test(start_paused = true)]
async fn a_composite_alarm_in_alarm_fails_the_step() {
    composite_alarm_fails_the_step_within(PERIOD + Duration::from_secs(60)).await;
}

/// Scenario 6, at the next poll: the alarm is read only with the metrics, which a step reads only once
/// a period after its write is published, so an alarm that goes off early in a step waits up to
/// lag + period.
#[tokio::test(start_paused = true)]
async fn a_composite_alarm_in_alarm_fails_the_step_at_the_next_poll() {
    composite_alarm_fails_the_step_within(Duration::ZERO).await;
}

async fn composite_alarm_fails_the_step_within(blind: Duration) {
    let t0 = start();
    let gates = GateThresholds {
        alarms: vec!["shop-health".into()],
        max_error_rate: 0.5,
        max_error_rate_increase: 0.5,
        ..GateThresholds::default()
    };
    let failing = Course::steady(Behaviour::healthy().with_target_5xx(0.05));
    let alarms = vec![
        ModelAlarm::error_rate("shop-green-5xx", Color::Green, 0.02),
        ModelAlarm::error_rate("shop-blue-5xx", Color::Blue, 0.02),
        ModelAlarm::composite("shop-health", &["shop-green-5xx", "shop-blue-5xx"]),
    ];
    let s = aws(gates);
    let run = deploy_through(t0, green_course(failing), alarms, &s, nothing()).await;
    let outcome = run.result.as_ref().unwrap();
    let (gate, step) = failed_gate(outcome);
    assert_eq!(gate, GateKind::Alarm("shop-health".into()));
    assert_eq!(
        run.metrics.alarm_state("shop-health", t0),
        Some("OK"),
        "green without traffic breaches nothing before the write"
    );
    let alarm_at = (0..3600)
        .map(|s| t0 + Duration::from_secs(s))
        .find(|at| run.metrics.alarm_state("shop-health", *at) == Some("ALARM"))
        .expect("the composite alarm goes off");
    let rolled = when(&run, |e| matches!(e, Event::RolledBack { .. }));
    assert!(
        rolled >= alarm_at && rolled <= alarm_at + blind + s.policy.poll_interval,
        "rolled back {:?} after the alarm went off",
        rolled.duration_since(alarm_at)
    );
    let passed_after = run
        .events
        .iter()
        .any(|(at, e)| *at >= alarm_at && matches!(e, Event::StepPassed { .. }));
    assert!(!passed_after, "no step passes once the alarm is in ALARM");
    let mut expected = [10, 25, 50, 75, 100][..step].to_vec();
    expected.push(0);
    assert_eq!(greens(&run.alb), expected);
}

/// Issue 15, scenario 7: green's targets turned healthy just before the deployment. `DescribeTargetHealth`
/// lists them healthy, but the load balancer's nodes see them up to 90 s apart, so CloudWatch's
/// `HealthyHostCount` Minimum reads 0 in the first periods. The deployment completes.
#[tokio::test(start_paused = true)]
async fn green_raised_during_the_first_period_does_not_fail_on_per_node_host_counts() {
    let t0 = start();
    let raised = Course::steady(Behaviour::healthy().with_targets(0, 0)).then(
        t0 - Duration::from_secs(10),
        Behaviour::healthy().with_targets(2, 0),
    );
    let run = deploy_through(
        t0,
        green_course(raised),
        vec![],
        &aws(GateThresholds::default()),
        nothing(),
    )
    .await;
    assert_eq!(
        run.result.unwrap(),
        Outcome::Completed {
            stable: Color::Green
        }
    );
    assert_eq!(greens(&run.alb), vec![10, 25, 50, 75, 100]);
    let first = run.metrics.published(t0, t0 + PERIOD, t0 + 60 * PERIOD);
    assert_eq!(
        first[0].green.healthy_min, 0,
        "CloudWatch's per-node minimum reads 0"
    );
    assert!(first[0].green.requests > 0);
}

/// Issue 15, scenario 8: green's median latency is twice blue's (log-normal, same shape), so its p99 is
/// about twice blue's, both well under the 1 s limit: it fails at `max_latency_increase` 1.5 and
/// completes without the comparison.
#[tokio::test(start_paused = true)]
async fn green_p99_at_twice_blues_fails_at_1_5x_under_the_absolute_limit() {
    let slow = Course::steady(Behaviour::healthy().with_median_latency(Duration::from_millis(100)));
    let gates = GateThresholds {
        max_latency_increase: Some(1.5),
        ..GateThresholds::default()
    };
    let run = deploy_through(
        start(),
        green_course(slow.clone()),
        vec![],
        &aws(gates),
        nothing(),
    )
    .await;
    let outcome = run.result.unwrap();
    assert_eq!(failed_gate(&outcome), (GateKind::LatencyIncrease, 1));
    assert_eq!(greens(&run.alb), vec![10, 0]);
    let message = rolled_back_message(&outcome);
    let (green, ratio, blue) = latency_ratio(&message);
    assert!(green < 1.0 && blue < green, "{message}");
    assert!(ratio > 1.5 && ratio < 3.0, "{message}");

    let run = deploy_through(
        start(),
        green_course(slow),
        vec![],
        &aws(GateThresholds::default()),
        nothing(),
    )
    .await;
    assert_eq!(
        run.result.unwrap(),
        Outcome::Completed {
            stable: Color::Green
        },
        "off by default"
    );
    assert_eq!(
        LatencyStatistic::Percentile(99.0),
        GateThresholds::default().latency_statistic
    );
}

/// The numbers of "green p99 latency 0.312 s is 2.1x blue's 0.150 s > 1.5x (...)".
fn latency_ratio(message: &str) -> (f64, f64, f64) {
    let number = |s: &str| s.trim_end_matches('x').parse::<f64>().ok();
    let words: Vec<&str> = message.split_whitespace().collect();
    let at = |i: usize| words.get(i).and_then(|w| number(w));
    match (at(3), at(6), at(8)) {
        (Some(g), Some(r), Some(b)) if message.starts_with("green p99 latency ") => (g, r, b),
        _ => panic!("not a latency comparison: {message}"),
    }
}
