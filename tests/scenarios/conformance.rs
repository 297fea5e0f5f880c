//! The provider conformance suite (`tests/conformance/`) in memory: the smallest provider
//! ([`InMemoryRouter`], a router and state store written straight against the neutral ports) and the
//! ALB provider ([`AlbRouter`], [`AlbState`], the Auto Scaling API as a `CapacityPool`) over the in-memory load balancer and Auto
//! Scaling. The in-memory load balancer has one route and fails writes from the next one on, so the
//! ALB's group put-back is covered on the emulator (`tests/it/conformance.rs`).

use std::sync::Arc;

use albflip::aws::arn::{ListenerArn, TargetGroupArn};
use albflip::aws::resolve::{RouteSpec, Target};
use albflip::aws::route::{ColorGroups, RouteId};
use albflip::aws::router::{AlbRouter, AlbState};
use albflip::model::{Color, Split};
use albflip::testing::{InMemoryAlb, InMemoryRouter, InMemoryScaler};

#[path = "../conformance/mod.rs"]
mod contract;

const MISSING_LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/sim-shop-alb/0000000000000001/00000000000000ff";
const THIRD_GROUP: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/sim-shop-red-tg/00000000000000fe";

fn routes(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_string()).collect()
}

fn listener(alb: &InMemoryAlb) -> RouteId {
    RouteId::Listener(alb.listener_arn())
}

// The in-memory router.

#[tokio::test]
async fn memory_router_reads_and_writes_a_split() {
    let router = InMemoryRouter::with_routes(&["web"], Split::all_to(Color::Blue));
    contract::router_reads_and_writes_a_split(&router, &"web".to_string()).await;
    let router = InMemoryRouter::with_routes(&["web"], contract::green(35));
    contract::router_reads_and_writes_a_split(&router, &"web".to_string()).await;
}

#[tokio::test]
async fn memory_router_refuses_a_route_it_cannot_shift() {
    let router = InMemoryRouter::with_routes(&["web", "broken"], Split::all_to(Color::Blue));
    contract::router_refuses_a_route_it_cannot_shift(&router, &"broken".to_string()).await;
}

#[tokio::test]
async fn memory_router_reports_a_missing_route() {
    let router = InMemoryRouter::with_routes(&["web"], Split::all_to(Color::Blue));
    contract::router_reports_a_missing_route(&router, &"nowhere".to_string()).await;
}

#[tokio::test]
async fn memory_router_puts_a_group_back_when_the_last_write_is_refused() {
    let router = InMemoryRouter::with_routes(&["web", "api"], Split::all_to(Color::Blue));
    contract::group_write_puts_back_on_failure(&router, &routes(&["web", "api"]), || {
        router.refuse_writes_to("api")
    })
    .await;

    let router = InMemoryRouter::with_routes(&["a", "b", "c"], contract::green(10));
    contract::group_write_puts_back_on_failure(&router, &routes(&["a", "b", "c"]), || {
        router.refuse_writes_to("c")
    })
    .await;
}

#[tokio::test]
async fn memory_state_store_round_trips() {
    let store = InMemoryRouter::with_routes(&["web"], Split::all_to(Color::Blue));
    contract::state_store_round_trips(&store, &"web".to_string()).await;
}

// The ALB provider over the in-memory load balancer.

#[tokio::test]
async fn alb_router_reads_and_writes_a_split_in_memory() {
    let alb = InMemoryAlb::new();
    let router = AlbRouter::new(&alb, alb.groups().clone());
    contract::router_reads_and_writes_a_split(&router, &listener(&alb)).await;
    assert_eq!(alb.split(), Split::all_to(Color::Blue), "back on blue");

    // A route forwarding to blue alone, without weights, as the reference stack starts.
    let alb = InMemoryAlb::new();
    alb.set_single_group();
    let router = AlbRouter::new(&alb, alb.groups().clone());
    contract::router_reads_and_writes_a_split(&router, &listener(&alb)).await;
}

#[tokio::test]
async fn alb_router_refuses_a_route_it_cannot_shift_in_memory() {
    // The listener forwards to blue and green; a router whose green is a third group finds a target
    // group that is neither of its colors.
    let alb = InMemoryAlb::new();
    let groups = ColorGroups::new(
        alb.groups().blue.clone(),
        TargetGroupArn::parse(THIRD_GROUP).expect("target group ARN"),
    );
    let router = AlbRouter::new(&alb, groups);
    contract::router_refuses_a_route_it_cannot_shift(&router, &listener(&alb)).await;
    assert!(alb.written().is_empty(), "nothing was written");
}

#[tokio::test]
async fn alb_router_reports_a_missing_route_in_memory() {
    let alb = InMemoryAlb::new();
    let router = AlbRouter::new(&alb, alb.groups().clone());
    let missing = RouteId::Listener(ListenerArn::parse(MISSING_LISTENER).expect("listener ARN"));
    contract::router_reports_a_missing_route(&router, &missing).await;
    assert!(alb.written().is_empty(), "nothing was written");
}

#[tokio::test]
async fn alb_state_store_round_trips_in_memory() {
    let alb = InMemoryAlb::new();
    contract::state_store_round_trips(&AlbState::new(&alb), &listener(&alb)).await;
    assert_eq!(
        alb.tag("albflip:target").as_deref(),
        Some("green"),
        "kept as the listener's tags"
    );
}

#[tokio::test]
async fn alb_capacity_pool_finds_and_sets_in_memory() {
    let alb = Arc::new(InMemoryAlb::new());
    let scaler = InMemoryScaler::blue_green(Arc::clone(&alb));
    use albflip::ports::{Provider, Routes};
    let target = Target::new(RouteSpec::Listener(alb.listener_arn()));
    let routes = alb
        .resolve(&target)
        .await
        .expect("resolve the in-memory listener");
    let (blue, green) = (routes.backend(Color::Blue), routes.backend(Color::Green));
    contract::capacity_pool_finds_and_sets(&scaler, &blue, &green).await;
    contract::capacity_pool_finds_and_sets(&scaler, &green, &blue).await;
    assert_eq!(
        scaler.writes().len(),
        4,
        "one write to set, one to restore, per color"
    );
}
