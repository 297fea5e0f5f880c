//! `--report FILE.html`: a real rolled-back deployment writes a report that headless Chromium renders
//! with the chart and the verdict.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::*;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs headless Chromium with `args` then the page; panics (never skips) when it is not installed.
fn chromium(args: &[String], page: &Path) -> std::process::Output {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the report test needs Debian's Chromium. Install it with \
         `apt-get update && apt-get install -y --no-install-recommends chromium fonts-dejavu-core` (as root)"
    );
    let profile = empty_dir();
    let out = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        out.status.success(),
        "chromium failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn a_rolled_back_deployment_writes_a_report_that_renders_with_the_chart_and_the_verdict() {
    let s = stack(None);
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.2,
        },
    );
    let dir = empty_dir();
    let report: PathBuf = dir.join("report.html");
    let argv = args(
        &[&s.by_arn()],
        &[
            "deploy",
            "--target",
            "green",
            "--bake",
            "4s",
            "--poll-interval",
            "1s",
            "--metric-lag",
            "0s",
            "--metric-window",
            "5s",
            "--metric-period",
            "1s",
            "--latency-statistic",
            "Average",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    let r = run(&argv);
    assert_eq!(r.code, 3, "{r:?}");
    let html = std::fs::read_to_string(&report).expect("the report was written");
    assert!(
        html.contains("<div id=\"verdict\">ROLLED BACK</div>"),
        "{html}"
    );
    assert!(html.contains(&s.listener_arn), "names the route: {html}");

    // (1) It renders: a screenshot of a page with a chart is well above a blank page's size.
    let png = dir.join("report.png");
    chromium(
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1200,1600".into(),
        ],
        &report,
    );
    let size = std::fs::metadata(&png)
        .unwrap_or_else(|e| panic!("no screenshot at {}: {e}", png.display()))
        .len();
    assert!(size > 40_000, "screenshot of {size} bytes looks blank");

    // (2) The DOM Chromium built holds the chart with its lines and the verdict.
    let out = chromium(&["--dump-dom".into()], &report);
    let dom = String::from_utf8_lossy(&out.stdout);
    let chart = dom
        .find("<svg id=\"chart\"")
        .map(|i| &dom[i..])
        .unwrap_or_else(|| panic!("no <svg id=\"chart\"> in the DOM: {dom}"));
    let chart = &chart[..chart.find("</svg>").expect("the chart's SVG is closed")];
    for class in ["series share", "series error-rate", "series latency"] {
        assert!(
            chart.contains(&format!("<polyline class=\"{class}\"")),
            "no {class} line in {chart}"
        );
    }
    assert_eq!(
        chart.matches("class=\"threshold\"").count(),
        2,
        "error-rate and latency thresholds: {chart}"
    );
    assert!(
        chart.contains("class=\"poll fail\""),
        "the failing poll is marked: {chart}"
    );
    assert!(
        dom.contains("<div id=\"verdict\">ROLLED BACK</div>"),
        "{dom}"
    );
    assert!(
        dom.contains("<td class=\"fail\">FAIL</td>"),
        "the gate table shows the failing gate: {dom}"
    );
}
