//! Real traffic through a real HAProxy, moved by the real `albflip --router haproxy`: a healthy gradual
//! deployment loses no request and each step's share is what the client sees; a green that fails 30 %
//! of its requests, or dies mid-step, is rolled back (exit 3) and the failed requests albflip reports
//! are the ones the client counted; SIGTERM mid-bake puts everything back on blue within 2 s without a
//! failed request; an unreachable socket changes nothing; `status` warns about weights a reload would
//! lose.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::harness::*;

/// Blue and green servers, HAProxy in front (blue at 256, green at 0), a client load running.
struct Stack {
    blue: ColorServer,
    green: ColorServer,
    haproxy: Haproxy,
    load: Load,
    state: std::path::PathBuf,
}

impl Stack {
    fn start() -> Stack {
        let (blue, green) = (ColorServer::start("blue"), ColorServer::start("green"));
        let haproxy = Haproxy::start(&[BackendSpec::new(
            "app",
            vec![
                Server::new("blue1", blue.port(), 256),
                Server::new("green1", green.port(), 0),
            ],
        )]);
        haproxy.wait_status("app", "blue1", "UP");
        let load = Load::start(
            &format!("http://127.0.0.1:{}/", haproxy.port),
            4,
            Duration::from_millis(5),
        );
        Stack {
            blue,
            green,
            haproxy,
            load,
            state: temp_dir("state"),
        }
    }

    /// The flags that name the route.
    fn route(&self) -> Vec<String> {
        strings(&[
            "--router",
            "haproxy",
            "--haproxy-socket",
            &self.haproxy.socket_arg(),
            "--haproxy-backend",
            "app",
            "--blue",
            "blue1",
            "--green",
            "green1",
            "--state-dir",
            &self.state.display().to_string(),
        ])
    }

    fn args(&self, tail: &[&str]) -> Vec<String> {
        let mut a = self.route();
        a.extend(strings(tail));
        a
    }

    fn run(&self, tail: &[&str]) -> Run {
        run(albflip(), &self.args(tail))
    }

    fn spawn(&self, tail: &[&str]) -> Child {
        albflip()
            .args(self.args(tail))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start albflip")
    }

    fn weights(&self) -> (u16, u16) {
        (
            self.haproxy.weight("app", "blue1"),
            self.haproxy.weight("app", "green1"),
        )
    }
}

/// Short bakes: 1 s polls and periods over a 10 s window.
const FAST: &[&str] = &[
    "--poll-interval",
    "1s",
    "--metric-period",
    "1s",
    "--metric-window",
    "10s",
    "--output",
    "json",
];

fn deploy<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["deploy", "--target", "green"];
    a.extend_from_slice(FAST);
    a.extend_from_slice(extra);
    a
}

