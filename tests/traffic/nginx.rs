//! Real traffic through a real nginx, moved by the real `albflip --router nginx`: a healthy gradual
//! deployment loses no request and each step's share is what the client sees; a green that fails 30 %
//! of its requests, or dies mid-step, is rolled back (exit 3) and the failed requests albflip reports
//! (from nginx's access log) are the ones the client counted; SIGTERM mid-bake puts everything back on
//! blue within 2 s without a failed request; a broken nginx configuration or a refused reload changes
//! nothing and quotes nginx.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::harness::*;

/// Blue and green servers, nginx in front (blue at 256, green down), a client load running.
struct Stack {
    blue: ColorServer,
    green: ColorServer,
    b: Upstreamed,
    g: Upstreamed,
    nginx: Nginx,
    load: Load,
    state: std::path::PathBuf,
}

impl Stack {
    fn start() -> Stack {
        let (blue, green) = (ColorServer::start("blue"), ColorServer::start("green"));
        let b = Upstreamed::new("blue1", blue.port(), 256);
        let g = Upstreamed::new("green1", green.port(), 0);
        let nginx = Nginx::start(&[
            Upstreamed::new("blue1", blue.port(), 256),
            Upstreamed::new("green1", green.port(), 0),
        ]);
        let load = Load::start(
            &format!("http://127.0.0.1:{}/", nginx.port),
            4,
            Duration::from_millis(5),
        );
        Stack {
            blue,
            green,
            b,
            g,
            nginx,
            load,
            state: temp_dir("state"),
        }
    }

