//! One deployment per listener (the DynamoDB lease), durable state, kill -9 and --resume, drift.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use crate::harness::*;

fn deploy_args(s: &Stack, extra: &[&str], bake: &str) -> Vec<String> {
    let mut v = s.by_arn();
    v.extend(
        ["deploy", "--target", "green"]
            .iter()
            .map(|x| x.to_string()),
    );
    v.extend(extra.iter().map(|x| x.to_string()));
    v.extend(fast(bake));
    v
}

#[test]
fn a_second_run_on_a_locked_listener_exits_4_naming_the_holder_and_unlock_breaks_it() {
    let s = stack(None);
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let lock = ["--lock-table", &s.lock_table];
    let (mut first, _lines) = start_until_weights(&deploy_args(&s, &lock, "60s"));
    let pid = first.id();

    let before = fingerprint(&s.listener_arn);
    let r = run(&deploy_args(&s, &lock, "2s"));
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.stderr.contains("another albflip holds the lock"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!("(pid {pid}) since")),
        "{}",
        r.stderr
    );
    assert_eq!(
        fingerprint(&s.listener_arn),
        before,
        "the second run wrote nothing"
    );

    let mut unlock = s.by_arn();
    unlock.extend(
        ["unlock", "--lock-table", &s.lock_table]
            .iter()
            .map(|x| x.to_string()),
    );
    // Issue 21: plain `unlock` shows the holder, since when and the expiry, and exits 0.
    let r = run(&unlock).ok();
    for part in [
        "held by ".to_string(),
        format!("(pid {pid})"),
        "since   ".to_string(),
        "expires ".to_string(),
        "albflip unlock --force".to_string(),
    ] {
        assert!(r.stdout.contains(&part), "{part:?} missing: {}", r.stdout);
    }
    let mut json = unlock.clone();
    json.extend(["--output".to_string(), "json".to_string()]);
    let v = run(&json).ok().json();
    assert_eq!(v["held"], true, "{v}");
    assert!(
        v["holder"]["holder"]
            .as_str()
            .is_some_and(|h| h.contains(&format!("(pid {pid})"))),
        "{v}"
    );
    assert!(
        v["holder"]["since"].is_string() && v["holder"]["expires"].is_string(),
        "{v}"
    );
    assert_eq!(v["lock"], s.listener_arn.as_str(), "{v}");
    let mut force = unlock.clone();
    force.push("--force".into());
    let r = run(&force);
    assert_eq!(r.code, 2, "not confirmed without a terminal: {r:?}");
    // The same message as on HAProxy/nginx (tests/traffic/scenarios.rs).
    for part in [
        "unlock --force: not confirmed",
        "held by",
        "answer y at the prompt",
        "--yes",
    ] {
        assert!(r.stderr.contains(part), "{part}: {}", r.stderr);
    }

    // The first run finishes cleanly on SIGINT and releases the lock.
    signal(&first, "INT");
    assert_eq!(first.wait().expect("wait").code(), Some(130));
    let r = run(&unlock).ok();
    assert!(r.stdout.contains("No lock is held"), "{}", r.stdout);
    let v = run(&json).ok().json();
    assert_eq!(v["held"], false, "{v}");
    assert!(v["holder"].is_null(), "{v}");

    // A stale lock (its holder was killed) is broken with --force --yes.
    let (mut second, _lines) = start_until_weights(&deploy_args(&s, &lock, "60s"));
    second.kill().expect("kill -9");
    second.wait().expect("wait");
    force.push("--yes".into());
    let r = run(&force).ok();
    assert!(r.stdout.contains("Broke the lock"), "{}", r.stdout);
}

#[test]
fn without_a_lock_table_albflip_warns_once() {
    let s = stack(None);
    let mut argv = s.by_arn();
    argv.extend(
        ["shift", "--target", "green", "--percentage", "10"]
            .iter()
            .map(|x| x.to_string()),
    );
    let r = run(&argv).ok();
    assert_eq!(
        r.stderr.matches("no lock table configured").count(),
        1,
        "{}",
        r.stderr
    );
}

