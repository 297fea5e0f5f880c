//! `albflip iam-policy` is enough and each write in it is needed, proven on an emulator that enforces
//! IAM (`harness::iam_emulator`); and the reference stack's managed policy is the same policy.
//!
//! What moto's IAM enforcement can prove, and what it cannot: it matches only the *action* of a request
//! against the caller's policies, never the resource (a statement scoped to an ARN is denied even for a
//! request on exactly that ARN). So the test principals get the actions of `albflip iam-policy`'s
//! output with every statement's `Resource` replaced by `"*"`: these tests prove least privilege at the
//! action level only. The ARN scoping is checked textually instead: the output names the route and the
//! lock table, and the reference stack's policy, as the emulator created it, names the same resources.
//! moto also names CloudWatch actions by the request's SigV4 service, `monitoring:`, so every
//! `cloudwatch:X` action is granted as `monitoring:X` too (the same permission under moto's name).
//!
//! The Describe-only principal (no write at all: a clear "missing permission
//! elasticloadbalancing:ModifyListener", exit 1, nothing changed) is in catalogue.rs
//! (`catalogue_of_refused_credentials`); here the principal lacks just one action of the policy.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::harness::*;

/// `albflip --listener-arn L iam-policy --lock-table T --blue-asg B --green-asg G`, run as the admin,
/// for the stack whose create-stack outputs are `outputs`.
fn iam_policy(emu: &IamEmulator, route: &[&str], lock_table: &str, outputs: &Value) -> Value {
    let mut argv: Vec<&str> = route.to_vec();
    argv.extend(["iam-policy", "--lock-table", lock_table]);
    for (flag, key) in [
        ("--blue-asg", "BlueAsgName"),
        ("--green-asg", "GreenAsgName"),
    ] {
        argv.extend([flag, outputs[key].as_str().expect(key)]);
    }
    let r = run_in(emu.albflip(&emu.admin), &argv).ok();
    r.json()
}

/// A statement's `Action` or `Resource` (a string or a list) as a set.
fn set(v: &Value) -> BTreeSet<String> {
    match v {
        Value::String(s) => [s.clone()].into(),
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().expect("a string").to_string())
            .collect(),
        other => panic!("not a string or a list: {other}"),
    }
}

