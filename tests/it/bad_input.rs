//! Bad input: each case gets its exit code, a message naming the thing and the fix, and changes nothing
//! (the full DescribeListeners/DescribeRules/DescribeTags output is the same before and after).

use crate::harness::*;

/// Runs `argv` and checks the exit code, the message fragments and that `listener` did not change.
#[track_caller]
fn refused(listener: &str, argv: &[String], code: i32, fragments: &[&str]) {
    let before = fingerprint(listener);
    let r = run(argv);
    assert_eq!(r.code, code, "{argv:?}: {r:?}");
    for f in fragments {
        assert!(
            r.stderr.contains(f),
            "{argv:?}: expected {f:?} in stderr:\n{}",
            r.stderr
        );
    }
    assert_eq!(
        fingerprint(listener),
        before,
        "{argv:?} changed the listener"
    );
}

fn shift(route: &[String], tail: &[&str]) -> Vec<String> {
    args(&[route], &[&["shift"][..], tail].concat())
}

#[test]
fn bad_percentages_and_colors_are_usage_errors() {
    let s = stack(None);
    let l = &s.listener_arn;
    refused(
        l,
        &shift(&s.by_arn(), &["--target", "green", "--percentage", "101"]),
        2,
        &["101", "whole number from 0 to 100"],
    );
    refused(
        l,
        &shift(&s.by_arn(), &["--target", "green", "--percentage", "-1"]),
        2,
        &["\"-1\"", "whole number from 0 to 100"],
    );
    refused(
        l,
        &shift(&s.by_arn(), &["--target", "green", "--percentage", "ten"]),
        2,
        &["\"ten\"", "whole number from 0 to 100"],
    );
    refused(
        l,
        &shift(&s.by_arn(), &["--target", "purple", "--percentage", "10"]),
        2,
        &["unknown color \"purple\"", "\"blue\" or \"green\""],
    );
    refused(
        l,
        &args(&[&s.by_arn()], &["rollback", "--to", "red"]),
        2,
        &["unknown color \"red\""],
    );
}

#[test]
fn malformed_and_missing_resources_are_named() {
    let s = stack(None);
    let l = &s.listener_arn;
    refused(
        l,
        &shift(
            &["--listener-arn".into(), "arn:aws:nope".into()],
            &["--target", "green", "--percentage", "10"],
        ),
        2,
        &["--listener-arn", "not a valid listener ARN"],
    );
    let missing = missing_listener(l);
    refused(
        l,
        &shift(
            &["--listener-arn".into(), missing.clone()],
            &["--target", "green", "--percentage", "10"],
        ),
        2,
        &[&missing, "not found", "--region"],
    );
    refused(
        l,
        &shift(
            &["--load-balancer".into(), "no-such-alb".into()],
            &["--target", "green", "--percentage", "10"],
        ),
        2,
        &["no-such-alb", "not found"],
    );
    refused(
        l,
        &shift(
            &[
                "--load-balancer".into(),
                s.lb_name(),
                "--port".into(),
                "8443".into(),
            ],
            &["--target", "green", "--percentage", "10"],
        ),
        2,
        &["port 8443", "ports: 80"],
    );
    refused(
        l,
        &shift(
            &s.by_arn(),
            &[
                "--green",
                "no-such-tg",
                "--target",
                "green",
                "--percentage",
                "10",
            ],
        ),
        2,
        &["green target group \"no-such-tg\" not found", "--green"],
    );
    refused(
        l,
        &shift(
            &s.by_arn(),
            &[
                "--green",
                "bad name!",
                "--target",
                "green",
                "--percentage",
                "10",
            ],
        ),
        2,
        &["--green bad name!", "not a valid target group name"],
    );
}

#[test]
fn the_same_group_twice_or_a_group_outside_the_action_is_refused() {
    let s = stack(Some(60));
    let l = &s.listener_arn;
    let blue = s.blue_tg.clone();
    refused(
        l,
        &shift(
            &s.by_arn(),
            &[
                "--blue",
                &blue,
                "--green",
                &blue,
                "--target",
                "green",
                "--percentage",
                "10",
            ],
        ),
        2,
        &["same target group"],
    );
    let other = extra_target_group(&s, "other-tg");
    refused(
        l,
        &shift(
            &s.by_arn(),
            &["--green", &other, "--target", "green", "--percentage", "10"],
        ),
        2,
        &["not in the forward action", "forwards to"],
    );
}

