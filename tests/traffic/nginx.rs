//! Real traffic through a real nginx, moved by the real `albflip --router nginx`: the shared scenarios
//! ([`scenarios`](crate::scenarios)) — a healthy gradual deployment (a reload's keep-alive resends
//! bounded), a green failing 30 % (counted from nginx's access log) or dying mid-step rolled back,
//! SIGTERM mid-bake, shift and rollback, check, plan and a canary, the history — and what only nginx
//! has: a green whose health URL does not answer fails `check`, and a broken nginx configuration or a
//! refused reload changes nothing and quotes nginx.

use std::time::Duration;

use serde_json::Value;

use crate::harness::*;
use crate::scenarios;

const ROUTER: Router = Router::Nginx;

#[test]
fn nginx_a_healthy_gradual_deployment_loses_no_request_and_each_step_gets_its_share() {
    scenarios::a_healthy_gradual_deployment_loses_no_request(ROUTER);
}

#[test]
fn nginx_a_green_failing_30_percent_is_rolled_back_and_albflip_counts_the_failures_the_client_saw()
{
    scenarios::a_green_failing_30_percent_is_rolled_back_and_counted(ROUTER);
}

#[test]
fn nginx_green_killed_mid_step_is_rolled_back() {
    scenarios::green_killed_mid_step_is_rolled_back(ROUTER);
}

#[test]
fn nginx_sigterm_mid_bake_puts_all_traffic_on_blue_within_2s_without_a_failed_request() {
    scenarios::sigterm_mid_bake_puts_all_traffic_on_blue_within_2s(ROUTER);
}

#[test]
fn nginx_shift_and_rollback_move_real_traffic() {
    scenarios::shift_and_rollback_move_real_traffic(ROUTER);
}

/// Check and plan write nothing and a canary is promoted (shared); then a green whose health URL
/// does not answer fails the check, which writes nothing either.
#[test]
fn nginx_check_and_plan_write_nothing() {
    let mut s = scenarios::check_plan_a_canary_and_its_promotion(ROUTER);
    let before = s.proxy.nginx().upstream_text();
    s.green.kill();
    let down = s.run(&["check", "--target", "green"]);
    assert_ne!(down.code, 0, "{down:?}");
    assert!(
        down.stdout.contains("FAIL  green health"),
        "{}",
        down.stdout
    );
    assert_eq!(s.proxy.nginx().upstream_text(), before);
}

#[test]
fn nginx_history_lists_a_rolled_back_and_a_completed_deployment_newest_first() {
    scenarios::history_lists_a_completed_and_a_rolled_back_deployment_newest_first(ROUTER);
}

#[test]
fn nginx_a_broken_config_or_a_refused_reload_changes_nothing_and_quotes_nginx() {
    let s = Stack::start(ROUTER);
    let nginx = s.proxy.nginx();
    let before = nginx.upstream_text();
    // A reload that fails: the previous file is put back.
    let mut args = s.route();
    let at = args
        .iter()
        .position(|a| a == "--nginx-reload-command")
        .expect("flag")
        + 1;
    args[at] = "echo 'nginx: [error] no reload for you' >&2; exit 1".into();
    args.extend(strings(&[
        "shift",
        "--target",
        "green",
        "--percentage",
        "50",
    ]));
    let refused = run(albflip(), &args);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains("no reload for you"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("the previous"),
        "{}",
        refused.stderr
    );
    assert_eq!(nginx.upstream_text(), before, "the file is as it was");

    // nginx's configuration broken elsewhere: the test fails, the file is put back.
    nginx.break_config();
    let run1 = s.run(&["shift", "--target", "green", "--percentage", "50"]);
    assert!(matches!(run1.code, 1 | 2), "{run1:?}");
    assert!(
        run1.stderr.contains("unknown directive \"this\""),
        "quotes nginx: {}",
        run1.stderr
    );
    assert_eq!(nginx.upstream_text(), before, "the file is as it was");
    let dep = s.run(&deploy(&["--steps", "50,100", "--bake", "2s"]));
    assert!(matches!(dep.code, 1 | 2), "{dep:?}");
    assert_eq!(nginx.upstream_text(), before, "the file is as it was");
    let status = s.run(&["status", "--output", "json"]);
    let v: Value = serde_json::from_str(&status.stdout).expect("status JSON");
    assert_eq!(v["green"]["percent"], 0, "{v}");
    assert!(v["deployment"].is_null(), "no deployment recorded: {v}");
    // nginx still serves blue with the configuration it had.
    std::thread::sleep(Duration::from_millis(300));
    let seen = s.load.total();
    assert_eq!(seen.failed(), 0, "{seen:?}");
    assert_eq!(seen.green, 0, "{seen:?}");
    // A missing flag is a usage error, before anything is touched.
    let usage = run(albflip(), &strings(&["--router", "nginx", "status"]));
    assert_eq!(usage.code, 2, "{usage:?}");
    assert!(
        usage.stderr.contains("--nginx-upstream-file"),
        "{}",
        usage.stderr
    );
}