/// The policy for the test principal: the actions of `policy` without `drop`, on `"*"` (moto checks
/// actions only), with each `cloudwatch:X` also granted as moto's `monitoring:X`.
fn on_any_resource(policy: &Value, drop: Option<&str>) -> Value {
    let statements: Vec<Value> = policy["Statement"]
        .as_array()
        .expect("Statement")
        .iter()
        .map(|s| {
            let mut actions: Vec<String> = set(&s["Action"])
                .into_iter()
                .filter(|a| Some(a.as_str()) != drop)
                .collect();
            let aliases: Vec<String> = actions
                .iter()
                .filter_map(|a| a.strip_prefix("cloudwatch:"))
                .map(|op| format!("monitoring:{op}"))
                .collect();
            actions.extend(aliases);
            json!({"Effect": s["Effect"], "Action": actions, "Resource": "*"})
        })
        // A statement left without actions is invalid: drop it.
        .filter(|s| s["Action"].as_array().is_some_and(|a| !a.is_empty()))
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// A fast gradual deployment to green with the lock; no metrics publisher (`--on-no-data pass`), but
/// every poll still calls GetMetricData.
fn deploy(stack: &Stack) -> Vec<String> {
    let mut v = stack.by_arn();
    v.push("deploy".to_string());
    v.extend(deploy_timings());
    v.extend(["--lock-table".to_string(), stack.lock_table.clone()]);
    v
}

/// The flags of [`deploy`] after the subcommand, without the lock table.
fn deploy_timings() -> Vec<String> {
    let mut v = Vec::new();
    v.extend(
        [
            "--target",
            "green",
            "--steps",
            "50,100",
            "--bake",
            "2s",
            "--poll-interval",
            "1s",
            "--metric-lag",
            "0s",
            "--metric-window",
            "5s",
            "--metric-period",
            "1s",
            "--latency-statistic",
            "Average",
            "--on-no-data",
            "pass",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    v
}

#[test]
fn a_principal_with_exactly_the_iam_policy_deploys_cleans_up_and_rolls_back() {
    let emu = iam_emulator();
    // A 1 s stickiness: cleanup has no sticky clients to wait out right after the deployment.
    let (s, outputs) = emu.stack("iamok", Some(1));
    let policy = iam_policy(
        emu,
        &["--listener-arn", &s.listener_arn],
        &s.lock_table,
        &outputs,
    );
    let keys = emu.user("albflip-least", &on_any_resource(&policy, None));

    let r = run_in(emu.albflip(&keys), &deploy(&s));
    assert_eq!(r.code, 0, "deploy with the iam-policy actions: {r:?}");
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        !all.contains("missing permission") && !all.contains("metrics unavailable"),
        "albflip needed an action iam-policy does not list: {r:?}"
    );
    assert_eq!(emu.weights(&s), (Some(0), Some(100)), "{r:?}");

    // Cleanup scales blue to zero (DescribeAutoScalingGroups, AddTags, UpdateAutoScalingGroup)…
    let mut argv = s.by_arn();
    argv.extend(
        ["cleanup", "--lock-table", &s.lock_table]
            .iter()
            .map(|x| x.to_string()),
    );
    let r = run_in(emu.albflip(&keys), &argv);
    assert_eq!(r.code, 0, "cleanup with the iam-policy actions: {r:?}");
    assert!(r.stdout.contains("to zero: desired 2 -> 0"), "{r:?}");
    assert!(!r.stderr.contains("missing permission"), "{r:?}");

    // …and the rollback scales it back up before moving traffic.
    let mut argv = s.by_arn();
    argv.extend(
        ["rollback", "--to", "blue", "--lock-table", &s.lock_table]
            .iter()
            .map(|x| x.to_string()),
    );
    let mut cmd = emu.albflip(&keys);
    cmd.env("ALBFLIP_READY_POLL", "1s");
    let r = run_in(cmd, &argv);
    assert_eq!(r.code, 0, "rollback with the iam-policy actions: {r:?}");
    assert!(
        r.stdout.contains("back up to its recorded capacity"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("missing permission"), "{r:?}");
    assert_eq!(emu.weights(&s), (Some(100), Some(0)), "{r:?}");
}

#[test]
fn without_modify_listener_a_deploy_names_the_permission_and_moves_no_traffic() {
    let emu = iam_emulator();
    let (s, outputs) = emu.stack("iamno", Some(60));
    let policy = iam_policy(
        emu,
        &["--listener-arn", &s.listener_arn],
        &s.lock_table,
        &outputs,
    );
    let missing = "elasticloadbalancing:ModifyListener";
    assert!(
        set(&policy["Statement"][1]["Action"]).contains(missing),
        "{policy}"
    );
    let keys = emu.user(
        "albflip-no-modify-listener",
        &on_any_resource(&policy, Some(missing)),
    );

    let before = emu.fingerprint(&s.listener_arn);
    let r = run_in(emu.albflip(&keys), &deploy(&s));
    let after = emu.fingerprint(&s.listener_arn);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(&format!("missing permission {missing}")),
        "{r:?}"
    );
    // The listener, its rules and its tags are byte-identical: the first step writes the weights before
    // the deployment record, so a refused first write leaves nothing behind.
    assert_eq!(before, after, "the listener, its rules or its tags changed");
    assert!(r.stderr.contains("Nothing was changed"), "{r:?}");
    assert_eq!(emu.weights(&s), (Some(100), Some(0)));

    // The lease was released: the same deployment with the whole policy takes the lock at once.
    let keys = emu.user("albflip-least-after", &on_any_resource(&policy, None));
    let r = run_in(emu.albflip(&keys), &deploy(&s));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(emu.weights(&s), (Some(0), Some(100)));
}

#[test]
fn without_update_auto_scaling_group_cleanup_names_the_permission_and_keeps_blue() {
    let emu = iam_emulator();
    let (s, outputs) = emu.stack("iamasg", Some(1));
    let policy = iam_policy(
        emu,
        &["--listener-arn", &s.listener_arn],
        &s.lock_table,
        &outputs,
    );
    let missing = "autoscaling:UpdateAutoScalingGroup";
    let keys = emu.user(
        "albflip-no-resize",
        &on_any_resource(&policy, Some(missing)),
    );
    let r = run_in(emu.albflip(&keys), &deploy(&s));
    assert_eq!(r.code, 0, "{r:?}");

    let mut argv = s.by_arn();
    argv.push("cleanup".into());
    let r = run_in(emu.albflip(&keys), &argv);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(&format!("missing permission {missing}")),
        "{r:?}"
    );
    // Blue still runs: a second cleanup, with the whole policy, finds it at its size and records it.
    let keys = emu.user("albflip-resize", &on_any_resource(&policy, None));
    let r = run_in(emu.albflip(&keys), &argv);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("to zero: desired 2 -> 0"), "{r:?}");
}

