//! Every route in lockstep: listeners, rules and several load balancers move together; a failure
//! part-way puts the routes already written back; rollback restores all; odd routes are left alone.

use aws_sdk_elasticloadbalancingv2::types::{Action, RuleCondition};

use crate::harness::*;
use crate::proxy::{Config, Fault, Proxy};

/// A listener rule on `listener` for `path` with `action`; returns its ARN.
fn rule(listener: &str, priority: i32, path: &str, action: Action) -> String {
    rt().block_on(async {
        let out = elb()
            .create_rule()
            .listener_arn(listener)
            .priority(priority)
            .conditions(
                RuleCondition::builder()
                    .field("path-pattern")
                    .values(path)
                    .build(),
            )
            .actions(action)
            .send()
            .await
            .expect("create rule");
        out.rules()[0].rule_arn().unwrap_or_default().to_string()
    })
}

/// A rule's priority, path conditions and forward weights as `(group, weight)`.
type RuleState = (String, Vec<String>, Vec<(String, Option<i32>)>);

fn rule_state(rule_arn: &str) -> RuleState {
    rt().block_on(async {
        let out = elb()
            .describe_rules()
            .rule_arns(rule_arn)
            .send()
            .await
            .expect("describe rule");
        let r = &out.rules()[0];
        let paths = r
            .conditions()
            .iter()
            .flat_map(|c| c.values().iter().cloned())
            .collect();
        let groups = r.actions()[0]
            .forward_config()
            .map(|c| {
                c.target_groups()
                    .iter()
                    .map(|t| {
                        (
                            t.target_group_arn().unwrap_or_default().to_string(),
                            t.weight(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        (r.priority().unwrap_or_default().to_string(), paths, groups)
    })
}

/// Blue's and green's weights on a listener's default action.
fn listener_weights(stack: &Stack, listener: &str) -> (Option<i32>, Option<i32>) {
    let (groups, _) = forward(listener);
    let w = |arn: &str| groups.iter().find(|(a, _)| a == arn).and_then(|(_, w)| *w);
    (w(&stack.blue_tg), w(&stack.green_tg))
}

fn rule_weights(stack: &Stack, rule_arn: &str) -> (Option<i32>, Option<i32>) {
    let (_, _, groups) = rule_state(rule_arn);
    let w = |arn: &str| groups.iter().find(|(a, _)| a == arn).and_then(|(_, w)| *w);
    (w(&stack.blue_tg), w(&stack.green_tg))
}

/// A stack whose :80 listener is weighted blue 100 / green 0 with stickiness, plus an HTTP:8080
/// listener and an `/api/*` rule on :80, both weighted 100/0 to the same groups.
fn three_routes() -> (Stack, String, String) {
    let s = stack(Some(300));
    let both = || weighted(&[(&s.blue_tg, 100), (&s.green_tg, 0)], Some((true, 300)));
    let l8080 = extra_listener(&s, 8080, both());
    let api = rule(&s.listener_arn, 10, "/api/*", both());
    (s, l8080, api)
}

/// A second load balancer in the stack's subnets with an HTTP:80 listener forwarding to `action`: its
/// name and the stack as seen through it (its load balancer and listener).
fn second_alb(stack: &Stack, action: Action) -> (String, Stack) {
    rt().block_on(async {
        let c = elb();
        let lb = c
            .describe_load_balancers()
            .load_balancer_arns(&stack.load_balancer_arn)
            .send()
            .await
            .expect("describe lb");
        let subnets: Vec<String> = lb.load_balancers()[0]
            .availability_zones()
            .iter()
            .filter_map(|z| z.subnet_id().map(str::to_string))
            .collect();
        let name = format!("{}-internal", stack.environment);
        let out = c
            .create_load_balancer()
            .name(&name)
            .scheme(aws_sdk_elasticloadbalancingv2::types::LoadBalancerSchemeEnum::Internal)
            .set_subnets(Some(subnets))
            .send()
            .await
            .expect("create lb");
        let arn = out.load_balancers()[0]
            .load_balancer_arn()
            .unwrap_or_default()
            .to_string();
        let listener = c
            .create_listener()
            .load_balancer_arn(&arn)
            .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
            .port(80)
            .default_actions(action)
            .send()
            .await
            .expect("create listener");
        let listener_arn = listener.listeners()[0]
            .listener_arn()
            .unwrap_or_default()
            .to_string();
        let through = Stack {
            load_balancer_arn: arn,
            listener_arn,
            ..stack.clone()
        };
        (name, through)
    })
}

#[test]
fn http_80_http_8080_and_a_path_rule_shift_together_and_status_lists_them() {
    let (s, l8080, api) = three_routes();
    let before_rule = rule_state(&api);
    let status = run(&args(&[&s.by_arn()], &["--output", "json", "status"])).ok();
    let routes = status.json()["routes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(routes.len(), 3, "{}", status.stdout);
    // The routes' ARNs with -v (names without).
    let text = run(&args(&[&s.by_arn()], &["-v", "status"])).ok().stdout;
    assert!(
        text.contains("Routes moved together (3)") && text.contains(&api) && text.contains(&l8080),
        "{text}"
    );

    let r = run(&args(
        &[&s.by_arn()],
        &["shift", "--target", "green", "--percentage", "25"],
    ))
    .ok();
    assert!(r.stdout.contains("and in lockstep on the"), "{}", r.stdout);
    assert_eq!(listener_weights(&s, &s.listener_arn), (Some(75), Some(25)));
    assert_eq!(listener_weights(&s, &l8080), (Some(75), Some(25)));
    assert_eq!(rule_weights(&s, &api), (Some(75), Some(25)));
    let after_rule = rule_state(&api);
    assert_eq!(
        (&before_rule.0, &before_rule.1),
        (&after_rule.0, &after_rule.1),
        "the rule keeps its priority and conditions"
    );
    assert_eq!(
        forward(&l8080).1,
        Some((true, Some(300))),
        "stickiness kept"
    );

    let r = run(&args(&[&s.by_arn()], &["rollback"])).ok();
    assert!(r.stdout.contains("Rolled back"), "{}", r.stdout);
    assert_eq!(listener_weights(&s, &s.listener_arn), (Some(100), Some(0)));
    assert_eq!(listener_weights(&s, &l8080), (Some(100), Some(0)));
    assert_eq!(rule_weights(&s, &api), (Some(100), Some(0)));
}

#[test]
fn a_gated_deployment_moves_every_route_and_records_the_stable_color_on_each() {
    let (s, l8080, api) = three_routes();
    let publisher = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let r = run(&gated(
        &s.by_arn(),
        &["deploy", "--target", "green", "--steps", "50,100"],
        "1s",
    ));
    drop(publisher);
    assert_eq!(r.code, 0, "{r:?}");
    for listener in [&s.listener_arn, &l8080] {
        assert_eq!(listener_weights(&s, listener), (Some(0), Some(100)));
        assert_eq!(tag(listener, "albflip:stable").as_deref(), Some("green"));
    }
    assert_eq!(rule_weights(&s, &api), (Some(0), Some(100)));
    assert_eq!(tag(&api, "albflip:stable").as_deref(), Some("green"));
}

#[test]
fn two_load_balancers_move_in_lockstep() {
    let s = stack(Some(300));
    let (internal, through) = second_alb(
        &s,
        weighted(&[(&s.blue_tg, 100), (&s.green_tg, 0)], Some((true, 300))),
    );
    let internal_listener = through.listener_arn.clone();
    // By default only the route's own load balancer is searched: AWS attaches a target group to one
    // load balancer at most (the emulator allows two), so a second one is named.
    let routes = |route: &[String]| {
        let status = run(&args(&[route], &["--output", "json", "status"])).ok();
        status.json()["routes"]
            .as_array()
            .map(Vec::len)
            .unwrap_or_default()
    };
    assert_eq!(routes(&s.by_arn()), 1);
    let lbs = vec![
        "--load-balancer".to_string(),
        s.lb_name(),
        "--load-balancer".to_string(),
        internal.clone(),
    ];
    assert_eq!(routes(&lbs), 2);
    let r = run(&args(
        &[&lbs],
        &["shift", "--target", "green", "--percentage", "40"],
    ))
    .ok();
    assert!(
        r.stdout.contains(&route_named(&internal_listener)),
        "{}",
        r.stdout
    );
    assert_eq!(listener_weights(&s, &s.listener_arn), (Some(60), Some(40)));
    assert_eq!(
        listener_weights(&s, &internal_listener),
        (Some(60), Some(40))
    );

    let r = run(&args(&[&lbs], &["rollback"])).ok();
    assert!(r.stdout.contains("Rolled back"), "{}", r.stdout);
    assert_eq!(listener_weights(&s, &s.listener_arn), (Some(100), Some(0)));
    assert_eq!(
        listener_weights(&s, &internal_listener),
        (Some(100), Some(0))
    );
}

#[test]
fn a_refused_write_on_the_second_route_puts_the_first_back() {
    let (s, l8080, api) = three_routes();
    let before = [
        fingerprint(&s.listener_arn),
        fingerprint(&l8080),
        format!("{:?}", rule_state(&api)),
    ];
    // The first write (the named listener) passes; the second is refused; the put-back passes.
    let proxy = Proxy::start(Config {
        only_actions: Some(vec!["ModifyListener".into(), "ModifyRule".into()]),
        pass_first: 1,
        max_faults: Some(1),
        ..Config::only(Fault::Rejected, 1.0)
    });
    let endpoint = vec!["--endpoint-url".to_string(), proxy.endpoint.clone()];
    let r = run(&args(
        &[&endpoint, &s.by_arn()],
        &["shift", "--target", "green", "--percentage", "25"],
    ));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("ValidationError") && r.stderr.contains("Put back as they were"),
        "{}",
        r.stderr
    );
    assert_eq!(proxy.counts().rejected, 1);
    let after = [
        fingerprint(&s.listener_arn),
        fingerprint(&l8080),
        format!("{:?}", rule_state(&api)),
    ];
    assert_eq!(before, after, "every route is as it was");
}

#[test]
fn routes_with_different_splits_are_refused_and_rollback_restores_all() {
    let (s, l8080, api) = three_routes();
    set_default_actions(
        &l8080,
        vec![weighted(
            &[(&s.blue_tg, 50), (&s.green_tg, 50)],
            Some((true, 300)),
        )],
    );
    let before = fingerprint(&s.listener_arn);
    let r = run(&args(
        &[&s.by_arn()],
        &["shift", "--target", "green", "--percentage", "10"],
    ));
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.stderr.contains("do not carry the same split")
            && r.stderr.contains(&l8080)
            && r.stderr.contains(&s.listener_arn),
        "{}",
        r.stderr
    );
    assert_eq!(fingerprint(&s.listener_arn), before, "nothing written");
    let r = run(&args(&[&s.by_arn()], &["rollback"])).ok();
    assert!(r.stdout.contains("Rolled back"), "{}", r.stdout);
    assert_eq!(listener_weights(&s, &l8080), (Some(100), Some(0)));
    assert_eq!(listener_weights(&s, &s.listener_arn), (Some(100), Some(0)));
    assert_eq!(rule_weights(&s, &api), (Some(100), Some(0)));
}

#[test]
fn routes_to_one_group_or_a_third_are_left_alone_unless_included() {
    let s = stack(Some(300));
    let blue_only = extra_listener(&s, 8081, weighted(&[(&s.blue_tg, 1)], Some((true, 300))));
    let other = extra_target_group(&s, "canary-tg");
    let third = extra_listener(
        &s,
        8082,
        weighted(&[(&s.blue_tg, 100), (&s.green_tg, 0), (&other, 0)], None),
    );
    let (blue_before, third_before) = (fingerprint(&blue_only), fingerprint(&third));
    let status = run(&args(&[&s.by_arn()], &["status"])).ok().stdout;
    assert!(
        status.contains("Left alone (2)")
            && status.contains("forwards to blue")
            && status.contains("also forwards to"),
        "{status}"
    );
    run(&args(
        &[&s.by_arn()],
        &["shift", "--target", "green", "--percentage", "20"],
    ))
    .ok();
    assert_eq!(fingerprint(&blue_only), blue_before);
    assert_eq!(fingerprint(&third), third_before);

    // Included explicitly, the blue-only route is converted, but only at the group's split.
    let include = vec!["--include-route".to_string(), blue_only.clone()];
    let r = run(&args(&[&s.by_arn(), &include], &["rollback"])).ok();
    assert!(r.stdout.contains("Rolled back"), "{}", r.stdout);
    let r = run(&args(
        &[&s.by_arn(), &include],
        &["shift", "--target", "green", "--percentage", "20"],
    ))
    .ok();
    assert!(r.stdout.contains(&route_named(&blue_only)), "{}", r.stdout);
    assert_eq!(listener_weights(&s, &blue_only), (Some(80), Some(20)));
    assert_eq!(fingerprint(&third), third_before);

    // --single-route moves the named route only.
    let single = vec!["--single-route".to_string()];
    run(&args(
        &[&s.by_arn(), &single],
        &["shift", "--target", "green", "--percentage", "30"],
    ))
    .ok();
    assert_eq!(listener_weights(&s, &s.listener_arn), (Some(70), Some(30)));
    assert_eq!(listener_weights(&s, &blue_only), (Some(80), Some(20)));
}

#[test]
fn errors_seen_only_through_the_second_load_balancer_roll_back_every_route() {
    let s = stack(Some(300));
    let (internal, through) = second_alb(
        &s,
        weighted(&[(&s.blue_tg, 100), (&s.green_tg, 0)], Some((true, 300))),
    );
    let _external = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let _internal = Publisher::start(
        &through,
        Faults {
            blue: 0.0,
            green: 0.5,
        },
    );
    // Both load balancers named: AWS attaches a target group to one at most (the emulator allows two).
    let lbs = [
        "--load-balancer".to_string(),
        s.lb_name(),
        "--load-balancer".to_string(),
        internal,
    ];
    let r = run(&gated(
        &lbs,
        &["deploy", "--target", "green", "--steps", "50,100"],
        "20s",
    ));
    assert_eq!(r.code, 3, "{r:?}");
    // Green fails half its requests through the internal load balancer and none through the external
    // one: the rate judged is a mix of the two, 25 % when both carry as much, other values when a
    // window holds periods from before the write (the publishers' periods are not aligned with it).
    let rate = green_5xx_percent(&r.stdout);
    assert!(rate > 0.0 && rate <= 50.0, "{rate}: {}", r.stdout);
    assert_eq!(listener_weights(&s, &s.listener_arn), (Some(100), Some(0)));
    assert_eq!(
        listener_weights(&s, &through.listener_arn),
        (Some(100), Some(0))
    );
}

/// The green 5XX rate a verdict line states ("green 5XX 25% (…)"), in percent.
fn green_5xx_percent(stdout: &str) -> f64 {
    let at = stdout
        .find("green 5XX ")
        .unwrap_or_else(|| panic!("no green 5XX verdict: {stdout}"));
    let rest = &stdout[at + "green 5XX ".len()..];
    let number: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    number
        .parse()
        .unwrap_or_else(|_| panic!("no rate after 'green 5XX ': {stdout}"))
}

/// Every route of `three_routes` on blue 50% / green 50%.
fn all_at_half(s: &Stack) {
    run(&args(
        &[&s.by_arn()],
        &["shift", "--target", "green", "--percentage", "50"],
    ))
    .ok();
}

#[test]
fn a_rollback_takes_three_round_trips_with_discovery_and_two_with_single_route() {
    let (s, l8080, api) = three_routes();
    all_at_half(&s);
    // Every request is held 150 ms: requests made at once overlap, requests made one after another do
    // not, so the proxy sees the rollback's sequential round trips.
    let proxy = Proxy::start(Config::delaying(std::time::Duration::from_millis(150)));
    let endpoint = vec!["--endpoint-url".to_string(), proxy.endpoint.clone()];
    let v = run(&args(
        &[&endpoint, &s.by_arn()],
        &["--output", "json", "rollback"],
    ))
    .ok()
    .json();
    let actions: Vec<String> = proxy.seen().into_iter().map(|r| r.action).collect();
    // The route, its tags and its load balancer's listeners; the rules and the health; the 3 writes.
    assert_eq!(proxy.round_trips(), 3, "{actions:?}");
    assert!(
        !actions.iter().any(|a| a == "DescribeTargetGroups"),
        "{actions:?}"
    );
    // Issue 20: the listing of the load balancer's listeners is the read of the named one too.
    assert_eq!(
        actions.iter().filter(|a| *a == "DescribeListeners").count(),
        1,
        "{actions:?}"
    );
    assert_eq!(v["changes"].as_array().map(Vec::len), Some(3), "{v}");
    assert!(
        v["changes"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|c| c["written"] == true),
        "{v}"
    );
    assert_eq!(listener_weights(&s, &s.listener_arn), (Some(100), Some(0)));
    assert_eq!(listener_weights(&s, &l8080), (Some(100), Some(0)));
    assert_eq!(rule_weights(&s, &api), (Some(100), Some(0)));

    all_at_half(&s);
    let proxy = Proxy::start(Config::delaying(std::time::Duration::from_millis(150)));
    let endpoint = vec!["--endpoint-url".to_string(), proxy.endpoint.clone()];
    let colors = vec![
        "--blue".to_string(),
        s.blue_tg.clone(),
        "--green".to_string(),
        s.green_tg.clone(),
        "--single-route".to_string(),
    ];
    run(&args(&[&endpoint, &s.by_arn(), &colors], &["rollback"])).ok();
    let actions: Vec<String> = proxy.seen().into_iter().map(|r| r.action).collect();
    // The route, its tags and the health of both colors; the write.
    assert_eq!(proxy.round_trips(), 2, "{actions:?}");
    assert_eq!(listener_weights(&s, &s.listener_arn), (Some(100), Some(0)));
    assert_eq!(
        listener_weights(&s, &l8080),
        (Some(50), Some(50)),
        "left as it was"
    );
}

#[test]
fn a_lockstep_rollback_reports_each_routes_own_split_and_writes_nothing_once_all_are_there() {
    let (s, l8080, api) = three_routes();
    // Only a peer moved: the named listener is already on blue.
    set_default_actions(
        &l8080,
        vec![weighted(
            &[(&s.blue_tg, 50), (&s.green_tg, 50)],
            Some((true, 300)),
        )],
    );
    let r = run(&args(&[&s.by_arn()], &["rollback"])).ok();
    assert!(
        !r.stdout
            .contains("blue 100% / green 0% -> blue 100% / green 0%"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Rolled back: already at blue 100% / green 0% on the")
            && r.stdout.contains(&format!(
                "{}: blue 50% / green 50% -> blue 100% / green 0%",
                route_named(&l8080)
            )),
        "{}",
        r.stdout
    );
    assert_eq!(listener_weights(&s, &l8080), (Some(100), Some(0)));

    let before = [fingerprint(&s.listener_arn), fingerprint(&l8080)];
    let v = run(&args(&[&s.by_arn()], &["--output", "json", "rollback"]))
        .ok()
        .json();
    assert_eq!(v["written"], false, "{v}");
    let calls = v["api_calls"].as_object().cloned().unwrap_or_default();
    assert!(
        calls
            .keys()
            .all(|k| !k.contains("Modify") && !k.contains("AddTags")),
        "{v}"
    );
    let changes = v["changes"].as_array().cloned().unwrap_or_default();
    assert_eq!(changes.len(), 3, "{v}");
    for c in &changes {
        assert_eq!(c["written"], false, "{v}");
        assert_eq!(c["before"], c["after"], "{v}");
    }
    assert!(changes.iter().any(|c| c["route"] == api.as_str()), "{v}");
    assert_eq!(before, [fingerprint(&s.listener_arn), fingerprint(&l8080)]);
}

/// `--pair` for `other`: its load balancer and its own blue and green groups, by name.
fn pair_of(other: &Stack) -> [String; 2] {
    let name = |arn: &str| arn.split('/').nth(1).unwrap_or_default().to_string();
    [
        "--pair".to_string(),
        format!(
            "{},{},{}",
            other.lb_name(),
            name(&other.blue_tg),
            name(&other.green_tg)
        ),
    ]
}

/// Issue 17, load balancer pairs: on AWS a target group belongs to one load balancer, so an internal and
/// an internet-facing ALB in front of the same versions are two blue/green pairs. `--pair` moves the
/// other pair's routes with the named one, and a rollback puts both back.
#[test]
fn a_pair_on_another_load_balancer_shifts_and_rolls_back_with_the_route() {
    let (external, internal) = (stack(None), stack(None));
    let route = [external.by_arn(), pair_of(&internal).to_vec()].concat();
    let r = run(&args(
        &[&route],
        &["shift", "--target", "green", "--percentage", "30"],
    ))
    .ok();
    assert!(
        r.stdout.contains(&format!(
            "and in lockstep on the {}",
            route_named(&internal.listener_arn)
        )),
        "{}",
        r.stdout
    );
    assert_eq!(weights(&external), (Some(70), Some(30)));
    assert_eq!(
        weights(&internal),
        (Some(70), Some(30)),
        "the pair's own groups"
    );
    let status = run(&args(&[&route], &["--output", "json", "status"]))
        .ok()
        .json();
    assert_eq!(
        status["routes"].as_array().map(Vec::len),
        Some(2),
        "{status}"
    );

    run(&args(&[&route], &["rollback"])).ok();
    assert_eq!(weights(&external), (Some(100), Some(0)));
    assert_eq!(weights(&internal), (Some(100), Some(0)));
}

/// Issue 17: the gates read every pair's metrics: errors only the internal pair's green serves roll
/// both pairs back.
#[test]
fn errors_only_the_pair_sees_roll_back_both_pairs() {
    let (external, internal) = (stack(None), stack(None));
    let _external = Publisher::start(
        &external,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let _internal = Publisher::start(
        &internal,
        Faults {
            blue: 0.0,
            green: 0.5,
        },
    );
    let route = [external.by_arn(), pair_of(&internal).to_vec()].concat();
    let r = run(&gated(
        &route,
        &["deploy", "--target", "green", "--steps", "50,100"],
        "20s",
    ));
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stdout.contains("green 5XX"), "{}", r.stdout);
    assert_eq!(weights(&external), (Some(100), Some(0)));
    assert_eq!(weights(&internal), (Some(100), Some(0)));
}

/// Issue 17: a pair that cannot be one is refused before any write, naming `--pair`: the route's own
/// load balancer, a load balancer that does not exist, a group of another load balancer.
#[test]
fn a_pair_that_cannot_be_one_is_refused_and_nothing_changes() {
    let (external, internal) = (stack(None), stack(None));
    let before = (
        fingerprint(&external.listener_arn),
        fingerprint(&internal.listener_arn),
    );
    let name = |arn: &str| arn.split('/').nth(1).unwrap_or_default().to_string();
    let bad = [
        format!(
            "{},{},{}",
            external.lb_name(),
            name(&internal.blue_tg),
            name(&internal.green_tg)
        ),
        format!(
            "no-such-alb,{},{}",
            name(&internal.blue_tg),
            name(&internal.green_tg)
        ),
        format!(
            "{},{},{}",
            internal.lb_name(),
            name(&external.blue_tg),
            name(&internal.green_tg)
        ),
        "just-one-field".to_string(),
    ];
    for pair in bad {
        let route = [external.by_arn(), vec!["--pair".to_string(), pair.clone()]].concat();
        let r = run(&args(
            &[&route],
            &["shift", "--target", "green", "--percentage", "30"],
        ));
        assert_eq!(r.code, 2, "{pair}: {r:?}");
        assert!(r.stderr.contains("--pair"), "{pair}: {}", r.stderr);
    }
    assert_eq!(
        (
            fingerprint(&external.listener_arn),
            fingerprint(&internal.listener_arn)
        ),
        before
    );
}