#[test]
fn after_kill_9_status_shows_the_deployment_deploy_refuses_and_resume_finishes_it() {
    let s = stack(Some(120));
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let mut cmd_env = albflip();
    cmd_env.env("BUILD_TAG", "jenkins-shop-deploy-42");
    // The killed run holds a 6 s lease that nobody renews after the kill.
    let lock = ["--lock-table", s.lock_table.as_str(), "--lock-ttl", "6s"];
    cmd_env
        .args(deploy_args(
            &s,
            &[&["--steps", "50,100"][..], &lock[..]].concat(),
            "60s",
        ))
        .stdout(Stdio::piped());
    let mut child = cmd_env.spawn().expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    for line in lines.by_ref() {
        if line.expect("line").contains("weights applied and verified") {
            break;
        }
    }
    child.kill().expect("kill -9");
    child.wait().expect("wait");
    assert_eq!(weights(&s), (Some(50), Some(50)));

    let v = run(&args(&[&s.by_arn()], &["status", "--output", "json"]))
        .ok()
        .json();
    assert_eq!(v["deployment"]["phase"], "in-progress", "{v}");
    assert_eq!(v["deployment"]["step"], 1);
    assert_eq!(v["deployment"]["target"], "green");
    assert_eq!(v["deployment"]["steps"], serde_json::json!([50, 100]));
    assert_eq!(v["deployment"]["started_by"], "jenkins-shop-deploy-42");
    let text = run(&args(&[&s.by_arn()], &["status"])).ok().stdout;
    assert!(
        text.contains("step 1 of 2, in-progress; started by jenkins-shop-deploy-42"),
        "{text}"
    );

    // Issue 17: the resume's dry run shows the resume (the recorded deployment, from its step), not a
    // fresh plan, and writes nothing.
    let before = fingerprint(&s.listener_arn);
    let mut dry = s.by_arn();
    dry.extend(
        ["deploy", "--resume", "--dry-run"]
            .iter()
            .map(|x| x.to_string()),
    );
    dry.extend(fast("2s"));
    let r = run(&dry).ok();
    assert!(
        r.stdout.contains("Dry run of a resume")
            && r.stdout.contains("would continue from step 1 of 2"),
        "{}",
        r.stdout
    );
    assert_eq!(fingerprint(&s.listener_arn), before);

    let r = run(&deploy_args(&s, &[], "2s"));
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.stderr.contains("recorded as in progress at step 1") && r.stderr.contains("--resume"),
        "{}",
        r.stderr
    );

    let mut resume = s.by_arn();
    resume.extend(["deploy", "--resume"].iter().map(|x| x.to_string()));
    resume.extend(lock.iter().map(|x| x.to_string()));
    resume.extend(fast("2s"));
    // The dead holder's lease still stands...
    let r = run(&resume);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.stderr.contains("another albflip holds the lock"),
        "{}",
        r.stderr
    );
    // ...until it expires, with no one to renew it.
    std::thread::sleep(Duration::from_secs(7));
    let r = run(&resume);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("step 1/2: moving to 50%")
            && r.stdout.contains("step 2/2: moving to 100%"),
        "{}",
        r.stdout
    );
    assert_completed_on_green(&s, Some((true, Some(120))));
}