/// Every statement of `want` is in `have`: the same actions, and each resource of `want` is a resource
/// of `have` or matched by one of its `…/*` wildcards.
fn covered(want: &Value, have: &Value) -> Result<(), String> {
    for w in want["Statement"].as_array().expect("Statement") {
        let actions = set(&w["Action"]);
        let found = have["Statement"]
            .as_array()
            .expect("Statement")
            .iter()
            .find(|h| set(&h["Action"]) == actions && h["Effect"] == w["Effect"]);
        let Some(h) = found else {
            return Err(format!("no statement with exactly {actions:?}"));
        };
        let resources = set(&h["Resource"]);
        for r in set(&w["Resource"]) {
            let ok = resources
                .iter()
                .any(|h| *h == r || (h.ends_with("/*") && r.starts_with(&h[..h.len() - 1])));
            if !ok {
                return Err(format!("{actions:?} not on {r} but on {resources:?}"));
            }
        }
    }
    Ok(())
}

#[test]
fn the_reference_stack_creates_the_policy_iam_policy_prints() {
    let emu = iam_emulator();
    let (s, outputs) = emu.stack("iamcfn", None);
    let created = emu.policy_document(outputs["PolicyArn"].as_str().expect("PolicyArn"));

    let for_listener = iam_policy(
        emu,
        &["--listener-arn", &s.listener_arn],
        &s.lock_table,
        &outputs,
    );
    // A rule of the stack's listener (iam-policy reads nothing for a rule ARN; any rule id will do).
    let rule = format!(
        "{}/0123456789abcdef",
        s.listener_arn.replacen(":listener/", ":listener-rule/", 1)
    );
    let for_rule = iam_policy(emu, &["--rule-arn", &rule], &s.lock_table, &outputs);

    // The template grants what iam-policy prints, for the listener and for its rules…
    covered(&for_listener, &created).unwrap_or_else(|e| {
        panic!("listener: {e}\ncreated: {created}\niam-policy: {for_listener}")
    });
    covered(&for_rule, &created)
        .unwrap_or_else(|e| panic!("rule: {e}\ncreated: {created}\niam-policy: {for_rule}"));
    // …and nothing else: every action of the template is one of iam-policy's, and only the reads
    // (Describe* and the CloudWatch reads) are on "*"; the Auto Scaling writes name the two groups.
    let printed: BTreeSet<String> = [&for_listener, &for_rule]
        .iter()
        .flat_map(|p| p["Statement"].as_array().unwrap().iter())
        .flat_map(|st| set(&st["Action"]))
        .collect();
    for st in created["Statement"].as_array().expect("Statement") {
        let actions = set(&st["Action"]);
        let extra: Vec<_> = actions.difference(&printed).collect();
        assert!(
            extra.is_empty(),
            "the template grants {extra:?}, which iam-policy does not: {created}"
        );
        if set(&st["Resource"]).contains("*") {
            assert!(
                actions
                    .iter()
                    .all(|a| a.starts_with("elasticloadbalancing:Describe")
                        || a.starts_with("autoscaling:Describe")
                        || a.starts_with("cloudwatch:")),
                "writes on \"*\": {st}"
            );
        }
    }
    // The rule wildcard is this listener's, not every listener's.
    let rules = format!(
        "{}/*",
        s.listener_arn.replacen(":listener/", ":listener-rule/", 1)
    );
    assert!(created.to_string().contains(&rules), "{created}");
}

