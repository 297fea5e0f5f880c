//! The real-traffic scenarios every router runs, written once over a [`Stack`] of a [`Router`]:
//! `haproxy.rs` and `nginx.rs` call each with their router, one `#[test]` each, and add what only
//! their router has. Each returns the stack for those extras.

use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::harness::*;

/// A healthy gradual deployment loses no request, each step's share is what the client sees, and
/// `status` shows green stable, the deployment complete, green's health probed and the lock released.
pub fn a_healthy_gradual_deployment_loses_no_request(router: Router) -> Stack {
    let mut s = Stack::start(router);
    let run = s.run(&deploy(&["--steps", "20,50,100", "--bake", "4s"]));
    let total = s.load.stop();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(total.failed(), 0, "no client request failed: {total:?}");
    // A reload retires nginx's old worker, which closes its idle keep-alive connections: a GET sent
    // on one at that instant is sent again, as browsers do (at most one per client and reload).
    // HAProxy reloads nothing.
    eprintln!("requests sent again on a new connection: {}", total.retried);
    match router {
        Router::Haproxy => assert_eq!(total.retried, 0, "{total:?}"),
        Router::Nginx => assert!(total.retried <= 4 * 3, "{total:?}"),
    }
    s.proxy.assert_all_on_green();
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
    assert_eq!(
        v["green"]["health"]["healthy"], 1,
        "probed green's health: {v}"
    );
    assert!(v["lock"].is_null(), "the lock was released: {v}");
    s
}

/// A green failing 30 % of its requests is rolled back (exit 3), and the failed requests albflip
/// reports (from HAProxy's counters or nginx's access log) are the ones the client counted and green
/// served, over no longer than albflip says; the HTML report names them.
pub fn a_green_failing_30_percent_is_rolled_back_and_counted(router: Router) -> Stack {
    let mut s = Stack::start(router);
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
    s
}