#[test]
fn routes_albflip_cannot_shift_are_refused_with_the_reason() {
    let s = stack(None);
    let redirect = aws_sdk_elasticloadbalancingv2::types::Action::builder()
        .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Redirect)
        .redirect_config(
            aws_sdk_elasticloadbalancingv2::types::RedirectActionConfig::builder()
                .protocol("HTTPS")
                .port("443")
                .status_code(
                    aws_sdk_elasticloadbalancingv2::types::RedirectActionStatusCodeEnum::Http301,
                )
                .build(),
        )
        .build();
    let l = extra_listener(&s, 8081, redirect);
    let by = vec!["--listener-arn".to_string(), l.clone()];
    refused(
        &l,
        &shift(&by, &["--target", "green", "--percentage", "10"]),
        1,
        &["its action is redirect", "forward"],
    );
    refused(
        &l,
        &args(&[&by], &["rollback"]),
        1,
        &["its action is redirect"],
    );

    let third = extra_target_group(&s, "third-tg");
    let l = extra_listener(
        &s,
        8082,
        weighted(&[(&s.blue_tg, 50), (&s.green_tg, 50), (&third, 1)], None),
    );
    let by = vec!["--listener-arn".to_string(), l.clone()];
    refused(
        &l,
        &shift(&by, &["--target", "green", "--percentage", "10"]),
        1,
        &["3 target groups", "never drops one"],
    );

    let l = extra_listener(
        &s,
        8083,
        weighted(&[(&s.blue_tg, 50), (&s.blue_tg, 50)], None),
    );
    let by = vec!["--listener-arn".to_string(), l.clone()];
    refused(
        &l,
        &shift(&by, &["--target", "green", "--percentage", "10"]),
        1,
        &["names target group", "twice"],
    );

    let l = extra_listener(
        &s,
        8084,
        weighted(&[(&s.blue_tg, 0), (&s.green_tg, 0)], None),
    );
    let by = vec!["--listener-arn".to_string(), l.clone()];
    refused(
        &l,
        &args(&[&by], &["rollback"]),
        1,
        &["weight 0", "routes no traffic"],
    );

    let l = extra_listener(
        &s,
        8085,
        weighted(&[(&s.blue_tg, 1000), (&s.green_tg, 1)], None),
    );
    let by = vec!["--listener-arn".to_string(), l.clone()];
    refused(
        &l,
        &shift(&by, &["--target", "green", "--percentage", "10"]),
        1,
        &["weight 1000", "0..=999"],
    );

    let l = extra_listener(
        &s,
        8086,
        weighted(&[(&s.blue_tg, 100), (&s.green_tg, 0)], Some((true, 0))),
    );
    let by = vec!["--listener-arn".to_string(), l.clone()];
    refused(
        &l,
        &shift(&by, &["--target", "green", "--percentage", "10"]),
        1,
        &["stickiness", "1..=604800"],
    );
}

