//! The provider conformance suite (`tests/conformance/`) against a real HAProxy through its runtime API:
//! [`HaproxyRouter`] on a round-robin backend of one blue and one green server and on one with two of
//! each, refusing a backend with a third server that takes traffic and one that does not exist, putting a
//! group back when HAProxy refuses the last backend's weights (`balance static-rr` takes no run-time
//! weights), and the state file as the [`StateStore`](albflip::ports::StateStore).

use albflip::haproxy::{HaproxyRoute, HaproxyRouter, RuntimeApi, ServerColors, Socket};
use albflip::local::{StateDir, StateFile};

use crate::harness::*;

// HAProxy has no capacity pool: that contract is not run here.
#[allow(dead_code)]
#[path = "../conformance/mod.rs"]
pub mod contract;

fn colors(blue: &[&str], green: &[&str]) -> ServerColors {
    ServerColors {
        blue: blue.iter().map(|s| s.to_string()).collect(),
        green: green.iter().map(|s| s.to_string()).collect(),
    }
}

/// A runtime to drive the async contracts on (nginx's conformance uses it too).
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A HAProxy whose servers point at closed ports (the router's contracts need no traffic).
fn haproxy() -> Haproxy {
    let (b, g) = (free_port(), free_port());
    Haproxy::start(&[
        BackendSpec::new(
            "app",
            vec![Server::new("blue1", b, 256), Server::new("green1", g, 0)],
        ),
        BackendSpec::new(
            "api",
            vec![Server::new("blue1", b, 100), Server::new("green1", g, 100)],
        ),
        BackendSpec::new(
            "pool",
            vec![
                Server::new("blue1", b, 256),
                Server::new("blue2", b, 256),
                Server::new("green1", g, 0),
                Server::new("green2", g, 0),
            ],
        ),
        BackendSpec::new(
            "mixed",
            vec![
                Server::new("blue1", b, 100),
                Server::new("green1", g, 0),
                Server::new("red1", g, 10),
            ],
        ),
        BackendSpec {
            balance: "static-rr".into(),
            ..BackendSpec::new(
                "fixed",
                vec![Server::new("blue1", b, 256), Server::new("green1", g, 0)],
            )
        },
    ])
}

fn router(h: &Haproxy, colors: ServerColors) -> HaproxyRouter {
    let socket = Socket::parse(&h.socket_arg()).expect("socket");
    HaproxyRouter::new(RuntimeApi::new(socket), colors)
}

#[test]
fn haproxy_router_reads_and_writes_a_split() {
    let h = haproxy();
    let one = router(&h, colors(&["blue1"], &["green1"]));
    rt().block_on(contract::router_reads_and_writes_a_split(
        &one,
        &HaproxyRoute::new("app"),
    ));
    assert_eq!(
        (h.weight("app", "blue1"), h.weight("app", "green1")),
        (256, 0),
        "back on blue"
    );
    rt().block_on(contract::router_reads_and_writes_a_split(
        &one,
        &HaproxyRoute::new("api"),
    ));
    assert_eq!(
        (h.weight("api", "blue1"), h.weight("api", "green1")),
        (256, 256),
        "back on 50/50"
    );

    let two = router(&h, colors(&["blue1", "blue2"], &["green1", "green2"]));
    rt().block_on(contract::router_reads_and_writes_a_split(
        &two,
        &HaproxyRoute::new("pool"),
    ));
}

#[test]
fn haproxy_router_refuses_a_backend_it_cannot_shift() {
    let h = haproxy();
    let r = router(&h, colors(&["blue1"], &["green1"]));
    rt().block_on(contract::router_refuses_a_route_it_cannot_shift(
        &r,
        &HaproxyRoute::new("mixed"),
    ));
    assert_eq!(h.weight("mixed", "red1"), 10, "nothing was written");
    // A backend without a server albflip was told about is refused the same way.
    let r = router(&h, colors(&["blue1"], &["green9"]));
    rt().block_on(contract::router_refuses_a_route_it_cannot_shift(
        &r,
        &HaproxyRoute::new("app"),
    ));
}

#[test]
fn haproxy_router_reports_a_missing_backend() {
    let h = haproxy();
    let r = router(&h, colors(&["blue1"], &["green1"]));
    rt().block_on(contract::router_reports_a_missing_route(
        &r,
        &HaproxyRoute::new("nowhere"),
    ));
}

#[test]
fn haproxy_router_puts_a_group_back_when_haproxy_refuses_the_last_backend() {
    let h = haproxy();
    let r = router(&h, colors(&["blue1"], &["green1"]));
    let routes = [
        HaproxyRoute::new("app"),
        HaproxyRoute::new("api"),
        HaproxyRoute::new("fixed"),
    ];
    rt().block_on(contract::group_write_puts_back_on_failure(
        &r,
        &routes,
        || {},
    ));
    assert_eq!(
        (h.weight("fixed", "blue1"), h.weight("fixed", "green1")),
        (256, 0)
    );
}

#[test]
fn the_state_file_round_trips() {
    let store = StateFile::new(StateDir::new(temp_dir("state")));
    rt().block_on(contract::state_store_round_trips(
        &store,
        &"haproxy app".to_string(),
    ));
}
