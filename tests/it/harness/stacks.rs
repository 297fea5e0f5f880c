//! Stacks: copies of the reference stack (`localstack/create-stack`) and the odd shapes tests build on
//! them: extra target groups and listeners, default actions set directly, deregistered targets.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_elasticloadbalancingv2 as elb;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, TargetGroupStickinessConfig, TargetGroupTuple,
};
use serde_json::Value;

use super::emulator::{emulator, repo, rt};
use super::readers::elb;

/// One copy of the reference stack.
#[derive(Debug, Clone)]
pub struct Stack {
    pub environment: String,
    pub application: String,
    pub load_balancer_arn: String,
    pub listener_arn: String,
    pub blue_tg: String,
    pub green_tg: String,
    pub lock_table: String,
}

impl Stack {
    pub fn lb_name(&self) -> String {
        format!("{}-{}-alb", self.environment, self.application)
    }

    /// The flags that name this stack by the naming convention.
    pub fn convention(&self) -> Vec<String> {
        vec![
            "--environment".into(),
            self.environment.clone(),
            "--application".into(),
            self.application.clone(),
        ]
    }

    /// The flags that name the listener by ARN.
    pub fn by_arn(&self) -> Vec<String> {
        vec!["--listener-arn".into(), self.listener_arn.clone()]
    }
}

/// Creates a fresh stack: `stickiness` makes the listener a weighted 100/0 forward with stickiness.
pub fn stack(stickiness: Option<u32>) -> Stack {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let environment = format!("t{}x{n}", std::process::id() % 10_000);
    let cmd = Command::new(repo().join("localstack/create-stack"));
    create_stack(cmd, &emulator().endpoint, &environment, stickiness).0
}