/// The ECS reference stack on the IAM emulator, created as the admin, with green at `green` tasks.
fn ecs_stack_as_admin(emu: &IamEmulator, environment: &str, green: u32) -> EcsStack {
    let mut cmd = std::process::Command::new(repo().join("localstack/create-stack"));
    cmd.env("AWS_ACCESS_KEY_ID", &emu.admin.0)
        .env("AWS_SECRET_ACCESS_KEY", &emu.admin.1)
        .env("AWS_SESSION_TOKEN", "");
    ecs_stack_on(cmd, &emu.endpoint, environment, green)
}

/// `albflip --listener-arn L --ecs-cluster C iam-policy --lock-table T --blue-service B --green-service
/// G`, run as the admin.
fn ecs_iam_policy(emu: &IamEmulator, route: &[&str], s: &EcsStack) -> Value {
    let mut argv: Vec<&str> = route.to_vec();
    argv.extend([
        "--ecs-cluster",
        &s.cluster,
        "iam-policy",
        "--lock-table",
        &s.stack.lock_table,
        "--blue-service",
        &s.blue,
        "--green-service",
        &s.green,
    ]);
    run_in(emu.albflip(&emu.admin), &argv).ok().json()
}

/// Registers two IP targets with `tg` as the admin of the IAM emulator (moto runs no ECS tasks).
fn register_as_admin(emu: &IamEmulator, tg: &str, subnet: u8) {
    use aws_sdk_elasticloadbalancingv2::types::TargetDescription;
    let targets: Vec<_> = (0..2)
        .map(|i| {
            TargetDescription::builder()
                .id(format!("10.40.{subnet}.{}", 10 + i))
                .port(80)
                .build()
        })
        .collect();
    rt().block_on(
        emu.elb()
            .register_targets()
            .target_group_arn(tg)
            .set_targets(Some(targets))
            .send(),
    )
    .expect("register targets");
}

#[test]
fn on_ecs_a_principal_with_exactly_the_iam_policy_deploys_cleans_up_and_rolls_back() {
    let emu = iam_emulator();
    let s = ecs_stack_as_admin(emu, "iamecs", 0);
    register_as_admin(emu, &s.stack.blue_tg, 0);
    register_as_admin(emu, &s.stack.green_tg, 1);
    let policy = ecs_iam_policy(emu, &["--listener-arn", &s.stack.listener_arn], &s);
    let text = policy.to_string();
    assert!(
        !text.contains("autoscaling:UpdateAutoScalingGroup"),
        "{text}"
    );
    assert!(text.contains("ecs:UpdateService"), "{text}");
    let keys = emu.user("albflip-least-ecs", &on_any_resource(&policy, None));
    let ecs = |argv: &[&str]| -> Vec<String> {
        let mut v = s.stack.by_arn();
        v.extend(["--ecs-cluster".to_string(), s.cluster.clone()]);
        v.extend(argv.iter().map(|a| a.to_string()));
        v.extend(["--lock-table".to_string(), s.stack.lock_table.clone()]);
        v
    };

    // The deployment raises green (UpdateService), holds both services (RegisterScalableTarget,
    // TagResource), releases them (UntagResource) and moves traffic.
    let mut deploy = ecs(&["deploy"]);
    deploy.extend(deploy_timings());
    let mut cmd = emu.albflip(&keys);
    cmd.env("ALBFLIP_READY_POLL", "1s");
    let r = run_in(cmd, &deploy);
    assert_eq!(r.code, 0, "deploy with the iam-policy actions: {r:?}");
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        !all.contains("missing permission") && !all.contains("WARNING"),
        "albflip needed an action iam-policy does not list: {r:?}"
    );
    assert!(all.contains("capacity held"), "{r:?}");
    assert_eq!(emu.weights(&s.stack), (Some(0), Some(100)), "{r:?}");

    let r = run_in(emu.albflip(&keys), &ecs(&["cleanup"]));
    assert_eq!(r.code, 0, "cleanup with the iam-policy actions: {r:?}");
    assert!(r.stdout.contains("to zero: desired 2 -> 0"), "{r:?}");

    let mut cmd = emu.albflip(&keys);
    cmd.env("ALBFLIP_READY_POLL", "1s");
    let r = run_in(cmd, &ecs(&["rollback", "--to", "blue"]));
    assert_eq!(r.code, 0, "rollback with the iam-policy actions: {r:?}");
    assert!(
        r.stdout.contains("back up to its recorded capacity"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("missing permission"), "{r:?}");
    assert_eq!(emu.weights(&s.stack), (Some(100), Some(0)), "{r:?}");

    // The ECS stack's own policy grants what iam-policy prints.
    let created = emu.policy_document(s.outputs["PolicyArn"].as_str().expect("PolicyArn"));
    covered(&policy, &created)
        .unwrap_or_else(|e| panic!("{e}\ncreated: {created}\niam-policy: {policy}"));
}