#[test]
fn drift_stops_the_run_without_writing_and_reports_both_values() {
    let s = stack(None);
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let mut cmd = albflip();
    cmd.args(deploy_args(&s, &["--steps", "30,100"], "4s"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    for line in lines.by_ref() {
        if line.expect("line").contains("weights applied and verified") {
            break;
        }
    }
    let record = |key: &str| tag(&s.listener_arn, key);
    let recorded = (record("albflip:step"), record("albflip:updated"));
    assert_eq!(recorded.0.as_deref(), Some("1"));
    // Someone changes the weights by hand while step 1 bakes.
    set_default_actions(
        &s.listener_arn,
        vec![weighted(&[(&s.blue_tg, 60), (&s.green_tg, 40)], None)],
    );
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("expected blue 70% / green 30% but the live split is blue 60% / green 40%"),
        "{stderr}"
    );
    // A plain resume would be refused (the live split is not the recorded one): not recommended.
    assert!(
        stderr.contains("stopped without writing")
            && stderr.contains("`albflip rollback`")
            && !stderr.contains("`albflip deploy --resume` continues"),
        "{stderr}"
    );
    assert!(!stderr.contains("Nothing was changed"), "{stderr}");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        weights(&s),
        (Some(60), Some(40)),
        "albflip wrote nothing after the drift"
    );
    assert_eq!(
        (record("albflip:step"), record("albflip:updated")),
        recorded,
        "the drift stop wrote no tags either"
    );
    assert_eq!(record("albflip:state").as_deref(), Some("in-progress"));

    // A resume refuses a route whose live split is not the recorded step's, and writes nothing.
    let before = fingerprint(&s.listener_arn);
    let mut resume = s.by_arn();
    resume.extend(["deploy", "--resume"].iter().map(|x| x.to_string()));
    resume.extend(fast("2s"));
    let r = run(&resume);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.stderr.contains("blue 60% / green 40%")
            && r.stderr.contains("blue 70% / green 30%")
            && r.stderr.contains("`albflip rollback`")
            && r.stderr.contains("--adopt-drift"),
        "{}",
        r.stderr
    );
    assert_eq!(
        fingerprint(&s.listener_arn),
        before,
        "the resume wrote nothing"
    );
    assert_eq!(
        (record("albflip:step"), record("albflip:updated")),
        recorded
    );
}

#[test]
fn an_operator_rollback_mid_deployment_is_recorded_and_no_resume_undoes_it() {
    let s = stack(None);
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let (child, _lines) = start_until_weights(&deploy_args(
        &s,
        &["--steps", "30,100", "--on-no-data", "pass"],
        "4s",
    ));
    // The operator rolls back while step 1 bakes.
    let r = run(&args(&[&s.by_arn()], &["rollback"])).ok();
    assert!(r.stdout.contains("-> blue 100% / green 0%"), "{}", r.stdout);
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(4), "the deploy stops on the drift");
    let record = |key: &str| tag(&s.listener_arn, key);
    assert_eq!(
        record("albflip:state").as_deref(),
        Some("rolled-back"),
        "the operator's rollback stays recorded"
    );
    assert_eq!(record("albflip:step").as_deref(), Some("1"));
    assert_eq!(weights(&s), (Some(100), Some(0)));

    // The resume refuses, saying what happened, and writes nothing.
    let before = fingerprint(&s.listener_arn);
    let mut resume = s.by_arn();
    resume.extend(["deploy", "--resume"].iter().map(|x| x.to_string()));
    resume.extend(fast("2s"));
    for extra in [&[][..], &["--adopt-drift"][..]] {
        let mut argv = resume.clone();
        argv.extend(extra.iter().map(|x| x.to_string()));
        let r = run(&argv);
        assert_eq!(r.code, 4, "{r:?}");
        assert!(
            r.stderr.contains("was rolled back") && r.stderr.contains("`albflip deploy`"),
            "{}",
            r.stderr
        );
        assert_eq!(
            fingerprint(&s.listener_arn),
            before,
            "the resume wrote nothing"
        );
    }
    assert_eq!(weights(&s), (Some(100), Some(0)));
}

#[test]
fn adopt_drift_continues_from_the_live_split() {
    let s = stack(None);
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let (mut child, lines) = start_until_weights(&deploy_args(
        &s,
        &["--steps", "30,100", "--adopt-drift"],
        "4s",
    ));
    set_default_actions(
        &s.listener_arn,
        vec![weighted(&[(&s.blue_tg, 60), (&s.green_tg, 40)], None)],
    );
    let code = child.wait().expect("wait").code();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(code, Some(0), "{rest:?}");
    assert_eq!(weights(&s), (Some(0), Some(100)));
    assert!(
        rest.iter().any(|l| l.contains(
            "step 2: DRIFT ADOPTED: expected blue 70% / green 30%, found blue 60% / green 40%"
        )),
        "the text output says the drift was adopted: {rest:?}"
    );
}