/// Runs `localstack/create-stack` (a prepared command, e.g. with credentials) for application `shop` of
/// `environment` on `endpoint`: the stack and create-stack's JSON outputs.
pub fn create_stack(
    mut cmd: Command,
    endpoint: &str,
    environment: &str,
    stickiness: Option<u32>,
) -> (Stack, Value) {
    cmd.args([
        "--endpoint",
        endpoint,
        "--environment",
        environment,
        "--application",
        "shop",
    ]);
    if let Some(s) = stickiness {
        cmd.args(["--stickiness", &s.to_string()]);
    }
    let out = cmd.output().expect("run localstack/create-stack");
    assert!(
        out.status.success(),
        "create-stack on {endpoint} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("create-stack prints JSON");
    let s = |k: &str| {
        v[k].as_str()
            .unwrap_or_else(|| panic!("output {k} missing in {v}"))
            .to_string()
    };
    let stack = Stack {
        load_balancer_arn: s("LoadBalancerArn"),
        listener_arn: s("ListenerArn"),
        blue_tg: s("BlueTargetGroupArn"),
        green_tg: s("GreenTargetGroupArn"),
        lock_table: s("LockTableName"),
        environment: environment.to_string(),
        application: "shop".to_string(),
    };
    (stack, v)
}

/// Sets a listener's default actions directly through the API (to build odd states).
pub fn set_default_actions(listener_arn: &str, actions: Vec<Action>) {
    rt().block_on(async {
        elb()
            .modify_listener()
            .listener_arn(listener_arn)
            .set_default_actions(Some(actions))
            .send()
            .await
            .expect("modify listener");
    })
}

/// A fixed 503 "maintenance" response: an action that forwards to no target group.
pub fn maintenance_response() -> Action {
    use aws_sdk_elasticloadbalancingv2::types::FixedResponseActionConfig;
    Action::builder()
        .r#type(ActionTypeEnum::FixedResponse)
        .fixed_response_config(
            FixedResponseActionConfig::builder()
                .status_code("503")
                .content_type("text/plain")
                .message_body("maintenance")
                .build(),
        )
        .build()
}

/// A weighted forward action.
pub fn weighted(groups: &[(&str, i32)], stickiness: Option<(bool, i32)>) -> Action {
    let mut cfg = ForwardActionConfig::builder().set_target_groups(Some(
        groups
            .iter()
            .map(|(arn, w)| {
                TargetGroupTuple::builder()
                    .target_group_arn(*arn)
                    .weight(*w)
                    .build()
            })
            .collect(),
    ));
    if let Some((enabled, d)) = stickiness {
        cfg = cfg.target_group_stickiness_config(
            TargetGroupStickinessConfig::builder()
                .enabled(enabled)
                .duration_seconds(d)
                .build(),
        );
    }
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(cfg.build())
        .build()
}

/// Creates an extra target group in the stack's VPC and returns its ARN.
pub fn extra_target_group(stack: &Stack, suffix: &str) -> String {
    rt().block_on(async {
        let c = elb();
        let tg = c
            .describe_target_groups()
            .target_group_arns(&stack.blue_tg)
            .send()
            .await
            .expect("describe tg");
        let vpc = tg.target_groups()[0]
            .vpc_id()
            .unwrap_or_default()
            .to_string();
        let out = c
            .create_target_group()
            .name(format!("{}-{suffix}", stack.environment))
            .protocol(elb::types::ProtocolEnum::Http)
            .port(80)
            .vpc_id(vpc)
            .send()
            .await
            .expect("create tg");
        out.target_groups()[0]
            .target_group_arn()
            .unwrap_or_default()
            .to_string()
    })
}

/// Creates another listener on the stack's load balancer with `action` and returns its ARN.
pub fn extra_listener(stack: &Stack, port: i32, action: Action) -> String {
    rt().block_on(async {
        let out = elb()
            .create_listener()
            .load_balancer_arn(&stack.load_balancer_arn)
            .protocol(elb::types::ProtocolEnum::Http)
            .port(port)
            .default_actions(action)
            .send()
            .await
            .expect("create listener");
        out.listeners()[0]
            .listener_arn()
            .unwrap_or_default()
            .to_string()
    })
}

/// Deregisters every target of a target group (so it has 0 healthy of 0).
pub fn deregister_all(tg: &str) {
    rt().block_on(async {
        let c = elb();
        let h = c
            .describe_target_health()
            .target_group_arn(tg)
            .send()
            .await
            .expect("health");
        let targets: Vec<_> = h
            .target_health_descriptions()
            .iter()
            .filter_map(|d| d.target().cloned())
            .collect();
        if !targets.is_empty() {
            c.deregister_targets()
                .target_group_arn(tg)
                .set_targets(Some(targets))
                .send()
                .await
                .expect("deregister");
        }
    })
}

/// A well-formed ARN of a listener that does not exist: `arn` with its last hex digit changed.
pub fn missing_listener(arn: &str) -> String {
    let (head, last) = arn.split_at(arn.len() - 1);
    format!("{head}{}", if last == "0" { "1" } else { "0" })
}

/// A stack whose green group starts empty (desired 0) and blue's at the template's 2; with the names
/// of both groups.
pub fn stack_with_empty_green(stickiness: Option<u32>) -> (Stack, String, String) {
    static N: AtomicU32 = AtomicU32::new(0);
    let environment = format!(
        "c{}y{}",
        std::process::id() % 10_000,
        N.fetch_add(1, Ordering::SeqCst)
    );
    let mut cmd = std::process::Command::new(repo().join("localstack/create-stack"));
    cmd.args(["--param", "GreenDesiredCapacity=0"]);
    let (stack, outputs) = create_stack(cmd, &emulator().endpoint, &environment, stickiness);
    let name = |k: &str| outputs[k].as_str().expect(k).to_string();
    (stack, name("BlueAsgName"), name("GreenAsgName"))
}

/// A copy of the ECS reference stack (`cloudformation/albflip-reference-ecs.yaml`) on `endpoint`: the
/// stack, its cluster and the blue and green services' names. `green_count` is green's desired count.
/// moto runs no tasks: the tests register targets with the target groups themselves.
pub fn ecs_stack_on(
    mut cmd: Command,
    endpoint: &str,
    environment: &str,
    green_count: u32,
) -> EcsStack {
    cmd.args([
        "--template",
        repo()
            .join("cloudformation/albflip-reference-ecs.yaml")
            .to_str()
            .expect("a UTF-8 path"),
        "--param",
        &format!("GreenDesiredCount={green_count}"),
    ]);
    let (stack, outputs) = create_stack(cmd, endpoint, environment, None);
    let name = |k: &str| outputs[k].as_str().expect(k).to_string();
    EcsStack {
        cluster: name("ClusterName"),
        blue: name("BlueServiceName"),
        green: name("GreenServiceName"),
        outputs,
        stack,
    }
}

/// A fresh ECS reference stack on the test emulator.
pub fn ecs_stack(green_count: u32) -> EcsStack {
    static N: AtomicU32 = AtomicU32::new(0);
    let environment = format!(
        "e{}z{}",
        std::process::id() % 10_000,
        N.fetch_add(1, Ordering::SeqCst)
    );
    let cmd = Command::new(repo().join("localstack/create-stack"));
    ecs_stack_on(cmd, &emulator().endpoint, &environment, green_count)
}

/// An ECS reference stack: the ALB stack, the cluster and the two services.
#[derive(Debug, Clone)]
pub struct EcsStack {
    pub stack: Stack,
    pub cluster: String,
    pub blue: String,
    pub green: String,
    pub outputs: Value,
}

impl EcsStack {
    /// The flags that name the cluster (the services are discovered by their target groups).
    pub fn flags(&self) -> Vec<String> {
        let mut v = self.stack.by_arn();
        v.extend(["--ecs-cluster".to_string(), self.cluster.clone()]);
        v
    }
}

/// Registers `n` IP targets with a target group (what ECS does for a service's running tasks); moto
/// reports them healthy.
pub fn register_ips(tg: &str, subnet: u8, n: u8) {
    use aws_sdk_elasticloadbalancingv2::types::TargetDescription;
    rt().block_on(async {
        let targets = (0..n)
            .map(|i| {
                TargetDescription::builder()
                    .id(format!("10.40.{subnet}.{}", 10 + i))
                    .port(80)
                    .build()
            })
            .collect::<Vec<_>>();
        elb()
            .register_targets()
            .target_group_arn(tg)
            .set_targets(Some(targets))
            .send()
            .await
            .expect("register targets");
    })
}