/// The NDJSON lines of a run's stdout.
fn events(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn ts(v: &Value) -> SystemTime {
    let text = v["ts"].as_str().expect("ts");
    humantime::parse_rfc3339(text).unwrap_or_else(|e| panic!("ts {text}: {e}"))
}

fn summary(events: &[Value]) -> &Value {
    events
        .iter()
        .find(|e| e["event"] == "summary")
        .unwrap_or_else(|| panic!("no summary in {events:?}"))
}

fn wait_exit(child: Child) -> Run {
    let out = child.wait_with_output().expect("albflip ran");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Waits until HAProxy gives green a weight above zero (albflip's first step is live).
fn wait_green_live(s: &Stack) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.weights().1 == 0 {
        assert!(Instant::now() < deadline, "green never got traffic");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_healthy_gradual_deployment_loses_no_request_and_each_step_gets_its_share() {
    let mut s = Stack::start();
    s.haproxy.wait_status("app", "green1", "UP");
    let run = s.run(&deploy(&["--steps", "20,50,100", "--bake", "4s"]));
    let total = s.load.stop();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(total.failed(), 0, "no client request failed: {total:?}");
    assert_eq!(s.weights(), (0, 256), "all traffic on green");
    let ev = events(&run.stdout);
    assert_eq!(summary(&ev)["outcome"], "completed");
    // Each step's share as the client saw it, from its verified write to its pass.
    let applied: Vec<&Value> = ev
        .iter()
        .filter(|e| e["event"] == "weights_applied")
        .collect();
    let passed: Vec<&Value> = ev.iter().filter(|e| e["event"] == "step_passed").collect();
    assert_eq!((applied.len(), passed.len()), (3, 3), "{ev:?}");
    for (a, p) in applied.iter().zip(&passed) {
        let want = a["split"]["green"].as_f64().expect("green share");
        let seen = s.load.tally(ts(a), ts(p));
        assert!(seen.total() > 200, "enough requests in the step: {seen:?}");
        assert!(
            (seen.green_percent() - want).abs() <= 5.0,
            "step at {want}%: the client saw {:.1}% green ({seen:?})",
            seen.green_percent()
        );
    }
    let status = s.run(&["status", "--output", "json"]);
    let v: Value = serde_json::from_str(&status.stdout).expect("status JSON");
    assert_eq!(v["stable"], "green", "{v}");
    assert_eq!(v["deployment"]["phase"], "complete", "{v}");
    assert!(v["lock"].is_null(), "the lock was released: {v}");
}

#[test]
fn a_green_failing_30_percent_is_rolled_back_and_albflip_counts_the_failures_the_client_saw() {
    let mut s = Stack::start();
    s.haproxy.wait_status("app", "green1", "UP");
    s.green.fail_percent(30);
    let report = temp_dir("report").join("report.html");
    let report_arg = report.display().to_string();
    let run = s.run(&deploy(&[
        "--steps",
        "10,50,100",
        "--bake",
        "20s",
        "--report",
        &report_arg,
    ]));
    // The client keeps going a moment: nothing more may fail once traffic is back.
    std::thread::sleep(Duration::from_millis(500));
    let total = s.load.stop();
    assert_eq!(run.code, 3, "rolled back: {run:?}");
    assert_eq!(s.weights(), (256, 0), "all traffic back on blue");
    assert!(total.failed_green > 0, "green failed requests: {total:?}");
    assert_eq!(
        (total.failed_blue, total.failed_unknown),
        (0, 0),
        "every failure was green's: {total:?}"
    );
    let ev = events(&run.stdout);
    let sum = summary(&ev);
    assert_eq!(sum["outcome"], "rolled_back", "{sum}");
    let blast = &sum["blast_radius"];
    let counted = blast["failed_requests"].as_f64().expect("blast radius") as u64;
    assert_eq!(blast["color"], "green");
    assert_eq!(
        counted, total.failed_green,
        "albflip's count of green's failures is the client's ({total:?}, {blast})"
    );
    assert_eq!(
        s.green.served().1,
        counted,
        "and green's own count of its 500s"
    );
    assert_eq!(s.blue.served().1, 0);
    // The failures lasted from the first to the last period albflip read with one, the client's
    // first-to-last failure inside it.
    let seconds = blast["seconds"].as_f64().expect("seconds");
    assert!(
        total.failure_span().as_secs_f64() <= seconds + 1.0,
        "client span {:?} vs albflip's {seconds}s",
        total.failure_span()
    );
    let html = std::fs::read_to_string(&report).expect("the report");
    assert!(
        html.contains(&format!("{counted} failed requests on green")),
        "the report names the blast radius"
    );
}

#[test]
fn green_killed_mid_step_is_rolled_back() {
    let mut s = Stack::start();
    s.haproxy.wait_status("app", "green1", "UP");
    let child = s.spawn(&deploy(&["--steps", "20,100", "--bake", "30s"]));
    wait_green_live(&s);
    // The run holds the route's file lock: a second albflip is refused, naming it.
    let second = s.run(&["shift", "--target", "green", "--percentage", "50"]);
    assert_eq!(second.code, 4, "{second:?}");
    assert!(
        second.stderr.contains("holds the lock"),
        "{}",
        second.stderr
    );
    // Issue 21: plain `unlock` shows the holder, since when and the expiry, and exits 0.
    let unlock = s.run(&["unlock"]);
    assert_eq!(unlock.code, 0, "{unlock:?}");
    assert!(
        unlock.stdout.contains("held by") && unlock.stdout.contains("expires "),
        "{}",
        unlock.stdout
    );
    std::thread::sleep(Duration::from_millis(1500));
    s.green.kill();
    let run = wait_exit(child);
    let total = s.load.stop();
    assert_eq!(run.code, 3, "rolled back: {run:?}");
    assert_eq!(s.weights(), (256, 0), "all traffic back on blue");
    assert_eq!(total.failed_blue, 0, "{total:?}");
    let ev = events(&run.stdout);
    assert_eq!(summary(&ev)["outcome"], "rolled_back");
}

#[test]
fn sigterm_mid_bake_puts_all_traffic_on_blue_within_2s_without_a_failed_request() {
    let mut s = Stack::start();
    s.haproxy.wait_status("app", "green1", "UP");
    let child = s.spawn(&deploy(&["--steps", "50,100", "--bake", "60s"]));
    wait_green_live(&s);
    std::thread::sleep(Duration::from_secs(2));
    let signalled = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    while s.weights() != (256, 0) {
        assert!(
            signalled.elapsed() < Duration::from_secs(2),
            "traffic still on green {:?} after SIGTERM",
            s.weights()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let back = SystemTime::now();
    let run = wait_exit(child);
    std::thread::sleep(Duration::from_millis(500));
    let total = s.load.stop();
    assert_eq!(run.code, 130, "interrupted: {run:?}");
    assert_eq!(total.failed(), 0, "no request failed: {total:?}");
    assert!(total.green > 0, "green had traffic before: {total:?}");
    let after = s
        .load
        .tally(back + Duration::from_millis(100), SystemTime::now());
    assert_eq!(
        after.green, 0,
        "nothing on green after the rollback: {after:?}"
    );
}

#[test]
fn an_unreachable_socket_is_a_clear_error_and_changes_nothing() {
    let s = Stack::start();
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

#[test]
fn shift_and_rollback_move_real_traffic_and_status_warns_about_weights_a_reload_would_lose() {
    let mut s = Stack::start();
    s.haproxy.wait_status("app", "green1", "UP");
    let run = s.run(&["shift", "--target", "green", "--percentage", "30"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("verified"), "{}", run.stdout);
    let w = s.weights();
    assert!(w.0 > 0 && w.1 > 0, "{w:?}");
    let status = s.run(&["status"]);
    assert_eq!(status.code, 0, "{status:?}");
    assert!(status.stdout.contains("30%"), "{}", status.stdout);
    assert!(
        status
            .stdout
            .contains("WARNING: the live weights differ from the configuration's"),
        "{}",
        status.stdout
    );
    std::thread::sleep(Duration::from_secs(1));
    let mark = SystemTime::now();
    std::thread::sleep(Duration::from_secs(1));
    let seen = s.load.tally(mark, SystemTime::now());
    assert!((seen.green_percent() - 30.0).abs() <= 6.0, "{seen:?}");
    let back = s.run(&["rollback"]);
    assert_eq!(back.code, 0, "{back:?}");
    assert_eq!(s.weights(), (256, 0));
    let total = s.load.stop();
    assert_eq!(total.failed(), 0, "{total:?}");
    let status = s.run(&["status"]);
    assert!(
        !status.stdout.contains("WARNING"),
        "configured weights again: {}",
        status.stdout
    );
}

#[test]
fn check_plan_a_canary_and_its_promotion_on_real_traffic() {
    let mut s = Stack::start();
    s.haproxy.wait_status("app", "green1", "UP");
    let check = s.run(&["check", "--target", "green"]);
    assert_eq!(check.code, 0, "{check:?}");
    assert!(
        check.stdout.contains("PASS  green health"),
        "{}",
        check.stdout
    );
    let plan = s.run(&["plan", "--target", "green", "--steps", "10,100"]);
    assert_eq!(plan.code, 0, "{plan:?}");
    assert!(
        plan.stdout.contains("on the HAProxy backend app"),
        "{}",
        plan.stdout
    );
    assert_eq!(s.weights(), (256, 0), "check and plan write nothing");

    let canary = deploy(&[
        "--strategy",
        "canary",
        "--canary-percentage",
        "20",
        "--bake",
        "3s",
    ]);
    let run = s.run(&canary);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        summary(&events(&run.stdout))["outcome"],
        "awaiting_promotion"
    );
    let (b, g) = s.weights();
    assert!(b > 0 && g > 0, "20 % on green: {b}/{g}");
    let again = s.run(&deploy(&["--bake", "3s"]));
    assert_eq!(again.code, 4, "a canary awaits promotion: {again:?}");

    let mut promote = vec!["promote", "--bake", "3s"];
    promote.extend_from_slice(FAST);
    let run = s.run(&promote);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(summary(&events(&run.stdout))["outcome"], "completed");
    assert_eq!(s.weights(), (0, 256));
    let total = s.load.stop();
    assert_eq!(total.failed(), 0, "{total:?}");
}

/// The id of the deployment a run started, from its NDJSON.
fn deployment_id(events: &[Value]) -> String {
    events
        .iter()
        .find_map(|e| {
            e["deployment_id"]
                .as_str()
                .filter(|_| e["event"] == "deployment_started")
        })
        .unwrap_or_else(|| panic!("no deployment started in {events:?}"))
        .to_string()
}

/// Issue 21: on HAProxy, each deployment adds an entry to the state directory's history file, and
/// `albflip history` lists them newest first, with their outcomes, as on the ALB.
#[test]
fn history_lists_a_completed_and_a_rolled_back_deployment_newest_first() {
    let mut s = Stack::start();
    s.haproxy.wait_status("app", "green1", "UP");
    let empty = s.run(&["history"]);
    assert_eq!(empty.code, 0, "{empty:?}");
    assert!(
        empty.stdout.contains("No deployment recorded"),
        "{}",
        empty.stdout
    );

    let passed = s.run(&deploy(&["--strategy", "immediate", "--bake", "3s"]));
    assert_eq!(passed.code, 0, "{passed:?}");
    assert_eq!(s.weights(), (0, 256));
    let passed_id = deployment_id(&events(&passed.stdout));

    // Back to blue, which now fails half of its requests: rolled back to green.
    s.blue.fail_percent(50);
    let mut to_blue = vec![
        "deploy", "--target", "blue", "--steps", "50,100", "--bake", "20s",
    ];
    to_blue.extend_from_slice(FAST);
    let failed = s.run(&to_blue);
    assert_eq!(failed.code, 3, "rolled back: {failed:?}");
    assert_eq!(s.weights(), (0, 256), "all traffic back on green");
    let failed_id = deployment_id(&events(&failed.stdout));
    s.load.stop();

    let json = s.run(&["history", "--output", "json"]);
    assert_eq!(json.code, 0, "{json:?}");
    let v: Value = serde_json::from_str(json.stdout.trim()).expect("history JSON");
    assert!(
        v["route"]
            .as_str()
            .unwrap_or_default()
            .starts_with("haproxy "),
        "{v}"
    );
    let list = v["deployments"].as_array().expect("deployments");
    assert_eq!(list.len(), 2, "{v}");
    assert_eq!(list[0]["id"], failed_id.as_str(), "newest first: {v}");
    assert_eq!(list[0]["outcome"], "rolled_back");
    assert_eq!(list[0]["target"], "blue");
    assert!(
        !list[0]["reason"].as_str().unwrap_or_default().is_empty(),
        "the failing gate is the reason: {v}"
    );
    assert_eq!(list[1]["id"], passed_id.as_str());
    assert_eq!(list[1]["outcome"], "completed");
    assert_eq!(list[1]["target"], "green");
    for e in list {
        assert!(e["seconds"].as_f64().unwrap_or_default() > 0.0, "{e}");
        assert!(
            !e["started_by"].as_str().unwrap_or_default().is_empty(),
            "{e}"
        );
    }

    let text = s.run(&["history", "--limit", "1"]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stdout.contains("newest first") && text.stdout.contains("rolled back"),
        "{}",
        text.stdout
    );
    assert!(
        !text.stdout.contains(&passed_id),
        "--limit 1: {}",
        text.stdout
    );
    assert!(
        s.state.join("history.json").exists(),
        "the history lives in the state directory"
    );
}