#[test]
fn on_interrupt_hold_leaves_the_weights_and_a_second_signal_does_not_skip_the_rollback() {
    let s = stack(None);
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let (mut child, _lines) =
        start_until_weights(&deploy_args(&s, &["--on-interrupt", "hold"], "60s"));
    signal(&child, "TERM");
    assert_eq!(child.wait().expect("wait").code(), Some(130));
    assert_eq!(weights(&s), (Some(90), Some(10)), "held where it was");
    assert_eq!(
        tag(&s.listener_arn, "albflip:state").as_deref(),
        Some("interrupted")
    );
    // A new deploy is refused until the held deployment is resumed or rolled back.
    let r = run(&deploy_args(&s, &[], "2s"));
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.stderr.contains("was interrupted at step 1") && r.stderr.contains("--resume"),
        "{}",
        r.stderr
    );
    let r = run(&args(&[&s.by_arn()], &["rollback"])).ok();
    assert!(r.stdout.contains("-> blue 100% / green 0%"), "{}", r.stdout);
    assert_eq!(
        tag(&s.listener_arn, "albflip:state").as_deref(),
        Some("rolled-back")
    );

    // Two signals in a row: the second does not skip putting traffic back.
    let (mut child, _lines) = start_until_weights(&deploy_args(&s, &[], "60s"));
    let pid = child.id().to_string();
    let started = std::time::Instant::now();
    std::process::Command::new("sh")
        .args(["-c", &format!("kill -INT {pid}; kill -INT {pid}")])
        .status()
        .expect("kill twice");
    assert_eq!(child.wait().expect("wait").code(), Some(130));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(weights(&s), (Some(100), Some(0)), "traffic put back");
}

#[test]
fn two_sigterms_during_the_first_write_still_put_traffic_back_and_a_third_says_how_to_fix_it() {
    let s = stack(None);
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let mut cmd = albflip();
    cmd.args(deploy_args(&s, &["--steps", "10,100"], "60s"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    for line in lines.by_ref() {
        if line.expect("line").contains("step 1/2: moving to 10%") {
            break;
        }
    }
    // Two SIGTERMs while step 1's weights are being written (a Jenkins abort sent twice).
    let pid = child.id().to_string();
    std::process::Command::new("sh")
        .args(["-c", &format!("kill -TERM {pid}; kill -TERM {pid}")])
        .status()
        .expect("kill twice");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr} {rest:?}");
    assert!(stderr.contains("putting traffic back"), "{stderr}");
    let w = weights(&s);
    assert!(
        w == (Some(100), Some(0)) || w.1.is_none(),
        "traffic is on blue, never left on green: {w:?} {rest:?}"
    );
    assert_ne!(
        tag(&s.listener_arn, "albflip:state").as_deref(),
        Some("in-progress"),
        "the record is not left stale"
    );
}

/// Issue 17, the lease: a run that loses its lease (here broken with `unlock --force`, as another run
/// taking it over would) holds: it writes nothing more, neither weights nor its record, and exits 4. It
/// does not roll back traffic it may no longer own.
#[test]
fn a_run_that_loses_its_lease_holds_writes_nothing_and_exits_4() {
    let s = stack(None);
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let lock = [
        "--lock-table",
        s.lock_table.as_str(),
        "--lock-ttl",
        "3s",
        "--steps",
        "50,100",
    ];
    let (mut child, lines) = start_until_weights(&deploy_args(&s, &lock, "60s"));
    let before = fingerprint(&s.listener_arn);
    let mut force = s.by_arn();
    force.extend(
        ["unlock", "--lock-table", &s.lock_table, "--force", "--yes"]
            .iter()
            .map(|x| x.to_string()),
    );
    run(&force).ok();
    let started = std::time::Instant::now();
    let code = child.wait().expect("wait").code();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(code, Some(4), "{rest:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stopped at the next renewal"
    );
    assert_eq!(
        weights(&s),
        (Some(50), Some(50)),
        "traffic held where it was"
    );
    assert_eq!(
        fingerprint(&s.listener_arn),
        before,
        "nothing written after the lease was lost: {rest:?}"
    );
    assert_eq!(
        tag(&s.listener_arn, "albflip:state").as_deref(),
        Some("in-progress")
    );
}

/// Issue 17, the lease: named by the naming convention and without `--lock-table`, albflip uses the
/// convention's table (`E-A-albflip-locks`) when it exists, so two runs never proceed together.
#[test]
fn the_naming_conventions_lock_table_is_used_when_it_exists() {
    let s = stack(None);
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let deploy = |bake: &str| {
        let mut v = s.convention();
        v.extend(["deploy", "--target", "green"].map(String::from));
        v.extend(fast(bake));
        v
    };
    let (mut first, _lines) = start_until_weights(&deploy("60s"));
    let before = fingerprint(&s.listener_arn);
    let r = run(&deploy("2s"));
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.stderr.contains("another albflip holds the lock")
            && !r.stderr.contains("no lock table configured"),
        "{}",
        r.stderr
    );
    assert_eq!(fingerprint(&s.listener_arn), before);
    signal(&first, "INT");
    assert_eq!(first.wait().expect("wait").code(), Some(130));
}

