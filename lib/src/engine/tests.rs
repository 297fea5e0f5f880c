//! The engine in simulated time on the in-memory load balancer: what it reports when recording fails.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::events::{Collect, Event};
use crate::model::Color;
use crate::plan::{BakePolicy, GateThresholds, Plan, Steps, Strategy};
use crate::ports::{ApiError, ApiErrorKind, Tags, TargetHealth, TokioClock};
use crate::providers::aws::api::{AlbInventory, TargetGroupInfo, TrafficRouter};
use crate::providers::aws::arn::{ListenerArn, LoadBalancerArn, TargetGroupArn};
use crate::providers::aws::resolve::{RouteSpec, Target};
use crate::providers::aws::route::{ForwardAction, RouteId, RouteSnapshot};
use crate::testing::{traffic, InMemoryAlb, ScriptedMetrics};

use super::{DeploySpec, Engine, MetricWindow, Outcome};

/// The in-memory load balancer, whose tag writes fail after the first `tag_writes_allowed`.
struct TagsFailLater {
    alb: Arc<InMemoryAlb>,
    tag_writes_allowed: AtomicU32,
}

impl TrafficRouter for TagsFailLater {
    async fn read(&self, route: &RouteId) -> Result<RouteSnapshot, ApiError> {
        self.alb.read(route).await
    }

    async fn write(
        &self,
        current: &RouteSnapshot,
        forward: &ForwardAction,
    ) -> Result<RouteSnapshot, ApiError> {
        self.alb.write(current, forward).await
    }
}

impl AlbInventory for TagsFailLater {
    async fn find_listener(&self, lb: &str, port: u16) -> Result<RouteSnapshot, ApiError> {
        self.alb.find_listener(lb, port).await
    }

    async fn find_target_group(&self, name: &str) -> Result<Option<TargetGroupInfo>, ApiError> {
        self.alb.find_target_group(name).await
    }

    async fn target_group(
        &self,
        arn: &TargetGroupArn,
    ) -> Result<Option<TargetGroupInfo>, ApiError> {
        self.alb.target_group(arn).await
    }

    async fn tags(&self, arns: &[&str]) -> Result<BTreeMap<String, Tags>, ApiError> {
        self.alb.tags(arns).await
    }

    async fn set_tags(&self, arn: &str, tags: &[(&str, &str)]) -> Result<(), ApiError> {
        let allowed = self.tag_writes_allowed.load(Ordering::SeqCst);
        if allowed == 0 {
            return Err(ApiError::new(
                "memory:SetTags",
                ApiErrorKind::Unreachable,
                "injected failure",
            ));
        }
        self.tag_writes_allowed.store(allowed - 1, Ordering::SeqCst);
        self.alb.set_tags(arn, tags).await
    }

    async fn remove_tags(&self, arn: &str, keys: &[&str]) -> Result<(), ApiError> {
        self.alb.remove_tags(arn, keys).await
    }

    async fn target_group_stickiness(&self, group: &TargetGroupArn) -> Result<bool, ApiError> {
        self.alb.target_group_stickiness(group).await
    }

    async fn find_load_balancer(&self, name: &str) -> Result<Option<LoadBalancerArn>, ApiError> {
        self.alb.find_load_balancer(name).await
    }

    async fn listeners(&self, lb: &LoadBalancerArn) -> Result<Vec<RouteSnapshot>, ApiError> {
        self.alb.listeners(lb).await
    }

    async fn rules(
        &self,
        listeners: &[ListenerArn],
        lb: &LoadBalancerArn,
    ) -> Result<Vec<RouteSnapshot>, ApiError> {
        self.alb.rules(listeners, lb).await
    }

    async fn health(&self, group: &TargetGroupArn) -> Result<TargetHealth, ApiError> {
        self.alb.health(group).await
    }
}

/// A gradual deployment to green, polled every 30 s over a 180 s bake.
fn gradual_spec() -> DeploySpec {
    let policy = BakePolicy {
        bake: Duration::from_secs(180),
        poll_interval: Duration::from_secs(30),
        ..BakePolicy::default()
    };
    let strategy = Strategy::Gradual {
        steps: Steps::gradual(),
    };
    DeploySpec {
        plan: Plan::new(&strategy, Color::Green, policy.bake),
        strategy: strategy.to_string(),
        policy,
        gates: GateThresholds::default(),
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

#[tokio::test(start_paused = true)]
async fn a_failed_record_after_a_rollback_is_reported_to_the_observer_and_the_rollback_stands() {
    let memory = Arc::new(InMemoryAlb::new());
    // The first step's record is written; recording the rollback fails.
    let alb = TagsFailLater {
        alb: memory.clone(),
        tag_writes_allowed: AtomicU32::new(1),
    };
    // Every green request fails: the first poll fails the error-rate gate.
    let metrics = ScriptedMetrics::new(memory.clone(), Color::Green, |c| {
        let green = f64::from(c.new_percent) * 10.0;
        (traffic(green, green), traffic(1000.0 - green, 0.0)).into()
    });
    let (clock, observer) = (TokioClock::new(), Collect::default());
    let engine = Engine::new(&alb, &metrics, &clock, &observer);
    let target = Target::new(RouteSpec::Listener(memory.listener_arn()));

    let outcome = engine.deploy(&target, &gradual_spec()).await;

    assert!(
        matches!(
            outcome,
            Ok(Outcome::RolledBack {
                step: 1,
                to: Color::Blue,
                ..
            })
        ),
        "{outcome:?}"
    );
    assert_eq!(memory.split().percent_of(Color::Green).get(), 0);
    // The record still says the step runs: the rolled-back state could not be written.
    assert_eq!(memory.tag("albflip:state").as_deref(), Some("in-progress"));
    let reported: Vec<Event> = observer
        .events()
        .into_iter()
        .map(|(_, e)| e)
        .filter(|e| matches!(e, Event::RecordFailed { .. }))
        .collect();
    assert_eq!(
        reported,
        vec![Event::RecordFailed {
            route: memory.listener_arn().to_string(),
            error: ApiError::new(
                "memory:SetTags",
                ApiErrorKind::Unreachable,
                "injected failure"
            )
            .to_string(),
        }]
    );
}