/// While a deployment runs, a second albflip is refused naming the lock and `unlock` shows its holder;
/// green killed mid-step is rolled back (exit 3) without a failed request on blue.
pub fn green_killed_mid_step_is_rolled_back(router: Router) -> Stack {
    let mut s = Stack::start(router);
    let child = s.spawn(&deploy(&["--steps", "20,100", "--bake", "30s"]));
    s.wait_green_live();
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
    // Review of issue 21: `--force` confirms as on the ALB. Without a terminal or `--yes`: refused,
    // exit 2, with the ALB's message; on a terminal it asks, and an `n` breaks nothing.
    let force = s.run(&["unlock", "--force"]);
    assert_eq!(force.code, 2, "{force:?}");
    for part in [
        "unlock --force: not confirmed",
        "held by",
        "answer y at the prompt",
        "--yes",
    ] {
        assert!(force.stderr.contains(part), "{part}: {}", force.stderr);
    }
    let asked = s.run_on_terminal(&["unlock", "--force"], "n\n");
    assert!(
        asked.stdout.contains("Break the lock on") && asked.stdout.contains("[y/N]"),
        "asked on a terminal: {asked:?}"
    );
    assert!(asked.stdout.contains("not confirmed"), "{asked:?}");
    assert_eq!(asked.code, 2, "{asked:?}");
    let still = s.run(&["unlock"]);
    assert!(
        still.stdout.contains("held by"),
        "nothing broken: {still:?}"
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
    s
}

/// SIGTERM mid-bake puts all traffic back on blue and albflip exits (130) within 2 s, without a failed
/// request, and no request reaches green after.
pub fn sigterm_mid_bake_puts_all_traffic_on_blue_within_2s(router: Router) -> Stack {
    let mut s = Stack::start(router);
    let child = s.spawn(&deploy(&["--steps", "50,100", "--bake", "60s"]));
    s.wait_green_live();
    std::thread::sleep(Duration::from_secs(2));
    let signalled = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    // HAProxy's live weights, or nginx's upstream file before its reload.
    while s.weights() != (256, 0) {
        assert!(
            signalled.elapsed() < Duration::from_secs(2),
            "traffic still on green {:?} after SIGTERM",
            s.weights()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let written = SystemTime::now();
    let run = wait_exit(child);
    assert!(
        signalled.elapsed() < Duration::from_secs(2),
        "albflip put blue back (and reloaded nginx) and exited within 2 s: {:?}",
        signalled.elapsed()
    );
    // Traffic is back on blue once HAProxy's weights read so; on nginx once albflip returns, as it
    // does when nginx answered the reload.
    let back = if s.proxy.weights_are_live() {
        written
    } else {
        SystemTime::now()
    };
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
    s
}

/// `shift` moves 30 % of the real traffic (verified), `status` shows it, `rollback` puts it back
/// without a failed request. On HAProxy, `status` warns that the live weights differ from the
/// configuration's while shifted, and no more once rolled back; on nginx, whose file albflip writes,
/// never.
pub fn shift_and_rollback_move_real_traffic(router: Router) -> Stack {
    const WARNING: &str = "WARNING: the live weights differ from the configuration's";
    let warns = router == Router::Haproxy;
    let mut s = Stack::start(router);
    let run = s.run(&["shift", "--target", "green", "--percentage", "30"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("verified"), "{}", run.stdout);
    let w = s.weights();
    assert!(w.0 > 0 && w.1 > 0, "{w:?}");
    let status = s.run(&["status"]);
    assert_eq!(status.code, 0, "{status:?}");
    assert!(status.stdout.contains("30%"), "{}", status.stdout);
    assert_eq!(status.stdout.contains(WARNING), warns, "{}", status.stdout);
    std::thread::sleep(Duration::from_secs(1));
    let mark = SystemTime::now();
    std::thread::sleep(Duration::from_secs(2));
    let seen = s.load.tally(mark, SystemTime::now());
    assert!((seen.green_percent() - 30.0).abs() <= 6.0, "{seen:?}");
    let back = s.run(&["rollback"]);
    assert_eq!(back.code, 0, "{back:?}");
    assert_eq!(s.weights(), (256, 0));
    let total = s.load.stop();
    assert_eq!(total.failed(), 0, "{total:?}");
    let status = s.run(&["status"]);
    assert_eq!(status.code, 0, "{status:?}");
    assert!(
        !status.stdout.contains("WARNING"),
        "configured weights again: {}",
        status.stdout
    );
    s
}

/// `check` passes green's health (and on nginx its configuration test), `plan` names the route, and
/// neither writes anything; a canary of 20 % awaits promotion (a second deploy is refused) and its
/// promotion puts all traffic on green without a failed request.
pub fn check_plan_a_canary_and_its_promotion(router: Router) -> Stack {
    let mut s = Stack::start(router);
    let before = s.proxy.written();
    let check = s.run(&["check", "--target", "green"]);
    assert_eq!(check.code, 0, "{check:?}");
    assert!(
        check.stdout.contains("PASS  green health"),
        "{}",
        check.stdout
    );
    if router == Router::Nginx {
        assert!(
            check.stdout.contains("configuration test passes"),
            "{}",
            check.stdout
        );
    }
    let plan = s.run(&["plan", "--target", "green", "--steps", "10,100"]);
    assert_eq!(plan.code, 0, "{plan:?}");
    assert!(
        plan.stdout.contains(s.proxy.plan_names()),
        "{}",
        plan.stdout
    );
    assert_eq!(s.weights(), (256, 0), "check and plan write nothing");
    assert_eq!(s.proxy.written(), before, "check and plan write nothing");

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
    s.proxy.assert_all_on_green();
    let total = s.load.stop();
    assert_eq!(total.failed(), 0, "{total:?}");
    s
}

/// Issue 21: each deployment adds an entry to the state directory's history file, and `albflip
/// history` lists them newest first with their outcomes, as on the ALB: a completed one to green, then
/// one back to blue that fails half its requests, rolled back.
pub fn history_lists_a_completed_and_a_rolled_back_deployment_newest_first(
    router: Router,
) -> Stack {
    let mut s = Stack::start(router);
    let empty = s.run(&["history"]);
    assert_eq!(empty.code, 0, "{empty:?}");
    assert!(
        empty.stdout.contains("No deployment recorded"),
        "{}",
        empty.stdout
    );

    let passed = s.run(&deploy(&["--strategy", "immediate", "--bake", "3s"]));
    assert_eq!(passed.code, 0, "{passed:?}");
    s.proxy.assert_all_on_green();
    let on_green = s.weights();
    let passed_id = deployment_id(&events(&passed.stdout));

    // Back to blue, which now fails half of its requests: rolled back to green.
    s.blue.fail_percent(50);
    let mut to_blue = vec![
        "deploy", "--target", "blue", "--steps", "50,100", "--bake", "20s",
    ];
    to_blue.extend_from_slice(FAST);
    let failed = s.run(&to_blue);
    assert_eq!(failed.code, 3, "rolled back: {failed:?}");
    assert_eq!(s.weights(), on_green, "all traffic back on green");
    let failed_id = deployment_id(&events(&failed.stdout));
    s.load.stop();

    let json = s.run(&["history", "--output", "json"]);
    assert_eq!(json.code, 0, "{json:?}");
    let v: Value = serde_json::from_str(json.stdout.trim()).expect("history JSON");
    assert!(
        v["route"]
            .as_str()
            .unwrap_or_default()
            .starts_with(&format!("{} ", router.name())),
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

    let all = s.run(&["history"]);
    assert_eq!(all.code, 0, "{all:?}");
    assert!(
        all.stdout.contains("completed") && all.stdout.contains("rolled back"),
        "{}",
        all.stdout
    );
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
    s
}
