//! Issue 21, `albflip history`: every finished deploy and promote adds an entry to the lock table, in
//! items of their own that never stand in for the lease; `history` lists them newest first.

use crate::harness::*;

#[test]
fn history_lists_the_routes_deployments_from_the_lock_table_newest_first() {
    let s = stack(None);
    let healthy = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.0,
        },
    );
    let lock = ["--lock-table", s.lock_table.as_str()];
    let with_lock = |command: &[&str]| {
        let mut argv = gated(&s.by_arn(), command, "2s");
        argv.extend(lock.iter().map(|x| x.to_string()));
        argv
    };
    let r = run(&args(
        &[&s.by_arn()],
        &["history", "--lock-table", &s.lock_table],
    ));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("No deployment recorded"), "{}", r.stdout);

    run(&with_lock(&[
        "deploy",
        "--target",
        "green",
        "--strategy",
        "canary",
        "--canary-percentage",
        "20",
    ]))
    .ok();
    let id = tag(&s.listener_arn, "albflip:deployment-id").expect("an id");
    // The lease is free again, history items notwithstanding: the next run takes it.
    run(&with_lock(&["promote"])).ok();

    let r = run(&args(
        &[&s.by_arn()],
        &["history", "--lock-table", &s.lock_table, "--output", "json"],
    ));
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    let d = v["deployments"].as_array().expect("deployments");
    assert_eq!(d.len(), 2, "{v}");
    assert_eq!(d[0]["outcome"], "completed", "newest first: {v}");
    assert_eq!(d[1]["outcome"], "awaiting_promotion", "{v}");
    for e in d {
        assert_eq!(e["id"], id.as_str(), "{v}");
        assert_eq!(e["target"], "green");
        assert_eq!(e["route"], s.listener_arn.as_str());
        assert!(e["seconds"].as_f64().unwrap() > 0.0, "{v}");
        assert!(!e["started_by"].as_str().unwrap().is_empty(), "{v}");
    }
    assert_eq!(d[1]["strategy"], "canary 20%");

    // A deployment rolled back by its gates says why (blue, the new color now, fails).
    drop(healthy);
    let _failing = Publisher::start(
        &s,
        Faults {
            blue: 1.0,
            green: 0.0,
        },
    );
    let r = run(&with_lock(&[
        "deploy",
        "--target",
        "blue",
        "--strategy",
        "immediate",
    ]));
    assert_eq!(r.code, 3, "{r:?}");
    let r = run(&args(
        &[&s.by_arn()],
        &["history", "--lock-table", &s.lock_table, "--limit", "1"],
    ));
    assert_eq!(r.code, 0, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        3,
        "a title, a header, one deployment: {}",
        r.stdout
    );
    assert!(lines[1].contains("OUTCOME") && lines[1].contains("REASON"));
    assert!(lines[2].contains("rolled back"), "{}", r.stdout);

    // Nobody holds the lock: the history items are not a lease.
    let r = run(&args(
        &[&s.by_arn()],
        &["unlock", "--lock-table", &s.lock_table],
    ));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stdout.contains("history#"), "{}", r.stdout);
}

#[test]
fn history_without_a_lock_table_names_the_setting() {
    let s = stack(None);
    let r = run(&args(&[&s.by_arn()], &["history"]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("--lock-table"), "{}", r.stderr);
}