#[test]
fn on_ecs_without_update_service_cleanup_names_the_permission_and_keeps_the_service() {
    let emu = iam_emulator();
    let s = ecs_stack_as_admin(emu, "iamecsno", 2);
    register_as_admin(emu, &s.stack.blue_tg, 0);
    register_as_admin(emu, &s.stack.green_tg, 1);
    let policy = ecs_iam_policy(emu, &["--listener-arn", &s.stack.listener_arn], &s);
    let missing = "ecs:UpdateService";
    let keys = emu.user(
        "albflip-no-update-service",
        &on_any_resource(&policy, Some(missing)),
    );
    let mut argv = s.stack.by_arn();
    argv.extend([
        "--ecs-cluster".to_string(),
        s.cluster.clone(),
        "cleanup".to_string(),
    ]);
    // Blue has all the traffic: green, at 2 tasks, is the old color.
    let r = run_in(emu.albflip(&keys), &argv);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(&format!("missing permission {missing}")),
        "{r:?}"
    );
    let keys = emu.user("albflip-update-service", &on_any_resource(&policy, None));
    let r = run_in(emu.albflip(&keys), &argv);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("to zero: desired 2 -> 0"), "{r:?}");
}

#[test]
fn with_a_test_header_the_iam_policy_lets_the_rule_be_created_and_removed() {
    let emu = iam_emulator();
    let (s, outputs) = emu.stack("iamhdr", Some(60));
    let dir = dir_with_file(
        "albflip.toml",
        "[test-traffic]\nheader = \"X-Albflip-Test=1\"\n",
    );
    let mut argv: Vec<String> = s.by_arn();
    argv.extend(["iam-policy", "--lock-table", &s.lock_table].map(String::from));
    for (flag, key) in [
        ("--blue-asg", "BlueAsgName"),
        ("--green-asg", "GreenAsgName"),
    ] {
        argv.extend([
            flag.to_string(),
            outputs[key].as_str().expect(key).to_string(),
        ]);
    }
    let mut cmd = emu.albflip(&emu.admin);
    cmd.current_dir(&dir);
    let policy = run_in(cmd, &argv).ok().json();
    assert!(
        policy
            .to_string()
            .contains("elasticloadbalancing:CreateRule"),
        "{policy}"
    );
    let keys = emu.user("albflip-test-header", &on_any_resource(&policy, None));
    let mut cmd = emu.albflip(&keys);
    cmd.current_dir(&dir);
    let r = run_in(cmd, &deploy(&s));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stderr.contains("missing permission"), "{r:?}");
    assert!(r.stdout.contains("test header rule removed"), "{r:?}");
    assert_eq!(emu.weights(&s), (Some(0), Some(100)));
}
