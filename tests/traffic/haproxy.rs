//! Real traffic through a real HAProxy, moved by the real `albflip --router haproxy`: the shared
//! scenarios ([`scenarios`](crate::scenarios)) — a healthy gradual deployment, a green failing 30 %
//! or dying mid-step rolled back, SIGTERM mid-bake, shift and rollback (with `status` warning about
//! weights a reload would lose), check, plan and a canary, the history — and what only HAProxy has:
//! an unreachable socket changes nothing.

use crate::harness::*;
use crate::scenarios;

const ROUTER: Router = Router::Haproxy;

#[test]
fn a_healthy_gradual_deployment_loses_no_request_and_each_step_gets_its_share() {
    scenarios::a_healthy_gradual_deployment_loses_no_request(ROUTER);
}

#[test]
fn a_green_failing_30_percent_is_rolled_back_and_albflip_counts_the_failures_the_client_saw() {
    scenarios::a_green_failing_30_percent_is_rolled_back_and_counted(ROUTER);
}

#[test]
fn green_killed_mid_step_is_rolled_back() {
    scenarios::green_killed_mid_step_is_rolled_back(ROUTER);
}

#[test]
fn sigterm_mid_bake_puts_all_traffic_on_blue_within_2s_without_a_failed_request() {
    scenarios::sigterm_mid_bake_puts_all_traffic_on_blue_within_2s(ROUTER);
}

#[test]
fn shift_and_rollback_move_real_traffic_and_status_warns_about_weights_a_reload_would_lose() {
    scenarios::shift_and_rollback_move_real_traffic(ROUTER);
}

#[test]
fn check_plan_a_canary_and_its_promotion_on_real_traffic() {
    scenarios::check_plan_a_canary_and_its_promotion(ROUTER);
}

#[test]
fn history_lists_a_completed_and_a_rolled_back_deployment_newest_first() {
    scenarios::history_lists_a_completed_and_a_rolled_back_deployment_newest_first(ROUTER);
}

#[test]
fn an_unreachable_socket_is_a_clear_error_and_changes_nothing() {
    let s = Stack::start(ROUTER);
    let before = s.weights();
    for socket in [
        "/nonexistent/albflip/admin.sock".to_string(),
        format!("tcp:127.0.0.1:{}", free_port()),
    ] {
        let mut args = s.route();
        let at = args
            .iter()
            .position(|a| a == "--haproxy-socket")
            .expect("flag")
            + 1;
        args[at] = socket.clone();
        args.extend(strings(&[
            "shift",
            "--target",
            "green",
            "--percentage",
            "50",
        ]));
        let run = run(albflip(), &args);
        assert_eq!(run.code, 1, "a runtime error: {run:?}");
        assert!(
            run.stderr.contains(&socket.replace("tcp:", "")),
            "names the socket: {}",
            run.stderr
        );
        assert!(run.stderr.contains("Nothing was changed"), "{}", run.stderr);
        assert!(
            run.stderr.contains("hint: check that HAProxy runs"),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("AWS"), "no AWS hint: {}", run.stderr);
    }
    assert_eq!(s.weights(), before, "nothing changed");
    // A missing flag is a usage error, before anything is contacted.
    let run = run(albflip(), &strings(&["--router", "haproxy", "status"]));
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("--haproxy-socket"), "{}", run.stderr);
}