#[test]
fn an_unreachable_endpoint_a_bad_config_and_a_missing_route_are_reported() {
    let s = stack(None);
    let l = &s.listener_arn;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = format!("http://127.0.0.1:{closed}");
    refused(
        l,
        &args(
            &[&s.by_arn()],
            &["rollback", "--endpoint-url", &unreachable],
        ),
        1,
        &["endpoint unreachable", "DescribeListeners"],
    );
    refused(
        l,
        &args(
            &[&s.by_arn()],
            &["status", "--endpoint-url", "localhost:4566"],
        ),
        2,
        &["--endpoint-url", "http://"],
    );
    let dir = dir_with_file("albflip.toml", "[target]\nlistner-arn = \"x\"\n");
    let before = fingerprint(l);
    let mut cmd = albflip();
    cmd.current_dir(&dir);
    let r = run_in(cmd, &["status"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("listner-arn") && r.stderr.contains("albflip.toml"),
        "{}",
        r.stderr
    );
    assert_eq!(fingerprint(l), before);
    refused(
        l,
        &[
            "shift".to_string(),
            "--target".into(),
            "green".into(),
            "--percentage".into(),
            "10".into(),
        ],
        2,
        &["no route named", "--listener-arn"],
    );
}

#[test]
fn a_conversion_aws_would_refuse_for_target_group_stickiness_is_refused_by_albflip() {
    let s = stack(None);
    rt().block_on(async {
        elb()
            .modify_target_group_attributes()
            .target_group_arn(&s.green_tg)
            .attributes(
                aws_sdk_elasticloadbalancingv2::types::TargetGroupAttribute::builder()
                    .key("stickiness.enabled")
                    .value("true")
                    .build(),
            )
            .attributes(
                aws_sdk_elasticloadbalancingv2::types::TargetGroupAttribute::builder()
                    .key("stickiness.type")
                    .value("lb_cookie")
                    .build(),
            )
            .send()
            .await
            .expect("modify attributes");
    });
    refused(
        &s.listener_arn,
        &shift(&s.by_arn(), &["--target", "green", "--percentage", "10"]),
        1,
        &[
            "has target-group stickiness",
            "InvalidLoadBalancerAction",
            "stickiness.enabled,Value=false",
        ],
    );
}

/// A Network Load Balancer in the stack's subnets with a TCP listener forwarding 100/0 to two TCP target
/// groups of its own: (listener ARN, blue, green). The emulator gives its listener an `app/` ARN, so only
/// the listener's protocol tells it from an ALB's.
fn network_load_balancer(s: &Stack) -> (String, String, String) {
    use aws_sdk_elasticloadbalancingv2::types::{LoadBalancerTypeEnum, ProtocolEnum};
    rt().block_on(async {
        let c = elb();
        let alb = c
            .describe_load_balancers()
            .load_balancer_arns(&s.load_balancer_arn)
            .send()
            .await
            .expect("describe alb");
        let alb = &alb.load_balancers()[0];
        let subnets: Vec<String> = alb
            .availability_zones()
            .iter()
            .filter_map(|z| z.subnet_id().map(str::to_string))
            .collect();
        let nlb = c
            .create_load_balancer()
            .name(format!("{}-nlb", s.environment))
            .r#type(LoadBalancerTypeEnum::Network)
            .set_subnets(Some(subnets))
            .send()
            .await
            .expect("create nlb");
        let nlb_arn = nlb.load_balancers()[0]
            .load_balancer_arn()
            .unwrap_or_default()
            .to_string();
        let mut groups = Vec::new();
        for color in ["blue", "green"] {
            let tg = c
                .create_target_group()
                .name(format!("{}-nlb-{color}", s.environment))
                .protocol(ProtocolEnum::Tcp)
                .port(80)
                .vpc_id(alb.vpc_id().unwrap_or_default())
                .send()
                .await
                .expect("create tcp tg");
            groups.push(
                tg.target_groups()[0]
                    .target_group_arn()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        let listener = c
            .create_listener()
            .load_balancer_arn(&nlb_arn)
            .protocol(ProtocolEnum::Tcp)
            .port(80)
            .default_actions(weighted(&[(&groups[0], 1), (&groups[1], 0)], None))
            .send()
            .await
            .expect("create tcp listener");
        let arn = listener.listeners()[0]
            .listener_arn()
            .unwrap_or_default()
            .to_string();
        (arn, groups[0].clone(), groups[1].clone())
    })
}

/// Issue 17, item 6: a Network Load Balancer's listener is refused with the reason by every command,
/// before any write: albflip would otherwise shift it and judge it on AWS/ApplicationELB metrics it
/// never publishes.
#[test]
fn a_network_load_balancers_listener_is_refused_by_every_command() {
    let s = stack(None);
    let (listener, blue, green) = network_load_balancer(&s);
    let by = vec![
        "--listener-arn".to_string(),
        listener.clone(),
        "--blue".to_string(),
        blue,
        "--green".to_string(),
        green,
    ];
    for command in [
        &["status"][..],
        &["check", "--target", "green"],
        &["plan", "--target", "green"],
        &["shift", "--target", "green", "--percentage", "10"],
        &["deploy", "--target", "green", "--bake", "5s"],
        &["rollback"],
    ] {
        refused(
            &listener,
            &args(&[&by], command),
            1,
            &[
                "Network Load Balancer (protocol TCP)",
                "Application Load Balancer routes only",
            ],
        );
    }
}
