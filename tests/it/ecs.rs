//! ECS services as the capacity behind the colors, against the ECS reference stack in the emulator
//! (`cloudformation/albflip-reference-ecs.yaml`): the new color's service raised to the stable one's
//! desired count and waited for, both services' scalable targets held for the deployment, the old
//! color's service scaled to zero by `cleanup`, and `rollback` scaling it back up first.
//!
//! moto runs no tasks and registers none with the target groups (it reports `runningCount` equal to
//! `desiredCount` after an `UpdateService`): the tests register IP targets themselves, as ECS would for
//! the services' tasks, and deregister them when a service is scaled to zero.

use std::time::Duration;

use crate::harness::*;

/// A script for a `before-step` hook: appends the blue and green scalable targets' minimums (through
/// boto3, on the emulator albflip uses) to `out`.
fn min_recorder(dir: &std::path::Path, s: &EcsStack, out: &std::path::Path) -> String {
    let script = dir.join("mins.py");
    std::fs::write(
        &script,
        format!(
            r#"import boto3
c = boto3.client("application-autoscaling", region_name="us-east-1")
ts = c.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
mins = {{t["ResourceId"]: t["MinCapacity"] for t in ts}}
with open("{out}", "a") as f:
    f.write("%s %s\n" % (mins["service/{c}/{b}"], mins["service/{c}/{g}"]))
"#,
            out = out.display(),
            c = s.cluster,
            b = s.blue,
            g = s.green
        ),
    )
    .expect("write the hook script");
    format!(
        "before-step={} {}",
        repo().join(".venv/bin/python").display(),
        script.display()
    )
}

fn deploy(s: &EcsStack, hook: &str) -> Vec<String> {
    args(
        &[&s.flags()],
        &[
            "deploy",
            "--target",
            "green",
            "--strategy",
            "immediate",
            "--no-gates",
            "--hook",
            hook,
        ],
    )
}

#[test]
fn ecs_green_is_raised_waited_for_and_held_then_cleanup_and_rollback_scale_blue_down_and_up() {
    let s = ecs_stack(0);
    register_ips(&s.stack.blue_tg, 0, 2);
    assert_eq!(ecs_service(&s.cluster, &s.green).0, 0);
    assert_eq!(scalable_target(&s.cluster, &s.blue), (0, 4));

    // Green's tasks come up a few seconds after albflip raises its desired count.
    let green_tg = s.stack.green_tg.clone();
    let tasks = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(4));
        register_ips(&green_tg, 1, 2);
    });
    let dir = empty_dir();
    let mins = dir.join("mins.txt");
    let hook = min_recorder(&dir, &s, &mins);
    let mut cmd = albflip();
    cmd.env("ALBFLIP_READY_POLL", "1s");
    let r = run_in(cmd, &deploy(&s, &hook));
    tasks.join().expect("register green");
    assert_eq!(r.code, 0, "{r:?}");
    // Discovered by its target group, raised to blue's 2, and waited for until 2 targets were healthy.
    assert!(
        r.stdout
            .contains(&format!("waiting for {}: 0/2 healthy", s.green)),
        "{r:?}"
    );
    assert!(
        r.stdout.contains(&format!(
            "capacity ready: {} raised to 2, 2 healthy",
            s.green
        )),
        "{r:?}"
    );
    assert_eq!(ecs_service(&s.cluster, &s.green).0, 2);
    // While traffic moved, neither service could be scaled in: both minimums were at the desired 2...
    let during = std::fs::read_to_string(&mins).expect("the hook ran");
    assert_eq!(during.trim(), "2 2", "{r:?}");
    // ...and afterwards they are back as they were, the hold records gone.
    assert_eq!(scalable_target(&s.cluster, &s.blue), (0, 4));
    assert_eq!(scalable_target(&s.cluster, &s.green), (0, 4));
    assert_eq!(ecs_service(&s.cluster, &s.blue).2, None);
    assert_eq!(weights(&s.stack), (Some(0), Some(100)));

    // Cleanup: blue's service to zero after the read-back, its desired count recorded on the route.
    let r = run(&args(&[&s.flags()], &["cleanup"])).ok();
    assert!(
        r.stdout.contains(&format!(
            "Scaled blue's ECS service {} to zero: desired 2 -> 0",
            s.blue
        )),
        "{r:?}"
    );
    assert_eq!(ecs_service(&s.cluster, &s.blue).0, 0);
    assert_eq!(
        tag(&s.stack.listener_arn, "albflip:capacity:blue").as_deref(),
        Some(format!("2/0/4/{}", s.blue).as_str())
    );
    deregister_all(&s.stack.blue_tg);

    // Rollback to blue after cleanup: blue scaled back up first, traffic moves once its tasks are healthy.
    let blue_tg = s.stack.blue_tg.clone();
    let tasks = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(3));
        register_ips(&blue_tg, 2, 2);
    });
    let mut cmd = albflip();
    cmd.env("ALBFLIP_READY_POLL", "1s");
    let r = run_in(cmd, &args(&[&s.flags()], &["rollback", "--to", "blue"]));
    tasks.join().expect("register blue");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains(&format!(
            "Scaled blue's ECS service {} back up to its recorded capacity: desired 0 -> 2",
            s.blue
        )),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("2/2 healthy targets before traffic moved"),
        "{r:?}"
    );
    assert_eq!(ecs_service(&s.cluster, &s.blue).0, 2);
    assert_eq!(weights(&s.stack), (Some(100), Some(0)));
}

#[test]
fn named_ecs_services_are_used_and_a_missing_one_is_refused_before_any_write() {
    let s = ecs_stack(0);
    register_ips(&s.stack.blue_tg, 0, 2);
    register_ips(&s.stack.green_tg, 1, 2);
    let before = fingerprint(&s.stack.listener_arn);
    let r = run(&args(
        &[&s.flags()],
        &[
            "--green-service",
            "no-such-service",
            "deploy",
            "--target",
            "green",
            "--strategy",
            "immediate",
            "--no-gates",
        ],
    ));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("ECS service \"no-such-service\" not found"),
        "{r:?}"
    );
    assert!(r.stderr.contains("--green-service"), "{r:?}");
    assert_eq!(before, fingerprint(&s.stack.listener_arn));
    assert_eq!(ecs_service(&s.cluster, &s.blue).0, 2);

    // Services named without a cluster are refused as bad input.
    let r = run(&args(
        &[&s.stack.by_arn()],
        &["--blue-service", &s.blue, "status"],
    ));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("--ecs-cluster"), "{r:?}");

    // Named: green raised to blue's 2 at once (its targets are there already).
    let mut cmd = albflip();
    cmd.env("ALBFLIP_READY_POLL", "1s");
    let r = run_in(
        cmd,
        &args(
            &[&s.flags()],
            &[
                "--blue-service",
                &s.blue,
                "--green-service",
                &s.green,
                "deploy",
                "--target",
                "green",
                "--strategy",
                "immediate",
                "--no-gates",
            ],
        ),
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(ecs_service(&s.cluster, &s.green).0, 2);
}