#[test]
fn a_missing_lock_table_is_named_with_the_fix_and_nothing_is_written() {
    let s = stack(None);
    let before = fingerprint(&s.listener_arn);
    let r = run(&args(
        &[&s.by_arn()],
        &[
            "shift",
            "--target",
            "green",
            "--percentage",
            "10",
            "--lock-table",
            "no-such-albflip-locks",
        ],
    ));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("lock table \"no-such-albflip-locks\"")
            && r.stderr.contains("--lock-table"),
        "{}",
        r.stderr
    );
    assert_eq!(fingerprint(&s.listener_arn), before, "nothing written");
}

/// Review of issue 21: `unlock --force` breaks only the lease it showed. Staged on the emulator's
/// DynamoDB through the real SDK client: a lease shown, then renewed by its run (its version moved), is
/// not broken; a lease shown, then released and taken by a new run at the same version 1, is not broken
/// either; each refusal is a conflict (exit 4) naming who holds it now and leaves the lease in place.
#[test]
fn force_release_breaks_only_the_lease_that_was_shown() {
    use albflip::aws::{CallCounter, DynamoLock};
    use albflip::ports::Lock;
    use albflip::ErrorKind;
    use std::time::SystemTime;

    let s = stack(None);
    let lock = DynamoLock::new(&sdk_config(), &s.lock_table, CallCounter::default());
    let key = s.listener_arn.as_str();
    let ttl = Duration::from_secs(120);
    let now = SystemTime::now();
    rt().block_on(async {
        let holder = |lock: &DynamoLock| {
            let lock = lock.clone();
            async move { lock.holder(key).await.expect("GetItem") }
        };
        assert_eq!(
            lock.acquire(key, "dead run (pid 1)", ttl, now, None)
                .await
                .expect("PutItem"),
            Ok(1)
        );
        let shown = holder(&lock).await.expect("held");

        // Its run renewed it after it was shown: alive, not broken.
        let renewed = lock.renew(key, "dead run (pid 1)", 1, ttl, now).await;
        assert_eq!(renewed.expect("UpdateItem"), Some(2));
        let e = albflip::lock::force_release(&lock, key, &shown)
            .await
            .expect_err("a renewed lease is not the one shown");
        assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
        assert!(e.to_string().contains("renewed"), "{e}");
        let still = holder(&lock).await.expect("still held");
        assert_eq!(
            (still.holder.as_str(), still.version),
            ("dead run (pid 1)", 2)
        );

        // It ended and a new run took the lock (version 1 again): the new lease is not broken.
        lock.release(key, "dead run (pid 1)")
            .await
            .expect("DeleteItem");
        let later = now + Duration::from_secs(5);
        assert_eq!(
            lock.acquire(key, "new run (pid 2)", ttl, later, None)
                .await
                .expect("PutItem"),
            Ok(1)
        );
        let e = albflip::lock::force_release(&lock, key, &shown)
            .await
            .expect_err("a new run's lease is not the one shown");
        assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
        assert!(e.to_string().contains("new run (pid 2)"), "{e}");
        let new = holder(&lock).await.expect("the new run still holds it");
        assert_eq!(new.holder, "new run (pid 2)");

        // The lease shown now is broken; breaking it again finds nothing to break.
        assert!(albflip::lock::force_release(&lock, key, &new)
            .await
            .expect("DeleteItem"));
        assert_eq!(holder(&lock).await, None);
        assert!(!albflip::lock::force_release(&lock, key, &new)
            .await
            .expect("DeleteItem"));
    });
}
