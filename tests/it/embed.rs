//! The library as an embedding program uses it: `lib/examples/gradual.rs`, included as is, runs a
//! deployment against the emulator, to completion and cancelled from another task.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use albflip::aws::arn::ListenerArn;
use albflip::aws::resolve::{RouteSpec, Target};
use albflip::aws::SdkConfig;
use albflip::config::FileConfig;
use albflip::engine::{CancellationToken, Outcome};
use albflip::events::{Collect, Event, Observer};
use albflip::model::Color;

use crate::harness::*;

#[allow(dead_code)] // its `main` and argument parsing
#[path = "../../lib/examples/gradual.rs"]
mod gradual_example;

/// Short timings, in the file the CLI reads, so a deployment takes seconds.
fn fast_config(bake: &str) -> FileConfig {
    let text = format!(
        "[strategy]\nbake = \"{bake}\"\n[gates]\npoll-interval = \"1s\"\nmetric-lag = \"0s\"\n\
         metric-window = \"5s\"\nmetric-period = \"1s\"\nlatency-statistic = \"Average\"\n"
    );
    FileConfig::parse(&text, "albflip.toml".as_ref()).expect("valid albflip.toml")
}

/// The SDK configuration of an embedding program pointed at the emulator, with the test credentials.
async fn emulator_config() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(&emulator().endpoint)
        .credentials_provider(aws_sdk_elasticloadbalancingv2::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .http_client(albflip::aws::sdk::http_client())
        .load()
        .await
}

fn listener(stack: &Stack) -> Target {
    Target::new(RouteSpec::Listener(
        ListenerArn::parse(&stack.listener_arn).expect("listener ARN"),
    ))
}

/// Collects events, and cancels the run once the first step's weights are live.
struct CancelAfterFirstStep {
    events: Collect,
    cancel: CancellationToken,
    armed: AtomicBool,
}

impl Observer for CancelAfterFirstStep {
    fn on_event(&self, at: SystemTime, event: &Event) {
        self.events.on_event(at, event);
        if matches!(event, Event::WeightsApplied { .. }) && self.armed.swap(false, Ordering::SeqCst)
        {
            self.cancel.cancel();
        }
    }
}

#[test]
fn the_gradual_example_completes_on_green() {
    let s = stack(Some(60));
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let spec = gradual_example::spec(Color::Green, Some("50,100"), &fast_config("3s"))
        .expect("valid spec");
    let events = Collect::default();
    let outcome = rt().block_on(async {
        let config = emulator_config().await;
        let cancel = CancellationToken::new();
        gradual_example::run(&config, &listener(&s), &spec, cancel, &events).await
    });
    assert_eq!(
        outcome.expect("deployment"),
        Outcome::Completed {
            stable: Color::Green
        }
    );
    let events: Vec<Event> = events.events().into_iter().map(|(_, e)| e).collect();
    let passed = events
        .iter()
        .filter(|e| matches!(e, Event::StepPassed { .. }))
        .count();
    assert_eq!(passed, 2, "{events:?}");
    let judged = events.iter().any(|e| {
        matches!(e, Event::GateEvaluated { results, .. }
            if results.first().is_some_and(|r| r.verdict == albflip::plan::Verdict::Pass))
    });
    assert!(judged, "no poll judged real traffic: {events:?}");
    assert_completed_on_green(&s, Some((true, Some(60))));
}

#[test]
fn cancelling_the_example_from_another_task_puts_traffic_back_on_blue() {
    let s = stack(Some(60));
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let spec = gradual_example::spec(Color::Green, Some("50,100"), &fast_config("5m"))
        .expect("valid spec");
    let cancel = CancellationToken::new();
    let observer = CancelAfterFirstStep {
        events: Collect::default(),
        cancel: cancel.clone(),
        armed: AtomicBool::new(true),
    };
    let started = std::time::Instant::now();
    let outcome = rt().block_on(async {
        let config = emulator_config().await;
        gradual_example::run(&config, &listener(&s), &spec, cancel, &observer).await
    });
    match outcome.expect("an outcome") {
        Outcome::Interrupted {
            rolled_back, step, ..
        } => assert!(rolled_back && step == 1, "rolled back at step 1"),
        other => panic!("not interrupted: {other:?}"),
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "stopped long before the 5-minute bake"
    );
    assert_eq!(weights(&s), (Some(100), Some(0)));
    assert_eq!(
        tag(&s.listener_arn, "albflip:state").as_deref(),
        Some("interrupted")
    );
}
