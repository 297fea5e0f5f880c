//! The provider conformance suite (`tests/conformance/`) against the ALB provider on the emulator,
//! through the real SDK: [`AlbRouter`] on the reference stack's listener, refusing listeners it cannot
//! shift and one that does not exist, putting a group back when the backend refuses the second route's
//! write (the fault-injecting proxy), [`AlbState`] on the listener's tags, and the Auto Scaling API as a `CapacityPool` on the
//! stack's blue and green Auto Scaling groups.

use albflip::aws::arn::{ListenerArn, TargetGroupArn};
use albflip::aws::route::{ColorGroups, RouteId};
use albflip::aws::router::{AlbRouter, AlbState};
use albflip::aws::{AutoScaling, CallCounter, ElbV2};
use albflip::model::Color;

use crate::harness::*;
use crate::proxy::{Config, Fault, Proxy};

#[path = "../conformance/mod.rs"]
mod contract;

fn groups(stack: &Stack) -> ColorGroups {
    let tg = |arn: &str| TargetGroupArn::parse(arn).expect("target group ARN");
    ColorGroups::new(tg(&stack.blue_tg), tg(&stack.green_tg))
}

fn listener(arn: &str) -> RouteId {
    RouteId::Listener(ListenerArn::parse(arn).expect("listener ARN"))
}

fn elbv2() -> ElbV2 {
    ElbV2::new(&sdk_config(), CallCounter::default())
}

#[test]
fn alb_router_reads_and_writes_a_split_on_the_emulator() {
    let s = stack(None);
    let alb = elbv2();
    let router = AlbRouter::new(&alb, groups(&s));
    // The reference listener forwards to blue alone, without weights.
    rt().block_on(contract::router_reads_and_writes_a_split(
        &router,
        &listener(&s.listener_arn),
    ));

    // A weighted route between both colors, with stickiness, not only the reference single group.
    let l8080 = extra_listener(
        &s,
        8080,
        weighted(&[(&s.blue_tg, 70), (&s.green_tg, 30)], Some((true, 300))),
    );
    rt().block_on(contract::router_reads_and_writes_a_split(
        &router,
        &listener(&l8080),
    ));
}

#[test]
fn alb_router_refuses_routes_it_cannot_shift_on_the_emulator() {
    let s = stack(None);
    let third = extra_target_group(&s, "red");
    let foreign = extra_listener(&s, 8080, weighted(&[(&s.blue_tg, 50), (&third, 50)], None));
    let fixed = extra_listener(&s, 8081, maintenance_response());
    let before = [fingerprint(&foreign), fingerprint(&fixed)];
    let alb = elbv2();
    let router = AlbRouter::new(&alb, groups(&s));
    rt().block_on(async {
        contract::router_refuses_a_route_it_cannot_shift(&router, &listener(&foreign)).await;
        contract::router_refuses_a_route_it_cannot_shift(&router, &listener(&fixed)).await;
    });
    assert_eq!(
        before,
        [fingerprint(&foreign), fingerprint(&fixed)],
        "nothing was written"
    );
}

#[test]
fn alb_router_reports_a_missing_route_on_the_emulator() {
    let s = stack(None);
    let alb = elbv2();
    let router = AlbRouter::new(&alb, groups(&s));
    rt().block_on(contract::router_reports_a_missing_route(
        &router,
        &listener(&missing_listener(&s.listener_arn)),
    ));
}

#[test]
fn alb_router_puts_a_group_back_when_the_second_write_is_refused_on_the_emulator() {
    let s = stack(None);
    // Weights as albflip writes all-to-blue, with stickiness: its put-back leaves it as found.
    let l8080 = extra_listener(
        &s,
        8080,
        weighted(&[(&s.blue_tg, 100), (&s.green_tg, 0)], Some((true, 300))),
    );
    let before = [fingerprint(&l8080), fingerprint(&s.listener_arn)];
    // The proxy lets the first write (the listener on 8080) through, refuses the second (the reference
    // listener) and lets the put-back through; reads pass untouched.
    let proxy = Proxy::start(Config {
        only_actions: Some(vec!["ModifyListener".into()]),
        pass_first: 1,
        max_faults: Some(1),
        ..Config::only(Fault::Rejected, 1.0)
    });
    let config = sdk_config()
        .to_builder()
        .endpoint_url(&proxy.endpoint)
        .build();
    let alb = ElbV2::new(&config, CallCounter::default());
    let router = AlbRouter::new(&alb, groups(&s));
    let routes = [listener(&l8080), listener(&s.listener_arn)];
    rt().block_on(contract::group_write_puts_back_on_failure(
        &router,
        &routes,
        || assert_eq!(proxy.counts().faults(), 0, "armed, not yet fired"),
    ));
    assert_eq!(proxy.counts().rejected, 1, "{:?}", proxy.counts());
    assert_eq!(
        before,
        [fingerprint(&l8080), fingerprint(&s.listener_arn)],
        "the route put back is as it was, stickiness and all; the refused one untouched"
    );
}

#[test]
fn alb_state_store_round_trips_on_the_listener_tags_on_the_emulator() {
    let s = stack(None);
    let alb = elbv2();
    rt().block_on(contract::state_store_round_trips(
        &AlbState::new(&alb),
        &listener(&s.listener_arn),
    ));
    assert_eq!(
        tag(&s.listener_arn, "albflip:target").as_deref(),
        Some("green"),
        "kept as the listener's tags"
    );
}

#[test]
fn alb_capacity_pool_finds_and_sets_the_auto_scaling_groups_on_the_emulator() {
    let (s, blue_asg, green_asg) = stack_with_empty_green(None);
    let config = sdk_config();
    let calls = CallCounter::default();
    let (alb, asgs) = (
        ElbV2::new(&config, calls.clone()),
        AutoScaling::new(&config, calls),
    );
    let pool = asgs;
    rt().block_on(async {
        use albflip::ports::{CapacityPool, Provider, Routes};
        let target =
            albflip::aws::resolve::Target::new(albflip::aws::resolve::RouteSpec::Listener(
                albflip::aws::arn::ListenerArn::parse(&s.listener_arn).expect("listener ARN"),
            ));
        let routes = alb
            .resolve(&target)
            .await
            .expect("resolve the stack's listener");
        for (color, name) in [(Color::Green, &green_asg), (Color::Blue, &blue_asg)] {
            let backend = routes.backend(color);
            let found = CapacityPool::find(&pool, &backend).await.expect("find");
            assert_eq!(
                found.iter().map(|p| &p.name).collect::<Vec<_>>(),
                [name],
                "{color} is the stack's {color} group"
            );
            contract::capacity_pool_finds_and_sets(&pool, &backend, &routes.backend(color.other()))
                .await;
            let health = routes.health(color).await.expect("health");
            assert!(health.healthy <= health.total, "{health:?}");
        }
    });
}