    /// The flags that name the route.
    fn route(&self) -> Vec<String> {
        strings(&[
            "--router",
            "nginx",
            "--nginx-upstream-file",
            &self.nginx.upstream_file.display().to_string(),
            "--nginx-upstream",
            "app",
            "--nginx-access-log",
            &self.nginx.access_log.display().to_string(),
            "--nginx-reload-command",
            &self.nginx.reload_command(),
            "--nginx-test-command",
            &self.nginx.test_command(),
            "--nginx-pid-file",
            &self.nginx.pid_file().display().to_string(),
            "--health-path",
            "/health",
            "--blue",
            &self.b.address(),
            "--green",
            &self.g.address(),
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

    /// Blue's and green's effective weights in the upstream file (0: down).
    fn weights(&self) -> (u32, u32) {
        let w = self.nginx.weights(&[&self.b, &self.g]);
        (w[0], w[1])
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

/// Waits until the upstream gives green a weight (albflip's first step is live).
fn wait_green_live(s: &Stack) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.weights().1 == 0 {
        assert!(Instant::now() < deadline, "green never got traffic");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn nginx_a_healthy_gradual_deployment_loses_no_request_and_each_step_gets_its_share() {
    let mut s = Stack::start();
    let run = s.run(&deploy(&["--steps", "20,50,100", "--bake", "4s"]));
    let total = s.load.stop();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(total.failed(), 0, "no client request failed: {total:?}");
    // A reload retires nginx's old worker, which closes its idle keep-alive connections: a GET sent
    // on one at that instant is sent again, as browsers do (at most one per client and reload).
    eprintln!("requests sent again on a new connection: {}", total.retried);
    assert!(total.retried <= 4 * 3, "{total:?}");
    assert_eq!(s.weights().0, 0, "blue marked down");
    assert!(s.weights().1 > 0, "all traffic on green");
    assert!(
        s.nginx
            .upstream_text()
            .contains(&format!("server {} weight=1 down;", s.b.address())),
        "{}",
        s.nginx.upstream_text()
    );
    let ev = events(&run.stdout);
    assert_eq!(summary(&ev)["outcome"], "completed");
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
    assert_eq!(v["green"]["health"]["healthy"], 1, "probed /health: {v}");
    assert!(v["lock"].is_null(), "the lock was released: {v}");
}

#[test]
fn nginx_a_green_failing_30_percent_is_rolled_back_and_albflip_counts_the_failures_the_client_saw()
{
    let mut s = Stack::start();
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
fn nginx_green_killed_mid_step_is_rolled_back() {
    let mut s = Stack::start();
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
fn nginx_sigterm_mid_bake_puts_all_traffic_on_blue_within_2s_without_a_failed_request() {
    let mut s = Stack::start();
    let child = s.spawn(&deploy(&["--steps", "50,100", "--bake", "60s"]));
    wait_green_live(&s);
    std::thread::sleep(Duration::from_secs(2));
    let signalled = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    // The file, then nginx: green is down in the file and no request reaches green any more.
    while s.weights() != (256, 0) {
        assert!(
            signalled.elapsed() < Duration::from_secs(2),
            "traffic still on green {:?} after SIGTERM",
            s.weights()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let run = wait_exit(child);
    assert!(
        signalled.elapsed() < Duration::from_secs(2),
        "albflip reloaded nginx and exited within 2 s: {:?}",
        signalled.elapsed()
    );
    // albflip returns once nginx answered the reload: requests sent from then on go to blue.
    let back = SystemTime::now();
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
fn nginx_a_broken_config_or_a_refused_reload_changes_nothing_and_quotes_nginx() {
    let s = Stack::start();
    let before = s.nginx.upstream_text();
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
    assert_eq!(s.nginx.upstream_text(), before, "the file is as it was");

    // nginx's configuration broken elsewhere: the test fails, the file is put back.
    s.nginx.break_config();
    let run1 = s.run(&["shift", "--target", "green", "--percentage", "50"]);
    assert!(matches!(run1.code, 1 | 2), "{run1:?}");
    assert!(
        run1.stderr.contains("unknown directive \"this\""),
        "quotes nginx: {}",
        run1.stderr
    );
    assert_eq!(s.nginx.upstream_text(), before, "the file is as it was");
    let dep = s.run(&deploy(&["--steps", "50,100", "--bake", "2s"]));
    assert!(matches!(dep.code, 1 | 2), "{dep:?}");
    assert_eq!(s.nginx.upstream_text(), before, "the file is as it was");
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

#[test]
fn nginx_shift_and_rollback_move_real_traffic() {
    let mut s = Stack::start();
    let run = s.run(&["shift", "--target", "green", "--percentage", "30"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("verified"), "{}", run.stdout);
    let w = s.weights();
    assert!(w.0 > 0 && w.1 > 0, "{w:?}");
    let status = s.run(&["status"]);
    assert_eq!(status.code, 0, "{status:?}");
    assert!(status.stdout.contains("30%"), "{}", status.stdout);
    std::thread::sleep(Duration::from_millis(500));
    let mark = SystemTime::now();
    std::thread::sleep(Duration::from_secs(2));
    let seen = s.load.tally(mark, SystemTime::now());
    assert!((seen.green_percent() - 30.0).abs() <= 6.0, "{seen:?}");
    let back = s.run(&["rollback"]);
    assert_eq!(back.code, 0, "{back:?}");
    assert_eq!(s.weights(), (256, 0));
    let total = s.load.stop();
    assert_eq!(total.failed(), 0, "{total:?}");
}

#[test]
fn nginx_check_and_plan_write_nothing() {
    let mut s = Stack::start();
    let before = s.nginx.upstream_text();
    let check = s.run(&["check", "--target", "green"]);
    assert_eq!(check.code, 0, "{check:?}");
    assert!(
        check.stdout.contains("PASS  green health"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("configuration test passes"),
        "{}",
        check.stdout
    );
    let plan = s.run(&["plan", "--target", "green", "--steps", "10,100"]);
    assert_eq!(plan.code, 0, "{plan:?}");
    assert!(
        plan.stdout.contains("nginx upstream app"),
        "{}",
        plan.stdout
    );
    assert_eq!(
        s.nginx.upstream_text(),
        before,
        "check and plan write nothing"
    );
    // A green whose health URL does not answer fails the check.
    s.green.kill();
    let down = s.run(&["check", "--target", "green"]);
    assert_ne!(down.code, 0, "{down:?}");
    assert!(
        down.stdout.contains("FAIL  green health"),
        "{}",
        down.stdout
    );
    assert_eq!(s.nginx.upstream_text(), before);
}

/// Issue 21: on nginx too, each deployment adds an entry to the state directory's history file and
/// `albflip history` lists them newest first: here a rolled-back one, then a completed one.
#[test]
fn nginx_history_lists_a_rolled_back_and_a_completed_deployment_newest_first() {
    let mut s = Stack::start();
    s.green.fail_percent(50);
    let failed = s.run(&deploy(&["--steps", "50,100", "--bake", "20s"]));
    assert_eq!(failed.code, 3, "rolled back: {failed:?}");
    assert_eq!(s.weights(), (256, 0), "all traffic back on blue");
    s.green.fail_percent(0);
    let passed = s.run(&deploy(&["--strategy", "immediate", "--bake", "3s"]));
    assert_eq!(passed.code, 0, "{passed:?}");
    s.load.stop();
    let id = |run: &Run| {
        events(&run.stdout)
            .iter()
            .find(|e| e["event"] == "deployment_started")
            .and_then(|e| e["deployment_id"].as_str().map(str::to_string))
            .unwrap_or_else(|| panic!("no deployment started: {run:?}"))
    };
    let json = s.run(&["history", "--output", "json"]);
    assert_eq!(json.code, 0, "{json:?}");
    let v: Value = serde_json::from_str(json.stdout.trim()).expect("history JSON");
    let list = v["deployments"].as_array().expect("deployments");
    let got: Vec<(&str, &str)> = list
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap_or_default(),
                e["outcome"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (id(&passed).as_str(), "completed"),
            (id(&failed).as_str(), "rolled_back")
        ],
        "{v}"
    );
    let text = s.run(&["history"]);
    assert!(
        text.stdout.contains("completed") && text.stdout.contains("rolled back"),
        "{}",
        text.stdout
    );
}
